//! The hot path: a transparent reverse proxy in front of a model server.
//!
//! The request stack, outermost first:
//! - [`server`]: accepts HTTP/1.1 and h2c, enforces the header read timeout and head size
//!   limits (431), drains gracefully on shutdown;
//! - [`forward`]: labels the request with its model identity ([`identity`]), enforces the
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
pub mod identity;
pub mod metrics;
pub mod rescue;
pub mod server;
pub mod tap;

use crate::config::{Config, Overrides};
use anyhow::Context as _;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Run the sidecar: forward inference traffic to a model server and record metrics.
///
/// Clients talk to --listen as if it were the model server; every request is forwarded to
/// --upstream unchanged (bodies stream both ways) and the answer comes back unchanged.
/// Prometheus scrapes /metrics on --admin-listen, where /healthz and /readyz serve probes.
///
/// Settings come from, in increasing precedence: built-in defaults, the TOML file given
/// with --config, environment variables MODELWATCH__SECTION__KEY (for example
/// MODELWATCH__PROXY__UPSTREAM=http://127.0.0.1:8000), and these flags. A TOML file:
///
///   [proxy]
///   upstream = "http://127.0.0.1:8000"
///   listen = "0.0.0.0:8080"
///   admin_listen = "0.0.0.0:9090"
///   response_timeout = "60s"          # then 504
///   connect_timeout = "2s"            # then 502
///   header_read_timeout = "10s"       # slow clients are disconnected
///   max_request_body_bytes = 33554432 # then 413
///   max_header_bytes = 65536          # then 431
///   drain_timeout = "25s"             # after SIGTERM
///   [model]
///   name = "credit"                   # for URLs that carry no model name
///
/// SIGTERM or SIGINT stops accepting, lets in-flight requests finish (at most
/// proxy.drain_timeout) and exits 0.
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct ProxyArgs {
    /// Base URL of the model server, e.g. http://127.0.0.1:8000 [key: proxy.upstream]
    #[arg(long, value_name = "URL")]
    pub upstream: Option<String>,
    /// Address for inference clients [key: proxy.listen; default 0.0.0.0:8080]
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// Address for /metrics, /healthz, /readyz [key: proxy.admin_listen; default 0.0.0.0:9090]
    #[arg(long, value_name = "ADDR")]
    pub admin_listen: Option<String>,
    /// Model name for requests whose URL carries none, e.g. /invocations [key: model.name]
    #[arg(long, value_name = "NAME")]
    pub model_name: Option<String>,
    /// Model version when neither URL nor response carries one [key: model.version]
    #[arg(long, value_name = "VERSION")]
    pub model_version: Option<String>,
    /// TOML configuration file
    #[arg(long, value_name = "FILE", env = "MODELWATCH_CONFIG")]
    pub config: Option<PathBuf>,
}

impl ProxyArgs {
    fn overrides(&self) -> Overrides {
        Overrides(vec![
            ("proxy.upstream", self.upstream.clone()),
            ("proxy.listen", self.listen.clone()),
            ("proxy.admin_listen", self.admin_listen.clone()),
            ("model.name", self.model_name.clone()),
            ("model.version", self.model_version.clone()),
        ])
    }
}

/// Runs the sidecar until SIGTERM or SIGINT, then drains and returns.
pub fn run(args: ProxyArgs) -> anyhow::Result<()> {
    let env: HashMap<String, String> = std::env::vars().collect();
    let config = Config::load(args.config.as_deref(), &env, &args.overrides())?;
    config.validate_proxy()?;
    crate::logging::init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("could not start the async runtime")?;
    runtime.block_on(async {
        let sidecar = Sidecar::bind(config).await?;
        tracing::info!(
            listen = %sidecar.listen_addr(),
            admin = %sidecar.admin_addr(),
            upstream = %sidecar.upstream(),
            "modelwatch proxy started"
        );
        sidecar.run(crate::shutdown::signal()).await
    })
}

/// A bound, not yet running sidecar: listeners open, metrics registered.
pub struct Sidecar {
    config: Config,
    listener: TcpListener,
    admin_listener: TcpListener,
    registry: prometheus::Registry,
    metrics: Arc<metrics::ProxyMetrics>,
    forwarder: Arc<forward::Forwarder>,
}

impl Sidecar {
    /// Opens both listeners. Fails with the address when a port is taken.
    pub async fn bind(config: Config) -> anyhow::Result<Self> {
        config.validate_proxy()?;
        let registry = crate::export::prometheus::new_registry()?;
        let metrics = Arc::new(metrics::ProxyMetrics::register(&registry)?);
        let forwarder = Arc::new(forward::Forwarder::new(&config, metrics.clone(), None)?);
        let listener = bind(&config.proxy.listen, "--listen").await?;
        let admin_listener = bind(&config.proxy.admin_listen, "--admin-listen").await?;
        Ok(Self {
            config,
            listener,
            admin_listener,
            registry,
            metrics,
            forwarder,
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
        let upstream = crate::config::parse_upstream(self.upstream())
            .map_err(|why| anyhow::anyhow!("proxy.upstream {why}"))?;
        let readiness = Arc::new(admin::Readiness {
            upstream: format!(
                "{}:{}",
                upstream.authority.host().trim_matches(['[', ']']),
                upstream.port
            ),
            draining: Default::default(),
        });
        let (stop_traffic, traffic_stopped) = watch::channel(false);
        let (stop_admin, admin_stopped) = watch::channel(false);
        let admin = tokio::spawn(admin::serve(
            self.admin_listener,
            self.registry,
            readiness.clone(),
            admin_stopped,
        ));
        let proxy_config = self.config.proxy.clone();
        let traffic = tokio::spawn(async move {
            server::serve(
                self.listener,
                self.forwarder,
                self.metrics,
                &proxy_config,
                traffic_stopped,
            )
            .await
        });
        shutdown.await;
        tracing::info!("shutdown requested");
        readiness.draining.store(true, Ordering::Relaxed);
        let _ = stop_traffic.send(true);
        traffic.await.context("the proxy task failed")?;
        // The admin port stays up during the drain so the last scrape sees the final counts.
        let _ = stop_admin.send(true);
        admin.await.context("the admin task failed")?;
        tracing::info!("modelwatch proxy stopped");
        Ok(())
    }
}

async fn bind(addr: &str, flag: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr).await.with_context(|| {
        format!("could not listen on {addr}: pass {flag} with a free address and port")
    })
}
