//! Reference training and validation: a preprocessing + logistic regression model fitted
//! on a versioned dataset, validated on a holdout it never saw, with cross-validation,
//! permutation importance, robustness checks and promotion gates.
//!
//! - [`table`]: raw feature rows and binary labels read from a dataset CSV.
//! - [`preprocess`]: imputation, one-hot encoding and standardisation, fitted on training rows.
//! - [`split`]: seeded stratified holdout split and cross-validation folds.
//! - [`model`]: fitting (linfa logistic regression) and the deterministic JSON artifact.
//! - [`metrics`]: accuracy, precision, recall, F1, ROC AUC, log loss as scikit-learn defines them.
//! - [`evaluation`]: holdout, cross-validation, permutation importance, robustness.
//! - [`gates`], [`report`]: promotion gates and the JSON / Markdown report.
//! - [`jobs`]: the `train` and `validate` jobs and the steps the pipeline reuses.
//! - [`config`]: the TOML sections `[train]`, `[validate]`, `[gates]`.

pub mod config;
pub mod evaluation;
pub mod gates;
pub mod jobs;
pub mod metrics;
pub mod model;
pub mod preprocess;
pub mod reference;
pub mod register;
pub mod report;
pub mod split;
pub mod table;

#[cfg(test)]
mod tests;
