//! The shipper: a background task that batches queued events (request events and drift
//! snapshots) by count and age, installs the templates once, ships `_bulk` requests and
//! handles every item's outcome.
//!
//! Transient failures (connection refused, 5xx, 429, per-item 429/502/503/504) are retried
//! with exponential backoff and jitter, honouring `Retry-After`; while the shipper retries,
//! new events wait in the byte-bounded queue and beyond it are dropped (the on-disk spool
//! that would keep them is not built yet). Final refusals go to the dead-letter file.
//! On stop, what is queued is shipped for at most `flush_timeout`, the rest counted as
//! dropped. Nothing here is awaited by the proxy.

use super::bulk::{self, BulkItem, ItemOutcome};
use super::client::{ClusterClient, retry_after};
use super::config::ElasticsearchConfig;
use super::lifecycle;
use super::queue::{ExportCounters, ExportQueue, ExportReceiver, Outcome};
use super::templates::{self, Engine};
use bytes::Bytes;
use http::Method;
use serde_json::Value;
use std::hash::{BuildHasher, Hasher};
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// A started exporter: the queue for the proxy and the handle to stop the shipper.
pub struct ElasticsearchSink {
    pub queue: Arc<ExportQueue>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
    flush_timeout: Duration,
}

impl ElasticsearchSink {
    /// Starts the shipper on the current tokio runtime; `None` when no URL is configured.
    pub fn start(
        config: &ElasticsearchConfig,
        home: Option<&str>,
        registry: &prometheus::Registry,
    ) -> anyhow::Result<Option<Self>> {
        if !config.enabled() {
            return Ok(None);
        }
        let counters = ExportCounters::register(registry)?;
        let (queue, receiver) = ExportQueue::new(config.queue_bytes, counters.clone());
        let (stop, stopped) = watch::channel(false);
        let shipper = Shipper {
            client: ClusterClient::new(config)?,
            config: config.clone(),
            counters,
            dead_letter: config.dead_letter_path(home),
            receiver,
            stopped,
            give_up_at: None,
            templates_ready: !config.install_templates,
        };
        Ok(Some(Self {
            queue: Arc::new(queue),
            stop,
            task: tokio::spawn(shipper.run()),
            flush_timeout: config.flush_timeout,
        }))
    }

    /// Ships what is queued within `flush_timeout`, then returns.
    pub async fn finish(self) {
        let _ = self.stop.send(true);
        let backstop = self.flush_timeout + Duration::from_secs(2);
        let task = self.task;
        let abort = task.abort_handle();
        if tokio::time::timeout(backstop, task).await.is_err() {
            abort.abort();
            tracing::warn!(
                "the Elasticsearch exporter did not stop in time; unsent events are lost"
            );
        }
    }
}

/// What one `_bulk` attempt came to.
enum Attempt {
    Items(Vec<ItemOutcome>, Option<Duration>),
    RetryAll {
        reason: String,
        after: Option<Duration>,
    },
    RejectAll {
        status: u16,
        reason: String,
    },
}

struct Shipper {
    client: ClusterClient,
    config: ElasticsearchConfig,
    counters: ExportCounters,
    dead_letter: PathBuf,
    receiver: ExportReceiver,
    stopped: watch::Receiver<bool>,
    /// Set when the stop signal is seen: the end of the flush.
    give_up_at: Option<Instant>,
    templates_ready: bool,
}

impl Shipper {
    async fn run(mut self) {
        loop {
            let (batch, closing) = self.next_batch().await;
            for chunk in batch.chunks(self.config.batch_events) {
                let events = chunk.iter().map(|r| r.bulk_item(&self.config)).collect();
                self.ship(events).await;
            }
            if closing {
                return;
            }
        }
    }

    fn stopping(&mut self) -> bool {
        if self.give_up_at.is_none() && *self.stopped.borrow() {
            self.give_up_at = Some(Instant::now() + self.config.flush_timeout);
        }
        self.give_up_at.is_some()
    }

