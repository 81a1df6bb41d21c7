//! The reference model server: serves a registered version over the Open Inference
//! Protocol and MLflow `/invocations`, and follows its alias without restarting.
//!
//! - [`decode`]: request bodies → raw feature rows (both protocols).
//! - [`http`]: routing, responses and the `{"error": …}` rescue.
//!
//! Hot swap: the served model lives in a [`ModelSlot`] (`RwLock<Arc<ServedModel>>`). Each
//! request clones the `Arc` once and scores with that version to the end, so a promotion
//! never changes a request mid-flight. A poller thread resolves the model spec (e.g.
//! `credit@production`) every `--poll-interval`; when the version changes it loads and
//! verifies the new artifact first and only then swaps the pointer. A new version that
//! fails to load (tampered artifact) is refused and the current one keeps serving.

pub mod decode;
pub mod http;

#[cfg(test)]
mod tests;

use crate::exit::UsageError;
use crate::registry::home::{Home, HomeArgs};
use crate::train::model::ModelArtifact;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// Flags of `modelwatch serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub home: HomeArgs,
    /// The model to serve: NAME@ALIAS (followed as the alias moves) or NAME@VERSION.
    #[arg(long, value_name = "NAME@ALIAS")]
    pub model: String,
    /// Address to listen on (port 0 picks a free port, printed on stderr).
    #[arg(long, value_name = "ADDR", default_value = "0.0.0.0:8000")]
    pub listen: SocketAddr,
    /// How often to check the registry for a newly promoted version.
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = humantime::parse_duration)]
    pub poll_interval: Duration,
}

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

fn load(home: &Home, spec: &str) -> anyhow::Result<ServedModel> {
    let version = home.resolve_model(spec)?;
    let artifact = home.load_model_artifact(&version)?;
    Ok(ServedModel {
        name: version.name,
        version: version.version,
        artifact,
    })
}

/// Checks the registry every `interval` and swaps in a newly resolved version.
fn poll_registry(root: PathBuf, spec: String, slot: Arc<ModelSlot>, interval: Duration) {
    let mut last_error = String::new();
    loop {
        std::thread::sleep(interval);
        let result = Home::open(&root).and_then(|home| {
            let version = home.resolve_model(&spec)?;
            if version.version == slot.current().version {
                return Ok(());
            }
            let model = load(&home, &spec)?;
            let old = slot.current().version;
            let new = model.version;
            slot.replace(model);
            eprintln!(
                "modelwatch serve: {spec} moved from version {old} to {new}; now serving {new}"
            );
            Ok(())
        });
        match result {
            Ok(()) => last_error.clear(),
            Err(e) => {
                let message = format!("{e:#}");
                if message != last_error {
                    eprintln!(
                        "modelwatch serve: keeping version {}: {message}",
                        slot.current().version
                    );
                    last_error = message;
                }
            }
        }
    }
}

/// Runs `modelwatch serve` until SIGINT or SIGTERM.
pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    let home = Home::open(&args.home.home)?;
    let model = load(&home, &args.model)?;
    drop(home);
    let slot = Arc::new(ModelSlot::new(model));
    {
        let (root, spec, slot) = (args.home.home.clone(), args.model.clone(), slot.clone());
        std::thread::Builder::new()
            .name("registry-poll".into())
            .spawn(move || poll_registry(root, spec, slot, args.poll_interval))?;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .map_err(|e| UsageError(format!("cannot listen on {} (--listen): {e}", args.listen)))?;
        let current = slot.current();
        eprintln!(
            "modelwatch serve: {}@{} ({}) listening on http://{}",
            current.name,
            current.version,
            args.model,
            listener.local_addr()?
        );
        http::serve(listener, slot).await
    })
}
