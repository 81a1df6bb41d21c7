//! The persister: a thread that moves events from the proxy's export queue into the spool.
//!
//! It runs on its own OS thread because `write` and `fsync` block: no tokio worker that
//! serves traffic ever waits for the disk. Each wake-up writes everything queued at once
//! (the bytes reach the page cache within microseconds, so a SIGKILL of the sidecar loses
//! only events still in the queue), and the active segment is fsynced at most
//! `fsync_interval` after its first unsynced write (what a power loss can take).
//!
//! A full spool or a failing disk never stops the proxy: the events are counted `dropped`
//! (each under its own `kind`) and the reason is logged at most once per [`LOG_EVERY`].

use super::writer::is_out_of_space;
use super::{Appended, SpoolWriter};
use crate::export::elasticsearch::event::ExportRecord;
use crate::export::elasticsearch::queue::{ExportCounters, ExportReceiver, Outcome, Received};
use std::time::{Duration, Instant};

/// Repeated warnings (spool full, write failing) are logged at most this often.
pub const LOG_EVERY: Duration = Duration::from_secs(10);
/// Events written per wake-up at most, so one write stays small.
const MAX_EVENTS_PER_WRITE: usize = 1024;

/// Starts the persister; it returns once the queue is closed and its last events are
/// written and synced.
pub fn spawn(
    receiver: ExportReceiver,
    writer: SpoolWriter,
    fsync_interval: Duration,
    counters: ExportCounters,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    let persister = Persister {
        receiver,
        writer,
        fsync_interval,
        counters,
        sync_due: None,
        full_logged: None,
        error_logged: None,
    };
    std::thread::Builder::new()
        .name("export-spool".into())
        .spawn(move || persister.run())
}

struct Persister {
    receiver: ExportReceiver,
    writer: SpoolWriter,
    fsync_interval: Duration,
    counters: ExportCounters,
    /// When the oldest unsynced write must be synced; `None` when all is synced.
    sync_due: Option<Instant>,
    full_logged: Option<Instant>,
    error_logged: Option<Instant>,
}

impl Persister {
    fn run(mut self) {
        let mut records = Vec::new();
        loop {
            let wait = self
                .sync_due
                .map(|due| due.saturating_duration_since(Instant::now()));
            let closed = match self.receiver.recv_timeout(wait) {
                Received::Record(record) => {
                    records.push(record);
                    while records.len() < MAX_EVENTS_PER_WRITE
                        && let Some(record) = self.receiver.try_recv()
                    {
                        records.push(record);
                    }
                    false
                }
                Received::Timeout => false,
                Received::Closed => {
                    while let Some(record) = self.receiver.try_recv() {
                        records.push(record);
                    }
                    true
                }
            };
            if !records.is_empty() {
                self.write(&records);
                records.clear();
            }
            if closed {
                self.sync();
                return;
            }
            if self.sync_due.is_some_and(|due| Instant::now() >= due) {
                self.sync();
            }
        }
    }

    fn write(&mut self, records: &[ExportRecord]) {
        // The documents are built here, off the proxy's threads.
        let documents: Vec<Vec<u8>> = records
            .iter()
            .map(|record| {
                serde_json::to_vec(&record.document()).expect("JSON values always serialise")
            })
            .collect();
        let appended = self.writer.append(
            records
                .iter()
                .zip(&documents)
                .map(|(record, document)| (record.kind(), record.id(), document.as_slice())),
        );
        self.count(appended);
        self.sync_due
            .get_or_insert_with(|| Instant::now() + self.fsync_interval);
    }

    fn count(&mut self, appended: Appended) {
        self.counters.add_each(Outcome::Spooled, appended.spooled);
        self.counters
            .add_each(Outcome::Dropped, appended.full + appended.failed);
        if appended.full.total() > 0 && due(&mut self.full_logged) {
            tracing::warn!(
                dir = %self.writer.shared.dir.display(),
                max_bytes = self.writer.shared.limits.max_bytes,
                "the export spool is full (export.elasticsearch.spool_bytes): new events \
                 are dropped until the cluster accepts events again"
            );
        }
        if appended.failed.total() > 0 && due(&mut self.error_logged) {
            let why = appended.error.map_or(
                "an event is larger than a spool record may be".to_string(),
                |e| {
                    if is_out_of_space(&e) {
                        format!(
                            "{e}; the filesystem holds less than \
                             export.elasticsearch.spool_bytes ({} bytes): delivered events \
                             give their space back as the cluster takes them, and a smaller \
                             spool_bytes makes this a counted 'spool full' instead",
                            self.writer.shared.limits.max_bytes
                        )
                    } else {
                        e.to_string()
                    }
                },
            );
            tracing::error!(
                dir = %self.writer.shared.dir.display(),
                "cannot write to the export spool, events are dropped (traffic is not \
                 affected): {why}"
            );
        }
    }

    fn sync(&mut self) {
        self.sync_due = None;
        if let Err(err) = self.writer.sync()
            && due(&mut self.error_logged)
        {
            tracing::error!(
                dir = %self.writer.shared.dir.display(),
                "cannot fsync the export spool; events written since the last sync may \
                 not survive a power loss: {err}"
            );
        }
    }
}

/// Whether a throttled message may be logged now (and records that it was).
fn due(last: &mut Option<Instant>) -> bool {
    let now = Instant::now();
    if last.is_some_and(|at| now.duration_since(at) < LOG_EVERY) {
        return false;
    }
    *last = Some(now);
    true
}
