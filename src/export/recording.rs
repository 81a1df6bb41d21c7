//! The sidecar's own recording of OpenAI-compatible chat and text completion calls
//! (`[export.recording]`, `--record FILE`): one `{"request": …, "response": …}` line per
//! sampled call, the format `modelwatch dataset add` reads as an LLM reference
//! (`registry::llm_requests`). The response is the answer's JSON object, or a streamed
//! answer's event-stream text as a string.
//!
//! Off the request path: the proxy's tap hands the finished exchange's captured bodies
//! (reference-counted, no copy) to [`Recorder::offer`], which never blocks: a full queue
//! (by count or by bytes) drops the call. One writer thread parses, redacts and appends.
//! A file at `max_bytes`, a full disk or an unwritable path drops the call, counted in
//! `modelwatch_recording_calls_total{outcome}` and logged once; traffic never waits.
//!
//! A recording keeps prompts and completions. Top-level request fields the capture policy
//! drops are left out and those it hashes are replaced by their keyed hash; a policy that
//! drops or hashes the fields the features need is refused by the configuration check.

use crate::config::elasticsearch::CaptureConfig;
use crate::config::recording::RecordingConfig;
use crate::export::elasticsearch::capture::{CapturePolicy, sampled_by_id};
use crate::protocol::openai::Endpoint;
use crate::traffic::BodyEnd;
use crate::traffic::capture::CapturedBody;
use crate::traffic::exchange::Exchange;
use bytes::Bytes;
use prometheus::{IntCounterVec, Opts, Registry};
use serde_json::{Map, Value};
use std::io::{Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};

/// Calls waiting for the writer, at most (the byte budget usually binds first).
const QUEUE_CALLS: usize = 1024;

/// What became of a call chosen for the recording (the `outcome` label).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Written,
    /// The writer's queue was at its count or byte limit.
    QueueFull,
    /// The file has reached `max_bytes`.
    FileFull,
    /// The file could not be opened or written (unwritable path, full disk).
    WriteError,
    /// A body was cut short, or longer than `analysis.max_body_bytes`.
    Incomplete,
    /// The server answered with an error status: not a reference answer.
    ErrorStatus,
    /// The request is not a JSON object, or the answer neither JSON nor UTF-8 event text.
    Unreadable,
}

impl Outcome {
    pub const ALL: [Outcome; 7] = [
        Outcome::Written,
        Outcome::QueueFull,
        Outcome::FileFull,
        Outcome::WriteError,
        Outcome::Incomplete,
        Outcome::ErrorStatus,
        Outcome::Unreadable,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Written => "written",
            Outcome::QueueFull => "queue_full",
            Outcome::FileFull => "file_full",
            Outcome::WriteError => "write_error",
            Outcome::Incomplete => "incomplete",
            Outcome::ErrorStatus => "error_status",
            Outcome::Unreadable => "unreadable",
        }
    }
}

/// One call on its way to the writer.
struct Call {
    request: Bytes,
    response: Bytes,
    /// The answer is an event stream (kept as text), not a JSON object.
    stream: bool,
}

impl Call {
    fn footprint(&self) -> usize {
        self.request.len() + self.response.len()
    }
}

/// The proxy's handle: chooses calls and queues them for the writer thread.
pub struct Recorder {
    sender: SyncSender<Call>,
    held: Arc<AtomicUsize>,
    queue_bytes: usize,
    sample_rate: f64,
    /// Largest body captured for the recording (`analysis.max_body_bytes`).
    pub max_body_bytes: usize,
    outcomes: IntCounterVec,
}

/// A started recording: the proxy's handle and the writer thread, which ends once every
/// handle is dropped and the queue is written.
pub struct Started {
    pub recorder: Arc<Recorder>,
    pub writer: std::thread::JoinHandle<()>,
}

