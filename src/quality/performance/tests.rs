use super::*;
use serde_json::json;
use std::sync::Arc;

fn row(predicted: &str, probability: f64, truth: &str) -> Joined {
    row_of(json!(predicted), probability, json!(truth))
}

fn row_of(predicted: Value, probability: f64, truth: Value) -> Joined {
    Joined {
        model: "credit".into(),
        version: "1".into(),
        outputs: Arc::from(vec!["label".to_string(), "probability".to_string()]),
        values: vec![predicted, json!(probability)],
        label: serde_json::Map::from_iter([("label".to_string(), truth)]),
        at_ms: 0,
        labelled_ms: 0,
    }
}

#[test]
fn a_binary_classifier_gets_the_training_metrics_of_its_labelled_rows() {
    // Positive class "bad" (predicted at p >= 0.5): tp 2 (0.9, 0.7), fp 1 (0.6),
    // fn 1 (0.4), tn 2 (0.2, 0.1).
    let rows = [
        row("bad", 0.9, "bad"),
        row("bad", 0.7, "bad"),
        row("bad", 0.6, "good"),
        row("good", 0.4, "bad"),
        row("good", 0.2, "good"),
        row("good", 0.1, "good"),
    ];
    let p = evaluate("credit", "1", Task::Classifier, None, &rows);
    assert_eq!(p.rows, 6);
    assert_eq!(p.positive_class.as_deref(), Some("bad"));
    assert_eq!(p.metrics["accuracy"], 4.0 / 6.0);
    assert_eq!(p.metrics["precision"], 2.0 / 3.0);
    assert_eq!(p.metrics["recall"], 2.0 / 3.0);
    assert_eq!(p.metrics["f1"], 2.0 / 3.0);
    // Positive scores {0.9, 0.7, 0.4} against negative {0.6, 0.2, 0.1}: 8 of 9 pairs.
    assert_eq!(p.metrics["roc_auc"], 8.0 / 9.0);
    let expected_log_loss = -[0.9f64, 0.7, 0.4, 0.4, 0.8, 0.9]
        .iter()
        .map(|p| p.ln())
        .sum::<f64>()
        / 6.0;
    assert!((p.metrics["log_loss"] - expected_log_loss).abs() < 1e-12);
    assert_eq!(p.class_counts["bad"], 3);
}

#[test]
fn a_numeric_class_is_the_same_class_however_it_is_written() {
    // The model answers its class as a float (numpy-backed servers do: 1.0); labels come
    // as 1 (CSV feedback, JSON) or "1" (JSON text). All three are class 1.
    let rows = [
        row_of(json!(1.0), 0.9, json!(1)),
        row_of(json!(1.0), 0.8, json!("1")),
        row_of(json!(0.0), 0.3, json!(0)),
        row_of(json!(0.0), 0.2, json!("0.0")),
        row_of(json!(1.0), 0.6, json!(0)),
    ];
    let p = evaluate("m", "1", Task::Classifier, None, &rows);
    assert_eq!(p.metrics["accuracy"], 4.0 / 5.0);
    assert_eq!(p.positive_class.as_deref(), Some("1"));
    assert_eq!(p.metrics["recall"], 1.0);
    assert_eq!(
        p.class_counts,
        BTreeMap::from([("0".to_string(), 3), ("1".to_string(), 2)])
    );
    // What stays apart: other numbers, text that is not a JSON number (a zero-padded
    // code), booleans (true is not 1).
    for (value, class) in [
        (json!(1.5), "1.5"),
        (json!(-2.0), "-2"),
        (json!("1e0"), "1"),
        (json!("01"), "01"),
        (json!(" 1"), " 1"),
        (json!(true), "true"),
        (json!(u64::MAX), "18446744073709551615"),
        (json!(1e300), "1e+300"),
    ] {
        assert_eq!(class_of(&value).as_deref(), Some(class), "{value}");
    }
}

#[test]
fn two_classes_without_a_probability_get_accuracy_only() {
    // Which class is positive (the one the validation precision was computed for) is
    // unknown without the probability.
    let mut rows = vec![row("a", 0.0, "a"), row("b", 0.0, "a"), row("b", 0.0, "b")];
    for r in &mut rows {
        r.outputs = Arc::from(vec!["label".to_string()]);
        r.values.truncate(1);
    }
    let p = evaluate("m", "1", Task::Classifier, None, &rows);
    assert_eq!(p.metrics.keys().copied().collect::<Vec<_>>(), ["accuracy"]);
    assert_eq!(p.metrics["accuracy"], 2.0 / 3.0);
}

/// A prediction of a three-class model: its class and one probability output per class
/// (`probabilities:0` for `a` …), labelled `truth`.
fn three_class(predicted: &str, probabilities: [f64; 3], truth: &str) -> Joined {
    let mut values = vec![json!(predicted)];
    values.extend(probabilities.map(|p| json!(p)));
    Joined {
        model: "mail".into(),
        version: "2".into(),
        outputs: Arc::from(
            [
                "label",
                "probabilities:0",
                "probabilities:1",
                "probabilities:2",
            ]
            .map(String::from)
            .to_vec(),
        ),
        values,
        label: serde_json::Map::from_iter([("label".to_string(), json!(truth))]),
        at_ms: 0,
        labelled_ms: 0,
    }
}

