//! Layered configuration: defaults → TOML file → `MODELWATCH__*` environment → flags.
//! Sections: `proxy`, `model`, `analysis`, `export` (`config/elasticsearch.rs`) and `admin`
//! (`config/admin.rs`).
//!
//! Loading is separate from validation. [`Config::load`] merges the layers and
//! deserialises (an unknown key or a wrong type names the key); [`Config::validate_proxy`]
//! is a pure function that reports every problem at once, each naming the key, the value
//! and the fix. The `proxy` job calls both before it opens a socket, so a bad config exits
//! 2 and never half-starts.
//!
//! The environment is passed in as a map, so tests never mutate the process environment.

use crate::exit::UsageError;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

/// The registry home when neither `--home`, `MODELWATCH_HOME` nor the `home` key names one
/// (relative to the working directory).
pub const DEFAULT_HOME: &str = ".modelwatch";

/// The whole configuration of a modelwatch process.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The registry home, for `NAME@ALIAS` and dataset references; see [`Config::home`].
    pub home: Option<std::path::PathBuf>,
    /// Where the process writes its own state; see [`Config::state_dir`].
    pub state_dir: Option<std::path::PathBuf>,
    /// `modelwatch registry serve` to read model references from instead of `home`
    /// (`--registry-url`, `MODELWATCH_REGISTRY_URL`).
    pub registry_url: Option<String>,
    /// The bearer token of that registry (`--registry-token-file`).
    pub registry_token_file: Option<std::path::PathBuf>,
    /// The CA of an `https://` registry (`--registry-ca-file`); else the system's roots.
    pub registry_ca_file: Option<std::path::PathBuf>,
    pub proxy: ProxyConfig,
    pub model: ModelConfig,
    pub analysis: AnalysisConfig,
    pub export: ExportConfig,
    pub admin: crate::config::admin::AdminConfig,
    pub quality: crate::config::quality::QualityConfig,
    /// The standard `OTEL_*` variables of the environment `Config::load` was given (OTLP
    /// endpoint, protocol, headers, resource, sampler): the OpenTelemetry SDK's own
    /// configuration, kept as it was found for the OTLP exporter (`export::otlp`). Not a TOML
    /// key: the OpenTelemetry specification names these variables.
    #[serde(skip)]
    pub otel_env: HashMap<String, String>,
}

/// Where events leave the process, besides `/metrics`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExportConfig {
    pub elasticsearch: crate::config::elasticsearch::ElasticsearchConfig,
    /// The sidecar's own recording of OpenAI-compatible calls (`[export.recording]`).
    pub recording: crate::config::recording::RecordingConfig,
}

/// The reverse proxy and its admin listener.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProxyConfig {
    /// Base URL of the model server, `http://HOST:PORT`. Required by `modelwatch proxy`.
    pub upstream: Option<String>,
    /// HTTP version spoken to the upstream: `http1`, or `h2c` (HTTP/2 with prior knowledge).
    pub upstream_protocol: UpstreamProtocol,
    /// Where inference clients connect.
    pub listen: String,
    /// Where `/metrics`, `/healthz` and `/readyz` are served; never on the traffic port.
    pub admin_listen: String,
    /// A client must send its complete request head within this time (slowloris guard).
    #[serde(with = "humantime_serde")]
    pub header_read_timeout: Duration,
    /// Time allowed to open a TCP connection to the upstream before answering 502.
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// Time allowed for the upstream's response head before answering 504.
    #[serde(with = "humantime_serde")]
    pub response_timeout: Duration,
    /// After SIGTERM, how long in-flight requests may take before the process exits anyway.
    #[serde(with = "humantime_serde")]
    pub drain_timeout: Duration,
    /// After SIGTERM, how long the sidecar keeps accepting and serving, answering HTTP/1.1
    /// with `Connection: close` and `/readyz` with 503, before it stops accepting and
    /// drains. Gives a load balancer time to stop sending (Kubernetes removes a
    /// terminating pod's endpoints a few seconds late), and moves keep-alive clients off
    /// before their connections close. 0 (the default) stops accepting at once.
    #[serde(with = "humantime_serde")]
    pub shutdown_delay: Duration,
    /// Idle keep-alive connections to the upstream are closed after this time.
    #[serde(with = "humantime_serde")]
    pub pool_idle_timeout: Duration,
    /// Most idle keep-alive connections kept open to the upstream.
    pub pool_max_idle: usize,
    /// Largest request body forwarded; larger ones get 413.
    pub max_request_body_bytes: u64,
    /// Largest request head (request line and headers) accepted; larger ones get 431.
    pub max_header_bytes: usize,
    /// Most header fields in one request; more get 431.
    pub max_headers: usize,
    /// Distinct model names that get their own metric labels; later ones are `__other__`.
    pub max_models: usize,
    /// Distinct versions per model that get their own labels; later ones are `__other__`.
    pub max_versions_per_model: usize,
}

