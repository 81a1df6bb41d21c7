//! `modelwatch replay`: dataset rows sent as inference requests at a steady rate, with
//! optional drift injection, reporting what was sent, what failed and the latency.
//!
//! The schedule is open-loop: request `k` is due at `start + k / rate` whether or not
//! earlier ones have answered, and its latency is measured from when it was due, so a slow
//! server shows up as latency instead of silently lowering the rate (no coordinated
//! omission). Percentiles are exact, from an HdrHistogram.

pub mod drift_spec;
pub mod labels;
pub mod wire;

use crate::exit::UsageError;
use crate::profile::schema::{ColumnKind, Schema, SchemaOverrides};
use crate::random::SeededRng;
use anyhow::Context as _;
use bytes::Bytes;
use drift_spec::Injection;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use labels::{Answered, BoundFlip, LabelTally, Targets};
use serde::Serialize;
use serde_json::Value;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use wire::Wire;

/// The rows of a CSV, typed, ready to send.
pub struct Rows {
    pub columns: Vec<String>,
    pub numeric: Vec<bool>,
    pub rows: Vec<Vec<Value>>,
    /// The target column, kept out of the requests, when one was named.
    pub targets: Option<Targets>,
}

impl Rows {
    /// Reads `path`, leaving out the `drop` columns. Numeric columns become numbers, empty
    /// cells nulls.
    pub fn load(path: &Path, drop: &[String]) -> anyhow::Result<Rows> {
        Rows::load_with_target(path, drop, None)
    }

    /// [`Rows::load`], with the `target` column (the label) kept aside, not sent.
    pub fn load_with_target(
        path: &Path,
        drop: &[String],
        target: Option<&str>,
    ) -> anyhow::Result<Rows> {
        let open = || {
            csv::Reader::from_path(path)
                .with_context(|| format!("could not open the dataset {}", path.display()))
        };
        let schema = Schema::infer(&mut open()?, &SchemaOverrides::default())
            .with_context(|| format!("could not read {}", path.display()))?;
        for d in drop {
            if schema.column(d).is_none() {
                return Err(UsageError(format!(
                    "--drop {d}: {} has no such column",
                    path.display()
                ))
                .into());
            }
        }
        let target_at =
            match target {
                None => None,
                Some(t) => Some(schema.columns.iter().position(|c| c.name == t).ok_or_else(
                    || {
                        UsageError(format!(
                            "--target-column {t}: {} has no such column; its columns are {}",
                            path.display(),
                            schema
                                .columns
                                .iter()
                                .map(|c| c.name.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ))
                    },
                )?),
            };
        let keep: Vec<usize> = (0..schema.columns.len())
            .filter(|&i| !drop.contains(&schema.columns[i].name) && Some(i) != target_at)
            .collect();
        let columns = keep
            .iter()
            .map(|&i| schema.columns[i].name.clone())
            .collect();
        let numeric: Vec<bool> = keep
            .iter()
            .map(|&i| schema.columns[i].kind == ColumnKind::Numeric)
            .collect();
        let mut rows = Vec::new();
        let mut targets = Vec::new();
        for record in open()?.records() {
            let record = record.with_context(|| format!("could not read {}", path.display()))?;
            if let Some(t) = target_at {
                targets.push(label_value(record.get(t).unwrap_or_default()));
            }
            rows.push(
                keep.iter()
                    .zip(&numeric)
                    .map(|(&i, &is_number)| {
                        let cell = record.get(i).unwrap_or_default();
                        if crate::profile::schema::is_missing(cell) {
                            Value::Null
                        } else if is_number {
                            cell.trim().parse::<f64>().map_or(Value::Null, Value::from)
                        } else {
                            Value::from(cell)
                        }
                    })
                    .collect(),
            );
        }
        if rows.is_empty() {
            return Err(UsageError(format!("{} has no data rows", path.display())).into());
        }
        // Files are often sorted or grouped; a window of consecutive rows would then look
        // drifted by itself. A seeded shuffle sends a representative mix, the same every run.
        SeededRng::new(0x7265_706c_6179).shuffle(&mut rows);
        let targets = target_at.map(|t| {
            // The same permutation (it depends on the length only) keeps each row's target.
            SeededRng::new(0x7265_706c_6179).shuffle(&mut targets);
            let mut classes = targets.clone();
            classes.retain(|v| !v.is_null());
            classes.sort_by_key(Value::to_string);
            classes.dedup();
            Targets {
                column: schema.columns[t].name.clone(),
                values: targets,
                classes,
            }
        });
        Ok(Rows {
            columns,
            numeric,
            rows,
            targets,
        })
    }

    /// Parses `--drift` specs and checks their columns exist.
    pub fn injections(&self, specs: &[String]) -> anyhow::Result<Vec<(usize, Injection)>> {
        specs
            .iter()
            .map(|spec| {
                let injection = Injection::parse(spec)?;
                let column = self
                    .columns
                    .iter()
                    .position(|c| c == injection.column())
                    .ok_or_else(|| {
                        UsageError(format!(
                            "--drift {spec:?}: no column {:?}; the columns are {}",
                            injection.column(),
                            self.columns.join(", ")
                        ))
                    })?;
                Ok((column, injection))
            })
            .collect()
    }
}

/// A label as the feedback API takes it: an integer, a number or a string, as the cell
/// reads; empty cells are nulls (sent as such, counted `invalid` by the sidecar).
fn label_value(cell: &str) -> Value {
    let cell = cell.trim();
    if crate::profile::schema::is_missing(cell) {
        Value::Null
    } else if let Ok(i) = cell.parse::<i64>() {
        Value::from(i)
    } else if let Ok(x) = cell.parse::<f64>() {
        Value::from(x)
    } else {
        Value::from(cell)
    }
}

/// What to send for how long.
pub struct Phase {
    pub rate: f64,
    pub duration: Duration,
    pub batch: usize,
    pub injections: Vec<(usize, Injection)>,
    /// Label corruption in this phase (labels are sent only with [`Replayer::with_labels`]).
    pub flip: Option<BoundFlip>,
}

/// Sends rows to one server.
pub struct Replayer {
    client: Client<HttpConnector, Full<Bytes>>,
    url: http::Uri,
    wire: Wire,
    rows: Rows,
    next_row: AtomicU64,
    labels: Option<(mpsc::UnboundedSender<Answered>, Duration, LabelTally)>,
}

impl Replayer {
    pub fn new(target: &str, wire: Wire, model: &str, rows: Rows) -> anyhow::Result<Replayer> {
        let url: http::Uri = format!("{}{}", target.trim_end_matches('/'), wire.path(model))
            .parse()
            .map_err(|_| {
                UsageError(format!(
                    "--target {target:?} is not a URL like http://HOST:PORT"
                ))
            })?;
        Ok(Replayer {
            client: Client::builder(TokioExecutor::new()).build_http(),
            url,
            wire,
            rows,
            next_row: AtomicU64::new(0),
            labels: None,
        })
    }

