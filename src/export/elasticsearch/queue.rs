//! The proxy's side of the export: a non-blocking, byte-bounded hand-off to the shipper.
//!
//! `offer` never waits: when the events already waiting hold `queue_bytes`, the new one is
//! dropped and counted as `modelwatch_export_events_total{outcome="dropped"}`. The channel
//! itself is unbounded; the byte counter is what bounds it. Drift snapshots share the queue
//! and its budget ([`ExportQueue::offer_drift`]).

use super::drift_snapshot::DriftSnapshot;
use super::event::{ExportRecord, RequestRecord};
use crate::analysis::exchange::Exchange;
use prometheus::{IntCounterVec, Opts, Registry};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::mpsc;

/// The `sink` label of this exporter's series.
pub const SINK: &str = "elasticsearch";

/// What became of an event; the `outcome` label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Delivered,
    Duplicate,
    /// One more attempt was needed (counted per event and attempt).
    Retried,
    DeadLetter,
    Dropped,
}

impl Outcome {
    pub const ALL: [Outcome; 5] = [
        Outcome::Delivered,
        Outcome::Duplicate,
        Outcome::Retried,
        Outcome::DeadLetter,
        Outcome::Dropped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Delivered => "delivered",
            Outcome::Duplicate => "duplicate",
            Outcome::Retried => "retried",
            Outcome::DeadLetter => "dead_letter",
            Outcome::Dropped => "dropped",
        }
    }
}

/// `modelwatch_export_events_total{sink="elasticsearch",outcome}`.
#[derive(Clone)]
pub struct ExportCounters(IntCounterVec);

impl ExportCounters {
    pub fn register(registry: &Registry) -> prometheus::Result<Self> {
        let events = IntCounterVec::new(
            Opts::new(
                "modelwatch_export_events_total",
                "Events handed to an exporter, by what became of them.",
            ),
            &["sink", "outcome"],
        )?;
        registry.register(Box::new(events.clone()))?;
        for outcome in Outcome::ALL {
            events.with_label_values(&[SINK, outcome.as_str()]);
        }
        Ok(Self(events))
    }

    pub fn add(&self, outcome: Outcome, n: usize) {
        self.0
            .with_label_values(&[SINK, outcome.as_str()])
            .inc_by(n as u64);
    }
}

/// The sending side, held by the proxy's tap.
pub struct ExportQueue {
    sender: mpsc::UnboundedSender<ExportRecord>,
    queued_bytes: Arc<AtomicUsize>,
    max_bytes: usize,
    counters: ExportCounters,
}

/// The shipper's side.
pub struct ExportReceiver {
    receiver: mpsc::UnboundedReceiver<ExportRecord>,
    queued_bytes: Arc<AtomicUsize>,
}

impl ExportQueue {
    pub fn new(max_bytes: usize, counters: ExportCounters) -> (ExportQueue, ExportReceiver) {
        let (sender, receiver) = mpsc::unbounded_channel();
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
    pub fn offer_drift(&self, snapshots: Vec<DriftSnapshot>) {
        for snapshot in snapshots {
            self.push(ExportRecord::Drift(snapshot));
        }
    }

    fn push(&self, record: ExportRecord) {
        let size = record.footprint();
        let before = self.queued_bytes.fetch_add(size, Ordering::Relaxed);
        if before + size > self.max_bytes || self.sender.send(record).is_err() {
            self.queued_bytes.fetch_sub(size, Ordering::Relaxed);
            self.counters.add(Outcome::Dropped, 1);
        }
    }
}

impl ExportReceiver {
    /// The next record, waiting for one; `None` once every sender is gone.
    pub async fn recv(&mut self) -> Option<ExportRecord> {
        let record = self.receiver.recv().await?;
        Some(self.taken(record))
    }

    /// A record already queued, without waiting.
    pub fn try_recv(&mut self) -> Option<ExportRecord> {
        let record = self.receiver.try_recv().ok()?;
        Some(self.taken(record))
    }

    fn taken(&self, record: ExportRecord) -> ExportRecord {
        self.queued_bytes
            .fetch_sub(record.footprint(), Ordering::Relaxed);
        record
    }
}
