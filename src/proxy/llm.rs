//! LLM latency and usage from OpenAI-compatible traffic, measured as it streams through.
//!
//! The request side keeps a bounded copy of the request body (reference-counted frames)
//! and, once the upstream has read it, learns the model and streaming options
//! ([`openai::decode_request`]). The response side watches each data frame as it is handed
//! to the client: a `text/event-stream` answer goes through an incremental
//! [`SseParser`], and the first chunk that carries output is the first token — timed when
//! it passes to the client, so the figure is the one the client sees. Frames are only
//! looked at, never held: the stream reaches the client exactly as the model sends it.
//!
//! Names mirror the OpenTelemetry generative-AI semantic conventions:
//! `modelwatch_llm_time_to_first_token_seconds` (`gen_ai.server.time_to_first_token`),
//! `modelwatch_llm_time_per_output_token_seconds` (`gen_ai.server.time_per_output_token`;
//! one value per request: the mean gap between output chunks after the first),
//! `modelwatch_llm_token_usage_tokens{token_type="input"|"output"}`
//! (`gen_ai.client.token.usage`), `modelwatch_llm_request_duration_seconds`
//! (`gen_ai.server.request.duration`), with `operation` = `gen_ai.operation.name`.
//! Token counts come from the answer's `usage` (`source="usage"`); a stream without usage
//! has its output counted as one token per output chunk (`source="chunks"`, what
//! llama.cpp and vLLM send; an approximation elsewhere).

use crate::export::elasticsearch::capture::CapturePolicy;
use crate::protocol::openai::{self, Endpoint, LlmRequest};
use crate::protocol::sse::{SseEvent, SseParser};
use crate::traffic::BodyEnd;
use crate::traffic::capture::{Capture, CapturedBody};
use crate::traffic::identity::LabelInterner;
use crate::traffic::llm::{GapSummary, LlmRecord, TokenSource};
use bytes::Bytes;
use prometheus::{
    HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
};
use seen::Seen;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::export::prometheus::LATENCY_BUCKETS;

/// The most of a request body kept to read its model and options (prompts can be long;
/// past this the model is taken from the answer instead).
pub const MAX_REQUEST_CAPTURE: usize = 1 << 20;
/// The largest single server-sent event read; a larger one is skipped, not buffered.
pub const MAX_EVENT_BYTES: usize = 1 << 20;

/// Token count buckets: 1 to 64Ki by powers of four (OpenTelemetry's advice for
/// `gen_ai.client.token.usage` goes to 64Mi; contexts beyond 64Ki land in +Inf).
const TOKEN_BUCKETS: &[f64] = &[
    1.0, 4.0, 16.0, 64.0, 256.0, 1024.0, 4096.0, 16384.0, 65536.0,
];
/// Seconds per output token: 1 ms to 2.5 s, as the semantic conventions advise.
const TOKEN_GAP_BUCKETS: &[f64] = &[
    0.001, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5,
];
/// Output tokens per second: 1 to 2,000.
const RATE_BUCKETS: &[f64] = &[
    1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0,
];

/// Every LLM metric the proxy records, labelled by the model the request names and the
/// operation. Model names go through the proxy's label interner (bounded).
pub struct LlmMetrics {
    time_to_first_token: HistogramVec,
    time_per_output_token: HistogramVec,
    output_tokens_per_second: HistogramVec,
    request_duration: HistogramVec,
    token_usage: HistogramVec,
    finish_reasons: IntCounterVec,
    errors: IntCounterVec,
    in_flight: IntGaugeVec,
}

