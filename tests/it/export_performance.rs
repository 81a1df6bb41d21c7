//! Performance documents from a real sidecar into the real OpenSearch node: a real
//! `modelwatch serve` answering credit@1, a real `modelwatch proxy` with `quality.enabled`
//! exporting to streams of its own, predictions and (some wrong) labels sent through it.
//! The document of one evaluation carries every figure `/api/v1/performance` showed for
//! it, and the node indexes each as the template types it: an aggregation over each
//! numeric field gives back the figure, a term query finds each keyword, and no field of
//! the document is left to dynamic mapping. The node comes from
//! `tests/services/opensearch.sh` (`OPENSEARCH_URL`).

use super::export_drift::fresh_streams;
use super::export_elasticsearch::{cluster, forget, opensearch_url};
use super::follow_alias::register;
use super::ml_pipeline::credit_rows;
use super::ml_support::*;
use super::model_quality::{metric, predict};
use super::support::proxy_process::ProxyProcess;
use modelwatch::export::elasticsearch::templates::{Engine, performance_template};
use serde_json::{Value, json};
use std::path::Path;
use std::time::Duration;

const PATIENCE: Duration = Duration::from_secs(60);
const PREDICTIONS: usize = 60;
/// Labels sent: 40 of 60 predictions, a coverage of 2/3 (not a whole number, so a count
/// type would lose it).
const LABELS: usize = 40;

fn performance(sidecar: &ProxyProcess) -> Value {
    let (status, _, body) = http(
        &sidecar.admin.to_string(),
        "GET",
        "/api/v1/performance",
        "",
        "",
    );
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

pub(crate) fn credit1(report: &Value) -> Value {
    report["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["model"] == "credit" && m["model_version"] == "1")
        .cloned()
        .unwrap_or(Value::Null)
}

/// Every leaf of a document as (dotted path, value).
fn leaves(prefix: &str, value: &Value, out: &mut Vec<(String, Value)>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                leaves(&path, v, out);
            }
        }
        other => out.push((prefix.to_string(), other.clone())),
    }
}

/// The type of a dotted path in a mapping's `properties`.
fn mapped<'a>(properties: &'a Value, path: &str) -> Option<&'a str> {
    let mut at = properties;
    let mut parts = path.split('.').peekable();
    while let Some(part) = parts.next() {
        let field = at.get(part)?;
        if parts.peek().is_none() {
            return field["type"].as_str();
        }
        at = &field["properties"];
    }
    None
}

/// The stored document of credit@1's evaluation at `evaluated_at`, once it is searchable.
async fn stored(stream: &str, evaluated_at: &str) -> Option<(String, Value)> {
    let (status, _) = cluster(http::Method::POST, &format!("/{stream}/_refresh"), None).await;
    if status != 200 {
        return None; // The first document creates the data stream.
    }
    let (status, found) = cluster(
        http::Method::POST,
        &format!("/{stream}/_search"),
        Some(json!({"query": {"bool": {"filter": [
            {"term": {"@timestamp": evaluated_at}},
            {"term": {"modelwatch.model": "credit"}},
            {"term": {"modelwatch.model_version": "1"}},
        ]}}})),
    )
    .await;
    assert_eq!(status, 200, "{found}");
    let hits = found["hits"]["hits"].as_array().unwrap();
    assert!(
        hits.len() <= 1,
        "one document per version and evaluation: {found}"
    );
    let hit = hits.first()?;
    Some((hit["_id"].as_str()?.to_string(), hit["_source"].clone()))
}

/// A real `serve` answering credit@1 and a sidecar with `quality.enabled` exporting to
/// streams of this test's own, after 60 predictions through it; then labels for 40 of
/// them (every third one wrong) with [`LabelledSidecar::send_labels`].
pub(crate) struct LabelledSidecar {
    pub proxy: ProxyProcess,
    /// The performance data stream.
    pub stream: String,
    events: String,
    drift: String,
    /// (request id, version, predicted class) of each prediction.
    made: Vec<(String, String, String)>,
    cells: Vec<Vec<Value>>,
    model: modelwatch::train::model::ModelArtifact,
    _server: Server,
    dir: tempfile::TempDir,
}

