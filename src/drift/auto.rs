//! The `auto` method choice and the dataset-level drift verdict, following Evidently
//! 0.7.23 (`evidently/legacy/calculations/stattests/registry.py::_get_default_stattest`
//! and `data_drift.py`):
//!
//! | reference rows | column                         | method                | drift when  |
//! |----------------|--------------------------------|-----------------------|-------------|
//! | ≤ 1000         | numeric, > 5 distinct values   | KS                    | p ≤ 0.05    |
//! | ≤ 1000         | otherwise, > 2 distinct values | chi²                  | p < 0.05    |
//! | ≤ 1000         | otherwise (≤ 2 distinct)       | z-test                | p < 0.05    |
//! | > 1000         | numeric, > 5 distinct values   | normed Wasserstein    | ≥ 0.1       |
//! | > 1000         | otherwise                      | Jensen–Shannon        | ≥ 0.1       |
//!
//! "Distinct values" is Evidently's `pd.concat([reference, current]).nunique()`: distinct
//! non-missing values over **both** samples, after dropping missing and non-finite values.
//! "Reference rows" counts non-missing reference values (Evidently drops NaN first).
//! Boolean columns are categorical here (Evidently has no boolean kind; its data
//! definition treats them as categorical).
//!
//! Dataset drift: `share of drifted columns >= drift_share` (default 0.5).

use super::{Comparison, Method};
use crate::profile::schema::ColumnKind;

/// Evidently's reference-size boundary between p-value tests and distances.
pub const SMALL_REFERENCE_ROWS: u64 = 1000;
/// More distinct values than this makes a numeric column continuous.
pub const NUMERIC_MIN_DISTINCT: usize = 5;
/// More distinct values than this makes a small-reference column chi² rather than z.
pub const BINARY_MAX_DISTINCT: usize = 2;
/// Evidently's default dataset drift share.
pub const DEFAULT_DRIFT_SHARE: f64 = 0.5;

/// What `auto` needs to know about a column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AutoInput {
    /// The column kind.
    pub kind: ColumnKind,
    /// Non-missing reference values.
    pub reference_rows: u64,
    /// Distinct non-missing values over reference and current together.
    pub distinct_values: usize,
}

/// A method with the threshold and comparison it is read with.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MethodRule {
    /// The chosen method.
    pub method: Method,
    /// Its threshold (Evidently's default for the method).
    pub threshold: f64,
    /// How the score is compared with the threshold.
    pub comparison: Comparison,
}

impl MethodRule {
    /// The rule for a method with Evidently's default threshold.
    pub fn for_method(method: Method) -> Self {
        MethodRule {
            method,
            threshold: method.default_threshold(),
            comparison: method.comparison(),
        }
    }
}

/// Evidently's `auto` choice (see the module table).
pub fn choose_method(input: AutoInput) -> MethodRule {
    let continuous =
        input.kind == ColumnKind::Numeric && input.distinct_values > NUMERIC_MIN_DISTINCT;
    let method = if input.reference_rows <= SMALL_REFERENCE_ROWS {
        if continuous {
            Method::Ks
        } else if input.distinct_values > BINARY_MAX_DISTINCT {
            Method::Chi2
        } else {
            Method::Z
        }
    } else if continuous {
        Method::Wasserstein
    } else {
        Method::JensenShannon
    };
    MethodRule::for_method(method)
}

/// The dataset-level verdict.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DatasetDrift {
    /// Columns that drifted.
    pub drifted_columns: usize,
    /// Columns tested.
    pub columns: usize,
    /// `drifted_columns / columns` (0 when no column was tested).
    pub share: f64,
    /// `share >= drift_share` (false when no column was tested).
    pub drifted: bool,
}

/// Evidently's dataset drift: the share of drifted columns compared with `drift_share`
/// (inclusive).
pub fn dataset_drift(
    column_verdicts: impl IntoIterator<Item = bool>,
    drift_share: f64,
) -> DatasetDrift {
    let (mut drifted, mut total) = (0usize, 0usize);
    for v in column_verdicts {
        total += 1;
        drifted += usize::from(v);
    }
    let share = if total == 0 {
        0.0
    } else {
        drifted as f64 / total as f64
    };
    DatasetDrift {
        drifted_columns: drifted,
        columns: total,
        share,
        drifted: total > 0 && share >= drift_share,
    }
}
