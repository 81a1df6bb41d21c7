//! The ECS request event: what one proxied exchange becomes in the data stream, and the
//! [`ExportRecord`] the export queue carries (a request event or a drift snapshot).
//!
//! The proxy queues a [`RequestRecord`] (a few strings and numbers, no bodies); the
//! shipper turns it into the JSON document off the hot path. Drift snapshots and
//! performance documents are rendered by the evaluator ([`RenderedDocument`]). Fields:
//! `docs/events.md`.

use super::capture::CapturedPayload;
use crate::config::elasticsearch::ElasticsearchConfig;
use crate::traffic::BodyEnd;
use crate::traffic::exchange::Exchange;
use crate::traffic::llm::LlmRecord;
use serde_json::{Value, json};
use std::time::{Duration, SystemTime};

/// The ECS version the documents follow.
pub const ECS_VERSION: &str = "8.11.0";
/// `event.dataset`, also the dataset part of the default data stream.
pub const DATASET: &str = "modelwatch.inference";

/// A document rendered when it is queued (a drift snapshot, a performance document), with
/// its deterministic `_id`.
#[derive(Clone, Debug)]
pub struct RenderedDocument {
    pub id: String,
    pub document: Value,
    /// Bytes it holds while queued (its JSON length plus the struct).
    pub footprint: usize,
}

impl RenderedDocument {
    pub fn new(id: String, document: Value) -> Self {
        let footprint = std::mem::size_of::<Self>() + id.len() + document.to_string().len();
        Self {
            id,
            document,
            footprint,
        }
    }
}

/// An ECS metric document of `dataset` at `timestamp` (drift snapshots, performance
/// documents): what they share around their `modelwatch` object.
pub fn metric_envelope(timestamp: &str, dataset: &str, modelwatch: Value) -> Value {
    json!({
        "@timestamp": timestamp,
        "ecs": {"version": ECS_VERSION},
        "event": {"kind": "metric", "dataset": dataset},
        "service": {"name": "modelwatch"},
        "modelwatch": modelwatch,
    })
}

/// One item of the export queue. Every kind shares the queue, its byte budget and the
/// shipper, so one `_bulk` request can carry every data stream.
#[derive(Clone, Debug)]
// Request records are nearly every item: boxing them would cost an allocation per event to
// save bytes only on the rare drift snapshot.
#[allow(clippy::large_enum_variant)]
pub enum ExportRecord {
    /// A proxied request, rendered into its document by the shipper.
    Request(RequestRecord),
    /// A drift snapshot, rendered already by the evaluator thread.
    Drift(RenderedDocument),
    /// A model version's performance at one evaluation, rendered by the evaluator thread.
    Performance(RenderedDocument),
}

/// Which data stream a document goes to. Stored with a document wherever it waits (the
/// stream's name is looked up in the configuration when it is shipped).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DocumentKind {
    /// `export.elasticsearch.data_stream`.
    Request,
    /// `export.elasticsearch.drift_data_stream`.
    Drift,
    /// `export.elasticsearch.performance_data_stream`.
    Performance,
}

impl DocumentKind {
    pub const ALL: [DocumentKind; 3] = [
        DocumentKind::Request,
        DocumentKind::Drift,
        DocumentKind::Performance,
    ];

    /// The `kind` label of `modelwatch_export_events_total`.
    pub fn as_str(self) -> &'static str {
        match self {
            DocumentKind::Request => "request",
            DocumentKind::Drift => "drift",
            DocumentKind::Performance => "performance",
        }
    }

    /// The data stream this kind of document goes to.
    pub fn data_stream(self, config: &ElasticsearchConfig) -> &str {
        match self {
            DocumentKind::Request => &config.data_stream,
            DocumentKind::Drift => &config.drift_data_stream,
            DocumentKind::Performance => &config.performance_data_stream,
        }
    }

    /// A one-byte tag for storage.
    pub fn as_byte(self) -> u8 {
        match self {
            DocumentKind::Request => 0,
            DocumentKind::Drift => 1,
            DocumentKind::Performance => 2,
        }
    }

    pub fn from_byte(byte: u8) -> Option<Self> {
        match byte {
            0 => Some(DocumentKind::Request),
            1 => Some(DocumentKind::Drift),
            2 => Some(DocumentKind::Performance),
            _ => None,
        }
    }
}

