#!/usr/bin/env bash
# Runs every modelwatch test, the way CI does.
#
# It installs what the tests need (Debian packages, via apt-get, when missing; cargo-fuzz
# from crates.io), starts the real services they talk to as processes on loopback, runs
# cargo fmt --check and cargo clippy (warnings are errors), the Rust test suite (the drift
# page's test in headless Chromium: tests/browser/), the chaos suite at CI size
# (tests/chaos/), the rule checks, the drift fixture check
# (tests/fixtures/drift/check.sh, in a pinned Python venv it keeps between runs), every
# fuzz target for FUZZ_SECONDS (10) each, and rustdoc (warnings are errors), and stops
# every service it started, whether the tests pass or fail.
#
#   bash tests/run.sh            # everything
#   bash tests/run.sh proxy      # only tests whose name contains "proxy"
#   bash tests/run.sh fuzz       # the corpus replays, then each fuzz target
#   bash tests/run.sh chaos      # the chaos suite at CI size (and tests named "chaos")
#
# State (logs, pid files, service data) goes to $MODELWATCH_TEST_STATE, a fresh temp dir
# by default; it is removed at the end unless KEEP_TEST_STATE=1.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
export MODELWATCH_TEST_STATE="${MODELWATCH_TEST_STATE:-$(mktemp -d /tmp/modelwatch-test.XXXXXX)}"
filter="${1:-}"

say() { printf '\n==> %s\n' "$*" >&2; }

cleanup() {
    local status=$?
    # Services register their stop commands here as they start.
    for stop in "${STOPS[@]+"${STOPS[@]}"}"; do
        eval "$stop" || true
    done
    if [ "${KEEP_TEST_STATE:-0}" != 1 ]; then
        rm -rf "$MODELWATCH_TEST_STATE"
    else
        say "test state kept in $MODELWATCH_TEST_STATE"
    fi
    exit "$status"
}
STOPS=()
trap cleanup EXIT INT TERM

