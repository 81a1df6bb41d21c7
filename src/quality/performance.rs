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
//! A classifier of three or more classes (its reference profile's multiclass rows say so,
//! or more than two classes are in the window) gets accuracy and the macro averages of
//! [`multiclass`]: precision, recall, F1 and, from its per-class probability outputs,
//! one-vs-rest ROC AUC, under the names its CBPE estimate uses.
//!
//! A regressor (see [`Task::of_profile`]) gets MAE, RMSE, MAPE and R² ([`regression`]) of
//! its first output, a number, against the numeric label.

pub mod document;
pub mod multiclass;
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
    /// `log_loss`; `mae`, `rmse`, `mape`, `r2` for a regressor); a metric that cannot be
    /// computed on the window is absent. For three or more classes, `precision`, `recall`,
    /// `f1` and `roc_auc` are macro averages and there is no `log_loss`.
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
///
/// A class that is a number is identified by its value, whichever way it is written:
/// `1`, `1.0` and `"1"` (text that is exactly a JSON number) are all class `"1"`, so a
/// model answering floats (as numpy-backed servers do) joins labels sent as integers or
/// text. An integral value prints as an integer, any other number as serde_json prints
/// it. Text that is not a JSON number stays as it is (`"01"`, a zero-padded code, is not
/// `1`), and so do booleans (`true` is not `1`).
pub(super) fn class_of(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(match number_text(s) {
            Some(n) => number_class(&n),
            None => s.clone(),
        }),
        Value::Number(n) => Some(number_class(n)),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Text that is exactly a JSON number literal (no sign `+`, no leading zeros, no spaces).
fn number_text(s: &str) -> Option<serde_json::Number> {
    // serde_json skips surrounding whitespace; a class with spaces is text.
    if s.trim() != s {
        return None;
    }
    serde_json::from_str(s).ok()
}

/// A number's class text: exact for integers, integral floats as integers (below 2^53,
/// where every integer is exact), others as serde_json writes them.
fn number_class(n: &serde_json::Number) -> String {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    match n.as_f64() {
        Some(f) if !n.is_i64() && !n.is_u64() && f.fract() == 0.0 && f.abs() < EXACT => {
            (f as i64).to_string()
        }
        _ => n.to_string(),
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

/// A classifier of three or more classes as its reference profile describes it
/// (`labelled_predictions.multiclass`): its classes, named as realised performance names
/// classes (`1.0` is class `1`), and the output holding each one's probability
/// (`probabilities:0` …), in the same order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ClassOutputs {
    pub classes: Vec<String>,
    pub score_outputs: Vec<String>,
}

impl ClassOutputs {
    /// `None` for a profile without multiclass validation rows.
    pub fn of_profile(profile: &Profile) -> Option<ClassOutputs> {
        let m = profile.labelled_predictions.as_ref()?.multiclass.as_ref()?;
        // A malformed reference (CBPE refuses it too) says nothing usable.
        if m.score_outputs.len() != m.classes.len() {
            return None;
        }
        let classes = m
            .classes
            .iter()
            .map(|c| class_of(&Value::String(c.clone())).unwrap_or_else(|| c.clone()))
            .collect();
        Some(ClassOutputs {
            classes,
            score_outputs: m.score_outputs.clone(),
        })
    }

    /// Each class's probability in a stored prediction, in `classes` order; `None` when
    /// one is missing or not a finite number.
    fn scores(&self, outputs: &[String], values: &[Value]) -> Option<Vec<f64>> {
        self.score_outputs
            .iter()
            .map(|name| {
                let at = outputs.iter().position(|o| o == name)?;
                values.get(at)?.as_f64().filter(|s| s.is_finite())
            })
            .collect()
    }
}

/// The realised performance of one version's labelled predictions. `model_classes` is
/// what the version's reference says of its classes, if it has three or more.
///
/// A classifier gets macro averages ([`multiclass`]) when its reference says it has three
/// or more classes, or when the window holds more than two (true or predicted); otherwise
/// the binary metrics of its positive class, which needs its probability output. A
/// two-class model without one gets accuracy only: which class is positive (what its
/// validation `precision` was computed for) is unknown, and macro averages under the same
/// names would be compared with positive-class reference figures.
pub fn evaluate(
    model: &str,
    version: &str,
    task: Task,
    model_classes: Option<&ClassOutputs>,
    rows: &[Joined],
) -> VersionPerformance {
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
    // (true class, predicted class, probability if any, the row), for rows whose label is
    // for the first output (the class).
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
        usable.push((truth, predicted, probability, row));
    }
    out.rows = usable.len();
    if usable.is_empty() {
        return out;
    }
    for (truth, _, _, _) in &usable {
        *out.class_counts.entry(truth.clone()).or_default() += 1;
    }
    let correct = usable.iter().filter(|(t, p, _, _)| t == p).count();
    out.metrics
        .insert("accuracy", correct as f64 / usable.len() as f64);
    let mut classes: Vec<&String> = usable.iter().flat_map(|(t, p, _, _)| [t, p]).collect();
    classes.sort();
    classes.dedup();
    if model_classes.is_some() || classes.len() > 2 {
        let truth: Vec<&str> = usable.iter().map(|(t, _, _, _)| t.as_str()).collect();
        let predicted: Vec<&str> = usable.iter().map(|(_, p, _, _)| p.as_str()).collect();
        let [precision, recall, f1] = multiclass::macro_precision_recall_f1(&truth, &predicted);
        out.metrics.insert("precision", precision);
        out.metrics.insert("recall", recall);
        out.metrics.insert("f1", f1);
        let rows: Vec<&Joined> = usable.iter().map(|(_, _, _, row)| *row).collect();
        if let Some(auc) = model_classes.and_then(|m| roc_auc_ovr(m, &truth, &rows)) {
            out.metrics.insert("roc_auc", auc);
        }
        return out;
    }
    let with_probability: Vec<(&String, &String, f64)> = usable
        .iter()
        .filter_map(|(t, p, prob, _)| prob.map(|prob| (t, p, prob)))
        .collect();
    if with_probability.len() != usable.len() {
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

/// The one-vs-rest macro ROC AUC of rows with these true classes, from each class's
/// probability output; `None` when a true class is not one of the model's, a row lacks a
/// probability, or a class's AUC is not computable (it never occurs in the window).
fn roc_auc_ovr(m: &ClassOutputs, truth: &[&str], rows: &[&Joined]) -> Option<f64> {
    let truth: Vec<usize> = truth
        .iter()
        .map(|t| m.classes.iter().position(|c| c == t))
        .collect::<Option<_>>()?;
    let mut scores = vec![Vec::with_capacity(rows.len()); m.classes.len()];
    for row in rows {
        for (column, s) in scores.iter_mut().zip(m.scores(&row.outputs, &row.values)?) {
            column.push(s);
        }
    }
    Some(multiclass::roc_auc_ovr(&truth, &scores)).filter(|auc| auc.is_finite())
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
