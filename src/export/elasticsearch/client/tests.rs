//! What the official client puts on the wire over `http://`: a loopback HTTP server records
//! each request (a stand-in only for a gateway that serves the cluster under a path
//! prefix, which the test node cannot do; the export tests cover the real node).

use super::{ClusterClient, retry_after};
use crate::config::elasticsearch::ElasticsearchConfig;
use bytes::Bytes;
use http::{HeaderMap, Method, Response};
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

/// One request as the server saw it.
struct Seen {
    method: Method,
    path_and_query: String,
    headers: HeaderMap,
    body: Bytes,
}

/// A server that records every request and answers `_bulk` with 429 and `Retry-After: 7`,
/// anything else with 200 `{}`.
async fn recording_server() -> (String, Arc<Mutex<Vec<Seen>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let log = log.clone();
            let service = service_fn(move |request: http::Request<hyper::body::Incoming>| {
                let log = log.clone();
                async move {
                    let (parts, body) = request.into_parts();
                    let body = body.collect().await?.to_bytes();
                    let bulk = parts.uri.path().ends_with("/_bulk");
                    log.lock().unwrap().push(Seen {
                        method: parts.method,
                        path_and_query: parts.uri.path_and_query().unwrap().to_string(),
                        headers: parts.headers,
                        body,
                    });
                    let answer = if bulk {
                        Response::builder()
                            .status(429)
                            .header("retry-after", "7")
                            .body(Full::new(Bytes::from_static(b"busy")))
                    } else {
                        Response::builder().body(Full::new(Bytes::from_static(b"{}")))
                    };
                    Ok::<_, hyper::Error>(answer.unwrap())
                }
            });
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service),
            );
        }
    });
    (format!("http://{addr}"), seen)
}

#[tokio::test]
async fn the_official_client_keeps_the_path_prefix_credentials_and_answers() {
    let (base, seen) = recording_server().await;
    let config = ElasticsearchConfig {
        url: Some(format!("{base}/es/")),
        api_key: Some("a2V5OnNlY3JldA==".into()),
        ..Default::default()
    };
    let client = ClusterClient::new(&config).unwrap();

    let root = client.send(Method::GET, "/", None).await.unwrap();
    assert_eq!((root.status.as_u16(), &root.body[..]), (200, &b"{}"[..]));
    let ndjson = Bytes::from_static(b"{\"create\":{}}\n{\"a\":1}\n");
    let bulk = client
        .send(
            Method::POST,
            "/_bulk",
            Some(("application/x-ndjson", ndjson.clone())),
        )
        .await
        .unwrap();
    // The refusal handling reads status, Retry-After and body from the answer.
    assert_eq!((bulk.status.as_u16(), &bulk.body[..]), (429, &b"busy"[..]));
    assert_eq!(
        retry_after(&bulk.headers, SystemTime::now()),
        Some(Duration::from_secs(7))
    );
    client
        .send(
            Method::PUT,
            "/_plugins/_ism/policies/p?if_seq_no=3&if_primary_term=1",
            Some(("application/json", Bytes::from_static(b"{}"))),
        )
        .await
        .unwrap();

    let seen = seen.lock().unwrap();
    let requests: Vec<_> = seen
        .iter()
        .map(|s| (s.method.as_str(), s.path_and_query.as_str()))
        .collect();
    assert_eq!(
        requests,
        [
            ("GET", "/es/"),
            ("POST", "/es/_bulk"),
            (
                "PUT",
                "/es/_plugins/_ism/policies/p?if_seq_no=3&if_primary_term=1"
            ),
        ]
    );
    for request in seen.iter() {
        assert_eq!(request.headers["authorization"], "ApiKey a2V5OnNlY3JldA==");
        // No compatibility media type (`compatible-with=…`): OpenSearch answers it 406.
        assert_eq!(request.headers["accept"], "application/json");
    }
    assert_eq!(seen[1].headers["content-type"], "application/x-ndjson");
    assert_eq!(seen[1].body, ndjson);
}
