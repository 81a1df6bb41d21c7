//! The Responses API (`POST /v1/responses`): a whole response object, or the server-sent
//! events of a streamed one, summarised like the other endpoints' answers
//! ([`AnswerSummary`]). Shapes follow the OpenAI API reference (facts of the format):
//!
//! - a response object: `model`, `status` (`completed`, `incomplete`, `failed`, …),
//!   `incomplete_details.reason` (`max_output_tokens`, `content_filter`), `output` (items:
//!   `message` with `output_text` parts, `function_call`, …), `usage` with `input_tokens`
//!   and `output_tokens`;
//! - a stream: one event per step, its `data` a JSON object whose `type` names it:
//!   `response.created` (the response so far: the model), `response.output_text.delta`
//!   (`delta`: a piece of text, the output), `response.function_call_arguments.delta` and
//!   `response.refusal.delta` (output too), and the last one, `response.completed`,
//!   `response.incomplete` or `response.failed`, carrying the whole response with `usage`;
//!   `error` for a failure.
//!
//! The finish reason is mapped onto the chat completions' set: a completed response is
//! `stop` (`tool_calls` when it called a function), an incomplete one `length` (hit
//! `max_output_tokens`) or `content_filter`.

use super::features::{AnswerFeatures, FirstChoice, each_event};
use super::{AnswerSummary, FinishReason, Usage, from_json};
use crate::protocol::error::{DecodeError, DecodeReason, fail};
use serde::Deserialize;
use serde::de::IgnoredAny;

#[derive(Deserialize)]
struct RawEvent {
    /// Set on streamed events; a whole response object has `object: "response"` instead.
    #[serde(rename = "type")]
    kind: Option<String>,
    delta: Option<serde_json::Value>,
    response: Option<RawResponse>,
}

#[derive(Deserialize)]
struct RawResponse {
    model: Option<String>,
    status: Option<String>,
    incomplete_details: Option<Incomplete>,
    #[serde(default)]
    output: Vec<RawItem>,
    usage: Option<Usage>,
    error: Option<IgnoredAny>,
}

#[derive(Deserialize)]
struct Incomplete {
    reason: Option<String>,
}

#[derive(Deserialize)]
struct RawItem {
    #[serde(rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    content: Vec<RawPart>,
    /// A `function_call` item's arguments (JSON text).
    arguments: Option<String>,
}

#[derive(Deserialize)]
struct RawPart {
    #[serde(rename = "type")]
    kind: Option<String>,
    text: Option<String>,
}

impl RawItem {
    fn is_call(&self) -> bool {
        self.kind.as_deref() == Some("function_call")
    }

    /// The item's output text (`output_text` parts joined).
    fn text(&self) -> String {
        self.content
            .iter()
            .filter(|p| p.kind.as_deref() == Some("output_text"))
            .filter_map(|p| p.text.as_deref())
            .collect()
    }
}

impl RawResponse {
    fn finish_reason(&self) -> Option<FinishReason> {
        match self.status.as_deref()? {
            "completed" if self.output.iter().any(RawItem::is_call) => {
                Some(FinishReason::ToolCalls)
            }
            "completed" => Some(FinishReason::Stop),
            "incomplete" => Some(
                match self
                    .incomplete_details
                    .as_ref()
                    .and_then(|d| d.reason.as_deref())
                {
                    Some("max_output_tokens") => FinishReason::Length,
                    Some("content_filter") => FinishReason::ContentFilter,
                    _ => FinishReason::Other,
                },
            ),
            _ => None,
        }
    }

    /// What the response says at its end: model, finish reason, usage; not its output
    /// (a stream's output was counted from its deltas).
    fn ending(self) -> AnswerSummary {
        AnswerSummary {
            finish_reasons: self.finish_reason().into_iter().collect(),
            error: self.error.is_some() || self.status.as_deref() == Some("failed"),
            model: self.model,
            usage: self.usage,
            ..AnswerSummary::default()
        }
    }
}

