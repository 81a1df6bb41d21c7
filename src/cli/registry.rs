//! `modelwatch registry`: register, list, show, promote, roll back and archive model
//! versions, each with `--json` for scripts; `registry serve` runs [`crate::registry_server`].
//! It parses flags and prints, over `registry`, `train` and the server.

use super::flags::HomeArgs;
use super::table::align;
use crate::exit::UsageError;
use crate::registry::Home;
use crate::registry::models::ModelVersion;
use crate::train::jobs;
use crate::train::register::register_artifact;
use crate::train::report::ValidationReport;
use anyhow::Context;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Flags of `modelwatch registry`.
#[derive(Debug, clap::Args)]
pub struct RegistryArgs {
    #[command(flatten)]
    pub home: HomeArgs,
    #[command(subcommand)]
    pub command: RegistryCommand,
}

/// What to do with model versions.
#[derive(Debug, clap::Subcommand)]
pub enum RegistryCommand {
    /// Register an artifact written by `modelwatch train` as a new version of NAME.
    ///
    /// Records the artifact hash, training params, metrics (from --report, else holdout
    /// metrics recomputed now), dataset version, reference profile, git commit, author and
    /// time. Registering the same artifact again returns the existing version.
    Register(RegisterArgs),
    /// List versions (of one model, or all) with their aliases.
    List(ListArgs),
    /// Show one version (NAME@VERSION or NAME@ALIAS) with its alias history.
    Show(SpecArgs),
    /// Point an alias (e.g. production) at NAME@VERSION.
    Promote(PromoteArgs),
    /// Move an alias back to the version it pointed at before its last promotion.
    Rollback(RollbackArgs),
    /// Archive NAME@VERSION: kept and readable, never promoted again.
    Archive(SpecArgs),
    /// Write the reference profile of NAME@VERSION or NAME@ALIAS (training features plus
    /// holdout `label` / `probability` columns) for `modelwatch drift` or the sidecar.
    Profile(ProfileArgs),
    /// Serve this home read-only over HTTP, so that `serve` and sidecars in other pods
    /// follow its aliases with --registry-url (resolve NAME@ALIAS, fetch a version's
    /// profile and artifact; ETag validators and SHA-256 checksums).
    Serve(RegistryServeArgs),
}

/// Flags of `modelwatch registry serve`.
#[derive(Debug, clap::Args)]
pub struct RegistryServeArgs {
    /// Address to listen on (port 0 picks a free port, printed on stderr).
    #[arg(long, value_name = "ADDR", default_value = "0.0.0.0:8070")]
    pub listen: SocketAddr,
    /// A file holding a bearer token that every /v1/ request must carry (clients give it
    /// with --registry-token-file). Without it the API is open to whoever reaches the port.
    #[arg(long, value_name = "FILE", env = "MODELWATCH_REGISTRY_TOKEN_FILE")]
    pub token_file: Option<PathBuf>,
}

/// Flags of `registry profile`.
#[derive(Debug, clap::Args)]
pub struct ProfileArgs {
    /// NAME@VERSION or NAME@ALIAS.
    pub model: String,
    /// Write to this file instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// Flags of `registry register`.
#[derive(Debug, clap::Args)]
pub struct RegisterArgs {
    /// Model name: letters, digits, '_', '-', '.'.
    pub name: String,
    /// The artifact file written by `modelwatch train`.
    #[arg(long, value_name = "FILE")]
    pub artifact: PathBuf,
    /// report.json written by `modelwatch validate --report DIR`.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    #[arg(long)]
    pub json: bool,
}

/// Flags of `registry list`.
#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Only this model.
    pub name: Option<String>,
    #[arg(long)]
    pub json: bool,
}

/// A version argument plus `--json`.
#[derive(Debug, clap::Args)]
pub struct SpecArgs {
    /// NAME@VERSION or NAME@ALIAS.
    pub model: String,
    #[arg(long)]
    pub json: bool,
}

/// Flags of `registry promote`.
#[derive(Debug, clap::Args)]
pub struct PromoteArgs {
    /// NAME@VERSION to promote.
    pub model: String,
    /// The alias to point at it.
    #[arg(long, default_value = "production")]
    pub alias: String,
    #[arg(long)]
    pub json: bool,
}

/// Flags of `registry rollback`.
#[derive(Debug, clap::Args)]
pub struct RollbackArgs {
    /// Model name.
    pub name: String,
    #[arg(long, default_value = "production")]
    pub alias: String,
    #[arg(long)]
    pub json: bool,
}

