#!/usr/bin/env bash
# Memory benchmark for the deployment limits: peak RSS of the sidecar at a fixed request
# rate with analysis on and Elasticsearch down for the whole run (events pile up in the
# spool), next to the same sidecar with no export, in one run. The Kubernetes example's
# `limits.memory` (compose/k8s/deployment.yaml) must sit above the peak with margin.
#
#   bash benches/memory/run.sh                       # 1000 rps for 300 s
#   RATE=500 SECONDS_PER_RUN=60 bash benches/memory/run.sh
#
# Needs nginx and oha, installed like benches/proxy/run.sh does.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

source benches/load_tools.sh
exec python3 benches/memory/bench.py "$@"
