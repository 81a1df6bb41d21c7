//! The sidecar's own health as the drift page shows it, read from the metrics registry
//! the proxy, analysis and exporters already count into: requests and their latency,
//! analysis drops and backlog, export outcomes and the spool.

use prometheus::Registry;
use prometheus::proto::MetricFamily;

/// A snapshot of the sidecar's counters.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SidecarHealth {
    /// `modelwatch_requests_total`, all labels.
    pub requests: u64,
    /// Of which answered 5xx (the upstream's or the proxy's own).
    pub server_errors: u64,
    /// Mean of `modelwatch_request_duration_seconds`.
    pub latency_mean: Option<f64>,
    /// Bucket upper bounds holding the median and the 99th percentile: "at most".
    pub latency_p50: Option<f64>,
    pub latency_p99: Option<f64>,
    /// `modelwatch_analysis_dropped_total`, all reasons.
    pub analysis_dropped: u64,
    /// `modelwatch_analysis_queue_depth`.
    pub analysis_queue: u64,
    /// `modelwatch_export_events_total` by `sink/outcome/kind`, in registry order.
    pub export_events: Vec<(String, u64)>,
    /// `modelwatch_export_spool_bytes` summed over sinks: the export backlog on disk.
    pub spool_bytes: Option<u64>,
    /// Sinks refusing the sidecar as a whole (`modelwatch_export_blocked` = 1).
    pub blocked_sinks: Vec<String>,
}

impl SidecarHealth {
    /// Reads the registry now.
    pub fn from_registry(registry: &Registry) -> SidecarHealth {
        let families = registry.gather();
        let family = |name: &str| families.iter().find(|f| f.name() == name);
        let mut health = SidecarHealth::default();
        if let Some(f) = family("modelwatch_requests_total") {
            for m in f.get_metric() {
                let n = m.get_counter().get_value() as u64;
                health.requests += n;
                if label(m, "code").is_some_and(|c| c.starts_with('5')) {
                    health.server_errors += n;
                }
            }
        }
        if let Some(f) = family("modelwatch_request_duration_seconds") {
            let (count, sum, buckets) = merged_histogram(f);
            if count > 0 {
                health.latency_mean = Some(sum / count as f64);
                health.latency_p50 = quantile_bound(&buckets, count, 0.5);
                health.latency_p99 = quantile_bound(&buckets, count, 0.99);
            }
        }
        health.analysis_dropped = total(family("modelwatch_analysis_dropped_total")) as u64;
        health.analysis_queue = total(family("modelwatch_analysis_queue_depth")) as u64;
        if let Some(f) = family("modelwatch_export_events_total") {
            for m in f.get_metric() {
                let name = format!(
                    "{}/{}/{}",
                    label(m, "sink").unwrap_or("-"),
                    label(m, "outcome").unwrap_or("-"),
                    label(m, "kind").unwrap_or("-")
                );
                health
                    .export_events
                    .push((name, m.get_counter().get_value() as u64));
            }
        }
        health.spool_bytes = family("modelwatch_export_spool_bytes").map(|f| total(Some(f)) as u64);
        if let Some(f) = family("modelwatch_export_blocked") {
            for m in f.get_metric() {
                if m.get_gauge().get_value() > 0.0 {
                    let sink = label(m, "sink").unwrap_or("-");
                    let reason = label(m, "reason").unwrap_or("-");
                    health.blocked_sinks.push(format!("{sink} ({reason})"));
                }
            }
        }
        health
    }
}

fn label<'a>(metric: &'a prometheus::proto::Metric, name: &str) -> Option<&'a str> {
    metric
        .get_label()
        .iter()
        .find(|l| l.name() == name)
        .map(|l| l.value())
}

/// The sum of a counter's or gauge's series.
fn total(family: Option<&MetricFamily>) -> f64 {
    family.map_or(0.0, |f| {
        f.get_metric()
            .iter()
            .map(|m| m.get_counter().get_value() + m.get_gauge().get_value())
            .sum()
    })
}

/// Count, sum and cumulative buckets `(upper bound, count)` of all a histogram's series
/// (they share their bucket bounds).
fn merged_histogram(family: &MetricFamily) -> (u64, f64, Vec<(f64, u64)>) {
    let (mut count, mut sum) = (0u64, 0.0);
    let mut buckets: Vec<(f64, u64)> = Vec::new();
    for m in family.get_metric() {
        let h = m.get_histogram();
        count += h.get_sample_count();
        sum += h.get_sample_sum();
        for (i, b) in h.get_bucket().iter().enumerate() {
            match buckets.get_mut(i) {
                Some(slot) => slot.1 += b.cumulative_count(),
                None => buckets.push((b.upper_bound(), b.cumulative_count())),
            }
        }
    }
    (count, sum, buckets)
}

/// The upper bound of the bucket in which the `q` quantile falls; `None` beyond the last
/// finite bound.
pub fn quantile_bound(buckets: &[(f64, u64)], count: u64, q: f64) -> Option<f64> {
    let rank = (q * count as f64).ceil() as u64;
    buckets
        .iter()
        .find(|(_, cumulative)| *cumulative >= rank.max(1))
        .map(|(bound, _)| *bound)
        .filter(|b| b.is_finite())
}
