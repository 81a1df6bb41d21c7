//! Unit and property tests of the drift statistics: boundary values, the `auto` table,
//! and invariants (KS in [0, 1] and symmetric, PSI ≥ 0, JS in [0, sqrt(ln 2)], ...).
//! Agreement with scipy and Evidently is tested in `tests/it/drift_stats.rs`.

use proptest::prelude::*;

use super::auto::{AutoInput, choose_method, dataset_drift};
use super::categorical::{chi2_homogeneity, evidently_chi2, merge_rare_categories, z_test};
use super::column::{
    ColumnDriftConfig, DriftError, categorical_column_drift, numeric_column_drift,
};
use super::jensen_shannon::jensen_shannon_distance;
use super::kolmogorov::kstwo_sf;
use super::ks::{ks_2samp, ks_statistic};
use super::ks_counts::KsCounts;
use super::psi::{PsiBand, band, psi, psi_threshold};
use super::wasserstein::{wasserstein_distance, wasserstein_normed};
use super::{Comparison, DriftResult, Method};
use crate::profile::schema::ColumnKind;

fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(f64::total_cmp);
    v
}

#[test]
fn method_names_are_stable_and_round_trip() {
    let names: Vec<&str> = Method::ALL.iter().map(|m| m.as_str()).collect();
    assert_eq!(
        names,
        ["psi", "ks", "wasserstein", "jensen_shannon", "chi2", "z"]
    );
    for m in Method::ALL {
        assert_eq!(Method::from_name(m.as_str()), Some(m));
        assert_eq!(
            serde_json::to_string(&m).unwrap(),
            format!("\"{}\"", m.as_str())
        );
    }
    assert_eq!(Method::from_name("kolmogorov"), None);
    let err = "kolmogorov".parse::<Method>().unwrap_err();
    assert!(err.to_string().contains("use one of psi, ks"));
    assert_eq!(
        "jensen_shannon".parse::<Method>(),
        Ok(Method::JensenShannon)
    );
}

#[test]
fn comparisons_follow_evidently_at_the_threshold() {
    // KS: p <= threshold drifts; chi2 and z: p < threshold; distances: score >= threshold.
    assert!(DriftResult::new(Method::Ks, f64::NAN, 0.05, 0.05).drifted);
    assert!(!DriftResult::new(Method::Chi2, f64::NAN, 0.05, 0.05).drifted);
    assert!(!DriftResult::new(Method::Z, f64::NAN, 0.05, 0.05).drifted);
    assert!(DriftResult::new(Method::Wasserstein, f64::NAN, 0.1, 0.1).drifted);
    assert!(DriftResult::new(Method::JensenShannon, f64::NAN, 0.1, 0.1).drifted);
    assert_eq!(
        DriftResult::new(Method::Psi, f64::NAN, 0.3, 0.1).p_value,
        None
    );
    assert_eq!(
        DriftResult::new(Method::Ks, f64::NAN, 0.3, 0.05).p_value,
        Some(0.3)
    );
    assert_eq!(Method::Ks.comparison(), Comparison::PValueAtMost);
}

#[test]
fn auto_follows_evidently_table_at_its_boundaries() {
    let pick = |kind, reference_rows, distinct_values| {
        choose_method(AutoInput {
            kind,
            reference_rows,
            distinct_values,
        })
        .method
    };
    use ColumnKind::*;
    assert_eq!(pick(Numeric, 1000, 6), Method::Ks);
    assert_eq!(pick(Numeric, 1000, 5), Method::Chi2);
    assert_eq!(pick(Numeric, 1000, 3), Method::Chi2);
    assert_eq!(pick(Numeric, 1000, 2), Method::Z);
    assert_eq!(pick(Categorical, 1000, 40), Method::Chi2);
    assert_eq!(pick(Boolean, 10, 2), Method::Z);
    assert_eq!(pick(Numeric, 1001, 6), Method::Wasserstein);
    assert_eq!(pick(Numeric, 1001, 5), Method::JensenShannon);
    assert_eq!(pick(Categorical, 1001, 400), Method::JensenShannon);
    assert_eq!(
        choose_method(AutoInput {
            kind: Numeric,
            reference_rows: 1,
            distinct_values: 9
        })
        .threshold,
        0.05
    );
}

