//! Real request events for the saved objects to find: a model server stand-in whose answer
//! each request id chooses (status, delay, which model version answered), the real
//! `modelwatch proxy` in front of it exporting to the real OpenSearch node, and the
//! cluster calls the tests make.

use crate::export_elasticsearch::{cluster, wait_for_count};
use crate::support::client::{self, send};
use crate::support::proxy_process::ProxyProcess;
use crate::support::upstream::{Upstream, full};
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use serde_json::Value;
use std::time::Duration;

/// How long the slow requests take at the model server: above the saved search's 500 ms.
pub const SLOW: Duration = Duration::from_millis(700);
/// The sidecar's response timeout in these tests: it answers 504 itself after this.
pub const RESPONSE_TIMEOUT: &str = "1s";
/// How long a hanging request waits at the model server: beyond the response timeout.
const HANG: Duration = Duration::from_secs(3);

/// How long the model server takes to answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delay {
    Fast,
    /// [`SLOW`], then the answer.
    Slow,
    /// Longer than the sidecar waits: the client gets the sidecar's own 504.
    Hang,
}

impl Delay {
    fn word(self) -> &'static str {
        match self {
            Delay::Fast => "fast",
            Delay::Slow => "slow",
            Delay::Hang => "hang",
        }
    }
}

/// One request the test sends.
#[derive(Clone, Debug)]
pub struct Planned {
    pub id: String,
    pub model: &'static str,
    /// The version the model server says answered (`X-Model-Version`, as `modelwatch
    /// serve` does), which the sidecar records; `unknown` when it never answered.
    pub version: &'static str,
    /// The status the client gets.
    pub status: u16,
    pub delay: Delay,
}

impl Planned {
    /// The request id carries the answer, so the stand-in needs no shared state.
    fn new(
        n: usize,
        model: &'static str,
        version: &'static str,
        status: u16,
        delay: Delay,
    ) -> Self {
        let id = format!(
            "kb-{n}-{model}-v{version}-s{status}-{}-p{}",
            delay.word(),
            std::process::id()
        );
        Planned {
            id,
            model,
            version,
            status,
            delay,
        }
    }

    /// Slower than the slow-request search's threshold end to end.
    pub fn slow(&self) -> bool {
        self.delay != Delay::Fast
    }
}

/// The traffic: credit versions 1 and 2, a second model, server errors (500, 503, and the
/// sidecar's own 504), a client error (400, not a server error), slow requests (on
/// version 2, and the 504).
pub fn plan() -> Vec<Planned> {
    let mut plan = Vec::new();
    let mut add = |model, version, status, delay, times: usize| {
        for _ in 0..times {
            let n = plan.len();
            plan.push(Planned::new(n, model, version, status, delay));
        }
    };
    add("credit", "1", 200, Delay::Fast, 8);
    add("credit", "1", 500, Delay::Fast, 2);
    add("credit", "1", 400, Delay::Fast, 1);
    add("credit", "2", 200, Delay::Fast, 3);
    add("credit", "2", 200, Delay::Slow, 3);
    add("credit", "2", 503, Delay::Fast, 1);
    add("credit", "unknown", 504, Delay::Hang, 1);
    add("fraud", "1", 200, Delay::Fast, 2);
    add("fraud", "1", 500, Delay::Fast, 1);
    plan
}

/// A model server that answers as the request id says.
pub async fn model_server() -> Upstream {
    Upstream::start(|req: Request<Incoming>| async move {
        let id = req
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let field = |prefix: char| {
            id.split('-')
                .find_map(|part| part.strip_prefix(prefix).filter(|rest| !rest.is_empty()))
                .unwrap_or("")
                .to_string()
        };
        if id.contains("-slow-") {
            tokio::time::sleep(SLOW).await;
        } else if id.contains("-hang-") {
            tokio::time::sleep(HANG).await;
        }
        let status: u16 = field('s').parse().unwrap_or(200);
        Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .header("x-model-version", field('v'))
            .body(full(r#"{"outputs":[]}"#))
            .unwrap()
    })
    .await
}

/// Sends every planned request (Open Inference Protocol, no version in the URL) and waits
/// until the sidecar reports all of them delivered.
pub async fn send_all(proxy: &ProxyProcess, plan: &[Planned]) {
    for planned in plan {
        let request = Request::post(proxy.url(&format!("/v2/models/{}/infer", planned.model)))
            .header("content-type", "application/json")
            .header("x-request-id", &planned.id)
            .body(Full::new(Bytes::from_static(br#"{"inputs":[]}"#)))
            .unwrap();
        let answer = send(&client::http1(), request).await;
        assert_eq!(
            answer.status.as_u16(),
            planned.status,
            "{}: {}",
            planned.id,
            answer.text()
        );
    }
    wait_for_count(proxy, "delivered", plan.len() as f64).await;
}

/// `POST /<index>/_search` after a refresh, asserting success.
pub async fn search(index: &str, body: Value) -> Value {
    let (status, _) = cluster(http::Method::POST, &format!("/{index}/_refresh"), None).await;
    assert_eq!(status, 200, "refresh {index}");
    let (status, found) = cluster(
        http::Method::POST,
        &format!("/{index}/_search"),
        Some(body.clone()),
    )
    .await;
    assert_eq!(status, 200, "the node refused the search {body}: {found}");
    found
}

/// `_field_caps` of `index` for these fields: field → (type, searchable, aggregatable).
pub async fn field_caps(index: &str, fields: &[String]) -> Vec<(String, String, bool, bool)> {
    let (status, caps) = cluster(
        http::Method::GET,
        &format!("/{index}/_field_caps?fields={}", fields.join(",")),
        None,
    )
    .await;
    assert_eq!(status, 200, "{caps}");
    let mut out = Vec::new();
    for (field, types) in caps["fields"].as_object().into_iter().flatten() {
        for (es_type, cap) in types.as_object().into_iter().flatten() {
            out.push((
                field.clone(),
                es_type.clone(),
                cap["searchable"] == true,
                cap["aggregatable"] == true,
            ));
        }
    }
    out
}
