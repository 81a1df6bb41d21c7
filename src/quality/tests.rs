//! An evaluation as the sidecar runs it: predictions stored, labels received, realised
//! figures and the estimate computed from what the registry knows of each version.

use super::*;
use cbpe::live::tests::multiclass_reference;
use serde_json::json;
use store::{Prediction, now_ms};

#[test]
fn a_multiclass_version_has_realised_macro_figures_beside_its_estimate() {
    let dir = tempfile::tempdir().unwrap();
    let registry = Registry::new();
    let (quality, _writer) =
        Quality::start(dir.path(), &QualityConfig::default(), &registry).expect("quality starts");
    // Predicted class, its three probabilities, true class. Class c is never predicted.
    let rows = [
        ("a", [0.6, 0.3, 0.1], "a"),
        ("a", [0.5, 0.3, 0.2], "a"),
        ("a", [0.5, 0.4, 0.1], "b"),
        ("b", [0.2, 0.7, 0.1], "b"),
        ("a", [0.4, 0.2, 0.4], "c"),
        ("b", [0.1, 0.5, 0.4], "c"),
    ];
    // The reference names the classes b, c, a and their outputs proba:1, proba:2, proba:0.
    let outputs: Arc<[String]> = ["label", "proba:0", "proba:1", "proba:2"]
        .map(String::from)
        .into();
    let batch: Vec<Prediction> = rows
        .iter()
        .enumerate()
        .map(|(i, (predicted, p, _))| Prediction {
            request_id: format!("r{i}"),
            row: 0,
            model: "mail".into(),
            version: "2".into(),
            outputs: outputs.clone(),
            values: std::iter::once(json!(predicted))
                .chain(p.iter().map(|p| json!(p)))
                .collect(),
            at_ms: now_ms() - 1000,
        })
        .collect();
    quality.store.write(&batch).unwrap();
    let labels: Vec<_> = rows
        .iter()
        .enumerate()
        .map(|(i, (_, _, truth))| json!({"request_id": format!("r{i}"), "label": truth}))
        .collect();
    let body = serde_json::to_vec(&labels).unwrap();
    let answer = quality
        .receive(Some("application/json"), &body)
        .unwrap()
        .unwrap();
    assert_eq!(answer.outcomes[&feedback::Outcome::Joined], 6);

    let labelled = multiclass_reference();
    let references = [cbpe::live::VersionReference {
        model: "mail",
        version: "2",
        reference_id: "p2",
        labelled: Some(&labelled),
    }];
    let mut profile: crate::profile::Profile = serde_json::from_value(json!({
        "format": crate::profile::FORMAT, "source": "t", "rows": 0, "columns": [],
        "options": serde_json::to_value(crate::profile::ProfileOptions::default()).unwrap(),
    }))
    .unwrap();
    profile.labelled_predictions = Some(labelled.clone());
    let facts = VersionFacts::of(&profile, &serde_json::Value::Null);
    assert_eq!(
        facts.classes.as_ref().map(|c| c.classes.clone()),
        Some(["b", "c", "a"].map(String::from).to_vec())
    );
    quality.evaluate(&references, |_, _| Some(facts.clone()));

    // Per class: a tp 2 fp 2 fn 0, b tp 1 fp 1 fn 1, c tp 0 fp 0 fn 2 (precision 0/0
    // counts 0). One-vs-rest AUC, ties half a pair: a {0.6, 0.5} over {0.5, 0.2, 0.4,
    // 0.1} 7.5/8; b {0.4, 0.7} over {0.3, 0.3, 0.2, 0.5} 7/8; c {0.4, 0.4} over {0.1,
    // 0.2, 0.1, 0.1} 8/8.
    let realised = |metric: &str| {
        quality
            .metrics
            .performance
            .with_label_values(&["mail", "2", metric])
            .get()
    };
    let estimated = |metric: &str| {
        quality
            .metrics
            .estimated
            .value
            .with_label_values(&["mail", "2", metric])
            .get()
    };
    let close = |metric: &str, ours: f64, expected: f64| {
        assert!(
            (ours - expected).abs() < 1e-12,
            "{metric}: {ours} vs {expected}"
        );
    };
    close("precision", realised("precision"), (0.5 + 0.5 + 0.0) / 3.0);
    close("recall", realised("recall"), (1.0 + 0.5 + 0.0) / 3.0);
    close("f1", realised("f1"), (4.0 / 6.0 + 0.5 + 0.0) / 3.0);
    close("roc_auc", realised("roc_auc"), (7.5 + 7.0 + 8.0) / 24.0);
    let report = quality.report();
    let version = &report.models[0];
    // The estimate of the same version, under the same names, in the same report.
    let estimate = version.estimated.as_ref().expect("estimated");
    for metric in ["accuracy", "precision", "recall", "f1", "roc_auc"] {
        assert!(version.metrics.contains_key(metric), "realised {metric}");
        assert_eq!(
            estimated(metric),
            estimate.metrics[metric].value,
            "{metric}"
        );
    }
}
