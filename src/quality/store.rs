//! The prediction store: every analysed prediction (request id and row → model version,
//! output values, time) in `STATE_DIR/predictions.sqlite`, so that a label arriving days
//! later joins it, across restarts.
//!
//! SQLite rather than an append-only segment log like the export spool: a join looks a
//! request id up at random, and a log would need an in-memory index of every stored id
//! (10 million UUIDs ≈ 0.5 GB of RAM), while SQLite's index lives on disk and its page
//! cache is bounded (`cache_size`). `benches/prediction_store.rs` measures the bytes per
//! stored prediction.
//!
//! Writers never wait: [`PredictionStore::offer`] try-sends onto a bounded channel, a full
//! one drops and counts. The writer thread inserts in batches (one transaction each), then
//! keeps the bounds: predictions past `quality.retention`, and the oldest ones while the
//! live pages exceed `quality.max_bytes`, are deleted and counted. SQLite reuses freed
//! pages, so the file stops growing at the bound. The newest evicted time is kept
//! (`evicted_through_ms`) so a late label for an evicted prediction is `expired`, not
//! `unknown_request`.

use super::QualityMetrics;
use super::coverage::{Counts, CoverageCounts};
use super::feedback::{FeedbackItem, Outcome};
use crate::config::quality::QualityConfig;
use crossbeam_channel::{Receiver, Sender, TrySendError};
use rusqlite::{Connection, OptionalExtension, params};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The file name inside the state directory.
pub const FILE_NAME: &str = "predictions.sqlite";

/// Rows written per transaction at most.
const BATCH: usize = 1024;

/// One prediction (one response row) to keep.
#[derive(Clone, Debug, PartialEq)]
pub struct Prediction {
    pub request_id: String,
    /// The row's index in a batched request (0 for single-row requests).
    pub row: u32,
    pub model: Arc<str>,
    pub version: Arc<str>,
    /// Output names in the order of `values` (the response's columns).
    pub outputs: Arc<[String]>,
    /// The row's output values, JSON scalars.
    pub values: Vec<serde_json::Value>,
    /// Milliseconds since the Unix epoch when the request arrived.
    pub at_ms: i64,
}

/// A stored prediction and its label, as the join and the performance windows read it.
#[derive(Clone, Debug, PartialEq)]
pub struct Joined {
    pub model: Arc<str>,
    pub version: Arc<str>,
    pub outputs: Arc<[String]>,
    pub values: Vec<serde_json::Value>,
    /// The label per output name.
    pub label: serde_json::Map<String, serde_json::Value>,
    pub at_ms: i64,
    pub labelled_ms: i64,
}

/// A stored prediction as the estimate before labels reads it: its output names and
/// values.
pub type Recent = (Arc<[String]>, Vec<serde_json::Value>);

/// What one feedback item came to.
#[derive(Clone, Debug, PartialEq)]
pub struct Verdict {
    pub outcome: Outcome,
    /// The model and version of the prediction, `unknown` when none was found.
    pub model: Arc<str>,
    pub version: Arc<str>,
    /// Why, for every outcome but `joined`.
    pub reason: Option<String>,
    /// Label time minus prediction time, for a join.
    pub delay: Option<Duration>,
}

#[derive(Clone)]
struct VersionRow {
    model: Arc<str>,
    version: Arc<str>,
    outputs: Arc<[String]>,
}

/// What identifies a `versions` row: model, version and output names.
type VersionKey = (Arc<str>, Arc<str>, Arc<[String]>);

struct Inner {
    conn: Connection,
    /// `versions` rows by id, and ids by (model, version, outputs): a handful per process.
    versions: HashMap<i64, VersionRow>,
    version_ids: HashMap<VersionKey, i64>,
    evicted_through_ms: i64,
    last_retention_pass: Option<std::time::Instant>,
    coverage: CoverageCounts,
}

