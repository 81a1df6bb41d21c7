//! The current file, streamed: per-column counts and bounded samples, compared with the
//! reference profile as the rows go by.
//!
//! Memory per column is fixed by the options: a numeric column keeps a reservoir of at most
//! `sample_size` values; a categorical column keeps one counter per reference category plus
//! at most [`MAX_UNSEEN_CATEGORIES`] unseen ones. A 1 GB file costs what a 100 MB one does.

use crate::drift::bin_counts::BinCounts;
use crate::drift::counts::NumericCounts;
use crate::drift::ks_counts::KsCounts;
use crate::profile::reservoir::Reservoir;
use crate::profile::schema::{ColumnKind, is_missing, parse_bool};
use crate::profile::{CategorySlot, ColumnProfile, Profile};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Unseen categories tracked by name per column; more are still counted as unseen.
pub const MAX_UNSEEN_CATEGORIES: usize = 1000;

/// The label that collects unseen categories beyond [`MAX_UNSEEN_CATEGORIES`].
pub const UNSEEN_OVERFLOW: &str = "__more_unseen__";

/// The first bad value of a column, for a message that names file, line and column.
#[derive(Clone, Debug)]
pub struct BadValue {
    pub line: u64,
    pub value: String,
}

/// What the current file holds for one reference column.
pub struct CurrentColumn {
    /// Position of the column in the current file.
    pub field: usize,
    pub kind: ColumnKind,
    pub rows: u64,
    pub missing: u64,
    /// Words in a numeric column, non-booleans in a boolean one, invalid UTF-8.
    pub type_errors: u64,
    /// NaN and ±Inf in a numeric column.
    pub non_finite: u64,
    /// Valid numeric values outside the reference [min, max].
    pub out_of_range: u64,
    /// Values of categories the reference never saw.
    pub unseen: u64,
    pub first_type_error: Option<BadValue>,
    pub first_non_finite: Option<BadValue>,
    pub sample: Reservoir<f64>,
    /// Set when the column is surely tested with KS, PSI or Jensen–Shannon
    /// ([`CurrentColumn::counting_for_ks`], [`CurrentColumn::counting_into_bins`]): values
    /// are counted against the reference instead of sampled.
    pub counts: Option<NumericCounts>,
    /// Counts per reference category (same order as the profile), then `__other__`.
    pub category_counts: Vec<u64>,
    pub unseen_counts: HashMap<String, u64>,
    range: (f64, f64),
    lookup: CategoryLookup,
    /// What recent cells came to ([`CurrentColumn::remembering_cells`]).
    memo: Option<CellMemo>,
}

/// The outcomes of cells seen before, by their bytes, and how often they came again.
/// Real tables repeat values (ages, amounts, category labels); a repeated cell then costs
/// one lookup and one increment in the same cache line, instead of a parse, a search and
/// a counter elsewhere. Only cells of at most 7 bytes, and only outcomes that depend on the
/// bytes alone: a known category's index; a finite number's counting slot and range check (bit
/// 31). Direct-mapped: a colliding cell replaces the older one, whose repeats are counted
/// then; the rest when the column is settled ([`CurrentColumn::settle_cells`]).
struct CellMemo {
    entries: Box<[MemoEntry]>,
    /// 64 − log2(slots): the top bits of the hashed key pick its slot.
    shift: u32,
}

#[derive(Clone, Copy)]
struct MemoEntry {
    key: u64,
    outcome: u32,
    /// Repeats of the cell not yet counted in the column.
    repeats: u32,
}

/// Memo entries per column at most (64 KiB): a column of amounts or prices in a credit
/// table has a few thousand distinct values (with 1,024 entries, `--method ks` on a
/// million credit rows took 12% longer).
pub const MEMO_SLOTS_MAX: usize = 4096;
/// Memo entries per column at least.
const MEMO_SLOTS_MIN: usize = 256;
/// Memo bytes one reader holds over all its columns: a wide table gets smaller memos
/// rather than a memory bill that grows with its width.
const MEMO_BUDGET_BYTES: usize = 3 << 20;
/// Repeats a memo entry holds before handing them over: all a `u32` holds. Tests hand
/// over often, so that the path runs.
#[cfg(not(test))]
const MAX_REPEATS: u32 = u32::MAX;
#[cfg(test)]
const MAX_REPEATS: u32 = 5;
/// Bit 31 of a numeric outcome: the value is outside the reference range.
const OUT_OF_RANGE: u32 = 1 << 31;

