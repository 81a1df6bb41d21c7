//! The cluster client over TLS with a private CA, and its credentials: a real `modelwatch
//! proxy` ships events to a real TLS endpoint (rcgen certificates, tokio-rustls) that
//! forwards to the real OpenSearch node and records the `Authorization` header. Events
//! arrive with the CA configured; without it the certificate is refused and nothing is
//! delivered; a CA file that is not one is a configuration error naming the key.

use crate::export_elasticsearch::{
    export_count, forget, opensearch_url, search, start_proxy_with, wait_for_count,
};
use crate::support::client::{self, send};
use crate::support::proxy_process::{ProxyProcess, run_to_end};
use crate::support::tls_front::TlsFront;
use crate::support::upstream::Upstream;
use base64::Engine as _;
use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use std::time::{Duration, Instant};

async fn infer(proxy: &ProxyProcess, id: &str) {
    let answer = send(
        &client::http1(),
        Request::post(proxy.url("/v2/models/credit/infer"))
            .header("content-type", "application/json")
            .header("x-request-id", id)
            .body(Full::new(Bytes::from_static(b"{\"inputs\":[]}")))
            .unwrap(),
    )
    .await;
    assert_eq!(answer.status, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn events_reach_the_cluster_over_tls_with_a_private_ca_and_credentials() {
    let stream = format!("logs-modelwatch.inference-t{}tls", std::process::id());
    forget(&stream).await;
    let front = TlsFront::start(&opensearch_url()).await;
    let home = tempfile::tempdir().unwrap();
    let ca = home.path().join("ca.pem");
    std::fs::write(&ca, &front.ca_pem).unwrap();
    let (ca, home) = (ca.to_str().unwrap(), home.path().to_str().unwrap());
    let upstream = Upstream::echo().await;
    let pid = std::process::id();

    // An API key, as Elasticsearch hands it out (the base64 `encoded` value).
    let key = "VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw==";
    let start =
        |extra: &[(&str, &str)]| start_proxy_with(&upstream, &front.url(), &stream, home, extra);
    let proxy = start(&[
        ("MODELWATCH__EXPORT__ELASTICSEARCH__CA_FILE", ca),
        ("MODELWATCH__EXPORT__ELASTICSEARCH__API_KEY", key),
    ]);
    infer(&proxy, &format!("tls-key-{pid}")).await;
    wait_for_count(&proxy, "delivered", 1.0).await;
    drop(proxy);
    // Every call (GET /, templates, _bulk) carried the key.
    let seen = front.authorizations.lock().unwrap().clone();
    assert!(!seen.is_empty());
    assert!(
        seen.iter().all(|a| *a == format!("ApiKey {key}")),
        "{seen:?}"
    );

    // Basic authentication, same endpoint.
    front.authorizations.lock().unwrap().clear();
    let proxy = start_proxy_with(
        &upstream,
        &front.url(),
        &stream,
        home,
        &[
            ("MODELWATCH__EXPORT__ELASTICSEARCH__CA_FILE", ca),
            ("MODELWATCH__EXPORT__ELASTICSEARCH__USERNAME", "elastic"),
            (
                "MODELWATCH__EXPORT__ELASTICSEARCH__PASSWORD",
                "s3cret:with colon",
            ),
        ],
    );
    infer(&proxy, &format!("tls-basic-{pid}")).await;
    wait_for_count(&proxy, "delivered", 1.0).await;
    drop(proxy);
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("elastic:s3cret:with colon")
    );
    let seen = front.authorizations.lock().unwrap().clone();
    assert!(seen.iter().all(|a| *a == basic), "{seen:?}");

    let ids: Vec<String> = search(&stream)
        .await
        .iter()
        .map(|h| h["_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 2, "{ids:?}");

    // Without the CA, the system's trust store does not know the front's certificate:
    // the handshake fails, the sidecar retries, nothing is delivered.
    front.authorizations.lock().unwrap().clear();
    let proxy = start(&[]);
    infer(&proxy, &format!("tls-untrusted-{pid}")).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while export_count(&proxy, "retried").await < 1.0 {
        assert!(Instant::now() < deadline, "no retry; log:\n{}", proxy.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(export_count(&proxy, "delivered").await, 0.0);
    assert!(
        front.authorizations.lock().unwrap().is_empty(),
        "no request got through the refused handshake"
    );
    assert!(
        proxy.log().to_lowercase().contains("certificate"),
        "the log says why: {}",
        proxy.log()
    );
    drop(proxy);
    forget(&stream).await;
}

#[test]
fn a_ca_file_that_is_not_a_certificate_exits_2_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("ca.pem");
    std::fs::write(&bad, "not a certificate\n").unwrap();
    let (code, stderr) = run_to_end(
        &["proxy", "--upstream", "http://127.0.0.1:9"],
        &[
            (
                "MODELWATCH__EXPORT__ELASTICSEARCH__URL",
                "https://127.0.0.1:9200",
            ),
            (
                "MODELWATCH__EXPORT__ELASTICSEARCH__CA_FILE",
                bad.to_str().unwrap(),
            ),
        ],
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("export.elasticsearch.ca_file"), "{stderr}");
    assert!(stderr.contains("ca.pem"), "{stderr}");
}
