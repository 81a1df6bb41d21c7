//! The live drift report served at `GET /api/v1/drift` on the admin port.
//!
//! JSON layout (stable; fields may be added): `{"generated_at","evaluation_interval_seconds",
//! "models":[{"model","model_version","reference":{"spec","source","version"},
//! "window":{"kind","rows"},"rows_total","drift_share","drift_share_threshold",
//! "dataset_drift","features":[COLUMN],"predictions":[COLUMN]}]}` where COLUMN is the line
//! `modelwatch drift --json` prints per column (`name`, `type`, `method`, `statistic`,
//! `score`, `p_value`, `threshold`, `drifted`, and the data-quality rates), plus
//! `evaluation_drifted`: this evaluation's verdict after `analysis.correction`, which
//! `analysis.persistence` turns into `drifted` (`docs/drift-alarms.md`). `"multivariate"`
//! lists `{method, score, threshold, lower_threshold?, evaluation_drifted, drifted}` per
//! multivariate method (`docs/multivariate-drift.md`): empty when the reference profile
//! has no row sample, multivariate drift is off, or the window has too few rows; the
//! window's `multivariate_rows` says how many sampled rows it ran on and
//! `multivariate_evaluated_at` when they were taken from the window (the methods run on
//! their own thread, so the results can be one evaluation older than the columns').

use super::report::ColumnReport;
use serde::Serialize;

/// Every model version's latest evaluation.
#[derive(Clone, Debug, Default, Serialize)]
pub struct LiveReport {
    /// RFC 3339 time of the evaluation; empty before the first one.
    pub generated_at: String,
    pub evaluation_interval_seconds: f64,
    pub models: Vec<ModelReport>,
}

/// One model version.
#[derive(Clone, Debug, Serialize)]
pub struct ModelReport {
    pub model: String,
    pub model_version: String,
    pub reference: ReferenceSummary,
    pub window: WindowSummary,
    pub drift_share: f64,
    pub drift_share_threshold: f64,
    pub drifted_features: usize,
    pub dataset_drift: bool,
    pub features: Vec<ColumnReport>,
    pub predictions: Vec<ColumnReport>,
    pub multivariate: Vec<super::multivariate::MultivariateResult>,
    /// When the rows of the `multivariate` results were taken from the window (RFC 3339):
    /// they are computed on their own thread, so they may be an evaluation older than the
    /// columns.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub multivariate_evaluated_at: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ReferenceSummary {
    pub spec: String,
    pub source: String,
    pub version: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct WindowSummary {
    /// `rows` or `time`.
    pub kind: &'static str,
    /// Feature rows in the window now.
    pub rows: u64,
    /// Prediction rows in the window now.
    pub prediction_rows: u64,
    /// Sampled feature rows the multivariate methods ran on (0 when they did not run).
    pub multivariate_rows: u64,
}