/// How to talk to the upstream model server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UpstreamProtocol {
    Http1,
    H2c,
}

/// Model identity used when neither the URL nor the response carries one.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelConfig {
    /// The model name for requests whose URL has none (`/invocations`, Seldon, …).
    pub name: Option<String>,
    /// The model version for requests whose URL and response have none.
    pub version: Option<String>,
}

/// Live analysis: payload decoding, distributions, windows and drift.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct AnalysisConfig {
    /// Analyse traffic at all. Without a reference nothing is analysed either way.
    pub enabled: bool,
    /// The reference for the model in `model.name` (or for every model when there is only
    /// one): a profile JSON file, a dataset `NAME[@VERSION]`, or a model `NAME@ALIAS`.
    pub reference: Option<String>,
    /// References per model name, for sidecars in front of several models.
    pub references: HashMap<String, String>,
    /// `auto` (from the route and body) or one of oip, kserve_v1, mlflow, seldon_v1,
    /// generic_json.
    pub protocol: String,
    /// Largest body captured for analysis; larger ones are forwarded, not analysed.
    pub max_body_bytes: usize,
    /// Exchanges waiting for a worker, at most (then dropped and counted).
    pub queue_capacity: usize,
    /// Bytes held by waiting exchanges, at most (then dropped and counted).
    pub queue_bytes: usize,
    /// Analysis worker threads.
    pub workers: usize,
    /// How often drift is recomputed.
    #[serde(with = "humantime_serde")]
    pub evaluation_interval: Duration,
    /// How often a model reference `NAME@ALIAS` is resolved again, so that a promotion or
    /// rollback switches the reference without a restart (like `serve --poll-interval`).
    #[serde(with = "humantime_serde")]
    pub reference_poll: Duration,
    /// `rows`: the last `window_rows` rows; `time`: the last `sub_windows` ×
    /// `sub_window_duration`, at most `window_rows` rows kept (sampled) per window.
    pub window: WindowKind,
    pub window_rows: usize,
    /// Tumbling sub-windows the window is made of (the unit of expiry).
    pub sub_windows: usize,
    #[serde(with = "humantime_serde")]
    pub sub_window_duration: Duration,
    /// Features monitored per model (the first ones in reference order); the rest are
    /// counted in `modelwatch_analysis_capped_total{kind="feature"}`.
    pub max_features: usize,
    /// Categories per feature with their own `bin` label; the rest are `__other__`.
    pub max_categories: usize,
    /// Dataset drift when at least this share of monitored features drifts.
    pub drift_share: f64,
    /// `auto`, or one of psi, ks, wasserstein, jensen_shannon, chi2, z for every feature.
    pub method: String,
    /// Correction across the p-value tests of one evaluation: `none`, `bonferroni` or
    /// `benjamini_hochberg` (`docs/drift-alarms.md`).
    pub correction: String,
    /// `K/N`: a feature is reported drifted only after drifting in `K` of the last `N`
    /// evaluations (`1/1`: each evaluation stands alone).
    pub persistence: String,
    /// Per-feature method and threshold, e.g. `[analysis.features.Income] method = "psi"`.
    pub features: HashMap<String, FeatureDriftConfig>,
    /// Live multivariate drift (`[analysis.multivariate]`).
    pub multivariate: crate::config::multivariate::MultivariateLiveConfig,
}

/// How a feature's drift is tested.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct FeatureDriftConfig {
    pub method: Option<String>,
    pub threshold: Option<f64>,
}

/// How live windows expire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WindowKind {
    Rows,
    Time,
}

/// `analysis.correction` by default, chosen with `benches/drift_calibration.rs`
/// (`docs/drift-alarms.md`).
pub const DEFAULT_CORRECTION: &str = "benjamini_hochberg";
/// `analysis.persistence` by default, chosen with `benches/drift_calibration.rs`.
pub const DEFAULT_PERSISTENCE: &str = "3/5";