/// The rows past `quality.retention`, as the once-a-second retention pass selects them.
/// Through the `(version_id, at_ms)` index, one range per version: `at_ms < ?1` alone made
/// SQLite scan the whole table every second, ~0.2 s per pass at a million stored rows
/// (`benches/prediction_store.rs`, release: 2 million predictions written at 174,000/s
/// overall before, 222,000/s after; filling ten million had slowed to ~2,000/s past
/// 1.4 GB and was stopped after 11 minutes, now 46 s).
const RETENTION: &str = "version_id IN (SELECT id FROM versions) AND at_ms < ?1";

/// The store: the connection (shared by the writer thread and the feedback join) and the
/// sending end of the write queue.
pub struct PredictionStore {
    inner: Mutex<Inner>,
    sender: Mutex<Option<Sender<Prediction>>>,
    config: QualityConfig,
    metrics: QualityMetrics,
    path: PathBuf,
}

impl PredictionStore {
    /// Opens (or creates) the store in `state_dir` and starts its writer thread.
    pub fn open(
        state_dir: &Path,
        config: &QualityConfig,
        metrics: QualityMetrics,
    ) -> anyhow::Result<(Arc<PredictionStore>, std::thread::JoinHandle<()>)> {
        crate::config::state::ensure_writable(
            state_dir,
            "the state directory (prediction store)",
            "set --state-dir / MODELWATCH_STATE_DIR to a writable directory, or turn \
             quality.enabled off",
        )?;
        let path = state_dir.join(FILE_NAME);
        let mut inner = Inner::open(&path)?;
        inner.count_coverage(now_ms() - config.window.as_millis() as i64)?;
        let (sender, receiver) = crossbeam_channel::bounded(config.queue_capacity);
        let store = Arc::new(PredictionStore {
            inner: Mutex::new(inner),
            sender: Mutex::new(Some(sender)),
            config: config.clone(),
            metrics,
            path,
        });
        store.publish_size();
        let writer = store.clone();
        let thread = std::thread::Builder::new()
            .name("prediction-store".into())
            .spawn(move || writer.write_loop(receiver))?;
        Ok((store, thread))
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Queues a prediction without waiting; a full queue drops it and counts it.
    pub fn offer(&self, prediction: Prediction) {
        let sender = self.sender.lock().expect("store sender poisoned");
        let Some(sender) = sender.as_ref() else {
            return;
        };
        match sender.try_send(prediction) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => self.metrics.dropped.inc(),
            Err(TrySendError::Disconnected(_)) => {}
        }
    }

    /// Stops accepting predictions; the writer thread writes what is queued and ends.
    pub fn close(&self) {
        self.sender.lock().expect("store sender poisoned").take();
    }

    fn write_loop(&self, receiver: Receiver<Prediction>) {
        let mut batch = Vec::with_capacity(BATCH);
        while let Ok(first) = receiver.recv() {
            batch.push(first);
            while batch.len() < BATCH {
                match receiver.try_recv() {
                    Ok(p) => batch.push(p),
                    Err(_) => break,
                }
            }
            if let Err(err) = self.write(&batch) {
                tracing::warn!(%err, rows = batch.len(), "could not store predictions");
                self.metrics.dropped.inc_by(batch.len() as u64);
            }
            batch.clear();
        }
    }

    /// Inserts predictions (a repeated request id and row keeps the first) and keeps the
    /// bounds. Public so that tests and benchmarks write without the thread.
    pub fn write(&self, batch: &[Prediction]) -> rusqlite::Result<()> {
        let mut inner = self.inner.lock().expect("store poisoned");
        let mut ids = Vec::with_capacity(batch.len());
        for p in batch {
            ids.push(inner.version_id(&p.model, &p.version, &p.outputs)?);
        }
        let tx = inner.conn.transaction()?;
        let mut repeated = 0;
        let mut inserted = Vec::with_capacity(batch.len());
        {
            let mut insert = tx.prepare_cached(
                "INSERT OR IGNORE INTO predictions (request_id, row, version_id, at_ms, outputs)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for (p, id) in batch.iter().zip(ids) {
                let values = serde_json::to_string(&p.values).unwrap_or_default();
                if insert.execute(params![p.request_id, p.row, id, p.at_ms, values])? == 0 {
                    repeated += 1;
                } else {
                    inserted.push((id, p.at_ms));
                }
            }
        }
        tx.commit()?;
        for (id, at_ms) in inserted {
            inner.coverage.add(id, at_ms, 1, 0);
        }
        self.metrics.stored.inc_by((batch.len() - repeated) as u64);
        self.metrics.repeated.inc_by(repeated as u64);
        self.keep_bounds(&mut inner)?;
        drop(inner);
        self.publish_size();
        Ok(())
    }

