//! What one OpenAI-compatible call came to ([`LlmRecord`]): the facts the proxy's LLM tap
//! measured as the answer streamed, handed to the request's span (`gen_ai.*` attributes)
//! and to its request event (`modelwatch.llm.*`). Plain data, so both can read it.

use std::time::Duration;

/// One LLM call, as measured by the proxy when its answer ended.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LlmRecord {
    /// `gen_ai.operation.name`: `chat`, `text_completion` or `embeddings`.
    pub operation: &'static str,
    /// The request body's `model`.
    pub request_model: Option<String>,
    /// The `model` the answer names.
    pub response_model: Option<String>,
    /// The request asked for a stream (`stream: true`).
    pub stream: bool,
    pub max_tokens: Option<u64>,
    pub temperature: Option<f64>,
    /// Input tokens, as the server reported them (`usage.prompt_tokens`).
    pub input_tokens: Option<u64>,
    /// Output tokens: reported, or counted from the streamed chunks (see `token_source`).
    pub output_tokens: Option<u64>,
    /// `usage.total_tokens`, else input plus output when both are known.
    pub total_tokens: Option<u64>,
    /// Where the token counts come from; `None` when there are none.
    pub token_source: Option<TokenSource>,
    /// Each choice's `finish_reason`, in the order they came (closed set of names).
    pub finish_reasons: Vec<&'static str>,
    /// Streamed answers: request head in to the first output chunk out.
    pub time_to_first_token: Option<Duration>,
    /// Streamed answers with two or more output chunks: the gaps between them.
    pub inter_token: Option<GapSummary>,
    /// Output tokens divided by the whole duration.
    pub output_tokens_per_second: Option<f64>,
    /// The prompt and completion text, when the capture policy sampled this request.
    pub text: Option<CapturedText>,
}

/// Where token counts come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenSource {
    /// The answer's `usage`, as the server reported it.
    Usage,
    /// Output counted as one token per streamed output chunk; input unknown.
    Chunks,
}

impl TokenSource {
    /// The name in events and the `source` metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenSource::Usage => "usage",
            TokenSource::Chunks => "chunks",
        }
    }
}

/// The gaps between successive output chunks of one stream.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GapSummary {
    /// Gaps measured (output chunks minus one).
    pub count: u64,
    pub mean: Duration,
    pub p50: Duration,
    pub p95: Duration,
    pub max: Duration,
}

impl GapSummary {
    /// The summary of `gaps` (at least one), whose mean over all `count` gaps is `mean`
    /// (`gaps` may hold only the first of many, to bound memory).
    pub fn of(gaps: &mut [Duration], count: u64, mean: Duration) -> Option<GapSummary> {
        if gaps.is_empty() {
            return None;
        }
        gaps.sort_unstable();
        // Nearest rank: the smallest gap with at least q of them at or below it.
        let rank =
            |q: f64| gaps[((q * gaps.len() as f64).ceil() as usize).clamp(1, gaps.len()) - 1];
        Some(GapSummary {
            count,
            mean,
            p50: rank(0.5),
            p95: rank(0.95),
            max: gaps[gaps.len() - 1],
        })
    }
}

/// Prompt and completion text under the capture policy: dropped fields are `None`,
/// hashed ones are their keyed hash, kept ones are cut to the policy's byte budget.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CapturedText {
    pub prompt: Option<String>,
    pub completion: Option<String>,
    /// Some text was cut to stay within the budget.
    pub truncated: bool,
}

impl LlmRecord {
    /// Bytes this record holds on the heap while queued.
    pub fn footprint(&self) -> usize {
        let text = self.text.as_ref().map_or(0, |t| {
            t.prompt.as_ref().map_or(0, String::len) + t.completion.as_ref().map_or(0, String::len)
        });
        std::mem::size_of::<Self>()
            + self.request_model.as_ref().map_or(0, String::len)
            + self.response_model.as_ref().map_or(0, String::len)
            + self.finish_reasons.len() * std::mem::size_of::<&str>()
            + text
    }
}

#[cfg(test)]
mod tests;
