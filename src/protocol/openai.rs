//! The OpenAI-compatible API of LLM servers (vLLM, llama.cpp's server, TGI, Ollama, LM
//! Studio): `POST /v1/chat/completions`, `/v1/completions`, `/v1/embeddings` and the
//! Responses API's `/v1/responses` ([`responses`]), as plain JSON or, for generations,
//! streamed as server-sent events ([`super::sse`]).
//!
//! Pure functions that summarise what the latency and usage metrics need: the request's
//! model and streaming options, each streamed chunk's output, finish reasons and usage,
//! and the same for a whole JSON answer. Fields follow the OpenAI API reference (facts of
//! the format, nothing copied); anything else in the bodies is ignored, so servers that add
//! fields (llama.cpp's `timings`, vLLM's `prompt_logprobs`) decode alike.

pub mod embeddings;
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
    /// `/v1/responses`, the Responses API.
    Responses,
}

impl Endpoint {
    pub const ALL: [Endpoint; 4] = [
        Endpoint::Chat,
        Endpoint::TextCompletion,
        Endpoint::Embeddings,
        Endpoint::Responses,
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
        } else if path.ends_with("/v1/responses") {
            Some(Endpoint::Responses)
        } else {
            None
        }
    }

    /// The `gen_ai.operation.name` value, also the `operation` metric label. A Responses
    /// API call is a chat generation, as the conventions name it: `url.path` tells the two
    /// APIs apart.
    pub fn as_str(self) -> &'static str {
        match self {
            Endpoint::Chat | Endpoint::Responses => "chat",
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

/// Token counts as the server reports them in `usage` (the Responses API names them
/// `input_tokens` and `output_tokens`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct Usage {
    #[serde(default, alias = "input_tokens")]
    pub prompt_tokens: u64,
    /// Absent for embeddings.
    #[serde(default, alias = "output_tokens")]
    pub completion_tokens: u64,
    #[serde(default)]
    pub total_tokens: u64,
}

/// What a request asks for, as far as measuring its answer goes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LlmRequest {
    /// The `model` field (`gen_ai.request.model`).
    pub model: Option<String>,
    /// `stream: true`: the answer is a stream of server-sent events.
    pub stream: bool,
    /// `stream_options.include_usage: true`: the last streamed chunk carries `usage`.
    pub include_usage: bool,
    /// `max_tokens` / `max_completion_tokens` (`gen_ai.request.max_tokens`).
    pub max_tokens: Option<u64>,
    /// `temperature` (`gen_ai.request.temperature`), when it is a number.
    pub temperature: Option<f64>,
}

#[derive(Deserialize)]
struct RawRequest {
    model: Option<String>,
    #[serde(default)]
    stream: Option<bool>,
    stream_options: Option<StreamOptions>,
    max_tokens: Option<u64>,
    max_completion_tokens: Option<u64>,
    /// The Responses API's limit.
    max_output_tokens: Option<u64>,
    /// Read loosely: a request the server will refuse for its temperature (`"hot"`) still
    /// names its model, and the refusal is counted under it.
    temperature: Option<serde_json::Value>,
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
        max_tokens: raw
            .max_completion_tokens
            .or(raw.max_tokens)
            .or(raw.max_output_tokens),
        temperature: raw.temperature.as_ref().and_then(serde_json::Value::as_f64),
    })
}

/// The text of a request's input, for the captured event (`modelwatch.llm.prompt`): a
/// chat's messages one per line as `role: content` (text parts only), a completion's
/// `prompt`, an embedding's `input` (several strings one per line). `None` when the body
/// holds no text (token ids, images) or is not JSON.
pub fn prompt_text(body: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct RawPrompt {
        messages: Option<Vec<RawInputMessage>>,
        prompt: Option<serde_json::Value>,
        input: Option<serde_json::Value>,
        /// The Responses API's system message.
        instructions: Option<String>,
    }
    #[derive(Deserialize)]
    struct RawInputMessage {
        role: Option<String>,
        content: Option<serde_json::Value>,
    }
    let mut raw: RawPrompt = serde_json::from_slice(body).ok()?;
    // The Responses API's `input` may be a list of messages (`{"role", "content"}` items).
    if raw.messages.is_none()
        && let Some(items) = raw.input.as_ref().and_then(serde_json::Value::as_array)
        && items.iter().any(|item| item.get("role").is_some())
    {
        raw.messages = serde_json::from_value(raw.input.take()?).ok();
    }
    if let Some(instructions) = raw.instructions.take() {
        raw.messages.get_or_insert_with(Vec::new).insert(
            0,
            RawInputMessage {
                role: Some("system".into()),
                content: Some(serde_json::Value::String(instructions)),
            },
        );
        if let Some(input) = raw.input.take().or(raw.prompt.take()) {
            raw.messages.as_mut()?.push(RawInputMessage {
                role: None,
                content: Some(input),
            });
        }
    }
    let lines: Vec<String> = match (raw.messages, raw.prompt.or(raw.input)) {
        (Some(messages), _) => messages
            .into_iter()
            .filter_map(|m| {
                let content = text_of(m.content.as_ref()?)?;
                Some(format!(
                    "{}: {content}",
                    m.role.as_deref().unwrap_or("user")
                ))
            })
            .collect(),
        (None, Some(prompt)) => text_of(&prompt).into_iter().collect(),
        (None, None) => Vec::new(),
    };
    (!lines.is_empty()).then(|| lines.join("\n"))
}

/// A string, or the strings (and `{"type":"text","text":…}` parts) of an array, one per line.
fn text_of(value: &serde_json::Value) -> Option<String> {
    use serde_json::Value;
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Array(items) => {
            let parts: Vec<&str> = items
                .iter()
                .filter_map(|item| match item {
                    Value::String(s) => Some(s.as_str()),
                    // `{"type": "text" | "input_text", "text": …}`.
                    Value::Object(part) => part.get("text")?.as_str(),
                    _ => None,
                })
                .collect();
            (!parts.is_empty()).then(|| parts.join("\n"))
        }
        _ => None,
    }
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
    /// The output text of the first choice (`index` 0) in this body or chunk.
    pub text: String,
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
    #[serde(default)]
    index: u64,
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
        text: raw
            .choices
            .iter()
            .filter(|c| c.index == 0)
            .filter_map(|c| {
                let message = c.message.as_ref().or(c.delta.as_ref());
                c.text.as_deref().or_else(|| message?.content.as_deref())
            })
            .collect(),
    })
}

/// The summary of an answer (or streamed event) from `endpoint`: the Responses API's
/// shapes are its own ([`responses::decode`]), the others share [`decode_answer`].
pub fn decode_answer_for(endpoint: Endpoint, body: &[u8]) -> Result<AnswerSummary, DecodeError> {
    match endpoint {
        Endpoint::Responses => responses::decode(body),
        _ => decode_answer(body),
    }
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

pub mod responses;
#[cfg(test)]
mod tests;
