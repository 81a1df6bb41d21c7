//! The current file, streamed: per-column counts and bounded samples, compared with the
//! reference profile as the rows go by.
//!
//! Memory per column is fixed by the options: a numeric column keeps a reservoir of at most
//! `sample_size` values; a categorical column keeps one counter per reference category plus
//! at most [`MAX_UNSEEN_CATEGORIES`] unseen ones. A 1 GB file costs what a 100 MB one does.

use crate::profile::reservoir::Reservoir;
use crate::profile::schema::{ColumnKind, is_missing, parse_bool};
use crate::profile::{CategorySlot, ColumnProfile, Profile};
use std::collections::HashMap;

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
    /// Counts per reference category (same order as the profile), then `__other__`.
    pub category_counts: Vec<u64>,
    pub unseen_counts: HashMap<String, u64>,
    range: (f64, f64),
}

impl CurrentColumn {
    pub fn new(field: usize, reference: &ColumnProfile, sample_size: usize, seed: u64) -> Self {
        let named = reference
            .categorical
            .as_ref()
            .map_or(0, |c| c.categories.len());
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
            category_counts: vec![0; named + 1],
            unseen_counts: HashMap::new(),
            range,
        }
    }

    /// Records one cell (`line` is the file line, for messages).
    #[inline]
    pub fn push(&mut self, cell: &[u8], line: u64, reference: &ColumnProfile) {
        self.rows += 1;
        let Ok(text) = std::str::from_utf8(cell) else {
            self.type_error(line, &String::from_utf8_lossy(cell));
            return;
        };
        if is_missing(text) {
            self.missing += 1;
            return;
        }
        match self.kind {
            ColumnKind::Numeric => self.push_number(text, line),
            ColumnKind::Boolean => match parse_bool(text) {
                Some(b) => self.push_category(if b { "true" } else { "false" }, reference),
                None => self.type_error(line, text),
            },
            ColumnKind::Categorical => self.push_category(text, reference),
        }
    }

    #[inline]
    fn push_number(&mut self, text: &str, line: u64) {
        let Ok(x) = text.trim().parse::<f64>() else {
            self.type_error(line, text);
            return;
        };
        if !x.is_finite() {
            self.non_finite += 1;
            if self.first_non_finite.is_none() {
                self.first_non_finite = Some(BadValue {
                    line,
                    value: text.to_string(),
                });
            }
            return;
        }
        if x < self.range.0 || x > self.range.1 {
            self.out_of_range += 1;
        }
        self.sample.push(x);
    }

    #[inline]
    fn push_category(&mut self, label: &str, reference: &ColumnProfile) {
        let slot = reference
            .categorical
            .as_ref()
            .and_then(|c| c.slot_of(label));
        match slot {
            Some(CategorySlot::Named(i)) => self.category_counts[i] += 1,
            Some(CategorySlot::Other) => *self.category_counts.last_mut().expect("other") += 1,
            None => {
                self.unseen += 1;
                if let Some(n) = self.unseen_counts.get_mut(label) {
                    *n += 1;
                } else if self.unseen_counts.len() < MAX_UNSEEN_CATEGORIES {
                    self.unseen_counts.insert(label.to_string(), 1);
                } else {
                    *self
                        .unseen_counts
                        .entry(UNSEEN_OVERFLOW.to_string())
                        .or_default() += 1;
                }
            }
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

    /// The sorted sample of valid numeric values.
    pub fn sorted_sample(&self) -> Vec<f64> {
        let mut v = self.sample.values().to_vec();
        v.sort_unstable_by(f64::total_cmp);
        v
    }
}

/// Reference and current category counts aligned by label (sorted by label, as Evidently
/// orders them), with `__other__` when either side uses it and every unseen category
/// (reference count 0).
pub fn aligned_counts(reference: &ColumnProfile, current: &CurrentColumn) -> (Vec<u64>, Vec<u64>) {
    let Some(cat) = reference.categorical.as_ref() else {
        return (Vec::new(), Vec::new());
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
    rows.into_iter().map(|(_, r, c)| (r, c)).unzip()
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
                // Live traffic has no labels: a missing target is expected, not an error.
                None if column.role == crate::profile::ColumnRole::Target => {}
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
