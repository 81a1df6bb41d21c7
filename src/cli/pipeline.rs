//! `modelwatch pipeline run FILE`: the flags of [`crate::pipeline::run`].

use super::flags::HomeArgs;
use std::path::PathBuf;

/// Flags of `modelwatch pipeline`.
#[derive(Debug, clap::Args)]
pub struct PipelineArgs {
    #[command(flatten)]
    pub home: HomeArgs,
    #[command(subcommand)]
    pub command: PipelineCommand,
}

/// Pipeline commands.
#[derive(Debug, clap::Subcommand)]
pub enum PipelineCommand {
    /// Run the pipeline described by a TOML file (see examples/credit/pipeline.toml).
    Run(RunArgs),
}

/// Flags of `pipeline run`.
// Doc comments here are `--help` text (TOML sections, `NAME[@VERSION]`), not rustdoc links.
#[allow(rustdoc::broken_intra_doc_links)]
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The pipeline file: [dataset], [model], [train], [validate], [gates].
    pub file: PathBuf,
    /// Also write report.json and report.md into this directory.
    #[arg(long, value_name = "DIR")]
    pub report: Option<PathBuf>,
}

/// Runs `modelwatch pipeline`.
pub fn run(args: PipelineArgs) -> anyhow::Result<()> {
    let PipelineCommand::Run(run) = args.command;
    crate::pipeline::run(&args.home.home, &run.file, run.report.as_deref())
}
