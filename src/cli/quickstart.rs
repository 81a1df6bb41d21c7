//! `modelwatch quickstart`: the whole system on one machine, from a fresh clone, with no
//! external services. It versions the credit dataset, trains, validates, registers and
//! promotes a model (the pipeline), serves it, puts the sidecar in front, replays clean
//! traffic and then drifted traffic, and shows drift being caught; the rows' labels follow
//! a little later as feedback (renters' outcomes flipped in the drifted half), so it shows
//! the performance estimate, then the realised figures, then the quality alerts' state.
//!
//! `serve` and `proxy` run as child processes of this one (the same binary), so what the
//! quickstart shows is exactly what a deployment runs; they are stopped when it ends, on
//! Ctrl-C too.

mod quality;

use super::flags::HomeArgs;
use crate::replay::labels::{Flip, LabelFeed, LabelTally};
use crate::replay::wire::Wire;
use crate::replay::{Phase, Replayer, Rows, Stats};
use anyhow::{Context as _, bail};
use serde_json::Value;
use std::io::{BufRead, BufReader, IsTerminal, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Run the whole system locally and watch drift get caught.
///
/// Trains and promotes the credit model (examples/credit/pipeline.toml), serves it, starts
/// the sidecar in front of it with the model's reference profile, replays clean traffic
/// for half of --duration and traffic with Income × 1.5 and 80 % of homes `rent` for the
/// other half, and prints requests, latency and the drift table as it goes. Each row's
/// label (Status) follows as feedback a tenth of --duration later, with renters' outcomes
/// flipped in the second half (a concept shift): the performance estimate, the realised
/// accuracy and the quality alerts' conditions are shown too. Exits 0 after --duration or
/// on Ctrl-C, stopping everything it started.
#[derive(Debug, clap::Args)]
pub struct QuickstartArgs {
    #[command(flatten)]
    pub home: HomeArgs,
    /// How long to send traffic (clean, then drifted)
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    pub duration: Duration,
    /// The pipeline to run first
    #[arg(
        long,
        default_value = "examples/credit/pipeline.toml",
        value_name = "FILE"
    )]
    pub pipeline: PathBuf,
    /// Sidecar address for inference traffic
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR")]
    pub listen: String,
    /// Sidecar admin address (/metrics, /api/v1/drift)
    #[arg(long, default_value = "127.0.0.1:9090", value_name = "ADDR")]
    pub admin_listen: String,
    /// Model server address
    #[arg(long, default_value = "127.0.0.1:8000", value_name = "ADDR")]
    pub model_listen: String,
    /// Requests per second (10 rows each)
    #[arg(long, default_value_t = 40.0, value_name = "RPS")]
    pub rate: f64,
}

/// What is injected in the second half.
pub const INJECTED: [&str; 2] = ["Income*1.5", "Home=rent:0.8"];
/// Whose labels are flipped in the second half.
pub const FLIPPED: &str = "Home=rent";
/// The dataset column sent as labels.
const TARGET: &str = "Status";

/// A child process stopped when dropped.
struct ChildGuard(Child, &'static str);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        // SIGTERM first so the child drains; then make sure it is gone.
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if matches!(self.0.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
        eprintln!(
            "modelwatch quickstart: {} did not stop in 10 s and was killed",
            self.1
        );
    }
}