fn abc() -> ClassOutputs {
    ClassOutputs {
        classes: ["a", "b", "c"].map(String::from).to_vec(),
        score_outputs: ["probabilities:0", "probabilities:1", "probabilities:2"]
            .map(String::from)
            .to_vec(),
    }
}

fn close(metric: &str, ours: f64, expected: f64) {
    assert!(
        (ours - expected).abs() < 1e-15,
        "{metric} {ours}, expected {expected}"
    );
}

#[test]
fn three_classes_get_macro_averages_with_a_class_never_predicted_counting_zero() {
    // Class c occurs once and is never predicted: its precision 0/0 counts 0, as
    // scikit-learn's default (zero_division="warn") does. Per class:
    //   a: tp 2, fp 2, fn 1 → precision 1/2, recall 2/3, F1 4/7
    //   b: tp 1, fp 1, fn 1 → 1/2, 1/2, 1/2
    //   c: tp 0, fp 0, fn 1 → 0, 0, 0
    // No probability output: macro averages need none, and no reference is needed to
    // see three classes in the window.
    let mut rows = vec![
        row("a", 0.0, "a"),
        row("a", 0.0, "a"),
        row("b", 0.0, "a"),
        row("b", 0.0, "b"),
        row("a", 0.0, "b"),
        row("a", 0.0, "c"),
    ];
    for r in &mut rows {
        r.outputs = Arc::from(vec!["label".to_string()]);
        r.values.truncate(1);
    }
    let p = evaluate("m", "1", Task::Classifier, None, &rows);
    assert_eq!(
        p.metrics.keys().copied().collect::<Vec<_>>(),
        ["accuracy", "f1", "precision", "recall"]
    );
    close("accuracy", p.metrics["accuracy"], 3.0 / 6.0);
    close("precision", p.metrics["precision"], (0.5 + 0.5 + 0.0) / 3.0);
    close("recall", p.metrics["recall"], (2.0 / 3.0 + 0.5 + 0.0) / 3.0);
    close("f1", p.metrics["f1"], (4.0 / 7.0 + 0.5 + 0.0) / 3.0);
    assert_eq!(p.positive_class, None);
    assert_eq!(
        p.class_counts,
        BTreeMap::from([("a".into(), 3), ("b".into(), 2), ("c".into(), 1)])
    );
}

#[test]
fn a_multiclass_reference_gives_one_vs_rest_roc_auc_from_each_class_probability() {
    // One-vs-rest AUC per class, ties counting half a pair:
    //   a: positives {0.6, 0.4} vs {0.5, 0.2, 0.3, 0.1}: 7 of 8 pairs
    //   b: positives {0.4, 0.7} vs {0.3, 0.4, 0.2, 0.3}: 7.5 of 8 (one tie)
    //   c: positives {0.5, 0.6} vs {0.1, 0.2, 0.1, 0.1}: 8 of 8
    let rows = vec![
        three_class("a", [0.6, 0.3, 0.1], "a"),
        three_class("a", [0.4, 0.4, 0.2], "a"),
        three_class("a", [0.5, 0.4, 0.1], "b"),
        three_class("b", [0.2, 0.7, 0.1], "b"),
        three_class("c", [0.3, 0.2, 0.5], "c"),
        three_class("c", [0.1, 0.3, 0.6], "c"),
    ];
    let p = evaluate("mail", "2", Task::Classifier, Some(&abc()), &rows);
    close(
        "roc_auc",
        p.metrics["roc_auc"],
        (7.0 / 8.0 + 7.5 / 8.0 + 1.0) / 3.0,
    );
    assert!(!p.metrics.contains_key("log_loss"));
    // Without the reference, which output is which class is unknown: no ROC AUC, the
    // rest unchanged.
    let without = evaluate("mail", "2", Task::Classifier, None, &rows);
    assert!(!without.metrics.contains_key("roc_auc"));
    assert_eq!(without.metrics["f1"], p.metrics["f1"]);

    // A row without its probabilities: not computable, as scikit-learn could not either.
    let mut missing = rows.clone();
    missing[4].values.truncate(2);
    let p = evaluate("mail", "2", Task::Classifier, Some(&abc()), &missing);
    assert!(!p.metrics.contains_key("roc_auc"));
    assert!(p.metrics.contains_key("f1"));
}

