//! Drift snapshots: what one live drift evaluation becomes in the drift data stream.
//!
//! On every evaluation the evaluator thread turns each model version's report into one
//! document per tested column (features, and predictions as `prediction:<output>`, the
//! same names as the metrics' `feature` label) and queues them beside the request events.
//! Each multivariate result becomes one more document, without `feature`, its `method`
//! `domain_classifier` or `reconstruction_error`.
//! The `_id` is a hash of (model, version, feature or `multivariate:<method>`, evaluation
//! time), so a resent snapshot is stored once. Fields: `docs/events.md`, "Drift
//! snapshots".

use super::event::{RenderedDocument, metric_envelope};
use crate::drift::model_report::ModelReport;
use crate::drift::multivariate::MultivariateResult;
use crate::drift::report::ColumnReport;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use std::time::{SystemTime, UNIX_EPOCH};

/// `event.dataset` of drift snapshots.
pub const DATASET: &str = "modelwatch.drift";

/// One column's drift at one evaluation, rendered and ready to ship.
pub type DriftSnapshot = RenderedDocument;

/// The snapshots of one model version's evaluation at `evaluated_at`: one per column the
/// report holds (features first, then predictions), then one per multivariate method.
pub fn snapshots(report: &ModelReport, evaluated_at: SystemTime) -> Vec<DriftSnapshot> {
    let millis = evaluated_at
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    // Millisecond precision everywhere: the `_id` and `@timestamp` name the same instant.
    let at = UNIX_EPOCH + std::time::Duration::from_millis(millis as u64);
    let timestamp = humantime::format_rfc3339_millis(at).to_string();
    let features = report.features.iter().map(|c| (c, c.name.clone(), false));
    let predictions = report
        .predictions
        .iter()
        .map(|c| (c, format!("prediction:{}", c.name), true));
    let columns = features
        .chain(predictions)
        .map(|(column, feature, is_prediction)| {
            let window_rows = if is_prediction {
                report.window.prediction_rows
            } else {
                report.window.rows
            };
            let document = document(report, column, &feature, &timestamp, window_rows);
            let id = snapshot_id(&report.model, &report.model_version, &feature, millis);
            (id, document)
        });
    let multivariate = report.multivariate.iter().map(|result| {
        let key = format!("multivariate:{}", result.method.as_str());
        let id = snapshot_id(&report.model, &report.model_version, &key, millis);
        (id, multivariate_document(report, result, &timestamp))
    });
    columns
        .chain(multivariate)
        .map(|(id, document)| RenderedDocument::new(id, document))
        .collect()
}

/// The deterministic `_id`: sha256 of the NUL-separated key, 40 hex digits (names with any
/// characters and any length give a valid, fixed-size id).
pub fn snapshot_id(model: &str, version: &str, feature: &str, evaluated_at_ms: u128) -> String {
    let mut hasher = Sha256::new();
    for part in [model, version, feature, &evaluated_at_ms.to_string()] {
        hasher.update(part.as_bytes());
        hasher.update([0u8]);
    }
    hex::encode(hasher.finalize())[..40].to_string()
}

/// A multivariate method's verdict: no `feature`, no per-column rates.
fn multivariate_document(
    report: &ModelReport,
    result: &MultivariateResult,
    timestamp: &str,
) -> Value {
    let mut modelwatch = json!({
        "model": report.model,
        "model_version": report.model_version,
        "method": result.method.as_str(),
        "score": result.score,
        "threshold": result.threshold,
        "drifted": result.drifted,
        "window_rows": report.window.multivariate_rows,
        "reference": {"name": report.reference.spec, "version": report.reference.version},
    });
    if let Some(lower) = result.lower_threshold {
        modelwatch["lower_threshold"] = json!(lower);
    }
    if let Some(evaluation) = result.evaluation_drifted {
        modelwatch["evaluation_drifted"] = json!(evaluation);
    }
    envelope(timestamp, modelwatch)
}

fn envelope(timestamp: &str, modelwatch: Value) -> Value {
    metric_envelope(timestamp, DATASET, modelwatch)
}

fn document(
    report: &ModelReport,
    column: &ColumnReport,
    feature: &str,
    timestamp: &str,
    window_rows: u64,
) -> Value {
    let mut modelwatch = Map::new();
    let mut put = |key: &str, value: Value| {
        // Absent rather than null: a column that could not be tested has no score, a
        // distance method no p-value.
        if !value.is_null() {
            modelwatch.insert(key.to_string(), value);
        }
    };
    put("model", json!(report.model));
    put("model_version", json!(report.model_version));
    put("feature", json!(feature));
    put("column_type", json!(column.kind));
    put("method", json!(column.method));
    put("statistic", json!(column.statistic));
    put("score", json!(column.score));
    put("p_value", json!(column.p_value));
    put("threshold", json!(column.threshold));
    put("drifted", json!(column.drifted));
    put("drift_share", json!(report.drift_share));
    put("dataset_drift", json!(report.dataset_drift));
    put("window_rows", json!(window_rows));
    put(
        "reference",
        json!({"name": report.reference.spec, "version": report.reference.version}),
    );
    put("missing_rate", json!(column.missing_rate));
    put("out_of_range_rate", json!(column.out_of_range_rate));
    put("unseen_rate", json!(column.unseen_rate));
    put("type_error_rate", json!(column.type_error_rate));
    put("note", json!(column.note));
    envelope(timestamp, Value::Object(modelwatch))
}
