//! `gen_ai.*` span attributes of an OpenAI-compatible call, after the OpenTelemetry
//! generative-AI semantic conventions.
//!
//! The names are spelled here rather than taken from `opentelemetry-semantic-conventions`:
//! the crate (0.33, semantic conventions 1.42) has them only behind its
//! `semconv_experimental` feature and marks them deprecated, because the generative-AI
//! conventions moved to a repository of their own (`semantic-conventions-genai`) where the
//! names themselves are unchanged. `gen_ai.provider.name` replaces the deprecated
//! `gen_ai.system`; its value is `openai` because that names the telemetry flavour (the
//! OpenAI API the proxy decodes), as the convention asks even when another server (vLLM,
//! llama.cpp) answers: the request and response models and `server.address` say which.

use crate::traffic::llm::LlmRecord;
use opentelemetry::{Array, KeyValue, StringValue, Value};

pub const OPERATION_NAME: &str = "gen_ai.operation.name";
pub const PROVIDER_NAME: &str = "gen_ai.provider.name";
pub const REQUEST_MODEL: &str = "gen_ai.request.model";
pub const REQUEST_MAX_TOKENS: &str = "gen_ai.request.max_tokens";
pub const REQUEST_TEMPERATURE: &str = "gen_ai.request.temperature";
pub const REQUEST_STREAM: &str = "gen_ai.request.stream";
pub const RESPONSE_MODEL: &str = "gen_ai.response.model";
pub const RESPONSE_FINISH_REASONS: &str = "gen_ai.response.finish_reasons";
pub const RESPONSE_TIME_TO_FIRST_CHUNK: &str = "gen_ai.response.time_to_first_chunk";
pub const USAGE_INPUT_TOKENS: &str = "gen_ai.usage.input_tokens";
pub const USAGE_OUTPUT_TOKENS: &str = "gen_ai.usage.output_tokens";
/// Not a convention: whether the token counts are the server's `usage` or output chunks
/// counted by the proxy (`usage`, `chunks`).
pub const TOKEN_SOURCE: &str = "modelwatch.llm.token_source";

/// The provider name of OpenAI-API traffic.
pub const PROVIDER_OPENAI: &str = "openai";

/// The attributes of one call; what was not measured is left out, never set to zero.
pub fn attributes(llm: &LlmRecord) -> Vec<KeyValue> {
    let mut attributes = vec![
        KeyValue::new(OPERATION_NAME, llm.operation),
        KeyValue::new(PROVIDER_NAME, PROVIDER_OPENAI),
        KeyValue::new(REQUEST_STREAM, llm.stream),
    ];
    let string = |key: &'static str, value: &Option<String>| {
        value.as_ref().map(|v| KeyValue::new(key, v.clone()))
    };
    let int = |key: &'static str, value: Option<u64>| {
        value.map(|v| KeyValue::new(key, i64::try_from(v).unwrap_or(i64::MAX)))
    };
    attributes.extend(string(REQUEST_MODEL, &llm.request_model));
    attributes.extend(string(RESPONSE_MODEL, &llm.response_model));
    attributes.extend(int(REQUEST_MAX_TOKENS, llm.max_tokens));
    attributes.extend(
        llm.temperature
            .map(|t| KeyValue::new(REQUEST_TEMPERATURE, t)),
    );
    if !llm.finish_reasons.is_empty() {
        let reasons: Vec<StringValue> = llm.finish_reasons.iter().map(|r| (*r).into()).collect();
        attributes.push(KeyValue::new(
            RESPONSE_FINISH_REASONS,
            Value::Array(Array::String(reasons)),
        ));
    }
    attributes.extend(int(USAGE_INPUT_TOKENS, llm.input_tokens));
    attributes.extend(int(USAGE_OUTPUT_TOKENS, llm.output_tokens));
    if let Some(source) = llm.token_source {
        attributes.push(KeyValue::new(TOKEN_SOURCE, source.as_str()));
    }
    attributes.extend(
        llm.time_to_first_token
            .map(|t| KeyValue::new(RESPONSE_TIME_TO_FIRST_CHUNK, t.as_secs_f64())),
    );
    attributes
}
