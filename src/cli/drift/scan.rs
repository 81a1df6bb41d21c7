//! Reading the current file: one pass, split into byte ranges read by parallel threads.
//!
//! A CSV file can be cut at a newline only where no quoted field spans the cut, so the
//! split is optimistic: each thread notes whether its range holds a `"` at all, and if
//! any does, the parallel result is thrown away and the file is read again by one thread
//! (correct for any CSV). Plain numeric/label files, the common case, take one pass.
//!
//! The number of ranges depends only on the file size, never on the machine, so a report
//! is the same everywhere: ranges get their own seeded reservoirs, merged in file order.

use super::MethodChoice;
use crate::drift::current::CurrentColumn;
use crate::drift::report::counting_for_method;
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
    method: MethodChoice,
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
            method,
        )]
    } else {
        // One thread per core at most, each taking the next range: the ranges (and so the
        // report) do not depend on the machine, but more threads than cores would only
        // make them evict each other's counters from the caches.
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(ranges.len());
        let next = std::sync::atomic::AtomicUsize::new(0);
        let done: Vec<std::sync::Mutex<Option<anyhow::Result<Chunk>>>> =
            ranges.iter().map(|_| std::sync::Mutex::new(None)).collect();
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(|| {
                    loop {
                        let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(&range) = ranges.get(k) else { break };
                        let chunk = read_range(
                            path,
                            range,
                            k as u64,
                            start,
                            profile,
                            matched,
                            sample_size,
                            method,
                        );
                        *done[k].lock().expect("no reader panics holding it") = Some(chunk);
                    }
                });
            }
        });
        done.into_iter()
            .map(|slot| {
                slot.into_inner()
                    .expect("no reader panics holding it")
                    .expect("every range was read")
            })
            .collect()
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
            method,
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

/// What a range reader does on a `"`: when the file was cut in ranges, stop at once (the
/// whole file is read again as CSV by one thread); for a whole file, read it as CSV.
#[derive(Clone, Copy, PartialEq, Eq)]
enum OnQuote {
    GiveUp,
    ReadAsCsv,
}

#[allow(clippy::too_many_arguments)]
fn read_range(
    path: &Path,
    range: (u64, u64),
    range_index: u64,
    start: &DataStart,
    profile: &Profile,
    matched: &[(usize, usize)],
    sample_size: usize,
    method: MethodChoice,
) -> anyhow::Result<Chunk> {
    let memo_slots = crate::drift::current::memo_slots(matched.len());
    let fresh_columns = || -> Vec<(usize, CurrentColumn)> {
        matched
            .iter()
            .map(|&(p, field)| {
                // Distinct, reproducible streams per column and per range.
                let seed = profile
                    .options
                    .seed
                    .wrapping_add(p as u64)
                    .wrapping_add(range_index.wrapping_mul(0x9E37_79B9_7F4A_7C15));
                let reference = &profile.columns[p];
                let column = CurrentColumn::new(field, reference, sample_size, seed);
                let column = counting_for_method(column, reference, method);
                (p, column.remembering_cells(memo_slots))
            })
            .collect()
    };
    let on_quote = if range.0 == start.byte && range.1 == std::fs::metadata(path)?.len() {
        OnQuote::ReadAsCsv
    } else {
        OnQuote::GiveUp
    };
    let shown = path.display();
    let mut file = File::open(path).with_context(|| format!("could not open {shown}"))?;
    file.seek(SeekFrom::Start(range.0))?;
    let source = file.take(range.1 - range.0);
    let mut columns = fresh_columns();
    if let Some(chunk) = read_plain(source, start.fields, &mut columns)
        .with_context(|| format!("could not read {shown}"))?
    {
        return Ok(chunk.with_columns(columns));
    }
    if on_quote == OnQuote::GiveUp {
        return Ok(Chunk {
            rows: 0,
            newlines: 0,
            saw_quote: true,
            ragged: None,
            columns: Vec::new(),
        });
    }
    let mut file = File::open(path).with_context(|| format!("could not open {shown}"))?;
    file.seek(SeekFrom::Start(range.0))?;
    let mut columns = fresh_columns();
    let chunk = read_csv(file.take(range.1 - range.0), start.fields, &mut columns)
        .with_context(|| format!("could not read {shown}"))?;
    Ok(chunk.with_columns(columns))
}

