#!/usr/bin/env bash
# Validates everything on-call tooling loads from this repository, with the real tools:
#   1. promtool check rules   alerts/modelwatch-rules.yml
#   2. promtool test rules    alerts/tests/*.yml (every alert fires / stays silent, PSI values)
#   3. promtool check config  compose/prometheus.yml (syntax; its rule file is step 1's)
#      amtool check-config    alerts/alertmanager.yml, and its routing (amtool config routes test)
#   4. every PromQL expression of every Grafana panel and variable, with the variables
#      filled in (alerts/dashboard_exprs.py): parsed by promtool as recording rules, then
#      evaluated by promtool's PromQL engine on synthetic series shaped like the metric
#      contract, each required to return data
#   5. the compose file (compose-go, the Docker Compose v2 loader) and the Kubernetes
#      manifests (strict decoding into the k8s API types), via compose/validate (Go)
# Exits non-zero on the first failing step.
#
# Needs: promtool and amtool (Debian: apt-get install -y prometheus prometheus-alertmanager),
# python3 (stdlib only), and Go for step 5 (modules come from the Go module proxy);
# set MODELWATCH_SKIP_GO_VALIDATE=1 to skip step 5 where Go is not installed (a local
# run only: tests/run.sh, and so CI, refuses to run with it set).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

for tool in promtool amtool python3; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "check.sh: '$tool' not found; install it with:" >&2
    echo "  apt-get install -y prometheus prometheus-alertmanager python3" >&2
    exit 1
  fi
done

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

echo "== promtool check rules"
promtool check rules alerts/modelwatch-rules.yml

echo "== promtool test rules"
promtool test rules alerts/tests/*.yml

echo "== promtool check config (compose stack)"
promtool check config --syntax-only compose/prometheus.yml

echo "== amtool check-config"
amtool check-config alerts/alertmanager.yml

echo "== alertmanager routing"
# severity decides the receiver: critical pages, warning tickets, info chat.
route_ok() {
  local want="$1"
  shift
  amtool config routes test --config.file=alerts/alertmanager.yml \
    --verify.receivers="$want" "$@" 2>/dev/null >/dev/null \
    || { echo "routing: labels $* should reach receiver $want" >&2; exit 1; }
  echo "ok   $* -> $want"
}
route_ok modelwatch-pager alertname=ModelwatchHighErrorRatio severity=critical model=credit
route_ok modelwatch-tickets alertname=ModelwatchFeatureDrift severity=warning model=credit
route_ok modelwatch-chat alertname=ModelwatchFleetFeaturePSIHigh severity=info model=credit

echo "== dashboard PromQL syntax (promtool check rules)"
python3 alerts/dashboard_exprs.py rules "$tmp/dashboard-exprs.yml"
if ! promtool check rules "$tmp/dashboard-exprs.yml" > "$tmp/promtool.out" 2>&1; then
  cat "$tmp/promtool.out" >&2
  # Name the dashboard and panel of each failing rule, not only its index.
  grep -o 'dashboard_expr_[0-9]*' "$tmp/promtool.out" | sort -u | while read -r rule; do
    grep -B1 "record: $rule\$" "$tmp/dashboard-exprs.yml" | head -1 >&2
  done
  exit 1
fi
grep SUCCESS "$tmp/promtool.out"

echo "== dashboard PromQL evaluation on contract-shaped series (promtool test rules)"
mkdir -p "$tmp/eval"
python3 alerts/dashboard_exprs.py test "$tmp/eval"
promtool test rules "$tmp/eval/dashboard-exprs-test.yml"

if [[ "${MODELWATCH_SKIP_GO_VALIDATE:-0}" == 1 ]]; then
  echo "== compose and Kubernetes validation SKIPPED (MODELWATCH_SKIP_GO_VALIDATE=1)"
else
  echo "== compose and Kubernetes validation (compose/validate)"
  (cd compose/validate && go run . -compose ../docker-compose.yml -k8s ../k8s)
fi

echo "alerts/check.sh: all checks passed"
