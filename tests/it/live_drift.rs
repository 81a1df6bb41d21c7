//! Live drift through the running proxy, one real model server per protocol: rows drawn
//! from the reference flag nothing; one shifted numeric feature and one changed category
//! mix flag exactly those two, in `/api/v1/drift` and in `/metrics`.

use crate::support::cli::CREDIT;
use crate::support::client::{self, get, send};
use crate::support::metrics_text::{parse, value};
use crate::support::proxy_process::{ProxyProcess, run_to_end};
use crate::support::upstream::{Upstream, full};
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const NUMERIC: [&str; 9] = [
    "Seniority",
    "Time",
    "Age",
    "Expenses",
    "Income",
    "Assets",
    "Debt",
    "Amount",
    "Price",
];

/// A temp dir removed at the end of the test.
pub(crate) struct TempDir(pub(crate) PathBuf);

impl TempDir {
    pub(crate) fn new(tag: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!(
            "mw-{tag}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The credit data's profile, built by `modelwatch dataset profile`.
pub(crate) fn credit_profile(dir: &Path) -> PathBuf {
    let out = dir.join("credit.profile.json");
    let (code, stderr) = run_to_end(
        &[
            "dataset",
            "profile",
            CREDIT,
            "--target",
            "Status",
            "-o",
            out.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(code, 0, "{stderr}");
    out
}

/// Feature rows of the credit data (the target left out), values typed as JSON.
pub(crate) fn credit_rows() -> (Vec<String>, Vec<Vec<Value>>) {
    let mut reader = csv::Reader::from_path(CREDIT).unwrap();
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_string)
        .collect();
    let features: Vec<String> = header.iter().filter(|h| *h != "Status").cloned().collect();
    let rows = reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            header
                .iter()
                .zip(r.iter())
                .filter(|(h, _)| *h != "Status")
                .map(|(h, v)| {
                    if v.is_empty() {
                        Value::Null
                    } else if NUMERIC.contains(&h.as_str()) {
                        json!(v.parse::<f64>().unwrap())
                    } else {
                        json!(v)
                    }
                })
                .collect()
        })
        .collect();
    (features, rows)
}

/// A deterministic, well-spread subset of `n` rows (a stride walk through the file).
pub(crate) fn sample(rows: &[Vec<Value>], n: usize, offset: usize) -> Vec<Vec<Value>> {
    (0..n)
        .map(|i| rows[(offset + i * 7919) % rows.len()].clone())
        .collect()
}

/// Income × 2 and 80 % of homes turned into `rent`.
pub(crate) fn drifted(rows: Vec<Vec<Value>>, features: &[String]) -> Vec<Vec<Value>> {
    let income = features.iter().position(|f| f == "Income").unwrap();
    let home = features.iter().position(|f| f == "Home").unwrap();
    rows.into_iter()
        .enumerate()
        .map(|(i, mut row)| {
            if let Some(x) = row[income].as_f64() {
                row[income] = json!(x * 2.0);
            }
            if i % 5 != 0 {
                row[home] = json!("rent");
            }
            row
        })
        .collect()
}

#[derive(Clone, Copy, Debug)]
pub(crate) enum Wire {
    Oip,
    KServeV1,
    Mlflow,
    Seldon,
    Generic,
}

impl Wire {
    fn path(self) -> &'static str {
        match self {
            Wire::Oip => "/v2/models/credit/infer",
            Wire::KServeV1 => "/v1/models/credit:predict",
            Wire::Mlflow => "/invocations",
            Wire::Seldon => "/api/v1.0/predictions",
            Wire::Generic => "/score",
        }
    }

    /// A request body carrying `rows` in this protocol's shape.
    pub(crate) fn request(self, features: &[String], rows: &[Vec<Value>]) -> Value {
        let record = |row: &Vec<Value>| -> Value {
            features.iter().cloned().zip(row.iter().cloned()).collect()
        };
        match self {
            // One named tensor per feature: FP64 for numbers, BYTES for categories.
            Wire::Oip => json!({"inputs": features.iter().enumerate().map(|(j, f)| {
                let numeric = NUMERIC.contains(&f.as_str());
                json!({"name": f, "shape": [rows.len()],
                       "datatype": if numeric { "FP64" } else { "BYTES" },
                       "data": rows.iter().map(|r| r[j].clone()).collect::<Vec<_>>()})
            }).collect::<Vec<_>>()}),
            Wire::KServeV1 => json!({"instances": rows.iter().map(record).collect::<Vec<_>>()}),
            Wire::Mlflow => json!({"dataframe_split": {"columns": features, "data": rows}}),
            Wire::Seldon => json!({"data": {"names": features, "ndarray": rows}}),
            Wire::Generic => Value::Array(rows.iter().map(record).collect()),
        }
    }

    /// The model server's answer: one prediction per row.
    fn response(self, n: usize) -> Value {
        let labels: Vec<&str> = (0..n)
            .map(|i| if i % 4 == 0 { "bad" } else { "good" })
            .collect();
        match self {
            Wire::Oip => json!({"model_name": "credit", "model_version": "1", "outputs": [
                {"name": "label", "shape": [n], "datatype": "BYTES", "data": labels}]}),
            Wire::KServeV1 | Wire::Mlflow => json!({"predictions": labels}),
            Wire::Seldon => json!({"data": {"names": ["label"], "ndarray": labels}}),
            Wire::Generic => json!(labels),
        }
    }
}

/// A model server that answers one label per request row.
pub(crate) async fn model_server(wire: Wire) -> Upstream {
    Upstream::start(move |req: Request<Incoming>| async move {
        let body = req.into_body().collect().await.unwrap().to_bytes();
        let request: Value = serde_json::from_slice(&body).unwrap();
        let rows = match wire {
            Wire::Oip => request["inputs"][0]["shape"][0].as_u64().unwrap() as usize,
            Wire::KServeV1 => request["instances"].as_array().unwrap().len(),
            Wire::Mlflow => request["dataframe_split"]["data"].as_array().unwrap().len(),
            Wire::Seldon => request["data"]["ndarray"].as_array().unwrap().len(),
            Wire::Generic => request.as_array().unwrap().len(),
        };
        Response::builder()
            .header("content-type", "application/json")
            .body(full(wire.response(rows).to_string()))
            .unwrap()
    })
    .await
}

pub(crate) async fn send_rows(
    proxy: &ProxyProcess,
    wire: Wire,
    features: &[String],
    rows: &[Vec<Value>],
) {
    let client = client::http1();
    for batch in rows.chunks(20) {
        let body = wire.request(features, batch).to_string();
        let answer = send(
            &client,
            Request::post(proxy.url(wire.path()))
                .header("content-type", "application/json")
                .body(Full::new(Bytes::from(body)))
                .unwrap(),
        )
        .await;
        assert_eq!(answer.status, 200, "{}", answer.text());
    }
}

/// The sidecar's live drift report (`GET /api/v1/drift`).
pub(crate) async fn drift_report(proxy: &ProxyProcess) -> Value {
    let answer = get(&client::http1(), &proxy.admin_url("/api/v1/drift")).await;
    serde_json::from_slice(&answer.body).unwrap()
}

/// Polls the report until `rows` feature rows are in the window and one more evaluation
/// has run, then returns the set of drifted features.
pub(crate) async fn drifted_features(proxy: &ProxyProcess, rows: u64) -> (BTreeSet<String>, Value) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let report = drift_report(proxy).await;
        let model = &report["models"][0];
        if model["window"]["rows"].as_u64() == Some(rows) {
            let features = model["features"].as_array().unwrap();
            assert_eq!(features.len(), 13, "{model}");
            let set = features
                .iter()
                .filter(|f| f["drifted"] == json!(true))
                .map(|f| f["name"].as_str().unwrap().to_string())
                .collect();
            return (set, model.clone());
        }
        assert!(
            Instant::now() < deadline,
            "the window never reached {rows} rows: {report}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A sidecar in front of `upstream` for the `credit` model, with `profile` as its
/// reference and the settings `env`.
fn credit_sidecar_with(upstream: &Upstream, profile: &Path, env: &[(&str, &str)]) -> ProxyProcess {
    ProxyProcess::start_with_args(
        &[
            "--upstream",
            &upstream.url(),
            "--reference",
            profile.to_str().unwrap(),
        ],
        env,
    )
}

/// A sidecar in front of `upstream` for the `credit` model, with the credit profile as
/// its reference, a window of 1,000 rows and an evaluation every `evaluation_interval`.
pub(crate) fn credit_sidecar(
    upstream: &Upstream,
    profile: &Path,
    evaluation_interval: &str,
) -> ProxyProcess {
    credit_sidecar_with(
        upstream,
        profile,
        &[
            (
                "MODELWATCH__ANALYSIS__EVALUATION_INTERVAL",
                evaluation_interval,
            ),
            ("MODELWATCH__ANALYSIS__WINDOW_ROWS", "1000"),
            ("MODELWATCH__MODEL__NAME", "credit"),
        ],
    )
}

/// The proxy in front of a `wire` model server, the credit profile (written into `dir`)
/// as its reference, with the settings `env`.
pub(crate) async fn credit_proxy(
    dir: &TempDir,
    wire: Wire,
    env: &[(&str, &str)],
) -> (Upstream, ProxyProcess) {
    let profile = credit_profile(&dir.0);
    let upstream = model_server(wire).await;
    let proxy = credit_sidecar_with(&upstream, &profile, env);
    (upstream, proxy)
}

async fn drift_is_caught(wire: Wire) {
    let dir = TempDir::new("live");
    let profile = credit_profile(&dir.0);
    let upstream = model_server(wire).await;
    let proxy = credit_sidecar(&upstream, &profile, "300ms");
    let (features, rows) = credit_rows();

    send_rows(&proxy, wire, &features, &sample(&rows, 1000, 0)).await;
    let (flagged, model) = drifted_features(&proxy, 1000).await;
    assert!(
        flagged.is_empty(),
        "{wire:?}: undrifted rows flagged {flagged:?}: {model}"
    );

    // The window holds the last 1000 rows: after 1000 drifted ones, only they count.
    send_rows(
        &proxy,
        wire,
        &features,
        &drifted(sample(&rows, 1000, 17), &features),
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(20);
    let expected: BTreeSet<String> = ["Home", "Income"].into_iter().map(String::from).collect();
    let report = loop {
        let (flagged, model) = drifted_features(&proxy, 1000).await;
        if flagged == expected {
            break model;
        }
        assert!(
            Instant::now() < deadline,
            "{wire:?}: flagged {flagged:?}, expected {expected:?}: {model}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };

    let s = parse(
        &get(&client::http1(), &proxy.admin_url("/metrics"))
            .await
            .text(),
    );
    let version = s
        .iter()
        .find(|x| x.name == "modelwatch_rows_total")
        .and_then(|x| x.labels.iter().find(|(k, _)| k == "model_version"))
        .map(|(_, v)| v.clone())
        .expect("modelwatch_rows_total is exported");
    let labels = |feature: &'static str| {
        [
            ("model", "credit"),
            ("model_version", version.as_str()),
            ("feature", feature),
        ]
    };
    assert_eq!(
        value(&s, "modelwatch_rows_total", &labels("x")[..2]),
        Some(2000.0)
    );
    for feature in ["Income", "Home"] {
        assert_eq!(
            value(&s, "modelwatch_drift_detected", &labels(feature)),
            Some(1.0),
            "{feature}"
        );
    }
    for feature in ["Age", "Job", "Amount", "Marital"] {
        assert_eq!(
            value(&s, "modelwatch_drift_detected", &labels(feature)),
            Some(0.0),
            "{feature}"
        );
    }
    assert!(
        value(&s, "modelwatch_feature_missing_total", &labels("Income")).is_some_and(|v| v > 0.0),
        "the credit data has missing incomes"
    );
    // The report and the gauge carry the test statistic: for Income (a 1000-row window,
    // Wasserstein) the raw distance, which the score divides by the reference std; for
    // Home (Jensen–Shannon) the distance itself. The window no longer changes, so every
    // evaluation since the report gives the same numbers.
    for feature in ["Income", "Home"] {
        let line = report["features"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == feature)
            .unwrap();
        let statistic = line["statistic"]
            .as_f64()
            .unwrap_or_else(|| panic!("{line}"));
        let method = line["method"].as_str().unwrap();
        let with_method = [&labels(feature)[..], &[("method", method)]].concat();
        assert_eq!(
            value(&s, "modelwatch_drift_statistic", &with_method),
            Some(statistic),
            "{line}"
        );
        if feature == "Income" {
            assert_eq!(method, "wasserstein", "{line}");
            assert!(
                statistic > 10.0 * line["score"].as_f64().unwrap(),
                "incomes spread over hundreds: the raw distance is far above the normed \
                 score: {line}"
            );
        }
    }
    let home_rent = [
        ("model", "credit"),
        ("model_version", version.as_str()),
        ("feature", "Home"),
        ("bin", "rent"),
    ];
    assert!(value(&s, "modelwatch_feature_bin_total", &home_rent).is_some_and(|v| v >= 800.0));
    assert!(
        value(&s, "modelwatch_reference_bin_ratio", &home_rent).is_some_and(|v| v > 0.1 && v < 0.4)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn open_inference_protocol_drift_is_caught() {
    drift_is_caught(Wire::Oip).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn kserve_v1_drift_is_caught() {
    drift_is_caught(Wire::KServeV1).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn mlflow_drift_is_caught() {
    drift_is_caught(Wire::Mlflow).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn seldon_drift_is_caught() {
    drift_is_caught(Wire::Seldon).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn generic_json_drift_is_caught() {
    drift_is_caught(Wire::Generic).await;
}

/// What the running sidecar exposes is what the dashboards and alert rules were written
/// against: every `modelwatch_*` series it exports is in `alerts/metrics.txt`, with no
/// label the contract does not list. The prediction store is on, so its series count too.
#[tokio::test(flavor = "multi_thread")]
async fn the_exposition_keeps_the_metric_contract() {
    let dir = TempDir::new("contract");
    let profile = credit_profile(&dir.0);
    let upstream = model_server(Wire::Oip).await;
    let state = dir.0.join("state");
    let proxy = ProxyProcess::start_with_args(
        &[
            "--upstream",
            &upstream.url(),
            "--reference",
            profile.to_str().unwrap(),
            "--state-dir",
            state.to_str().unwrap(),
        ],
        &[
            ("MODELWATCH__ANALYSIS__EVALUATION_INTERVAL", "200ms"),
            ("MODELWATCH__QUALITY__ENABLED", "true"),
        ],
    );
    let (features, rows) = credit_rows();
    send_rows(&proxy, Wire::Oip, &features, &sample(&rows, 200, 3)).await;
    drifted_features(&proxy, 200).await;
    let contract = crate::metric_contract::contract_labels();
    let samples = parse(
        &get(&client::http1(), &proxy.admin_url("/metrics"))
            .await
            .text(),
    );
    let mut checked = BTreeSet::new();
    for s in samples.iter().filter(|s| s.name.starts_with("modelwatch_")) {
        let allowed = contract
            .get(&s.name)
            .unwrap_or_else(|| panic!("{} is exported but not in alerts/metrics.txt", s.name));
        for (label, _) in &s.labels {
            assert!(
                allowed.contains(label),
                "{}{{{label}}} is not in the contract",
                s.name
            );
        }
        checked.insert(s.name.clone());
    }
    // The families a dashboard reads right after the first requests are all there.
    for name in [
        "modelwatch_requests_total",
        "modelwatch_rows_total",
        "modelwatch_feature_bin_total",
        "modelwatch_reference_bin_ratio",
        "modelwatch_drift_score",
        "modelwatch_drift_statistic",
        "modelwatch_drift_detected",
        "modelwatch_drift_share",
        "modelwatch_reference_info",
        "modelwatch_analysis_queue_depth",
        "modelwatch_feedback_total",
        "modelwatch_prediction_store_writes_total",
        "modelwatch_prediction_store_evicted_total",
        "modelwatch_prediction_store_bytes",
    ] {
        assert!(checked.contains(name), "{name} is not exported");
    }
}
