//! The validation report: one serde struct, written as JSON and rendered as Markdown and
//! as a self-contained HTML file.

use super::evaluation::{
    CrossValidation, Evaluation, FeatureImportance, HoldoutResult, RobustnessCheck,
};
use super::gates::GateResult;
use super::metrics::METRIC_NAMES;
use crate::page;
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

impl ValidationReport {
    /// The report as one self-contained HTML file: the Markdown's tables, with the verdict
    /// and each gate's result as words ([`page::document_file`]).
    pub fn to_html(&self) -> String {
        let n = |x: f64| format!("{x:.4}");
        let h = &self.holdout;
        let cv = &self.cross_validation;
        let mut body = String::new();
        let _ = write!(
            body,
            "<p>Dataset <code>{}</code>, artifact <code>{}</code>. Gates: <strong>{}</strong>.</p>",
            page::html::esc(&self.dataset),
            page::html::esc(&self.artifact_sha256[..12.min(self.artifact_sha256.len())]),
            if self.passed { "passed" } else { "FAILED" },
        );
        let metrics: Vec<Vec<String>> = METRIC_NAMES
            .iter()
            .map(|name| {
                let get = |m: &std::collections::BTreeMap<String, f64>| {
                    n(m.get(*name).copied().unwrap_or(f64::NAN))
                };
                vec![
                    name.to_string(),
                    n(h.metrics.get(name).unwrap_or(f64::NAN)),
                    get(&cv.mean),
                    get(&cv.std),
                ]
            })
            .collect();
        let holdout = format!("holdout ({} rows)", h.rows);
        let folds = format!("CV mean ({} folds)", cv.folds);
        page::table(
            &mut body,
            "Metrics",
            &["metric", &holdout, &folds, "CV std"],
            &metrics,
        );
        let c = &h.confusion_matrix;
        page::table(
            &mut body,
            "Confusion matrix (holdout)",
            &["", "predicted negative", "predicted positive"],
            &[
                vec![
                    "actual negative".into(),
                    c.true_negative.to_string(),
                    c.false_positive.to_string(),
                ],
                vec![
                    "actual positive".into(),
                    c.false_negative.to_string(),
                    c.true_positive.to_string(),
                ],
            ],
        );
        let importance: Vec<Vec<String>> = self
            .permutation_importance
            .iter()
            .map(|f| {
                vec![
                    f.feature.clone(),
                    n(f.roc_auc_drop_mean),
                    n(f.roc_auc_drop_std),
                ]
            })
            .collect();
        page::table(
            &mut body,
            "Permutation importance (ROC AUC drop)",
            &["feature", "mean", "std"],
            &importance,
        );
        let robustness: Vec<Vec<String>> = self
            .robustness
            .iter()
            .map(|r| {
                vec![
                    r.description.clone(),
                    n(r.metrics.roc_auc),
                    n(r.roc_auc_drop),
                    n(r.metrics.accuracy),
                ]
            })
            .collect();
        page::table(
            &mut body,
            "Robustness",
            &["check", "ROC AUC", "drop", "accuracy"],
            &robustness,
        );
        let gates: Vec<Vec<String>> = self
            .gates
            .iter()
            .map(|g| {
                let verdict = if g.passed { "pass" } else { "FAIL" };
                vec![g.gate.clone(), n(g.value), verdict.into()]
            })
            .collect();
        if gates.is_empty() {
            body.push_str("<p>No gates configured.</p>");
        } else {
            page::table(&mut body, "Gates", &["gate", "value", "result"], &gates);
        }
        page::document_file(
            "validation report",
            &format!("Validation of {}", self.model),
            &body,
        )
    }
}
