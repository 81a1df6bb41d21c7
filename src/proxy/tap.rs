//! The proxy's side of analysis and event export: a bounded copy of both bodies of an
//! exchange, handed to the analysis queue when the response has ended, and the exchange's
//! request event (no bodies) offered to the export queue — by the analysis worker after
//! decoding when analysis is on, else here.
//!
//! Only the data frames already flowing through are copied (a reference-count increment
//! each), nothing waits, and the hand-off is a non-blocking `offer`. The request body ends
//! on the upstream connection's task, the response body on the client's, so the request
//! side leaves its capture in a [`RequestSlot`] for the response side to pick up.

use crate::analysis::queue::AnalysisQueue;
use crate::export::elasticsearch::event::{EventError, RequestRecord};
use crate::export::elasticsearch::queue::ExportQueue;
use crate::export::recording::Recorder;
use crate::proxy::metrics::ClientErrorReason;
use crate::traffic::BodyEnd;
use crate::traffic::capture::{Capture, CapturedBody};
use crate::traffic::exchange::{CapturedMessage, Exchange};
use crate::traffic::identity::ModelLabels;
use crate::traffic::llm::LlmRecord;
use crate::traffic::trace::{TRACEPARENT, trace_id_of};
use bytes::Bytes;
use http::HeaderMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

static INFERENCE_HEADER_LEN: http::HeaderName =
    http::HeaderName::from_static("inference-header-content-length");

/// Where captured exchanges go, and how much of each body is kept (0 when only events are
/// exported: they carry no bodies; the recorder's limit for a call it records).
pub struct Tap {
    pub queue: Option<Arc<AnalysisQueue>>,
    pub export: Option<Arc<ExportQueue>>,
    pub max_body_bytes: usize,
    /// The sidecar's recording of LLM calls (`[export.recording]`).
    pub recorder: Option<Arc<Recorder>>,
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
    /// Set when this call is recorded.
    recorder: Option<Arc<Recorder>>,
    capture: Capture,
    slot: Arc<RequestSlot>,
    request_id: String,
    received_at: SystemTime,
    method: http::Method,
    path: String,
    request_content_type: Option<String>,
    request_inference_header_len: Option<usize>,
    traceparent: Option<http::HeaderValue>,
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
    pub traceparent: Option<http::HeaderValue>,
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
            traceparent: parts.headers.get(&TRACEPARENT).cloned(),
        }
    }
}

/// What a request event needs when the proxy answers the request itself (413, 502, 504):
/// taken before the request is forwarded, only when events are exported. Reference-counted
/// copies only (no allocation): most requests are answered by the upstream and drop it.
pub struct OwnAnswer {
    export: Arc<ExportQueue>,
    received_at: SystemTime,
    method: http::Method,
    uri: http::Uri,
    traceparent: Option<http::HeaderValue>,
}

/// What the proxy answered instead of the upstream.
pub struct OwnAnswerFacts<'a> {
    pub request_id: &'a http::HeaderValue,
    pub labels: &'a ModelLabels,
    pub status: http::StatusCode,
    pub error: EventError,
    pub duration: Duration,
    pub response_bytes: u64,
}

impl OwnAnswer {
    /// Queues the request event of the proxy's own answer.
    pub fn export(self, answer: OwnAnswerFacts<'_>) {
        let mut record = own_record(
            answer.request_id.to_str().unwrap_or_default(),
            answer.labels,
            answer.status,
            answer.error,
        );
        record.received_at = self.received_at;
        record.method = self.method.as_str().to_string();
        record.path = self.uri.path().to_string();
        record.trace_id = self.traceparent.as_ref().and_then(trace_id_of);
        record.duration = answer.duration;
        record.response_bytes = answer.response_bytes;
        self.export.offer_record(record);
    }
}

