//! The index templates (request events, drift snapshots, performance documents) installed
//! at start, chosen by the engine.
//!
//! On Elasticsearch the template names the ILM policy; OpenSearch refuses that setting
//! (400), and ISM attaches its policy from the policy's own `ism_template` instead
//! ([`super::lifecycle`]).

use serde_json::{Value, json};

/// The engine answering `GET /`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    Elasticsearch,
    OpenSearch,
}

impl Engine {
    /// Reads `GET /`: OpenSearch says `version.distribution: "opensearch"`.
    pub fn from_root(root: &Value) -> Engine {
        if root["version"]["distribution"].as_str() == Some("opensearch") {
            Engine::OpenSearch
        } else {
            Engine::Elasticsearch
        }
    }
}

/// The template's name: one per data stream, so streams never share one by accident.
pub fn template_name(data_stream: &str) -> String {
    format!("modelwatch-{data_stream}")
}

/// The request events' index template for `data_stream` (priority 501, above the
/// built-in `logs-*-*`).
pub fn index_template(data_stream: &str, engine: Engine) -> Value {
    template(data_stream, request_mappings(engine), engine)
}

/// The drift snapshots' index template (priority 501, above the built-in `metrics-*-*`).
pub fn drift_template(data_stream: &str, engine: Engine) -> Value {
    template(data_stream, drift_mappings(), engine)
}

/// The performance documents' index template (priority 501, above the built-in
/// `metrics-*-*`).
pub fn performance_template(data_stream: &str, engine: Engine) -> Value {
    template(data_stream, performance_mappings(), engine)
}

/// The metric names a performance document may carry (DESIGN.md fixes them; realised
/// performance and the estimate use no others): each is mapped under `metrics`,
/// `reference` and `estimated.metrics`. A name outside this list is left out of the
/// document rather than mapped by guess.
pub const PERFORMANCE_METRICS: &[&str] = &[
    "accuracy",
    "precision",
    "recall",
    "f1",
    "roc_auc",
    "log_loss",
    "mae",
    "rmse",
    "mape",
    "r2",
];

fn template(data_stream: &str, mappings: Value, engine: Engine) -> Value {
    let mut template = json!({
        "index_patterns": [data_stream],
        "data_stream": {},
        "priority": 501,
        "_meta": {"managed_by": "modelwatch"},
        "template": {"mappings": mappings},
    });
    if engine == Engine::Elasticsearch {
        template["template"]["settings"] =
            json!({"index.lifecycle.name": super::lifecycle::ILM_POLICY});
    }
    template
}

/// Captured payloads are objects keyed by feature name: mapped as one field whose keys are
/// not fields of their own (Elasticsearch `flattened`, OpenSearch `flat_object`), so any
/// number of features never grows the mapping, and `modelwatch.features.<name>: value` is
/// still searchable (values indexed as keywords).
fn payload_mapping(engine: Engine) -> Value {
    match engine {
        Engine::Elasticsearch => json!({"type": "flattened"}),
        Engine::OpenSearch => json!({"type": "flat_object"}),
    }
}

fn request_mappings(engine: Engine) -> Value {
    let keyword = json!({"type": "keyword"});
    let long = json!({"type": "long"});
    json!({
        "dynamic": true,
        "properties": {
            "@timestamp": {"type": "date"},
            "ecs": {"properties": {"version": keyword}},
            "event": {"properties": {
                "kind": keyword, "category": keyword, "type": keyword, "outcome": keyword,
                "duration": long, "dataset": keyword, "id": keyword,
            }},
            "http": {"properties": {
                "request": {"properties": {
                    "method": keyword, "id": keyword,
                    "body": {"properties": {"bytes": long}},
                }},
                "response": {"properties": {
                    "status_code": long,
                    "body": {"properties": {"bytes": long}},
                }},
            }},
            "url": {"properties": {"path": keyword}},
            "service": {"properties": {"name": keyword}},
            "trace": {"properties": {"id": keyword}},
            "error": {"properties": {"type": keyword, "message": {"type": "text"}}},
            "modelwatch": {"properties": {
                "model": keyword, "model_version": keyword,
                "upstream_duration_ms": {"type": "double"},
                "protocol": keyword, "rows": long,
                "features": payload_mapping(engine), "predictions": payload_mapping(engine),
                "capture": {"properties": {"rows": long, "truncated": {"type": "boolean"}}},
                "llm": llm_mappings(),
            }},
        }
    })
}

