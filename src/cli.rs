//! The command line, the crate's top layer: each subcommand's flags (clap), how they
//! resolve to values, and what is printed. Below it, the library takes plain values and
//! structs; no clap type reaches under `cli/`.
//!
//! One file per subcommand: [`proxy`], [`dataset`], [`train`], [`validate`], [`registry`]
//! (with `registry serve`), [`serve`], [`pipeline`], [`drift`] (which also reads the
//! files it compares and prints the report), [`replay`], [`quickstart`], [`healthcheck`],
//! [`feedback`]. [`flags`] holds the flags several subcommands share (`--home`, the
//! schema overrides, the profile options), [`table`] the aligned text tables.

pub mod dataset;
pub mod drift;
pub mod feedback;
pub mod flags;
pub mod healthcheck;
pub mod pipeline;
pub mod proxy;
pub mod quickstart;
pub mod registry;
pub mod replay;
pub mod serve;
pub mod table;
pub mod train;
pub mod validate;

use clap::{Parser, Subcommand};

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
    version = crate::provenance::VERSION_LINE,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    /// `--home` is global: `modelwatch --home DIR dataset add …` works as well as
    /// `modelwatch dataset add … --home DIR`; each job reads the value clap propagates.
    #[command(flatten)]
    _home: flags::HomeArgs,
    #[command(subcommand)]
    pub job: Job,
}

/// One subcommand with its flags.
#[derive(Debug, Subcommand)]
pub enum Job {
    Proxy(proxy::ProxyArgs),
    /// Store, list, show and profile versioned datasets.
    Dataset(dataset::DatasetArgs),
    /// Train a model on a stored dataset version (seeded, reproducible artifact).
    Train(train::TrainArgs),
    /// Validate a model: holdout, cross-validation, importance, robustness, gates.
    Validate(validate::ValidateArgs),
    /// Register, list, show, promote, roll back and archive model versions.
    Registry(registry::RegistryArgs),
    /// Serve a registered model over the Open Inference Protocol and MLflow /invocations.
    Serve(serve::ServeArgs),
    /// Run a train → validate → register → promote pipeline from a TOML file.
    Pipeline(pipeline::PipelineArgs),
    /// Compare a current CSV with a reference dataset, profile or CSV, column by column.
    Drift(drift::DriftArgs),
    /// Replay dataset rows as inference requests at a steady rate, optionally drifted.
    Replay(replay::ReplayArgs),
    /// Run the whole system locally: train, serve, sidecar, clean then drifted traffic.
    Quickstart(quickstart::QuickstartArgs),
    /// Probe an HTTP endpoint: exit 0 on 2xx, 1 otherwise (container healthchecks).
    Healthcheck(healthcheck::HealthcheckArgs),
    /// Send delayed labels (ground truth) to a sidecar to join its stored predictions.
    Feedback(feedback::FeedbackArgs),
}

impl Job {
    /// Jobs whose output is read by other programs (`modelwatch drift --json | head`).
    pub fn writes_for_pipes(&self) -> bool {
        !matches!(
            self,
            Job::Proxy(_)
                | Job::Serve(_)
                | Job::Quickstart(_)
                | Job::Registry(registry::RegistryArgs {
                    command: registry::RegistryCommand::Serve(_),
                    ..
                })
        )
    }

    /// Runs the job to its end.
    pub fn run(self) -> anyhow::Result<()> {
        match self {
            Job::Proxy(args) => proxy::run(args),
            Job::Dataset(args) => dataset::run(args),
            Job::Train(args) => train::run(args),
            Job::Validate(args) => validate::run(args),
            Job::Registry(args) => registry::run(args),
            Job::Serve(args) => serve::run(args),
            Job::Pipeline(args) => pipeline::run(args),
            Job::Drift(args) => drift::run(args),
            Job::Replay(args) => replay::run(args),
            Job::Quickstart(args) => quickstart::run(args),
            Job::Healthcheck(args) => healthcheck::run(args),
            Job::Feedback(args) => feedback::run(args),
        }
    }
}
