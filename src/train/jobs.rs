//! The `train` and `validate` jobs, and the steps they share with `registry register`
//! and `pipeline run`: load a dataset version as a labeled table, validate an artifact
//! against it (and against the production version), build the reference profile.

use super::config::{ConfigFile, GatesConfig, ValidateConfig};
use super::evaluation::{self, Evaluation, HoldoutScoring};
use super::gates::{self, Baseline};
use super::metrics::ClassificationMetrics;
use super::model::{self, ModelArtifact};
use super::report::ValidationReport;
use super::table::LabeledTable;
use crate::exit::UsageError;
use crate::registry::home::{Home, HomeArgs};
use crate::registry::models::ModelVersion;
use anyhow::Context;
use std::path::{Path, PathBuf};

/// Flags of `modelwatch train`.
// Doc comments here are `--help` text (TOML sections, `NAME[@VERSION]`), not rustdoc links.
#[allow(rustdoc::broken_intra_doc_links)]
#[derive(Debug, clap::Args)]
pub struct TrainArgs {
    #[command(flatten)]
    pub home: HomeArgs,
    /// The dataset to train on: NAME or NAME@VERSION (see `modelwatch dataset list`).
    #[arg(long, value_name = "NAME[@VERSION]")]
    pub dataset: String,
    /// TOML file whose [train] section sets the training (see examples/credit/pipeline.toml).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Overrides train.seed: the holdout split, the folds and every random draw.
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// Where to write the model artifact (JSON).
    #[arg(long, short, value_name = "FILE", default_value = "model.json")]
    pub out: PathBuf,
}

/// Flags of `modelwatch validate`.
// Doc comments here are `--help` text (TOML sections, `NAME[@VERSION]`), not rustdoc links.
#[allow(rustdoc::broken_intra_doc_links)]
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["model", "artifact"])))]
pub struct ValidateArgs {
    #[command(flatten)]
    pub home: HomeArgs,
    /// A registered version: NAME@VERSION or NAME@ALIAS.
    #[arg(long, value_name = "NAME@VERSION")]
    pub model: Option<String>,
    /// An artifact written by `modelwatch train`, not registered yet.
    #[arg(long, value_name = "FILE")]
    pub artifact: Option<PathBuf>,
    /// With --artifact: the model name whose production version regression gates compare to.
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// TOML file whose [validate] section sets folds, repeats and perturbations.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// TOML file whose [gates] section holds the gates (default: those of --config).
    #[arg(long, value_name = "FILE")]
    pub gates: Option<PathBuf>,
    /// Directory to write report.json, report.md and report.html (one self-contained
    /// file, opens offline) into.
    #[arg(long, value_name = "DIR")]
    pub report: Option<PathBuf>,
    /// Print the JSON report instead of Markdown.
    #[arg(long)]
    pub json: bool,
}

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

/// Runs `modelwatch train`.
pub fn run_train(args: TrainArgs) -> anyhow::Result<()> {
    let mut config = ConfigFile::load(args.config.as_deref())?;
    if let Some(seed) = args.seed {
        config.train.seed = seed;
    }
    let home = Home::open(&args.home.home)?;
    let artifact = train_on(&home, &args.dataset, &config)?;
    write_file(&args.out, &artifact.to_bytes())?;
    println!(
        "trained {} on {} ({} training rows, {} held out); artifact {} sha256 {}",
        artifact.algorithm,
        artifact.training.dataset,
        artifact.training.train_rows,
        artifact.training.holdout_rows,
        args.out.display(),
        artifact.sha256()
    );
    Ok(())
}

fn write_file(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
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

/// Runs `modelwatch validate`.
pub fn run_validate(args: ValidateArgs) -> anyhow::Result<()> {
    let config = ConfigFile::load(args.config.as_deref())?;
    let gates_config = match &args.gates {
        Some(path) => ConfigFile::load(Some(path))?.gates,
        None => config.gates.clone(),
    };
    let home = Home::open(&args.home.home)?;
    let (artifact, label, name) = match (&args.model, &args.artifact) {
        (Some(spec), _) => {
            let version = home.resolve_model(spec)?;
            let artifact = ModelArtifact::load(&home, &version)?;
            (artifact, version.spec(), Some(version.name.clone()))
        }
        (None, Some(path)) => (
            read_artifact(path)?,
            path.display().to_string(),
            args.name.clone(),
        ),
        (None, None) => unreachable!("clap requires --model or --artifact"),
    };
    let (report, _) = validate_artifact(
        &home,
        &artifact,
        label,
        name.as_deref(),
        &config.validate,
        &gates_config,
    )?;
    let json = serde_json::to_string_pretty(&report)?;
    let markdown = report.to_markdown();
    if let Some(dir) = &args.report {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("could not create {}", dir.display()))?;
        write_file(&dir.join("report.json"), json.as_bytes())?;
        write_file(&dir.join("report.md"), markdown.as_bytes())?;
        write_file(&dir.join("report.html"), report.to_html().as_bytes())?;
    }
    if args.json {
        println!("{json}");
    } else {
        print!("{markdown}");
    }
    match gates::failure_message(&report.gates) {
        Some(message) => anyhow::bail!(message),
        None => Ok(()),
    }
}
