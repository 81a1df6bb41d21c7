//! The `modelwatch` command: parse the flags, run one job, print errors, exit with a
//! documented code. The flags and every job's printing live in the library's `cli` layer;
//! this file only dispatches.

use clap::Parser;
use modelwatch::cli::Cli;
use modelwatch::exit;

/// Lets a closed pipe end the process quietly, as it ends other Unix tools. Rust ignores
/// SIGPIPE by default, which turns `| head` into a panic in `println!`; servers keep that
/// default so that no client can kill them.
fn restore_sigpipe() {
    // SAFETY: resetting a signal disposition to its default touches no memory of ours,
    // and no other thread exists yet.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn main() {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            // clap prints help and version to stdout with exit 0, usage errors with exit 2.
            err.exit();
        }
    };
    if cli.job.writes_for_pipes() {
        restore_sigpipe();
    }
    match cli.job.run() {
        Ok(()) => std::process::exit(exit::OK),
        Err(err) => {
            eprintln!("modelwatch: {err:#}");
            std::process::exit(exit::code_for(&err));
        }
    }
}
