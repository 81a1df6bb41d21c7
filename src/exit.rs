//! Process exit codes and the error kind that selects them.
//!
//! Every job returns `anyhow::Result`. `main` prints the whole cause chain and picks the exit
//! code from it: an error whose chain holds a [`UsageError`] exits [`BAD_USAGE`], any other
//! error exits [`JOB_FAILED`].

use std::fmt;

/// The job did what was asked.
pub const OK: i32 = 0;
/// The job ran and failed (an unreachable service, a validation gate, dataset drift with
/// `--fail-on-drift`).
pub const JOB_FAILED: i32 = 1;
/// The command line or a configuration file is wrong; nothing was started.
pub const BAD_USAGE: i32 = 2;

/// A mistake in flags or configuration that the user fixes by changing what they typed.
///
/// The message names the flag, key or file, the offending value and what to do.
#[derive(Debug)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// The exit code for an error returned by a job.
pub fn code_for(err: &anyhow::Error) -> i32 {
    if err.chain().any(|cause| cause.is::<UsageError>()) {
        BAD_USAGE
    } else {
        JOB_FAILED
    }
}
