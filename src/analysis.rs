//! Off the hot path: what the proxy saw, turned into distributions and drift.
//!
//! The proxy tees each inference body into a bounded
//! [`Capture`](crate::traffic::capture::Capture) and, when the response has ended, offers
//! one [`Exchange`](crate::traffic::Exchange) to the [`queue::AnalysisQueue`] without
//! waiting. A full queue drops the exchange and counts it; nothing here can slow down or
//! change a response.
//!
//! [`worker`] threads drain the queue: they decode both bodies ([`crate::protocol`]), map
//! the columns onto the model's reference ([`references`]) and add every row to the model
//! version's [`state`]: Prometheus counters per reference bin and data-quality problem,
//! and the live [`window`]. The [`evaluate`] thread recomputes drift on a timer, sets the
//! drift gauges ([`live_metrics`]) and publishes the JSON report
//! ([`crate::drift::model_report`]). With the Elasticsearch export on, workers queue each
//! exchange's request event once decoded, and the evaluator each evaluation as drift
//! snapshots.
//!
//! A model reference `NAME@ALIAS` is [`follow`]ed: a promotion or rollback switches the
//! reference within `analysis.reference_poll`. State is kept per model version, each
//! compared with its own version's profile ([`versions`]); a version that no longer gets
//! traffic once the alias has moved on is retired at the next evaluation, its series
//! removed from `/metrics` and its entry from the report.

pub mod evaluate;
pub mod follow;
pub mod live_metrics;
pub mod llm;
pub mod multivariate;
pub mod queue;
pub mod references;
pub mod state;
pub mod versions;
pub mod window;
pub mod worker;

#[cfg(test)]
mod tests;

use crate::config::{AnalysisConfig, Config};
use crate::drift::model_report::LiveReport;
use crate::drift::report::MethodChoice;
use crate::protocol::Protocol;
use crate::registry::source::ModelSource;
use crate::traffic::identity::ModelLabels;
use live_metrics::LiveMetrics;
use queue::AnalysisQueue;
use references::{LoadedReference, ReferenceSet};
use state::ModelVersionState;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;
use versions::VersionReferences;

type StateKey = (Arc<str>, Arc<str>);

/// Live analysis of one sidecar: references, per-model-version state, the latest report.
pub struct LiveAnalysis {
    pub config: AnalysisConfig,
    pub metrics: LiveMetrics,
    /// The configured protocol, or `None` to detect it per exchange.
    pub protocol: Option<Protocol>,
    full_config: Config,
    /// The registry home (dataset references) and where model references are read from.
    home: PathBuf,
    pub(crate) source: ModelSource,
    references: RwLock<Arc<ReferenceSet>>,
    /// Profiles of the model versions traffic was attributed to.
    versions: VersionReferences,
    states: Mutex<HashMap<StateKey, Arc<Mutex<ModelVersionState>>>>,
    report: RwLock<Arc<LiveReport>>,
    stop: Mutex<Option<crossbeam_channel::Sender<()>>>,
    stopping: std::sync::atomic::AtomicBool,
    /// Where request events (after decoding) and drift snapshots go, once the
    /// Elasticsearch export has started.
    export: std::sync::OnceLock<EventExport>,
    /// The prediction store for the label join, with `quality.enabled`.
    pub quality: Option<crate::quality::Quality>,
    /// The multivariate drift thread's job slot, with `analysis.multivariate.enabled`;
    /// taken at stop, which ends the thread.
    multivariate: Mutex<Option<multivariate::Jobs>>,
}

/// The export queue, and which payloads go into request events.
pub struct EventExport {
    pub queue: Arc<crate::export::elasticsearch::queue::ExportQueue>,
    pub capture: Option<crate::export::elasticsearch::capture::CapturePolicy>,
}

/// What [`LiveAnalysis::start`] hands back to the proxy.
pub struct Started {
    pub analysis: Arc<LiveAnalysis>,
    pub queue: Arc<AnalysisQueue>,
    pub threads: Vec<JoinHandle<()>>,
}