impl LlmMetrics {
    pub fn register(registry: &Registry) -> prometheus::Result<Self> {
        let histogram = |name: &str, help: &str, buckets: &[f64], labels: &[&str]| {
            HistogramVec::new(
                HistogramOpts::new(name, help).buckets(buckets.to_vec()),
                labels,
            )
        };
        let model_op = &["model", "operation"];
        let metrics = Self {
            time_to_first_token: histogram(
                "modelwatch_llm_time_to_first_token_seconds",
                "Streamed LLM answers: time from the request head arriving to the first output chunk passing to the client.",
                LATENCY_BUCKETS,
                model_op,
            )?,
            time_per_output_token: histogram(
                "modelwatch_llm_time_per_output_token_seconds",
                "Streamed LLM answers: mean time between output chunks after the first, one value per request.",
                TOKEN_GAP_BUCKETS,
                model_op,
            )?,
            output_tokens_per_second: histogram(
                "modelwatch_llm_output_tokens_per_second",
                "Output tokens of an LLM answer divided by its whole duration.",
                RATE_BUCKETS,
                model_op,
            )?,
            request_duration: histogram(
                "modelwatch_llm_request_duration_seconds",
                "LLM requests: time from the request head arriving to the answer's last byte.",
                LATENCY_BUCKETS,
                model_op,
            )?,
            token_usage: histogram(
                "modelwatch_llm_token_usage_tokens",
                "Tokens per LLM request, by type (input, output) and source (usage: as the server reported; chunks: output chunks counted).",
                TOKEN_BUCKETS,
                &["model", "operation", "token_type", "source"],
            )?,
            finish_reasons: IntCounterVec::new(
                Opts::new(
                    "modelwatch_llm_finish_reasons_total",
                    "Choices finished, by finish_reason (stop, length, content_filter, tool_calls, function_call, other).",
                ),
                &["model", "operation", "reason"],
            )?,
            errors: IntCounterVec::new(
                Opts::new(
                    "modelwatch_llm_errors_total",
                    "LLM requests that failed, by error_type: the HTTP status code, stream_error (an error event in the stream) or incomplete (the stream broke off).",
                ),
                &["model", "operation", "error_type"],
            )?,
            in_flight: IntGaugeVec::new(
                Opts::new(
                    "modelwatch_llm_requests_in_flight",
                    "LLM requests forwarded whose answer has not ended.",
                ),
                model_op,
            )?,
        };
        registry.register(Box::new(metrics.time_to_first_token.clone()))?;
        registry.register(Box::new(metrics.time_per_output_token.clone()))?;
        registry.register(Box::new(metrics.output_tokens_per_second.clone()))?;
        registry.register(Box::new(metrics.request_duration.clone()))?;
        registry.register(Box::new(metrics.token_usage.clone()))?;
        registry.register(Box::new(metrics.finish_reasons.clone()))?;
        registry.register(Box::new(metrics.errors.clone()))?;
        registry.register(Box::new(metrics.in_flight.clone()))?;
        Ok(metrics)
    }

    /// Counts a failed LLM call: `error_type` is the status code or a stream failure.
    pub fn count_error(&self, model: &str, endpoint: Endpoint, error_type: &str) {
        self.errors
            .with_label_values(&[model, endpoint.as_str(), error_type])
            .inc();
    }
}

/// What the request side learned, for the response side.
#[derive(Default)]
pub struct LlmSlot(Mutex<Option<Requested>>);

#[derive(Default)]
struct Requested {
    request: LlmRequest,
    /// The prompt text, when the request is sampled for text capture.
    prompt: Option<String>,
    in_flight: Option<InFlight>,
}

/// Keeps `modelwatch_llm_requests_in_flight` up until dropped.
pub struct InFlight(IntGauge);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// Reads the request body of an OpenAI-compatible call as it goes upstream.
pub struct LlmRequestTap {
    endpoint: Endpoint,
    capture: Capture,
    slot: Arc<LlmSlot>,
    metrics: Arc<LlmMetrics>,
    labels: Arc<LabelInterner>,
    fallback_model: Arc<str>,
    /// Read the prompt text: the capture policy sampled this request.
    keep_prompt: bool,
}

/// Where a call's measurements go besides the metrics.
pub struct LlmSinks<'a> {
    pub metrics: &'a Arc<LlmMetrics>,
    pub labels: &'a Arc<LabelInterner>,
    /// The capture policy, when this request is in its sample: the prompt and completion
    /// text go into the record under it.
    pub text: Option<&'a Arc<CapturePolicy>>,
}

