//! Tests on category counts: chi-squared (goodness of fit, and the two-sample homogeneity
//! test modelwatch uses for drift), the two-proportion z-test, and the merging of rare
//! categories.
//!
//! Counts are aligned slices: index `i` is the same category in the reference and the
//! current window. A category present only in the current window has reference count 0.
//!
//! Where modelwatch departs from Evidently 0.7.23 (`chisquare_stattest.py`), and why:
//! - Evidently runs `scipy.stats.chisquare(cur, ref · n_cur / n_ref)`, a goodness-of-fit
//!   test that treats the reference *sample* as the exact population. Under no drift its
//!   statistic is inflated by about `1 + n_cur / n_ref` (1.67 at 600/400 rows), so with many
//!   categories it flags most undrifted splits (the 51-state column of
//!   `REFERENCE.md` §9). modelwatch's drift test, [`chi2_homogeneity`], is Pearson's
//!   chi-squared test of homogeneity on the 2 × k table (reference vs current), the
//!   textbook two-sample test (`scipy.stats.chi2_contingency(table, correction=False)`).
//! - Expected counts below 5 make the chi-squared approximation invalid (Cochran 1954,
//!   "Some methods for strengthening the common χ² tests"): the rarest categories are
//!   merged into one "other" cell until every expected count is at least 5
//!   ([`merge_rare_categories`]).
//! - A category absent from the reference gives Evidently an expected count of 0 and an
//!   infinite statistic (p = 0, drift), however few rows carry it. In the homogeneity test
//!   it is one more column of the 2 × k table, with finite expected counts from the pooled
//!   rows: a handful of rows of new categories merge with the other rare ones (sampling
//!   noise, as a 51-state column shows), and a new category that takes a real share of the
//!   window drifts the column. Those rows are also reported as the unseen-category
//!   data-quality rate. (Leaving them out of the test instead, as modelwatch once did,
//!   means a column whose values are all new, such as a numeric column constant in the
//!   reference, can never drift.)
//!
//! Each difference is named, with its reason, in `tests/fixtures/drift/evidently.json`
//! (`differences`), and the tests check that every verdict that departs from Evidently's
//! carries one.

use statrs::distribution::{ChiSquared, ContinuousCDF, Normal};

/// Cochran's rule: every expected cell count at least this.
pub const MIN_EXPECTED_COUNT: f64 = 5.0;

/// A chi-squared statistic with its degrees of freedom and p-value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Chi2Result {
    /// Pearson's statistic.
    pub statistic: f64,
    /// Degrees of freedom.
    pub dof: usize,
    /// Upper-tail p-value, `P(χ²_dof >= statistic)`.
    pub p_value: f64,
}

/// `scipy.stats.chisquare(f_obs, f_exp)` (ddof = 0): `Σ (o - e)² / e` with `k - 1`
/// degrees of freedom and `chi2.sf`.
///
/// Returns `None` when the lengths differ, there are fewer than 2 cells, or the sums of
/// observed and expected differ by more than `sqrt(f64::EPSILON)` relative (scipy raises a
/// `ValueError` there). An expected count of 0 with a positive observation gives an
/// infinite statistic and p = 0, as in scipy. p-value precision: statrs' regularised
/// incomplete gamma, about 1e-12 relative.
pub fn chisquare(f_obs: &[f64], f_exp: &[f64]) -> Option<Chi2Result> {
    if f_obs.len() != f_exp.len() || f_obs.len() < 2 {
        return None;
    }
    let (so, se) = (f_obs.iter().sum::<f64>(), f_exp.iter().sum::<f64>());
    if (so - se).abs() / so.min(se) > f64::EPSILON.sqrt() {
        return None;
    }
    let statistic: f64 = f_obs
        .iter()
        .zip(f_exp)
        .map(|(&o, &e)| (o - e) * (o - e) / e)
        .sum();
    let dof = f_obs.len() - 1;
    Some(Chi2Result {
        statistic,
        dof,
        p_value: chi2_sf(statistic, dof),
    })
}

