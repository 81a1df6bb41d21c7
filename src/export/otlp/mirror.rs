//! The counters and gauges of the metrics contract over OTLP, read from the Prometheus
//! registry when the periodic reader collects (every `OTEL_METRIC_EXPORT_INTERVAL`, 60 s by
//! default), never on the request path.
//!
//! Names map the way the OpenTelemetry–Prometheus compatibility rules map them back: an
//! OTLP counter `modelwatch_requests` with a `{request}` unit becomes
//! `modelwatch_requests_total` in Prometheus, a histogram `modelwatch_request_duration` in
//! `s` becomes `modelwatch_request_duration_seconds`, and gauges keep their names. Labels
//! become attributes of the same names. A collector exporting to Prometheus therefore
//! produces the series the dashboards and alert rules already use.

use opentelemetry::KeyValue;
use opentelemetry::metrics::Meter;
use prometheus::Registry;
use prometheus::proto::{Metric, MetricFamily};

/// Prometheus name, OTLP name, unit, description; counters, then gauges.
const COUNTERS: &[(&str, &str, &str, &str)] = &[
    (
        "modelwatch_requests_total",
        "modelwatch_requests",
        "{request}",
        "Requests answered, by model, version and HTTP status code.",
    ),
    (
        "modelwatch_upstream_errors_total",
        "modelwatch_upstream_errors",
        "{request}",
        "Requests the upstream did not answer, by reason.",
    ),
    (
        "modelwatch_client_errors_total",
        "modelwatch_client_errors",
        "{request}",
        "Requests refused or lost before reaching the upstream, by reason.",
    ),
    (
        "modelwatch_rows_total",
        "modelwatch_rows",
        "{row}",
        "Rows (instances) analysed.",
    ),
    (
        "modelwatch_analysis_dropped_total",
        "modelwatch_analysis_dropped",
        "{exchange}",
        "Exchanges not analysed, by reason.",
    ),
    (
        "modelwatch_export_events_total",
        "modelwatch_export_events",
        "{event}",
        "Exported documents by sink, outcome and kind (request, drift, performance).",
    ),
    (
        "modelwatch_admin_refusals_total",
        "modelwatch_admin_refusals",
        "{request}",
        "Admin API requests refused, by reason.",
    ),
];

const GAUGES: &[(&str, &str)] = &[
    (
        "modelwatch_requests_in_flight",
        "Requests received and not yet fully answered.",
    ),
    (
        "modelwatch_drift_score",
        "Drift score per feature and method (a p-value for ks/chi2/z).",
    ),
    (
        "modelwatch_drift_p_value",
        "p-value of the drift test, where the test has one.",
    ),
    (
        "modelwatch_drift_statistic",
        "Test statistic of the drift test (KS D, chi-squared, z, PSI, Wasserstein, JS).",
    ),
    (
        "modelwatch_drift_detected",
        "1 when the feature drifted in the last evaluation.",
    ),
    ("modelwatch_drift_share", "Share of drifted features."),
    (
        "modelwatch_drift_window_rows",
        "Rows in the live window drift was computed on.",
    ),
    (
        "modelwatch_analysis_queue_depth",
        "Exchanges waiting for analysis.",
    ),
    (
        "modelwatch_export_blocked",
        "1 while the sink refuses every request as a whole, by reason.",
    ),
];

/// Registers one observable instrument per mirrored family on `meter`.
pub fn register(meter: &Meter, registry: &Registry) {
    for &(prometheus_name, name, unit, description) in COUNTERS {
        let registry = registry.clone();
        meter
            .f64_observable_counter(name)
            .with_unit(unit)
            .with_description(description)
            .with_callback(move |observer| {
                observe(&registry, prometheus_name, |metric, attributes| {
                    observer.observe(metric.get_counter().get_value(), attributes)
                })
            })
            .build();
    }
    for &(name, description) in GAUGES {
        let registry = registry.clone();
        meter
            .f64_observable_gauge(name)
            .with_description(description)
            .with_callback(move |observer| {
                observe(&registry, name, |metric, attributes| {
                    observer.observe(metric.get_gauge().get_value(), attributes)
                })
            })
            .build();
    }
}

/// Calls `record` with each series of the family `name` and its labels as attributes.
fn observe(registry: &Registry, name: &str, mut record: impl FnMut(&Metric, &[KeyValue])) {
    let families: Vec<MetricFamily> = registry.gather();
    let Some(family) = families.iter().find(|f| f.name() == name) else {
        return;
    };
    for metric in family.get_metric() {
        let attributes: Vec<KeyValue> = metric
            .get_label()
            .iter()
            .map(|label| KeyValue::new(label.name().to_string(), label.value().to_string()))
            .collect();
        record(metric, &attributes);
    }
}
