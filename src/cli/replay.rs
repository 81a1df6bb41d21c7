//! `modelwatch replay`: its flags, checked, then [`Replayer`] at a steady rate and the
//! summary printed.

use crate::exit::UsageError;
use crate::replay::wire::Wire;
use crate::replay::{Phase, Replayer, Rows, Stats};
use anyhow::Context as _;
use std::path::PathBuf;
use std::time::Duration;

/// Replay dataset rows as inference requests at a steady rate, optionally drifted.
///
/// Every request carries --batch rows taken in turn from the CSV (in a fixed shuffled order,
/// wrapping around), in the chosen protocol. --drift changes rows on the way, e.g. `--drift Income*1.5 --drift
/// Home=rent:0.8 --drift Age+10 --drift Job=missing:0.3`. Useful for load tests and demos
/// against any model server; prints requests sent, errors, and exact p50/p90/p99 latency.
#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    /// Base URL of the server (a model server or the modelwatch proxy), e.g. http://127.0.0.1:8080
    #[arg(long, value_name = "URL")]
    pub target: String,
    /// CSV file whose rows are sent
    #[arg(long, value_name = "FILE")]
    pub dataset: PathBuf,
    /// Protocol of the requests: oip, v1, mlflow or seldon
    #[arg(long, default_value = "oip", value_parser = clap::value_parser!(Wire))]
    pub protocol: Wire,
    /// Model name in the request path (oip and v1)
    #[arg(long, default_value = "credit", value_name = "NAME")]
    pub model: String,
    /// Requests per second
    #[arg(long, default_value_t = 20.0, value_name = "RPS")]
    pub rate: f64,
    /// How long to send, e.g. 30s or 2m
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    pub duration: Duration,
    /// Rows per request
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub batch: usize,
    /// Drift to inject (repeatable): COL*FACTOR, COL+DELTA, COL-DELTA, COL=VALUE:SHARE
    #[arg(long, value_name = "SPEC")]
    pub drift: Vec<String>,
    /// Columns not to send (e.g. the label), comma-separated
    #[arg(long, value_name = "COL,...", value_delimiter = ',')]
    pub drop: Vec<String>,
    /// Print the summary as JSON
    #[arg(long)]
    pub json: bool,
}

/// Runs `modelwatch replay`.
pub fn run(args: ReplayArgs) -> anyhow::Result<()> {
    if !(args.rate > 0.0 && args.rate.is_finite()) {
        return Err(UsageError(format!("--rate {} must be a positive number", args.rate)).into());
    }
    if args.batch == 0 {
        return Err(UsageError("--batch must be at least 1".into()).into());
    }
    let rows = Rows::load(&args.dataset, &args.drop)?;
    let injections = rows.injections(&args.drift)?;
    let replayer = Replayer::new(&args.target, args.protocol, &args.model, rows)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("could not start the async runtime")?;
    let stats = Stats::default();
    runtime.block_on(replayer.run(
        &Phase {
            rate: args.rate,
            duration: args.duration,
            batch: args.batch,
            injections,
        },
        &stats,
        crate::shutdown::signal(),
    ));
    let summary = stats.summary();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        println!("{}", summary.line());
    }
    if summary.sent > 0 && summary.errors == summary.sent {
        anyhow::bail!(
            "every request failed (last error: {}): is {} up?",
            summary.last_error.as_deref().unwrap_or("unknown"),
            args.target
        );
    }
    Ok(())
}
