//! The OTLP mirrors of `modelwatch_llm_*` under the OpenTelemetry generative-AI metric
//! names (semantic conventions 1.42, `gen-ai-metrics`): recorded once per OpenAI-compatible
//! call when its answer has ended, from the same [`LlmRecord`] as the span's `gen_ai.*`
//! attributes, so the metrics, the span and the request event agree.
//!
//! | OTLP histogram | unit | Prometheus counterpart |
//! | --- | --- | --- |
//! | `gen_ai.client.token.usage` (`gen_ai.token.type` `input`/`output`) | `{token}` | `modelwatch_llm_token_usage_tokens` |
//! | `gen_ai.server.request.duration` | `s` | `modelwatch_llm_request_duration_seconds` |
//! | `gen_ai.server.time_to_first_token` (streamed, successful) | `s` | `modelwatch_llm_time_to_first_token_seconds` |
//! | `gen_ai.server.time_per_output_token` (two or more output chunks) | `s` | `modelwatch_llm_time_per_output_token_seconds` |
//!
//! Attributes: `gen_ai.operation.name`, `gen_ai.provider.name` (`openai`), and when known
//! `gen_ai.request.model`, `gen_ai.response.model`; `error.type` (the HTTP status code) on
//! the duration of a call that failed; `modelwatch.llm.token_source` (`usage`/`chunks`) on
//! token usage, because counted chunks are an estimate. Bucket boundaries are the ones the
//! conventions advise. The names are spelled here for the reason `spans/gen_ai.rs` gives.

use super::spans::gen_ai::{
    OPERATION_NAME, PROVIDER_NAME, PROVIDER_OPENAI, REQUEST_MODEL, RESPONSE_MODEL, TOKEN_SOURCE,
};
use crate::traffic::llm::LlmRecord;
use opentelemetry::KeyValue;
use opentelemetry::metrics::{Histogram, Meter};
use std::time::Duration;

pub const CLIENT_TOKEN_USAGE: &str = "gen_ai.client.token.usage";
pub const SERVER_REQUEST_DURATION: &str = "gen_ai.server.request.duration";
pub const SERVER_TIME_TO_FIRST_TOKEN: &str = "gen_ai.server.time_to_first_token";
pub const SERVER_TIME_PER_OUTPUT_TOKEN: &str = "gen_ai.server.time_per_output_token";
pub const TOKEN_TYPE: &str = "gen_ai.token.type";
pub const ERROR_TYPE: &str = "error.type";

/// Advised boundaries: tokens in powers of 4 from 1 to 4^13.
const TOKEN_BUCKETS: [f64; 14] = [
    1.0, 4.0, 16.0, 64.0, 256.0, 1024.0, 4096.0, 16384.0, 65536.0, 262144.0, 1048576.0, 4194304.0,
    16777216.0, 67108864.0,
];
/// Advised boundaries of the request duration: 10 ms doubling to 81.92 s.
const DURATION_BUCKETS: [f64; 14] = [
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
];
const TIME_TO_FIRST_TOKEN_BUCKETS: [f64; 16] = [
    0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];
const TIME_PER_OUTPUT_TOKEN_BUCKETS: [f64; 13] = [
    0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5,
];

/// The four histograms.
pub struct GenAiMetrics {
    token_usage: Histogram<u64>,
    request_duration: Histogram<f64>,
    time_to_first_token: Histogram<f64>,
    time_per_output_token: Histogram<f64>,
}

impl GenAiMetrics {
    pub fn register(meter: &Meter) -> GenAiMetrics {
        let seconds = |name: &'static str, description: &'static str, buckets: &[f64]| {
            meter
                .f64_histogram(name)
                .with_unit("s")
                .with_description(description)
                .with_boundaries(buckets.to_vec())
                .build()
        };
        GenAiMetrics {
            token_usage: meter
                .u64_histogram(CLIENT_TOKEN_USAGE)
                .with_unit("{token}")
                .with_description("Number of input and output tokens used.")
                .with_boundaries(TOKEN_BUCKETS.to_vec())
                .build(),
            request_duration: seconds(
                SERVER_REQUEST_DURATION,
                "Generative AI server request duration, to the last byte of the answer.",
                &DURATION_BUCKETS,
            ),
            time_to_first_token: seconds(
                SERVER_TIME_TO_FIRST_TOKEN,
                "Time to generate first token for successful responses.",
                &TIME_TO_FIRST_TOKEN_BUCKETS,
            ),
            time_per_output_token: seconds(
                SERVER_TIME_PER_OUTPUT_TOKEN,
                "Time per output token generated after the first token for successful \
                 responses.",
                &TIME_PER_OUTPUT_TOKEN_BUCKETS,
            ),
        }
    }

    /// Records one call that ended with `status` after `duration`.
    pub fn record(&self, llm: &LlmRecord, status: http::StatusCode, duration: Duration) {
        let mut common = vec![
            KeyValue::new(OPERATION_NAME, llm.operation),
            KeyValue::new(PROVIDER_NAME, PROVIDER_OPENAI),
        ];
        if let Some(model) = &llm.request_model {
            common.push(KeyValue::new(REQUEST_MODEL, model.clone()));
        }
        if let Some(model) = &llm.response_model {
            common.push(KeyValue::new(RESPONSE_MODEL, model.clone()));
        }
        if status.is_success() {
            self.request_duration
                .record(duration.as_secs_f64(), &common);
        } else {
            let mut failed = common.clone();
            failed.push(KeyValue::new(ERROR_TYPE, status.as_str().to_string()));
            self.request_duration
                .record(duration.as_secs_f64(), &failed);
            return;
        }
        if let Some(ttft) = llm.time_to_first_token {
            self.time_to_first_token.record(ttft.as_secs_f64(), &common);
        }
        if let Some(gaps) = llm.inter_token {
            self.time_per_output_token
                .record(gaps.mean.as_secs_f64(), &common);
        }
        for (token_type, tokens) in [("input", llm.input_tokens), ("output", llm.output_tokens)] {
            let Some(tokens) = tokens else { continue };
            let mut attributes = common.clone();
            attributes.push(KeyValue::new(TOKEN_TYPE, token_type));
            if let Some(source) = llm.token_source {
                attributes.push(KeyValue::new(TOKEN_SOURCE, source.as_str()));
            }
            self.token_usage.record(tokens, &attributes);
        }
    }
}
