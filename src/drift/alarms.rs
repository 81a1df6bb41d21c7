//! Alarms controlled across features and over time.
//!
//! A per-column test at α = 0.05 raises a false alarm on 5% of undrifted columns; 50
//! features evaluated every 15 s make thousands of such alarms a day. Two controls:
//! - **across the features of one evaluation** ([`Correction`]): Bonferroni (column `i`
//!   drifts when `p_i <= α_i / m`, controlling the chance of any false alarm) or
//!   Benjamini–Hochberg (step-up: sort the `m` p-values, find the largest rank `j` with
//!   `p_(j) <= j α_(j) / m`, and flag every column up to it; controls the expected share of
//!   false alarms among the flagged, Benjamini & Hochberg 1995). Only tests with a p-value
//!   (ks, chi2, z) take part, `m` is their number; distance methods keep their verdict.
//! - **over time** ([`Persistence`], [`AlarmHistory`]): a column is reported drifted only
//!   when it drifted in at least `k` of the last `n` evaluations.
//!
//! The defaults (`docs/drift-alarms.md`) come from the calibration benchmark
//! `benches/drift_calibration.rs`.

use serde::{Deserialize, Serialize};

/// A multiple-testing correction across the p-value tests of one evaluation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Correction {
    /// Each test at its own threshold.
    #[default]
    None,
    /// `p_i <= α_i / m`.
    Bonferroni,
    /// The Benjamini–Hochberg step-up procedure.
    BenjaminiHochberg,
}

impl Correction {
    /// Every correction, in a stable order.
    pub const ALL: [Correction; 3] = [
        Correction::None,
        Correction::Bonferroni,
        Correction::BenjaminiHochberg,
    ];

    /// The stable name: `none|bonferroni|benjamini_hochberg`.
    pub fn as_str(self) -> &'static str {
        match self {
            Correction::None => "none",
            Correction::Bonferroni => "bonferroni",
            Correction::BenjaminiHochberg => "benjamini_hochberg",
        }
    }

    /// Parses a stable name (the inverse of [`Correction::as_str`]).
    pub fn from_name(name: &str) -> Option<Correction> {
        Correction::ALL.into_iter().find(|c| c.as_str() == name)
    }

    /// The verdicts of the tests `(p_value, threshold)` of one evaluation, in input
    /// order. With [`Correction::None`] a test drifts when `p <= threshold`.
    pub fn verdicts(self, tests: &[(f64, f64)]) -> Vec<bool> {
        let m = tests.len() as f64;
        match self {
            Correction::None => tests.iter().map(|&(p, a)| p <= a).collect(),
            Correction::Bonferroni => tests.iter().map(|&(p, a)| p <= a / m).collect(),
            Correction::BenjaminiHochberg => {
                let mut order: Vec<usize> = (0..tests.len()).collect();
                order.sort_by(|&i, &j| tests[i].0.total_cmp(&tests[j].0));
                let cutoff = order
                    .iter()
                    .enumerate()
                    .rev()
                    .find(|&(rank, &i)| tests[i].0 <= (rank + 1) as f64 * tests[i].1 / m)
                    .map_or(0, |(rank, _)| rank + 1);
                let mut out = vec![false; tests.len()];
                for &i in &order[..cutoff] {
                    out[i] = true;
                }
                out
            }
        }
    }
}

/// Report drift only after it was seen in at least `k` of the last `n` evaluations
/// (`1/1`: every evaluation stands alone).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Persistence {
    pub k: u32,
    pub n: u32,
}

impl Persistence {
    /// No persistence: `1/1`.
    pub const NONE: Persistence = Persistence { k: 1, n: 1 };
    /// The most evaluations remembered.
    pub const MAX_N: u32 = 32;

    /// Parses `K/N` with `1 <= K <= N <= 32`; the error says what is wrong.
    pub fn parse(text: &str) -> Result<Persistence, String> {
        let bad = || {
            format!(
                "{text:?} is not K/N: give how many of the last N evaluations must drift, \
                 e.g. \"2/3\" (1 <= K <= N <= {})",
                Persistence::MAX_N
            )
        };
        let (k, n) = text.trim().split_once('/').ok_or_else(bad)?;
        let (k, n): (u32, u32) = (
            k.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        if !(1 <= k && k <= n && n <= Persistence::MAX_N) {
            return Err(bad());
        }
        Ok(Persistence { k, n })
    }
}

impl std::fmt::Display for Persistence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.k, self.n)
    }
}

/// The recent verdicts of one column, newest in bit 0.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AlarmHistory(u32);

impl AlarmHistory {
    /// Records this evaluation's verdict and says whether the column is reported drifted:
    /// at least `k` drifted verdicts among the last `n`.
    pub fn record(&mut self, drifted: bool, rule: Persistence) -> bool {
        self.0 = (self.0 << 1) | u32::from(drifted);
        let recent = if rule.n >= 32 {
            self.0
        } else {
            self.0 & ((1u32 << rule.n) - 1)
        };
        recent.count_ones() >= rule.k
    }
}

#[cfg(test)]
mod tests;
