//! The reference model server: serves a registered version over the Open Inference
//! Protocol and MLflow `/invocations`, and follows its alias without restarting.
//!
//! - [`decode`]: request bodies → raw feature rows (both protocols).
//! - [`http`]: routing, responses and the `{"error": …}` rescue.
//!
//! Hot swap: the served model lives in a [`ModelSlot`] (`RwLock<Arc<ServedModel>>`). Each
//! request clones the `Arc` once and scores with that version to the end, so a promotion
//! never changes a request mid-flight. A poller thread resolves the model spec (e.g.
//! `credit@production`) every `--poll-interval` (from the home, or from `modelwatch
//! registry serve` at `--registry-url`); when the version changes it loads and
//! verifies the new artifact first and only then swaps the pointer. A new version that
//! fails to load (tampered artifact) is refused and the current one keeps serving.

pub mod decode;
pub mod http;

#[cfg(test)]
mod tests;

use crate::registry::models::ModelVersion;
use crate::registry::source::{AliasWatch, ModelSource};
use crate::train::model::ModelArtifact;
use anyhow::Context as _;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// One loaded model version.
#[derive(Debug)]
pub struct ServedModel {
    pub name: String,
    pub version: u32,
    pub artifact: ModelArtifact,
}

/// The version being served now; swapped whole, never mutated.
#[derive(Debug)]
pub struct ModelSlot(RwLock<Arc<ServedModel>>);

impl ModelSlot {
    pub fn new(model: ServedModel) -> Self {
        ModelSlot(RwLock::new(Arc::new(model)))
    }

    /// The current model. The lock is held only to clone the `Arc`, never across an await.
    pub fn current(&self) -> Arc<ServedModel> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn replace(&self, model: ServedModel) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(model);
    }
}

fn load(source: &ModelSource, version: ModelVersion) -> anyhow::Result<ServedModel> {
    let artifact = ModelArtifact::of_version(&version, &source.artifact_bytes(&version)?)?;
    Ok(ServedModel {
        name: version.name,
        version: version.version,
        artifact,
    })
}

/// Checks the registry every `interval` and swaps in a newly resolved version. A poll
/// that finds nothing committed since the last one (a home's `data_version`, a remote
/// registry's `304`) costs one query.
fn poll_registry(source: ModelSource, spec: String, slot: Arc<ModelSlot>, interval: Duration) {
    let mut watch = AliasWatch::new(source);
    let mut last_error = String::new();
    loop {
        std::thread::sleep(interval);
        let result = watch.changed().and_then(|changed| {
            if !changed {
                return Ok(());
            }
            let version = watch.resolve(&spec)?;
            let old = slot.current().version;
            if version.version != old {
                let model = load(watch.source(), version)?;
                let new = model.version;
                slot.replace(model);
                eprintln!(
                    "modelwatch serve: {spec} moved from version {old} to {new}; now serving {new}"
                );
            }
            watch.settle();
            Ok(())
        });
        match result {
            Ok(()) => last_error.clear(),
            Err(e) => {
                watch.reset();
                let message = format!("{e:#}");
                if message != last_error {
                    eprintln!(
                        "modelwatch serve: keeping version {} (retrying every {interval:?}): {message}",
                        slot.current().version
                    );
                    last_error = message;
                }
            }
        }
    }
}

/// Serves `spec` (NAME@ALIAS or NAME@VERSION) from `source` on `listen` until SIGINT or
/// SIGTERM (and `shutdown_delay` after it, see [`crate::http_listener`]), resolving it
/// again every `poll_interval`.
pub fn run(
    source: ModelSource,
    spec: &str,
    listen: SocketAddr,
    poll_interval: Duration,
    shutdown_delay: Duration,
) -> anyhow::Result<()> {
    let (version, warning) = source.resolve_at_start(spec)?;
    if let Some(warning) = warning {
        eprintln!("modelwatch serve: warning: {warning}");
    }
    let model = load(&source, version)
        .with_context(|| format!("could not load {spec} from {}", source.describe()))?;
    let slot = Arc::new(ModelSlot::new(model));
    {
        let (spec, slot) = (spec.to_string(), slot.clone());
        std::thread::Builder::new()
            .name("registry-poll".into())
            .spawn(move || poll_registry(source, spec, slot, poll_interval))?;
    }
    let current = slot.current();
    let announce = |addr| {
        eprintln!(
            "modelwatch serve: {}@{} ({spec}) listening on http://{addr}",
            current.name, current.version
        )
    };
    crate::http_listener::run("serve", listen, shutdown_delay, announce, move |req| {
        http::handle(req, slot.clone())
    })
}
