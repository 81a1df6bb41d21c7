//! The Kibana saved objects in `dashboards/kibana/modelwatch.ndjson`: every reference
//! resolves and every nested JSON parses; every field they use exists, with a type that
//! serves the use, in the index templates modelwatch installs (taken from the Rust code that
//! builds them, `index_template` and `drift_template`); and with real request events and
//! drift snapshots from the real `modelwatch proxy` in the real OpenSearch node, each saved
//! search returns exactly the expected documents and each Lens chart aggregates to the
//! expected figures (drift: `drift.rs`).
//!
//! Kibana itself cannot run here (no registry ships it), so what Kibana would send is built
//! from the objects in `query_dsl` and sent to the node; the comments there say what is
//! simplified.

mod drift;
mod fields;
mod query_dsl;
mod saved_objects;
mod traffic;

use std::collections::{BTreeMap, BTreeSet};

use modelwatch::export::elasticsearch::config::ElasticsearchConfig;
use modelwatch::export::elasticsearch::templates::{Engine, drift_template, index_template};
use serde_json::Value;

use crate::export_elasticsearch::{forget, opensearch_url, start_proxy};
use fields::{FieldUse, field_uses, flatten_mapping, title_matches};
use saved_objects::{NDJSON, SavedObject, by_id, load, of_kind};

/// The data view of request events.
const INFERENCE_VIEW: &str = "modelwatch-inference";
/// The data view of drift snapshots.
const DRIFT_VIEW: &str = "modelwatch-drift";

/// The saved objects issue 6 asks for, by type and id.
const REQUIRED: &[(&str, &str)] = &[
    ("index-pattern", INFERENCE_VIEW),
    ("index-pattern", DRIFT_VIEW),
    ("search", "modelwatch-server-errors"),
    ("search", "modelwatch-slow-requests"),
    ("search", "modelwatch-drifted-features"),
    ("search", "modelwatch-model-version"),
    ("lens", "modelwatch-requests-by-status"),
    ("lens", "modelwatch-p95-duration"),
    ("lens", "modelwatch-drift-score"),
    ("lens", "modelwatch-drift-share"),
    ("dashboard", "modelwatch-dashboard"),
];

#[test]
fn every_reference_resolves_ids_are_unique_and_nested_json_parses() {
    let objects = load();
    let mut seen = BTreeSet::new();
    for object in &objects {
        assert!(
            seen.insert((object.kind.clone(), object.id.clone())),
            "{NDJSON} line {}: {} appears twice",
            object.line,
            object.key()
        );
        assert!(!object.title().is_empty(), "{} has no title", object.key());
        // Every reference points at an object of the file (none is external) of its type.
        let mut names = BTreeSet::new();
        for (name, kind, id) in &object.references {
            assert!(
                names.insert(name),
                "{}: two references named {name}",
                object.key()
            );
            assert!(
                objects.iter().any(|o| &o.kind == kind && &o.id == id),
                "{}: reference {name} points at {kind}:{id}, which is not in {NDJSON}",
                object.key()
            );
        }
        let used = match object.kind.as_str() {
            "index-pattern" => check_data_view(object),
            "search" => check_search(object),
            "lens" => check_lens(object),
            "dashboard" => check_dashboard(object, &objects),
            other => panic!("{}: unexpected type {other}", object.key()),
        };
        let declared: BTreeSet<String> = object.references.iter().map(|r| r.0.clone()).collect();
        assert_eq!(
            declared,
            used,
            "{}: the references and the names the object uses differ",
            object.key()
        );
    }
    for (kind, id) in REQUIRED {
        by_id(&objects, kind, id);
    }
}

/// A data view: a time field and parseable nested strings. No references.
fn check_data_view(view: &SavedObject) -> BTreeSet<String> {
    assert!(
        view.attributes["timeFieldName"].is_string(),
        "{}",
        view.key()
    );
    for nested in ["fieldFormatMap", "runtimeFieldMap", "fields", "typeMeta"] {
        view.nested_json(&[nested]);
    }
    BTreeSet::new()
}

/// A saved search: its source parses, names its data view and filters' data views by
/// reference, and its sort pairs are `[field, asc|desc]`.
fn check_search(search: &SavedObject) -> BTreeSet<String> {
    let source = search.search_source();
    let mut used = BTreeSet::new();
    let index = source["indexRefName"].as_str().unwrap_or_default();
    assert_eq!(
        index,
        "kibanaSavedObjectMeta.searchSourceJSON.index",
        "{}",
        search.key()
    );
    used.insert(index.to_string());
    assert!(source["query"]["query"].is_string(), "{}", search.key());
    for (i, filter) in source["filter"].as_array().unwrap().iter().enumerate() {
        let name = filter["meta"]["indexRefName"].as_str().unwrap_or_default();
        assert_eq!(
            name,
            format!("kibanaSavedObjectMeta.searchSourceJSON.filter[{i}].meta.index"),
            "{}",
            search.key()
        );
        assert_eq!(search.referenced(name).0, "index-pattern");
        used.insert(name.to_string());
    }
    assert!(
        search.attributes["columns"]
            .as_array()
            .is_some_and(|c| !c.is_empty())
    );
    for sort in search.attributes["sort"].as_array().unwrap() {
        let pair = sort.as_array().unwrap();
        assert!(pair.len() == 2 && matches!(pair[1].as_str(), Some("asc" | "desc")));
    }
    search.search_data_view();
    used
}

