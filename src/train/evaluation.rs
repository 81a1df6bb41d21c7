//! Validation of a trained model: holdout metrics, stratified cross-validation,
//! permutation importance and robustness under injected missing values and noise.
//!
//! Everything is recomputed from the artifact's training record (dataset, configuration,
//! seed), so the holdout is exactly the rows training never saw. Cross-validation refits
//! the same configuration on folds of the training split only.

use super::config::ValidateConfig;
use super::metrics::{ClassificationMetrics, ConfusionMatrix, METRIC_NAMES};
use super::model::{self, ModelArtifact};
use super::preprocess::ColumnTransform;
use super::split;
use super::table::{LabeledTable, RawValue};
use crate::random::SeededRng;
use anyhow::Context;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Metrics on the holdout split.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HoldoutResult {
    pub rows: usize,
    pub metrics: ClassificationMetrics,
    pub confusion_matrix: ConfusionMatrix,
}

/// Cross-validation over the training split: per-fold metrics and their mean and
/// (population) standard deviation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CrossValidation {
    pub folds: usize,
    pub mean: BTreeMap<String, f64>,
    pub std: BTreeMap<String, f64>,
    pub per_fold: Vec<ClassificationMetrics>,
}

/// How much the holdout ROC AUC drops when one raw feature is shuffled.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FeatureImportance {
    pub feature: String,
    pub roc_auc_drop_mean: f64,
    pub roc_auc_drop_std: f64,
}

/// Holdout metrics under one perturbation of the inputs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RobustnessCheck {
    pub name: String,
    pub description: String,
    pub metrics: ClassificationMetrics,
    pub roc_auc_drop: f64,
}

/// Everything validation measures, plus the holdout rows and scores that the registry
/// keeps as the reference profile's prediction columns.
pub struct Evaluation {
    pub holdout: HoldoutResult,
    pub cross_validation: CrossValidation,
    pub permutation_importance: Vec<FeatureImportance>,
    pub robustness: Vec<RobustnessCheck>,
    /// The split and holdout scores the metrics came from.
    pub scoring: HoldoutScoring,
}

/// The artifact's own split of its dataset, with holdout scores: what registration needs
/// for metrics and the reference profile, without the cost of cross-validation.
pub struct HoldoutScoring {
    pub holdout: HoldoutResult,
    pub holdout_rows: Vec<Vec<RawValue>>,
    pub holdout_labels: Vec<bool>,
    pub holdout_scores: Vec<f64>,
    pub train_rows: Vec<Vec<RawValue>>,
    pub train_labels: Vec<bool>,
}

/// Recomputes the artifact's holdout split and scores it.
pub fn score_holdout(
    artifact: &ModelArtifact,
    table: &LabeledTable,
) -> anyhow::Result<HoldoutScoring> {
    let tc = &artifact.training.config;
    let split = split::holdout(&table.labels, tc.holdout_fraction, tc.seed);
    let (holdout_rows, holdout_labels) = table.select(&split.holdout);
    let (train_rows, train_labels) = table.select(&split.train);
    let (scores, _) = artifact
        .score(&holdout_rows)
        .map_err(|e| anyhow::anyhow!("scoring the holdout: {e}"))?;
    let metrics = ClassificationMetrics::compute(&holdout_labels, &scores, artifact.threshold);
    let predicted: Vec<bool> = scores.iter().map(|&p| p >= artifact.threshold).collect();
    Ok(HoldoutScoring {
        holdout: HoldoutResult {
            rows: holdout_rows.len(),
            metrics,
            confusion_matrix: ConfusionMatrix::of(&holdout_labels, &predicted),
        },
        holdout_rows,
        holdout_labels,
        holdout_scores: scores,
        train_rows,
        train_labels,
    })
}

/// Validates `artifact` against the dataset it was trained on.
pub fn evaluate(
    artifact: &ModelArtifact,
    table: &LabeledTable,
    config: &ValidateConfig,
) -> anyhow::Result<Evaluation> {
    let scoring = score_holdout(artifact, table)?;
    let holdout = scoring.holdout.clone();
    let metrics = holdout.metrics;
    let (train_rows, train_labels) = (&scoring.train_rows, &scoring.train_labels);
    let (holdout_rows, holdout_labels) = (&scoring.holdout_rows, &scoring.holdout_labels);

    let cross_validation = cross_validate(artifact, train_rows, train_labels, config)?;
    let permutation_importance = permutation_importance(
        artifact,
        holdout_rows,
        holdout_labels,
        config,
        metrics.roc_auc,
    );
    let robustness = robustness(
        artifact,
        holdout_rows,
        holdout_labels,
        config,
        metrics.roc_auc,
    );
    Ok(Evaluation {
        holdout,
        cross_validation,
        permutation_importance,
        robustness,
        scoring,
    })
}