/// `modelwatch.llm`: typed explicitly so a first document with `temperature: 0` or a
/// whole-millisecond latency does not make them `long`; the text is `text` (searchable,
/// not aggregatable), never a keyword whose length could exceed the term limit.
fn llm_mappings() -> Value {
    let keyword = json!({"type": "keyword"});
    let long = json!({"type": "long"});
    let double = json!({"type": "double"});
    let text = json!({"type": "text"});
    json!({"properties": {
        "operation": keyword, "request_model": keyword, "response_model": keyword,
        "stream": {"type": "boolean"}, "max_tokens": long, "temperature": double,
        "finish_reasons": keyword,
        "tokens": {"properties": {"input": long, "output": long, "total": long, "source": keyword}},
        "time_to_first_token_ms": double,
        "inter_token_ms": {"properties": {
            "count": long, "mean": double, "p50": double, "p95": double, "max": double,
        }},
        "output_tokens_per_second": double,
        "prompt": text, "completion": text, "text_truncated": {"type": "boolean"},
    }})
}

/// Every documented drift field typed explicitly, so that the first document cannot make
/// a score a `long` (0) or a rate a `long` (dynamic mapping guesses from one value).
fn drift_mappings() -> Value {
    let keyword = json!({"type": "keyword"});
    let double = json!({"type": "double"});
    let boolean = json!({"type": "boolean"});
    json!({
        "dynamic": true,
        "properties": {
            "@timestamp": {"type": "date"},
            "ecs": {"properties": {"version": keyword}},
            "event": {"properties": {"kind": keyword, "dataset": keyword}},
            "service": {"properties": {"name": keyword}},
            "modelwatch": {"properties": {
                "model": keyword, "model_version": keyword, "feature": keyword,
                "column_type": keyword, "method": keyword,
                "statistic": double, "score": double, "p_value": double, "threshold": double,
                "lower_threshold": double, "evaluation_drifted": boolean,
                "drifted": boolean, "drift_share": double, "dataset_drift": boolean,
                "window_rows": {"type": "long"},
                "reference": {"properties": {"name": keyword, "version": keyword}},
                "missing_rate": double, "out_of_range_rate": double,
                "unseen_rate": double, "type_error_rate": double,
                "note": {"type": "text"},
            }},
        }
    })
}

/// Every field of a performance document typed explicitly: a figure that happens to be
/// `0.0` or `1.0` in the first document must not become a `long` (Elasticsearch) or a
/// `float` (OpenSearch), and a count must not become a `float`.
fn performance_mappings() -> Value {
    let keyword = json!({"type": "keyword"});
    let long = json!({"type": "long"});
    let double = json!({"type": "double"});
    let date = json!({"type": "date"});
    let per_metric = |mapping: &Value| {
        let fields: serde_json::Map<String, Value> = PERFORMANCE_METRICS
            .iter()
            .map(|name| (name.to_string(), mapping.clone()))
            .collect();
        json!({"properties": fields})
    };
    let estimate = json!({"properties": {
        "value": double, "sampling_error": double, "lower": double, "upper": double,
    }});
    json!({
        "dynamic": true,
        "properties": {
            "@timestamp": date,
            "ecs": {"properties": {"version": keyword}},
            "event": {"properties": {"kind": keyword, "dataset": keyword}},
            "service": {"properties": {"name": keyword}},
            "modelwatch": {"properties": {
                "model": keyword, "model_version": keyword, "task": keyword,
                "positive_class": keyword,
                "rows": long, "predictions": long, "labelled": long,
                "label_coverage": double,
                "window": {"properties": {"start": date, "end": date, "max_rows": long}},
                "metrics": per_metric(&double),
                "reference": per_metric(&double),
                "estimated": {"properties": {
                    "rows": long, "unscored": long, "calibrated": {"type": "boolean"},
                    "unavailable": {"type": "text"},
                    "metrics": per_metric(&estimate),
                }},
            }},
        }
    })
}
