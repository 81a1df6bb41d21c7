//! `[analysis.multivariate]`: live multivariate drift (`docs/multivariate-drift.md`). Each
//! window keeps a uniform sample of its feature rows; every evaluation runs the domain
//! classifier and the reconstruction error on it against the reference profile's own row
//! sample. The caps bound memory and the evaluator's CPU per evaluation.

use serde::{Deserialize, Serialize};

/// Live multivariate drift's settings.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct MultivariateLiveConfig {
    /// Run both methods at each evaluation (needs a reference profile with a row sample).
    pub enabled: bool,
    /// Feature rows of each window sampled for it: the current side of both methods. The
    /// default matches the chunks (of 500 rows) the reconstruction-error band of a default
    /// profile's 5,000-row sample is cut into.
    pub window_rows: usize,
    /// Rows per side the domain classifier trains on at most (its CPU grows with it).
    pub classifier_rows: usize,
}

/// The fewest window rows both methods accept: two per cross-validation fold.
pub const MIN_WINDOW_ROWS: usize = 2 * crate::drift::multivariate::domain_classifier::DEFAULT_FOLDS;

impl Default for MultivariateLiveConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            window_rows: 500,
            classifier_rows: crate::drift::multivariate::domain_classifier::DEFAULT_CLASSIFIER_ROWS,
        }
    }
}

impl MultivariateLiveConfig {
    pub(crate) fn validate(&self, problems: &mut Vec<String>) {
        if !self.enabled {
            return;
        }
        for (key, value) in [
            ("window_rows", self.window_rows),
            ("classifier_rows", self.classifier_rows),
        ] {
            if value < MIN_WINDOW_ROWS {
                problems.push(format!(
                    "analysis.multivariate.{key} = {value} is below {MIN_WINDOW_ROWS}: the \
                     domain classifier needs two rows per cross-validation fold; give at least \
                     {MIN_WINDOW_ROWS} (default 500 / 2000), or set \
                     analysis.multivariate.enabled = false"
                ));
            }
        }
    }
}
