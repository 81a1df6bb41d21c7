//! Promotion gates: absolute thresholds and "no worse than production by more than X".

use super::config::GatesConfig;
use super::metrics::ClassificationMetrics;
use serde::{Deserialize, Serialize};

/// The verdict of one gate.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GateResult {
    /// e.g. `min roc_auc ≥ 0.75` or `max_regression roc_auc vs credit@3`.
    pub gate: String,
    pub metric: String,
    pub value: f64,
    /// The bound the value was held to.
    pub bound: f64,
    pub passed: bool,
}

/// The production version a candidate is compared with.
pub struct Baseline<'a> {
    /// `NAME@VERSION`.
    pub version: String,
    pub metrics: &'a ClassificationMetrics,
}

/// Checks every configured gate against holdout metrics. A regression gate without a
/// production version has nothing to regress from and passes, saying so in its name.
pub fn check(
    gates: &GatesConfig,
    metrics: &ClassificationMetrics,
    production: Option<&Baseline<'_>>,
) -> Vec<GateResult> {
    let mut out = Vec::new();
    let value = |name: &str| metrics.get(name).unwrap_or(f64::NAN);
    for (name, &bound) in &gates.min {
        let v = value(name);
        out.push(GateResult {
            gate: format!("min {name} ≥ {bound}"),
            metric: name.clone(),
            value: v,
            bound,
            passed: v >= bound,
        });
    }
    for (name, &bound) in &gates.max {
        let v = value(name);
        out.push(GateResult {
            gate: format!("max {name} ≤ {bound}"),
            metric: name.clone(),
            value: v,
            bound,
            passed: v <= bound,
        });
    }
    for (name, &tolerance) in &gates.max_regression {
        let v = value(name);
        match production {
            None => out.push(GateResult {
                gate: format!("max_regression {name} (no production version yet)"),
                metric: name.clone(),
                value: v,
                bound: f64::NAN,
                passed: true,
            }),
            Some(base) => {
                let reference = base.metrics.get(name).unwrap_or(f64::NAN);
                let (bound, passed) = if ClassificationMetrics::higher_is_better(name) {
                    (reference - tolerance, v >= reference - tolerance)
                } else {
                    (reference + tolerance, v <= reference + tolerance)
                };
                out.push(GateResult {
                    gate: format!(
                        "max_regression {name} within {tolerance} of {} ({reference:.4})",
                        base.version
                    ),
                    metric: name.clone(),
                    value: v,
                    bound,
                    passed,
                });
            }
        }
    }
    out
}

/// A one-line description of the failed gates, for the error that makes the job exit 1.
pub fn failure_message(results: &[GateResult]) -> Option<String> {
    let failed: Vec<String> = results
        .iter()
        .filter(|g| !g.passed)
        .map(|g| format!("{} (got {:.4})", g.gate, g.value))
        .collect();
    if failed.is_empty() {
        None
    } else {
        Some(format!("validation gate failed: {}", failed.join("; ")))
    }
}
