//! The proxy's RED metrics, registered once; the hot path only looks up cached handles.
//!
//! Label values are closed sets or interned, bounded values (see [`crate::traffic::identity`]):
//! `code` is the status code's static string, `reason` a [`UpstreamErrorReason`] or
//! [`ClientErrorReason`], `model`/`model_version` come from the label interner. Per model
//! and version, the four histograms, the `code="200"` counter and the model's in-flight
//! gauge are resolved once and cached, so recording an answered request costs a few atomic
//! adds (other codes take one hash lookup).

use crate::traffic::identity::ModelLabels;
use prometheus::{
    Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry,
};
use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};

pub use crate::export::prometheus::LATENCY_BUCKETS;

/// Body size buckets in bytes: 64 B to 64 MiB by powers of four.
pub const SIZE_BUCKETS: &[f64] = &[
    64.0, 256.0, 1024.0, 4096.0, 16384.0, 65536.0, 262144.0, 1048576.0, 4194304.0, 16777216.0,
    67108864.0,
];

/// Why a request did not get an answer from the upstream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UpstreamErrorReason {
    /// The upstream port refused the connection (nothing listening): 502.
    ConnectRefused,
    /// No TCP connection within `proxy.connect_timeout`: 502.
    ConnectTimeout,
    /// No response head within `proxy.response_timeout`: 504.
    ResponseTimeout,
    /// The connection failed in another way (reset, closed mid-response, protocol error): 502.
    UpstreamError,
}

impl UpstreamErrorReason {
    pub const ALL: [UpstreamErrorReason; 4] = [
        Self::ConnectRefused,
        Self::ConnectTimeout,
        Self::ResponseTimeout,
        Self::UpstreamError,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ConnectRefused => "connect_refused",
            Self::ConnectTimeout => "connect_timeout",
            Self::ResponseTimeout => "response_timeout",
            Self::UpstreamError => "upstream_error",
        }
    }
}

/// Why the proxy refused or lost a client's request before it reached the upstream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientErrorReason {
    /// The request head did not arrive within `proxy.header_read_timeout`; connection closed.
    HeaderTimeout,
    /// Too many or too large header fields: 431.
    HeadersTooLarge,
    /// The body exceeded `proxy.max_request_body_bytes`: 413.
    BodyTooLarge,
    /// Bytes that are not HTTP; connection closed (with 400 where HTTP/1 allows it).
    MalformedRequest,
}

impl ClientErrorReason {
    pub const ALL: [ClientErrorReason; 4] = [
        Self::HeaderTimeout,
        Self::HeadersTooLarge,
        Self::BodyTooLarge,
        Self::MalformedRequest,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::HeaderTimeout => "header_timeout",
            Self::HeadersTooLarge => "headers_too_large",
            Self::BodyTooLarge => "body_too_large",
            Self::MalformedRequest => "malformed_request",
        }
    }
}

/// Handles for one model version, resolved once.
#[derive(Clone)]
pub struct VersionHandles {
    pub request_duration: Histogram,
    pub upstream_duration: Histogram,
    pub request_size: Histogram,
    pub response_size: Histogram,
    /// `modelwatch_requests_in_flight{model}`.
    in_flight: IntGauge,
    /// `modelwatch_requests_total{code="200"}`, resolved at the first 200, not before: a
    /// version that never answered 200 shows no such series.
    ok: Arc<OnceLock<IntCounter>>,
}

/// A model and version label pair.
type VersionKey = (Arc<str>, Arc<str>);

/// All metrics the proxy records.
pub struct ProxyMetrics {
    requests: IntCounterVec,
    request_duration: HistogramVec,
    upstream_duration: HistogramVec,
    request_size: HistogramVec,
    response_size: HistogramVec,
    in_flight: IntGaugeVec,
    upstream_errors: IntCounterVec,
    client_errors: IntCounterVec,
    /// LLM latency and usage of OpenAI-compatible calls.
    pub llm: Arc<super::llm::LlmMetrics>,
    handles: RwLock<HashMap<VersionKey, VersionHandles>>,
}

