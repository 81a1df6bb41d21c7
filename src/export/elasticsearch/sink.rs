//! The shipper: a background task that reads the spool oldest-first (request events, drift
//! snapshots, performance documents), batches by count and age, installs the templates once, ships `_bulk`
//! requests and handles every item's outcome.
//!
//! Events reach the spool through the proxy's non-blocking [`ExportQueue`] and the
//! persister thread (`spool/persist.rs`); the shipper acknowledges a batch in the spool only
//! once every item's outcome is final (delivered, duplicate 409, or dead-lettered), so an
//! outage or a restart loses nothing that was spooled. Transient failures (connection
//! refused, 5xx, 429, per-item 429/502/503/504, an unreadable answer) are retried with
//! exponential backoff and jitter, honouring `Retry-After`, while new events pile up on
//! disk up to `spool_bytes`. A refusal of the whole request never dead-letters a batch
//! ([`super::refusal`]): 401/403 and other 4xx block the sink until the cluster accepts
//! again, 413 splits the batch; only per-item refusals (and a single event too large on
//! its own) go to the dead-letter file.
//! On stop, what is spooled is shipped for at most `flush_timeout`; the rest stays on disk
//! for the next start. Nothing here is awaited by the proxy.

mod attempt;
mod dead_letter;

use super::bulk::ItemOutcome;
use super::client::ClusterClient;
use super::event::KindCounts;
use super::queue::{ExportCounters, ExportQueue, Outcome};
use super::refusal::BlockedGauge;
use super::spool::{self, SpoolLimits, SpoolReader, SpooledEvent};
use crate::config::elasticsearch::ElasticsearchConfig;
use crate::config::state::ensure_writable;
use attempt::Attempt;
use std::hash::{BuildHasher, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// The most bytes of events one `_bulk` request carries (beyond its first event).
const MAX_BULK_BYTES: u64 = 8 * 1024 * 1024;

/// A started exporter: the queue for the proxy and the handles to stop the persister and
/// the shipper.
pub struct ElasticsearchSink {
    pub queue: Arc<ExportQueue>,
    persister: std::thread::JoinHandle<()>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
    flush_timeout: Duration,
}

impl ElasticsearchSink {
    /// Starts the shipper on the current tokio runtime; `None` when no URL is configured.
    pub fn start(
        config: &ElasticsearchConfig,
        state_dir: &Path,
        registry: &prometheus::Registry,
    ) -> anyhow::Result<Option<Self>> {
        if !config.enabled() {
            return Ok(None);
        }
        let counters = ExportCounters::register(registry)?;
        let blocked = BlockedGauge::register(registry)?;
        let gauge = prometheus::IntGauge::with_opts(
            prometheus::Opts::new(
                "modelwatch_export_spool_bytes",
                "Bytes of events in a sink's on-disk spool not yet delivered.",
            )
            .const_label("sink", super::queue::SINK),
        )?;
        registry.register(Box::new(gauge.clone()))?;
        let dir = config.spool_path(state_dir);
        let dead_letter = config.dead_letter_path(state_dir);
        // Both are checked before the sidecar listens: an unwritable volume is a usage
        // error at startup, not a failed write after the first event.
        let fix = |key: &str| {
            format!(
                "pass --state-dir (or set MODELWATCH_STATE_DIR) to a directory this user can \
                 write (the image uses /var/lib/modelwatch: mount a volume or an emptyDir \
                 there), or set export.elasticsearch.{key}"
            )
        };
        ensure_writable(&dir, "the export spool directory", &fix("spool_dir"))?;
        if let Some(parent) = dead_letter.parent().filter(|p| !p.as_os_str().is_empty()) {
            ensure_writable(
                parent,
                "the directory of the dead-letter file",
                &fix("dead_letter_file"),
            )?;
        }
        let (writer, reader, recovered) =
            spool::open(&dir, SpoolLimits::for_cap(config.spool_bytes), gauge).map_err(|err| {
                anyhow::anyhow!(
                    "cannot use the export spool directory {} ({err}): set \
                     export.elasticsearch.spool_dir to a writable directory of this sidecar's \
                     own",
                    dir.display()
                )
            })?;
        if recovered.events > 0 || recovered.truncated_bytes > 0 {
            tracing::info!(
                dir = %dir.display(),
                events = recovered.events,
                bytes = recovered.bytes,
                truncated_bytes = recovered.truncated_bytes,
                "events left in the export spool by the last run are shipped first"
            );
        }
        let (queue, receiver) = ExportQueue::new(config.queue_bytes, counters.clone());
        let persister =
            spool::persist::spawn(receiver, writer, config.fsync_interval, counters.clone())?;
        let (stop, stopped) = watch::channel(false);
        let shipper = Shipper {
            client: ClusterClient::new(config)?,
            config: config.clone(),
            counters,
            blocked,
            max_bulk_bytes: MAX_BULK_BYTES,
            dead_letter,
            reader: Some(reader),
            stopped,
            give_up_at: None,
            templates_ready: !config.install_templates,
        };
        Ok(Some(Self {
            queue: Arc::new(queue),
            persister,
            stop,
            task: tokio::spawn(shipper.run()),
            flush_timeout: config.flush_timeout,
        }))
    }

    /// Writes what is queued to the spool, ships what is spooled within `flush_timeout`,
    /// then returns; undelivered events stay in the spool for the next start.
    pub async fn finish(self) {
        self.queue.close();
        let persister = self.persister;
        if tokio::task::spawn_blocking(move || persister.join())
            .await
            .is_err()
        {
            tracing::error!("the export spool writer failed; unwritten events are lost");
        }
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

/// Whether every event of a batch got its final outcome.
#[derive(PartialEq, Eq)]
enum Shipped {
    Final,
    /// The flush time ran out first: the events stay in the spool.
    Interrupted,
}

/// What shipping one part of a batch came to.
enum PartShipped {
    Final,
    Interrupted,
    /// Answered 413: the part is handed back to be split.
    TooLarge(Vec<SpooledEvent>, String),
}

struct Shipper {
    client: ClusterClient,
    config: ElasticsearchConfig,
    counters: ExportCounters,
    blocked: BlockedGauge,
    /// The most bytes of documents one `_bulk` request carries: `MAX_BULK_BYTES`, halved
    /// each time the cluster answers 413 to a larger request.
    max_bulk_bytes: u64,
    dead_letter: PathBuf,
    /// Taken out while a blocking read runs (the reader moves into `spawn_blocking`).
    reader: Option<SpoolReader>,
    stopped: watch::Receiver<bool>,
    /// Set when the stop signal is seen: the end of the flush.
    give_up_at: Option<Instant>,
    templates_ready: bool,
}

impl Shipper {
    async fn run(mut self) {
        loop {
            let closing = self.wait_for_batch().await;
            let (max_events, max_bytes) = (self.config.batch_events, self.max_bulk_bytes);
            let mut reader = self
                .reader
                .take()
                .expect("the reader is back after each read");
            let (reader, batch) = match tokio::task::spawn_blocking(move || {
                let batch = reader.read(max_events, max_bytes);
                (reader, batch)
            })
            .await
            {
                Ok(read) => read,
                Err(err) => {
                    tracing::error!("the export spool reader failed, export stops: {err}");
                    return;
                }
            };
            self.reader = Some(reader);
            let mut batch = match batch {
                Ok(batch) => batch,
                Err(err) => {
                    tracing::error!("cannot read the export spool, retrying: {err}");
                    if !self.back_off(4, None).await {
                        return self.report_left_over();
                    }
                    continue;
                }
            };
            if !batch.is_empty()
                && self.ship(std::mem::take(&mut batch.events)).await == Shipped::Interrupted
            {
                return self.report_left_over();
            }
            // Also for an empty batch: it may have skipped corrupt bytes.
            self.reader().ack(&batch);
            if closing && self.reader().pending_events() == 0 {
                return;
            }
            if self.stopping() && Instant::now() >= self.give_up_at.expect("set by stopping()") {
                return self.report_left_over();
            }
        }
    }

    fn reader(&mut self) -> &mut SpoolReader {
        self.reader
            .as_mut()
            .expect("the reader is back after each read")
    }

    fn report_left_over(&mut self) {
        let reader = self.reader();
        let (events, dir) = (reader.pending_events(), reader.dir().display().to_string());
        if events > 0 {
            tracing::warn!(
                events,
                dir,
                "the export flush time is over; events not yet delivered stay in the spool \
                 and are shipped at the next start"
            );
        }
    }

    /// Whether the stop was signalled (or the sink dropped without `finish`, which must
    /// not leave this task spinning on a closed channel).
    fn stopping(&mut self) -> bool {
        if self.give_up_at.is_none()
            && (*self.stopped.borrow() || self.stopped.has_changed().is_err())
        {
            self.give_up_at = Some(Instant::now() + self.config.flush_timeout);
        }
        self.give_up_at.is_some()
    }

    /// Waits until a full batch is spooled, or the oldest spooled event has waited
    /// `batch_age`; on stop, returns at once (`true`) to ship what is there.
    async fn wait_for_batch(&mut self) -> bool {
        let mut deadline = None;
        loop {
            if self.stopping() {
                return true;
            }
            let pending = self.reader().pending_events();
            if pending >= self.config.batch_events as u64 {
                return false;
            }
            if pending > 0 {
                let at = *deadline.get_or_insert(Instant::now() + self.config.batch_age);
                if Instant::now() >= at {
                    return false;
                }
            }
            let age = async {
                match deadline {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            let reader = self
                .reader
                .as_ref()
                .expect("the reader is back after each read");
            tokio::select! {
                () = reader.appended() => {}
                () = age => {}
                _ = self.stopped.changed() => {}
            }
        }
    }

    /// Ships `events` until each is delivered or dead-lettered, or the flush time is over.
    /// A part answered 413 is split in halves (in order) until it fits; a single event
    /// still too large is dead-lettered with the cluster's answer.
    async fn ship(&mut self, events: Vec<SpooledEvent>) -> Shipped {
        // The parts still to ship, the next one last.
        let mut parts = vec![events];
        while let Some(part) = parts.pop() {
            match self.ship_part(part).await {
                PartShipped::Final => {}
                PartShipped::Interrupted => return Shipped::Interrupted,
                PartShipped::TooLarge(part, answer) if part.len() == 1 => {
                    let reason = format!(
                        "the event alone is too large for the cluster (413 to a _bulk request of {} bytes): {answer}",
                        bulk_bytes(&part)
                    );
                    self.dead_letter(&part, 413, &reason);
                }
                PartShipped::TooLarge(mut part, answer) => {
                    let bytes = bulk_bytes(&part);
                    let smaller = (bytes / 2).max(1);
                    if smaller < self.max_bulk_bytes {
                        tracing::warn!(
                            events = part.len(),
                            bytes,
                            max_bulk_bytes = smaller,
                            "Elasticsearch refused a _bulk request as too large (413), the                              batch is split and later ones are kept smaller: {}",
                            answer.trim()
                        );
                        self.max_bulk_bytes = smaller;
                    }
                    let second = part.split_off(part.len() / 2);
                    parts.push(second);
                    parts.push(part);
                }
            }
        }
        Shipped::Final
    }

    /// Ships one part until each event is delivered or dead-lettered, it is too large, or
    /// the flush time is over.
    async fn ship_part(&mut self, mut pending: Vec<SpooledEvent>) -> PartShipped {
        let mut attempt: u32 = 0;
        while !pending.is_empty() {
            let after = match self.attempt(&pending).await {
                Attempt::Items(outcomes, after) => {
                    let mut retry = Vec::new();
                    for (event, outcome) in pending.into_iter().zip(outcomes) {
                        match outcome {
                            ItemOutcome::Delivered => {
                                self.counters.add(Outcome::Delivered, event.kind, 1)
                            }
                            ItemOutcome::Duplicate => {
                                self.counters.add(Outcome::Duplicate, event.kind, 1)
                            }
                            ItemOutcome::Retry => retry.push(event),
                            ItemOutcome::Rejected { status, reason } => {
                                self.dead_letter(&[event], status, &reason)
                            }
                        }
                    }
                    pending = retry;
                    if pending.is_empty() {
                        return PartShipped::Final;
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
                Attempt::Blocked {
                    reason,
                    status,
                    answer,
                } => {
                    let waiting = self.reader().pending_events();
                    self.blocked
                        .refused(reason, status, &answer, waiting, attempt);
                    None
                }
                Attempt::TooLarge { answer } => return PartShipped::TooLarge(pending, answer),
            };
            self.counters.add_each(
                Outcome::Retried,
                KindCounts::of(pending.iter().map(|e| e.kind)),
            );
            if !self.back_off(attempt, after).await {
                return PartShipped::Interrupted;
            }
            attempt = attempt.saturating_add(1);
        }
        PartShipped::Final
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
}

/// The size of the `_bulk` body for `events`, near enough (documents and `_id`s; the
/// action lines add a few dozen bytes each).
fn bulk_bytes(events: &[SpooledEvent]) -> u64 {
    events
        .iter()
        .map(|e| (e.document.len() + e.id.len() + 64) as u64)
        .sum()
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