impl Tap {
    /// For an exported request (POST/PUT, as for every event), what its event needs should
    /// the proxy answer it itself.
    pub fn own_answer(
        &self,
        request: &http::Request<impl Sized>,
        received_at: SystemTime,
    ) -> Option<OwnAnswer> {
        let export = self
            .export
            .as_ref()
            .filter(|_| Tap::wants(request.method()))?;
        Some(OwnAnswer {
            export: export.clone(),
            received_at,
            method: request.method().clone(),
            uri: request.uri().clone(),
            traceparent: request.headers().get(&TRACEPARENT).cloned(),
        })
    }

    /// Exports a request hyper refused before the proxy saw it (its head was too large:
    /// 431). Nothing of the request is known: a fresh request id, no method or path.
    pub fn export_refused_head(&self, labels: &ModelLabels) {
        if let Some(export) = &self.export {
            let request_id = crate::proxy::headers::request_id(&HeaderMap::new());
            export.offer_record(own_record(
                request_id.to_str().unwrap_or_default(),
                labels,
                http::StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                EventError {
                    kind: ClientErrorReason::HeadersTooLarge.as_str(),
                    message: "the request head is larger than proxy.max_header_bytes or has \
                              more than proxy.max_headers fields"
                        .into(),
                },
            ));
        }
    }

    /// Whether this request is worth analysing: inference calls carry a body.
    pub fn wants(method: &http::Method) -> bool {
        matches!(*method, http::Method::POST | http::Method::PUT)
    }

    /// The recorder, when it records this call (the same answer on both sides: it
    /// depends on the path and request id only).
    fn recorder_for(&self, facts: &RequestFacts) -> Option<&Arc<Recorder>> {
        self.recorder
            .as_ref()
            .filter(|r| r.wants(&facts.path, &facts.request_id))
    }

    /// How much of each body of this call is kept.
    fn capture_limit(&self, facts: &RequestFacts) -> usize {
        match self.recorder_for(facts) {
            Some(recorder) => self.max_body_bytes.max(recorder.max_body_bytes),
            None => self.max_body_bytes,
        }
    }

    /// The request side's tap and the slot the response side will read.
    pub fn request(&self, facts: &RequestFacts) -> (RequestTap, Arc<RequestSlot>) {
        let slot = Arc::new(RequestSlot::default());
        (
            RequestTap {
                capture: Capture::new(self.capture_limit(facts)),
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
            recorder: self.recorder_for(&facts).cloned(),
            capture: Capture::new(self.capture_limit(&facts)),
            slot,
            request_id: facts.request_id,
            received_at: facts.received_at,
            method: facts.method,
            path: facts.path,
            request_content_type: facts.content_type,
            request_inference_header_len: facts.inference_header_len,
            traceparent: facts.traceparent,
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
        llm: Option<Box<LlmRecord>>,
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
            response_end: end,
            traceparent: self.traceparent,
            llm,
        };
        if let Some(recorder) = &self.recorder {
            recorder.offer(&exchange);
        }
        match (&self.queue, &self.export) {
            // The analysis worker exports the event once it has decoded the bodies
            // (protocol, rows, captured payload); if the analysis queue cannot take the
            // exchange, the event goes out now without them.
            (Some(queue), Some(export)) => {
                if let Err(exchange) = queue.try_offer(exchange) {
                    export.offer(&exchange);
                }
            }
            (Some(queue), None) => queue.offer(exchange),
            (None, Some(export)) => export.offer(&exchange),
            (None, None) => {}
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

/// A request event for an answer the proxy made, before the request's own facts are added.
fn own_record(
    request_id: &str,
    labels: &ModelLabels,
    status: http::StatusCode,
    error: EventError,
) -> RequestRecord {
    RequestRecord {
        event_id: crate::export::elasticsearch::event::new_event_id(),
        request_id: request_id.to_string(),
        received_at: SystemTime::now(),
        model: labels.model.to_string(),
        model_version: labels.version.to_string(),
        method: String::new(),
        path: String::new(),
        status: status.as_u16(),
        duration: Duration::ZERO,
        upstream_duration: None,
        request_bytes: 0,
        response_bytes: 0,
        trace_id: None,
        error: Some(error),
        response_end: BodyEnd::Complete,
        protocol: None,
        rows: None,
        payload: None,
        llm: None,
    }
}
