use super::*;
use crate::quality::feedback::{At, FeedbackItem, Labels, Outcome};
use serde_json::json;

fn open(dir: &Path, config: &QualityConfig) -> Arc<PredictionStore> {
    let registry = prometheus::Registry::new();
    let metrics = QualityMetrics::register(&registry).unwrap();
    let (store, _thread) = PredictionStore::open(dir, config, metrics).unwrap();
    store
}

fn prediction(id: &str, version: &str, at_ms: i64) -> Prediction {
    Prediction {
        request_id: id.into(),
        row: 0,
        model: "credit".into(),
        version: version.into(),
        outputs: Arc::from(vec!["label".to_string(), "probability".to_string()]),
        values: vec![json!("yes"), json!(0.8)],
        at_ms,
    }
}

fn item(id: &str, label: serde_json::Value) -> FeedbackItem {
    FeedbackItem {
        at: At::Line(1),
        request_id: id.into(),
        row: 0,
        labels: Labels::One(label),
        timestamp_ms: None,
    }
}

fn outcomes(verdicts: &[Verdict]) -> Vec<Outcome> {
    verdicts.iter().map(|v| v.outcome).collect()
}

#[test]
fn each_item_gets_its_outcome_and_the_version_of_its_prediction() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), &QualityConfig::default());
    let now = now_ms();
    store
        .write(&[prediction("a", "1", now - 5000), prediction("b", "2", now)])
        .unwrap();
    let verdicts = store
        .join(
            &[
                item("a", json!("no")),
                item("a", json!("yes")),
                item("zzz", json!("no")),
                item("b", json!({"nested": 1})),
                item("b", json!("yes")),
            ],
            now,
        )
        .unwrap();
    assert_eq!(
        outcomes(&verdicts),
        [
            Outcome::Joined,
            Outcome::Duplicate,
            Outcome::UnknownRequest,
            Outcome::Invalid,
            Outcome::Joined
        ]
    );
    assert_eq!(&*verdicts[0].version, "1");
    assert_eq!(&*verdicts[4].version, "2");
    assert_eq!(&*verdicts[2].version, crate::quality::UNKNOWN);
    assert_eq!(verdicts[0].delay, Some(Duration::from_millis(5000)));
    // The first label stays; each version sees only its own.
    let one = store.joined("credit", "1", 0, 10).unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].label["label"], json!("no"));
    assert_eq!(one[0].values, [json!("yes"), json!(0.8)]);
    let two = store.joined("credit", "2", 0, 10).unwrap();
    assert_eq!(two.len(), 1);
    assert_eq!(two[0].label["label"], json!("yes"));
}

#[test]
fn predictions_and_labels_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let now = now_ms();
    {
        let store = open(dir.path(), &QualityConfig::default());
        store
            .write(&[prediction("a", "1", now), prediction("b", "1", now)])
            .unwrap();
        let v = store.join(&[item("a", json!("no"))], now).unwrap();
        assert_eq!(outcomes(&v), [Outcome::Joined]);
    }
    let store = open(dir.path(), &QualityConfig::default());
    let v = store
        .join(&[item("a", json!("no")), item("b", json!("no"))], now)
        .unwrap();
    assert_eq!(outcomes(&v), [Outcome::Duplicate, Outcome::Joined]);
    assert_eq!(&*v[1].version, "1");
}

#[test]
fn a_repeated_request_id_keeps_the_first_prediction() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), &QualityConfig::default());
    let now = now_ms();
    store.write(&[prediction("a", "1", now)]).unwrap();
    store.write(&[prediction("a", "2", now)]).unwrap();
    assert_eq!(store.len().unwrap(), 1);
    assert_eq!(store.metrics.repeated.get(), 1);
    let v = store.join(&[item("a", json!("no"))], now).unwrap();
    assert_eq!(&*v[0].version, "1");
}

