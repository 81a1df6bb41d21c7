//! Shared helpers of the ML lifecycle tests: run the real binary, write pipeline files,
//! start `serve` as a real process and talk HTTP to it over a plain TCP socket.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::support::child_process::kill_and_reap;
pub use super::support::cli::{CREDIT, modelwatch};

pub const EXAMPLE_PIPELINE: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/examples/credit/pipeline.toml");

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Asserts success and parses stdout as JSON.
pub fn json(out: &Output) -> serde_json::Value {
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out.stdout)))
}

/// A pipeline file for the credit data with light validation (tests stay fast); `extra`
/// is appended TOML (e.g. gates).
pub fn pipeline_file(dir: &Path, file: &str, seed: u64, gates: &str) -> PathBuf {
    let path = dir.join(file);
    std::fs::write(
        &path,
        format!(
            "[dataset]\nname = \"credit\"\nfile = \"{CREDIT}\"\ntarget = \"Status\"\n\n\
             [model]\nname = \"credit\"\n\n\
             [train]\nseed = {seed}\npositive_class = \"bad\"\n\n\
             [validate]\nfolds = 2\npermutation_repeats = 1\n\n\
             [gates]\n{gates}\n"
        ),
    )
    .unwrap();
    path
}

/// Runs `modelwatch registry register credit --artifact ARTIFACT EXTRA…` in `home`.
pub fn register_credit(home: &Path, artifact: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["registry", "register", "credit", "--artifact"];
    args.push(artifact.to_str().unwrap());
    args.extend_from_slice(extra);
    modelwatch(home, &args)
}

/// Registered versions of `credit`, as `registry list --json` shows them.
pub fn versions(home: &Path) -> Vec<serde_json::Value> {
    json(&modelwatch(home, &["registry", "list", "credit", "--json"]))
        .as_array()
        .unwrap()
        .clone()
}

/// The version `credit@production` points at.
pub fn production(home: &Path) -> u64 {
    json(&modelwatch(
        home,
        &["registry", "show", "credit@production", "--json"],
    ))["version"]
        .as_u64()
        .unwrap()
}

/// The artifact of a registered version (`credit@production`, `credit@1`), verified.
pub fn artifact(home: &Path, spec: &str) -> modelwatch::train::model::ModelArtifact {
    let h = modelwatch::registry::home::Home::open(home).unwrap();
    modelwatch::train::model::ModelArtifact::load(&h, &h.resolve_model(spec).unwrap()).unwrap()
}

/// A running `modelwatch serve`, killed on drop.
pub struct Server {
    child: Child,
    pub addr: String,
    pub log: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        kill_and_reap(&mut self.child);
    }
}

/// Starts `serve` on a free port and waits until it says where it listens.
pub fn serve(home: &Path, model: &str) -> Server {
    serve_with(
        home,
        &["serve", "--model", model, "--poll-interval", "200ms"],
    )
}

/// Starts `modelwatch ARGS…` (a server job: `serve`, `registry serve`; on a free port
/// unless ARGS has `--listen`) and waits until it says where it listens.
pub fn serve_with(home: &Path, args: &[&str]) -> Server {
    let mut command = Command::new(env!("CARGO_BIN_EXE_modelwatch"));
    command.args(args).env("MODELWATCH_HOME", home);
    if !args.contains(&"--listen") {
        command.args(["--listen", "127.0.0.1:0"]);
    }
    let (child, line, log) = spawn_until(command, "listening on http://");
    let addr = line
        .split("listening on http://")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    Server { child, addr, log }
}

/// Spawns `command` and waits (at most 60 s) for a stderr line containing `marker`;
/// returns the child, that line, and the stderr so far (kept draining, so the child
/// never blocks on a full pipe).
pub fn spawn_until(
    mut command: Command,
    marker: &str,
) -> (Child, String, std::sync::Arc<std::sync::Mutex<String>>) {
    let mut child = command
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let (sink, marker) = (log.clone(), marker.to_string());
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains(&marker) {
                let _ = tx.send(line.clone());
            }
            sink.lock().unwrap().push_str(&(line + "\n"));
        }
    });
    match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(line) => (child, line, log),
        Err(_) => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("did not start: {}", log.lock().unwrap())
        }
    }
}

/// One HTTP/1.1 exchange: returns (status, lower-cased headers, body).
pub fn http(
    addr: &str,
    method: &str,
    path: &str,
    content_type: &str,
    body: &str,
) -> (u16, String, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: {content_type}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, head.to_ascii_lowercase(), body.to_string())
}

/// Polls `check` until it holds or `timeout` passes.
pub fn eventually(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

/// A home with the credit dataset and `n` artifact files trained with seeds 1..=n.
pub fn home_with_artifacts(dir: &Path, n: u64) -> (PathBuf, Vec<PathBuf>) {
    let home = dir.join("home");
    let added = modelwatch(
        &home,
        &["dataset", "add", "credit", CREDIT, "--target", "Status"],
    );
    assert!(added.status.success(), "{}", text(&added.stderr));
    let h = modelwatch::registry::home::Home::open(&home).unwrap();
    let files = (1..=n)
        .map(|seed| {
            let mut config = modelwatch::train::config::ConfigFile::default();
            config.train.seed = seed;
            let artifact = modelwatch::train::jobs::train_on(&h, "credit", &config).unwrap();
            let path = dir.join(format!("model-{seed}.json"));
            std::fs::write(&path, artifact.to_bytes()).unwrap();
            path
        })
        .collect();
    (home, files)
}

/// Registers each artifact file as a version of `credit`, in order.
pub fn register_all(home: &Path, files: &[PathBuf]) {
    for f in files {
        let out = register_credit(home, f, &[]);
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
}
