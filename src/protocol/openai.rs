//! The OpenAI-compatible API of LLM servers (vLLM, llama.cpp's server, TGI, Ollama, LM
//! Studio): `POST /v1/chat/completions`, `/v1/completions` and `/v1/embeddings`, as plain
//! JSON or, for completions, streamed as server-sent events ([`super::sse`]).
//!
//! Pure functions that summarise what the latency and usage metrics need: the request's
//! model and streaming options, each streamed chunk's output, finish reasons and usage,
//! and the same for a whole JSON answer. Fields follow the OpenAI API reference (facts of
//! the format, nothing copied); anything else in the bodies is ignored, so servers that add
//! fields (llama.cpp's `timings`, vLLM's `prompt_logprobs`) decode alike.

pub mod features;
pub mod text;

use super::error::{DecodeError, DecodeReason, fail};
use serde::Deserialize;
use serde::de::IgnoredAny;

/// The OpenAI-compatible endpoints, named by the OpenTelemetry `gen_ai.operation.name`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// `/v1/chat/completions`.
    Chat,
    /// `/v1/completions`.
    TextCompletion,
    /// `/v1/embeddings`.
    Embeddings,
}

impl Endpoint {
    pub const ALL: [Endpoint; 3] = [
        Endpoint::Chat,
        Endpoint::TextCompletion,
        Endpoint::Embeddings,
    ];

    /// The endpoint a route names; a prefix before `/v1/` (an ingress path) is allowed.
    pub fn from_route(path: &str) -> Option<Endpoint> {
        let path = path.split(['?', '#']).next().unwrap_or_default();
        let path = path.trim_end_matches('/');
        if path.ends_with("/v1/chat/completions") {
            Some(Endpoint::Chat)
        } else if path.ends_with("/v1/completions") {
            Some(Endpoint::TextCompletion)
        } else if path.ends_with("/v1/embeddings") {
            Some(Endpoint::Embeddings)
        } else {
            None
        }
    }

    /// The `gen_ai.operation.name` value, also the `operation` metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Endpoint::Chat => "chat",
            Endpoint::TextCompletion => "text_completion",
            Endpoint::Embeddings => "embeddings",
        }
    }
}

/// Why a choice stopped (`finish_reason`), as a closed set for a metric label.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FinishReason {
    Stop,
    Length,
    ContentFilter,
    ToolCalls,
    /// The deprecated single-function form of `tool_calls`.
    FunctionCall,
    /// Any other value a server sends.
    Other,
}

impl FinishReason {
    pub const ALL: [FinishReason; 6] = [
        FinishReason::Stop,
        FinishReason::Length,
        FinishReason::ContentFilter,
        FinishReason::ToolCalls,
        FinishReason::FunctionCall,
        FinishReason::Other,
    ];

    pub fn parse(value: &str) -> FinishReason {
        match value {
            "stop" => FinishReason::Stop,
            "length" => FinishReason::Length,
            "content_filter" => FinishReason::ContentFilter,
            "tool_calls" => FinishReason::ToolCalls,
            "function_call" => FinishReason::FunctionCall,
            _ => FinishReason::Other,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            FinishReason::Stop => "stop",
            FinishReason::Length => "length",
            FinishReason::ContentFilter => "content_filter",
            FinishReason::ToolCalls => "tool_calls",
            FinishReason::FunctionCall => "function_call",
            FinishReason::Other => "other",
        }
    }
}

/// Token counts as the server reports them in `usage`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct Usage {
    #[serde(default)]
    pub prompt_tokens: u64,
    /// Absent for embeddings.
    #[serde(default)]
    pub completion_tokens: u64,
    #[serde(default)]
    pub total_tokens: u64,
}

/// What a request asks for, as far as measuring its answer goes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LlmRequest {
    /// The `model` field (`gen_ai.request.model`).
    pub model: Option<String>,
    /// `stream: true`: the answer is a stream of server-sent events.
    pub stream: bool,
    /// `stream_options.include_usage: true`: the last streamed chunk carries `usage`.
    pub include_usage: bool,
    /// `max_tokens` / `max_completion_tokens` (`gen_ai.request.max_tokens`).
    pub max_tokens: Option<u64>,
}