impl LiveAnalysis {
    /// Loads the references, registers the metrics and starts the workers and the
    /// evaluator. Returns `None` when analysis is disabled or no reference is configured.
    pub fn start(
        config: &Config,
        registry: &prometheus::Registry,
    ) -> anyhow::Result<Option<Started>> {
        let analysis_config = &config.analysis;
        if !analysis_config.enabled
            || (analysis_config.reference.is_none() && analysis_config.references.is_empty())
        {
            return Ok(None);
        }
        let home = config.home();
        let source = ModelSource::new(
            home.clone(),
            config.registry_url.as_deref(),
            config.registry_token_file.as_deref(),
            config.registry_ca_file.as_deref(),
            &config.state_dir(),
        )?;
        let references = ReferenceSet::load(config, &home, &source)?;
        let metrics = LiveMetrics::register(registry)?;
        let (queue, receiver) = AnalysisQueue::new(
            analysis_config.queue_capacity,
            analysis_config.queue_bytes,
            registry,
        )?;
        let protocol = match analysis_config.protocol.as_str() {
            "auto" => None,
            name => Some(name.parse::<Protocol>()?),
        };
        let (quality, store_thread) = if config.quality.enabled {
            let (quality, thread) =
                crate::quality::Quality::start(&config.state_dir(), &config.quality, registry)?;
            (Some(quality), Some(thread))
        } else {
            (None, None)
        };
        let (stop_tx, stop_rx) = crossbeam_channel::bounded::<()>(1);
        let follows = references.iter().any(|(_, r)| r.model.is_some());
        let analysis = Arc::new(LiveAnalysis {
            config: analysis_config.clone(),
            metrics,
            protocol,
            full_config: config.clone(),
            versions: VersionReferences::new(source.clone(), analysis_config.max_features),
            home,
            source,
            references: RwLock::new(Arc::new(ReferenceSet::default())),
            states: Mutex::new(HashMap::new()),
            report: RwLock::new(Arc::new(LiveReport::default())),
            stop: Mutex::new(Some(stop_tx)),
            stopping: Default::default(),
            export: Default::default(),
            quality,
            multivariate: Mutex::new(None),
        });
        analysis.install(references);
        let mut threads = Vec::new();
        for i in 0..analysis_config.workers {
            let (a, r) = (analysis.clone(), receiver.clone());
            threads.push(
                std::thread::Builder::new()
                    .name(format!("analysis-{i}"))
                    .spawn(move || worker::run(a, r))?,
            );
        }
        drop(receiver);
        let a = analysis.clone();
        let interval = analysis_config.evaluation_interval;
        let follow_stop = stop_rx.clone();
        threads.push(
            std::thread::Builder::new()
                .name("drift-evaluator".into())
                .spawn(move || evaluator_loop(a, interval, stop_rx))?,
        );
        if analysis_config.multivariate.enabled {
            // Not joined at shutdown: `stop` drops the job slot before the last evaluation,
            // so no job is offered then, and queued jobs are skipped once stopping. A job
            // already running cannot be interrupted (a classifier being fitted), and its
            // verdict would land after the final report, never to be shown or shipped;
            // waiting for it would only hold the exit for up to one evaluation (about a
            // second in a release build, tens of seconds in a debug build). The thread
            // ends with the process.
            let (jobs, _detached) = multivariate::start(Arc::downgrade(&analysis))?;
            *analysis
                .multivariate
                .lock()
                .expect("multivariate lock poisoned") = Some(jobs);
        }
        if let Some(thread) = store_thread {
            // After the evaluator, whose `stop` closes the store's queue once the workers
            // (joined before it) have offered their last predictions.
            threads.push(thread);
        }
        if follows {
            // After the evaluator: whoever joins these threads in order calls `stop` at
            // the evaluator, which also ends this thread's wait.
            let a = analysis.clone();
            let poll = analysis_config.reference_poll;
            threads.push(
                std::thread::Builder::new()
                    .name("reference-follow".into())
                    .spawn(move || follow::run(a, poll, follow_stop))?,
            );
        }
        Ok(Some(Started {
            analysis,
            queue: Arc::new(queue),
            threads,
        }))
    }

    fn install(&self, mut references: ReferenceSet) {
        references.installed_at = std::time::SystemTime::now();
        *self.references.write().expect("references lock poisoned") = Arc::new(references);
        // States are rebuilt against the new references on their next exchange; the old
        // ones leave no series behind.
        let old: Vec<_> = self
            .states
            .lock()
            .expect("states lock poisoned")
            .drain()
            .map(|(_, state)| state)
            .collect();
        for state in old {
            state
                .lock()
                .expect("model state poisoned")
                .retire(&self.metrics);
        }
        self.versions.retain(|_| false);
        self.versions
            .remember(&self.references.read().expect("references lock poisoned"));
        self.publish_reference_info();
    }