impl LabelledSidecar {
    /// `stream`: the performance data stream, emptied first; the first `first` predictions
    /// are made, the rest with [`LabelledSidecar::predict_rest`].
    pub(crate) async fn start(tag: &str, stream: &str, first: usize) -> LabelledSidecar {
        let es = opensearch_url();
        let (events, drift) = fresh_streams(tag).await;
        forget(stream).await;
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        let state = dir.path().join("state");
        register(dir.path(), &home, 1, "production");
        let server = serve(&home, "credit@production");
        let proxy = ProxyProcess::start_with_args(
            &[
                "--upstream",
                &format!("http://{}", server.addr),
                "--reference",
                "credit@production",
                "--state-dir",
                state.to_str().unwrap(),
            ],
            &[
                ("MODELWATCH_HOME", home.to_str().unwrap()),
                ("MODELWATCH__QUALITY__ENABLED", "true"),
                ("MODELWATCH__ANALYSIS__EVALUATION_INTERVAL", "300ms"),
                ("MODELWATCH__EXPORT__ELASTICSEARCH__URL", &es),
                ("MODELWATCH__EXPORT__ELASTICSEARCH__DATA_STREAM", &events),
                (
                    "MODELWATCH__EXPORT__ELASTICSEARCH__DRIFT_DATA_STREAM",
                    &drift,
                ),
                (
                    "MODELWATCH__EXPORT__ELASTICSEARCH__PERFORMANCE_DATA_STREAM",
                    stream,
                ),
                ("MODELWATCH__EXPORT__ELASTICSEARCH__BATCH_AGE", "100ms"),
            ],
        );

        let model = artifact(&home, "credit@1");
        let (cells, _) = credit_rows(PREDICTIONS, &model);
        let made: Vec<(String, String, String)> =
            cells[..first].iter().map(|r| predict(&proxy, r)).collect();
        LabelledSidecar {
            proxy,
            stream: stream.to_string(),
            events,
            drift,
            made,
            cells,
            model,
            _server: server,
            dir,
        }
    }

    /// Makes the predictions [`LabelledSidecar::start`] left.
    pub(crate) fn predict_rest(&mut self) {
        for row in &self.cells[self.made.len()..] {
            self.made.push(predict(&self.proxy, row));
        }
    }

