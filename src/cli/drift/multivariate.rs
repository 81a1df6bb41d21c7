//! `modelwatch drift --multivariate`: reads aligned feature rows of the reference and the
//! current CSV (a seeded uniform sample of at most `--multivariate-rows` rows each, so
//! memory and CPU are bounded whatever the file sizes) and runs
//! [`crate::drift::multivariate`] on them.
//!
//! The joint distribution needs whole rows. A CSV file or a stored dataset gives them; a
//! profile JSON gives the row sample it keeps (`row_sample`, the rows the live sidecar
//! uses), and a profile made without one is refused with the way out.

use crate::drift::multivariate::{FeatureTable, FeatureValues, table_of_sample};
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

/// Where the reference's rows come from.
pub enum ReferenceRows {
    /// A CSV file, read row by row.
    File(PathBuf),
    /// The row sample the reference profile keeps.
    ProfileSample,
}

/// Where `reference` keeps the rows multivariate drift reads.
pub fn reference_rows(home: &Path, reference: &str) -> anyhow::Result<ReferenceRows> {
    match classify(reference) {
        ReferenceKind::CsvFile => Ok(ReferenceRows::File(PathBuf::from(reference))),
        ReferenceKind::Dataset => {
            let home = Home::open(home)?;
            let dataset = home.resolve_dataset(reference)?;
            Ok(ReferenceRows::File(home.dataset_file(&dataset)?))
        }
        ReferenceKind::ProfileFile => Ok(ReferenceRows::ProfileSample),
        ReferenceKind::RequestsFile => Err(UsageError(format!(
            "--multivariate reads the reference's feature rows from a CSV: store {reference} \
             as a dataset first (`modelwatch dataset add NAME {reference}` keeps its feature \
             table) and pass NAME"
        ))
        .into()),
    }
}

/// The reference profile's row sample as a table of `features`, cut to a seeded uniform
/// sample of `cap` rows when it holds more.
pub fn profile_table(
    reference: &str,
    profile: &Profile,
    features: &[String],
    cap: usize,
) -> anyhow::Result<FeatureTable> {
    let Some(sample) = profile.row_sample.as_ref() else {
        return Err(UsageError(format!(
            "--multivariate needs the reference's rows, and the profile {reference} keeps none \
             (made before profiles kept a row sample, or with --row-sample-size 0): rebuild it \
             with `modelwatch dataset profile`, or pass the CSV file or the dataset \
             NAME[@VERSION] it was built from"
        ))
        .into());
    };
    let table = table_of_sample(profile, features).ok_or_else(|| {
        let missing: Vec<&str> = features
            .iter()
            .filter(|f| !sample.columns.contains(f))
            .map(String::as_str)
            .collect();
        UsageError(format!(
            "the row sample of the profile {reference} lacks the features {}: rebuild it with \
             `modelwatch dataset profile`",
            missing.join(", ")
        ))
    })?;
    if table.rows() <= cap {
        return Ok(table);
    }
    let mut picked = Reservoir::new(cap, ROW_SEED);
    (0..table.rows()).for_each(|i| picked.push(i));
    let mut picked = picked.into_values();
    picked.sort_unstable();
    Ok(table.select_rows(&picked))
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
