//! Request events from a real `modelwatch proxy` into a real OpenSearch node: every request
//! once with the documented fields and types, a document per request even when clients
//! reuse one `X-Request-Id`, a mapping
//! conflict in the dead-letter file (not retried), and traffic untouched when the cluster
//! is unreachable.
//!
//! The node is started by `tests/services/opensearch.sh start`, which prints
//! `OPENSEARCH_URL`; each test uses its own data stream so tests never see each other's
//! documents.

use crate::support::client::{self, get, send};
use crate::support::metrics_text::{parse, sum, value};
use crate::support::proxy_process::ProxyProcess;
use crate::support::upstream::Upstream;
use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

pub(crate) fn opensearch_url() -> String {
    std::env::var("OPENSEARCH_URL").unwrap_or_else(|_| {
        panic!(
            "OPENSEARCH_URL is not set: these tests need the real OpenSearch node. Run \
             `bash tests/services/opensearch.sh start`, export the OPENSEARCH_URL=… line it \
             prints, and run the tests again (tests/run.sh does this for you)"
        )
    })
}

/// A data stream (and so a template) of this test's own.
pub(crate) fn stream(tag: &str) -> String {
    format!("logs-modelwatch.inference-t{}{tag}", std::process::id())
}

pub(crate) async fn cluster(method: http::Method, path: &str, body: Option<Value>) -> (u16, Value) {
    cluster_at(&opensearch_url(), method, path, body).await
}

/// One JSON call to the node at `base`: the status and the answer (`null` if not JSON).
pub async fn cluster_at(
    base: &str,
    method: http::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let url = format!("{base}{path}");
    let request = Request::builder()
        .method(method)
        .uri(url)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(
            body.map(|b| b.to_string()).unwrap_or_default(),
        )))
        .unwrap();
    let answer = send(&client::http1(), request).await;
    let json = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
    (answer.status.as_u16(), json)
}

pub(crate) async fn forget(stream: &str) {
    cluster(
        http::Method::DELETE,
        &format!("/_data_stream/{stream}"),
        None,
    )
    .await;
    for template in [format!("modelwatch-{stream}"), format!("conflict-{stream}")] {
        cluster(
            http::Method::DELETE,
            &format!("/_index_template/{template}"),
            None,
        )
        .await;
    }
}

pub(crate) fn start_proxy(
    upstream: &Upstream,
    es_url: &str,
    stream: &str,
    home: &str,
) -> ProxyProcess {
    start_proxy_with(upstream, es_url, stream, home, &[])
}

pub fn start_proxy_with(
    upstream: &Upstream,
    es_url: &str,
    stream: &str,
    home: &str,
    extra: &[(&str, &str)],
) -> ProxyProcess {
    let mut env = vec![
        ("MODELWATCH__EXPORT__ELASTICSEARCH__URL", es_url),
        ("MODELWATCH__EXPORT__ELASTICSEARCH__DATA_STREAM", stream),
        ("MODELWATCH__EXPORT__ELASTICSEARCH__BATCH_AGE", "100ms"),
        ("MODELWATCH__EXPORT__ELASTICSEARCH__FLUSH_TIMEOUT", "1s"),
        ("MODELWATCH_STATE_DIR", home),
    ];
    env.extend_from_slice(extra);
    ProxyProcess::start(&upstream.url(), &env)
}

pub(crate) async fn infer(proxy: &ProxyProcess, request_id: &str) {
    let request = Request::post(proxy.url("/v2/models/credit/infer"))
        .header("content-type", "application/json")
        .header("x-request-id", request_id)
        .body(Full::new(Bytes::from_static(b"{\"inputs\":[]}")))
        .unwrap();
    let answer = send(&client::http1(), request).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
}

/// `modelwatch_export_events_total` of one outcome, every kind of document together.
pub async fn export_count(proxy: &ProxyProcess, outcome: &str) -> f64 {
    export_count_where(proxy, &[("outcome", outcome)]).await
}

/// `modelwatch_export_events_total` of one outcome and one kind of document (`request`,
/// `drift`, `performance`).
pub async fn export_kind_count(proxy: &ProxyProcess, outcome: &str, kind: &str) -> f64 {
    export_count_where(proxy, &[("outcome", outcome), ("kind", kind)]).await
}

