//! A seeded, fixed-size uniform sample of a stream (reservoir sampling, Algorithm R:
//! Vitter, "Random sampling with a reservoir", ACM TOMS 11(1), 1985, after Waterman): the
//! `t`-th value replaces a uniformly chosen slot with probability `capacity / t`, decided
//! by one draw `below(t) < capacity`. That draw is a few nanoseconds; Algorithm L (Li 1994),
//! used before, skips values without drawing but pays three logarithms or exponentials per
//! replacement, and on files of 10^5–10^7 rows per 10^5-value reservoir the replacements
//! made it the largest cost of `modelwatch drift` (a third of its CPU time at 10^6 rows).
//!
//! While fewer than `capacity` values have been seen, the reservoir holds all of them, in
//! order; after that every value seen so far has the same probability of being held. The
//! generator is the crate's [`SeededRng`], so a profile built twice is identical.

use crate::random::SeededRng;

/// A uniform sample of at most `capacity` values from a stream.
#[derive(Clone, Debug)]
pub struct Reservoir<T> {
    capacity: usize,
    seen: u64,
    values: Vec<T>,
    rng: SeededRng,
}

impl<T> Reservoir<T> {
    pub fn new(capacity: usize, seed: u64) -> Self {
        Reservoir {
            capacity,
            seen: 0,
            values: Vec::new(),
            rng: SeededRng::new(seed),
        }
    }

    /// Offers one value to the sample.
    #[inline]
    pub fn push(&mut self, value: T) {
        self.seen += 1;
        if self.values.len() < self.capacity {
            self.values.push(value);
        } else if self.capacity > 0 {
            let slot = self.rng.below(self.seen);
            if slot < self.capacity as u64 {
                self.values[slot as usize] = value;
            }
        }
    }

    /// Values offered so far.
    pub fn seen(&self) -> u64 {
        self.seen
    }

    /// True while the sample still holds every value offered.
    pub fn is_complete(&self) -> bool {
        self.seen as usize == self.values.len()
    }

    /// Merges two reservoirs of the same capacity that sampled disjoint parts of one stream
    /// into a uniform sample of the whole: each side contributes a share drawn as sampling
    /// without replacement from the two populations, taken from a shuffled copy of its
    /// sample (reservoir slots are not in random order). Complete samples concatenate.
    pub fn merge(mut self, mut other: Reservoir<T>) -> Reservoir<T> {
        let total = self.seen + other.seen;
        if total as usize <= self.capacity {
            self.values.append(&mut other.values);
            self.seen = total;
            return self;
        }
        let rng = &mut self.rng;
        let (mut left_a, mut left_b) = (self.seen, other.seen);
        let mut take_a = 0usize;
        for _ in 0..self.capacity {
            if rng.below(left_a + left_b) < left_a {
                take_a += 1;
                left_a -= 1;
            } else {
                left_b -= 1;
            }
        }
        rng.shuffle(&mut self.values);
        rng.shuffle(&mut other.values);
        self.values.truncate(take_a);
        other.values.truncate(self.capacity - take_a);
        self.values.append(&mut other.values);
        self.seen = total;
        self
    }

    pub fn into_values(self) -> Vec<T> {
        self.values
    }

    pub fn values(&self) -> &[T] {
        &self.values
    }
}

#[cfg(test)]
mod tests;
