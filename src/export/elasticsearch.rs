//! Request events, drift snapshots and performance documents to Elasticsearch or
//! OpenSearch: ECS documents in three data streams, shipped by one queue and one shipper.
//!
//! - [`config`]: the `export.elasticsearch` section;
//! - [`capture`]: the payload capture policy (sampling, redaction, size cap);
//! - [`event`]: the queued record and its ECS document (fields in `docs/events.md`);
//! - [`drift_snapshot`]: one document per column and live drift evaluation (performance
//!   documents are rendered by `quality::performance::document`, above this layer);
//! - [`queue`]: the proxy's non-blocking, byte-bounded hand-off and the counters;
//! - [`spool`]: the bounded on-disk spool (segments, recovery) and its persister thread;
//! - [`sink`]: the shipper task: reads the spool, batching, retries with backoff,
//!   dead-letter file;
//! - [`refusal`]: what a refusal of a whole request means (retry, split on 413, or block
//!   on 401/403 and other 4xx, keeping the events) and `modelwatch_export_blocked`;
//! - [`bulk`]: the `_bulk` NDJSON format and per-item outcomes;
//! - [`templates`]: engine detection, index templates (every field typed);
//! - [`lifecycle`]: ILM (Elasticsearch) or ISM (OpenSearch, when the plugin is there);
//! - [`client`]: the HTTP client (hyper), basic and API-key authentication; TLS with
//!   [`crate::tls`] (rustls settings, a custom CA from `ca_file`).

pub mod bulk;
pub mod capture;
pub mod client;
pub mod drift_snapshot;
pub mod event;
pub mod lifecycle;
pub mod queue;
pub mod refusal;
pub mod sink;
pub mod spool;
pub mod templates;

#[cfg(test)]
pub(crate) mod tests;