#[test]
fn dataset_drift_share_is_inclusive() {
    let d = dataset_drift([true, false], 0.5);
    assert_eq!(
        (d.drifted_columns, d.columns, d.share, d.drifted),
        (1, 2, 0.5, true)
    );
    assert!(!dataset_drift([true, false, false], 0.5).drifted);
    let none = dataset_drift(std::iter::empty(), 0.5);
    assert!(!none.drifted && none.share == 0.0);
}

#[test]
fn ks_known_values() {
    // scipy.stats.ks_2samp([1, 2, 3], [1, 2, 3]) -> (0.0, 1.0)
    let same = ks_2samp(&[1.0, 2.0, 3.0], &[1.0, 2.0, 3.0]).unwrap();
    assert_eq!((same.statistic, same.p_value), (0.0, 1.0));
    // scipy.stats.ks_2samp([0, 1], [2, 3, 4]) -> (1.0, 0.2)
    let apart = ks_2samp(&[0.0, 1.0], &[2.0, 3.0, 4.0]).unwrap();
    assert_eq!(apart.statistic, 1.0);
    assert!((apart.p_value - 0.2).abs() < 1e-15);
    assert!(ks_2samp(&[], &[1.0]).is_none());
}

#[test]
fn kstwo_sf_ends() {
    assert_eq!(kstwo_sf(0.0, 10), 1.0);
    assert_eq!(kstwo_sf(1.0, 10), 0.0);
    // scipy.stats.kstwo.sf(0.5, 1) = 1.0 (the support starts at 1/(2n))
    assert_eq!(kstwo_sf(0.5, 1), 1.0);
}

#[test]
fn wasserstein_known_values() {
    // scipy.stats.wasserstein_distance([0, 1, 3], [5, 6, 8]) = 5.0
    assert_eq!(
        wasserstein_distance(&[0.0, 1.0, 3.0], &[5.0, 6.0, 8.0]),
        5.0
    );
    // scipy.stats.wasserstein_distance([0, 1], [0, 1, 1, 1]) = 0.25
    assert_eq!(
        wasserstein_distance(&[0.0, 1.0], &[0.0, 1.0, 1.0, 1.0]),
        0.25
    );
    assert!(wasserstein_distance(&[], &[1.0]).is_nan());
    // A constant reference divides by the 0.001 floor, not by zero.
    assert_eq!(wasserstein_normed(0.002, 0.0), 2.0);
}

#[test]
fn psi_bands_and_thresholds() {
    assert_eq!(band(0.05), PsiBand::Stable);
    assert_eq!(band(0.1), PsiBand::Moderate);
    assert_eq!(band(0.25), PsiBand::Major);
    assert_eq!(psi(&[0.5, 0.5], &[50, 50]), 0.0);
    assert!(psi(&[0.5, 0.5], &[0, 0]).is_nan());
    assert!(psi(&[0.5, 0.5], &[1, 2, 3]).is_nan());
    // More rows in the window make the sample-size-aware threshold stricter.
    assert!(psi_threshold(10, 0.05, 10_000, None) < psi_threshold(10, 0.05, 1_000, None));
    assert!(psi_threshold(1, 0.05, 100, None).is_nan());
}