/// A Lens XY chart: each layer has a data view reference, its column order lists exactly
/// its columns, and every accessor and order-by names a column of the layer.
fn check_lens(lens: &SavedObject) -> BTreeSet<String> {
    let key = lens.key();
    assert_eq!(lens.attributes["visualizationType"], "lnsXY", "{key}");
    let state = &lens.attributes["state"];
    assert!(
        state["query"]["query"].is_string() && state["filters"].is_array(),
        "{key}"
    );
    let layers: BTreeMap<String, Value> = lens.lens_layers().into_iter().collect();
    assert!(!layers.is_empty(), "{key} has no layer");
    let mut used = BTreeSet::new();
    for (id, layer) in &layers {
        used.insert(format!("indexpattern-datasource-layer-{id}"));
        lens.lens_layer_data_view(id);
        let columns: BTreeSet<&String> = layer["columns"].as_object().unwrap().keys().collect();
        let order: BTreeSet<&str> = layer["columnOrder"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap())
            .collect();
        assert_eq!(
            columns.iter().map(|c| c.as_str()).collect::<BTreeSet<_>>(),
            order,
            "{key} layer {id}: columnOrder and columns differ"
        );
        for (column_id, column) in layer["columns"].as_object().unwrap() {
            let bucketed = matches!(
                column["operationType"].as_str(),
                Some("date_histogram" | "terms")
            );
            assert_eq!(column["isBucketed"], bucketed, "{key} column {column_id}");
            if let Some(by) = column["params"]["orderBy"]["columnId"].as_str() {
                assert!(columns.contains(&by.to_string()), "{key}: orders by {by}");
            }
        }
    }
    for layer in state["visualization"]["layers"].as_array().unwrap() {
        let id = layer["layerId"].as_str().unwrap();
        let columns = layers[id]["columns"].as_object().unwrap();
        let mut accessors: Vec<&str> = layer["accessors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        assert!(!accessors.is_empty(), "{key} layer {id} shows no metric");
        accessors.extend(layer["xAccessor"].as_str());
        accessors.extend(layer["splitAccessor"].as_str());
        for accessor in accessors {
            assert!(
                columns.contains_key(accessor),
                "{key}: no column {accessor}"
            );
        }
    }
    used
}

/// A dashboard: panels on the 48-column grid without overlap, each panel's reference
/// `<panelIndex>:<panelRefName>` of the panel's type; every search and chart is on it.
fn check_dashboard(dashboard: &SavedObject, objects: &[SavedObject]) -> BTreeSet<String> {
    let key = dashboard.key();
    let panels = dashboard.nested_json(&["panelsJSON"]);
    dashboard.nested_json(&["optionsJSON"]);
    dashboard.nested_json(&["kibanaSavedObjectMeta", "searchSourceJSON"]);
    let mut used = BTreeSet::new();
    let mut cells = BTreeSet::new();
    for panel in panels.as_array().unwrap() {
        let index = panel["panelIndex"].as_str().unwrap();
        let grid = &panel["gridData"];
        assert_eq!(grid["i"], index, "{key} panel {index}");
        let (x, y, w, h) = (
            grid["x"].as_u64().unwrap(),
            grid["y"].as_u64().unwrap(),
            grid["w"].as_u64().unwrap(),
            grid["h"].as_u64().unwrap(),
        );
        assert!(
            w > 0 && h > 0 && x + w <= 48,
            "{key} panel {index} off the grid"
        );
        for cell in (x..x + w).flat_map(|cx| (y..y + h).map(move |cy| (cx, cy))) {
            assert!(cells.insert(cell), "{key}: panel {index} overlaps another");
        }
        let name = format!("{index}:{}", panel["panelRefName"].as_str().unwrap());
        let (kind, _) = dashboard.referenced(&name);
        assert_eq!(Some(kind), panel["type"].as_str(), "{key} panel {index}");
        used.insert(name);
    }
    for wanted in of_kind(objects, "search")
        .into_iter()
        .chain(of_kind(objects, "lens"))
    {
        assert!(
            dashboard
                .references
                .iter()
                .any(|(_, kind, id)| kind == &wanted.kind && id == &wanted.id),
            "{key} does not show {}",
            wanted.key()
        );
    }
    used
}

/// The mapped types of the data a data view reads: the template the sidecar installs.
fn template_fields(view: &str) -> BTreeMap<String, String> {
    let config = ElasticsearchConfig::default();
    let template = match view {
        INFERENCE_VIEW => index_template(&config.data_stream, Engine::OpenSearch),
        DRIFT_VIEW => drift_template(&config.drift_data_stream, Engine::OpenSearch),
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
    let proxy = start_proxy(&upstream, &es, &stream, home.path().to_str().unwrap());
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
        ("modelwatch-slow-requests", ids_where(&|p| p.slow)),
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
