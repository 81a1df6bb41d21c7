//! Streaming profile construction: one pass over the rows, memory bounded by the options
//! (a reservoir per numeric column, a capped category table per categorical column).
//!
//! Approximation, stated: bin edges and reference proportions come from the reservoir
//! sample. With at most `sample_size` valid values per column (10,000 by default) that is
//! the whole column and everything is exact. Above it, [`build_from_csv`] makes a second
//! pass over the file and recounts the proportions exactly against the sampled edges, so
//! only the edge positions are estimates (equal-frequency up to sampling error, about
//! ±0.3 percentage points per bin at 10,000 samples). Count, missing rate, min, max, mean
//! and std are always exact.

use super::format::{
    CategoricalProfile, CategoryFrequency, ColumnProfile, DISTINCT_CAP, FORMAT, NumericProfile,
    Profile, ProfileOptions, RowCell, RowSample,
};
use super::quantiles;
use super::reservoir::Reservoir;
use super::schema::{ColumnKind, ColumnRole, Schema, is_missing, parse_bool};
use crate::exit::UsageError;
use anyhow::Context;
use std::collections::{HashMap, HashSet};
use std::path::Path;

/// A row that does not fit the schema.
#[derive(Debug, thiserror::Error)]
#[error("line {line} has {found} fields but the header has {expected}: fix the row or the header")]
pub struct RaggedRow {
    pub line: u64,
    pub found: usize,
    pub expected: usize,
}

/// Builds a [`Profile`] from rows pushed one at a time.
pub struct ProfileBuilder {
    schema: Schema,
    options: ProfileOptions,
    columns: Vec<Accumulator>,
    rows: u64,
    rows_sampled: RowSampler,
}

/// The row sample of the feature columns: Algorithm R over whole rows, a row's cells
/// copied only when the draw keeps it (one draw per row once the sample is full).
struct RowSampler {
    /// Schema positions of the feature columns, and whether each is numeric / boolean.
    features: Vec<(usize, ColumnKind)>,
    capacity: usize,
    seen: u64,
    rows: Vec<Vec<Option<RowCell>>>,
    rng: crate::random::SeededRng,
}

impl RowSampler {
    fn offer(&mut self, record: &csv::StringRecord) {
        if self.features.is_empty() || self.capacity == 0 {
            return;
        }
        self.seen += 1;
        let slot = if self.rows.len() < self.capacity {
            self.rows.len()
        } else {
            let slot = self.rng.below(self.seen) as usize;
            if slot >= self.capacity {
                return;
            }
            slot
        };
        let row = self
            .features
            .iter()
            .map(|&(i, kind)| row_cell(record.get(i).unwrap_or(""), kind))
            .collect();
        if slot == self.rows.len() {
            self.rows.push(row);
        } else {
            self.rows[slot] = row;
        }
    }
}

/// A CSV cell as the row sample keeps it: what the column's accumulator would count as a
/// valid value, else `None`.
fn row_cell(value: &str, kind: ColumnKind) -> Option<RowCell> {
    if is_missing(value) {
        return None;
    }
    match kind {
        ColumnKind::Numeric => value
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|x| x.is_finite())
            .map(RowCell::Number),
        ColumnKind::Boolean => parse_bool(value).map(|b| RowCell::Text(b.to_string())),
        ColumnKind::Categorical => Some(RowCell::Text(value.to_string())),
    }
}

impl ProfileBuilder {
    pub fn new(schema: &Schema, options: &ProfileOptions) -> Self {
        let columns = schema
            .columns
            .iter()
            .enumerate()
            .map(|(i, c)| match (c.role, c.kind) {
                (ColumnRole::Id, _) => Accumulator::Skipped,
                (_, ColumnKind::Numeric) => Accumulator::Numeric(NumericAccumulator::new(
                    options.sample_size,
                    // One stream per column, so columns do not share sample positions.
                    options.seed.wrapping_add(i as u64),
                )),
                (_, kind) => Accumulator::Categorical(CategoricalAccumulator::new(kind)),
            })
            .collect();
        let features = schema
            .columns
            .iter()
            .enumerate()
            .filter(|(_, c)| c.role == ColumnRole::Feature)
            .map(|(i, c)| (i, c.kind))
            .collect();
        ProfileBuilder {
            schema: schema.clone(),
            options: options.clone(),
            columns,
            rows: 0,
            rows_sampled: RowSampler {
                features,
                capacity: options.row_sample_size,
                seen: 0,
                rows: Vec::new(),
                // Its own stream: the column reservoirs use seed + position.
                rng: crate::random::SeededRng::new(options.seed ^ 0x726f_7773),
            },
        }
    }