    /// Sets `modelwatch_reference_info` to what is in use: the current reference of each
    /// configured model, and the reference of each live model version.
    fn publish_reference_info(&self) {
        let m = &self.metrics;
        // Under the states lock, so no state is created halfway through.
        let states = self.states.lock().expect("states lock poisoned");
        m.reference_info.reset();
        for (model, reference) in self.reference_set().iter() {
            let model = model
                .or(reference.model.as_deref())
                .unwrap_or(crate::traffic::identity::UNKNOWN);
            // A model reference knows its version; a dataset or file reference does not.
            let version = if reference.model.is_some() {
                reference.version.as_str()
            } else {
                crate::traffic::identity::UNKNOWN
            };
            m.reference_info
                .with_label_values(&[model, version, &reference.spec, &reference.version])
                .set(1);
        }
        for state in states.values() {
            let state = state.lock().expect("model state poisoned");
            if !state.is_retired() {
                let r = &state.reference;
                m.reference_info
                    .with_label_values(&[
                        &*state.labels.model,
                        &*state.labels.version,
                        &r.spec,
                        &r.version,
                    ])
                    .set(1);
            }
        }
    }

    /// The references in use now.
    pub fn reference_set(&self) -> Arc<ReferenceSet> {
        self.references
            .read()
            .expect("references lock poisoned")
            .clone()
    }

    /// Switches followed references to the versions their aliases point at now. Returns
    /// false (and changes nothing) when the references were reloaded since `seen` was
    /// read: the caller looks again.
    pub fn switch(
        &self,
        seen: &Arc<ReferenceSet>,
        moves: &[(Arc<LoadedReference>, Arc<LoadedReference>)],
    ) -> bool {
        {
            let mut references = self.references.write().expect("references lock poisoned");
            if !Arc::ptr_eq(&references, seen) {
                return false;
            }
            let mut next = (**references).clone();
            for (old, new) in moves {
                next.replace(old, new);
            }
            next.installed_at = std::time::SystemTime::now();
            *references = Arc::new(next);
        }
        for (old, new) in moves {
            tracing::info!(
                reference = %new.spec,
                from = %old.version,
                to = %new.version,
                "the model reference moved to another version; comparing its traffic with that version's profile"
            );
        }
        self.publish_reference_info();
        true
    }

    /// Loads the configured references again (SIGHUP, `POST /-/reload`). On error the
    /// references in use stay, and the error says why.
    pub fn reload(&self) -> anyhow::Result<String> {
        let references = ReferenceSet::load(&self.full_config, &self.home, &self.source)?;
        let summary = references
            .iter()
            .map(|(m, r)| format!("{}={} ({})", m.unwrap_or("*"), r.spec, r.version))
            .collect::<Vec<_>>()
            .join(", ");
        self.install(references);
        tracing::info!(references = %summary, "references reloaded");
        Ok(summary)
    }

    /// True when at least one reference is loaded.
    pub fn has_reference(&self) -> bool {
        !self
            .references
            .read()
            .expect("references lock poisoned")
            .is_empty()
    }

    /// The reference for a model's traffic.
    pub fn reference_for(&self, model: &str) -> Option<Arc<LoadedReference>> {
        self.references
            .read()
            .expect("references lock poisoned")
            .for_model(model)
            .cloned()
    }

    /// The state of a model version, created on its first exchange (and again when its
    /// reference changed or it was retired).
    pub fn state_for(
        &self,
        labels: &ModelLabels,
        reference: Arc<LoadedReference>,
    ) -> Arc<Mutex<ModelVersionState>> {
        let key = (labels.model.clone(), labels.version.clone());
        let mut states = self.states.lock().expect("states lock poisoned");
        if let Some(state) = states.get(&key) {
            let mut existing = state.lock().expect("model state poisoned");
            if Arc::ptr_eq(&existing.reference, &reference) && !existing.is_retired() {
                return state.clone();
            }
            // Its series go before the new state registers the same labels.
            existing.retire(&self.metrics);
        }
        let mut fresh =
            ModelVersionState::new(reference, labels.clone(), &self.config, &self.metrics);
        fresh.since = self.reference_set().installed_at;
        let state = Arc::new(Mutex::new(fresh));
        states.insert(key, state.clone());
        state
    }