/// How many documents of each kind: what one spool write or one shipped batch adds to
/// the counters, so a mixed batch is counted under each document's own `kind`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KindCounts([usize; DocumentKind::ALL.len()]);

impl KindCounts {
    /// Counts each kind the iterator yields.
    pub fn of(kinds: impl IntoIterator<Item = DocumentKind>) -> Self {
        let mut counts = Self::default();
        for kind in kinds {
            counts.push(kind);
        }
        counts
    }

    /// Counts one document of `kind`.
    pub fn push(&mut self, kind: DocumentKind) {
        self.0[usize::from(kind.as_byte())] += 1;
    }

    pub fn get(&self, kind: DocumentKind) -> usize {
        self.0[usize::from(kind.as_byte())]
    }

    /// All kinds together.
    pub fn total(&self) -> usize {
        self.0.iter().sum()
    }
}

impl std::ops::AddAssign for KindCounts {
    fn add_assign(&mut self, other: Self) {
        for (mine, theirs) in self.0.iter_mut().zip(other.0) {
            *mine += theirs;
        }
    }
}

impl std::ops::Add for KindCounts {
    type Output = Self;

    fn add(mut self, other: Self) -> Self {
        self += other;
        self
    }
}

impl ExportRecord {
    /// The data stream this record goes to.
    pub fn kind(&self) -> DocumentKind {
        match self {
            ExportRecord::Request(_) => DocumentKind::Request,
            ExportRecord::Drift(_) => DocumentKind::Drift,
            ExportRecord::Performance(_) => DocumentKind::Performance,
        }
    }

    /// The document `_id`: the request event's own id, or the rendered document's
    /// deterministic id.
    pub fn id(&self) -> &str {
        match self {
            ExportRecord::Request(r) => &r.event_id,
            ExportRecord::Drift(d) | ExportRecord::Performance(d) => &d.id,
        }
    }

    /// Bytes this record holds while queued.
    pub fn footprint(&self) -> usize {
        match self {
            ExportRecord::Request(r) => r.footprint(),
            ExportRecord::Drift(d) | ExportRecord::Performance(d) => d.footprint,
        }
    }

    /// The JSON document.
    pub fn document(&self) -> Value {
        match self {
            ExportRecord::Request(r) => r.document(),
            ExportRecord::Drift(d) | ExportRecord::Performance(d) => d.document.clone(),
        }
    }
}

/// Why a request failed, for `error.type` / `error.message`.
#[derive(Clone, Debug, PartialEq)]
pub struct EventError {
    /// A closed, searchable name: the proxy's counter reason (`connect_refused`, …),
    /// `http_status`, `response_failed` or `client_abandoned`.
    pub kind: &'static str,
    pub message: String,
}

/// What the export queue holds per request: the exchange without its bodies.
#[derive(Clone, Debug)]
pub struct RequestRecord {
    /// The document `_id` and `event.id`: minted by the sidecar for this exchange
    /// ([`new_event_id`]) and stored with the document wherever it waits, so a resend of
    /// this event is a 409 duplicate while two requests are always two documents, whatever
    /// `X-Request-Id` their clients sent.
    pub event_id: String,
    /// `http.request.id`: the `X-Request-Id` the client got back (its own, or generated).
    pub request_id: String,
    pub received_at: SystemTime,
    pub model: String,
    pub model_version: String,
    /// Empty when the request head could not be read (431).
    pub method: String,
    /// The path without the query string (queries may carry secrets); empty when unknown.
    pub path: String,
    pub status: u16,
    pub duration: Duration,
    pub upstream_duration: Option<Duration>,
    pub request_bytes: u64,
    pub response_bytes: u64,
    pub trace_id: Option<String>,
    /// Set when the proxy answered itself; otherwise derived from the status and how the
    /// response ended.
    pub error: Option<EventError>,
    pub response_end: BodyEnd,
    /// The protocol the analysis worker decoded the request with.
    pub protocol: Option<&'static str>,
    /// Rows in the decoded request.
    pub rows: Option<u64>,
    /// The sampled, redacted payload (`[export.elasticsearch.capture]`).
    pub payload: Option<CapturedPayload>,
    /// What the proxy measured of an OpenAI-compatible call (`modelwatch.llm`).
    pub llm: Option<Box<LlmRecord>>,
}

