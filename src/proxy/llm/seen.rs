//! What an LLM answer has shown so far, chunk by chunk (or once, for a whole JSON answer).

use crate::protocol::openai::{AnswerSummary, FinishReason, Usage};
use std::time::{Duration, Instant};

/// Gaps between output chunks kept for the percentiles of one stream (16 bytes each); the
/// mean and count still cover every gap past it.
const MAX_GAPS: usize = 4096;
/// The most completion text collected for a sampled request; the capture policy's
/// `max_bytes` cuts it further.
const MAX_COMPLETION_BYTES: usize = 1 << 20;

pub(super) struct Seen {
    pub first_output: Option<Instant>,
    pub last_output: Option<Instant>,
    pub output_chunks: u64,
    /// The first [`MAX_GAPS`] gaps between successive output chunks.
    pub gaps: Vec<Duration>,
    pub finish_reasons: Vec<FinishReason>,
    pub usage: Option<Usage>,
    pub model: Option<String>,
    pub stream_error: bool,
    /// The first choice's text so far; `Some` only when the request is sampled for capture.
    pub completion: Option<String>,
    /// Text was left out past [`MAX_COMPLETION_BYTES`].
    pub completion_cut_short: bool,
}

impl Seen {
    pub fn new(collect_text: bool) -> Self {
        Self {
            first_output: None,
            last_output: None,
            output_chunks: 0,
            gaps: Vec::new(),
            finish_reasons: Vec::new(),
            usage: None,
            model: None,
            stream_error: false,
            completion: collect_text.then(String::new),
            completion_cut_short: false,
        }
    }

    pub fn add(&mut self, answer: AnswerSummary, at: Instant) {
        if answer.output_choices > 0 {
            self.first_output.get_or_insert(at);
            if let Some(last) = self.last_output
                && self.gaps.len() < MAX_GAPS
            {
                self.gaps.push(at.duration_since(last));
            }
            self.last_output = Some(at);
            self.output_chunks += answer.output_choices;
        }
        // A choice's finish reason is sent once; cap what a hostile stream could pile up.
        if self.finish_reasons.len() < 64 {
            self.finish_reasons.extend(answer.finish_reasons);
        }
        self.usage = answer.usage.or(self.usage);
        if self.model.is_none() {
            self.model = answer.model;
        }
        self.stream_error |= answer.error;
        if let Some(completion) = self.completion.as_mut() {
            if completion.len() + answer.text.len() <= MAX_COMPLETION_BYTES {
                completion.push_str(&answer.text);
            } else {
                self.completion_cut_short = true;
            }
        }
    }
}
