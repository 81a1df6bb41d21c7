//! The process-wide Prometheus registry: build info, process metrics, and the text
//! exposition the admin listener serves.

use prometheus::{Encoder, IntGaugeVec, Opts, Registry, TextEncoder};

/// The exposition format Prometheus expects; scrapes without a Content-Type fail on
/// Prometheus 3.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Latency buckets in seconds: sub-millisecond edges for the proxy's own overhead, then the
/// usual service range; 0.1, 0.25 and 0.5 are SLO thresholds the alert rules use.
/// The proxy's histograms and their OTLP mirror use the same edges.
pub const LATENCY_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0, 30.0, 60.0,
];

/// A registry with `modelwatch_build_info` and the `process_*` metrics registered.
pub fn new_registry() -> prometheus::Result<Registry> {
    let registry = Registry::new();
    let build_info = IntGaugeVec::new(
        Opts::new(
            "modelwatch_build_info",
            "Always 1; the labels say which modelwatch build is running.",
        ),
        &["version", "revision"],
    )?;
    build_info
        .with_label_values(&[crate::provenance::VERSION, crate::provenance::REVISION])
        .set(1);
    registry.register(Box::new(build_info))?;
    registry.register(Box::new(
        prometheus::process_collector::ProcessCollector::for_self(),
    ))?;
    Ok(registry)
}

/// Renders every metric of `registry` in the Prometheus text format.
pub fn render(registry: &Registry) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 * 1024);
    // Encoding into a Vec cannot fail on I/O; an error here means an invalid metric, which
    // registration already rules out.
    if let Err(err) = TextEncoder::new().encode(&registry.gather(), &mut out) {
        tracing::error!(%err, "could not encode metrics");
    }
    out
}
