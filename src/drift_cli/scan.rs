//! Reading the current file: one pass, split into byte ranges read by parallel threads.
//!
//! A CSV file can be cut at a newline only where no quoted field spans the cut, so the
//! split is optimistic: each thread notes whether its range holds a `"` at all, and if
//! any does, the parallel result is thrown away and the file is read again by one thread
//! (correct for any CSV). Plain numeric/label files, the common case, take one pass.
//!
//! The number of ranges depends only on the file size, never on the machine, so a report
//! is the same everywhere: ranges get their own seeded reservoirs, merged in file order.

use super::current::CurrentColumn;
use crate::exit::UsageError;
use crate::profile::Profile;
use anyhow::Context;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

/// Files smaller than this are read by one thread.
pub const PARALLEL_MIN_BYTES: u64 = 16 << 20;
/// Ranges a large file is cut into.
pub const RANGES: u64 = 4;

/// What the scan found: data rows and, per matched column, its counts and sample.
pub struct Scan {
    pub rows: u64,
    /// (index into `profile.columns`, accumulated column).
    pub columns: Vec<(usize, CurrentColumn)>,
}

/// Where the data rows start.
pub struct DataStart {
    /// Byte offset of the first data row.
    pub byte: u64,
    /// Lines before it (the header's).
    pub lines_before: u64,
    /// Fields per row (from the header).
    pub fields: usize,
}

/// Reads every data row of `path` into fresh columns built by `columns`.
pub fn scan(
    path: &Path,
    start: &DataStart,
    profile: &Profile,
    matched: &[(usize, usize)],
    sample_size: usize,
) -> anyhow::Result<Scan> {
    let shown = path.display();
    let len = std::fs::metadata(path)
        .with_context(|| format!("could not read {shown}"))?
        .len();
    let body = len.saturating_sub(start.byte);
    let ranges = if body >= PARALLEL_MIN_BYTES {
        split(path, start.byte, len)?
    } else {
        vec![(start.byte, len)]
    };
    let results: Vec<anyhow::Result<Chunk>> = if ranges.len() == 1 {
        vec![read_range(
            path,
            ranges[0],
            0,
            start,
            profile,
            matched,
            sample_size,
        )]
    } else {
        std::thread::scope(|s| {
            let handles: Vec<_> = ranges
                .iter()
                .enumerate()
                .map(|(k, &range)| {
                    s.spawn(move || {
                        read_range(path, range, k as u64, start, profile, matched, sample_size)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("a range reader panicked"))
                .collect()
        })
    };
    let mut chunks = Vec::with_capacity(results.len());
    for r in results {
        chunks.push(r?);
    }
    if chunks.len() > 1 && chunks.iter().any(|c| c.saw_quote) {
        // A quoted field may span a cut: read it again in one piece.
        let whole = read_range(
            path,
            (start.byte, len),
            0,
            start,
            profile,
            matched,
            sample_size,
        )?;
        chunks = vec![whole];
    }

    let mut lines_before = start.lines_before;
    let mut merged: Option<Scan> = None;
    for chunk in chunks {
        if let Some(bad) = chunk.ragged {
            return Err(UsageError(format!(
                "{shown}: line {} has {} fields but the header has {}: fix the row or the header",
                lines_before + bad.line,
                bad.found,
                start.fields
            ))
            .into());
        }
        match merged.as_mut() {
            None => {
                let mut columns = chunk.columns;
                for (_, c) in columns.iter_mut() {
                    c.shift_lines(lines_before);
                }
                merged = Some(Scan {
                    rows: chunk.rows,
                    columns,
                });
            }
            Some(scan) => {
                scan.rows += chunk.rows;
                for ((_, a), (_, b)) in scan.columns.iter_mut().zip(chunk.columns) {
                    a.merge(b, lines_before);
                }
            }
        }
        lines_before += chunk.newlines;
    }
    Ok(merged.expect("at least one range"))
}

/// Cuts `[start, len)` into [`RANGES`] ranges that begin right after a newline.
fn split(path: &Path, start: u64, len: u64) -> anyhow::Result<Vec<(u64, u64)>> {
    let mut file =
        File::open(path).with_context(|| format!("could not open {}", path.display()))?;
    let mut cuts = vec![start];
    for k in 1..RANGES {
        let guess = start + (len - start) * k / RANGES;
        file.seek(SeekFrom::Start(guess))?;
        let mut reader = BufReader::new(&mut file);
        let mut skipped = Vec::new();
        let n = reader.read_until(b'\n', &mut skipped)? as u64;
        let cut = (guess + n).min(len);
        if cut > *cuts.last().expect("non-empty") && cut < len {
            cuts.push(cut);
        }
    }
    cuts.push(len);
    Ok(cuts.windows(2).map(|w| (w[0], w[1])).collect())
}

struct Chunk {
    rows: u64,
    newlines: u64,
    saw_quote: bool,
    ragged: Option<Ragged>,
    columns: Vec<(usize, CurrentColumn)>,
}

struct Ragged {
    /// Line within the range, from 1.
    line: u64,
    found: usize,
}

fn read_range(
    path: &Path,
    (from, to): (u64, u64),
    range_index: u64,
    start: &DataStart,
    profile: &Profile,
    matched: &[(usize, usize)],
    sample_size: usize,
) -> anyhow::Result<Chunk> {
    let shown = path.display();
    let mut file = File::open(path).with_context(|| format!("could not open {shown}"))?;
    file.seek(SeekFrom::Start(from))?;
    let mut source = Counting {
        inner: file.take(to - from),
        newlines: 0,
        saw_quote: false,
    };
    let mut columns: Vec<(usize, CurrentColumn)> = matched
        .iter()
        .map(|&(p, field)| {
            // Distinct, reproducible streams per column and per range.
            let seed = profile
                .options
                .seed
                .wrapping_add(p as u64)
                .wrapping_add(range_index.wrapping_mul(0x9E37_79B9_7F4A_7C15));
            (
                p,
                CurrentColumn::new(field, &profile.columns[p], sample_size, seed),
            )
        })
        .collect();
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .buffer_capacity(1 << 18)
        .from_reader(&mut source);
    let mut record = csv::ByteRecord::new();
    let mut rows = 0u64;
    let mut ragged = None;
    while reader
        .read_byte_record(&mut record)
        .with_context(|| format!("could not read {shown}"))?
    {
        rows += 1;
        let line = record.position().map_or(rows, |p| p.line());
        if record.len() != start.fields {
            ragged = Some(Ragged {
                line,
                found: record.len(),
            });
            break;
        }
        for (_, column) in columns.iter_mut() {
            column.push(&record[column.field], line);
        }
    }
    drop(reader);
    Ok(Chunk {
        rows,
        newlines: source.newlines,
        saw_quote: source.saw_quote,
        ragged,
        columns,
    })
}

/// Counts newlines and notes any `"` in what passes through.
struct Counting<R> {
    inner: R,
    newlines: u64,
    saw_quote: bool,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let chunk = &buf[..n];
        self.newlines += memchr::memchr_iter(b'\n', chunk).count() as u64;
        self.saw_quote |= memchr::memchr(b'"', chunk).is_some();
        Ok(n)
    }
}
