//! The `modelwatch` command: parse the flags, run one job, print errors, exit with a
//! documented code. The flags and every job's printing live in the library's `cli` layer;
//! this file only dispatches.

use clap::Parser;
use modelwatch::cli::Cli;
use modelwatch::exit;

/// jemalloc, not glibc's malloc. Each proxied body is copied into a buffer of about its
/// size on a tokio worker and freed on an analysis thread; glibc serves a 1 KiB body from
/// its large bins, outside the per-thread cache, and a profile of the proxy at 1,000 rps
/// with a reference finds the workers in `_int_malloc`, `unlink_chunk` and
/// `malloc_consolidate` for much of what analysis adds to them. The instructions are the
/// same under callgrind with either allocator; the time is memory traffic between cores.
/// Three paired runs of `benches/proxy` (7 × 8 s at 1,000 rps each, issue 14), jemalloc over
/// glibc: with analysis 0.92×, 0.96× and 0.93× the CPU per request and 0.68×, 0.48× and
/// 0.82× the added p99; without analysis 0.99×, 1.02× and 1.01× the CPU. The price is
/// 1–4 MB of peak RSS with analysis (31–33 MB against 29–30; `benches/memory`: 31.4
/// against 27.6), none without. mimalloc, measured the same way, took 0.95× the CPU for
/// nearly twice the RSS (56 MB).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

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
