//! An incremental parser of server-sent events (the `text/event-stream` format of the
//! WHATWG HTML standard, §9.2 "Server-sent events"), fed whatever chunks the network gives.
//!
//! Written here rather than taken from a crate: the SSE crates on crates.io
//! (`eventsource-stream`, `sse-stream`, …) are `Stream` adapters that own the body and must
//! be polled, while the proxy's tap is a synchronous observer called with each data frame
//! as it passes to the client (the proxy must never hold a frame back). A push
//! parser is ~100 lines: lines end at CRLF, LF or CR (a CR at the end of one chunk and an
//! LF at the start of the next are one line end), `:` starts a comment, `data` lines are
//! joined with `\n`, a blank line dispatches the event. Memory is bounded: an event whose
//! fields pass `max_event_bytes` is dropped (and counted), never grown without limit.

use memchr::memchr2;

/// True when a `Content-Type` announces a server-sent event stream.
pub fn is_event_stream(content_type: &str) -> bool {
    content_type
        .split(';')
        .next()
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("text/event-stream"))
}

/// One dispatched event: its `event` field (if any) and its joined `data` lines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SseEvent {
    pub event: Option<String>,
    pub data: String,
}

/// Pushes bytes in, calls back with each complete event.
#[derive(Debug)]
pub struct SseParser {
    /// The current line, not yet ended.
    line: Vec<u8>,
    /// The last byte pushed was a CR: an LF right after it ends nothing.
    after_cr: bool,
    /// The stream's first bytes are still to be checked for a UTF-8 BOM.
    at_start: bool,
    data: String,
    event: Option<String>,
    /// Bytes held by `line`, `data` and `event` for the current event.
    held: usize,
    max_event_bytes: usize,
    /// The current event passed the limit: its remaining lines are skipped.
    overflowed: bool,
    /// Events dropped for passing the limit.
    pub dropped: u64,
}

const BOM: &[u8] = b"\xEF\xBB\xBF";

impl SseParser {
    pub fn new(max_event_bytes: usize) -> Self {
        Self {
            line: Vec::new(),
            after_cr: false,
            at_start: true,
            data: String::new(),
            event: None,
            held: 0,
            max_event_bytes,
            overflowed: false,
            dropped: 0,
        }
    }

    /// Feeds one chunk; `on_event` sees each event the chunk completes, in order.
    pub fn push(&mut self, mut chunk: &[u8], on_event: &mut impl FnMut(SseEvent)) {
        if self.at_start {
            // The BOM may itself be split across chunks: wait until three bytes are seen.
            let seen = self.line.len() + chunk.len();
            if seen < BOM.len() && BOM.starts_with(&[&self.line[..], chunk].concat()) {
                self.line.extend_from_slice(chunk);
                return;
            }
            self.at_start = false;
            let mut head = std::mem::take(&mut self.line);
            head.extend_from_slice(chunk);
            let skip = if head.starts_with(BOM) { BOM.len() } else { 0 };
            let joined = head[skip..].to_vec();
            return self.push_lines(&joined, on_event);
        }
        if self.after_cr && chunk.first() == Some(&b'\n') {
            chunk = &chunk[1..];
        }
        self.after_cr = false;
        self.push_lines(chunk, on_event);
    }

    fn push_lines(&mut self, mut chunk: &[u8], on_event: &mut impl FnMut(SseEvent)) {
        self.after_cr = false;
        while let Some(end) = memchr2(b'\n', b'\r', chunk) {
            self.append(&chunk[..end]);
            let was_cr = chunk[end] == b'\r';
            let mut next = end + 1;
            if was_cr {
                match chunk.get(next) {
                    Some(b'\n') => next += 1,
                    Some(_) => {}
                    None => self.after_cr = true,
                }
            }
            self.end_line(on_event);
            chunk = &chunk[next..];
        }
        self.append(chunk);
    }

    fn append(&mut self, bytes: &[u8]) {
        if self.overflowed || bytes.is_empty() {
            return;
        }
        if self.held + bytes.len() > self.max_event_bytes {
            self.overflow();
            return;
        }
        self.held += bytes.len();
        self.line.extend_from_slice(bytes);
    }

    fn overflow(&mut self) {
        self.overflowed = true;
        self.line = Vec::new();
        self.data = String::new();
        self.event = None;
    }

    fn end_line(&mut self, on_event: &mut impl FnMut(SseEvent)) {
        let line = std::mem::take(&mut self.line);
        if line.is_empty() {
            self.dispatch(on_event);
            return;
        }
        if self.overflowed || line[0] == b':' {
            return;
        }
        let text = String::from_utf8_lossy(&line);
        let (field, value) = match text.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (&*text, ""),
        };
        match field {
            "data" => {
                // Invalid UTF-8 decodes to U+FFFD, three bytes for one, so the limit is
                // checked again on what is kept (the fuzz target `sse_stream` found this).
                if self.data.len() + value.len() + 1 > self.max_event_bytes {
                    self.overflow();
                    return;
                }
                self.data.push_str(value);
                self.data.push('\n');
                self.held += 1;
            }
            "event" => self.event = Some(value.to_string()),
            // `id` and `retry` concern reconnecting clients, not what the model said.
            _ => {}
        }
    }

    fn dispatch(&mut self, on_event: &mut impl FnMut(SseEvent)) {
        let overflowed = std::mem::replace(&mut self.overflowed, false);
        self.held = 0;
        let mut data = std::mem::take(&mut self.data);
        let event = self.event.take();
        if overflowed {
            self.dropped += 1;
            return;
        }
        if data.is_empty() {
            return;
        }
        data.pop();
        on_event(SseEvent { event, data });
    }
}

#[cfg(test)]
mod tests;
