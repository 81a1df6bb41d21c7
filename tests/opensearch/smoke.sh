#!/usr/bin/env bash
# Checks, with curl and jq, that the test node speaks the part of the REST API modelwatch
# relies on: engine detection, component and composable index templates with a data stream,
# _bulk `create` with per-item 201/409/400, _refresh, _search by term and range with
# aggregations, _count, _data_stream, the OpenSearch-only field types, and whether ISM is
# there. Every check prints one line; the last line counts them.
#
#   OPENSEARCH_URL=http://127.0.0.1:PORT bash tests/opensearch/smoke.sh
#
# It works in its own data stream (logs-modelwatch.inference-smoke) and template, and
# deletes both at the end, so it can run against the node the Rust tests use.
set -euo pipefail

url="${OPENSEARCH_URL:?set OPENSEARCH_URL, e.g. eval \"\$(bash tests/services/opensearch.sh start)\"}"
stream="logs-modelwatch.inference-smoke"
json='Content-Type: application/json'
ndjson='Content-Type: application/x-ndjson'
passed=0
failed=0

check() {
    local what="$1" expected="$2" actual="$3"
    if [[ "$actual" == "$expected" ]]; then
        echo "ok   $what: $actual"
        passed=$((passed + 1))
    else
        echo "FAIL $what: expected $expected, got $actual"
        failed=$((failed + 1))
    fi
}

# Leftovers of an interrupted earlier run would turn the 201s below into 409s.
curl -s -XDELETE "$url/_data_stream/$stream" > /dev/null
curl -s -XDELETE "$url/_index_template/modelwatch-smoke" > /dev/null
curl -s -XDELETE "$url/_component_template/modelwatch-smoke-ecs" > /dev/null

root="$(curl -fsS "$url/")"
check "GET / distribution" opensearch "$(jq -r .version.distribution <<< "$root")"
check "GET / version is 2.19.x" yes "$(jq -r '.version.number | if startswith("2.19.") then "yes" else . end' <<< "$root")"

check "PUT _component_template" true "$(curl -sS -XPUT "$url/_component_template/modelwatch-smoke-ecs" -H "$json" -d '
{"template":{"mappings":{"properties":{
  "@timestamp":{"type":"date"},
  "ecs":{"properties":{"version":{"type":"keyword"}}},
  "event":{"properties":{"duration":{"type":"long"},"outcome":{"type":"keyword"}}}}}}}' | jq -r .acknowledged)"

# Priority 501 beats the built-in logs-*-* templates (REFERENCE.md §4). The types after
# `upstream` exist only in OpenSearch (flat_object) or from 2.12-2.15 on.
check "PUT _index_template (data_stream, priority 501)" true "$(curl -sS -XPUT "$url/_index_template/modelwatch-smoke" -H "$json" -d '
{"index_patterns":["logs-modelwatch.inference-smoke*"],"data_stream":{},"priority":501,
 "composed_of":["modelwatch-smoke-ecs"],
 "template":{"settings":{"number_of_replicas":0},"mappings":{"properties":{
   "http":{"properties":{"request":{"properties":{"id":{"type":"keyword"}}},
                         "response":{"properties":{"status_code":{"type":"long"}}}}},
   "message":{"type":"text"},
   "modelwatch":{"properties":{
     "model":{"type":"keyword"},"version":{"type":"keyword"},"rows":{"type":"long"},
     "upstream":{"properties":{"duration":{"type":"long"}}},
     "features":{"type":"flat_object"},"route":{"type":"wildcard"},
     "note":{"type":"match_only_text"},"kind":{"type":"constant_keyword","value":"inference"}}}}}}}' | jq -r .acknowledged)"

