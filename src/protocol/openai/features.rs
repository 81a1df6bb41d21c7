//! The drift features of one OpenAI-compatible exchange: what a chat or text completion
//! request asks and what its answer says, as ordinary columns (numbers and categories), so
//! that text traffic is profiled, windowed and tested like tabular rows.
//!
//! The request gives one row of [`REQUEST_COLUMNS`] per prompt (a chat request has one; a
//! text completion may send a list of prompts); the answer gives one row of
//! [`ANSWER_COLUMNS`], about its first choice (index 0), from a whole JSON answer or from
//! the server-sent events of a stream. The reference (`modelwatch dataset add` of a JSONL
//! of requests) and the sidecar derive them with these same functions. Names and meanings
//! are documented in docs/llm.md; no prompt or completion text leaves this module, only
//! counts, a script name and a short hash.

use super::text::{NO_SCRIPT, ScriptTally, estimate_tokens};
use super::{FinishReason, STREAM_DONE, from_json};
use crate::protocol::error::{DecodeError, DecodeReason, fail};
use crate::protocol::sse::SseParser;
use crate::protocol::{Batch, Column, Value};
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::Value as Json;
use sha2::Digest as _;

/// Estimated tokens of the whole prompt (every message's text, or the completion prompt).
pub const PROMPT_TOKENS: &str = "prompt_tokens";
/// Messages in a chat request (missing for text completions).
pub const MESSAGES: &str = "messages";
/// Which system prompt is in use: a hash, or `absent` (missing for text completions).
pub const SYSTEM_PROMPT: &str = "system_prompt";
/// Whether tools are offered: `off`, `auto`, `required` (missing for text completions).
pub const TOOL_USE: &str = "tool_use";
/// The script of most letters the user wrote (`Latin`, `Cyrillic`, …, or `Common`).
pub const PROMPT_SCRIPT: &str = "prompt_script";
/// Estimated tokens of the first choice's output.
pub const COMPLETION_TOKENS: &str = "completion_tokens";
/// The first choice's finish reason (`stop`, `length`, …, or `absent`).
pub const FINISH_REASON: &str = "finish_reason";

/// The columns a request gives, in order; numeric ones first.
pub const REQUEST_COLUMNS: [&str; 5] = [
    PROMPT_TOKENS,
    MESSAGES,
    SYSTEM_PROMPT,
    TOOL_USE,
    PROMPT_SCRIPT,
];
/// The columns an answer gives (the model's outputs: prediction columns of a reference).
pub const ANSWER_COLUMNS: [&str; 2] = [COMPLETION_TOKENS, FINISH_REASON];
/// The numeric columns; every other one is categorical.
pub const NUMERIC_COLUMNS: [&str; 3] = [PROMPT_TOKENS, MESSAGES, COMPLETION_TOKENS];

/// The category of "no system prompt" and of "no finish reason". Not `none`: CSV readers
/// (ours included) take `none` for a missing cell.
pub const ABSENT: &str = "absent";

/// Hex digits of the system prompt's SHA-256 kept as its category: 8 (32 bits) tell a
/// few hundred prompts apart with a collision chance under 1e-5.
const SYSTEM_HASH_HEX: usize = 8;

/// What one prompt of a request looks like.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PromptFeatures {
    pub prompt_tokens: u64,
    /// Chat requests only.
    pub messages: Option<u64>,
    pub system_prompt: Option<String>,
    pub tool_use: Option<&'static str>,
    pub prompt_script: &'static str,
}

/// What the first choice of an answer looks like.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnswerFeatures {
    pub completion_tokens: u64,
    /// `None` when the choice never said why it stopped (a stream cut short).
    pub finish_reason: Option<FinishReason>,
}

#[derive(Deserialize)]
struct RawRequest {
    messages: Option<Vec<RawMessage>>,
    prompt: Option<Json>,
    /// The Responses API's input: a string, or a list of items.
    input: Option<Json>,
    /// The Responses API's system message.
    instructions: Option<String>,
    tools: Option<Vec<IgnoredAny>>,
    functions: Option<Vec<IgnoredAny>>,
    tool_choice: Option<Json>,
    function_call: Option<Json>,
}

#[derive(Deserialize)]
struct RawMessage {
    #[serde(default)]
    role: String,
    content: Option<Json>,
    tool_calls: Option<Vec<RawToolCall>>,
}

