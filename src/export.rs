//! Where observations leave the process: the Prometheus registry and its text exposition
//! (served by the admin listener), request events to Elasticsearch/OpenSearch, and traces
//! and metrics over OTLP, and the sidecar's own recording of LLM calls (`recording`).

pub mod elasticsearch;
pub mod otlp;
pub mod prometheus;
pub mod recording;
