//! The proxy's side of analysis and event export: a bounded copy of both bodies of an
//! exchange, handed to the analysis queue when the response has ended, and the exchange's
//! request event (no bodies) offered to the export queue.
//!
//! Only the data frames already flowing through are copied (a reference-count increment
//! each), nothing waits, and the hand-off is a non-blocking `offer`. The request body ends
//! on the upstream connection's task, the response body on the client's, so the request
//! side leaves its capture in a [`RequestSlot`] for the response side to pick up.

use crate::analysis::capture::{Capture, CapturedBody};
use crate::analysis::exchange::{CapturedMessage, Exchange};
use crate::analysis::queue::AnalysisQueue;
use crate::export::elasticsearch::queue::ExportQueue;
use crate::proxy::body::BodyEnd;
use crate::proxy::identity::ModelLabels;
use bytes::Bytes;
use http::HeaderMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

static INFERENCE_HEADER_LEN: http::HeaderName =
    http::HeaderName::from_static("inference-header-content-length");

/// Where captured exchanges go, and how much of each body is kept (0 when only events are
/// exported: they carry no bodies).
pub struct Tap {
    pub queue: Option<Arc<AnalysisQueue>>,
    pub export: Option<Arc<ExportQueue>>,
    pub max_body_bytes: usize,
}

/// The request body's capture, once that body has ended.
#[derive(Default)]
pub struct RequestSlot(Mutex<Option<(u64, CapturedBody)>>);

/// Captures the request body on its way to the upstream.
pub struct RequestTap {
    capture: Capture,
    slot: Arc<RequestSlot>,
}

/// Captures the response body and sends the exchange when it ends.
pub struct ResponseTap {
    queue: Option<Arc<AnalysisQueue>>,
    export: Option<Arc<ExportQueue>>,
    capture: Capture,
    slot: Arc<RequestSlot>,
    request_id: String,
    received_at: SystemTime,
    method: http::Method,
    path: String,
    request_content_type: Option<String>,
    request_inference_header_len: Option<usize>,
    response_content_type: Option<String>,
    response_inference_header_len: Option<usize>,
    upstream_duration: Duration,
}

/// What the request side records before the upstream answers.
pub struct RequestFacts {
    pub request_id: String,
    pub received_at: SystemTime,
    pub method: http::Method,
    pub path: String,
    pub content_type: Option<String>,
    pub inference_header_len: Option<usize>,
}

impl RequestFacts {
    pub fn new(
        request_id: &http::HeaderValue,
        received_at: SystemTime,
        parts: &http::request::Parts,
    ) -> Self {
        Self {
            request_id: request_id.to_str().unwrap_or_default().to_string(),
            received_at,
            method: parts.method.clone(),
            path: parts.uri.path_and_query().map_or_else(
                || parts.uri.path().to_string(),
                |pq| pq.as_str().to_string(),
            ),
            content_type: content_type(&parts.headers),
            inference_header_len: inference_header_len(&parts.headers),
        }
    }
}

impl Tap {
    /// Whether this request is worth analysing: inference calls carry a body.
    pub fn wants(method: &http::Method) -> bool {
        matches!(*method, http::Method::POST | http::Method::PUT)
    }

    /// The request side's tap and the slot the response side will read.
    pub fn request(&self) -> (RequestTap, Arc<RequestSlot>) {
        let slot = Arc::new(RequestSlot::default());
        (
            RequestTap {
                capture: Capture::new(self.max_body_bytes),
                slot: slot.clone(),
            },
            slot,
        )
    }

    /// The response side's tap.
    pub fn response(
        &self,
        facts: RequestFacts,
        slot: Arc<RequestSlot>,
        response_headers: &HeaderMap,
        upstream_duration: Duration,
    ) -> ResponseTap {
        ResponseTap {
            queue: self.queue.clone(),
            export: self.export.clone(),
            capture: Capture::new(self.max_body_bytes),
            slot,
            request_id: facts.request_id,
            received_at: facts.received_at,
            method: facts.method,
            path: facts.path,
            request_content_type: facts.content_type,
            request_inference_header_len: facts.inference_header_len,
            response_content_type: content_type(response_headers),
            response_inference_header_len: inference_header_len(response_headers),
            upstream_duration,
        }
    }
}

impl RequestTap {
    pub fn on_data(&mut self, data: &Bytes) {
        self.capture.push(data);
    }

    pub fn on_end(self, bytes: u64, end: BodyEnd) {
        let body = self.capture.finish(end == BodyEnd::Complete);
        *self.slot.0.lock().expect("request slot poisoned") = Some((bytes, body));
    }
}

impl ResponseTap {
    pub fn on_data(&mut self, data: &Bytes) {
        self.capture.push(data);
    }

    /// Builds the exchange and offers it to the export and analysis queues.
    pub fn on_end(
        self,
        labels: ModelLabels,
        status: http::StatusCode,
        duration: Duration,
        bytes: u64,
        end: BodyEnd,
    ) {
        let (request_bytes, request_body) = self
            .slot
            .0
            .lock()
            .expect("request slot poisoned")
            .take()
            // The upstream answered before reading the whole request: nothing to analyse.
            .unwrap_or((0, CapturedBody::Incomplete));
        let exchange = Exchange {
            request_id: self.request_id,
            received_at: self.received_at,
            labels,
            method: self.method,
            path: self.path,
            status,
            duration,
            upstream_duration: Some(self.upstream_duration),
            request: CapturedMessage {
                content_type: self.request_content_type,
                inference_header_len: self.request_inference_header_len,
                bytes: request_bytes,
                body: request_body,
            },
            response: CapturedMessage {
                content_type: self.response_content_type,
                inference_header_len: self.response_inference_header_len,
                bytes,
                body: self.capture.finish(end == BodyEnd::Complete),
            },
        };
        if let Some(export) = &self.export {
            export.offer(&exchange);
        }
        if let Some(queue) = &self.queue {
            queue.offer(exchange);
        }
    }
}

fn content_type(headers: &HeaderMap) -> Option<String> {
    headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

fn inference_header_len(headers: &HeaderMap) -> Option<usize> {
    headers
        .get(&INFERENCE_HEADER_LEN)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}
