//! Seeded, stratified splits: the holdout split and the cross-validation folds.
//!
//! Both shuffle each class's row indices with the crate's [`SeededRng`] seeded from the
//! run seed (a stream that is stable across platforms and crate versions), so the same
//! data and seed always give the same rows, and each part keeps the class balance of the
//! whole.

use crate::random::SeededRng;

/// Row indices of a train/holdout split.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HoldoutSplit {
    pub train: Vec<usize>,
    pub holdout: Vec<usize>,
}

/// Puts `round(fraction × n_class)` rows of each class into the holdout.
pub fn holdout(labels: &[bool], fraction: f64, seed: u64) -> HoldoutSplit {
    let mut rng = SeededRng::new(seed);
    let mut split = HoldoutSplit {
        train: Vec::new(),
        holdout: Vec::new(),
    };
    for class in [false, true] {
        let mut idx: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == class).collect();
        rng.shuffle(&mut idx);
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
    let mut rng = SeededRng::new(seed ^ 0x6b_666f_6c64);
    let mut folds = vec![Vec::new(); k];
    let mut next = 0;
    for class in [false, true] {
        let mut idx: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == class).collect();
        rng.shuffle(&mut idx);
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
