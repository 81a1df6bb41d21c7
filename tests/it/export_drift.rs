//! Drift snapshots from a real `modelwatch proxy` (a credit reference, drifted traffic from
//! a real model server) into a real OpenSearch node: one document per column and
//! evaluation, searchable by the documented typed fields, `drifted` true for exactly the
//! drifted features; and request events that do not depend on analysis having room. The
//! node comes from `tests/services/opensearch.sh` (`OPENSEARCH_URL`).

use crate::export_elasticsearch::{
    cluster, export_count, export_kind_count, forget, opensearch_url, search, wait_for_count,
    wait_for_kind_count,
};
use crate::live_drift::{
    TempDir, Wire, credit_profile, credit_rows, drifted, model_server, sample, send_rows,
};
use crate::support::client::{self, get};
use crate::support::metrics_text::{parse, value};
use crate::support::proxy_process::ProxyProcess;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// The snapshots of the latest evaluation whose window held `rows` feature rows, found
/// with a typed query (term on keyword/long fields, sorted by the date field).
async fn latest_full_evaluation(stream: &str, rows: u64) -> Vec<Value> {
    let (status, _) = cluster(http::Method::POST, &format!("/{stream}/_refresh"), None).await;
    if status == 404 {
        return Vec::new(); // Not created yet: the first snapshot creates the data stream.
    }
    assert_eq!(status, 200);
    let query = |filter: Value| {
        json!({"size": 1000, "sort": [{"@timestamp": "desc"}],
               "query": {"bool": {"filter": filter}}})
    };
    let (status, found) = cluster(
        http::Method::POST,
        &format!("/{stream}/_search"),
        Some(query(json!([
            {"term": {"modelwatch.window_rows": rows}},
            {"term": {"modelwatch.feature": "Income"}},
        ]))),
    )
    .await;
    if status != 200 {
        return Vec::new();
    }
    let Some(newest) = found["hits"]["hits"][0]["_source"]["@timestamp"].as_str() else {
        return Vec::new();
    };
    let (status, found) = cluster(
        http::Method::POST,
        &format!("/{stream}/_search"),
        Some(query(json!([{"term": {"@timestamp": newest}}]))),
    )
    .await;
    assert_eq!(status, 200, "{found}");
    found["hits"]["hits"].as_array().unwrap().clone()
}

/// A request-event and a drift data stream of this test's own, emptied first.
pub(crate) async fn fresh_streams(tag: &str) -> (String, String) {
    let tag = format!("t{}{tag}", std::process::id());
    let events = format!("logs-modelwatch.inference-{tag}");
    let drift = format!("metrics-modelwatch.drift-{tag}");
    forget(&events).await;
    forget(&drift).await;
    (events, drift)
}

/// A running proxy for the credit model (its profile as reference, a real model server)
/// exporting to streams of its own, and what it needs kept alive.
struct Exporter {
    proxy: ProxyProcess,
    events: String,
    drift: String,
    profile: std::path::PathBuf,
    _upstream: crate::support::upstream::Upstream,
    _dir: TempDir,
}

impl Exporter {
    async fn start(tag: &str, extra: &[(&str, &str)]) -> Exporter {
        let es = opensearch_url();
        let (events, drift) = fresh_streams(tag).await;
        let dir = TempDir::new(tag);
        let profile = credit_profile(&dir.0);
        let upstream = model_server(Wire::Oip).await;
        let mut env = vec![
            ("MODELWATCH__MODEL__NAME", "credit"),
            ("MODELWATCH__EXPORT__ELASTICSEARCH__URL", es.as_str()),
            (
                "MODELWATCH__EXPORT__ELASTICSEARCH__DATA_STREAM",
                events.as_str(),
            ),
            (
                "MODELWATCH__EXPORT__ELASTICSEARCH__DRIFT_DATA_STREAM",
                drift.as_str(),
            ),
            ("MODELWATCH__EXPORT__ELASTICSEARCH__BATCH_AGE", "100ms"),
            ("MODELWATCH_STATE_DIR", dir.0.to_str().unwrap()),
        ];
        env.extend_from_slice(extra);
        let (url, reference) = (upstream.url(), profile.to_str().unwrap().to_string());
        let proxy =
            ProxyProcess::start_with_args(&["--upstream", &url, "--reference", &reference], &env);
        Exporter {
            proxy,
            events,
            drift,
            profile,
            _upstream: upstream,
            _dir: dir,
        }
    }