/// An item of a Responses API `input`: a message (`role`, `content`), a function call the
/// model made (`type: function_call`, `arguments`) or its result
/// (`type: function_call_output`, `output`); other items (reasoning, references) count as
/// messages without text.
#[derive(Deserialize)]
struct RawInputItem {
    #[serde(rename = "type")]
    kind: Option<String>,
    role: Option<String>,
    content: Option<Json>,
    arguments: Option<String>,
    output: Option<Json>,
}

impl RawInputItem {
    /// The item as the chat message it stands for.
    fn into_message(self) -> RawMessage {
        let call = |arguments| RawToolCall {
            function: Some(RawFunction {
                arguments: Some(arguments),
            }),
        };
        match (self.kind.as_deref(), self.role) {
            (_, Some(role)) => RawMessage {
                role,
                content: self.content,
                tool_calls: None,
            },
            (Some("function_call"), None) => RawMessage {
                role: "assistant".into(),
                content: None,
                tool_calls: self.arguments.map(|a| vec![call(a)]),
            },
            (Some("function_call_output"), None) => RawMessage {
                role: "tool".into(),
                content: self.output,
                tool_calls: None,
            },
            _ => RawMessage {
                role: String::new(),
                content: None,
                tool_calls: None,
            },
        }
    }
}

#[derive(Deserialize)]
struct RawToolCall {
    function: Option<RawFunction>,
}

#[derive(Deserialize)]
struct RawFunction {
    arguments: Option<String>,
}

/// The features of each prompt of a chat or text completion request body.
pub fn request_features(body: &[u8]) -> Result<Vec<PromptFeatures>, DecodeError> {
    let raw: RawRequest = from_json(body)?;
    if let Some(messages) = &raw.messages {
        return Ok(vec![chat_features(raw_tools(&raw), messages)]);
    }
    match (&raw.prompt, &raw.input) {
        (Some(prompt), _) => completion_prompts(prompt),
        (None, Some(_)) => Ok(vec![responses_features(raw)?]),
        (None, None) => fail(
            DecodeReason::WrongProtocol,
            "neither `messages` (chat), `prompt` (completion) nor `input` (Responses API) is in the request",
        ),
    }
}

/// A Responses API request as the chat request it stands for: `instructions` is the
/// system message (so the same system prompt hashes alike through either API, and counts
/// as one message as a chat's does), then `input`: a string is one user message, a list
/// gives one message per item.
fn responses_features(mut raw: RawRequest) -> Result<PromptFeatures, DecodeError> {
    let tool_use = raw_tools(&raw);
    let mut messages: Vec<RawMessage> = raw
        .instructions
        .take()
        .map(|text| RawMessage {
            role: "system".into(),
            content: Some(Json::String(text)),
            tool_calls: None,
        })
        .into_iter()
        .collect();
    match raw.input.take() {
        Some(Json::String(text)) => messages.push(RawMessage {
            role: "user".into(),
            content: Some(Json::String(text)),
            tool_calls: None,
        }),
        Some(items @ Json::Array(_)) => {
            let items: Vec<RawInputItem> = serde_json::from_value(items).or_else(|e| {
                fail(
                    DecodeReason::InvalidField,
                    format!("`input` lists something other than items: {e}"),
                )
            })?;
            messages.extend(items.into_iter().map(RawInputItem::into_message));
        }
        _ => {
            return fail(
                DecodeReason::InvalidField,
                "`input` is neither a string nor a list of items",
            );
        }
    }
    Ok(chat_features(tool_use, &messages))
}

fn raw_tools(raw: &RawRequest) -> &'static str {
    let offered = raw.tools.as_ref().is_some_and(|t| !t.is_empty())
        || raw.functions.as_ref().is_some_and(|f| !f.is_empty());
    let choice = raw.tool_choice.as_ref().or(raw.function_call.as_ref());
    match choice {
        _ if !offered => "off",
        Some(Json::String(s)) if s == "none" => "off",
        Some(Json::String(s)) if s == "auto" => "auto",
        // "required", or an object naming the function to call.
        Some(Json::String(_) | Json::Object(_)) => "required",
        _ => "auto",
    }
}