# NDJSON: every line, the last one included, ends with a newline.
first_batch='{"create":{"_id":"req-1"}}
{"@timestamp":"2026-11-27T04:00:00Z","http":{"request":{"id":"req-1"},"response":{"status_code":200}},"event":{"duration":1500000,"outcome":"success"},"modelwatch":{"model":"credit","version":"3","rows":2,"upstream":{"duration":1200000},"features":{"age":"41"},"route":"/v2/models/credit/infer","note":"ok"},"message":"inference ok"}
{"create":{"_id":"req-2"}}
{"@timestamp":"2026-11-27T04:05:00Z","http":{"request":{"id":"req-2"},"response":{"status_code":500}},"event":{"duration":9000000,"outcome":"failure"},"modelwatch":{"model":"credit","version":"3","rows":1}}
{"create":{"_id":"req-3"}}
{"@timestamp":"2026-11-27T04:10:00Z","modelwatch":{"model":"fraud","version":"1","rows":5}}
'
bulk="$(curl -sS -XPOST "$url/$stream/_bulk" -H "$ndjson" --data-binary "$first_batch")"
check "_bulk create into a new data stream: item statuses" "201 201 201" "$(jq -r '[.items[].create.status] | join(" ")' <<< "$bulk")"
check "_bulk backing index" ".ds-$stream-000001" "$(jq -r '.items[0].create._index' <<< "$bulk")"

# A 200 response can still carry failures: the duplicate _id is 409, the bad long is 400.
second_batch='{"create":{"_id":"req-1"}}
{"@timestamp":"2026-11-27T04:00:00Z","modelwatch":{"model":"credit"}}
{"create":{"_id":"req-4"}}
{"@timestamp":"2026-11-27T04:15:00Z","modelwatch":{"rows":"not-a-number"}}
{"create":{"_id":"req-5"}}
{"@timestamp":"2026-11-27T04:20:00Z","modelwatch":{"model":"credit","rows":3}}
{"create":{"_id":"req-6"}}
{"modelwatch":{"model":"credit"}}
'
code="$(curl -sS -o /tmp/modelwatch-smoke-bulk.json -w '%{http_code}' -XPOST "$url/$stream/_bulk" -H "$ndjson" --data-binary "$second_batch")"
bulk="$(cat /tmp/modelwatch-smoke-bulk.json)"
rm -f /tmp/modelwatch-smoke-bulk.json
check "_bulk with failures: HTTP status" 200 "$code"
check "_bulk with failures: errors flag" true "$(jq -r .errors <<< "$bulk")"
check "_bulk item statuses (dup, conflict, new, no @timestamp)" "409 400 201 400" "$(jq -r '[.items[].create.status] | join(" ")' <<< "$bulk")"
check "_bulk 409 error type" version_conflict_engine_exception "$(jq -r '.items[0].create.error.type' <<< "$bulk")"
check "_bulk 400 error type" mapper_parsing_exception "$(jq -r '.items[1].create.error.type' <<< "$bulk")"
check "_bulk missing @timestamp reason" "documents must contain a single-valued timestamp field '@timestamp' of date type" "$(jq -r '.items[3].create.error.caused_by.reason' <<< "$bulk")"
check "_bulk 'index' action into a data stream" 400 "$(curl -sS -XPOST "$url/$stream/_bulk" -H "$ndjson" --data-binary $'{"index":{"_id":"req-7"}}\n{"@timestamp":"2026-11-27T04:00:00Z"}\n' | jq -r '.items[0].index.status')"
check "_bulk without a final newline" 400 "$(curl -sS -o /dev/null -w '%{http_code}' -XPOST "$url/$stream/_bulk" -H "$ndjson" --data-binary $'{"create":{"_id":"req-8"}}\n{"@timestamp":"2026-11-27T04:00:00Z"}')"
check "Elasticsearch compatible-with media type" 406 "$(curl -sS -o /dev/null -w '%{http_code}' -XPOST "$url/$stream/_bulk" -H 'Content-Type: application/vnd.elasticsearch+x-ndjson;compatible-with=8' --data-binary $'{"create":{"_id":"req-9"}}\n{"@timestamp":"2026-11-27T04:00:00Z"}\n')"

check "_refresh" 0 "$(curl -sS -XPOST "$url/$stream/_refresh" | jq -r ._shards.failed)"