fn cross_validate(
    artifact: &ModelArtifact,
    rows: &[Vec<RawValue>],
    labels: &[bool],
    config: &ValidateConfig,
) -> anyhow::Result<CrossValidation> {
    let tc = &artifact.training.config;
    let folds = split::stratified_folds(labels, config.folds, tc.seed);
    let mut per_fold = Vec::with_capacity(folds.len());
    for (k, fold) in folds.iter().enumerate() {
        let mut in_fold = vec![false; rows.len()];
        for &i in fold {
            in_fold[i] = true;
        }
        let pick = |want: bool| -> (Vec<Vec<RawValue>>, Vec<bool>) {
            (0..rows.len())
                .filter(|&i| in_fold[i] == want)
                .map(|i| (rows[i].clone(), labels[i]))
                .unzip()
        };
        let (fit_rows, fit_labels) = pick(false);
        let (val_rows, val_labels) = pick(true);
        let fitted = model::fit(&artifact.features, &fit_rows, &fit_labels, tc)
            .with_context(|| format!("cross-validation fold {}", k + 1))?;
        let x = model::encode_matrix(&fitted.preprocessor, &artifact.features, &val_rows)
            .map_err(|e| anyhow::anyhow!("cross-validation fold {}: {e}", k + 1))?;
        let p = fitted.probabilities(&x);
        per_fold.push(ClassificationMetrics::compute(
            &val_labels,
            &p,
            tc.threshold,
        ));
    }
    let mut mean = BTreeMap::new();
    let mut std = BTreeMap::new();
    for name in METRIC_NAMES {
        let values: Vec<f64> = per_fold.iter().filter_map(|m| m.get(name)).collect();
        let (m, s) = mean_std(&values);
        mean.insert(name.to_string(), m);
        std.insert(name.to_string(), s);
    }
    Ok(CrossValidation {
        folds: folds.len(),
        mean,
        std,
        per_fold,
    })
}

/// Mean and population standard deviation (numpy's default `ddof=0`).
fn mean_std(values: &[f64]) -> (f64, f64) {
    let n = values.len().max(1) as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    (mean, var.sqrt())
}

fn auc_of(artifact: &ModelArtifact, rows: &[Vec<RawValue>], labels: &[bool]) -> f64 {
    match artifact.score(rows) {
        Ok((p, _)) => super::metrics::roc_auc(labels, &p),
        Err(_) => f64::NAN,
    }
}

fn permutation_importance(
    artifact: &ModelArtifact,
    rows: &[Vec<RawValue>],
    labels: &[bool],
    config: &ValidateConfig,
    baseline_auc: f64,
) -> Vec<FeatureImportance> {
    let seed = artifact.training.config.seed;
    let mut out = Vec::with_capacity(artifact.features.len());
    for (j, feature) in artifact.features.iter().enumerate() {
        let mut drops = Vec::with_capacity(config.permutation_repeats);
        for r in 0..config.permutation_repeats {
            let mut rng = SeededRng::new(seed.wrapping_add((j * 1000 + r) as u64));
            let mut column: Vec<RawValue> = rows.iter().map(|row| row[j].clone()).collect();
            rng.shuffle(&mut column);
            let shuffled: Vec<Vec<RawValue>> = rows
                .iter()
                .zip(column)
                .map(|(row, v)| {
                    let mut row = row.clone();
                    row[j] = v;
                    row
                })
                .collect();
            drops.push(baseline_auc - auc_of(artifact, &shuffled, labels));
        }
        let (mean, std) = mean_std(&drops);
        out.push(FeatureImportance {
            feature: feature.name.clone(),
            roc_auc_drop_mean: mean,
            roc_auc_drop_std: std,
        });
    }
    out.sort_by(|a, b| b.roc_auc_drop_mean.total_cmp(&a.roc_auc_drop_mean));
    out
}

fn robustness(
    artifact: &ModelArtifact,
    rows: &[Vec<RawValue>],
    labels: &[bool],
    config: &ValidateConfig,
    baseline_auc: f64,
) -> Vec<RobustnessCheck> {
    let seed = artifact.training.config.seed;
    let mut rng = SeededRng::new(seed ^ 0x726f_6275_7374);
    let missing: Vec<Vec<RawValue>> = rows
        .iter()
        .map(|row| {
            row.iter()
                .map(|v| {
                    if rng.unit() < config.missing_rate {
                        RawValue::Missing
                    } else {
                        v.clone()
                    }
                })
                .collect()
        })
        .collect();
    let noisy: Vec<Vec<RawValue>> = rows
        .iter()
        .map(|row| {
            row.iter()
                .zip(&artifact.preprocessor.columns)
                .map(|(v, t)| match (v, t) {
                    (RawValue::Number(x), ColumnTransform::Standardised { std, .. }) => {
                        RawValue::Number(x + standard_normal(&mut rng) * config.noise_scale * std)
                    }
                    _ => v.clone(),
                })
                .collect()
        })
        .collect();
    let checks = [
        (
            "missing_values",
            format!(
                "{:.0}% of cells replaced by missing values",
                config.missing_rate * 100.0
            ),
            missing,
        ),
        (
            "numeric_noise",
            format!(
                "Gaussian noise of {} training standard deviations on numeric features",
                config.noise_scale
            ),
            noisy,
        ),
    ];
    checks
        .into_iter()
        .map(|(name, description, perturbed)| {
            let (p, _) = artifact
                .score(&perturbed)
                .unwrap_or_else(|_| (vec![f64::NAN; perturbed.len()], Default::default()));
            let metrics = ClassificationMetrics::compute(labels, &p, artifact.threshold);
            RobustnessCheck {
                name: name.into(),
                description,
                roc_auc_drop: baseline_auc - metrics.roc_auc,
                metrics,
            }
        })
        .collect()
}

/// One draw of N(0, 1) by the Box–Muller transform (two lines do not earn a crate).
fn standard_normal(rng: &mut SeededRng) -> f64 {
    let u1: f64 = 1.0 - rng.unit();
    let u2: f64 = rng.unit();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}
