//! Model quality: predictions kept so that delayed labels join them.
//!
//! Analysis workers hand each analysed response row to the [`store::PredictionStore`]
//! (request id and row → model version, output values, time), bounded on disk in the state
//! directory. `POST /api/v1/feedback` brings labels in ([`feedback`] parses the JSON,
//! NDJSON and CSV forms); [`Quality::receive`] joins them and counts each item's outcome in
//! `modelwatch_feedback_total{model,model_version,outcome}`, and each join's label delay
//! in `modelwatch_label_delay_seconds`. On each drift evaluation, [`Quality::evaluate`]
//! computes each version's realised [`performance`] on its labelled window
//! (`modelwatch_performance{model,model_version,metric}`, `/api/v1/performance`), beside
//! the validation metrics the registry recorded for the version
//! (`modelwatch_performance_reference`), and the share of its predictions that have a
//! label ([`coverage`], `modelwatch_label_coverage`).

pub mod cbpe;
pub mod coverage;
pub mod feedback;
pub mod performance;
pub mod store;

use crate::config::quality::QualityConfig;
use feedback::{Form, Outcome, Problem, Unreadable};
use performance::{PerformanceReport, Task};
use prometheus::{
    GaugeVec, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry,
};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::RwLock;
use store::PredictionStore;

/// The model and version label of feedback that matched no prediction.
pub const UNKNOWN: &str = "unknown";

/// Label delays, in seconds: a second to a month (labels from business processes).
const DELAY_BUCKETS: &[f64] = &[
    1.0, 10.0, 60.0, 300.0, 900.0, 3600.0, 14400.0, 43200.0, 86400.0, 259200.0, 604800.0, 2592000.0,
];

/// Problems listed in a feedback answer at most; the counts cover all of them.
const MAX_PROBLEMS: usize = 100;

/// The model quality metrics.
#[derive(Clone)]
pub struct QualityMetrics {
    pub feedback: IntCounterVec,
    pub label_delay: HistogramVec,
    /// Predictions written to the store.
    pub stored: IntCounter,
    /// Predictions whose request id and row were already stored (the first stays).
    pub repeated: IntCounter,
    /// Predictions lost because the write queue was full or a write failed.
    pub dropped: IntCounter,
    pub evicted_retention: IntCounter,
    pub evicted_bytes: IntCounter,
    /// Bytes of the store's live pages.
    pub bytes: IntGauge,
    pub performance: GaugeVec,
    /// Labelled predictions in each version's window.
    pub performance_rows: IntGaugeVec,
    pub performance_reference: GaugeVec,
    pub label_coverage: GaugeVec,
    /// The estimate before labels (CBPE).
    pub estimated: cbpe::live::EstimateMetrics,
}

impl QualityMetrics {
    pub fn register(registry: &Registry) -> prometheus::Result<QualityMetrics> {
        let feedback = IntCounterVec::new(
            Opts::new(
                "modelwatch_feedback_total",
                "Feedback items (labels) received, by the model version of their \
                 prediction and outcome (joined, unknown_request, duplicate, expired, invalid).",
            ),
            &["model", "model_version", "outcome"],
        )?;
        let label_delay = HistogramVec::new(
            HistogramOpts::new(
                "modelwatch_label_delay_seconds",
                "Time from a prediction to its label, for joined labels.",
            )
            .buckets(DELAY_BUCKETS.to_vec()),
            &["model", "model_version"],
        )?;
        let stored_predictions = IntCounterVec::new(
            Opts::new(
                "modelwatch_prediction_store_writes_total",
                "Predictions offered to the prediction store, by outcome (stored; repeated: \
                 the request id and row were stored already; dropped: the write queue was \
                 full or the write failed).",
            ),
            &["outcome"],
        )?;
        let evicted = IntCounterVec::new(
            Opts::new(
                "modelwatch_prediction_store_evicted_total",
                "Predictions removed from the prediction store, by reason (retention: older \
                 than quality.retention; bytes: the oldest, beyond quality.max_bytes).",
            ),
            &["reason"],
        )?;
        let bytes = IntGauge::new(
            "modelwatch_prediction_store_bytes",
            "Bytes of the prediction store's live pages (bounded by quality.max_bytes).",
        )?;
        let performance = GaugeVec::new(
            Opts::new(
                "modelwatch_performance",
                "Realised performance of a model version on its labelled predictions \
                 (the latest quality.window_rows labels within quality.window), by metric.",
            ),
            &["model", "model_version", "metric"],
        )?;
        let performance_rows = IntGaugeVec::new(
            Opts::new(
                "modelwatch_performance_rows",
                "Labelled predictions in the window that modelwatch_performance covers.",
            ),
            &["model", "model_version"],
        )?;
        let performance_reference = GaugeVec::new(
            Opts::new(
                "modelwatch_performance_reference",
                "A model version's validation (holdout) metrics as the registry recorded \
                 them at training, by metric: what modelwatch_performance is compared with.",
            ),
            &["model", "model_version", "metric"],
        )?;
        let label_coverage = GaugeVec::new(
            Opts::new(
                "modelwatch_label_coverage",
                "Share (0 to 1) of a model version's predictions made within quality.window \
                 that have a label.",
            ),
            &["model", "model_version"],
        )?;
        registry.register(Box::new(performance_reference.clone()))?;
        registry.register(Box::new(label_coverage.clone()))?;
        registry.register(Box::new(performance.clone()))?;
        registry.register(Box::new(performance_rows.clone()))?;
        registry.register(Box::new(feedback.clone()))?;
        registry.register(Box::new(label_delay.clone()))?;
        registry.register(Box::new(stored_predictions.clone()))?;
        registry.register(Box::new(evicted.clone()))?;
        registry.register(Box::new(bytes.clone()))?;
        for outcome in Outcome::ALL {
            feedback.with_label_values(&[UNKNOWN, UNKNOWN, outcome.as_str()]);
        }
        Ok(QualityMetrics {
            feedback,
            label_delay,
            stored: stored_predictions.with_label_values(&["stored"]),
            repeated: stored_predictions.with_label_values(&["repeated"]),
            dropped: stored_predictions.with_label_values(&["dropped"]),
            evicted_retention: evicted.with_label_values(&["retention"]),
            evicted_bytes: evicted.with_label_values(&["bytes"]),
            bytes,
            performance,
            performance_rows,
            performance_reference,
            label_coverage,
            estimated: cbpe::live::EstimateMetrics::register(registry)?,
        })
    }
}

