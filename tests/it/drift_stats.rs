//! The drift statistics against scipy 1.17.1 and Evidently 0.7.23.
//!
//! Reference values come from `tests/fixtures/drift/*.json`, written by
//! `tests/fixtures/drift/generate.py` (pinned versions in its docstring); the reference
//! call for each value is named in a comment where it is compared.

use std::path::Path;

use modelwatch::drift::binning::{distinct_value_counts, evidently_numeric_proportions};
use modelwatch::drift::categorical::{Chi2Result, chi2_homogeneity, chisquare, z_test};
use modelwatch::drift::jensen_shannon::jensen_shannon_distance;
use modelwatch::drift::kolmogorov::{kstwo_sf, smirnov_sf};
use modelwatch::drift::ks::{KsPValueMethod, ks_2samp};
use modelwatch::drift::psi::{psi_proportions, psi_threshold, zero_fill};
use modelwatch::drift::wasserstein::{population_std, wasserstein_distance};
use modelwatch::drift::{
    ColumnDriftConfig, Method, categorical_column_drift, dataset_drift, numeric_column_drift,
};
use serde_json::Value;

/// KS statistic, Wasserstein, chi² statistic: the 1e-9 (relative, or absolute
/// near zero).
const STATISTIC_TOL: f64 = 1e-9;
/// p-values: 1e-6 relative (absolute below 1e-300, where doubles run out).
const P_VALUE_REL_TOL: f64 = 1e-6;
/// Distances computed from the same binning (PSI, Jensen–Shannon): 1e-9.
const DISTANCE_TOL: f64 = 1e-9;

fn load(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/drift")
        .join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read fixture {}: {e}", path.display()));
    serde_json::from_str(&text).expect("fixture is valid JSON")
}

fn f64s(v: &Value) -> Vec<f64> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().expect("number"))
        .collect()
}

fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(f64::total_cmp);
    v
}

fn close(actual: f64, expected: f64, tol: f64) -> bool {
    (actual - expected).abs() <= tol * expected.abs().max(1.0)
}

fn close_p(actual: f64, expected: f64) -> bool {
    if expected.abs() < 1e-300 {
        return actual.abs() < 1e-290;
    }
    (actual - expected).abs() <= P_VALUE_REL_TOL * expected.abs()
}

/// The counts under `key` of a fixture case.
fn counts(case: &Value, key: &str) -> Vec<u64> {
    case[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect()
}

/// A χ² result against scipy's `statistic`, `dof` and `p_value` in `expected`.
fn assert_chi2(case: &Value, res: &Chi2Result, expected: &Value) {
    let stat = expected["statistic"].as_f64().unwrap();
    assert!(
        close(res.statistic, stat, STATISTIC_TOL),
        "{case}: statistic {} vs scipy {stat}",
        res.statistic
    );
    assert_eq!(
        res.dof as u64,
        expected["dof"].as_u64().unwrap(),
        "{case}: dof"
    );
    let p = expected["p_value"].as_f64().unwrap();
    assert!(
        close_p(res.p_value, p),
        "{case}: p {:e} vs {p:e}",
        res.p_value
    );
}

#[test]
fn numeric_statistics_match_scipy_and_evidently() {
    let fixture = load("statistics.json");
    let cases = fixture["numeric"].as_array().unwrap();
    assert!(
        cases.len() >= 20,
        "the fixture covers at least 20 numeric cases"
    );
    let (mut exact, mut asymptotic) = (0, 0);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let reference = sorted(f64s(&case["reference"]));
        let current = sorted(f64s(&case["current"]));

        // scipy.stats.ks_2samp(reference, current)
        let ks = ks_2samp(&reference, &current).unwrap();
        let expected_method = match case["ks_method"].as_str().unwrap() {
            "exact" => KsPValueMethod::Exact,
            _ => KsPValueMethod::Asymptotic,
        };
        assert_eq!(ks.method, expected_method, "{name}: KS p-value method");
        match ks.method {
            KsPValueMethod::Exact => exact += 1,
            KsPValueMethod::Asymptotic => asymptotic += 1,
        }
        let d = case["ks_statistic"].as_f64().unwrap();
        assert!(
            close(ks.statistic, d, STATISTIC_TOL),
            "{name}: KS D {} vs scipy {d}",
            ks.statistic
        );
        let p = case["ks_p_value"].as_f64().unwrap();
        assert!(
            close_p(ks.p_value, p),
            "{name}: KS p {:e} vs scipy {p:e}",
            ks.p_value
        );

        // scipy.stats.wasserstein_distance(reference, current)
        let w = case["wasserstein"].as_f64().unwrap();
        let got = wasserstein_distance(&reference, &current);
        assert!(
            close(got, w, STATISTIC_TOL),
            "{name}: Wasserstein {got} vs scipy {w}"
        );
        // numpy.std(reference)
        let std = case["reference_std"].as_f64().unwrap();
        assert!(
            close(population_std(&reference), std, STATISTIC_TOL),
            "{name}: std"
        );

        // Evidently _jensenshannon / _psi (get_binned_data + scipy jensenshannon)
        let (r, c) = evidently_numeric_proportions(&reference, &current);
        let js = case["jensen_shannon"].as_f64().unwrap();
        let got = jensen_shannon_distance(&r, &c);
        assert!(
            close(got, js, DISTANCE_TOL),
            "{name}: JS {got} vs Evidently {js}"
        );
        let psi = case["psi"].as_f64().unwrap();
        let got = psi_proportions(&r, &c);
        assert!(
            close(got, psi, DISTANCE_TOL),
            "{name}: PSI {got} vs Evidently {psi}"
        );
    }
    assert!(
        exact >= 10 && asymptotic >= 5,
        "both KS branches covered: {exact} exact, {asymptotic} asymptotic"
    );
}

