//! Seldon Core v1: `data.names` with `data.ndarray` (rows) or `data.tensor{shape, values}`.
//!
//! With `names`, columns take them (their count must match the width); without, request
//! columns are positional and response columns are `prediction` / `prediction:0..`.
//! `strData`, `binData`, `jsonData` and `tftensor` are counted as `unsupported_shape`,
//! not analysed.

use super::MAX_VALUES;
use super::batch::{Batch, Value};
use super::error::{DecodeError, DecodeReason, fail};
use super::json::{self, FlatCells, Node};
use super::layout::{self, Naming, Tensor};
use serde::Deserialize;
use serde::de::IgnoredAny;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Body {
    data: Option<Data>,
    str_data: Option<IgnoredAny>,
    bin_data: Option<IgnoredAny>,
    json_data: Option<IgnoredAny>,
    status: Option<IgnoredAny>,
}

#[derive(Deserialize)]
struct Data {
    names: Option<Vec<Node>>,
    ndarray: Option<Node>,
    tensor: Option<SeldonTensor>,
    tftensor: Option<IgnoredAny>,
}

#[derive(Deserialize)]
struct SeldonTensor {
    shape: Vec<u64>,
    values: FlatCells,
}

pub(super) fn decode_request(body: &[u8]) -> Result<Batch, DecodeError> {
    decode(body, Naming::Positional)
}

pub(super) fn decode_response(body: &[u8]) -> Result<Batch, DecodeError> {
    decode(body, Naming::Derived("prediction"))
}

fn decode(body: &[u8], unnamed: Naming<'static>) -> Result<Batch, DecodeError> {
    let parsed: Body = json::parse(body, true)?;
    let Some(data) = parsed.data else {
        if parsed.str_data.is_some() || parsed.bin_data.is_some() || parsed.json_data.is_some() {
            return fail(
                DecodeReason::UnsupportedShape,
                "strData, binData and jsonData payloads are not analysed",
            );
        }
        if parsed.status.is_some() {
            return fail(
                DecodeReason::UpstreamError,
                "the body is a Seldon status response",
            );
        }
        return fail(
            DecodeReason::WrongProtocol,
            "no `data`: not a Seldon Core v1 payload",
        );
    };
    let naming = match data.names {
        Some(names) if !names.is_empty() => Naming::Given(names_as_text(names)?),
        _ => unnamed,
    };
    match (data.ndarray, data.tensor) {
        (Some(_), Some(_)) => fail(
            DecodeReason::InvalidField,
            "`data` has both `ndarray` and `tensor`; Seldon allows one",
        ),
        (Some(Node::List(rows)), None) => layout::rows_to_batch(rows, naming),
        (Some(_), None) => fail(DecodeReason::InvalidField, "`data.ndarray` is not a list"),
        (None, Some(tensor)) => {
            let tensor = from_tensor(tensor)?;
            let rows = tensor.rows;
            layout::finish(layout::split(tensor, &naming)?, rows)
        }
        (None, None) if data.tftensor.is_some() => fail(
            DecodeReason::UnsupportedShape,
            "`data.tftensor` payloads are not analysed",
        ),
        (None, None) => fail(
            DecodeReason::InvalidField,
            "`data` has neither `ndarray` nor `tensor`",
        ),
    }
}

fn names_as_text(names: Vec<Node>) -> Result<Vec<String>, DecodeError> {
    names
        .into_iter()
        .map(|n| match n {
            Node::Cell(Value::Text(s)) => Ok(s),
            _ => fail(
                DecodeReason::InvalidField,
                "`data.names` holds a value that is not a string",
            ),
        })
        .collect()
}

fn from_tensor(t: SeldonTensor) -> Result<Tensor, DecodeError> {
    let total = t.shape.iter().try_fold(1u64, |acc, d| acc.checked_mul(*d));
    if total.is_none_or(|n| n > MAX_VALUES) {
        return fail(
            DecodeReason::TooLarge,
            format!("`data.tensor.shape` declares more than {MAX_VALUES} elements"),
        );
    }
    // Both dimensions fit in usize: their product is at most MAX_VALUES.
    let (rows, width) = match t.shape.as_slice() {
        [rows] => (*rows as usize, 1),
        [rows, width] => (*rows as usize, *width as usize),
        _ => {
            return fail(
                DecodeReason::UnsupportedShape,
                format!(
                    "`data.tensor` has rank {}; only [rows] and [rows, n] are analysed",
                    t.shape.len()
                ),
            );
        }
    };
    Ok(Tensor {
        rows,
        width,
        rank2: t.shape.len() == 2,
        values: t.values.0,
    })
}
