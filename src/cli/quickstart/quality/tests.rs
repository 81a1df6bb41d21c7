//! The quickstart's quality lines: read from a performance report, and the alert
//! conditions kept equal to the shipped rules.

use super::*;
use serde_json::json;

fn report(estimated_upper: f64, realised: f64, labels: u64) -> Value {
    json!({"models": [{
        "model": "credit", "model_version": "1", "rows": labels, "predictions": 1000,
        "metrics": {"accuracy": realised},
        "reference": {"accuracy": 0.8},
        "estimated": {"rows": 1000, "metrics": {"accuracy": {
            "lower": estimated_upper - 0.1, "value": estimated_upper - 0.05, "upper": estimated_upper}}}
    }]})
}

#[test]
fn the_conditions_are_those_of_the_rules() {
    let holds = Accuracy::of(Some(&report(0.74, 0.71, 200))).unwrap();
    assert_eq!(holds.version, "credit@1");
    assert_eq!(
        holds.conditions_met(),
        [
            "ModelwatchEstimatedPerformanceDrop",
            "ModelwatchPerformanceDrop"
        ]
    );
    // Just inside each margin, or too few labels: no alert.
    let not = Accuracy::of(Some(&report(0.76, 0.73, 200))).unwrap();
    assert!(not.conditions_met().is_empty(), "{not:?}");
    let few = Accuracy::of(Some(&report(0.9, 0.5, 199))).unwrap();
    assert!(!few.realised_drop());
    assert!(
        holds.table().contains("realised 0.710"),
        "{}",
        holds.table()
    );
}

#[test]
fn the_shipped_rules_still_use_these_margins() {
    let rules = include_str!("../../../../alerts/modelwatch-rules.yml");
    assert!(rules.contains(&format!(
        "({REALISED_SHARE} * modelwatch_performance_reference)"
    )));
    assert!(rules.contains(&format!("modelwatch_performance_rows >= {MIN_LABELS}")));
    assert!(rules.contains(&format!(
        "(modelwatch_performance_reference) - {ESTIMATE_MARGIN}"
    )));
}

#[test]
fn no_estimate_and_no_labels_show_dashes() {
    let bare = json!({"models": [{"model": "credit", "model_version": "1", "rows": 0,
        "predictions": 10, "metrics": {}}]});
    let a = Accuracy::of(Some(&bare)).unwrap();
    assert_eq!((a.estimated, a.realised), (None, None));
    assert!(a.conditions_met().is_empty());
    assert!(Accuracy::of(None).is_none());
}
