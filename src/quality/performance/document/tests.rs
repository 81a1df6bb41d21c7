use super::*;
use crate::config::elasticsearch::ElasticsearchConfig;
use crate::export::elasticsearch::event::{DocumentKind, ExportRecord};
use crate::export::elasticsearch::templates::{Engine, performance_template};
use crate::quality::cbpe::Estimate;
use crate::quality::cbpe::live::EstimatedPerformance;
use crate::quality::performance::{ReportWindow, Task};
use std::collections::BTreeMap;

fn report() -> PerformanceReport {
    let classifier = VersionPerformance {
        model: "credit".into(),
        model_version: "1".into(),
        rows: 3,
        task: Task::Classifier,
        positive_class: Some("bad".into()),
        // A figure of exactly 0 or 1 is the case dynamic mapping types wrongly.
        metrics: BTreeMap::from([("accuracy", 1.0), ("precision", 0.0), ("log_loss", 0.25)]),
        predictions: 4,
        labelled: 3,
        label_coverage: Some(0.75),
        reference: BTreeMap::from([("accuracy".to_string(), 0.8148)]),
        class_counts: BTreeMap::from([("bad".to_string(), 1), ("good".to_string(), 2)]),
        estimated: Some(EstimatedPerformance {
            rows: 4,
            unscored: 0,
            calibrated: true,
            metrics: BTreeMap::from([(
                "accuracy",
                Estimate {
                    value: 0.5,
                    sampling_error: 0.1,
                    lower: 0.2,
                    upper: 0.8,
                },
            )]),
            unavailable: None,
        }),
    };
    let regressor = VersionPerformance {
        model: "price".into(),
        model_version: "2".into(),
        rows: 1,
        task: Task::Regressor,
        metrics: BTreeMap::from([("mae", 2.0), ("r2", f64::NAN)]),
        predictions: 1,
        labelled: 1,
        label_coverage: Some(1.0),
        ..Default::default()
    };
    PerformanceReport {
        evaluated_at: "2026-12-05T10:00:00.123Z".into(),
        window: ReportWindow {
            start: "2026-11-28T10:00:00.123Z".into(),
            end: "2026-12-05T10:00:00.123Z".into(),
            max_rows: 10_000,
        },
        models: vec![classifier, regressor],
    }
}

/// Every leaf of `value` as (dotted path, JSON value).
fn leaves(prefix: &str, value: &Value, out: &mut Vec<(String, Value)>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                leaves(&path, v, out);
            }
        }
        other => out.push((prefix.to_string(), other.clone())),
    }
}

/// The mapped type of a dotted path in an index template's properties.
fn mapped_type<'a>(properties: &'a Value, path: &str) -> Option<&'a str> {
    let mut at = properties;
    let mut parts = path.split('.').peekable();
    while let Some(part) = parts.next() {
        let field = at.get(part)?;
        if parts.peek().is_none() {
            return field["type"].as_str();
        }
        at = &field["properties"];
    }
    None
}

#[test]
fn one_document_per_version_with_the_reports_figures() {
    let report = report();
    let docs = documents(&report);
    assert_eq!(docs.len(), 2);
    let doc = &docs[0].document;
    assert_eq!(doc["@timestamp"], "2026-12-05T10:00:00.123Z");
    assert_eq!(doc["event"]["kind"], "metric");
    assert_eq!(doc["event"]["dataset"], "modelwatch.performance");
    let m = &doc["modelwatch"];
    assert_eq!(m["model"], "credit");
    assert_eq!(m["model_version"], "1");
    assert_eq!(m["task"], "classifier");
    assert_eq!(m["positive_class"], "bad");
    assert_eq!(m["rows"], 3);
    assert_eq!(m["predictions"], 4);
    assert_eq!(m["labelled"], 3);
    assert_eq!(m["label_coverage"], 0.75);
    assert_eq!(
        m["window"],
        json!({"start": "2026-11-28T10:00:00.123Z", "end": "2026-12-05T10:00:00.123Z",
               "max_rows": 10_000})
    );
    assert_eq!(
        m["metrics"],
        json!({"accuracy": 1.0, "precision": 0.0, "log_loss": 0.25})
    );
    assert_eq!(m["reference"], json!({"accuracy": 0.8148}));
    assert_eq!(
        m["estimated"],
        json!({"rows": 4, "unscored": 0, "calibrated": true, "metrics": {
            "accuracy": {"value": 0.5, "sampling_error": 0.1, "lower": 0.2, "upper": 0.8}}})
    );
    // NaN has no JSON: R² of one row is left out, as in the gauges.
    let regressor = &docs[1].document["modelwatch"];
    assert_eq!(regressor["metrics"], json!({"mae": 2.0}));
    assert!(regressor.get("estimated").is_none());
    assert!(regressor.get("positive_class").is_none());

    // The id names (model, version, instant): stable across a resend, distinct per version.
    assert_eq!(docs[0].id, documents(&report)[0].id);
    assert_ne!(docs[0].id, docs[1].id);
    let record = ExportRecord::Performance(docs[0].clone());
    assert_eq!(record.kind(), DocumentKind::Performance);
    assert_eq!(
        record.kind().data_stream(&ElasticsearchConfig::default()),
        "metrics-modelwatch.performance-default"
    );
}

#[test]
fn every_field_of_a_document_is_typed_by_the_template() {
    let template = performance_template("metrics-a-b", Engine::OpenSearch);
    let properties = &template["template"]["mappings"]["properties"];
    let mut fields = Vec::new();
    for doc in documents(&report()) {
        leaves("", &doc.document, &mut fields);
    }
    for (path, value) in fields {
        let kind = mapped_type(properties, &path)
            .unwrap_or_else(|| panic!("{path} ({value}) is not in the performance template"));
        let fits = match &value {
            Value::String(_) => ["keyword", "date", "text"].contains(&kind),
            Value::Bool(_) => kind == "boolean",
            Value::Number(n) if n.is_f64() => kind == "double",
            Value::Number(_) => ["long", "double"].contains(&kind),
            _ => false,
        };
        assert!(fits, "{path} = {value} is mapped as {kind}");
    }
    // The counts are long, the figures double, whatever value comes first.
    for (path, kind) in [
        ("modelwatch.rows", "long"),
        ("modelwatch.window.max_rows", "long"),
        ("modelwatch.window.start", "date"),
        ("modelwatch.metrics.accuracy", "double"),
        ("modelwatch.reference.r2", "double"),
        ("modelwatch.estimated.metrics.roc_auc.upper", "double"),
        ("modelwatch.estimated.rows", "long"),
    ] {
        assert_eq!(mapped_type(properties, path), Some(kind), "{path}");
    }
}

#[test]
fn the_template_maps_every_metric_quality_reports() {
    let known: std::collections::BTreeSet<&str> = crate::train::metrics::METRIC_NAMES
        .iter()
        .chain(&super::super::regression::METRIC_NAMES)
        .chain(&crate::quality::cbpe::METRICS)
        .copied()
        .collect();
    let mapped: std::collections::BTreeSet<&str> = PERFORMANCE_METRICS.iter().copied().collect();
    assert_eq!(known, mapped);
}