impl Default for AnalysisConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            reference: None,
            references: HashMap::new(),
            protocol: "auto".into(),
            max_body_bytes: 1024 * 1024,
            queue_capacity: 4096,
            queue_bytes: 64 * 1024 * 1024,
            workers: 1,
            evaluation_interval: Duration::from_secs(15),
            reference_poll: Duration::from_secs(1),
            window: WindowKind::Rows,
            window_rows: 10_000,
            sub_windows: 10,
            sub_window_duration: Duration::from_secs(300),
            max_features: 100,
            max_categories: 50,
            drift_share: 0.5,
            method: "auto".into(),
            correction: DEFAULT_CORRECTION.into(),
            persistence: DEFAULT_PERSISTENCE.into(),
            features: HashMap::new(),
            multivariate: Default::default(),
        }
    }
}

impl Default for ProxyConfig {
    fn default() -> Self {
        Self {
            upstream: None,
            upstream_protocol: UpstreamProtocol::Http1,
            listen: "0.0.0.0:8080".into(),
            admin_listen: "0.0.0.0:9090".into(),
            header_read_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(2),
            response_timeout: Duration::from_secs(60),
            drain_timeout: Duration::from_secs(25),
            shutdown_delay: Duration::ZERO,
            pool_idle_timeout: Duration::from_secs(30),
            pool_max_idle: 256,
            max_request_body_bytes: 32 * 1024 * 1024,
            max_header_bytes: 64 * 1024,
            max_headers: 100,
            max_models: 32,
            max_versions_per_model: 16,
        }
    }
}

