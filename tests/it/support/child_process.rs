//! What the tests do with a process they started and own: send it SIGTERM as an
//! orchestrator would, wait a bounded time for its exit, and kill it when the test is done.

use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

/// Sends SIGTERM (as the kubelet or `docker compose stop` does); whether `kill` succeeded.
pub fn send_sigterm(child: &Child) -> bool {
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap()
        .success()
}

/// The exit status once the process has ended, waiting at most `timeout`.
pub fn wait_for_exit(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Kills the process and reaps it, for `Drop`: a test that failed half-way leaves no
/// server behind.
pub fn kill_and_reap(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}