impl ProxyMetrics {
    /// Creates the metrics and registers them in `registry`.
    pub fn register(registry: &Registry) -> prometheus::Result<Self> {
        let model_version = &["model", "model_version"];
        let histogram = |name: &str, help: &str, buckets: &[f64]| {
            HistogramVec::new(
                HistogramOpts::new(name, help).buckets(buckets.to_vec()),
                model_version,
            )
        };
        let metrics = Self {
            requests: IntCounterVec::new(
                Opts::new(
                    "modelwatch_requests_total",
                    "Requests answered, by model, version and HTTP status code.",
                ),
                &["model", "model_version", "code"],
            )?,
            request_duration: histogram(
                "modelwatch_request_duration_seconds",
                "Time from the request head arriving to the last response byte sent.",
                LATENCY_BUCKETS,
            )?,
            upstream_duration: histogram(
                "modelwatch_upstream_duration_seconds",
                "Time from forwarding the request to the upstream's response head.",
                LATENCY_BUCKETS,
            )?,
            request_size: histogram(
                "modelwatch_request_size_bytes",
                "Request body sizes forwarded to the upstream.",
                SIZE_BUCKETS,
            )?,
            response_size: histogram(
                "modelwatch_response_size_bytes",
                "Response body sizes returned to clients.",
                SIZE_BUCKETS,
            )?,
            in_flight: IntGaugeVec::new(
                Opts::new(
                    "modelwatch_requests_in_flight",
                    "Requests received and not yet fully answered.",
                ),
                &["model"],
            )?,
            upstream_errors: IntCounterVec::new(
                Opts::new(
                    "modelwatch_upstream_errors_total",
                    "Requests the upstream did not answer, by reason.",
                ),
                &["model", "reason"],
            )?,
            client_errors: IntCounterVec::new(
                Opts::new(
                    "modelwatch_client_errors_total",
                    "Requests refused or lost before reaching the upstream, by reason.",
                ),
                &["reason"],
            )?,
            llm: Arc::new(super::llm::LlmMetrics::register(registry)?),
            handles: RwLock::new(HashMap::new()),
        };
        registry.register(Box::new(metrics.requests.clone()))?;
        registry.register(Box::new(metrics.request_duration.clone()))?;
        registry.register(Box::new(metrics.upstream_duration.clone()))?;
        registry.register(Box::new(metrics.request_size.clone()))?;
        registry.register(Box::new(metrics.response_size.clone()))?;
        registry.register(Box::new(metrics.in_flight.clone()))?;
        registry.register(Box::new(metrics.upstream_errors.clone()))?;
        registry.register(Box::new(metrics.client_errors.clone()))?;
        // Expose every client-error reason from the start, so a rate() over it is 0, not
        // absent, until the first error.
        for reason in ClientErrorReason::ALL {
            metrics.client_errors.with_label_values(&[reason.as_str()]);
        }
        Ok(metrics)
    }

    /// The cached histograms of one model version.
    pub fn version(&self, labels: &ModelLabels) -> VersionHandles {
        let key = (labels.model.clone(), labels.version.clone());
        if let Some(h) = self
            .handles
            .read()
            .expect("metrics handle lock poisoned")
            .get(&key)
        {
            return h.clone();
        }
        let values = [&*labels.model, &*labels.version];
        let handles = VersionHandles {
            request_duration: self.request_duration.with_label_values(&values),
            upstream_duration: self.upstream_duration.with_label_values(&values),
            request_size: self.request_size.with_label_values(&values),
            response_size: self.response_size.with_label_values(&values),
            in_flight: self.in_flight.with_label_values(&values[..1]),
            ok: Arc::default(),
        };
        self.handles
            .write()
            .expect("metrics handle lock poisoned")
            .entry(key)
            .or_insert(handles)
            .clone()
    }

    /// Counts one answered request.
    pub fn count_request(
        &self,
        labels: &ModelLabels,
        handles: &VersionHandles,
        code: http::StatusCode,
    ) {
        let values = [&*labels.model, &*labels.version, code.as_str()];
        if code == http::StatusCode::OK {
            handles
                .ok
                .get_or_init(|| self.requests.with_label_values(&values))
                .inc();
        } else {
            self.requests.with_label_values(&values).inc();
        }
    }

    /// Marks a request in flight until the returned guard is dropped.
    pub fn in_flight(&self, handles: &VersionHandles) -> InFlight {
        let gauge = handles.in_flight.clone();
        gauge.inc();
        InFlight(gauge)
    }

    pub fn upstream_error(&self, model: &str, reason: UpstreamErrorReason) {
        self.upstream_errors
            .with_label_values(&[model, reason.as_str()])
            .inc();
    }

    pub fn client_error(&self, reason: ClientErrorReason) {
        self.client_errors
            .with_label_values(&[reason.as_str()])
            .inc();
    }
}

/// Decrements `modelwatch_requests_in_flight` when dropped, however the request ends.
pub struct InFlight(IntGauge);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

#[cfg(test)]
mod tests;
