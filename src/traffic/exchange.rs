//! One finished request/response exchange, as the proxy hands it to analysis and export.

use super::capture::CapturedBody;
use super::identity::ModelLabels;
use super::llm::LlmRecord;
use std::time::{Duration, SystemTime};

/// How a body stream ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyEnd {
    /// Every byte was delivered.
    Complete,
    /// The stream returned an error (the peer reset, a limit was hit).
    Failed,
    /// The body was dropped before its end (the client went away).
    Abandoned,
}

/// Everything analysis (and, later, event export) needs to know about one exchange.
#[derive(Debug, Clone)]
pub struct Exchange {
    /// The `X-Request-Id` the client got back.
    pub request_id: String,
    /// When the request head arrived.
    pub received_at: SystemTime,
    pub labels: ModelLabels,
    pub method: http::Method,
    /// Path and query as the client sent them.
    pub path: String,
    pub status: http::StatusCode,
    /// Head in to last byte out.
    pub duration: Duration,
    /// Forward to upstream response head; `None` when the upstream never answered.
    pub upstream_duration: Option<Duration>,
    pub request: CapturedMessage,
    pub response: CapturedMessage,
    /// How the response body to the client ended (complete, failed, abandoned).
    pub response_end: BodyEnd,
    /// The client's `traceparent` header, as sent (parsed when the event is built).
    pub traceparent: Option<http::HeaderValue>,
    /// What the proxy measured of an OpenAI-compatible call; `None` for other requests.
    pub llm: Option<Box<LlmRecord>>,
}

/// One side of the exchange.
#[derive(Debug, Clone)]
pub struct CapturedMessage {
    pub content_type: Option<String>,
    /// `Inference-Header-Content-Length` (Open Inference Protocol binary extension).
    pub inference_header_len: Option<usize>,
    /// Bytes that went through, whether or not they were captured.
    pub bytes: u64,
    pub body: CapturedBody,
}

impl CapturedMessage {
    /// The size accounted against the queue's byte budget.
    pub fn captured_len(&self) -> usize {
        match &self.body {
            CapturedBody::Complete(b) => b.len(),
            _ => 0,
        }
    }
}

impl Exchange {
    /// Bytes this exchange holds in memory while queued.
    pub fn footprint(&self) -> usize {
        std::mem::size_of::<Exchange>()
            + self.request_id.len()
            + self.path.len()
            + self.traceparent.as_ref().map_or(0, |v| v.len())
            + self.request.captured_len()
            + self.response.captured_len()
            + self.llm.as_ref().map_or(0, |l| l.footprint())
    }
}