#[test]
fn kolmogorov_distributions_match_scipy_on_every_branch() {
    let fixture = load("statistics.json");
    let mut checked = 0;
    // scipy.stats.kstwo.sf(x, n)
    for row in fixture["kstwo_sf"].as_array().unwrap() {
        let (n, x, sf) = (
            row["n"].as_u64().unwrap(),
            row["x"].as_f64().unwrap(),
            row["sf"].as_f64().unwrap(),
        );
        let got = kstwo_sf(x, n);
        assert!(
            close_p(got, sf),
            "kstwo.sf({x}, {n}) = {got:e}, scipy {sf:e}"
        );
        checked += 1;
    }
    // scipy.special.smirnov(n, x)
    for row in fixture["smirnov_sf"].as_array().unwrap() {
        let (n, x, sf) = (
            row["n"].as_u64().unwrap(),
            row["x"].as_f64().unwrap(),
            row["sf"].as_f64().unwrap(),
        );
        let got = smirnov_sf(n, x);
        assert!(
            close_p(got, sf),
            "smirnov({n}, {x}) = {got:e}, scipy {sf:e}"
        );
        checked += 1;
    }
    assert!(checked > 400, "{checked} distribution values checked");
}

#[test]
fn categorical_statistics_match_scipy_and_evidently() {
    let fixture = load("statistics.json");
    // scipy.stats.chisquare(f_obs, f_exp)
    for case in fixture["chisquare"].as_array().unwrap() {
        let res = chisquare(&f64s(&case["f_obs"]), &f64s(&case["f_exp"])).unwrap();
        let stat = case["statistic"].as_f64().unwrap();
        assert!(
            close(res.statistic, stat, STATISTIC_TOL),
            "chisquare statistic {} vs {stat}",
            res.statistic
        );
        let p = case["p_value"].as_f64().unwrap();
        assert!(
            close_p(res.p_value, p),
            "chisquare p {:e} vs {p:e}",
            res.p_value
        );
    }
    // scipy.stats.chi2_contingency([ref, cur] merged, correction=False)
    for case in fixture["contingency"].as_array().unwrap() {
        let (res, _) = chi2_homogeneity(&counts(case, "reference"), &counts(case, "current"));
        match (&case["modelwatch"], res) {
            (Value::Null, None) => {}
            (expected, Some(res)) if !expected.is_null() => assert_chi2(case, &res, expected),
            (expected, got) => panic!("{case}: expected {expected}, got {got:?}"),
        }
    }
    // The merging itself: tables merged by hand from the documented rule (not by the
    // generator's Python copy of modelwatch's merging), tested by scipy on the merged table.
    let by_hand = fixture["contingency_merged_by_hand"].as_array().unwrap();
    assert!(by_hand.len() >= 3, "the fixture has hand-merged tables");
    for case in by_hand {
        let (res, _) = chi2_homogeneity(&counts(case, "reference"), &counts(case, "current"));
        let res = res.unwrap_or_else(|| panic!("{case}: no test"));
        assert_eq!(
            res.dof + 1,
            counts(case, "merged_reference").len(),
            "{case}: cells after merging"
        );
        assert_chi2(case, &res, case);
    }
    // evidently _z_stat_test(ref, cur): 2 * (1 - norm.cdf(|z|)), which loses digits below
    // ~1e-10; modelwatch computes the tail directly, so compare absolutely there.
    for case in fixture["z_test"].as_array().unwrap() {
        let g = |k: &str| case[k].as_u64().unwrap();
        let res = z_test(
            g("reference_first"),
            g("reference_total"),
            g("current_first"),
            g("current_total"),
        )
        .unwrap();
        let p = case["evidently_p_value"].as_f64().unwrap();
        assert!(
            close_p(res.p_value, p) || (res.p_value - p).abs() < 1e-14,
            "{case}: z p {:e} vs {p:e}",
            res.p_value
        );
    }
    // scipy.stats.chi2.ppf(1 - alpha, bins - 1) * (1/n + 1/m)
    for case in fixture["psi_threshold"].as_array().unwrap() {
        let got = psi_threshold(
            case["bins"].as_u64().unwrap() as usize,
            case["alpha"].as_f64().unwrap(),
            case["current_rows"].as_u64().unwrap(),
            case["reference_rows"].as_u64(),
        );
        let expected = case["threshold"].as_f64().unwrap();
        assert!(close(got, expected, 1e-9), "{case}: threshold {got}");
    }
    // scipy.spatial.distance.jensenshannon(p, q)
    for case in fixture["jensen_shannon"].as_array().unwrap() {
        let got = jensen_shannon_distance(&f64s(&case["p"]), &f64s(&case["q"]));
        let expected = case["distance"].as_f64().unwrap();
        assert!(close(got, expected, DISTANCE_TOL), "{case}: JS {got}");
    }
}

