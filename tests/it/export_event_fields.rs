//! Request event fields beyond the basics, through a real `modelwatch proxy` into a real
//! OpenSearch node: `trace.id` from the client's `traceparent`, `error.*` for failures, and
//! the answers the proxy makes itself (413, 431, 502, 504) exported like any other.

use crate::export_elasticsearch::{
    cluster, forget, opensearch_url, search, start_proxy_with, wait_for_count,
};
use crate::proxy::raw_exchange;
use crate::support::client::{self, send};
use crate::support::proxy_process::ProxyProcess;
use crate::support::upstream::{Upstream, respond};
use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use serde_json::Value;
use std::time::Duration;

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

async fn post(proxy: &ProxyProcess, path: &str, id: &str, body: Vec<u8>, traceparent: bool) -> u16 {
    let mut request = Request::post(proxy.url(path))
        .header("content-type", "application/json")
        .header("x-request-id", id);
    if traceparent {
        request = request.header("traceparent", format!("00-{TRACE}-00f067aa0ba902b7-01"));
    }
    let answer = send(
        &client::http1(),
        request.body(Full::new(Bytes::from(body))).unwrap(),
    )
    .await;
    answer.status.as_u16()
}

fn by_id<'a>(hits: &'a [Value], id: &str) -> &'a Value {
    &hits
        .iter()
        .find(|h| h["_source"]["http"]["request"]["id"] == id)
        .unwrap_or_else(|| panic!("no event {id} among {hits:?}"))["_source"]
}

