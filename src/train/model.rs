//! The model artifact: preprocessing plus a logistic regression, serving raw feature rows.
//!
//! The artifact is JSON written by serde with a fixed field order, so identical training
//! inputs give identical bytes and hence an identical sha256. It records the training
//! inputs (dataset version, configuration, seed): validation recomputes the very same
//! holdout split from them.

use super::config::TrainConfig;
use super::preprocess::{EncodeStats, Preprocessor};
use super::split;
use super::table::{ClassLabels, FeatureSpec, LabeledTable, RawValue};
use crate::registry::Home;
use crate::registry::models::ModelVersion;
use anyhow::{Context, bail};
use linfa::prelude::*;
use linfa_logistic::LogisticRegression;
use ndarray::{Array1, Array2};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Artifact format understood by this binary.
pub const FORMAT: u32 = 1;

/// Where a model came from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainingRecord {
    /// `NAME@VERSION` of the dataset.
    pub dataset: String,
    /// sha256 of the dataset bytes.
    pub dataset_sha256: String,
    pub config: TrainConfig,
    pub train_rows: usize,
    pub holdout_rows: usize,
}

/// A trained model that scores raw feature rows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelArtifact {
    pub format: u32,
    pub algorithm: String,
    pub features: Vec<FeatureSpec>,
    pub target: String,
    pub classes: ClassLabels,
    pub preprocessor: Preprocessor,
    /// One weight per encoded column.
    pub coefficients: Vec<f64>,
    pub intercept: f64,
    pub threshold: f64,
    pub training: TrainingRecord,
}

/// A row the model cannot score, with the 0-based row and the column at fault.
#[derive(Debug, thiserror::Error)]
#[error("row {row}, column {column:?}: {reason}")]
pub struct RowError {
    pub row: usize,
    pub column: String,
    pub reason: String,
}

/// The fitted parts of a model, before they are wrapped with their lineage.
pub struct FittedModel {
    pub preprocessor: Preprocessor,
    pub coefficients: Vec<f64>,
    pub intercept: f64,
}

/// Fits preprocessing and logistic regression on these rows only.
pub fn fit(
    features: &[FeatureSpec],
    rows: &[Vec<RawValue>],
    labels: &[bool],
    config: &TrainConfig,
) -> anyhow::Result<FittedModel> {
    if !labels.iter().any(|&y| y) || labels.iter().all(|&y| y) {
        bail!("the training rows hold only one class: a classifier needs both");
    }
    let preprocessor = Preprocessor::fit(features, rows);
    let x = encode_matrix(&preprocessor, features, rows).context("encoding the training rows")?;
    let y: Array1<usize> = labels.iter().map(|&l| usize::from(l)).collect();
    // linfa's "positive" class is the MORE FREQUENT one, whatever its value: read which one
    // it chose and flip the weights when it is our negative class, so the artifact always
    // scores P(our positive class).
    let fitted = LogisticRegression::default()
        .alpha(config.alpha)
        .max_iterations(config.max_iterations)
        .gradient_tolerance(config.gradient_tolerance)
        .fit(&Dataset::new(x, y))
        .context("logistic regression did not fit")?;
    let sign = if fitted.labels().pos.class == 1 {
        1.0
    } else {
        -1.0
    };
    Ok(FittedModel {
        preprocessor,
        coefficients: fitted.params().iter().map(|w| sign * w).collect(),
        intercept: sign * fitted.intercept(),
    })
}

/// Encodes rows into the design matrix the regression sees.
pub fn encode_matrix(
    preprocessor: &Preprocessor,
    features: &[FeatureSpec],
    rows: &[Vec<RawValue>],
) -> Result<Array2<f64>, RowError> {
    let width = preprocessor.width();
    let mut x = Array2::zeros((rows.len(), width));
    let mut buf = Vec::with_capacity(width);
    let mut stats = EncodeStats::default();
    for (i, row) in rows.iter().enumerate() {
        preprocessor
            .encode_into(features, row, &mut buf, &mut stats)
            .map_err(|e| RowError {
                row: i,
                column: e.column,
                reason: e.reason,
            })?;
        x.row_mut(i).assign(&ndarray::ArrayView1::from(&buf[..]));
    }
    Ok(x)
}

