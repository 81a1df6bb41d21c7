//! The estimate on the sidecar: fitted per version on its reference, over the store's
//! latest predictions, labelled or not.

use super::*;
use crate::config::quality::QualityConfig;
use crate::profile::format::MulticlassPredictions;
use crate::quality::QualityMetrics;
use crate::quality::store::{Prediction, now_ms};
use serde_json::json;

/// A reference of 400 rows whose score is exactly its positive rate (already calibrated):
/// scores 0.1 and 0.9, true to them.
fn reference() -> LabelledPredictions {
    let mut r = LabelledPredictions {
        positive_class: "bad".into(),
        ..Default::default()
    };
    for i in 0..400 {
        let high = i % 2 == 0;
        r.scores.push(if high { 0.9 } else { 0.1 });
        // 9 in 10 of the high rows are positive, 1 in 10 of the low ones.
        r.actual.push(if high { i % 20 != 0 } else { i % 20 == 1 });
        r.predicted.push(high);
    }
    r
}

fn store(dir: &std::path::Path) -> Arc<PredictionStore> {
    let metrics = QualityMetrics::register(&prometheus::Registry::new()).unwrap();
    PredictionStore::open(dir, &QualityConfig::default(), metrics)
        .unwrap()
        .0
}

fn prediction(i: usize, version: &str, values: Vec<Value>) -> Prediction {
    Prediction {
        request_id: format!("r{i}"),
        row: 0,
        model: "credit".into(),
        version: version.into(),
        outputs: Arc::from(vec!["label".to_string(), "probability".to_string()]),
        values,
        at_ms: now_ms() - 1000 + i as i64,
    }
}

#[test]
fn unlabelled_predictions_get_an_estimate_beside_the_realised_figures() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    // Ten predictions of version 1: eight confident "bad" (0.9), two without a score.
    let mut batch: Vec<Prediction> = (0..8)
        .map(|i| prediction(i, "1", vec![json!("bad"), json!(0.9)]))
        .collect();
    batch.push(prediction(8, "1", vec![json!("good"), Value::Null]));
    batch.push(prediction(9, "1", vec![json!("good"), json!("n/a")]));
    store.write(&batch).unwrap();
    let labelled = reference();
    let references = [
        VersionReference {
            model: "credit",
            version: "1",
            reference_id: "p1",
            labelled: Some(&labelled),
        },
        // A dataset profile: no estimate, no entry.
        VersionReference {
            model: "credit",
            version: "2",
            reference_id: "p2",
            labelled: None,
        },
    ];
    let metrics = EstimateMetrics::register(&prometheus::Registry::new()).unwrap();
    let mut report = PerformanceReport::default();
    Estimator::default().evaluate_all(&store, &references, (0, 100), &metrics, &mut report);
    assert_eq!(report.models.len(), 1, "{report:?}");
    let v1 = &report.models[0];
    assert_eq!((v1.rows, v1.model_version.as_str()), (0, "1"));
    let e = v1.estimated.as_ref().unwrap();
    assert_eq!((e.rows, e.unscored), (8, 2));
    // Every row predicted positive at 0.9 (calibrated or not: the reference's rate at 0.9
    // is 0.9): nine in ten right.
    let accuracy = &e.metrics["accuracy"];
    assert!((accuracy.value - 0.9).abs() < 1e-12, "{accuracy:?}");
    assert!(
        accuracy.lower < 0.9 && accuracy.upper == 1.0,
        "{accuracy:?}"
    );
    let gauge = metrics
        .value
        .with_label_values(&["credit", "1", "accuracy"])
        .get();
    assert_eq!(gauge, accuracy.value);
    assert_eq!(metrics.rows.with_label_values(&["credit", "1"]).get(), 8);
}

#[test]
fn a_reference_that_cannot_be_fitted_says_why_and_a_new_one_is_fitted_again() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    store
        .write(&[prediction(0, "1", vec![json!("bad"), json!(0.9)])])
        .unwrap();
    let mut one_class = reference();
    one_class.actual.iter_mut().for_each(|a| *a = true);
    let estimator = Estimator::default();
    let with = |labelled: &LabelledPredictions, id: &str| {
        let reference = VersionReference {
            model: "credit",
            version: "1",
            reference_id: id,
            labelled: Some(labelled),
        };
        estimator.estimate(&store, &reference, 0, 100).unwrap()
    };
    let refused = with(&one_class, "old");
    assert!(
        refused
            .unavailable
            .as_deref()
            .unwrap()
            .contains("one class"),
        "{refused:?}"
    );
    assert!(refused.metrics.is_empty());
    // The alias moved to a profile with a usable reference: fitted, not the old refusal.
    let fitted = with(&reference(), "new");
    assert_eq!((fitted.unavailable, fitted.rows), (None, 1));
}

/// Three classes given out of sorted order ("b", "c", "a") with their scores in the
/// outputs `proba:1`, `proba:2`, `proba:0`: 300 rows, each scoring its true class 0.6
/// and the others 0.2, predicted right (a perfect ranking, left uncalibrated).
pub(crate) fn multiclass_reference() -> LabelledPredictions {
    let n = 300;
    let truth: Vec<u32> = (0..n).map(|i| i % 3).collect();
    LabelledPredictions {
        multiclass: Some(MulticlassPredictions {
            classes: ["b", "c", "a"].map(String::from).to_vec(),
            score_outputs: ["proba:1", "proba:2", "proba:0"].map(String::from).to_vec(),
            scores: (0..3)
                .map(|k| {
                    truth
                        .iter()
                        .map(|&t| if t == k { 0.6 } else { 0.2 })
                        .collect()
                })
                .collect(),
            actual: truth.clone(),
            predicted: truth,
        }),
        ..Default::default()
    }
}

#[test]
fn a_multiclass_version_is_estimated_from_each_class_s_score_output() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    let outputs: Arc<[String]> = ["label", "proba:0", "proba:1", "proba:2"]
        .map(String::from)
        .into();
    let row = |i: usize, values: Vec<Value>| Prediction {
        outputs: outputs.clone(),
        ..prediction(i, "3", values)
    };
    // Six rows predicting "a" with a = 0.6 (b, c 0.2), one class the reference does not
    // know, one without its `proba:2`.
    let mut batch: Vec<Prediction> = (0..6)
        .map(|i| row(i, vec![json!("a"), json!(0.6), json!(0.2), json!(0.2)]))
        .collect();
    batch.push(row(6, vec![json!("z"), json!(0.6), json!(0.2), json!(0.2)]));
    batch.push(row(
        7,
        vec![json!("a"), json!(0.6), json!(0.2), Value::Null],
    ));
    store.write(&batch).unwrap();
    let labelled = multiclass_reference();
    let references = [VersionReference {
        model: "credit",
        version: "3",
        reference_id: "p3",
        labelled: Some(&labelled),
    }];
    let metrics = EstimateMetrics::register(&prometheus::Registry::new()).unwrap();
    let mut report = PerformanceReport::default();
    Estimator::default().evaluate_all(&store, &references, (0, 100), &metrics, &mut report);
    let e = report.models[0].estimated.as_ref().unwrap();
    assert_eq!(e.unavailable, None);
    assert_eq!((e.rows, e.unscored, e.calibrated), (6, 2, false));
    // Each row is right with its predicted class's probability, 0.6.
    let accuracy = &e.metrics["accuracy"];
    assert!((accuracy.value - 0.6).abs() < 1e-12, "{accuracy:?}");
    assert_eq!(
        metrics
            .value
            .with_label_values(&["credit", "3", "accuracy"])
            .get(),
        accuracy.value
    );
}
