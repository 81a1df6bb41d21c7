//! `[export.elasticsearch]`: where request events and drift snapshots go and how they are
//! batched.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Request-event export to Elasticsearch or OpenSearch. Disabled while `url` is unset.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ElasticsearchConfig {
    /// Base URL of the cluster, `http://HOST:PORT`; unset disables the export.
    pub url: Option<String>,
    /// A batch is shipped once it holds this many events…
    pub batch_events: usize,
    /// …or once its oldest event has waited this long.
    #[serde(with = "humantime_serde")]
    pub batch_age: Duration,
    /// Memory the events waiting to be written to the spool may hold; beyond it new events
    /// are dropped and counted.
    pub queue_bytes: usize,
    /// The on-disk spool; default `spool/elasticsearch` in the state directory
    /// ([`crate::config::Config::state_dir`]). One sidecar per
    /// directory.
    pub spool_dir: Option<PathBuf>,
    /// The spool's files never hold more; when full, new events are dropped and counted.
    pub spool_bytes: u64,
    /// Spooled events are fsynced at most this long after they are written: what a power
    /// loss (not a crash of the sidecar) can lose.
    #[serde(with = "humantime_serde")]
    pub fsync_interval: Duration,
    /// Data stream name, `logs-<dataset>-<namespace>` with no `-` inside either part.
    pub data_stream: String,
    /// Data stream of the drift snapshots, `metrics-<dataset>-<namespace>`.
    pub drift_data_stream: String,
    /// Data stream of the performance documents (one per model version and quality
    /// evaluation), `metrics-<dataset>-<namespace>`.
    pub performance_data_stream: String,
    /// Install the index template (and, on Elasticsearch, the ILM policy) at start.
    pub install_templates: bool,
    /// Basic authentication; both or neither.
    pub username: Option<String>,
    pub password: Option<String>,
    /// An Elasticsearch API key, the base64 `encoded` value the cluster returned.
    pub api_key: Option<String>,
    /// PEM file of the CA that signed the cluster's certificate (`https://` URLs); unset:
    /// the system's trust store.
    pub ca_file: Option<PathBuf>,
    /// Events the cluster refused for good; default `dead-letter.ndjson` in the state
    /// directory.
    pub dead_letter_file: Option<PathBuf>,
    /// After SIGTERM, how long queued events may take to ship before they are dropped.
    #[serde(with = "humantime_serde")]
    pub flush_timeout: Duration,
    /// Timeout of one HTTP call to the cluster.
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
    /// Sampled, redacted payloads in request events (`[export.elasticsearch.capture]`).
    pub capture: CaptureConfig,
}

impl Default for ElasticsearchConfig {
    fn default() -> Self {
        Self {
            url: None,
            batch_events: 500,
            batch_age: Duration::from_secs(1),
            queue_bytes: 16 * 1024 * 1024,
            spool_dir: None,
            spool_bytes: 1024 * 1024 * 1024,
            fsync_interval: Duration::from_secs(1),
            data_stream: "logs-modelwatch.inference-default".into(),
            drift_data_stream: "metrics-modelwatch.drift-default".into(),
            performance_data_stream: "metrics-modelwatch.performance-default".into(),
            install_templates: true,
            username: None,
            password: None,
            api_key: None,
            ca_file: None,
            dead_letter_file: None,
            flush_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(10),
            capture: Default::default(),
        }
    }
}

impl ElasticsearchConfig {
    /// Whether events are exported at all.
    pub fn enabled(&self) -> bool {
        self.url.is_some()
    }

    /// The dead-letter file: `dead_letter_file`, else in the state directory.
    pub fn dead_letter_path(&self, state_dir: &Path) -> PathBuf {
        self.dead_letter_file
            .clone()
            .unwrap_or_else(|| state_dir.join("dead-letter.ndjson"))
    }

    /// The spool directory: `spool_dir`, else `spool/elasticsearch` in the state directory.
    pub fn spool_path(&self, state_dir: &Path) -> PathBuf {
        self.spool_dir
            .clone()
            .unwrap_or_else(|| state_dir.join("spool").join("elasticsearch"))
    }