/// Trains on the training split of `table` (the holdout is never seen).
pub fn train(
    table: &LabeledTable,
    config: &TrainConfig,
    dataset: &str,
    dataset_sha256: &str,
) -> anyhow::Result<ModelArtifact> {
    let split = split::holdout(&table.labels, config.holdout_fraction, config.seed);
    let (rows, labels) = table.select(&split.train);
    let fitted = fit(&table.features, &rows, &labels, config)?;
    Ok(ModelArtifact {
        format: FORMAT,
        algorithm: "logistic_regression".into(),
        features: table.features.clone(),
        target: table.target.clone(),
        classes: table.classes.clone(),
        preprocessor: fitted.preprocessor,
        coefficients: fitted.coefficients,
        intercept: fitted.intercept,
        threshold: config.threshold,
        training: TrainingRecord {
            dataset: dataset.to_string(),
            dataset_sha256: dataset_sha256.to_string(),
            config: config.clone(),
            train_rows: split.train.len(),
            holdout_rows: split.holdout.len(),
        },
    })
}

impl FittedModel {
    /// Positive-class probabilities of already-encoded rows.
    pub fn probabilities(&self, x: &Array2<f64>) -> Vec<f64> {
        let w = ndarray::ArrayView1::from(&self.coefficients[..]);
        x.rows()
            .into_iter()
            .map(|r| sigmoid(r.dot(&w) + self.intercept))
            .collect()
    }
}

/// The logistic function, written so neither tail overflows.
fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

impl ModelArtifact {
    /// The canonical bytes: pretty JSON with a trailing newline.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec_pretty(self).expect("an artifact always serialises");
        bytes.push(b'\n');
        bytes
    }

    /// A registered version's artifact from a home, verified by its hash and decoded.
    pub fn load(home: &Home, version: &ModelVersion) -> anyhow::Result<ModelArtifact> {
        Self::of_version(version, &home.model_artifact_bytes(version)?)
    }

    /// Decodes the verified bytes of `version`'s artifact.
    pub fn of_version(version: &ModelVersion, bytes: &[u8]) -> anyhow::Result<ModelArtifact> {
        Self::from_bytes(bytes).with_context(|| format!("the artifact of {}", version.spec()))
    }

    /// Parses artifact bytes, refusing a format this binary does not know.
    pub fn from_bytes(bytes: &[u8]) -> anyhow::Result<ModelArtifact> {
        let artifact: ModelArtifact =
            serde_json::from_slice(bytes).context("the model artifact is not valid JSON")?;
        if artifact.format != FORMAT {
            bail!(
                "model artifact format {} is not supported by this modelwatch (expects {FORMAT})",
                artifact.format
            );
        }
        if artifact.coefficients.len() != artifact.preprocessor.width()
            || artifact.preprocessor.columns.len() != artifact.features.len()
        {
            bail!("the model artifact is inconsistent: weights do not match its features");
        }
        Ok(artifact)
    }

    /// sha256 of [`Self::to_bytes`], as hex.
    pub fn sha256(&self) -> String {
        hex::encode(Sha256::digest(self.to_bytes()))
    }

    /// Positive-class probabilities of raw rows (feature order), with encoding counts.
    pub fn score(&self, rows: &[Vec<RawValue>]) -> Result<(Vec<f64>, EncodeStats), RowError> {
        let mut buf = Vec::with_capacity(self.coefficients.len());
        let mut stats = EncodeStats::default();
        let mut out = Vec::with_capacity(rows.len());
        for (i, row) in rows.iter().enumerate() {
            self.preprocessor
                .encode_into(&self.features, row, &mut buf, &mut stats)
                .map_err(|e| RowError {
                    row: i,
                    column: e.column,
                    reason: e.reason,
                })?;
            let z: f64 = buf
                .iter()
                .zip(&self.coefficients)
                .map(|(x, w)| x * w)
                .sum::<f64>()
                + self.intercept;
            out.push(sigmoid(z));
        }
        Ok((out, stats))
    }

    /// The predicted label for a positive-class probability.
    pub fn label_for(&self, probability: f64) -> &str {
        if probability >= self.threshold {
            &self.classes.positive
        } else {
            &self.classes.negative
        }
    }

    /// The fitted parts, for re-scoring encoded matrices.
    pub fn fitted(&self) -> FittedModel {
        FittedModel {
            preprocessor: self.preprocessor.clone(),
            coefficients: self.coefficients.clone(),
            intercept: self.intercept,
        }
    }
}
