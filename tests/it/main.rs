//! The integration tests: one binary, one module per area.

mod drift_calibration;
mod drift_stats;
