//! `modelwatch replay`: dataset rows sent as inference requests at a steady rate, with
//! optional drift injection, reporting what was sent, what failed and the latency.
//!
//! The schedule is open-loop: request `k` is due at `start + k / rate` whether or not
//! earlier ones have answered, and its latency is measured from when it was due, so a slow
//! server shows up as latency instead of silently lowering the rate (no coordinated
//! omission). Percentiles are exact, from an HdrHistogram.

pub mod drift_spec;
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
use serde::Serialize;
use serde_json::Value;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use wire::Wire;

/// The rows of a CSV, typed, ready to send.
pub struct Rows {
    pub columns: Vec<String>,
    pub numeric: Vec<bool>,
    pub rows: Vec<Vec<Value>>,
}

impl Rows {
    /// Reads `path`, leaving out the `drop` columns. Numeric columns become numbers, empty
    /// cells nulls.
    pub fn load(path: &Path, drop: &[String]) -> anyhow::Result<Rows> {
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
        let keep: Vec<usize> = (0..schema.columns.len())
            .filter(|&i| !drop.contains(&schema.columns[i].name))
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
        for record in open()?.records() {
            let record = record.with_context(|| format!("could not read {}", path.display()))?;
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
        Ok(Rows {
            columns,
            numeric,
            rows,
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

/// What to send for how long.
pub struct Phase {
    pub rate: f64,
    pub duration: Duration,
    pub batch: usize,
    pub injections: Vec<(usize, Injection)>,
}

/// Sends rows to one server.
pub struct Replayer {
    client: Client<HttpConnector, Full<Bytes>>,
    url: http::Uri,
    wire: Wire,
    rows: Rows,
    next_row: AtomicU64,
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
        })
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
            let body = self.next_body(phase, &mut rng);
            let request = http::Request::post(self.url.clone())
                .header("content-type", "application/json")
                .body(Full::new(body))
                .expect("a valid request");
            let (client, stats) = (self.client.clone(), stats.clone());
            let due = due.into_std();
            in_flight.spawn(async move {
                let outcome = match client.request(request).await {
                    Ok(response) => {
                        let status = response.status();
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

    fn next_body(&self, phase: &Phase, rng: &mut SeededRng) -> Bytes {
        let n = self.rows.rows.len() as u64;
        let first = self
            .next_row
            .fetch_add(phase.batch as u64, Ordering::Relaxed);
        let batch: Vec<Vec<Value>> = (0..phase.batch as u64)
            .map(|i| {
                let mut row = self.rows.rows[((first + i) % n) as usize].clone();
                for (column, injection) in &phase.injections {
                    injection.apply(&mut row[*column], rng);
                }
                row
            })
            .collect();
        Bytes::from(
            self.wire
                .body(&self.rows.columns, &self.rows.numeric, &batch)
                .to_string(),
        )
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
