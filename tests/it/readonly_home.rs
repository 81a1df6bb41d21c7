//! A registry home the reading processes cannot write, as the compose file and the
//! Kubernetes example deploy it: owned by root, no write bits, the model server, the
//! sidecar and the read-only commands running as `nobody` (uid 65534, via `setpriv`),
//! while a pipeline (root here) promotes and rolls back versions.

use super::ml_support::*;
use super::support::proxy_process::LOOPBACK_PORTS;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// `modelwatch ARGS` as uid/gid 65534 with no supplementary groups.
fn as_nobody(home: &Path, args: &[&str]) -> Command {
    let mut command = Command::new("setpriv");
    command
        .args(["--reuid", "65534", "--regid", "65534", "--clear-groups"])
        .arg(env!("CARGO_BIN_EXE_modelwatch"))
        .args(args)
        .env("MODELWATCH_HOME", home)
        .stdin(Stdio::null());
    command
}

fn run_as_nobody(home: &Path, args: &[&str]) -> Output {
    as_nobody(home, args).output().expect("setpriv runs")
}

/// Removes every write bit below `root`, as a read-only mount would.
fn remove_write_bits(root: &Path) {
    for entry in walk(root) {
        let mode = std::fs::metadata(&entry).unwrap().permissions().mode();
        std::fs::set_permissions(&entry, std::fs::Permissions::from_mode(mode & !0o222)).unwrap();
    }
}

fn walk(root: &Path) -> Vec<std::path::PathBuf> {
    let mut all = vec![root.to_path_buf()];
    if root.is_dir() {
        for entry in std::fs::read_dir(root).unwrap() {
            all.extend(walk(&entry.unwrap().path()));
        }
    }
    all
}

/// A process started as nobody; killed on drop.
struct Running {
    child: Child,
    log: Arc<Mutex<String>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `command` and waits for a stderr line containing `ready`; returns the line.
fn start(command: Command, ready: &str) -> (Running, String) {
    let (child, line, log) = spawn_until(command, ready);
    (Running { child, log }, line)
}

/// A temporary directory that nobody can enter, with a home in it; `None` (the test is
/// skipped) unless we are root, which running the readers as another user needs.
fn shared_dir() -> Option<tempfile::TempDir> {
    // SAFETY: geteuid has no preconditions and touches no memory.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: running the readers as another user needs root (setpriv)");
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    Some(dir)
}

fn after<'a>(line: &'a str, key: &str) -> &'a str {
    line.split(key)
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no {key} in {line:?}"))
}

#[test]
fn serve_proxy_and_read_commands_work_as_another_user_on_a_read_only_home_while_it_is_promoted() {
    let Some(dir) = shared_dir() else { return };
    let (home, files) = home_with_artifacts(dir.path(), 2);
    register_all(&home, &files);
    let promote = |spec: &str| {
        let out = modelwatch(
            &home,
            &["registry", "promote", spec, "--alias", "production"],
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
    };
    promote("credit@1");
    remove_write_bits(&home);

    // Every read-only command, as nobody.
    for args in [
        vec!["dataset", "list"],
        vec!["dataset", "show", "credit", "--json"],
        vec!["registry", "list", "--json"],
        vec!["registry", "show", "credit@production", "--json"],
        vec!["registry", "profile", "credit@production"],
        vec!["drift", "--reference", "credit", "--current", CREDIT],
    ] {
        let out = run_as_nobody(&home, &args);
        assert!(
            out.status.success(),
            "{args:?} as nobody: {}",
            text(&out.stderr)
        );
    }

    // The model server and the sidecar, as nobody, on the read-only home.
    let (server, line) = start(
        as_nobody(
            &home,
            &[
                "serve",
                "--model",
                "credit@production",
                "--listen",
                "127.0.0.1:0",
                "--poll-interval",
                "200ms",
            ],
        ),
        "listening on http://",
    );
    let server_addr = after(&line, "listening on http://").to_string();
    let (proxy, line) = start(
        {
            let mut command = as_nobody(
                &home,
                &[
                    "proxy",
                    "--listen",
                    "127.0.0.1:0",
                    "--admin-listen",
                    "127.0.0.1:0",
                    "--reference",
                    "credit@production",
                ],
            );
            command
                .args(["--upstream", &format!("http://{server_addr}")])
                .env("MODELWATCH_LOG", "info");
            command
        },
        "modelwatch proxy started",
    );
    let listen = after(&line, "listen=").to_string();
    let version_through_proxy = || {
        let (status, head, body) =
            http(&listen, "GET", "/v2/models/credit", "application/json", "");
        assert_eq!(status, 200, "{body}");
        head.lines()
            .find_map(|h| h.strip_prefix("x-model-version: "))
            .map(str::to_string)
    };
    assert_eq!(version_through_proxy().as_deref(), Some("1"));

    // A reader keeps asking while the writer promotes and rolls back: no read fails.
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let (home, stop) = (home.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut seen = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let out =
                    run_as_nobody(&home, &["registry", "show", "credit@production", "--json"]);
                assert!(
                    out.status.success(),
                    "a read failed mid-promotion: {}",
                    text(&out.stderr)
                );
                seen.push(json(&out)["version"].as_u64().unwrap());
            }
            seen
        })
    };
    let serves = |version: &str, after: &str| {
        assert!(
            eventually(Duration::from_secs(20), || {
                version_through_proxy().as_deref() == Some(version)
            }),
            "serve (as nobody) did not follow the {after}: {}",
            server.log.lock().unwrap()
        );
    };
    promote("credit@2");
    serves("2", "promotion");
    let rolled = modelwatch(
        &home,
        &["registry", "rollback", "credit", "--alias", "production"],
    );
    assert!(rolled.status.success(), "{}", text(&rolled.stderr));
    serves("1", "rollback");
    stop.store(true, Ordering::Relaxed);
    let seen = reader
        .join()
        .expect("no read failed while the writer wrote");
    assert!(!seen.is_empty());
    let shown = json(&run_as_nobody(
        &home,
        &["registry", "show", "credit@production", "--json"],
    ));
    assert_eq!(shown["version"], 1, "the reader sees the rollback");
    let log = proxy.log.lock().unwrap().clone();
    assert!(!log.contains("ERROR"), "{log}");
}

