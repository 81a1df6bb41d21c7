//! Running the `modelwatch` binary to completion, and the credit data the tests share.

use std::path::Path;
use std::process::{Command, Output};

/// The credit-scoring example dataset.
pub const CREDIT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/examples/credit/credit_data.csv"
);

/// Runs `modelwatch ARGS` with `MODELWATCH_HOME=home` and waits for it.
pub fn modelwatch(home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_modelwatch"))
        .args(args)
        .env("MODELWATCH_HOME", home)
        .output()
        .expect("the modelwatch binary runs")
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}
