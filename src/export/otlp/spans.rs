//! The spans of one proxied request, following the OpenTelemetry HTTP semantic conventions:
//! a SERVER span from the request head to the last response byte, and a CLIENT span from
//! forwarding to the upstream's response head (the interval `modelwatch_upstream_duration`
//! measures).
//!
//! The server span continues the client's `traceparent` when it sends a valid one; the
//! client span is its child, and its context replaces `traceparent` (and `tracestate`) on
//! the request sent upstream, so the model server's own spans hang under the proxy's.
//! Names are the method (`POST`), as the conventions ask when no route template is known;
//! the path is in `url.path`. The query string is never recorded: it can carry secrets.
//!
//! The server span of an OpenAI-compatible call also carries the `gen_ai.*` attributes of
//! the generative-AI semantic conventions ([`gen_ai`]), set when the answer has ended.

use super::Otlp;
use crate::traffic::identity::ModelLabels;
use crate::traffic::llm::LlmRecord;
use http::{Method, StatusCode, Version};
use opentelemetry::propagation::TextMapPropagator as _;
use opentelemetry::trace::{SpanKind, Status, TraceContextExt as _, Tracer as _};
use opentelemetry::{Context, KeyValue};
use opentelemetry_http::{HeaderExtractor, HeaderInjector};
use opentelemetry_semantic_conventions::attribute::{
    CLIENT_ADDRESS, ERROR_TYPE, HTTP_REQUEST_METHOD, HTTP_REQUEST_METHOD_ORIGINAL,
    HTTP_RESPONSE_STATUS_CODE, NETWORK_PROTOCOL_VERSION, SERVER_ADDRESS, SERVER_PORT, URL_FULL,
    URL_PATH, URL_SCHEME, USER_AGENT_ORIGINAL,
};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

/// `modelwatch.model` / `modelwatch.model_version`: the request's labels, as on `/metrics`.
pub const MODEL: &str = "modelwatch.model";
pub const MODEL_VERSION: &str = "modelwatch.model_version";
/// `modelwatch.request_id`: the `X-Request-Id` the client got back.
pub const REQUEST_ID: &str = "modelwatch.request_id";

/// One request's telemetry, from its head to its last response byte.
pub struct RequestTelemetry {
    otlp: Arc<Otlp>,
    /// The server span, in a context of its own; `None` when traces are off.
    server: Option<Context>,
}

/// The upstream call of one request.
pub struct UpstreamCall {
    otlp: Arc<Otlp>,
    /// The client span; `None` when traces are off.
    client: Option<Context>,
}

impl Otlp {
    /// Starts the telemetry of a request whose head just arrived from `client`.
    pub fn request<B>(
        self: &Arc<Self>,
        request: &http::Request<B>,
        client: IpAddr,
        request_id: &http::HeaderValue,
    ) -> RequestTelemetry {
        let server = self.tracer.as_ref().map(|tracer| {
            let (method, uri, version, headers) = (
                request.method(),
                request.uri(),
                request.version(),
                request.headers(),
            );
            let parent = self.propagator.extract(&HeaderExtractor(headers));
            let known = known_method(method);
            let mut attributes = method_attributes(method, known);
            attributes.push(KeyValue::new(URL_PATH, uri.path().to_string()));
            attributes.push(KeyValue::new(URL_SCHEME, "http"));
            let authority = uri
                .authority()
                .map(|a| a.as_str())
                .or_else(|| headers.get(http::header::HOST)?.to_str().ok());
            if let Some(authority) = authority.and_then(|a| a.parse::<http::uri::Authority>().ok())
            {
                attributes.push(KeyValue::new(SERVER_ADDRESS, authority.host().to_string()));
                if let Some(port) = authority.port_u16() {
                    attributes.push(KeyValue::new(SERVER_PORT, i64::from(port)));
                }
            }
            attributes.push(KeyValue::new(
                NETWORK_PROTOCOL_VERSION,
                protocol_version(version),
            ));
            attributes.push(KeyValue::new(CLIENT_ADDRESS, client.to_string()));
            if let Some(agent) = headers
                .get(http::header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
            {
                attributes.push(KeyValue::new(USER_AGENT_ORIGINAL, agent.to_string()));
            }
            if let Ok(id) = request_id.to_str() {
                attributes.push(KeyValue::new(REQUEST_ID, id.to_string()));
            }
            let span = tracer
                .span_builder(known.unwrap_or("HTTP"))
                .with_kind(SpanKind::Server)
                .with_attributes(attributes)
                .start_with_context(tracer, &parent);
            Context::new().with_span(span)
        });
        RequestTelemetry {
            otlp: self.clone(),
            server,
        }
    }
}

impl RequestTelemetry {
    /// Starts the client span for the request about to go upstream and writes its
    /// `traceparent` into `parts` (whose URI and version are the upstream's by now).
    pub fn upstream_call(&self, parts: &mut http::request::Parts) -> UpstreamCall {
        let client = self
            .server
            .as_ref()
            .zip(self.otlp.tracer.as_ref())
            .map(|(server, tracer)| {
                let method = known_method(&parts.method);
                let mut attributes = method_attributes(&parts.method, method);
                if let Some(authority) = parts.uri.authority() {
                    attributes.push(KeyValue::new(SERVER_ADDRESS, authority.host().to_string()));
                    if let Some(port) = authority.port_u16() {
                        attributes.push(KeyValue::new(SERVER_PORT, i64::from(port)));
                    }
                    attributes.push(KeyValue::new(
                        URL_FULL,
                        format!("http://{authority}{}", parts.uri.path()),
                    ));
                }
                attributes.push(KeyValue::new(
                    NETWORK_PROTOCOL_VERSION,
                    protocol_version(parts.version),
                ));
                let span = tracer
                    .span_builder(method.unwrap_or("HTTP"))
                    .with_kind(SpanKind::Client)
                    .with_attributes(attributes)
                    .start_with_context(tracer, server);
                let context = Context::new().with_span(span);
                self.otlp
                    .propagator
                    .inject_context(&context, &mut HeaderInjector(&mut parts.headers));
                context
            });
        UpstreamCall {
            otlp: self.otlp.clone(),
            client,
        }
    }