/// What a reader found, before its columns are attached.
struct Lines {
    rows: u64,
    newlines: u64,
    saw_quote: bool,
    ragged: Option<Ragged>,
}

impl Lines {
    /// The chunk of a finished range: its columns are settled, and their memos freed
    /// while the other ranges are still being read.
    fn with_columns(self, mut columns: Vec<(usize, CurrentColumn)>) -> Chunk {
        for (_, column) in columns.iter_mut() {
            column.settle_cells();
        }
        Chunk {
            rows: self.rows,
            newlines: self.newlines,
            saw_quote: self.saw_quote,
            ragged: self.ragged,
            columns,
        }
    }
}

/// Bytes read at a time by [`read_plain`]. Offsets within a block are `u32`.
const BLOCK: usize = 1 << 18;
/// The longest line [`read_plain`] takes (its buffer doubles up to this size, and `u32`
/// offsets cover it); a longer one is read by the CSV reader. Tests use a smaller limit.
#[cfg(not(test))]
const MAX_PLAIN_LINE: usize = 1 << 31;
#[cfg(test)]
const MAX_PLAIN_LINE: usize = 1 << 20;

/// Reads rows without quoting: lines end at `\n` (a `\r` before it is dropped), fields at
/// `,`, empty lines are skipped — what the CSV reader does with such input, at a fraction
/// of its cost per byte. Returns `None` at the first `"` or stray `\r`, where CSV rules
/// differ, and at a line longer than [`MAX_PLAIN_LINE`]; the caller then reads the range
/// as CSV.
fn read_plain(
    mut source: impl Read,
    fields: usize,
    columns: &mut [(usize, CurrentColumn)],
) -> io::Result<Option<Lines>> {
    let mut column_of_field: Vec<Option<usize>> = vec![None; fields];
    for (c, (_, column)) in columns.iter().enumerate() {
        column_of_field[column.field] = Some(c);
    }
    let mut lines = Lines {
        rows: 0,
        newlines: 0,
        saw_quote: false,
        ragged: None,
    };
    // The block is tokenised first, then its rows are handed to one column at a time: each
    // column's sample or counters stay in cache for a whole block, instead of every
    // column's being touched on every row.
    let mut block = Block::default();
    let mut buf = vec![0u8; BLOCK];
    let mut filled = 0;
    loop {
        if filled == buf.len() {
            if buf.len() >= MAX_PLAIN_LINE {
                // Offsets are `u32`: a line this long is left to the CSV reader.
                return Ok(None);
            }
            // A line longer than the buffer: make room for the rest of it.
            buf.resize(buf.len() * 2, 0);
        }
        let n = source.read(&mut buf[filled..])?;
        if memchr::memchr(b'"', &buf[filled..filled + n]).is_some() {
            return Ok(None);
        }
        let eof = n == 0;
        filled += n;
        // Complete lines end at the last newline; at the end of the input, so does the rest.
        let complete = if eof {
            filled
        } else {
            match memchr::memrchr(b'\n', &buf[..filled]) {
                Some(i) => i + 1,
                None => continue,
            }
        };
        let region = &buf[..complete];
        // The CSV reader ends a line at a lone `\r` too; only `\r\n` is plain.
        for i in memchr::memchr_iter(b'\r', region) {
            if !region.get(i + 1).map_or(eof, |&b| b == b'\n') {
                return Ok(None);
            }
        }
        if let Err(ragged) = block.tokenise(region, fields, &mut lines) {
            lines.ragged = Some(ragged);
            return Ok(Some(lines));
        }
        for (field, column) in column_of_field.iter().enumerate() {
            let Some(c) = *column else { continue };
            let column = &mut columns[c].1;
            for (row, &line) in block.rows.iter().zip(&block.row_lines) {
                let start = if field == 0 {
                    row.start
                } else {
                    block.separators[row.first + field - 1] + 1
                } as usize;
                let end = block.separators[row.first + field] as usize;
                let word = region
                    .get(start..start + 8)
                    .map(|w| u64::from_le_bytes(w.try_into().expect("8 bytes")));
                column.push_word(&region[start..end], word, line);
            }
        }
        if eof {
            return Ok(Some(lines));
        }
        buf.copy_within(complete..filled, 0);
        filled -= complete;
    }
}

