//! W3C trace context (`traceparent`): the one parser of it in the crate.
//!
//! The proxy reads the client's header into the [`Exchange`](super::Exchange) and the
//! request event carries its trace id; with OTLP traces on, the forwarder replaces the
//! header sent upstream with its client span's context, in the same trace.

use http::header::{HeaderMap, HeaderName, HeaderValue};

/// W3C trace context: `version-traceid-parentid-flags`.
pub static TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");

/// The trace id of a W3C `traceparent` header (`00-<32 hex>-<16 hex>-<2 hex>`), or `None`
/// when there is none or it is malformed (then, per the spec, it is as if it were absent).
/// Later versions may append fields; version `ff` and all-zero ids are invalid.
pub fn trace_id(headers: &HeaderMap) -> Option<String> {
    trace_id_of(headers.get(&TRACEPARENT)?)
}

/// [`trace_id`] of one `traceparent` value.
pub fn trace_id_of(traceparent: &HeaderValue) -> Option<String> {
    let value = traceparent.to_str().ok()?.trim();
    let mut fields = value.split('-');
    let (version, trace, parent, flags) = (
        fields.next()?,
        fields.next()?,
        fields.next()?,
        fields.next()?,
    );
    let hex = |s: &str, len: usize| {
        s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    };
    let nonzero = |s: &str| s.bytes().any(|b| b != b'0');
    let valid = hex(version, 2)
        && version != "ff"
        && hex(trace, 32)
        && nonzero(trace)
        && hex(parent, 16)
        && nonzero(parent)
        && hex(flags, 2)
        && (version != "00" || fields.next().is_none());
    valid.then(|| trace.to_string())
}

#[cfg(test)]
mod tests;
