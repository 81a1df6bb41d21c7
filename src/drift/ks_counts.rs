//! The two-sample KS test on a stream: current values counted between the distinct
//! reference values, so the current sample is never stored or sorted.
//!
//! Both ECDFs are step functions. Between two neighbouring distinct reference values
//! `r_j < r_{j+1}` the reference ECDF is constant, and the current ECDF only rises, so
//! `|F_ref - F_cur|` over that gap is largest at one of its ends: at `r_j` itself, or at the
//! largest current value below `r_{j+1}`. Counting, per gap, the current values strictly
//! inside it and those equal to each `r_j` is therefore enough to find the exact `D` that
//! scipy's `ks_2samp` finds by sorting both samples — the same differences
//! `i / n1 - j / n2` of the same integers, so the same floating-point value, not an
//! approximation. The p-value then follows from `D`, `n` and `m` alone
//! ([`super::ks::from_extremes`]).
//!
//! Cost: per current value, one lookup in a table of equal-width buckets over the
//! reference range, then a binary search among the few reference values of that bucket
//! (a plain binary search over a few thousand values was half of `modelwatch drift
//! --method ks` on a million rows: a chain of dependent loads per value). Memory: two
//! counters and about two bucket entries per distinct reference value, whatever the size
//! of the current data. Counts of two parts of a stream add up ([`KsCounts::merge`]).

use super::debug_assert_sorted;
use super::ks::{KsResult, from_extremes};

/// Current values counted against the distinct values of a reference sample.
#[derive(Clone, Debug)]
pub struct KsCounts {
    /// Distinct reference values, ascending.
    points: Vec<f64>,
    /// Current values counted since the last flush, per slot (see [`KsCounts::locate`]):
    /// one flat array, so counting a located value is an increment without a branch on
    /// the kind of slot (values of a column fall below and on points in no set order).
    recent_counts: Vec<u32>,
    /// Reference values `<=` each point.
    reference_at_most: Vec<u64>,
    reference_len: u64,
    /// Counts moved out of `recent_counts` before a `u32` could overflow, per slot.
    flushed: Vec<u64>,
    flushed_len: u64,
    /// Values pushed since the last flush.
    recent: u32,
    buckets: Buckets,
}

/// Pushes between flushes: no `u32` counter can reach its maximum. Tests flush often, so
/// that the flushed and recent counts are both exercised.
#[cfg(not(test))]
const FLUSH_EVERY: u32 = 1 << 31;
#[cfg(test)]
const FLUSH_EVERY: u32 = 7;

/// Equal-width buckets over `[first point, last point]`: `starts[b]` is the number of
/// points whose bucket is below `b`. The bucket of a value is a monotone function of it,
/// so every point below a value's bucket is smaller than the value and every point above
/// it larger: the search for the value only needs the points of its own bucket.
/// At most this many buckets (256 KiB of `u32` starts).
const MAX_BUCKETS: usize = 1 << 16;
/// Points one bucket may hold before the buckets are made narrower.
const BUCKET_POINTS: usize = 2;

#[derive(Clone, Debug)]
struct Buckets {
    low: f64,
    scale: f64,
    last: usize,
    starts: Vec<u32>,
}

impl Buckets {
    /// Doubles the number of buckets (from about two per point, up to [`MAX_BUCKETS`])
    /// until no bucket holds more than [`BUCKET_POINTS`] points: skewed columns (incomes,
    /// assets) crowd most points into a few equal-width buckets otherwise.
    fn new(points: &[f64]) -> Buckets {
        let mut count = (points.len() * 2).next_power_of_two().clamp(1, MAX_BUCKETS);
        loop {
            let buckets = Buckets::with_count(points, count);
            let crowded = buckets
                .starts
                .windows(2)
                .any(|w| (w[1] - w[0]) as usize > BUCKET_POINTS);
            if !crowded || count >= MAX_BUCKETS {
                return buckets;
            }
            count *= 2;
        }
    }

    fn with_count(points: &[f64], count: usize) -> Buckets {
        let (low, high) = match (points.first(), points.last()) {
            (Some(&l), Some(&h)) => (l, h),
            _ => (0.0, 0.0),
        };
        // A range that overflows (or a single point) gives scale 0: one bucket, a plain
        // binary search, still exact.
        let scale = if high > low && (high - low).is_finite() {
            count as f64 / (high - low)
        } else {
            0.0
        };
        let mut buckets = Buckets {
            low,
            scale,
            last: count - 1,
            starts: vec![0; count + 1],
        };
        for &p in points {
            let b = buckets.of(p);
            buckets.starts[b + 1] += 1;
        }
        for b in 1..=count {
            buckets.starts[b] += buckets.starts[b - 1];
        }
        buckets
    }

    #[inline]
    fn of(&self, x: f64) -> usize {
        // `as usize` saturates: below `low` (negative) is bucket 0.
        (((x - self.low) * self.scale) as usize).min(self.last)
    }

    /// The points that may hold the position of `x`: `start..end`.
    #[inline]
    fn range(&self, x: f64) -> (usize, usize) {
        let b = self.of(x);
        (self.starts[b] as usize, self.starts[b + 1] as usize)
    }
}

