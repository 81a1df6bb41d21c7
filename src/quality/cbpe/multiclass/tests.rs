//! Multiclass CBPE against NannyML 0.13.1 on `tests/fixtures/quality/cbpe/multiclass_*`
//! (written by `generate.py` there, in the pinned environment; CI checks they are current).
//!
//! Tolerance 1e-9, as the binary parity and for the same reason: the steps are NannyML's
//! (per-class isotonic fits, normalisation, expected confusion matrices, rounded ROC
//! curves, per-class variances); only the order of floating-point sums differs (numpy
//! sums pairwise), a few 1e-16 per sum over 1,000 rows, far below 1e-9. The variances
//! here come from a std squared, another rounding of 1e-16 relative. Measured: the
//! largest difference over every chunk, metric and field is 2.6e-15.

use super::*;
use crate::quality::cbpe::tests::{assert_chunk_matches, close, fixture};
use serde_json::Value;

fn expected() -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixture("multiclass_nannyml.json")).unwrap())
        .unwrap()
}

/// A fixture CSV as (score columns in `classes` order, true, predicted class indices).
struct Rows {
    scores: Vec<Vec<f64>>,
    actual: Vec<usize>,
    predicted: Vec<usize>,
}

fn rows(name: &str, classes: &[String]) -> Rows {
    let mut reader = csv::Reader::from_path(fixture(name)).unwrap();
    let header = reader.headers().unwrap().clone();
    let at = |col: &str| header.iter().position(|h| h == col).unwrap();
    let columns: Vec<usize> = classes
        .iter()
        .map(|c| at(&format!("y_pred_proba_{c}")))
        .collect();
    let (p, t) = (at("y_pred"), at("y_true"));
    let class = |name: &str| classes.iter().position(|c| c == name).unwrap();
    let mut out = Rows {
        scores: vec![Vec::new(); classes.len()],
        actual: Vec::new(),
        predicted: Vec::new(),
    };
    for r in reader.records() {
        let r = r.unwrap();
        for (k, &col) in columns.iter().enumerate() {
            out.scores[k].push(r[col].parse().unwrap());
        }
        out.predicted.push(class(&r[p]));
        out.actual.push(class(&r[t]));
    }
    out
}

fn classes(want: &Value) -> Vec<String> {
    want["classes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn each_class_is_calibrated_as_nannyml_calibrates_it() {
    let want = expected();
    let classes = classes(&want);
    let reference = rows("multiclass_reference.csv", &classes);
    let cbpe = MulticlassCbpe::fit(
        &classes,
        &reference.scores,
        &reference.actual,
        &reference.predicted,
    )
    .unwrap();
    assert_eq!(cbpe.classes, classes, "NannyML's (sorted) class order");
    let grid = want["calibration_grid"].as_array().unwrap();
    for (c, class) in classes.iter().enumerate() {
        assert_eq!(
            cbpe.calibrators[c].is_some(),
            want["needs_calibration"][class].as_bool().unwrap(),
            "class {class}: the calibration verdict differs from NannyML's"
        );
        let calibrated = want["calibrated_grid"][class].as_array().unwrap();
        for (x, y) in grid.iter().zip(calibrated) {
            let x = x.as_f64().unwrap();
            close(
                &format!("{class}: calibrated({x})"),
                cbpe.calibrate_class(c, x),
                y.as_f64().unwrap(),
            );
        }
    }
}

#[test]
fn every_chunk_matches_nannyml() {
    let want = expected();
    let classes = classes(&want);
    let reference = rows("multiclass_reference.csv", &classes);
    let analysis = rows("multiclass_analysis.csv", &classes);
    // Fitted with the classes given out of order: the fit sorts them (and their columns)
    // as NannyML does.
    let reversed: Vec<String> = classes.iter().rev().cloned().collect();
    let k = classes.len();
    let cbpe = MulticlassCbpe::fit(
        &reversed,
        &reference.scores.iter().rev().cloned().collect::<Vec<_>>(),
        &reference
            .actual
            .iter()
            .map(|&c| k - 1 - c)
            .collect::<Vec<_>>(),
        &reference
            .predicted
            .iter()
            .map(|&c| k - 1 - c)
            .collect::<Vec<_>>(),
    )
    .unwrap();
    let size = want["chunk_size"].as_u64().unwrap() as usize;
    for (period, data) in [("reference", &reference), ("analysis", &analysis)] {
        let chunks = want[period].as_array().unwrap();
        assert_eq!(chunks.len(), data.actual.len() / size, "{period} chunks");
        for (c, chunk) in chunks.iter().enumerate() {
            let range = c * size..(c + 1) * size;
            let scores: Vec<Vec<f64>> = data
                .scores
                .iter()
                .map(|column| column[range.clone()].to_vec())
                .collect();
            let ours = cbpe.estimate(&scores, &data.predicted[range]).unwrap();
            assert_chunk_matches(&format!("{period} chunk {c}"), chunk, &ours);
        }
    }
}

#[test]
fn a_reference_that_cannot_support_an_estimate_is_refused_with_the_reason() {
    let classes: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
    let n = 300;
    let scores = vec![vec![1.0 / 3.0; n]; 3];
    let cycle: Vec<usize> = (0..n).map(|i| i % 3).collect();
    let err = MulticlassCbpe::fit(&classes[..2], &scores[..2], &cycle, &cycle).unwrap_err();
    assert!(err.contains("three or more"), "{err}");
    let never_c: Vec<usize> = (0..n).map(|i| i % 2).collect();
    let err = MulticlassCbpe::fit(&classes, &scores, &cycle, &never_c).unwrap_err();
    assert!(err.contains("\"c\" is never predicted"), "{err}");
    let err = MulticlassCbpe::fit(&classes, &scores, &never_c, &cycle).unwrap_err();
    assert!(err.contains("\"c\" never occurs"), "{err}");
    let mut bad = scores.clone();
    bad[1][7] = -0.5;
    let err = MulticlassCbpe::fit(&classes, &bad, &cycle, &cycle).unwrap_err();
    assert!(err.contains("-0.5"), "{err}");
}

#[test]
fn calibrated_rows_sum_to_one_and_a_zero_row_is_uniform() {
    let classes: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
    let n = 300;
    let cycle: Vec<usize> = (0..n).map(|i| i % 3).collect();
    // Each row scores its own class 0.6: a perfect ranking, left uncalibrated.
    let scores: Vec<Vec<f64>> = (0..3)
        .map(|k| {
            cycle
                .iter()
                .map(|&c| if c == k { 0.6 } else { 0.2 })
                .collect()
        })
        .collect();
    let cbpe = MulticlassCbpe::fit(&classes, &scores, &cycle, &cycle).unwrap();
    let p = cbpe.calibrate(&[0.3, 0.3, 0.6]);
    close("normalised", p[2], 0.5);
    close("sum", p.iter().sum(), 1.0);
    assert_eq!(cbpe.calibrate(&[0.0, 0.0, 0.0]), vec![1.0 / 3.0; 3]);
    // A predicted class index the fit does not know gives no estimate rather than a panic.
    assert!(cbpe.estimate(&scores, &vec![3; n]).is_none());
}