/// Memo entries per column for a reader of `columns` columns: a power of two from 256 to
/// [`MEMO_SLOTS_MAX`], within 3 MiB in all when it can be.
pub fn memo_slots(columns: usize) -> usize {
    let entry = std::mem::size_of::<(u64, u32)>();
    let fair = MEMO_BUDGET_BYTES / entry / columns.max(1);
    let slots = if fair.is_power_of_two() {
        fair
    } else {
        fair.next_power_of_two() / 2
    };
    slots.clamp(MEMO_SLOTS_MIN, MEMO_SLOTS_MAX)
}

impl CellMemo {
    fn new(slots: usize) -> Self {
        assert!(slots.is_power_of_two() && slots > 1, "memo slots: {slots}");
        CellMemo {
            // No key has a top byte above 7: `u64::MAX` is never a cell's.
            entries: vec![
                MemoEntry {
                    key: u64::MAX,
                    outcome: 0,
                    repeats: 0,
                };
                slots
            ]
            .into_boxed_slice(),
            shift: 64 - slots.trailing_zeros(),
        }
    }

    /// The cell's bytes and length as one integer; `None` for cells over 7 bytes.
    /// `word`, when the caller has it, is the 8 bytes from the cell's start (little
    /// endian): one load instead of a loop over the bytes.
    #[inline]
    fn key(cell: &[u8], word: Option<u64>) -> Option<u64> {
        let len = cell.len();
        if len > 7 {
            return None;
        }
        let bytes = match word {
            Some(word) => word & ((1u64 << (8 * len)) - 1),
            None => cell
                .iter()
                .enumerate()
                .fold(0, |key, (i, &b)| key | (u64::from(b) << (8 * i))),
        };
        Some(bytes | ((len as u64) << 56))
    }

    #[inline]
    fn index(&self, key: u64) -> usize {
        (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> self.shift) as usize
    }

    /// Counts a repeat of the cell with this key, if remembered; at [`MAX_REPEATS`] the
    /// entry hands them over (outcome, repeats) and starts again.
    #[inline]
    fn repeat(&mut self, key: u64) -> Option<Option<(u32, u32)>> {
        let i = self.index(key);
        let entry = &mut self.entries[i];
        if entry.key != key {
            return None;
        }
        entry.repeats += 1;
        if entry.repeats == MAX_REPEATS {
            return Some(Some((entry.outcome, std::mem::take(&mut entry.repeats))));
        }
        Some(None)
    }

    /// Remembers a cell's outcome (its first occurrence is counted by the caller); returns
    /// the replaced entry's uncounted repeats.
    fn insert(&mut self, key: u64, outcome: u32) -> (u32, u32) {
        let i = self.index(key);
        let old = std::mem::replace(
            &mut self.entries[i],
            MemoEntry {
                key,
                outcome,
                repeats: 0,
            },
        );
        (old.outcome, old.repeats)
    }
}

/// Raw label bytes → reference slot. A handful of labels (the usual case) are compared in
/// a short linear scan, which beats hashing; more go through an FNV hash map.
enum CategoryLookup {
    Few(Vec<(Box<[u8]>, CategorySlot)>),
    Many(HashMap<Box<[u8]>, CategorySlot, BuildHasherDefault<Fnv1a>>),
}

/// Label sets up to this size use the linear scan.
const LINEAR_LOOKUP_MAX: usize = 12;

impl CategoryLookup {
    fn new(entries: Vec<(Box<[u8]>, CategorySlot)>) -> Self {
        if entries.len() <= LINEAR_LOOKUP_MAX {
            CategoryLookup::Few(entries)
        } else {
            CategoryLookup::Many(entries.into_iter().collect())
        }
    }

    #[inline]
    fn get(&self, label: &[u8]) -> Option<CategorySlot> {
        match self {
            CategoryLookup::Few(entries) => entries
                .iter()
                .find(|(l, _)| l.as_ref() == label)
                .map(|(_, slot)| *slot),
            CategoryLookup::Many(map) => map.get(label).copied(),
        }
    }
}

