//! Payload capture through a real `modelwatch proxy` (credit reference, a real model server)
//! into a real OpenSearch node: a dropped field never leaves the sidecar, a hashed one is
//! stored as its keyed hash (equal values, equal hashes, searchable), and `max_bytes` cuts
//! whole rows and says so. Configured from a TOML file, as a user would.

use crate::export_drift::fresh_streams;
use crate::export_elasticsearch::{cluster, forget, opensearch_url, search, wait_for_count};
use crate::live_drift::{TempDir, Wire, credit_profile, credit_rows, model_server, sample};
use crate::support::client::{self, send};
use crate::support::proxy_process::ProxyProcess;
use bytes::Bytes;
use hmac::{Hmac, KeyInit, Mac};
use http::Request;
use http_body_util::Full;
use serde_json::{Value, json};
use sha2::Sha256;

const KEY: &str = "capture-test-key-0123456789";

pub(crate) fn keyed_hash(value: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(KEY.as_bytes()).unwrap();
    mac.update(value.as_bytes());
    format!("hmac:{}", hex::encode(&mac.finalize().into_bytes()[..16]))
}

/// One OIP request of `rows`, with its own request id.
async fn infer(proxy: &ProxyProcess, id: &str, features: &[String], rows: &[Vec<Value>]) {
    let body = Wire::Oip.request(features, rows).to_string();
    let answer = send(
        &client::http1(),
        Request::post(proxy.url("/v2/models/credit/infer"))
            .header("content-type", "application/json")
            .header("x-request-id", id)
            .body(Full::new(Bytes::from(body)))
            .unwrap(),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.text());
}

/// The export sections of a configuration file shipping to `es` quickly, with every request
/// sampled for capture and `capture` (TOML lines) added to `[export.elasticsearch.capture]`.
pub(crate) fn capture_config(es: &str, events: &str, drift: &str, capture: &str) -> String {
    format!(
        r#"
[export.elasticsearch]
url = "{es}"
data_stream = "{events}"
drift_data_stream = "{drift}"
batch_age = "100ms"
[export.elasticsearch.capture]
sample_rate = 1.0
hash_key = "{KEY}"
{capture}
"#
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn captured_payloads_are_sampled_redacted_and_capped() {
    let es = opensearch_url();
    let (events, drift) = fresh_streams("capture").await;
    let dir = TempDir::new("capture");
    let profile = credit_profile(&dir.0);
    let config = dir.0.join("modelwatch.toml");
    std::fs::write(
        &config,
        format!(
            "[model]\nname = \"credit\"\n{}",
            capture_config(
                &es,
                &events,
                &drift,
                "max_bytes = 1500\ndrop = [\"age\"]\nhash = [\"Job\"]"
            )
        ),
    )
    .unwrap();
    let upstream = model_server(Wire::Oip).await;
    let proxy = ProxyProcess::start_with_reference(
        &upstream.url(),
        profile.to_str().unwrap(),
        &["--config", config.to_str().unwrap()],
        &[("MODELWATCH_STATE_DIR", dir.0.to_str().unwrap())],
    );
    let (features, rows) = credit_rows();
    let few = sample(&rows, 3, 5);
    let many = sample(&rows, 40, 11);
    infer(&proxy, "few", &features, &few).await;
    infer(&proxy, "many", &features, &many).await;
    wait_for_count(&proxy, "delivered", 2.0).await;

    let hits = search(&events).await;
    let event = |id: &str| -> Value {
        hits.iter()
            .find(|h| h["_source"]["http"]["request"]["id"] == id)
            .unwrap_or_else(|| panic!("no {id}: {hits:?}"))["_source"]["modelwatch"]
            .clone()
    };
    let small = event("few");
    let captured = &small["features"];
    assert_eq!(
        small["capture"],
        json!({"rows": 3, "truncated": false}),
        "{small}"
    );
    assert!(
        captured.get("Age").is_none(),
        "dropped (case-insensitive): {captured}"
    );
    let column = |name: &str| features.iter().position(|f| f == name).unwrap();
    assert_eq!(
        captured["Income"],
        json!(
            few.iter()
                .map(|r| r[column("Income")].clone())
                .collect::<Vec<_>>()
        ),
        "kept as sent"
    );
    let jobs: Vec<String> = few
        .iter()
        .map(|r| keyed_hash(r[column("Job")].as_str().unwrap()))
        .collect();
    assert_eq!(
        captured["Job"],
        json!(jobs),
        "stored as HMAC-SHA256 with the key"
    );
    assert!(
        !captured
            .to_string()
            .contains(few[0][column("Job")].as_str().unwrap())
    );
    assert_eq!(
        small["predictions"]["label"],
        json!(["bad", "good", "good"])
    );

    let large = event("many");
    assert_eq!(large["capture"]["truncated"], true, "{large}");
    let kept = large["capture"]["rows"].as_u64().unwrap();
    assert!(kept > 0 && kept < 40, "{kept}");
    assert_eq!(
        large["features"]["Income"].as_array().unwrap().len() as u64,
        kept
    );
    let size = large["features"].to_string().len() + large["predictions"].to_string().len();
    assert!(size <= 1500, "captured {size} bytes");
    assert_eq!(large["rows"], 40, "the row count is of the whole request");

    // Searchable per key without a field per feature: the hash finds its requests.
    let (status, found) = cluster(
        http::Method::POST,
        &format!("/{events}/_search"),
        Some(json!({"query": {"term": {"modelwatch.features.Job": jobs[0]}}})),
    )
    .await;
    assert_eq!(status, 200, "{found}");
    let ids: Vec<&str> = found["hits"]["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["_source"]["http"]["request"]["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"few"), "{found}");
    let (_, mapping) = cluster(http::Method::GET, &format!("/{events}/_mapping"), None).await;
    let props = &mapping.as_object().unwrap().values().next().unwrap()["mappings"]["properties"]["modelwatch"]
        ["properties"];
    assert_eq!(props["features"]["type"], "flat_object");
    assert_eq!(props["predictions"]["type"], "flat_object");
    assert!(
        props["features"].get("properties").is_none(),
        "no field per feature"
    );
    drop(proxy);
    forget(&events).await;
    forget(&drift).await;
}
