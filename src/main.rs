//! The `modelwatch` command: parse the flags, run one job, print errors, exit with a
//! documented code. Every job lives in the library; this file only dispatches.

use clap::{Parser, Subcommand};
use modelwatch::exit;

/// Observability sidecar and drift monitor for machine-learning model servers.
///
/// modelwatch sits in front of a model server, forwards its inference traffic untouched
/// and records latency, errors, and the distribution of every input feature and
/// prediction, with drift against a versioned reference, as Prometheus metrics and a JSON
/// report. Start with `modelwatch quickstart` to see the whole system on this machine.
///
/// Exit codes: 0 success, 1 the job failed, 2 bad usage or configuration.
#[derive(Debug, Parser)]
#[command(
    name = "modelwatch",
    version = modelwatch::provenance::VERSION_LINE,
    propagate_version = true,
    max_term_width = 100
)]
struct Cli {
    /// `--home` is global: `modelwatch --home DIR dataset add …` works as well as
    /// `modelwatch dataset add … --home DIR`; each job reads the value clap propagates.
    #[command(flatten)]
    _home: modelwatch::registry::home::HomeArgs,
    #[command(subcommand)]
    job: Job,
}

#[derive(Debug, Subcommand)]
enum Job {
    Proxy(modelwatch::proxy::ProxyArgs),
    /// Store, list, show and profile versioned datasets.
    Dataset(modelwatch::registry::dataset_cli::DatasetArgs),
    /// Train a model on a stored dataset version (seeded, reproducible artifact).
    Train(modelwatch::train::jobs::TrainArgs),
    /// Validate a model: holdout, cross-validation, importance, robustness, gates.
    Validate(modelwatch::train::jobs::ValidateArgs),
    /// Register, list, show, promote, roll back and archive model versions.
    Registry(modelwatch::registry_cli::RegistryArgs),
    /// Serve a registered model over the Open Inference Protocol and MLflow /invocations.
    Serve(modelwatch::serve::ServeArgs),
    /// Run a train → validate → register → promote pipeline from a TOML file.
    Pipeline(modelwatch::pipeline::PipelineArgs),
    /// Compare a current CSV with a reference dataset, profile or CSV, column by column.
    Drift(modelwatch::drift_cli::DriftArgs),
    /// Replay dataset rows as inference requests at a steady rate, optionally drifted.
    Replay(modelwatch::replay::ReplayArgs),
    /// Run the whole system locally: train, serve, sidecar, clean then drifted traffic.
    Quickstart(modelwatch::quickstart::QuickstartArgs),
    /// Probe an HTTP endpoint: exit 0 on 2xx, 1 otherwise (container healthchecks).
    Healthcheck(modelwatch::healthcheck::HealthcheckArgs),
    /// Send delayed labels (ground truth) to a sidecar to join its stored predictions.
    Feedback(modelwatch::feedback_cli::FeedbackArgs),
}

impl Job {
    /// Jobs whose output is read by other programs (`modelwatch drift --json | head`).
    fn writes_for_pipes(&self) -> bool {
        !matches!(
            self,
            Job::Proxy(_)
                | Job::Serve(_)
                | Job::Quickstart(_)
                | Job::Registry(modelwatch::registry_cli::RegistryArgs {
                    command: modelwatch::registry_cli::RegistryCommand::Serve(_),
                    ..
                })
        )
    }
}

/// Lets a closed pipe end the process quietly, as it ends other Unix tools. Rust ignores
/// SIGPIPE by default, which turns `| head` into a panic in `println!`; servers keep that
/// default so that no client can kill them.
fn restore_sigpipe() {
    // SAFETY: resetting a signal disposition to its default touches no memory of ours,
    // and no other thread exists yet.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn main() {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            // clap prints help and version to stdout with exit 0, usage errors with exit 2.
            err.exit();
        }
    };
    if cli.job.writes_for_pipes() {
        restore_sigpipe();
    }
    let result = match cli.job {
        Job::Proxy(args) => modelwatch::proxy::run(args),
        Job::Dataset(args) => modelwatch::registry::dataset_cli::run(args),
        Job::Train(args) => modelwatch::train::jobs::run_train(args),
        Job::Validate(args) => modelwatch::train::jobs::run_validate(args),
        Job::Registry(modelwatch::registry_cli::RegistryArgs {
            home,
            command: modelwatch::registry_cli::RegistryCommand::Serve(args),
        }) => modelwatch::registry_server::run(home, args),
        Job::Registry(args) => modelwatch::registry_cli::run(args),
        Job::Serve(args) => modelwatch::serve::run(args),
        Job::Pipeline(args) => modelwatch::pipeline::run(args),
        Job::Drift(args) => modelwatch::drift_cli::run(args),
        Job::Replay(args) => modelwatch::replay::run(args),
        Job::Quickstart(args) => modelwatch::quickstart::run(args),
        Job::Healthcheck(args) => modelwatch::healthcheck::run(args),
        Job::Feedback(args) => modelwatch::feedback_cli::run(args),
    };
    match result {
        Ok(()) => std::process::exit(exit::OK),
        Err(err) => {
            eprintln!("modelwatch: {err:#}");
            std::process::exit(exit::code_for(&err));
        }
    }
}
