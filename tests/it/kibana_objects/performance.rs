//! The performance objects on real performance documents: a real `modelwatch serve` and a
//! sidecar with `quality.enabled` (the set-up of `export_performance`), predictions and
//! labels through it, each quality evaluation exported. Then the "Performance with
//! labels" search must return exactly the stored documents whose window holds labels,
//! and the realised-vs-estimated chart must show, per model version, the figures the
//! documents hold (realised, estimate, band edges, reference), and the coverage chart the
//! label coverage.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::{Value, json};

use super::query_dsl::{lens_layer_request, metric_value, saved_search_request};
use super::saved_objects::{SavedObject, by_id, load};
use super::{PERFORMANCE_VIEW, assert_node_maps_the_fields, chart_totals, traffic};
use crate::export_elasticsearch::cluster;
use crate::export_performance::{LabelledSidecar, credit1};

/// Predictions before the first pause (half of those `LabelledSidecar` makes).
const HALF: usize = 30;

/// Each accessor's figure per series of a Lens chart: the highest over the time buckets
/// (the lowest for a `min` column, the lower edge of a band).
async fn chart_figures(
    objects: &[SavedObject],
    id: &str,
    index: &str,
    time_field: &str,
) -> BTreeMap<(String, String), f64> {
    let lens = by_id(objects, "lens", id);
    let layers = lens.lens_layers();
    assert_eq!(layers.len(), 1, "{id}: one layer expected");
    let (_, layer) = &layers[0];
    let visual = &lens.attributes["state"]["visualization"]["layers"][0];
    let split = visual["splitAccessor"].as_str().unwrap();
    let time = visual["xAccessor"].as_str().unwrap();
    let request = lens_layer_request(lens, layer, time_field);
    let found = traffic::search(index, request.clone()).await;
    let mut figures = BTreeMap::new();
    for series in found["aggregations"][split]["buckets"]
        .as_array()
        .unwrap_or_else(|| panic!("{id}: no buckets for {split} in {found} ({request})"))
    {
        let name = series["key"].as_str().unwrap().to_string();
        for bucket in series[time]["buckets"].as_array().unwrap() {
            if bucket["doc_count"] == 0 {
                continue;
            }
            for accessor in visual["accessors"].as_array().unwrap() {
                let accessor = accessor.as_str().unwrap();
                let column = &layer["columns"][accessor];
                let Some(value) = metric_value(bucket, accessor, column) else {
                    continue; // No document of this interval has the field.
                };
                let lowest = column["operationType"] == "min";
                figures
                    .entry((name.clone(), accessor.to_string()))
                    .and_modify(|f: &mut f64| *f = if lowest { f.min(value) } else { f.max(value) })
                    .or_insert(value);
            }
        }
    }
    figures
}

