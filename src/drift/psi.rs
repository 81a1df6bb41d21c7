//! Population stability index (PSI) over fixed bins, and the thresholds to read it with.
//!
//! `PSI = Σ_i (r_i - c_i) · ln(r_i / c_i)` over bins, with `r_i` the reference proportion
//! and `c_i` the current proportion. It is ≥ 0 (each term is), and 0 only when the two
//! distributions agree on every bin.
//!
//! Empty bins, exactly as Evidently's `get_binned_data(..., feel_zeroes=True)` does it
//! (`evidently/legacy/calculations/stattests/utils.py`, used by its `psi` test): in each
//! of the two proportion vectors separately, every zero is replaced by
//! - `EPSILON = 1e-4` when the smallest non-zero proportion of that vector is above 1e-4,
//! - otherwise by that smallest non-zero proportion divided by 10^6,
//!
//! and the vectors are **not** renormalised afterwards. A vector with no non-zero entry
//! (an empty sample) has no PSI: the function returns NaN and callers report "no data".
//!
//! Thresholds: the conventional bands (< 0.1 stable, 0.1–0.25 moderate shift, ≥ 0.25
//! major shift; Siddiqi 2006, "Credit Risk Scorecards") and a sample-size-aware threshold:
//! under no drift, `PSI ≈ (1/n + 1/m) · χ²_{B-1}` (Yurdakul 2018, "Statistical properties
//! of the population stability index", Western Michigan University dissertation), so the
//! `1 - α` quantile of `χ²_{B-1}` times `1/n` (reference profile treated as exact) or
//! `1/n + 1/m` (reference of m rows) gives a false-alarm rate near α.

use statrs::distribution::{ChiSquared, ContinuousCDF};

/// The replacement for an empty bin when no proportion is smaller (Evidently's 0.0001).
pub const EPSILON: f64 = 1e-4;
/// The lower band edge: PSI at or above this is a moderate shift.
pub const MODERATE_SHIFT: f64 = 0.1;
/// The upper band edge: PSI at or above this is a major shift.
pub const MAJOR_SHIFT: f64 = 0.25;

/// The conventional reading of a PSI value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PsiBand {
    /// PSI < 0.1.
    Stable,
    /// 0.1 ≤ PSI < 0.25.
    Moderate,
    /// PSI ≥ 0.25.
    Major,
}

/// Classifies a PSI value into the fixed bands.
pub fn band(psi: f64) -> PsiBand {
    if psi >= MAJOR_SHIFT {
        PsiBand::Major
    } else if psi >= MODERATE_SHIFT {
        PsiBand::Moderate
    } else {
        PsiBand::Stable
    }
}

/// PSI of current counts against reference proportions over the same bins.
///
/// `reference_proportions` are the profile's bin shares (they should sum to 1);
/// `current_counts` are the window's counts in the same bins. Returns NaN when the lengths
/// differ, there are no bins, or either side has no mass. O(B), no allocation.
pub fn psi(reference_proportions: &[f64], current_counts: &[u64]) -> f64 {
    super::debug_assert_finite(reference_proportions);
    let total: u64 = current_counts.iter().sum();
    if reference_proportions.len() != current_counts.len() || total == 0 {
        return f64::NAN;
    }
    let total = total as f64;
    let (Some(r_fill), Some(c_fill)) = (
        zero_fill(reference_proportions.iter().copied()),
        zero_fill(current_counts.iter().map(|&c| c as f64 / total)),
    ) else {
        return f64::NAN;
    };
    reference_proportions
        .iter()
        .zip(current_counts)
        .map(|(&r, &c)| {
            let r = if r == 0.0 { r_fill } else { r };
            let c = c as f64 / total;
            let c = if c == 0.0 { c_fill } else { c };
            (r - c) * (r / c).ln()
        })
        .sum()
}

/// PSI between two proportion vectors (both already shares), with the same empty-bin rule.
pub fn psi_proportions(reference_proportions: &[f64], current_proportions: &[f64]) -> f64 {
    super::debug_assert_finite(reference_proportions);
    super::debug_assert_finite(current_proportions);
    if reference_proportions.len() != current_proportions.len() {
        return f64::NAN;
    }
    let (Some(r_fill), Some(c_fill)) = (
        zero_fill(reference_proportions.iter().copied()),
        zero_fill(current_proportions.iter().copied()),
    ) else {
        return f64::NAN;
    };
    reference_proportions
        .iter()
        .zip(current_proportions)
        .map(|(&r, &c)| {
            let r = if r == 0.0 { r_fill } else { r };
            let c = if c == 0.0 { c_fill } else { c };
            (r - c) * (r / c).ln()
        })
        .sum()
}

/// The value Evidently puts in empty bins of one proportion vector, or `None` when the
/// vector has no non-zero entry.
pub fn zero_fill(proportions: impl Iterator<Item = f64>) -> Option<f64> {
    let min_nonzero = proportions
        .filter(|&p| p != 0.0)
        .fold(f64::INFINITY, f64::min);
    if !min_nonzero.is_finite() {
        return None;
    }
    Some(if min_nonzero <= EPSILON {
        min_nonzero / 1e6
    } else {
        EPSILON
    })
}

/// The sample-size-aware PSI threshold: `χ²_{B-1}(1 - α) · (1/n + 1/m)`, where `n` is the
/// current row count and `m` the reference row count (`None` treats the reference
/// proportions as exact, giving `χ²_{B-1}(1 - α) / n`).
///
/// Returns NaN for fewer than 2 bins, `n = 0`, or α outside (0, 1).
pub fn psi_threshold(
    bins: usize,
    alpha: f64,
    current_rows: u64,
    reference_rows: Option<u64>,
) -> f64 {
    if bins < 2 || current_rows == 0 || !(alpha > 0.0 && alpha < 1.0) {
        return f64::NAN;
    }
    let Ok(chi2) = ChiSquared::new((bins - 1) as f64) else {
        return f64::NAN;
    };
    let q = chi2.inverse_cdf(1.0 - alpha);
    let scale = 1.0 / current_rows as f64
        + reference_rows.map_or(0.0, |m| if m == 0 { f64::NAN } else { 1.0 / m as f64 });
    q * scale
}
