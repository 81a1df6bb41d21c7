//! Corrections against scipy's `false_discovery_control` and the definitions; persistence
//! over a run of verdicts.

use super::*;

#[test]
fn benjamini_hochberg_flags_what_scipy_flags() {
    // scipy.stats.false_discovery_control(ps, method="bh") <= 0.05 (scipy 1.17.1).
    let cases: [(&[f64], &[bool]); 3] = [
        (
            &[0.01, 0.04, 0.03, 0.005, 0.2],
            &[true, true, true, true, false],
        ),
        (&[0.001, 0.04, 0.045, 0.5], &[true, false, false, false]),
        // Step-up: the largest p-value under its line carries every smaller one.
        (&[0.03, 0.035, 0.04, 0.045], &[true, true, true, true]),
    ];
    for (ps, expected) in cases {
        let tests: Vec<(f64, f64)> = ps.iter().map(|&p| (p, 0.05)).collect();
        assert_eq!(
            Correction::BenjaminiHochberg.verdicts(&tests),
            expected,
            "{ps:?}"
        );
    }
}

#[test]
fn bonferroni_divides_each_threshold_by_the_number_of_tests() {
    let tests = [
        (0.01, 0.05),
        (0.0101, 0.05),
        (0.005, 0.05),
        (0.2, 0.05),
        (0.019, 0.1),
    ];
    assert_eq!(
        Correction::Bonferroni.verdicts(&tests),
        [true, false, true, false, true]
    );
    assert_eq!(
        Correction::None.verdicts(&tests),
        [true, true, true, false, true]
    );
    assert!(Correction::BenjaminiHochberg.verdicts(&[]).is_empty());
}

#[test]
fn correction_names_round_trip() {
    for c in Correction::ALL {
        assert_eq!(Correction::from_name(c.as_str()), Some(c));
    }
    assert_eq!(Correction::from_name("bh"), None);
}

#[test]
fn persistence_needs_k_of_the_last_n() {
    let rule = Persistence::parse("2/3").unwrap();
    let mut history = AlarmHistory::default();
    let verdicts = [
        true, false, false, true, false, true, true, false, false, false,
    ];
    let reported: Vec<bool> = verdicts.iter().map(|&d| history.record(d, rule)).collect();
    assert_eq!(
        reported,
        [
            false, false, false, false, false, true, true, true, false, false
        ]
    );
    let mut always = AlarmHistory::default();
    assert!(always.record(true, Persistence::NONE));
    assert!(!always.record(false, Persistence::NONE));
    let mut long = AlarmHistory::default();
    let all = Persistence::parse("32/32").unwrap();
    assert!((0..31).all(|_| !long.record(true, all)));
    assert!(long.record(true, all));
}

#[test]
fn persistence_refuses_what_it_cannot_mean() {
    for bad in ["", "2", "0/3", "4/3", "1/33", "a/b", "2/3/4"] {
        let err = Persistence::parse(bad).unwrap_err();
        assert!(err.contains("K/N"), "{bad}: {err}");
    }
    assert_eq!(
        Persistence::parse(" 3 / 5 ").unwrap(),
        Persistence { k: 3, n: 5 }
    );
}
