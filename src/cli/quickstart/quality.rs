//! The quickstart's model-quality lines, from the sidecar's `/api/v1/performance`: the
//! estimate before labels (CBPE), the realised accuracy as labels arrive, beside the
//! validation figure, and whether each quality alert's condition holds.
//!
//! The quickstart runs no Prometheus, so the conditions are those of
//! `alerts/modelwatch-rules.yml` applied here to the same figures (a unit test checks the
//! rule file still says so); in a deployment Prometheus evaluates them and fires after the
//! rules' `for:`.

use serde_json::Value;

/// `ModelwatchPerformanceDrop`: realised accuracy below this share of the validation
/// figure...
pub const REALISED_SHARE: f64 = 0.9;
/// ...on at least this many labels.
pub const MIN_LABELS: u64 = 200;
/// `ModelwatchEstimatedPerformanceDrop`: the estimate's upper band more than this below
/// the validation figure.
pub const ESTIMATE_MARGIN: f64 = 0.05;

/// The version's accuracy figures, where they exist.
#[derive(Debug, Default, PartialEq)]
pub struct Accuracy {
    pub version: String,
    pub estimated: Option<(f64, f64, f64)>,
    pub realised: Option<f64>,
    pub labels: u64,
    pub predictions: u64,
    pub validation: Option<f64>,
}

impl Accuracy {
    /// The serving version's figures from `/api/v1/performance` (the one with the most
    /// predictions, the quickstart serves one).
    pub fn of(report: Option<&Value>) -> Option<Accuracy> {
        let m = report?["models"]
            .as_array()?
            .iter()
            .max_by_key(|m| m["predictions"].as_u64().unwrap_or(0))?;
        let e = &m["estimated"]["metrics"]["accuracy"];
        let band = |k: &str| e[k].as_f64();
        Some(Accuracy {
            version: format!(
                "{}@{}",
                m["model"].as_str().unwrap_or("?"),
                m["model_version"].as_str().unwrap_or("?")
            ),
            estimated: band("lower")
                .zip(band("value"))
                .zip(band("upper"))
                .map(|((l, v), u)| (l, v, u)),
            realised: m["metrics"]["accuracy"].as_f64(),
            labels: m["rows"].as_u64().unwrap_or(0),
            predictions: m["predictions"].as_u64().unwrap_or(0),
            validation: m["reference"]["accuracy"].as_f64(),
        })
    }

    /// Whether `ModelwatchPerformanceDrop`'s condition holds.
    pub fn realised_drop(&self) -> bool {
        matches!((self.realised, self.validation), (Some(r), Some(v))
            if r < REALISED_SHARE * v && self.labels >= MIN_LABELS)
    }

    /// Whether `ModelwatchEstimatedPerformanceDrop`'s condition holds.
    pub fn estimated_drop(&self) -> bool {
        matches!((self.estimated, self.validation), (Some((_, _, upper)), Some(v))
            if upper < v - ESTIMATE_MARGIN)
    }

    /// A few short fields for the quiet progress line.
    pub fn fields(&self) -> String {
        let mut out = String::new();
        if let Some((_, value, _)) = self.estimated {
            out.push_str(&format!(" est_accuracy={value:.3}"));
        }
        if let Some(r) = self.realised {
            out.push_str(&format!(" accuracy={r:.3} labels={}", self.labels));
        }
        let firing = self.conditions_met();
        if !firing.is_empty() {
            out.push_str(&format!(" alert=[{}]", firing.join(",")));
        }
        out
    }

    /// The alerts whose condition holds.
    pub fn conditions_met(&self) -> Vec<&'static str> {
        let mut met = Vec::new();
        if self.estimated_drop() {
            met.push("ModelwatchEstimatedPerformanceDrop");
        }
        if self.realised_drop() {
            met.push("ModelwatchPerformanceDrop");
        }
        met
    }

    /// The block of the live screen and of the final summary.
    pub fn table(&self) -> String {
        let na = || "-".to_string();
        let estimated = self
            .estimated
            .map_or_else(na, |(l, v, u)| format!("{v:.3} [{l:.3}, {u:.3}]"));
        let realised = self.realised.map_or_else(na, |r| format!("{r:.3}"));
        let validation = self.validation.map_or_else(na, |v| format!("{v:.3}"));
        let alert = |met: bool| if met { "condition met" } else { "no" };
        let note = if self.realised_drop() && !self.estimated_drop() {
            "  (the estimate cannot see a change in P(y | x), a concept shift: only labels do)\n"
        } else {
            ""
        };
        format!(
            "quality {}  labels {} of {} predictions\n  \
             accuracy  estimated {estimated} (before labels)  realised {realised}  \
             validation {validation}\n  \
             ModelwatchEstimatedPerformanceDrop  {}\n  \
             ModelwatchPerformanceDrop           {}\n{note}",
            self.version,
            self.labels,
            self.predictions,
            alert(self.estimated_drop()),
            alert(self.realised_drop()),
        )
    }
}

#[cfg(test)]
mod tests;
