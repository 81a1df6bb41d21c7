//! Domain-classifier drift: a classifier learns to tell reference rows from current rows;
//! if it does better than chance on rows it did not train on, the two samples differ
//! somewhere, jointly or not (the idea behind Evidently's and Alibi Detect's classifier
//! drift).
//!
//! # The model
//! L2-regularised logistic regression (`linfa-logistic`, already the train path's model)
//! on the standardised features **and pairwise products** `x_i·x_j` (i < j). A
//! linear model on the features alone sees shifts of the means only: when two features'
//! correlation flips sign with their marginals unchanged, every linear score has the same
//! distribution in both samples, and the AUC stays at 0.5. The product `x_i·x_j` has mean
//! `ρ_ij`, so its sign flip is a mean shift the logistic model sees. Gradient-boosted
//! trees would see it too, at the price of a large dependency (or bindings to a C++
//! library) for this one use; the quadratic expansion is a dozen lines. All
//! `d(d−1)/2` pairs (1,225 for 50 features) cost 25 s of CPU per evaluation, so each
//! fold keeps at most [`MAX_PAIRS`]: those whose correlation differs most between its
//! *training* reference and current rows (a flipped pair comes first), so the held-out
//! rows play no part in the choice and the AUC keeps its null distribution. Rows are
//! capped too (`classifier_rows` per side); the CPU per evaluation is measured in
//! `docs/multivariate-drift.md`.
//!
//! # The score and its threshold
//! Rows are split into `folds` stratified folds (seeded). Fold k (k = 1 … folds−1) is
//! scored by a model fitted on folds 0 … k−1 only (forward chaining; fold 0 only trains),
//! and the score is the mean of those folds' ROC AUCs. Drift when it exceeds
//! `1/2 + z_{1−α}·sqrt(Σ_k v_k)/(folds−1)`, one-sided, where
//! `v_k = (a_k + b_k + 1) / (12·a_k·b_k)` for fold k's `a_k` reference and `b_k` current
//! rows: at α = 0.05, 0.529 for 1,000 against 500 rows, 0.527 for 2,000 against 500 (the
//! live caps), 0.517 at 2,000 a side.
//!
//! Why this and not the AUC of the pooled out-of-fold scores of ordinary k-fold
//! cross-validation (what this module did before, and what Alibi Detect's `ClassifierDrift`
//! does with `n_folds`, testing the pooled predictions with a Kolmogorov–Smirnov test):
//! - Each fold's AUC is exact. Its model never saw the fold's rows, so under no drift the
//!   fold's labels are exchangeable given the model: its AUC is a Mann–Whitney U over
//!   `a_k·b_k`, mean 1/2, variance `v_k` (no ties), whatever the model learned.
//! - The folds' AUCs are uncorrelated, so their mean has variance `Σ v_k/(folds−1)²`
//!   exactly. Take j < k: fold k's rows are in no model before it, so given every row but
//!   fold k's, AUC_j is fixed and AUC_k still has mean 1/2; their covariance is 0. In
//!   k-fold cross-validation each fold trains the other's model, and the covariance is
//!   positive: when two folds' chance differences happen to point the same way, both
//!   models learn that direction and both folds score above 1/2. Measured (`cargo bench
//!   --bench drift_multivariate -- --calibrate 300`: 50 features, 500-row windows
//!   against 10 references of 5,000 rows): the pooled k-fold AUC's z had sd 1.45 and
//!   flagged 25 of 200 undrifted windows at α = 0.05 (8.6–17.8%); forward chaining's z
//!   had sd 1.05 and flagged 15 of 300 (5.0%, 3.1–8.1%).
//! - The sum of the folds' deviations is a martingale with known conditional variances,
//!   so the normal threshold is the central limit theorem's, not an assumption about
//!   the fitted models.
//! - A permutation null (refit on shuffled labels, as many times as the tail needs)
//!   would be exact for the pooled AUC too, at 100–1,000 times the CPU of one
//!   evaluation: not affordable every 15 s per model version.
//! - Evidently's classifier test (its text-drift domain classifier) fits one model on a
//!   train split and compares the AUC on the held-out split with the 95th percentile of
//!   random scores' AUCs: exact too, but only the held-out quarter or so is tested.
//!   Forward chaining tests 80% of the rows (4 of 5 folds), and its fits train on
//!   20–80% of them: 10 folds' worth of training rows in all, where 5-fold
//!   cross-validation fits on 20 (its CPU per evaluation is not re-measured yet).
//!
//! The price is power: the early folds' models train on few rows. Measured in
//! `docs/multivariate-drift.md` (share of windows flagged with a modest change).

use super::{MultivariateConfig, MultivariateError, MultivariateMethod, MultivariateResult};
use crate::random::SeededRng;
use linfa::prelude::*;
use linfa_logistic::LogisticRegression;
use ndarray::{Array1, Array2, Axis};
use statrs::distribution::{ContinuousCDF, Normal};

