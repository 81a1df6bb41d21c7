//! modelwatch: an observability sidecar and drift monitor for machine-learning model servers.
//!
//! The crate is one library with a thin binary (`src/main.rs`) on top. A reader finds a
//! concept by its folder:
//!
//! - [`cli`]: the command line, on top of everything: each subcommand's flags, how they
//!   resolve to the plain values the library takes, and what is printed (tables, JSON,
//!   the `drift` command's file reading and report, `quickstart`, `healthcheck`,
//!   `feedback send`).
//! - [`traffic`]: what flows between the stages (model identity, the captured exchange, how
//!   a body ended, trace context); below the proxy, analysis and export, so that none of them
//!   imports another's insides.
//! - [`config`]: the layered configuration (TOML file → `MODELWATCH__*` environment →
//!   flags), validated before anything listens.
//! - [`proxy`]: the hot path. A hyper server and client that forward inference traffic
//!   untouched, enforce limits, and record RED metrics. It never waits for analysis or
//!   export.
//! - [`analysis`]: off the hot path. Captured exchanges go through a bounded queue to
//!   worker threads that decode payloads and update per-feature distributions.
//! - [`profile`]: dataset schemas and reference profiles (bin edges, category frequencies,
//!   samples) computed from a reference dataset.
//! - [`protocol`]: payload decoders (Open Inference Protocol, KServe V1, MLflow, Seldon,
//!   generic JSON) from bodies to feature and prediction columns; pure, no I/O.
//! - [`export`]: where observations leave the process (the Prometheus exposition, request
//!   events to Elasticsearch/OpenSearch, traces and metrics over OTLP).
//! - [`replay`]: dataset rows sent at a steady rate with drift
//!   injection and exact latency percentiles.
//! - [`registry`]: the home directory: SQLite metadata, content-addressed blobs, dataset
//!   versions, model versions with their aliases and alias history.
//! - [`quality`]: model quality: analysed predictions kept on disk so that delayed labels
//!   (`POST /api/v1/feedback`) join them, and the feedback outcomes.
//! - [`train`]: reference training, validation, metrics and promotion gates.
//! - [`serve`]: the reference model server (Open Inference Protocol and MLflow `/invocations`).
//! - [`pipeline`]: a pipeline file run: dataset add → train → validate → register → promote.
//! - [`drift`]: drift statistics (PSI, KS, Wasserstein, Jensen–Shannon, chi², z), the
//!   `auto` method choice, the per-column accumulator of current data and the column test
//!   that turns it into a report line, shared by the CLI and the live sidecar; no I/O.
//! - [`page`]: the drift page on the admin port and the self-contained HTML reports
//!   (server-rendered, charts as SVG, assets compiled in).
//! - [`http_listener`]: the HTTP listener of `serve` and `registry serve`.
//! - [`bearer`]: bearer tokens, read from a file and checked in constant time.
//! - [`tls`]: the TLS settings of every client (exporters, the registry client): the
//!   system's roots or a CA file, an optional client certificate.
//! - [`exit`]: the process exit codes and the error kinds that map to them.
//! - [`logging`] and [`shutdown`]: stderr diagnostics and the stop signal.
//! - [`registry_server`]: the registry read over HTTP (`modelwatch registry serve`).
//! - [`random`]: the one seeded random-number generator.
//! - [`provenance`]: the version and git revision the binary was built from.
//!
//! `ARCHITECTURE.md` at the repository root has the bird's-eye view and the invariants.

pub mod analysis;
pub mod bearer;
pub mod cli;
pub mod config;
pub mod drift;
pub mod exit;
pub mod export;
pub mod http_listener;
pub mod logging;
pub mod page;
pub mod pipeline;
pub mod profile;
pub mod protocol;
pub mod provenance;
pub mod proxy;
pub mod quality;
pub mod random;
pub mod registry;
pub mod registry_server;
pub mod replay;
pub mod serve;
pub mod shutdown;
pub mod tls;
pub mod traffic;
pub mod train;