    async fn finish(self) {
        drop(self.proxy);
        forget(&self.events).await;
        forget(&self.drift).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn drift_snapshots_are_searchable_with_typed_fields() {
    let exporter = Exporter::start(
        "snap",
        &[
            ("MODELWATCH__ANALYSIS__EVALUATION_INTERVAL", "300ms"),
            ("MODELWATCH__ANALYSIS__WINDOW_ROWS", "1000"),
            // The first full evaluation is the one checked: let it report drift alone
            // (this test is about the documents, not about alarm persistence).
            ("MODELWATCH__ANALYSIS__PERSISTENCE", "1/1"),
        ],
    )
    .await;
    let (proxy, events, drift, profile) = (
        &exporter.proxy,
        &exporter.events,
        &exporter.drift,
        &exporter.profile,
    );
    let (features, rows) = credit_rows();
    // Income × 2 and most homes turned into `rent`: those two drift, nothing else.
    send_rows(
        proxy,
        Wire::Oip,
        &features,
        &drifted(sample(&rows, 1000, 17), &features),
    )
    .await;

    let deadline = Instant::now() + Duration::from_secs(30);
    let snapshots = loop {
        let found = latest_full_evaluation(drift, 1000).await;
        // The 13 features of the credit data (a dataset profile has no prediction column;
        // `prediction:<output>` snapshots are covered by the unit tests).
        if found.len() == 13 {
            break found;
        }
        assert!(
            Instant::now() < deadline,
            "no complete evaluation of 1000 rows in {drift} ({} documents); log:\n{}",
            found.len(),
            proxy.log()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let by_feature = |name: &str| -> &Value {
        &snapshots
            .iter()
            .find(|h| h["_source"]["modelwatch"]["feature"] == name)
            .unwrap_or_else(|| panic!("no snapshot for {name}: {snapshots:?}"))["_source"]
    };
    let flagged: BTreeSet<&str> = snapshots
        .iter()
        .filter(|h| h["_source"]["modelwatch"]["drifted"] == true)
        .map(|h| h["_source"]["modelwatch"]["feature"].as_str().unwrap())
        .collect();
    assert_eq!(flagged, BTreeSet::from(["Home", "Income"]));

    let income = by_feature("Income");
    assert_eq!(income["event"]["kind"], "metric");
    assert_eq!(income["event"]["dataset"], "modelwatch.drift");
    let m = &income["modelwatch"];
    assert_eq!(m["model"], "credit");
    assert!(m["model_version"].is_string());
    // `auto` tests a 1000-row numeric window with a distance (no p-value): the score is
    // over the threshold.
    assert_eq!(m["method"], "wasserstein", "{m}");
    assert!(m.get("p_value").is_none(), "{m}");
    assert!(
        m["score"].as_f64().unwrap() > m["threshold"].as_f64().unwrap(),
        "{m}"
    );
    // The statistic is the raw distance; the score divides it by the reference std.
    assert!(
        m["statistic"].as_f64().unwrap() > m["score"].as_f64().unwrap(),
        "{m}"
    );
    assert_eq!(
        m["dataset_drift"], false,
        "2 of 13 columns is below the share"
    );
    assert!(
        (m["drift_share"].as_f64().unwrap() - 2.0 / 13.0).abs() < 1e-9,
        "{m}"
    );
    assert_eq!(m["reference"]["name"], profile.to_str().unwrap());
    assert!(m["reference"]["version"].is_string());
    assert!(
        m["missing_rate"].as_f64().unwrap() > 0.0,
        "the credit data has missing incomes"
    );
    assert_eq!(by_feature("Age")["modelwatch"]["drifted"], false);
    // `drifted` agrees with the stored numbers: a p-value under the threshold, or a
    // distance over it.
    for hit in &snapshots {
        let m = &hit["_source"]["modelwatch"];
        let threshold = m["threshold"].as_f64().unwrap();
        let over = match m["p_value"].as_f64() {
            Some(p) => p < threshold,
            None => m["score"].as_f64().unwrap() >= threshold,
        };
        assert_eq!(m["drifted"], over, "{m}");
    }

    // A range query on a double field only works if it is mapped as a number.
    let (status, found) = cluster(
        http::Method::POST,
        &format!("/{drift}/_search"),
        Some(json!({"size": 0, "query": {"bool": {"filter": [
            {"range": {"modelwatch.missing_rate": {"gt": 0.0}}},
            {"term": {"modelwatch.drifted": true}},
        ]}}})),
    )
    .await;
    assert_eq!(status, 200, "{found}");
    assert!(
        found["hits"]["total"]["value"].as_u64().unwrap() > 0,
        "{found}"
    );

    let (status, mapping) = cluster(http::Method::GET, &format!("/{drift}/_mapping"), None).await;
    assert_eq!(status, 200);
    let index = mapping.as_object().unwrap().values().next().unwrap();
    let props = &index["mappings"]["properties"];
    let m = &props["modelwatch"]["properties"];
    assert_eq!(props["@timestamp"]["type"], "date");
    assert_eq!(props["event"]["properties"]["kind"]["type"], "keyword");
    for (field, kind) in [
        ("model", "keyword"),
        ("model_version", "keyword"),
        ("feature", "keyword"),
        ("method", "keyword"),
        ("statistic", "double"),
        ("score", "double"),
        ("p_value", "double"),
        ("threshold", "double"),
        ("drifted", "boolean"),
        ("drift_share", "double"),
        ("dataset_drift", "boolean"),
        ("window_rows", "long"),
        ("missing_rate", "double"),
        ("out_of_range_rate", "double"),
        ("unseen_rate", "double"),
        ("type_error_rate", "double"),
    ] {
        assert_eq!(m[field]["type"], kind, "modelwatch.{field}");
    }
    assert_eq!(m["reference"]["properties"]["name"]["type"], "keyword");

    // Every (feature, evaluation) is stored once, and request events went to their own
    // stream through the same shipper.
    let all = search(drift).await;
    let keys: BTreeSet<(String, String)> = all
        .iter()
        .map(|h| {
            (
                h["_source"]["modelwatch"]["feature"]
                    .as_str()
                    .unwrap()
                    .to_string(),
                h["_source"]["@timestamp"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(keys.len(), all.len(), "a snapshot stored twice");
    let requests = search(events).await;
    assert_eq!(requests.len(), 50, "1000 rows in batches of 20");
    // The export counter tells the two kinds apart: exactly the request events as request,
    // and the stored snapshots (more may have been delivered since) as drift.
    wait_for_kind_count(proxy, "delivered", "request", 50.0).await;
    let drift_delivered = export_kind_count(proxy, "delivered", "drift").await;
    assert!(
        drift_delivered >= all.len() as f64,
        "{drift_delivered} drift snapshots counted delivered, {} stored",
        all.len()
    );
    // The analysis worker decoded them: each event says how and how many rows.
    for hit in &requests {
        let m = &hit["_source"]["modelwatch"];
        assert_eq!(m["protocol"], "oip", "{m}");
        assert_eq!(m["rows"], 20, "{m}");
    }
    assert_eq!(export_count(proxy, "dead_letter").await, 0.0);
    // The test node has no ISM plugin: the sidecar says what that means and goes on.
    assert!(
        proxy.log().contains("OpenSearch has no ISM plugin"),
        "{}",
        proxy.log()
    );
    exporter.finish().await;
}

/// Request events never depend on analysis having room: with an analysis queue too small
/// for any exchange, every event is still exported (by the proxy, undecoded).
#[tokio::test(flavor = "multi_thread")]
async fn events_are_exported_when_the_analysis_queue_drops_them() {
    let exporter = Exporter::start("full", &[("MODELWATCH__ANALYSIS__QUEUE_BYTES", "1")]).await;
    let (proxy, events) = (&exporter.proxy, &exporter.events);
    let (features, rows) = credit_rows();
    send_rows(proxy, Wire::Oip, &features, &sample(&rows, 200, 3)).await;
    wait_for_count(proxy, "delivered", 10.0).await;
    let metrics = parse(
        &get(&client::http1(), &proxy.admin_url("/metrics"))
            .await
            .text(),
    );
    assert_eq!(
        value(
            &metrics,
            "modelwatch_analysis_dropped_total",
            &[("reason", "queue_full")]
        ),
        Some(10.0)
    );
    let requests = search(events).await;
    assert_eq!(requests.len(), 10);
    for hit in &requests {
        let m = &hit["_source"]["modelwatch"];
        assert_eq!(m["protocol"], "oip", "from the route: {m}");
        assert!(m.get("rows").is_none(), "not decoded: {m}");
    }
    exporter.finish().await;
}