#[test]
fn unseen_categories_are_tested_and_never_infinite() {
    let chi2 = ColumnDriftConfig {
        method: Some(Method::Chi2),
        threshold: None,
    };
    // A category the reference never had takes a quarter of the window: drift, with a
    // finite statistic (Evidently's goodness of fit divides by its expected count of 0).
    let reference = [50, 0, 40];
    let current = [30, 25, 30];
    let ev = evidently_chi2(&reference, &current).unwrap();
    assert!(ev.statistic.is_infinite() && ev.p_value == 0.0);
    let (test, unseen) = chi2_homogeneity(&reference, &current);
    let test = test.unwrap();
    assert!(
        test.statistic.is_finite() && test.p_value < 1e-6,
        "{test:?}"
    );
    assert_eq!((test.dof, unseen), (2, 25));
    let drift = categorical_column_drift(&reference, &current, &chi2).unwrap();
    assert_eq!(drift.unseen_current, 25);
    assert!(drift.result.drifted);

    // Every window value is new: a column constant in the reference (1) that varies live.
    let drift = categorical_column_drift(&[300, 0, 0, 0], &[0, 40, 35, 25], &chi2).unwrap();
    assert_eq!(drift.unseen_current, 100);
    assert!(
        drift.result.drifted && drift.result.score < 1e-12,
        "{drift:?}"
    );

    // Two rows of a new category among 400 are sampling noise: they merge with the other
    // rare cells and the column does not drift.
    let (test, unseen) = chi2_homogeneity(&[200, 195, 3, 0], &[99, 98, 1, 2]);
    assert_eq!(unseen, 2);
    let test = test.unwrap();
    assert!(test.p_value > 0.5, "{test:?}");
}

#[test]
fn rare_categories_merge_until_every_expected_count_reaches_five() {
    // Column totals 500, 14, 2, 4, 290 over 800 + 510 rows: a kept column needs a total of
    // at least 5 * 1310 / 510 = 12.8, so the 2 and 4 merge, and their pool (6) takes 14 in.
    let (r, c) = merge_rare_categories(&[300, 5, 2, 1, 492], &[200, 9, 0, 3, 298]);
    assert_eq!(r, vec![300, 492, 8]);
    assert_eq!(c, vec![200, 298, 12]);
    // Nothing to test when a single cell remains: no evidence of drift.
    let (test, _) = chi2_homogeneity(&[400, 1, 1, 1, 1], &[300, 0, 0, 1, 2]);
    assert!(test.is_none());
}

#[test]
fn z_test_edge_cases() {
    // Both samples entirely one category: p = 1 (Evidently's special case).
    assert_eq!(z_test(100, 100, 100, 100).unwrap().p_value, 1.0);
    assert!(z_test(0, 0, 1, 1).is_none());
    let apart = z_test(0, 100, 100, 100).unwrap();
    assert!(apart.p_value < 1e-20);
}

#[test]
fn column_drift_reports_bad_combinations_clearly() {
    let err = categorical_column_drift(
        &[1, 2],
        &[2, 1],
        &ColumnDriftConfig {
            method: Some(Method::Ks),
            threshold: None,
        },
    )
    .unwrap_err();
    assert_eq!(err, DriftError::NotApplicable { method: Method::Ks });
    assert!(err.to_string().contains("numeric column"));
    let empty = numeric_column_drift(&[], &[1.0], &ColumnDriftConfig::default()).unwrap_err();
    assert!(
        empty
            .to_string()
            .contains("reference sample has no non-missing values")
    );
}

#[test]
fn numeric_low_cardinality_columns_are_tested_as_categories() {
    // 3 distinct values, small reference: Evidently's chi-square on value counts.
    let reference = sorted([0.0, 1.0, 2.0].repeat(100));
    let current = sorted([0.0, 1.0, 2.0].repeat(50));
    let r = numeric_column_drift(&reference, &current, &ColumnDriftConfig::default()).unwrap();
    assert_eq!(r.method, Method::Chi2);
    assert!((r.score - 1.0).abs() < 1e-12 && !r.drifted);
    // A user threshold replaces the default.
    let strict = ColumnDriftConfig {
        method: Some(Method::Wasserstein),
        threshold: Some(0.0),
    };
    let r = numeric_column_drift(&reference, &current, &strict).unwrap();
    assert_eq!((r.threshold, r.drifted), (0.0, true));
}

