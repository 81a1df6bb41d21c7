//! The spool's reading end: oldest-first batches bounded in count and bytes, and the
//! acknowledgement that moves past them (deleting segments read to their end).

use super::{Position, Shared, SpooledBatch, SpooledEvent, remove_consumed, segment};
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::Arc;

/// The reading end, owned by the shipper.
pub struct SpoolReader {
    pub(super) shared: Arc<Shared>,
    /// The segment file being read.
    pub(super) file: Option<(u64, File)>,
}

impl SpoolReader {
    /// Events appended and not yet acknowledged.
    pub fn pending_events(&self) -> u64 {
        self.shared.state().pending_events
    }

    /// Bytes of those events.
    pub fn pending_bytes(&self) -> u64 {
        self.shared.state().pending_bytes
    }

    /// The spool's directory (for messages).
    pub fn dir(&self) -> &Path {
        &self.shared.dir
    }

    /// Returns after the next append (at once if one happened since the last call).
    pub async fn appended(&self) {
        self.shared.appended.notified().await
    }

    /// Reads the oldest unacknowledged events, at most `max_events` and (beyond the first
    /// event) `max_bytes` of records. Corrupt data found here (the disk changed under us)
    /// is logged and skipped to the next segment.
    pub fn read(&mut self, max_events: usize, max_bytes: u64) -> io::Result<SpooledBatch> {
        let mut batch = SpooledBatch {
            events: Vec::new(),
            count: 0,
            end: self.shared.state().head,
            bytes: 0,
        };
        while batch.events.len() < max_events && batch.bytes < max_bytes {
            let (len, sealed, next) = {
                let state = self.shared.state();
                let Some(index) = state.segments.iter().position(|s| s.seq == batch.end.seq) else {
                    break;
                };
                let segment = &state.segments[index];
                let next = state.segments.get(index + 1).map(|s| s.seq);
                (segment.len, segment.sealed, next)
            };
            if batch.end.offset >= len {
                match (sealed, next) {
                    (true, Some(next)) => {
                        batch.end = Position {
                            seq: next,
                            offset: segment::HEADER_BYTES,
                        };
                        continue;
                    }
                    _ => break,
                }
            }
            let want = (len - batch.end.offset).min(max_bytes.saturating_sub(batch.bytes));
            let bytes = self.read_range(
                batch.end,
                want.max(segment::RECORD_HEADER_BYTES as u64),
                len,
            )?;
            let mut at = 0;
            while at < bytes.len() && batch.events.len() < max_events {
                match segment::decode_record(&bytes[at..]) {
                    segment::Decoded::Record {
                        kind,
                        id,
                        document,
                        len,
                    } => {
                        batch.events.push(SpooledEvent {
                            kind,
                            id: id.to_string(),
                            document: document.to_vec(),
                        });
                        at += len;
                    }
                    segment::Decoded::Incomplete if at > 0 => break,
                    segment::Decoded::Incomplete => {
                        // One record larger than `want`: read exactly it.
                        let size = record_size(&bytes);
                        let whole = self.read_range(batch.end, size, len)?;
                        if let segment::Decoded::Record {
                            kind,
                            id,
                            document,
                            len,
                        } = segment::decode_record(&whole)
                        {
                            batch.events.push(SpooledEvent {
                                kind,
                                id: id.to_string(),
                                document: document.to_vec(),
                            });
                            at = len;
                        } else {
                            self.skip_rest(&mut batch, len, "a record runs past the end");
                            at = 0;
                        }
                        break;
                    }
                    segment::Decoded::Corrupt(why) => {
                        batch.end.offset += at as u64;
                        batch.bytes += at as u64;
                        self.skip_rest(&mut batch, len, why);
                        at = 0;
                        break;
                    }
                }
            }
            batch.end.offset += at as u64;
            batch.bytes += at as u64;
        }
        batch.count = batch.events.len() as u64;
        Ok(batch)
    }

    /// Reads `want` bytes at `at`, never beyond `len`.
    fn read_range(&mut self, at: Position, want: u64, len: u64) -> io::Result<Vec<u8>> {
        if self.file.as_ref().is_none_or(|(seq, _)| *seq != at.seq) {
            self.file = Some((at.seq, File::open(self.shared.path(at.seq))?));
        }
        let file = &mut self.file.as_mut().expect("opened above").1;
        file.seek(SeekFrom::Start(at.offset))?;
        let want = want.min(len - at.offset);
        let mut bytes = Vec::with_capacity(want as usize);
        file.take(want).read_to_end(&mut bytes)?;
        Ok(bytes)
    }

    /// Gives up on the rest of a segment whose bytes are not records any more.
    fn skip_rest(&self, batch: &mut SpooledBatch, len: u64, why: &str) {
        let lost = len - batch.end.offset;
        tracing::error!(
            file = %self.shared.path(batch.end.seq).display(),
            offset = batch.end.offset,
            bytes = lost,
            "skipping the rest of a spool segment that changed on disk: {why}"
        );
        batch.end.offset = len;
        batch.bytes += lost;
    }

    /// The events of `batch` have a final outcome: move past them, delete segments read
    /// to their end, and record the position in the `ack` file.
    pub fn ack(&mut self, batch: &SpooledBatch) {
        let shared = self.shared.clone();
        let mut state = shared.state();
        state.head = state.head.max(batch.end);
        state.pending_bytes = state.pending_bytes.saturating_sub(batch.bytes);
        state.pending_events = state.pending_events.saturating_sub(batch.count);
        remove_consumed(&shared, &mut state);
        // Skipped corrupt records were never counted out one by one: at the end of the
        // data nothing is pending, whatever the running totals say.
        let at_end = state.segments.back().is_none_or(|last| {
            state.head
                == Position {
                    seq: last.seq,
                    offset: last.len,
                }
        });
        if at_end {
            state.pending_bytes = 0;
            state.pending_events = 0;
        }
        shared.publish(&state);
        let head = state.head;
        // Read to the end of what was written: the writer may now seal and delete this
        // segment, and an open descriptor would keep its blocks allocated (on a full disk
        // the next segment could then never be created).
        let caught_up = state
            .segments
            .iter()
            .find(|s| s.seq == head.seq)
            .is_none_or(|s| head.offset >= s.len);
        drop(state);
        if self
            .file
            .as_ref()
            .is_some_and(|(seq, _)| *seq < head.seq || (*seq == head.seq && caught_up))
        {
            self.file = None;
        }
        write_ack(&shared.dir, head);
    }
}

/// The total size of the record whose header starts `bytes` (at least the header).
fn record_size(bytes: &[u8]) -> u64 {
    let len = bytes
        .get(0..4)
        .map_or(0, |b| u32::from_le_bytes(b.try_into().expect("4 bytes")));
    segment::RECORD_HEADER_BYTES as u64 + u64::from(len).min(segment::MAX_RECORD_BYTES as u64)
}

/// Write-then-rename, so the file is always one whole position. Not synced: a lost
/// update only means events are sent again and answered 409.
fn write_ack(dir: &Path, at: Position) {
    let mut bytes = [0u8; 16];
    bytes[0..8].copy_from_slice(&at.seq.to_le_bytes());
    bytes[8..16].copy_from_slice(&at.offset.to_le_bytes());
    let tmp = dir.join("ack.tmp");
    let written = std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, dir.join("ack")));
    if let Err(err) = written {
        tracing::debug!("could not record the spool position: {err}");
    }
}
