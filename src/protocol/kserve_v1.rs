//! KServe V1 / TF Serving REST: `instances` (rows) or `inputs` (columnar), never both;
//! responses carry `predictions` or `outputs`.
//!
//! Rows that are lists give positional columns, rows that are objects give columns named
//! by input name. `inputs` as a map gives one column per name (one 2-D input alone gives
//! positional columns, like a single Open Inference Protocol tensor). `{"b64": "..."}`
//! stays text, still encoded. Bare `NaN` / `Infinity` are read as numbers.

use super::batch::Batch;
use super::error::{DecodeError, DecodeReason, fail};
use super::json::{self, Node};
use super::layout;
use serde::Deserialize;
use serde::de::IgnoredAny;

#[derive(Deserialize)]
struct RequestBody {
    instances: Option<Node>,
    inputs: Option<Node>,
    error: Option<IgnoredAny>,
}

#[derive(Deserialize)]
struct ResponseBody {
    predictions: Option<Node>,
    outputs: Option<Node>,
    error: Option<IgnoredAny>,
}

pub(super) fn decode_request(body: &[u8]) -> Result<Batch, DecodeError> {
    let parsed: RequestBody = json::parse(body, true)?;
    match (parsed.instances, parsed.inputs) {
        (Some(_), Some(_)) => fail(
            DecodeReason::InvalidField,
            "the body has both `instances` and `inputs`; the v1 protocol allows one",
        ),
        (Some(instances), None) => layout::inputs_to_batch(instances, "instances"),
        (None, Some(inputs)) => layout::inputs_to_batch(inputs, "inputs"),
        (None, None) if parsed.error.is_some() => upstream_error(),
        (None, None) => fail(
            DecodeReason::WrongProtocol,
            "neither `instances` nor `inputs`: not a v1 / TF Serving request",
        ),
    }
}

pub(super) fn decode_response(body: &[u8]) -> Result<Batch, DecodeError> {
    let parsed: ResponseBody = json::parse(body, true)?;
    match (parsed.predictions, parsed.outputs) {
        (Some(_), Some(_)) => fail(
            DecodeReason::InvalidField,
            "the body has both `predictions` and `outputs`; the v1 protocol allows one",
        ),
        (Some(node), None) | (None, Some(node)) => layout::predictions_to_batch(node),
        (None, None) if parsed.error.is_some() => upstream_error(),
        (None, None) => fail(
            DecodeReason::WrongProtocol,
            "neither `predictions` nor `outputs`: not a v1 / TF Serving response",
        ),
    }
}

fn upstream_error() -> Result<Batch, DecodeError> {
    fail(DecodeReason::UpstreamError, "the body is an error response")
}
