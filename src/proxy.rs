//! The hot path: a transparent reverse proxy in front of a model server.
//!
//! The request stack, outermost first:
//! - [`server`]: accepts HTTP/1.1 and h2c, enforces the header read timeout and head size
//!   limits (431), drains gracefully on shutdown;
//! - [`forward`]: labels the request with its model identity ([`crate::traffic::identity`]), enforces the
//!   body limit (413), rewrites headers ([`headers`]), forwards with streaming bodies and
//!   the response timeout (504), and wraps the response body so that metrics ([`metrics`])
//!   are recorded when the last byte leaves ([`body`]);
//! - [`rescue`]: the one place where failures become responses and counter reasons;
//! - [`admin`]: `/metrics`, `/healthz`, `/readyz` on their own port.
//!
//! The proxy never waits for anything but the client and the upstream.

pub mod admin;
pub mod body;
pub mod forward;
pub mod headers;
pub mod llm;
pub mod metrics;
pub mod rescue;
pub mod server;
pub mod tap;

use crate::config::Config;
use crate::export::elasticsearch::sink::ElasticsearchSink;
use anyhow::Context as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// A bound, not yet running sidecar: listeners open, metrics registered.
pub struct Sidecar {
    config: Config,
    listener: TcpListener,
    admin_listener: TcpListener,
    registry: prometheus::Registry,
    metrics: Arc<metrics::ProxyMetrics>,
    forwarder: Arc<forward::Forwarder>,
    analysis: Option<crate::analysis::Started>,
    export: Option<ElasticsearchSink>,
    /// The recording's writer thread (its handle lives in the forwarder's tap).
    recording_writer: Option<std::thread::JoinHandle<()>>,
    otlp: Option<Arc<crate::export::otlp::Otlp>>,
    admin_access: Arc<admin::AdminAccess>,
}

impl Sidecar {
    /// Opens both listeners. Fails with the address when a port is taken.
    pub async fn bind(config: Config) -> anyhow::Result<Self> {
        config.validate_proxy()?;
        let registry = crate::export::prometheus::new_registry()?;
        let metrics = Arc::new(metrics::ProxyMetrics::register(&registry)?);
        let admin_access = Arc::new(admin::AdminAccess::new(&config.admin, &registry)?);
        let analysis = crate::analysis::LiveAnalysis::start(&config, &registry)?;
        let export =
            ElasticsearchSink::start(&config.export.elasticsearch, &config.state_dir(), &registry)?;
        if let (Some(started), Some(sink)) = (&analysis, &export) {
            // Workers export request events once decoded; each drift evaluation is shipped
            // beside them.
            started.analysis.export_to(crate::analysis::EventExport {
                queue: sink.queue.clone(),
                capture: crate::export::elasticsearch::capture::CapturePolicy::new(
                    &config.export.elasticsearch.capture,
                ),
            });
        }
        let recording = crate::export::recording::Recorder::start(
            &config.export.recording,
            &config.export.elasticsearch.capture,
            config.analysis.max_body_bytes,
            &registry,
        )?;
        // Tapped when anything consumes exchanges: analysis, event export, the recording.
        let tap =
            (analysis.is_some() || export.is_some() || recording.is_some()).then(|| tap::Tap {
                queue: analysis.as_ref().map(|started| started.queue.clone()),
                export: export.as_ref().map(|sink| sink.queue.clone()),
                max_body_bytes: if analysis.is_some() {
                    config.analysis.max_body_bytes
                } else {
                    0
                },
                recorder: recording.as_ref().map(|started| started.recorder.clone()),
            });
        let otlp = crate::export::otlp::Otlp::start(&config.otel_env, &registry)?;
        let forwarder = Arc::new(
            forward::Forwarder::new(&config, metrics.clone(), tap)?
                .with_otlp(otlp.clone())
                .with_llm_capture(export.as_ref().and_then(|_| {
                    crate::export::elasticsearch::capture::CapturePolicy::new(
                        &config.export.elasticsearch.capture,
                    )
                })),
        );
        let listener = bind(&config.proxy.listen, "--listen").await?;
        let admin_listener = bind(&config.proxy.admin_listen, "--admin-listen").await?;
        Ok(Self {
            config,
            listener,
            admin_listener,
            registry,
            metrics,
            forwarder,
            analysis,
            export,
            recording_writer: recording.map(|started| started.writer),
            otlp,
            admin_access,
        })
    }