impl Recorder {
    /// Starts the writer; `None` when `config.path` is unset. The file is opened at the
    /// first call, so an unwritable path costs the recording, never the sidecar's start.
    pub fn start(
        config: &RecordingConfig,
        capture: &CaptureConfig,
        max_body_bytes: usize,
        registry: &Registry,
    ) -> anyhow::Result<Option<Started>> {
        let Some(path) = config.path.clone() else {
            return Ok(None);
        };
        let outcomes = IntCounterVec::new(
            Opts::new(
                "modelwatch_recording_calls_total",
                "OpenAI-compatible calls chosen for the sidecar's recording, by outcome.",
            ),
            &["outcome"],
        )?;
        registry.register(Box::new(outcomes.clone()))?;
        for outcome in Outcome::ALL {
            outcomes.with_label_values(&[outcome.as_str()]);
        }
        let (sender, receiver) = std::sync::mpsc::sync_channel(QUEUE_CALLS);
        let held = Arc::new(AtomicUsize::new(0));
        let writer = Writer {
            path,
            max_bytes: config.max_bytes,
            redaction: Redaction::new(capture),
            held: held.clone(),
            outcomes: outcomes.clone(),
            file: None,
            size: 0,
            warned_full: false,
            warned_error: false,
        };
        let writer = std::thread::Builder::new()
            .name("recording".into())
            .spawn(move || writer.run(receiver))?;
        Ok(Some(Started {
            recorder: Arc::new(Recorder {
                sender,
                held,
                queue_bytes: config.queue_bytes,
                sample_rate: config.sample_rate,
                max_body_bytes,
                outcomes,
            }),
            writer,
        }))
    }

    /// Whether the call to `path` with this request id is recorded: a chat or text
    /// completion route, in the sample (by request id, as the capture policy samples).
    pub fn wants(&self, path: &str, request_id: &str) -> bool {
        matches!(
            Endpoint::from_route(path),
            Some(Endpoint::Chat | Endpoint::TextCompletion)
        ) && sampled_by_id(self.sample_rate, request_id)
    }

    /// Queues the finished exchange of a call [`Recorder::wants`]; never blocks.
    pub fn offer(&self, exchange: &Exchange) {
        let call = match call_of(exchange) {
            Ok(call) => call,
            Err(outcome) => return self.count(outcome),
        };
        let size = call.footprint();
        if self.held.fetch_add(size, Ordering::AcqRel) + size > self.queue_bytes {
            self.held.fetch_sub(size, Ordering::AcqRel);
            return self.count(Outcome::QueueFull);
        }
        if let Err(TrySendError::Full(call) | TrySendError::Disconnected(call)) =
            self.sender.try_send(call)
        {
            self.held.fetch_sub(call.footprint(), Ordering::AcqRel);
            self.count(Outcome::QueueFull);
        }
    }

    fn count(&self, outcome: Outcome) {
        self.outcomes.with_label_values(&[outcome.as_str()]).inc();
    }
}

/// The bodies of an exchange worth recording: a 2xx answer, both bodies whole.
fn call_of(exchange: &Exchange) -> Result<Call, Outcome> {
    if !exchange.status.is_success() {
        return Err(Outcome::ErrorStatus);
    }
    match (&exchange.request.body, &exchange.response.body) {
        (CapturedBody::Complete(request), CapturedBody::Complete(response))
            if exchange.response_end == BodyEnd::Complete =>
        {
            Ok(Call {
                request: request.clone(),
                response: response.clone(),
                stream: exchange
                    .response
                    .content_type
                    .as_deref()
                    .is_some_and(|t| t.trim_start().starts_with("text/event-stream")),
            })
        }
        _ => Err(Outcome::Incomplete),
    }
}

/// The capture policy's `drop` and `hash`, applied to a request's top-level fields.
struct Redaction {
    drop: Vec<String>,
    hash: Vec<String>,
    policy: Option<CapturePolicy>,
}

impl Redaction {
    fn new(capture: &CaptureConfig) -> Self {
        let lower = |names: &[String]| names.iter().map(|n| n.to_lowercase()).collect();
        Self {
            drop: lower(&capture.drop),
            hash: lower(&capture.hash),
            // The policy's keyed hash, whether or not events capture payloads.
            policy: CapturePolicy::new(&CaptureConfig {
                sample_rate: 1.0,
                ..capture.clone()
            }),
        }
    }