/// Evidently's `_chi_stat_test` p-value, for comparison: `chisquare(cur, ref · n_cur /
/// n_ref)` over the union of categories (unseen ones included, hence possibly infinite).
pub fn evidently_chi2(reference_counts: &[u64], current_counts: &[u64]) -> Option<Chi2Result> {
    let n_ref: u64 = reference_counts.iter().sum();
    let n_cur: u64 = current_counts.iter().sum();
    if n_ref == 0 || n_cur == 0 || reference_counts.len() != current_counts.len() {
        return None;
    }
    let k_norm = n_cur as f64 / n_ref as f64;
    let f_exp: Vec<f64> = reference_counts
        .iter()
        .map(|&r| r as f64 * k_norm)
        .collect();
    let f_obs: Vec<f64> = current_counts.iter().map(|&c| c as f64).collect();
    chisquare(&f_obs, &f_exp)
}

/// Merges the rarest categories of a 2 × k table into one "other" cell until every
/// expected count is at least [`MIN_EXPECTED_COUNT`], and returns the merged
/// `(reference, current)` counts: kept categories in their input order, then the "other"
/// cell when there is one.
///
/// Expected counts under homogeneity are `row_total · column_total / N`; the smaller row
/// sets the bound, so a category is kept when its column total is at least
/// `5 N / min(n_ref, n_cur)`. Categories are pooled in increasing order of column total;
/// if the pooled cell is itself still too small, the next-rarest kept category joins it.
/// Empty columns (0 in both rows) are dropped.
pub fn merge_rare_categories(
    reference_counts: &[u64],
    current_counts: &[u64],
) -> (Vec<u64>, Vec<u64>) {
    debug_assert_eq!(reference_counts.len(), current_counts.len());
    let n_ref: u64 = reference_counts.iter().sum();
    let n_cur: u64 = current_counts.iter().sum();
    let n = n_ref + n_cur;
    let min_row = n_ref.min(n_cur);
    let mut order: Vec<usize> = (0..reference_counts.len())
        .filter(|&i| reference_counts[i] + current_counts[i] > 0)
        .collect();
    if min_row == 0 {
        let r = order.iter().map(|&i| reference_counts[i]).collect();
        let c = order.iter().map(|&i| current_counts[i]).collect();
        return (r, c);
    }
    let min_total = MIN_EXPECTED_COUNT * n as f64 / min_row as f64;
    // Ascending column total; ties by index so the result is deterministic.
    order.sort_by_key(|&i| (reference_counts[i] + current_counts[i], i));
    let total = |i: usize| (reference_counts[i] + current_counts[i]) as f64;
    let mut pooled = 0usize;
    let mut pooled_total = 0.0;
    while pooled < order.len()
        && (total(order[pooled]) < min_total || (pooled > 0 && pooled_total < min_total))
    {
        pooled_total += total(order[pooled]);
        pooled += 1;
    }
    // Kept categories stay in their input order; the pooled cell goes last.
    let mut kept = order[pooled..].to_vec();
    kept.sort_unstable();
    let (mut r, mut c): (Vec<u64>, Vec<u64>) = kept
        .iter()
        .map(|&i| (reference_counts[i], current_counts[i]))
        .unzip();
    if pooled > 0 {
        r.push(order[..pooled].iter().map(|&i| reference_counts[i]).sum());
        c.push(order[..pooled].iter().map(|&i| current_counts[i]).sum());
    }
    (r, c)
}

