//! The spool's writing end: appends records to the active segment within the cap, seals
//! full segments, takes back a partial write after an I/O error.

use super::{
    Appended, MIN_SEGMENT_BYTES, Position, Segment, Shared, SpoolState, remove_consumed, segment,
};
use crate::export::elasticsearch::event::{DocumentKind, KindCounts};
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::sync::Arc;

/// The writing end, owned by the persister thread.
pub struct SpoolWriter {
    pub(super) shared: Arc<Shared>,
    pub(super) active: Option<(u64, File)>,
    pub(super) next_seq: u64,
    pub(super) buffer: Vec<u8>,
    /// The filesystem said it was full: the disk is smaller than the cap, so from then on
    /// segments are [`MIN_SEGMENT_BYTES`] long. A delivered segment gives its bytes back
    /// only once it is sealed and read to its end; with segments sized for the cap, one
    /// segment could hold the whole disk and every later event would be dropped.
    pub(super) disk_full: bool,
}

impl SpoolWriter {
    /// Appends events in order, each as one record, as far as the cap allows; refused
    /// events are counted in the answer, never waited for.
    pub fn append<'a>(
        &mut self,
        events: impl IntoIterator<Item = (DocumentKind, &'a str, &'a [u8])>,
    ) -> Appended {
        let mut appended = Appended::default();
        // Encode first (no lock held), then decide what fits.
        self.buffer.clear();
        let mut ends = Vec::new();
        // The kind of each encoded record, so the refused ones are counted by kind.
        let mut kinds = Vec::new();
        for (kind, id, document) in events {
            if segment::encode_record(kind, id, document, &mut self.buffer) {
                ends.push(self.buffer.len());
                kinds.push(kind);
            } else {
                appended.failed.push(kind);
            }
        }
        let count = |range: &[DocumentKind]| KindCounts::of(range.iter().copied());
        let mut from = 0;
        let mut index = 0;
        while index < ends.len() {
            match self.write_some(&ends[index..], from) {
                Ok((written, end)) if written > 0 => {
                    appended.spooled += count(&kinds[index..index + written]);
                    index += written;
                    from = end;
                }
                Ok(_) => {
                    appended.full += count(&kinds[index..]);
                    break;
                }
                Err(err) => {
                    self.disk_full |= is_out_of_space(&err);
                    appended.failed += count(&kinds[index..]);
                    appended.error = Some(err);
                    break;
                }
            }
        }
        appended
    }

    /// Writes as many of the encoded records ending at `ends` (starting at byte `from`) as
    /// fit in the cap and the active segment; returns how many and where they end.
    fn write_some(&mut self, ends: &[usize], from: usize) -> io::Result<(usize, usize)> {
        let shared = self.shared.clone();
        let segment_bytes = self.segment_bytes();
        let first_size = (ends[0] - from) as u64;
        let active_len = self.active_len(&shared.state());
        if active_len
            .is_some_and(|len| len > segment::HEADER_BYTES && len + first_size > segment_bytes)
        {
            self.seal_active()?;
        }
        let (active_len, room) = {
            let state = shared.state();
            let active_len = self.active_len(&state);
            // A new segment costs its header.
            let header = if active_len.is_none() {
                segment::HEADER_BYTES
            } else {
                0
            };
            let room = shared
                .limits
                .max_bytes
                .saturating_sub(state.disk_bytes + header);
            (active_len, room)
        };
        let segment_room =
            segment_bytes.saturating_sub(active_len.unwrap_or(segment::HEADER_BYTES));
        // Records that fit the cap and, after the first, the segment size.
        let mut count = 0;
        let mut end = from;
        for &record_end in ends {
            let size = (record_end - from) as u64;
            if size > room || (count > 0 && size > segment_room) {
                break;
            }
            count += 1;
            end = record_end;
        }
        if count == 0 {
            return Ok((0, from));
        }
        let (seq, created) = match &self.active {
            Some((seq, _)) => (*seq, 0),
            None => (self.start_segment()?, segment::HEADER_BYTES),
        };
        let committed = active_len.unwrap_or(segment::HEADER_BYTES);
        let file = &mut self.active.as_mut().expect("a segment is active").1;
        if let Err(err) = file.write_all(&self.buffer[from..end]) {
            // Take back a partial write so the file ends on a record boundary; if even
            // that fails, seal the segment at its last good length (the reader never
            // reads beyond it) and start afresh next time.
            if file.set_len(committed).is_err() {
                self.seal_active()?;
            }
            return Err(err);
        }
        let mut state = shared.state();
        let written = (end - from) as u64;
        if let Some(segment) = state.segments.iter_mut().find(|s| s.seq == seq) {
            segment.len += written;
        }
        state.disk_bytes += written + created;
        state.pending_bytes += written;
        state.pending_events += count as u64;
        shared.publish(&state);
        drop(state);
        shared.appended.notify_one();
        Ok((count, end))
    }

    /// The size beyond which the active segment is sealed.
    fn segment_bytes(&self) -> u64 {
        if self.disk_full {
            MIN_SEGMENT_BYTES.min(self.shared.limits.segment_bytes)
        } else {
            self.shared.limits.segment_bytes
        }
    }

    /// The active segment's length, if one is active.
    fn active_len(&self, state: &SpoolState) -> Option<u64> {
        let (seq, _) = self.active.as_ref()?;
        state.segments.iter().find(|s| s.seq == *seq).map(|s| s.len)
    }

    fn start_segment(&mut self) -> io::Result<u64> {
        let seq = self.next_seq;
        let path = self.shared.path(seq);
        let mut file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(&path)?;
        if let Err(err) = file.write_all(segment::MAGIC) {
            drop(file);
            let _ = std::fs::remove_file(&path);
            return Err(err);
        }
        self.next_seq += 1;
        let mut state = self.shared.state();
        if state.segments.is_empty() {
            state.head = Position {
                seq,
                offset: segment::HEADER_BYTES,
            };
        }
        state.segments.push_back(Segment {
            seq,
            len: segment::HEADER_BYTES,
            sealed: false,
        });
        drop(state);
        self.active = Some((seq, file));
        Ok(seq)
    }

    /// Closes the active segment: synced, marked sealed, and deleted at once if the reader
    /// has consumed all of it.
    fn seal_active(&mut self) -> io::Result<()> {
        let Some((seq, file)) = self.active.take() else {
            return Ok(());
        };
        let synced = file.sync_data();
        drop(file);
        let mut state = self.shared.state();
        if let Some(segment) = state.segments.iter_mut().find(|s| s.seq == seq) {
            segment.sealed = true;
        }
        remove_consumed(&self.shared, &mut state);
        synced
    }

    /// Makes what was appended durable (fsync of the active segment's data).
    pub fn sync(&mut self) -> io::Result<()> {
        self.rotate_if_drained()?;
        match &self.active {
            Some((_, file)) => file.sync_data(),
            None => Ok(()),
        }
    }

    /// A segment the reader has fully consumed is sealed (and so deleted) once it holds
    /// 1/4 of a segment: otherwise delivered events would stay on disk until it fills.
    fn rotate_if_drained(&mut self) -> io::Result<()> {
        let drained = {
            let state = self.shared.state();
            match (self.active.as_ref(), self.active_len(&state)) {
                (Some((seq, _)), Some(len)) => {
                    state.head
                        == Position {
                            seq: *seq,
                            offset: len,
                        }
                        && len >= self.segment_bytes() / 4
                }
                _ => false,
            }
        };
        if drained {
            self.seal_active()?;
        }
        Ok(())
    }
}

/// Whether a write failed because the filesystem (or the user's quota) is full.
pub(super) fn is_out_of_space(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded
    )
}
