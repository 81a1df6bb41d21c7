//! The integration tests: one binary, one module per area.

mod dataset_cli;
mod drift_calibration;
mod drift_cli;
mod drift_stats;
