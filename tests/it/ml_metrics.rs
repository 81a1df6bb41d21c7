//! Classification and regression metrics against scikit-learn 1.9.1 on committed fixtures
//! (`tests/fixtures/metrics/generate.py` writes `metrics.json`; CI re-runs it in the pinned
//! environment with `tests/fixtures/drift/check.sh ../metrics`): the functions themselves,
//! and realised performance on labelled predictions as the sidecar stores them (binary,
//! multiclass macro averages, regression).

use modelwatch::quality::performance::{self, ClassOutputs, Task, multiclass, regression};
use modelwatch::quality::store::Joined;
use modelwatch::train::metrics::{self, ClassificationMetrics, ConfusionMatrix};
use serde_json::{Value, json};
use std::sync::Arc;

/// The agreement the issue asks for; both sides compute in f64.
const TOLERANCE: f64 = 1e-9;

fn fixtures() -> Vec<Value> {
    fixture_file()["cases"].as_array().unwrap().clone()
}

fn fixture_file() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/metrics/metrics.json"
    );
    let text = std::fs::read_to_string(path).expect("metrics.json is committed");
    let all: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(all["sklearn_version"], "1.9.1");
    all
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

/// A stored prediction with its joined label, as the prediction store hands them to
/// realised performance: outputs `label` (and `probability`), label for `label`.
fn joined(outputs: &[&str], values: Vec<Value>, truth: Value) -> Joined {
    Joined {
        model: "m".into(),
        version: "1".into(),
        outputs: Arc::from(outputs.iter().map(|o| o.to_string()).collect::<Vec<_>>()),
        values,
        label: serde_json::Map::from_iter([(outputs[0].to_string(), truth)]),
        at_ms: 0,
        labelled_ms: 0,
    }
}

fn class(positive: bool) -> Value {
    json!(if positive { "bad" } else { "good" })
}

#[test]
fn realised_classifier_performance_on_joined_rows_matches_scikit_learn() {
    let mut checked = 0;
    for c in &fixtures() {
        let name = c["name"].as_str().unwrap();
        let labels = bools(&c["labels"]);
        let scores = floats(&c["scores"]);
        let predicted = bools(&c["predictions"]);
        // Realised performance takes the positive class from the most confident row's
        // prediction: a case where nothing is predicted positive names no positive class.
        if !predicted.iter().any(|&p| p) || c.get("threshold").is_some() {
            continue;
        }
        let rows: Vec<Joined> = (0..labels.len())
            .map(|i| {
                joined(
                    &["label", "probability"],
                    vec![class(predicted[i]), json!(scores[i])],
                    class(labels[i]),
                )
            })
            .collect();
        let p = performance::evaluate("m", "1", Task::Classifier, None, &rows);
        assert_eq!(p.rows, labels.len(), "{name}");
        assert_eq!(p.positive_class.as_deref(), Some("bad"), "{name}");
        for metric in metrics::METRIC_NAMES {
            close(metric, name, p.metrics[metric], c[metric].as_f64().unwrap());
        }
        checked += 1;
    }
    assert!(checked >= 6, "only {checked} cases checked");
}

