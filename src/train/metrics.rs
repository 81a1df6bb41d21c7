//! Binary classification metrics, defined as scikit-learn 1.7 defines them.
//!
//! Each function states the scikit-learn call it reproduces; `tests/it/ml_metrics.rs`
//! compares them with values written by `tests/fixtures/metrics/generate.py` (within 1e-9).
//! Labels are `true` for the positive class. Empty inputs give `NaN` where scikit-learn
//! would raise, so a report shows "not computable" instead of a made-up number.

use serde::{Deserialize, Serialize};

/// Counts of a binary confusion matrix (positive = the class of interest).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfusionMatrix {
    pub true_negative: u64,
    pub false_positive: u64,
    pub false_negative: u64,
    pub true_positive: u64,
}

impl ConfusionMatrix {
    /// `sklearn.metrics.confusion_matrix(y_true, y_pred)` for labels {0, 1}, unrolled.
    pub fn of(labels: &[bool], predicted: &[bool]) -> ConfusionMatrix {
        let mut m = ConfusionMatrix::default();
        for (&y, &p) in labels.iter().zip(predicted) {
            match (y, p) {
                (false, false) => m.true_negative += 1,
                (false, true) => m.false_positive += 1,
                (true, false) => m.false_negative += 1,
                (true, true) => m.true_positive += 1,
            }
        }
        m
    }

    fn total(&self) -> u64 {
        self.true_negative + self.false_positive + self.false_negative + self.true_positive
    }
}

/// `accuracy_score(y_true, y_pred)`.
pub fn accuracy(m: &ConfusionMatrix) -> f64 {
    (m.true_positive + m.true_negative) as f64 / m.total() as f64
}

/// `precision_score(y_true, y_pred)`; 0 when nothing is predicted positive
/// (scikit-learn's `zero_division="warn"` result).
pub fn precision(m: &ConfusionMatrix) -> f64 {
    ratio(m.true_positive, m.true_positive + m.false_positive)
}

/// `recall_score(y_true, y_pred)`; 0 when there is no positive label.
pub fn recall(m: &ConfusionMatrix) -> f64 {
    ratio(m.true_positive, m.true_positive + m.false_negative)
}

/// `f1_score(y_true, y_pred)`, computed from counts as scikit-learn does since 1.3:
/// 2·tp / (2·tp + fp + fn), 0 when the denominator is 0.
pub fn f1(m: &ConfusionMatrix) -> f64 {
    ratio(
        2 * m.true_positive,
        2 * m.true_positive + m.false_positive + m.false_negative,
    )
}

fn ratio(numerator: u64, denominator: u64) -> f64 {
    if denominator == 0 {
        0.0
    } else {
        numerator as f64 / denominator as f64
    }
}

/// `roc_auc_score(y_true, y_score)`: the area under the ROC curve.
///
/// Computed as the Mann–Whitney statistic with average ranks for tied scores, which equals
/// scikit-learn's trapezoidal area over distinct thresholds exactly (a tie contributes half
/// a pair either way). `NaN` when only one class is present (scikit-learn raises).
pub fn roc_auc(labels: &[bool], scores: &[f64]) -> f64 {
    let n_pos = labels.iter().filter(|&&y| y).count();
    let n_neg = labels.len() - n_pos;
    if n_pos == 0 || n_neg == 0 {
        return f64::NAN;
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    // Walk groups of equal scores; each member gets the group's average 1-based rank.
    let mut positive_rank_sum = 0.0;
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && scores[order[end]] == scores[order[start]] {
            end += 1;
        }
        let average_rank = (start + 1 + end) as f64 / 2.0;
        let positives = order[start..end].iter().filter(|&&i| labels[i]).count();
        positive_rank_sum += average_rank * positives as f64;
        start = end;
    }
    let n_pos = n_pos as f64;
    (positive_rank_sum - n_pos * (n_pos + 1.0) / 2.0) / (n_pos * n_neg as f64)
}

/// `log_loss(y_true, y_prob)` with the positive-class probability: probabilities are
/// clipped to [ε, 1 − ε] with ε the f64 machine epsilon, as scikit-learn 1.7 does.
pub fn log_loss(labels: &[bool], probabilities: &[f64]) -> f64 {
    let eps = f64::EPSILON;
    let total: f64 = labels
        .iter()
        .zip(probabilities)
        .map(|(&y, &p)| {
            let p_true = if y { p } else { 1.0 - p };
            -p_true.clamp(eps, 1.0 - eps).ln()
        })
        .sum();
    total / labels.len() as f64
}

/// The metrics a validation report and a gate speak about.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassificationMetrics {
    pub accuracy: f64,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub roc_auc: f64,
    pub log_loss: f64,
}

/// Metric names accepted by gates, in report order; `log_loss` is the one where lower is
/// better.
pub const METRIC_NAMES: [&str; 6] = [
    "accuracy",
    "precision",
    "recall",
    "f1",
    "roc_auc",
    "log_loss",
];

impl ClassificationMetrics {
    /// All metrics of positive-class probabilities against labels, predicting positive at
    /// `threshold` or above.
    pub fn compute(labels: &[bool], probabilities: &[f64], threshold: f64) -> Self {
        let predicted: Vec<bool> = probabilities.iter().map(|&p| p >= threshold).collect();
        let m = ConfusionMatrix::of(labels, &predicted);
        ClassificationMetrics {
            accuracy: accuracy(&m),
            precision: precision(&m),
            recall: recall(&m),
            f1: f1(&m),
            roc_auc: roc_auc(labels, probabilities),
            log_loss: log_loss(labels, probabilities),
        }
    }

    /// The metric with this name (one of [`METRIC_NAMES`]).
    pub fn get(&self, name: &str) -> Option<f64> {
        Some(match name {
            "accuracy" => self.accuracy,
            "precision" => self.precision,
            "recall" => self.recall,
            "f1" => self.f1,
            "roc_auc" => self.roc_auc,
            "log_loss" => self.log_loss,
            _ => return None,
        })
    }

    /// True when a larger value of the named metric is better.
    pub fn higher_is_better(name: &str) -> bool {
        name != "log_loss"
    }
}
