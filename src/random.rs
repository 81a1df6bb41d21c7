//! The crate's one source of random numbers: [`SeededRng`], ChaCha8 from `rand`, always
//! seeded from a `u64` the caller chose (a flag, a config key or a constant), never from
//! the system. Profiles' reservoir samples, training's splits and perturbations, the
//! multivariate drift's folds and replay's row order and injections all draw from it, so
//! the same inputs and seed give the same bytes on every platform. ChaCha8 is a named
//! algorithm whose stream `rand` does not change between releases (unlike `StdRng`), and
//! it draws in about a nanosecond, fast enough for one draw per value in a reservoir.

use rand::{Rng as _, SeedableRng as _};

/// A seeded generator with the few draws the crate needs. Boxed: ChaCha8 keeps a block
/// of output beside its state (a few hundred bytes), and a reservoir per column holds one.
#[derive(Debug)]
pub struct SeededRng(Box<rand::rngs::ChaCha8Rng>);

/// `ChaCha8Rng` is not `Clone`; a copy is the same key, stream and position, so it draws
/// what the original would (reservoirs are cloned with their generator).
impl Clone for SeededRng {
    fn clone(&self) -> Self {
        let mut copy = rand::rngs::ChaCha8Rng::from_seed(self.0.get_seed());
        copy.set_stream(self.0.get_stream());
        copy.set_word_pos(self.0.get_word_pos());
        SeededRng(Box::new(copy))
    }
}

impl SeededRng {
    pub fn new(seed: u64) -> Self {
        SeededRng(Box::new(rand::rngs::ChaCha8Rng::seed_from_u64(seed)))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// A uniform integer in `0..bound` (`bound > 0`), without bias: Lemire's multiply-shift
    /// with rejection ("Fast random integer generation in an interval", ACM TOMACS 29(1),
    /// 2019), which divides only in the rare case that a draw lands in the biased zone.
    pub fn below(&mut self, bound: u64) -> u64 {
        let mut product = u128::from(self.next_u64()) * u128::from(bound);
        if (product as u64) < bound {
            let threshold = bound.wrapping_neg() % bound;
            while (product as u64) < threshold {
                product = u128::from(self.next_u64()) * u128::from(bound);
            }
        }
        (product >> 64) as u64
    }

    /// A uniform float in [0, 1) with 53 random bits.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Fisher–Yates shuffle.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }
}

#[cfg(test)]
mod tests;
