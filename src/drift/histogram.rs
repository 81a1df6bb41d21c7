//! The reference beside the current data, bin by bin: what the drift page and the HTML
//! report draw for a column (the `page` module).
//!
//! Numeric columns use the reference profile's bins (`NumericProfile::edges`) and its
//! proportions; the current side is the current column counted into the same bins, from
//! its sample or, for a column counted between the reference values for KS, from those
//! counts ([`KsCounts::placed`](super::ks_counts::KsCounts::placed)). A column counted
//! into PSI / Jensen–Shannon bins is drawn in those bins, the ones its score was computed
//! on. Categorical and boolean columns show each category ([`aligned_categories`]), the
//! unseen ones included.

use super::counts::NumericCounts;
use super::current::{CurrentColumn, aligned_categories};
use crate::profile::ColumnProfile;
use crate::profile::schema::ColumnKind;
use serde::Serialize;

/// Bars drawn at most: a column with more categories shows the largest ones and one bar
/// for the rest, so the page stays readable and its size bounded.
pub const MAX_BARS: usize = 30;

/// Two distributions over the same bars.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Histogram {
    /// One label per bar: a range `[a, b)`, a value or a category.
    pub labels: Vec<String>,
    /// Share of the reference's valid values per bar.
    pub reference: Vec<f64>,
    /// Share of the current valid values per bar (all zero when there are none).
    pub current: Vec<f64>,
}

/// The histogram of one column; `None` when the reference has no distribution to show
/// (no valid value).
pub fn histogram(reference: &ColumnProfile, current: &CurrentColumn) -> Option<Histogram> {
    let histogram = match reference.kind {
        ColumnKind::Numeric => numeric(reference, current)?,
        ColumnKind::Categorical | ColumnKind::Boolean => {
            let rows = aligned_categories(reference, current);
            if rows.is_empty() {
                return None;
            }
            let (labels, (r, c)): (Vec<String>, (Vec<u64>, Vec<u64>)) = rows
                .into_iter()
                .map(|(label, r, c)| (label.to_string(), (r, c)))
                .unzip();
            Histogram {
                labels,
                reference: shares(&r),
                current: shares(&c),
            }
        }
    };
    Some(capped(histogram))
}

fn numeric(reference: &ColumnProfile, current: &CurrentColumn) -> Option<Histogram> {
    let profile = reference.numeric.as_ref()?;
    if let Some(NumericCounts::Bins(bins)) = &current.counts {
        let (r, c) = bins.proportions();
        let labels = bins.bin_labels();
        return (!r.is_empty() && labels.len() == r.len()).then_some(Histogram {
            labels,
            reference: r,
            current: c,
        });
    }
    let bars = profile.bin_count();
    if profile.proportions.len() != bars {
        return None;
    }
    let mut counts = vec![0u64; bars];
    match &current.counts {
        Some(NumericCounts::Ks(ks)) => {
            for (value, n) in ks.placed() {
                counts[profile.bin_of(value).min(bars - 1)] += n;
            }
        }
        _ => {
            for &value in current.sample.values() {
                counts[profile.bin_of(value).min(bars - 1)] += 1;
            }
        }
    }
    let edges = &profile.edges;
    let labels = if edges.len() < 2 {
        vec![edges.first().map_or_else(String::new, |&x| number(x))]
    } else {
        edges
            .windows(2)
            .enumerate()
            .map(|(i, w)| {
                let close = if i + 2 == edges.len() { ']' } else { ')' };
                format!("[{}, {}{close}", number(w[0]), number(w[1]))
            })
            .collect()
    };
    Some(Histogram {
        labels,
        reference: profile.proportions.clone(),
        current: shares(&counts),
    })
}

/// Counts as shares of their sum (zeros when the sum is 0).
fn shares(counts: &[u64]) -> Vec<f64> {
    let total: u64 = counts.iter().sum();
    counts
        .iter()
        .map(|&k| {
            if total == 0 {
                0.0
            } else {
                k as f64 / total as f64
            }
        })
        .collect()
}

/// At most [`MAX_BARS`] bars: the largest (by the larger of the two shares) keep their
/// place, the others become one last bar `N more`.
fn capped(h: Histogram) -> Histogram {
    if h.labels.len() <= MAX_BARS {
        return h;
    }
    let weight = |i: usize| h.reference[i].max(h.current[i]);
    let mut order: Vec<usize> = (0..h.labels.len()).collect();
    order.sort_by(|&a, &b| weight(b).total_cmp(&weight(a)).then(a.cmp(&b)));
    let mut kept = order[..MAX_BARS - 1].to_vec();
    kept.sort_unstable();
    let rest: Vec<usize> = order[MAX_BARS - 1..].to_vec();
    let sum = |side: &[f64], at: &[usize]| at.iter().map(|&i| side[i]).sum::<f64>();
    let mut out = Histogram {
        labels: kept.iter().map(|&i| h.labels[i].clone()).collect(),
        reference: kept.iter().map(|&i| h.reference[i]).collect(),
        current: kept.iter().map(|&i| h.current[i]).collect(),
    };
    out.labels.push(format!("{} more", rest.len()));
    out.reference.push(sum(&h.reference, &rest));
    out.current.push(sum(&h.current, &rest));
    out
}

/// A short label for a number: integers as such, others to 4 significant digits.
pub fn number(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        return format!("{}", x as i64);
    }
    let magnitude = x.abs();
    if !(1e-3..1e6).contains(&magnitude) {
        return format!("{x:.3e}");
    }
    let decimals = (3 - magnitude.log10().floor() as i32).max(0) as usize;
    let s = format!("{x:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

#[cfg(test)]
mod tests;
