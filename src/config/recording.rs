//! `[export.recording]`: the sidecar's own recording of OpenAI-compatible calls, a JSONL
//! file of `{"request", "response"}` records that `modelwatch dataset add` reads as an LLM
//! reference. Off while `path` is unset. It keeps whole requests and answers, prompts
//! included, so it must not be turned on where the capture policy forbids keeping them.

use crate::config::elasticsearch::CaptureConfig;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Request fields the drift features are computed from (`protocol::openai::features`), with
/// the capture policy's names for LLM text (`prompt`, `completion`): a recording without
/// them could not give the reference's features, so a policy that drops or hashes one of
/// them forbids the recording.
pub const FEATURE_FIELDS: [&str; 7] = [
    "prompt",
    "completion",
    "messages",
    "tools",
    "functions",
    "tool_choice",
    "function_call",
];

/// Where and how much the sidecar records.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RecordingConfig {
    /// The JSONL file records are appended to (`--record`); unset: no recording.
    pub path: Option<PathBuf>,
    /// Share of chat and text completion calls recorded, above 0 up to 1 (all). A call is
    /// chosen by its request id, as the capture policy chooses.
    pub sample_rate: f64,
    /// The file never grows past this many bytes; later calls are counted as
    /// `file_full` and not written.
    pub max_bytes: u64,
    /// Memory the records waiting for the writer may hold; beyond it calls are counted as
    /// `queue_full` and not written.
    pub queue_bytes: usize,
}

impl Default for RecordingConfig {
    fn default() -> Self {
        Self {
            path: None,
            sample_rate: 1.0,
            max_bytes: 256 * 1024 * 1024,
            queue_bytes: 8 * 1024 * 1024,
        }
    }
}

impl RecordingConfig {
    /// Whether the sidecar records at all.
    pub fn enabled(&self) -> bool {
        self.path.is_some()
    }

    /// Appends one message per problem, each naming the key and the fix. `capture` is the
    /// privacy policy of request events, which the recording obeys.
    pub fn validate(&self, capture: &CaptureConfig, problems: &mut Vec<String>) {
        const KEY: &str = "export.recording";
        let Some(path) = &self.path else {
            return;
        };
        if path.as_os_str().is_empty() || path.is_dir() {
            problems.push(format!(
                "{KEY}.path = {path:?} is not a file path: give the JSONL file to write, e.g. \
                 --record recording.jsonl"
            ));
        }
        if !(self.sample_rate > 0.0 && self.sample_rate <= 1.0) {
            problems.push(format!(
                "{KEY}.sample_rate = {} is outside (0, 1]: give a share such as 0.1 (10 %), or \
                 leave {KEY}.path unset to record nothing",
                self.sample_rate
            ));
        }
        if self.max_bytes == 0 {
            problems.push(format!(
                "{KEY}.max_bytes is 0: give a size in bytes such as 268435456 (256 MiB)"
            ));
        }
        if self.queue_bytes < 64 * 1024 {
            problems.push(format!(
                "{KEY}.queue_bytes = {} is below 65536: give at least 64 KiB, e.g. 8388608",
                self.queue_bytes
            ));
        }
        for (list, names) in [("drop", &capture.drop), ("hash", &capture.hash)] {
            for name in names {
                if FEATURE_FIELDS.iter().any(|f| f.eq_ignore_ascii_case(name)) {
                    problems.push(format!(
                        "{KEY}.path is set but export.elasticsearch.capture.{list} names \
                         {name:?}: a recording keeps whole requests and answers, prompts and \
                         completions included, which that policy forbids; remove {name:?} \
                         from the list, or leave {KEY}.path unset"
                    ));
                }
            }
        }
    }
}
