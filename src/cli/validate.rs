//! `modelwatch validate`: evaluate a registered version or an artifact file, check the
//! gates, print and write the report.

use super::flags::HomeArgs;
use crate::registry::home::Home;
use crate::train::config::ConfigFile;
use crate::train::gates;
use crate::train::jobs::{read_artifact, validate_artifact, write_file};
use crate::train::model::ModelArtifact;
use anyhow::Context;
use std::path::PathBuf;

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

/// Runs `modelwatch validate`.
pub fn run(args: ValidateArgs) -> anyhow::Result<()> {
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
