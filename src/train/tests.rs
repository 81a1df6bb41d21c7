//! Unit tests of training on the credit example: reproducibility, holdout quality, and
//! agreement between the artifact's own scoring and linfa's.

use super::config::{TrainConfig, ValidateConfig};
use super::evaluation;
use super::model;
use super::table::{LabeledTable, RawValue};
use crate::profile::schema::{Schema, SchemaOverrides};
use std::path::PathBuf;

fn credit() -> LabeledTable {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/credit/credit_data.csv");
    let mut reader = csv::Reader::from_path(&path).unwrap();
    let schema = Schema::infer(
        &mut reader,
        &SchemaOverrides {
            target: Some("Status".into()),
            ..Default::default()
        },
    )
    .unwrap();
    LabeledTable::read_csv(&path, &schema, Some("bad")).unwrap()
}

#[test]
fn same_data_config_and_seed_give_the_same_artifact_bytes() {
    let table = credit();
    let config = TrainConfig::default();
    let a = model::train(&table, &config, "credit@1", "x").unwrap();
    let b = model::train(&table, &config, "credit@1", "x").unwrap();
    assert_eq!(a.to_bytes(), b.to_bytes());
    assert_eq!(a.sha256(), b.sha256());
    let other = model::train(&table, &TrainConfig { seed: 7, ..config }, "credit@1", "x").unwrap();
    assert_ne!(
        a.sha256(),
        other.sha256(),
        "a different seed must change the split"
    );
    assert_eq!(model::ModelArtifact::from_bytes(&a.to_bytes()).unwrap(), a);
}

#[test]
fn credit_model_beats_chance_clearly_on_the_holdout() {
    let table = credit();
    assert_eq!(table.rows.len(), 4454);
    assert_eq!(table.classes.positive, "bad");
    let artifact = model::train(&table, &TrainConfig::default(), "credit@1", "x").unwrap();
    let config = ValidateConfig {
        folds: 3,
        permutation_repeats: 1,
        ..Default::default()
    };
    let e = evaluation::evaluate(&artifact, &table, &config).unwrap();
    assert_eq!(e.holdout.rows, 891);
    assert!(e.holdout.metrics.roc_auc > 0.75, "{:?}", e.holdout.metrics);
    assert_eq!(e.cross_validation.per_fold.len(), 3);
    assert!(e.cross_validation.mean["roc_auc"] > 0.75);
    assert_eq!(e.permutation_importance.len(), 13);
    // Missing values and noise hurt, but a sane model degrades rather than collapses.
    for r in &e.robustness {
        assert!(r.metrics.roc_auc > 0.6, "{r:?}");
    }
}

#[test]
fn artifact_scoring_matches_linfa_probabilities() {
    use linfa::prelude::*;
    let table = credit();
    let config = TrainConfig::default();
    let artifact = model::train(&table, &config, "credit@1", "x").unwrap();
    let rows: Vec<Vec<RawValue>> = table.rows[..200].to_vec();
    let x = model::encode_matrix(&artifact.preprocessor, &artifact.features, &rows).unwrap();
    // Refit exactly as training does and ask linfa itself.
    let split = super::split::holdout(&table.labels, config.holdout_fraction, config.seed);
    let (tr, tl) = table.select(&split.train);
    let xt = model::encode_matrix(&artifact.preprocessor, &artifact.features, &tr).unwrap();
    let y: ndarray::Array1<usize> = tl.iter().map(|&l| usize::from(l)).collect();
    let fitted = linfa_logistic::LogisticRegression::default()
        .alpha(config.alpha)
        .max_iterations(config.max_iterations)
        .gradient_tolerance(config.gradient_tolerance)
        .fit(&Dataset::new(xt, y))
        .unwrap();
    // linfa reports the probability of its majority class ("good"); ours is P("bad").
    assert_eq!(fitted.labels().pos.class, 0);
    let linfa_p = fitted.predict_probabilities(&x).mapv(|p| 1.0 - p);
    let (ours, _) = artifact.score(&rows).unwrap();
    for (a, b) in ours.iter().zip(linfa_p.iter()) {
        assert!((a - b).abs() < 1e-9, "{a} vs {b}");
    }
}

#[test]
fn unknown_category_encodes_as_zeros_and_is_counted() {
    let table = credit();
    let artifact = model::train(&table, &TrainConfig::default(), "credit@1", "x").unwrap();
    let mut row = table.rows[0].clone();
    let home = artifact
        .features
        .iter()
        .position(|f| f.name == "Home")
        .unwrap();
    row[home] = RawValue::Text("houseboat".into());
    let (p, stats) = artifact.score(&[row]).unwrap();
    assert_eq!(stats.unknown_categories, 1);
    assert!(p[0].is_finite());
    let age = artifact
        .features
        .iter()
        .position(|f| f.name == "Age")
        .unwrap();
    let mut bad = table.rows[0].clone();
    bad[age] = RawValue::Text("old".into());
    let err = artifact.score(&[table.rows[1].clone(), bad]).unwrap_err();
    assert_eq!((err.row, err.column.as_str()), (1, "Age"));
}