impl CurrentColumn {
    pub fn new(field: usize, reference: &ColumnProfile, sample_size: usize, seed: u64) -> Self {
        let mut entries: Vec<(Box<[u8]>, CategorySlot)> = Vec::new();
        let mut named = 0;
        if let Some(c) = reference.categorical.as_ref() {
            named = c.categories.len();
            // Most frequent first: the linear scan usually stops at the first entry.
            for (i, label) in c.categories.iter().enumerate() {
                entries.push((label.value.as_bytes().into(), CategorySlot::Named(i)));
            }
            for label in &c.other_categories {
                entries.push((label.as_bytes().into(), CategorySlot::Other));
            }
        }
        let lookup = CategoryLookup::new(entries);
        let range = reference
            .numeric
            .as_ref()
            .map_or((f64::NEG_INFINITY, f64::INFINITY), |n| (n.min, n.max));
        CurrentColumn {
            field,
            kind: reference.kind,
            rows: 0,
            missing: 0,
            type_errors: 0,
            non_finite: 0,
            out_of_range: 0,
            unseen: 0,
            first_type_error: None,
            first_non_finite: None,
            sample: Reservoir::new(sample_size, seed),
            counts: None,
            category_counts: vec![0; named + 1],
            unseen_counts: HashMap::new(),
            range,
            lookup,
            memo: None,
        }
    }

    /// Counts the values between the sorted reference sample's values for an exact KS
    /// test on every row ([`KsCounts`]), and keeps no sample: for a column whose method is
    /// KS whatever the current data holds. Memory is that of the reference sample.
    pub fn counting_for_ks(mut self, reference_sorted: &[f64]) -> Self {
        self.sample = Reservoir::new(0, 0);
        self.counts = Some(NumericCounts::Ks(KsCounts::new(reference_sorted)));
        self
    }

    /// Counts the values into the reference's bins for exact PSI and Jensen–Shannon
    /// ([`BinCounts`]), and keeps no sample: for a column whose method is one of those
    /// whatever the current data holds. Memory is one counter per bin.
    pub fn counting_into_bins(mut self, reference_sorted: &[f64]) -> Self {
        self.sample = Reservoir::new(0, 0);
        self.counts = Some(NumericCounts::Bins(BinCounts::new(reference_sorted)));
        self
    }

    /// Remembers what repeated cells came to in `slots` entries (a cell memo, 16 bytes
    /// each; see [`memo_slots`]) for a column that reads many CSV cells: a categorical
    /// one, or a numeric one counted for KS. The live windows, which get decoded values,
    /// do without.
    pub fn remembering_cells(mut self, slots: usize) -> Self {
        if self.kind != ColumnKind::Numeric || self.counts.is_some() {
            self.memo = Some(CellMemo::new(slots));
        }
        self
    }

    /// Counts the repeats the memo still holds and frees it. Until then a remembering
    /// column's counts are short of them: call this once the cells are read.
    pub fn settle_cells(&mut self) {
        if let Some(memo) = self.memo.take() {
            for entry in memo.entries.iter() {
                self.apply_repeats(entry.outcome, entry.repeats);
            }
        }
    }

    /// Records one cell (`line` is the file line, for messages).
    ///
    /// The common case goes first and skips everything it can: a plain number parses
    /// straight away, a known category is one hash lookup on the raw bytes. Only cells that
    /// fail that are checked for missing spellings, surrounding spaces and booleans.
    #[inline]
    pub fn push(&mut self, cell: &[u8], line: u64) {
        self.push_word(cell, None, line);
    }

    /// [`CurrentColumn::push`] for a reader that also has the 8 bytes from the cell's
    /// start as one little-endian word (they may run past the cell).
    #[inline(always)]
    pub fn push_word(&mut self, cell: &[u8], word: Option<u64>, line: u64) {
        self.rows += 1;
        let key = self.memo.as_ref().and(CellMemo::key(cell, word));
        if let (Some(memo), Some(key)) = (self.memo.as_mut(), key)
            && let Some(handed_over) = memo.repeat(key)
        {
            if let Some((outcome, repeats)) = handed_over {
                self.apply_repeats(outcome, repeats);
            }
            return;
        }
        let outcome = self.classify(cell, line);
        if let (Some(memo), Some(key), Some(outcome)) = (self.memo.as_mut(), key, outcome) {
            let (replaced, repeats) = memo.insert(key, outcome);
            self.apply_repeats(replaced, repeats);
        }
    }