/// Runs `modelwatch quickstart`.
pub fn run(args: QuickstartArgs) -> anyhow::Result<()> {
    crate::logging::init();
    let home = args.home.home.clone();
    let pipeline_file = args.pipeline.clone();
    if !pipeline_file.is_file() {
        bail!(crate::exit::UsageError(format!(
            "{} not found: run the quickstart from the modelwatch repository root, or pass \
             --pipeline with the path of examples/credit/pipeline.toml",
            pipeline_file.display()
        )));
    }
    say("1/4 pipeline: version the credit dataset, train, validate, register, promote");
    crate::pipeline::run(&home, &pipeline_file, None).context("the credit pipeline failed")?;

    say("2/4 serving credit@production and starting the sidecar in front of it");
    let exe = std::env::current_exe().context("cannot find the modelwatch binary")?;
    let (serve, serve_line) = spawn(
        Command::new(&exe)
            .args([
                "serve",
                "--model",
                "credit@production",
                "--listen",
                &args.model_listen,
            ])
            .env("MODELWATCH_HOME", &home),
        "listening on http://",
        "model server",
    )?;
    let model_url = serve_line
        .split("listening on ")
        .nth(1)
        .context("the model server did not say where it listens")?
        .trim()
        .to_string();
    let state = home.join("state");
    let (proxy, proxy_line) = spawn(
        Command::new(&exe)
            .args([
                "proxy",
                "--upstream",
                &model_url,
                "--listen",
                &args.listen,
                "--admin-listen",
                &args.admin_listen,
                "--reference",
                "credit@production",
                "--model-name",
                "credit",
                "--state-dir",
            ])
            .arg(&state)
            .env("MODELWATCH_HOME", &home)
            .env("MODELWATCH__ANALYSIS__EVALUATION_INTERVAL", "2s")
            .env("MODELWATCH__ANALYSIS__WINDOW_ROWS", "2000")
            .env("MODELWATCH__QUALITY__ENABLED", "true")
            .env("MODELWATCH__QUALITY__WINDOW_ROWS", "2000"),
        "modelwatch proxy started",
        "sidecar",
    )?;
    let field = |key: &str| {
        proxy_line
            .split_whitespace()
            .find_map(|w| w.strip_prefix(key))
            .map(str::to_string)
            .context("the sidecar did not say where it listens")
    };
    let (listen, admin) = (field("listen=")?, field("admin=")?);
    say(&format!(
        "model server pid {} on {model_url}, sidecar pid {} on {listen}",
        serve.0.id(),
        proxy.0.id()
    ));
    let (_serve, _proxy) = (serve, proxy);

    let data = pipeline_file
        .parent()
        .unwrap_or(std::path::Path::new("."))
        .join("credit_data.csv");
    let rows = Rows::load_with_target(&data, &[], Some(TARGET))?;
    let drifted = rows.injections(&INJECTED.map(String::from))?;
    let flip = rows
        .targets
        .as_ref()
        .context("the credit data has a Status column")?
        .bind(&Flip::parse(FLIPPED)?, &rows.columns)?;
    // Labels come a tenth of the run after their predictions; the traffic stops that much
    // earlier, so the last labels are in before the end and the run lasts --duration.
    let delay = args.duration / 10;
    let tally = LabelTally::default();
    let (replayer, labels) = Replayer::new(&format!("http://{listen}"), Wire::Oip, "credit", rows)?
        .with_labels(
            LabelFeed {
                admin: format!("http://{admin}"),
                token: None,
                delay,
                batch: 100,
            },
            &tally,
        )?;
    let stats = Stats::default();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let half = (args.duration - delay) / 2;
    let screen = Screen::new(&listen, &admin, &model_url);
    let interrupted = runtime.block_on(async {
        let stop = crate::shutdown::signal();
        tokio::pin!(stop);
        let labels = tokio::spawn(labels.run());
        for (step, injections, flip) in [
            (
                "3/4 clean traffic (rows from the reference data); labels follow",
                Vec::new(),
                None,
            ),
            (
                "4/4 drifted traffic (Income × 1.5, 80 % of homes `rent`); renters' labels flipped",
                drifted,
                Some(flip),
            ),
        ] {
            say(step);
            let phase = Phase {
                rate: args.rate,
                duration: half,
                batch: 10,
                injections,
                flip,
            };
            let mut done = false;
            let send = replayer.run(&phase, &stats, std::future::pending());
            tokio::pin!(send);
            let mut tick = tokio::time::interval(Duration::from_secs(2));
            while !done {
                tokio::select! {
                    _ = &mut send => done = true,
                    _ = tick.tick() => screen.show(step, &stats, &admin).await,
                    _ = &mut stop => return true,
                }
            }
        }
        // The last labels, then one more evaluation, so they are in the final figures.
        drop(replayer);
        let step = "labels of the last requests";
        let mut tick = tokio::time::interval(Duration::from_secs(2));
        tokio::pin!(labels);
        loop {
            tokio::select! {
                _ = &mut labels => break,
                _ = tick.tick() => screen.show(step, &stats, &admin).await,
                _ = &mut stop => return true,
            }
        }
        tokio::time::sleep(Duration::from_millis(2500)).await;
        false
    });
    let report = runtime.block_on(admin_json(&admin, "/api/v1/drift"));
    let performance = runtime.block_on(admin_json(&admin, "/api/v1/performance"));
    screen.finish(
        &stats,
        report.as_ref(),
        performance.as_ref(),
        &tally,
        interrupted,
    );
    Ok(())
}

