//! OTLP export against a real OpenTelemetry Collector (`tests/services/otelcol.sh`): the
//! spans of a proxied request continue the client's trace and reach the model server as
//! `traceparent`, the metrics equal what `/metrics` shows, and a dead or black-holed
//! collector changes nothing for clients or for the exit.
//!
//! Each test exports under a `service.name` of its own, so tests never see each other's
//! telemetry in the collector's output.

use crate::live_drift::{TempDir, Wire, credit_profile, credit_rows, model_server, send_rows};
use crate::support::client::{self, get, send};
use crate::support::metrics_text::{Sample, parse, value};
use crate::support::otel_collector::{Collector, attribute, int_attribute, int_field};
use crate::support::proxy_process::{ProxyProcess, run_to_end};
use crate::support::upstream::{Upstream, respond};
use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use hyper::body::Incoming;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// OTLP/JSON span kinds and status codes.
const SERVER: u64 = 2;
const CLIENT: u64 = 3;
const STATUS_ERROR: u64 = 2;

pub(crate) fn service(tag: &str) -> String {
    format!("mw-otlp-{tag}-{}", std::process::id())
}

/// The proxy's environment for exporting to `endpoint` quickly enough for a test.
pub(crate) fn otel_env<'a>(
    service: &'a str,
    endpoint: &'a str,
    protocol: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol),
        ("OTEL_SERVICE_NAME", service),
        ("OTEL_BSP_SCHEDULE_DELAY", "100"),
        ("OTEL_METRIC_EXPORT_INTERVAL", "200"),
    ]
}

/// An upstream answering `status`, remembering the `traceparent` of each request.
async fn recording_upstream(status: u16) -> (Upstream, Arc<Mutex<Vec<String>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    let upstream = Upstream::start(move |req: Request<Incoming>| {
        let traceparent = req
            .headers()
            .get("traceparent")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        record.lock().unwrap().push(traceparent);
        async move { respond(status, r#"{"predictions": [1]}"#) }
    })
    .await;
    (upstream, seen)
}

fn find<'a>(spans: &'a [Value], trace_id: &str, kind: u64) -> Option<&'a Value> {
    spans
        .iter()
        .find(|s| s["traceId"] == trace_id && s["kind"].as_u64() == Some(kind))
}

fn is_error(span: &Value) -> bool {
    span["status"]["code"].as_u64() == Some(STATUS_ERROR)
}