    /// Sends labels for the first 40 predictions, every third one wrong, once the sidecar
    /// has stored every prediction made: it stores them off the request path, and a label
    /// that overtakes its prediction is answered `unknown_request`.
    pub(crate) fn send_labels(&self) {
        let (model, dir, proxy) = (&self.model, self.dir.path(), &self.proxy);
        assert!(
            eventually(PATIENCE, || metric(
                proxy,
                "modelwatch_prediction_store_writes_total",
                &[("outcome", "stored")]
            ) == self.made.len() as f64),
            "the sidecar stores every prediction:\n{}",
            proxy.log()
        );
        let mut labels = String::from("request_id,label\n");
        for (i, (id, _, predicted)) in self.made[..LABELS].iter().enumerate() {
            let wrong = if *predicted == model.classes.positive {
                &model.classes.negative
            } else {
                &model.classes.positive
            };
            let label = if i % 3 == 0 { wrong } else { predicted };
            labels.push_str(&format!("{id},{label}\n"));
        }
        let file = dir.join("labels.csv");
        std::fs::write(&file, labels).unwrap();
        let url = format!("http://{}", proxy.admin);
        let out = modelwatch(
            Path::new("/nonexistent-home"),
            &["feedback", "send", file.to_str().unwrap(), "--url", &url],
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
    }

    /// A report whose figures rest on every label and every prediction.
    pub(crate) fn settled(&self) -> Value {
        let mut report = Value::Null;
        assert!(
            eventually(PATIENCE, || {
                report = performance(&self.proxy);
                let v = credit1(&report);
                v["rows"] == LABELS
                    && v["predictions"] == PREDICTIONS
                    && v["estimated"]["rows"] == PREDICTIONS
            }),
            "the labels join and the estimate covers every prediction: {report:#}\n{}",
            self.proxy.log()
        );
        report
    }

    /// Stops the sidecar and removes the streams.
    pub(crate) async fn finish(self) {
        drop(self.proxy);
        for s in [&self.events, &self.drift, &self.stream] {
            forget(s).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn performance_documents_carry_the_reports_figures_typed() {
    let stream = format!("metrics-modelwatch.performance-t{}perf", std::process::id());
    let sidecar = LabelledSidecar::start("perf", &stream, PREDICTIONS).await;
    sidecar.send_labels();
    let report = sidecar.settled();
    let proxy = &sidecar.proxy;
    let version = credit1(&report);
    let evaluated_at = report["evaluated_at"].as_str().unwrap().to_string();

    let mut found = None;
    for _ in 0..200 {
        found = stored(&stream, &evaluated_at).await;
        if found.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let (id, doc) = found.unwrap_or_else(|| {
        panic!(
            "no performance document of the evaluation at {evaluated_at} in {stream}; log:\n{}",
            proxy.log()
        )
    });

    // Every figure of the report, as the report has it.
    assert_eq!(doc["@timestamp"], report["evaluated_at"]);
    assert_eq!(doc["event"]["kind"], "metric");
    assert_eq!(doc["event"]["dataset"], "modelwatch.performance");
    let m = &doc["modelwatch"];
    for field in [
        "model",
        "model_version",
        "task",
        "positive_class",
        "rows",
        "predictions",
        "labelled",
        "label_coverage",
        "metrics",
        "reference",
    ] {
        assert!(
            !version[field].is_null(),
            "{field} in the report: {version:#}"
        );
        assert_eq!(m[field], version[field], "{field}");
    }
    assert_eq!(m["window"], report["window"]);
    let metrics = version["metrics"].as_object().unwrap();
    for name in [
        "accuracy",
        "precision",
        "recall",
        "f1",
        "roc_auc",
        "log_loss",
    ] {
        assert!(metrics.contains_key(name), "realised {name}: {version:#}");
    }
    assert!(
        version["reference"]["accuracy"].is_number(),
        "the registry's holdout accuracy: {version:#}"
    );
    let (estimated, reported) = (&m["estimated"], &version["estimated"]);
    assert_eq!(estimated["metrics"], reported["metrics"]);
    assert_eq!(estimated["rows"], reported["rows"]);
    assert_eq!(estimated["calibrated"], reported["calibrated"]);
    assert_eq!(
        estimated["unscored"],
        reported.get("unscored").cloned().unwrap_or(json!(0))
    );
    for name in ["accuracy", "precision", "recall", "f1", "roc_auc"] {
        let e = &estimated["metrics"][name];
        for part in ["value", "sampling_error", "lower", "upper"] {
            assert!(
                e[part].is_number(),
                "estimated {name}.{part}: {estimated:#}"
            );
        }
    }
    let coverage = m["label_coverage"].as_f64().unwrap();
    assert!((coverage - LABELS as f64 / PREDICTIONS as f64).abs() < 1e-12);

    // The node types every field as the installed template says; none is left to dynamic
    // mapping (which would make a 0.0 a float, a 1 a long).
    let (status, mapping) = cluster(http::Method::GET, &format!("/{stream}/_mapping"), None).await;
    assert_eq!(status, 200, "{mapping}");
    let node = &mapping.as_object().unwrap().values().next().unwrap()["mappings"]["properties"];
    let template = performance_template(&stream, Engine::OpenSearch);
    let declared = &template["template"]["mappings"]["properties"];
    let mut fields = Vec::new();
    leaves("", &doc, &mut fields);
    for (path, _) in &fields {
        let want = mapped(declared, path)
            .unwrap_or_else(|| panic!("{path} is not declared in the performance template"));
        assert_eq!(mapped(node, path), Some(want), "{path} in the node");
    }

    // And indexes each figure as the number it is: the maximum of each numeric field over
    // this one document is its value; each keyword is found by a term query.
    let mut aggs = serde_json::Map::new();
    for (i, (path, value)) in fields.iter().enumerate() {
        match value {
            Value::Number(_) => aggs.insert(format!("f{i}"), json!({"max": {"field": path}})),
            Value::String(s) if mapped(declared, path) == Some("keyword") => aggs.insert(
                format!("f{i}"),
                json!({"filter": {"term": {path.as_str(): s}}}),
            ),
            _ => None,
        };
    }
    let (status, found) = cluster(
        http::Method::POST,
        &format!("/{stream}/_search"),
        Some(json!({"size": 0, "query": {"ids": {"values": [id]}}, "aggs": aggs})),
    )
    .await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(found["hits"]["total"]["value"], 1, "{found}");
    for (i, (path, value)) in fields.iter().enumerate() {
        let agg = &found["aggregations"][format!("f{i}")];
        match value {
            Value::Number(n) => assert_eq!(
                agg["value"].as_f64(),
                n.as_f64(),
                "{path} is indexed as {} instead of {value}",
                agg["value"]
            ),
            Value::String(_) if mapped(declared, path) == Some("keyword") => {
                assert_eq!(
                    agg["doc_count"], 1,
                    "{path} = {value} is not found by a term query"
                )
            }
            _ => {}
        }
    }
    // The window's bounds are dates: a range query on them finds the document.
    let (status, found) = cluster(
        http::Method::POST,
        &format!("/{stream}/_search"),
        Some(json!({"size": 0, "query": {"bool": {"filter": [
            {"ids": {"values": [id]}},
            {"range": {"modelwatch.window.start": {"lt": evaluated_at}}},
            {"range": {"modelwatch.window.end": {"gte": evaluated_at}}},
        ]}}})),
    )
    .await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(found["hits"]["total"]["value"], 1, "{found}");

    sidecar.finish().await;
}
