//! A seeded, fixed-size uniform sample of a stream (reservoir sampling, Algorithm L:
//! Li, "Reservoir-sampling algorithms of time complexity O(n(1 + log(N/n)))", ACM TOMS
//! 20(4), 1994). Algorithm L draws how many values to skip before the next replacement, so
//! past the first `capacity` values a push is a counter compare, not a random draw: that
//! matters on a 10-million-row file.
//!
//! While fewer than `capacity` values have been seen, the reservoir holds all of them, in
//! order; after that every value seen so far has the same probability of being held. The
//! generator is SplitMix64 (Steele, Lea, Flood, "Fast splittable pseudorandom number
//! generators", OOPSLA 2014): a few lines, good enough for sampling, and its output for a
//! seed never changes between releases, so a profile built twice is identical.

/// SplitMix64: a 64-bit seeded generator.
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform integer in `0..bound` (Lemire's multiply-shift; the bias is below 2^-32
    /// for the bounds a reservoir sees, irrelevant for sampling).
    pub fn below(&mut self, bound: u64) -> u64 {
        ((self.next_u64() as u128 * bound as u128) >> 64) as u64
    }
}

/// A uniform sample of at most `capacity` values from a stream.
#[derive(Clone, Debug)]
pub struct Reservoir<T> {
    capacity: usize,
    seen: u64,
    values: Vec<T>,
    rng: SplitMix64,
    /// Algorithm L state: the 1-based index of the next value to keep, and W.
    next: u64,
    w: f64,
}

impl<T> Reservoir<T> {
    pub fn new(capacity: usize, seed: u64) -> Self {
        Reservoir {
            capacity,
            seen: 0,
            values: Vec::new(),
            rng: SplitMix64::new(seed),
            next: 0,
            w: 1.0,
        }
    }

    /// Offers one value to the sample.
    #[inline]
    pub fn push(&mut self, value: T) {
        self.seen += 1;
        if self.values.len() < self.capacity {
            self.values.push(value);
            if self.values.len() == self.capacity {
                self.w = (self.uniform().ln() / self.capacity as f64).exp();
                self.skip();
            }
        } else if self.seen == self.next {
            let slot = self.rng.below(self.capacity as u64) as usize;
            self.values[slot] = value;
            self.w *= (self.uniform().ln() / self.capacity as f64).exp();
            self.skip();
        }
    }

    /// Sets `next` past a geometric number of values that will not be kept.
    fn skip(&mut self) {
        let gap = (self.uniform().ln() / (1.0 - self.w).ln()).floor();
        // A huge or non-finite gap (W ~ 1 in f64) means nothing more is ever kept.
        self.next = if gap.is_finite() && gap < 1e18 {
            self.seen + gap as u64 + 1
        } else {
            u64::MAX
        };
    }

    /// A uniform float in (0, 1].
    fn uniform(&mut self) -> f64 {
        ((self.rng.next_u64() >> 11) + 1) as f64 / (1u64 << 53) as f64
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
        shuffle(&mut self.values, rng);
        shuffle(&mut other.values, rng);
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

/// Fisher–Yates shuffle.
fn shuffle<T>(values: &mut [T], rng: &mut SplitMix64) {
    for i in (1..values.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        values.swap(i, j);
    }
}

#[cfg(test)]
mod tests;
