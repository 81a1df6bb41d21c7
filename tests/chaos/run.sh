#!/usr/bin/env bash
# The full-length chaos suite: every scenario of tests/chaos/chaos.py at 1,000 rps with
# 5-minute runs and faults, against the release binary, a real OpenSearch node started
# here, a canned-response nginx model server and oha (latency-corrected) as the load.
# About 65 minutes on two cores; it prints a table of every scenario's promise and figures and exits 1
# when a promise is broken. (tests/run.sh runs the same scenarios at CI size.)
#
#   bash tests/chaos/run.sh                      # every scenario
#   bash tests/chaos/run.sh --only blackhole     # one (names: chaos.py --help)
#
# Needs root for the disk-full scenario (a tmpfs in a private mount namespace).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

source benches/load_tools.sh   # nginx, oha, the release build
command -v h2load >/dev/null || apt-get install -y nghttp2-client >/dev/null
export MODELWATCH_TEST_STATE="${MODELWATCH_TEST_STATE:-$(mktemp -d /tmp/modelwatch-chaos.XXXXXX)}"
trap 'bash tests/services/opensearch.sh stop' EXIT
export "$(bash tests/services/opensearch.sh start)"
python3 tests/chaos/chaos.py --scale full --binary target/release/modelwatch "$@"
