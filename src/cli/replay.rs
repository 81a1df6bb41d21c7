//! `modelwatch replay`: its flags, checked, then [`Replayer`] at a steady rate (with the
//! labels sent as feedback by [`LabelSender`] when asked) and the summary printed.

use crate::exit::UsageError;
use crate::replay::labels::{Flip, LabelFeed, LabelSender, LabelTally};
use crate::replay::wire::Wire;
use crate::replay::{Phase, Replayer, Rows, Stats};
use anyhow::Context as _;
use std::path::PathBuf;
use std::time::Duration;

/// Replay dataset rows as inference requests at a steady rate, optionally drifted, and
/// optionally send their labels to the sidecar afterwards.
///
/// Every request carries --batch rows taken in turn from the CSV (in a fixed shuffled order,
/// wrapping around), in the chosen protocol. --drift changes rows on the way, e.g. `--drift Income*1.5 --drift
/// Home=rent:0.8 --drift Age+10 --drift Job=missing:0.3`. Useful for load tests and demos
/// against any model server; prints requests sent, errors, and exact p50/p90/p99 latency.
///
/// Labels (ground truth): with --labels-url, each row's --target-column value (never sent
/// as an input) goes to the sidecar's POST /api/v1/feedback --labels-delay after the
/// sidecar answered, in batches of --labels-batch, under the request id the sidecar
/// returned (X-Request-Id) and the row's place in the request; --target must then be the
/// sidecar, with quality.enabled. --flip-labels corrupts them for a concept shift (inputs
/// unchanged, outcome changed): `--flip-labels Home=rent` gives every renter the other
/// class, `Home=rent:0.5` half of them, `0.1` a tenth of all rows. Prints the labels'
/// outcomes as the sidecar counted them (joined, unknown_request, duplicate, ...).
///
/// Example:
///   modelwatch replay --target http://127.0.0.1:8080 --dataset examples/credit/credit_data.csv \
///     --target-column Status --labels-url http://127.0.0.1:9090 --labels-delay 10s \
///     --flip-labels Home=rent
// `--help` text with an example command, not rustdoc.
#[allow(rustdoc::broken_intra_doc_links)]
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
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
    /// The dataset column holding the label: not sent as an input; sent as feedback with --labels-url
    #[arg(long, value_name = "COL")]
    pub target_column: Option<String>,
    /// Send the labels to this sidecar admin URL (http://HOST:PORT; /api/v1/feedback is added)
    #[arg(long, value_name = "URL", requires = "target_column")]
    pub labels_url: Option<String>,
    /// How long after its prediction each label is sent, e.g. 0s, 30s, 5m (the run waits for the last)
    #[arg(long, default_value = "0s", value_parser = humantime::parse_duration, requires = "labels_url")]
    pub labels_delay: Duration,
    /// Labels per feedback request (the sidecar lists the first 100 problems of each, which are retried)
    #[arg(long, default_value_t = 100, value_name = "N", requires = "labels_url")]
    pub labels_batch: usize,
    /// Flip labels to the other class: COL=VALUE, COL=VALUE:SHARE or SHARE (concept shift)
    #[arg(long, value_name = "SPEC", requires = "labels_url")]
    pub flip_labels: Option<String>,
    /// A file holding the sidecar's admin bearer token (its admin.token_file), for --labels-url
    #[arg(long, value_name = "FILE", requires = "labels_url")]
    pub token_file: Option<PathBuf>,
}

/// Runs `modelwatch replay`.
pub fn run(args: ReplayArgs) -> anyhow::Result<()> {
    if !(args.rate > 0.0 && args.rate.is_finite()) {
        return Err(UsageError(format!("--rate {} must be a positive number", args.rate)).into());
    }
    if args.batch == 0 {
        return Err(UsageError("--batch must be at least 1".into()).into());
    }
    if args.labels_batch == 0 {
        return Err(UsageError("--labels-batch must be at least 1".into()).into());
    }
    let rows = Rows::load_with_target(&args.dataset, &args.drop, args.target_column.as_deref())?;
    let injections = rows.injections(&args.drift)?;
    let flip = match (&args.flip_labels, &rows.targets) {
        (Some(spec), Some(targets)) => Some(targets.bind(&Flip::parse(spec)?, &rows.columns)?),
        _ => None,
    };
    let replayer = Replayer::new(&args.target, args.protocol, &args.model, rows)?;
    let token = match &args.token_file {
        Some(path) => Some(crate::bearer::read_token_file(
            path,
            "--token-file",
            "the admin API token",
        )?),
        None => None,
    };
    let tally = LabelTally::default();
    let (replayer, labels) = match &args.labels_url {
        Some(url) => {
            let feed = LabelFeed {
                admin: url.clone(),
                token,
                delay: args.labels_delay,
                batch: args.labels_batch,
            };
            let (replayer, sender) = replayer.with_labels(feed, &tally)?;
            (replayer, Some(sender))
        }
        None => (replayer, None),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("could not start the async runtime")?;
    if let Some(url) = &args.labels_url {
        runtime.block_on(reachable(url))?;
    }
    let stats = Stats::default();
    let phase = Phase {
        rate: args.rate,
        duration: args.duration,
        batch: args.batch,
        injections,
        flip,
    };
    runtime.block_on(send(replayer, labels, &phase, &stats));
    let summary = stats.summary();
    let labelled = args.labels_url.as_ref().map(|_| tally.summary());
    if args.json {
        let mut out = serde_json::to_value(&summary)?;
        if let Some(l) = &labelled {
            out["labels"] = serde_json::to_value(l)?;
        }
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!("{}", summary.line());
        if let Some(l) = &labelled {
            println!("{}", l.line());
        }
    }
    if summary.sent > 0 && summary.errors == summary.sent {
        anyhow::bail!(
            "every request failed (last error: {}): is {} up?",
            summary.last_error.as_deref().unwrap_or("unknown"),
            args.target
        );
    }
    if let Some(l) = labelled.filter(|l| l.failed > 0) {
        anyhow::bail!(
            "{} of {} labels were not taken by {} ({}): check --labels-url and --token-file",
            l.failed,
            l.sent,
            args.labels_url.as_deref().unwrap_or_default(),
            l.last_error.as_deref().unwrap_or("unknown error")
        );
    }
    Ok(())
}

/// Replays `phase`, with the labels' sender beside it until its last label is sent.
async fn send(replayer: Replayer, labels: Option<LabelSender>, phase: &Phase, stats: &Stats) {
    let labels = labels.map(|l| tokio::spawn(l.run()));
    replayer.run(phase, stats, crate::shutdown::signal()).await;
    // The replayer holds the labels' channel: dropping it lets the sender finish.
    drop(replayer);
    if let Some(task) = labels {
        let _ = task.await;
    }
}

/// Fails early, before any traffic, when the sidecar's admin API cannot be reached.
async fn reachable(admin: &str) -> anyhow::Result<()> {
    let uri: http::Uri = format!("{}/healthz", admin.trim_end_matches('/'))
        .parse()
        .map_err(|_| {
            UsageError(format!(
                "--labels-url {admin:?} is not a URL like http://HOST:PORT"
            ))
        })?;
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Full<bytes::Bytes>>();
    match tokio::time::timeout(Duration::from_secs(10), client.get(uri)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => anyhow::bail!(
            "cannot reach the sidecar's admin API at {admin} (--labels-url): {e:#}; give its \
             admin address (proxy --admin-listen, default port 9090)"
        ),
        Err(_) => anyhow::bail!(
            "the sidecar's admin API at {admin} (--labels-url) did not answer within 10 s"
        ),
    }
}