    /// Sends each answered row's target to `feed` too; run the returned sender beside
    /// [`Replayer::run`] and drop the replayer when done, so the sender sends the rest.
    pub fn with_labels(
        mut self,
        feed: labels::LabelFeed,
        tally: &LabelTally,
    ) -> anyhow::Result<(Replayer, labels::LabelSender)> {
        if self.rows.targets.is_none() {
            return Err(UsageError(
                "--labels-url needs --target-column: the dataset column holding the label".into(),
            )
            .into());
        }
        let delay = feed.delay;
        let (sender, tx) = labels::LabelSender::new(feed, tally.clone())?;
        self.labels = Some((tx, delay, tally.clone()));
        Ok((self, sender))
    }

    /// Sends at `phase.rate` for `phase.duration`, or until `stop` completes.
    pub async fn run(
        &self,
        phase: &Phase,
        stats: &Stats,
        stop: impl std::future::Future<Output = ()>,
    ) {
        let period = Duration::from_secs_f64(1.0 / phase.rate);
        let start = tokio::time::Instant::now();
        let deadline = start + phase.duration;
        let mut rng = SeededRng::new(0x5eed ^ self.next_row.load(Ordering::Relaxed));
        let mut in_flight = tokio::task::JoinSet::new();
        tokio::pin!(stop);
        let mut k: u32 = 0;
        loop {
            let due = start + period * k;
            if due >= deadline {
                break;
            }
            tokio::select! {
                _ = tokio::time::sleep_until(due) => {}
                _ = &mut stop => break,
            }
            // Finished requests are collected as we go, so the set stays small.
            while in_flight.try_join_next().is_some() {}
            let (body, labels) = self.next_body(phase, &mut rng);
            let request = http::Request::post(self.url.clone())
                .header("content-type", "application/json")
                .body(Full::new(body))
                .expect("a valid request");
            let (client, stats) = (self.client.clone(), stats.clone());
            let feed = self
                .labels
                .as_ref()
                .map(|(tx, delay, _)| (tx.clone(), *delay));
            let due = due.into_std();
            in_flight.spawn(async move {
                let outcome = match client.request(request).await {
                    Ok(response) => {
                        let status = response.status();
                        if let Some((tx, delay)) = feed.filter(|_| status.is_success()) {
                            let request_id = response
                                .headers()
                                .get("x-request-id")
                                .and_then(|v| v.to_str().ok())
                                .map(str::to_string);
                            let _ = tx.send(Answered {
                                request_id,
                                labels,
                                due: tokio::time::Instant::now() + delay,
                            });
                        }
                        let body = response.into_body().collect().await;
                        match (status.is_success(), body) {
                            (true, Ok(_)) => Ok(()),
                            (false, Ok(b)) => Err(format!(
                                "HTTP {status}: {}",
                                String::from_utf8_lossy(&b.to_bytes())
                                    .chars()
                                    .take(200)
                                    .collect::<String>()
                            )),
                            (_, Err(e)) => Err(e.to_string()),
                        }
                    }
                    Err(e) => Err(format!("{e:#}")),
                };
                stats.record(due.elapsed(), outcome);
            });
            k += 1;
        }
        while in_flight.join_next().await.is_some() {}
    }

