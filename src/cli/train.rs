//! `modelwatch train`: train on a stored dataset version and write the artifact.

use super::flags::HomeArgs;
use crate::registry::home::Home;
use crate::train::config::ConfigFile;
use crate::train::jobs::{train_on, write_file};
use std::path::PathBuf;

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

/// Runs `modelwatch train`.
pub fn run(args: TrainArgs) -> anyhow::Result<()> {
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
