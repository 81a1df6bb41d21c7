//! Seeded, stratified splits: the holdout split and the cross-validation folds.
//!
//! Both shuffle each class's row indices with ChaCha8 seeded from the run seed (a stream
//! that is stable across platforms and crate versions), so the same data and seed always
//! give the same rows, and each part keeps the class balance of the whole.
//!
//! The shuffle and the uniform draw are written here on `rand_core` (re-exported by
//! `rand_chacha`) rather than taken from `rand`: the crate's dev-dependencies use a newer
//! `rand`, and two versions under one name do not build together.

pub use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::RngCore;
pub use rand_chacha::rand_core::SeedableRng;

/// A uniform integer in `0..bound` (rejection sampling, so without modulo bias).
fn below(rng: &mut ChaCha8Rng, bound: u64) -> u64 {
    let zone = u64::MAX - u64::MAX % bound;
    loop {
        let x = rng.next_u64();
        if x < zone {
            return x % bound;
        }
    }
}

/// Fisher–Yates shuffle.
pub fn shuffle<T>(items: &mut [T], rng: &mut ChaCha8Rng) {
    for i in (1..items.len()).rev() {
        let j = below(rng, i as u64 + 1) as usize;
        items.swap(i, j);
    }
}

/// A uniform float in [0, 1) with 53 random bits.
pub fn unit(rng: &mut ChaCha8Rng) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// Row indices of a train/holdout split.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HoldoutSplit {
    pub train: Vec<usize>,
    pub holdout: Vec<usize>,
}

/// Puts `round(fraction × n_class)` rows of each class into the holdout.
pub fn holdout(labels: &[bool], fraction: f64, seed: u64) -> HoldoutSplit {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut split = HoldoutSplit {
        train: Vec::new(),
        holdout: Vec::new(),
    };
    for class in [false, true] {
        let mut idx: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == class).collect();
        shuffle(&mut idx, &mut rng);
        let n_holdout = (fraction * idx.len() as f64).round() as usize;
        split.holdout.extend_from_slice(&idx[..n_holdout]);
        split.train.extend_from_slice(&idx[n_holdout..]);
    }
    split.train.sort_unstable();
    split.holdout.sort_unstable();
    split
}

/// Stratified k-fold: returns, for each fold, the positions (into `labels`) of its
/// validation rows. Each class is shuffled and dealt round-robin over the folds.
pub fn stratified_folds(labels: &[bool], k: usize, seed: u64) -> Vec<Vec<usize>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x6b_666f_6c64);
    let mut folds = vec![Vec::new(); k];
    let mut next = 0;
    for class in [false, true] {
        let mut idx: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == class).collect();
        shuffle(&mut idx, &mut rng);
        for i in idx {
            folds[next % k].push(i);
            next += 1;
        }
    }
    for f in &mut folds {
        f.sort_unstable();
    }
    folds
}