fn say(step: &str) {
    eprintln!("modelwatch quickstart: {step}");
}

/// Starts a child and waits for the stderr line that says it is up.
fn spawn(
    command: &mut Command,
    ready: &str,
    what: &'static str,
) -> anyhow::Result<(ChildGuard, String)> {
    let mut child = command
        .env("MODELWATCH_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("could not start the {what}"))?;
    let stderr = child.stderr.take().expect("piped");
    let guard = ChildGuard(child, what);
    let (tx, rx) = std::sync::mpsc::channel();
    let ready = ready.to_string();
    std::thread::spawn(move || {
        let mut seen = false;
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if !seen && line.contains(&ready) {
                seen = true;
                let _ = tx.send(Ok(line));
            } else if line.contains("ERROR")
                || line.contains("WARN")
                || line.starts_with("modelwatch:")
            {
                // The children's problems are the user's to see; their routine logs are not.
                eprintln!("{what}: {line}");
                if !seen {
                    let _ = tx.send(Err(line));
                }
            }
        }
    });
    match rx.recv_timeout(Duration::from_secs(30)) {
        Ok(Ok(line)) => Ok((guard, line)),
        Ok(Err(line)) => bail!("the {what} failed to start: {line}"),
        Err(_) => bail!("the {what} did not start within 30 s"),
    }
}

/// A JSON report of the sidecar's admin API (`/api/v1/drift`, `/api/v1/performance`).
async fn admin_json(admin: &str, path: &str) -> Option<Value> {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Full<bytes::Bytes>>();
    let uri: http::Uri = format!("http://{admin}{path}").parse().ok()?;
    let response = client.get(uri).await.ok()?;
    use http_body_util::BodyExt;
    let body = response.into_body().collect().await.ok()?.to_bytes();
    serde_json::from_slice(&body).ok()
}

/// The live summary: redrawn in place on a terminal, one quiet line per refresh otherwise.
struct Screen {
    terminal: bool,
    listen: String,
    admin: String,
    model: String,
    started: Instant,
}

impl Screen {
    fn new(listen: &str, admin: &str, model: &str) -> Screen {
        Screen {
            terminal: std::io::stdout().is_terminal(),
            listen: listen.to_string(),
            admin: admin.to_string(),
            model: model.to_string(),
            started: Instant::now(),
        }
    }

    async fn show(&self, step: &str, stats: &Stats, admin: &str) {
        let summary = stats.summary();
        let report = admin_json(admin, "/api/v1/drift").await;
        let accuracy =
            quality::Accuracy::of(admin_json(admin, "/api/v1/performance").await.as_ref());
        let mut out = std::io::stdout().lock();
        if self.terminal {
            let _ = write!(out, "\x1b[2J\x1b[H");
            let _ = writeln!(
                out,
                "{}\n{step}  ({:.0} s)\n",
                self.addresses(),
                self.started.elapsed().as_secs_f64()
            );
            let _ = writeln!(out, "{}\n", summary.line());
            let _ = writeln!(out, "{}", drift_table(report.as_ref()));
            if let Some(a) = &accuracy {
                let _ = writeln!(out, "{}", a.table());
            }
        } else {
            let drifted = drifted_features(report.as_ref());
            let _ = writeln!(
                out,
                "t={:.0}s requests={} errors={} p50={:.2}ms p99={:.2}ms drifted=[{}]{}",
                self.started.elapsed().as_secs_f64(),
                summary.sent,
                summary.errors,
                summary.p50_ms,
                summary.p99_ms,
                drifted.join(","),
                accuracy.map(|a| a.fields()).unwrap_or_default()
            );
        }
    }