    /// Ends the request: the server span gets the status the client received (5xx marks
    /// it an error), the model labels and, for an LLM call, its `gen_ai.*` attributes; the
    /// request duration is recorded.
    pub fn finish(
        self,
        status: StatusCode,
        duration: Duration,
        labels: &ModelLabels,
        llm: Option<&LlmRecord>,
    ) {
        if let Some(instruments) = &self.otlp.instruments {
            instruments
                .request_duration
                .record(duration.as_secs_f64(), &label_attributes(labels));
            if let Some(llm) = llm {
                instruments.gen_ai.record(llm, status, duration);
            }
        }
        let Some(server) = self.server else { return };
        let span = server.span();
        span.set_attribute(KeyValue::new(
            HTTP_RESPONSE_STATUS_CODE,
            i64::from(status.as_u16()),
        ));
        span.set_attribute(KeyValue::new(MODEL, labels.model.clone()));
        span.set_attribute(KeyValue::new(MODEL_VERSION, labels.version.clone()));
        if let Some(llm) = llm {
            span.set_attributes(gen_ai::attributes(llm));
        }
        // For a server, only 5xx is its own failure; a 4xx is the client's.
        if status.is_server_error() {
            span.set_attribute(KeyValue::new(ERROR_TYPE, status.as_str().to_string()));
            span.set_status(Status::error(""));
        }
        span.end();
    }
}

impl UpstreamCall {
    /// Ends the upstream call: `Ok` with the status of the upstream's response head, or
    /// `Err` with the reason the proxy counts (`connect_refused`, `response_timeout`, …).
    /// The upstream duration is recorded for calls that got a response, as on `/metrics`.
    pub fn finish(
        self,
        outcome: Result<StatusCode, &'static str>,
        duration: Duration,
        labels: &ModelLabels,
    ) {
        if let (Some(instruments), Ok(_)) = (&self.otlp.instruments, &outcome) {
            instruments
                .upstream_duration
                .record(duration.as_secs_f64(), &label_attributes(labels));
        }
        let Some(client) = self.client else { return };
        let span = client.span();
        match outcome {
            Ok(status) => {
                span.set_attribute(KeyValue::new(
                    HTTP_RESPONSE_STATUS_CODE,
                    i64::from(status.as_u16()),
                ));
                // For a client, any 4xx or 5xx answer is a failed call.
                if status.is_client_error() || status.is_server_error() {
                    span.set_attribute(KeyValue::new(ERROR_TYPE, status.as_str().to_string()));
                    span.set_status(Status::error(""));
                }
            }
            Err(reason) => {
                span.set_attribute(KeyValue::new(ERROR_TYPE, reason));
                span.set_status(Status::error(reason));
            }
        }
        span.end();
    }
}

pub mod gen_ai;

fn label_attributes(labels: &ModelLabels) -> [KeyValue; 2] {
    [
        KeyValue::new("model", labels.model.clone()),
        KeyValue::new("model_version", labels.version.clone()),
    ]
}

/// The method as the conventions spell it, or `None` for a method outside the HTTP RFCs
/// (recorded as `_OTHER`, with the original beside it).
fn known_method(method: &Method) -> Option<&'static str> {
    Some(match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => return None,
    })
}

fn method_attributes(method: &Method, known: Option<&'static str>) -> Vec<KeyValue> {
    let mut attributes = Vec::with_capacity(10);
    attributes.push(KeyValue::new(
        HTTP_REQUEST_METHOD,
        known.unwrap_or("_OTHER"),
    ));
    if known.is_none() {
        attributes.push(KeyValue::new(
            HTTP_REQUEST_METHOD_ORIGINAL,
            method.as_str().to_string(),
        ));
    }
    attributes
}

fn protocol_version(version: Version) -> &'static str {
    match version {
        Version::HTTP_09 => "0.9",
        Version::HTTP_10 => "1.0",
        Version::HTTP_2 => "2",
        Version::HTTP_3 => "3",
        _ => "1.1",
    }
}
