//! Performance estimated before labels (CBPE), end to end on the credit model: a real
//! `modelwatch serve` answering credit@1 (registered by a pipeline run, whose profile
//! keeps the holdout's scores and labels), a real `modelwatch proxy` with
//! `quality.enabled` in front of it.
//!
//! A covariate shift: first applicants like the data the model was trained on, then only
//! applicants the model is unsure about (its score near the threshold; P(y | x) is the
//! data's own, unchanged). Before any label is sent, the estimate drops, its band below
//! the first one's; then the true labels arrive and the realised accuracy confirms it,
//! within the estimate's band.

use super::follow_alias::register;
use super::ml_pipeline::credit_rows;
use super::ml_support::*;
use super::model_quality::predict;
use super::support::metrics_text::{parse, value};
use super::support::proxy_process::ProxyProcess;
use serde_json::Value;
use std::path::Path;
use std::time::Duration;

pub(crate) const PATIENCE: Duration = Duration::from_secs(60);
/// Predictions in each phase, and the estimate's window.
pub(crate) const PHASE: usize = 200;

pub(crate) fn sidecar(home: &Path, state: &Path, upstream: &str) -> ProxyProcess {
    ProxyProcess::start_with_args(
        &[
            "--upstream",
            &format!("http://{upstream}"),
            "--reference",
            "credit@production",
            "--state-dir",
            state.to_str().unwrap(),
        ],
        &[
            ("MODELWATCH_HOME", home.to_str().unwrap()),
            ("MODELWATCH__QUALITY__ENABLED", "true"),
            ("MODELWATCH__QUALITY__WINDOW_ROWS", &PHASE.to_string()),
            ("MODELWATCH__ANALYSIS__EVALUATION_INTERVAL", "300ms"),
        ],
    )
}