    fn finish(
        &self,
        stats: &Stats,
        report: Option<&Value>,
        performance: Option<&Value>,
        labels: &LabelTally,
        interrupted: bool,
    ) {
        let summary = stats.summary();
        let mut out = std::io::stdout().lock();
        let _ = writeln!(
            out,
            "\n{}",
            if interrupted { "interrupted" } else { "done" }
        );
        let _ = writeln!(out, "{}\n", summary.line());
        let _ = writeln!(out, "{}", drift_table(report));
        let drifted = drifted_features(report);
        let _ = writeln!(
            out,
            "drifted features: {}",
            if drifted.is_empty() {
                "none".to_string()
            } else {
                drifted.join(", ")
            }
        );
        let _ = writeln!(out, "injected: {}\n", INJECTED.join(", "));
        if let Some(a) = quality::Accuracy::of(performance) {
            let _ = writeln!(out, "{}", a.table());
        }
        let _ = writeln!(
            out,
            "{}\nflipped in the second half: labels of {FLIPPED} (concept shift)\n\n{}",
            labels.summary().line(),
            self.addresses()
        );
    }

    fn addresses(&self) -> String {
        format!(
            "model server   http://{model}  (Open Inference Protocol, /invocations)\n\
             sidecar        http://{listen}  (send inference requests here)\n\
             metrics        http://{admin}/metrics  (scrape target for Prometheus:\n\
             \x20              static_configs: [{{targets: [\"{admin}\"]}}]; Grafana dashboards in dashboards/grafana)\n\
             drift report   http://{admin}/api/v1/drift\n\
             performance    http://{admin}/api/v1/performance  (labels: POST /api/v1/feedback)",
            model = self.model.trim_start_matches("http://"),
            listen = self.listen,
            admin = self.admin,
        )
    }
}

fn drifted_features(report: Option<&Value>) -> Vec<String> {
    let mut names: Vec<String> = report
        .and_then(|r| r["models"].as_array())
        .into_iter()
        .flatten()
        .flat_map(|m| m["features"].as_array().cloned().unwrap_or_default())
        .filter(|f| f["drifted"] == Value::Bool(true))
        .filter_map(|f| f["name"].as_str().map(str::to_string))
        .collect();
    names.sort();
    names.dedup();
    names
}

fn drift_table(report: Option<&Value>) -> String {
    let Some(models) = report.and_then(|r| r["models"].as_array()) else {
        return "drift: no report yet".to_string();
    };
    let mut out = String::new();
    for m in models {
        out.push_str(&format!(
            "{}@{}  window {} rows  drift share {:.2}{}\n",
            m["model"].as_str().unwrap_or("?"),
            m["model_version"].as_str().unwrap_or("?"),
            m["window"]["rows"],
            m["drift_share"].as_f64().unwrap_or(0.0),
            if m["dataset_drift"] == Value::Bool(true) {
                "  DATASET DRIFT"
            } else {
                ""
            }
        ));
        out.push_str(&format!(
            "  {:<22} {:<15} {:>9} {:>9}  {}\n",
            "FEATURE", "METHOD", "SCORE", "THRESHOLD", "DRIFTED"
        ));
        let columns = m["features"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|f| (f, ""));
        let predictions = m["predictions"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|f| (f, "prediction:"));
        for (f, prefix) in columns.chain(predictions) {
            out.push_str(&format!(
                "  {:<22} {:<15} {:>9} {:>9}  {}\n",
                format!("{prefix}{}", f["name"].as_str().unwrap_or("?")),
                f["method"].as_str().unwrap_or("-"),
                f["score"]
                    .as_f64()
                    .map_or("-".into(), |s| format!("{s:.4}")),
                f["threshold"]
                    .as_f64()
                    .map_or("-".into(), |s| format!("{s}")),
                if f["drifted"] == Value::Bool(true) {
                    "yes"
                } else {
                    "no"
                }
            ));
        }
    }
    out
}
