//! The prediction store's costs: bytes per stored prediction on disk, predictions written
//! per second, feedback items joined per second, and the process's RSS with the store
//! full.
//!
//! `cargo bench --bench prediction_store` (release); `PREDICTIONS=10000000` for the
//! ten-million figure (default 1,000,000). Each prediction is shaped like the credit
//! model's: a UUID v7 request id (what the proxy generates), outputs `label` (text) and
//! `probability` (a float). Joins are timed in batches of 1,000 items (one
//! `POST /api/v1/feedback`), ids shuffled so lookups land all over the index.
//!
//! Rates are medians over the timed pieces (write batches of 1,024, join batches of
//! 1,000) with the slowest and fastest beside them: on a shared machine the mean carries
//! whatever else ran; the median is the store's own cost.

use modelwatch::config::quality::QualityConfig;
use modelwatch::quality::QualityMetrics;
use modelwatch::quality::feedback::{At, FeedbackItem, Labels, Outcome};
use modelwatch::quality::store::{Prediction, PredictionStore, now_ms};
use std::sync::Arc;
use std::time::Instant;

fn rss_bytes() -> u64 {
    status_kib("VmRSS:") * 1024
}

/// (median, min, max) of per-piece rates.
fn spread(mut rates: Vec<f64>) -> (f64, f64, f64) {
    rates.sort_by(f64::total_cmp);
    let median = rates[rates.len() / 2];
    (median, rates[0], rates[rates.len() - 1])
}

fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap_or(0)
}

fn main() {
    let n: usize = std::env::var("PREDICTIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().unwrap();
    let config = QualityConfig {
        enabled: true,
        max_bytes: u64::MAX / 2,
        ..Default::default()
    };
    let metrics = QualityMetrics::register(&prometheus::Registry::new()).unwrap();
    let (store, _writer) = PredictionStore::open(dir.path(), &config, metrics).unwrap();
    let outputs: Arc<[String]> = Arc::from(vec!["label".to_string(), "probability".to_string()]);
    let (model, version): (Arc<str>, Arc<str>) = ("credit".into(), "3".into());
    let rss_before = rss_bytes();
    // Every stride-th id, 100,000 of them spread over the whole store, for the joins
    // (all ten million would weigh on the RSS being measured).
    let stride = (n / 100_000).max(1);
    let mut ids = Vec::with_capacity(n / stride + 1);
    let started = Instant::now();
    let mut batch = Vec::with_capacity(1024);
    let mut write_rates = Vec::with_capacity(n / 1024 + 1);
    let mut batch_started = Instant::now();
    for i in 0..n {
        let id = uuid::Uuid::now_v7().to_string();
        if i % stride == 0 {
            ids.push(id.clone());
        }
        let p = (i % 997) as f64 / 997.0;
        batch.push(Prediction {
            request_id: id,
            row: 0,
            model: model.clone(),
            version: version.clone(),
            outputs: outputs.clone(),
            values: vec![
                serde_json::json!(if p > 0.5 { "bad" } else { "good" }),
                serde_json::json!(p),
            ],
            at_ms: now_ms(),
        });
        if batch.len() == 1024 {
            store.write(&batch).unwrap();
            batch.clear();
            write_rates.push(1024.0 / batch_started.elapsed().as_secs_f64());
            batch_started = Instant::now();
        }
    }
    store.write(&batch).unwrap();
    let write_secs = started.elapsed().as_secs_f64();
    let bytes = store.live_bytes().unwrap();
    let file = std::fs::metadata(store.path()).unwrap().len();
    println!("predictions stored          {n}");
    let (median, slowest, fastest) = spread(write_rates);
    println!(
        "write rate                  median {median:.0} predictions/s per batch of 1,024 \
         (slowest {slowest:.0}, fastest {fastest:.0}; overall {:.0})",
        n as f64 / write_secs
    );
    println!(
        "bytes per prediction        {:.1} (live pages {bytes}, file {file})",
        bytes as f64 / n as f64
    );

    // Joins: 100 batches of 1,000 ids spread over the whole store.
    let mut rng_state = 0x9e3779b97f4a7c15u64;
    let mut next = || {
        rng_state ^= rng_state << 13;
        rng_state ^= rng_state >> 7;
        rng_state ^= rng_state << 17;
        rng_state
    };
    // Shuffled without repeats: every item is a first label for a stored prediction, so
    // each one is a real join (a repeat would be a cheaper `duplicate`).
    for i in (1..ids.len()).rev() {
        ids.swap(i, (next() % (i as u64 + 1)) as usize);
    }
    let batches = 100.min(ids.len() / 1000);
    let mut joined = 0usize;
    let mut join_rates = Vec::with_capacity(batches);
    let started = Instant::now();
    for b in 0..batches {
        let items: Vec<FeedbackItem> = ids[b * 1000..(b + 1) * 1000]
            .iter()
            .map(|id| FeedbackItem {
                at: At::Line(1),
                request_id: id.clone(),
                row: 0,
                labels: Labels::One(serde_json::json!("good")),
                timestamp_ms: None,
            })
            .collect();
        let batch_started = Instant::now();
        let verdicts = store.join(&items, now_ms()).unwrap();
        join_rates.push(verdicts.len() as f64 / batch_started.elapsed().as_secs_f64());
        joined += verdicts
            .iter()
            .filter(|v| v.outcome == Outcome::Joined)
            .count();
    }
    let join_secs = started.elapsed().as_secs_f64();
    let (median, slowest, fastest) = spread(join_rates);
    println!(
        "feedback items joined       median {median:.0} items/s per batch of 1,000 \
         (slowest {slowest:.0}, fastest {fastest:.0}; overall {:.0}; {joined} items)",
        joined as f64 / join_secs
    );
    drop(ids);
    println!(
        "RSS                         {} MiB (before filling {} MiB, peak {} MiB)",
        rss_bytes() / (1 << 20),
        rss_before / (1 << 20),
        status_kib("VmHWM:") / 1024
    );
}