fn sample() -> impl Strategy<Value = Vec<f64>> {
    prop::collection::vec(-1e3f64..1e3, 1..60).prop_map(sorted)
}

fn tied_sample() -> impl Strategy<Value = Vec<f64>> {
    prop::collection::vec(0u8..5, 1..60)
        .prop_map(|v| sorted(v.into_iter().map(f64::from).collect()))
}

fn weights() -> impl Strategy<Value = (Vec<f64>, Vec<f64>)> {
    (1usize..20).prop_flat_map(|k| {
        (
            prop::collection::vec(0.0f64..10.0, k),
            prop::collection::vec(0.0f64..10.0, k),
        )
    })
}

proptest! {
    #[test]
    fn ks_is_in_unit_interval_and_symmetric(a in sample(), b in sample()) {
        let ab = ks_2samp(&a, &b).unwrap();
        let ba = ks_2samp(&b, &a).unwrap();
        prop_assert!((0.0..=1.0).contains(&ab.statistic));
        prop_assert!((0.0..=1.0).contains(&ab.p_value));
        prop_assert_eq!(ab.statistic, ba.statistic);
        prop_assert!((ab.p_value - ba.p_value).abs() <= 1e-12);
        prop_assert_eq!(ks_statistic(&a, &a), 0.0);
    }

    #[test]
    fn ks_with_ties_is_in_unit_interval(a in tied_sample(), b in tied_sample()) {
        let r = ks_2samp(&a, &b).unwrap();
        prop_assert!((0.0..=1.0).contains(&r.statistic) && (0.0..=1.0).contains(&r.p_value));
    }

    /// Counting between reference values is not an approximation: the statistic and the
    /// p-value are bit-for-bit those of the sorted merge walk, with and without ties, in
    /// any order of the stream and split in two parts.
    #[test]
    fn ks_from_counts_equals_ks_from_sorted_samples(
        a in prop_oneof![sample(), tied_sample()],
        b in prop_oneof![sample(), tied_sample()],
        split in 0usize..60,
    ) {
        let mut first = KsCounts::new(&a);
        let mut second = KsCounts::new(&a);
        let split = split.min(b.len());
        // Largest first: the counts must not depend on the order values arrive in.
        for &x in b[..split].iter().rev() {
            first.push(x);
        }
        for &x in &b[split..] {
            second.push(x);
        }
        first.merge(&second);
        prop_assert_eq!(first.current_len(), b.len() as u64);
        prop_assert_eq!(first.ks_2samp(), ks_2samp(&a, &b));
    }

    #[test]
    fn wasserstein_is_a_symmetric_translation_aware_distance(a in sample(), b in sample(), shift in -100.0f64..100.0) {
        let d = wasserstein_distance(&a, &b);
        prop_assert!(d >= 0.0);
        prop_assert!((d - wasserstein_distance(&b, &a)).abs() <= 1e-9 * d.max(1.0));
        let moved: Vec<f64> = a.iter().map(|x| x + shift).collect();
        prop_assert!((wasserstein_distance(&a, &moved) - shift.abs()).abs() <= 1e-9 * shift.abs().max(1.0));
    }

    #[test]
    fn psi_is_non_negative((p, q) in weights()) {
        let total: f64 = p.iter().sum();
        prop_assume!(total > 0.0);
        let reference: Vec<f64> = p.iter().map(|x| x / total).collect();
        let counts: Vec<u64> = q.iter().map(|x| (x * 10.0) as u64).collect();
        prop_assume!(counts.iter().sum::<u64>() > 0);
        prop_assert!(psi(&reference, &counts) >= 0.0);
    }

    #[test]
    fn jensen_shannon_is_bounded_and_symmetric((p, q) in weights()) {
        prop_assume!(p.iter().sum::<f64>() > 0.0 && q.iter().sum::<f64>() > 0.0);
        let d = jensen_shannon_distance(&p, &q);
        prop_assert!((0.0..=std::f64::consts::LN_2.sqrt() + 1e-12).contains(&d));
        prop_assert!((d - jensen_shannon_distance(&q, &p)).abs() < 1e-12);
        prop_assert!(jensen_shannon_distance(&p, &p) < 1e-7);
    }

    #[test]
    fn chi2_homogeneity_is_finite_with_any_counts(
        counts in prop::collection::vec((0u64..50, 0u64..50), 1..30)
    ) {
        let (r, c): (Vec<u64>, Vec<u64>) = counts.into_iter().unzip();
        let (test, unseen) = chi2_homogeneity(&r, &c);
        let expected_unseen: u64 = r.iter().zip(&c).filter(|(r, _)| **r == 0).map(|(_, c)| *c).sum();
        prop_assert_eq!(unseen, expected_unseen);
        if let Some(t) = test {
            prop_assert!(t.statistic.is_finite() && t.statistic >= 0.0);
            prop_assert!((0.0..=1.0).contains(&t.p_value));
        }
    }

    #[test]
    fn z_test_p_value_is_a_probability(rt in 1u64..500, ct in 1u64..500, a in 0.0f64..=1.0, b in 0.0f64..=1.0) {
        let (rf, cf) = ((rt as f64 * a) as u64, (ct as f64 * b) as u64);
        let p = z_test(rf, rt, cf, ct).unwrap().p_value;
        prop_assert!((0.0..=1.0).contains(&p));
    }

    #[test]
    fn kstwo_sf_decreases_in_d(n in 1u64..3000, a in 0.0f64..1.0, b in 0.0f64..1.0) {
        let (lo, hi) = if a < b { (a, b) } else { (b, a) };
        prop_assert!(kstwo_sf(lo, n) + 1e-9 >= kstwo_sf(hi, n));
    }
}

