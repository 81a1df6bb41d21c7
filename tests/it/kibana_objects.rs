//! The Kibana saved objects in `dashboards/kibana/modelwatch.ndjson`: every reference
//! resolves and every nested JSON parses; every field they use exists, with a type that
//! serves the use, in the index templates modelwatch installs (taken from the Rust code that
//! builds them, `index_template`, `drift_template` and `performance_template`); and with
//! real request events, drift snapshots and performance documents from the real
//! `modelwatch proxy` in the real OpenSearch node, each saved search returns exactly the
//! expected documents and each Lens chart aggregates to the expected figures (drift:
//! `drift.rs`, performance: `performance.rs`).
//!
//! Kibana itself cannot run here (no registry ships it), so what Kibana would send is built
//! from the objects in `query_dsl` and sent to the node; the comments there say what is
//! simplified.

mod drift;
mod fields;
mod performance;
mod query_dsl;
mod saved_objects;
mod structure;
mod traffic;

use std::collections::{BTreeMap, BTreeSet};

use modelwatch::config::elasticsearch::ElasticsearchConfig;
use modelwatch::export::elasticsearch::templates::{
    Engine, drift_template, index_template, performance_template,
};
use serde_json::Value;

use crate::export_elasticsearch::{forget, opensearch_url, start_proxy_with};
use fields::{FieldUse, field_uses, flatten_mapping, title_matches};
use saved_objects::{SavedObject, by_id, load};

/// The data view of request events.
const INFERENCE_VIEW: &str = "modelwatch-inference";
/// The data view of drift snapshots.
const DRIFT_VIEW: &str = "modelwatch-drift";
/// The data view of performance documents.
const PERFORMANCE_VIEW: &str = "modelwatch-performance";

/// The mapped types of the data a data view reads: the template the sidecar installs on
/// OpenSearch (the test node).
fn template_fields(view: &str) -> BTreeMap<String, String> {
    template_fields_on(view, Engine::OpenSearch)
}

fn template_fields_on(view: &str, engine: Engine) -> BTreeMap<String, String> {
    let config = ElasticsearchConfig::default();
    let template = match view {
        INFERENCE_VIEW => index_template(&config.data_stream, engine),
        DRIFT_VIEW => drift_template(&config.drift_data_stream, engine),
        PERFORMANCE_VIEW => performance_template(&config.performance_data_stream, engine),
        other => panic!("no template known for data view {other}"),
    };
    flatten_mapping(&template["template"]["mappings"]["properties"])
}

#[test]
fn every_field_exists_in_the_installed_template_with_a_compatible_type() {
    let objects = load();
    let config = ElasticsearchConfig::default();
    let uses = field_uses(&objects);
    for (view_id, default_stream) in [
        (INFERENCE_VIEW, &config.data_stream),
        (DRIFT_VIEW, &config.drift_data_stream),
        (PERFORMANCE_VIEW, &config.performance_data_stream),
    ] {
        // The data view finds what the sidecar writes by default.
        let view = by_id(&objects, "index-pattern", view_id);
        assert!(
            title_matches(view.title(), default_stream),
            "{} does not match the default data stream {default_stream}",
            view.title()
        );
        let uses: Vec<&FieldUse> = uses.iter().filter(|u| u.data_view == view_id).collect();
        assert!(uses.len() > 10, "too few field uses of {view_id}: {uses:?}");
        let mapped = template_fields(view_id);
        // Kibana 8 reads Elasticsearch: every field used has the same type there.
        let on_elasticsearch = template_fields_on(view_id, Engine::Elasticsearch);
        for u in &uses {
            assert_eq!(
                mapped.get(&u.field),
                on_elasticsearch.get(&u.field),
                "{} uses {}: OpenSearch and Elasticsearch templates differ",
                u.place,
                u.field
            );
        }
        for u in uses {
            let es_type = mapped.get(&u.field).unwrap_or_else(|| {
                panic!(
                    "{} uses {}, which the index template of {default_stream} does not map",
                    u.place, u.field
                )
            });
            assert!(
                u.need.accepts(es_type),
                "{} uses {} as {:?}, but the template maps it as {es_type}",
                u.place,
                u.field,
                u.need
            );
        }
    }
    // The one thing no type check catches: `event.duration` is in nanoseconds, and the
    // slow-request search and the duration format say so.
    let slow = by_id(&objects, "search", "modelwatch-slow-requests").search_source();
    assert_eq!(slow["query"]["query"], "event.duration:>500000000");
    let inference = by_id(&objects, "index-pattern", INFERENCE_VIEW);
    let formats = inference.nested_json(&["fieldFormatMap"]);
    assert_eq!(
        formats["event.duration"]["params"]["inputFormat"],
        "nanoseconds"
    );
}

