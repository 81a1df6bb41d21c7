//! `modelwatch proxy`: the sidecar's flags, resolved with the TOML file and the
//! environment into one [`Config`], then [`Sidecar`] runs until a stop signal.

use super::flags::HomeArgs;
use crate::config::{Config, Overrides};
use crate::proxy::Sidecar;
use anyhow::Context as _;
use std::collections::HashMap;
use std::path::PathBuf;

/// Run the sidecar: forward inference traffic to a model server, record metrics and drift.
///
/// Clients talk to --listen as if it were the model server; every request is forwarded to
/// --upstream unchanged (bodies stream both ways) and the answer comes back unchanged.
/// Prometheus scrapes /metrics on --admin-listen, where /healthz and /readyz serve probes.
/// With --reference, every inference payload is also decoded off the hot path and its
/// features and predictions compared with the reference: drift gauges on /metrics, the
/// report on /api/v1/drift and as a page for a browser on / (the admin port's root,
/// refreshing itself; docs/drift-page.md), references reloaded on SIGHUP (or POST /-/reload when
/// admin.enable_lifecycle is on). A model
/// reference NAME@ALIAS is followed: a promotion or rollback switches to the new version's
/// reference within --reference-poll, and rows are compared with the profile of the
/// version that answered (URL /versions/N, X-Model-Version, the OIP model_version).
/// With quality.enabled, each analysed prediction is kept so that labels sent later to
/// POST /api/v1/feedback (or `modelwatch feedback send`) join it: realised performance on
/// /api/v1/performance and modelwatch_performance.
///
/// Settings come from, in increasing precedence: built-in defaults, the TOML file given
/// with --config, environment variables MODELWATCH__SECTION__KEY (for example
/// MODELWATCH__PROXY__UPSTREAM=http://127.0.0.1:8000), and these flags. A TOML file:
///
///   state_dir = "/var/lib/modelwatch"   # what the sidecar writes; see --state-dir
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
///   shutdown_delay = "0s"             # serve on after SIGTERM, with Connection: close
///   [model]
///   name = "credit"                   # for URLs that carry no model name
///   [analysis]
///   reference = "credit@production"   # or a dataset NAME[@VERSION], profile.json, file.csv
///   reference_poll = "1s"             # NAME@ALIAS is followed: promotions switch the reference
///   evaluation_interval = "15s"       # how often drift is recomputed
///   window = "rows"                   # or "time": sub_windows × sub_window_duration
///   window_rows = 10000
///   method = "auto"                   # or psi, ks, wasserstein, jensen_shannon, chi2, z
///   correction = "benjamini_hochberg" # or bonferroni, none: across one evaluation's p-values
///   persistence = "3/5"               # drift reported after K of the last N evaluations
///   [analysis.features.Income]
///   method = "psi"
///   threshold = 0.2
///   [analysis.multivariate]           # joint drift of the rows (the profile's row sample)
///   enabled = true
///   window_rows = 500                 # window rows sampled for it
///   classifier_rows = 2000            # rows a side the domain classifier trains on
///   [export.elasticsearch]
///   url = "http://127.0.0.1:9200"     # request events; unset = no export; or https://
///   ca_file = "/etc/modelwatch/ca.pem" # https: the cluster's CA (else the system's roots)
///   api_key = "…"                     # or username + password
///   data_stream = "logs-modelwatch.inference-default"
///   drift_data_stream = "metrics-modelwatch.drift-default"  # one doc per column and evaluation
///   performance_data_stream = "metrics-modelwatch.performance-default"  # quality.enabled
///   batch_events = 500                # or batch_age = "1s", whichever comes first
///   spool_bytes = 1073741824          # on-disk spool (STATE_DIR/spool/elasticsearch)
///   fsync_interval = "1s"             # what a power loss can take from the spool
///   flush_timeout = "5s"              # after SIGTERM; the rest stays in the spool
///   [export.elasticsearch.capture]   # payloads in events (needs a reference)
///   sample_rate = 0.01                # share of requests; 0 = none (default)
///   drop = ["ssn"]                    # never captured; hash = [...] needs hash_key
///   [admin]                           # the admin port (--admin-listen)
///   enable_lifecycle = false          # true allows POST /-/reload (else 403)
///   token_file = "/run/secrets/admin" # Bearer token for all but /healthz, /readyz
///   protect_metrics = false           # true: /metrics needs the token too
///   [quality]                         # labels joined to predictions (needs a reference)
///   enabled = false                   # true: keep predictions in STATE_DIR/predictions.sqlite
///   max_bytes = 268435456             # oldest predictions evicted beyond it (counted)
///   retention = "7d"                  # older predictions evicted; their labels `expired`
///   window_rows = 10000               # realised performance: the latest labels per version
///   window = "24h"                    #   ... received within this time
///
/// Traces and metrics go over OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set (e.g.
/// http://127.0.0.1:4318; OTEL_EXPORTER_OTLP_PROTOCOL=grpc for port 4317), configured by
/// the standard OTEL_* variables (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES,
/// OTEL_TRACES_SAMPLER, OTEL_SDK_DISABLED, ...). Incoming traceparent headers are continued.
///
/// SIGTERM or SIGINT stops accepting, lets in-flight requests finish (at most
/// proxy.drain_timeout) and exits 0.
// Doc comments here are `--help` text (TOML sections, `NAME[@VERSION]`), not rustdoc links.
#[allow(rustdoc::broken_intra_doc_links)]
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
    /// Reference to measure drift against: a registered model NAME@ALIAS (followed as the
    /// alias moves) or NAME@VERSION, a profile JSON file, a CSV file, or a dataset
    /// NAME[@VERSION] in MODELWATCH_HOME [key: analysis.reference]
    #[arg(long, value_name = "SPEC")]
    pub reference: Option<String>,
    /// How often a model reference NAME@ALIAS is resolved again, so that a promotion or a
    /// rollback switches the reference without a restart [key: analysis.reference_poll;
    /// default 1s]
    #[arg(long, value_name = "DURATION")]
    pub reference_poll: Option<String>,
    /// TOML configuration file
    #[arg(long, value_name = "FILE", env = "MODELWATCH_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub home: HomeArgs,
    /// Read model references (NAME@ALIAS) from `modelwatch registry serve` at this URL
    /// instead of MODELWATCH_HOME, following its aliases as a home's; fetched profiles are
    /// verified and cached in the state directory [key: registry_url]
    #[arg(long, value_name = "URL", env = "MODELWATCH_REGISTRY_URL")]
    pub registry_url: Option<String>,
    /// File holding the bearer token of that registry [key: registry_token_file]
    #[arg(long, value_name = "FILE", env = "MODELWATCH_REGISTRY_TOKEN_FILE")]
    pub registry_token_file: Option<String>,
    /// PEM file of the CA that signed an https:// registry's certificate (default: the
    /// system's roots) [key: registry_ca_file]
    #[arg(long, value_name = "FILE", env = "MODELWATCH_REGISTRY_CA_FILE")]
    pub registry_ca_file: Option<String>,
    /// Directory for what the sidecar writes: the Elasticsearch spool and dead-letter file.
    /// Must be writable; checked at startup. Kept apart from MODELWATCH_HOME, which may be
    /// read-only. Also MODELWATCH_STATE_DIR [key: state_dir; default .modelwatch-state;
    /// /var/lib/modelwatch in the image]
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<String>,
}

impl ProxyArgs {
    fn overrides(&self) -> Overrides {
        Overrides(vec![
            ("proxy.upstream", self.upstream.clone()),
            ("proxy.listen", self.listen.clone()),
            ("proxy.admin_listen", self.admin_listen.clone()),
            ("model.name", self.model_name.clone()),
            ("model.version", self.model_version.clone()),
            ("analysis.reference", self.reference.clone()),
            ("state_dir", self.state_dir.clone()),
            ("registry_url", self.registry_url.clone()),
            ("registry_token_file", self.registry_token_file.clone()),
            ("registry_ca_file", self.registry_ca_file.clone()),
            // Already resolved by clap: --home (before or after `proxy`), MODELWATCH_HOME,
            // else the default.
            ("home", Some(self.home.home.display().to_string())),
            ("analysis.reference_poll", self.reference_poll.clone()),
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