    pub fn listen_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    pub fn admin_addr(&self) -> SocketAddr {
        self.admin_listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    pub fn upstream(&self) -> &str {
        self.config.proxy.upstream.as_deref().unwrap_or_default()
    }

    /// Serves until `shutdown` completes, then drains in-flight requests and returns.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>) -> anyhow::Result<()> {
        let Sidecar {
            config,
            listener,
            admin_listener,
            registry,
            metrics,
            forwarder,
            analysis,
            export,
            recording_writer,
            otlp,
            admin_access,
        } = self;
        let (live, analysis_threads) = match analysis {
            Some(started) => {
                // The queue's sender lives in the forwarder's tap; dropping both ends the
                // workers once they have drained the queue.
                drop(started.queue);
                (Some(started.analysis), started.threads)
            }
            None => (None, Vec::new()),
        };
        if let Some(live) = &live {
            spawn_reload_on_sighup(live.clone());
        }
        let upstream =
            crate::config::parse_upstream(config.proxy.upstream.as_deref().unwrap_or_default())
                .map_err(|why| anyhow::anyhow!("proxy.upstream {why}"))?;
        let readiness = Arc::new(admin::Readiness {
            upstream: format!(
                "{}:{}",
                upstream.authority.host().trim_matches(['[', ']']),
                upstream.port
            ),
            draining: Default::default(),
            analysis: live.clone(),
        });
        let (stop_traffic, traffic_stopped) = watch::channel(false);
        let (stop_admin, admin_stopped) = watch::channel(false);
        let admin = tokio::spawn(admin::serve(
            admin_listener,
            registry,
            readiness.clone(),
            admin_access,
            admin_stopped,
        ));
        let proxy_config = config.proxy.clone();
        let traffic = tokio::spawn(async move {
            server::serve(listener, forwarder, metrics, &proxy_config, traffic_stopped).await
        });
        shutdown.await;
        tracing::info!("shutdown requested");
        readiness.draining.store(true, Ordering::Relaxed);
        let _ = stop_traffic.send(true);
        traffic.await.context("the proxy task failed")?;
        if let Some(live) = &live {
            // The workers finish what is queued (connections cut at the drain timeout may
            // still hold the queue's sender), then the last evaluation makes the final report.
            live.begin_stop();
            let live = live.clone();
            tokio::task::spawn_blocking(move || {
                for thread in analysis_threads.into_iter() {
                    if thread.thread().name() == Some("drift-evaluator") {
                        live.stop();
                    }
                    let _ = thread.join();
                }
            })
            .await
            .context("the analysis threads failed")?;
        }
        if let Some(writer) = recording_writer {
            // The writer ends once the forwarder's tap (the last handle) is gone and what
            // was queued is written.
            tokio::task::spawn_blocking(move || writer.join())
                .await
                .context("the recording thread failed")?
                .map_err(|_| anyhow::anyhow!("the recording thread panicked"))?;
        }
        if let Some(export) = export {
            // Bounded by export.elasticsearch.flush_timeout: the exporter never holds the
            // exit hostage.
            export.finish().await;
        }
        if let Some(otlp) = &otlp {
            // The spans of the drained requests have ended by now; at most drain_timeout
            // more for a collector that is slow or gone.
            otlp.shutdown(config.proxy.drain_timeout).await;
        }
        // The admin port stays up during the drain so the last scrape sees the final counts.
        let _ = stop_admin.send(true);
        admin.await.context("the admin task failed")?;
        tracing::info!("modelwatch proxy stopped");
        Ok(())
    }
}

/// Reloads the references on every SIGHUP, for as long as the process runs.
fn spawn_reload_on_sighup(live: Arc<crate::analysis::LiveAnalysis>) {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut hangups) = signal(SignalKind::hangup()) else {
        tracing::warn!("cannot listen for SIGHUP; reload with POST /-/reload instead");
        return;
    };
    tokio::spawn(async move {
        while hangups.recv().await.is_some() {
            let live = live.clone();
            match tokio::task::spawn_blocking(move || live.reload()).await {
                Ok(Ok(_)) => {}
                Ok(Err(err)) => tracing::error!(
                    "reload on SIGHUP failed, the previous references stay in use: {err:#}"
                ),
                Err(err) => tracing::error!(%err, "reload on SIGHUP failed"),
            }
        }
    });
}

async fn bind(addr: &str, flag: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr).await.with_context(|| {
        format!("could not listen on {addr}: pass {flag} with a free address and port")
    })
}