/// One block's rows, as offsets into it.
#[derive(Default)]
struct Block {
    /// Where each field ends: the offset of every `,` and `\n` (less a `\r` before it), in
    /// order, and the end of the block when its last line has no newline; then unused
    /// room ([`find_separators`]).
    separators: Vec<u32>,
    /// Indices into `separators` of the line ends; then unused room.
    line_ends: Vec<u32>,
    rows: Vec<Row>,
    /// Each row's line in the input (the CSV reader's record position).
    row_lines: Vec<u64>,
}

/// A data row: field `k` ends at `separators[first + k]` and starts one byte after the
/// previous field's end (the first field at `start`).
#[derive(Clone, Copy)]
struct Row {
    first: usize,
    start: u32,
}

impl Block {
    /// Splits `region` (whole lines; the last may lack its newline) into rows, counting its
    /// newlines and rows into `lines`. Empty lines are skipped, as the CSV reader skips
    /// them; a row with other than `fields` fields is returned as the error.
    fn tokenise(&mut self, region: &[u8], fields: usize, lines: &mut Lines) -> Result<(), Ragged> {
        self.rows.clear();
        self.row_lines.clear();
        let (found, mut line_ends) =
            find_separators(region, &mut self.separators, &mut self.line_ends);
        let unterminated = region.last().is_some_and(|&b| b != b'\n');
        if unterminated {
            // There is room: at most one separator per byte, and the last byte is not one.
            self.line_ends[line_ends] = found as u32;
            self.separators[found] = region.len() as u32;
            line_ends += 1;
        }
        let (mut first, mut line_start) = (0, 0);
        let last_line = line_ends.saturating_sub(1);
        for (k, &end_index) in self.line_ends[..line_ends].iter().enumerate() {
            let end_index = end_index as usize;
            let newline = !(unterminated && k == last_line);
            lines.newlines += u64::from(newline);
            let field_start = match end_index {
                i if i == first => line_start,
                i => self.separators[i - 1] + 1,
            };
            let end = &mut self.separators[end_index];
            let next_line_start = *end + 1;
            if *end > field_start && region[*end as usize - 1] == b'\r' {
                *end -= 1;
            }
            let found = end_index - first + 1;
            let empty = found == 1 && *end == line_start;
            if !empty {
                lines.rows += 1;
                // Lines seen so far, this one included.
                let line = lines.newlines + u64::from(!newline);
                if found != fields {
                    return Err(Ragged { line, found });
                }
                self.rows.push(Row {
                    first,
                    start: line_start,
                });
                self.row_lines.push(line);
            }
            first = end_index + 1;
            line_start = next_line_start;
        }
        Ok(())
    }
}

const LOW_SEVEN: u64 = 0x7f7f_7f7f_7f7f_7f7f;
const HIGH_BITS: u64 = 0x8080_8080_8080_8080;

/// The high bit of every byte of `word` equal to `byte`, and no other bit. Exact (no
/// borrow crosses bytes): for each byte `x ^ byte`, adding 0x7f to its low seven bits
/// sets bit 7 iff those bits are not all zero, and or-ing the byte itself covers bit 7.
#[inline]
fn bytes_equal(word: u64, byte: u8) -> u64 {
    let x = word ^ (u64::from(byte) * 0x0101_0101_0101_0101);
    !(((x & LOW_SEVEN).wrapping_add(LOW_SEVEN)) | x) & HIGH_BITS
}

