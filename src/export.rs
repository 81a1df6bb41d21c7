//! Where observations leave the process: the Prometheus registry and its text exposition
//! (served by the admin listener), and request events to Elasticsearch/OpenSearch.

pub mod elasticsearch;
pub mod prometheus;
