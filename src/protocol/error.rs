//! Why a payload could not be decoded, as a closed set of reasons for counters.
//!
//! The reason is the metric label; the detail is for a debug log line and names the field
//! that was wrong (serde's messages may quote a short fragment of the payload, so log it at
//! debug level only).

use std::fmt;

/// The closed set of decode failure reasons. [`DecodeReason::as_str`] is the stable label.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DecodeReason {
    /// The body is empty, or the payload carries no tensors or no rows.
    Empty,
    /// The body is not JSON (or not UTF-8 JSON).
    MalformedJson,
    /// A CSV body that the CSV reader rejects (bad quoting, not UTF-8).
    MalformedCsv,
    /// The body ends in the middle of the JSON document, or the binary tensor extension's
    /// JSON header is longer than the body (for example because the body was cut at
    /// `analysis.max_body_bytes`).
    Truncated,
    /// Valid JSON, but not a payload of the protocol asked for (no `inputs` for the Open
    /// Inference Protocol, no `instances`/`inputs` for v1, …).
    WrongProtocol,
    /// A field of the protocol is there but has the wrong type, or fields that exclude each
    /// other are both present.
    InvalidField,
    /// Data the decoders do not analyse: tensors of rank 0 or above 2, nested objects,
    /// Seldon `strData` / `binData` / `jsonData`.
    UnsupportedShape,
    /// A tensor datatype outside the Open Inference Protocol's list.
    UnsupportedDatatype,
    /// A content type the protocol does not accept (multipart, CSV where JSON is needed,
    /// a non-UTF-8 charset).
    UnsupportedContentType,
    /// Declared shapes and data disagree: data length vs shape, rows of different
    /// lengths, tensors with different row counts, names vs columns.
    ShapeMismatch,
    /// A declared shape beyond [`MAX_VALUES`](crate::protocol::MAX_VALUES) elements.
    TooLarge,
    /// The binary tensor extension's header length or a tensor's `binary_data_size` is
    /// inconsistent with the body.
    BinaryHeaderInvalid,
    /// The body is the model server's error envelope (`{"error": "..."}`).
    UpstreamError,
}

impl DecodeReason {
    /// Every reason, for registering counters up front.
    pub const ALL: [DecodeReason; 13] = [
        DecodeReason::Empty,
        DecodeReason::MalformedJson,
        DecodeReason::MalformedCsv,
        DecodeReason::Truncated,
        DecodeReason::WrongProtocol,
        DecodeReason::InvalidField,
        DecodeReason::UnsupportedShape,
        DecodeReason::UnsupportedDatatype,
        DecodeReason::UnsupportedContentType,
        DecodeReason::ShapeMismatch,
        DecodeReason::TooLarge,
        DecodeReason::BinaryHeaderInvalid,
        DecodeReason::UpstreamError,
    ];

    /// The stable snake_case label value.
    pub fn as_str(self) -> &'static str {
        match self {
            DecodeReason::Empty => "empty",
            DecodeReason::MalformedJson => "malformed_json",
            DecodeReason::MalformedCsv => "malformed_csv",
            DecodeReason::Truncated => "truncated",
            DecodeReason::WrongProtocol => "wrong_protocol",
            DecodeReason::InvalidField => "invalid_field",
            DecodeReason::UnsupportedShape => "unsupported_shape",
            DecodeReason::UnsupportedDatatype => "unsupported_datatype",
            DecodeReason::UnsupportedContentType => "unsupported_content_type",
            DecodeReason::ShapeMismatch => "shape_mismatch",
            DecodeReason::TooLarge => "too_large",
            DecodeReason::BinaryHeaderInvalid => "binary_header_invalid",
            DecodeReason::UpstreamError => "upstream_error",
        }
    }
}

impl fmt::Display for DecodeReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A payload that could not be decoded: a reason for the counter and a detail for logs.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{reason}: {detail}")]
pub struct DecodeError {
    reason: DecodeReason,
    detail: String,
}

impl DecodeError {
    pub fn new(reason: DecodeReason, detail: impl Into<String>) -> Self {
        Self {
            reason,
            detail: detail.into(),
        }
    }

    /// Why decoding failed (the counter label).
    pub fn reason(&self) -> DecodeReason {
        self.reason
    }

    /// What exactly was wrong, naming the field; may quote a short payload fragment.
    pub fn detail(&self) -> &str {
        &self.detail
    }
}

/// Shorthand used by the decoders.
pub(crate) fn fail<T>(reason: DecodeReason, detail: impl Into<String>) -> Result<T, DecodeError> {
    Err(DecodeError::new(reason, detail))
}

/// Prefix that custom serde errors raised inside our visitors carry, so the reason they
/// stand for survives serde_json's error type (which only keeps a message).
const TAG_OPEN: &str = "[reason=";

/// A serde error message that carries `reason` through serde_json.
pub(crate) fn tagged(reason: DecodeReason, detail: &str) -> String {
    format!("{TAG_OPEN}{}] {detail}", reason.as_str())
}

/// Maps a serde_json error to a decode error: a tag from our visitors wins; otherwise
/// end of input is `truncated`, syntax is `malformed_json`, and a type error is
/// `invalid_field` (the JSON is fine, a field of the protocol is not).
pub(crate) fn from_json(err: &serde_json::Error) -> DecodeError {
    let message = err.to_string();
    if let Some(rest) = message.strip_prefix(TAG_OPEN)
        && let Some((label, detail)) = rest.split_once("] ")
        && let Some(reason) = DecodeReason::ALL.into_iter().find(|r| r.as_str() == label)
    {
        return DecodeError::new(reason, detail);
    }
    let reason = match err.classify() {
        serde_json::error::Category::Eof => DecodeReason::Truncated,
        serde_json::error::Category::Syntax | serde_json::error::Category::Io => {
            DecodeReason::MalformedJson
        }
        serde_json::error::Category::Data => DecodeReason::InvalidField,
    };
    DecodeError::new(reason, message)
}
