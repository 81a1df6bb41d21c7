//! Multivariate drift against NannyML 0.13.1 (reconstruction error) and scikit-learn
//! (the domain classifier's AUC on the same folds) (`tests/fixtures/drift/multivariate/`,
//! written by its `generate.py`), and `modelwatch drift --multivariate` end to end: the
//! correlation flip that every per-column test passes and both multivariate methods flag.

use crate::support::cli::{modelwatch, stderr};
use modelwatch::cli::drift::multivariate::{feature_names, read_table};
use modelwatch::drift::multivariate::encoding::Encoder;
use modelwatch::drift::multivariate::reconstruction::{ReconstructionModel, chunk_bounds};
use modelwatch::profile::ProfileOptions;
use modelwatch::profile::schema::SchemaOverrides;
use modelwatch::registry::reference::load_profile;
use ndarray::s;
use serde_json::Value;
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/drift/multivariate")
        .join(name)
}

fn nannyml() -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixture("nannyml.json")).unwrap()).unwrap()
}

fn f64s(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn assert_close(actual: f64, expected: f64, what: &str) {
    assert!(
        (actual - expected).abs() <= 1e-9 * expected.abs().max(1.0),
        "{what}: modelwatch {actual}, NannyML {expected}"
    );
}

#[test]
fn reconstruction_error_matches_nannyml() {
    let expected = nannyml();
    let reference_path = fixture("reference.csv");
    let profile = load_profile(
        Path::new("/nonexistent"),
        reference_path.to_str().unwrap(),
        &SchemaOverrides::default(),
        &ProfileOptions::default(),
    )
    .unwrap();
    let features = feature_names(&profile);
    assert_eq!(features, ["a", "b", "c", "colour"]);
    let reference = read_table(&reference_path, &profile, &features, 100_000).unwrap();
    let encoder = Encoder::fit(&reference).unwrap();
    let model = ReconstructionModel::fit(&encoder.encode(&reference), 10).unwrap();
    assert_eq!(
        model.components() as u64,
        expected["components"].as_u64().unwrap()
    );
    let chunks = f64s(&expected["reference_chunk_errors"]);
    assert_eq!(model.reference_chunk_errors.len(), chunks.len());
    for (i, (a, e)) in model.reference_chunk_errors.iter().zip(&chunks).enumerate() {
        assert_close(*a, *e, &format!("reference chunk {i}"));
    }
    assert_close(
        model.lower,
        expected["lower_threshold"].as_f64().unwrap(),
        "lower",
    );
    assert_close(
        model.upper,
        expected["upper_threshold"].as_f64().unwrap(),
        "upper",
    );

    for (name, case) in expected["current"].as_object().unwrap() {
        let current = read_table(&fixture(name), &profile, &features, 100_000).unwrap();
        let x = encoder.encode(&current);
        let whole = model.evaluate(&x).unwrap();
        assert_close(whole.score, case["error"].as_f64().unwrap(), name);
        let chunk_errors = f64s(&case["chunk_errors"]);
        let bounds = chunk_bounds(x.nrows(), 10);
        assert_eq!(bounds.len(), chunk_errors.len(), "{name}");
        for ((a, b), e) in bounds.into_iter().zip(chunk_errors) {
            assert_close(
                model.error(x.slice(s![a..b, ..])),
                e,
                &format!("{name} rows {a}..{b}"),
            );
        }
    }
}

/// The domain classifier's score (the mean of its forward-chained folds' AUCs) equals
/// scikit-learn's on the same folds: same objective (linfa-logistic's alpha = 1 is
/// LogisticRegression's C = 1), so the two solvers reach the same optimum up to their
/// stopping rules, and an AUC, a rank statistic, moves only where they order two rows
/// differently. Each such pair moves a fold's AUC (200 reference × 100 current rows) by
/// 1/20,000 and the mean of four by 1.25e-5; the tolerance, 1e-4, is 8 pairs out of
/// 80,000, and far below what separates drift from none (the threshold at these sizes is
/// 0.529, the undrifted file scores 0.518).
#[test]
fn the_domain_classifier_matches_scikit_learn_on_the_same_folds() {
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("sklearn.json")).unwrap()).unwrap();
    for name in ["same.csv", "flipped.csv", "shifted.csv"] {
        let (report, out) = drift_json(name, &[]);
        assert!(out.status.success(), "{}", stderr(&out));
        let ours = multivariate(&report, "domain_classifier")["score"]
            .as_f64()
            .unwrap();
        let theirs = expected["auc"][name].as_f64().unwrap();
        assert!(
            (ours - theirs).abs() <= 1e-4,
            "{name}: modelwatch AUC {ours}, scikit-learn {theirs}"
        );
    }
}