impl LlmRequestTap {
    /// The taps for a request to `path` whose head arrived at `started`, when the path is
    /// one of the OpenAI-compatible endpoints: this side's, and what the response side needs.
    pub fn for_path(
        path: &str,
        started: Instant,
        sinks: LlmSinks<'_>,
        fallback_model: Arc<str>,
    ) -> Option<(LlmRequestTap, LlmCall)> {
        let endpoint = Endpoint::from_route(path)?;
        let slot = Arc::new(LlmSlot::default());
        let tap = LlmRequestTap {
            endpoint,
            capture: Capture::new(MAX_REQUEST_CAPTURE),
            slot: slot.clone(),
            metrics: sinks.metrics.clone(),
            labels: sinks.labels.clone(),
            fallback_model: fallback_model.clone(),
            keep_prompt: sinks.text.is_some(),
        };
        let call = LlmCall {
            endpoint,
            slot,
            metrics: sinks.metrics.clone(),
            labels: sinks.labels.clone(),
            fallback_model,
            started,
            text: sinks.text.cloned(),
        };
        Some((tap, call))
    }

    pub fn on_data(&mut self, data: &Bytes) {
        self.capture.push(data);
    }

    pub fn on_end(self, end: BodyEnd) {
        let (request, prompt) = match self.capture.finish(end == BodyEnd::Complete) {
            CapturedBody::Complete(body) => (
                openai::decode_request(&body).unwrap_or_default(),
                self.keep_prompt
                    .then(|| openai::prompt_text(&body))
                    .flatten(),
            ),
            _ => (LlmRequest::default(), None),
        };
        let model = model_label(&self.labels, request.model.as_deref(), &self.fallback_model);
        let gauge = self
            .metrics
            .in_flight
            .with_label_values(&[&*model, self.endpoint.as_str()]);
        gauge.inc();
        *self.slot.0.lock().expect("llm slot poisoned") = Some(Requested {
            request,
            prompt,
            in_flight: Some(InFlight(gauge)),
        });
    }
}

/// What the response side needs from the request side besides the slot.
pub struct LlmCall {
    endpoint: Endpoint,
    slot: Arc<LlmSlot>,
    metrics: Arc<LlmMetrics>,
    labels: Arc<LabelInterner>,
    /// The model label the proxy gave the request (URL or `model.name`), used when
    /// neither the request nor the answer names a model.
    fallback_model: Arc<str>,
    /// When the request head arrived.
    started: Instant,
    /// The capture policy, when the request is sampled for text capture.
    text: Option<Arc<CapturePolicy>>,
}

/// Watches the answer to an OpenAI-compatible call on its way to the client.
pub struct LlmResponseTap {
    call: LlmCall,
    /// `Some` when the answer is a server-sent event stream.
    sse: Option<SseParser>,
    /// The body of a plain JSON answer.
    capture: Capture,
    seen: Seen,
}

impl LlmResponseTap {
    pub fn new(call: LlmCall, response_headers: &http::HeaderMap) -> Self {
        let streamed = response_headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(crate::protocol::sse::is_event_stream);
        let seen = Seen::new(call.text.is_some());
        Self {
            call,
            sse: streamed.then(|| SseParser::new(MAX_EVENT_BYTES)),
            capture: Capture::new(if streamed { 0 } else { MAX_REQUEST_CAPTURE }),
            seen,
        }
    }

    pub fn on_data(&mut self, data: &Bytes) {
        let Some(sse) = self.sse.as_mut() else {
            self.capture.push(data);
            return;
        };
        let now = Instant::now();
        let seen = &mut self.seen;
        let endpoint = self.call.endpoint;
        sse.push(data, &mut |event: SseEvent| {
            if event.data == openai::STREAM_DONE {
                return;
            }
            if let Ok(answer) = openai::decode_answer_for(endpoint, event.data.as_bytes()) {
                seen.add(answer, now);
            }
        });
    }