    /// Counts a cell seen for the first time (or forgotten); returns its outcome when it
    /// depends on the bytes alone (see [`CellMemo`]).
    #[inline(never)]
    fn classify(&mut self, cell: &[u8], line: u64) -> Option<u32> {
        match self.kind {
            ColumnKind::Numeric => match crate::profile::number::parse_number(cell) {
                Some(x) if x.is_finite() && self.counts.is_some() => {
                    let counts = self.counts.as_ref().expect("checked");
                    let mut outcome = counts.locate(x);
                    if x < self.range.0 || x > self.range.1 {
                        outcome |= OUT_OF_RANGE;
                    }
                    self.apply(outcome);
                    Some(outcome)
                }
                Some(x) => {
                    self.push_number(x, cell, line);
                    None
                }
                None => {
                    self.push_unusual_number(cell, line);
                    None
                }
            },
            ColumnKind::Boolean | ColumnKind::Categorical => match self.lookup.get(cell) {
                Some(slot) => {
                    let i = self.slot_index(slot);
                    self.category_counts[i] += 1;
                    Some(i as u32)
                }
                None => {
                    self.push_unusual_category(cell, line);
                    None
                }
            },
        }
    }

    /// Counts `repeats` more cells of a remembered outcome.
    fn apply_repeats(&mut self, outcome: u32, repeats: u32) {
        if repeats == 0 {
            return;
        }
        let repeats = u64::from(repeats);
        match (self.kind, self.counts.as_mut()) {
            (ColumnKind::Numeric, Some(counts)) => {
                counts.count_many(outcome & !OUT_OF_RANGE, repeats);
                self.out_of_range += repeats * u64::from(outcome >> 31);
            }
            _ => self.category_counts[outcome as usize] += repeats,
        }
    }

    /// Counts an outcome once: a category index, or a counting slot and range flag.
    #[inline]
    fn apply(&mut self, outcome: u32) {
        match (self.kind, self.counts.as_mut()) {
            (ColumnKind::Numeric, Some(counts)) => {
                counts.count(outcome & !OUT_OF_RANGE);
                self.out_of_range += u64::from(outcome >> 31);
            }
            _ => self.category_counts[outcome as usize] += 1,
        }
    }

    #[inline]
    fn push_number(&mut self, x: f64, cell: &[u8], line: u64) {
        if !x.is_finite() {
            self.non_finite += 1;
            if self.first_non_finite.is_none() {
                self.first_non_finite = Some(BadValue {
                    line,
                    value: String::from_utf8_lossy(cell).into_owned(),
                });
            }
            return;
        }
        if x < self.range.0 || x > self.range.1 {
            self.out_of_range += 1;
        }
        self.keep(x);
    }

    /// A valid number goes to the counts or the sample.
    #[inline]
    fn keep(&mut self, x: f64) {
        match self.counts.as_mut() {
            Some(counts) => counts.push(x),
            None => self.sample.push(x),
        }
    }

    fn push_unusual_number(&mut self, cell: &[u8], line: u64) {
        let Ok(text) = std::str::from_utf8(cell) else {
            return self.type_error(line, &String::from_utf8_lossy(cell));
        };
        if is_missing(text) {
            self.missing += 1;
        } else if let Ok(x) = text.trim().parse::<f64>() {
            self.push_number(x, cell, line);
        } else {
            self.type_error(line, text);
        }
    }

    fn push_unusual_category(&mut self, cell: &[u8], line: u64) {
        let Ok(text) = std::str::from_utf8(cell) else {
            return self.type_error(line, &String::from_utf8_lossy(cell));
        };
        if is_missing(text) {
            self.missing += 1;
            return;
        }
        let label = if self.kind == ColumnKind::Boolean {
            match parse_bool(text) {
                Some(b) => bool_label(b),
                None => return self.type_error(line, text),
            }
        } else {
            text
        };
        self.push_label(label);
    }

    /// Counts a category label: its reference slot, or unseen. Returns the slot.
    #[inline]
    fn push_label(&mut self, label: &str) -> Option<CategorySlot> {
        if let Some(slot) = self.lookup.get(label.as_bytes()) {
            self.count_slot(slot);
            return Some(slot);
        }
        self.unseen += 1;
        self.add_unseen(label, 1);
        None
    }

