//! Classification metrics against scikit-learn 1.7.2 on committed fixtures
//! (`tests/fixtures/metrics/generate.py` writes `metrics.json`).

use modelwatch::train::metrics::{self, ClassificationMetrics, ConfusionMatrix};
use serde_json::Value;

/// The agreement the issue asks for; both sides compute in f64.
const TOLERANCE: f64 = 1e-9;

fn fixtures() -> Vec<Value> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/metrics/metrics.json"
    );
    let text = std::fs::read_to_string(path).expect("metrics.json is committed");
    let all: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(all["sklearn_version"], "1.7.2");
    all["cases"].as_array().unwrap().clone()
}

fn bools(v: &Value) -> Vec<bool> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_i64() == Some(1))
        .collect()
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn close(name: &str, case: &str, ours: f64, sklearn: f64) {
    assert!(
        (ours - sklearn).abs() <= TOLERANCE,
        "{case}: {name} = {ours}, scikit-learn says {sklearn}"
    );
}

#[test]
fn metrics_match_scikit_learn_within_1e_9() {
    let cases = fixtures();
    assert!(cases.len() >= 10);
    for c in &cases {
        let name = c["name"].as_str().unwrap();
        let labels = bools(&c["labels"]);
        let scores = floats(&c["scores"]);
        let predicted = bools(&c["predictions"]);
        // sklearn.metrics.confusion_matrix(labels, predictions) = [[tn, fp], [fn, tp]]
        let m = ConfusionMatrix::of(&labels, &predicted);
        let cm = &c["confusion_matrix"];
        assert_eq!(
            [
                m.true_negative,
                m.false_positive,
                m.false_negative,
                m.true_positive
            ],
            [&cm[0][0], &cm[0][1], &cm[1][0], &cm[1][1]].map(|v| v.as_u64().unwrap()),
            "{name}: confusion matrix"
        );
        close(
            "accuracy",
            name,
            metrics::accuracy(&m),
            c["accuracy"].as_f64().unwrap(),
        );
        close(
            "precision",
            name,
            metrics::precision(&m),
            c["precision"].as_f64().unwrap(),
        );
        close(
            "recall",
            name,
            metrics::recall(&m),
            c["recall"].as_f64().unwrap(),
        );
        close("f1", name, metrics::f1(&m), c["f1"].as_f64().unwrap());
        close(
            "roc_auc",
            name,
            metrics::roc_auc(&labels, &scores),
            c["roc_auc"].as_f64().unwrap(),
        );
        close(
            "log_loss",
            name,
            metrics::log_loss(&labels, &scores),
            c["log_loss"].as_f64().unwrap(),
        );

        // The all-in-one used by validation thresholds the same way.
        let threshold = c.get("threshold").and_then(Value::as_f64).unwrap_or(0.5);
        let all = ClassificationMetrics::compute(&labels, &scores, threshold);
        close("f1 (compute)", name, all.f1, c["f1"].as_f64().unwrap());
        close(
            "roc_auc (compute)",
            name,
            all.roc_auc,
            c["roc_auc"].as_f64().unwrap(),
        );
    }
}

#[test]
fn auc_of_a_single_class_is_not_a_number() {
    // scikit-learn raises here; a report must show "not computable", not a number.
    assert!(metrics::roc_auc(&[true, true], &[0.2, 0.9]).is_nan());
}