    /// Waits for a full or old enough batch; on stop, takes everything queued.
    async fn next_batch(&mut self) -> (Vec<super::event::ExportRecord>, bool) {
        let mut batch = Vec::new();
        let mut deadline = None;
        while batch.len() < self.config.batch_events {
            if self.stopping() {
                while let Some(record) = self.receiver.try_recv() {
                    batch.push(record);
                }
                return (batch, true);
            }
            let age = async {
                match deadline {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                record = self.receiver.recv() => match record {
                    Some(record) => {
                        deadline.get_or_insert(Instant::now() + self.config.batch_age);
                        batch.push(record);
                    }
                    None => return (batch, true),
                },
                () = age => break,
                _ = self.stopped.changed() => {}
            }
        }
        (batch, false)
    }

    /// Ships `events` until each is delivered, dead-lettered or, at the end of a flush,
    /// dropped.
    async fn ship(&mut self, mut pending: Vec<BulkItem>) {
        let mut attempt: u32 = 0;
        while !pending.is_empty() {
            let after = match self.attempt(&pending).await {
                Attempt::Items(outcomes, after) => {
                    let mut retry = Vec::new();
                    for (event, outcome) in pending.into_iter().zip(outcomes) {
                        match outcome {
                            ItemOutcome::Delivered => self.counters.add(Outcome::Delivered, 1),
                            ItemOutcome::Duplicate => self.counters.add(Outcome::Duplicate, 1),
                            ItemOutcome::Retry => retry.push(event),
                            ItemOutcome::Rejected { status, reason } => {
                                self.dead_letter(&[event], status, &reason)
                            }
                        }
                    }
                    pending = retry;
                    if pending.is_empty() {
                        return;
                    }
                    after
                }
                Attempt::RetryAll { reason, after } => {
                    if attempt.is_multiple_of(10) {
                        tracing::warn!(
                            events = pending.len(),
                            attempt,
                            "shipping events to Elasticsearch failed, will retry: {reason}"
                        );
                    }
                    after
                }
                Attempt::RejectAll { status, reason } => {
                    tracing::error!(status, "Elasticsearch refused a bulk request: {reason}");
                    self.dead_letter(&pending, status, &reason);
                    return;
                }
            };
            self.counters.add(Outcome::Retried, pending.len());
            if !self.back_off(attempt, after).await {
                tracing::warn!(
                    events = pending.len(),
                    "the export flush time is over; dropping events not yet delivered"
                );
                self.counters.add(Outcome::Dropped, pending.len());
                return;
            }
            attempt = attempt.saturating_add(1);
        }
    }

    /// One `_bulk` request (after the template, if it is not installed yet).
    async fn attempt(&mut self, events: &[BulkItem]) -> Attempt {
        if !self.templates_ready {
            match self.install_templates().await {
                Ok(()) => self.templates_ready = true,
                Err(err) => {
                    return Attempt::RetryAll {
                        reason: format!("installing the index template: {err:#}"),
                        after: None,
                    };
                }
            }
        }
        // Every action names its data stream, so one request carries both kinds.
        let body = Bytes::from(bulk::encode(events));
        let answer = match self
            .client
            .send(Method::POST, "/_bulk", Some(("application/x-ndjson", body)))
            .await
        {
            Ok(answer) => answer,
            Err(err) => {
                return Attempt::RetryAll {
                    reason: format!("{err:#}"),
                    after: None,
                };
            }
        };
        let status = answer.status.as_u16();
        let after = retry_after(&answer.headers);
        let text = || String::from_utf8_lossy(&answer.body).into_owned();
        if status == 429 || answer.status.is_server_error() {
            return Attempt::RetryAll {
                reason: format!("HTTP {status}: {}", text()),
                after,
            };
        }
        if !answer.status.is_success() {
            return Attempt::RejectAll {
                status,
                reason: text(),
            };
        }
        let parsed = serde_json::from_slice::<Value>(&answer.body)
            .map_err(|e| e.to_string())
            .and_then(|json| bulk::outcomes(&json, events.len()));
        match parsed {
            Ok(outcomes) => Attempt::Items(outcomes, after),
            Err(why) => Attempt::RetryAll {
                reason: format!("unreadable _bulk answer ({why})"),
                after,
            },
        }
    }

    /// Detects the engine and installs the lifecycle policy (ILM, or ISM when OpenSearch
    /// has it) and both templates.
    async fn install_templates(&self) -> anyhow::Result<()> {
        let root = self.client.send(Method::GET, "/", None).await?;
        if !root.status.is_success() {
            anyhow::bail!("GET / answered {}", root.status);
        }
        let engine = Engine::from_root(&serde_json::from_slice(&root.body)?);
        let requests = &self.config.data_stream;
        let drift = &self.config.drift_data_stream;
        // First, so the first backing index is created under its policy.
        lifecycle::install(&self.client, engine, &[requests, drift]).await?;
        for (stream, template) in [
            (requests, templates::index_template(requests, engine)),
            (drift, templates::drift_template(drift, engine)),
        ] {
            self.client
                .put_json(
                    &format!("/_index_template/{}", templates::template_name(stream)),
                    &template,
                    &format!("the index template of {stream}"),
                )
                .await?;
            tracing::info!(?engine, data_stream = %stream, "index template installed");
        }
        Ok(())
    }

    /// Sleeps before the next attempt; `false` when the flush time would be over first.
    async fn back_off(&mut self, attempt: u32, after: Option<Duration>) -> bool {
        let delay = backoff(attempt, random_unit()).max(after.unwrap_or_default());
        let wake = Instant::now() + delay;
        loop {
            if self.stopping() {
                let give_up_at = self.give_up_at.expect("set by stopping()");
                if wake > give_up_at {
                    return false;
                }
                tokio::time::sleep_until(wake).await;
                return true;
            }
            tokio::select! {
                () = tokio::time::sleep_until(wake) => return true,
                _ = self.stopped.changed() => {}
            }
        }
    }

    /// Appends one line per event to the dead-letter file, with the reason.
    fn dead_letter(&self, events: &[BulkItem], status: u16, reason: &str) {
        self.counters.add(Outcome::DeadLetter, events.len());
        tracing::warn!(
            events = events.len(),
            status,
            file = %self.dead_letter.display(),
            "events refused by Elasticsearch written to the dead-letter file: {reason}"
        );
        let mut lines = Vec::new();
        for item in events {
            let line = serde_json::json!({
                "@timestamp": humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string(),
                "request_id": item.id,
                "data_stream": item.index,
                "status": status,
                "reason": reason,
                "event": item.document,
            });
            serde_json::to_writer(&mut lines, &line).expect("JSON values always serialise");
            lines.push(b'\n');
        }
        // Rare and small: a blocking append on the shipper's task is fine.
        let written = self
            .dead_letter
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| {
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&self.dead_letter)
            })
            .and_then(|mut file| file.write_all(&lines));
        if let Err(err) = written {
            tracing::error!(
                file = %self.dead_letter.display(),
                "could not write the dead-letter file, the refused events are lost: {err}"
            );
        }
    }
}

/// Exponential backoff from 200 ms, capped at 30 s, with "equal jitter": a delay in
/// [d/2, d] for `unit` in [0, 1).
pub fn backoff(attempt: u32, unit: f64) -> Duration {
    let full = Duration::from_millis(200)
        .saturating_mul(1u32 << attempt.min(8))
        .min(Duration::from_secs(30));
    full.mul_f64(0.5 + 0.5 * unit.clamp(0.0, 1.0))
}

/// A number in [0, 1) from the standard library's randomly keyed hasher (jitter only).
fn random_unit() -> f64 {
    let bits = std::hash::RandomState::new().build_hasher().finish();
    (bits >> 11) as f64 / (1u64 << 53) as f64
}