    fn add_unseen(&mut self, label: &str, n: u64) {
        if let Some(mine) = self.unseen_counts.get_mut(label) {
            *mine += n;
        } else if self.unseen_counts.len() < MAX_UNSEEN_CATEGORIES {
            self.unseen_counts.insert(label.to_string(), n);
        } else {
            *self
                .unseen_counts
                .entry(UNSEEN_OVERFLOW.to_string())
                .or_default() += n;
        }
    }

    /// Records one value decoded from an inference payload (the live sidecar's path; the
    /// file path is [`CurrentColumn::push`]) and says what it was, for the caller's
    /// counters. Numbers in a categorical column become labels (`3`, `2.5`); text in a
    /// numeric column is parsed like a CSV cell. Text that spells a missing value in a CSV
    /// ([`is_missing`]: `""`, `NA`, `null`, …) is missing here too, as it was when the
    /// reference was profiled: otherwise a client that sends `""` where the reference file
    /// had an empty cell would show a category the reference never saw.
    pub fn push_typed(&mut self, cell: TypedCell<'_>) -> Observed {
        self.rows += 1;
        match (missing_text_as_missing(cell), self.kind) {
            (TypedCell::Missing, _) => {
                self.missing += 1;
                Observed::Missing
            }
            (TypedCell::Number(x), ColumnKind::Numeric) => self.push_value(x),
            (TypedCell::Text(t), ColumnKind::Numeric) => match t.trim().parse::<f64>() {
                Ok(x) => self.push_value(x),
                Err(_) => {
                    self.type_errors += 1;
                    Observed::TypeError
                }
            },
            (TypedCell::Number(x), ColumnKind::Categorical) if x.is_finite() => {
                Observed::Category(self.push_label(&number_label(x)))
            }
            (TypedCell::Text(t), ColumnKind::Categorical) => Observed::Category(self.push_label(t)),
            (TypedCell::Bool(b), ColumnKind::Categorical | ColumnKind::Boolean) => {
                Observed::Category(self.push_label(bool_label(b)))
            }
            (TypedCell::Text(t), ColumnKind::Boolean) => match parse_bool(t) {
                Some(b) => Observed::Category(self.push_label(bool_label(b))),
                None => {
                    self.type_errors += 1;
                    Observed::TypeError
                }
            },
            _ => {
                self.type_errors += 1;
                Observed::TypeError
            }
        }
    }

    #[inline]
    fn push_value(&mut self, x: f64) -> Observed {
        if !x.is_finite() {
            self.non_finite += 1;
            return Observed::NonFinite;
        }
        let out_of_range = x < self.range.0 || x > self.range.1;
        if out_of_range {
            self.out_of_range += 1;
        }
        self.keep(x);
        Observed::Number {
            value: x,
            out_of_range,
        }
    }

    /// Adds what `other` holds for the same reference column without consuming it (live
    /// windows merge their sub-windows on every evaluation and keep them).
    pub fn absorb(&mut self, other: &CurrentColumn) {
        self.rows += other.rows;
        self.missing += other.missing;
        self.type_errors += other.type_errors;
        self.non_finite += other.non_finite;
        self.out_of_range += other.out_of_range;
        self.unseen += other.unseen;
        for &x in other.sample.values() {
            self.sample.push(x);
        }
        if let (Some(mine), Some(theirs)) = (self.counts.as_mut(), other.counts.as_ref()) {
            mine.merge(theirs);
        }
        for (mine, theirs) in self.category_counts.iter_mut().zip(&other.category_counts) {
            *mine += theirs;
        }
        for (label, n) in &other.unseen_counts {
            self.add_unseen(label, *n);
        }
    }

    #[inline]
    fn count_slot(&mut self, slot: CategorySlot) {
        let i = self.slot_index(slot);
        self.category_counts[i] += 1;
    }

    /// The index of a reference slot in `category_counts`.
    #[inline]
    fn slot_index(&self, slot: CategorySlot) -> usize {
        match slot {
            CategorySlot::Named(i) => i,
            CategorySlot::Other => self.category_counts.len() - 1,
        }
    }