#[test]
fn labels_for_predictions_past_the_retention_are_expired() {
    let dir = tempfile::tempdir().unwrap();
    let config = QualityConfig {
        retention: Duration::from_secs(3600),
        ..Default::default()
    };
    let store = open(dir.path(), &config);
    let now = now_ms();
    // Still stored (the next retention pass removes it) but too old to join.
    store.write(&[prediction("kept", "1", now)]).unwrap();
    let two_hours_later = now + 7_200_000;
    let v = store
        .join(&[item("kept", json!("no"))], two_hours_later)
        .unwrap();
    assert_eq!(outcomes(&v), [Outcome::Expired]);
    // Evicted on write: its UUID v7 says it is older than what the store has evicted.
    let made = now - 7_200_000;
    let stamp = uuid::Timestamp::from_unix(
        uuid::NoContext,
        (made / 1000) as u64,
        ((made % 1000) * 1_000_000) as u32,
    );
    let id = uuid::Uuid::new_v7(stamp).to_string();
    drop(store);
    // A fresh process: its first write runs the retention pass (then once a second).
    let store = open(dir.path(), &config);
    store.write(&[prediction(&id, "1", made)]).unwrap();
    assert_eq!(store.metrics.evicted_retention.get(), 1);
    let v = store
        .join(
            &[item(&id, json!("no")), item("never-seen", json!("no"))],
            now,
        )
        .unwrap();
    assert_eq!(outcomes(&v), [Outcome::Expired, Outcome::UnknownRequest]);
}

#[test]
fn the_store_stays_within_its_bytes_and_evicts_the_oldest() {
    let dir = tempfile::tempdir().unwrap();
    let max_bytes = 1024 * 1024;
    let config = QualityConfig {
        max_bytes,
        ..Default::default()
    };
    let store = open(dir.path(), &config);
    let mut ids = Vec::new();
    for _ in 0..40 {
        let batch: Vec<Prediction> = (0..1000)
            .map(|_| {
                let id = uuid::Uuid::now_v7().to_string();
                ids.push(id.clone());
                prediction(&id, "1", now_ms())
            })
            .collect();
        store.write(&batch).unwrap();
        assert!(store.live_bytes().unwrap() <= max_bytes);
    }
    let evicted = store.metrics.evicted_bytes.get();
    assert!(evicted > 0, "40,000 predictions do not fit in 1 MiB");
    assert_eq!(store.len().unwrap() + evicted, ids.len() as u64);
    // The file stops growing: freed pages are reused.
    let file = std::fs::metadata(store.path()).unwrap().len();
    assert!(file <= 2 * max_bytes, "file {file} bytes");
    // The newest still joins; the oldest is known to be evicted (its UUID v7 says when
    // it was made), not unknown.
    let newest = item(ids.last().unwrap(), json!("no"));
    let oldest = item(&ids[0], json!("no"));
    let v = store.join(&[newest, oldest], now_ms()).unwrap();
    assert_eq!(outcomes(&v), [Outcome::Joined, Outcome::Expired]);
}

#[test]
fn offered_predictions_are_written_by_the_thread() {
    let dir = tempfile::tempdir().unwrap();
    let registry = prometheus::Registry::new();
    let metrics = QualityMetrics::register(&registry).unwrap();
    let (store, thread) =
        PredictionStore::open(dir.path(), &QualityConfig::default(), metrics).unwrap();
    for i in 0..100 {
        store.offer(prediction(&format!("r{i}"), "1", now_ms()));
    }
    store.close();
    thread.join().unwrap();
    assert_eq!(store.len().unwrap(), 100);
}

/// The pass runs every second on the writer thread: a full scan there cost the writer 20
/// times its insert rate at ten million stored predictions (`benches/prediction_store.rs`).
#[test]
fn the_retention_pass_searches_the_time_index_instead_of_scanning_every_row() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), &QualityConfig::default());
    let inner = store.inner.lock().unwrap();
    for statement in [
        format!("SELECT max(at_ms) FROM predictions WHERE {RETENTION}"),
        format!("DELETE FROM predictions WHERE {RETENTION}"),
    ] {
        let mut explain = inner
            .conn
            .prepare(&format!("EXPLAIN QUERY PLAN {statement}"))
            .unwrap();
        let plan: Vec<String> = explain
            .query_map([0i64], |r| r.get::<_, String>(3))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert!(
            plan.iter()
                .any(|step| step.contains("predictions_recent (version_id=? AND at_ms<?)")),
            "{statement}: {plan:?}"
        );
    }
}