/// A JSON class (text or number) as realised performance names it.
fn class_name(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[test]
fn multiclass_macro_averages_match_scikit_learn_within_1e_9() {
    let cases = fixture_file()["multiclass"].as_array().unwrap().clone();
    assert!(cases.len() >= 6);
    let mut auc_checked = 0;
    for c in &cases {
        let name = c["name"].as_str().unwrap();
        let values = |key: &str| c[key].as_array().unwrap().clone();
        let (classes, truth, predicted) = (values("classes"), values("truth"), values("predicted"));
        let probabilities: Vec<Vec<f64>> = values("probabilities").iter().map(floats).collect();
        let names = |v: &[Value]| v.iter().map(class_name).collect::<Vec<_>>();
        let (class_names, truth_names) = (names(&classes), names(&truth));
        let expected = |metric: &str| c[metric].as_f64();

        // The functions, on class names.
        let [precision, recall, f1] =
            multiclass::macro_precision_recall_f1(&truth_names, &names(&predicted));
        close("precision", name, precision, expected("precision").unwrap());
        close("recall", name, recall, expected("recall").unwrap());
        close("f1", name, f1, expected("f1").unwrap());
        let truth_index: Vec<usize> = truth_names
            .iter()
            .map(|t| class_names.iter().position(|c| c == t).unwrap())
            .collect();
        let columns: Vec<Vec<f64>> = (0..classes.len())
            .map(|k| probabilities.iter().map(|row| row[k]).collect())
            .collect();
        let auc = multiclass::roc_auc_ovr(&truth_index, &columns);
        match expected("roc_auc") {
            Some(sklearn) => close("roc_auc", name, auc, sklearn),
            None => assert!(auc.is_nan(), "{name}: roc_auc {auc}, scikit-learn says NaN"),
        }

        // Realised performance on the rows as the sidecar stores them: the class (text or
        // number, as the model answered) and one probability output per class; the labels
        // as sent.
        let outputs: Vec<String> = std::iter::once("label".to_string())
            .chain((0..classes.len()).map(|k| format!("probabilities:{k}")))
            .collect();
        let outputs: Vec<&str> = outputs.iter().map(String::as_str).collect();
        let rows: Vec<Joined> = (0..truth.len())
            .map(|i| {
                let mut row_values = vec![predicted[i].clone()];
                row_values.extend(probabilities[i].iter().map(|p| json!(p)));
                joined(&outputs, row_values, truth[i].clone())
            })
            .collect();
        let model_classes = ClassOutputs {
            classes: class_names.clone(),
            score_outputs: outputs[1..].iter().map(|o| o.to_string()).collect(),
        };
        let p = performance::evaluate("m", "1", Task::Classifier, Some(&model_classes), &rows);
        assert_eq!(p.rows, truth.len(), "{name}");
        for metric in ["accuracy", "precision", "recall", "f1"] {
            close(metric, name, p.metrics[metric], expected(metric).unwrap());
        }
        match expected("roc_auc") {
            Some(sklearn) => {
                close("roc_auc (realised)", name, p.metrics["roc_auc"], sklearn);
                auc_checked += 1;
            }
            None => assert!(!p.metrics.contains_key("roc_auc"), "{name}: roc_auc"),
        }
        assert!(!p.metrics.contains_key("log_loss"), "{name}");
        assert_eq!(p.positive_class, None, "{name}");
    }
    assert!(auc_checked >= 4, "only {auc_checked} ROC AUCs checked");
}

#[test]
fn regression_metrics_match_scikit_learn_within_1e_9() {
    let cases = fixture_file()["regression"].as_array().unwrap().clone();
    assert!(cases.len() >= 8);
    for c in &cases {
        let name = c["name"].as_str().unwrap();
        let truth = floats(&c["truth"]);
        let predicted = floats(&c["predicted"]);
        close(
            "mae",
            name,
            regression::mae(&truth, &predicted),
            c["mae"].as_f64().unwrap(),
        );
        close(
            "rmse",
            name,
            regression::rmse(&truth, &predicted),
            c["rmse"].as_f64().unwrap(),
        );
        match c["r2"].as_f64() {
            Some(r2) => close("r2", name, regression::r2(&truth, &predicted), r2),
            None => assert!(regression::r2(&truth, &predicted).is_nan(), "{name}: r2"),
        }
        // MAPE divides by |y| (or ε for y = 0): relative agreement for its huge values.
        let (ours, sklearn) = (
            regression::mape(&truth, &predicted),
            c["mape"].as_f64().unwrap(),
        );
        assert!(
            (ours - sklearn).abs() <= TOLERANCE * sklearn.abs().max(1.0),
            "{name}: mape = {ours}, scikit-learn says {sklearn}"
        );

        // The same rows as the sidecar stores them: a numeric output and its numeric label.
        let rows: Vec<Joined> = truth
            .iter()
            .zip(&predicted)
            .map(|(y, p)| joined(&["predict"], vec![json!(p)], json!(y)))
            .collect();
        let p = performance::evaluate("m", "1", Task::Regressor, None, &rows);
        assert_eq!(p.rows, truth.len(), "{name}");
        for metric in ["mae", "rmse"] {
            close(metric, name, p.metrics[metric], c[metric].as_f64().unwrap());
        }
        match c["r2"].as_f64() {
            Some(r2) => close("r2 (realised)", name, p.metrics["r2"], r2),
            None => assert!(!p.metrics.contains_key("r2"), "{name}: r2 not computable"),
        }
        assert_eq!(p.metrics["mape"], ours, "{name}");
    }
}