/// Pearson's chi-squared test of homogeneity of a 2 × k table
/// (`scipy.stats.chi2_contingency([reference, current], correction=False)`), with
/// `k - 1` degrees of freedom. Columns that are 0 in both rows are ignored. Returns
/// `None` when either row is empty or fewer than 2 columns remain: there is nothing to
/// test, and callers report "no drift evidence" (p = 1).
pub fn chi2_contingency_2xk(
    reference_counts: &[u64],
    current_counts: &[u64],
) -> Option<Chi2Result> {
    let n_ref: u64 = reference_counts.iter().sum();
    let n_cur: u64 = current_counts.iter().sum();
    let columns = reference_counts
        .iter()
        .zip(current_counts)
        .filter(|(r, c)| **r + **c > 0)
        .count();
    if n_ref == 0 || n_cur == 0 || columns < 2 {
        return None;
    }
    let n = (n_ref + n_cur) as f64;
    let (nr, nc) = (n_ref as f64, n_cur as f64);
    let mut statistic = 0.0;
    for (&r, &c) in reference_counts.iter().zip(current_counts) {
        let t = (r + c) as f64;
        if t == 0.0 {
            continue;
        }
        let (er, ec) = (nr * t / n, nc * t / n);
        statistic += (r as f64 - er).powi(2) / er + (c as f64 - ec).powi(2) / ec;
    }
    let dof = columns - 1;
    Some(Chi2Result {
        statistic,
        dof,
        p_value: chi2_sf(statistic, dof),
    })
}

/// modelwatch's categorical drift test: rare categories merged (categories the
/// reference never saw included), then [`chi2_contingency_2xk`]. Returns the test (or
/// `None` when nothing is left to test) and the current rows in categories the reference
/// never saw.
pub fn chi2_homogeneity(
    reference_counts: &[u64],
    current_counts: &[u64],
) -> (Option<Chi2Result>, u64) {
    debug_assert_eq!(reference_counts.len(), current_counts.len());
    let unseen_current = reference_counts
        .iter()
        .zip(current_counts)
        .filter(|(r, _)| **r == 0)
        .map(|(_, c)| *c)
        .sum();
    let (r, c) = merge_rare_categories(reference_counts, current_counts);
    (chi2_contingency_2xk(&r, &c), unseen_current)
}

/// The two-proportion z-test as Evidently's `_z_stat_test` (`z_stattest.py`): the share
/// of rows *not* in the first category, pooled standard error,
/// `z = (p_ref - p_cur) / sqrt(P (1 - P) (1/n_ref + 1/n_cur))`, two-sided
/// `p = 2 Φ(-|z|)`.
///
/// `*_first` counts rows in the first category (Evidently: the smallest value), `*_total`
/// all rows. When both samples hold the single same category the p-value is 1, as in
/// Evidently. Evidently computes `2 (1 - Φ(|z|))`, which loses relative precision below
/// about 1e-10; here the upper tail is computed directly. Returns `None` for an empty
/// sample.
pub fn z_test(
    reference_first: u64,
    reference_total: u64,
    current_first: u64,
    current_total: u64,
) -> Option<ZTestResult> {
    if reference_total == 0 || current_total == 0 {
        return None;
    }
    let (n1, n2) = (reference_total as f64, current_total as f64);
    let p1 = (reference_total - reference_first) as f64 / n1;
    let p2 = (current_total - current_first) as f64 / n2;
    let pooled = (p1 * n1 + p2 * n2) / (n1 + n2);
    let variance = pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2);
    if variance == 0.0 {
        // Both samples are entirely one and the same category.
        return Some(ZTestResult {
            statistic: 0.0,
            p_value: 1.0,
        });
    }
    let z = (p1 - p2) / variance.sqrt();
    let normal = Normal::standard();
    Some(ZTestResult {
        statistic: z,
        p_value: (2.0 * normal.sf(z.abs())).min(1.0),
    })
}

/// A z statistic and its two-sided p-value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ZTestResult {
    /// The z statistic (reference share minus current share, standardised).
    pub statistic: f64,
    /// Two-sided p-value.
    pub p_value: f64,
}

/// `P(χ²_dof >= x)` (`scipy.stats.chi2.sf`), via statrs.
pub fn chi2_sf(x: f64, dof: usize) -> f64 {
    if x.is_nan() {
        return f64::NAN;
    }
    if x == f64::INFINITY {
        return 0.0;
    }
    match ChiSquared::new(dof as f64) {
        Ok(d) => d.sf(x),
        Err(_) => f64::NAN,
    }
}
