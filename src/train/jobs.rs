//! The steps the `train`, `validate`, `registry register` and `pipeline run` commands
//! share: load a dataset version as a labeled table, validate an artifact
//! against it (and against the production version), build the reference profile.

use super::config::{ConfigFile, GatesConfig, ValidateConfig};
use super::evaluation::{self, Evaluation, HoldoutScoring};
use super::gates::{self, Baseline};
use super::metrics::ClassificationMetrics;
use super::model::{self, ModelArtifact};
use super::report::ValidationReport;
use super::table::LabeledTable;
use crate::exit::UsageError;
use crate::registry::home::Home;
use crate::registry::models::ModelVersion;
use anyhow::Context;
use std::path::Path;

/// Reads a stored dataset version as a labeled table.
pub fn load_table(
    home: &Home,
    dataset: &str,
    positive_class: Option<&str>,
) -> anyhow::Result<(LabeledTable, crate::registry::DatasetVersion)> {
    let version = home.resolve_dataset(dataset)?;
    if version.schema.target().is_none() {
        return Err(UsageError(format!(
            "dataset {} has no target column, and a stored version's schema never changes: \
             add the file under a new name with `modelwatch dataset add NAME FILE --target COLUMN`",
            version.spec()
        ))
        .into());
    }
    let path = home.dataset_file(&version)?;
    let table = LabeledTable::read_csv(&path, &version.schema, positive_class)
        .with_context(|| format!("reading dataset {}", version.spec()))?;
    Ok((table, version))
}

/// Trains on a stored dataset version.
pub fn train_on(home: &Home, dataset: &str, config: &ConfigFile) -> anyhow::Result<ModelArtifact> {
    let (table, version) = load_table(home, dataset, config.train.positive_class.as_deref())?;
    model::train(
        &table,
        &config.train,
        &version.spec(),
        version.sha256.as_str(),
    )
}

/// Writes `bytes` to `path`, naming the file when that fails.
pub fn write_file(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    std::fs::write(path, bytes).with_context(|| format!("could not write {}", path.display()))
}

/// Reads an artifact file written by `train`.
pub fn read_artifact(path: &Path) -> anyhow::Result<ModelArtifact> {
    let bytes = std::fs::read(path).map_err(|e| {
        UsageError(format!(
            "could not read the model artifact {}: {e}",
            path.display()
        ))
    })?;
    ModelArtifact::from_bytes(&bytes).with_context(|| format!("{}", path.display()))
}

/// The metrics a registry version records: holdout metrics, and cross-validation mean and
/// std when validation ran.
pub fn version_metrics(
    holdout: &evaluation::HoldoutResult,
    evaluation: Option<&Evaluation>,
) -> serde_json::Value {
    let mut value = serde_json::json!({
        "holdout": holdout.metrics,
        "holdout_rows": holdout.rows,
        "confusion_matrix": holdout.confusion_matrix,
    });
    if let Some(e) = evaluation {
        value["cross_validation"] = serde_json::json!({
            "folds": e.cross_validation.folds,
            "mean": e.cross_validation.mean,
            "std": e.cross_validation.std,
        });
    }
    value
}

/// The holdout metrics a registered version recorded, for regression gates.
pub fn recorded_holdout(version: &ModelVersion) -> Option<ClassificationMetrics> {
    serde_json::from_value(version.metrics.get("holdout")?.clone()).ok()
}

/// Validates an artifact: evaluation, then gates against the named model's production
/// version (when `name` is given and one exists).
pub fn validate_artifact(
    home: &Home,
    artifact: &ModelArtifact,
    label: String,
    name: Option<&str>,
    config: &ValidateConfig,
    gates_config: &GatesConfig,
) -> anyhow::Result<(ValidationReport, Evaluation)> {
    let (table, _) = load_table(
        home,
        &artifact.training.dataset,
        Some(&artifact.classes.positive),
    )?;
    let evaluation = evaluation::evaluate(artifact, &table, config)?;
    let production = match name {
        Some(n) => home.resolve_model(&format!("{n}@production")).ok(),
        None => None,
    };
    let production_metrics = production.as_ref().and_then(recorded_holdout);
    let baseline = production
        .as_ref()
        .zip(production_metrics.as_ref())
        .map(|(v, m)| Baseline {
            version: v.spec(),
            metrics: m,
        });
    let results = gates::check(gates_config, &evaluation.holdout.metrics, baseline.as_ref());
    let report = ValidationReport::new(
        label,
        artifact.sha256(),
        artifact.training.dataset.clone(),
        &evaluation,
        results,
    );
    Ok((report, evaluation))
}

/// Recomputes the holdout split of an artifact on its dataset and scores it.
pub fn holdout_of(home: &Home, artifact: &ModelArtifact) -> anyhow::Result<HoldoutScoring> {
    let (table, _) = load_table(
        home,
        &artifact.training.dataset,
        Some(&artifact.classes.positive),
    )?;
    evaluation::score_holdout(artifact, &table)
}