    fn keep_bounds(&self, inner: &mut Inner) -> rusqlite::Result<()> {
        let due = inner
            .last_retention_pass
            .is_none_or(|t| t.elapsed() >= Duration::from_secs(1));
        if due {
            inner.last_retention_pass = Some(std::time::Instant::now());
            let cutoff = now_ms() - self.config.retention.as_millis() as i64;
            let n = inner.evict(RETENTION, cutoff)?;
            self.metrics.evicted_retention.inc_by(n);
        }
        while inner.live_bytes()? > self.config.max_bytes {
            // A sixty-fourth of the rows at a time: few passes, and the file never
            // overshoots by more than one batch.
            let count: i64 = inner
                .conn
                .query_row("SELECT count(*) FROM predictions", [], |r| r.get(0))?;
            if count == 0 {
                break;
            }
            let oldest_kept: i64 = inner.conn.query_row(
                "SELECT seq FROM predictions ORDER BY seq LIMIT 1 OFFSET ?1",
                [(count / 64).max(1).min(count - 1)],
                |r| r.get(0),
            )?;
            let n = inner.evict("seq < ?1", oldest_kept)?;
            self.metrics.evicted_bytes.inc_by(n);
            if n == 0 {
                break;
            }
        }
        Ok(())
    }

    fn publish_size(&self) {
        if let Ok(bytes) = self.inner.lock().expect("store poisoned").live_bytes() {
            self.metrics.bytes.set(bytes as i64);
        }
    }