/// How many stored documents match `query`, once some do (0 after about a minute).
async fn stored_count(stream: &str, query: Value) -> u64 {
    for _ in 0..200 {
        // 404 until the first document creates the data stream.
        cluster(http::Method::POST, &format!("/{stream}/_refresh"), None).await;
        let (status, found) = cluster(
            http::Method::POST,
            &format!("/{stream}/_count"),
            Some(json!({"query": query})),
        )
        .await;
        let count = if status == 200 {
            found["count"].as_u64().unwrap()
        } else {
            0
        };
        if count > 0 {
            return count;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    0
}

/// The highest (or lowest) value of a dotted field over the documents.
fn extreme(docs: &[&Value], path: &str, lowest: bool) -> Option<f64> {
    let pointer = format!("/{}", path.replace('.', "/"));
    let values = docs.iter().filter_map(|d| d.pointer(&pointer)?.as_f64());
    if lowest {
        values.reduce(f64::min)
    } else {
        values.reduce(f64::max)
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn performance_search_and_charts_show_the_documents_figures() {
    let stream = format!(
        "metrics-modelwatch.performance-t{}kibana",
        std::process::id()
    );
    let objects = load();
    let view = by_id(&objects, "index-pattern", PERFORMANCE_VIEW);
    assert!(super::title_matches(view.title(), &stream));
    let time_field = view.attributes["timeFieldName"].as_str().unwrap();

    // Evaluations of a half-full estimate window (a wider band), then of the full one, are
    // stored before the labels, then some after them; then the sidecar stops (its last
    // evaluation shipped) so the stream no longer changes under the queries.
    let mut sidecar = LabelledSidecar::start("kibanaperf", &stream, HALF).await;
    assert!(
        stored_count(
            &stream,
            json!({"term": {"modelwatch.estimated.rows": HALF}})
        )
        .await
            > 0,
        "no document of an estimate on {HALF} predictions in {stream}"
    );
    sidecar.predict_rest();
    assert!(
        stored_count(
            &stream,
            json!({"bool": {"filter": [
                {"term": {"modelwatch.rows": 0}},
                {"term": {"modelwatch.estimated.rows": HALF * 2}},
            ]}})
        )
        .await
            > 0,
        "no document of an evaluation of every prediction before the labels in {stream}"
    );
    sidecar.send_labels();
    let report = sidecar.settled();
    let version = credit1(&report);
    let labelled = stored_count(
        &stream,
        json!({"term": {"modelwatch.rows": version["rows"]}}),
    )
    .await;
    assert!(labelled > 0, "no labelled document in {stream}");
    sidecar.proxy.terminate();
    let status = sidecar.proxy.wait(Duration::from_secs(15));
    assert!(
        status.is_some_and(|s| s.success()),
        "{}",
        sidecar.proxy.log()
    );

    assert_node_maps_the_fields(&objects, PERFORMANCE_VIEW, &stream).await;

    let all = traffic::search(&stream, json!({"size": 10000, "query": {"match_all": {}}})).await;
    let hits = all["hits"]["hits"].as_array().unwrap();
    let with_labels: BTreeSet<String> = hits
        .iter()
        .filter(|h| h["_source"]["modelwatch"]["rows"].as_u64().unwrap() > 0)
        .map(|h| h["_id"].as_str().unwrap().to_string())
        .collect();
    assert!(
        !with_labels.is_empty() && with_labels.len() < hits.len(),
        "evaluations before and after the labels ({} of {})",
        with_labels.len(),
        hits.len()
    );
    let search = by_id(&objects, "search", "modelwatch-labelled-performance");
    assert_eq!(search.search_data_view(), PERFORMANCE_VIEW);
    let request = saved_search_request(search, time_field, 10000);
    let found = traffic::search(&stream, request.clone()).await;
    let ids: BTreeSet<String> = found["hits"]["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids, with_labels, "{request}");

    // Realised vs estimated: each line reaches the documents' own extreme, and the
    // realised line the figure /api/v1/performance reported. The band of the half window
    // is wider: the lowest lower edge and the highest upper edge are not the same
    // evaluation's, so a chart taking the wrong extreme shows.
    let docs: Vec<&Value> = hits.iter().map(|h| &h["_source"]).collect();
    let lower_edges: BTreeSet<u64> = docs
        .iter()
        .filter_map(|d| d.pointer("/modelwatch/estimated/metrics/accuracy/lower"))
        .map(|v| v.as_f64().unwrap().to_bits())
        .collect();
    assert!(lower_edges.len() > 1, "one band only: {lower_edges:?}");
    let figures = chart_figures(
        &objects,
        "modelwatch-performance-accuracy",
        &stream,
        time_field,
    )
    .await;
    for (accessor, field, lowest) in [
        ("realised", "modelwatch.metrics.accuracy", false),
        (
            "estimated",
            "modelwatch.estimated.metrics.accuracy.value",
            false,
        ),
        ("lower", "modelwatch.estimated.metrics.accuracy.lower", true),
        (
            "upper",
            "modelwatch.estimated.metrics.accuracy.upper",
            false,
        ),
        ("reference", "modelwatch.reference.accuracy", false),
    ] {
        let want = extreme(&docs, field, lowest).unwrap_or_else(|| panic!("no {field}"));
        assert_eq!(
            figures.get(&("1".to_string(), accessor.to_string())),
            Some(&want),
            "{accessor} ({field}): {figures:?}"
        );
    }
    let realised = version["metrics"]["accuracy"].as_f64().unwrap();
    assert!(
        docs.iter()
            .any(|d| d["modelwatch"]["metrics"]["accuracy"].as_f64() == Some(realised)),
        "the reported realised accuracy {realised} is in the documents"
    );
    assert_eq!(
        figures[&("1".to_string(), "reference".to_string())],
        version["reference"]["accuracy"].as_f64().unwrap()
    );
    // The band holds the estimate.
    let (lower, value, upper) = (
        figures[&("1".to_string(), "lower".to_string())],
        figures[&("1".to_string(), "estimated".to_string())],
        figures[&("1".to_string(), "upper".to_string())],
    );
    assert!(lower <= value && value <= upper, "{figures:?}");

    // Label coverage: the chart reaches the documents' highest coverage of version 1, the
    // one the report shows once the labels joined (0 before them, then 2/3).
    let coverage = chart_totals(&objects, "modelwatch-label-coverage", &stream, time_field).await;
    let highest = extreme(&docs, "modelwatch.label_coverage", false).unwrap();
    assert_eq!(coverage.max["1"], highest, "{:?}", coverage.max);
    assert_eq!(
        Some(highest),
        version["label_coverage"].as_f64(),
        "{version:#}"
    );

    sidecar.finish().await;
}
