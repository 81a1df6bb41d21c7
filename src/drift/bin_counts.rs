//! Numeric PSI and Jensen–Shannon on a stream: current values counted into bins fixed by
//! the reference alone, so the score is exact on every row and does not depend on a
//! sample, on the order of the rows or on how a file is split into ranges.
//!
//! The bins follow Evidently's rules (`get_binned_data`,
//! `evidently/legacy/calculations/stattests/utils.py`, 0.7.23), with one change that makes
//! them countable before the current data is known: Evidently takes its edges from the
//! *pooled* samples, `np.histogram_bin_edges(concat(reference, current), "sturges")`, so
//! they move with the current data's size and range; here they come from the reference:
//! - more than 20 distinct reference values: `np.histogram_bin_edges(reference,
//!   "sturges")`, the outer bins open-ended (current values below the reference minimum
//!   count in the first bin, above the maximum in the last, where Evidently's pooled edges
//!   put them too);
//! - otherwise one bin per distinct reference value, as Evidently, and one more bin for
//!   every current value that equals none of them (Evidently gives each such value its own
//!   bin; reference share 0 either way). The extra bin only exists when it holds values.
//!
//! When the current values lie within the reference range and the reference has more
//! than 20 distinct values, the only difference from Evidently is the bin count: Sturges'
//! `ceil(log2(n) + 1)` of the reference size instead of the pooled size (fewer bins when
//! the current data is large, where the pooled rule makes PSI grow with `n` even under no
//! drift). The fixtures (`tests/fixtures/drift/generate.py`) hold both: these bins
//! computed with numpy, and Evidently's own values.
//!
//! Cost per current value: a binary search among at most ~25 edges or 20 values.

use super::binning::{
    MAX_DISTINCT_FOR_VALUE_BINS, count_distinct, histogram_counts, sturges_edges,
};
use super::debug_assert_sorted;

/// How a value finds its bin.
#[derive(Clone, Debug, PartialEq)]
enum Layout {
    /// The inner edges of equal-width bins: bin `i` holds `[e_i, e_{i+1})`, outer bins
    /// open-ended.
    Edges(Vec<f64>),
    /// One bin per distinct reference value, then one for any other value.
    Values(Vec<f64>),
}

/// Current values counted into the reference's bins, beside the reference's own counts.
#[derive(Clone, Debug, PartialEq)]
pub struct BinCounts {
    layout: Layout,
    reference: Vec<u64>,
    reference_len: u64,
    current: Vec<u64>,
}

impl BinCounts {
    /// The bins of a sorted, finite reference sample (see [`crate::drift`]'s contract),
    /// with no current value counted yet.
    pub fn new(reference_sorted: &[f64]) -> Self {
        debug_assert_sorted(reference_sorted);
        let (layout, reference) = if count_distinct(reference_sorted) > MAX_DISTINCT_FOR_VALUE_BINS
        {
            let edges = sturges_edges(reference_sorted, &[]);
            let mut counts = vec![0; edges.len() - 1];
            histogram_counts(reference_sorted, &edges, &mut counts);
            (Layout::Edges(edges[1..edges.len() - 1].to_vec()), counts)
        } else {
            let mut values: Vec<f64> = Vec::new();
            let mut counts: Vec<u64> = Vec::new();
            for &x in reference_sorted {
                if values.last() == Some(&x) {
                    *counts.last_mut().expect("same length as values") += 1;
                } else {
                    values.push(x);
                    counts.push(1);
                }
            }
            counts.push(0);
            (Layout::Values(values), counts)
        };
        BinCounts {
            current: vec![0; reference.len()],
            reference,
            reference_len: reference_sorted.len() as u64,
            layout,
        }
    }

    /// The bins of `reference_sorted` with the values of `current_sorted` counted.
    pub fn of_samples(reference_sorted: &[f64], current_sorted: &[f64]) -> Self {
        let mut counts = BinCounts::new(reference_sorted);
        for &x in current_sorted {
            counts.push(x);
        }
        counts
    }

    /// The bin of a finite value. The same value always has the same bin, so a caller may
    /// remember it ([`BinCounts::count_many`]).
    #[inline]
    pub fn locate(&self, x: f64) -> u32 {
        let bin = match &self.layout {
            Layout::Edges(inner) => inner.partition_point(|&e| e <= x),
            Layout::Values(values) => {
                let j = values.partition_point(|&v| v < x);
                if values.get(j) == Some(&x) {
                    j
                } else {
                    values.len()
                }
            }
        };
        bin as u32
    }

    /// Counts one finite current value.
    #[inline]
    pub fn push(&mut self, x: f64) {
        let bin = self.locate(x);
        self.count_many(bin, 1);
    }

    /// Counts `n` values in the bin [`BinCounts::locate`] gave for them.
    #[inline]
    pub fn count_many(&mut self, bin: u32, n: u64) {
        self.current[bin as usize] += n;
    }

    /// Adds the counts of another part of the same stream, counted against the same
    /// reference.
    pub fn merge(&mut self, other: &BinCounts) {
        debug_assert_eq!(self.layout, other.layout);
        for (mine, theirs) in self.current.iter_mut().zip(&other.current) {
            *mine += theirs;
        }
    }

    /// Current values counted.
    pub fn current_len(&self) -> u64 {
        self.current.iter().sum()
    }

    /// Reference values in the bins.
    pub fn reference_len(&self) -> u64 {
        self.reference_len
    }

    /// A label per bin of [`BinCounts::proportions`] (same order and length when both
    /// sides have values), for charts: `[a, b)` ranges with open outer ends, or the
    /// reference value itself, and `other` for values the reference lacks.
    pub fn bin_labels(&self) -> Vec<String> {
        let n = |x: f64| super::histogram::number(x);
        let mut labels: Vec<String> = match &self.layout {
            Layout::Edges(inner) => (0..=inner.len())
                .map(
                    |i| match (i.checked_sub(1).map(|j| inner[j]), inner.get(i)) {
                        (None, Some(&hi)) => format!("< {}", n(hi)),
                        (Some(lo), None) => format!("≥ {}", n(lo)),
                        (Some(lo), Some(&hi)) => format!("[{}, {})", n(lo), n(hi)),
                        (None, None) => "all".to_string(),
                    },
                )
                .collect(),
            Layout::Values(values) => values
                .iter()
                .map(|&v| n(v))
                .chain(["other".to_string()])
                .collect(),
        };
        if matches!(self.layout, Layout::Values(_)) && self.current.last() == Some(&0) {
            labels.pop();
        }
        labels
    }

    /// `(reference_proportions, current_proportions)` over the bins, zeros kept (the
    /// input of [`super::psi::psi_proportions`] and
    /// [`super::jensen_shannon::jensen_shannon_distance`]). Empty when either side has no
    /// value.
    pub fn proportions(&self) -> (Vec<f64>, Vec<f64>) {
        let (nr, nc) = (self.reference_len, self.current_len());
        if nr == 0 || nc == 0 {
            return (Vec::new(), Vec::new());
        }
        let mut bins = self.reference.len();
        if matches!(self.layout, Layout::Values(_)) && self.current[bins - 1] == 0 {
            // The bin of values the reference lacks exists only when it holds some.
            bins -= 1;
        }
        let share = |counts: &[u64], n: u64| -> Vec<f64> {
            counts[..bins]
                .iter()
                .map(|&k| k as f64 / n as f64)
                .collect()
        };
        (share(&self.reference, nr), share(&self.current, nc))
    }
}

#[cfg(test)]
mod tests;
