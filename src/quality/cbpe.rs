//! Estimated performance before labels: confidence-based performance estimation (CBPE)
//! for binary classifiers, as NannyML 0.13.1 computes it; [`multiclass`] for three or
//! more classes, on the same pieces.
//!
//! **Fit** on the reference: a model version's validation rows (score, true class,
//! predicted class), which training keeps in the version's profile
//! ([`crate::profile::format::LabelledPredictions`]).
//! - Calibration: when the scores are not already calibrated ([`needs_calibration`]),
//!   an [`isotonic::Isotonic`] regression of the true class on the score maps each score
//!   to a probability. A calibrated probability p says: of rows like this one, a share p
//!   is positive.
//! - Sampling-error components per metric, from the reference's observation-level
//!   variability (NannyML's `sampling_error.binary_classification`): the standard
//!   deviation of the per-row contributions and the share of rows that contribute.
//!
//! **Estimate** on unlabelled rows (score, predicted class): each row is a fractional
//! count in the expected confusion matrix (predicted positive: p true positive, 1 − p
//! false positive; predicted negative: p false negative, 1 − p true negative), which gives
//! accuracy, precision, recall and F1; ROC AUC is the area under the curve traced by the
//! rows in decreasing score order with the calibrated probabilities as expected labels.
//! Each estimate has a sampling error, std / √(rows × share) (accuracy: std / √rows), and
//! a band of ± 3 sampling errors clipped to [0, 1].
//!
//! What it cannot see: CBPE assumes P(y | score) is what it was on the reference. A
//! covariate shift (inputs move to where the model is less sure) shows; a concept shift
//! (the same inputs now mean another outcome) does not, until labels arrive.

pub mod isotonic;
pub mod live;
pub mod multiclass;

use crate::random::SeededRng;
use crate::train::metrics::roc_auc;
use isotonic::Isotonic;
use serde::Serialize;

/// NannyML's `SAMPLING_ERROR_RANGE`: the band is the estimate ± this many sampling errors.
pub const SAMPLING_ERROR_RANGE: f64 = 3.0;

/// The metrics CBPE estimates, in the order reported.
pub const METRICS: [&str; 5] = ["accuracy", "precision", "recall", "f1", "roc_auc"];

/// Reference rows fewer than this are refused: too few for the calibration check's ten
/// splits to hold both classes, or for a sampling error to mean anything.
pub const MIN_REFERENCE_ROWS: usize = 100;

/// One estimated metric of a window.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Estimate {
    pub value: f64,
    pub sampling_error: f64,
    /// `value` ± [`SAMPLING_ERROR_RANGE`] sampling errors, within [0, 1].
    pub lower: f64,
    pub upper: f64,
}

impl Estimate {
    /// An estimate with its band: ± [`SAMPLING_ERROR_RANGE`] sampling errors, within [0, 1].
    fn new(value: f64, sampling_error: f64) -> Estimate {
        Estimate {
            value,
            sampling_error,
            lower: (value - SAMPLING_ERROR_RANGE * sampling_error).max(0.0),
            upper: (value + SAMPLING_ERROR_RANGE * sampling_error).min(1.0),
        }
    }
}

/// The standard deviation of per-row contributions and the share of rows contributing.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Component {
    std: f64,
    share: f64,
}

impl Component {
    fn sampling_error(&self, rows: usize) -> f64 {
        self.std / (rows as f64 * self.share).sqrt()
    }
}

/// CBPE fitted on a reference.
#[derive(Clone, Debug)]
pub struct Cbpe {
    /// `None` when the reference's scores were calibrated enough already.
    pub calibrator: Option<Isotonic>,
    /// Per metric of [`METRICS`], in order.
    components: [Component; 5],
}

/// Population standard deviation (numpy's `std`, ddof 0).
fn std(values: impl Iterator<Item = f64> + Clone) -> f64 {
    let (n, sum) = values
        .clone()
        .fold((0usize, 0.0), |(n, s), v| (n + 1, s + v));
    let mean = sum / n as f64;
    (values.map(|v| (v - mean) * (v - mean)).sum::<f64>() / n as f64).sqrt()
}

/// Refuses a reference of too few rows, or with a score that is not a probability.
fn check_reference<'a>(
    rows: usize,
    scores: impl IntoIterator<Item = &'a f64>,
) -> Result<(), String> {
    if rows < MIN_REFERENCE_ROWS {
        return Err(format!(
            "{rows} reference rows; CBPE needs at least {MIN_REFERENCE_ROWS}"
        ));
    }
    if let Some(s) = scores
        .into_iter()
        .find(|s| !s.is_finite() || !(0.0..=1.0).contains(*s))
    {
        return Err(format!("a reference score is {s}, not a probability"));
    }
    Ok(())
}

/// The std of `ones` rows contributing `factor` and `zeros` rows contributing 0.
fn ones_zeros(ones: usize, zeros: usize, factor: f64) -> f64 {
    std((0..ones + zeros).map(move |i| if i < ones { factor } else { 0.0 }))
}