    /// Adds one data row (fields in schema order).
    pub fn push_record(&mut self, record: &csv::StringRecord) -> Result<(), RaggedRow> {
        if record.len() != self.columns.len() {
            return Err(RaggedRow {
                line: record.position().map_or(self.rows + 2, |p| p.line()),
                found: record.len(),
                expected: self.columns.len(),
            });
        }
        self.rows += 1;
        for (acc, value) in self.columns.iter_mut().zip(record.iter()) {
            acc.push(value);
        }
        self.rows_sampled.offer(record);
        Ok(())
    }

    /// Rows pushed so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// The profile of every non-id column. `source` says what the rows came from.
    pub fn finish(self, source: &str) -> Profile {
        let columns = self
            .schema
            .columns
            .iter()
            .zip(self.columns)
            .filter_map(|(schema, acc)| acc.finish(schema, &self.options))
            .collect();
        let sampler = self.rows_sampled;
        let row_sample = (!sampler.rows.is_empty()).then(|| RowSample {
            columns: sampler
                .features
                .iter()
                .map(|&(i, _)| self.schema.columns[i].name.clone())
                .collect(),
            seen: sampler.seen,
            rows: sampler.rows,
        });
        Profile {
            format: FORMAT.to_string(),
            source: source.to_string(),
            source_sha256: None,
            rows: self.rows,
            options: self.options,
            columns,
            row_sample,
            labelled_predictions: None,
        }
    }
}

/// Profiles the CSV at `path` (header first, columns as in `schema`), reading it twice when
/// a numeric column has more values than the reservoir holds (see the module docs).
pub fn build_from_csv(
    path: &Path,
    schema: &Schema,
    options: &ProfileOptions,
    source: &str,
) -> anyhow::Result<Profile> {
    let shown = path.display();
    let mut builder = ProfileBuilder::new(schema, options);
    let mut reader = open_checked(path, schema)?;
    let mut record = csv::StringRecord::new();
    while reader
        .read_record(&mut record)
        .with_context(|| format!("could not read {shown}"))?
    {
        builder
            .push_record(&record)
            .map_err(|e| UsageError(format!("{shown}: {e}")))?;
    }
    if builder.rows() == 0 {
        return Err(UsageError(format!(
            "{shown} has a header but no data rows: a profile needs at least one row"
        ))
        .into());
    }
    let mut profile = builder.finish(source);
    let sampled: Vec<usize> = schema
        .columns
        .iter()
        .enumerate()
        .filter(|(_, c)| {
            profile
                .column(&c.name)
                .and_then(|p| p.numeric.as_ref())
                .is_some_and(|n| !n.sample_complete)
        })
        .map(|(i, _)| i)
        .collect();
    if !sampled.is_empty() {
        recount_proportions(path, schema, &sampled, &mut profile)?;
    }
    Ok(profile)
}

/// Opens `path` as CSV and checks that its header is the schema's.
fn open_checked(path: &Path, schema: &Schema) -> anyhow::Result<csv::Reader<std::fs::File>> {
    let shown = path.display();
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .buffer_capacity(1 << 16)
        .from_path(path)
        .with_context(|| format!("could not open {shown}"))?;
    let headers = reader
        .headers()
        .with_context(|| format!("could not read the header of {shown}"))?;
    let names: Vec<&str> = schema.columns.iter().map(|c| c.name.as_str()).collect();
    if headers.iter().ne(names.iter().copied()) {
        return Err(UsageError(format!(
            "{shown}: the header ({}) is not the schema's columns ({})",
            headers.iter().collect::<Vec<_>>().join(", "),
            names.join(", ")
        ))
        .into());
    }
    Ok(reader)
}