/// Gathers the high bit of each byte of `mask` (no other bit may be set) into its low
/// eight bits, byte `i` to bit `i`: after the shift each flag sits alone in bit `8i`, and
/// the multiplication moves it to bit `56 + i` without two partial products meeting.
#[inline]
fn gather_high_bits(mask: u64) -> u64 {
    ((mask >> 7).wrapping_mul(0x0102_0408_1020_4080)) >> 56
}

/// The `,` and the `\n` of 64 bytes as two bit masks, byte `i` to bit `i`.
#[inline]
fn separator_masks(chunk: &[u8; 64]) -> (u64, u64) {
    let (mut commas, mut ends) = (0u64, 0u64);
    for (k, word) in chunk.chunks_exact(8).enumerate() {
        let word = u64::from_le_bytes(word.try_into().expect("8 bytes"));
        commas |= gather_high_bits(bytes_equal(word, b',')) << (8 * k);
        ends |= gather_high_bits(bytes_equal(word, b'\n')) << (8 * k);
    }
    (commas, ends)
}

/// Writes the offset of every `,` and `\n` of `bytes` to the start of `separators`, in
/// order, and the index in `separators` of every `\n` to the start of `newlines`; returns
/// how many of each. Both are grown as needed and never shrunk (zeroing a block's worth of
/// room each time would cost more than the search).
///
/// 64 bytes at a time: each word is compared with both bytes at once (SWAR, "SIMD within
/// a register"), the matches of eight words make one 64-bit mask, and the separators are
/// taken from the mask lowest bit first. Fields of a few bytes are the norm in tables of
/// numbers: a byte search (`memchr2`) per field costs more in set-up, and a mask per word
/// mispredicts the end of its loop on almost every word.
fn find_separators(
    bytes: &[u8],
    separators: &mut Vec<u32>,
    newlines: &mut Vec<u32>,
) -> (usize, usize) {
    // At most one separator per byte.
    for room in [&mut *separators, &mut *newlines] {
        if room.len() < bytes.len() {
            room.resize(bytes.len(), 0);
        }
    }
    let (mut found, mut lines) = (0usize, 0usize);
    let mut base = 0u32;
    let mut take = |(commas, mut ends): (u64, u64)| {
        let mut both = commas | ends;
        while ends != 0 {
            let bit = ends & ends.wrapping_neg();
            newlines[lines] = found as u32 + (both & (bit - 1)).count_ones();
            lines += 1;
            ends &= ends - 1;
        }
        while both != 0 {
            separators[found] = base + both.trailing_zeros();
            found += 1;
            both &= both - 1;
        }
        base += 64;
    };
    let mut chunks = bytes.chunks_exact(64);
    for chunk in chunks.by_ref() {
        take(separator_masks(chunk.try_into().expect("64 bytes")));
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        // Zero padding matches neither byte.
        let mut padded = [0u8; 64];
        padded[..rest.len()].copy_from_slice(rest);
        take(separator_masks(&padded));
    }
    (found, lines)
}

/// Reads rows with the CSV reader: quoted fields, embedded newlines and every terminator.
fn read_csv(
    source: impl Read,
    fields: usize,
    columns: &mut [(usize, CurrentColumn)],
) -> anyhow::Result<Lines> {
    let mut source = Counting {
        inner: source,
        newlines: 0,
        saw_quote: false,
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .buffer_capacity(1 << 18)
        .from_reader(&mut source);
    let mut record = csv::ByteRecord::new();
    let mut rows = 0u64;
    let mut ragged = None;
    while reader.read_byte_record(&mut record)? {
        rows += 1;
        let line = record.position().map_or(rows, |p| p.line());
        if record.len() != fields {
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
    Ok(Lines {
        rows,
        newlines: source.newlines,
        saw_quote: source.saw_quote,
        ragged,
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

#[cfg(test)]
mod tests;
