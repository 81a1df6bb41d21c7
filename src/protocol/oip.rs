//! Open Inference Protocol (KServe V2) REST: `inputs` / `outputs` tensors, JSON or with
//! the binary tensor extension.
//!
//! Requests: one tensor `[rows, n]` gives `n` positional columns; otherwise every tensor
//! is named (`[rows]` and `[rows, 1]` give one column, `[rows, k]` gives `name:0..k-1`).
//! Responses: every output is named that way. JSON `data` may be flat or nested; only its
//! element count is checked against the shape. Element types are kept as the JSON has
//! them (a string in an FP32 tensor stays text, for the caller's type-error counter).

mod binary;

use super::batch::{Batch, Value};
use super::error::{DecodeError, DecodeReason, fail};
use super::json::{self, FlatCells};
use super::layout::{self, Naming, Tensor};
use super::{MAX_VALUES, RequestMeta, ResponseMeta};
use serde::Deserialize;
use serde::de::IgnoredAny;

#[derive(Deserialize)]
struct RequestBody {
    inputs: Option<Vec<TensorJson>>,
    error: Option<IgnoredAny>,
}

#[derive(Deserialize)]
struct ResponseBody {
    outputs: Option<Vec<TensorJson>>,
    error: Option<IgnoredAny>,
    /// A string in the protocol; some servers send a number. Anything else is ignored
    /// rather than failing the decode.
    model_version: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct TensorJson {
    name: String,
    shape: Vec<u64>,
    datatype: String,
    parameters: Option<TensorParameters>,
    data: Option<FlatCells>,
}

#[derive(Deserialize)]
struct TensorParameters {
    binary_data_size: Option<u64>,
}

pub(super) fn decode_request(meta: &RequestMeta, body: &[u8]) -> Result<Batch, DecodeError> {
    let (header, raw) = binary::split(meta.inference_header_len, body)?;
    let parsed: RequestBody = json::parse(header, true)?;
    let Some(inputs) = parsed.inputs else {
        return missing("inputs", parsed.error.is_some());
    };
    decode_tensors(inputs, raw, true)
}

pub(super) fn decode_response(meta: &ResponseMeta, body: &[u8]) -> Result<Batch, DecodeError> {
    let (header, raw) = binary::split(meta.inference_header_len, body)?;
    let parsed: ResponseBody = json::parse(header, true)?;
    let Some(outputs) = parsed.outputs else {
        return missing("outputs", parsed.error.is_some());
    };
    let mut batch = decode_tensors(outputs, raw, false)?;
    batch.model_version = match parsed.model_version {
        Some(serde_json::Value::String(v)) if !v.is_empty() => Some(v),
        Some(serde_json::Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    Ok(batch)
}

fn missing<T>(field: &str, is_error: bool) -> Result<T, DecodeError> {
    if is_error {
        fail(DecodeReason::UpstreamError, "the body is an error response")
    } else {
        fail(
            DecodeReason::WrongProtocol,
            format!("no `{field}` tensors: not an Open Inference Protocol payload"),
        )
    }
}

/// Rows and width of a tensor shape, and whether it is 2-D.
fn dims(t: &TensorJson) -> Result<(usize, usize, bool), DecodeError> {
    let total = t
        .shape
        .iter()
        .try_fold(1u64, |acc, d| acc.checked_mul(*d))
        .filter(|n| *n <= MAX_VALUES);
    if total.is_none() {
        return fail(
            DecodeReason::TooLarge,
            format!(
                "tensor {:?} declares more than {MAX_VALUES} elements",
                t.name
            ),
        );
    }
    // Both fit in usize now: their product is at most MAX_VALUES.
    match t.shape.as_slice() {
        [rows] => Ok((*rows as usize, 1, false)),
        [rows, width] => Ok((*rows as usize, *width as usize, true)),
        _ => fail(
            DecodeReason::UnsupportedShape,
            format!(
                "tensor {:?} has rank {}; only [rows] and [rows, n] are analysed",
                t.name,
                t.shape.len()
            ),
        ),
    }
}

/// Decodes every tensor; with `single_2d_positional`, a lone 2-D tensor gives positional
/// columns. Binary tensors whose bytes are not all in the body are skipped; if that
/// leaves nothing, the payload is `truncated`.
fn decode_tensors(
    tensors: Vec<TensorJson>,
    raw: &[u8],
    single_2d_positional: bool,
) -> Result<Batch, DecodeError> {
    if tensors.is_empty() {
        return fail(DecodeReason::Empty, "the payload has no tensors");
    }
    let single = tensors.len() == 1;
    let mut cursor = binary::Cursor::new(raw);
    let mut skipped = 0;
    let mut names = Vec::with_capacity(tensors.len());
    let mut decoded = Vec::with_capacity(tensors.len());
    for t in tensors {
        let datatype = binary::Datatype::parse(&t.datatype, &t.name)?;
        let (rows, width, rank2) = dims(&t)?;
        let count = rows * width;
        let binary_size = t.parameters.as_ref().and_then(|p| p.binary_data_size);
        let values: Vec<Value> = match (binary_size, t.data) {
            (Some(size), _) => match cursor.take(size) {
                Some(bytes) => binary::decode(datatype, bytes, count, &t.name)?,
                None => {
                    skipped += 1;
                    continue;
                }
            },
            (None, Some(FlatCells(values))) => values,
            (None, None) => {
                return fail(
                    DecodeReason::InvalidField,
                    format!(
                        "tensor {:?} has neither `data` nor `binary_data_size`",
                        t.name
                    ),
                );
            }
        };
        if values.len() != count {
            return fail(
                DecodeReason::ShapeMismatch,
                format!(
                    "tensor {:?} has {} elements but its shape {:?} needs {count}",
                    t.name,
                    values.len(),
                    t.shape
                ),
            );
        }
        decoded.push(Tensor {
            rows,
            width,
            rank2,
            values,
        });
        names.push(t.name);
    }
    if decoded.is_empty() && skipped > 0 {
        return fail(
            DecodeReason::Truncated,
            format!("the body holds none of the {skipped} binary tensors completely"),
        );
    }
    let parts = decoded
        .into_iter()
        .zip(&names)
        .map(|(tensor, name)| {
            let naming = if single && single_2d_positional && tensor.rank2 {
                Naming::Positional
            } else {
                Naming::Derived(name)
            };
            (tensor, naming)
        })
        .collect();
    layout::assemble(parts)
}
