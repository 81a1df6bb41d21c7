//! CBPE for classifiers of three or more classes, as NannyML 0.13.1 computes it
//! (`CBPE(problem_type='classification_multiclass')`).
//!
//! **Fit** on the reference (each row: one score per class, the true class, the predicted
//! class). Each class is a one-vs-rest binary problem: its scores get their own
//! calibration verdict and [`Isotonic`] calibrator, as in the binary case. The
//! sampling-error components are per class too (NannyML's
//! `sampling_error.multiclass_classification`): the *variance* of the per-row
//! contributions and the share of rows contributing.
//!
//! **Estimate**: each row's per-class scores are calibrated one-vs-rest, then normalised
//! to sum to 1 (a row whose calibrated scores are all 0 gets 1/K each). Per class, the
//! expected confusion matrix of "this class or not" (predicted this class: p true positive,
//! 1 − p false positive; predicted another: p false negative) gives precision, recall and
//! F1, and NannyML's estimated ROC AUC orders rows by the class's uncalibrated score. Each
//! metric is the unweighted mean over classes (macro average). Accuracy is the mean
//! calibrated probability of the predicted class.
//!
//! Sampling errors: accuracy std / √rows as in the binary case; precision, recall and F1
//! √(Σ_class variance / (rows × share)) / K; ROC AUC the same times 1.2 (NannyML's
//! correction: "std of class variances underestimated sampling error by 20%").

use super::isotonic::Isotonic;
use super::{
    Component, Estimate, auroc_component, check_reference, estimated_roc_auc, needs_calibration,
    ones_zeros, std,
};

/// NannyML's multiplier of the multiclass ROC AUC sampling error.
const AUROC_SAMPLING_ERROR_CORRECTION: f64 = 1.2;

/// Multiclass CBPE fitted on a reference.
#[derive(Clone, Debug)]
pub struct MulticlassCbpe {
    /// The classes, sorted (NannyML sorts the class names); indices below refer to them.
    pub classes: Vec<String>,
    /// Per class: `None` when its one-vs-rest scores were calibrated enough already.
    pub calibrators: Vec<Option<Isotonic>>,
    /// The std of "predicted class is right" per reference row.
    accuracy: f64,
    /// Per class, for precision, recall, F1 and ROC AUC.
    per_class: Vec<[Component; 4]>,
}

/// `√(Σ std² / (rows × share)) / K`: the macro average's sampling error from per-class
/// components (NannyML's `_standard_deviation_of_variances`).
fn macro_sampling_error(components: impl Iterator<Item = Component>, rows: usize) -> f64 {
    let (k, sum) = components.fold((0usize, 0.0), |(k, sum), c| {
        (k + 1, sum + c.std * c.std / (rows as f64 * c.share))
    });
    sum.sqrt() / k as f64
}

impl MulticlassCbpe {
    /// Fits on reference rows. `scores[k]` holds every row's score for `classes[k]`;
    /// `actual` and `predicted` are indices into `classes`. The classes are sorted here
    /// (with the score columns). Errs with the reason when the reference cannot support
    /// an estimate.
    pub fn fit(
        classes: &[String],
        scores: &[Vec<f64>],
        actual: &[usize],
        predicted: &[usize],
    ) -> Result<MulticlassCbpe, String> {
        let k = classes.len();
        if k < 3 {
            return Err(format!(
                "{k} classes: the multiclass estimate needs three or more (two classes take \
                 the binary one)"
            ));
        }
        if scores.len() != k {
            return Err(format!("{} score columns for {k} classes", scores.len()));
        }
        let n = actual.len();
        if predicted.len() != n || scores.iter().any(|s| s.len() != n) {
            return Err("scores, true and predicted classes differ in length".into());
        }
        check_reference(n, scores.iter().flatten())?;
        if let Some(&bad) = actual.iter().chain(predicted).find(|&&c| c >= k) {
            return Err(format!("class index {bad} out of {k} classes"));
        }
        // Sort the classes as NannyML does, carrying the columns and remapping indices.
        let mut order: Vec<usize> = (0..k).collect();
        order.sort_by(|&a, &b| classes[a].cmp(&classes[b]));
        let mut rank = vec![0; k];
        for (new, &old) in order.iter().enumerate() {
            rank[old] = new;
        }
        let classes: Vec<String> = order.iter().map(|&i| classes[i].clone()).collect();
        let scores: Vec<&[f64]> = order.iter().map(|&i| scores[i].as_slice()).collect();
        let actual: Vec<usize> = actual.iter().map(|&c| rank[c]).collect();
        let predicted: Vec<usize> = predicted.iter().map(|&c| rank[c]).collect();
        for (c, name) in classes.iter().enumerate() {
            if !actual.contains(&c) {
                return Err(format!("class {name:?} never occurs in the reference"));
            }
            if !predicted.contains(&c) {
                return Err(format!(
                    "class {name:?} is never predicted on the reference (its precision has \
                     no sampling error)"
                ));
            }
        }
        let rows = || actual.iter().zip(&predicted);
        let mut calibrators = Vec::with_capacity(k);
        let mut per_class = Vec::with_capacity(k);
        for (c, class_scores) in scores.iter().enumerate() {
            let is_c: Vec<bool> = actual.iter().map(|&a| a == c).collect();
            calibrators.push(
                needs_calibration(class_scores, &is_c)
                    .then(|| Isotonic::fit(class_scores, &is_c))
                    .flatten(),
            );
            let tp = rows().filter(|&(&a, &p)| a == c && p == c).count();
            let fp = rows().filter(|&(&a, &p)| a != c && p == c).count();
            let fn_ = rows().filter(|&(&a, &p)| a == c && p != c).count();
            let positives = is_c.iter().filter(|&&a| a).count();
            per_class.push([
                Component {
                    std: ones_zeros(tp, fp, 1.0),
                    share: (tp + fp) as f64 / n as f64,
                },
                Component {
                    std: ones_zeros(tp, fn_, 1.0),
                    share: positives as f64 / n as f64,
                },
                // Unlike the binary F1, NannyML's multiclass one does not rescale: tp 1,
                // fp and fn 0.
                Component {
                    std: ones_zeros(tp, fp + fn_, 1.0),
                    share: (tp + fp + fn_) as f64 / n as f64,
                },
                auroc_component(class_scores, &is_c),
            ]);
        }
        let accuracy = std(rows().map(|(a, p)| if a == p { 1.0 } else { 0.0 }));
        Ok(MulticlassCbpe {
            classes,
            calibrators,
            accuracy,
            per_class,
        })
    }

