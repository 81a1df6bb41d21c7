//! Regression metrics, defined as scikit-learn 1.9 defines them.
//!
//! Each function states the scikit-learn call it reproduces; `tests/it/ml_metrics.rs`
//! compares them with values written by `tests/fixtures/metrics/generate.py` (within 1e-9).
//! Empty inputs give `NaN` where scikit-learn would raise.

/// The regression metrics' names, as realised performance reports them.
pub const METRIC_NAMES: [&str; 4] = ["mae", "rmse", "mape", "r2"];

/// `mean_absolute_error(y_true, y_pred)`.
pub fn mae(truth: &[f64], predicted: &[f64]) -> f64 {
    mean(truth.iter().zip(predicted).map(|(y, p)| (y - p).abs()))
}

/// `root_mean_squared_error(y_true, y_pred)`.
pub fn rmse(truth: &[f64], predicted: &[f64]) -> f64 {
    mean(truth.iter().zip(predicted).map(|(y, p)| (y - p).powi(2))).sqrt()
}

/// `mean_absolute_percentage_error(y_true, y_pred)`: a fraction, not a percentage, and a
/// true value of 0 divides by the f64 machine epsilon instead (so it is huge, not infinite),
/// as scikit-learn does.
pub fn mape(truth: &[f64], predicted: &[f64]) -> f64 {
    mean(
        truth
            .iter()
            .zip(predicted)
            .map(|(y, p)| (y - p).abs() / y.abs().max(f64::EPSILON)),
    )
}

/// `r2_score(y_true, y_pred)`: 1 − SS_res / SS_tot. With constant true values (SS_tot = 0)
/// it is 1 for perfect predictions and 0 otherwise (scikit-learn's `force_finite=True`);
/// `NaN` on fewer than two rows, where scikit-learn says it is not well defined.
pub fn r2(truth: &[f64], predicted: &[f64]) -> f64 {
    if truth.len() < 2 {
        return f64::NAN;
    }
    let average = mean(truth.iter().copied());
    let residual: f64 = truth
        .iter()
        .zip(predicted)
        .map(|(y, p)| (y - p).powi(2))
        .sum();
    let total: f64 = truth.iter().map(|y| (y - average).powi(2)).sum();
    if total == 0.0 {
        if residual == 0.0 { 1.0 } else { 0.0 }
    } else {
        1.0 - residual / total
    }
}

fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = values.fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    if n == 0 { f64::NAN } else { sum / n as f64 }
}
