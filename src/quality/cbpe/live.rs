//! CBPE on the sidecar: each model version's estimate over its latest predictions.
//!
//! The reference is the version's profile's labelled validation rows
//! ([`LabelledPredictions`], written by training). [`Estimator`] fits [`Cbpe`] once per
//! version and reference (a refused reference is remembered with its reason, logged once)
//! and, at every evaluation, estimates on the latest `quality.window_rows` predictions
//! made within `quality.window`, labelled or not: the estimate needs no label, so it moves
//! as soon as the inputs do.
//!
//! A stored prediction gives CBPE its score (the probability output, found as the realised
//! metrics find it) and its predicted class (the first output, compared with the
//! reference's positive class). A classifier of three or more classes (its reference has
//! `multiclass` rows) gets [`MulticlassCbpe`]: each class's score is the output the
//! reference names for it (`score_outputs`), the predicted class the first output. Rows
//! without a numeric score (or, multiclass, with a class the reference does not know) are
//! left out and counted.

use super::multiclass::MulticlassCbpe;
use super::{Cbpe, Estimate, METRICS};
use crate::profile::format::{LabelledPredictions, MulticlassPredictions};
use crate::quality::performance::{
    PerformanceReport, VersionPerformance, class_of, probability_output,
};
use crate::quality::store::PredictionStore;
use prometheus::{GaugeVec, IntGaugeVec, Opts, Registry};
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

/// A model version's reference, as the estimate needs it.
pub struct VersionReference<'a> {
    pub model: &'a str,
    pub version: &'a str,
    /// What identifies the reference's content (a new profile means a new fit).
    pub reference_id: &'a str,
    /// `None` when the profile holds no labelled validation rows (a dataset profile).
    pub labelled: Option<&'a LabelledPredictions>,
}

/// One version's estimate, in `/api/v1/performance` beside the realised figures.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct EstimatedPerformance {
    /// Predictions the estimate covers.
    pub rows: usize,
    /// Predictions in the window without a usable score (left out).
    #[serde(skip_serializing_if = "is_zero")]
    pub unscored: usize,
    /// Whether the reference's scores were calibrated (isotonic) before estimating.
    pub calibrated: bool,
    /// Metric → estimate with its sampling error and band.
    pub metrics: BTreeMap<&'static str, Estimate>,
    /// Why there is no estimate, when the reference cannot support one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unavailable: Option<String>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// CBPE fitted on a version's reference.
pub enum Fit {
    Binary(Cbpe),
    Multiclass(MulticlassCbpe),
}

impl Fit {
    /// Whether any scores get calibrated.
    fn calibrated(&self) -> bool {
        match self {
            Fit::Binary(cbpe) => cbpe.calibrator.is_some(),
            Fit::Multiclass(cbpe) => cbpe.calibrators.iter().any(Option::is_some),
        }
    }

    fn of(labelled: &LabelledPredictions) -> Result<Fit, String> {
        let Some(m) = &labelled.multiclass else {
            return Cbpe::fit(&labelled.scores, &labelled.actual, &labelled.predicted)
                .map(Fit::Binary);
        };
        if m.score_outputs.len() != m.classes.len() {
            return Err(format!(
                "{} score outputs for {} classes in the reference's multiclass rows",
                m.score_outputs.len(),
                m.classes.len()
            ));
        }
        let index = |v: &[u32]| v.iter().map(|&c| c as usize).collect::<Vec<_>>();
        MulticlassCbpe::fit(
            &canonical(&m.classes),
            &m.scores,
            &index(&m.actual),
            &index(&m.predicted),
        )
        .map(Fit::Multiclass)
    }
}

/// Class names as the live side compares them ([`class_of`]: `"1.0"` is class `1`).
fn canonical(classes: &[String]) -> Vec<String> {
    classes
        .iter()
        .map(|c| class_of(&Value::String(c.clone())).unwrap_or_else(|| c.clone()))
        .collect()
}

type Fitted = (String, Result<Arc<Fit>, String>);

/// Fitted CBPE per (model, version), kept across evaluations.
#[derive(Default)]
pub struct Estimator {
    fitted: Mutex<HashMap<(String, String), Fitted>>,
}

