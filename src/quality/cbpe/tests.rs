//! CBPE against NannyML 0.13.1 on the fixtures of `tests/fixtures/quality/cbpe`
//! (written by its `generate.py` in the pinned environment; CI checks they are current).
//!
//! Tolerance 1e-9: the algorithm is the same step for step (isotonic fit, expected
//! confusion matrix, rounded ROC curve, observation-level sampling error); what differs is
//! only the order of floating-point sums (numpy sums pairwise, we sum in order), worth a
//! few 1e-15 on these 1,000-row chunks.

use super::isotonic::Isotonic;
use super::*;
use serde_json::Value;
use std::path::PathBuf;

const TOLERANCE: f64 = 1e-9;

pub(super) fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/quality/cbpe")
        .join(name)
}

/// (score, predicted positive, truly positive) rows of a fixture CSV.
fn rows(name: &str) -> Vec<(f64, bool, bool)> {
    let mut reader = csv::Reader::from_path(fixture(name)).unwrap();
    let header = reader.headers().unwrap().clone();
    let at = |col: &str| header.iter().position(|h| h == col).unwrap();
    let (s, p, t) = (at("y_pred_proba"), at("y_pred"), at("y_true"));
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            (r[s].parse().unwrap(), &r[p] == "1", &r[t] == "1")
        })
        .collect()
}

fn fitted(reference: &[(f64, bool, bool)]) -> Cbpe {
    let scores: Vec<f64> = reference.iter().map(|r| r.0).collect();
    let predicted: Vec<bool> = reference.iter().map(|r| r.1).collect();
    let actual: Vec<bool> = reference.iter().map(|r| r.2).collect();
    Cbpe::fit(&scores, &actual, &predicted).unwrap()
}

fn expected() -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixture("nannyml.json")).unwrap()).unwrap()
}

pub(super) fn close(what: &str, ours: f64, theirs: f64) {
    assert!(
        (ours - theirs).abs() <= TOLERANCE,
        "{what}: ours {ours}, NannyML {theirs} (difference {:e})",
        (ours - theirs).abs()
    );
}

#[test]
fn calibration_matches_scikit_learn_isotonic_regression() {
    let reference = rows("reference.csv");
    let want = expected();
    let cbpe = fitted(&reference);
    assert_eq!(
        cbpe.calibrator.is_some(),
        want["needs_calibration"].as_bool().unwrap(),
        "the calibration verdict differs from NannyML's"
    );
    let grid = want["calibration_grid"].as_array().unwrap();
    let calibrated = want["calibrated_grid"].as_array().unwrap();
    for (x, y) in grid.iter().zip(calibrated) {
        let x = x.as_f64().unwrap();
        close(
            &format!("calibrated({x})"),
            cbpe.calibrate(x),
            y.as_f64().unwrap(),
        );
    }
}

#[test]
fn every_chunk_matches_nannyml() {
    let reference = rows("reference.csv");
    let analysis = rows("analysis.csv");
    let want = expected();
    let cbpe = fitted(&reference);
    let size = want["chunk_size"].as_u64().unwrap() as usize;
    for (period, data) in [("reference", &reference), ("analysis", &analysis)] {
        let chunks = want[period].as_array().unwrap();
        assert_eq!(chunks.len(), data.len() / size, "{period} chunks");
        for (c, chunk) in chunks.iter().enumerate() {
            let rows: Vec<(f64, bool)> = data[c * size..(c + 1) * size]
                .iter()
                .map(|r| (r.0, r.1))
                .collect();
            let ours = cbpe.estimate(&rows).unwrap();
            assert_chunk_matches(&format!("{period} chunk {c}"), chunk, &ours);
        }
    }
}

/// Each metric's estimate, sampling error and band against one chunk of a fixture.
pub(super) fn assert_chunk_matches(chunk_name: &str, chunk: &Value, ours: &[Estimate; 5]) {
    for (metric, estimate) in METRICS.iter().zip(ours) {
        let theirs = &chunk[*metric];
        let at = |field: &str| theirs[field].as_f64().unwrap();
        let what = |field: &str| format!("{chunk_name} {metric} {field}");
        close(&what("estimated"), estimate.value, at("estimated"));
        close(
            &what("sampling error"),
            estimate.sampling_error,
            at("sampling_error"),
        );
        close(&what("lower"), estimate.lower, at("lower"));
        close(&what("upper"), estimate.upper, at("upper"));
    }
}

#[test]
fn the_estimate_falls_with_the_covariate_shift_and_the_realised_value_confirms() {
    // The fixture's story, told by its numbers: the last analysis chunk (inputs shifted
    // towards the decision boundary) is estimated and realised below the first.
    let want = expected();
    let chunks = want["analysis"].as_array().unwrap();
    let first = &chunks[0]["accuracy"];
    let last = &chunks[chunks.len() - 1]["accuracy"];
    assert!(last["estimated"].as_f64() < first["estimated"].as_f64());
    assert!(last["realised"].as_f64() < first["realised"].as_f64());
}

#[test]
fn isotonic_pools_violators_into_their_weighted_mean() {
    // Scores 0.1..0.4 with labels 1, 0, 0, 1: the first three pool to 1/3.
    let fit = Isotonic::fit(&[0.1, 0.2, 0.3, 0.4], &[true, false, false, true]).unwrap();
    for (x, y) in [
        (0.0, 1.0 / 3.0),
        (0.2, 1.0 / 3.0),
        (0.35, 2.0 / 3.0),
        (0.9, 1.0),
    ] {
        close(&format!("fit({x})"), fit.calibrate(x), y);
    }
    // Equal scores are one point whose target is their mean label.
    let tied = Isotonic::fit(&[0.5, 0.5, 0.5, 0.7], &[true, false, false, true]).unwrap();
    close("tied", tied.calibrate(0.5), 1.0 / 3.0);
}

#[test]
fn a_perfect_ranking_is_left_uncalibrated_an_overconfident_one_is_calibrated() {
    let scores: Vec<f64> = (0..400).map(|i| f64::from(i) / 400.0).collect();
    let perfect: Vec<bool> = scores.iter().map(|&s| s >= 0.5).collect();
    assert!(!needs_calibration(&scores, &perfect));
    // Rows whose true positive rate is 0.8 and 0.2, scored over-confidently (0.99 and
    // 0.01): calibrating clearly helps. (A reference calibrated already is a close call
    // by nature, NannyML's verdict too: left out.)
    let truth: Vec<bool> = (0..1000)
        .map(|i| if i % 2 == 0 { i % 10 != 0 } else { i % 10 == 1 })
        .collect();
    let overconfident: Vec<f64> = (0..1000)
        .map(|i| if i % 2 == 0 { 0.99 } else { 0.01 })
        .collect();
    assert!(needs_calibration(&overconfident, &truth));
}

#[test]
fn a_reference_that_cannot_support_an_estimate_is_refused_with_the_reason() {
    let scores = vec![0.3; 200];
    let one_class = vec![false; 200];
    let err = Cbpe::fit(&scores, &one_class, &one_class).unwrap_err();
    assert!(err.contains("one class"), "{err}");
    let err = Cbpe::fit(&scores[..10], &one_class[..10], &one_class[..10]).unwrap_err();
    assert!(err.contains("at least 100"), "{err}");
    let mut bad = scores.clone();
    bad[3] = 1.5;
    let mixed: Vec<bool> = (0..200).map(|i| i % 2 == 0).collect();
    let err = Cbpe::fit(&bad, &mixed, &mixed).unwrap_err();
    assert!(err.contains("1.5"), "{err}");
}
