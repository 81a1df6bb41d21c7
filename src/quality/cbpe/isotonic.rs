//! Isotonic regression as a probability calibrator: the step NannyML's CBPE takes on its
//! reference (`IsotonicRegression(out_of_bounds="clip", increasing=True)` from
//! scikit-learn, fitted on reference scores against 0/1 labels).
//!
//! The facts reproduced, so that the calibrated values match scikit-learn's:
//! - rows are ordered by score then label, and scores closer than 1e-15 (the f64
//!   "resolution" scikit-learn uses) are merged into one point whose target is the mean
//!   label and whose weight is the row count;
//! - pool adjacent violators with weights, in one pass with backtracking, gives the
//!   non-decreasing fit;
//! - prediction clips the score to the fitted range and interpolates linearly between
//!   the fitted points (`numpy.interp`'s formula: slope from the left point).

/// Scores this close are one point (numpy's `finfo(float64).resolution`).
const RESOLUTION: f64 = 1e-15;

/// A fitted non-decreasing step-and-ramp function from score to probability.
#[derive(Clone, Debug, PartialEq)]
pub struct Isotonic {
    /// Distinct fitted scores, increasing.
    x: Vec<f64>,
    /// The calibrated probability at each of them, non-decreasing.
    y: Vec<f64>,
}

impl Isotonic {
    /// Fits scores against binary targets. `None` without rows or with a non-finite score.
    pub fn fit(scores: &[f64], targets: &[bool]) -> Option<Isotonic> {
        if scores.is_empty() || scores.iter().any(|s| !s.is_finite()) {
            return None;
        }
        let mut order: Vec<usize> = (0..scores.len()).collect();
        order.sort_by(|&a, &b| {
            scores[a]
                .total_cmp(&scores[b])
                .then(targets[a].cmp(&targets[b]))
        });
        // Merge (nearly) equal scores: mean target, weight = rows.
        let mut x = Vec::new();
        let mut y = Vec::new();
        let mut w = Vec::new();
        let (mut cx, mut sum, mut weight) = (scores[order[0]], 0.0, 0.0);
        for &i in &order {
            if scores[i] - cx >= RESOLUTION {
                x.push(cx);
                y.push(sum / weight);
                w.push(weight);
                (cx, sum, weight) = (scores[i], 0.0, 0.0);
            }
            weight += 1.0;
            sum += f64::from(u8::from(targets[i]));
        }
        x.push(cx);
        y.push(sum / weight);
        w.push(weight);
        pool_adjacent_violators(&mut y, &mut w);
        // Points inside a flat run add nothing to the interpolation.
        let n = y.len();
        let keep: Vec<bool> = (0..n)
            .map(|i| i == 0 || i == n - 1 || y[i] != y[i - 1] || y[i] != y[i + 1])
            .collect();
        let mut kept = keep.iter();
        x.retain(|_| *kept.next().unwrap());
        let mut kept = keep.iter();
        y.retain(|_| *kept.next().unwrap());
        Some(Isotonic { x, y })
    }

    /// The calibrated probability of a score (clipped to the fitted range).
    pub fn calibrate(&self, score: f64) -> f64 {
        let (x, y) = (&self.x, &self.y);
        let last = x.len() - 1;
        let s = score.clamp(x[0], x[last]);
        // The last point at or below s.
        let j = x.partition_point(|&v| v <= s).saturating_sub(1);
        if j >= last {
            return y[last];
        }
        let slope = (y[j + 1] - y[j]) / (x[j + 1] - x[j]);
        slope * (s - x[j]) + y[j]
    }
}

/// Weighted pool-adjacent-violators, in place: afterwards `y` is non-decreasing and each
/// pooled run holds its weighted mean. Runs are tracked by their two ends (`end[first]`
/// is the run's last index, `end[last]` its first), and after pooling the scan steps back
/// one run, so the whole fit is one pass.
fn pool_adjacent_violators(y: &mut [f64], w: &mut [f64]) {
    let n = y.len();
    let mut end: Vec<usize> = (0..n).collect();
    let mut i = 0;
    while i < n {
        let mut k = end[i] + 1;
        if k == n {
            break;
        }
        if y[i] < y[k] {
            i = k;
            continue;
        }
        let mut sum_wy = w[i] * y[i];
        let mut sum_w = w[i];
        loop {
            let previous = y[k];
            sum_wy += w[k] * y[k];
            sum_w += w[k];
            k = end[k] + 1;
            if k == n || previous < y[k] {
                y[i] = sum_wy / sum_w;
                w[i] = sum_w;
                end[i] = k - 1;
                end[k - 1] = i;
                if i > 0 {
                    i = end[i - 1];
                }
                break;
            }
        }
    }
    let mut i = 0;
    while i < n {
        let k = end[i] + 1;
        let value = y[i];
        y[i + 1..k].fill(value);
        i = k;
    }
}
