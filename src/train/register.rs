//! Registering a trained artifact: its metrics (validation report or holdout scores), its
//! reference profile and its bytes go into the registry as one model version.

use super::evaluation::{Evaluation, HoldoutScoring};
use super::jobs;
use super::model::ModelArtifact;
use super::report::ValidationReport;
use crate::registry::Home;
use crate::registry::models::{ModelVersion, NewModelVersion};

/// Registers an artifact with its metrics and reference profile; `created == false` when
/// the same artifact was already registered under `name`.
pub fn register_artifact(
    home: &mut Home,
    name: &str,
    artifact: &ModelArtifact,
    scoring: &HoldoutScoring,
    report: Option<&ValidationReport>,
    evaluation: Option<&Evaluation>,
) -> anyhow::Result<(ModelVersion, bool)> {
    let metrics = match report {
        Some(r) => {
            let mut m = jobs::version_metrics(&r.holdout, evaluation);
            m["cross_validation"] = serde_json::json!({
                "folds": r.cross_validation.folds,
                "mean": r.cross_validation.mean,
                "std": r.cross_validation.std,
            });
            m
        }
        None => jobs::version_metrics(&scoring.holdout, evaluation),
    };
    let profile = crate::train::reference::profile_bytes(artifact, scoring)?;
    let report_bytes = report.map(serde_json::to_vec_pretty).transpose()?;
    home.register_model(&NewModelVersion {
        name,
        artifact: &artifact.to_bytes(),
        dataset: &artifact.training.dataset,
        params: serde_json::to_value(&artifact.training.config)?,
        profile: Some(&profile),
        report: report_bytes.as_deref(),
        metrics,
    })
}