    /// Appends one message per problem, each naming the key and the fix.
    pub fn validate(&self, problems: &mut Vec<String>) {
        if let Some(url) = &self.url
            && let Err(why) = parse_url(url)
        {
            problems.push(format!(
                "export.elasticsearch.url = {url:?} {why}: use http://HOST:PORT or \
                 https://HOST:PORT, for example http://127.0.0.1:9200, or leave it unset to \
                 disable the export"
            ));
        }
        if self.batch_events == 0 {
            problems.push(
                "export.elasticsearch.batch_events is 0: give a positive number such as 500".into(),
            );
        }
        if self.queue_bytes < 64 * 1024 {
            problems.push(format!(
                "export.elasticsearch.queue_bytes = {} is below 65536: give at least 64 KiB, \
                 e.g. 16777216",
                self.queue_bytes
            ));
        }
        if self.spool_bytes < 256 * 1024 {
            problems.push(format!(
                "export.elasticsearch.spool_bytes = {} is below 262144: give at least 256 KiB, \
                 e.g. 1073741824 (1 GiB), sized for the longest outage to ride out",
                self.spool_bytes
            ));
        }
        if self
            .spool_dir
            .as_ref()
            .is_some_and(|d| d.as_os_str().is_empty())
        {
            problems.push(
                "export.elasticsearch.spool_dir is empty: give a directory, or leave it unset \
                 for spool/elasticsearch in the state directory (--state-dir)"
                    .into(),
            );
        }
        for (key, value) in [
            ("export.elasticsearch.fsync_interval", self.fsync_interval),
            ("export.elasticsearch.batch_age", self.batch_age),
            ("export.elasticsearch.flush_timeout", self.flush_timeout),
            ("export.elasticsearch.request_timeout", self.request_timeout),
        ] {
            if value.is_zero() {
                problems.push(format!(
                    "{key} is 0: give a positive duration such as \"1s\""
                ));
            }
        }
        if let Err(why) = check_data_stream(&self.data_stream, "logs") {
            problems.push(format!(
                "export.elasticsearch.data_stream = {:?} {why}: use logs-<dataset>-<namespace>, \
                 e.g. logs-modelwatch.inference-default",
                self.data_stream
            ));
        }
        if let Err(why) = check_data_stream(&self.drift_data_stream, "metrics") {
            problems.push(format!(
                "export.elasticsearch.drift_data_stream = {:?} {why}: use \
                 metrics-<dataset>-<namespace>, e.g. metrics-modelwatch.drift-default",
                self.drift_data_stream
            ));
        }
        if let Err(why) = check_data_stream(&self.performance_data_stream, "metrics") {
            problems.push(format!(
                "export.elasticsearch.performance_data_stream = {:?} {why}: use \
                 metrics-<dataset>-<namespace>, e.g. metrics-modelwatch.performance-default",
                self.performance_data_stream
            ));
        }
        let streams = [
            ("data_stream", &self.data_stream),
            ("drift_data_stream", &self.drift_data_stream),
            ("performance_data_stream", &self.performance_data_stream),
        ];
        for (i, (key, stream)) in streams.iter().enumerate() {
            for (other, _) in streams[..i].iter().filter(|(_, s)| s == stream) {
                problems.push(format!(
                    "export.elasticsearch.{key} equals {other}: request events, drift \
                     snapshots and performance documents need data streams of their own"
                ));
            }
        }
        if self.username.is_some() != self.password.is_some() {
            problems.push(
                "export.elasticsearch.username and export.elasticsearch.password go together: \
                 set both for basic authentication, or neither"
                    .into(),
            );
        }
        self.capture.validate(problems);
        if self.ca_file.is_some()
            && self
                .url
                .as_deref()
                .is_some_and(|url| url.starts_with("http://"))
        {
            problems.push(
                "export.elasticsearch.ca_file is set but the url is http://: use https:// to \
                 talk TLS to the cluster, or remove ca_file"
                    .into(),
            );
        }
        if self.api_key.is_some() && self.username.is_some() {
            problems.push(
                "export.elasticsearch.api_key and export.elasticsearch.username are both set: \
                 choose one way to authenticate"
                    .into(),
            );
        }
    }
}