/// The prediction store and its metrics: what the sidecar runs with `quality.enabled`.
pub struct Quality {
    pub store: Arc<PredictionStore>,
    pub metrics: QualityMetrics,
    config: QualityConfig,
    report: RwLock<Arc<PerformanceReport>>,
    /// What the registry said of each (model, version), once found: a registered version's
    /// profile and metrics do not change, and a retired version is not read again.
    facts: std::sync::Mutex<std::collections::HashMap<VersionKey, VersionFacts>>,
    estimator: cbpe::live::Estimator,
}

/// A (model, version) as the store labels it.
type VersionKey = (Arc<str>, Arc<str>);

/// What the registry knows of a model version that its realised performance needs.
#[derive(Clone, Debug, Default)]
pub struct VersionFacts {
    pub task: Task,
    /// Validation metrics by name (those [`performance::is_metric_name`] knows).
    pub reference: BTreeMap<String, f64>,
    /// A classifier of three or more classes: its classes and their probability outputs.
    pub classes: Option<performance::ClassOutputs>,
}

impl VersionFacts {
    /// From a version's reference profile and the metrics JSON the registry recorded
    /// (`{"holdout": {"accuracy": …}, …}`, as `modelwatch train` registers it).
    pub fn of(profile: &crate::profile::Profile, metrics: &serde_json::Value) -> VersionFacts {
        let reference = metrics
            .get("holdout")
            .and_then(serde_json::Value::as_object)
            .map(|holdout| {
                holdout
                    .iter()
                    .filter(|(name, _)| performance::is_metric_name(name))
                    .filter_map(|(name, v)| Some((name.clone(), v.as_f64()?)))
                    .filter(|(_, v)| v.is_finite())
                    .collect()
            })
            .unwrap_or_default();
        VersionFacts {
            task: Task::of_profile(profile),
            reference,
            classes: performance::ClassOutputs::of_profile(profile),
        }
    }
}

/// The answer to one feedback request.
#[derive(Debug, Default, serde::Serialize)]
pub struct FeedbackAnswer {
    /// Items read from the body.
    pub items: usize,
    /// How many items had each outcome.
    pub outcomes: BTreeMap<Outcome, usize>,
    /// Every item that did not join (the first 100), with where it is and why.
    pub problems: Vec<Problem>,
    /// Problems beyond those listed.
    #[serde(skip_serializing_if = "is_zero")]
    pub more_problems: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl FeedbackAnswer {
    /// True when nothing in the batch joined and something was wrong with it.
    pub fn nothing_joined(&self) -> bool {
        self.outcomes.get(&Outcome::Joined).copied().unwrap_or(0) == 0 && !self.problems.is_empty()
    }

    fn problem(&mut self, problem: Problem) {
        *self.outcomes.entry(problem.outcome).or_default() += 1;
        if self.problems.len() < MAX_PROBLEMS {
            self.problems.push(problem);
        } else {
            self.more_problems += 1;
        }
    }
}

impl Quality {
    /// Opens the store in `state_dir` and registers the metrics; the thread writes the
    /// store until [`PredictionStore::close`].
    pub fn start(
        state_dir: &Path,
        config: &QualityConfig,
        registry: &Registry,
    ) -> anyhow::Result<(Quality, std::thread::JoinHandle<()>)> {
        let metrics = QualityMetrics::register(registry)?;
        let (store, thread) = PredictionStore::open(state_dir, config, metrics.clone())?;
        let quality = Quality {
            store,
            metrics,
            config: config.clone(),
            report: Default::default(),
            facts: Default::default(),
            estimator: Default::default(),
        };
        Ok((quality, thread))
    }