/// Cross-validation folds (Evidently and scikit-learn's default is 5 too).
pub const DEFAULT_FOLDS: usize = 5;
/// One-sided false-alarm rate of one evaluation (measured at the defaults: see the module
/// doc and `docs/multivariate-drift.md`).
pub const DEFAULT_ALPHA: f64 = 0.05;
/// Rows per side the classifier trains on at most.
pub const DEFAULT_CLASSIFIER_ROWS: usize = 2_000;
/// L2 penalty of the logistic regression (linfa's default).
const L2_PENALTY: f64 = 1.0;
/// Pairwise products per fold at most: the pairs whose correlation changed most between
/// the fold's training reference and current rows (measured: 25 s of CPU per evaluation
/// with all 1,225 pairs of 50 features).
pub const MAX_PAIRS: usize = 64;
/// L-BFGS iterations per fold at most.
const MAX_ITERATIONS: u64 = 100;

/// Mean forward-chained fold AUC of reference-vs-current, against its chance threshold.
pub fn domain_classifier(
    reference: &Array2<f64>,
    current: &Array2<f64>,
    config: &MultivariateConfig,
) -> Result<MultivariateResult, MultivariateError> {
    let mut rng = SeededRng::new(config.seed);
    let reference = subset(reference, config.classifier_rows, &mut rng);
    let current = subset(current, config.classifier_rows, &mut rng);
    let folds = config.folds.max(2);
    for (side, x) in [("reference", &reference), ("current", &current)] {
        if x.nrows() < folds {
            return Err(MultivariateError::TooFewRows {
                side,
                needed: folds,
                got: x.nrows(),
            });
        }
    }
    let x =
        ndarray::concatenate(Axis(0), &[reference.view(), current.view()]).expect("same columns");
    let (n_ref, n_cur) = (reference.nrows(), current.nrows());
    let is_current: Array1<bool> = (0..n_ref + n_cur).map(|i| i >= n_ref).collect();
    let fold_of = stratified_folds(n_ref, n_cur, folds, &mut rng);

    // Fold k (k ≥ 1) is scored by a model fitted on folds 0..k−1 only (forward chaining);
    // fold 0 only trains. The module doc says why not ordinary k-fold cross-validation.
    let mut fold_aucs = Vec::with_capacity(folds - 1);
    let mut fold_sizes = Vec::with_capacity(folds - 1);
    for fold in 1..folds {
        let train: Vec<usize> = (0..fold_of.len()).filter(|&i| fold_of[i] < fold).collect();
        let test: Vec<usize> = (0..fold_of.len()).filter(|&i| fold_of[i] == fold).collect();
        // The pairs are chosen on the training rows only: choosing them on all rows would
        // let the held-out rows shape the model that scores them.
        let pairs = pairs_that_changed(&x, &train, n_ref, MAX_PAIRS);
        let data = Dataset::new(
            with_products(&x.select(Axis(0), &train), &pairs),
            is_current.select(Axis(0), &train),
        );
        let model = LogisticRegression::default()
            .alpha(L2_PENALTY)
            .max_iterations(MAX_ITERATIONS)
            .fit(&data)
            .map_err(|e| MultivariateError::Classifier(e.to_string()))?;
        // linfa's probability is of its larger training class.
        let p = model.predict_probabilities(&with_products(&x.select(Axis(0), &test), &pairs));
        let larger_is_current = model.labels().pos.class;
        let (mut negative, mut positive) = (Vec::new(), Vec::new());
        for (&i, &p) in test.iter().zip(p.iter()) {
            let p = if larger_is_current { p } else { 1.0 - p };
            if i < n_ref {
                negative.push(p);
            } else {
                positive.push(p);
            }
        }
        fold_sizes.push((negative.len(), positive.len()));
        fold_aucs.push(roc_auc(&negative, &positive));
    }
    let score = fold_aucs.iter().sum::<f64>() / fold_aucs.len() as f64;
    let threshold = chance_threshold(&fold_sizes, config.alpha);
    Ok(MultivariateResult {
        method: MultivariateMethod::DomainClassifier,
        score,
        threshold,
        lower_threshold: None,
        evaluation_drifted: None,
        drifted: score > threshold,
    })
}