# Installs Debian packages whose commands are missing: need_apt COMMAND PACKAGE...
need_apt() {
    local command=$1
    shift
    command -v "$command" >/dev/null && return 0
    say "Installing $* (for $command)"
    if [ "$(id -u)" != 0 ]; then
        echo "run as root or install $* yourself: $command is needed by the tests" >&2
        exit 1
    fi
    if [ -z "${APT_UPDATED:-}" ]; then
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        APT_UPDATED=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# The test command validates everything: alerts/check.sh's escape hatch for machines
# without Go must not turn CI's compose and Kubernetes validation into a silent pass.
if [ -n "${MODELWATCH_SKIP_GO_VALIDATE:-}" ]; then
    echo "MODELWATCH_SKIP_GO_VALIDATE is set: tests/run.sh validates the compose file and the Kubernetes manifests with Go; unset it and run again" >&2
    exit 2
fi

need_apt promtool prometheus
need_apt amtool prometheus-alertmanager
need_apt jq jq
need_apt curl curl
need_apt openssl openssl
# The chaos suite's model server and load generator.
need_apt nginx nginx-light
need_apt h2load nghttp2-client

say "Rust toolchain"
command -v cargo >/dev/null || { echo "cargo is not installed: install Rust (https://rustup.rs)" >&2; exit 1; }
cargo --version

say "Building and starting a real OpenTelemetry Collector, in the background"
# The first build fetches the collector's Go modules and compiles it (minutes on an empty
# module cache): it overlaps with the checks, the OpenSearch start and the Rust build.
command -v go >/dev/null || { echo "Go 1.26+ is needed to build the OpenTelemetry Collector for the OTLP tests" >&2; exit 1; }
bash tests/services/otelcol.sh start >"$MODELWATCH_TEST_STATE/otelcol.env" 2>"$MODELWATCH_TEST_STATE/otelcol.log" &
otelcol_pid=$!
STOPS+=("kill $otelcol_pid 2>/dev/null" "bash tests/services/otelcol.sh stop")

say "Checking the drift fixtures against their generator (pinned Python environment), in the background"
# Its first run installs the pinned scipy/numpy/pandas/Evidently from PyPI (minutes, kept
# for later runs); it overlaps with the checks, the OpenSearch start and the Rust build.
bash tests/fixtures/drift/check.sh >"$MODELWATCH_TEST_STATE/drift-fixtures.log" 2>&1 &
fixtures_pid=$!
STOPS+=("kill $fixtures_pid 2>/dev/null")
# NannyML's reconstruction error (its own pinned venv, installed alongside the first).
# Then NannyML's CBPE in the same venv (same pins), after it: one install, never two at once.
{ bash tests/fixtures/drift/check.sh multivariate && bash tests/fixtures/drift/check.sh ../quality/cbpe; } \
    >"$MODELWATCH_TEST_STATE/multivariate-fixtures.log" 2>&1 &
multivariate_fixtures_pid=$!
STOPS+=("kill $multivariate_fixtures_pid 2>/dev/null")

say "Preparing the real llama.cpp server and its tiny model (pinned, cached), in the background"
# Its first run compiles llama.cpp from source through llama-cpp-python (about ten minutes
# on two cores, kept for later runs); it overlaps with the checks and the Rust build.
bash tests/services/llama.sh >"$MODELWATCH_TEST_STATE/llama.env" 2>"$MODELWATCH_TEST_STATE/llama.log" &
llama_pid=$!
STOPS+=("kill $llama_pid 2>/dev/null")

say "Installing the browser tests' chromium, playwright-core and axe-core (pinned, cached), in the background"
# Cold: Debian's chromium (apt) and two npm packages, about a minute, kept in
# ~/.cache/modelwatch for later runs; it overlaps with the checks and the Rust build.
command -v node >/dev/null || { echo "Node.js (with npm) is needed for the browser tests (tests/browser/)" >&2; exit 1; }
bash tests/browser/install.sh >"$MODELWATCH_TEST_STATE/browser.env" 2>"$MODELWATCH_TEST_STATE/browser.log" &
browser_pid=$!
STOPS+=("kill $browser_pid 2>/dev/null")

say "Alert rules, Alertmanager config, dashboards and deployment files (real promtool, amtool)"
bash alerts/check.sh

say "Starting a real OpenSearch node (Maven Central jars, loopback)"
command -v mvn >/dev/null && command -v java >/dev/null || {
    echo "Java 17 and Maven are needed for the OpenSearch test node" >&2
    exit 1
}
STOPS+=("bash tests/services/opensearch.sh stop")
opensearch_env="$(bash tests/services/opensearch.sh start)"
export "${opensearch_env?}"
echo "$OPENSEARCH_URL"
bash tests/opensearch/smoke.sh

say "Formatting (cargo fmt --check: run \`cargo fmt\` to fix)"
cargo fmt --check

say "Lints (cargo clippy --all-targets -- -D warnings)"
cargo clippy --locked --all-targets -- -D warnings

say "Building and running the Rust tests"
cargo build --locked --all-targets

say "Waiting for the drift fixture check"
wait "$fixtures_pid" || {
    cat "$MODELWATCH_TEST_STATE/drift-fixtures.log" >&2
    echo "the drift fixtures are not what tests/fixtures/drift/generate.py writes (or it could not run)" >&2
    exit 1
}
wait "$multivariate_fixtures_pid" || {
    cat "$MODELWATCH_TEST_STATE/multivariate-fixtures.log" >&2
    echo "the NannyML fixtures are not what tests/fixtures/drift/multivariate/generate.py or tests/fixtures/quality/cbpe/generate.py write (or they could not run)" >&2
    exit 1
}
cat "$MODELWATCH_TEST_STATE/drift-fixtures.log"

say "Waiting for the OpenTelemetry Collector"
wait "$otelcol_pid" || { cat "$MODELWATCH_TEST_STATE/otelcol.log" >&2; echo "the OpenTelemetry Collector did not start" >&2; exit 1; }
while IFS= read -r line; do export "${line?}"; done <"$MODELWATCH_TEST_STATE/otelcol.env"
echo "$OTELCOL_HTTP_ENDPOINT $OTELCOL_GRPC_ENDPOINT"
say "Waiting for the llama.cpp server's build"
wait "$llama_pid" || { cat "$MODELWATCH_TEST_STATE/llama.log" >&2; echo "the llama.cpp test server could not be built" >&2; exit 1; }
while IFS= read -r line; do export "${line?}"; done <"$MODELWATCH_TEST_STATE/llama.env"
say "Waiting for the browser tests' install"
wait "$browser_pid" || { cat "$MODELWATCH_TEST_STATE/browser.log" >&2; echo "tests/browser/install.sh failed" >&2; exit 1; }
export MODELWATCH_BROWSER_MODULES="$(tail -n 1 "$MODELWATCH_TEST_STATE/browser.env")"
export CHROMIUM="${CHROMIUM:-$(command -v chromium)}"
echo "$MODELWATCH_BROWSER_MODULES $CHROMIUM"
cargo test --locked --all-targets -- ${filter:+"$filter"}

# The chaos suite at CI size (seconds per scenario, every correctness promise, no timing
# promise) against the debug binary and the OpenSearch node above; the full-length suite
# is `bash tests/chaos/run.sh`.
if [ -z "$filter" ] || [[ "$filter" == *chaos* ]]; then
    say "Chaos suite, CI size (tests/chaos/chaos.py)"
    python3 tests/chaos/chaos.py --scale ci --binary target/debug/modelwatch
fi

# Every fuzz target for a bounded time (FUZZ_SECONDS each, 10 by default) on the stable
# toolchain: a full run, or a filter naming "fuzz". The committed corpora also run above,
# in cargo test (tests/it/protocol_corpus.rs, fuzz_corpus.rs).
if [ -z "$filter" ] || [[ "$filter" == *fuzz* ]]; then
    say "Fuzzing every target in fuzz/ for ${FUZZ_SECONDS:-10} s each (cargo-fuzz, AddressSanitizer)"
    command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz
    FUZZ_STATE="$MODELWATCH_TEST_STATE/fuzz-corpus" bash fuzz/run.sh "${FUZZ_SECONDS:-10}"
fi

if [ -z "$filter" ]; then
    say "API documentation (rustdoc; a broken link is an error)"
    RUSTDOCFLAGS="-D warnings" cargo doc --locked --no-deps
fi
