//! Live multivariate drift: at each evaluation, both methods of
//! [`crate::drift::multivariate`] compare a uniform sample of the window's feature rows
//! (at most `analysis.multivariate.window_rows`, kept by the workers) with the reference
//! profile's row sample (fitted once per reference).
//!
//! They run on their own thread (`multivariate-drift`, nice 10), one evaluation at a
//! time: the evaluator copies the sampled rows under the model version's lock and
//! [`offer`]s them without waiting; while the thread is busy, offers are skipped. So the
//! columns' evaluation never waits for the domain classifier (up to a second of CPU at the
//! caps, `docs/multivariate-drift.md`), and the CPU it takes is one thread's at most. The
//! thread records the verdicts in the model version's state, through
//! `analysis.persistence` like the columns', and sets the
//! `modelwatch_multivariate_drift_*` gauges; the next report shows them, with the time
//! their rows were taken from the window.

use super::LiveAnalysis;
use super::state::{ModelVersionState, remove_multivariate};
use crate::config::multivariate::MIN_WINDOW_ROWS;
use crate::drift::alarms::Persistence;
use crate::drift::multivariate::{FeatureTable, FittedReference, MultivariateConfig};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

/// One model version's multivariate evaluation, ready to run without its lock.
pub struct Job {
    state: Arc<Mutex<ModelVersionState>>,
    fitted: Arc<FittedReference>,
    table: FeatureTable,
    /// When the rows were taken from the window.
    at: SystemTime,
}

/// Where the evaluator hands jobs to the thread: room for one, never waited on.
pub type Jobs = crossbeam_channel::Sender<Job>;

/// Starts the thread; it ends once the sender is dropped ([`LiveAnalysis::stop`]) or the
/// analysis is stopping, and is not joined (see `LiveAnalysis::start`).
pub fn start(
    analysis: std::sync::Weak<LiveAnalysis>,
) -> std::io::Result<(Jobs, std::thread::JoinHandle<()>)> {
    let (jobs, queue) = crossbeam_channel::bounded::<Job>(1);
    let thread = std::thread::Builder::new()
        .name("multivariate-drift".into())
        .spawn(move || {
            super::worker::lower_priority();
            for job in queue {
                let Some(analysis) = analysis.upgrade() else {
                    return;
                };
                if analysis.stopping() {
                    // Shutting down: a verdict now would come after the final report.
                    return;
                }
                run(&analysis, job);
            }
        })?;
    Ok((jobs, thread))
}

/// Offers `state`'s window rows to the thread, when multivariate drift is on, the
/// reference has a row sample, the window has sampled at least [`MIN_WINDOW_ROWS`] rows
/// and the thread is free. Without rows the version's results and gauges go (a window
/// that emptied must not keep an old verdict).
pub fn offer(
    analysis: &LiveAnalysis,
    shared: &Arc<Mutex<ModelVersionState>>,
    state: &mut ModelVersionState,
) {
    let Some(jobs) = analysis.multivariate_jobs() else {
        return;
    };
    let fitted = state.reference.multivariate();
    let rows = fitted
        .as_ref()
        .map(|_| state.features.window.sampled_rows())
        .unwrap_or_default();
    let Some(fitted) = fitted.filter(|_| rows.len() >= MIN_WINDOW_ROWS) else {
        state.multivariate.clear();
        state.multivariate_rows = 0;
        state.multivariate_at = None;
        remove_multivariate(
            &analysis.metrics,
            &state.labels.model,
            &state.labels.version,
        );
        return;
    };
    if jobs.is_full() {
        // Busy with an earlier evaluation: this one is skipped, not queued.
        return;
    }
    let table = FeatureTable::from_rows(&state.reference.profile, fitted.names(), &rows);
    let _ = jobs.try_send(Job {
        state: shared.clone(),
        fitted,
        table,
        at: SystemTime::now(),
    });
}

/// Runs `job` (without the state's lock), then records its verdicts in the state (with
/// it) and in the gauges.
fn run(analysis: &LiveAnalysis, job: Job) {
    let config = MultivariateConfig {
        classifier_rows: analysis.config.multivariate.classifier_rows,
        ..MultivariateConfig::default()
    };
    let started = Instant::now();
    let outcome = job.fitted.evaluate(&job.table, &config);
    let mut state = job.state.lock().expect("model state poisoned");
    if state.is_retired() {
        return;
    }
    let (model, version) = (state.labels.model.clone(), state.labels.version.clone());
    tracing::debug!(
        %model,
        model_version = %version,
        reference_rows = job.fitted.rows(),
        window_rows = job.table.rows(),
        features = job.fitted.names().len(),
        seconds = started.elapsed().as_secs_f64(),
        "multivariate drift evaluated"
    );
    let m = &analysis.metrics;
    let mut results = match outcome {
        Ok(results) => results,
        Err(e) => {
            tracing::warn!(%model, model_version = %version, error = %e, "multivariate drift could not be evaluated");
            state.multivariate.clear();
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
    state.multivariate = results;
    state.multivariate_rows = job.table.rows() as u64;
    state.multivariate_at = Some(humantime::format_rfc3339_millis(job.at).to_string());
}