/// Parses `http[s]://HOST[:PORT][/]` into a base URI without a trailing slash.
pub fn parse_url(url: &str) -> Result<http::Uri, &'static str> {
    let uri: http::Uri = url
        .trim_end_matches('/')
        .parse()
        .map_err(|_| "is not a URL")?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        _ => return Err("has no http:// or https:// scheme"),
    }
    if uri.authority().is_none() {
        return Err("has no host");
    }
    if uri.query().is_some() {
        return Err("has a query string");
    }
    Ok(uri)
}

/// Data stream names: `<kind>-<dataset>-<namespace>`, lowercase, no `-` inside the parts.
fn check_data_stream(name: &str, kind: &str) -> Result<(), String> {
    let parts: Vec<&str> = name.split('-').collect();
    if parts.len() != 3 || parts[0] != kind || parts[1].is_empty() || parts[2].is_empty() {
        return Err(format!(
            "is not {kind}-<dataset>-<namespace> (no '-' inside dataset or namespace)"
        ));
    }
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '_';
    if !name.chars().all(|c| allowed(c) || c == '-') {
        return Err("may only hold lowercase letters, digits, '.', '_' and '-'".into());
    }
    Ok(())
}

/// `[export.elasticsearch.capture]`. Off while `sample_rate` is 0.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct CaptureConfig {
    /// Share of requests whose payload is captured, 0 (none, the default) to 1 (all).
    pub sample_rate: f64,
    /// Most bytes of captured JSON (features and predictions together) per event; rows
    /// past it are left out and the event says `modelwatch.capture.truncated: true`.
    pub max_bytes: usize,
    /// Field names (features or outputs, case-insensitive) never captured.
    pub drop: Vec<String>,
    /// Field names (case-insensitive) whose values are replaced by a keyed hash.
    pub hash: Vec<String>,
    /// The HMAC key for `hash`: at least 16 characters, kept secret, the same on every
    /// sidecar whose hashes should match.
    pub hash_key: Option<String>,
}

impl Default for CaptureConfig {
    fn default() -> Self {
        Self {
            sample_rate: 0.0,
            max_bytes: 4096,
            drop: Vec::new(),
            hash: Vec::new(),
            hash_key: None,
        }
    }
}

impl CaptureConfig {
    /// Appends one message per problem, each naming the key and the fix.
    pub fn validate(&self, problems: &mut Vec<String>) {
        const KEY: &str = "export.elasticsearch.capture";
        if !(0.0..=1.0).contains(&self.sample_rate) {
            problems.push(format!(
                "{KEY}.sample_rate = {} is outside 0..1: give a share such as 0.01 (1 %), or 0 \
                 to capture no payloads",
                self.sample_rate
            ));
        }
        if self.max_bytes == 0 {
            problems.push(format!(
                "{KEY}.max_bytes is 0: give a size in bytes such as 4096, or set sample_rate \
                 = 0 to capture nothing"
            ));
        }
        if !self.hash.is_empty() && self.hash_key.as_ref().is_none_or(|k| k.len() < 16) {
            problems.push(format!(
                "{KEY}.hash names fields but {KEY}.hash_key is unset or shorter than 16 \
                 characters: set a random secret of at least 16 characters (e.g. from \
                 `openssl rand -hex 32`), for instance through \
                 MODELWATCH__EXPORT__ELASTICSEARCH__CAPTURE__HASH_KEY"
            ));
        }
        for name in &self.hash {
            if self.drop.iter().any(|d| d.eq_ignore_ascii_case(name)) {
                problems.push(format!(
                    "{KEY}: field {name:?} is in both drop and hash: keep it in one list"
                ));
            }
        }
    }
}
