//! The proxy's side of the export: a non-blocking, byte-bounded hand-off to the persister
//! thread that writes events into the spool.
//!
//! `offer` never waits: when the events already waiting hold `queue_bytes`, the new one is
//! dropped and counted as `modelwatch_export_events_total{outcome="dropped",kind}` under its
//! own kind (`request`, `drift`, `performance`), so a lost drift snapshot is not mistaken for
//! a lost request event. The channel
//! itself is unbounded; the byte counter is what bounds it. Drift snapshots share the queue
//! and its budget ([`ExportQueue::offer_drift`]). It is a std channel because its reader is
//! a plain thread (file I/O blocks) that also wakes on a timer to fsync.

use super::event::{DocumentKind, ExportRecord, KindCounts, RenderedDocument, RequestRecord};
use crate::traffic::exchange::Exchange;
use prometheus::{IntCounter, IntCounterVec, Opts, Registry};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;

/// The `sink` label of this exporter's series.
pub const SINK: &str = "elasticsearch";

/// What became of an event; the `outcome` label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Written to the on-disk spool (it survives a restart from here on).
    Spooled,
    Delivered,
    Duplicate,
    /// One more attempt was needed (counted per event and attempt).
    Retried,
    DeadLetter,
    Dropped,
}

impl Outcome {
    pub const ALL: [Outcome; 6] = [
        Outcome::Spooled,
        Outcome::Delivered,
        Outcome::Duplicate,
        Outcome::Retried,
        Outcome::DeadLetter,
        Outcome::Dropped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Spooled => "spooled",
            Outcome::Delivered => "delivered",
            Outcome::Duplicate => "duplicate",
            Outcome::Retried => "retried",
            Outcome::DeadLetter => "dead_letter",
            Outcome::Dropped => "dropped",
        }
    }
}

/// `modelwatch_export_events_total{sink="elasticsearch",outcome,kind}`: each event is
/// counted under its own [`DocumentKind`].
#[derive(Clone)]
pub struct ExportCounters(Arc<[IntCounter]>);

impl ExportCounters {
    pub fn register(registry: &Registry) -> prometheus::Result<Self> {
        let events = IntCounterVec::new(
            Opts::new(
                "modelwatch_export_events_total",
                "Events handed to an exporter, by what became of them.",
            ),
            &["sink", "outcome", "kind"],
        )?;
        registry.register(Box::new(events.clone()))?;
        // Every series exists from the start (so rates begin at 0), and counting is an
        // index, not a label lookup.
        let series = Outcome::ALL
            .iter()
            .flat_map(|outcome| {
                DocumentKind::ALL
                    .map(|kind| events.with_label_values(&[SINK, outcome.as_str(), kind.as_str()]))
            })
            .collect();
        Ok(Self(series))
    }

    /// Counts `n` events of one kind.
    pub fn add(&self, outcome: Outcome, kind: DocumentKind, n: usize) {
        if n > 0 {
            self.series(outcome, kind).inc_by(n as u64);
        }
    }

    /// Counts a mixed set of events, each under its own kind.
    pub fn add_each(&self, outcome: Outcome, counts: KindCounts) {
        for kind in DocumentKind::ALL {
            self.add(outcome, kind, counts.get(kind));
        }
    }

    fn series(&self, outcome: Outcome, kind: DocumentKind) -> &IntCounter {
        let row = Outcome::ALL
            .iter()
            .position(|o| *o == outcome)
            .expect("every outcome is in Outcome::ALL");
        &self.0[row * DocumentKind::ALL.len() + usize::from(kind.as_byte())]
    }
}

/// What travels in the channel: an event, or the sidecar's request to stop.
// Every message but the last is a record: boxing it would cost an allocation per event to
// save bytes on one `Close`.
#[allow(clippy::large_enum_variant)]
enum Message {
    Record(ExportRecord),
    Close,
}

/// What [`ExportReceiver::recv_timeout`] got.
#[allow(clippy::large_enum_variant)] // as `Message`
pub enum Received {
    Record(ExportRecord),
    Timeout,
    /// [`ExportQueue::close`] was called (or every sender is gone).
    Closed,
}

