//! One call per column: choose (or take) a method, run it, and return a [`DriftResult`].
//!
//! These are the entry points the `modelwatch drift` command and the live analysis use.
//! Inputs follow the crate-wide contract of [`crate::drift`]: missing and non-finite values
//! already removed (and counted by the caller), numeric samples sorted ascending,
//! categorical samples as aligned counts.
//!
//! Numeric columns with few distinct values are tested like Evidently tests them: as
//! categories, one per distinct value ([`super::binning::distinct_value_counts`]).

use super::auto::{AutoInput, MethodRule, choose_method};
use super::bin_counts::BinCounts;
use super::binning::{count_distinct_union, distinct_value_counts};
use super::categorical::{chi2_homogeneity, z_test};
use super::jensen_shannon::jensen_shannon_distance;
use super::ks_counts::KsCounts;
use super::psi::psi_proportions;
use super::wasserstein::{population_std, wasserstein_distance, wasserstein_normed};
use super::{DriftResult, Method, ks};
use crate::profile::schema::ColumnKind;

/// How to test a column.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ColumnDriftConfig {
    /// The method; `None` is `auto` ([`choose_method`]).
    pub method: Option<Method>,
    /// The threshold; `None` is the method's default ([`Method::default_threshold`]).
    pub threshold: Option<f64>,
}

/// Why a column could not be tested.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DriftError {
    /// One side has no usable value.
    #[error("the {side} sample has no non-missing values; drift needs at least one on each side")]
    EmptySample {
        /// `reference` or `current`.
        side: &'static str,
    },
    /// The method needs numbers and the column is categorical.
    #[error(
        "method `{method}` needs a numeric column; use chi2, z, jensen_shannon or psi for categorical columns"
    )]
    NotApplicable {
        /// The method asked for.
        method: Method,
    },
}

/// The drift of a categorical column, with its rows in categories the reference never saw.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CategoricalColumnDrift {
    /// The test result.
    pub result: DriftResult,
    /// Current rows in categories the reference never saw, reported as the
    /// unseen-category rate. They are in the test too (see [`super::categorical`]).
    pub unseen_current: u64,
}

/// Drift of a numeric column from two sorted samples.
///
/// `auto` picks by reference size and distinct values; KS and Wasserstein work on the
/// values, chi² and z on the per-value table, Jensen–Shannon and PSI on the reference's
/// bins ([`super::bin_counts`]: Evidently's rules, one bin per value up to 20 distinct
/// reference values, Sturges bins above, with edges from the reference alone). PSI against a
/// profile's own quantile bins is [`super::psi::psi`], called directly with the profile's
/// proportions and the window's bin counts.
pub fn numeric_column_drift(
    reference_sorted: &[f64],
    current_sorted: &[f64],
    config: &ColumnDriftConfig,
) -> Result<DriftResult, DriftError> {
    non_empty(reference_sorted.len() as u64, current_sorted.len() as u64)?;
    let rule = rule_for(config, || AutoInput {
        kind: ColumnKind::Numeric,
        reference_rows: reference_sorted.len() as u64,
        distinct_values: count_distinct_union(reference_sorted, current_sorted),
    });
    let (statistic, score) = match rule.method {
        Method::Ks => ks::ks_2samp(reference_sorted, current_sorted)
            .map_or((f64::NAN, f64::NAN), |r| (r.statistic, r.p_value)),
        Method::Wasserstein => {
            let raw = wasserstein_distance(reference_sorted, current_sorted);
            (
                raw,
                wasserstein_normed(raw, population_std(reference_sorted)),
            )
        }
        Method::Psi | Method::JensenShannon => {
            let counts = BinCounts::of_samples(reference_sorted, current_sorted);
            return bin_counts_column_drift(&counts, rule.method, &config.threshold);
        }
        Method::Chi2 | Method::Z => {
            let counts = distinct_value_counts(reference_sorted, current_sorted);
            return categorical_column_drift(
                &counts.reference,
                &counts.current,
                &ColumnDriftConfig {
                    method: Some(rule.method),
                    threshold: Some(rule.threshold),
                },
            )
            .map(|c| c.result);
        }
    };
    Ok(DriftResult::new(
        rule.method,
        statistic,
        score,
        rule.threshold,
    ))
}

/// Drift of a numeric column tested with KS from current values counted between the
/// reference values ([`super::ks_counts`]): the same result as [`numeric_column_drift`]
/// with `Method::Ks` on the full samples, without them.
pub fn ks_counts_column_drift(
    counts: &KsCounts,
    config: &ColumnDriftConfig,
) -> Result<DriftResult, DriftError> {
    let mut rule = MethodRule::for_method(Method::Ks);
    if let Some(t) = config.threshold {
        rule.threshold = t;
    }
    let result = counts.ks_2samp().ok_or(if counts.current_len() == 0 {
        DriftError::EmptySample { side: "current" }
    } else {
        DriftError::EmptySample { side: "reference" }
    })?;
    Ok(DriftResult::new(
        Method::Ks,
        result.statistic,
        result.p_value,
        rule.threshold,
    ))
}

