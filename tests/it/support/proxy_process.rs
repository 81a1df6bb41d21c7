//! A real `modelwatch proxy` process on loopback ports chosen by the kernel.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::child_process::{kill_and_reap, send_sigterm, wait_for_exit};

/// `proxy` flags for loopback ports chosen by the kernel (the start line says which).
pub const LOOPBACK_PORTS: [&str; 4] = ["--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"];

/// A running proxy; killed when dropped.
pub struct ProxyProcess {
    child: Child,
    pub listen: SocketAddr,
    pub admin: SocketAddr,
    log: Arc<Mutex<String>>,
}

impl ProxyProcess {
    /// Starts `modelwatch proxy --upstream URL` on `127.0.0.1:0` ports with extra
    /// `MODELWATCH__*` environment settings, and waits until it listens.
    pub fn start(upstream: &str, env: &[(&str, &str)]) -> ProxyProcess {
        Self::start_with_args(&["--upstream", upstream], env)
    }

    /// Starts `modelwatch proxy --upstream UPSTREAM --reference REFERENCE MORE_ARGS…` (a
    /// profile file or a registry spec such as `credit@production`) on `127.0.0.1:0` ports
    /// with extra environment, and waits until it listens.
    pub fn start_with_reference(
        upstream: &str,
        reference: &str,
        more_args: &[&str],
        env: &[(&str, &str)],
    ) -> ProxyProcess {
        let mut args = vec!["--upstream", upstream, "--reference", reference];
        args.extend_from_slice(more_args);
        Self::start_with_args(&args, env)
    }

    pub fn start_with_args(args: &[&str], env: &[(&str, &str)]) -> ProxyProcess {
        let mut command = Command::new(env!("CARGO_BIN_EXE_modelwatch"));
        command
            .arg("proxy")
            .args(LOOPBACK_PORTS)
            .args(args)
            .env("MODELWATCH_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = command.spawn().expect("could not start modelwatch");
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains("modelwatch proxy started") {
                    let _ = tx.send(line.clone());
                }
                let mut log = sink.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        let deadline = Instant::now() + Duration::from_secs(20);
        let started = loop {
            if let Ok(line) = rx.recv_timeout(Duration::from_millis(50)) {
                break line;
            }
            let exited = child.try_wait().unwrap();
            if exited.is_some() || Instant::now() > deadline {
                let _ = child.kill();
                std::thread::sleep(Duration::from_millis(50));
                panic!(
                    "modelwatch proxy did not start ({exited:?}); its log:\n{}",
                    log.lock().unwrap()
                );
            }
        };
        ProxyProcess {
            child,
            listen: field(&started, "listen="),
            admin: field(&started, "admin="),
            log,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.listen, path)
    }

    pub fn admin_url(&self, path: &str) -> String {
        format!("http://{}{}", self.admin, path)
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        assert!(send_sigterm(&self.child), "could not signal the proxy");
    }

    /// Waits for the process to exit, at most `timeout`.
    pub fn wait(&mut self, timeout: Duration) -> Option<ExitStatus> {
        wait_for_exit(&mut self.child, timeout)
    }

    /// Everything the process wrote to stderr so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for ProxyProcess {
    fn drop(&mut self) {
        kill_and_reap(&mut self.child);
    }
}

fn field(line: &str, key: &str) -> SocketAddr {
    let start = line
        .find(key)
        .unwrap_or_else(|| panic!("no {key} in {line:?}"))
        + key.len();
    line[start..]
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap_or_else(|_| panic!("bad address after {key} in {line:?}"))
}

/// Runs `modelwatch ARGS` to completion and returns (exit code, stderr).
pub fn run_to_end(args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_modelwatch"));
    command.args(args).stdin(Stdio::null());
    for (k, v) in env {
        command.env(k, v);
    }
    let out = command.output().expect("could not run modelwatch");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
