//! Equal-frequency bin edges from a sorted sample.
//!
//! Quantiles use linear interpolation between order statistics, numpy's default
//! (`np.quantile(x, q, method="linear")`, Hyndman & Fan type 7). Edges are
//! `[min, q(1/B), …, q((B-1)/B), max]` with repeated edges removed, so a column with many
//! ties (a discrete column, a spike at zero) gets fewer, non-empty-width bins instead of
//! zero-width ones.

/// The `q`-quantile (0 ≤ q ≤ 1) of a non-empty sorted sample.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    debug_assert!(!sorted.is_empty());
    let position = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let lo = position.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    let frac = position - lo as f64;
    sorted[lo] + frac * (sorted[hi] - sorted[lo])
}

/// Deduplicated equal-frequency edges for `bins` bins over a sorted sample, with `min`
/// and `max` the exact extremes of the whole column (which the sample may not hold).
/// Returns at least one edge; `n` distinct edges make `max(n - 1, 1)` bins.
pub fn equal_frequency_edges(sorted: &[f64], bins: usize, min: f64, max: f64) -> Vec<f64> {
    let mut edges = Vec::with_capacity(bins + 1);
    edges.push(min);
    if !sorted.is_empty() {
        for k in 1..bins {
            edges.push(quantile(sorted, k as f64 / bins as f64));
        }
    }
    edges.push(max);
    // Interpolated quantiles of a sample can fall outside the exact extremes only by
    // rounding; clamp so edges stay sorted.
    for e in edges.iter_mut() {
        *e = e.clamp(min, max);
    }
    edges.dedup();
    edges
}

/// The bin of `value` for these edges: bin `i` is `[edges[i], edges[i+1])`, the last bin
/// is closed, values below the first edge go to bin 0 and above the last to the last bin
/// (the caller counts those as out of range). O(log bins), no allocation.
#[inline]
pub fn bin_index(edges: &[f64], value: f64) -> usize {
    if edges.len() <= 2 {
        return 0;
    }
    let interior = &edges[1..edges.len() - 1];
    interior.partition_point(|&e| e <= value)
}

/// How many bins these edges make.
pub fn bin_count(edges: &[f64]) -> usize {
    edges.len().saturating_sub(1).max(1)
}

#[cfg(test)]
mod tests;