pub(crate) fn string_attribute<'a>(span: &'a Value, key: &str) -> Option<&'a str> {
    attribute(span, key)?.as_str()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_request_continues_the_clients_trace_through_the_proxy_to_the_model_server() {
    let collector = Collector::from_env();
    let service = service("trace");
    let (upstream, seen) = recording_upstream(200).await;
    let proxy = ProxyProcess::start(
        &upstream.url(),
        &otel_env(&service, &collector.http, "http/protobuf"),
    );
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let caller_span = "00f067aa0ba902b7";
    let answer = send(
        &client::http1(),
        Request::post(proxy.url("/v2/models/credit/versions/3/infer?debug=secret"))
            .header("traceparent", format!("00-{trace_id}-{caller_span}-01"))
            .header("user-agent", "credit-client/1.0")
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from_static(b"{\"inputs\": []}")))
            .unwrap(),
    )
    .await;
    assert_eq!(answer.status, 200);

    let spans = collector.wait_for_spans(&service, |spans| {
        find(spans, trace_id, SERVER).is_some() && find(spans, trace_id, CLIENT).is_some()
    });
    let server = find(&spans, trace_id, SERVER).unwrap();
    let client = find(&spans, trace_id, CLIENT).unwrap();
    // The server span continues the caller's trace; the client span is its child.
    assert_eq!(server["parentSpanId"], caller_span, "{server}");
    assert_eq!(client["parentSpanId"], server["spanId"], "{client}");
    assert_eq!(server["name"], "POST");
    assert_eq!(client["name"], "POST");
    // The model server got the client span's context, sampled as the caller asked.
    let client_span = client["spanId"].as_str().unwrap();
    assert_eq!(
        *seen.lock().unwrap(),
        vec![format!("00-{trace_id}-{client_span}-01")]
    );

    for (key, expected) in [
        ("http.request.method", "POST"),
        ("url.path", "/v2/models/credit/versions/3/infer"),
        ("url.scheme", "http"),
        ("server.address", "127.0.0.1"),
        ("network.protocol.version", "1.1"),
        ("client.address", "127.0.0.1"),
        ("user_agent.original", "credit-client/1.0"),
        ("modelwatch.model", "credit"),
        ("modelwatch.model_version", "3"),
    ] {
        assert_eq!(
            string_attribute(server, key),
            Some(expected),
            "{key}: {server}"
        );
    }
    assert_eq!(
        int_attribute(server, "server.port"),
        Some(i64::from(proxy.listen.port()))
    );
    assert_eq!(
        int_attribute(server, "http.response.status_code"),
        Some(200)
    );
    assert!(
        string_attribute(server, "modelwatch.request_id").is_some_and(|id| !id.is_empty()),
        "{server}"
    );
    for (key, expected) in [
        ("http.request.method", "POST"),
        ("server.address", "127.0.0.1"),
        ("network.protocol.version", "1.1"),
    ] {
        assert_eq!(
            string_attribute(client, key),
            Some(expected),
            "{key}: {client}"
        );
    }
    assert_eq!(
        string_attribute(client, "url.full"),
        Some(format!("{}/v2/models/credit/versions/3/infer", upstream.url()).as_str()),
        "the query string is not recorded"
    );
    assert_eq!(
        int_attribute(client, "server.port"),
        Some(i64::from(upstream.addr.port()))
    );
    assert_eq!(
        int_attribute(client, "http.response.status_code"),
        Some(200)
    );
    for span in [server, client] {
        assert_eq!(attribute(span, "error.type"), None, "{span}");
        assert!(!is_error(span), "{span}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_upstream_5xx_marks_both_spans_as_errors_and_a_new_trace_starts_without_traceparent() {
    let collector = Collector::from_env();
    let service = service("errors");
    let (upstream, seen) = recording_upstream(503).await;
    // Over gRPC this time: both protocols reach the collector.
    let proxy = ProxyProcess::start(
        &upstream.url(),
        &otel_env(&service, &collector.grpc, "grpc"),
    );
    let answer = send(
        &client::http1(),
        Request::post(proxy.url("/invocations"))
            .body(Full::new(Bytes::from_static(b"[[1, 2]]")))
            .unwrap(),
    )
    .await;
    assert_eq!(
        answer.status, 503,
        "the client gets the model server's answer"
    );

    // No traceparent from the client: the proxy starts the trace and sends it upstream.
    let sent = seen.lock().unwrap()[0].clone();
    let fields: Vec<&str> = sent.split('-').collect();
    assert_eq!(fields.len(), 4, "{sent}");
    let (trace_id, client_span) = (fields[1].to_string(), fields[2].to_string());
    let spans = collector.wait_for_spans(&service, |spans| {
        find(spans, &trace_id, SERVER).is_some() && find(spans, &trace_id, CLIENT).is_some()
    });
    let server = find(&spans, &trace_id, SERVER).unwrap();
    let client = find(&spans, &trace_id, CLIENT).unwrap();
    assert_eq!(client["spanId"], client_span.as_str());
    assert_eq!(
        server["parentSpanId"].as_str().unwrap_or_default(),
        "",
        "a root span"
    );
    for span in [server, client] {
        assert_eq!(int_attribute(span, "http.response.status_code"), Some(503));
        assert_eq!(string_attribute(span, "error.type"), Some("503"), "{span}");
        assert!(is_error(span), "{span}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_upstream_call_is_an_error_span_named_by_its_reason() {
    let collector = Collector::from_env();
    let service = service("refused");
    let closed = closed_port();
    let proxy = ProxyProcess::start(
        &format!("http://{closed}"),
        &otel_env(&service, &collector.http, "http/protobuf"),
    );
    let trace_id = "0af7651916cd43dd8448eb211c80319c";
    let answer = send(
        &client::http1(),
        Request::get(proxy.url("/v2/models/credit"))
            .header("traceparent", format!("00-{trace_id}-b7ad6b7169203331-01"))
            .body(Full::new(Bytes::new()))
            .unwrap(),
    )
    .await;
    assert_eq!(answer.status, 502);
    let spans = collector.wait_for_spans(&service, |spans| {
        find(spans, trace_id, SERVER).is_some() && find(spans, trace_id, CLIENT).is_some()
    });
    let client = find(&spans, trace_id, CLIENT).unwrap();
    assert_eq!(
        string_attribute(client, "error.type"),
        Some("connect_refused")
    );
    assert!(is_error(client), "{client}");
    assert_eq!(attribute(client, "http.response.status_code"), None);
    let server = find(&spans, trace_id, SERVER).unwrap();
    assert_eq!(
        int_attribute(server, "http.response.status_code"),
        Some(502)
    );
    assert!(is_error(server), "{server}");
}

/// A TCP pass-through on loopback to `backend` (`https://HOST:PORT`) that counts the
/// connections that ended: the refused twin's export attempts, made visible. Bytes pass
/// untouched, so the TLS handshake is the collector's own.
struct Relay {
    endpoint: String,
    ended: Arc<std::sync::atomic::AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Relay {
    async fn start(backend: &str) -> Relay {
        let backend = backend.trim_start_matches("https://").to_string();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("https://{}", listener.local_addr().unwrap());
        let ended = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = ended.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let (backend, count) = (backend.clone(), count.clone());
                tokio::spawn(async move {
                    if let Ok(mut server) = tokio::net::TcpStream::connect(&backend).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                    count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                });
            }
        });
        Relay {
            endpoint,
            ended,
            task,
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts a proxy per environment, sends a request through each, waits until the spans
/// and metrics exported under `delivered`'s service arrive and until `refused`'s proxy has
/// tried to export (its connections to the collector, through a [`Relay`], ended), and then
/// checks that none of `refused`'s telemetry arrived.
async fn only_one_gets_through(
    collector: &Collector,
    protocol: &str,
    delivered: (&str, &[(&str, &str)]),
    refused: (&str, &[(&str, &str)]),
) {
    let (upstream, _seen) = recording_upstream(200).await;
    let endpoint = refused
        .1
        .iter()
        .find(|(k, _)| *k == "OTEL_EXPORTER_OTLP_ENDPOINT")
        .expect("the refused twin has an endpoint")
        .1;
    let relay = Relay::start(endpoint).await;
    let refused_env: Vec<(&str, &str)> = refused
        .1
        .iter()
        .map(|&(k, v)| match k {
            "OTEL_EXPORTER_OTLP_ENDPOINT" => (k, relay.endpoint.as_str()),
            _ => (k, v),
        })
        .collect();
    let proxies = [delivered.1, &refused_env].map(|env| ProxyProcess::start(&upstream.url(), env));
    for proxy in &proxies {
        let answer = send(
            &client::http1(),
            Request::get(proxy.url("/v2/models/credit"))
                .body(Full::new(Bytes::new()))
                .unwrap(),
        )
        .await;
        assert_eq!(answer.status, 200, "{protocol}");
    }
    let spans = collector.wait_for_spans(delivered.0, |spans| spans.len() >= 2);
    assert!(
        spans.iter().any(|s| s["kind"].as_u64() == Some(SERVER)),
        "{protocol}"
    );
    collector.wait_for_metrics(delivered.0, |metrics| !metrics.is_empty());
    // Two export attempts of the refused twin reached the collector and ended (spans and
    // metrics, or metrics twice: one every 200 ms); only then is "nothing arrived" news.
    let deadline = Instant::now() + Duration::from_secs(20);
    while relay.ended.load(std::sync::atomic::Ordering::SeqCst) < 2 {
        assert!(
            Instant::now() < deadline,
            "{protocol}: no export attempt of the refused twin ended (none made, or a handshake \
             that should have failed kept its connection); log:\n{}",
            proxies[1].log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        collector.spans(refused.0),
        Vec::<Value>::new(),
        "{protocol}"
    );
    assert!(collector.latest_metrics(refused.0).is_empty(), "{protocol}");
    for proxy in &proxies {
        assert!(
            proxy.log().contains("exporting over OTLP"),
            "{}",
            proxy.log()
        );
    }
}

/// Over TLS, with the collector's CA named by `OTEL_EXPORTER_OTLP_CERTIFICATE`: spans and
/// metrics arrive, over both protocols. A twin proxy trusting another CA exports nothing.
#[tokio::test(flavor = "multi_thread")]
async fn a_tls_collector_gets_the_telemetry_when_its_ca_is_trusted_and_only_then() {
    let collector = Collector::from_env();
    for (protocol, endpoint) in [
        ("http/protobuf", &collector.https),
        ("grpc", &collector.grpcs),
    ] {
        let tag = protocol.replace('/', "-");
        let (trusted, untrusted) = (
            service(&format!("tls-{tag}")),
            service(&format!("tls-other-{tag}")),
        );
        let mut trusting = otel_env(&trusted, endpoint, protocol);
        trusting.push(("OTEL_EXPORTER_OTLP_CERTIFICATE", &collector.ca_file));
        let mut other = otel_env(&untrusted, endpoint, protocol);
        other.push(("OTEL_EXPORTER_OTLP_CERTIFICATE", &collector.other_ca_file));
        only_one_gets_through(
            &collector,
            protocol,
            (&trusted, &trusting),
            (&untrusted, &other),
        )
        .await;
    }
}

/// A collector that requires a client certificate (mutual TLS) gets the telemetry of a
/// proxy given one by `OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE` / `…_CLIENT_KEY`, over both
/// protocols, and nothing from a twin that trusts the collector but has no certificate.
#[tokio::test(flavor = "multi_thread")]
async fn a_collector_requiring_a_client_certificate_gets_the_telemetry_of_a_proxy_with_one() {
    let collector = Collector::from_env();
    for (protocol, endpoint) in [
        ("http/protobuf", &collector.http_mtls),
        ("grpc", &collector.grpc_mtls),
    ] {
        let tag = protocol.replace('/', "-");
        let (with_cert, without) = (
            service(&format!("mtls-{tag}")),
            service(&format!("mtls-none-{tag}")),
        );
        let mut with_env = otel_env(&with_cert, endpoint, protocol);
        with_env.extend([
            ("OTEL_EXPORTER_OTLP_CERTIFICATE", collector.ca_file.as_str()),
            (
                "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
                &collector.client_cert_file,
            ),
            ("OTEL_EXPORTER_OTLP_CLIENT_KEY", &collector.client_key_file),
        ]);
        let mut without_env = otel_env(&without, endpoint, protocol);
        without_env.push(("OTEL_EXPORTER_OTLP_CERTIFICATE", &collector.ca_file));
        only_one_gets_through(
            &collector,
            protocol,
            (&with_cert, &with_env),
            (&without, &without_env),
        )
        .await;
    }
}

/// A loopback port nobody listens on.
fn closed_port() -> std::net::SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

fn otlp_metric<'a>(metrics: &'a [Value], name: &str) -> Option<&'a Value> {
    metrics.iter().find(|m| m["name"] == name)
}

/// The data point of an OTLP metric whose attributes include all of `labels`.
fn point<'a>(metric: &'a Value, labels: &[(&str, &str)]) -> Option<&'a Value> {
    let data = metric
        .get("sum")
        .or_else(|| metric.get("histogram"))
        .or_else(|| metric.get("gauge"))?;
    data["dataPoints"].as_array()?.iter().find(|p| {
        labels
            .iter()
            .all(|(k, v)| attribute(p, k).and_then(Value::as_str) == Some(*v))
    })
}

fn number(point: &Value) -> f64 {
    point["asDouble"]
        .as_f64()
        .or_else(|| point["asInt"].as_str().and_then(|s| s.parse().ok()))
        .unwrap_or_else(|| panic!("no value in {point}"))
}

async fn scrape(proxy: &ProxyProcess) -> Vec<Sample> {
    parse(
        &get(&client::http1(), &proxy.admin_url("/metrics"))
            .await
            .text(),
    )
}

/// The histogram's cumulative bucket counts, as Prometheus's `le` buckets count them.
fn cumulative(point: &Value) -> Vec<u64> {
    point["bucketCounts"]
        .as_array()
        .unwrap()
        .iter()
        .scan(0, |total, count| {
            *total += int_field(count);
            Some(*total)
        })
        .collect()
}

fn prometheus_buckets(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Vec<u64> {
    let mut buckets: Vec<(f64, u64)> = samples
        .iter()
        .filter(|s| s.name == format!("{name}_bucket"))
        .filter(|s| {
            labels
                .iter()
                .all(|(k, v)| s.labels.iter().any(|(lk, lv)| lk == k && lv == v))
        })
        .map(|s| {
            let le = &s.labels.iter().find(|(k, _)| k == "le").unwrap().1;
            let le = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().unwrap()
            };
            (le, s.value as u64)
        })
        .collect();
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    buckets.into_iter().map(|(_, count)| count).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn otlp_metrics_carry_the_same_values_as_the_metrics_endpoint() {
    let collector = Collector::from_env();
    let service = service("metrics");
    let dir = TempDir::new("otlp-metrics");
    let profile = credit_profile(&dir.0);
    let upstream = model_server(Wire::KServeV1).await;
    let mut env = otel_env(&service, &collector.http, "http/protobuf");
    env.push(("MODELWATCH__MODEL__NAME", "credit"));
    let proxy =
        ProxyProcess::start_with_reference(&upstream.url(), profile.to_str().unwrap(), &[], &env);
    let (features, rows) = credit_rows();
    // 5 requests of 20 rows.
    send_rows(&proxy, Wire::KServeV1, &features, &rows[..100]).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    let samples = loop {
        let samples = scrape(&proxy).await;
        let rows = samples
            .iter()
            .filter(|s| s.name == "modelwatch_rows_total")
            .map(|s| s.value)
            .sum::<f64>();
        if rows == 100.0 {
            break samples;
        }
        assert!(Instant::now() < deadline, "rows analysed: {rows}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let version = samples
        .iter()
        .find(|s| s.name == "modelwatch_rows_total")
        .and_then(|s| s.labels.iter().find(|(k, _)| k == "model_version"))
        .map(|(_, v)| v.clone())
        .unwrap();
    let labels = [("model", "credit"), ("model_version", version.as_str())];

    let metrics = collector.wait_for_metrics(&service, |metrics| {
        otlp_metric(metrics, "modelwatch_rows")
            .and_then(|m| point(m, &labels))
            .is_some_and(|p| number(p) == 100.0)
            && otlp_metric(metrics, "modelwatch_request_duration")
                .and_then(|m| point(m, &labels))
                .is_some_and(|p| int_field(&p["count"]) == 5)
    });
    let requests = otlp_metric(&metrics, "modelwatch_requests").unwrap();
    assert_eq!(requests["unit"], "{request}");
    assert_eq!(requests["sum"]["isMonotonic"], json!(true));
    let ok = [labels[0], labels[1], ("code", "200")];
    assert_eq!(
        number(point(requests, &ok).unwrap()),
        value(&samples, "modelwatch_requests_total", &ok).unwrap()
    );
    assert_eq!(number(point(requests, &ok).unwrap()), 5.0);
    for (otlp, prometheus) in [
        (
            "modelwatch_request_duration",
            "modelwatch_request_duration_seconds",
        ),
        (
            "modelwatch_upstream_duration",
            "modelwatch_upstream_duration_seconds",
        ),
    ] {
        let metric = otlp_metric(&metrics, otlp).unwrap();
        assert_eq!(metric["unit"], "s", "{otlp}");
        let histogram = point(metric, &labels).unwrap();
        assert_eq!(int_field(&histogram["count"]), 5, "{otlp}");
        // The same observations land in the same buckets on both sides.
        assert_eq!(
            cumulative(histogram),
            prometheus_buckets(&samples, prometheus, &labels),
            "{otlp}"
        );
        let sum = value(&samples, &format!("{prometheus}_sum"), &labels).unwrap();
        assert!(
            (histogram["sum"].as_f64().unwrap() - sum).abs() < 1e-9,
            "{otlp}: {histogram} vs {sum}"
        );
    }
    let in_flight = otlp_metric(&metrics, "modelwatch_requests_in_flight").unwrap();
    assert_eq!(
        number(point(in_flight, &[("model", "credit")]).unwrap()),
        0.0
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn upstream_errors_are_counted_over_otlp_by_reason() {
    let collector = Collector::from_env();
    let service = service("upstream-errors");
    let proxy = ProxyProcess::start(
        &format!("http://{}", closed_port()),
        &otel_env(&service, &collector.grpc, "grpc"),
    );
    for _ in 0..2 {
        let answer = get(&client::http1(), &proxy.url("/v2/models/credit/infer")).await;
        assert_eq!(answer.status, 502);
    }
    let refused = [("model", "credit"), ("reason", "connect_refused")];
    let metrics = collector.wait_for_metrics(&service, |metrics| {
        otlp_metric(metrics, "modelwatch_upstream_errors")
            .and_then(|m| point(m, &refused))
            .is_some_and(|p| number(p) == 2.0)
    });
    let requests = otlp_metric(&metrics, "modelwatch_requests").unwrap();
    assert_eq!(
        number(point(requests, &[("model", "credit"), ("code", "502")]).unwrap()),
        2.0
    );
    let samples = scrape(&proxy).await;
    assert_eq!(
        value(&samples, "modelwatch_upstream_errors_total", &refused),
        Some(2.0)
    );
}

/// A collector that accepts connections and never answers: the worst case for an exporter.
fn black_hole() -> (std::net::SocketAddr, std::thread::JoinHandle<()>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let held = std::thread::spawn(move || {
        let mut open = Vec::new();
        // Holds the first connections open, unread, until the test process ends.
        while let Ok((stream, _)) = listener.accept() {
            open.push(stream);
            if open.len() > 64 {
                break;
            }
        }
        std::thread::sleep(Duration::from_secs(3600));
    });
    (addr, held)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dead_or_silent_collector_changes_nothing_for_clients_or_for_the_exit() {
    let (silent, _held) = black_hole();
    let silent = format!("http://{silent}");
    let refused = format!("http://{}", closed_port());
    let upstream = Upstream::echo().await;
    for (endpoint, protocol) in [
        (&refused, "grpc"),
        (&silent, "http/protobuf"),
        (&silent, "grpc"),
    ] {
        let service = service("dead");
        let mut env = otel_env(&service, endpoint, protocol);
        env.push(("MODELWATCH__PROXY__DRAIN_TIMEOUT", "2s"));
        let mut proxy = ProxyProcess::start(&upstream.url(), &env);
        let client = client::http1();
        for i in 0..200 {
            let body = format!("request {i}");
            let answer = send(
                &client,
                Request::post(proxy.url("/v2/models/credit/infer"))
                    .body(Full::new(Bytes::from(body.clone())))
                    .unwrap(),
            )
            .await;
            assert_eq!(answer.status, 200, "{protocol} {endpoint}: request {i}");
            assert_eq!(answer.text(), body);
        }
        // Let the exporters try (and fail) a few times while traffic flows.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let stopping = Instant::now();
        proxy.terminate();
        let status = proxy.wait(Duration::from_secs(10));
        assert_eq!(
            status.and_then(|s| s.code()),
            Some(0),
            "{protocol} {endpoint}: log:\n{}",
            proxy.log()
        );
        // The drain is immediate (nothing in flight); the flush gets at most drain_timeout.
        assert!(
            stopping.elapsed() < Duration::from_secs(4),
            "{protocol} {endpoint}: exit took {:?}; log:\n{}",
            stopping.elapsed(),
            proxy.log()
        );
    }
}

#[test]
fn bad_opentelemetry_settings_exit_2_naming_the_variable() {
    let (code, stderr) = run_to_end(
        &["proxy", "--upstream", "http://127.0.0.1:9"],
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4317"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
            ("OTEL_EXPORTER_OTLP_CERTIFICATE", "/etc/collector-ca.pem"),
        ],
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("OTEL_EXPORTER_OTLP_ENDPOINT"), "{stderr}");
    assert!(stderr.contains("OTEL_EXPORTER_OTLP_PROTOCOL"), "{stderr}");
    assert!(
        stderr.contains("OTEL_EXPORTER_OTLP_CERTIFICATE"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn without_an_endpoint_the_clients_traceparent_passes_through_untouched() {
    let (upstream, seen) = recording_upstream(200).await;
    // OTEL_SDK_DISABLED wins even over an endpoint.
    let proxy = ProxyProcess::start(
        &upstream.url(),
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9"),
            ("OTEL_SDK_DISABLED", "true"),
        ],
    );
    let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let answer = send(
        &client::http1(),
        Request::get(proxy.url("/"))
            .header("traceparent", traceparent)
            .body(Full::new(Bytes::new()))
            .unwrap(),
    )
    .await;
    assert_eq!(answer.status, 200);
    assert_eq!(*seen.lock().unwrap(), vec![traceparent.to_string()]);
    assert!(
        !proxy.log().contains("exporting over OTLP"),
        "{}",
        proxy.log()
    );
}
