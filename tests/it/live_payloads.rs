//! Bad payloads through a proxy that analyses traffic: whatever the client sends, it gets
//! exactly what the model server answered, and analysis counts what it could not use.
//! Also: reloading references without a restart.

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
    let proxy = ProxyProcess::start_with_args(
        &[
            "--upstream",
            &upstream.url(),
            "--reference",
            profile.to_str().unwrap(),
        ],
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

#[tokio::test(flavor = "multi_thread")]
async fn references_reload_without_a_restart_and_a_broken_one_is_refused() {
    let (_dir, profile) = profile("reload");
    let upstream =
        Upstream::start(|_req| async { crate::support::upstream::respond(200, "{}") }).await;
    let proxy = ProxyProcess::start_with_args(
        &[
            "--upstream",
            &upstream.url(),
            "--reference",
            profile.to_str().unwrap(),
            "--model-name",
            "credit",
        ],
        // POST /-/reload is a lifecycle endpoint: off unless enabled.
        &[("MODELWATCH__ADMIN__ENABLE_LIFECYCLE", "true")],
    );
    let client = client::http1();
    let info = |s: &[Sample]| {
        s.iter()
            .filter(|x| x.name == "modelwatch_reference_info")
            .map(|x| x.labels.clone())
            .collect::<Vec<_>>()
    };
    let before = info(&metrics(&proxy).await);
    assert_eq!(before.len(), 1, "{before:?}");
    assert!(
        before[0].contains(&("model".into(), "credit".into())),
        "{before:?}"
    );
    assert_eq!(get(&client, &proxy.admin_url("/readyz")).await.status, 200);

    let reload = |client: &client::HttpClient| {
        let url = proxy.admin_url("/-/reload");
        let client = client.clone();
        async move { send(&client, Request::post(url).body(Full::default()).unwrap()).await }
    };
    let ok = reload(&client).await;
    assert_eq!(ok.status, 200, "{}", ok.text());

    // A broken file: the reload fails loudly, and the reference in use stays.
    let good = std::fs::read(&profile).unwrap();
    std::fs::write(&profile, b"{\"format\": \"something else\"}").unwrap();
    let refused = reload(&client).await;
    assert_eq!(refused.status, 422, "{}", refused.text());
    assert!(
        refused.text().contains("previous references stay"),
        "{}",
        refused.text()
    );
    assert_eq!(info(&metrics(&proxy).await), before);

    // SIGHUP reloads too.
    std::fs::write(&profile, &good).unwrap();
    std::process::Command::new("kill")
        .args(["-HUP", &proxy_pid(&proxy)])
        .status()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        proxy.log().contains("references reloaded"),
        "{}",
        proxy.log()
    );
}

fn proxy_pid(proxy: &ProxyProcess) -> String {
    proxy.pid().to_string()
}
