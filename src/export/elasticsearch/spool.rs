//! The bounded on-disk spool between the export queue and the shipper: events survive an
//! outage of the cluster and a restart (or SIGKILL) of the sidecar.
//!
//! The spool is a directory of segment files (format in [`segment`]) written by one
//! [`SpoolWriter`] (the persister thread) and read oldest-first by one [`SpoolReader`] (the
//! shipper). The reader only moves past events whose outcome is final — delivered,
//! duplicate or dead-lettered — by calling [`SpoolReader::ack`]; a segment file is deleted
//! once every event in it is acknowledged. The acknowledged position is also written to the
//! `ack` file (no fsync: losing it only means resending events the cluster answers 409 to).
//!
//! Bounds: the files on disk never exceed `spool_bytes` (a new event that would not fit is
//! refused and the caller counts it dropped); memory holds one batch being read. A `lock`
//! file held with `flock` keeps two sidecars from sharing a directory.
//!
//! Recovery at open: every segment is checked record by record; a torn or corrupt tail
//! (crash mid-write, bit rot) is truncated at the last good record and logged, and writing
//! continues in a new segment. Nothing here panics on what it finds on disk.
//!
//! Files: [`segment`] (the record format), `writer.rs`, `reader.rs`, [`persist`] (the
//! thread between the export queue and the writer), `tests.rs`.

pub mod persist;
mod reader;
pub mod segment;
mod writer;

pub use reader::SpoolReader;
pub use writer::SpoolWriter;

#[cfg(test)]
mod tests;

use super::event::{DocumentKind, KindCounts};
use prometheus::IntGauge;
use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

/// Where the reader is: a segment and a byte offset in it (always a record boundary).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    pub seq: u64,
    pub offset: u64,
}

/// One event read back: its kind (so its data stream), its `_id` and its JSON document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpooledEvent {
    pub kind: DocumentKind,
    pub id: String,
    pub document: Vec<u8>,
}

/// Events read together, and where the reader stands once they are acknowledged.
#[derive(Debug)]
pub struct SpooledBatch {
    /// The shipper may take these; acknowledging goes by `count`.
    pub events: Vec<SpooledEvent>,
    count: u64,
    end: Position,
    bytes: u64,
}

/// What opening a spool directory found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Recovered {
    /// Events on disk not yet acknowledged: they are shipped first.
    pub events: u64,
    pub bytes: u64,
    /// Bytes cut off torn or corrupt segment tails.
    pub truncated_bytes: u64,
}

/// Outcome of one [`SpoolWriter::append`].
#[derive(Debug, Default)]
pub struct Appended {
    /// Written to the segment file (in the page cache; durable after the next `sync`).
    pub spooled: KindCounts,
    /// Refused: the spool holds `spool_bytes` already.
    pub full: KindCounts,
    /// Refused: the write failed (disk full, I/O error) or the record is too large.
    pub failed: KindCounts,
    /// The write error, if one happened.
    pub error: Option<io::Error>,
}

/// The smallest segment [`SpoolLimits::for_cap`] chooses, and the size of every segment
/// once the filesystem was found full.
pub const MIN_SEGMENT_BYTES: u64 = 64 * 1024;

/// Limits of a spool directory.
#[derive(Clone, Debug)]
pub struct SpoolLimits {
    /// The files on disk never hold more.
    pub max_bytes: u64,
    /// A segment is closed (and a new one started) beyond this size.
    pub segment_bytes: u64,
}

impl SpoolLimits {
    /// Segments of 1/16 of the cap, between 64 KiB and 8 MiB: small enough that the bytes
    /// of delivered events still on disk stay a small share of the cap, large enough that
    /// files are few.
    pub fn for_cap(max_bytes: u64) -> Self {
        Self {
            max_bytes,
            segment_bytes: (max_bytes / 16).clamp(MIN_SEGMENT_BYTES, 8 * 1024 * 1024),
        }
    }
}

struct Segment {
    seq: u64,
    /// Bytes written and accounted for; the reader never reads beyond.
    len: u64,
    /// No more writes: once read to its end it can be deleted.
    sealed: bool,
}

struct SpoolState {
    /// Oldest first; the last one, unless sealed, is the writer's.
    segments: VecDeque<Segment>,
    /// The first unacknowledged record.
    head: Position,
    disk_bytes: u64,
    pending_bytes: u64,
    pending_events: u64,
}

struct Shared {
    dir: PathBuf,
    limits: SpoolLimits,
    state: Mutex<SpoolState>,
    /// Wakes the reader when events are appended.
    appended: tokio::sync::Notify,
    /// `modelwatch_export_spool_bytes{sink}`: bytes of unacknowledged events.
    gauge: IntGauge,
    /// Held (flock) while the spool is open.
    _lock: File,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, SpoolState> {
        // A panic while holding the lock cannot leave the numbers half-updated in a way
        // that matters more than stopping the export would: keep going.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn path(&self, seq: u64) -> PathBuf {
        self.dir.join(segment::file_name(seq))
    }

    fn publish(&self, state: &SpoolState) {
        self.gauge
            .set(i64::try_from(state.pending_bytes).unwrap_or(i64::MAX));
    }
}

