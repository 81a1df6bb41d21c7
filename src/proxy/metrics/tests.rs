use super::*;
use http::StatusCode;

fn labels(model: &str, version: &str) -> ModelLabels {
    ModelLabels {
        model: model.into(),
        version: version.into(),
    }
}

fn requests(registry: &Registry, model: &str, version: &str, code: &str) -> Option<u64> {
    registry
        .gather()
        .iter()
        .filter(|f| f.name() == "modelwatch_requests_total")
        .flat_map(|f| f.get_metric())
        .find(|m| {
            let value = |name: &str| {
                m.get_label()
                    .iter()
                    .find(|l| l.name() == name)
                    .map(|l| l.value().to_string())
            };
            value("model").as_deref() == Some(model)
                && value("model_version").as_deref() == Some(version)
                && value("code").as_deref() == Some(code)
        })
        .map(|m| m.get_counter().get_value() as u64)
}

#[test]
fn cached_handles_count_each_version_and_code_apart() {
    let registry = Registry::new();
    let metrics = ProxyMetrics::register(&registry).unwrap();
    let (one, two) = (labels("credit", "1"), labels("credit", "2"));
    let (h1, h2) = (metrics.version(&one), metrics.version(&two));
    // No answer yet: no series for any code, not even a zero for 200.
    assert_eq!(requests(&registry, "credit", "1", "200"), None);
    for _ in 0..3 {
        metrics.count_request(&one, &h1, StatusCode::OK);
    }
    metrics.count_request(&one, &h1, StatusCode::INTERNAL_SERVER_ERROR);
    // Handles looked up again share the cached counter.
    metrics.count_request(&one, &metrics.version(&one), StatusCode::OK);
    metrics.count_request(&two, &h2, StatusCode::OK);
    assert_eq!(requests(&registry, "credit", "1", "200"), Some(4));
    assert_eq!(requests(&registry, "credit", "1", "500"), Some(1));
    assert_eq!(requests(&registry, "credit", "2", "200"), Some(1));
    assert_eq!(requests(&registry, "credit", "2", "500"), None);
}

#[test]
fn in_flight_counts_the_model_until_the_guard_drops() {
    let registry = Registry::new();
    let metrics = ProxyMetrics::register(&registry).unwrap();
    let gauge = || metrics.in_flight.with_label_values(&["credit"]).get();
    let a = metrics.in_flight(&metrics.version(&labels("credit", "1")));
    let b = metrics.in_flight(&metrics.version(&labels("credit", "2")));
    assert_eq!(gauge(), 2);
    drop(a);
    assert_eq!(gauge(), 1);
    drop(b);
    assert_eq!(gauge(), 0);
}
