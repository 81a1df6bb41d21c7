//! The bounded hand-off between the proxy and the analysis workers.
//!
//! Bounded twice: by a number of exchanges and by the bytes they hold, so a burst of large
//! bodies cannot grow memory past `analysis.queue_bytes`. The proxy side never blocks: a
//! full queue drops the newest exchange and counts it in
//! `modelwatch_analysis_dropped_total{reason="queue_full"}`.

use crate::traffic::Exchange;
use crossbeam_channel::{Receiver, Sender, TrySendError};
use prometheus::{IntCounterVec, IntGauge, Opts, Registry};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Why an exchange never reached a worker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DropReason {
    /// The queue was at its count or byte limit.
    QueueFull,
    /// The workers have stopped (shutdown).
    Closed,
}

impl DropReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::QueueFull => "queue_full",
            Self::Closed => "closed",
        }
    }
}

/// Why no exchange came.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Idle {
    /// Nothing queued within the timeout.
    Empty,
    /// Nothing queued and every sender gone.
    Closed,
}

/// The sending side, shared by every connection.
pub struct AnalysisQueue {
    sender: Sender<Exchange>,
    queued_bytes: Arc<AtomicUsize>,
    max_bytes: usize,
    dropped: IntCounterVec,
    depth: IntGauge,
}

/// The receiving side, one clone per worker.
#[derive(Clone)]
pub struct QueueReceiver {
    receiver: Receiver<Exchange>,
    queued_bytes: Arc<AtomicUsize>,
    depth: IntGauge,
}

impl AnalysisQueue {
    /// A queue of at most `capacity` exchanges holding at most `max_bytes`.
    pub fn new(
        capacity: usize,
        max_bytes: usize,
        registry: &Registry,
    ) -> prometheus::Result<(AnalysisQueue, QueueReceiver)> {
        let dropped = IntCounterVec::new(
            Opts::new(
                "modelwatch_analysis_dropped_total",
                "Exchanges not analysed because the analysis queue could not take them.",
            ),
            &["reason"],
        )?;
        let depth = IntGauge::new(
            "modelwatch_analysis_queue_depth",
            "Exchanges waiting for an analysis worker.",
        )?;
        registry.register(Box::new(dropped.clone()))?;
        registry.register(Box::new(depth.clone()))?;
        for reason in [DropReason::QueueFull, DropReason::Closed] {
            dropped.with_label_values(&[reason.as_str()]);
        }
        let (sender, receiver) = crossbeam_channel::bounded(capacity);
        let queued_bytes = Arc::new(AtomicUsize::new(0));
        Ok((
            AnalysisQueue {
                sender,
                queued_bytes: queued_bytes.clone(),
                max_bytes,
                dropped,
                depth: depth.clone(),
            },
            QueueReceiver {
                receiver,
                queued_bytes,
                depth,
            },
        ))
    }

    /// Hands `exchange` to the workers without waiting; drops and counts it when full.
    pub fn offer(&self, exchange: Exchange) {
        let _ = self.try_offer(exchange);
    }

    /// Like [`offer`](Self::offer), but a dropped exchange (counted) comes back to the
    /// caller, which may still export its event.
    pub fn try_offer(&self, exchange: Exchange) -> Result<(), Box<Exchange>> {
        let size = exchange.footprint();
        let before = self.queued_bytes.fetch_add(size, Ordering::Relaxed);
        if before + size > self.max_bytes {
            self.queued_bytes.fetch_sub(size, Ordering::Relaxed);
            self.drop_one(DropReason::QueueFull);
            return Err(Box::new(exchange));
        }
        match self.sender.try_send(exchange) {
            Ok(()) => {
                self.depth.inc();
                Ok(())
            }
            Err(err) => {
                self.queued_bytes.fetch_sub(size, Ordering::Relaxed);
                let (reason, exchange) = match err {
                    TrySendError::Full(e) => (DropReason::QueueFull, e),
                    TrySendError::Disconnected(e) => (DropReason::Closed, e),
                };
                self.drop_one(reason);
                Err(Box::new(exchange))
            }
        }
    }

    fn drop_one(&self, reason: DropReason) {
        self.dropped.with_label_values(&[reason.as_str()]).inc();
    }
}

impl QueueReceiver {
    /// The next exchange, waiting for one; `None` once every sender is gone and the queue
    /// is empty.
    pub fn recv(&self) -> Option<Exchange> {
        let exchange = self.receiver.recv().ok()?;
        Some(self.taken(exchange))
    }

    /// The next exchange, waiting at most `timeout`.
    pub fn recv_timeout(&self, timeout: std::time::Duration) -> Result<Exchange, Idle> {
        match self.receiver.recv_timeout(timeout) {
            Ok(exchange) => Ok(self.taken(exchange)),
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => Err(Idle::Empty),
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => Err(Idle::Closed),
        }
    }

    /// The next exchange if one is waiting, without waiting.
    pub fn try_recv(&self) -> Option<Exchange> {
        let exchange = self.receiver.try_recv().ok()?;
        Some(self.taken(exchange))
    }

    fn taken(&self, exchange: Exchange) -> Exchange {
        self.depth.dec();
        self.queued_bytes
            .fetch_sub(exchange.footprint(), Ordering::Relaxed);
        exchange
    }
}

#[cfg(test)]
mod tests;
