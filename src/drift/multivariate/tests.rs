//! Unit tests of multivariate drift: the correlation flip that no per-column test sees,
//! the false-alarm rate on undrifted splits, the AUC and its chance threshold, and
//! NannyML's chunking. Parity with NannyML 0.13.1 is in `tests/it/drift_multivariate.rs`.

use super::domain_classifier::{chance_threshold, roc_auc, stratified_folds};
use super::reconstruction::chunk_bounds;
use super::*;
use crate::random::SeededRng;

/// A standard normal draw (Box–Muller) from the seeded generator.
fn normal(rng: &mut SeededRng) -> f64 {
    let u1 = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    let u2 = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    (-2.0 * (1.0 - u1).ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// `n` rows of `d` standard normal features where features 0 and 1 have correlation `rho`
/// (each marginal stays standard normal whatever `rho`).
fn correlated(n: usize, d: usize, rho: f64, seed: u64) -> FeatureTable {
    let mut rng = SeededRng::new(seed);
    let mut columns = vec![Vec::with_capacity(n); d];
    for _ in 0..n {
        let a = normal(&mut rng);
        let b = rho * a + (1.0 - rho * rho).sqrt() * normal(&mut rng);
        columns[0].push(a);
        columns[1].push(b);
        for col in columns.iter_mut().skip(2) {
            col.push(normal(&mut rng));
        }
    }
    FeatureTable {
        names: (0..d).map(|j| format!("x{j}")).collect(),
        columns: columns.into_iter().map(FeatureValues::Numeric).collect(),
    }
}

fn result(results: &[MultivariateResult], method: MultivariateMethod) -> &MultivariateResult {
    results.iter().find(|r| r.method == method).unwrap()
}

#[test]
fn a_correlation_flip_is_drift_for_both_methods() {
    let reference = correlated(2_000, 4, 0.8, 1);
    let current = correlated(2_000, 4, -0.8, 2);
    let results = multivariate_drift(&reference, &current, &MultivariateConfig::default()).unwrap();
    let classifier = result(&results, MultivariateMethod::DomainClassifier);
    assert!(classifier.drifted, "{classifier:?}");
    assert!(classifier.score > 0.7, "{classifier:?}");
    let reconstruction = result(&results, MultivariateMethod::ReconstructionError);
    assert!(reconstruction.drifted, "{reconstruction:?}");
    assert!(
        reconstruction.score > reconstruction.threshold,
        "{reconstruction:?}"
    );
}

#[test]
fn the_same_distribution_is_not_drift() {
    let reference = correlated(2_000, 4, 0.8, 3);
    let current = correlated(2_000, 4, 0.8, 4);
    let results = multivariate_drift(&reference, &current, &MultivariateConfig::default()).unwrap();
    for r in &results {
        assert!(!r.drifted, "{r:?}");
    }
}

#[test]
fn undrifted_splits_alarm_at_most_at_the_nominal_rate() {
    // 40 independent undrifted pairs at α = 0.05: 2 alarms expected; P(≥ 7) < 0.5% if the
    // test holds its level, while a threshold at 0.5 (no allowance for chance) alarms
    // about half the time. α explicit: the level is what is tested, whatever the default.
    let config = MultivariateConfig {
        alpha: 0.05,
        ..MultivariateConfig::default()
    };
    let mut alarms = 0;
    for seed in 0..40 {
        let reference = correlated(300, 3, 0.5, 100 + 2 * seed);
        let current = correlated(300, 3, 0.5, 101 + 2 * seed);
        let encoder = encoding::Encoder::fit(&reference).unwrap();
        let r = domain_classifier::domain_classifier(
            &encoder.encode(&reference),
            &encoder.encode(&current),
            &config,
        )
        .unwrap();
        alarms += usize::from(r.drifted);
    }
    assert!(alarms <= 6, "{alarms} false alarms in 40 undrifted splits");
}

#[test]
fn fifty_undrifted_features_stay_inside_the_held_out_band() {
    // The live caps: a 5,000-row reference, 500-row windows, 50 weakly correlated features.
    // NannyML's in-sample band sits below every new window's error (the PCA's overfit);
    // the held-out band does not. Both windows are fresh draws of the reference's law.
    let reference = correlated(5_000, 50, 0.8, 7);
    let encoder = encoding::Encoder::fit(&reference).unwrap();
    let x = encoder.encode(&reference);
    let in_sample = reconstruction::ReconstructionModel::fit(&x, 10).unwrap();
    let held_out = reconstruction::ReconstructionModel::fit_held_out(&x, 10).unwrap();
    let mut flagged = (0, 0);
    for seed in 0..8 {
        let window = encoder.encode(&correlated(500, 50, 0.8, 1_000 + seed));
        flagged.0 += usize::from(in_sample.evaluate(&window).unwrap().drifted);
        flagged.1 += usize::from(held_out.evaluate(&window).unwrap().drifted);
    }
    assert_eq!(
        flagged.0, 8,
        "NannyML's band: expected every window above it"
    );
    assert!(
        flagged.1 <= 1,
        "{} of 8 undrifted windows flagged",
        flagged.1
    );
    // The held-out band still sees the flip.
    let flip = encoder.encode(&correlated(500, 50, -0.8, 99));
    assert!(held_out.evaluate(&flip).unwrap().drifted);
}

#[test]
fn a_constant_reference_is_no_drift_against_itself() {
    // Constant features standardise to 0: every row is reconstructed exactly and the band
    // collapses to [0, 0]. The same rows again must not drift.
    let table = FeatureTable {
        names: vec!["a".into(), "b".into()],
        columns: vec![
            FeatureValues::Numeric(vec![3.0; 400]),
            FeatureValues::Categorical(vec![Some("x".into()); 400]),
        ],
    };
    let encoder = encoding::Encoder::fit(&table).unwrap();
    let x = encoder.encode(&table);
    let model = reconstruction::ReconstructionModel::fit_held_out(&x, 10).unwrap();
    assert_eq!((model.lower, model.upper), (0.0, 0.0), "{model:?}");
    let r = model.evaluate(&x).unwrap();
    assert!(!r.drifted, "{r:?}");
}

#[test]
fn auc_counts_pairs_and_ties() {
    assert_eq!(roc_auc(&[0.1, 0.2], &[0.3, 0.4]), 1.0);
    assert_eq!(roc_auc(&[0.3, 0.4], &[0.1, 0.2]), 0.0);
    // Pairs: (0.1<0.2) win, (0.1<0.5) win, (0.5>0.2) loss, (0.5=0.5) tie → 2.5 / 4.
    assert_eq!(roc_auc(&[0.1, 0.5], &[0.2, 0.5]), 0.625);
}

#[test]
fn the_chance_threshold_narrows_with_sample_size() {
    // One fold: the Mann–Whitney null, 1/2 + 1.6449·sqrt(2001 / 12e6) = 0.52124.
    let one = chance_threshold(&[(1_000, 1_000)], 0.05);
    assert!((one - 0.521_24).abs() < 1e-4, "{one}");
    // The mean of four folds of 200 a side (1,000 a side in 5 folds, fold 0 only trains):
    // 1/2 + 1.6449·sqrt(4·401 / (12·200·200)) / 4 = 0.52377.
    let four = chance_threshold(&[(200, 200); 4], 0.05);
    assert!((four - 0.523_77).abs() < 1e-4, "{four}");
    let large = chance_threshold(&[(2_000, 2_000); 4], 0.05);
    assert!(large > 0.5 && large < four);
}

#[test]
fn chunks_follow_nannyml_default_chunker() {
    // 25 rows: chunks of 25 / 10 = 2 rows, the last row kept as a chunk of its own.
    let bounds = chunk_bounds(25, 10);
    assert_eq!(bounds.len(), 13);
    assert_eq!(bounds[0], (0, 2));
    assert_eq!(bounds[11], (22, 24));
    assert_eq!(bounds[12], (24, 25));
    assert_eq!(
        chunk_bounds(100, 10),
        (0..10).map(|i| (10 * i, 10 * i + 10)).collect::<Vec<_>>()
    );
}

#[test]
fn categorical_features_are_count_encoded_and_unseen_is_zero() {
    let table = |values: &[Option<&str>]| FeatureTable {
        names: vec!["c".into()],
        columns: vec![FeatureValues::Categorical(
            values.iter().map(|v| v.map(String::from)).collect(),
        )],
    };
    let reference = table(&[Some("a"), Some("a"), Some("b"), None]);
    let encoder = encoding::Encoder::fit(&reference).unwrap();
    // Shares: a = 3/4 (the missing cell is imputed as the most frequent), b = 1/4;
    // standardised with mean 0.625 and std 0.2165.
    let x = encoder.encode(&table(&[Some("a"), Some("b"), Some("zzz")]));
    let std = (3.0f64 / 64.0).sqrt();
    assert!((x[[0, 0]] - (0.75 - 0.625) / std).abs() < 1e-12);
    assert!((x[[1, 0]] - (0.25 - 0.625) / std).abs() < 1e-12);
    assert!((x[[2, 0]] - (0.0 - 0.625) / std).abs() < 1e-12);
}

#[test]
fn with_more_pairs_than_kept_the_flipped_pair_is_still_seen() {
    // 14 features have 91 pairs, more than MAX_PAIRS: each fold keeps the pairs whose
    // correlation changed most in its training rows, and the flipped pair is among them.
    const { assert!(14 * 13 / 2 > domain_classifier::MAX_PAIRS) };
    let config = MultivariateConfig::default();
    let reference = correlated(1_000, 14, 0.8, 5);
    let encoder = encoding::Encoder::fit(&reference).unwrap();
    let score = |current: &FeatureTable| {
        domain_classifier::domain_classifier(
            &encoder.encode(&reference),
            &encoder.encode(current),
            &config,
        )
        .unwrap()
    };
    let flipped = score(&correlated(1_000, 14, -0.8, 6));
    assert!(flipped.drifted && flipped.score > 0.7, "{flipped:?}");
    let same = score(&correlated(1_000, 14, 0.8, 7));
    assert!(!same.drifted, "{same:?}");
}

/// The table as CSV text, header first.
fn csv_text(table: &FeatureTable) -> String {
    let mut text = table.names.join(",");
    text.push('\n');
    for i in 0..table.rows() {
        let cells: Vec<String> = table
            .columns
            .iter()
            .map(|c| match c {
                FeatureValues::Numeric(v) => format!("{}", v[i]),
                FeatureValues::Categorical(v) => v[i].clone().unwrap_or_default(),
            })
            .collect();
        text.push_str(&cells.join(","));
        text.push('\n');
    }
    text
}

#[test]
fn a_profiles_row_sample_is_a_reference_for_both_methods() {
    let reference = correlated(1000, 4, 0.8, 1);
    let profile = crate::profile::builder::profile_of(
        &csv_text(&reference),
        &Default::default(),
        &Default::default(),
    );
    let names = reference.names.clone();
    // Every row fits in the default sample, so the sample is the table itself.
    let table = table_of_sample(&profile, &names).expect("the profile keeps rows");
    assert_eq!(table, reference);
    assert!(table_of_sample(&profile, &["nope".to_string()]).is_none());

    let fitted = FittedReference::fit(&table, &MultivariateConfig::default()).unwrap();
    let config = MultivariateConfig::default();
    let flipped = fitted
        .evaluate(&correlated(500, 4, -0.8, 2), &config)
        .unwrap();
    assert!(flipped.iter().all(|r| r.drifted), "{flipped:?}");
    // An undrifted draw (one in twenty is a false alarm at the default α); the
    // false-alarm rate over many draws is `undrifted_splits_alarm_at_most_at_the_nominal_rate`'s
    // business.
    let same = fitted
        .evaluate(&correlated(500, 4, 0.8, 4), &config)
        .unwrap();
    assert!(same.iter().all(|r| !r.drifted), "{same:?}");
    // The fit kept once gives what fitting per call gives.
    assert_eq!(
        same,
        multivariate_drift(&table, &correlated(500, 4, 0.8, 4), &config).unwrap()
    );
}

/// The scikit-learn parity fixture (`tests/fixtures/drift/multivariate/sklearn.json`) was
/// made on the folds the domain classifier deals for its files (1,000 reference rows, 500
/// current, the default seed and fold count), which `generate.py` reads from `folds.json`
/// rather than re-implementing the crate's generator in Python. This test keeps that file
/// true: when the generator or the dealing changes it fails, and
/// `MODELWATCH_WRITE_FOLDS=1 cargo test --lib the_parity_fixture_folds` rewrites it, after
/// which `generate.py` (in the pinned environment) remakes `sklearn.json`.
#[test]
fn the_parity_fixture_folds_are_the_classifiers() {
    let config = MultivariateConfig::default();
    assert!(
        config.classifier_rows >= 1000,
        "the fixture's files are not subsampled"
    );
    let fold_of = stratified_folds(1000, 500, config.folds, &mut SeededRng::new(config.seed));
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/drift/multivariate/folds.json");
    let ours = serde_json::json!({
        "seed": config.seed,
        "folds": config.folds,
        "reference_rows": 1000,
        "current_rows": 500,
        "fold_of": fold_of,
    });
    if std::env::var_os("MODELWATCH_WRITE_FOLDS").is_some() {
        std::fs::write(&path, format!("{ours}\n")).unwrap();
    }
    let committed: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert!(
        committed == ours,
        "{} is not the domain classifier's folds: rewrite it with \
         MODELWATCH_WRITE_FOLDS=1 and run generate.py again",
        path.display()
    );
}