#[test]
fn a_correction_changes_only_the_columns_tested_with_a_p_value() {
    use super::alarms::Correction;
    use super::report::{ColumnReport, apply_correction};
    let line =
        |name: &str, method: &str, score: f64, p: Option<f64>, threshold: f64| ColumnReport {
            name: name.into(),
            kind: "numeric".into(),
            method: method.into(),
            statistic: Some(score),
            score: Some(score),
            p_value: p,
            threshold: Some(threshold),
            drifted: p.map_or(score >= threshold, |p| p <= threshold),
            evaluation_drifted: None,
            missing_rate: 0.0,
            out_of_range_rate: 0.0,
            unseen_rate: 0.0,
            type_error_rate: 0.0,
            non_finite_rate: 0.0,
            note: None,
            histogram: None,
            history: Vec::new(),
        };
    let mut reports = vec![
        line("a", "ks", 0.02, Some(0.02), 0.05),
        line("b", "ks", 0.004, Some(0.004), 0.05),
        line("c", "wasserstein", 0.3, None, 0.1),
        line("d", "chi2", 0.5, Some(0.5), 0.05),
    ];
    apply_correction(reports.iter_mut(), Correction::None);
    let drifted = |r: &[ColumnReport]| r.iter().map(|c| c.drifted).collect::<Vec<_>>();
    assert_eq!(drifted(&reports), [true, true, true, false]);
    // Three p-values: Bonferroni's line is 0.05 / 3; the distance keeps its verdict.
    apply_correction(reports.iter_mut(), Correction::Bonferroni);
    assert_eq!(drifted(&reports), [false, true, true, false]);
    // Benjamini–Hochberg: 0.004 <= 1/3 · 0.05 and 0.02 <= 2/3 · 0.05, 0.5 > 0.05.
    apply_correction(reports.iter_mut(), Correction::BenjaminiHochberg);
    assert_eq!(drifted(&reports), [true, true, true, false]);
}