    /// Joins feedback items, in order, in one transaction: each gets its verdict. `now_ms`
    /// is the label time of items without a `timestamp`.
    pub fn join(&self, items: &[FeedbackItem], now_ms: i64) -> rusqlite::Result<Vec<Verdict>> {
        let mut inner = self.inner.lock().expect("store poisoned");
        let retention_cutoff = now_ms - self.config.retention.as_millis() as i64;
        let evicted_through = inner.evicted_through_ms;
        let versions = inner.versions.clone();
        let tx = inner.conn.transaction()?;
        let mut verdicts = Vec::with_capacity(items.len());
        let mut joined = Vec::new();
        {
            let mut find = tx.prepare_cached(
                "SELECT seq, version_id, at_ms, label IS NOT NULL FROM predictions
                 WHERE request_id = ?1 AND row = ?2",
            )?;
            let mut set = tx.prepare_cached(
                "UPDATE predictions SET label = ?1, labelled_ms = ?2 WHERE seq = ?3",
            )?;
            for item in items {
                let found: Option<(i64, i64, i64, bool)> = find
                    .query_row(params![item.request_id, item.row], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                    })
                    .optional()?;
                let Some((seq, version_id, at_ms, labelled)) = found else {
                    let evicted = item.request_time_ms().is_some_and(|t| t <= evicted_through);
                    verdicts.push(if evicted {
                        Verdict::unattributed(
                            Outcome::Expired,
                            "the prediction was evicted from the store (older than \
                             quality.retention, or pushed out by quality.max_bytes)",
                        )
                    } else {
                        Verdict::unattributed(
                            Outcome::UnknownRequest,
                            "no stored prediction has this request_id (and row)",
                        )
                    });
                    continue;
                };
                let version = versions
                    .get(&version_id)
                    .cloned()
                    .unwrap_or_else(|| VersionRow {
                        model: super::UNKNOWN.into(),
                        version: super::UNKNOWN.into(),
                        outputs: Arc::from(Vec::new()),
                    });
                let verdict = |outcome, reason: Option<String>, delay| Verdict {
                    outcome,
                    model: version.model.clone(),
                    version: version.version.clone(),
                    reason,
                    delay,
                };
                if labelled {
                    verdicts.push(verdict(
                        Outcome::Duplicate,
                        Some("this prediction already has a label; the first one stays".into()),
                        None,
                    ));
                } else if at_ms < retention_cutoff {
                    verdicts.push(verdict(
                        Outcome::Expired,
                        Some("the prediction is older than quality.retention".into()),
                        None,
                    ));
                } else {
                    match item.label_for(&version.outputs) {
                        Err(why) => verdicts.push(verdict(Outcome::Invalid, Some(why), None)),
                        Ok(label) => {
                            let labelled_ms = item.timestamp_ms.unwrap_or(now_ms);
                            set.execute(params![
                                serde_json::Value::Object(label).to_string(),
                                labelled_ms,
                                seq
                            ])?;
                            joined.push((version_id, at_ms));
                            let delay = Duration::from_millis((labelled_ms - at_ms).max(0) as u64);
                            verdicts.push(verdict(Outcome::Joined, None, Some(delay)));
                        }
                    }
                }
            }
        }
        tx.commit()?;
        for (id, at_ms) in joined {
            inner.coverage.add(id, at_ms, 0, 1);
        }
        Ok(verdicts)
    }

    /// The labelled predictions of one model version, newest label last: at most `rows`
    /// of them, labelled at or after `since_ms`.
    pub fn joined(
        &self,
        model: &str,
        version: &str,
        since_ms: i64,
        rows: usize,
    ) -> rusqlite::Result<Vec<Joined>> {
        let inner = self.inner.lock().expect("store poisoned");
        let ids = inner.ids_of(model, version);
        let mut out = Vec::new();
        let mut query = inner.conn.prepare_cached(
            "SELECT outputs, label, at_ms, labelled_ms FROM predictions
             WHERE version_id = ?1 AND label IS NOT NULL AND labelled_ms >= ?2
             ORDER BY labelled_ms DESC LIMIT ?3",
        )?;
        for id in ids {
            let v = &inner.versions[&id];
            let rows = query.query_map(params![id, since_ms, rows as i64], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, i64>(3)?,
                ))
            })?;
            for row in rows {
                let (values, label, at_ms, labelled_ms) = row?;
                out.push(Joined {
                    model: v.model.clone(),
                    version: v.version.clone(),
                    outputs: v.outputs.clone(),
                    values: serde_json::from_str(&values).unwrap_or_default(),
                    label: serde_json::from_str(&label).unwrap_or_default(),
                    at_ms,
                    labelled_ms,
                });
            }
        }
        out.sort_by_key(|j| j.labelled_ms);
        let excess = out.len().saturating_sub(rows);
        out.drain(..excess);
        Ok(out)
    }

    /// Predictions this model version made from `since_ms` on, and how many have a label
    /// (forgetting counts older than that).
    pub fn coverage(&self, model: &str, version: &str, since_ms: i64) -> Counts {
        let mut inner = self.inner.lock().expect("store poisoned");
        inner.coverage.prune(since_ms);
        let ids = inner.ids_of(model, version);
        inner.coverage.since(&ids, since_ms)
    }

    /// The latest predictions of one model version, labelled or not (what the estimate
    /// before labels reads): at most `rows` of them, made at or after `since_ms`, each
    /// with its output names.
    pub fn recent(
        &self,
        model: &str,
        version: &str,
        since_ms: i64,
        rows: usize,
    ) -> rusqlite::Result<Vec<Recent>> {
        let inner = self.inner.lock().expect("store poisoned");
        let mut query = inner.conn.prepare_cached(
            "SELECT outputs, at_ms FROM predictions WHERE version_id = ?1 AND at_ms >= ?2
             ORDER BY at_ms DESC LIMIT ?3",
        )?;
        let mut out = Vec::new();
        for (&id, v) in &inner.versions {
            if &*v.model != model || &*v.version != version {
                continue;
            }
            let found = query.query_map(params![id, since_ms, rows as i64], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
            })?;
            for row in found {
                let (values, at_ms) = row?;
                let values = serde_json::from_str(&values).unwrap_or_default();
                out.push((at_ms, v.outputs.clone(), values));
            }
        }
        out.sort_by_key(|(at_ms, _, _)| std::cmp::Reverse(*at_ms));
        out.truncate(rows);
        Ok(out.into_iter().map(|(_, o, v)| (o, v)).collect())
    }

    /// Every model version with stored predictions: (model, version).
    pub fn versions(&self) -> Vec<(Arc<str>, Arc<str>)> {
        let inner = self.inner.lock().expect("store poisoned");
        let mut all: Vec<_> = inner
            .versions
            .values()
            .map(|v| (v.model.clone(), v.version.clone()))
            .collect();
        all.sort();
        all.dedup();
        all
    }

    /// Predictions stored now.
    pub fn len(&self) -> rusqlite::Result<u64> {
        let inner = self.inner.lock().expect("store poisoned");
        inner
            .conn
            .query_row("SELECT count(*) FROM predictions", [], |r| {
                r.get::<_, i64>(0)
            })
            .map(|n| n as u64)
    }

    /// True when no prediction is stored.
    pub fn is_empty(&self) -> rusqlite::Result<bool> {
        Ok(self.len()? == 0)
    }

    /// Bytes of the pages holding data (the file minus its free pages).
    pub fn live_bytes(&self) -> rusqlite::Result<u64> {
        self.inner.lock().expect("store poisoned").live_bytes()
    }
}