/// Values given on the command line; `None` leaves the lower layers in force.
#[derive(Clone, Debug, Default)]
pub struct Overrides(pub Vec<(&'static str, Option<String>)>);

impl Config {
    /// The registry home: `modelwatch proxy` sets it from `--home` / `MODELWATCH_HOME`
    /// (as every command does); embedders from `MODELWATCH_HOME` in the environment map;
    /// else [`DEFAULT_HOME`] in the working directory.
    pub fn home(&self) -> std::path::PathBuf {
        self.home.clone().unwrap_or_else(|| DEFAULT_HOME.into())
    }

    /// The state directory: `--state-dir`, `MODELWATCH_STATE_DIR`, `state_dir` in the TOML
    /// file, else [`state::DEFAULT_STATE_DIR`] in the working directory.
    pub fn state_dir(&self) -> std::path::PathBuf {
        self.state_dir
            .clone()
            .unwrap_or_else(|| state::DEFAULT_STATE_DIR.into())
    }

    /// Merges defaults, the optional TOML file, `MODELWATCH__SECTION__KEY` variables from
    /// `env`, and flag overrides, in that order of increasing precedence.
    pub fn load(
        file: Option<&Path>,
        env: &HashMap<String, String>,
        overrides: &Overrides,
    ) -> Result<Config, UsageError> {
        let mut builder = config::Config::builder()
            .add_source(config::Config::try_from(&Config::default()).map_err(internal)?);
        if let Some(path) = file {
            if !path.is_file() {
                return Err(UsageError(format!(
                    "config file {} does not exist or is not a file: pass --config with the path \
                     of a TOML file, or leave it out to use the defaults",
                    path.display()
                )));
            }
            builder = builder.add_source(
                config::File::from(path)
                    .format(config::FileFormat::Toml)
                    .required(true),
            );
        }
        let mut modelwatch_env: HashMap<String, String> = env
            .iter()
            .filter(|(k, _)| k.starts_with("MODELWATCH__"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        // MODELWATCH_HOME and MODELWATCH_STATE_DIR have one underscore: those are the
        // documented names. They sit in the environment layer (a TOML file is weaker, a
        // flag stronger); MODELWATCH__HOME or __STATE_DIR, if also set, win.
        for (name, key) in [
            ("MODELWATCH_HOME", "MODELWATCH__HOME"),
            ("MODELWATCH_STATE_DIR", "MODELWATCH__STATE_DIR"),
        ] {
            if let Some(dir) = env.get(name).filter(|d| !d.is_empty()) {
                modelwatch_env
                    .entry(key.into())
                    .or_insert_with(|| dir.clone());
            }
        }
        builder = builder.add_source(
            config::Environment::with_prefix("MODELWATCH")
                .prefix_separator("__")
                .separator("__")
                .try_parsing(true)
                .source(Some(modelwatch_env)),
        );
        for (key, value) in &overrides.0 {
            builder = builder
                .set_override_option(*key, value.clone())
                .map_err(internal)?;
        }
        let where_from = file.map_or_else(
            || "the environment or flags".to_string(),
            |p| format!("{} (or the environment or flags)", p.display()),
        );
        let mut config = builder
            .build()
            .and_then(|c| c.try_deserialize::<Config>())
            .map_err(|e| {
                UsageError(format!(
                    "invalid configuration in {where_from}: {e}; see `modelwatch proxy --help` \
                     for the keys and their types"
                ))
            })?;
        config.otel_env = env
            .iter()
            .filter(|(k, _)| k.starts_with("OTEL_"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Ok(config)
    }

    /// Checks the values a running proxy depends on and reports every problem at once.
    pub fn validate_proxy(&self) -> Result<(), UsageError> {
        let p = &self.proxy;
        let mut problems = Vec::new();
        match &p.upstream {
            None => problems.push(
                "proxy.upstream is not set: pass --upstream http://HOST:PORT (the model \
                 server), or set MODELWATCH__PROXY__UPSTREAM"
                    .to_string(),
            ),
            Some(url) => {
                if let Err(why) = parse_upstream(url) {
                    problems.push(format!(
                        "proxy.upstream = {url:?} {why}: use http://HOST:PORT, for example \
                         http://127.0.0.1:8000"
                    ));
                }
            }
        }
        for (key, value) in [
            ("proxy.listen", &p.listen),
            ("proxy.admin_listen", &p.admin_listen),
        ] {
            if value.parse::<SocketAddr>().is_err() {
                problems.push(format!(
                    "{key} = {value:?} is not an IP address and port: use for example \
                     0.0.0.0:8080 or 127.0.0.1:9090"
                ));
            }
        }
        let same_fixed_port = p.listen == p.admin_listen
            && p.listen.parse::<SocketAddr>().is_ok_and(|a| a.port() != 0);
        if same_fixed_port {
            problems.push(format!(
                "proxy.listen and proxy.admin_listen are both {:?}: the admin endpoints need \
                 their own port",
                p.listen
            ));
        }
        for (key, value) in [
            ("proxy.header_read_timeout", p.header_read_timeout),
            ("proxy.connect_timeout", p.connect_timeout),
            ("proxy.response_timeout", p.response_timeout),
            ("proxy.pool_idle_timeout", p.pool_idle_timeout),
        ] {
            if value.is_zero() {
                problems.push(format!(
                    "{key} is 0: give a positive duration such as \"10s\" or \"500ms\""
                ));
            }
        }
        if p.max_request_body_bytes == 0 {
            problems
                .push("proxy.max_request_body_bytes is 0: give a positive size in bytes".into());
        }
        if p.max_header_bytes < 8192 {
            problems.push(format!(
                "proxy.max_header_bytes = {} is below 8192, the smallest head buffer the HTTP \
                 server supports: raise it",
                p.max_header_bytes
            ));
        }
        if p.max_headers == 0 {
            problems.push("proxy.max_headers is 0: allow at least a few dozen headers".into());
        }
        if p.max_models == 0 || p.max_versions_per_model == 0 {
            problems.push(
                "proxy.max_models and proxy.max_versions_per_model must be at least 1".into(),
            );
        }
        for (key, value) in [
            ("model.name", &self.model.name),
            ("model.version", &self.model.version),
        ] {
            if let Some(v) = value
                && !crate::traffic::identity::is_label_safe(v)
            {
                problems.push(format!(
                    "{key} = {v:?} is not a valid label: use 1 to 64 letters, digits, \
                         '.', '_' or '-'"
                ));
            }
        }
        self.analysis.validate(&mut problems);
        self.export.elasticsearch.validate(&mut problems);
        self.export
            .recording
            .validate(&self.export.elasticsearch.capture, &mut problems);
        self.admin.validate(&mut problems);
        self.quality.validate(&mut problems);
        self.analysis.multivariate.validate(&mut problems);
        let analysed = self.analysis.enabled
            && (self.analysis.reference.is_some() || !self.analysis.references.is_empty());
        if self.quality.enabled && !analysed {
            problems.push(
                "quality.enabled is on but no traffic is analysed: the prediction store keeps \
                 analysed predictions, so give --reference (a model, dataset, profile or CSV) \
                 with analysis enabled, or turn quality.enabled off"
                    .into(),
            );
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(UsageError(format!(
                "invalid configuration:\n  - {}",
                problems.join("\n  - ")
            )))
        }
    }
}

impl AnalysisConfig {
    fn validate(&self, problems: &mut Vec<String>) {
        if self.protocol != "auto" && self.protocol.parse::<crate::protocol::Protocol>().is_err() {
            problems.push(format!(
                "analysis.protocol = {:?} is not known: use auto, oip, kserve_v1, mlflow, \
                 seldon_v1 or generic_json",
                self.protocol
            ));
        }
        let method_ok = |m: &str| m == "auto" || crate::drift::Method::from_name(m).is_some();
        if !method_ok(&self.method) {
            problems.push(format!(
                "analysis.method = {:?} is not known: use auto, psi, ks, wasserstein, \
                 jensen_shannon, chi2 or z",
                self.method
            ));
        }
        for (feature, f) in &self.features {
            if let Some(m) = &f.method
                && !method_ok(m)
            {
                problems.push(format!(
                    "analysis.features.{feature}.method = {m:?} is not known: use auto, \
                         psi, ks, wasserstein, jensen_shannon, chi2 or z"
                ));
            }
        }
        for (key, value) in [
            ("analysis.queue_capacity", self.queue_capacity),
            ("analysis.queue_bytes", self.queue_bytes),
            ("analysis.workers", self.workers),
            ("analysis.window_rows", self.window_rows),
            ("analysis.sub_windows", self.sub_windows),
            ("analysis.max_features", self.max_features),
            ("analysis.max_categories", self.max_categories),
        ] {
            if value == 0 {
                problems.push(format!("{key} is 0: give a positive number"));
            }
        }
        if self.sub_windows > self.window_rows {
            problems.push(format!(
                "analysis.sub_windows = {} is more than analysis.window_rows = {}: each \
                 sub-window needs at least one row",
                self.sub_windows, self.window_rows
            ));
        }
        if self.evaluation_interval.is_zero()
            || self.sub_window_duration.is_zero()
            || self.reference_poll.is_zero()
        {
            problems.push(
                "analysis.evaluation_interval, analysis.sub_window_duration and \
                 analysis.reference_poll must be positive durations such as \"15s\""
                    .into(),
            );
        }
        if crate::drift::alarms::Correction::from_name(&self.correction).is_none() {
            problems.push(format!(
                "analysis.correction = {:?} is not known: use none, bonferroni or \
                 benjamini_hochberg",
                self.correction
            ));
        }
        if let Err(e) = crate::drift::alarms::Persistence::parse(&self.persistence) {
            problems.push(format!("analysis.persistence = {e}"));
        }
        if !(self.drift_share > 0.0 && self.drift_share <= 1.0) {
            problems.push(format!(
                "analysis.drift_share = {} must be in (0, 1], e.g. 0.5",
                self.drift_share
            ));
        }
    }
}

/// The parts of an upstream URL the proxy uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpstreamAddr {
    /// `host:port` as given, used for the `Host` header and the connection.
    pub authority: http::uri::Authority,
    /// The port, defaulted to 80.
    pub port: u16,
}

/// Parses `http://HOST[:PORT][/]`; anything else is refused with the reason.
pub fn parse_upstream(url: &str) -> Result<UpstreamAddr, &'static str> {
    let uri: http::Uri = url.parse().map_err(|_| "is not a URL")?;
    match uri.scheme_str() {
        Some("http") => {}
        Some("https") => {
            return Err(
                "uses https, which the sidecar does not speak to its upstream (it runs next to \
                 the model on loopback)",
            );
        }
        _ => return Err("has no http:// scheme"),
    }
    let authority = uri.authority().cloned().ok_or("has no host")?;
    if uri.path() != "/" && !uri.path().is_empty() {
        return Err("has a path; the proxy forwards the client's path as it is");
    }
    if uri.query().is_some() {
        return Err("has a query string");
    }
    let port = authority.port_u16().unwrap_or(80);
    Ok(UpstreamAddr { authority, port })
}

fn internal(e: config::ConfigError) -> UsageError {
    UsageError(format!("could not assemble the configuration: {e}"))
}

pub mod admin;
pub mod elasticsearch;
pub mod multivariate;
pub mod quality;
pub mod recording;
pub mod state;

#[cfg(test)]
mod tests;