pub(crate) fn performance(sidecar: &ProxyProcess) -> Value {
    let (status, _, body) = http(
        &sidecar.admin.to_string(),
        "GET",
        "/api/v1/performance",
        "",
        "",
    );
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

pub(crate) fn credit1(report: &Value) -> Value {
    report["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["model"] == "credit" && m["model_version"] == "1")
        .cloned()
        .unwrap_or(Value::Null)
}

/// The report of an evaluation that started after every prediction so far was stored:
/// two evaluations later than the moment the store held `stored` predictions.
fn settled(sidecar: &ProxyProcess, stored: usize) -> Value {
    assert!(
        eventually(PATIENCE, || {
            let (_, _, body) = http(&sidecar.admin.to_string(), "GET", "/metrics", "", "");
            body.contains(&format!(
                "modelwatch_prediction_store_writes_total{{outcome=\"stored\"}} {stored}"
            ))
        }),
        "the sidecar stores every prediction:\n{}",
        sidecar.log()
    );
    let mut seen = performance(sidecar)["evaluated_at"].clone();
    for _ in 0..2 {
        assert!(eventually(PATIENCE, || {
            let now = performance(sidecar)["evaluated_at"].clone();
            (now != seen).then(|| seen = now).is_some()
        }));
    }
    performance(sidecar)
}

pub(crate) fn estimate(version: &Value, metric: &str) -> (f64, f64, f64) {
    let e = &version["estimated"]["metrics"][metric];
    assert!(e.is_object(), "no estimated {metric} in {version:#}");
    let f = |k: &str| e[k].as_f64().unwrap();
    (f("lower"), f("value"), f("upper"))
}

/// The covariate shift: credit rows (features as the model takes them), the data's true
/// outcomes, and `PHASE` rows after the first `PHASE` whose score is near the model's
/// threshold (applicants it is unsure about; P(y | x) is the data's own).
pub(crate) struct Shift {
    pub cells: Vec<Vec<Value>>,
    pub truth: Vec<String>,
    pub unsure: Vec<usize>,
}

impl Shift {
    pub fn of(model: &modelwatch::train::model::ModelArtifact) -> Shift {
        let (cells, raw) = credit_rows(usize::MAX, model);
        let (scores, _) = model.score(&raw).unwrap();
        let truth: Vec<String> = csv::Reader::from_path(CREDIT)
            .unwrap()
            .records()
            .map(|r| r.unwrap()[0].to_string())
            .collect();
        let unsure: Vec<usize> = (PHASE..cells.len())
            .filter(|&i| (scores[i] - model.threshold).abs() < 0.1)
            .take(PHASE)
            .collect();
        assert_eq!(
            unsure.len(),
            PHASE,
            "the credit data has enough unsure applicants"
        );
        Shift {
            cells,
            truth,
            unsure,
        }
    }

    /// Sends the true labels of the unsure rows predicted under `ids` with
    /// `modelwatch feedback send` (through `file`), waits until they joined, and returns
    /// credit@1's report with them: (realised accuracy, estimated band, the report).
    pub fn label(
        &self,
        sidecar: &ProxyProcess,
        ids: &[String],
        file: &Path,
    ) -> (f64, (f64, f64), Value) {
        let mut labels = String::from("request_id,label\n");
        for (id, &i) in ids.iter().zip(&self.unsure) {
            labels.push_str(&format!("{id},{}\n", self.truth[i]));
        }
        std::fs::write(file, labels).unwrap();
        let out = super::model_quality::send(file, sidecar, None);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let mut realised = Value::Null;
        assert!(
            eventually(PATIENCE, || {
                realised = credit1(&performance(sidecar));
                realised["rows"] == PHASE
            }),
            "the labels join: {realised:#}"
        );
        let accuracy = realised["metrics"]["accuracy"].as_f64().unwrap();
        let (lower, _, upper) = estimate(&realised, "accuracy");
        (accuracy, (lower, upper), realised)
    }
}

#[test]
fn the_estimate_drops_with_a_covariate_shift_before_labels_and_labels_confirm_it() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let state = dir.path().join("state");
    register(dir.path(), &home, 1, "production");
    let server = serve(&home, "credit@production");
    let proxy = sidecar(&home, &state, &server.addr);

    let model = artifact(&home, "credit@1");
    let shift = Shift::of(&model);
    let cells = &shift.cells;
    // Phase 1: the first applicants of the data set, as they come.
    for row in &cells[..PHASE] {
        predict(&proxy, row);
    }
    let before = settled(&proxy, PHASE);
    let first = credit1(&before);
    assert_eq!(first["estimated"]["rows"], PHASE, "{before:#}");
    assert!(
        first["metrics"].as_object().is_none_or(|m| m.is_empty()),
        "no label was sent, so nothing is realised: {first:#}"
    );
    let (first_lower, first_value, _) = estimate(&first, "accuracy");

    // Phase 2: the covariate shift, applicants whose score is near the threshold.
    let ids: Vec<String> = shift
        .unsure
        .iter()
        .map(|&i| predict(&proxy, &cells[i]).0)
        .collect();
    let shifted = settled(&proxy, 2 * PHASE);
    let second = credit1(&shifted);
    let (_, second_value, second_upper) = estimate(&second, "accuracy");
    assert!(
        second_upper < first_lower,
        "before any label, the estimated accuracy drops out of its earlier band: \
         {first_value} then {second_value} (band up to {second_upper}, earlier from \
         {first_lower})\n{shifted:#}"
    );
    for metric in ["precision", "recall", "f1", "roc_auc"] {
        let (lower, value, upper) = estimate(&second, metric);
        assert!(lower <= value && value <= upper && (0.0..=1.0).contains(&value));
    }
    assert!(second["metrics"].as_object().is_none_or(|m| m.is_empty()));
    let (_, _, gauges) = http(&proxy.admin.to_string(), "GET", "/metrics", "", "");
    let labels = [
        ("model", "credit"),
        ("model_version", "1"),
        ("metric", "accuracy"),
    ];
    let gauge = |name: &str| value(&parse(&gauges), name, &labels);
    assert_eq!(
        gauge("modelwatch_performance_estimated"),
        Some(second_value),
        "{gauges}"
    );
    assert_eq!(
        gauge("modelwatch_performance_estimated_upper"),
        Some(second_upper),
        "{gauges}"
    );

    // The labels of the shifted predictions arrive: the realised accuracy confirms the
    // drop, inside the estimate's band.
    let (accuracy, (lower, upper), realised) =
        shift.label(&proxy, &ids, &dir.path().join("labels.csv"));
    assert!(
        accuracy < first_lower && (lower..=upper).contains(&accuracy),
        "realised accuracy {accuracy} confirms the estimate ({lower}..{upper}) and the drop \
         (below {first_lower})\n{realised:#}"
    );
}
