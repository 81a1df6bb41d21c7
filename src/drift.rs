//! Drift statistics: pure functions that compare a current sample with a reference.
//!
//! Nothing in `drift/` does I/O, reads the clock or allocates on the per-row path; callers
//! (the `modelwatch drift` command, the live analysis windows) collect values, filter them
//! and hand slices or counts in.
//!
//! # Input contract (NaN handling)
//!
//! Every function here takes *clean* values: callers drop missing cells and non-finite
//! numbers (NaN, ±Inf) before calling, and count them as data-quality problems (missing
//! rate, type errors). This is the choice Evidently makes too (`get_one_column_drift`
//! replaces ±Inf with NaN and drops NaN before any test). Passing a non-finite value is a
//! caller bug: debug builds assert on it, release builds give an unspecified (but
//! non-panicking) result.
//!
//! Numeric samples are passed **sorted ascending** (`f64::total_cmp`): callers sort once
//! per window and reuse the sorted slice for KS, Wasserstein and binning, which are then
//! O(n + m) merge walks.
//!
//! # Map
//! - [`ks`]: two-sample Kolmogorov–Smirnov statistic and p-value (`scipy.stats.ks_2samp`,
//!   `method="auto"`), with [`kolmogorov`] holding the distributions it needs;
//!   [`ks_counts`] the same test on a stream, from counts between the reference values.
//! - [`wasserstein`]: Wasserstein-1 distance, raw and normalised by the reference std.
//! - [`psi`]: population stability index and its thresholds.
//! - [`binning`]: Evidently's binning (Sturges edges, distinct-value tables) for numeric
//!   columns; [`bin_counts`] the reference's bins, into which current values are counted
//!   for exact numeric PSI and Jensen–Shannon; [`counts`] either kind of counting.
//! - [`jensen_shannon`]: Jensen–Shannon distance between two distributions.
//! - [`categorical`]: chi-squared (goodness of fit and homogeneity with rare-category
//!   merging), two-proportion z-test.
//! - [`histogram`]: the reference beside the current data, bin by bin, for charts.
//! - [`auto`]: Evidently's `auto` method choice and the dataset drift share.
//! - [`column`](mod@column): one call per column that applies a method and returns a [`DriftResult`].
//! - [`multivariate`]: drift of the joint distribution (domain classifier, PCA
//!   reconstruction error), on aligned rows rather than per-column samples.

pub mod alarms;
pub mod auto;
pub mod bin_counts;
pub mod binning;
pub mod categorical;
pub mod column;
pub mod counts;
pub mod current;
pub mod histogram;
pub mod jensen_shannon;
pub mod kolmogorov;
pub mod ks;
pub mod ks_counts;
pub mod model_report;
pub mod multivariate;
pub mod psi;
pub mod report;
pub mod wasserstein;

pub use auto::{AutoInput, DatasetDrift, MethodRule, choose_method, dataset_drift};
pub use column::{
    CategoricalColumnDrift, ColumnDriftConfig, DriftError, categorical_column_drift,
    numeric_column_drift,
};

use serde::{Deserialize, Serialize};

/// A drift method. Closed on purpose: its names are Prometheus label values and JSON
/// fields, so the set is bounded and each name is stable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Population stability index on reference bins.
    Psi,
    /// Two-sample Kolmogorov–Smirnov test (p-value).
    Ks,
    /// Wasserstein-1 distance divided by max(reference std, 0.001).
    Wasserstein,
    /// Jensen–Shannon distance (natural log) between binned distributions.
    JensenShannon,
    /// Chi-squared test on category counts (p-value).
    Chi2,
    /// Two-proportion z-test on a two-valued column (p-value).
    Z,
}

impl Method {
    /// Every method, in a stable order.
    pub const ALL: [Method; 6] = [
        Method::Psi,
        Method::Ks,
        Method::Wasserstein,
        Method::JensenShannon,
        Method::Chi2,
        Method::Z,
    ];

