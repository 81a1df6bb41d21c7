//! The quickstart from a clean home: the whole system runs, the injected features and only
//! those are reported as drifted, it exits 0 and leaves no process behind.

use std::process::{Command, Stdio};

#[test]
fn the_quickstart_catches_exactly_the_injected_drift_and_cleans_up() {
    let home = std::env::temp_dir().join(format!("mw-quickstart-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&home);
    let pipeline = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/credit/pipeline.toml");
    let out = Command::new(env!("CARGO_BIN_EXE_modelwatch"))
        .args([
            "quickstart",
            "--home",
            home.to_str().unwrap(),
            "--duration",
            "16s",
        ])
        .args(["--pipeline", pipeline])
        .args([
            "--listen",
            "127.0.0.1:0",
            "--admin-listen",
            "127.0.0.1:0",
            "--model-listen",
            "127.0.0.1:0",
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    // Not a terminal: quiet progress lines, then the final table.
    assert!(stdout.contains("requests="), "{stdout}");
    assert!(
        stdout.contains("drifted features: Home, Income\n"),
        "expected exactly the injected features:\n{stdout}"
    );
    assert!(stdout.contains("errors 0"), "{stdout}");
    assert!(stdout.contains("/api/v1/drift"), "{stdout}");
    // The model server and the sidecar it started are gone.
    let line = stderr
        .lines()
        .find(|l| l.contains("model server pid"))
        .expect("the quickstart names its children");
    let words: Vec<&str> = line.split_whitespace().collect();
    let pids: Vec<u32> = words
        .windows(2)
        .filter(|w| w[0] == "pid")
        .filter_map(|w| w[1].parse().ok())
        .collect();
    assert_eq!(pids.len(), 2, "{stderr}");
    for pid in pids {
        let alive = std::fs::read_to_string(format!("/proc/{pid}/cmdline"))
            .is_ok_and(|c| c.contains("modelwatch"));
        assert!(!alive, "process {pid} was left behind");
    }
    let _ = std::fs::remove_dir_all(&home);
}
