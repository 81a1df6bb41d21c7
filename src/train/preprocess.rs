//! Preprocessing fitted on the training split only: impute, one-hot encode, standardise.
//!
//! Numeric features: missing → the training median, then (x − mean) / std with the mean and
//! population std of the imputed training values (scikit-learn's `SimpleImputer(median)` →
//! `StandardScaler`). A constant column gets std 1 so it encodes as 0, not NaN.
//! Categorical and boolean features: missing → the most frequent training category, then
//! one indicator per training category in sorted order. A category never seen in training
//! encodes as all zeros and is counted in [`EncodeStats::unknown_categories`], the way
//! `OneHotEncoder(handle_unknown="ignore")` behaves.

use super::table::{FeatureSpec, RawValue};
use crate::profile::schema::ColumnKind;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How one raw feature becomes encoded columns.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "encoding", rename_all = "snake_case")]
pub enum ColumnTransform {
    Standardised {
        median: f64,
        mean: f64,
        std: f64,
    },
    OneHot {
        categories: Vec<String>,
        fill: String,
    },
}

impl ColumnTransform {
    fn width(&self) -> usize {
        match self {
            ColumnTransform::Standardised { .. } => 1,
            ColumnTransform::OneHot { categories, .. } => categories.len(),
        }
    }
}

/// The fitted preprocessing of every feature, in feature order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Preprocessor {
    pub columns: Vec<ColumnTransform>,
}

/// What encoding had to paper over, for the caller to count.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EncodeStats {
    pub imputed: u64,
    pub unknown_categories: u64,
}

/// A value that the preprocessing cannot encode (text in a numeric feature).
#[derive(Debug, thiserror::Error)]
#[error("column {column:?}: {reason}")]
pub struct EncodeError {
    pub column: String,
    pub reason: String,
}

impl Preprocessor {
    /// Fits imputation, categories and scaling on `rows` (the training split).
    pub fn fit(features: &[FeatureSpec], rows: &[Vec<RawValue>]) -> Preprocessor {
        let columns = features
            .iter()
            .enumerate()
            .map(|(j, f)| match f.kind {
                ColumnKind::Numeric => fit_numeric(rows.iter().map(|r| &r[j])),
                ColumnKind::Categorical | ColumnKind::Boolean => {
                    fit_categorical(rows.iter().map(|r| &r[j]))
                }
            })
            .collect();
        Preprocessor { columns }
    }

    /// Number of encoded columns the model sees.
    pub fn width(&self) -> usize {
        self.columns.iter().map(ColumnTransform::width).sum()
    }

    /// Encodes one raw row into `out` (cleared first).
    pub fn encode_into(
        &self,
        features: &[FeatureSpec],
        row: &[RawValue],
        out: &mut Vec<f64>,
        stats: &mut EncodeStats,
    ) -> Result<(), EncodeError> {
        out.clear();
        for ((transform, value), feature) in self.columns.iter().zip(row).zip(features) {
            match transform {
                ColumnTransform::Standardised { median, mean, std } => {
                    let x = match value {
                        RawValue::Missing => {
                            stats.imputed += 1;
                            *median
                        }
                        RawValue::Number(x) => *x,
                        RawValue::Text(t) => {
                            return Err(EncodeError {
                                column: feature.name.clone(),
                                reason: format!("expected a number, got {t:?}"),
                            });
                        }
                    };
                    out.push((x - mean) / std);
                }
                ColumnTransform::OneHot { categories, fill } => {
                    let text;
                    let category = match value {
                        RawValue::Missing => {
                            stats.imputed += 1;
                            fill.as_str()
                        }
                        RawValue::Text(t) => t.as_str(),
                        RawValue::Number(x) => {
                            text = format_number(*x);
                            text.as_str()
                        }
                    };
                    let start = out.len();
                    out.resize(start + categories.len(), 0.0);
                    match categories.binary_search_by(|c| c.as_str().cmp(category)) {
                        Ok(k) => out[start + k] = 1.0,
                        Err(_) => stats.unknown_categories += 1,
                    }
                }
            }
        }
        Ok(())
    }
}

/// A number sent for a categorical feature is matched by its shortest text form, so `3`
/// and `3.0` both find the training category "3".
fn format_number(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}

fn fit_numeric<'a>(values: impl Iterator<Item = &'a RawValue>) -> ColumnTransform {
    let present: Vec<Option<f64>> = values
        .map(|v| match v {
            RawValue::Number(x) => Some(*x),
            _ => None,
        })
        .collect();
    let mut sorted: Vec<f64> = present.iter().flatten().copied().collect();
    sorted.sort_by(f64::total_cmp);
    let median = match sorted.len() {
        0 => 0.0,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    };
    let imputed: Vec<f64> = present.iter().map(|v| v.unwrap_or(median)).collect();
    let n = imputed.len().max(1) as f64;
    let mean = imputed.iter().sum::<f64>() / n;
    let variance = imputed.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
    let std = if variance > 0.0 { variance.sqrt() } else { 1.0 };
    ColumnTransform::Standardised { median, mean, std }
}

fn fit_categorical<'a>(values: impl Iterator<Item = &'a RawValue>) -> ColumnTransform {
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    for v in values {
        match v {
            RawValue::Text(t) => *counts.entry(t.clone()).or_default() += 1,
            RawValue::Number(x) => *counts.entry(format_number(*x)).or_default() += 1,
            RawValue::Missing => {}
        }
    }
    // Most frequent; ties go to the first in sorted order so the fit is deterministic.
    let fill = counts
        .iter()
        .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
        .map(|(c, _)| c.clone())
        .unwrap_or_default();
    ColumnTransform::OneHot {
        categories: counts.into_keys().collect(),
        fill,
    }
}
