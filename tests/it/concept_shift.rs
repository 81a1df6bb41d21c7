//! The concept-shift scenario on the credit model, ending at a real Alertmanager: the
//! inputs stay those the model was trained on (no feature drifts), but for one segment
//! (applicants who rent) the outcome flips. Only the labels can show it: realised accuracy
//! falls more than 10% below the holdout accuracy the registry recorded, and
//! `ModelwatchPerformanceDrop` fires in real Prometheus and reaches a webhook through real
//! Alertmanager.
//!
//! A real `modelwatch serve` with credit@1, a real sidecar with the prediction store and an
//! admin token (Prometheus scrapes with it), labels through `modelwatch feedback send`.
//! Only the test's copy of the rules is changed: every `for:` becomes 2s.

use super::ml_support::*;
use super::model_quality::{PATIENCE, Setup, metric, predict, send};
use super::prometheus_live::{Alerting, wait_for};
use std::collections::BTreeMap;

/// Predictions sent, and labelled: above the alert's minimum of 200 labels.
const ROWS: usize = 400;

#[tokio::test(flavor = "multi_thread")]
async fn a_concept_shift_drops_realised_accuracy_and_the_alert_reaches_alertmanager() {
    let setup = Setup::start_with(&[("MODELWATCH__ANALYSIS__EVALUATION_INTERVAL", "500ms")]);
    let proxy = &setup.proxy;
    let artifact = artifact(&setup.home, "credit@1");
    let (rows, _) = super::ml_pipeline::credit_rows(ROWS, &artifact);
    // The true outcome and the segment of each row, from the same file.
    let mut reader = csv::Reader::from_path(CREDIT).unwrap();
    let headers = reader.headers().unwrap().clone();
    let column = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let (status, home) = (column(&artifact.target), column("Home"));
    let truth: Vec<(String, bool)> = reader
        .records()
        .take(ROWS)
        .map(|r| {
            let r = r.unwrap();
            (r[status].to_string(), &r[home] == "rent")
        })
        .collect();

    let alerting = Alerting::start(
        setup.dir.path(),
        &proxy.admin.to_string(),
        &format!(
            "    authorization:\n      credentials_file: {}\n",
            setup.token_file.display()
        ),
    )
    .await;

    let made: Vec<(String, String, String)> = rows.iter().map(|r| predict(proxy, r)).collect();
    // Predictions are stored off the request path: labels sent before would not join.
    assert!(
        eventually(PATIENCE, || metric(
            proxy,
            "modelwatch_prediction_store_writes_total",
            &[("outcome", "stored")]
        ) == ROWS as f64),
        "the sidecar stores every prediction:\n{}",
        proxy.log()
    );
    // The labels: the truth, except that for renters the outcome is now the other one.
    let classes = &artifact.classes;
    let mut csv = String::from("request_id,label\n");
    let mut right = BTreeMap::<bool, (f64, f64)>::new();
    for ((id, _, predicted), (outcome, renter)) in made.iter().zip(&truth) {
        let label = if *renter {
            if *outcome == classes.positive {
                &classes.negative
            } else {
                &classes.positive
            }
        } else {
            outcome
        };
        csv.push_str(&format!("{id},{label}\n"));
        let r = right.entry(*renter).or_default();
        r.0 += f64::from(label == predicted);
        r.1 += 1.0;
    }
    let file = setup.dir.path().join("labels.csv");
    std::fs::write(&file, csv).unwrap();
    let sent = send(&file, proxy, Some(&setup.token_file));
    assert!(sent.status.success(), "{}", text(&sent.stderr));

    // Realised accuracy is what the flipped labels make it, well below the holdout figure.
    let correct: f64 = right.values().map(|r| r.0).sum();
    let expected = correct / ROWS as f64;
    let gauge = |name: &str| {
        metric(
            proxy,
            name,
            &[
                ("model", "credit"),
                ("model_version", "1"),
                ("metric", "accuracy"),
            ],
        )
    };
    assert!(
        eventually(PATIENCE, || gauge("modelwatch_performance") == expected),
        "realised accuracy {} (expected {expected}; per segment {right:?})",
        gauge("modelwatch_performance")
    );
    let reference = gauge("modelwatch_performance_reference");
    assert!(
        expected < 0.9 * reference,
        "the flipped segment must cost more than 10%: {expected} vs {reference} ({right:?})"
    );

    // The inputs did not drift: every feature's test passes.
    let drift = wait_for(
        &format!(
            "{}/api/v1/query?query=modelwatch_drift_detected",
            alerting.prometheus
        ),
        "drift verdicts scraped",
        |v| {
            v["data"]["result"]
                .as_array()
                .is_some_and(|r| !r.is_empty())
        },
    )
    .await;
    let drifted: Vec<&serde_json::Value> = drift["data"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| {
            s["value"][1] == "1"
                && !s["metric"]["feature"]
                    .as_str()
                    .unwrap_or("")
                    .starts_with("prediction:")
        })
        .collect();
    assert!(drifted.is_empty(), "no input should drift: {drifted:?}");

    let alerts = alerting.notified("ModelwatchPerformanceDrop").await;
    assert!(
        alerts.iter().any(|a| a["model"] == "credit"
            && a["model_version"] == "1"
            && a["metric"] == "accuracy"),
        "{alerts:?}"
    );
}
