//! Bad payloads through a proxy that analyses traffic: whatever the client sends, it gets
//! exactly what the model server answered, and analysis counts what it could not use.
//! Also: reloading references without a restart (another reference takes effect, with its
//! own version and bins, and the window starts again; a broken one is refused while the
//! one in use keeps working).

use crate::live_drift::{TempDir, credit_profile};
use crate::support::client::{self, get, send};
use crate::support::metrics_text::{Sample, parse, value};
use crate::support::proxy_process::ProxyProcess;
use crate::support::upstream::{Upstream, full};
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The credit profile in a temp dir that is removed when the returned guard drops.
fn profile(tag: &str) -> (TempDir, PathBuf) {
    let dir = TempDir::new(tag);
    let out = credit_profile(&dir.0);
    (dir, out)
}

async fn metrics(proxy: &ProxyProcess) -> Vec<Sample> {
    parse(
        &get(&client::http1(), &proxy.admin_url("/metrics"))
            .await
            .text(),
    )
}

fn skipped(samples: &[Sample], reason: &str) -> f64 {
    value(
        samples,
        "modelwatch_analysis_skipped_total",
        &[("reason", reason)],
    )
    .unwrap_or(0.0)
}

/// Waits until the workers have handled everything queued.
async fn settle(proxy: &ProxyProcess) -> Vec<Sample> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let s = metrics(proxy).await;
        if value(&s, "modelwatch_analysis_queue_depth", &[]) == Some(0.0) {
            // One more beat: the last exchange may be in a worker's hands.
            tokio::time::sleep(Duration::from_millis(300)).await;
            return metrics(proxy).await;
        }
        assert!(
            Instant::now() < deadline,
            "the analysis queue never drained"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_payloads_reach_the_model_untouched_and_are_counted() {
    let (_dir, profile) = profile("payloads");
    // The model server answers every request with the same bytes, binary included.
    let answer: Vec<u8> = (0..3000u32).map(|i| (i * 31 % 256) as u8).collect();
    let reply = answer.clone();
    let upstream = Upstream::start(move |_req: Request<Incoming>| {
        let reply = reply.clone();
        async move {
            Response::builder()
                .header("content-type", "application/octet-stream")
                .body(full(reply))
                .unwrap()
        }
    })
    .await;
    let proxy = ProxyProcess::start_with_reference(
        &upstream.url(),
        profile.to_str().unwrap(),
        &[],
        &[("MODELWATCH__ANALYSIS__MAX_BODY_BYTES", "4096")],
    );
    let cases: Vec<(&str, &str, Vec<u8>)> = vec![
        ("/v2/models/credit/infer", "application/json", b"{\"inputs\": [{\"name\": \"Age\"".to_vec()),
        ("/v2/models/credit/infer", "application/json", b"not json at all".to_vec()),
        ("/v2/models/credit/infer", "application/json", br#"{"instances": [[1, 2]]}"#.to_vec()),
        ("/v2/models/credit/infer", "application/json", format!("{{\"inputs\": [{{\"name\":\"Age\",\"shape\":[1],\"datatype\":\"FP64\",\"data\":[{}]}}]}}", "1,".repeat(3000) + "1").into_bytes()),
        ("/v1/models/credit:predict", "application/json", br#"{"instances": [{"Age": 30}], "inputs": {"Age": [30]}}"#.to_vec()),
        ("/invocations", "application/octet-stream", (0..512u32).map(|i| (i * 7 % 256) as u8).collect()),
        ("/api/v1.0/predictions", "application/json", br#"{"data": {"strData": "hello"}}"#.to_vec()),
        ("/v2/models/credit/infer", "application/octet-stream", b"\x00\x01\x02garbage".to_vec()),
    ];
    let client = client::http1();
    for (path, content_type, body) in &cases {
        let mut request = Request::post(proxy.url(path)).header("content-type", *content_type);
        if *content_type == "application/octet-stream" && path.starts_with("/v2") {
            // A binary-extension request whose JSON header length points past the body.
            request = request.header("inference-header-content-length", "9999");
        }
        let got = send(
            &client,
            request.body(Full::new(Bytes::from(body.clone()))).unwrap(),
        )
        .await;
        assert_eq!(got.status, 200, "{path}");
        assert!(
            got.body == answer,
            "{path}: the client did not get the model's bytes"
        );
    }
    let s = settle(&proxy).await;
    let total: f64 = s
        .iter()
        .filter(|x| x.name == "modelwatch_analysis_skipped_total")
        .map(|x| x.value)
        .sum();
    assert_eq!(
        total,
        cases.len() as f64,
        "every bad request is counted once"
    );
    assert_eq!(skipped(&s, "body_too_large"), 1.0);
    assert!(skipped(&s, "malformed_json") + skipped(&s, "truncated") >= 2.0);
    assert_eq!(
        value(
            &s,
            "modelwatch_rows_total",
            &[("model", "credit"), ("model_version", "unknown")]
        ),
        None
    );
    // The proxy is still healthy and still answers.
    assert_eq!(get(&client, &proxy.admin_url("/healthz")).await.status, 200);
}

/// The report's one model (`null` before its first evaluation).
async fn drift_report(proxy: &ProxyProcess) -> serde_json::Value {
    let report: serde_json::Value = serde_json::from_slice(
        &get(&client::http1(), &proxy.admin_url("/api/v1/drift"))
            .await
            .body,
    )
    .unwrap();
    report["models"][0].clone()
}

/// The report's (reference version, feature rows in the window).
async fn reference_and_window(proxy: &ProxyProcess) -> (String, u64) {
    let model = drift_report(proxy).await;
    (
        model["reference"]["version"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        model["window"]["rows"].as_u64().unwrap_or(0),
    )
}

/// Whether the last evaluation found `Income` drifted.
async fn income_drifted(proxy: &ProxyProcess) -> bool {
    let model = drift_report(proxy).await;
    let features = model["features"].as_array().cloned().unwrap_or_default();
    let income = features.iter().find(|f| f["name"] == "Income");
    income.unwrap_or_else(|| panic!("no Income in {model}"))["drifted"] == true
}

/// Waits until the report shows `version` with exactly `rows` rows in its window.
async fn wait_for_window(proxy: &ProxyProcess, version: &str, rows: u64) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let seen = reference_and_window(proxy).await;
        if seen == (version.to_string(), rows) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "expected reference {version} with {rows} rows, the report shows {seen:?}; log:\n{}",
            proxy.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The `reference_version` label of `modelwatch_reference_info`.
async fn reference_version(proxy: &ProxyProcess) -> Vec<String> {
    metrics(proxy)
        .await
        .iter()
        .filter(|x| x.name == "modelwatch_reference_info")
        .flat_map(|x| x.labels.iter().filter(|(k, _)| k == "reference_version"))
        .map(|(_, v)| v.clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn references_reload_without_a_restart_and_a_broken_one_is_refused() {
    use crate::live_drift::{Wire, credit_rows, model_server, sample, send_rows};
    let (dir, first) = profile("reload");
    // A second reference: the same data with Income three times as high, so other Income
    // bins (the same traffic is drift on Income against it, and not against the first)
    // and another profile hash (its reference_version).
    let mut reader = csv::Reader::from_path(crate::support::cli::CREDIT).unwrap();
    let header = reader.headers().unwrap().clone();
    let income = header.iter().position(|h| h == "Income").unwrap();
    let head_csv = dir.0.join("income_x3.csv");
    let mut writer = csv::Writer::from_path(&head_csv).unwrap();
    writer.write_record(&header).unwrap();
    for record in reader.records() {
        let record = record.unwrap();
        let fields: Vec<String> = record
            .iter()
            .enumerate()
            .map(|(i, v)| match v.parse::<f64>() {
                Ok(x) if i == income => (x * 3.0).to_string(),
                _ => v.to_string(),
            })
            .collect();
        writer.write_record(&fields).unwrap();
    }
    writer.flush().unwrap();
    let second = dir.0.join("income_x3.profile.json");
    let (code, stderr) = crate::support::proxy_process::run_to_end(
        &[
            "dataset",
            "profile",
            head_csv.to_str().unwrap(),
            "--target",
            "Status",
            "-o",
            second.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(code, 0, "{stderr}");
    let (first_bytes, second_bytes) = (
        std::fs::read(&first).unwrap(),
        std::fs::read(&second).unwrap(),
    );
    // The proxy reads its reference from one path; the test swaps what is there.
    let reference = dir.0.join("reference.profile.json");
    std::fs::write(&reference, &first_bytes).unwrap();

    let upstream = model_server(Wire::Oip).await;
    let proxy = ProxyProcess::start_with_reference(
        &upstream.url(),
        reference.to_str().unwrap(),
        &["--model-name", "credit"],
        &[
            ("MODELWATCH__ANALYSIS__EVALUATION_INTERVAL", "200ms"),
            // The first evaluation of each reference is checked: let it report drift
            // alone (this test is about reloading, not about alarm persistence).
            ("MODELWATCH__ANALYSIS__PERSISTENCE", "1/1"),
            // POST /-/reload is a lifecycle endpoint: off unless enabled.
            ("MODELWATCH__ADMIN__ENABLE_LIFECYCLE", "true"),
        ],
    );
    let client = client::http1();
    assert_eq!(get(&client, &proxy.admin_url("/readyz")).await.status, 200);
    let (features, rows) = credit_rows();
    // The clean window of tests/it/live_drift.rs: no drift against the data's own profile.
    send_rows(&proxy, Wire::Oip, &features, &sample(&rows, 1000, 0)).await;
    let first_version = reference_version(&proxy).await;
    assert_eq!(first_version.len(), 1, "{first_version:?}");
    wait_for_window(&proxy, &first_version[0], 1000).await;
    assert!(
        !income_drifted(&proxy).await,
        "{}",
        drift_report(&proxy).await
    );

    let reload = |client: &client::HttpClient| {
        let url = proxy.admin_url("/-/reload");
        let client = client.clone();
        async move { send(&client, Request::post(url).body(Full::default()).unwrap()).await }
    };

    // POST /-/reload with another reference at the path: it takes effect, with its own
    // version and bins, and the window starts again.
    std::fs::write(&reference, &second_bytes).unwrap();
    let ok = reload(&client).await;
    assert_eq!(ok.status, 200, "{}", ok.text());
    let second_version = reference_version(&proxy).await;
    assert_eq!(second_version.len(), 1, "{second_version:?}");
    assert_ne!(second_version, first_version, "a new reference_version");
    send_rows(&proxy, Wire::Oip, &features, &sample(&rows, 200, 0)).await;
    wait_for_window(&proxy, &second_version[0], 200).await;
    assert!(
        income_drifted(&proxy).await,
        "the same traffic against the new reference's bins: {}",
        drift_report(&proxy).await
    );

    // A broken file: the reload fails loudly, and the reference in use keeps working
    // (its window keeps growing).
    std::fs::write(&reference, b"{\"format\": \"something else\"}").unwrap();
    let refused = reload(&client).await;
    assert_eq!(refused.status, 422, "{}", refused.text());
    assert!(
        refused.text().contains("previous references stay"),
        "{}",
        refused.text()
    );
    assert_eq!(reference_version(&proxy).await, second_version);
    send_rows(&proxy, Wire::Oip, &features, &sample(&rows, 100, 200)).await;
    wait_for_window(&proxy, &second_version[0], 300).await;

    // SIGHUP with the first reference back: it takes effect and the window starts again.
    std::fs::write(&reference, &first_bytes).unwrap();
    std::process::Command::new("kill")
        .args(["-HUP", &proxy_pid(&proxy)])
        .status()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while reference_version(&proxy).await != first_version {
        assert!(
            Instant::now() < deadline,
            "SIGHUP did not bring the first reference back; log:\n{}",
            proxy.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    send_rows(&proxy, Wire::Oip, &features, &sample(&rows, 1000, 0)).await;
    wait_for_window(&proxy, &first_version[0], 1000).await;
    assert!(
        !income_drifted(&proxy).await,
        "{}",
        drift_report(&proxy).await
    );
}

fn proxy_pid(proxy: &ProxyProcess) -> String {
    proxy.pid().to_string()
}