    /// Computes every stored version's realised performance on its window and label
    /// coverage, and each referenced version's estimate before labels (CBPE), sets the
    /// gauges (a version without labels in its window has no realised ones) and keeps the
    /// report. `facts` says what the registry knows of a (model, version): its task and
    /// validation metrics.
    pub fn evaluate(
        &self,
        references: &[cbpe::live::VersionReference],
        facts: impl Fn(&str, &str) -> Option<VersionFacts>,
    ) {
        let now = store::now_ms();
        let since = now - self.config.window.as_millis() as i64;
        let rfc3339 = |ms: i64| {
            let at = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms.max(0) as u64);
            humantime::format_rfc3339_millis(at).to_string()
        };
        let mut report = PerformanceReport {
            evaluated_at: rfc3339(now),
            window: performance::ReportWindow {
                start: rfc3339(since),
                end: rfc3339(now),
                max_rows: self.config.window_rows,
            },
            models: Vec::new(),
        };
        let m = &self.metrics;
        m.performance.reset();
        m.performance_rows.reset();
        m.performance_reference.reset();
        m.label_coverage.reset();
        for (model, version) in self.store.versions() {
            let facts = self.facts_of(&model, &version, &facts);
            for (metric, value) in &facts.reference {
                m.performance_reference
                    .with_label_values(&[&*model, &*version, metric])
                    .set(*value);
            }
            let counts = self.store.coverage(&model, &version, since);
            if let Some(coverage) = counts.coverage() {
                m.label_coverage
                    .with_label_values(&[&*model, &*version])
                    .set(coverage);
            }
            let rows = match self
                .store
                .joined(&model, &version, since, self.config.window_rows)
            {
                Ok(rows) => rows,
                Err(err) => {
                    tracing::warn!(%err, %model, %version, "could not read labelled predictions");
                    continue;
                }
            };
            let mut p =
                performance::evaluate(&model, &version, facts.task, facts.classes.as_ref(), &rows);
            p.predictions = counts.predicted;
            p.labelled = counts.labelled;
            p.label_coverage = counts.coverage();
            p.reference = facts.reference;
            if p.rows > 0 {
                m.performance_rows
                    .with_label_values(&[&*model, &*version])
                    .set(p.rows as i64);
            }
            for (metric, value) in &p.metrics {
                m.performance
                    .with_label_values(&[&*model, &*version, metric])
                    .set(*value);
            }
            report.models.push(p);
        }
        self.estimator.evaluate_all(
            &self.store,
            references,
            (since, self.config.window_rows),
            &m.estimated,
            &mut report,
        );
        *self.report.write().expect("performance report poisoned") = Arc::new(report);
    }

    fn facts_of(
        &self,
        model: &Arc<str>,
        version: &Arc<str>,
        find: &impl Fn(&str, &str) -> Option<VersionFacts>,
    ) -> VersionFacts {
        let key = (model.clone(), version.clone());
        if let Some(found) = self.facts.lock().expect("facts poisoned").get(&key) {
            return found.clone();
        }
        match find(model, version) {
            Some(found) => {
                let mut cache = self.facts.lock().expect("facts poisoned");
                cache.insert(key, found.clone());
                found
            }
            None => VersionFacts::default(),
        }
    }

    /// The latest performance report.
    pub fn report(&self) -> Arc<PerformanceReport> {
        self.report
            .read()
            .expect("performance report poisoned")
            .clone()
    }

    /// Parses a feedback body, joins its items and counts every outcome. `Err` when the
    /// body cannot be read at all (nothing counted then but the refusal).
    pub fn receive(
        &self,
        content_type: Option<&str>,
        body: &[u8],
    ) -> anyhow::Result<Result<FeedbackAnswer, Unreadable>> {
        let (items, unusable) = match feedback::parse(Form::of(content_type, body), body) {
            Ok(parsed) => parsed,
            Err(unreadable) => return Ok(Err(unreadable)),
        };
        let mut answer = FeedbackAnswer {
            items: items.len() + unusable.len(),
            ..Default::default()
        };
        let m = &self.metrics;
        for problem in unusable {
            m.feedback
                .with_label_values(&[UNKNOWN, UNKNOWN, Outcome::Invalid.as_str()])
                .inc();
            answer.problem(problem);
        }
        let verdicts = self.store.join(&items, store::now_ms())?;
        for (item, verdict) in items.iter().zip(verdicts) {
            m.feedback
                .with_label_values(&[&verdict.model, &verdict.version, verdict.outcome.as_str()])
                .inc();
            if let Some(delay) = verdict.delay {
                m.label_delay
                    .with_label_values(&[&verdict.model, &verdict.version])
                    .observe(delay.as_secs_f64());
            }
            if verdict.outcome == Outcome::Joined {
                *answer.outcomes.entry(Outcome::Joined).or_default() += 1;
            } else {
                answer.problem(Problem {
                    at: item.at,
                    request_id: Some(item.request_id.clone()),
                    outcome: verdict.outcome,
                    reason: verdict.reason.unwrap_or_default(),
                });
            }
        }
        Ok(Ok(answer))
    }
}

#[cfg(test)]
mod tests;