#[test]
fn a_multiclass_model_gets_macro_averages_even_when_its_window_holds_two_classes() {
    // The binary metrics would take "a" (most confident prediction, first probability
    // output) as positive: precision 1/2. Macro over a and b: (1/2 + 1) / 2. Class c never
    // occurs, so its one-vs-rest ROC AUC (and the average) is not computable.
    let rows = vec![
        three_class("a", [0.9, 0.05, 0.05], "a"),
        three_class("a", [0.6, 0.3, 0.1], "b"),
        three_class("b", [0.2, 0.7, 0.1], "b"),
    ];
    let p = evaluate("mail", "2", Task::Classifier, Some(&abc()), &rows);
    close("precision", p.metrics["precision"], (0.5 + 1.0) / 2.0);
    close("recall", p.metrics["recall"], (1.0 + 0.5) / 2.0);
    assert_eq!(p.positive_class, None);
    assert!(!p.metrics.contains_key("roc_auc"));
    assert!(!p.metrics.contains_key("log_loss"));
}

#[test]
fn the_model_classes_come_from_the_profile_multiclass_rows_by_value() {
    let mut profile: crate::profile::Profile = serde_json::from_value(json!({
        "format": crate::profile::FORMAT, "source": "t", "rows": 0,
        "options": serde_json::to_value(crate::profile::ProfileOptions::default()).unwrap(),
        "columns": [],
    }))
    .unwrap();
    assert_eq!(ClassOutputs::of_profile(&profile), None);
    profile.labelled_predictions = Some(
        serde_json::from_value(json!({
            "positive_class": "", "scores": [], "actual": [], "predicted": [],
            "multiclass": {"classes": ["0.0", "1", "two"],
                           "score_outputs": ["p:0", "p:1", "p:2"],
                           "scores": [[], [], []], "actual": [], "predicted": []}
        }))
        .unwrap(),
    );
    assert_eq!(
        ClassOutputs::of_profile(&profile),
        Some(ClassOutputs {
            classes: ["0", "1", "two"].map(String::from).to_vec(),
            score_outputs: ["p:0", "p:1", "p:2"].map(String::from).to_vec(),
        })
    );
}

#[test]
fn rows_labelled_for_another_output_are_left_out() {
    let mut other = row("bad", 0.9, "bad");
    other.label = serde_json::Map::from_iter([("probability".to_string(), json!(1))]);
    let p = evaluate(
        "credit",
        "1",
        Task::Classifier,
        None,
        &[other, row("good", 0.1, "good")],
    );
    assert_eq!(p.rows, 1);
}

fn numeric(predicted: f64, truth: f64) -> Joined {
    Joined {
        model: "price".into(),
        version: "3".into(),
        outputs: Arc::from(vec!["predict".to_string()]),
        values: vec![json!(predicted)],
        label: serde_json::Map::from_iter([("predict".to_string(), json!(truth))]),
        at_ms: 0,
        labelled_ms: 0,
    }
}

#[test]
fn a_regressor_gets_mae_rmse_mape_and_r2_of_its_labelled_rows() {
    // Errors 1, -1, 2 on truths 2, 4, 6 (mean 4, SS_tot 8, SS_res 6, MSE 2).
    let rows = [numeric(3.0, 2.0), numeric(3.0, 4.0), numeric(8.0, 6.0)];
    let p = evaluate("price", "3", Task::Regressor, None, &rows);
    assert_eq!(p.rows, 3);
    assert_eq!(p.metrics["mae"], 4.0 / 3.0);
    assert_eq!(p.metrics["rmse"], 2f64.sqrt());
    assert!((p.metrics["mape"] - (0.5 + 0.25 + 1.0 / 3.0) / 3.0).abs() < 1e-15);
    assert_eq!(p.metrics["r2"], 1.0 - 6.0 / 8.0);
    assert!(!p.metrics.contains_key("accuracy"));
    assert!(p.class_counts.is_empty());
}

#[test]
fn a_numeric_prediction_column_with_many_values_makes_a_regressor() {
    use crate::profile::{ColumnKind, ColumnRole, Profile};
    let mut profile: Profile = serde_json::from_value(json!({
        "format": crate::profile::FORMAT, "source": "t", "rows": 3,
        "options": serde_json::to_value(crate::profile::ProfileOptions::default()).unwrap(),
        "columns": [{"name": "x", "type": "numeric", "role": "feature", "count": 3,
                     "missing": 0, "missing_rate": 0.0, "type_errors": 0, "non_finite": 0,
                     "distinct": 3},
                    {"name": "predict", "type": "numeric", "role": "prediction", "count": 3,
                     "missing": 0, "missing_rate": 0.0, "type_errors": 0, "non_finite": 0,
                     "distinct": 3}]
    }))
    .unwrap();
    assert_eq!(Task::of_profile(&profile), Task::Regressor);
    profile.columns[1].distinct = 2; // a 0/1 class column
    assert_eq!(Task::of_profile(&profile), Task::Classifier);
    profile.columns[1].distinct = 3;
    profile.columns[1].kind = ColumnKind::Categorical;
    assert_eq!(Task::of_profile(&profile), Task::Classifier);
    profile.columns[1].role = ColumnRole::Feature;
    assert_eq!(Task::of_profile(&profile), Task::Classifier);
}