async fn export_count_where(proxy: &ProxyProcess, labels: &[(&str, &str)]) -> f64 {
    let answer = get(&client::http1(), &proxy.admin_url("/metrics")).await;
    let mut labels = labels.to_vec();
    labels.push(("sink", "elasticsearch"));
    sum(
        &parse(&answer.text()),
        "modelwatch_export_events_total",
        &labels,
    )
    .unwrap_or(0.0)
}

/// Waits until the counter of `outcome` (all kinds) reaches `expected` (at most 30 s), then
/// checks it stays there.
pub(crate) async fn wait_for_count(proxy: &ProxyProcess, outcome: &str, expected: f64) {
    wait_for(proxy, &[("outcome", outcome)], expected).await
}

/// As [`wait_for_count`], for one kind of document.
pub(crate) async fn wait_for_kind_count(
    proxy: &ProxyProcess,
    outcome: &str,
    kind: &str,
    expected: f64,
) {
    wait_for(proxy, &[("outcome", outcome), ("kind", kind)], expected).await
}

async fn wait_for(proxy: &ProxyProcess, labels: &[(&str, &str)], expected: f64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let seen = export_count_where(proxy, labels).await;
        if seen >= expected {
            assert_eq!(seen, expected, "{labels:?}; log:\n{}", proxy.log());
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{labels:?} reached {seen}, not {expected}; log:\n{}",
            proxy.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub(crate) async fn search(stream: &str) -> Vec<Value> {
    let (status, _) = cluster(http::Method::POST, &format!("/{stream}/_refresh"), None).await;
    assert_eq!(status, 200);
    let (status, found) = cluster(
        http::Method::POST,
        &format!("/{stream}/_search"),
        Some(json!({"size": 1000, "query": {"match_all": {}}})),
    )
    .await;
    assert_eq!(status, 200, "{found}");
    found["hits"]["hits"].as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_request_arrives_once_with_the_documented_fields() {
    let es = opensearch_url();
    let stream = stream("once");
    forget(&stream).await;
    let home = tempfile::tempdir().unwrap();
    let upstream = Upstream::echo().await;
    let proxy = start_proxy(&upstream, &es, &stream, home.path().to_str().unwrap());
    let ids: Vec<String> = (0..25)
        .map(|i| format!("once-{}-{i}", std::process::id()))
        .collect();
    for id in &ids {
        infer(&proxy, id).await;
    }
    // Counted as request events: an on-call engineer reads `kind` to tell them from drift
    // snapshots (this proxy has no reference, so it sends none).
    wait_for_kind_count(&proxy, "delivered", "request", 25.0).await;
    for kind in ["drift", "performance"] {
        assert_eq!(
            export_kind_count(&proxy, "delivered", kind).await,
            0.0,
            "{kind}"
        );
    }

    let hits = search(&stream).await;
    let mut seen: Vec<String> = hits
        .iter()
        .map(|h| {
            h["_source"]["http"]["request"]["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    seen.sort();
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(seen, expected, "every request id exactly once");
    let hit = hits
        .iter()
        .find(|h| h["_source"]["http"]["request"]["id"] == ids[0].as_str())
        .unwrap();
    let doc = &hit["_source"];
    assert_eq!(
        doc["event"]["id"], hit["_id"],
        "the _id is the event's own id"
    );
    assert_eq!(doc["event"]["kind"], "event");
    assert_eq!(doc["event"]["category"], json!(["web"]));
    assert_eq!(doc["event"]["type"], json!(["access"]));
    assert_eq!(doc["event"]["outcome"], "success");
    assert_eq!(doc["event"]["dataset"], "modelwatch.inference");
    assert!(doc["event"]["duration"].as_u64().unwrap() > 0);
    assert_eq!(doc["http"]["request"]["method"], "POST");
    assert_eq!(doc["http"]["request"]["body"]["bytes"], 13);
    assert_eq!(doc["http"]["response"]["status_code"], 200);
    assert_eq!(doc["http"]["response"]["body"]["bytes"], 13);
    assert_eq!(doc["url"]["path"], "/v2/models/credit/infer");
    assert_eq!(doc["service"]["name"], "modelwatch");
    assert_eq!(doc["modelwatch"]["model"], "credit");
    assert!(doc["modelwatch"]["upstream_duration_ms"].as_f64().unwrap() > 0.0);
    assert!(doc["@timestamp"].as_str().unwrap().ends_with('Z'));

    let (status, mapping) = cluster(http::Method::GET, &format!("/{stream}/_mapping"), None).await;
    assert_eq!(status, 200);
    let index = mapping.as_object().unwrap().values().next().unwrap();
    let props = &index["mappings"]["properties"];
    let type_of = |path: &[&str]| {
        let mut node = props;
        for (i, part) in path.iter().enumerate() {
            node = if i == 0 {
                &node[part]
            } else {
                &node["properties"][part]
            };
        }
        node["type"].as_str().unwrap_or("?").to_string()
    };
    assert_eq!(type_of(&["@timestamp"]), "date");
    assert_eq!(type_of(&["event", "duration"]), "long");
    assert_eq!(type_of(&["event", "outcome"]), "keyword");
    assert_eq!(type_of(&["http", "request", "id"]), "keyword");
    assert_eq!(type_of(&["event", "id"]), "keyword");
    assert_eq!(type_of(&["http", "response", "status_code"]), "long");
    assert_eq!(type_of(&["url", "path"]), "keyword");
    assert_eq!(type_of(&["modelwatch", "model_version"]), "keyword");
    assert_eq!(type_of(&["modelwatch", "upstream_duration_ms"]), "double");

    // The same request id again (a client retry) is another exchange: a document of its
    // own, not a duplicate of the first.
    infer(&proxy, &ids[0]).await;
    wait_for_count(&proxy, "delivered", 26.0).await;
    assert_eq!(search(&stream).await.len(), 26);
    assert_eq!(export_count(&proxy, "duplicate").await, 0.0);
    assert_eq!(export_count(&proxy, "dead_letter").await, 0.0);
    forget(&stream).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_reusing_one_request_id_erases_no_event() {
    // A retry library, a constant header, a load balancer that sets one id per connection,
    // or a hostile caller: 100 requests carrying the same `X-Request-Id`.
    let es = opensearch_url();
    let stream = stream("reused");
    forget(&stream).await;
    let home = tempfile::tempdir().unwrap();
    let upstream = Upstream::echo().await;
    let proxy = start_proxy(&upstream, &es, &stream, home.path().to_str().unwrap());
    let reused = format!("reused-{}", std::process::id());
    for _ in 0..100 {
        infer(&proxy, &reused).await;
    }
    wait_for_count(&proxy, "delivered", 100.0).await;
    assert_eq!(export_count(&proxy, "duplicate").await, 0.0);

    let hits = search(&stream).await;
    assert_eq!(hits.len(), 100, "one document per request");
    let ids: std::collections::BTreeSet<&str> =
        hits.iter().map(|h| h["_id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 100, "each with an id of its own");
    // The client's id stays searchable as `http.request.id`.
    let (status, found) = cluster(
        http::Method::POST,
        &format!("/{stream}/_count"),
        Some(json!({"query": {"term": {"http.request.id": reused}}})),
    )
    .await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(found["count"], 100);
    forget(&stream).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_mapping_conflict_goes_to_the_dead_letter_file_and_is_not_retried() {
    let es = opensearch_url();
    let stream = stream("conflict");
    forget(&stream).await;
    // A higher-priority template maps http.request.id as a number: numeric ids index,
    // any other id is a mapping conflict for that one event.
    let (status, body) = cluster(
        http::Method::PUT,
        &format!("/_index_template/conflict-{stream}"),
        Some(
            json!({"index_patterns": [stream], "data_stream": {}, "priority": 900,
            "template": {"mappings": {"properties": {
                "@timestamp": {"type": "date"},
                "http": {"properties": {"request": {"properties": {"id": {"type": "long"}}}}}
            }}}}),
        ),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let home = tempfile::tempdir().unwrap();
    let upstream = Upstream::echo().await;
    let proxy = start_proxy(&upstream, &es, &stream, home.path().to_str().unwrap());
    let numeric = |i: u32| format!("{}", std::process::id() as u64 * 100 + i as u64);
    infer(&proxy, &numeric(1)).await;
    infer(&proxy, "not-a-number").await;
    infer(&proxy, &numeric(2)).await;
    wait_for_kind_count(&proxy, "dead_letter", "request", 1.0).await;
    wait_for_kind_count(&proxy, "delivered", "request", 2.0).await;
    // Given time to retry, it does not.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(export_count(&proxy, "retried").await, 0.0);
    assert_eq!(export_count(&proxy, "dead_letter").await, 1.0);

    let dead = std::fs::read_to_string(home.path().join("dead-letter.ndjson")).unwrap();
    let lines: Vec<Value> = dead
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1, "{dead}");
    assert_eq!(lines[0]["_id"], lines[0]["event"]["event"]["id"]);
    assert_eq!(lines[0]["status"], 400);
    assert!(
        lines[0]["reason"].as_str().unwrap().contains("parse"),
        "the reason says why: {}",
        lines[0]["reason"]
    );
    assert_eq!(lines[0]["event"]["http"]["request"]["id"], "not-a-number");
    assert_eq!(search(&stream).await.len(), 2);
    forget(&stream).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_cluster_changes_nothing_for_clients_and_exit() {
    // The test needs no node of its own but runs with the others, so it asks for it too:
    // a run without OPENSEARCH_URL must fail loudly rather than pass on a subset.
    opensearch_url();
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let home = tempfile::tempdir().unwrap();
    let upstream = Upstream::echo().await;
    // The smallest spool allowed (256 KiB, a few hundred events): the overflow must be
    // dropped and counted while every client still gets its answer.
    let mut proxy = start_proxy_with(
        &upstream,
        &format!("http://{closed}"),
        &stream("down"),
        home.path().to_str().unwrap(),
        &[("MODELWATCH__EXPORT__ELASTICSEARCH__SPOOL_BYTES", "262144")],
    );
    for i in 0..800 {
        infer(&proxy, &format!("down-{i}")).await;
    }
    // The persister counts what no longer fits as it writes, a moment after the offers.
    let deadline = Instant::now() + Duration::from_secs(10);
    while export_count(&proxy, "dropped").await == 0.0 {
        assert!(
            Instant::now() < deadline,
            "a full export spool drops; log:\n{}",
            proxy.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let metrics = parse(
        &get(&client::http1(), &proxy.admin_url("/metrics"))
            .await
            .text(),
    );
    let spooled = value(
        &metrics,
        "modelwatch_export_spool_bytes",
        &[("sink", "elasticsearch")],
    )
    .unwrap_or(0.0);
    assert!(
        spooled > 200_000.0 && spooled <= 262_144.0,
        "the spool holds what fits: {spooled} bytes"
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while export_count(&proxy, "retried").await < 1.0 {
        assert!(
            Instant::now() < deadline,
            "no retry counted; log:\n{}",
            proxy.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(export_count(&proxy, "delivered").await, 0.0);
    let stop = Instant::now();
    proxy.terminate();
    let status = proxy.wait(Duration::from_secs(10));
    assert!(
        status.is_some_and(|s| s.success()),
        "exit {status:?} after {:?}; log:\n{}",
        stop.elapsed(),
        proxy.log()
    );
    assert!(
        proxy
            .log()
            .contains("events not yet delivered stay in the spool"),
        "the undelivered events are reported; log:\n{}",
        proxy.log()
    );
    assert!(
        home.path()
            .join("spool/elasticsearch")
            .read_dir()
            .unwrap()
            .count()
            > 2,
        "the spool is under MODELWATCH_HOME"
    );
}

#[test]
fn a_bad_export_setting_exits_2_naming_the_key() {
    let (code, stderr) = crate::support::proxy_process::run_to_end(
        &["proxy", "--upstream", "http://127.0.0.1:9"],
        &[
            ("MODELWATCH__EXPORT__ELASTICSEARCH__URL", "127.0.0.1:9200"),
            (
                "MODELWATCH__EXPORT__ELASTICSEARCH__DATA_STREAM",
                "logs-model-watch-default",
            ),
        ],
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("export.elasticsearch.url"), "{stderr}");
    assert!(
        stderr.contains("export.elasticsearch.data_stream"),
        "{stderr}"
    );
}
