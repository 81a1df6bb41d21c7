//! Performance documents: what one quality evaluation becomes in the performance data
//! stream (`export.elasticsearch.performance_data_stream`, default
//! `metrics-modelwatch.performance-default`).
//!
//! One document per model version in the `/api/v1/performance` report, with the same
//! figures under the same names: realised `metrics`, the registry's `reference`, the
//! `estimated` metrics with their sampling error and band, label coverage, the counts and
//! the evaluation's window. `@timestamp` is the report's `evaluated_at`; the `_id` hashes
//! (model, version, `performance`, that instant), so a resent document is stored once.
//! Fields: `docs/events.md`, "Performance documents"; mapping:
//! [`crate::export::elasticsearch::templates::performance_template`].

use super::{PerformanceReport, VersionPerformance};
use crate::export::elasticsearch::drift_snapshot::snapshot_id;
use crate::export::elasticsearch::event::{RenderedDocument, metric_envelope};
use crate::export::elasticsearch::templates::PERFORMANCE_METRICS;
use serde_json::{Map, Value, json};

/// `event.dataset` of performance documents.
pub const DATASET: &str = "modelwatch.performance";

/// The documents of one evaluation: one per model version the report holds.
pub fn documents(report: &PerformanceReport) -> Vec<RenderedDocument> {
    let Ok(at) = humantime::parse_rfc3339(&report.evaluated_at) else {
        tracing::warn!(
            evaluated_at = %report.evaluated_at,
            "a performance report without a readable time is not exported"
        );
        return Vec::new();
    };
    let millis = at
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    report
        .models
        .iter()
        .map(|version| {
            let id = snapshot_id(
                &version.model,
                &version.model_version,
                "performance",
                millis,
            );
            RenderedDocument::new(id, document(report, version))
        })
        .collect()
}

/// Figures by metric name, only the names the template maps and only finite values
/// (JSON has no NaN; an R² of one row is absent, as in the gauges).
fn by_metric<'a, T: 'a>(
    figures: impl IntoIterator<Item = (&'a str, T)>,
    render: impl Fn(T) -> Option<Value>,
) -> Value {
    let mut out = Map::new();
    for (name, figure) in figures {
        if !PERFORMANCE_METRICS.contains(&name) {
            tracing::debug!(
                metric = name,
                "a metric the performance template does not map is not exported"
            );
            continue;
        }
        if let Some(value) = render(figure) {
            out.insert(name.to_string(), value);
        }
    }
    Value::Object(out)
}

fn finite(value: f64) -> Option<Value> {
    value.is_finite().then(|| json!(value))
}

fn document(report: &PerformanceReport, p: &VersionPerformance) -> Value {
    let mut modelwatch = json!({
        "model": p.model,
        "model_version": p.model_version,
        "task": p.task,
        "rows": p.rows,
        "predictions": p.predictions,
        "labelled": p.labelled,
        "window": {
            "start": report.window.start,
            "end": report.window.end,
            "max_rows": report.window.max_rows,
        },
        "metrics": by_metric(p.metrics.iter().map(|(k, v)| (*k, *v)), finite),
        "reference": by_metric(p.reference.iter().map(|(k, v)| (k.as_str(), *v)), finite),
    });
    if let Some(class) = &p.positive_class {
        modelwatch["positive_class"] = json!(class);
    }
    if let Some(coverage) = p.label_coverage.and_then(finite) {
        modelwatch["label_coverage"] = coverage;
    }
    if let Some(estimated) = &p.estimated {
        let mut e = json!({
            "rows": estimated.rows,
            "unscored": estimated.unscored,
            "calibrated": estimated.calibrated,
            "metrics": by_metric(estimated.metrics.iter().map(|(k, v)| (*k, v)), |e| {
                let band = [
                    ("value", e.value),
                    ("sampling_error", e.sampling_error),
                    ("lower", e.lower),
                    ("upper", e.upper),
                ];
                let fields: Map<String, Value> = band
                    .into_iter()
                    .filter_map(|(k, v)| Some((k.to_string(), finite(v)?)))
                    .collect();
                fields.contains_key("value").then_some(Value::Object(fields))
            }),
        });
        if let Some(why) = &estimated.unavailable {
            e["unavailable"] = json!(why);
        }
        modelwatch["estimated"] = e;
    }
    metric_envelope(&report.evaluated_at, DATASET, modelwatch)
}

#[cfg(test)]
mod tests;
