//! `modelwatch dataset`: add, list, show and profile dataset versions.

use super::flags::{HomeArgs, ProfileFlags, SchemaFlags};
use super::table::align;
use crate::exit::UsageError;
use crate::registry::datasets::{AddedDataset, DatasetVersion};
use crate::registry::home::Home;
use crate::registry::reference::{ReferenceKind, classify, load_profile};
use anyhow::Context;
use std::path::PathBuf;

/// Flags of `modelwatch dataset`.
#[derive(Debug, clap::Args)]
pub struct DatasetArgs {
    #[command(flatten)]
    pub home: HomeArgs,
    #[command(subcommand)]
    pub command: DatasetCommand,
}

/// What to do with datasets.
#[derive(Debug, clap::Subcommand)]
pub enum DatasetCommand {
    /// Store a CSV file as a new dataset version (content-addressed by its sha256).
    ///
    /// The version id is the first 12 hex digits of the file's sha256: adding the same
    /// bytes again returns the existing version. The schema (numeric, categorical,
    /// boolean) is inferred from the first 10,000 rows; the flags override it. A JSONL
    /// file of OpenAI-compatible requests (.jsonl, .ndjson) is stored as its table of LLM
    /// drift features (docs/llm.md), without the prompts.
    Add(AddArgs),
    /// List every stored dataset version.
    List(ListArgs),
    /// Show one version (the latest when no @VERSION is given) with its schema.
    Show(ShowArgs),
    /// Write the reference profile (JSON, format modelwatch.profile/v1) of a dataset version
    /// or a CSV file: per column count, missing rate, min/max, mean/std, equal-frequency bin
    /// edges with proportions, top-K category frequencies and a reservoir sample.
    Profile(ProfileArgs),
}

/// Flags of `modelwatch dataset profile`.
// Doc comments here are `--help` text (TOML sections, `NAME[@VERSION]`), not rustdoc links.
#[allow(rustdoc::broken_intra_doc_links)]
#[derive(Debug, clap::Args)]
pub struct ProfileArgs {
    /// NAME[@VERSION] of a stored dataset, or the path of a CSV file or of a JSONL file of
    /// LLM requests (.jsonl, .ndjson; docs/llm.md).
    pub source: String,
    /// Write the profile here instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Schema overrides (only for a CSV file; a dataset keeps its stored schema).
    #[command(flatten)]
    pub schema: SchemaFlags,
    #[command(flatten)]
    pub options: ProfileFlags,
    /// Whole feature rows kept for multivariate drift (live, and `drift --multivariate`
    /// against the profile); 0 keeps none.
    #[arg(long, default_value_t = crate::profile::format::DEFAULT_ROW_SAMPLE_SIZE)]
    pub row_sample_size: usize,
}

/// Flags of `modelwatch dataset add`.
#[derive(Debug, clap::Args)]
pub struct AddArgs {
    /// Dataset name: letters, digits, '_', '-', '.'.
    pub name: String,
    /// The CSV file (header row first), or a JSONL file of LLM requests.
    pub file: PathBuf,
    #[command(flatten)]
    pub schema: SchemaFlags,
    /// Print the stored version as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Flags of `modelwatch dataset list`.
#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Flags of `modelwatch dataset show`.
#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// NAME or NAME@VERSION.
    pub dataset: String,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Runs `modelwatch dataset`.
pub fn run(args: DatasetArgs) -> anyhow::Result<()> {
    let root = &args.home.home;
    match args.command {
        DatasetCommand::Add(add) => {
            let mut home = Home::create(root)?;
            let added = home.add_dataset(&add.name, &add.file, &add.schema.overrides())?;
            print_added(&added, add.json)
        }
        DatasetCommand::List(list) => {
            let home = Home::open(root)?;
            let datasets = home.list_datasets()?;
            if list.json {
                println!("{}", serde_json::to_string_pretty(&datasets)?);
            } else {
                print!("{}", list_table(&datasets));
            }
            Ok(())
        }
        DatasetCommand::Show(show) => {
            let home = Home::open(root)?;
            let dataset = home.resolve_dataset(&show.dataset)?;
            if show.json {
                println!("{}", serde_json::to_string_pretty(&dataset)?);
            } else {
                print!("{}", show_text(&dataset));
            }
            Ok(())
        }
        DatasetCommand::Profile(p) => {
            if classify(&p.source) == ReferenceKind::ProfileFile {
                return Err(UsageError(format!(
                    "{} is already a profile: pass a dataset NAME[@VERSION] or a CSV file",
                    p.source
                ))
                .into());
            }
            let profile = load_profile(
                root,
                &p.source,
                &p.schema.overrides(),
                &p.options.options(p.row_sample_size),
            )?;
            let json = profile.to_json();
            match &p.output {
                Some(path) => {
                    std::fs::write(path, json + "\n").with_context(|| {
                        format!("could not write the profile to {}", path.display())
                    })?;
                    eprintln!(
                        "wrote the profile of {} ({} rows, {} columns) to {}",
                        profile.source,
                        profile.rows,
                        profile.columns.len(),
                        path.display()
                    );
                }
                None => println!("{json}"),
            }
            Ok(())
        }
    }
}

fn print_added(added: &AddedDataset, json: bool) -> anyhow::Result<()> {
    let d = &added.dataset;
    if json {
        let mut value = serde_json::to_value(d)?;
        value["created"] = added.created.into();
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else if added.created {
        println!(
            "added {} ({} rows, {} columns, sha256 {})",
            d.spec(),
            d.rows,
            d.columns,
            d.sha256
        );
    } else {
        println!(
            "unchanged: {} already holds these bytes (added {}); nothing stored",
            d.spec(),
            d.created_at
        );
    }
    Ok(())
}

/// The `dataset list` table.
pub fn list_table(datasets: &[DatasetVersion]) -> String {
    let mut rows = vec![[
        "NAME".to_string(),
        "VERSION".into(),
        "ROWS".into(),
        "COLUMNS".into(),
        "CREATED".into(),
    ]];
    for d in datasets {
        rows.push([
            d.name.clone(),
            d.version.clone(),
            d.rows.to_string(),
            d.columns.to_string(),
            d.created_at.clone(),
        ]);
    }
    if datasets.is_empty() {
        return "no datasets yet: add one with `modelwatch dataset add NAME FILE`\n".into();
    }
    align(&rows)
}

fn show_text(d: &DatasetVersion) -> String {
    let mut out = format!(
        "dataset  {}\nsha256   {}\nrows     {}\ncolumns  {}\nbytes    {}\nsource   {}\ncreated  {}\n\n",
        d.spec(),
        d.sha256,
        d.rows,
        d.columns,
        d.bytes,
        d.source_path,
        d.created_at
    );
    let mut rows = vec![["COLUMN".to_string(), "KIND".into(), "ROLE".into()]];
    for c in &d.schema.columns {
        rows.push([c.name.clone(), kebab(&c.kind), kebab(&c.role)]);
    }
    out.push_str(&align(&rows));
    out
}

fn kebab(value: &impl serde::Serialize) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}