    /// Adds an exchange's rows to its model version's state, unless the exchange arrived
    /// (`received_at`) before that state's references were put in use: a worker that lags
    /// behind a reload or a promotion must not count rows served under the old reference
    /// in the new window (`modelwatch_analysis_skipped_total{reason="reference_changed"}`).
    pub fn record(
        &self,
        labels: &ModelLabels,
        reference: Arc<LoadedReference>,
        received_at: std::time::SystemTime,
        request: &crate::protocol::Batch,
        response: Option<&crate::protocol::Batch>,
    ) {
        loop {
            let state = self.state_for(labels, reference.clone());
            let mut state = state.lock().expect("model state poisoned");
            // The evaluator may retire it between the lookup and the lock: look again.
            if !state.is_retired() {
                if received_at < state.since {
                    self.metrics
                        .skipped
                        .with_label_values(&["reference_changed"])
                        .inc();
                    return;
                }
                state.record(request, response, std::time::Instant::now());
                return;
            }
        }
    }

    /// Forgets retired states and the profiles no live state uses.
    fn forget(&self, retired: &[Arc<Mutex<ModelVersionState>>]) {
        let mut in_use = Vec::new();
        {
            let mut states = self.states.lock().expect("states lock poisoned");
            states.retain(|_, s| !retired.iter().any(|r| Arc::ptr_eq(r, s)));
            for state in states.values() {
                in_use.push(
                    state
                        .lock()
                        .expect("model state poisoned")
                        .reference
                        .clone(),
                );
            }
        }
        let current = self.reference_set();
        self.versions.retain(|r| {
            current.iter().any(|(_, c)| std::ptr::eq(&**c, r))
                || in_use.iter().any(|u| std::ptr::eq(&**u, r))
        });
        self.publish_reference_info();
    }

    /// Every model version seen since the references were loaded.
    pub fn states(&self) -> Vec<Arc<Mutex<ModelVersionState>>> {
        self.states
            .lock()
            .expect("states lock poisoned")
            .values()
            .cloned()
            .collect()
    }

    /// The configured method and threshold for a feature.
    pub fn method_for(&self, feature: &str) -> (MethodChoice, Option<f64>) {
        let own = self.config.features.get(feature);
        let name = own
            .and_then(|f| f.method.as_deref())
            .unwrap_or(&self.config.method);
        (evaluate::method_choice(name), own.and_then(|f| f.threshold))
    }

    /// From now on, workers queue each analysed exchange's request event (with what
    /// decoding learnt, and the payload `capture` samples) and the evaluator each
    /// evaluation's drift snapshots on the export queue (never waiting).
    pub fn export_to(&self, export: EventExport) {
        let _ = self.export.set(export);
    }

    fn publish(&self, report: LiveReport) {
        *self.report.write().expect("report lock poisoned") = Arc::new(report);
    }

    /// The latest report.
    pub fn report(&self) -> Arc<LiveReport> {
        self.report.read().expect("report lock poisoned").clone()
    }

    /// Tells the workers to finish what is queued and stop.
    pub fn begin_stop(&self) {
        self.stopping
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    fn stopping(&self) -> bool {
        self.stopping.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The multivariate thread's job slot, while it runs.
    fn multivariate_jobs(&self) -> Option<multivariate::Jobs> {
        self.multivariate
            .lock()
            .expect("multivariate lock poisoned")
            .clone()
    }

    /// Stops the multivariate thread, evaluates once more (so the last window is in the
    /// report) and stops the evaluator.
    pub fn stop(&self) {
        if let Some(quality) = &self.quality {
            quality.store.close();
        }
        // Before the last evaluation, so that it offers no multivariate job: the report
        // keeps the last multivariate verdicts, and the exit waits for no classifier.
        self.multivariate
            .lock()
            .expect("multivariate lock poisoned")
            .take();
        evaluate::evaluate_all(self);
        self.stop.lock().expect("stop lock poisoned").take();
    }
}

fn evaluator_loop(
    analysis: Arc<LiveAnalysis>,
    interval: Duration,
    stop: crossbeam_channel::Receiver<()>,
) {
    worker::lower_priority();
    loop {
        match stop.recv_timeout(interval) {
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => evaluate::evaluate_all(&analysis),
            _ => return,
        }
    }
}