fn chat_features(tool_use: &'static str, messages: &[RawMessage]) -> PromptFeatures {
    let mut tokens = 0;
    let mut script = ScriptTally::default();
    let mut system = sha2::Sha256::new();
    let mut has_system = false;
    for message in messages {
        let is_system = matches!(message.role.as_str(), "system" | "developer");
        let mut text_of = |text: &str| {
            tokens += estimate_tokens(text);
            if is_system {
                system.update(text.as_bytes());
                // Parts and messages stay apart in the hash: "ab" ≠ "a" + "b".
                system.update([0u8]);
            } else if message.role == "user" {
                script.add(text);
            }
        };
        has_system |= is_system;
        content_texts(message.content.as_ref(), &mut text_of);
        for call in message.tool_calls.iter().flatten() {
            if let Some(arguments) = call.function.as_ref().and_then(|f| f.arguments.as_deref()) {
                tokens += estimate_tokens(arguments);
            }
        }
    }
    let system_prompt = if has_system {
        hex::encode(system.finalize())[..SYSTEM_HASH_HEX].to_string()
    } else {
        ABSENT.to_string()
    };
    PromptFeatures {
        prompt_tokens: tokens,
        messages: Some(messages.len() as u64),
        system_prompt: Some(system_prompt),
        tool_use: Some(tool_use),
        prompt_script: script.majority(),
    }
}

/// The texts of a message's `content`: a string, or a list of parts whose `text` counts
/// (images and audio do not).
fn content_texts(content: Option<&Json>, each: &mut impl FnMut(&str)) {
    match content {
        Some(Json::String(text)) => each(text),
        Some(Json::Array(parts)) => {
            for part in parts {
                if let Some(text) = part.get("text").and_then(Json::as_str) {
                    each(text);
                }
            }
        }
        _ => {}
    }
}

/// A completion `prompt`: a string, a list of strings, a list of token ids, or a list of
/// such lists. Token ids count as themselves and have no script.
fn completion_prompts(prompt: &Json) -> Result<Vec<PromptFeatures>, DecodeError> {
    let text = |text: &str| {
        let mut script = ScriptTally::default();
        script.add(text);
        prompt_only(estimate_tokens(text), script.majority())
    };
    let ids = |ids: &[Json]| prompt_only(ids.len() as u64, NO_SCRIPT);
    each_input(prompt, "prompt", text, ids)
}

/// Each input of a completion's `prompt` or an embedding's `input` (`field`): a string,
/// a list of strings, a list of token ids (one input), or a list of such lists.
pub(super) fn each_input<T>(
    value: &Json,
    field: &str,
    text: impl Fn(&str) -> T,
    ids: impl Fn(&[Json]) -> T,
) -> Result<Vec<T>, DecodeError> {
    match value {
        Json::String(s) => Ok(vec![text(s)]),
        Json::Array(items) if items.iter().all(Json::is_number) => Ok(vec![ids(items)]),
        Json::Array(items) => items
            .iter()
            .map(|item| match item {
                Json::String(s) => Ok(text(s)),
                Json::Array(inner) => Ok(ids(inner)),
                _ => fail(
                    DecodeReason::InvalidField,
                    format!("`{field}` lists something other than strings or token lists"),
                ),
            })
            .collect(),
        _ => fail(
            DecodeReason::InvalidField,
            format!("`{field}` is neither a string nor a list"),
        ),
    }
}

fn prompt_only(prompt_tokens: u64, prompt_script: &'static str) -> PromptFeatures {
    PromptFeatures {
        prompt_tokens,
        messages: None,
        system_prompt: None,
        tool_use: None,
        prompt_script,
    }
}

#[derive(Deserialize)]
struct RawAnswer {
    #[serde(default)]
    choices: Vec<RawChoice>,
    error: Option<IgnoredAny>,
}

#[derive(Deserialize)]
struct RawChoice {
    #[serde(default)]
    index: u64,
    finish_reason: Option<String>,
    text: Option<String>,
    message: Option<RawMessage>,
    delta: Option<RawMessage>,
}

/// Gathers the first choice over a whole answer or a stream's chunks. Its text is joined
/// before it is measured, so a streamed answer gives what the same answer whole gives.
#[derive(Default)]
pub(super) struct FirstChoice {
    pub(super) content: String,
    pub(super) arguments: String,
    pub(super) finish_reason: Option<FinishReason>,
    /// The answer had a choice 0 (a response object, for the Responses API).
    pub(super) seen: bool,
}