    /// The next request's body, and its rows' labels (flipped where `phase.flip` says)
    /// when labels are sent.
    fn next_body(&self, phase: &Phase, rng: &mut SeededRng) -> (Bytes, Vec<Value>) {
        let n = self.rows.rows.len() as u64;
        let first = self
            .next_row
            .fetch_add(phase.batch as u64, Ordering::Relaxed);
        let mut labels = Vec::new();
        let batch: Vec<Vec<Value>> = (0..phase.batch as u64)
            .map(|i| {
                let at = ((first + i) % n) as usize;
                let mut row = self.rows.rows[at].clone();
                for (column, injection) in &phase.injections {
                    injection.apply(&mut row[*column], rng);
                }
                if let (Some((_, _, tally)), Some(targets)) = (&self.labels, &self.rows.targets) {
                    let truth = &targets.values[at];
                    let flip = phase.flip.as_ref().is_some_and(|f| f.applies(&row, rng));
                    tally.count_flipped(u64::from(flip));
                    labels.push(if flip {
                        targets.flipped(truth)
                    } else {
                        truth.clone()
                    });
                }
                row
            })
            .collect();
        let body = Bytes::from(
            self.wire
                .body(&self.rows.columns, &self.rows.numeric, &batch)
                .to_string(),
        );
        (body, labels)
    }
}

/// Counts and latencies, shared by every request of a run.
#[derive(Clone)]
pub struct Stats(Arc<Mutex<StatsInner>>);

struct StatsInner {
    sent: u64,
    errors: u64,
    latency_us: Histogram<u64>,
    last_error: Option<String>,
}

impl Default for Stats {
    fn default() -> Self {
        Stats(Arc::new(Mutex::new(StatsInner {
            sent: 0,
            errors: 0,
            // 1 µs to 1 hour at 3 significant digits.
            latency_us: Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid bounds"),
            last_error: None,
        })))
    }
}

/// A summary of a run so far.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    pub sent: u64,
    pub errors: u64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub last_error: Option<String>,
}

impl Stats {
    fn record(&self, latency: Duration, outcome: Result<(), String>) {
        let mut s = self.0.lock().expect("stats lock poisoned");
        s.sent += 1;
        let _ = s.latency_us.record(latency.as_micros().max(1) as u64);
        if let Err(e) = outcome {
            s.errors += 1;
            s.last_error = Some(e);
        }
    }

    pub fn summary(&self) -> Summary {
        let s = self.0.lock().expect("stats lock poisoned");
        let ms = |q: f64| s.latency_us.value_at_quantile(q) as f64 / 1000.0;
        Summary {
            sent: s.sent,
            errors: s.errors,
            p50_ms: ms(0.5),
            p90_ms: ms(0.9),
            p99_ms: ms(0.99),
            max_ms: s.latency_us.max() as f64 / 1000.0,
            last_error: s.last_error.clone(),
        }
    }
}

impl Summary {
    /// One human line.
    pub fn line(&self) -> String {
        let mut line = format!(
            "requests {}  errors {}  latency p50 {:.2} ms  p90 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
            self.sent, self.errors, self.p50_ms, self.p90_ms, self.p99_ms, self.max_ms
        );
        if let Some(e) = &self.last_error {
            line.push_str(&format!("\nlast error: {e}"));
        }
        line
    }
}
