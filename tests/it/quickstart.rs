//! The quickstart from a clean home: the whole system runs, the injected features and only
//! those are reported as drifted, the labels follow (the estimate first, then the realised
//! accuracy, which the flipped labels drop below the alert's margin), it exits 0 and leaves
//! no process behind.

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
    // Model quality: the progress shows the estimate and the realised accuracy as labels
    // arrive (which refresh first sees labels depends on the machine's speed, so no order
    // is asserted); every label joins its prediction; the renters' flipped labels drop
    // the realised accuracy enough for ModelwatchPerformanceDrop, while the estimate,
    // blind to a change in P(y | x), stays near the validation figure.
    let progress = |field: &str| {
        stdout
            .lines()
            .any(|l| l.starts_with("t=") && l.contains(field))
    };
    assert!(
        progress(" est_accuracy=") && progress(" accuracy="),
        "the progress shows the estimate and the realised accuracy:\n{stdout}"
    );
    assert!(
        stdout.contains("accuracy  estimated 0.") && stdout.contains("realised 0."),
        "{stdout}"
    );
    let requests: u64 = stdout
        .lines()
        .find_map(|l| l.strip_prefix("requests "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .expect("the summary counts requests");
    let labels = stdout
        .lines()
        .find(|l| l.starts_with("labels "))
        .expect("the summary counts labels");
    assert!(
        labels.starts_with(&format!("labels {} ", requests * 10))
            && labels.ends_with(&format!("joined {}", requests * 10)),
        "every row's label is sent and joins: {labels}\n{stdout}"
    );
    assert!(
        stdout.contains("ModelwatchPerformanceDrop           condition met"),
        "{stdout}"
    );
    assert!(
        stdout.contains("ModelwatchEstimatedPerformanceDrop  no"),
        "{stdout}"
    );
    assert!(stdout.contains("/api/v1/performance"), "{stdout}");
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
