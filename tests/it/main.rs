//! The integration test binary: each module drives the real `modelwatch` binary.

mod dataset_cli;
