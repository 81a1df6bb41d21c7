#!/usr/bin/env bash
# Proxy latency benchmark: direct → upstream, nginx → upstream, modelwatch → upstream, at
# fixed request rates with a coordinated-omission-correcting load generator (oha with
# --latency-correction), all measured in one run on this machine.
#
#   bash benches/proxy/run.sh                 # 200 and 1000 rps, 15 s per run, 3 runs each
#   RATES="1000" SECONDS_PER_RUN=30 RUNS=5 bash benches/proxy/run.sh
#
# Needs nginx (apt-get install nginx-light) and oha (cargo install oha --locked); this
# script installs both when they are missing. It prints medians over the runs.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

source benches/load_tools.sh
exec python3 benches/proxy/bench.py "$@"
