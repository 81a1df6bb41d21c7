//! Raw tabular data as the model sees it before preprocessing: one value per feature,
//! typed by the dataset schema, plus the binary label.
//!
//! The same [`RawValue`] is what `serve` builds from a JSON request, so training and serving
//! read features through one code path.

use crate::profile::schema::{ColumnKind, ColumnRole, Schema, is_missing, parse_bool};
use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// One cell of a feature.
#[derive(Clone, Debug, PartialEq)]
pub enum RawValue {
    Missing,
    Number(f64),
    Text(String),
}

/// A feature the model reads: its name and how its values are interpreted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeatureSpec {
    pub name: String,
    pub kind: ColumnKind,
}

impl FeatureSpec {
    /// Interprets one CSV cell or request string for this feature.
    ///
    /// Numeric features parse a finite float; categorical and boolean ones keep the text
    /// (booleans lower-cased, so `TRUE` and `true` are one category).
    pub fn parse(&self, cell: &str) -> Result<RawValue, String> {
        if is_missing(cell) {
            return Ok(RawValue::Missing);
        }
        match self.kind {
            ColumnKind::Numeric => match cell.trim().parse::<f64>() {
                Ok(v) if v.is_finite() => Ok(RawValue::Number(v)),
                Ok(_) => Err(format!("{cell:?} is not a finite number")),
                Err(_) => Err(format!("expected a number, got {cell:?}")),
            },
            ColumnKind::Boolean => match parse_bool(cell) {
                Some(b) => Ok(RawValue::Text(b.to_string())),
                None => Err(format!("expected true or false, got {cell:?}")),
            },
            ColumnKind::Categorical => Ok(RawValue::Text(cell.trim().to_string())),
        }
    }
}

/// The two classes of the target: which label string is the positive one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassLabels {
    pub negative: String,
    pub positive: String,
}

/// Feature rows and binary labels read from a CSV dataset.
#[derive(Clone, Debug)]
pub struct LabeledTable {
    pub features: Vec<FeatureSpec>,
    pub target: String,
    pub classes: ClassLabels,
    /// Row-major, one value per feature in `features` order.
    pub rows: Vec<Vec<RawValue>>,
    /// `true` for the positive class.
    pub labels: Vec<bool>,
}

impl LabeledTable {
    /// Reads a CSV file with its schema. The schema must declare a target with exactly two
    /// distinct values; `positive_class` picks the positive one (default: the rarer one,
    /// the usual "event of interest").
    pub fn read_csv(
        path: &Path,
        schema: &Schema,
        positive_class: Option<&str>,
    ) -> anyhow::Result<LabeledTable> {
        let target = schema.target().with_context(|| {
            format!(
                "{} has no target column: add the dataset with --target COLUMN",
                path.display()
            )
        })?;
        let mut reader = csv::Reader::from_path(path)
            .with_context(|| format!("could not open the dataset file {}", path.display()))?;
        let headers = reader.headers()?.clone();
        let position = |name: &str| -> anyhow::Result<usize> {
            headers.iter().position(|h| h == name).with_context(|| {
                format!(
                    "{} has no column {name:?} named by its schema",
                    path.display()
                )
            })
        };
        let target_at = position(&target.name)?;
        let features: Vec<FeatureSpec> = schema
            .columns
            .iter()
            .filter(|c| c.role == ColumnRole::Feature)
            .map(|c| FeatureSpec {
                name: c.name.clone(),
                kind: c.kind,
            })
            .collect();
        let feature_at: Vec<usize> = features
            .iter()
            .map(|f| position(&f.name))
            .collect::<anyhow::Result<_>>()?;

        let mut rows = Vec::new();
        let mut raw_labels = Vec::new();
        for (i, record) in reader.records().enumerate() {
            let line = i + 2;
            let record = record.with_context(|| format!("{} line {line}", path.display()))?;
            let label = record.get(target_at).unwrap_or("").trim();
            if is_missing(label) {
                bail!(
                    "{} line {line}: the target {:?} is missing; drop unlabeled rows before training",
                    path.display(),
                    target.name
                );
            }
            raw_labels.push(label.to_string());
            let row = features
                .iter()
                .zip(&feature_at)
                .map(|(f, &at)| {
                    f.parse(record.get(at).unwrap_or("")).map_err(|reason| {
                        anyhow::anyhow!(
                            "{} line {line}, column {:?}: {reason}",
                            path.display(),
                            f.name
                        )
                    })
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            rows.push(row);
        }
        let classes = choose_classes(&raw_labels, positive_class, &target.name)?;
        let labels = raw_labels.iter().map(|l| *l == classes.positive).collect();
        Ok(LabeledTable {
            features,
            target: target.name.clone(),
            classes,
            rows,
            labels,
        })
    }

    /// The rows and labels at `indices`, in that order.
    pub fn select(&self, indices: &[usize]) -> (Vec<Vec<RawValue>>, Vec<bool>) {
        (
            indices.iter().map(|&i| self.rows[i].clone()).collect(),
            indices.iter().map(|&i| self.labels[i]).collect(),
        )
    }
}

fn choose_classes(
    labels: &[String],
    positive: Option<&str>,
    target: &str,
) -> anyhow::Result<ClassLabels> {
    let mut counts: Vec<(String, usize)> = Vec::new();
    for l in labels {
        match counts.iter_mut().find(|(c, _)| c == l) {
            Some((_, n)) => *n += 1,
            None => counts.push((l.clone(), 1)),
        }
    }
    counts.sort();
    if counts.len() != 2 {
        let seen: Vec<&str> = counts.iter().map(|(c, _)| c.as_str()).take(10).collect();
        bail!(
            "the target {target:?} has {} distinct values ({}); binary classification needs exactly 2",
            counts.len(),
            seen.join(", ")
        );
    }
    let positive = match positive {
        Some(p) => {
            if !counts.iter().any(|(c, _)| c == p) {
                return Err(crate::exit::UsageError(format!(
                    "positive_class = {p:?} is not a value of the target {target:?}; its values are {:?} and {:?}",
                    counts[0].0, counts[1].0
                ))
                .into());
            }
            p.to_string()
        }
        // The rarer class; on a tie the later one in sort order, so the choice is stable.
        None if counts[0].1 < counts[1].1 => counts[0].0.clone(),
        None => counts[1].0.clone(),
    };
    let negative = counts
        .iter()
        .map(|(c, _)| c)
        .find(|c| **c != positive)
        .cloned()
        .unwrap_or_default();
    Ok(ClassLabels { negative, positive })
}
