//! `modelwatch drift --multivariate`: reads aligned feature rows of the reference and the
//! current CSV (a seeded uniform sample of at most `--multivariate-rows` rows each, so
//! memory and CPU are bounded whatever the file sizes) and runs
//! [`crate::drift::multivariate`] on them.
//!
//! The per-column statistics work from the reference *profile*, which keeps per-column
//! samples but not rows; the joint distribution needs rows, so the reference must be a CSV
//! file or a stored dataset, not a profile JSON.

use crate::drift::multivariate::{FeatureTable, FeatureValues};
use crate::exit::UsageError;
use crate::profile::reservoir::Reservoir;
use crate::profile::schema::is_missing;
use crate::profile::{ColumnKind, ColumnRole, Profile};
use crate::registry::home::Home;
use crate::registry::reference::{ReferenceKind, classify};
use anyhow::Context;
use std::path::{Path, PathBuf};

/// Seed of the row samples: the same files give the same report.
const ROW_SEED: u64 = 0x6d75_6c74_6976_6172;

/// The CSV file behind `reference`, which multivariate drift reads row by row.
pub fn reference_rows_file(home: &Path, reference: &str) -> anyhow::Result<PathBuf> {
    match classify(reference) {
        ReferenceKind::CsvFile => Ok(PathBuf::from(reference)),
        ReferenceKind::Dataset => {
            let home = Home::open(home)?;
            let dataset = home.resolve_dataset(reference)?;
            home.dataset_file(&dataset)
        }
        ReferenceKind::ProfileFile => Err(UsageError(format!(
            "--multivariate needs the reference's rows, and {reference} is a profile (it keeps \
             per-column samples only): pass the CSV file or the dataset NAME[@VERSION] it was \
             built from"
        ))
        .into()),
        ReferenceKind::RequestsFile => Err(UsageError(format!(
            "--multivariate reads the reference's feature rows from a CSV: store {reference} \
             as a dataset first (`modelwatch dataset add NAME {reference}` keeps its feature \
             table) and pass NAME"
        ))
        .into()),
    }
}

/// The profile's features (numeric, categorical or boolean), in profile order.
pub fn feature_names(profile: &Profile) -> Vec<String> {
    profile
        .columns
        .iter()
        .filter(|c| c.role == ColumnRole::Feature)
        .map(|c| c.name.clone())
        .collect()
}

/// A seeded uniform sample of at most `cap` rows of `path`, the profile's features only.
pub fn read_table(
    path: &Path,
    profile: &Profile,
    features: &[String],
    cap: usize,
) -> anyhow::Result<FeatureTable> {
    let shown = path.display().to_string();
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(path)
        .with_context(|| format!("could not open {shown}"))?;
    let header = reader
        .headers()
        .with_context(|| format!("could not read the header of {shown}"))?
        .clone();
    let mut positions = Vec::with_capacity(features.len());
    let mut numeric = Vec::with_capacity(features.len());
    for name in features {
        let position = header.iter().position(|h| h == name).ok_or_else(|| {
            UsageError(format!(
                "{shown} has no column {name}, a feature of the reference"
            ))
        })?;
        positions.push(position);
        let kind = profile.column(name).map(|c| c.kind);
        numeric.push(kind == Some(ColumnKind::Numeric));
    }
    let mut sample: Reservoir<Vec<Option<String>>> = Reservoir::new(cap, ROW_SEED);
    for record in reader.records() {
        let record = record.with_context(|| format!("could not read {shown}"))?;
        let row = positions
            .iter()
            .map(|&p| record.get(p).filter(|v| !is_missing(v)).map(str::to_string))
            .collect();
        sample.push(row);
    }
    let rows = sample.into_values();
    let columns = numeric
        .iter()
        .enumerate()
        .map(|(j, &is_numeric)| {
            if is_numeric {
                // A cell that is not a number counts as missing here (the per-column
                // report already counts it as a type error).
                FeatureValues::Numeric(
                    rows.iter()
                        .map(|r| {
                            r[j].as_deref()
                                .and_then(|v| v.trim().parse::<f64>().ok())
                                .filter(|v| v.is_finite())
                                .unwrap_or(f64::NAN)
                        })
                        .collect(),
                )
            } else {
                FeatureValues::Categorical(rows.iter().map(|r| r[j].clone()).collect())
            }
        })
        .collect();
    Ok(FeatureTable {
        names: features.to_vec(),
        columns,
    })
}
