//! Current numeric values counted against the reference instead of sampled: between the
//! reference values for KS ([`KsCounts`]), or into the reference's bins for PSI and
//! Jensen–Shannon ([`BinCounts`]). Either way a value's place depends on the value alone
//! (so a cell memo may remember it), counts of two parts of a stream add up, and the test
//! is exact on every row.

use super::bin_counts::BinCounts;
use super::ks_counts::KsCounts;

/// How a numeric column's current values are counted.
#[derive(Clone, Debug)]
pub enum NumericCounts {
    /// Between the distinct reference values, for KS.
    Ks(KsCounts),
    /// Into the reference's bins, for PSI and Jensen–Shannon.
    Bins(BinCounts),
}

impl NumericCounts {
    /// Where a finite value is counted (below `1 << 31`: bit 31 is the caller's).
    #[inline]
    pub fn locate(&self, x: f64) -> u32 {
        match self {
            NumericCounts::Ks(k) => k.locate(x),
            NumericCounts::Bins(b) => b.locate(x),
        }
    }

    /// Counts one value where [`NumericCounts::locate`] put it.
    #[inline]
    pub fn count(&mut self, slot: u32) {
        match self {
            NumericCounts::Ks(k) => k.count(slot),
            NumericCounts::Bins(b) => b.count_many(slot, 1),
        }
    }

    /// Counts `n` values where [`NumericCounts::locate`] put them.
    pub fn count_many(&mut self, slot: u32, n: u64) {
        match self {
            NumericCounts::Ks(k) => k.count_many(slot, n),
            NumericCounts::Bins(b) => b.count_many(slot, n),
        }
    }

    /// Counts one finite value.
    #[inline]
    pub fn push(&mut self, x: f64) {
        let slot = self.locate(x);
        self.count(slot);
    }

    /// Adds the counts of another part of the same stream (same reference, same kind).
    pub fn merge(&mut self, other: &NumericCounts) {
        match (self, other) {
            (NumericCounts::Ks(mine), NumericCounts::Ks(theirs)) => mine.merge(theirs),
            (NumericCounts::Bins(mine), NumericCounts::Bins(theirs)) => mine.merge(theirs),
            _ => debug_assert!(false, "merging counts of different kinds"),
        }
    }
}
