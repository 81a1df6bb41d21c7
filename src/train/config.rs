//! The TOML configuration of training, validation and gates.
//!
//! One file can hold every section (`examples/credit/pipeline.toml` does); each job reads
//! the sections it needs and ignores the others. Every key has a default, so an empty file
//! is a valid configuration. Unknown keys are refused so a typo never silently falls back
//! to a default.

use crate::exit::UsageError;
use crate::train::metrics::METRIC_NAMES;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// `[train]`: how the model is fitted. Part of the artifact, so it is also its lineage.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    /// Seeds the holdout split, the folds and every random perturbation.
    pub seed: u64,
    /// Share of rows (per class) kept out of training and model selection.
    pub holdout_fraction: f64,
    /// L2 penalty of the logistic regression (linfa's `alpha`).
    pub alpha: f64,
    /// L-BFGS iteration cap.
    pub max_iterations: u64,
    /// L-BFGS stops when the gradient norm falls below this.
    pub gradient_tolerance: f64,
    /// Target value that counts as positive; default: the rarer class.
    pub positive_class: Option<String>,
    /// Positive-class probability at or above which the label is positive.
    pub threshold: f64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            seed: 42,
            holdout_fraction: 0.2,
            alpha: 1.0,
            max_iterations: 200,
            gradient_tolerance: 1e-4,
            positive_class: None,
            threshold: 0.5,
        }
    }
}

/// `[validate]`: how hard validation looks at a model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ValidateConfig {
    /// Stratified cross-validation folds over the training split.
    pub folds: usize,
    /// Shuffles per feature for permutation importance.
    pub permutation_repeats: usize,
    /// Robustness: share of cells replaced by missing values.
    pub missing_rate: f64,
    /// Robustness: Gaussian noise on numeric features, in training standard deviations.
    pub noise_scale: f64,
}

impl Default for ValidateConfig {
    fn default() -> Self {
        ValidateConfig {
            folds: 5,
            permutation_repeats: 5,
            missing_rate: 0.1,
            noise_scale: 0.1,
        }
    }
}

/// `[gates]`: what a model must reach before it may be promoted.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GatesConfig {
    /// Holdout metric ≥ value (e.g. `roc_auc = 0.75`).
    pub min: BTreeMap<String, f64>,
    /// Holdout metric ≤ value (e.g. `log_loss = 0.6`).
    pub max: BTreeMap<String, f64>,
    /// Holdout metric no worse than the production version's by more than value.
    pub max_regression: BTreeMap<String, f64>,
}

/// A whole configuration file; the pipeline sections are `toml` values read by
/// `modelwatch pipeline`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConfigFile {
    pub train: TrainConfig,
    pub validate: ValidateConfig,
    pub gates: GatesConfig,
    pub dataset: Option<toml::Value>,
    pub model: Option<toml::Value>,
}

impl ConfigFile {
    /// Reads and checks a configuration file; `None` gives the defaults.
    pub fn load(path: Option<&Path>) -> anyhow::Result<ConfigFile> {
        let Some(path) = path else {
            return Ok(ConfigFile::default());
        };
        let text = std::fs::read_to_string(path).map_err(|e| {
            UsageError(format!(
                "could not read the config file {}: {e}",
                path.display()
            ))
        })?;
        let file: ConfigFile = toml::from_str(&text).map_err(|e| {
            UsageError(format!(
                "{} is not a valid configuration: {e}",
                path.display()
            ))
        })?;
        file.check()
            .map_err(|e| UsageError(format!("{}: {e}", path.display())))?;
        Ok(file)
    }

    /// Checks ranges and metric names, reporting the first problem with its key.
    pub fn check(&self) -> Result<(), String> {
        let t = &self.train;
        if !(t.holdout_fraction > 0.0 && t.holdout_fraction < 0.9) {
            return Err(format!(
                "train.holdout_fraction = {} must be in (0, 0.9)",
                t.holdout_fraction
            ));
        }
        if !(t.alpha >= 0.0 && t.alpha.is_finite()) {
            return Err(format!("train.alpha = {} must be ≥ 0", t.alpha));
        }
        if t.max_iterations == 0 {
            return Err("train.max_iterations must be ≥ 1".into());
        }
        if !(t.threshold > 0.0 && t.threshold < 1.0) {
            return Err(format!(
                "train.threshold = {} must be in (0, 1)",
                t.threshold
            ));
        }
        let v = &self.validate;
        if v.folds < 2 {
            return Err(format!("validate.folds = {} must be ≥ 2", v.folds));
        }
        if !(0.0..1.0).contains(&v.missing_rate) {
            return Err(format!(
                "validate.missing_rate = {} must be in [0, 1)",
                v.missing_rate
            ));
        }
        if !(v.noise_scale >= 0.0 && v.noise_scale.is_finite()) {
            return Err(format!(
                "validate.noise_scale = {} must be ≥ 0",
                v.noise_scale
            ));
        }
        let g = &self.gates;
        for (table, map) in [
            ("min", &g.min),
            ("max", &g.max),
            ("max_regression", &g.max_regression),
        ] {
            for (name, value) in map {
                if !METRIC_NAMES.contains(&name.as_str()) {
                    return Err(format!(
                        "gates.{table}.{name}: unknown metric; use one of {}",
                        METRIC_NAMES.join(", ")
                    ));
                }
                if !value.is_finite() {
                    return Err(format!("gates.{table}.{name} must be a finite number"));
                }
            }
        }
        Ok(())
    }
}
