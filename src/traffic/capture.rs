//! A bounded copy of a body as it streams past, for analysis after the exchange.
//!
//! Frames are copied into the capture's own buffer rather than kept by reference: a frame
//! is a slice of hyper's read buffer, and while any slice of it lives hyper cannot reuse
//! that buffer and allocates a fresh one (8 KiB or more) for the next read, on the client
//! connection for the request and on the upstream connection for the response. Copying a
//! body of a kilobyte costs less than that allocation, and what a queued exchange holds is
//! then exactly the bytes the analysis queue counts, not the read buffers behind them.
//! Past the limit the capture gives up and frees what it held: the body is still
//! forwarded in full, it is just not analysed (`skipped{reason="body_too_large"}`).

use bytes::{Bytes, BytesMut};

/// The body bytes seen so far, up to a limit.
#[derive(Debug)]
pub struct Capture {
    kept: BytesMut,
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
            kept: BytesMut::new(),
            limit,
            overflowed: false,
        }
    }

    /// Copies `data` unless the limit is passed.
    pub fn push(&mut self, data: &Bytes) {
        if self.overflowed {
            return;
        }
        if self.kept.len() + data.len() > self.limit {
            self.overflowed = true;
            self.kept = BytesMut::new();
            return;
        }
        self.kept.extend_from_slice(data);
    }

    /// The captured body; `complete` says whether the stream reached its end.
    pub fn finish(self, complete: bool) -> CapturedBody {
        if self.overflowed {
            CapturedBody::TooLarge
        } else if !complete {
            CapturedBody::Incomplete
        } else {
            CapturedBody::Complete(self.kept.freeze())
        }
    }
}

#[cfg(test)]
mod tests;
