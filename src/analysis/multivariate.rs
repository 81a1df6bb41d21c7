//! Live multivariate drift: at each evaluation, both methods of
//! [`crate::drift::multivariate`] compare a uniform sample of the window's feature rows
//! (at most `analysis.multivariate.window_rows`, kept by the workers) with the reference
//! profile's row sample (fitted once per reference).
//!
//! The evaluator copies the sampled rows out under the model version's lock and runs the
//! methods without it, so workers keep recording rows meanwhile (a domain classifier
//! takes up to a second of CPU at the caps; `docs/multivariate-drift.md`). Verdicts go
//! through `analysis.persistence` like the columns', then into the report's
//! `multivariate` section and the `modelwatch_multivariate_drift_*` gauges.

use super::LiveAnalysis;
use super::state::{ModelVersionState, remove_multivariate};
use crate::config::multivariate::MIN_WINDOW_ROWS;
use crate::drift::alarms::Persistence;
use crate::drift::model_report::ModelReport;
use crate::drift::multivariate::{FeatureTable, FittedReference, MultivariateConfig};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// One model version's multivariate evaluation, ready to run without its lock.
pub struct Job {
    fitted: Arc<FittedReference>,
    table: FeatureTable,
}

/// The rows to evaluate, when multivariate drift is on, the reference has a row sample
/// and the window has sampled at least [`MIN_WINDOW_ROWS`] rows; otherwise the version's
/// multivariate gauges go (a window that emptied must not keep an old verdict).
pub fn prepare(analysis: &LiveAnalysis, state: &ModelVersionState) -> Option<Job> {
    let job = analysis
        .config
        .multivariate
        .enabled
        .then(|| state.reference.multivariate())
        .flatten()
        .and_then(|fitted| {
            let rows = state.features.window.sampled_rows();
            (rows.len() >= MIN_WINDOW_ROWS).then(|| Job {
                table: FeatureTable::from_rows(&state.reference.profile, fitted.names(), &rows),
                fitted,
            })
        });
    if job.is_none() {
        remove_multivariate(
            &analysis.metrics,
            &state.labels.model,
            &state.labels.version,
        );
    }
    job
}

/// Runs `job` (without the state's lock), then records its verdicts in `state` (with it)
/// and in `report`.
pub fn run(
    analysis: &LiveAnalysis,
    shared: &Mutex<ModelVersionState>,
    job: Job,
    report: &mut ModelReport,
) {
    let config = MultivariateConfig {
        classifier_rows: analysis.config.multivariate.classifier_rows,
        ..MultivariateConfig::default()
    };
    let started = Instant::now();
    let outcome = job.fitted.evaluate(&job.table, &config);
    tracing::debug!(
        model = %report.model,
        model_version = %report.model_version,
        reference_rows = job.fitted.rows(),
        window_rows = job.table.rows(),
        features = job.fitted.names().len(),
        seconds = started.elapsed().as_secs_f64(),
        "multivariate drift evaluated"
    );
    let mut state = shared.lock().expect("model state poisoned");
    if state.is_retired() {
        return;
    }
    let (model, version) = (state.labels.model.clone(), state.labels.version.clone());
    let m = &analysis.metrics;
    let mut results = match outcome {
        Ok(results) => results,
        Err(e) => {
            tracing::warn!(%model, model_version = %version, error = %e, "multivariate drift could not be evaluated");
            remove_multivariate(m, &model, &version);
            return;
        }
    };
    // Validated at start: the fallback never applies.
    let persistence = Persistence::parse(&analysis.config.persistence).unwrap_or(Persistence::NONE);
    for result in &mut results {
        result.evaluation_drifted = Some(result.drifted);
        result.drifted = state
            .multivariate_alarms
            .entry(result.method)
            .or_default()
            .record(result.drifted, persistence);
        let values = [&*model, &*version, result.method.as_str()];
        m.multivariate_score
            .with_label_values(&values)
            .set(result.score);
        m.multivariate_detected
            .with_label_values(&values)
            .set(i64::from(result.drifted));
    }
    report.window.multivariate_rows = job.table.rows() as u64;
    report.multivariate = results;
}