    /// Records the request's LLM metrics: `status` of the answer, how its body `end`ed.
    /// Returns what was measured, for the request's span and event.
    pub fn on_end(mut self, status: http::StatusCode, end: BodyEnd) -> LlmRecord {
        let ended = Instant::now();
        let r = &self.call;
        let Requested {
            request,
            prompt,
            in_flight,
        } = r
            .slot
            .0
            .lock()
            .expect("llm slot poisoned")
            .take()
            .unwrap_or_default();
        let streamed = self.sse.is_some();
        if !streamed
            && status.is_success()
            && let CapturedBody::Complete(body) = self.capture.finish(end == BodyEnd::Complete)
            && let Ok(answer) = openai::decode_answer_for(r.endpoint, &body)
        {
            self.seen.add(answer, ended);
        }
        let mut seen = self.seen;
        let model = model_label(
            &r.labels,
            request.model.as_deref().or(seen.model.as_deref()),
            &r.fallback_model,
        );
        let values = [&*model, r.endpoint.as_str()];
        let m = &r.metrics;
        let duration = ended.duration_since(r.started);
        m.request_duration
            .with_label_values(&values)
            .observe(duration.as_secs_f64());
        let error_type = if !status.is_success() {
            Some(status.as_str())
        } else if seen.stream_error {
            Some("stream_error")
        } else if end != BodyEnd::Complete {
            Some("incomplete")
        } else {
            None
        };
        if let Some(error_type) = error_type {
            m.count_error(&model, r.endpoint, error_type);
        }
        drop(in_flight);
        let mut record = LlmRecord {
            operation: r.endpoint.as_str(),
            stream: request.stream,
            max_tokens: request.max_tokens,
            temperature: request.temperature,
            request_model: request.model,
            response_model: seen.model.take(),
            ..LlmRecord::default()
        };
        if let Some(policy) = &r.text {
            record.text = Some(policy.capture_text(
                prompt.as_deref(),
                seen.completion.as_deref(),
                seen.completion_cut_short,
            ));
        }
        if !status.is_success() {
            return record;
        }
        for reason in &seen.finish_reasons {
            m.finish_reasons
                .with_label_values(&[&*model, r.endpoint.as_str(), reason.as_str()])
                .inc();
        }
        record.finish_reasons = seen.finish_reasons.iter().map(|r| r.as_str()).collect();
        if streamed && let Some(first) = seen.first_output {
            let ttft = first.duration_since(r.started);
            m.time_to_first_token
                .with_label_values(&values)
                .observe(ttft.as_secs_f64());
            record.time_to_first_token = Some(ttft);
            if let Some(last) = seen.last_output
                && seen.output_chunks > 1
            {
                let gaps = seen.output_chunks - 1;
                let mean = last.duration_since(first).as_secs_f64() / gaps as f64;
                m.time_per_output_token
                    .with_label_values(&values)
                    .observe(mean);
                let mean = Duration::from_secs_f64(mean);
                record.inter_token = GapSummary::of(&mut seen.gaps, gaps, mean);
            }
        }
        let usage = |token_type: &str, source: &str, tokens: u64| {
            m.token_usage
                .with_label_values(&[&*model, r.endpoint.as_str(), token_type, source])
                .observe(tokens as f64);
        };
        let output = match seen.usage {
            Some(u) => {
                usage("input", "usage", u.prompt_tokens);
                record.input_tokens = Some(u.prompt_tokens);
                record.token_source = Some(TokenSource::Usage);
                (r.endpoint != Endpoint::Embeddings).then_some(u.completion_tokens)
            }
            None if streamed => {
                record.token_source = Some(TokenSource::Chunks);
                Some(seen.output_chunks)
            }
            None => None,
        };
        record.output_tokens = output;
        record.total_tokens = match seen.usage {
            Some(u) if u.total_tokens > 0 => Some(u.total_tokens),
            _ => record
                .input_tokens
                .zip(output)
                .map(|(i, o)| i + o)
                .or(record.input_tokens),
        };
        if let Some(output) = output {
            let source = record.token_source.map_or("chunks", TokenSource::as_str);
            usage("output", source, output);
            if duration > Duration::ZERO && output > 0 {
                let rate = output as f64 / duration.as_secs_f64();
                m.output_tokens_per_second
                    .with_label_values(&values)
                    .observe(rate);
                record.output_tokens_per_second = Some(rate);
            }
        }
        record
    }
}

/// The model label: the request's (or answer's) model through the interner, else the
/// label the proxy gave the request (from its URL or `model.name`).
fn model_label(labels: &LabelInterner, model: Option<&str>, fallback: &Arc<str>) -> Arc<str> {
    match model {
        Some(model) => labels.labels(Some(model), None).model,
        None => fallback.clone(),
    }
}

mod seen;
#[cfg(test)]
mod tests;
