//! `modelwatch pipeline run FILE.toml`: dataset add → train → validate → register →
//! promote, in one process, with progress on stderr and a summary on stdout.
//!
//! Idempotent by construction: the dataset is content-addressed and the artifact is
//! deterministic, so a re-run with the same inputs finds the version it registered before
//! and registers nothing new. Gates are checked on every run; a failed gate exits 1 and
//! neither registers nor promotes anything.

use crate::exit::UsageError;
use crate::registry::home::Home;
use crate::train::config::ConfigFile;
use crate::train::register::register_artifact;
use crate::train::{gates, jobs};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// `[dataset]`: the CSV to version and how to read it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DatasetSection {
    name: String,
    /// Relative to the pipeline file.
    file: PathBuf,
    target: String,
    id: Option<String>,
    #[serde(default)]
    categorical: Vec<String>,
}

/// `[model]`: the registered name and the alias a passing model is promoted to.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ModelSection {
    name: String,
    #[serde(default = "default_alias")]
    alias: String,
}

fn default_alias() -> String {
    "production".into()
}

fn section<T: serde::de::DeserializeOwned>(
    file: &Path,
    key: &str,
    value: Option<toml::Value>,
) -> anyhow::Result<T> {
    let value = value.ok_or_else(|| {
        UsageError(format!(
            "{}: the [{key}] section is missing",
            file.display()
        ))
    })?;
    value
        .try_into()
        .map_err(|e| UsageError(format!("{}: [{key}]: {e}", file.display())).into())
}

/// Runs the pipeline `file` describes in the home at `root`, with progress on stderr and a
/// summary on stdout; with `report`, also writes report.json and report.md there.
pub fn run(root: &Path, file: &Path, report_dir: Option<&Path>) -> anyhow::Result<()> {
    let started = Instant::now();
    let config = ConfigFile::load(Some(file))?;
    let dataset: DatasetSection = section(file, "dataset", config.dataset.clone())?;
    let model: ModelSection = section(file, "model", config.model.clone())?;
    crate::registry::names::validate("model name", &model.name)?;
    let base = file.parent().unwrap_or(Path::new("."));
    let data_file = base.join(&dataset.file);

    let step = |n: u32, what: &str| eprintln!("[{n}/5] {what}");
    step(
        1,
        &format!("dataset add {} {}", dataset.name, data_file.display()),
    );
    let mut home = Home::create(root)?;
    let overrides = crate::profile::schema::SchemaOverrides {
        target: Some(dataset.target.clone()),
        id: dataset.id.clone(),
        categorical: dataset.categorical.clone(),
        ..Default::default()
    };
    let added = home.add_dataset(&dataset.name, &data_file, &overrides)?;
    let spec = added.dataset.spec();
    eprintln!(
        "      {} {spec} ({} rows)",
        if added.created { "added" } else { "unchanged" },
        added.dataset.rows
    );

    step(2, &format!("train on {spec} (seed {})", config.train.seed));
    let artifact = jobs::train_on(&home, &spec, &config)?;
    let sha = artifact.sha256();
    eprintln!(
        "      {} training rows, {} held out; artifact sha256 {}",
        artifact.training.train_rows,
        artifact.training.holdout_rows,
        &sha[..12]
    );

    step(
        3,
        &format!("validate ({} folds, gates)", config.validate.folds),
    );
    let (report, evaluation) = jobs::validate_artifact(
        &home,
        &artifact,
        format!("{} candidate {}", model.name, &sha[..12]),
        Some(&model.name),
        &config.validate,
        &config.gates,
    )?;
    if let Some(dir) = report_dir {
        std::fs::create_dir_all(dir)?;
        std::fs::write(dir.join("report.json"), serde_json::to_vec_pretty(&report)?)?;
        std::fs::write(dir.join("report.md"), report.to_markdown())?;
    }
    let m = &report.holdout.metrics;
    eprintln!(
        "      holdout roc_auc {:.4}, f1 {:.4}, log_loss {:.4}; CV roc_auc {:.4} ± {:.4}",
        m.roc_auc,
        m.f1,
        m.log_loss,
        report.cross_validation.mean["roc_auc"],
        report.cross_validation.std["roc_auc"]
    );
    for g in &report.gates {
        eprintln!(
            "      gate {}: {} ({:.4})",
            g.gate,
            if g.passed { "pass" } else { "FAIL" },
            g.value
        );
    }
    if let Some(message) = gates::failure_message(&report.gates) {
        eprintln!("[4/5] register: skipped (a gate failed)");
        eprintln!("[5/5] promote: skipped (a gate failed)");
        anyhow::bail!("{message}; nothing registered or promoted");
    }

    step(4, &format!("register {}", model.name));
    let (version, created) = register_artifact(
        &mut home,
        &model.name,
        &artifact,
        &evaluation.scoring,
        Some(&report),
        Some(&evaluation),
    )?;
    eprintln!(
        "      {} {}",
        if created {
            "registered"
        } else {
            "unchanged: reusing"
        },
        version.spec()
    );

    step(5, &format!("promote to {}", model.alias));
    let promoted = if version.aliases.contains(&model.alias) {
        eprintln!(
            "      {}@{} already is {}",
            model.name,
            model.alias,
            version.spec()
        );
        false
    } else {
        home.promote_model(&version.spec(), &model.alias)?;
        eprintln!("      {}@{} -> {}", model.name, model.alias, version.spec());
        true
    };

    println!(
        "pipeline {}: dataset {spec}, model {} ({}), {}@{} = {}, holdout roc_auc {:.4}, {:.1}s",
        file.display(),
        version.spec(),
        if created { "new" } else { "existing" },
        model.name,
        model.alias,
        if promoted {
            format!("{} (promoted)", version.version)
        } else {
            format!("{} (unchanged)", version.version)
        },
        m.roc_auc,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