    /// A class's one-vs-rest calibration of a score (before normalising).
    pub fn calibrate_class(&self, class: usize, score: f64) -> f64 {
        match &self.calibrators[class] {
            Some(c) => c.calibrate(score),
            None => score,
        }
    }

    /// A row's calibrated probabilities: each class calibrated, then normalised to sum
    /// to 1 (uniform when they sum to 0).
    pub fn calibrate(&self, row: &[f64]) -> Vec<f64> {
        let mut p: Vec<f64> = row
            .iter()
            .enumerate()
            .map(|(c, &s)| self.calibrate_class(c, s))
            .collect();
        let sum: f64 = p.iter().sum();
        let k = p.len() as f64;
        for v in &mut p {
            *v = if sum != 0.0 { *v / sum } else { 1.0 / k };
        }
        p
    }

    /// Estimates [`super::METRICS`] (in order) on unlabelled rows: `scores[k]` every row's
    /// score for `self.classes[k]`, `predicted` each row's predicted class index. `None`
    /// without rows, or when the shapes or a class index do not fit the fit's classes.
    pub fn estimate(&self, scores: &[Vec<f64>], predicted: &[usize]) -> Option<[Estimate; 5]> {
        let n = predicted.len();
        let k = self.classes.len();
        if n == 0
            || scores.len() != k
            || scores.iter().any(|s| s.len() != n)
            || predicted.iter().any(|&p| p >= k)
        {
            return None;
        }
        let mut calibrated = vec![Vec::with_capacity(n); k];
        let mut row = vec![0.0; k];
        for i in 0..n {
            for (c, column) in scores.iter().enumerate() {
                row[c] = column[i];
            }
            for (c, p) in self.calibrate(&row).into_iter().enumerate() {
                calibrated[c].push(p);
            }
        }
        let ratio = |num: f64, den: f64| if den != 0.0 { num / den } else { 0.0 };
        let mut sums = [0.0; 4];
        for c in 0..k {
            let (mut tp, mut fp, mut fn_) = (0.0, 0.0, 0.0);
            for (&p, &predicted) in calibrated[c].iter().zip(predicted) {
                if predicted == c {
                    tp += p;
                    fp += 1.0 - p;
                } else {
                    fn_ += p;
                }
            }
            sums[0] += ratio(tp, tp + fp);
            sums[1] += ratio(tp, tp + fn_);
            sums[2] += ratio(tp, tp + 0.5 * (fp + fn_));
            sums[3] += estimated_roc_auc(&scores[c], &calibrated[c]);
        }
        let accuracy = (0..n).map(|i| calibrated[predicted[i]][i]).sum::<f64>() / n as f64;
        let macro_error = |m: usize| macro_sampling_error(self.per_class.iter().map(|c| c[m]), n);
        Some([
            Estimate::new(accuracy, self.accuracy / (n as f64).sqrt()),
            Estimate::new(sums[0] / k as f64, macro_error(0)),
            Estimate::new(sums[1] / k as f64, macro_error(1)),
            Estimate::new(sums[2] / k as f64, macro_error(2)),
            Estimate::new(
                sums[3] / k as f64,
                macro_error(3) * AUROC_SAMPLING_ERROR_CORRECTION,
            ),
        ])
    }
}

#[cfg(test)]
mod tests;
