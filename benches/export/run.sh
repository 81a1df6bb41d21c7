#!/usr/bin/env bash
# Export benchmark: what an Elasticsearch outage costs the proxied traffic, and how fast
# the shipper bulk-loads a real node.
#
#   bash benches/export/run.sh                        # 1000 rps, 15 s per run, 3 runs
#   RATE=500 SECONDS_PER_RUN=30 RUNS=5 bash benches/export/run.sh
#   THROUGHPUT_EVENTS=200000 bash benches/export/run.sh
#
# In one run, interleaved: modelwatch without export, with export to a healthy OpenSearch
# node, and with export to a cluster that is down (connection refused, events piling up in
# the spool); oha at a fixed rate with --latency-correction, medians of the runs. Then the
# bulk throughput: a spool pre-filled while the cluster was down is shipped into the node
# by a restarted sidecar, timed until the spool is empty. Uses the node at $OPENSEARCH_URL
# if set, else starts one of its own (tests/services/opensearch.sh) and stops it at the end.
#
# Needs nginx and oha (installed like benches/proxy/run.sh does), Java 17 and Maven for
# the node.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

source benches/load_tools.sh

if [ -z "${OPENSEARCH_URL:-}" ]; then
    export MODELWATCH_TEST_STATE="$(mktemp -d /tmp/mw-export-bench.XXXXXX)"
    trap 'bash tests/services/opensearch.sh stop >&2; rm -rf "$MODELWATCH_TEST_STATE"' EXIT
    opensearch_env="$(bash tests/services/opensearch.sh start)"
    export "${opensearch_env?}"
fi
python3 benches/export/bench.py "$@"