impl Verdict {
    fn unattributed(outcome: Outcome, reason: &str) -> Verdict {
        Verdict {
            outcome,
            model: super::UNKNOWN.into(),
            version: super::UNKNOWN.into(),
            reason: Some(reason.into()),
            delay: None,
        }
    }
}

impl Inner {
    /// The `versions` ids of a model version (one per set of output names).
    fn ids_of(&self, model: &str, version: &str) -> Vec<i64> {
        self.versions
            .iter()
            .filter(|(_, v)| &*v.model == model && &*v.version == version)
            .map(|(&id, _)| id)
            .collect()
    }

    /// Rebuilds the coverage counts of predictions made from `since_ms` on (one pass).
    fn count_coverage(&mut self, since_ms: i64) -> rusqlite::Result<()> {
        let mut query = self.conn.prepare(
            "SELECT version_id, at_ms / 60000 * 60000, count(*), count(label)
             FROM predictions WHERE at_ms >= ?1 GROUP BY 1, 2",
        )?;
        let rows = query.query_map([since_ms], |r| {
            Ok((r.get::<_, i64>(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })?;
        for row in rows {
            let (id, at_ms, predicted, labelled): (i64, i64, i64, i64) = row?;
            self.coverage
                .add(id, at_ms, predicted as u64, labelled as u64);
        }
        Ok(())
    }

    fn open(path: &Path) -> anyhow::Result<Inner> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // A power loss may take the last second of predictions; it never corrupts the file.
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        // The page cache is what the store costs in RAM, whatever it holds: 8 MiB.
        conn.pragma_update(None, "cache_size", -8192)?;
        conn.pragma_update(None, "journal_size_limit", 64 * 1024 * 1024)?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS versions (
                 id INTEGER PRIMARY KEY,
                 model TEXT NOT NULL,
                 version TEXT NOT NULL,
                 outputs TEXT NOT NULL,
                 UNIQUE (model, version, outputs));
             CREATE TABLE IF NOT EXISTS predictions (
                 seq INTEGER PRIMARY KEY,
                 request_id TEXT NOT NULL,
                 row INTEGER NOT NULL,
                 version_id INTEGER NOT NULL,
                 at_ms INTEGER NOT NULL,
                 outputs TEXT NOT NULL,
                 label TEXT,
                 labelled_ms INTEGER);
             CREATE UNIQUE INDEX IF NOT EXISTS predictions_by_request
                 ON predictions (request_id, row);
             CREATE INDEX IF NOT EXISTS predictions_labelled
                 ON predictions (version_id, labelled_ms) WHERE label IS NOT NULL;
             CREATE INDEX IF NOT EXISTS predictions_recent
                 ON predictions (version_id, at_ms);
             CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);",
        )
        .map_err(|err| anyhow::anyhow!("prediction store {}: {err}", path.display()))?;
        let mut versions = HashMap::new();
        let mut version_ids = HashMap::new();
        {
            let mut rows = conn.prepare("SELECT id, model, version, outputs FROM versions")?;
            let all = rows.query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                ))
            })?;
            for row in all {
                let (id, model, version, outputs) = row?;
                let outputs: Vec<String> = serde_json::from_str(&outputs).unwrap_or_default();
                let v = VersionRow {
                    model: model.into(),
                    version: version.into(),
                    outputs: outputs.into(),
                };
                version_ids.insert((v.model.clone(), v.version.clone(), v.outputs.clone()), id);
                versions.insert(id, v);
            }
        }
        let evicted_through_ms = conn
            .query_row(
                "SELECT value FROM meta WHERE key = 'evicted_through_ms'",
                [],
                |r| r.get(0),
            )
            .optional()?
            .unwrap_or(i64::MIN);
        Ok(Inner {
            conn,
            versions,
            version_ids,
            evicted_through_ms,
            last_retention_pass: None,
            coverage: CoverageCounts::default(),
        })
    }

    fn version_id(
        &mut self,
        model: &Arc<str>,
        version: &Arc<str>,
        outputs: &Arc<[String]>,
    ) -> rusqlite::Result<i64> {
        let key = (model.clone(), version.clone(), outputs.clone());
        if let Some(&id) = self.version_ids.get(&key) {
            return Ok(id);
        }
        let names = serde_json::to_string(&**outputs).unwrap_or_default();
        self.conn.execute(
            "INSERT OR IGNORE INTO versions (model, version, outputs) VALUES (?1, ?2, ?3)",
            params![&**model, &**version, names],
        )?;
        let id: i64 = self.conn.query_row(
            "SELECT id FROM versions WHERE model = ?1 AND version = ?2 AND outputs = ?3",
            params![&**model, &**version, names],
            |r| r.get(0),
        )?;
        self.version_ids.insert(key, id);
        self.versions.insert(
            id,
            VersionRow {
                model: model.clone(),
                version: version.clone(),
                outputs: outputs.clone(),
            },
        );
        Ok(id)
    }

    /// Deletes the rows matching `condition` (one `?1` parameter), remembering the newest
    /// evicted time. Returns how many went.
    fn evict(&mut self, condition: &str, bound: i64) -> rusqlite::Result<u64> {
        let tx = self.conn.transaction()?;
        let newest: Option<i64> = tx.query_row(
            &format!("SELECT max(at_ms) FROM predictions WHERE {condition}"),
            [bound],
            |r| r.get(0),
        )?;
        let n = tx.execute(
            &format!("DELETE FROM predictions WHERE {condition}"),
            [bound],
        )?;
        if let Some(newest) = newest
            && newest > self.evicted_through_ms
        {
            tx.execute(
                "INSERT INTO meta (key, value) VALUES ('evicted_through_ms', ?1)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [newest],
            )?;
            self.evicted_through_ms = newest;
        }
        tx.commit()?;
        Ok(n as u64)
    }

    fn live_bytes(&self) -> rusqlite::Result<u64> {
        let pages: i64 = self.conn.query_row("PRAGMA page_count", [], |r| r.get(0))?;
        let free: i64 = self
            .conn
            .query_row("PRAGMA freelist_count", [], |r| r.get(0))?;
        let size: i64 = self.conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
        Ok(((pages - free).max(0) * size) as u64)
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    to_ms(SystemTime::now())
}

/// A time as milliseconds since the Unix epoch (negative before it).
pub fn to_ms(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_millis() as i64,
        Err(e) => -(e.duration().as_millis() as i64),
    }
}

#[cfg(test)]
mod tests;
