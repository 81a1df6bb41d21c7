//! The covariate-shift scenario on the credit model, ending at a real Alertmanager (the
//! concept-shift one is `concept_shift.rs`): applicants the model is unsure about arrive
//! (their inputs shift; P(y | x) is the data's own). Before any label exists, the CBPE
//! estimate drops and `ModelwatchEstimatedPerformanceDrop` goes from real Prometheus
//! through real Alertmanager to a webhook; then the labels of those very predictions arrive
//! (`modelwatch feedback send`), the realised accuracy confirms the drop inside the
//! estimate's band, and `ModelwatchPerformanceDrop` reaches the webhook too.
//!
//! A real `modelwatch serve` with credit@1 and a real sidecar with the prediction store,
//! as `estimated_performance.rs` runs them. Only the test's copy of the rules is changed:
//! every `for:` becomes 2s.

use super::estimated_performance::{Shift, credit1, estimate, performance, sidecar};
use super::follow_alias::register;
use super::ml_support::*;
use super::model_quality::{outcomes, predict};
use super::prometheus_live::Alerting;

fn fired(alerts: &[serde_json::Value]) -> bool {
    alerts
        .iter()
        .any(|a| a["model"] == "credit" && a["model_version"] == "1" && a["metric"] == "accuracy")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_covariate_shift_alerts_on_the_estimate_before_labels_and_labels_confirm_it() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    register(dir.path(), &home, 1, "production");
    let server = serve(&home, "credit@production");
    let proxy = sidecar(&home, &dir.path().join("state"), &server.addr);
    let alerting = Alerting::start(dir.path(), &proxy.admin.to_string(), "").await;

    let model = artifact(&home, "credit@1");
    let shift = Shift::of(&model);
    let ids: Vec<String> = shift
        .unsure
        .iter()
        .map(|&i| predict(&proxy, &shift.cells[i]).0)
        .collect();

    // Before any label: the estimate alone takes the alert to Alertmanager.
    let notified = alerting
        .notified("ModelwatchEstimatedPerformanceDrop")
        .await;
    assert!(fired(&notified), "{notified:?}");
    assert!(
        outcomes(&proxy).is_empty(),
        "no label was sent: {:?}",
        outcomes(&proxy)
    );
    let before = credit1(&performance(&proxy));
    assert!(
        before["metrics"].as_object().is_none_or(|m| m.is_empty()),
        "nothing is realised yet: {before:#}"
    );
    let (_, estimated, upper) = estimate(&before, "accuracy");
    let reference = before["reference"]["accuracy"].as_f64().unwrap();
    assert!(
        upper < reference - 0.05,
        "estimated {estimated} (band up to {upper}) vs validation {reference}"
    );

    // The labels of those predictions arrive: the realised accuracy confirms the drop.
    let (realised, (lower, upper), after) =
        shift.label(&proxy, &ids, &dir.path().join("labels.csv"));
    assert!(
        realised < 0.9 * reference && (lower..=upper).contains(&realised),
        "realised {realised} confirms the estimate ({lower}..{upper}) and the drop below \
         0.9 × {reference}\n{after:#}"
    );
    let notified = alerting.notified("ModelwatchPerformanceDrop").await;
    assert!(fired(&notified), "{notified:?}");
}