#[derive(Deserialize)]
struct RawRequest {
    model: Option<String>,
    #[serde(default)]
    stream: Option<bool>,
    stream_options: Option<StreamOptions>,
    max_tokens: Option<u64>,
    max_completion_tokens: Option<u64>,
}

#[derive(Deserialize)]
struct StreamOptions {
    #[serde(default)]
    include_usage: Option<bool>,
}

/// The request summary of a body sent to one of the [`Endpoint`]s.
pub fn decode_request(body: &[u8]) -> Result<LlmRequest, DecodeError> {
    let raw: RawRequest = from_json(body)?;
    Ok(LlmRequest {
        model: raw.model,
        stream: raw.stream.unwrap_or(false),
        include_usage: raw
            .stream_options
            .and_then(|o| o.include_usage)
            .unwrap_or(false),
        max_tokens: raw.max_completion_tokens.or(raw.max_tokens),
    })
}

/// What one answer (a whole JSON body, or one streamed chunk) says.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AnswerSummary {
    /// The `model` that answered (`gen_ai.response.model`).
    pub model: Option<String>,
    /// Choices that carried output (text, content or a tool call) in this body or chunk.
    pub output_choices: u64,
    pub finish_reasons: Vec<FinishReason>,
    pub usage: Option<Usage>,
    /// The body is an error envelope (`{"error": …}`), in a stream or not.
    pub error: bool,
}

#[derive(Deserialize)]
struct RawAnswer {
    model: Option<String>,
    #[serde(default)]
    choices: Vec<RawChoice>,
    usage: Option<Usage>,
    error: Option<IgnoredAny>,
}

#[derive(Deserialize)]
struct RawChoice {
    finish_reason: Option<String>,
    /// `/v1/completions`.
    text: Option<String>,
    /// A whole chat answer.
    message: Option<RawMessage>,
    /// A streamed chat chunk.
    delta: Option<RawMessage>,
}

#[derive(Deserialize)]
struct RawMessage {
    content: Option<String>,
    tool_calls: Option<IgnoredAny>,
    function_call: Option<IgnoredAny>,
}

impl RawMessage {
    fn has_output(&self) -> bool {
        self.content.as_deref().is_some_and(|c| !c.is_empty())
            || self.tool_calls.is_some()
            || self.function_call.is_some()
    }
}

/// The summary of a whole JSON answer or of one streamed chunk's `data`.
pub fn decode_answer(body: &[u8]) -> Result<AnswerSummary, DecodeError> {
    let raw: RawAnswer = from_json(body)?;
    let output_choices = raw
        .choices
        .iter()
        .filter(|c| {
            c.text.as_deref().is_some_and(|t| !t.is_empty())
                || c.message.as_ref().is_some_and(RawMessage::has_output)
                || c.delta.as_ref().is_some_and(RawMessage::has_output)
        })
        .count() as u64;
    Ok(AnswerSummary {
        model: raw.model,
        output_choices,
        finish_reasons: raw
            .choices
            .iter()
            .filter_map(|c| c.finish_reason.as_deref().map(FinishReason::parse))
            .collect(),
        usage: raw.usage,
        error: raw.error.is_some(),
    })
}

/// The `data` of the event that ends an OpenAI stream.
pub const STREAM_DONE: &str = "[DONE]";

fn from_json<'de, T: Deserialize<'de>>(body: &'de [u8]) -> Result<T, DecodeError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return fail(DecodeReason::Empty, "the body is empty");
    }
    serde_json::from_slice(body).or_else(|err| {
        let reason = if err.is_eof() {
            DecodeReason::Truncated
        } else if err.is_data() {
            DecodeReason::InvalidField
        } else {
            DecodeReason::MalformedJson
        };
        fail(reason, format!("OpenAI-compatible body: {err}"))
    })
}

#[cfg(test)]
mod tests;