impl FirstChoice {
    fn add(&mut self, answer: RawAnswer) {
        for choice in answer.choices.into_iter().filter(|c| c.index == 0) {
            self.seen = true;
            if let Some(text) = &choice.text {
                self.content.push_str(text);
            }
            for message in choice.message.iter().chain(&choice.delta) {
                content_texts(message.content.as_ref(), &mut |t| self.content.push_str(t));
                for call in message.tool_calls.iter().flatten() {
                    if let Some(args) = call.function.as_ref().and_then(|f| f.arguments.as_deref())
                    {
                        self.arguments.push_str(args);
                    }
                }
            }
            if let Some(reason) = choice.finish_reason.as_deref() {
                self.finish_reason = Some(FinishReason::parse(reason));
            }
        }
    }

    /// The features of what was gathered; an answer without a choice 0 is `Empty`.
    pub(super) fn features(&self) -> Result<AnswerFeatures, DecodeError> {
        if !self.seen {
            return fail(DecodeReason::Empty, "the answer has no choice 0");
        }
        Ok(AnswerFeatures {
            completion_tokens: estimate_tokens(&self.content) + estimate_tokens(&self.arguments),
            finish_reason: self.finish_reason,
        })
    }
}

/// Calls `each` with the `data` of every event of a captured `text/event-stream` body but
/// the closing `[DONE]`.
pub(super) fn each_event(body: &[u8], each: &mut impl FnMut(&[u8])) {
    // The whole captured stream is at hand: any event size the capture allowed is fine.
    let mut parser = SseParser::new(body.len().max(1));
    parser.push(body, &mut |event| {
        if event.data != STREAM_DONE {
            each(event.data.as_bytes());
        }
    });
}

/// The features of an answer: a whole JSON body, or (`streamed`) the bytes of a
/// `text/event-stream` of chunks. An error envelope, or an answer without choices, is the
/// `upstream_error` / `empty` failure.
pub fn answer_features(body: &[u8], streamed: bool) -> Result<AnswerFeatures, DecodeError> {
    let mut first = FirstChoice::default();
    if streamed {
        let mut error = false;
        each_event(body, &mut |data| {
            if let Ok(answer) = from_json::<RawAnswer>(data) {
                error |= answer.error.is_some();
                first.add(answer);
            }
        });
        if error {
            return fail(
                DecodeReason::UpstreamError,
                "the stream carried an error event",
            );
        }
    } else {
        let answer: RawAnswer = from_json(body)?;
        if answer.error.is_some() {
            return fail(
                DecodeReason::UpstreamError,
                "the answer is an error envelope",
            );
        }
        first.add(answer);
    }
    first.features()
}

/// The request rows as a batch of [`REQUEST_COLUMNS`].
pub fn request_batch(rows: &[PromptFeatures]) -> Batch {
    let number = |n: Option<u64>| n.map_or(Value::Missing, |n| Value::Number(n as f64));
    let text = |t: Option<&str>| t.map_or(Value::Missing, |t| Value::Text(t.to_string()));
    let columns = [
        rows.iter().map(|r| number(Some(r.prompt_tokens))).collect(),
        rows.iter().map(|r| number(r.messages)).collect(),
        rows.iter()
            .map(|r| text(r.system_prompt.as_deref()))
            .collect(),
        rows.iter().map(|r| text(r.tool_use)).collect(),
        rows.iter().map(|r| text(Some(r.prompt_script))).collect(),
    ];
    batch(&REQUEST_COLUMNS, columns, rows.len())
}

/// The answer's row as a batch of [`ANSWER_COLUMNS`].
pub fn answer_batch(answer: &AnswerFeatures) -> Batch {
    let columns = [
        vec![Value::Number(answer.completion_tokens as f64)],
        vec![Value::Text(finish_reason_value(answer).to_string())],
    ];
    batch(&ANSWER_COLUMNS, columns, 1)
}

/// The `finish_reason` category of an answer.
pub fn finish_reason_value(answer: &AnswerFeatures) -> &'static str {
    answer.finish_reason.map_or(ABSENT, FinishReason::as_str)
}

fn batch<const N: usize>(names: &[&str; N], columns: [Vec<Value>; N], rows: usize) -> Batch {
    Batch {
        columns: names
            .iter()
            .zip(columns)
            .map(|(name, values)| Column {
                name: Some(name.to_string()),
                values,
            })
            .collect(),
        rows,
        model_version: None,
    }
}

#[cfg(test)]
mod tests;