    /// The stable name: `psi|ks|wasserstein|jensen_shannon|chi2|z`.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Psi => "psi",
            Method::Ks => "ks",
            Method::Wasserstein => "wasserstein",
            Method::JensenShannon => "jensen_shannon",
            Method::Chi2 => "chi2",
            Method::Z => "z",
        }
    }

    /// Parses a stable name (the inverse of [`Method::as_str`]).
    pub fn from_name(name: &str) -> Option<Method> {
        Method::ALL.into_iter().find(|m| m.as_str() == name)
    }

    /// True for the methods whose score is a p-value (small means drift).
    pub fn is_p_value(self) -> bool {
        matches!(self, Method::Ks | Method::Chi2 | Method::Z)
    }

    /// How this method's score is compared with its threshold, as Evidently does it:
    /// KS drifts when `p <= threshold`, chi² and z when `p < threshold`, distances when
    /// `score >= threshold`.
    pub fn comparison(self) -> Comparison {
        match self {
            Method::Ks => Comparison::PValueAtMost,
            Method::Chi2 | Method::Z => Comparison::PValueBelow,
            Method::Psi | Method::Wasserstein | Method::JensenShannon => Comparison::ScoreAtLeast,
        }
    }

    /// Evidently's default threshold for this method: 0.05 for p-values, 0.1 for distances.
    pub fn default_threshold(self) -> f64 {
        if self.is_p_value() { 0.05 } else { 0.1 }
    }
}

impl std::str::FromStr for Method {
    type Err = UnknownMethod;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Method::from_name(s).ok_or_else(|| UnknownMethod(s.to_string()))
    }
}

/// A method name that is not one of [`Method::ALL`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown drift method `{0}`: use one of psi, ks, wasserstein, jensen_shannon, chi2, z")]
pub struct UnknownMethod(pub String);

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a score is compared with a threshold to decide drift.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Comparison {
    /// Drift when `p_value <= threshold` (Evidently's KS).
    PValueAtMost,
    /// Drift when `p_value < threshold` (Evidently's chi² and z).
    PValueBelow,
    /// Drift when `score >= threshold` (distances).
    ScoreAtLeast,
}

impl Comparison {
    /// Applies the comparison.
    pub fn drifted(self, score: f64, threshold: f64) -> bool {
        match self {
            Comparison::PValueAtMost => score <= threshold,
            Comparison::PValueBelow => score < threshold,
            Comparison::ScoreAtLeast => score >= threshold,
        }
    }
}

/// The outcome of one drift test on one column.
///
/// For p-value methods `score` is the p-value (as in Evidently's reports) and `p_value`
/// repeats it; for distances `p_value` is `None`. `statistic` is the test statistic
/// itself: KS `D`, Pearson's χ², the z statistic, PSI, the *raw* Wasserstein-1 distance
/// (`scipy.stats.wasserstein_distance`; the score is it divided by the reference std),
/// and the Jensen–Shannon distance.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct DriftResult {
    /// The method that produced the score.
    pub method: Method,
    /// The test statistic (see the type's docs); NaN when the test could not be computed.
    pub statistic: f64,
    /// The p-value (p-value methods) or the distance.
    pub score: f64,
    /// The p-value, for p-value methods only.
    pub p_value: Option<f64>,
    /// The threshold the score was compared with.
    pub threshold: f64,
    /// Whether the column drifted (see [`Method::comparison`]).
    pub drifted: bool,
}

impl DriftResult {
    /// Builds a result from a statistic and a score, deciding drift with the method's
    /// comparison.
    pub fn new(method: Method, statistic: f64, score: f64, threshold: f64) -> Self {
        DriftResult {
            method,
            statistic,
            score,
            p_value: method.is_p_value().then_some(score),
            threshold,
            drifted: method.comparison().drifted(score, threshold),
        }
    }
}

/// Debug-asserts the input contract: every value finite.
#[inline]
pub(crate) fn debug_assert_finite(values: &[f64]) {
    debug_assert!(
        values.iter().all(|v| v.is_finite()),
        "drift statistics take finite values; filter NaN/Inf before calling"
    );
}

/// Debug-asserts the input contract: finite and sorted ascending.
#[inline]
pub(crate) fn debug_assert_sorted(values: &[f64]) {
    debug_assert_finite(values);
    debug_assert!(
        values.windows(2).all(|w| w[0] <= w[1]),
        "drift statistics take samples sorted ascending"
    );
}

#[cfg(test)]
mod tests;