    fn type_error(&mut self, line: u64, text: &str) {
        self.type_errors += 1;
        if self.first_type_error.is_none() {
            self.first_type_error = Some(BadValue {
                line,
                value: text.chars().take(40).collect(),
            });
        }
    }

    /// Adds the counts of `other`, which saw a later part of the same file, and merges the
    /// samples. `line_offset` turns `other`'s chunk-relative lines into file lines.
    pub fn merge(&mut self, other: CurrentColumn, line_offset: u64) {
        self.rows += other.rows;
        self.missing += other.missing;
        self.type_errors += other.type_errors;
        self.non_finite += other.non_finite;
        self.out_of_range += other.out_of_range;
        self.unseen += other.unseen;
        let shift = |b: BadValue| BadValue {
            line: b.line + line_offset,
            value: b.value,
        };
        if self.first_type_error.is_none() {
            self.first_type_error = other.first_type_error.map(shift);
        }
        if self.first_non_finite.is_none() {
            self.first_non_finite = other.first_non_finite.map(shift);
        }
        let sample = std::mem::replace(&mut self.sample, Reservoir::new(0, 0));
        self.sample = sample.merge(other.sample);
        if let (Some(mine), Some(theirs)) = (self.counts.as_mut(), other.counts.as_ref()) {
            mine.merge(theirs);
        }
        for (a, b) in self.category_counts.iter_mut().zip(other.category_counts) {
            *a += b;
        }
        for (label, n) in other.unseen_counts {
            self.add_unseen(&label, n);
        }
    }

    /// Turns range-relative line numbers in the first-bad-value notes into file lines.
    pub fn shift_lines(&mut self, offset: u64) {
        for bad in [&mut self.first_type_error, &mut self.first_non_finite]
            .into_iter()
            .flatten()
        {
            bad.line += offset;
        }
    }

    /// The sorted sample of valid numeric values.
    pub fn sorted_sample(&self) -> Vec<f64> {
        let mut v = self.sample.values().to_vec();
        v.sort_unstable_by(f64::total_cmp);
        v
    }
}

/// FNV-1a (Fowler, Noll, Vo): category labels are short, and SipHash's DoS resistance buys
/// nothing for a file the user chose, while it doubled the per-cell cost in profiling.
#[derive(Default)]
pub struct Fnv1a(u64);

impl Hasher for Fnv1a {
    fn finish(&self) -> u64 {
        self.0
    }

    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for &b in bytes {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

/// A value decoded from an inference payload.
#[derive(Clone, Copy, Debug)]
pub enum TypedCell<'a> {
    Missing,
    Number(f64),
    Text(&'a str),
    Bool(bool),
}

/// What a pushed value turned out to be.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Observed {
    Missing,
    /// The wrong type for the column (a word in a numeric column).
    TypeError,
    /// NaN or ±Inf in a numeric column.
    NonFinite,
    Number {
        value: f64,
        out_of_range: bool,
    },
    /// A category: its reference slot, or `None` when the reference never saw it.
    Category(Option<CategorySlot>),
}

/// [`TypedCell::Missing`] for text that spells a missing value ([`is_missing`]).
fn missing_text_as_missing(cell: TypedCell<'_>) -> TypedCell<'_> {
    match cell {
        TypedCell::Text(t) if is_missing(t) => TypedCell::Missing,
        other => other,
    }
}

/// The label of a number used as a category: integers without a decimal point.
pub fn number_label(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}

/// A decoded cell as a row sample keeps it for multivariate drift: the value
/// [`CurrentColumn::push_typed`] would count (a number for a numeric column, the category's
/// label otherwise), `None` for what it would count as missing or a type error.
pub fn row_cell(cell: TypedCell<'_>, kind: ColumnKind) -> Option<crate::profile::format::RowCell> {
    use crate::profile::format::RowCell;
    match (missing_text_as_missing(cell), kind) {
        (TypedCell::Number(x), ColumnKind::Numeric) => Some(x),
        (TypedCell::Text(t), ColumnKind::Numeric) => t.trim().parse::<f64>().ok(),
        (TypedCell::Number(x), ColumnKind::Categorical) if x.is_finite() => {
            return Some(RowCell::Text(number_label(x)));
        }
        (TypedCell::Text(t), ColumnKind::Categorical) => return Some(RowCell::Text(t.into())),
        (TypedCell::Bool(b), ColumnKind::Categorical | ColumnKind::Boolean) => {
            return Some(RowCell::Text(bool_label(b).into()));
        }
        (TypedCell::Text(t), ColumnKind::Boolean) => {
            return parse_bool(t).map(|b| RowCell::Text(bool_label(b).into()));
        }
        _ => None,
    }
    .filter(|x| x.is_finite())
    .map(RowCell::Number)
}

fn bool_label(b: bool) -> &'static str {
    if b { "true" } else { "false" }
}

/// Reference and current category counts aligned by label (sorted by label, as Evidently
/// orders them), with `__other__` when either side uses it and every unseen category
/// (reference count 0).
pub fn aligned_counts(reference: &ColumnProfile, current: &CurrentColumn) -> (Vec<u64>, Vec<u64>) {
    aligned_categories(reference, current)
        .into_iter()
        .map(|(_, r, c)| (r, c))
        .unzip()
}

/// [`aligned_counts`] with each category's label: `(label, reference, current)`.
pub fn aligned_categories<'a>(
    reference: &'a ColumnProfile,
    current: &'a CurrentColumn,
) -> Vec<(&'a str, u64, u64)> {
    let Some(cat) = reference.categorical.as_ref() else {
        return Vec::new();
    };
    let mut rows: Vec<(&str, u64, u64)> = cat
        .categories
        .iter()
        .zip(&current.category_counts)
        .map(|(c, &n)| (c.value.as_str(), c.count, n))
        .collect();
    let other_current = *current.category_counts.last().unwrap_or(&0);
    if cat.other_count > 0 || other_current > 0 {
        rows.push((crate::profile::OTHER, cat.other_count, other_current));
    }
    for (label, &n) in &current.unseen_counts {
        rows.push((label.as_str(), 0, n));
    }
    rows.sort_by(|a, b| a.0.cmp(b.0));
    rows
}