/// Second pass: exact reference proportions for the columns whose edges were sampled.
fn recount_proportions(
    path: &Path,
    schema: &Schema,
    columns: &[usize],
    profile: &mut Profile,
) -> anyhow::Result<()> {
    let numeric: Vec<NumericProfile> = columns
        .iter()
        .map(|&i| {
            profile
                .column(&schema.columns[i].name)
                .and_then(|c| c.numeric.clone())
                .expect("only numeric columns are recounted")
        })
        .collect();
    let mut counts: Vec<Vec<u64>> = numeric.iter().map(|n| vec![0; n.bin_count()]).collect();
    let mut reader = open_checked(path, schema)?;
    let mut record = csv::ByteRecord::new();
    while reader
        .read_byte_record(&mut record)
        .with_context(|| format!("could not read {}", path.display()))?
    {
        for ((&i, n), c) in columns.iter().zip(&numeric).zip(&mut counts) {
            let Some(value) = record
                .get(i)
                .and_then(|b| std::str::from_utf8(b).ok())
                .and_then(|s| s.trim().parse::<f64>().ok())
                .filter(|v| v.is_finite())
            else {
                continue;
            };
            c[n.bin_of(value)] += 1;
        }
    }
    for (&i, c) in columns.iter().zip(counts) {
        let name = &schema.columns[i].name;
        let column = profile
            .columns
            .iter_mut()
            .find(|p| &p.name == name)
            .and_then(|p| p.numeric.as_mut())
            .expect("column profiled above");
        let total: u64 = c.iter().sum();
        column.proportions = c.iter().map(|&k| k as f64 / total.max(1) as f64).collect();
    }
    Ok(())
}

enum Accumulator {
    Skipped,
    Numeric(NumericAccumulator),
    Categorical(CategoricalAccumulator),
}

impl Accumulator {
    #[inline]
    fn push(&mut self, value: &str) {
        match self {
            Accumulator::Skipped => {}
            Accumulator::Numeric(n) => n.push(value),
            Accumulator::Categorical(c) => c.push(value),
        }
    }

    fn finish(
        self,
        schema: &super::schema::ColumnSchema,
        options: &ProfileOptions,
    ) -> Option<ColumnProfile> {
        let mut profile = ColumnProfile {
            name: schema.name.clone(),
            kind: schema.kind,
            role: schema.role,
            count: 0,
            missing: 0,
            missing_rate: 0.0,
            type_errors: 0,
            non_finite: 0,
            distinct: 0,
            numeric: None,
            categorical: None,
        };
        match self {
            Accumulator::Skipped => return None,
            Accumulator::Numeric(n) => n.finish(options, &mut profile),
            Accumulator::Categorical(c) => c.finish(options, &mut profile),
        }
        profile.missing_rate = if profile.count == 0 {
            0.0
        } else {
            profile.missing as f64 / profile.count as f64
        };
        Some(profile)
    }
}

struct NumericAccumulator {
    count: u64,
    missing: u64,
    type_errors: u64,
    non_finite: u64,
    min: f64,
    max: f64,
    // Welford's running mean and sum of squared deviations (numerically stable).
    mean: f64,
    m2: f64,
    distinct: HashSet<u64>,
    sample: Reservoir<f64>,
}

impl NumericAccumulator {
    fn new(sample_size: usize, seed: u64) -> Self {
        NumericAccumulator {
            count: 0,
            missing: 0,
            type_errors: 0,
            non_finite: 0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            mean: 0.0,
            m2: 0.0,
            distinct: HashSet::new(),
            sample: Reservoir::new(sample_size, seed),
        }
    }

    #[inline]
    fn push(&mut self, value: &str) {
        self.count += 1;
        if is_missing(value) {
            self.missing += 1;
            return;
        }
        let Ok(x) = value.trim().parse::<f64>() else {
            self.type_errors += 1;
            return;
        };
        if !x.is_finite() {
            self.non_finite += 1;
            return;
        }
        self.min = self.min.min(x);
        self.max = self.max.max(x);
        let n = self.sample.seen() + 1;
        let delta = x - self.mean;
        self.mean += delta / n as f64;
        self.m2 += delta * (x - self.mean);
        if (self.distinct.len() as u64) < DISTINCT_CAP {
            // +0.0 and -0.0 are one value.
            self.distinct.insert((x + 0.0).to_bits());
        }
        self.sample.push(x);
    }

