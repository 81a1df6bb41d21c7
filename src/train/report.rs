//! The validation report: one serde struct, written as JSON and rendered as Markdown.

use super::evaluation::{
    CrossValidation, Evaluation, FeatureImportance, HoldoutResult, RobustnessCheck,
};
use super::gates::GateResult;
use super::metrics::METRIC_NAMES;
use serde::{Deserialize, Serialize};
use std::fmt::Write;

/// What `modelwatch validate` reports.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ValidationReport {
    /// `NAME@VERSION`, or the artifact file for an unregistered model.
    pub model: String,
    pub artifact_sha256: String,
    pub dataset: String,
    pub holdout: HoldoutResult,
    pub cross_validation: CrossValidation,
    pub permutation_importance: Vec<FeatureImportance>,
    pub robustness: Vec<RobustnessCheck>,
    pub gates: Vec<GateResult>,
    pub passed: bool,
}

impl ValidationReport {
    pub fn new(
        model: String,
        artifact_sha256: String,
        dataset: String,
        evaluation: &Evaluation,
        gates: Vec<GateResult>,
    ) -> Self {
        ValidationReport {
            model,
            artifact_sha256,
            dataset,
            holdout: evaluation.holdout.clone(),
            cross_validation: evaluation.cross_validation.clone(),
            permutation_importance: evaluation.permutation_importance.clone(),
            robustness: evaluation.robustness.clone(),
            passed: gates.iter().all(|g| g.passed),
            gates,
        }
    }

    /// The report for people: tables of metrics, importance, robustness and gates.
    pub fn to_markdown(&self) -> String {
        let mut md = String::new();
        let h = &self.holdout;
        let _ = writeln!(md, "# Validation of {}\n", self.model);
        let _ = writeln!(
            md,
            "Dataset `{}`, artifact `{}`.\n",
            self.dataset,
            &self.artifact_sha256[..12.min(self.artifact_sha256.len())]
        );
        let _ = writeln!(md, "## Metrics\n");
        let _ = writeln!(
            md,
            "| metric | holdout ({} rows) | CV mean ({} folds) | CV std |",
            h.rows, self.cross_validation.folds
        );
        let _ = writeln!(md, "|---|---:|---:|---:|");
        for name in METRIC_NAMES {
            let _ = writeln!(
                md,
                "| {name} | {:.4} | {:.4} | {:.4} |",
                h.metrics.get(name).unwrap_or(f64::NAN),
                self.cross_validation
                    .mean
                    .get(name)
                    .copied()
                    .unwrap_or(f64::NAN),
                self.cross_validation
                    .std
                    .get(name)
                    .copied()
                    .unwrap_or(f64::NAN),
            );
        }
        let c = &h.confusion_matrix;
        let _ = writeln!(md, "\n## Confusion matrix (holdout)\n");
        let _ = writeln!(md, "| | predicted negative | predicted positive |");
        let _ = writeln!(md, "|---|---:|---:|");
        let _ = writeln!(
            md,
            "| actual negative | {} | {} |",
            c.true_negative, c.false_positive
        );
        let _ = writeln!(
            md,
            "| actual positive | {} | {} |",
            c.false_negative, c.true_positive
        );
        let _ = writeln!(md, "\n## Permutation importance (ROC AUC drop)\n");
        let _ = writeln!(md, "| feature | mean | std |");
        let _ = writeln!(md, "|---|---:|---:|");
        for f in &self.permutation_importance {
            let _ = writeln!(
                md,
                "| {} | {:.4} | {:.4} |",
                f.feature, f.roc_auc_drop_mean, f.roc_auc_drop_std
            );
        }
        let _ = writeln!(md, "\n## Robustness\n");
        let _ = writeln!(md, "| check | ROC AUC | drop | accuracy |");
        let _ = writeln!(md, "|---|---:|---:|---:|");
        for r in &self.robustness {
            let _ = writeln!(
                md,
                "| {} | {:.4} | {:.4} | {:.4} |",
                r.description, r.metrics.roc_auc, r.roc_auc_drop, r.metrics.accuracy
            );
        }
        let _ = writeln!(md, "\n## Gates\n");
        if self.gates.is_empty() {
            let _ = writeln!(md, "No gates configured.");
        } else {
            let _ = writeln!(md, "| gate | value | result |");
            let _ = writeln!(md, "|---|---:|---|");
            for g in &self.gates {
                let verdict = if g.passed { "pass" } else { "**FAIL**" };
                let _ = writeln!(md, "| {} | {:.4} | {verdict} |", g.gate, g.value);
            }
        }
        md
    }
}
