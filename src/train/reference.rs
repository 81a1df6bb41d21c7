//! The reference profile a model version carries for drift monitoring: the training
//! split's features plus the holdout predictions, profiled with the shared
//! [`ProfileBuilder`].
//!
//! The prediction columns are named exactly as `serve` names its Open Inference Protocol
//! outputs, `label` (categorical, the predicted class) and `probability` (numeric, the
//! positive-class probability), because the sidecar maps model responses onto profile
//! columns by name. They are profiled from the holdout (rows training never saw), so their
//! `count` is the holdout size while the feature columns count training rows.

use super::evaluation::HoldoutScoring;
use super::model::ModelArtifact;
use super::table::RawValue;
use crate::profile::format::LabelledPredictions;
use crate::profile::schema::{ColumnKind, ColumnRole, ColumnSchema, Schema};
use crate::profile::{ProfileBuilder, ProfileOptions};
use anyhow::bail;

/// Name of the predicted-label column.
pub const LABEL_COLUMN: &str = "label";
/// Name of the positive-class probability column.
pub const PROBABILITY_COLUMN: &str = "probability";

fn cell(value: &RawValue) -> String {
    match value {
        RawValue::Missing => String::new(),
        RawValue::Number(x) => format!("{x}"),
        RawValue::Text(t) => t.clone(),
    }
}

/// Holdout rows kept in the profile at most: CBPE's calibration and sampling error
/// settle well before this, and the profile stays a few MiB at most.
pub const MAX_LABELLED_PREDICTIONS: usize = 100_000;

/// The holdout's scores with their true and predicted classes, for estimating
/// performance before labels (`quality::cbpe`): the rows the model never trained on, as
/// NannyML's reference. Beyond [`MAX_LABELLED_PREDICTIONS`], every k-th row.
fn labelled_predictions(artifact: &ModelArtifact, scoring: &HoldoutScoring) -> LabelledPredictions {
    let n = scoring.holdout_scores.len();
    let step = n.div_ceil(MAX_LABELLED_PREDICTIONS).max(1);
    let mut kept = LabelledPredictions {
        positive_class: artifact.classes.positive.clone(),
        ..Default::default()
    };
    for i in (0..n).step_by(step) {
        let score = scoring.holdout_scores[i];
        kept.scores.push(score);
        kept.actual.push(scoring.holdout_labels[i]);
        kept.predicted.push(score >= artifact.threshold);
    }
    kept
}

/// The profile JSON bytes of a model version.
pub fn profile_bytes(
    artifact: &ModelArtifact,
    scoring: &HoldoutScoring,
) -> anyhow::Result<Vec<u8>> {
    if let Some(f) = artifact
        .features
        .iter()
        .find(|f| f.name == LABEL_COLUMN || f.name == PROBABILITY_COLUMN)
    {
        bail!(
            "feature {:?} has the name of a prediction column of the reference profile \
             (label, probability): rename the column in the dataset",
            f.name
        );
    }
    let options = ProfileOptions::default();
    let feature_schema = Schema {
        columns: artifact
            .features
            .iter()
            .map(|f| ColumnSchema {
                name: f.name.clone(),
                kind: f.kind,
                role: ColumnRole::Feature,
            })
            .collect(),
    };
    let mut features = ProfileBuilder::new(&feature_schema, &options);
    for row in &scoring.train_rows {
        let record = csv::StringRecord::from(row.iter().map(cell).collect::<Vec<_>>());
        features.push_record(&record)?;
    }
    let prediction_schema = Schema {
        columns: vec![
            ColumnSchema {
                name: LABEL_COLUMN.into(),
                kind: ColumnKind::Categorical,
                role: ColumnRole::Prediction,
            },
            ColumnSchema {
                name: PROBABILITY_COLUMN.into(),
                kind: ColumnKind::Numeric,
                role: ColumnRole::Prediction,
            },
        ],
    };
    let mut predictions = ProfileBuilder::new(&prediction_schema, &options);
    for &p in &scoring.holdout_scores {
        let record =
            csv::StringRecord::from(vec![artifact.label_for(p).to_string(), format!("{p}")]);
        predictions.push_record(&record)?;
    }
    let mut profile = features.finish(&format!(
        "{} training split ({} rows); {}/{} from the holdout ({} rows)",
        artifact.training.dataset,
        scoring.train_rows.len(),
        LABEL_COLUMN,
        PROBABILITY_COLUMN,
        scoring.holdout_scores.len()
    ));
    profile
        .columns
        .extend(predictions.finish("holdout predictions").columns);
    profile.labelled_predictions = Some(labelled_predictions(artifact, scoring));
    Ok(profile.to_json().into_bytes())
}
