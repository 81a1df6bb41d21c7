#!/usr/bin/env bash
# Proxy latency benchmark: direct → upstream, nginx → upstream, modelwatch → upstream, at
# fixed request rates with a coordinated-omission-correcting load generator (oha with
# --latency-correction), all measured in one run on this machine.
#
#   bash benches/proxy/run.sh                 # 200 and 1000 rps, 15 s per run, 3 runs each
#   RATES="1000" SECONDS_PER_RUN=30 RUNS=5 bash benches/proxy/run.sh
#   BASELINE=/tmp/modelwatch-before RATES=1000 MEMORY_RUN=0 bash benches/proxy/run.sh
#                                             # this build against another, paired runs
#
# Needs nginx (apt-get install nginx-light) and oha (cargo install oha --locked); this
# script installs both when they are missing. It prints medians over the runs, CPU seconds
# per 1,000 requests of each proxy, and with BASELINE the ratios to another binary.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

source benches/load_tools.sh
exec python3 benches/proxy/bench.py "$@"
