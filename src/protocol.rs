//! Inference payload decoders: from a request or response body to columns of values.
//!
//! Pure functions (no I/O, no async) that the analysis workers call off the hot path.
//! [`detect`] picks the [`Protocol`] from the route, then the body; [`decode_request`]
//! gives the features and [`decode_response`] the predictions as a column-major
//! [`Batch`]. Any input, however broken, gives a `Batch` or a [`DecodeError`] whose
//! [`DecodeReason`] is one of a closed set (the counter label); nothing panics, and no
//! allocation is sized by a declared shape (shapes beyond [`MAX_VALUES`] are `too_large`,
//! every other allocation is bounded by the body's own length).
//!
//! Protocols: `oip` (Open Inference Protocol / KServe V2, with the binary tensor
//! extension), `kserve_v1` (KServe V1 and TF Serving), `mlflow` (`/invocations`,
//! JSON and CSV), `seldon` (Seldon Core v1) and `generic` (records or columns). LLM servers'
//! OpenAI-compatible API is summarised by `openai` (model, streaming, output, usage, finish
//! reasons) rather than decoded into columns, its streams read by `sse`.
//! Shared pieces: `json` (tolerant JSON reading), `layout` (naming and column
//! assembly), `batch` and `error` (the public types).

mod batch;
mod detect;
mod error;
mod generic;
mod json;
mod kserve_v1;
mod layout;
mod mlflow;
mod oip;
pub mod openai;
mod seldon;
pub mod sse;

pub use batch::{Batch, Column, Value};
pub use detect::detect;
pub use error::{DecodeError, DecodeReason};

use error::fail;
use std::fmt;
use std::str::FromStr;

/// The most elements a declared tensor shape may have. Decoding never allocates by the
/// declared shape, but a shape beyond this is certainly not a payload we can analyse.
pub const MAX_VALUES: u64 = 1 << 24;

/// The inference protocols modelwatch decodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// Open Inference Protocol (KServe V2 REST), `/v2/models/<m>/infer`.
    OpenInference,
    /// KServe V1 and TF Serving REST, `/v1/models/<m>:predict`.
    KServeV1,
    /// The MLflow scoring server, `/invocations`.
    Mlflow,
    /// Seldon Core v1, `/api/v1.0/predictions`.
    SeldonV1,
    /// JSON records or columns from a server without a standard protocol.
    GenericJson,
}

impl Protocol {
    /// Every protocol, in a stable order.
    pub const ALL: [Protocol; 5] = [
        Protocol::OpenInference,
        Protocol::KServeV1,
        Protocol::Mlflow,
        Protocol::SeldonV1,
        Protocol::GenericJson,
    ];

    /// The stable snake_case name, used as a metric label value, in events and in config.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::OpenInference => "oip",
            Protocol::KServeV1 => "kserve_v1",
            Protocol::Mlflow => "mlflow",
            Protocol::SeldonV1 => "seldon_v1",
            Protocol::GenericJson => "generic_json",
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A protocol name in config that is not one of [`Protocol::as_str`]'s names.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown protocol {given:?}: use one of oip, kserve_v1, mlflow, seldon_v1, generic_json")]
pub struct UnknownProtocol {
    pub given: String,
}

impl FromStr for Protocol {
    type Err = UnknownProtocol;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        Protocol::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownProtocol {
                given: s.to_owned(),
            })
    }
}

/// What the decoder needs to know about a request besides its body.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RequestMeta<'a> {
    /// The `Content-Type` header, if any.
    pub content_type: Option<&'a str>,
    /// The `Inference-Header-Content-Length` header (Open Inference Protocol binary
    /// tensor extension): the length of the JSON header at the start of the body.
    pub inference_header_len: Option<usize>,
}

/// What the decoder needs to know about a response besides its body.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ResponseMeta<'a> {
    /// The `Content-Type` header, if any.
    pub content_type: Option<&'a str>,
    /// The `Inference-Header-Content-Length` header, as for requests.
    pub inference_header_len: Option<usize>,
}

/// The features a request carries.
pub fn decode_request(
    protocol: Protocol,
    meta: &RequestMeta,
    body: &[u8],
) -> Result<Batch, DecodeError> {
    if protocol != Protocol::Mlflow {
        require_json(meta.content_type)?;
    }
    match protocol {
        Protocol::OpenInference => oip::decode_request(meta, body),
        Protocol::KServeV1 => kserve_v1::decode_request(body),
        Protocol::Mlflow => mlflow::decode_request(meta.content_type, body),
        Protocol::SeldonV1 => seldon::decode_request(body),
        Protocol::GenericJson => generic::decode_request(body),
    }
}

/// The predictions a response carries.
pub fn decode_response(
    protocol: Protocol,
    meta: &ResponseMeta,
    body: &[u8],
) -> Result<Batch, DecodeError> {
    require_json(meta.content_type)?;
    match protocol {
        Protocol::OpenInference => oip::decode_response(meta, body),
        Protocol::KServeV1 => kserve_v1::decode_response(body),
        Protocol::Mlflow => mlflow::decode_response(body),
        Protocol::SeldonV1 => seldon::decode_response(body),
        Protocol::GenericJson => generic::decode_response(body),
    }
}

/// How a body is encoded, from its content type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BodyFormat {
    Json,
    Csv,
}

/// The body format a content type announces. Lenient on purpose: clients often send JSON
/// as `text/plain` or curl's form type, so only CSV, multipart and non-UTF-8 charsets are
/// told apart; anything else is read as JSON.
fn body_format(content_type: Option<&str>) -> Result<BodyFormat, DecodeError> {
    let Some(content_type) = content_type else {
        return Ok(BodyFormat::Json);
    };
    let mut parts = content_type.split(';');
    let media = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
    for param in parts {
        if let Some((name, value)) = param.split_once('=')
            && name.trim().eq_ignore_ascii_case("charset")
        {
            let charset = value.trim().trim_matches('"').to_ascii_lowercase();
            if !matches!(charset.as_str(), "utf-8" | "utf8" | "us-ascii") {
                return fail(
                    DecodeReason::UnsupportedContentType,
                    format!("charset {charset:?}: only UTF-8 bodies are decoded"),
                );
            }
        }
    }
    if media == "text/csv" {
        Ok(BodyFormat::Csv)
    } else if media.starts_with("multipart/") {
        fail(
            DecodeReason::UnsupportedContentType,
            format!("content type {media:?} is not decoded"),
        )
    } else {
        Ok(BodyFormat::Json)
    }
}

fn require_json(content_type: Option<&str>) -> Result<(), DecodeError> {
    match body_format(content_type)? {
        BodyFormat::Json => Ok(()),
        BodyFormat::Csv => fail(
            DecodeReason::UnsupportedContentType,
            "a CSV body is only decoded for MLflow requests",
        ),
    }
}

#[cfg(test)]
mod tests;