impl Estimator {
    /// The fit for a version's reference, fitting (and logging a refusal) on first use.
    fn fit(
        &self,
        reference: &VersionReference,
        labelled: &LabelledPredictions,
    ) -> Result<Arc<Fit>, String> {
        let key = (reference.model.to_string(), reference.version.to_string());
        let mut fitted = self.fitted.lock().expect("CBPE fits poisoned");
        if let Some((id, fit)) = fitted.get(&key)
            && id == reference.reference_id
        {
            return fit.clone();
        }
        let fit = Fit::of(labelled).map(Arc::new);
        match &fit {
            Ok(fit) => tracing::info!(
                model = reference.model,
                version = reference.version,
                rows = labelled.scores.len()
                    + labelled.multiclass.as_ref().map_or(0, |m| m.actual.len()),
                calibrated = fit.calibrated(),
                "fitted the performance estimate (CBPE) on the reference's validation rows"
            ),
            Err(reason) => tracing::warn!(
                model = reference.model,
                version = reference.version,
                %reason,
                "no performance estimate for this version"
            ),
        }
        fitted.insert(key, (reference.reference_id.to_string(), fit.clone()));
        fit
    }

    /// Forgets fits of versions no longer referenced.
    pub fn retain(&self, references: &[VersionReference]) {
        self.fitted
            .lock()
            .expect("CBPE fits poisoned")
            .retain(|(m, v), _| references.iter().any(|r| r.model == m && r.version == v));
    }

    /// The estimate of one version on its latest predictions; `None` when its reference
    /// holds no labelled rows or no prediction is in the window.
    pub fn estimate(
        &self,
        store: &PredictionStore,
        reference: &VersionReference,
        since_ms: i64,
        rows: usize,
    ) -> Option<EstimatedPerformance> {
        let labelled = reference.labelled?;
        let fit = match self.fit(reference, labelled) {
            Ok(fit) => fit,
            Err(reason) => {
                return Some(EstimatedPerformance {
                    unavailable: Some(reason),
                    ..Default::default()
                });
            }
        };
        let recent = match store.recent(reference.model, reference.version, since_ms, rows) {
            Ok(recent) => recent,
            Err(err) => {
                tracing::warn!(%err, model = reference.model, version = reference.version,
                    "could not read recent predictions");
                return None;
            }
        };
        let (estimates, rows) = match (&*fit, &labelled.multiclass) {
            (Fit::Multiclass(cbpe), Some(m)) => {
                let (scores, predicted) = multiclass_rows(cbpe, m, &recent);
                (cbpe.estimate(&scores, &predicted), predicted.len())
            }
            (Fit::Binary(cbpe), _) => {
                // The profile's positive class is text ("1" from a CSV); the model may
                // answer 1.0.
                let positive = class_of(&Value::String(labelled.positive_class.clone()))
                    .unwrap_or_else(|| labelled.positive_class.clone());
                let scored: Vec<(f64, bool)> = recent
                    .iter()
                    .filter_map(|(outputs, values)| scored(outputs, values, &positive))
                    .collect();
                (cbpe.estimate(&scored), scored.len())
            }
            (Fit::Multiclass(_), None) => return None,
        };
        Some(EstimatedPerformance {
            rows,
            unscored: recent.len() - rows,
            calibrated: fit.calibrated(),
            metrics: METRICS.into_iter().zip(estimates?).collect(),
            unavailable: None,
        })
    }
}

/// Stored predictions as multiclass CBPE reads them: per class of `cbpe.classes`, each
/// row's score, and each row's predicted class index. Rows without every score, or
/// predicting a class the reference does not know, are left out.
fn multiclass_rows(
    cbpe: &MulticlassCbpe,
    reference: &MulticlassPredictions,
    recent: &[(Arc<[String]>, Vec<Value>)],
) -> (Vec<Vec<f64>>, Vec<usize>) {
    // The fit sorted the classes: find each one's score output by name.
    let known = canonical(&reference.classes);
    let score_output: Vec<&str> = cbpe
        .classes
        .iter()
        .map(|c| {
            let at = known.iter().position(|k| k == c).expect("fitted on these");
            reference.score_outputs[at].as_str()
        })
        .collect();
    let mut scores = vec![Vec::new(); cbpe.classes.len()];
    let mut predicted = Vec::new();
    let mut row = Vec::with_capacity(score_output.len());
    for (outputs, values) in recent {
        let Some(class) = values.first().and_then(class_of) else {
            continue;
        };
        let Some(index) = cbpe.classes.iter().position(|c| *c == class) else {
            continue;
        };
        row.clear();
        for name in &score_output {
            let score = outputs
                .iter()
                .position(|o| o == name)
                .and_then(|i| values.get(i))
                .and_then(Value::as_f64)
                .filter(|s| s.is_finite());
            match score {
                Some(s) => row.push(s),
                None => break,
            }
        }
        if row.len() != score_output.len() {
            continue;
        }
        for (column, &s) in scores.iter_mut().zip(&row) {
            column.push(s);
        }
        predicted.push(index);
    }
    (scores, predicted)
}