fn bit(b: bool) -> f64 {
    f64::from(u8::from(b))
}

impl Cbpe {
    /// Fits on reference rows: scores, true classes and predicted classes (true =
    /// positive). Errs with the reason when the reference cannot support an estimate.
    pub fn fit(scores: &[f64], actual: &[bool], predicted: &[bool]) -> Result<Cbpe, String> {
        let n = scores.len();
        if actual.len() != n || predicted.len() != n {
            return Err("scores, true and predicted classes differ in length".into());
        }
        check_reference(n, scores)?;
        let positives = actual.iter().filter(|&&a| a).count();
        if positives == 0 || positives == n {
            return Err("the reference holds one class only".into());
        }
        let calibrator = needs_calibration(scores, actual)
            .then(|| Isotonic::fit(scores, actual))
            .flatten();
        let rows = || actual.iter().zip(predicted);
        let tp = rows().filter(|&(&a, &p)| a && p).count();
        let fp = rows().filter(|&(&a, &p)| !a && p).count();
        let fn_ = rows().filter(|&(&a, &p)| a && !p).count();
        let accuracy = Component {
            std: std(rows().map(|(&a, &p)| bit(a == p))),
            share: 1.0,
        };
        // Precision: true positives count 1, false positives 0, over predicted positives.
        let precision = Component {
            std: ones_zeros(tp, fp, 1.0),
            share: (tp + fp) as f64 / n as f64,
        };
        // Recall: over true positives (NannyML's share counts them all).
        let recall = Component {
            std: ones_zeros(tp, fn_, 1.0),
            share: positives as f64 / n as f64,
        };
        // F1: over tp, fp and fn, each row's contribution scaled so their mean is F1's
        // inverse denominator.
        let relevant = tp + fp + fn_;
        let f1 = Component {
            std: ones_zeros(
                tp,
                fp + fn_,
                relevant as f64 / ((fp + fn_) as f64 * 0.5 + tp as f64),
            ),
            share: relevant as f64 / n as f64,
        };
        Ok(Cbpe {
            calibrator,
            components: [
                accuracy,
                precision,
                recall,
                f1,
                auroc_component(scores, actual),
            ],
        })
    }

    /// The calibrated probability of a score.
    pub fn calibrate(&self, score: f64) -> f64 {
        match &self.calibrator {
            Some(c) => c.calibrate(score),
            None => score,
        }
    }

    /// Estimates [`METRICS`] (in order) on unlabelled rows: (score, predicted positive).
    /// `None` without rows.
    pub fn estimate(&self, rows: &[(f64, bool)]) -> Option<[Estimate; 5]> {
        if rows.is_empty() {
            return None;
        }
        let n = rows.len();
        let calibrated: Vec<f64> = rows.iter().map(|&(s, _)| self.calibrate(s)).collect();
        let (mut tp, mut fp, mut fn_, mut tn) = (0.0, 0.0, 0.0, 0.0);
        for (&p, &(_, predicted)) in calibrated.iter().zip(rows) {
            if predicted {
                tp += p;
                fp += 1.0 - p;
            } else {
                fn_ += p;
                tn += 1.0 - p;
            }
        }
        let ratio = |num: f64, den: f64| if den != 0.0 { num / den } else { 0.0 };
        let values = [
            (tp + tn) / n as f64,
            ratio(tp, tp + fp),
            ratio(tp, tp + fn_),
            ratio(tp, tp + 0.5 * (fp + fn_)),
            estimated_roc_auc(&rows.iter().map(|r| r.0).collect::<Vec<_>>(), &calibrated),
        ];
        Some(std::array::from_fn(|i| {
            let c = &self.components[i];
            let sampling_error = if i == 0 {
                c.std / (n as f64).sqrt()
            } else {
                c.sampling_error(n)
            };
            Estimate::new(values[i], sampling_error)
        }))
    }
}

/// ROC AUC's sampling-error component (NannyML, after the Mann–Whitney form of AUC):
/// with the minority class as positive, each positive's count of negatives ranked below
/// it, over all negatives; their std, and the positives' share.
fn auroc_component(scores: &[f64], actual: &[bool]) -> Component {
    let n = scores.len();
    let flip = actual.iter().filter(|&&a| a).count() * 2 > n;
    let positive = |i: usize| actual[i] != flip;
    let score = |i: usize| if flip { 1.0 - scores[i] } else { scores[i] };
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| score(a).total_cmp(&score(b)));
    // NannyML takes the distinct values of rank × label and drops the smallest (the 0 of
    // the negatives, and with it a positive ranked first): reproduced as is.
    let ranks: Vec<usize> = order
        .iter()
        .enumerate()
        .filter(|&(rank, &i)| positive(i) && rank > 0)
        .map(|(rank, _)| rank)
        .collect();
    let n_pos = (0..n).filter(|&i| positive(i)).count();
    let n_neg = (n - n_pos) as f64;
    let below: Vec<f64> = ranks
        .iter()
        .enumerate()
        .map(|(k, &rank)| (rank - k) as f64 / n_neg)
        .collect();
    Component {
        std: std(below.iter().copied()),
        share: n_pos as f64 / n as f64,
    }
}

