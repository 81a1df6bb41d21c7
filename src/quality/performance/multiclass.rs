//! Realised performance of a classifier of three or more classes: macro averages, as
//! scikit-learn 1.9 computes them, under the names multiclass CBPE estimates
//! ([`crate::quality::cbpe::multiclass`]: `precision`, `recall`, `f1`, `roc_auc`, each the
//! unweighted mean over classes), so each realised figure sits beside its estimate.
//!
//! Precision, recall and F1 are `precision_score(y_true, y_pred, average="macro")` and its
//! siblings: each class of the window (those in the true *or* the predicted classes,
//! scikit-learn's default `labels=None`) is a one-vs-rest binary problem scored by the
//! binary functions of [`crate::train::metrics`], and the figure is their mean. A division
//! by zero counts 0, scikit-learn's default `zero_division="warn"` result: a class that
//! occurs but is never predicted has precision 0 (and recall 0), one predicted but never
//! true has recall 0 (and precision 0), and both pull the average down. A class of the
//! model that is neither true nor predicted in the window is not averaged in.
//!
//! ROC AUC is `roc_auc_score(y_true, y_score, multi_class="ovr", average="macro")`: each
//! class's one-vs-rest AUC from its own probability output, averaged. It needs every class
//! of the model (as its reference names them) among the window's true classes, no other
//! true class, and every row's probabilities; otherwise it is not computable (scikit-learn
//! raises). Unlike scikit-learn it does not refuse rows whose probabilities do not sum to
//! 1: each class's AUC depends only on the order of that class's scores.

use crate::train::metrics::{self, ConfusionMatrix};

/// Macro-averaged `[precision, recall, f1]` of predicted against true classes (parallel
/// slices, at least one row), over the classes in either.
pub fn macro_precision_recall_f1<S: AsRef<str> + Ord>(truth: &[S], predicted: &[S]) -> [f64; 3] {
    let mut classes: Vec<&S> = truth.iter().chain(predicted).collect();
    classes.sort();
    classes.dedup();
    let mut sums = [0.0; 3];
    for class in &classes {
        let is = |s: &S| s.as_ref() == class.as_ref();
        let labels: Vec<bool> = truth.iter().map(is).collect();
        let predicted: Vec<bool> = predicted.iter().map(is).collect();
        let m = ConfusionMatrix::of(&labels, &predicted);
        sums[0] += metrics::precision(&m);
        sums[1] += metrics::recall(&m);
        sums[2] += metrics::f1(&m);
    }
    sums.map(|s| s / classes.len() as f64)
}

/// One-vs-rest macro ROC AUC: `truth[i]` is row i's class as an index into `scores`, and
/// `scores[k]` every row's probability of class k. `NaN` when a class never occurs or is
/// the only one that does (scikit-learn raises).
pub fn roc_auc_ovr(truth: &[usize], scores: &[Vec<f64>]) -> f64 {
    let sum: f64 = scores
        .iter()
        .enumerate()
        .map(|(k, column)| {
            let labels: Vec<bool> = truth.iter().map(|&t| t == k).collect();
            metrics::roc_auc(&labels, column)
        })
        .sum();
    sum / scores.len() as f64
}
