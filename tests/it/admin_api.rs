//! The admin API locked down, on a real `modelwatch proxy` with a reference loaded:
//! `POST /-/reload` answers 403 unless `admin.enable_lifecycle`; with `admin.token_file`,
//! everything but `/healthz`, `/readyz` (and `/metrics` unless `admin.protect_metrics`),
//! the drift page `/` included, answers 401 without the bearer token and nothing changes;
//! refusals are counted.

use crate::live_drift::{TempDir, credit_profile};
use crate::support::client::{self, Answer, send};
use crate::support::metrics_text::{parse, value};
use crate::support::proxy_process::{ProxyProcess, run_to_end};
use crate::support::upstream::{Upstream, respond};
use http::Request;
use http_body_util::Full;

const TOKEN: &str = "3f9c1e0b7a5d4c2e8f6a1b3c5d7e9f01";

/// A proxy with the credit profile as its reference and `env` as its settings.
async fn start(dir: &TempDir, env: &[(&str, &str)]) -> (ProxyProcess, Upstream) {
    let profile = credit_profile(&dir.0);
    let upstream = Upstream::start(|_req| async { respond(200, "{}") }).await;
    let proxy = ProxyProcess::start_with_reference(
        &upstream.url(),
        profile.to_str().unwrap(),
        &["--model-name", "credit"],
        env,
    );
    (proxy, upstream)
}

async fn call(proxy: &ProxyProcess, method: &str, path: &str, token: Option<&str>) -> Answer {
    let mut request = Request::builder().method(method).uri(proxy.admin_url(path));
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    send(&client::http1(), request.body(Full::default()).unwrap()).await
}

async fn refusals(proxy: &ProxyProcess, reason: &str, token: Option<&str>) -> f64 {
    let metrics = call(proxy, "GET", "/metrics", token).await;
    assert_eq!(metrics.status, 200, "{}", metrics.text());
    value(
        &parse(&metrics.text()),
        "modelwatch_admin_refusals_total",
        &[("reason", reason)],
    )
    .expect("every refusal reason is exported")
}

/// Waits until the log holds `n` reloads (the log is read from the process's stderr
/// as it comes), then checks it holds no more: refused reloads before the `n`th would
/// have logged theirs first.
async fn assert_reloads(proxy: &ProxyProcess, n: usize) {
    let count = || proxy.log().matches("references reloaded").count();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while count() < n && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(count(), n, "reloads in the log:\n{}", proxy.log());
}

/// Reloads by SIGHUP (always allowed: only whoever may signal the process can).
fn hang_up(proxy: &ProxyProcess) {
    let status = std::process::Command::new("kill")
        .args(["-HUP", &proxy.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread")]
async fn reload_answers_403_by_default_and_works_when_enabled() {
    let dir = TempDir::new("admin-default");
    let (proxy, _upstream) = start(&dir, &[]).await;
    let refused = call(&proxy, "POST", "/-/reload", None).await;
    assert_eq!(refused.status, 403, "{}", refused.text());
    assert!(
        refused.text().contains("admin.enable_lifecycle"),
        "{}",
        refused.text()
    );
    assert_eq!(refusals(&proxy, "lifecycle_disabled", None).await, 1.0);
    // The first reload in the log is the SIGHUP's: the refused POST did nothing.
    hang_up(&proxy);
    assert_reloads(&proxy, 1).await;
    // Reading is still open without a token.
    assert_eq!(call(&proxy, "GET", "/api/v1/drift", None).await.status, 200);

    let dir = TempDir::new("admin-enabled");
    let (proxy, _upstream) = start(&dir, &[("MODELWATCH__ADMIN__ENABLE_LIFECYCLE", "true")]).await;
    let ok = call(&proxy, "POST", "/-/reload", None).await;
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert_reloads(&proxy, 1).await;
    assert_eq!(refusals(&proxy, "lifecycle_disabled", None).await, 0.0);
}

#[tokio::test(flavor = "multi_thread")]
async fn with_a_token_a_request_without_it_gets_401_and_changes_nothing() {
    let dir = TempDir::new("admin-token");
    let token_file = dir.0.join("admin-token");
    std::fs::write(&token_file, format!("{TOKEN}\n")).unwrap();
    let token_file = token_file.to_str().unwrap();
    let (proxy, _upstream) = start(
        &dir,
        &[
            ("MODELWATCH__ADMIN__ENABLE_LIFECYCLE", "true"),
            ("MODELWATCH__ADMIN__TOKEN_FILE", token_file),
        ],
    )
    .await;
    // Probes and (by default) the scrape need no token.
    for open in ["/healthz", "/readyz", "/metrics"] {
        assert_eq!(call(&proxy, "GET", open, None).await.status, 200, "{open}");
    }
    for (method, path) in [
        ("GET", "/"),
        ("GET", "/api/v1/drift"),
        ("POST", "/-/reload"),
    ] {
        let missing = call(&proxy, method, path, None).await;
        assert_eq!(missing.status, 401, "{path}: {}", missing.text());
        assert_eq!(
            missing.header("www-authenticate"),
            Some("Bearer realm=\"modelwatch admin\"")
        );
        assert!(missing.text().contains("admin.token_file"));
        let wrong = call(&proxy, method, path, Some("not-the-token")).await;
        assert_eq!(wrong.status, 401, "{path}: {}", wrong.text());
    }
    assert_eq!(refusals(&proxy, "missing_token", None).await, 3.0);
    assert_eq!(refusals(&proxy, "wrong_token", None).await, 3.0);

    let drift = call(&proxy, "GET", "/api/v1/drift", Some(TOKEN)).await;
    assert_eq!(drift.status, 200, "{}", drift.text());
    let page = call(&proxy, "GET", "/", Some(TOKEN)).await;
    assert_eq!(page.status, 200, "{}", page.text());
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert!(page.text().contains("Sidecar health"), "{}", page.text());
    let ok = call(&proxy, "POST", "/-/reload", Some(TOKEN)).await;
    assert_eq!(ok.status, 200, "{}", ok.text());
    // One reload in the log: the refused ones before it changed nothing.
    assert_reloads(&proxy, 1).await;

    // protect_metrics: the scrape needs the token too; the probes still do not.
    let dir = TempDir::new("admin-metrics");
    let (proxy, _upstream) = start(
        &dir,
        &[
            ("MODELWATCH__ADMIN__TOKEN_FILE", token_file),
            ("MODELWATCH__ADMIN__PROTECT_METRICS", "true"),
        ],
    )
    .await;
    assert_eq!(call(&proxy, "GET", "/metrics", None).await.status, 401);
    assert_eq!(call(&proxy, "GET", "/readyz", None).await.status, 200);
    assert_eq!(refusals(&proxy, "missing_token", Some(TOKEN)).await, 1.0);
    // The token does not switch lifecycle endpoints on.
    assert_eq!(
        call(&proxy, "POST", "/-/reload", Some(TOKEN)).await.status,
        403
    );
}

#[test]
fn an_unreadable_token_file_exits_2_naming_the_key() {
    let (code, stderr) = run_to_end(
        &["proxy", "--upstream", "http://127.0.0.1:9"],
        &[(
            "MODELWATCH__ADMIN__TOKEN_FILE",
            "/nonexistent/modelwatch-admin-token",
        )],
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("admin.token_file /nonexistent/modelwatch-admin-token"),
        "{stderr}"
    );
}
