//! Multivariate drift: changes in the joint distribution of the features that per-column
//! tests cannot see (two features whose correlation flips sign while each marginal stays
//! the same is the textbook case).
//!
//! Both methods work on rows, not on per-column summaries, so the callers hand in a
//! [`FeatureTable`] of aligned reference rows and one of current rows (both bounded by a
//! row cap the caller chooses: CPU per evaluation grows with it).
//!
//! - [`encoding`]: NannyML's preprocessing, fitted on the reference: missing numbers
//!   imputed with the mean, missing categories with the most frequent one, categories
//!   replaced by their reference frequency (count encoding), then every column
//!   standardised.
//! - [`reconstruction`]: data reconstruction error (NannyML's
//!   `DataReconstructionDriftCalculator`): PCA keeping 65% of the reference variance, the
//!   mean distance between each row and its reconstruction, drift when the current error
//!   leaves the band (mean ± 3 std) of the reference's own chunks.
//! - [`domain_classifier`]: a classifier trained to tell reference rows from current rows,
//!   cross-validated ROC AUC, drift when the AUC exceeds what chance allows for these
//!   sample sizes.
//!
//! What each can and cannot see is in `docs/multivariate-drift.md`.

pub mod domain_classifier;
pub mod encoding;
pub mod reconstruction;

#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};

/// A multivariate method. Closed on purpose: the names are Prometheus label values and
/// JSON fields (fixed by DESIGN.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MultivariateMethod {
    DomainClassifier,
    ReconstructionError,
}

impl MultivariateMethod {
    /// Both methods, in report order.
    pub const ALL: [MultivariateMethod; 2] = [
        MultivariateMethod::DomainClassifier,
        MultivariateMethod::ReconstructionError,
    ];

    /// The stable name: `domain_classifier|reconstruction_error`.
    pub fn as_str(self) -> &'static str {
        match self {
            MultivariateMethod::DomainClassifier => "domain_classifier",
            MultivariateMethod::ReconstructionError => "reconstruction_error",
        }
    }
}

/// One entry of a report's `multivariate` section.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MultivariateResult {
    pub method: MultivariateMethod,
    /// The cross-validated ROC AUC, or the mean reconstruction error of the current rows.
    pub score: f64,
    /// The value `score` must exceed to drift (the upper end of the band for
    /// `reconstruction_error`).
    pub threshold: f64,
    /// The lower end of the band (`reconstruction_error` only: an error that falls below
    /// what the reference's chunks show is drift too).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lower_threshold: Option<f64>,
    pub drifted: bool,
}

/// The values of one feature over aligned rows.
#[derive(Clone, Debug, PartialEq)]
pub enum FeatureValues {
    /// NaN marks a missing (or non-finite) cell.
    Numeric(Vec<f64>),
    /// `None` marks a missing cell.
    Categorical(Vec<Option<String>>),
}

impl FeatureValues {
    fn len(&self) -> usize {
        match self {
            FeatureValues::Numeric(v) => v.len(),
            FeatureValues::Categorical(v) => v.len(),
        }
    }
}

/// Aligned rows, column by column: `columns[j]` holds feature `j` of every row.
#[derive(Clone, Debug, PartialEq)]
pub struct FeatureTable {
    pub names: Vec<String>,
    pub columns: Vec<FeatureValues>,
}

impl FeatureTable {
    /// Rows in the table (every column has this many values).
    pub fn rows(&self) -> usize {
        self.columns.first().map_or(0, FeatureValues::len)
    }

    /// The table of the rows at `picked`, in that order.
    pub fn select_rows(&self, picked: &[usize]) -> FeatureTable {
        let columns = self
            .columns
            .iter()
            .map(|c| match c {
                FeatureValues::Numeric(v) => {
                    FeatureValues::Numeric(picked.iter().map(|&i| v[i]).collect())
                }
                FeatureValues::Categorical(v) => {
                    FeatureValues::Categorical(picked.iter().map(|&i| v[i].clone()).collect())
                }
            })
            .collect();
        FeatureTable {
            names: self.names.clone(),
            columns,
        }
    }
}

/// Why a multivariate method could not run.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum MultivariateError {
    #[error("multivariate drift needs at least {needed} {side} rows, got {got}")]
    TooFewRows {
        side: &'static str,
        needed: usize,
        got: usize,
    },
    #[error("multivariate drift needs at least one feature")]
    NoFeatures,
    #[error("the reference and current tables have different columns")]
    ColumnsDiffer,
    #[error("the domain classifier could not be fitted: {0}")]
    Classifier(String),
}

/// Settings of one multivariate evaluation.
#[derive(Clone, Debug, PartialEq)]
pub struct MultivariateConfig {
    /// Chunks the reference is cut into for the reconstruction-error band (NannyML's
    /// default chunker makes 10).
    pub reference_chunks: usize,
    /// Cross-validation folds of the domain classifier.
    pub folds: usize,
    /// One-sided false-alarm rate of the domain classifier's AUC test.
    pub alpha: f64,
    /// Rows per side the domain classifier trains on at most (CPU bound; a seeded
    /// uniform subset is taken above it).
    pub classifier_rows: usize,
    /// Seed of the folds and of the subset.
    pub seed: u64,
}

impl Default for MultivariateConfig {
    fn default() -> Self {
        MultivariateConfig {
            reference_chunks: reconstruction::DEFAULT_REFERENCE_CHUNKS,
            folds: domain_classifier::DEFAULT_FOLDS,
            alpha: domain_classifier::DEFAULT_ALPHA,
            classifier_rows: domain_classifier::DEFAULT_CLASSIFIER_ROWS,
            seed: 16,
        }
    }
}

/// Runs both methods on `reference` and `current` rows (same columns, same order).
pub fn multivariate_drift(
    reference: &FeatureTable,
    current: &FeatureTable,
    config: &MultivariateConfig,
) -> Result<Vec<MultivariateResult>, MultivariateError> {
    if reference.columns.is_empty() {
        return Err(MultivariateError::NoFeatures);
    }
    if reference.names != current.names {
        return Err(MultivariateError::ColumnsDiffer);
    }
    let encoder = encoding::Encoder::fit(reference)?;
    let reference_x = encoder.encode(reference);
    let current_x = encoder.encode(current);
    let model = reconstruction::ReconstructionModel::fit(&reference_x, config.reference_chunks)?;
    let classifier = domain_classifier::domain_classifier(&reference_x, &current_x, config)?;
    Ok(vec![classifier, model.evaluate(&current_x)?])
}