impl RequestRecord {
    pub fn from_exchange(exchange: &Exchange) -> Self {
        Self {
            event_id: new_event_id(),
            request_id: exchange.request_id.clone(),
            received_at: exchange.received_at,
            model: exchange.labels.model.to_string(),
            model_version: exchange.labels.version.to_string(),
            method: exchange.method.as_str().to_string(),
            path: without_query(&exchange.path).to_string(),
            status: exchange.status.as_u16(),
            duration: exchange.duration,
            upstream_duration: exchange.upstream_duration,
            request_bytes: exchange.request.bytes,
            response_bytes: exchange.response.bytes,
            trace_id: exchange
                .traceparent
                .as_ref()
                .and_then(crate::traffic::trace::trace_id_of),
            error: None,
            response_end: exchange.response_end,
            protocol: None,
            rows: None,
            payload: None,
            llm: exchange.llm.clone(),
        }
    }

    /// Bytes this record holds while queued (the queue's budget is in bytes).
    pub fn footprint(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.event_id.len()
            + self.request_id.len()
            + self.model.len()
            + self.model_version.len()
            + self.method.len()
            + self.path.len()
            + self.trace_id.as_ref().map_or(0, String::len)
            + self.error.as_ref().map_or(0, |e| e.message.len())
            + self.payload.as_ref().map_or(0, |p| p.bytes)
            + self.llm.as_ref().map_or(0, |l| l.footprint())
    }

    /// `error.*` of the document: the proxy's own, else the upstream's failure status, else
    /// a response body that did not reach the client whole.
    pub fn effective_error(&self) -> Option<EventError> {
        if let Some(error) = &self.error {
            return Some(error.clone());
        }
        if self.status >= 400 {
            let status = http::StatusCode::from_u16(self.status).ok();
            return Some(EventError {
                kind: "http_status",
                message: format!(
                    "the model server answered {} {}",
                    self.status,
                    status
                        .and_then(|s| s.canonical_reason())
                        .unwrap_or_default()
                )
                .trim_end()
                .to_string(),
            });
        }
        match self.response_end {
            BodyEnd::Complete => None,
            BodyEnd::Failed => Some(EventError {
                kind: "response_failed",
                message: "the model server's response body failed before its end".into(),
            }),
            BodyEnd::Abandoned => Some(EventError {
                kind: "client_abandoned",
                message: "the client went away before the whole response was sent".into(),
            }),
        }
    }