/// The summary of a whole response object or of one streamed event's `data`.
pub fn decode(body: &[u8]) -> Result<AnswerSummary, DecodeError> {
    let event: RawEvent = from_json(body)?;
    let Some(kind) = event.kind else {
        // A whole response object.
        let response: RawResponse = from_json(body)?;
        let texts: Vec<String> = response.output.iter().map(RawItem::text).collect();
        let output_choices = response
            .output
            .iter()
            .zip(&texts)
            .filter(|(item, text)| item.is_call() || !text.is_empty())
            .count() as u64;
        return Ok(AnswerSummary {
            output_choices,
            text: texts.concat(),
            ..response.ending()
        });
    };
    let delta = || {
        event
            .delta
            .as_ref()
            .and_then(serde_json::Value::as_str)
            .filter(|d| !d.is_empty())
    };
    Ok(match kind.as_str() {
        "response.output_text.delta" => AnswerSummary {
            output_choices: u64::from(delta().is_some()),
            text: delta().unwrap_or_default().to_string(),
            ..AnswerSummary::default()
        },
        "response.function_call_arguments.delta" | "response.refusal.delta" => AnswerSummary {
            output_choices: u64::from(delta().is_some()),
            ..AnswerSummary::default()
        },
        "response.completed" | "response.incomplete" | "response.failed" => {
            event.response.map(RawResponse::ending).unwrap_or_default()
        }
        "response.created" | "response.in_progress" => AnswerSummary {
            model: event.response.and_then(|r| r.model),
            ..AnswerSummary::default()
        },
        "error" => AnswerSummary {
            error: true,
            ..AnswerSummary::default()
        },
        _ => AnswerSummary::default(),
    })
}

/// The drift features of a Responses API answer ([`super::features`]'s answer columns):
/// a whole response object, or (`streamed`) the bytes of its `text/event-stream`. The
/// output is the `output_text` of every message item and the arguments of every function
/// call (a response has no choices: its output is the one answer); the finish reason is
/// mapped from `status` as for the metrics. A failed response or an `error` event is the
/// `upstream_error` failure; a body that is no response, `empty`.
pub fn answer_features(body: &[u8], streamed: bool) -> Result<AnswerFeatures, DecodeError> {
    let mut first = FirstChoice::default();
    let mut failed = false;
    // What the response says at its end (the last streamed event carries it whole).
    let end = |first: &mut FirstChoice, response: &RawResponse| {
        first.seen |= response.status.is_some() || !response.output.is_empty();
        first.finish_reason = response.finish_reason();
        response.error.is_some() || response.status.as_deref() == Some("failed")
    };
    if streamed {
        each_event(body, &mut |data| {
            let Ok(event) = from_json::<RawEvent>(data) else {
                return;
            };
            let delta = event.delta.as_ref().and_then(serde_json::Value::as_str);
            match (event.kind.as_deref(), delta) {
                (Some("response.output_text.delta"), Some(text)) => {
                    first.seen = true;
                    first.content.push_str(text)
                }
                (Some("response.function_call_arguments.delta"), Some(text)) => {
                    first.seen = true;
                    first.arguments.push_str(text)
                }
                (Some("error"), _) => failed = true,
                (Some("response.completed" | "response.incomplete" | "response.failed"), _) => {
                    if let Some(response) = &event.response {
                        failed |= end(&mut first, response);
                    }
                }
                _ => {}
            }
        });
    } else {
        let response: RawResponse = from_json(body)?;
        for item in &response.output {
            first.content.push_str(&item.text());
            if item.is_call() {
                first
                    .arguments
                    .push_str(item.arguments.as_deref().unwrap_or_default());
            }
        }
        failed = end(&mut first, &response);
    }
    if failed {
        return fail(DecodeReason::UpstreamError, "the response failed");
    }
    first.features()
}

#[cfg(test)]
mod tests;