#[tokio::test(flavor = "multi_thread")]
async fn failures_and_the_proxys_own_answers_carry_error_fields() {
    let es = opensearch_url();
    let stream = format!("logs-modelwatch.inference-t{}fields", std::process::id());
    forget(&stream).await;
    let home = tempfile::tempdir().unwrap();
    let home = home.path().to_str().unwrap();
    // /v2/models/slow/infer answers after 3 s (past the response timeout), /v2/models/
    // broken/infer with 500, the rest at once.
    let upstream = Upstream::start(|req: http::Request<hyper::body::Incoming>| async move {
        match req.uri().path() {
            "/v2/models/slow/infer" => {
                tokio::time::sleep(Duration::from_secs(3)).await;
                respond(200, "{}")
            }
            "/v2/models/broken/infer" => respond(500, "{\"error\":\"boom\"}"),
            _ => respond(200, "{\"outputs\":[]}"),
        }
    })
    .await;
    let limits = [
        ("MODELWATCH__PROXY__RESPONSE_TIMEOUT", "500ms"),
        ("MODELWATCH__PROXY__MAX_REQUEST_BODY_BYTES", "1024"),
        ("MODELWATCH__PROXY__MAX_HEADER_BYTES", "8192"),
    ];
    let proxy = start_proxy_with(&upstream, &es, &stream, home, &limits);
    let pid = std::process::id();
    let id = |tag: &str| format!("{tag}-{pid}");
    let small = b"{\"inputs\":[]}".to_vec();
    assert_eq!(
        post(
            &proxy,
            "/v2/models/credit/infer",
            &id("ok"),
            small.clone(),
            true
        )
        .await,
        200
    );
    assert_eq!(
        post(
            &proxy,
            "/v2/models/broken/infer",
            &id("500"),
            small.clone(),
            false
        )
        .await,
        500
    );
    assert_eq!(
        post(
            &proxy,
            "/v2/models/slow/infer",
            &id("504"),
            small.clone(),
            true
        )
        .await,
        504
    );
    assert_eq!(
        post(
            &proxy,
            "/v2/models/credit/infer",
            &id("413"),
            vec![b' '; 4096],
            false
        )
        .await,
        413
    );
    let head = format!(
        "POST /v2/models/credit/infer HTTP/1.1\r\nhost: x\r\nx-big: {}\r\n\r\n",
        "v".repeat(9000)
    );
    assert!(raw_exchange(proxy.listen, &head).starts_with("HTTP/1.1 431"));
    // A model server that is not there: 502 from a second sidecar on the same stream.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    // Its own state directory: a spool directory belongs to one sidecar.
    let refused_home = tempfile::tempdir().unwrap();
    let refused = ProxyProcess::start(
        &format!("http://{closed}"),
        &[
            ("MODELWATCH__EXPORT__ELASTICSEARCH__URL", es.as_str()),
            (
                "MODELWATCH__EXPORT__ELASTICSEARCH__DATA_STREAM",
                stream.as_str(),
            ),
            ("MODELWATCH__EXPORT__ELASTICSEARCH__BATCH_AGE", "100ms"),
            (
                "MODELWATCH_STATE_DIR",
                refused_home.path().to_str().unwrap(),
            ),
        ],
    );
    assert_eq!(
        post(
            &refused,
            "/v2/models/credit/infer",
            &id("502"),
            small,
            false
        )
        .await,
        502
    );

    wait_for_count(&proxy, "delivered", 5.0).await;
    wait_for_count(&refused, "delivered", 1.0).await;
    let hits = search(&stream).await;
    assert_eq!(hits.len(), 6, "{hits:?}");

    let ok = by_id(&hits, &id("ok"));
    assert_eq!(ok["trace"]["id"], TRACE);
    assert_eq!(ok["event"]["outcome"], "success");
    assert!(ok.get("error").is_none(), "{ok}");
    assert_eq!(ok["modelwatch"]["protocol"], "oip");

    let upstream_500 = by_id(&hits, &id("500"));
    assert!(upstream_500.get("trace").is_none());
    assert_eq!(upstream_500["event"]["outcome"], "failure");
    assert_eq!(upstream_500["error"]["type"], "http_status");
    assert_eq!(
        upstream_500["error"]["message"],
        "the model server answered 500 Internal Server Error"
    );

    for (tag, status, kind, words) in [
        ("504", 504, "response_timeout", "did not answer within"),
        ("413", 413, "body_too_large", "proxy.max_request_body_bytes"),
        ("502", 502, "connect_refused", "refused the connection"),
    ] {
        let event = by_id(&hits, &id(tag));
        assert_eq!(event["http"]["response"]["status_code"], status, "{event}");
        assert_eq!(event["error"]["type"], kind, "{event}");
        let message = event["error"]["message"].as_str().unwrap();
        assert!(message.contains(words), "{tag}: {message}");
        assert_eq!(event["event"]["outcome"], "failure");
        let model = if tag == "504" { "slow" } else { "credit" };
        assert_eq!(event["url"]["path"], format!("/v2/models/{model}/infer"));
        assert_eq!(event["http"]["request"]["method"], "POST");
        assert!(event["http"]["response"]["body"]["bytes"].as_u64().unwrap() > 0);
        assert!(
            event
                .get("modelwatch")
                .is_some_and(|m| m.get("upstream_duration_ms").is_none())
        );
    }
    assert_eq!(
        by_id(&hits, &id("504"))["trace"]["id"],
        TRACE,
        "own answers keep the trace"
    );

    let head_refused = hits
        .iter()
        .map(|h| &h["_source"])
        .find(|e| e["http"]["response"]["status_code"] == 431)
        .expect("the 431 is exported");
    assert_eq!(head_refused["error"]["type"], "headers_too_large");
    assert!(head_refused.get("url").is_none(), "the head was never read");

    // The new fields are typed by the template: searchable by exact value.
    let (status, found) = cluster(
        http::Method::POST,
        &format!("/{stream}/_search"),
        Some(serde_json::json!({"query": {"bool": {"filter": [
            {"term": {"trace.id": TRACE}},
            {"term": {"error.type": "response_timeout"}},
        ]}}})),
    )
    .await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(found["hits"]["total"]["value"], 1, "{found}");
    let (_, mapping) = cluster(http::Method::GET, &format!("/{stream}/_mapping"), None).await;
    let props = &mapping.as_object().unwrap().values().next().unwrap()["mappings"]["properties"];
    assert_eq!(props["trace"]["properties"]["id"]["type"], "keyword");
    assert_eq!(props["error"]["properties"]["type"]["type"], "keyword");
    assert_eq!(props["error"]["properties"]["message"]["type"], "text");
    assert_eq!(
        props["modelwatch"]["properties"]["protocol"]["type"],
        "keyword"
    );
    assert_eq!(props["modelwatch"]["properties"]["rows"]["type"], "long");
    forget(&stream).await;
}
