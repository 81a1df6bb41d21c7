//! `modelwatch proxy` against real upstreams on loopback: transparency, limits, errors,
//! drain, and the metrics a scrape sees.

use crate::support::client::{self, Answer, get, post, send};
use crate::support::metrics_text::{self, parse, series_count, value};
use crate::support::proxy_process::{ProxyProcess, run_to_end};
use crate::support::upstream::{Body, Upstream, full, respond};
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

async fn scrape(proxy: &ProxyProcess) -> Vec<metrics_text::Sample> {
    let answer = get(&client::http1(), &proxy.admin_url("/metrics")).await;
    assert_eq!(answer.status, 200);
    assert_eq!(
        answer.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    parse(&answer.text())
}

/// Scrapes until `metric{labels}` equals `expected` or 5 s pass. Connection-level errors
/// are counted when hyper's connection task ends, which may be just after the client saw
/// the connection close.
async fn eventually(proxy: &ProxyProcess, metric: &str, labels: &[(&str, &str)], expected: f64) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let seen = value(&scrape(proxy).await, metric, labels);
        if seen == Some(expected) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{metric}{labels:?} is {seen:?}, expected {expected}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn bodies_pass_byte_for_byte_both_ways() {
    let upstream = Upstream::echo().await;
    let proxy = ProxyProcess::start(&upstream.url(), &[]);
    // 1 MiB of every byte value, not valid UTF-8 or JSON: the proxy must not care.
    let payload: Vec<u8> = (0..1024 * 1024).map(|i| (i * 7 % 256) as u8).collect();
    for client in [client::http1(), client::h2c()] {
        let answer = send(
            &client,
            Request::post(proxy.url("/v2/models/credit/infer?trace=1"))
                .header("content-type", "application/octet-stream")
                .header(
                    "traceparent",
                    "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
                )
                .header("connection", "keep-alive, x-hop")
                .header("x-hop", "must not pass")
                .body(Full::new(Bytes::from(payload.clone())))
                .unwrap(),
        )
        .await;
        assert_eq!(answer.status, 200);
        assert!(answer.body == payload, "the echoed body differs");
        assert_eq!(
            answer.header("x-seen-path"),
            Some("/v2/models/credit/infer?trace=1")
        );
        assert_eq!(
            answer.header("x-seen-traceparent"),
            Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
        );
        assert_eq!(
            answer.header("x-seen-x-hop"),
            None,
            "hop-by-hop header forwarded"
        );
        assert_eq!(
            answer.header("x-seen-host"),
            Some(upstream.addr.to_string().as_str())
        );
        assert_eq!(answer.header("x-seen-x-forwarded-for"), Some("127.0.0.1"));
        assert_eq!(
            answer.header("x-seen-content-length"),
            Some(payload.len().to_string().as_str())
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn request_ids_are_kept_or_generated_and_returned() {
    let upstream = Upstream::echo().await;
    let proxy = ProxyProcess::start(&upstream.url(), &[]);
    let client = client::http1();
    let kept = send(
        &client,
        Request::get(proxy.url("/v2/health/ready"))
            .header("x-request-id", "client-chose-this")
            .body(Full::default())
            .unwrap(),
    )
    .await;
    assert_eq!(kept.header("x-request-id"), Some("client-chose-this"));
    assert_eq!(
        kept.header("x-seen-x-request-id"),
        Some("client-chose-this")
    );

    let first = get(&client, &proxy.url("/v2/health/ready")).await;
    let second = get(&client, &proxy.url("/v2/health/ready")).await;
    let id = first
        .header("x-request-id")
        .expect("a generated request id");
    assert_eq!(
        first.header("x-seen-x-request-id"),
        Some(id),
        "upstream saw another id"
    );
    let uuid = uuid::Uuid::parse_str(id).expect("a UUID");
    assert_eq!(uuid.get_version_num(), 7);
    assert_ne!(Some(id), second.header("x-request-id"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_chunked_response_streams_before_the_upstream_finishes() {
    let (release_tx, release_rx) = tokio::sync::watch::channel(false);
    let upstream = Upstream::start(move |_req: Request<Incoming>| {
        let mut release = release_rx.clone();
        async move {
            let frames = async_stream_body(move |tx| async move {
                tx.send(Ok(Frame::data(Bytes::from_static(b"first,"))))
                    .await
                    .ok();
                // The rest waits until the client has seen the first chunk.
                let _ = release.wait_for(|r| *r).await;
                tx.send(Ok(Frame::data(Bytes::from_static(b"second"))))
                    .await
                    .ok();
            });
            Response::new(frames)
        }
    })
    .await;
    let proxy = ProxyProcess::start(&upstream.url(), &[]);
    let response = client::http1()
        .request(
            Request::post(proxy.url("/v2/models/stream/infer"))
                .body(Full::new(Bytes::from_static(b"{}")))
                .unwrap(),
        )
        .await
        .unwrap();
    let mut body = response.into_body();
    let first = tokio::time::timeout(Duration::from_secs(5), body.frame())
        .await
        .expect("the first chunk did not arrive while the upstream was still sending")
        .unwrap()
        .unwrap();
    assert_eq!(first.into_data().unwrap(), "first,");
    release_tx.send(true).unwrap();
    let rest = body.collect().await.unwrap().to_bytes();
    assert_eq!(rest, "second");
}

/// A streaming body fed by a task through a channel.
fn async_stream_body<F, Fut>(produce: F) -> Body
where
    F: FnOnce(
        tokio::sync::mpsc::Sender<Result<Frame<Bytes>, Box<dyn std::error::Error + Send + Sync>>>,
    ) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    tokio::spawn(produce(tx));
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    StreamBody::new(stream).boxed()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_oversized_body_gets_413_and_never_reaches_the_upstream_in_full() {
    let upstream = Upstream::echo().await;
    let proxy = ProxyProcess::start(
        &upstream.url(),
        &[("MODELWATCH__PROXY__MAX_REQUEST_BODY_BYTES", "1024")],
    );
    let client = client::http1();
    let small = post(&client, &proxy.url("/v2/models/m/infer"), vec![b'a'; 1024]).await;
    assert_eq!(small.status, 200);
    let hits_before = upstream.hits.load(std::sync::atomic::Ordering::SeqCst);
    let big = post(
        &client::http1(),
        &proxy.url("/v2/models/m/infer"),
        vec![b'a'; 4096],
    )
    .await;
    assert_eq!(big.status, 413, "{}", big.text());
    assert_json_error(&big, "body_too_large");
    assert_eq!(
        upstream.hits.load(std::sync::atomic::Ordering::SeqCst),
        hits_before,
        "a body announced too large was forwarded"
    );

    // Without Content-Length (chunked), the limit is enforced while streaming.
    let chunks: Vec<Result<Frame<Bytes>, std::convert::Infallible>> = (0..8)
        .map(|_| Ok(Frame::data(Bytes::from(vec![b'b'; 512]))))
        .collect();
    let streamed =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build_http::<StreamBody<futures_util::stream::Iter<std::vec::IntoIter<_>>>>()
            .request(
                Request::post(proxy.url("/v2/models/m/infer"))
                    .body(StreamBody::new(futures_util::stream::iter(chunks)))
                    .unwrap(),
            )
            .await
            .unwrap();
    assert_eq!(streamed.status(), 413);

    let samples = scrape(&proxy).await;
    assert_eq!(
        value(
            &samples,
            "modelwatch_client_errors_total",
            &[("reason", "body_too_large")]
        ),
        Some(2.0)
    );
}

fn assert_json_error(answer: &Answer, reason: &str) {
    let json: serde_json::Value = serde_json::from_slice(&answer.body).expect("a JSON error body");
    assert_eq!(json["reason"], reason, "{json}");
    assert!(
        json["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{json}"
    );
    assert_eq!(
        json["request_id"].as_str(),
        answer.header("x-request-id"),
        "the error body names another request id"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn too_many_or_too_large_headers_get_431() {
    let upstream = Upstream::echo().await;
    let proxy = ProxyProcess::start(
        &upstream.url(),
        &[
            ("MODELWATCH__PROXY__MAX_HEADERS", "20"),
            ("MODELWATCH__PROXY__MAX_HEADER_BYTES", "8192"),
        ],
    );
    let many: String = (0..40).map(|i| format!("x-h{i}: v\r\n")).collect();
    let reply = raw_exchange(
        proxy.listen,
        &format!("GET / HTTP/1.1\r\nhost: x\r\n{many}\r\n"),
    );
    assert!(reply.starts_with("HTTP/1.1 431"), "{reply}");
    let large = format!(
        "GET / HTTP/1.1\r\nhost: x\r\nx-big: {}\r\n\r\n",
        "v".repeat(9000)
    );
    let reply = raw_exchange(proxy.listen, &large);
    assert!(reply.starts_with("HTTP/1.1 431"), "{reply}");
    assert_eq!(upstream.hits.load(std::sync::atomic::Ordering::SeqCst), 0);
    eventually(
        &proxy,
        "modelwatch_client_errors_total",
        &[("reason", "headers_too_large")],
        2.0,
    )
    .await;
}

/// Writes raw bytes and reads until the server closes or 5 s pass.
pub(crate) fn raw_exchange(addr: std::net::SocketAddr, request: &str) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let _ = stream.write_all(request.as_bytes());
    let mut out = Vec::new();
    let _ = stream.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_upstream_is_502_and_a_silent_one_504() {
    // A port that was just free: nothing listens there.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let proxy = ProxyProcess::start(&format!("http://{closed}"), &[]);
    let refused = post(&client::http1(), &proxy.url("/v2/models/m/infer"), "{}").await;
    assert_eq!(refused.status, 502);
    assert_json_error(&refused, "connect_refused");
    let ready = get(&client::http1(), &proxy.admin_url("/readyz")).await;
    assert_eq!(ready.status, 503, "{}", ready.text());
    assert!(
        ready.text().contains(&closed.to_string()),
        "{}",
        ready.text()
    );

    let slow = Upstream::start(|_req| async {
        tokio::time::sleep(Duration::from_secs(30)).await;
        respond(200, "{}")
    })
    .await;
    let proxy = ProxyProcess::start(
        &slow.url(),
        &[("MODELWATCH__PROXY__RESPONSE_TIMEOUT", "300ms")],
    );
    let started = Instant::now();
    let timed_out = post(&client::http1(), &proxy.url("/v2/models/m/infer"), "{}").await;
    assert_eq!(timed_out.status, 504);
    assert_json_error(&timed_out, "response_timeout");
    assert!(started.elapsed() < Duration::from_secs(10));
    let samples = scrape(&proxy).await;
    assert_eq!(
        value(
            &samples,
            "modelwatch_upstream_errors_total",
            &[("model", "m"), ("reason", "response_timeout")]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &samples,
            "modelwatch_requests_total",
            &[
                ("model", "m"),
                ("model_version", "unknown"),
                ("code", "504")
            ]
        ),
        Some(1.0)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slowloris_client_is_disconnected_within_the_header_timeout() {
    let upstream = Upstream::echo().await;
    let proxy = ProxyProcess::start(
        &upstream.url(),
        &[("MODELWATCH__PROXY__HEADER_READ_TIMEOUT", "500ms")],
    );
    // One client dribbles a request head a byte at a time; another sends nothing at all.
    let mut dribbler = TcpStream::connect(proxy.listen).unwrap();
    let silent = TcpStream::connect(proxy.listen).unwrap();
    let started = Instant::now();
    let mut closed_after = None;
    for byte in b"GET /v2/health/ready HTTP/1.1\r\nhost: x\r\nx-slow: "
        .iter()
        .cycle()
    {
        if dribbler.write_all(&[*byte]).is_err() {
            closed_after = Some(started.elapsed());
            break;
        }
        if started.elapsed() > Duration::from_secs(5) {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let closed_after = closed_after.expect("the slow client was still connected after 5 s");
    assert!(
        closed_after < Duration::from_secs(3),
        "closed after {closed_after:?}"
    );
    let mut buf = [0u8; 64];
    silent
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let n = (&silent)
        .read(&mut buf)
        .expect("the silent connection was not closed");
    assert_eq!(n, 0, "expected EOF");
    assert_eq!(upstream.hits.load(std::sync::atomic::Ordering::SeqCst), 0);
    eventually(
        &proxy,
        "modelwatch_client_errors_total",
        &[("reason", "header_timeout")],
        2.0,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_lets_a_slow_request_in_flight_finish_then_exits_zero() {
    let upstream = Upstream::start(|_req| async {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        respond(200, r#"{"outputs":[]}"#)
    })
    .await;
    let mut proxy = ProxyProcess::start(&upstream.url(), &[]);
    let url = proxy.url("/v2/models/m/infer");
    let in_flight = tokio::spawn(async move { post(&client::http1(), &url, "{}").await });
    // Wait until the upstream has the request, then ask the proxy to stop.
    while upstream.hits.load(std::sync::atomic::Ordering::SeqCst) == 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    proxy.terminate();
    let answer = in_flight.await.unwrap();
    assert_eq!(answer.status, 200);
    assert_eq!(answer.text(), r#"{"outputs":[]}"#);
    let status = tokio::task::block_in_place(|| proxy.wait(Duration::from_secs(10)))
        .expect("the proxy did not exit after draining");
    assert_eq!(status.code(), Some(0), "log:\n{}", proxy.log());
    assert!(
        TcpStream::connect(proxy.listen).is_err(),
        "still accepting after SIGTERM"
    );
}

/// A client whose connection was accepted before the listener closed, but whose request
/// comes only after the drain began (descheduled between its connect and its write, as on
/// a loaded node), is answered: a connection keeps its first-request deadline through the
/// drain, and its response closes it. Before, the drain closed it unread after a fixed
/// 100 ms, and the client saw its request go unanswered.
#[tokio::test(flavor = "multi_thread")]
async fn sigterm_answers_a_request_that_comes_late_on_a_connection_accepted_before() {
    let upstream = Upstream::start(|_req| async { respond(200, r#"{"outputs":[]}"#) }).await;
    let mut proxy = ProxyProcess::start(
        &upstream.url(),
        &[("MODELWATCH__PROXY__SHUTDOWN_DELAY", "300ms")],
    );
    let request = "POST /v2/models/m/infer HTTP/1.1\r\nHost: m\r\n\
                   Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
    // A keep-alive connection that has had its answer and sits idle: the drain closes it
    // as soon as it begins, so its end says that the drain has begun.
    let mut idle = TcpStream::connect(proxy.listen).unwrap();
    idle.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    idle.write_all(request.as_bytes()).unwrap();
    let first = read_one_response(&mut idle);
    assert!(first.starts_with("HTTP/1.1 200"), "{first}");
    // Connected (so accepted before the listener closes), request not yet written.
    let mut late = TcpStream::connect(proxy.listen).unwrap();
    late.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    proxy.terminate();
    let mut buf = [0u8; 64];
    let n = idle
        .read(&mut buf)
        .expect("the drain did not close the idle connection");
    assert_eq!(n, 0, "expected EOF on the idle connection");

    late.write_all(request.as_bytes()).unwrap();
    let mut answer = Vec::new();
    let read = late.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        read.is_ok() && answer.starts_with("HTTP/1.1 200"),
        "the late request went unanswered ({read:?}): {answer:?}\nlog:\n{}",
        proxy.log()
    );
    assert!(
        answer
            .to_ascii_lowercase()
            .contains("\r\nconnection: close\r\n"),
        "{answer}"
    );
    assert!(answer.ends_with(r#"{"outputs":[]}"#), "{answer}");
    let status = tokio::task::block_in_place(|| proxy.wait(Duration::from_secs(20)))
        .expect("the proxy did not exit after draining");
    assert_eq!(status.code(), Some(0), "log:\n{}", proxy.log());
}

/// Reads one HTTP/1.1 response with a `Content-Length` body from `stream`.
fn read_one_response(stream: &mut TcpStream) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = stream.read(&mut buf).expect("no response");
        assert!(n > 0, "closed before a whole response: {got:?}");
        got.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&got).into_owned();
        if let Some(end) = text.find("\r\n\r\n") {
            let length: usize = text[..end]
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse().ok())?
                })
                .expect("no content-length");
            if got.len() >= end + 4 + length {
                return text;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_match_the_traffic_sent() {
    let upstream = Upstream::start(|req: Request<Incoming>| async move {
        if req.uri().path().contains("broken") {
            respond(500, r#"{"error":"model crashed"}"#)
        } else {
            Response::builder()
                .header("x-model-version", "7")
                .body(full(Bytes::from(vec![b'p'; 100])))
                .unwrap()
        }
    })
    .await;
    let proxy = ProxyProcess::start(&upstream.url(), &[]);
    let client = client::http1();
    for _ in 0..12 {
        let a = post(
            &client,
            &proxy.url("/v2/models/credit/versions/3/infer"),
            vec![b'x'; 300],
        )
        .await;
        assert_eq!(a.status, 200);
    }
    for _ in 0..5 {
        let a = post(&client, &proxy.url("/v2/models/broken/infer"), "{}").await;
        assert_eq!(a.status, 500);
    }
    // No version in the URL: the server's X-Model-Version header names it.
    for _ in 0..2 {
        post(&client, &proxy.url("/v1/models/credit:predict"), "{}").await;
    }
    let s = scrape(&proxy).await;
    let credit3 = [("model", "credit"), ("model_version", "3")];
    assert_eq!(
        value(
            &s,
            "modelwatch_requests_total",
            &[credit3[0], credit3[1], ("code", "200")]
        ),
        Some(12.0)
    );
    assert_eq!(
        value(
            &s,
            "modelwatch_requests_total",
            &[
                ("model", "broken"),
                ("model_version", "unknown"),
                ("code", "500")
            ]
        ),
        Some(5.0)
    );
    assert_eq!(
        value(
            &s,
            "modelwatch_requests_total",
            &[("model", "credit"), ("model_version", "7"), ("code", "200")]
        ),
        Some(2.0)
    );
    assert_eq!(
        value(&s, "modelwatch_request_duration_seconds_count", &credit3),
        Some(12.0)
    );
    assert_eq!(
        value(&s, "modelwatch_upstream_duration_seconds_count", &credit3),
        Some(12.0)
    );
    assert_eq!(
        value(&s, "modelwatch_request_size_bytes_sum", &credit3),
        Some(12.0 * 300.0)
    );
    assert_eq!(
        value(&s, "modelwatch_response_size_bytes_sum", &credit3),
        Some(12.0 * 100.0)
    );
    // A sub-millisecond bucket exists for the proxy's own overhead.
    assert!(
        value(
            &s,
            "modelwatch_request_duration_seconds_bucket",
            &[credit3[0], credit3[1], ("le", "0.0005")]
        )
        .is_some()
    );
    assert_eq!(
        value(&s, "modelwatch_requests_in_flight", &[("model", "credit")]),
        Some(0.0)
    );
    // The git revision build.rs recorded; `unknown` only when built without git.
    let revision = super::provenance::git_revision().unwrap_or_else(|| "unknown".into());
    assert_eq!(
        value(
            &s,
            "modelwatch_build_info",
            &[
                ("version", env!("CARGO_PKG_VERSION")),
                ("revision", &revision)
            ]
        ),
        Some(1.0)
    );
    assert!(value(&s, "process_resident_memory_bytes", &[]).is_some_and(|v| v > 0.0));
}

#[tokio::test(flavor = "multi_thread")]
async fn invented_model_names_create_a_bounded_number_of_series() {
    let upstream = Upstream::start(|_req| async { respond(200, "{}") }).await;
    let proxy = ProxyProcess::start(&upstream.url(), &[("MODELWATCH__PROXY__MAX_MODELS", "10")]);
    let client = client::http1();
    for i in 0..1000 {
        let a = post(
            &client,
            &proxy.url(&format!("/v2/models/m{i:04}x/infer")),
            "{}",
        )
        .await;
        assert_eq!(a.status, 200);
    }
    let s = scrape(&proxy).await;
    // 10 named models and the overflow bucket, each with one version and one code.
    assert_eq!(series_count(&s, "modelwatch_requests_total"), 11);
    assert_eq!(
        series_count(&s, "modelwatch_request_duration_seconds_count"),
        11
    );
    assert_eq!(
        value(
            &s,
            "modelwatch_requests_total",
            &[
                ("model", "__other__"),
                ("model_version", "unknown"),
                ("code", "200")
            ]
        ),
        Some(990.0)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn h2c_upstreams_are_spoken_to_in_http2() {
    let upstream = Upstream::echo().await;
    let proxy = ProxyProcess::start(
        &upstream.url(),
        &[("MODELWATCH__PROXY__UPSTREAM_PROTOCOL", "h2c")],
    );
    let answer = post(
        &client::http1(),
        &proxy.url("/v2/models/m/infer"),
        "{\"inputs\":[]}",
    )
    .await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("x-seen-version"), Some("HTTP/2.0"));
    assert_eq!(answer.text(), "{\"inputs\":[]}");
}

#[tokio::test(flavor = "multi_thread")]
async fn admin_endpoints_live_on_the_admin_port_only() {
    let upstream = Upstream::echo().await;
    let proxy = ProxyProcess::start(&upstream.url(), &[]);
    let client = client::http1();
    assert_eq!(get(&client, &proxy.admin_url("/healthz")).await.status, 200);
    assert_eq!(get(&client, &proxy.admin_url("/readyz")).await.status, 200);
    // On the traffic port, /metrics belongs to the model server.
    let forwarded = get(&client, &proxy.url("/metrics")).await;
    assert_eq!(forwarded.header("x-seen-path"), Some("/metrics"));
}

#[test]
fn a_bad_config_exits_2_naming_the_key_before_listening() {
    let dir = std::env::temp_dir().join(format!("mw-badconf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("modelwatch.toml");
    std::fs::write(
        &file,
        "[proxy]\nupstream = \"http://127.0.0.1:1\"\nresponse_timeout = 5\n",
    )
    .unwrap();
    let (code, stderr) = run_to_end(&["proxy", "--config", file.to_str().unwrap()], &[]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("response_timeout"), "{stderr}");
    assert!(stderr.contains("modelwatch.toml"), "{stderr}");

    let (code, stderr) = run_to_end(
        &[
            "proxy",
            "--upstream",
            "ftp://model:21",
            "--listen",
            "127.0.0.1:0",
        ],
        &[],
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("proxy.upstream = \"ftp://model:21\""),
        "{stderr}"
    );

    let (code, stderr) = run_to_end(&["proxy"], &[]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--upstream"), "{stderr}");
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn a_taken_port_exits_1_naming_the_address() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let (code, stderr) = run_to_end(
        &[
            "proxy",
            "--upstream",
            "http://127.0.0.1:9",
            "--listen",
            &addr,
            "--admin-listen",
            "127.0.0.1:0",
        ],
        &[],
    );
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains(&addr) && stderr.contains("--listen"),
        "{stderr}"
    );
}