/// Runs `modelwatch registry`.
pub fn run(args: RegistryArgs) -> anyhow::Result<()> {
    let root = &args.home.home;
    match args.command {
        RegistryCommand::Register(a) => {
            let mut home = Home::open_for_write(root)?;
            let artifact = jobs::read_artifact(&a.artifact)?;
            let report: Option<ValidationReport> = match &a.report {
                Some(path) => {
                    let text = std::fs::read(path).map_err(|e| {
                        UsageError(format!("could not read the report {}: {e}", path.display()))
                    })?;
                    let r: ValidationReport = serde_json::from_slice(&text).with_context(|| {
                        format!("{} is not a validation report", path.display())
                    })?;
                    if r.artifact_sha256 != artifact.sha256() {
                        return Err(UsageError(format!(
                            "{} validates artifact {}, not {}: validate this artifact first",
                            path.display(),
                            r.artifact_sha256,
                            a.artifact.display()
                        ))
                        .into());
                    }
                    Some(r)
                }
                None => None,
            };
            let scoring = jobs::holdout_of(&home, &artifact)?;
            let (version, created) = register_artifact(
                &mut home,
                &a.name,
                &artifact,
                &scoring,
                report.as_ref(),
                None,
            )?;
            print_version(&version, a.json, Some(created))
        }
        RegistryCommand::List(a) => {
            let home = Home::open(root)?;
            let versions = home.list_models(a.name.as_deref())?;
            if a.json {
                println!("{}", serde_json::to_string_pretty(&versions)?);
            } else {
                print!("{}", list_table(&versions));
            }
            Ok(())
        }
        RegistryCommand::Show(a) => {
            let home = Home::open(root)?;
            let version = home.resolve_model(&a.model)?;
            let history = home.alias_history(&version.name)?;
            if a.json {
                let mut value = serde_json::to_value(&version)?;
                value["alias_history"] = serde_json::to_value(&history)?;
                println!("{}", serde_json::to_string_pretty(&value)?);
            } else {
                print!("{}", show_text(&version));
                for e in history {
                    println!(
                        "  {} {} -> {} by {} at {}",
                        e.action, e.alias, e.version, e.author, e.at
                    );
                }
            }
            Ok(())
        }
        RegistryCommand::Promote(a) => {
            let mut home = Home::open_for_write(root)?;
            let version = home.promote_model(&a.model, &a.alias)?;
            if a.json {
                print_version(&version, true, None)
            } else {
                println!("{}@{} -> {}", version.name, a.alias, version.spec());
                Ok(())
            }
        }
        RegistryCommand::Rollback(a) => {
            let mut home = Home::open_for_write(root)?;
            let version = home.rollback_model(&a.name, &a.alias)?;
            if a.json {
                print_version(&version, true, None)
            } else {
                println!("rolled back {}@{} to {}", a.name, a.alias, version.spec());
                Ok(())
            }
        }
        RegistryCommand::Serve(a) => {
            crate::registry_server::run(root, a.listen, a.token_file.as_deref())
        }
        RegistryCommand::Profile(a) => {
            let home = Home::open(root)?;
            let (version, profile) = home.model_profile(&a.model)?;
            let json = profile.to_json();
            match &a.out {
                Some(path) => {
                    std::fs::write(path, json.as_bytes())
                        .with_context(|| format!("could not write {}", path.display()))?;
                    eprintln!(
                        "wrote the reference profile of {} to {}",
                        version.spec(),
                        path.display()
                    );
                }
                None => println!("{json}"),
            }
            Ok(())
        }
        RegistryCommand::Archive(a) => {
            let mut home = Home::open_for_write(root)?;
            let version = home.archive_model(&a.model)?;
            if a.json {
                print_version(&version, true, None)
            } else {
                println!("archived {}", version.spec());
                Ok(())
            }
        }
    }
}

fn print_version(version: &ModelVersion, json: bool, created: Option<bool>) -> anyhow::Result<()> {
    if json {
        let mut value = serde_json::to_value(version)?;
        if let Some(c) = created {
            value["created"] = c.into();
        }
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else if created == Some(false) {
        println!("unchanged: {} already holds this artifact", version.spec());
    } else if created == Some(true) {
        println!(
            "registered {} (artifact sha256 {})",
            version.spec(),
            version.artifact_sha256
        );
    }
    Ok(())
}

fn metric(version: &ModelVersion, name: &str) -> String {
    version.metrics["holdout"][name]
        .as_f64()
        .map_or("-".into(), |v| format!("{v:.4}"))
}

/// The `registry list` table.
pub fn list_table(versions: &[ModelVersion]) -> String {
    let mut rows = vec![[
        "MODEL".to_string(),
        "VERSION".into(),
        "ALIASES".into(),
        "ROC_AUC".into(),
        "DATASET".into(),
        "CREATED".into(),
        "STATE".into(),
    ]];
    for v in versions {
        rows.push([
            v.name.clone(),
            v.version.to_string(),
            if v.aliases.is_empty() {
                "-".into()
            } else {
                v.aliases.join(",")
            },
            metric(v, "roc_auc"),
            v.dataset.clone(),
            v.created_at.clone(),
            if v.archived_at.is_some() {
                "archived".into()
            } else {
                "active".into()
            },
        ]);
    }
    align(&rows)
}

fn show_text(v: &ModelVersion) -> String {
    let mut s = format!(
        "{}\n  aliases:   {}\n  artifact:  sha256 {}\n  dataset:   {}\n  code:      {}\n  author:    {}\n  created:   {}\n",
        v.spec(),
        if v.aliases.is_empty() {
            "-".into()
        } else {
            v.aliases.join(", ")
        },
        v.artifact_sha256,
        v.dataset,
        v.code_version,
        v.author,
        v.created_at,
    );
    if let Some(p) = &v.profile_sha256 {
        s += &format!("  profile:   sha256 {p}\n");
    }
    if let Some(at) = &v.archived_at {
        s += &format!("  archived:  {at}\n");
    }
    for name in crate::train::metrics::METRIC_NAMES {
        s += &format!("  {name:<10} {}\n", metric(v, name));
    }
    s
}