/// A home that a writer never prepared for readers (no WAL files; here: written by an
/// older modelwatch, simulated by deleting them) is a usage error that says what to run.
#[test]
fn a_read_only_home_without_wal_files_says_what_to_run() {
    let Some(dir) = shared_dir() else { return };
    let home = dir.path().join("home");
    let added = modelwatch(&home, &["dataset", "add", "credit", CREDIT]);
    assert!(added.status.success(), "{}", text(&added.stderr));
    for suffix in ["-wal", "-shm"] {
        std::fs::remove_file(home.join(format!("registry.sqlite{suffix}"))).unwrap();
    }
    remove_write_bits(&home);
    let out = run_as_nobody(&home, &["dataset", "list"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains("registry.sqlite-wal"), "{err}");
    assert!(err.contains("modelwatch registry list --home"), "{err}");
    // Run as the owner once, as the message says: readers work again.
    let fixed = modelwatch(&home, &["registry", "list"]);
    assert!(fixed.status.success(), "{}", text(&fixed.stderr));
    let out = run_as_nobody(&home, &["dataset", "list"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

/// The sidecar's state directory must be writable: one it cannot write (root's, the sidecar
/// running as nobody) is a usage error at startup naming the path and the fix.
#[test]
fn an_unwritable_state_dir_stops_the_sidecar_before_it_listens() {
    let Some(dir) = shared_dir() else { return };
    let state = dir.path().join("state");
    std::fs::create_dir(&state).unwrap();
    let out = as_nobody(
        &dir.path().join("home"),
        &[
            &["proxy", "--upstream", "http://127.0.0.1:9"][..],
            &LOOPBACK_PORTS,
        ]
        .concat(),
    )
    .env("MODELWATCH_STATE_DIR", &state)
    .env("MODELWATCH_LOG", "info")
    .env(
        "MODELWATCH__EXPORT__ELASTICSEARCH__URL",
        "http://127.0.0.1:9",
    )
    .output()
    .unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!(
            "the export spool directory {}/spool/elasticsearch is not writable",
            state.display()
        )),
        "{err}"
    );
    assert!(err.contains("--state-dir"), "{err}");
    assert!(!err.contains("proxy started"), "{err}");
}

/// A blob that is there but that the reader may not open is reported as unreadable, with
/// the cause (Permission denied), not as missing from the store.
#[test]
fn an_unreadable_blob_is_reported_with_its_real_cause() {
    let Some(dir) = shared_dir() else { return };
    let home = dir.path().join("home");
    let added = json(&modelwatch(
        &home,
        &["dataset", "add", "credit", CREDIT, "--json"],
    ));
    let sha = added["sha256"].as_str().unwrap();
    let blob = home.join("blobs/sha256").join(&sha[..2]).join(&sha[2..]);
    std::fs::set_permissions(&blob, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = run_as_nobody(&home, &["dataset", "profile", "credit"]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("cannot be read by this process"), "{err}");
    assert!(err.contains("Permission denied"), "{err}");
    assert!(!err.contains("missing from the store"), "{err}");
}
