//! Running the `modelwatch` binary to completion, and the credit data the tests share.

use std::path::{Path, PathBuf};
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

/// The temporary files (`.incoming-*`) of unfinished blob writes in the home at `home`.
pub fn blob_temporary_files(home: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(home.join("blobs/sha256"))
        .map(|entries| {
            entries
                .map(|e| e.unwrap().path())
                .filter(|p| {
                    p.file_name()
                        .unwrap()
                        .to_string_lossy()
                        .starts_with(".incoming-")
                })
                .collect()
        })
        .unwrap_or_default()
}
