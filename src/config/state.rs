//! The state directory: what a running process writes (the Elasticsearch spool, the
//! dead-letter file), kept apart from the registry home, which deployments mount
//! read-only. `--state-dir`, `MODELWATCH_STATE_DIR` or the top-level TOML key `state_dir`;
//! the image sets `/var/lib/modelwatch`.
//!
//! A directory that cannot be written is found at startup, before any port is opened,
//! and is a usage error naming the path and the fix: never a crash after the first event.

use crate::exit::UsageError;
use std::path::Path;

/// The state directory when nothing sets one: beside the working directory, like the
/// home's `.modelwatch`, but a separate directory so that the home can be read-only.
pub const DEFAULT_STATE_DIR: &str = ".modelwatch-state";

/// Creates `dir` when missing and proves that this process can create files in it.
/// `what` names the directory in the error ("the export spool directory"), `fix` says
/// which setting moves it.
pub fn ensure_writable(dir: &Path, what: &str, fix: &str) -> Result<(), UsageError> {
    let probe = std::fs::create_dir_all(dir).and_then(|()| {
        // Removed on drop: the directory is left as it was found.
        tempfile::Builder::new()
            .prefix(".modelwatch-write-check-")
            .tempfile_in(dir)
            .map(drop)
    });
    probe.map_err(|err| {
        UsageError(format!(
            "{what} {} is not writable by this process ({err}): {fix}",
            dir.display()
        ))
    })
}

#[cfg(test)]
mod tests;