search() { curl -sS "$url/$stream/_search" -H "$json" -d "$1"; }
check "_search term modelwatch.model=credit" "req-1 req-2 req-5" "$(search '{"query":{"term":{"modelwatch.model":"credit"}},"sort":[{"@timestamp":"asc"}]}' | jq -r '[.hits.hits[]._id] | join(" ")')"
check "_search range on @timestamp" "req-2 req-3 req-5" "$(search '{"query":{"range":{"@timestamp":{"gte":"2026-11-27T04:04:00Z","lt":"2026-11-27T04:30:00Z"}}},"sort":[{"@timestamp":"asc"}]}' | jq -r '[.hits.hits[]._id] | join(" ")')"
check "_search bool filter term+range on a long" 1 "$(search '{"size":0,"query":{"bool":{"filter":[{"term":{"http.request.id":"req-2"}},{"range":{"event.duration":{"gt":1000}}}]}}}' | jq -r .hits.total.value)"
aggs="$(search '{"size":0,"aggs":{
  "models":{"terms":{"field":"modelwatch.model"},"aggs":{"rows":{"sum":{"field":"modelwatch.rows"}}}},
  "per5m":{"date_histogram":{"field":"@timestamp","fixed_interval":"5m"}},
  "p99":{"percentiles":{"field":"event.duration","percents":[99]}},
  "ids":{"cardinality":{"field":"http.request.id"}}}}')"
check "terms + sum aggregation" "credit:3:6 fraud:1:5" "$(jq -r '[.aggregations.models.buckets[] | "\(.key):\(.doc_count):\(.rows.value)"] | join(" ")' <<< "$aggs")"
check "date_histogram 5m" "1 1 1 0 1" "$(jq -r '[.aggregations.per5m.buckets[].doc_count] | join(" ")' <<< "$aggs")"
check "percentiles p99 present" yes "$(jq -r 'if .aggregations.p99.values["99.0"] > 0 then "yes" else "no" end' <<< "$aggs")"
check "cardinality" 2 "$(jq -r .aggregations.ids.value <<< "$aggs")"
check "_count" 4 "$(curl -sS "$url/$stream/_count" | jq -r .count)"
check "flat_object term" 1 "$(curl -sS "$url/$stream/_count" -H "$json" -d '{"query":{"term":{"modelwatch.features.age":"41"}}}' | jq -r .count)"
check "wildcard field query" 1 "$(curl -sS "$url/$stream/_count" -H "$json" -d '{"query":{"wildcard":{"modelwatch.route":"*credit*"}}}' | jq -r .count)"
check "match on text (standard analyzer)" 1 "$(curl -sS "$url/$stream/_count" -H "$json" -d '{"query":{"match":{"message":"inference"}}}' | jq -r .count)"
check "GET _data_stream" "$stream:modelwatch-smoke:1" "$(curl -sS "$url/_data_stream/$stream" | jq -r '.data_streams[0] | "\(.name):\(.template):\(.generation)"')"

# ISM is a separate plugin (opensearch-index-management) that this node does not load:
# modelwatch must detect that and install its templates without a lifecycle policy.
check "ISM policies endpoint (plugin absent)" 400 "$(curl -sS -o /dev/null -w '%{http_code}' "$url/_plugins/_ism/policies")"
check "ISM policy_id index setting without the plugin" invalid_index_template_exception "$(curl -sS -XPUT "$url/_index_template/modelwatch-smoke-ism" -H "$json" -d '{"index_patterns":["zz-smoke-*"],"priority":501,"template":{"settings":{"plugins.index_state_management.policy_id":"x"}}}' | jq -r .error.type)"
check "ILM index.lifecycle.name setting" invalid_index_template_exception "$(curl -sS -XPUT "$url/_index_template/modelwatch-smoke-ilm" -H "$json" -d '{"index_patterns":["zz-smoke-*"],"priority":501,"template":{"settings":{"index.lifecycle.name":"x"}}}' | jq -r .error.type)"

check "DELETE _data_stream" true "$(curl -sS -XDELETE "$url/_data_stream/$stream" | jq -r .acknowledged)"
curl -s -XDELETE "$url/_index_template/modelwatch-smoke" > /dev/null
curl -s -XDELETE "$url/_component_template/modelwatch-smoke-ecs" > /dev/null

echo "smoke: $passed passed, $failed failed"
[[ "$failed" == 0 ]]
