//! Request events to Elasticsearch or OpenSearch: ECS documents in a data stream.
//!
//! - [`config`]: the `export.elasticsearch` section;
//! - [`event`]: the queued record and its ECS document (fields in `docs/events.md`);
//! - [`queue`]: the proxy's non-blocking, byte-bounded hand-off and the counters;
//! - [`spool`]: the bounded on-disk spool (segments, recovery) and its persister thread;
//! - [`sink`]: the shipper task: reads the spool, batching, retries with backoff,
//!   dead-letter file;
//! - [`bulk`]: the `_bulk` NDJSON format and per-item outcomes;
//! - [`templates`]: engine detection, index template, ILM policy;
//! - [`client`]: the HTTP client (hyper).

pub mod bulk;
pub mod client;
pub mod config;
pub mod event;
pub mod queue;
pub mod sink;
pub mod spool;
pub mod templates;

#[cfg(test)]
mod tests;