fn drift_json(current: &str, extra: &[&str]) -> (Value, std::process::Output) {
    drift_json_against(&fixture("reference.csv"), current, extra)
}

fn drift_json_against(
    reference: &Path,
    current: &str,
    extra: &[&str],
) -> (Value, std::process::Output) {
    let home = tempfile::tempdir().unwrap();
    let current = fixture(current);
    let args = [
        &[
            "drift",
            "--reference",
            reference.to_str().unwrap(),
            "--current",
            current.to_str().unwrap(),
            "--multivariate",
            "--json",
        ][..],
        extra,
    ]
    .concat();
    let out = modelwatch(home.path(), &args);
    let json = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (json, out)
}

fn multivariate(report: &Value, method: &str) -> Value {
    report["multivariate"]
        .as_array()
        .unwrap_or_else(|| panic!("no multivariate section: {report}"))
        .iter()
        .find(|r| r["method"] == method)
        .unwrap_or_else(|| panic!("no {method} in {report}"))
        .clone()
}

#[test]
fn a_correlation_flip_passes_every_column_test_and_fails_both_multivariate_methods() {
    let (report, out) = drift_json("flipped.csv", &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    for column in report["columns"].as_array().unwrap() {
        assert_eq!(column["drifted"], false, "per-column test flagged {column}");
    }
    assert_eq!(report["dataset_drift"], false);
    let classifier = multivariate(&report, "domain_classifier");
    assert_eq!(classifier["drifted"], true, "{classifier}");
    let reconstruction = multivariate(&report, "reconstruction_error");
    assert_eq!(reconstruction["drifted"], true, "{reconstruction}");
    // The whole file as one chunk, as NannyML computes it.
    let expected = nannyml()["current"]["flipped.csv"]["error"]
        .as_f64()
        .unwrap();
    assert_close(
        reconstruction["score"].as_f64().unwrap(),
        expected,
        "flipped.csv",
    );

    // --fail-on-drift counts the joint distribution too.
    let (_, out) = drift_json("flipped.csv", &["--fail-on-drift"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
}

#[test]
fn the_html_report_shows_the_multivariate_verdicts() {
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("report.html");
    let (_, out) = drift_json("flipped.csv", &["--html", html.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let html = std::fs::read_to_string(&html).unwrap();
    let section = html
        .split("Multivariate drift")
        .nth(1)
        .unwrap_or_else(|| panic!("no multivariate section in the HTML report"));
    for method in ["domain_classifier", "reconstruction_error"] {
        let row = section
            .split("<tr>")
            .find(|row| row.contains(method))
            .unwrap_or_else(|| panic!("no {method} row in the HTML report"));
        assert!(row.contains("<td>drifted</td>"), "{method}: {row}");
    }
}

#[test]
fn the_same_distribution_is_no_multivariate_drift() {
    let (report, out) = drift_json("same.csv", &["--fail-on-drift"]);
    assert!(out.status.success(), "{}", stderr(&out));
    for method in ["domain_classifier", "reconstruction_error"] {
        let r = multivariate(&report, method);
        assert_eq!(r["drifted"], false, "{r}");
        assert!(
            r["score"].as_f64().unwrap() < r["threshold"].as_f64().unwrap(),
            "{r}"
        );
    }
}

#[test]
fn a_profile_reference_gives_its_row_sample_and_one_without_rows_is_refused() {
    let home = tempfile::tempdir().unwrap();
    let reference = fixture("reference.csv");
    let profile = |name: &str, extra: &[&str]| {
        let path = home.path().join(name);
        let args = [
            &[
                "dataset",
                "profile",
                reference.to_str().unwrap(),
                "--output",
                path.to_str().unwrap(),
            ][..],
            extra,
        ]
        .concat();
        let out = modelwatch(home.path(), &args);
        assert!(out.status.success(), "{}", stderr(&out));
        path
    };

    // The default row sample (5,000) holds all 1,000 reference rows: the profile gives the
    // verdicts, scores and thresholds the CSV gives.
    let (from_csv, out) = drift_json("flipped.csv", &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let (from_profile, out) = drift_json_against(&profile("all.json", &[]), "flipped.csv", &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(from_profile["multivariate"], from_csv["multivariate"]);
    for method in ["domain_classifier", "reconstruction_error"] {
        assert_eq!(multivariate(&from_profile, method)["drifted"], true);
    }

    // A profile without rows is refused, with the way out.
    let none = profile("none.json", &["--row-sample-size", "0"]);
    let (_, out) = drift_json_against(&none, "same.csv", &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    for hint in ["keeps none", "modelwatch dataset profile", "NAME[@VERSION]"] {
        assert!(stderr(&out).contains(hint), "{hint}: {}", stderr(&out));
    }
}
