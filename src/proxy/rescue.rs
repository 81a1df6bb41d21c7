//! The one place where failures become HTTP responses and counter reasons.
//!
//! Each [`ProxyError`] maps to a status code, a closed counter reason, and a small JSON
//! body `{"error": "...", "reason": "...", "request_id": "..."}` that inference clients
//! (which expect `{"error": ...}` from KServe-style servers) can show as it is.

use super::metrics::{ClientErrorReason, ProxyMetrics, UpstreamErrorReason};
use bytes::Bytes;
use http::{HeaderValue, StatusCode};
use std::error::Error as StdError;
use std::time::Duration;

/// Why the proxy answered instead of the upstream.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error("request body is larger than the {limit}-byte limit (proxy.max_request_body_bytes)")]
    BodyTooLarge { limit: u64 },
    #[error("the request target cannot be forwarded")]
    BadRequestTarget,
    #[error("the model server refused the connection (is it running and listening?)")]
    ConnectRefused,
    #[error("could not connect to the model server within proxy.connect_timeout")]
    ConnectTimeout,
    #[error("the model server did not answer within {0:?} (proxy.response_timeout)")]
    ResponseTimeout(Duration),
    #[error("the connection to the model server failed: {0}")]
    Upstream(String),
}

impl ProxyError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::BadRequestTarget => StatusCode::BAD_REQUEST,
            Self::ResponseTimeout(_) => StatusCode::GATEWAY_TIMEOUT,
            Self::ConnectRefused | Self::ConnectTimeout | Self::Upstream(_) => {
                StatusCode::BAD_GATEWAY
            }
        }
    }

    /// The counter reason (`connect_refused`, `body_too_large`, …).
    pub fn reason(&self) -> &'static str {
        match self {
            Self::BodyTooLarge { .. } => ClientErrorReason::BodyTooLarge.as_str(),
            Self::BadRequestTarget => ClientErrorReason::MalformedRequest.as_str(),
            Self::ConnectRefused => UpstreamErrorReason::ConnectRefused.as_str(),
            Self::ConnectTimeout => UpstreamErrorReason::ConnectTimeout.as_str(),
            Self::ResponseTimeout(_) => UpstreamErrorReason::ResponseTimeout.as_str(),
            Self::Upstream(_) => UpstreamErrorReason::UpstreamError.as_str(),
        }
    }
}

/// Turns a client error from the upstream call into a [`ProxyError`].
///
/// A request body that grew past the limit mid-stream surfaces here as a body error of
/// the upstream call; it is the client's fault and gets 413, not 502.
pub fn classify_upstream(
    err: &hyper_util::client::legacy::Error,
    max_request_body: u64,
) -> ProxyError {
    let mut source: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = source {
        if e.is::<http_body_util::LengthLimitError>() {
            return ProxyError::BodyTooLarge {
                limit: max_request_body,
            };
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && err.is_connect()
        {
            match io.kind() {
                std::io::ErrorKind::ConnectionRefused => return ProxyError::ConnectRefused,
                std::io::ErrorKind::TimedOut => return ProxyError::ConnectTimeout,
                _ => {}
            }
        }
        source = e.source();
    }
    ProxyError::Upstream(chain(err))
}

fn chain(err: &dyn StdError) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(e) = source {
        out.push_str(": ");
        out.push_str(&e.to_string());
        source = e.source();
    }
    out
}

/// Counts the error under its reason.
pub fn count(metrics: &ProxyMetrics, model: &str, err: &ProxyError) {
    match err {
        ProxyError::BodyTooLarge { .. } => metrics.client_error(ClientErrorReason::BodyTooLarge),
        ProxyError::BadRequestTarget => metrics.client_error(ClientErrorReason::MalformedRequest),
        ProxyError::ConnectRefused => {
            metrics.upstream_error(model, UpstreamErrorReason::ConnectRefused)
        }
        ProxyError::ConnectTimeout => {
            metrics.upstream_error(model, UpstreamErrorReason::ConnectTimeout)
        }
        ProxyError::ResponseTimeout(_) => {
            metrics.upstream_error(model, UpstreamErrorReason::ResponseTimeout)
        }
        ProxyError::Upstream(_) => {
            metrics.upstream_error(model, UpstreamErrorReason::UpstreamError)
        }
    }
}

/// The status and JSON body sent to the client for `err`.
pub fn response_body(err: &ProxyError, request_id: &HeaderValue) -> (StatusCode, Bytes) {
    let body = serde_json::json!({
        "error": err.to_string(),
        "reason": err.reason(),
        "request_id": request_id.to_str().unwrap_or_default(),
    });
    (err.status(), Bytes::from(body.to_string()))
}