/// Drift of a numeric column tested with PSI or Jensen–Shannon (`method`; any other is
/// taken as PSI) from current values counted into the reference's bins
/// ([`super::bin_counts`]).
pub fn bin_counts_column_drift(
    counts: &BinCounts,
    method: Method,
    threshold: &Option<f64>,
) -> Result<DriftResult, DriftError> {
    non_empty(counts.reference_len(), counts.current_len())?;
    let method = match method {
        Method::JensenShannon => Method::JensenShannon,
        _ => Method::Psi,
    };
    let threshold = threshold.unwrap_or_else(|| MethodRule::for_method(method).threshold);
    let (r, c) = counts.proportions();
    let statistic = match method {
        Method::JensenShannon => jensen_shannon_distance(&r, &c),
        _ => psi_proportions(&r, &c),
    };
    Ok(DriftResult::new(method, statistic, statistic, threshold))
}

/// Drift of a categorical (or boolean) column from aligned category counts.
///
/// Index `i` of both slices is the same category; categories only the current window has
/// get reference count 0. For the z-test the first category (index 0) is compared with
/// the rest, as Evidently compares its smallest value with the rest: order categories by
/// label to reproduce Evidently exactly (with two categories the order does not matter).
pub fn categorical_column_drift(
    reference_counts: &[u64],
    current_counts: &[u64],
    config: &ColumnDriftConfig,
) -> Result<CategoricalColumnDrift, DriftError> {
    debug_assert_eq!(reference_counts.len(), current_counts.len());
    let n_ref: u64 = reference_counts.iter().sum();
    let n_cur: u64 = current_counts.iter().sum();
    non_empty(n_ref, n_cur)?;
    let unseen_current: u64 = reference_counts
        .iter()
        .zip(current_counts)
        .filter(|(r, _)| **r == 0)
        .map(|(_, c)| *c)
        .sum();
    let rule = rule_for(config, || AutoInput {
        kind: ColumnKind::Categorical,
        reference_rows: n_ref,
        distinct_values: reference_counts
            .iter()
            .zip(current_counts)
            .filter(|(r, c)| **r + **c > 0)
            .count(),
    });
    let (statistic, score) = match rule.method {
        // Nothing left to test (one category after merging): no evidence of drift, χ² = 0.
        Method::Chi2 => chi2_homogeneity(reference_counts, current_counts)
            .0
            .map_or((0.0, 1.0), |r| (r.statistic, r.p_value)),
        Method::Z => {
            let first = |counts: &[u64]| counts.first().copied().unwrap_or(0);
            z_test(first(reference_counts), n_ref, first(current_counts), n_cur)
                .map_or((f64::NAN, f64::NAN), |r| (r.statistic, r.p_value))
        }
        Method::JensenShannon => {
            let (r, c) = proportions(reference_counts, current_counts);
            let js = jensen_shannon_distance(&r, &c);
            (js, js)
        }
        Method::Psi => {
            let (r, c) = proportions(reference_counts, current_counts);
            let psi = psi_proportions(&r, &c);
            (psi, psi)
        }
        method @ (Method::Ks | Method::Wasserstein) => {
            return Err(DriftError::NotApplicable { method });
        }
    };
    Ok(CategoricalColumnDrift {
        result: DriftResult::new(rule.method, statistic, score, rule.threshold),
        unseen_current,
    })
}

fn rule_for(config: &ColumnDriftConfig, auto: impl FnOnce() -> AutoInput) -> MethodRule {
    let mut rule = match config.method {
        Some(m) => MethodRule::for_method(m),
        None => choose_method(auto()),
    };
    if let Some(t) = config.threshold {
        rule.threshold = t;
    }
    rule
}

fn non_empty(n_ref: u64, n_cur: u64) -> Result<(), DriftError> {
    if n_ref == 0 {
        return Err(DriftError::EmptySample { side: "reference" });
    }
    if n_cur == 0 {
        return Err(DriftError::EmptySample { side: "current" });
    }
    Ok(())
}

fn proportions(reference_counts: &[u64], current_counts: &[u64]) -> (Vec<f64>, Vec<f64>) {
    let n_ref: u64 = reference_counts.iter().sum();
    let n_cur: u64 = current_counts.iter().sum();
    (
        reference_counts
            .iter()
            .map(|&k| k as f64 / n_ref as f64)
            .collect(),
        current_counts
            .iter()
            .map(|&k| k as f64 / n_cur as f64)
            .collect(),
    )
}