/// The node maps every field the objects read from `view` as the template says,
/// searchable, and aggregatable where a chart or a sort needs it (Kibana builds a data
/// view's field list from `_field_caps` too).
async fn assert_node_maps_the_fields(objects: &[SavedObject], view: &str, index: &str) {
    let uses: Vec<FieldUse> = field_uses(objects)
        .into_iter()
        .filter(|u| u.data_view == view)
        .collect();
    let names: Vec<String> = uses
        .iter()
        .map(|u| u.field.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let caps = traffic::field_caps(index, &names).await;
    let mapped = template_fields(view);
    for u in &uses {
        let cap = caps.iter().find(|c| c.0 == u.field).unwrap_or_else(|| {
            panic!(
                "{} uses {}, which the node has not mapped",
                u.place, u.field
            )
        });
        assert_eq!(
            &cap.1, &mapped[&u.field],
            "{}: {} in the node",
            u.place, u.field
        );
        assert!(cap.2, "{}: {} is not searchable", u.place, u.field);
        assert!(
            !u.need.aggregates() || cap.3,
            "{}: {} is not aggregatable",
            u.place,
            u.field
        );
    }
}

/// The ids of a search response's hits, as found in `http.request.id`.
fn hit_ids(found: &Value) -> Vec<String> {
    found["hits"]["hits"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|h| h.pointer("/_source/http/request/id")?.as_str())
        .map(str::to_string)
        .collect()
}

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

#[tokio::test(flavor = "multi_thread")]
async fn saved_searches_and_charts_find_exactly_the_expected_requests() {
    let es = opensearch_url();
    let stream = format!("logs-modelwatch.inference-t{}kibana", std::process::id());
    forget(&stream).await;
    let objects = load();
    let view = by_id(&objects, "index-pattern", INFERENCE_VIEW);
    assert!(
        title_matches(view.title(), &stream),
        "the test's stream is in the data view"
    );
    let time_field = view.attributes["timeFieldName"].as_str().unwrap();

    let home = tempfile::tempdir().unwrap();
    let upstream = traffic::model_server().await;
    let proxy = start_proxy_with(
        &upstream,
        &es,
        &stream,
        home.path().to_str().unwrap(),
        &[(
            "MODELWATCH__PROXY__RESPONSE_TIMEOUT",
            traffic::RESPONSE_TIMEOUT,
        )],
    );
    let plan = traffic::plan();
    traffic::send_all(&proxy, &plan).await;

    assert_node_maps_the_fields(&objects, INFERENCE_VIEW, &stream).await;

    let ids_where = |keep: &dyn Fn(&traffic::Planned) -> bool| {
        sorted(
            plan.iter()
                .filter(|p| keep(p))
                .map(|p| p.id.clone())
                .collect(),
        )
    };
    let expected: [(&str, Vec<String>); 3] = [
        ("modelwatch-server-errors", ids_where(&|p| p.status >= 500)),
        ("modelwatch-slow-requests", ids_where(&|p| p.slow())),
        (
            "modelwatch-model-version",
            ids_where(&|p| p.model == "credit" && p.version == "1"),
        ),
    ];
    for (id, want) in expected {
        let search = by_id(&objects, "search", id);
        assert_eq!(search.search_data_view(), INFERENCE_VIEW);
        let request = query_dsl::saved_search_request(search, time_field, 1000);
        let found = traffic::search(&stream, request.clone()).await;
        let ids = hit_ids(&found);
        assert_eq!(sorted(ids.clone()), want, "{id}: {request}");
        if id == "modelwatch-slow-requests" {
            // Sorted slowest first, as the saved sort says.
            let durations: Vec<u64> = found["hits"]["hits"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| h["_source"]["event"]["duration"].as_u64().unwrap())
                .collect();
            assert!(durations.windows(2).all(|w| w[0] >= w[1]), "{durations:?}");
            assert!(durations.iter().all(|d| *d > 500_000_000), "{durations:?}");
        }
        if id == "modelwatch-server-errors" {
            // Every hit says why it failed; the 504 is the sidecar's own answer.
            for hit in found["hits"]["hits"].as_array().unwrap() {
                let doc = &hit["_source"];
                let why = doc["error"]["type"].as_str().unwrap_or_default();
                let status = &doc["http"]["response"]["status_code"];
                let want = if *status == 504 {
                    "response_timeout"
                } else {
                    "http_status"
                };
                assert_eq!(why, want, "{doc}");
            }
        }
    }

    // Requests by status: the chart's bars add up to the requests sent per status.
    let by_status = chart_totals(
        &objects,
        "modelwatch-requests-by-status",
        &stream,
        time_field,
    )
    .await;
    let mut want_status: BTreeMap<String, f64> = BTreeMap::new();
    for p in &plan {
        *want_status.entry(p.status.to_string()).or_default() += 1.0;
    }
    assert_eq!(by_status.sum, want_status);

    // p95 duration by version: version 2 (three of seven requests slow) above the slow
    // threshold in some interval, version 1 (all fast) below it in every interval.
    let p95 = chart_totals(&objects, "modelwatch-p95-duration", &stream, time_field).await;
    let slow_ns = traffic::SLOW.as_nanos() as f64;
    assert!(
        p95.max["2"] >= slow_ns * 0.9,
        "p95 of version 2: {:?}",
        p95.max
    );
    assert!(
        p95.max["1"] < 500_000_000.0,
        "p95 of version 1: {:?}",
        p95.max
    );

    drop(proxy);
    forget(&stream).await;
}

/// A chart's figures per series (the split column's value): the sum and the maximum of
/// the metric over the time buckets.
struct ChartTotals {
    sum: BTreeMap<String, f64>,
    max: BTreeMap<String, f64>,
}

async fn chart_totals(
    objects: &[SavedObject],
    id: &str,
    index: &str,
    time_field: &str,
) -> ChartTotals {
    let lens = by_id(objects, "lens", id);
    let layers = lens.lens_layers();
    assert_eq!(layers.len(), 1, "{id}: one layer expected");
    let (_, layer) = &layers[0];
    let visual = &lens.attributes["state"]["visualization"]["layers"][0];
    let split = visual["splitAccessor"].as_str().unwrap();
    let time = visual["xAccessor"].as_str().unwrap();
    let metric = visual["accessors"][0].as_str().unwrap();
    let request = query_dsl::lens_layer_request(lens, layer, time_field);
    let found = traffic::search(index, request.clone()).await;
    let metric_column = &layer["columns"][metric];
    let mut totals = ChartTotals {
        sum: BTreeMap::new(),
        max: BTreeMap::new(),
    };
    let series = found["aggregations"][split]["buckets"]
        .as_array()
        .unwrap_or_else(|| panic!("{id}: no buckets for {split} in {found} (request {request})"));
    for series_bucket in series {
        let name = match &series_bucket["key"] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        for bucket in series_bucket[time]["buckets"].as_array().unwrap() {
            if bucket["doc_count"] == 0 {
                continue;
            }
            let value = query_dsl::metric_value(bucket, metric, metric_column)
                .unwrap_or_else(|| panic!("{id}: no {metric} in {bucket}"));
            *totals.sum.entry(name.clone()).or_default() += value;
            let max = totals.max.entry(name.clone()).or_insert(f64::MIN);
            *max = max.max(value);
        }
    }
    totals
}

#[test]
fn the_compose_stack_imports_the_saved_objects_and_exports_events_to_its_elasticsearch() {
    let compose: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(&crate::metric_contract::read("compose/docker-compose.yml"))
            .unwrap();
    let services = &compose["services"];
    let setup = &services["kibana-setup"];
    let mounts: Vec<&str> = setup["volumes"]
        .as_sequence()
        .expect("compose has a kibana-setup service with volumes")
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert!(
        mounts.contains(&"../dashboards/kibana:/kibana:ro"),
        "{mounts:?}"
    );
    let script = setup["command"][0].as_str().unwrap();
    assert!(
        script.contains("/api/saved_objects/_import?overwrite=true")
            && script.contains("file=@/kibana/modelwatch.ndjson")
            && script.contains("kbn-xsrf"),
        "{script}"
    );
    assert!(services["kibana"].is_mapping());
    let export = &services["sidecar"]["environment"]["MODELWATCH__EXPORT__ELASTICSEARCH__URL"];
    assert_eq!(export.as_str(), Some("http://elasticsearch:9200"));
    assert!(services["elasticsearch"].is_mapping());
}