    /// The ECS document.
    pub fn document(&self) -> Value {
        let error = self.effective_error();
        let outcome = if error.is_none() {
            "success"
        } else {
            "failure"
        };
        let mut modelwatch = json!({
            "model": self.model,
            "model_version": self.model_version,
        });
        if let Some(upstream) = self.upstream_duration {
            modelwatch["upstream_duration_ms"] = json!(upstream.as_secs_f64() * 1000.0);
        }
        // The worker's protocol, else the route's (failed and undecoded requests too).
        if let Some(protocol) = self
            .protocol
            .or_else(|| crate::protocol::detect(&self.path, None, &[]).map(|p| p.as_str()))
        {
            modelwatch["protocol"] = json!(protocol);
        }
        if let Some(rows) = self.rows {
            modelwatch["rows"] = json!(rows);
        }
        if let Some(payload) = &self.payload {
            if let Some(features) = &payload.features {
                modelwatch["features"] = features.clone();
            }
            if let Some(predictions) = &payload.predictions {
                modelwatch["predictions"] = predictions.clone();
            }
            modelwatch["capture"] = json!({"rows": payload.rows, "truncated": payload.truncated});
        }
        if let Some(llm) = &self.llm {
            modelwatch["llm"] = llm_document(llm);
        }
        let mut request = json!({"id": self.request_id, "body": {"bytes": self.request_bytes}});
        if !self.method.is_empty() {
            request["method"] = json!(self.method);
        }
        let mut document = json!({
            "@timestamp": humantime::format_rfc3339_millis(self.received_at).to_string(),
            "ecs": {"version": ECS_VERSION},
            "event": {
                "kind": "event",
                "category": ["web"],
                "type": ["access"],
                "outcome": outcome,
                "duration": u64::try_from(self.duration.as_nanos()).unwrap_or(u64::MAX),
                "dataset": DATASET,
                "id": self.event_id,
            },
            "http": {
                "request": request,
                "response": {"status_code": self.status, "body": {"bytes": self.response_bytes}},
            },
            "service": {"name": "modelwatch"},
            "modelwatch": modelwatch,
        });
        if !self.path.is_empty() {
            document["url"] = json!({"path": self.path});
        }
        if let Some(trace_id) = &self.trace_id {
            document["trace"] = json!({"id": trace_id});
        }
        if let Some(error) = error {
            document["error"] = json!({"type": error.kind, "message": error.message});
        }
        document
    }
}

/// `modelwatch.llm` of an OpenAI-compatible call: what was not measured is left out.
fn llm_document(llm: &LlmRecord) -> Value {
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let mut doc = json!({"operation": llm.operation, "stream": llm.stream});
    let mut set = |key: &str, value: Option<Value>| {
        if let Some(value) = value {
            doc[key] = value;
        }
    };
    set(
        "request_model",
        llm.request_model.as_ref().map(|m| json!(m)),
    );
    set(
        "response_model",
        llm.response_model.as_ref().map(|m| json!(m)),
    );
    set("max_tokens", llm.max_tokens.map(|t| json!(t)));
    set("temperature", llm.temperature.map(|t| json!(t)));
    if !llm.finish_reasons.is_empty() {
        set("finish_reasons", Some(json!(llm.finish_reasons)));
    }
    set(
        "time_to_first_token_ms",
        llm.time_to_first_token.map(|t| json!(ms(t))),
    );
    set(
        "inter_token_ms",
        llm.inter_token.map(|g| {
            json!({"count": g.count, "mean": ms(g.mean), "p50": ms(g.p50), "p95": ms(g.p95), "max": ms(g.max)})
        }),
    );
    set(
        "output_tokens_per_second",
        llm.output_tokens_per_second.map(|r| json!(r)),
    );
    if let Some(source) = llm.token_source {
        let mut tokens = json!({"source": source.as_str()});
        for (key, value) in [
            ("input", llm.input_tokens),
            ("output", llm.output_tokens),
            ("total", llm.total_tokens),
        ] {
            if let Some(value) = value {
                tokens[key] = json!(value);
            }
        }
        set("tokens", Some(tokens));
    }
    if let Some(text) = &llm.text {
        set("prompt", text.prompt.as_ref().map(|t| json!(t)));
        set("completion", text.completion.as_ref().map(|t| json!(t)));
        set("text_truncated", Some(json!(text.truncated)));
    }
    doc
}

/// A fresh event id: a UUID v7 (time-ordered, like the request ids the proxy generates, so
/// ids sort by arrival).
pub fn new_event_id() -> String {
    uuid::Uuid::now_v7().hyphenated().to_string()
}

/// The path without its query string.
pub fn without_query(path: &str) -> &str {
    path.split('?').next().unwrap_or_default()
}