#[test]
fn psi_fills_empty_bins_like_evidently() {
    // get_binned_data(feel_zeroes=True): 1e-4, or min non-zero / 1e6 when that is smaller.
    assert_eq!(zero_fill([0.5, 0.0, 0.5].into_iter()), Some(1e-4));
    assert_eq!(
        zero_fill([0.99995, 0.0, 0.00005].into_iter()),
        Some(0.00005 / 1e6)
    );
    assert_eq!(zero_fill([0.0, 0.0].into_iter()), None);
}

/// Verdicts per column against Evidently's `DataDriftPreset` (`auto`), and modelwatch's
/// own expectation where the fixture names a difference.
#[test]
fn auto_verdicts_match_evidently_except_named_differences() {
    let fixture = load("evidently.json");
    let (mut columns, mut same, mut named) = (0, 0, 0);
    for table in fixture["tables"].as_array().unwrap() {
        let table_name = table["name"].as_str().unwrap();
        let mut verdicts = Vec::new();
        for col in table["columns"].as_array().unwrap() {
            let name = format!("{table_name}/{}", col["name"].as_str().unwrap());
            let ev = &col["evidently"];
            let mw = &col["modelwatch"];
            let (result, unseen) = column_result(col);
            if let Some(expected_unseen) = col["unseen_current"].as_u64() {
                assert_eq!(unseen, expected_unseen, "{name}: unseen-category rows");
            }
            columns += 1;
            verdicts.push(result.drifted);

            let method = Method::from_name(ev["method"].as_str().unwrap()).unwrap();
            assert_eq!(result.method, method, "{name}: auto method");
            assert_eq!(
                result.threshold,
                ev["threshold"].as_f64().unwrap(),
                "{name}: threshold"
            );
            let expected_score = mw["score"].as_f64().unwrap();
            let ok = if method == Method::Z {
                // Evidently's z-test p-value, 2 * (1 - norm.cdf(|z|)), loses digits below
                // ~1e-10 (see the z-test cases above); KS and chi² p-values come from scipy
                // at full precision and are held to the relative tolerance at any size.
                close_p(result.score, expected_score)
                    || (result.score - expected_score).abs() < 1e-14
            } else if method.is_p_value() {
                close_p(result.score, expected_score)
            } else {
                close(result.score, expected_score, STATISTIC_TOL)
            };
            assert!(
                ok,
                "{name}: score {:e} vs expected {expected_score:e}",
                result.score
            );
            assert_eq!(
                result.drifted,
                mw["drifted"].as_bool().unwrap(),
                "{name}: modelwatch verdict"
            );

            let differences = col["differences"].as_array().unwrap();
            if result.drifted == ev["drifted"].as_bool().unwrap() {
                same += 1;
                assert!(
                    differences.is_empty(),
                    "{name}: same verdict, no difference to name"
                );
            } else {
                // Every departure from Evidently is named, and each name has its reason.
                assert!(
                    !differences.is_empty(),
                    "{name}: verdict differs from Evidently without a named reason"
                );
                for d in differences {
                    let reason = &fixture["differences"][d.as_str().unwrap()];
                    assert!(
                        reason.as_str().is_some_and(|r| r.len() > 40),
                        "{name}: no reason for {d}"
                    );
                }
                named += 1;
            }
        }
        // modelwatch's dataset count over Evidently's per-column verdicts is Evidently's own
        // DriftedColumnsCount, as the fixture recorded it; over the verdicts computed here,
        // it is the fixture's modelwatch count.
        let evidently_verdicts = table["columns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["evidently"]["drifted"].as_bool().unwrap());
        assert_eq!(
            dataset_drift(evidently_verdicts, 0.5).drifted_columns,
            table["evidently_drifted_columns"].as_u64().unwrap() as usize,
            "{table_name}: Evidently's DriftedColumnsCount"
        );
        let ds = dataset_drift(verdicts.iter().copied(), 0.5);
        assert_eq!(
            ds.drifted_columns,
            table["modelwatch_drifted_columns"].as_u64().unwrap() as usize,
            "{table_name}: modelwatch's drifted-column count"
        );
    }
    assert!(columns >= 100, "{columns} columns compared");
    assert!(
        named > 0 && same > named,
        "{same} identical verdicts, {named} named differences"
    );
    eprintln!("{columns} columns: {same} verdicts equal to Evidently's, {named} named differences");

    // The high-cardinality case of REFERENCE.md §9: undrifted 51-state columns.
    let states = fixture["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "us_states_undrifted_600_400")
        .unwrap();
    let flagged_by_evidently = states["evidently_drifted_columns"].as_u64().unwrap();
    let flagged_by_modelwatch = states["columns"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| column_result(c).0.drifted)
        .count();
    assert!(
        flagged_by_evidently >= 15,
        "Evidently flags most undrifted state columns"
    );
    assert!(
        flagged_by_modelwatch <= 2,
        "modelwatch flags {flagged_by_modelwatch} of 20 undrifted state columns"
    );
}

/// Runs modelwatch's `auto` on one fixture column (missing values dropped first, as the
/// profile side does); returns the result and the current rows in unseen categories.
fn column_result(col: &Value) -> (modelwatch::drift::DriftResult, u64) {
    let auto = ColumnDriftConfig::default();
    let values = |k: &str| {
        col[k]
            .as_array()
            .unwrap()
            .iter()
            .filter(|v| !v.is_null())
            .cloned()
            .collect::<Vec<_>>()
    };
    let (reference, current) = (values("reference"), values("current"));
    if col["kind"] == "numeric" {
        let r = sorted(reference.iter().map(|v| v.as_f64().unwrap()).collect());
        let c = sorted(current.iter().map(|v| v.as_f64().unwrap()).collect());
        let counts = distinct_value_counts(&r, &c);
        let unseen: u64 = counts
            .reference
            .iter()
            .zip(&counts.current)
            .filter(|(r, _)| **r == 0)
            .map(|(_, c)| *c)
            .sum();
        (numeric_column_drift(&r, &c, &auto).unwrap(), unseen)
    } else {
        // Aligned counts over the union of labels, sorted by label (Evidently's z-test
        // compares the smallest label with the rest).
        let mut labels: Vec<&str> = reference
            .iter()
            .chain(&current)
            .map(|v| v.as_str().unwrap())
            .collect();
        labels.sort_unstable();
        labels.dedup();
        let count = |side: &[Value]| -> Vec<u64> {
            labels
                .iter()
                .map(|l| side.iter().filter(|v| v.as_str() == Some(l)).count() as u64)
                .collect()
        };
        let drift = categorical_column_drift(&count(&reference), &count(&current), &auto).unwrap();
        (drift.result, drift.unseen_current)
    }
}
