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
//!   the mean ROC AUC of forward-chained folds, drift when it exceeds what chance allows
//!   for these sample sizes.
//!
//! What each can and cannot see is in `docs/multivariate-drift.md`.

pub mod domain_classifier;
pub mod encoding;
pub mod reconstruction;

#[cfg(test)]
mod tests;

use crate::profile::format::RowCell;
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
    /// The mean ROC AUC of the forward-chained folds, or the mean reconstruction error of
    /// the current rows.
    pub score: f64,
    /// The value `score` must exceed to drift (the upper end of the band for
    /// `reconstruction_error`).
    pub threshold: f64,
    /// The lower end of the band (`reconstruction_error` only: an error that falls below
    /// what the reference's chunks show is drift too).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lower_threshold: Option<f64>,
    /// Live only: this evaluation's own verdict, which `analysis.persistence` turns into
    /// `drifted` (as for the columns).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluation_drifted: Option<bool>,
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
    FittedReference::fit(reference, config)?.evaluate(current, config)
}

/// What both methods learn from the reference alone (the encoding, the encoded rows, PCA
/// and its band), fitted once and kept: the live evaluator compares every window with it.
#[derive(Clone, Debug)]
pub struct FittedReference {
    names: Vec<String>,
    encoder: encoding::Encoder,
    encoded: ndarray::Array2<f64>,
    reconstruction: reconstruction::ReconstructionModel,
}

impl FittedReference {
    /// Fits the preprocessing and the reconstruction model on `reference`.
    pub fn fit(
        reference: &FeatureTable,
        config: &MultivariateConfig,
    ) -> Result<FittedReference, MultivariateError> {
        if reference.columns.is_empty() {
            return Err(MultivariateError::NoFeatures);
        }
        let encoder = encoding::Encoder::fit(reference)?;
        let encoded = encoder.encode(reference);
        let reconstruction =
            reconstruction::ReconstructionModel::fit_held_out(&encoded, config.reference_chunks)?;
        Ok(FittedReference {
            names: reference.names.clone(),
            encoder,
            encoded,
            reconstruction,
        })
    }

    /// The features, in table order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Reference rows.
    pub fn rows(&self) -> usize {
        self.encoded.nrows()
    }

    /// Both methods on `current` (the reference's columns, in its order): the domain
    /// classifier first, then the reconstruction error.
    pub fn evaluate(
        &self,
        current: &FeatureTable,
        config: &MultivariateConfig,
    ) -> Result<Vec<MultivariateResult>, MultivariateError> {
        if self.names != current.names {
            return Err(MultivariateError::ColumnsDiffer);
        }
        let current_x = self.encoder.encode(current);
        let classifier = domain_classifier::domain_classifier(&self.encoded, &current_x, config)?;
        Ok(vec![classifier, self.reconstruction.evaluate(&current_x)?])
    }
}

/// The rows of a profile's row sample as a table of the features `names` (in that order),
/// typed as the profile types them. `None` when the sample lacks one of them.
pub fn table_of_sample(
    profile: &crate::profile::Profile,
    names: &[String],
) -> Option<FeatureTable> {
    let sample = profile.row_sample.as_ref()?;
    let positions = names
        .iter()
        .map(|name| sample.columns.iter().position(|c| c == name))
        .collect::<Option<Vec<usize>>>()?;
    let rows: Vec<Vec<Option<RowCell>>> = sample
        .rows
        .iter()
        .map(|r| {
            positions
                .iter()
                .map(|&j| r.get(j).cloned().flatten())
                .collect()
        })
        .collect();
    Some(FeatureTable::from_rows(profile, names, &rows))
}

impl FeatureTable {
    /// A table of the features `names` from rows whose cells are in that order, each
    /// column typed as `profile` types it (a number where a category is due becomes its
    /// text, text where a number is due becomes missing).
    pub fn from_rows(
        profile: &crate::profile::Profile,
        names: &[String],
        rows: &[Vec<Option<RowCell>>],
    ) -> FeatureTable {
        let columns = names
            .iter()
            .enumerate()
            .map(|(j, name)| {
                let numeric = profile
                    .column(name)
                    .is_some_and(|c| c.kind == crate::profile::ColumnKind::Numeric);
                let cells = rows.iter().map(|r| r.get(j).and_then(Option::as_ref));
                if numeric {
                    FeatureValues::Numeric(
                        cells
                            .map(|c| match c {
                                Some(RowCell::Number(x)) => *x,
                                _ => f64::NAN,
                            })
                            .collect(),
                    )
                } else {
                    FeatureValues::Categorical(
                        cells
                            .map(|c| match c {
                                Some(RowCell::Text(t)) => Some(t.clone()),
                                Some(RowCell::Number(x)) => Some(x.to_string()),
                                None => None,
                            })
                            .collect(),
                    )
                }
            })
            .collect();
        FeatureTable {
            names: names.to_vec(),
            columns,
        }
    }
}