/// The mean fold AUC chance allows at one-sided level `alpha` for folds of these
/// (reference, current) sizes: each fold's AUC is a Mann–Whitney U over `a·b`, mean 1/2,
/// variance `(a + b + 1) / (12·a·b)` (no ties); the folds' AUCs are uncorrelated (see the
/// module doc), so their mean's variance is the sum over the folds' count squared, and
/// the mean is close to normal.
pub fn chance_threshold(fold_sizes: &[(usize, usize)], alpha: f64) -> f64 {
    let variance: f64 = fold_sizes
        .iter()
        .map(|&(a, b)| {
            let (a, b) = (a as f64, b as f64);
            (a + b + 1.0) / (12.0 * a * b)
        })
        .sum();
    let z = Normal::standard().inverse_cdf(1.0 - alpha);
    0.5 + z * variance.sqrt() / fold_sizes.len() as f64
}

/// ROC AUC of `positive` scores over `negative` ones: P(pos > neg) + P(tie)/2, from
/// midranks (the Mann–Whitney U over n_pos·n_neg).
pub fn roc_auc(negative: &[f64], positive: &[f64]) -> f64 {
    let mut all: Vec<(f64, bool)> = negative
        .iter()
        .map(|&s| (s, false))
        .chain(positive.iter().map(|&s| (s, true)))
        .collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < all.len() {
        let mut j = i;
        while j < all.len() && all[j].0 == all[i].0 {
            j += 1;
        }
        // Ranks i+1..=j share their mean.
        let midrank = (i + 1 + j) as f64 / 2.0;
        rank_sum += midrank * all[i..j].iter().filter(|e| e.1).count() as f64;
        i = j;
    }
    let (n_neg, n_pos) = (negative.len() as f64, positive.len() as f64);
    (rank_sum - n_pos * (n_pos + 1.0) / 2.0) / (n_pos * n_neg)
}

/// The columns of `x` followed by the products of the `pairs` of them.
fn with_products(x: &Array2<f64>, pairs: &[(usize, usize)]) -> Array2<f64> {
    let d = x.ncols();
    let mut out = Array2::zeros((x.nrows(), d + pairs.len()));
    for (row, mut out_row) in x.rows().into_iter().zip(out.rows_mut()) {
        for j in 0..d {
            out_row[j] = row[j];
        }
        for (k, &(i, j)) in pairs.iter().enumerate() {
            out_row[d + k] = row[i] * row[j];
        }
    }
    out
}

/// At most `limit` pairs of columns, those whose correlation differs most between the
/// reference rows (index below `n_ref`) and the current rows among `rows`; every pair
/// when there are no more than `limit`.
fn pairs_that_changed(
    x: &Array2<f64>,
    rows: &[usize],
    n_ref: usize,
    limit: usize,
) -> Vec<(usize, usize)> {
    let d = x.ncols();
    let mut pairs: Vec<(usize, usize)> = (0..d)
        .flat_map(|i| (i + 1..d).map(move |j| (i, j)))
        .collect();
    if pairs.len() <= limit {
        return pairs;
    }
    let (reference, current): (Vec<usize>, Vec<usize>) = rows.iter().partition(|&&i| i < n_ref);
    let correlations = |side: &[usize]| {
        let sample = x.select(Axis(0), side);
        let centred = &sample - &sample.mean_axis(Axis(0)).expect("rows in every fold");
        let covariance = centred.t().dot(&centred);
        let sd: Vec<f64> = (0..d)
            .map(|i| covariance[[i, i]].sqrt().max(f64::MIN_POSITIVE))
            .collect();
        move |i: usize, j: usize| covariance[[i, j]] / (sd[i] * sd[j])
    };
    let (rho_ref, rho_cur) = (correlations(&reference), correlations(&current));
    let change = |&(i, j): &(usize, usize)| (rho_ref(i, j) - rho_cur(i, j)).abs();
    pairs.sort_by(|a, b| change(b).total_cmp(&change(a)).then(a.cmp(b)));
    pairs.truncate(limit);
    pairs
}

/// At most `cap` rows of `x`, a seeded uniform choice when there are more.
fn subset(x: &Array2<f64>, cap: usize, rng: &mut SeededRng) -> Array2<f64> {
    if x.nrows() <= cap {
        return x.clone();
    }
    let mut order = shuffled(x.nrows(), rng);
    order.truncate(cap);
    order.sort_unstable();
    x.select(Axis(0), &order)
}

/// Fold of each row (reference rows first): each side shuffled, then dealt round-robin,
/// so every fold holds both sides in their overall proportion.
pub(super) fn stratified_folds(
    n_ref: usize,
    n_cur: usize,
    folds: usize,
    rng: &mut SeededRng,
) -> Vec<usize> {
    let mut fold_of = vec![0; n_ref + n_cur];
    for (offset, n) in [(0, n_ref), (n_ref, n_cur)] {
        for (position, row) in shuffled(n, rng).into_iter().enumerate() {
            fold_of[offset + row] = position % folds;
        }
    }
    fold_of
}

/// `0..n` in a seeded random order (Fisher–Yates).
fn shuffled(n: usize, rng: &mut SeededRng) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    rng.shuffle(&mut order);
    order
}
