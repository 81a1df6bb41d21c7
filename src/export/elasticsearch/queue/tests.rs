//! The export queue: bounded in bytes, and each dropped document counted under its own
//! `kind`.

use super::*;
use crate::export::elasticsearch::tests::exchange;

#[tokio::test]
async fn the_export_queue_is_bounded_in_bytes_and_counts_what_it_drops() {
    let registry = prometheus::Registry::new();
    let counters = ExportCounters::register(&registry).unwrap();
    let one = RequestRecord::from_exchange(&exchange("r-0")).footprint();
    let (queue, mut receiver) = ExportQueue::new(one * 3, counters);
    for i in 0..5 {
        queue.offer(&exchange(&format!("r-{i}")));
    }
    assert_eq!(export_events(&registry, "dropped", "request"), 2.0);
    let Some(ExportRecord::Request(first)) = receiver.try_recv() else {
        panic!("a request record comes first");
    };
    assert_eq!(first.request_id, "r-0");
    assert_eq!(
        first.path, "/invocations",
        "the query string is not exported"
    );
    // Taking one frees its bytes: the next offer fits again.
    queue.offer(&exchange("r-5"));
    let ids: Vec<String> = std::iter::from_fn(|| receiver.try_recv())
        .map(|r| match r {
            ExportRecord::Request(r) => r.request_id,
            ExportRecord::Drift(d) | ExportRecord::Performance(d) => d.id,
        })
        .collect();
    assert_eq!(ids, ["r-1", "r-2", "r-5"]);
}

/// `modelwatch_export_events_total{sink="elasticsearch",outcome,kind}` as registered.
pub(crate) fn export_events(registry: &prometheus::Registry, outcome: &str, kind: &str) -> f64 {
    let families = registry.gather();
    let family = families
        .iter()
        .find(|f| f.name() == "modelwatch_export_events_total")
        .expect("the counter is registered");
    let label = |m: &prometheus::proto::Metric, name: &str| {
        m.get_label()
            .iter()
            .find(|l| l.name() == name)
            .map(|l| l.value().to_string())
    };
    family
        .get_metric()
        .iter()
        .find(|m| {
            label(m, "sink").as_deref() == Some(SINK)
                && label(m, "outcome").as_deref() == Some(outcome)
                && label(m, "kind").as_deref() == Some(kind)
        })
        .unwrap_or_else(|| panic!("no series for outcome {outcome}, kind {kind}"))
        .get_counter()
        .get_value()
}

#[test]
fn a_full_queue_counts_each_dropped_document_under_its_own_kind() {
    // On-call must tell lost request events from lost drift snapshots: each is counted
    // under its own `kind`, and every (outcome, kind) series exists from the start.
    let registry = prometheus::Registry::new();
    let counters = ExportCounters::register(&registry).unwrap();
    for outcome in Outcome::ALL {
        for kind in DocumentKind::ALL {
            assert_eq!(
                export_events(&registry, outcome.as_str(), kind.as_str()),
                0.0
            );
        }
    }
    let one = RequestRecord::from_exchange(&exchange("k-0")).footprint();
    let (queue, _receiver) = ExportQueue::new(one, counters);
    queue.offer(&exchange("k-0"));
    // The queue is full now: everything below is dropped.
    queue.offer(&exchange("k-1"));
    let document = |id: &str| RenderedDocument::new(id.into(), serde_json::json!({"n": 1}));
    queue.offer_drift(vec![document("d-0"), document("d-1")]);
    queue.offer_performance(vec![document("p-0"), document("p-1"), document("p-2")]);
    assert_eq!(export_events(&registry, "dropped", "request"), 1.0);
    assert_eq!(export_events(&registry, "dropped", "drift"), 2.0);
    assert_eq!(export_events(&registry, "dropped", "performance"), 3.0);
}
