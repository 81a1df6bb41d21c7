//! What the integration tests share: real upstream HTTP servers on loopback, a running
//! `modelwatch proxy` process, what to do with any child process (SIGTERM, a bounded wait
//! for its exit), an HTTP client, a Prometheus text parser, the output of the real
//! OpenTelemetry Collector, a TLS front, and a front that refuses requests as a cluster
//! would.

pub mod child_process;
pub mod cli;
pub mod client;
pub mod container;
pub mod fault_front;
pub mod metrics_text;
pub mod otel_collector;
pub mod proxy_process;
pub mod tls_front;
pub mod upstream;
