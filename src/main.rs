//! The `modelwatch` command: parse the flags, run one job, print errors, exit with a
//! documented code. Every job lives in the library; this file only dispatches.

use clap::{Parser, Subcommand};
use modelwatch::exit;

/// Observability sidecar and drift monitor for machine-learning model servers.
///
/// modelwatch sits in front of a model server, forwards its inference traffic untouched
/// and records latency, errors, and the distribution of every input feature and
/// prediction, exposed as Prometheus metrics.
///
/// Exit codes: 0 success, 1 the job failed, 2 bad usage or configuration.
#[derive(Debug, Parser)]
#[command(
    name = "modelwatch",
    version,
    propagate_version = true,
    max_term_width = 100
)]
struct Cli {
    #[command(subcommand)]
    job: Job,
}

#[derive(Debug, Subcommand)]
enum Job {
    Proxy(modelwatch::proxy::ProxyArgs),
    /// Store, list, show and profile versioned datasets.
    Dataset(modelwatch::registry::dataset_cli::DatasetArgs),
    /// Compare a current CSV with a reference dataset, profile or CSV, column by column.
    Drift(modelwatch::drift_cli::DriftArgs),
}

fn main() {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            // clap prints help and version to stdout with exit 0, usage errors with exit 2.
            err.exit();
        }
    };
    let result = match cli.job {
        Job::Proxy(args) => modelwatch::proxy::run(args),
        Job::Dataset(args) => modelwatch::registry::dataset_cli::run(args),
        Job::Drift(args) => modelwatch::drift_cli::run(args),
    };
    match result {
        Ok(()) => std::process::exit(exit::OK),
        Err(err) => {
            eprintln!("modelwatch: {err:#}");
            std::process::exit(exit::code_for(&err));
        }
    }
}
