//! Realised performance: the metrics of each model version's labelled predictions, over
//! a window of the latest `quality.window_rows` labels received within `quality.window`.
//!
//! A classifier's stored outputs hold the predicted class (its first output) and, for a
//! binary model, the positive-class probability (an output named `probability`, `score`
//! or `proba…`, or the first numeric output). Its metrics are the same functions that
//! validate a model at training time ([`crate::train::metrics`], matched with
//! scikit-learn there): accuracy from predicted and true classes; precision, recall and F1
//! for the positive class, ROC AUC and log loss from the probability. The positive class
//! is the one the model predicts for its most confident row (the served model predicts
//! positive at or above its threshold, so that row is predicted positive whenever any row
//! is).
//!
//! A regressor (see [`Task::of_profile`]) gets MAE, RMSE, MAPE and R² ([`regression`]) of
//! its first output, a number, against the numeric label.

pub mod document;
pub mod regression;

use super::store::Joined;
use crate::profile::{ColumnKind, ColumnRole, Profile};
use crate::train::metrics::{self, ConfusionMatrix};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// One model version's realised performance.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct VersionPerformance {
    pub model: String,
    pub model_version: String,
    /// Labelled predictions in the window.
    pub rows: usize,
    pub task: Task,
    /// The positive class, for a binary classifier with a probability output.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub positive_class: Option<String>,
    /// Metric name → value (`accuracy`, `precision`, `recall`, `f1`, `roc_auc`,
    /// `log_loss`; `mae`, `rmse`, `mape`, `r2` for a regressor); a metric that cannot be computed on the window is absent.
    pub metrics: BTreeMap<&'static str, f64>,
    /// Predictions the version made within `quality.window`, and how many have a label.
    pub predictions: u64,
    pub labelled: u64,
    /// `labelled / predictions` (absent without predictions).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label_coverage: Option<f64>,
    /// The version's validation metrics from the registry, to compare `metrics` with.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub reference: BTreeMap<String, f64>,
    /// Rows per true class in the window (none for a regressor).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub class_counts: BTreeMap<String, usize>,
    /// The estimate before labels (CBPE) on the version's latest predictions, labelled
    /// or not, when its reference holds labelled validation rows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub estimated: Option<super::cbpe::live::EstimatedPerformance>,
}

/// The `/api/v1/performance` report.
#[derive(Clone, Debug, Default, Serialize)]
pub struct PerformanceReport {
    /// RFC 3339 time of the evaluation (milliseconds).
    pub evaluated_at: String,
    /// What every version's figures were computed on.
    pub window: ReportWindow,
    pub models: Vec<VersionPerformance>,
}

/// The window of an evaluation: realised figures read the latest `max_rows` labels
/// received from `start` to `end`, the estimate the latest `max_rows` predictions made
/// then (`quality.window`, `quality.window_rows`).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ReportWindow {
    /// RFC 3339, milliseconds.
    pub start: String,
    pub end: String,
    pub max_rows: usize,
}

/// A JSON scalar as the class text it stands for (`"bad"`, `1`, `true`).
pub(super) fn class_of(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Where the probability is among the outputs: a name that says so, else the first
/// numeric output after the first (the class).
pub(super) fn probability_output(outputs: &[String], values: &[Value]) -> Option<usize> {
    let named = outputs.iter().position(|o| {
        let o = o.to_ascii_lowercase();
        o == "probability" || o == "score" || o.starts_with("proba")
    });
    named.or_else(|| (1..values.len()).find(|&i| values[i].is_number()))
}

/// Whether realised performance reports a metric of this name (DESIGN.md fixes them):
/// the training metrics, or a regression metric.
pub fn is_metric_name(name: &str) -> bool {
    metrics::METRIC_NAMES.contains(&name) || regression::METRIC_NAMES.contains(&name)
}

/// What a model version predicts, which decides its metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Task {
    /// A class (and maybe its probability): accuracy, precision, recall, F1, ROC AUC,
    /// log loss.
    #[default]
    Classifier,
    /// A number: MAE, RMSE, MAPE, R².
    Regressor,
}