/// NannyML's estimated ROC AUC: rows in decreasing (uncalibrated) score order, expected
/// true and false positives accumulated from the calibrated probabilities (rounded to 5
/// decimals as NannyML does), and the trapezoidal area under the resulting curve.
fn estimated_roc_auc(scores: &[f64], calibrated: &[f64]) -> f64 {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let round5 = |v: f64| (v * 1e5).round_ties_even() / 1e5;
    let mut tps = Vec::with_capacity(scores.len() + 1);
    let mut fps = Vec::with_capacity(scores.len() + 1);
    tps.push(0.0);
    fps.push(0.0);
    let mut cumulative = 0.0;
    for (k, &i) in order.iter().enumerate() {
        cumulative += calibrated[i];
        tps.push(round5(cumulative));
        fps.push(round5((k + 1) as f64 - cumulative));
    }
    let (tp_total, fp_total) = (tps[tps.len() - 1], fps[fps.len() - 1]);
    let mut area = 0.0;
    for k in 1..tps.len() {
        let dx = fps[k] / fp_total - fps[k - 1] / fp_total;
        area += dx * (tps[k] / tp_total + tps[k - 1] / tp_total) / 2.0;
    }
    area
}

/// Ten seeded stratified 90/10 splits, as NannyML's check does (its splits come from
/// scikit-learn's `StratifiedShuffleSplit(random_state=42)`; these from ChaCha8 seeded
/// with 42, so the rows differ and so may the verdict when it is close).
const CALIBRATION_SPLITS: usize = 10;
/// Equal-count bins of the expected calibration error.
const CALIBRATION_BINS: usize = 10;

/// Whether calibrating the reference's scores lowers their expected calibration error,
/// NannyML's test: not with one class or a near-perfect ranking (AUC > 0.999); otherwise
/// isotonic fits on ten 90% splits calibrate the other 10%, and the pooled test rows'
/// ECE after calibration must be below the ECE before.
pub fn needs_calibration(scores: &[f64], actual: &[bool]) -> bool {
    let auc = roc_auc(actual, scores);
    if !auc.is_finite() || auc > 0.999 {
        return false;
    }
    let mut rng = SeededRng::new(42);
    let mut by_class: [Vec<usize>; 2] = [Vec::new(), Vec::new()];
    for (i, &a) in actual.iter().enumerate() {
        by_class[usize::from(a)].push(i);
    }
    let (mut truth, mut before, mut after) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..CALIBRATION_SPLITS {
        let mut test = Vec::new();
        let mut train = Vec::new();
        for class in &mut by_class {
            rng.shuffle(class);
            let k = ((class.len() as f64 * 0.1).round() as usize).clamp(1, class.len() - 1);
            test.extend_from_slice(&class[..k]);
            train.extend_from_slice(&class[k..]);
        }
        let train_scores: Vec<f64> = train.iter().map(|&i| scores[i]).collect();
        let train_actual: Vec<bool> = train.iter().map(|&i| actual[i]).collect();
        let Some(fit) = Isotonic::fit(&train_scores, &train_actual) else {
            return false;
        };
        for &i in &test {
            truth.push(actual[i]);
            before.push(scores[i]);
            after.push(fit.calibrate(scores[i]));
        }
    }
    match (
        calibration_error(&truth, &before),
        calibration_error(&truth, &after),
    ) {
        (Some(b), Some(a)) => b > a,
        _ => false,
    }
}

/// Expected calibration error over equal-count bins of rows sorted by probability
/// (NannyML's bin edges: width ⌊n / bins⌋, the last bin takes the rest). `None` below
/// four rows.
fn calibration_error(actual: &[bool], probabilities: &[f64]) -> Option<f64> {
    let n = probabilities.len();
    let mut bins = CALIBRATION_BINS;
    if n <= 2 * bins {
        bins = n / 2;
        if bins < 2 {
            return None;
        }
    }
    let width = n / bins;
    let mut edges: Vec<usize> = (0..=n).step_by(width).collect();
    *edges.last_mut().expect("n > 0") = n;
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| probabilities[a].total_cmp(&probabilities[b]));
    let mut ece = 0.0;
    for pair in edges.windows(2) {
        let bin = &order[pair[0]..pair[1]];
        let len = bin.len() as f64;
        let mean_p = bin.iter().map(|&i| probabilities[i]).sum::<f64>() / len;
        let mean_y = bin.iter().map(|&i| bit(actual[i])).sum::<f64>() / len;
        ece += len / n as f64 * (mean_p - mean_y).abs();
    }
    Some(ece)
}

#[cfg(test)]
mod tests;