/// Maps the current header onto the profile: for each profiled column, its field index.
pub struct ColumnMap {
    /// (index into `profile.columns`, field index in the current file).
    pub matched: Vec<(usize, usize)>,
    /// Profiled feature columns the current file lacks.
    pub missing_features: Vec<String>,
    /// Current columns the reference does not know.
    pub unknown: Vec<String>,
}

impl ColumnMap {
    pub fn new(profile: &Profile, header: &csv::ByteRecord) -> ColumnMap {
        let names: Vec<String> = header
            .iter()
            .map(|h| String::from_utf8_lossy(h).into_owned())
            .collect();
        let mut matched = Vec::new();
        let mut missing_features = Vec::new();
        for (i, column) in profile.columns.iter().enumerate() {
            match names.iter().position(|n| *n == column.name) {
                Some(field) => matched.push((i, field)),
                // Live traffic has no labels, and a feature file no model outputs: a missing
                // target or prediction column is expected, not an error.
                None if matches!(
                    column.role,
                    crate::profile::ColumnRole::Target | crate::profile::ColumnRole::Prediction
                ) => {}
                None => missing_features.push(column.name.clone()),
            }
        }
        let unknown = names
            .into_iter()
            .filter(|n| profile.column(n).is_none())
            .collect();
        ColumnMap {
            matched,
            missing_features,
            unknown,
        }
    }
}

#[cfg(test)]
impl CurrentColumn {
    /// Everything a report is made of, as one line of text, so that two ways of reading
    /// the same cells can be compared in one assert.
    pub(crate) fn summary(&self) -> String {
        format!(
            "rows {} missing {} type_errors {} first_error {:?} non_finite {} out_of_range {} \
             unseen {} sample {:?} categories {:?} unseen {:?} ks {:?}",
            self.rows,
            self.missing,
            self.type_errors,
            self.first_type_error
                .as_ref()
                .map(|b| (b.line, b.value.clone())),
            self.non_finite,
            self.out_of_range,
            self.unseen,
            self.sorted_sample(),
            self.category_counts,
            self.unseen_counts
                .iter()
                .collect::<std::collections::BTreeMap<_, _>>(),
            self.counts.as_ref().map(|c| match c {
                NumericCounts::Ks(k) => format!("{:?}", k.ks_2samp()),
                NumericCounts::Bins(b) => format!("{:?}", b.proportions()),
            }),
        )
    }
}

#[cfg(test)]
mod tests;