impl KsCounts {
    /// Counters for a sorted, finite reference sample (see [`crate::drift`]'s contract).
    pub fn new(reference_sorted: &[f64]) -> Self {
        debug_assert_sorted(reference_sorted);
        let mut points: Vec<f64> = Vec::new();
        let mut reference_at_most: Vec<u64> = Vec::new();
        for (i, &x) in reference_sorted.iter().enumerate() {
            if points.last() == Some(&x) {
                *reference_at_most.last_mut().expect("same length as points") = i as u64 + 1;
            } else {
                points.push(x);
                reference_at_most.push(i as u64 + 1);
            }
        }
        let buckets = Buckets::new(&points);
        KsCounts {
            buckets,
            flushed: vec![0; 2 * points.len() + 1],
            recent_counts: vec![0; 2 * points.len() + 1],
            points,
            reference_at_most,
            reference_len: reference_sorted.len() as u64,
            flushed_len: 0,
            recent: 0,
        }
    }

    /// Counts one finite current value.
    #[inline]
    pub fn push(&mut self, x: f64) {
        let slot = self.locate(x);
        self.count(slot);
    }

    /// Where `x` is counted: `2j` below point `j` (and above point `j - 1`), `2j + 1`
    /// equal to point `j`, `2 * points` above the last point. The same value always has
    /// the same slot, so a caller may remember it ([`KsCounts::count`]).
    #[inline]
    pub fn locate(&self, x: f64) -> u32 {
        let (start, end) = self.buckets.range(x);
        let j = start + self.points[start..end].partition_point(|&p| p < x);
        let equal = self.points.get(j).is_some_and(|&p| p == x);
        (2 * j + usize::from(equal)) as u32
    }

    /// Counts one value in the slot [`KsCounts::locate`] gave for it.
    #[inline]
    pub fn count(&mut self, slot: u32) {
        self.recent_counts[slot as usize] += 1;
        self.recent += 1;
        if self.recent == FLUSH_EVERY {
            self.flush();
        }
    }

    /// Counts `n` values in the slot [`KsCounts::locate`] gave for them.
    pub fn count_many(&mut self, slot: u32, n: u64) {
        self.flushed[slot as usize] += n;
        self.flushed_len += n;
    }

    /// Moves the recent counts into the `u64` slots.
    fn flush(&mut self) {
        for (all, recent) in self.flushed.iter_mut().zip(self.recent_counts.iter_mut()) {
            *all += u64::from(std::mem::take(recent));
        }
        self.flushed_len += u64::from(std::mem::take(&mut self.recent));
    }

    /// The count of slot `s` ([`KsCounts::locate`]).
    fn slot(&self, s: usize) -> u64 {
        self.flushed[s] + u64::from(self.recent_counts[s])
    }

    /// The counted values, each slot as one value standing for it with its count: a
    /// reference value for the values equal to it, the midpoint of two neighbouring
    /// reference values for those strictly between them, the outermost reference value
    /// for those beyond it. For charts: exact for every bin edge that is a reference value.
    pub fn placed(&self) -> Vec<(f64, u64)> {
        let last = self.points.len().saturating_sub(1);
        (0..self.flushed.len())
            .filter_map(|s| {
                let count = self.slot(s);
                let j = s / 2;
                let value = if s % 2 == 1 {
                    self.points[j]
                } else if j == 0 || j > last {
                    self.points[j.min(last)]
                } else {
                    (self.points[j - 1] + self.points[j]) / 2.0
                };
                (count > 0 && !self.points.is_empty()).then_some((value, count))
            })
            .collect()
    }

    /// Adds the counts of another part of the same stream, counted against the same
    /// reference.
    pub fn merge(&mut self, other: &KsCounts) {
        debug_assert_eq!(self.flushed.len(), other.flushed.len());
        self.flush();
        for (s, mine) in self.flushed.iter_mut().enumerate() {
            *mine += other.slot(s);
        }
        self.flushed_len += other.current_len();
    }

    /// Current values counted.
    pub fn current_len(&self) -> u64 {
        self.flushed_len + u64::from(self.recent)
    }

    /// `scipy.stats.ks_2samp(reference, current)` (two-sided, `method="auto"`); `None` when
    /// either side is empty.
    pub fn ks_2samp(&self) -> Option<KsResult> {
        let current_len = self.current_len();
        if self.reference_len == 0 || current_len == 0 {
            return None;
        }
        let (n, m) = (self.reference_len as f64, current_len as f64);
        // The same start as the merge walk in `ks`: the last pooled value gives a difference
        // of exactly 0, so `max_minus` starting at 0 equals scipy's clipping.
        let (mut max_plus, mut max_minus) = (f64::NEG_INFINITY, 0.0f64);
        let mut eval = |reference: u64, current: u64| {
            let diff = reference as f64 / n - current as f64 / m;
            max_plus = max_plus.max(diff);
            max_minus = max_minus.max(-diff);
        };
        let mut current = 0u64;
        let mut reference_before = 0u64;
        for (j, &reference) in self.reference_at_most.iter().enumerate() {
            let inside = self.slot(2 * j);
            if inside > 0 {
                // At the largest current value of the gap, the reference ECDF is unchanged.
                current += inside;
                eval(reference_before, current);
            }
            current += self.slot(2 * j + 1);
            eval(reference, current);
            reference_before = reference;
        }
        let above = self.slot(self.flushed.len() - 1);
        if above > 0 {
            eval(self.reference_len, current + above);
        }
        Some(from_extremes(
            self.reference_len,
            current_len,
            max_plus,
            max_minus.clamp(0.0, 1.0),
        ))
    }
}
