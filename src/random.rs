//! The crate's one source of random numbers: [`SeededRng`], ChaCha8 from `rand`, always
//! seeded from a `u64` the caller chose (a flag, a config key or a constant), never from
//! the system. Profiles' reservoir samples, training's splits and perturbations, the
//! multivariate drift's folds and replay's row order and injections all draw from it, so
//! the same inputs and seed give the same bytes on every platform. ChaCha8 is a named
//! algorithm whose stream `rand` does not change between releases (unlike `StdRng`); taken
//! from it in 256-byte batches, a draw is cheap enough for one per value in a reservoir.
//!
//! Ids are not drawn from it: request and event ids (UUID v7) must differ between runs, and
//! `uuid` takes their random bits from `rand`'s thread-local generator.

use rand::{Rng as _, SeedableRng as _};

/// A seeded generator with the few draws the crate needs. Boxed: it keeps ChaCha8's state
/// and a buffer of its output (a few hundred bytes), and a reservoir per column holds one.
#[derive(Debug)]
pub struct SeededRng(Box<Buffered>);

/// ChaCha8 and the next [`BUFFER_BYTES`] bytes of its stream. `next_u64` straight from
/// `rand` cost about 65 instructions a draw, most of it the call through the block
/// generator's bookkeeping, and a draw per value made it 15% of `modelwatch drift` at
/// 10^6 rows; taking the stream 256 bytes at a time makes a draw a few loads. The bytes
/// are the same stream in the same order (`next_u64` and `fill_bytes` both read the
/// 32-bit words in sequence, low word first), so every seeded output is unchanged.
#[derive(Debug)]
struct Buffered {
    rng: rand::rngs::ChaCha8Rng,
    bytes: [u8; BUFFER_BYTES],
    /// The next unread byte of `bytes` (`BUFFER_BYTES`: none left).
    at: usize,
}

/// Output taken from ChaCha8 at a time: its four-block batch.
const BUFFER_BYTES: usize = 256;

/// `ChaCha8Rng` is not `Clone`; a copy is the same key, stream and position, with the same
/// unread bytes, so it draws what the original would (reservoirs are cloned with their
/// generator).
impl Clone for SeededRng {
    fn clone(&self) -> Self {
        let inner = &self.0;
        let mut copy = rand::rngs::ChaCha8Rng::from_seed(inner.rng.get_seed());
        copy.set_stream(inner.rng.get_stream());
        copy.set_word_pos(inner.rng.get_word_pos());
        SeededRng(Box::new(Buffered {
            rng: copy,
            bytes: inner.bytes,
            at: inner.at,
        }))
    }
}

impl SeededRng {
    pub fn new(seed: u64) -> Self {
        SeededRng(Box::new(Buffered {
            rng: rand::rngs::ChaCha8Rng::seed_from_u64(seed),
            bytes: [0; BUFFER_BYTES],
            at: BUFFER_BYTES,
        }))
    }

    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        let inner = &mut *self.0;
        if inner.at == BUFFER_BYTES {
            inner.rng.fill_bytes(&mut inner.bytes);
            inner.at = 0;
        }
        let word: [u8; 8] = inner.bytes[inner.at..inner.at + 8]
            .try_into()
            .expect("8 bytes");
        inner.at += 8;
        u64::from_le_bytes(word)
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
