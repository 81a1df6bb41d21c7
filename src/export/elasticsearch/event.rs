//! The ECS request event: what one proxied exchange becomes in the data stream, and the
//! [`ExportRecord`] the export queue carries (a request event or a drift snapshot).
//!
//! The proxy queues a [`RequestRecord`] (a few strings and numbers, no bodies); the
//! shipper turns it into the JSON document off the hot path. Fields: `docs/events.md`.

use super::bulk::BulkItem;
use super::config::ElasticsearchConfig;
use super::drift_snapshot::DriftSnapshot;
use crate::analysis::exchange::Exchange;
use serde_json::{Value, json};
use std::time::{Duration, SystemTime};

/// The ECS version the documents follow.
pub const ECS_VERSION: &str = "8.11.0";
/// `event.dataset`, also the dataset part of the default data stream.
pub const DATASET: &str = "modelwatch.inference";

/// One item of the export queue. Both kinds share the queue, its byte budget and the
/// shipper, so one `_bulk` request can carry both data streams.
#[derive(Clone, Debug)]
pub enum ExportRecord {
    /// A proxied request, rendered into its document by the shipper.
    Request(RequestRecord),
    /// A drift snapshot, rendered already by the evaluator thread.
    Drift(DriftSnapshot),
}

impl ExportRecord {
    /// The document `_id`: the request id, or the snapshot's deterministic id.
    pub fn id(&self) -> &str {
        match self {
            ExportRecord::Request(r) => &r.request_id,
            ExportRecord::Drift(d) => &d.id,
        }
    }

    /// Bytes this record holds while queued.
    pub fn footprint(&self) -> usize {
        match self {
            ExportRecord::Request(r) => r.footprint(),
            ExportRecord::Drift(d) => d.footprint,
        }
    }

    /// The `_bulk` item: the record's data stream, `_id` and document.
    pub fn bulk_item(&self, config: &ElasticsearchConfig) -> BulkItem {
        match self {
            ExportRecord::Request(r) => BulkItem {
                index: config.data_stream.clone(),
                id: r.request_id.clone(),
                document: r.document(),
            },
            ExportRecord::Drift(d) => BulkItem {
                index: config.drift_data_stream.clone(),
                id: d.id.clone(),
                document: d.document.clone(),
            },
        }
    }
}

/// What the export queue holds per request: the exchange without its bodies.
#[derive(Clone, Debug)]
pub struct RequestRecord {
    pub request_id: String,
    pub received_at: SystemTime,
    pub model: String,
    pub model_version: String,
    pub method: String,
    /// The path without the query string (queries may carry secrets).
    pub path: String,
    pub status: u16,
    pub duration: Duration,
    pub upstream_duration: Option<Duration>,
    pub request_bytes: u64,
    pub response_bytes: u64,
}

impl RequestRecord {
    pub fn from_exchange(exchange: &Exchange) -> Self {
        let path = exchange.path.split('?').next().unwrap_or_default();
        Self {
            request_id: exchange.request_id.clone(),
            received_at: exchange.received_at,
            model: exchange.labels.model.to_string(),
            model_version: exchange.labels.version.to_string(),
            method: exchange.method.as_str().to_string(),
            path: path.to_string(),
            status: exchange.status.as_u16(),
            duration: exchange.duration,
            upstream_duration: exchange.upstream_duration,
            request_bytes: exchange.request.bytes,
            response_bytes: exchange.response.bytes,
        }
    }

    /// Bytes this record holds while queued (the queue's budget is in bytes).
    pub fn footprint(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.request_id.len()
            + self.model.len()
            + self.model_version.len()
            + self.method.len()
            + self.path.len()
    }

    /// The ECS document.
    pub fn document(&self) -> Value {
        let outcome = if self.status < 400 {
            "success"
        } else {
            "failure"
        };
        let mut modelwatch = json!({
            "model": self.model,
            "model_version": self.model_version,
        });
        if let Some(upstream) = self.upstream_duration {
            modelwatch["upstream_duration_ms"] = json!(upstream.as_secs_f64() * 1000.0);
        }
        json!({
            "@timestamp": humantime::format_rfc3339_millis(self.received_at).to_string(),
            "ecs": {"version": ECS_VERSION},
            "event": {
                "kind": "event",
                "category": ["web"],
                "type": ["access"],
                "outcome": outcome,
                "duration": u64::try_from(self.duration.as_nanos()).unwrap_or(u64::MAX),
                "dataset": DATASET,
            },
            "http": {
                "request": {"method": self.method, "id": self.request_id,
                            "body": {"bytes": self.request_bytes}},
                "response": {"status_code": self.status, "body": {"bytes": self.response_bytes}},
            },
            "url": {"path": self.path},
            "service": {"name": "modelwatch"},
            "modelwatch": modelwatch,
        })
    }
}
