//! A bounded copy of a body as it streams past, for analysis after the exchange.
//!
//! Frames are `Bytes`, so keeping one is a reference-count increment, not a copy. Past the
//! limit the capture gives up and frees what it held: the body is still forwarded in full,
//! it is just not analysed (`skipped{reason="body_too_large"}`).

use bytes::{Bytes, BytesMut};

/// The body bytes seen so far, up to a limit.
#[derive(Debug)]
pub struct Capture {
    chunks: Vec<Bytes>,
    len: usize,
    limit: usize,
    overflowed: bool,
}

/// What analysis gets of a body.
#[derive(Debug, Clone)]
pub enum CapturedBody {
    /// The whole body.
    Complete(Bytes),
    /// Longer than the capture limit: forwarded, not analysed.
    TooLarge,
    /// The stream failed or was abandoned before its end.
    Incomplete,
}

impl Capture {
    pub fn new(limit: usize) -> Self {
        Self {
            chunks: Vec::new(),
            len: 0,
            limit,
            overflowed: false,
        }
    }

    /// Keeps `data` unless the limit is passed.
    pub fn push(&mut self, data: &Bytes) {
        if self.overflowed {
            return;
        }
        if self.len + data.len() > self.limit {
            self.overflowed = true;
            self.chunks = Vec::new();
            self.len = 0;
            return;
        }
        self.len += data.len();
        self.chunks.push(data.clone());
    }

    /// The captured body; `complete` says whether the stream reached its end.
    pub fn finish(self, complete: bool) -> CapturedBody {
        if self.overflowed {
            CapturedBody::TooLarge
        } else if !complete {
            CapturedBody::Incomplete
        } else if self.chunks.len() == 1 {
            CapturedBody::Complete(self.chunks.into_iter().next().expect("one chunk"))
        } else {
            let mut joined = BytesMut::with_capacity(self.len);
            for chunk in &self.chunks {
                joined.extend_from_slice(chunk);
            }
            CapturedBody::Complete(joined.freeze())
        }
    }
}

#[cfg(test)]
mod tests;
