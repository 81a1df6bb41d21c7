//! Binning numeric samples the way Evidently does before PSI and Jensen–Shannon.
//!
//! Evidently's `get_binned_data(reference, current, feature_type, n)`
//! (`evidently/legacy/calculations/stattests/utils.py`, 0.7.23):
//! - numeric column with **more than 20 distinct reference values**: bin edges are
//!   `np.histogram_bin_edges(concat(reference, current), bins="sturges")` and each side's
//!   proportions are `np.histogram(side, edges)[0] / len(side)` ([`sturges_edges`],
//!   [`histogram_counts`]); the `n` argument is ignored on this path;
//! - otherwise (and for every categorical column): one bin per distinct value in the union
//!   of both samples, proportions `value_counts / len` ([`distinct_value_counts`]).
//!
//! Everything takes sorted slices and walks them once.

use super::debug_assert_sorted;

/// Evidently switches from one-bin-per-value to Sturges bins above this many distinct
/// reference values.
pub const MAX_DISTINCT_FOR_VALUE_BINS: usize = 20;

/// Aligned value counts over the union of two samples' distinct values.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DistinctCounts {
    /// The distinct values, ascending.
    pub values: Vec<f64>,
    /// How often each value occurs in the reference.
    pub reference: Vec<u64>,
    /// How often each value occurs in the current sample.
    pub current: Vec<u64>,
}

/// Number of distinct values in a sorted slice. O(n), no allocation.
pub fn count_distinct(sorted: &[f64]) -> usize {
    debug_assert_sorted(sorted);
    if sorted.is_empty() {
        return 0;
    }
    1 + sorted.windows(2).filter(|w| w[0] != w[1]).count()
}

/// Number of distinct values in the union of two sorted slices (pandas'
/// `concat([ref, cur]).nunique()`, which Evidently's `auto` choice counts). O(n + m).
pub fn count_distinct_union(a_sorted: &[f64], b_sorted: &[f64]) -> usize {
    let mut count = 0;
    merge_distinct(a_sorted, b_sorted, |_, _, _| count += 1);
    count
}

/// Counts every distinct value of the union of two sorted samples, on both sides.
pub fn distinct_value_counts(reference_sorted: &[f64], current_sorted: &[f64]) -> DistinctCounts {
    let mut out = DistinctCounts::default();
    merge_distinct(reference_sorted, current_sorted, |v, r, c| {
        out.values.push(v);
        out.reference.push(r);
        out.current.push(c);
    });
    out
}

/// Walks the distinct values of the union in ascending order, calling
/// `visit(value, count_in_a, count_in_b)`.
fn merge_distinct(a: &[f64], b: &[f64], mut visit: impl FnMut(f64, u64, u64)) {
    debug_assert_sorted(a);
    debug_assert_sorted(b);
    let (mut i, mut j) = (0usize, 0usize);
    while i < a.len() || j < b.len() {
        let x = match (a.get(i), b.get(j)) {
            (Some(&u), Some(&v)) => u.min(v),
            (Some(&u), None) => u,
            (None, Some(&v)) => v,
            (None, None) => unreachable!("loop condition"),
        };
        let (i0, j0) = (i, j);
        while i < a.len() && a[i] == x {
            i += 1;
        }
        while j < b.len() && b[j] == x {
            j += 1;
        }
        visit(x, (i - i0) as u64, (j - j0) as u64);
    }
}

/// `np.histogram_bin_edges(concat(a, b), bins="sturges")` for two sorted, non-empty
/// samples: `ceil(ptp / (ptp / (log2(N) + 1)))` equal-width bins between the pooled min
/// and max (±0.5 when they coincide), edges from `np.linspace` (`i · step + first`, last
/// edge exactly the max). Returns an empty vector when both samples are empty.
pub fn sturges_edges(a_sorted: &[f64], b_sorted: &[f64]) -> Vec<f64> {
    debug_assert_sorted(a_sorted);
    debug_assert_sorted(b_sorted);
    let n_total = a_sorted.len() + b_sorted.len();
    let first = a_sorted
        .first()
        .into_iter()
        .chain(b_sorted.first())
        .cloned()
        .fold(f64::INFINITY, f64::min);
    let last = a_sorted
        .last()
        .into_iter()
        .chain(b_sorted.last())
        .cloned()
        .fold(f64::NEG_INFINITY, f64::max);
    if n_total == 0 {
        return Vec::new();
    }
    // numpy's `_hist_bin_sturges` works on the data's ptp; `_get_outer_edges` widens a
    // zero range by 0.5 on each side.
    let ptp = last - first;
    let (first, last) = if first == last {
        (first - 0.5, last + 0.5)
    } else {
        (first, last)
    };
    let width = ptp / ((n_total as f64).log2() + 1.0);
    let bins = if width > 0.0 {
        ((last - first) / width).ceil() as usize
    } else {
        1
    };
    linspace(first, last, bins + 1)
}

/// `np.linspace(start, stop, num)` with `endpoint=True`.
fn linspace(start: f64, stop: f64, num: usize) -> Vec<f64> {
    if num == 1 {
        return vec![start];
    }
    let step = (stop - start) / (num - 1) as f64;
    let mut out: Vec<f64> = (0..num).map(|i| i as f64 * step + start).collect();
    out[num - 1] = stop;
    out
}

/// `np.histogram(sorted, edges)[0]`, written into `out` (length `edges.len() - 1`): bin i
/// holds values in `[e_i, e_{i+1})`, the last bin also its right edge; values outside the
/// edges are not counted. O(B log n), no allocation.
pub fn histogram_counts(sorted: &[f64], edges: &[f64], out: &mut [u64]) {
    debug_assert_sorted(sorted);
    debug_assert_eq!(out.len() + 1, edges.len());
    let bins = out.len();
    if bins == 0 {
        return;
    }
    let mut below = sorted.partition_point(|&v| v < edges[0]);
    for (i, slot) in out.iter_mut().enumerate() {
        let right = edges[i + 1];
        let upto = if i + 1 == bins {
            sorted.partition_point(|&v| v <= right)
        } else {
            sorted.partition_point(|&v| v < right)
        };
        *slot = (upto - below) as u64;
        below = upto;
    }
}

/// Evidently's binned proportions of a numeric column (see the module docs):
/// returns `(reference_proportions, current_proportions)`, zeros kept as zeros.
pub fn evidently_numeric_proportions(
    reference_sorted: &[f64],
    current_sorted: &[f64],
) -> (Vec<f64>, Vec<f64>) {
    let (nr, nc) = (reference_sorted.len() as f64, current_sorted.len() as f64);
    if count_distinct(reference_sorted) > MAX_DISTINCT_FOR_VALUE_BINS {
        let edges = sturges_edges(reference_sorted, current_sorted);
        let mut r = vec![0u64; edges.len() - 1];
        let mut c = vec![0u64; edges.len() - 1];
        histogram_counts(reference_sorted, &edges, &mut r);
        histogram_counts(current_sorted, &edges, &mut c);
        (
            r.iter().map(|&k| k as f64 / nr).collect(),
            c.iter().map(|&k| k as f64 / nc).collect(),
        )
    } else {
        let counts = distinct_value_counts(reference_sorted, current_sorted);
        (
            counts.reference.iter().map(|&k| k as f64 / nr).collect(),
            counts.current.iter().map(|&k| k as f64 / nc).collect(),
        )
    }
}
