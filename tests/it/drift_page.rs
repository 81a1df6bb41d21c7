//! The drift page and the HTML report in a real browser: Debian's `chromium` driven by
//! `playwright-core`, with `axe-core` for accessibility (`tests/browser/drift_page.cjs`;
//! `tests/browser/install.sh` installs them pinned, and `tests/run.sh` says where).
//!
//! Clean then drifted credit traffic through a real sidecar: the page lists no drifted
//! feature, then, without a reload, exactly the drifted ones first; every histogram has
//! the reference's bars; the console stays free of errors; axe-core finds no serious
//! violation; without JavaScript the page says the same. `modelwatch drift --html` writes
//! a report that opens from `file://` without a single request.
//!
//! With `MODELWATCH_SCREENSHOTS=DIR` the same run writes the README's screenshots
//! (`docs/screenshots.sh`).

use crate::live_drift::{
    TempDir, Wire, credit_profile, credit_rows, credit_sidecar, drifted, drifted_features,
    model_server, sample, send_rows,
};
use crate::support::proxy_process::run_to_end;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Bars each feature's histogram must have: the reference profile's bins, or its
/// categories plus `__other__` when it folded some (at most the page's 30).
fn expected_bars(profile: &Path) -> serde_json::Map<String, Value> {
    let profile: Value = serde_json::from_slice(&std::fs::read(profile).unwrap()).unwrap();
    profile["columns"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["name"] != "Status")
        .map(|c| {
            let bars = if c["type"] == "numeric" {
                (c["numeric"]["edges"].as_array().unwrap().len() - 1).max(1)
            } else {
                let cat = &c["categorical"];
                cat["categories"].as_array().unwrap().len()
                    + usize::from(cat["other_count"].as_u64().unwrap() > 0)
            };
            (c["name"].as_str().unwrap().to_string(), json!(bars.min(30)))
        })
        .collect()
}

/// The rows as a CSV file with the features' header.
fn write_csv(path: &Path, features: &[String], rows: &[Vec<Value>]) {
    let mut writer = csv::Writer::from_path(path).unwrap();
    writer.write_record(features).unwrap();
    for row in rows {
        writer
            .write_record(row.iter().map(|v| match v {
                Value::Null => String::new(),
                Value::String(s) => s.clone(),
                other => other.to_string(),
            }))
            .unwrap();
    }
    writer.flush().unwrap();
}

struct Browser {
    child: std::process::Child,
    lines: std::io::Lines<BufReader<std::process::ChildStdout>>,
}

impl Browser {
    /// Waits for the script's next line, which must be `word`.
    fn expect(&mut self, word: &str) {
        match self.lines.next() {
            Some(Ok(line)) if line == word => {}
            other => {
                let status = self.child.wait().unwrap();
                panic!(
                    "the browser test said {other:?} instead of {word:?} ({status}); its stderr is above"
                );
            }
        }
    }

    fn tell(&mut self, word: &str) {
        let stdin = self.child.stdin.as_mut().unwrap();
        writeln!(stdin, "{word}").unwrap();
        stdin.flush().unwrap();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_drift_page_shows_drift_in_a_browser() {
    let modules = std::env::var("MODELWATCH_BROWSER_MODULES").expect(
        "MODELWATCH_BROWSER_MODULES: run through tests/run.sh, which installs playwright-core \
         and axe-core (tests/browser/install.sh prints the directory)",
    );
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let dir = TempDir::new("page");
    let profile = credit_profile(&dir.0);
    let upstream = model_server(Wire::Oip).await;
    // An evaluation every second: the page refreshes every 2 s at most.
    let proxy = credit_sidecar(&upstream, &profile, "1s");
    let (features, rows) = credit_rows();
    let expected_drift = ["Home", "Income"];
    let report_file = dir.0.join("report.html");

    send_rows(&proxy, Wire::Oip, &features, &sample(&rows, 1000, 0)).await;
    let (flagged, model) = drifted_features(&proxy, 1000).await;
    assert!(
        flagged.is_empty(),
        "clean rows flagged {flagged:?}: {model}"
    );

    let mut child = Command::new("node")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/browser/drift_page.cjs"
        ))
        .env("MODULES", &modules)
        .env("CHROMIUM", &chromium)
        .env("PAGE_URL", proxy.admin_url("/"))
        .env("REPORT_FILE", &report_file)
        .env(
            "EXPECTED",
            json!({"drifted": expected_drift, "bars": expected_bars(&profile)}).to_string(),
        )
        .env(
            "SCREENSHOTS",
            std::env::var("MODELWATCH_SCREENSHOTS").unwrap_or_default(),
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("node runs (tests/run.sh needs Node.js)");
    let lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut browser = Browser { child, lines };
    browser.expect("clean-checked");

    let drifted_rows = drifted(sample(&rows, 1000, 17), &features);
    send_rows(&proxy, Wire::Oip, &features, &drifted_rows).await;
    let expected: BTreeSet<String> = expected_drift.into_iter().map(String::from).collect();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (flagged, model) = drifted_features(&proxy, 1000).await;
        if flagged == expected {
            break;
        }
        assert!(Instant::now() < deadline, "flagged {flagged:?}: {model}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    browser.tell("drifted");
    browser.expect("drifted-checked");

    // The same rows as a file, compared in batch: the report flags the same features.
    let current = dir.0.join("drifted.csv");
    write_csv(&current, &features, &drifted_rows);
    let (code, out) = run_to_end(
        &[
            "drift",
            "--reference",
            profile.to_str().unwrap(),
            "--current",
            current.to_str().unwrap(),
            "--html",
            report_file.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(code, 0, "{out}");
    browser.tell("report");
    browser.expect("report-checked");
    assert!(browser.child.wait().unwrap().success());
}
