//! The drift objects on real drift snapshots: the real `modelwatch proxy` with the credit
//! reference sees credit rows with `Income` doubled and most `Home` set to `rent` (the
//! traffic of `live_drift`), evaluates every 300 ms and exports each evaluation; then the
//! "Drifted features" search must return exactly the stored snapshots whose `drifted` is
//! true, and the drift charts must show the drifted features.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::query_dsl::saved_search_request;
use super::saved_objects::{by_id, load};
use super::{DRIFT_VIEW, assert_node_maps_the_fields, chart_totals, traffic};
use crate::export_elasticsearch::{cluster, forget, opensearch_url, start_proxy_with};
use crate::live_drift::{
    TempDir, Wire, credit_profile, credit_rows, drifted, model_server, sample, send_rows,
};

/// Rows sent, and the live window's size: the last evaluations test all of them.
const ROWS: u64 = 1000;
/// Columns of the credit data the reference profiles (its target left out).
const FEATURES: usize = 13;

/// The `_id`s of hits.
fn ids(found: &Value) -> BTreeSet<String> {
    found["hits"]["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["_id"].as_str().unwrap().to_string())
        .collect()
}

/// Snapshots of full windows stored so far (0 before the stream exists).
async fn full_window_snapshots(stream: &str) -> u64 {
    cluster(http::Method::POST, &format!("/{stream}/_refresh"), None).await;
    let (status, found) = cluster(
        http::Method::POST,
        &format!("/{stream}/_count"),
        Some(json!({"query": {"term": {"modelwatch.window_rows": ROWS}}})),
    )
    .await;
    if status == 200 {
        found["count"].as_u64().unwrap_or(0)
    } else {
        0
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn drifted_features_search_returns_exactly_the_drifted_snapshots() {
    let es = opensearch_url();
    let tag = format!("t{}kibana", std::process::id());
    let events = format!("logs-modelwatch.inference-{tag}drift");
    let stream = format!("metrics-modelwatch.drift-{tag}");
    forget(&events).await;
    forget(&stream).await;
    let objects = load();
    let view = by_id(&objects, "index-pattern", DRIFT_VIEW);
    assert!(super::title_matches(view.title(), &stream));
    let time_field = view.attributes["timeFieldName"].as_str().unwrap();

    let dir = TempDir::new("kibana-drift");
    let profile = credit_profile(&dir.0);
    let upstream = model_server(Wire::Oip).await;
    let mut proxy = start_proxy_with(
        &upstream,
        &es,
        &events,
        dir.0.to_str().unwrap(),
        &[
            ("MODELWATCH__ANALYSIS__REFERENCE", profile.to_str().unwrap()),
            ("MODELWATCH__ANALYSIS__EVALUATION_INTERVAL", "300ms"),
            ("MODELWATCH__ANALYSIS__WINDOW_ROWS", "1000"),
            // The proxy stops after the first full evaluation: let it report drift alone
            // (this test is about the documents, not about alarm persistence).
            ("MODELWATCH__ANALYSIS__PERSISTENCE", "1/1"),
            ("MODELWATCH__MODEL__NAME", "credit"),
            ("MODELWATCH__MODEL__VERSION", "1"),
            (
                "MODELWATCH__EXPORT__ELASTICSEARCH__DRIFT_DATA_STREAM",
                &stream,
            ),
        ],
    );
    let (features, rows) = credit_rows();
    let traffic_rows = drifted(sample(&rows, ROWS as usize, 17), &features);
    send_rows(&proxy, Wire::Oip, &features, &traffic_rows).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while full_window_snapshots(&stream).await < FEATURES as u64 {
        assert!(
            Instant::now() < deadline,
            "no evaluation of {ROWS} rows reached {stream}; log:\n{}",
            proxy.log()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // Stopped (last evaluation shipped), so the stream no longer changes under the queries.
    proxy.terminate();
    let status = proxy.wait(Duration::from_secs(15));
    assert!(status.is_some_and(|s| s.success()), "{}", proxy.log());

    assert_node_maps_the_fields(&objects, DRIFT_VIEW, &stream).await;

    let all = traffic::search(&stream, json!({"size": 10000, "query": {"match_all": {}}})).await;
    let hits = all["hits"]["hits"].as_array().unwrap();
    let drifted_ids: BTreeSet<String> = hits
        .iter()
        .filter(|h| h["_source"]["modelwatch"]["drifted"] == true)
        .map(|h| h["_id"].as_str().unwrap().to_string())
        .collect();
    assert!(
        !drifted_ids.is_empty() && drifted_ids.len() < hits.len(),
        "the snapshots hold drifted and undrifted columns ({} of {})",
        drifted_ids.len(),
        hits.len()
    );

    let search = by_id(&objects, "search", "modelwatch-drifted-features");
    assert_eq!(search.search_data_view(), DRIFT_VIEW);
    let request = saved_search_request(search, time_field, 10000);
    let found = traffic::search(&stream, request.clone()).await;
    assert_eq!(ids(&found), drifted_ids, "{request}");
    // On the full windows, exactly the two drifted features.
    let flagged: BTreeSet<&str> = found["hits"]["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| &h["_source"]["modelwatch"])
        .filter(|m| m["window_rows"] == ROWS)
        .map(|m| m["feature"].as_str().unwrap())
        .collect();
    assert_eq!(flagged, BTreeSet::from(["Home", "Income"]));

    // Drift score by feature: Income's line rises above its threshold.
    let scores = chart_totals(&objects, "modelwatch-drift-score", &stream, time_field).await;
    let income = hits
        .iter()
        .map(|h| &h["_source"]["modelwatch"])
        .find(|m| m["feature"] == "Income" && m["window_rows"] == ROWS)
        .unwrap();
    let threshold = income["threshold"].as_f64().unwrap();
    assert!(
        scores.max["Income"] > threshold,
        "{:?} vs {threshold}",
        scores.max
    );
    assert!(scores.max.contains_key("Home"), "{:?}", scores.max);
    assert_eq!(scores.max.len(), FEATURES, "{:?}", scores.max);

    // Drift share: one line, version 1, reaching 2 of 13 columns.
    let share = chart_totals(&objects, "modelwatch-drift-share", &stream, time_field).await;
    assert_eq!(share.max.keys().collect::<Vec<_>>(), ["1"]);
    assert!(
        share.max["1"] >= 2.0 / FEATURES as f64 - 1e-9,
        "{:?}",
        share.max
    );

    // Missing values: the credit data lacks some incomes, and the chart says so.
    let missing = chart_totals(&objects, "modelwatch-missing-rate", &stream, time_field).await;
    let income_missing = income["missing_rate"].as_f64().unwrap();
    assert!(income_missing > 0.0, "{income}");
    assert!(
        missing.max["Income"] >= income_missing,
        "{:?} vs {income_missing}",
        missing.max
    );

    forget(&events).await;
    forget(&stream).await;
}