/// The sending side, held by the proxy's tap.
pub struct ExportQueue {
    sender: mpsc::Sender<Message>,
    queued_bytes: Arc<AtomicUsize>,
    max_bytes: usize,
    counters: ExportCounters,
}

/// The persister's side.
pub struct ExportReceiver {
    receiver: mpsc::Receiver<Message>,
    queued_bytes: Arc<AtomicUsize>,
    closed: bool,
}

impl ExportQueue {
    pub fn new(max_bytes: usize, counters: ExportCounters) -> (ExportQueue, ExportReceiver) {
        let (sender, receiver) = mpsc::channel();
        let queued_bytes = Arc::new(AtomicUsize::new(0));
        (
            ExportQueue {
                sender,
                queued_bytes: queued_bytes.clone(),
                max_bytes,
                counters,
            },
            ExportReceiver {
                receiver,
                queued_bytes,
                closed: false,
            },
        )
    }

    /// Queues the exchange's event without waiting; drops and counts it when full.
    pub fn offer(&self, exchange: &Exchange) {
        self.push(ExportRecord::Request(RequestRecord::from_exchange(
            exchange,
        )));
    }

    /// Queues a request event built elsewhere (the analysis worker's, with what decoding
    /// learnt; the proxy's own answers) without waiting.
    pub fn offer_record(&self, record: RequestRecord) {
        self.push(ExportRecord::Request(record));
    }

    /// Queues one evaluation's drift snapshots without waiting; each that does not fit is
    /// dropped and counted like a request event.
    pub fn offer_drift(&self, snapshots: Vec<RenderedDocument>) {
        for snapshot in snapshots {
            self.push(ExportRecord::Drift(snapshot));
        }
    }

    /// Queues one evaluation's performance documents, like [`Self::offer_drift`].
    pub fn offer_performance(&self, documents: Vec<RenderedDocument>) {
        for document in documents {
            self.push(ExportRecord::Performance(document));
        }
    }

    fn push(&self, record: ExportRecord) {
        let size = record.footprint();
        let kind = record.kind();
        let before = self.queued_bytes.fetch_add(size, Ordering::Relaxed);
        if before + size > self.max_bytes || self.sender.send(Message::Record(record)).is_err() {
            self.queued_bytes.fetch_sub(size, Ordering::Relaxed);
            self.counters.add(Outcome::Dropped, kind, 1);
        }
    }

    /// Tells the receiver that no more events follow: it takes what is queued, then sees
    /// [`Received::Closed`]. Events offered afterwards are still taken if the receiver has
    /// not reached the close yet (they are in the same channel, in order).
    pub fn close(&self) {
        let _ = self.sender.send(Message::Close);
    }
}

impl ExportReceiver {
    /// The next record, waiting at most `timeout` (`None`: as long as it takes).
    pub fn recv_timeout(&mut self, timeout: Option<Duration>) -> Received {
        if self.closed {
            return Received::Closed;
        }
        let message = match timeout {
            Some(timeout) => match self.receiver.recv_timeout(timeout) {
                Ok(message) => message,
                Err(mpsc::RecvTimeoutError::Timeout) => return Received::Timeout,
                Err(mpsc::RecvTimeoutError::Disconnected) => Message::Close,
            },
            None => self.receiver.recv().unwrap_or(Message::Close),
        };
        match message {
            Message::Record(record) => Received::Record(self.taken(record)),
            Message::Close => {
                self.closed = true;
                Received::Closed
            }
        }
    }

    /// A record already queued, without waiting (`None` also once closed).
    pub fn try_recv(&mut self) -> Option<ExportRecord> {
        if self.closed {
            return None;
        }
        match self.receiver.try_recv().ok()? {
            Message::Record(record) => Some(self.taken(record)),
            Message::Close => {
                self.closed = true;
                None
            }
        }
    }

    fn taken(&self, record: ExportRecord) -> ExportRecord {
        self.queued_bytes
            .fetch_sub(record.footprint(), Ordering::Relaxed);
        record
    }
}

#[cfg(test)]
pub(crate) mod tests;