/// A stored prediction as CBPE reads it: (score, predicted positive).
fn scored(outputs: &[String], values: &[Value], positive: &str) -> Option<(f64, bool)> {
    let predicted = class_of(values.first()?)?;
    let score = values.get(probability_output(outputs, values)?)?.as_f64()?;
    score.is_finite().then_some((score, predicted == positive))
}

/// The estimate's gauges.
#[derive(Clone)]
pub struct EstimateMetrics {
    /// `modelwatch_performance_estimated{model,model_version,metric}`.
    pub value: GaugeVec,
    /// The band: estimate ± 3 sampling errors, within [0, 1].
    pub lower: GaugeVec,
    pub upper: GaugeVec,
    /// Predictions the estimate covers.
    pub rows: IntGaugeVec,
}

impl EstimateMetrics {
    pub fn register(registry: &Registry) -> prometheus::Result<EstimateMetrics> {
        let gauge = |name: &str, help: &str| {
            GaugeVec::new(Opts::new(name, help), &["model", "model_version", "metric"])
        };
        let metrics = EstimateMetrics {
            value: gauge(
                "modelwatch_performance_estimated",
                "Performance of a classifier estimated before labels (CBPE, from its \
                 calibrated scores) on its latest predictions, by metric.",
            )?,
            lower: gauge(
                "modelwatch_performance_estimated_lower",
                "Lower end of the estimate's band (estimate - 3 sampling errors, at least 0).",
            )?,
            upper: gauge(
                "modelwatch_performance_estimated_upper",
                "Upper end of the estimate's band (estimate + 3 sampling errors, at most 1).",
            )?,
            rows: IntGaugeVec::new(
                Opts::new(
                    "modelwatch_performance_estimated_rows",
                    "Predictions (labelled or not) that modelwatch_performance_estimated covers.",
                ),
                &["model", "model_version"],
            )?,
        };
        registry.register(Box::new(metrics.value.clone()))?;
        registry.register(Box::new(metrics.lower.clone()))?;
        registry.register(Box::new(metrics.upper.clone()))?;
        registry.register(Box::new(metrics.rows.clone()))?;
        Ok(metrics)
    }

    fn reset(&self) {
        self.value.reset();
        self.lower.reset();
        self.upper.reset();
        self.rows.reset();
    }
}

impl Estimator {
    /// Estimates every referenced version, replaces the gauges and puts each estimate
    /// beside the version's realised figures in `report` (adding the version when it has
    /// no labels yet).
    pub fn evaluate_all(
        &self,
        store: &PredictionStore,
        references: &[VersionReference],
        (since_ms, rows): (i64, usize),
        metrics: &EstimateMetrics,
        report: &mut PerformanceReport,
    ) {
        self.retain(references);
        metrics.reset();
        for reference in references {
            let Some(estimated) = self.estimate(store, reference, since_ms, rows) else {
                continue;
            };
            let (model, version) = (reference.model, reference.version);
            if estimated.unavailable.is_none() {
                metrics
                    .rows
                    .with_label_values(&[model, version])
                    .set(estimated.rows as i64);
            }
            for (metric, e) in &estimated.metrics {
                let labels = [model, version, metric];
                metrics.value.with_label_values(&labels).set(e.value);
                metrics.lower.with_label_values(&labels).set(e.lower);
                metrics.upper.with_label_values(&labels).set(e.upper);
            }
            let at = report
                .models
                .iter()
                .position(|p| p.model == model && p.model_version == version);
            let at = at.unwrap_or_else(|| {
                report.models.push(VersionPerformance {
                    model: model.into(),
                    model_version: version.into(),
                    ..Default::default()
                });
                report.models.len() - 1
            });
            report.models[at].estimated = Some(estimated);
        }
        report
            .models
            .sort_by(|a, b| (&a.model, &a.model_version).cmp(&(&b.model, &b.model_version)));
    }
}

#[cfg(test)]
pub(crate) mod tests;
