//! Live multivariate drift through the running proxy: the reference is the correlation-flip
//! fixture's CSV (its profile keeps a row sample), traffic is a real HTTP model server's.
//! Rows from the reference's distribution flag nothing; rows whose `a`–`b` correlation
//! flipped sign, every marginal unchanged, pass every per-column test and fail both
//! multivariate methods, in `/api/v1/drift` and in the `modelwatch_multivariate_drift_*`
//! gauges.

use crate::live_drift::{TempDir, Wire, drift_report, model_server, send_rows};
use crate::support::client::{self, get};
use crate::support::metrics_text::{parse, value};
use crate::support::proxy_process::ProxyProcess;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/drift/multivariate")
        .join(name)
}

/// The fixture's rows, numbers as JSON numbers and `colour` as text.
fn rows(name: &str) -> (Vec<String>, Vec<Vec<Value>>) {
    let mut reader = csv::Reader::from_path(fixture(name)).unwrap();
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    let rows = reader
        .records()
        .map(|r| {
            r.unwrap()
                .iter()
                .map(|v| match v.parse::<f64>() {
                    Ok(x) => json!(x),
                    Err(_) => json!(v),
                })
                .collect()
        })
        .collect();
    (header, rows)
}

fn metrics(text: &str) -> Vec<crate::support::metrics_text::Sample> {
    parse(text)
}

/// Waits until the workers have recorded `total` rows of `model`, then returns the first
/// report of it whose multivariate results are of rows taken in a later second (so of
/// all of them), with `rows` in its window.
pub(crate) async fn report_after(
    proxy: &ProxyProcess,
    model: &str,
    rows: u64,
    total: u64,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    let labels = [("model", model), ("model_version", "unknown")];
    loop {
        let text = get(&client::http1(), &proxy.admin_url("/metrics"))
            .await
            .text();
        if value(&metrics(&text), "modelwatch_rows_total", &labels) == Some(total as f64) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "never recorded {total} rows: {text}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // A second of margin: the rows' time is compared at second precision.
    let since =
        humantime::format_rfc3339_seconds(std::time::SystemTime::now() + Duration::from_secs(1))
            .to_string();
    loop {
        let report = drift_report(proxy).await;
        let found = report["models"]
            .as_array()
            .and_then(|models| models.iter().find(|m| m["model"] == model));
        if let Some(found) = found
            && found["window"]["rows"].as_u64() == Some(rows)
            && found["multivariate_evaluated_at"].as_str().unwrap_or("") > since.as_str()
            && found["multivariate"]
                .as_array()
                .is_some_and(|m| m.len() == 2)
        {
            return found.clone();
        }
        assert!(
            Instant::now() < deadline,
            "no report with {rows} rows and multivariate results after {since}: {report}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn method<'a>(model: &'a Value, name: &str) -> &'a Value {
    model["multivariate"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["method"] == name)
        .unwrap_or_else(|| panic!("no {name} in {model}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_live_correlation_flip_passes_every_column_test_and_fails_both_multivariate_methods() {
    let _dir = TempDir::new("live-multivariate");
    let upstream = model_server(Wire::Generic).await;
    let reference = fixture("reference.csv");
    // Each evaluation stands alone (persistence 1/1), so no per-column alarm can hide
    // behind persistence; the window is the 500 rows of each current file.
    let proxy = ProxyProcess::start_with_args(
        &[
            "--upstream",
            &upstream.url(),
            "--reference",
            reference.to_str().unwrap(),
        ],
        &[
            ("MODELWATCH__ANALYSIS__EVALUATION_INTERVAL", "1s"),
            ("MODELWATCH__ANALYSIS__WINDOW_ROWS", "500"),
            ("MODELWATCH__ANALYSIS__PERSISTENCE", "1/1"),
            ("MODELWATCH__MODEL__NAME", "mv"),
        ],
    );

    // Rows from the reference's distribution: nothing drifts.
    let (features, same) = rows("same.csv");
    send_rows(&proxy, Wire::Generic, &features, &same).await;
    let model = report_after(&proxy, "mv", 500, 500).await;
    assert_eq!(model["window"]["multivariate_rows"], 500, "{model}");
    for name in ["domain_classifier", "reconstruction_error"] {
        assert_eq!(method(&model, name)["drifted"], false, "{model}");
    }

    // The flip: every column passes, both methods flag it.
    let (_, flipped) = rows("flipped.csv");
    send_rows(&proxy, Wire::Generic, &features, &flipped).await;
    let model = report_after(&proxy, "mv", 500, 1000).await;
    let columns = model["features"].as_array().unwrap();
    assert_eq!(columns.len(), 4, "{model}");
    for column in columns {
        assert_eq!(
            column["drifted"], false,
            "a per-column test flagged {column}"
        );
    }
    let classifier = method(&model, "domain_classifier");
    assert_eq!(classifier["drifted"], true, "{model}");
    assert!(
        classifier["score"].as_f64().unwrap() > classifier["threshold"].as_f64().unwrap(),
        "{classifier}"
    );
    let reconstruction = method(&model, "reconstruction_error");
    assert_eq!(reconstruction["drifted"], true, "{reconstruction}");

    let samples = metrics(
        &get(&client::http1(), &proxy.admin_url("/metrics"))
            .await
            .text(),
    );
    for name in ["domain_classifier", "reconstruction_error"] {
        let labels = [
            ("model", "mv"),
            ("model_version", "unknown"),
            ("method", name),
        ];
        assert_eq!(
            value(&samples, "modelwatch_multivariate_drift_detected", &labels),
            Some(1.0),
            "{name}"
        );
        assert!(
            value(&samples, "modelwatch_multivariate_drift_score", &labels).is_some(),
            "{name}"
        );
    }
}
