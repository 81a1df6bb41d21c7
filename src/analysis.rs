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

pub mod evaluate;
pub mod live_metrics;
pub mod queue;
pub mod references;
pub mod state;
pub mod window;
pub mod worker;

use crate::config::{AnalysisConfig, Config};
use crate::drift::model_report::LiveReport;
use crate::drift::report::MethodChoice;
use crate::protocol::Protocol;
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

type StateKey = (Arc<str>, Arc<str>);

/// Live analysis of one sidecar: references, per-model-version state, the latest report.
pub struct LiveAnalysis {
    pub config: AnalysisConfig,
    pub metrics: LiveMetrics,
    /// The configured protocol, or `None` to detect it per exchange.
    pub protocol: Option<Protocol>,
    full_config: Config,
    home: PathBuf,
    references: RwLock<Arc<ReferenceSet>>,
    states: Mutex<HashMap<StateKey, Arc<Mutex<ModelVersionState>>>>,
    report: RwLock<Arc<LiveReport>>,
    stop: Mutex<Option<crossbeam_channel::Sender<()>>>,
    stopping: std::sync::atomic::AtomicBool,
    /// Where request events (after decoding) and drift snapshots go, once the
    /// Elasticsearch export has started.
    export: std::sync::OnceLock<EventExport>,
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
        let references = ReferenceSet::load(config, &home)?;
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
        let (stop_tx, stop_rx) = crossbeam_channel::bounded::<()>(1);
        let analysis = Arc::new(LiveAnalysis {
            config: analysis_config.clone(),
            metrics,
            protocol,
            full_config: config.clone(),
            home,
            references: RwLock::new(Arc::new(ReferenceSet::default())),
            states: Mutex::new(HashMap::new()),
            report: RwLock::new(Arc::new(LiveReport::default())),
            stop: Mutex::new(Some(stop_tx)),
            stopping: Default::default(),
            export: Default::default(),
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
        threads.push(
            std::thread::Builder::new()
                .name("drift-evaluator".into())
                .spawn(move || evaluator_loop(a, interval, stop_rx))?,
        );
        Ok(Some(Started {
            analysis,
            queue: Arc::new(queue),
            threads,
        }))
    }

    fn install(&self, references: ReferenceSet) {
        let m = &self.metrics;
        m.reference_info.reset();
        for (model, reference) in references.iter() {
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
        *self.references.write().expect("references lock poisoned") = Arc::new(references);
        // States are rebuilt against the new references on their next exchange.
        self.states.lock().expect("states lock poisoned").clear();
    }

    /// Loads the configured references again (SIGHUP, `POST /-/reload`). On error the
    /// references in use stay, and the error says why.
    pub fn reload(&self) -> anyhow::Result<String> {
        let references = ReferenceSet::load(&self.full_config, &self.home)?;
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

    /// The state of a model version, created on its first exchange.
    pub fn state_for(
        &self,
        labels: &ModelLabels,
        reference: Arc<LoadedReference>,
    ) -> Arc<Mutex<ModelVersionState>> {
        let key = (labels.model.clone(), labels.version.clone());
        let mut states = self.states.lock().expect("states lock poisoned");
        if let Some(state) = states.get(&key) {
            let same = Arc::ptr_eq(
                &state.lock().expect("model state poisoned").reference,
                &reference,
            );
            if same {
                return state.clone();
            }
        }
        let state = Arc::new(Mutex::new(ModelVersionState::new(
            reference,
            labels.clone(),
            &self.config,
            &self.metrics,
        )));
        states.insert(key, state.clone());
        state
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

    /// Evaluates once more (so the last window is in the report) and stops the evaluator.
    pub fn stop(&self) {
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
