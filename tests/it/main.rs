//! The integration test binary: each module drives the real `modelwatch` binary.

mod dataset_cli;
mod drift_cli;
mod ml_jobs;
mod ml_metrics;
mod ml_pipeline;
mod ml_registry;
mod ml_support;