/// Opens (creating if needed) the spool in `dir`, checks what is there and returns its
/// two ends. Fails when the directory cannot be used or another process holds it.
pub fn open(
    dir: &Path,
    limits: SpoolLimits,
    gauge: IntGauge,
) -> io::Result<(SpoolWriter, SpoolReader, Recovered)> {
    std::fs::create_dir_all(dir)?;
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join("lock"))?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            return Err(io::Error::new(
                io::ErrorKind::ResourceBusy,
                "another process (a second sidecar?) holds this spool directory",
            ));
        }
        Err(std::fs::TryLockError::Error(err)) => return Err(err),
    }
    let mut seqs = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        if let Some(seq) = segment::parse_file_name(&entry?.path()) {
            seqs.push(seq);
        }
    }
    seqs.sort_unstable();
    // An acknowledged position beyond the newest segment is not ours to trust.
    let acked =
        read_ack(&dir.join("ack")).filter(|at| seqs.last().is_some_and(|last| at.seq <= *last));
    let mut recovered = Recovered::default();
    let mut segments = VecDeque::new();
    let mut head = None;
    for seq in &seqs {
        let path = dir.join(segment::file_name(*seq));
        let bytes = std::fs::read(&path)?;
        let scan = segment::scan(&bytes);
        if let Some(problem) = scan.problem {
            let cut = bytes.len() as u64 - scan.valid_len;
            recovered.truncated_bytes += cut;
            if scan.valid_len == 0 {
                tracing::warn!(file = %path.display(), bytes = cut,
                    "removing an unreadable spool segment: {problem}");
                std::fs::remove_file(&path)?;
                continue;
            }
            tracing::warn!(file = %path.display(), offset = scan.valid_len, bytes = cut,
                "truncating a spool segment after its last good record: {problem}");
            let file = OpenOptions::new().write(true).open(&path)?;
            file.set_len(scan.valid_len)?;
            file.sync_all()?;
        }
        // Everything before the acknowledged position was delivered already.
        let first = match acked {
            Some(at) if at.seq > *seq => {
                std::fs::remove_file(&path)?;
                continue;
            }
            Some(at) if at.seq == *seq && scan.record_starts.contains(&at.offset) => at.offset,
            Some(at) if at.seq == *seq && at.offset == scan.valid_len => at.offset,
            _ => segment::HEADER_BYTES,
        };
        head.get_or_insert(Position {
            seq: *seq,
            offset: first,
        });
        let unacked = scan.record_starts.iter().filter(|s| **s >= first).count() as u64;
        recovered.events += unacked;
        recovered.bytes += scan.valid_len - first;
        segments.push_back(Segment {
            seq: *seq,
            len: scan.valid_len,
            sealed: true,
        });
    }
    let next_seq = seqs.last().map_or(1, |last| last + 1);
    let disk_bytes = segments.iter().map(|s| s.len).sum();
    let state = SpoolState {
        head: head.unwrap_or(Position {
            seq: next_seq,
            offset: segment::HEADER_BYTES,
        }),
        segments,
        disk_bytes,
        pending_bytes: recovered.bytes,
        pending_events: recovered.events,
    };
    let shared = Arc::new(Shared {
        dir: dir.to_path_buf(),
        limits,
        state: Mutex::new(state),
        appended: tokio::sync::Notify::new(),
        gauge,
        _lock: lock,
    });
    {
        let mut state = shared.state();
        remove_consumed(&shared, &mut state);
        shared.publish(&state);
    }
    let writer = SpoolWriter {
        shared: shared.clone(),
        active: None,
        next_seq,
        buffer: Vec::new(),
        disk_full: false,
    };
    let reader = SpoolReader { shared, file: None };
    Ok((writer, reader, recovered))
}

impl SpooledBatch {
    /// No events were read.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
}

/// Deletes sealed segments the head has moved past (or reached the end of).
fn remove_consumed(shared: &Shared, state: &mut SpoolState) {
    while let Some(first) = state.segments.front() {
        let consumed = first.seq < state.head.seq
            || (first.seq == state.head.seq && first.sealed && state.head.offset >= first.len);
        if !consumed || !first.sealed {
            break;
        }
        let (seq, len) = (first.seq, first.len);
        state.segments.pop_front();
        state.disk_bytes = state.disk_bytes.saturating_sub(len);
        if let Some(next) = state.segments.front()
            && state.head.seq <= seq
        {
            state.head = Position {
                seq: next.seq,
                offset: segment::HEADER_BYTES,
            };
        }
        if let Err(err) = std::fs::remove_file(shared.path(seq)) {
            tracing::warn!(file = %shared.path(seq).display(),
                "could not delete a delivered spool segment: {err}");
        }
    }
}

fn read_ack(path: &Path) -> Option<Position> {
    let bytes = std::fs::read(path).ok()?;
    let bytes: [u8; 16] = bytes.try_into().ok()?;
    Some(Position {
        seq: u64::from_le_bytes(bytes[0..8].try_into().expect("8 bytes")),
        offset: u64::from_le_bytes(bytes[8..16].try_into().expect("8 bytes")),
    })
}
