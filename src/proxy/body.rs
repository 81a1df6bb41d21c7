//! A body wrapper that counts the bytes streaming through it and reports once, when the
//! body ends, fails, or is dropped early.
//!
//! Bodies are never buffered here: frames pass straight through, so a chunked response
//! reaches the client as the upstream produces it.

use bytes::{Buf, Bytes};
use http_body::{Body, Frame, SizeHint};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use crate::traffic::BodyEnd;

/// Sees each data frame as it passes, then is called exactly once with the byte count
/// when the body ends.
pub trait OnBodyEnd {
    /// A data frame on its way through; the default ignores it.
    fn on_data(&mut self, _data: &Bytes) {}
    fn on_end(self, bytes: u64, end: BodyEnd);
}

pin_project_lite::pin_project! {
    /// Streams `inner` unchanged and tells `on_end` how many data bytes passed.
    pub struct Observed<B, E: OnBodyEnd> {
        #[pin]
        inner: B,
        bytes: u64,
        on_end: Option<E>,
    }

    impl<B, E: OnBodyEnd> PinnedDrop for Observed<B, E> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if let Some(on_end) = this.on_end.take() {
                on_end.on_end(*this.bytes, BodyEnd::Abandoned);
            }
        }
    }
}

impl<B, E: OnBodyEnd> Observed<B, E> {
    pub fn new(inner: B, on_end: E) -> Self {
        Self {
            inner,
            bytes: 0,
            on_end: Some(on_end),
        }
    }
}

impl<B: Body<Data = Bytes>, E: OnBodyEnd> Body for Observed<B, E> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let mut this = self.project();
        let polled = ready!(this.inner.as_mut().poll_frame(cx));
        match &polled {
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    *this.bytes += data.remaining() as u64;
                    if let Some(on_end) = this.on_end.as_mut() {
                        on_end.on_data(data);
                    }
                }
            }
            Some(Err(_)) => {
                if let Some(on_end) = this.on_end.take() {
                    on_end.on_end(*this.bytes, BodyEnd::Failed);
                }
            }
            None => {
                if let Some(on_end) = this.on_end.take() {
                    on_end.on_end(*this.bytes, BodyEnd::Complete);
                }
            }
        }
        // A body whose length is known may be dropped by the server as soon as its last
        // byte is written, without a final poll: report completion then, not as abandoned.
        if this.inner.is_end_stream()
            && let Some(on_end) = this.on_end.take()
        {
            on_end.on_end(*this.bytes, BodyEnd::Complete);
        }
        Poll::Ready(polled)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests;