impl Task {
    /// Read from a model version's reference profile: a regressor when its first prediction
    /// column is numeric with more than two distinct values (a class column is categorical,
    /// as `modelwatch train` writes it; a 0/1 class column stays a classifier). A profile
    /// without prediction columns says nothing: a classifier, as before regressors existed.
    pub fn of_profile(profile: &Profile) -> Task {
        match profile
            .columns
            .iter()
            .find(|c| c.role == ColumnRole::Prediction)
        {
            Some(c) if c.kind == ColumnKind::Numeric && c.distinct > 2 => Task::Regressor,
            _ => Task::Classifier,
        }
    }
}

/// The realised performance of one version's labelled predictions.
pub fn evaluate(model: &str, version: &str, task: Task, rows: &[Joined]) -> VersionPerformance {
    let mut out = VersionPerformance {
        model: model.into(),
        model_version: version.into(),
        task,
        ..Default::default()
    };
    if task == Task::Regressor {
        evaluate_regressor(&mut out, rows);
        return out;
    }
    // (true class, predicted class, probability if any), for rows whose label is for the
    // first output (the class).
    let mut usable = Vec::with_capacity(rows.len());
    for row in rows {
        let Some(first) = row.outputs.first() else {
            continue;
        };
        let (Some(truth), Some(predicted)) = (
            row.label.get(first).and_then(class_of),
            row.values.first().and_then(class_of),
        ) else {
            continue;
        };
        let probability = probability_output(&row.outputs, &row.values)
            .and_then(|i| row.values.get(i))
            .and_then(Value::as_f64);
        usable.push((truth, predicted, probability));
    }
    out.rows = usable.len();
    if usable.is_empty() {
        return out;
    }
    for (truth, _, _) in &usable {
        *out.class_counts.entry(truth.clone()).or_default() += 1;
    }
    let correct = usable.iter().filter(|(t, p, _)| t == p).count();
    out.metrics
        .insert("accuracy", correct as f64 / usable.len() as f64);
    let with_probability: Vec<(&String, &String, f64)> = usable
        .iter()
        .filter_map(|(t, p, prob)| prob.map(|prob| (t, p, prob)))
        .collect();
    let mut classes: Vec<&String> = usable.iter().flat_map(|(t, p, _)| [t, p]).collect();
    classes.sort();
    classes.dedup();
    if with_probability.len() != usable.len() || classes.len() > 2 {
        return out;
    }
    let positive = with_probability
        .iter()
        .max_by(|a, b| a.2.total_cmp(&b.2))
        .map(|(_, p, _)| (*p).clone())
        .expect("usable is not empty");
    let labels: Vec<bool> = with_probability
        .iter()
        .map(|(t, _, _)| **t == positive)
        .collect();
    let predicted: Vec<bool> = with_probability
        .iter()
        .map(|(_, p, _)| **p == positive)
        .collect();
    let scores: Vec<f64> = with_probability.iter().map(|(_, _, s)| *s).collect();
    let m = ConfusionMatrix::of(&labels, &predicted);
    out.metrics.insert("precision", metrics::precision(&m));
    out.metrics.insert("recall", metrics::recall(&m));
    out.metrics.insert("f1", metrics::f1(&m));
    let auc = metrics::roc_auc(&labels, &scores);
    if auc.is_finite() {
        out.metrics.insert("roc_auc", auc);
    }
    out.metrics
        .insert("log_loss", metrics::log_loss(&labels, &scores));
    out.positive_class = Some(positive);
    out
}

/// A regressor's metrics, on rows whose first output and its label are both numbers.
fn evaluate_regressor(out: &mut VersionPerformance, rows: &[Joined]) {
    let (truth, predicted): (Vec<f64>, Vec<f64>) = rows
        .iter()
        .filter_map(|row| {
            let first = row.outputs.first()?;
            Some((
                row.label.get(first)?.as_f64()?,
                row.values.first()?.as_f64()?,
            ))
        })
        .unzip();
    out.rows = truth.len();
    if truth.is_empty() {
        return;
    }
    out.metrics
        .insert("mae", regression::mae(&truth, &predicted));
    out.metrics
        .insert("rmse", regression::rmse(&truth, &predicted));
    out.metrics
        .insert("mape", regression::mape(&truth, &predicted));
    let r2 = regression::r2(&truth, &predicted);
    if r2.is_finite() {
        out.metrics.insert("r2", r2);
    }
}

#[cfg(test)]
mod tests;