    fn finish(self, options: &ProfileOptions, out: &mut ColumnProfile) {
        out.count = self.count;
        out.missing = self.missing;
        out.type_errors = self.type_errors;
        out.non_finite = self.non_finite;
        out.distinct = self.distinct.len() as u64;
        let valid = self.sample.seen();
        if valid == 0 {
            return;
        }
        let complete = self.sample.is_complete();
        let mut sample = self.sample.into_values();
        sample.sort_unstable_by(f64::total_cmp);
        let edges = quantiles::equal_frequency_edges(&sample, options.bins, self.min, self.max);
        let mut counts = vec![0u64; quantiles::bin_count(&edges)];
        for &v in &sample {
            counts[quantiles::bin_index(&edges, v)] += 1;
        }
        let proportions = counts
            .iter()
            .map(|&k| k as f64 / sample.len() as f64)
            .collect();
        out.numeric = Some(NumericProfile {
            valid,
            min: self.min,
            max: self.max,
            mean: self.mean,
            std: (self.m2 / valid as f64).sqrt(),
            edges,
            proportions,
            sample,
            sample_complete: complete,
        });
    }
}

struct CategoricalAccumulator {
    boolean: bool,
    count: u64,
    missing: u64,
    type_errors: u64,
    counts: HashMap<String, u64>,
    /// Values of categories beyond [`DISTINCT_CAP`], which are not tracked by name.
    untracked: u64,
}

impl CategoricalAccumulator {
    fn new(kind: ColumnKind) -> Self {
        CategoricalAccumulator {
            boolean: kind == ColumnKind::Boolean,
            count: 0,
            missing: 0,
            type_errors: 0,
            counts: HashMap::new(),
            untracked: 0,
        }
    }

    #[inline]
    fn push(&mut self, value: &str) {
        self.count += 1;
        if is_missing(value) {
            self.missing += 1;
            return;
        }
        let label = if self.boolean {
            match parse_bool(value) {
                Some(true) => "true",
                Some(false) => "false",
                None => {
                    self.type_errors += 1;
                    return;
                }
            }
        } else {
            value
        };
        if let Some(n) = self.counts.get_mut(label) {
            *n += 1;
        } else if (self.counts.len() as u64) < DISTINCT_CAP {
            self.counts.insert(label.to_string(), 1);
        } else {
            self.untracked += 1;
        }
    }

    fn finish(self, options: &ProfileOptions, out: &mut ColumnProfile) {
        out.count = self.count;
        out.missing = self.missing;
        out.type_errors = self.type_errors;
        out.distinct = self.counts.len() as u64;
        let valid: u64 = self.counts.values().sum::<u64>() + self.untracked;
        if valid == 0 {
            return;
        }
        let mut ranked: Vec<(String, u64)> = self.counts.into_iter().collect();
        ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let folded = ranked.split_off(ranked.len().min(options.top_k));
        let other_count = folded.iter().map(|(_, n)| n).sum::<u64>() + self.untracked;
        let categories = ranked
            .into_iter()
            .map(|(value, count)| CategoryFrequency {
                proportion: count as f64 / valid as f64,
                value,
                count,
            })
            .collect();
        out.categorical = Some(CategoricalProfile::new(
            valid,
            categories,
            other_count,
            folded.into_iter().map(|(v, _)| v).collect(),
        ));
    }
}

/// A profile of CSV text held in memory, header first, for the unit tests of the modules
/// that compare data with a profile.
#[cfg(test)]
pub(crate) fn profile_of(
    csv_text: &str,
    overrides: &crate::profile::schema::SchemaOverrides,
    options: &ProfileOptions,
) -> Profile {
    let reader = || {
        csv::ReaderBuilder::new()
            .flexible(true)
            .from_reader(csv_text.as_bytes())
    };
    let schema = Schema::infer(&mut reader(), overrides).unwrap();
    let mut builder = ProfileBuilder::new(&schema, options);
    for record in reader().records() {
        builder.push_record(&record.unwrap()).unwrap();
    }
    builder.finish("test")
}

#[cfg(test)]
mod tests;