    fn apply(&self, request: &mut Map<String, Value>) {
        request.retain(|name, _| !self.drop.contains(&name.to_lowercase()));
        let Some(policy) = self.policy.as_ref().filter(|_| !self.hash.is_empty()) else {
            return;
        };
        for (name, value) in request.iter_mut() {
            if self.hash.contains(&name.to_lowercase()) {
                let text = match &*value {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                *value = Value::String(policy.hash_value(&text));
            }
        }
    }
}

/// The JSONL line of one call, or why it has none.
fn record_line(call: &Call, redaction: &Redaction) -> Result<Vec<u8>, Outcome> {
    let mut request = match serde_json::from_slice::<Value>(&call.request) {
        Ok(Value::Object(request)) => request,
        _ => return Err(Outcome::Unreadable),
    };
    redaction.apply(&mut request);
    let response = if call.stream {
        Value::String(String::from_utf8(call.response.to_vec()).map_err(|_| Outcome::Unreadable)?)
    } else {
        match serde_json::from_slice::<Value>(&call.response) {
            Ok(answer @ Value::Object(_)) => answer,
            _ => return Err(Outcome::Unreadable),
        }
    };
    let mut record = Map::new();
    record.insert("request".into(), Value::Object(request));
    record.insert("response".into(), response);
    let mut line = serde_json::to_vec(&Value::Object(record)).expect("JSON values serialise");
    line.push(b'\n');
    Ok(line)
}

/// The writer thread's state: the file, opened at the first call (and again after a
/// failed write), and its size.
struct Writer {
    path: PathBuf,
    max_bytes: u64,
    redaction: Redaction,
    held: Arc<AtomicUsize>,
    outcomes: IntCounterVec,
    file: Option<std::fs::File>,
    size: u64,
    warned_full: bool,
    warned_error: bool,
}

impl Writer {
    fn run(mut self, receiver: Receiver<Call>) {
        for call in receiver {
            self.held.fetch_sub(call.footprint(), Ordering::AcqRel);
            let outcome = match record_line(&call, &self.redaction) {
                Ok(line) => self.append(&line),
                Err(outcome) => outcome,
            };
            self.outcomes.with_label_values(&[outcome.as_str()]).inc();
        }
    }

    /// Appends one whole line, or nothing: a failed write is cut back off the file, so a
    /// full disk never leaves half a line for `dataset add` to refuse.
    fn append(&mut self, line: &[u8]) -> Outcome {
        if self.file.is_none() {
            match open(&self.path) {
                Ok((file, size)) => {
                    self.file = Some(file);
                    self.size = size;
                }
                Err(e) => return self.failed(&e),
            }
        }
        if self.size + line.len() as u64 > self.max_bytes {
            if !self.warned_full {
                self.warned_full = true;
                tracing::warn!(
                    path = %self.path.display(),
                    max_bytes = self.max_bytes,
                    "the recording is full (export.recording.max_bytes): later calls are not \
                     recorded, counted as modelwatch_recording_calls_total{{outcome=\"file_full\"}}"
                );
            }
            return Outcome::FileFull;
        }
        let file = self.file.as_mut().expect("opened above");
        match file.write_all(line) {
            Ok(()) => {
                self.size += line.len() as u64;
                Outcome::Written
            }
            Err(e) => {
                let _ = file.set_len(self.size);
                self.file = None;
                self.failed(&e)
            }
        }
    }

    fn failed(&mut self, error: &std::io::Error) -> Outcome {
        if !self.warned_error {
            self.warned_error = true;
            tracing::warn!(
                path = %self.path.display(),
                %error,
                "could not write the recording (export.recording.path): calls are not \
                 recorded, counted as modelwatch_recording_calls_total{{outcome=\"write_error\"}}; \
                 traffic is unaffected"
            );
        }
        Outcome::WriteError
    }
}

/// Opens the recording for appending and returns its size. A file that does not end in a
/// newline (an earlier process stopped mid-line) gets one, so every record is its own line.
fn open(path: &Path) -> std::io::Result<(std::fs::File, u64)> {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .read(true)
        .open(path)?;
    let size = file.seek(std::io::SeekFrom::End(0))?;
    if size > 0 {
        use std::io::Read;
        let mut last = [0u8; 1];
        file.seek(std::io::SeekFrom::Start(size - 1))?;
        file.read_exact(&mut last)?;
        if last[0] != b'\n' {
            file.write_all(b"\n")?;
            return Ok((file, size + 1));
        }
    }
    Ok((file, size))
}

#[cfg(test)]
mod tests;
