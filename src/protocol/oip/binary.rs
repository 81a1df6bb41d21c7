//! The binary tensor extension: a JSON header of `Inference-Header-Content-Length` bytes,
//! then the raw tensors back to back, in header order, each `binary_data_size` long.
//!
//! Fixed-size types are little-endian. BYTES elements are a 4-byte little-endian length
//! followed by that many bytes; they are decoded to text (invalid UTF-8 replaced), like
//! BYTES in JSON. A tensor whose bytes run past the end of the body (a body cut at
//! `analysis.max_body_bytes`) is skipped, and so is every tensor after it.

use crate::protocol::batch::Value;
use crate::protocol::error::{DecodeError, DecodeReason, fail};

/// Splits the body into the JSON header and the raw tensor bytes.
pub(super) fn split(header_len: Option<usize>, body: &[u8]) -> Result<(&[u8], &[u8]), DecodeError> {
    match header_len {
        None => Ok((body, &[])),
        Some(0) => fail(
            DecodeReason::BinaryHeaderInvalid,
            "Inference-Header-Content-Length is 0: the JSON header cannot be empty",
        ),
        Some(n) if n > body.len() => fail(
            DecodeReason::Truncated,
            format!(
                "Inference-Header-Content-Length is {n} but the body has {} bytes",
                body.len()
            ),
        ),
        Some(n) => Ok(body.split_at(n)),
    }
}

/// Hands out consecutive tensor byte ranges.
pub(super) struct Cursor<'a> {
    rest: &'a [u8],
}

impl<'a> Cursor<'a> {
    pub(super) fn new(raw: &'a [u8]) -> Self {
        Self { rest: raw }
    }

    /// The next `size` bytes, or `None` when the body ends first (and then for every
    /// later tensor too, since their offsets are past the end).
    pub(super) fn take(&mut self, size: u64) -> Option<&'a [u8]> {
        match usize::try_from(size) {
            Ok(size) if size <= self.rest.len() => {
                let (bytes, rest) = self.rest.split_at(size);
                self.rest = rest;
                Some(bytes)
            }
            _ => {
                self.rest = &[];
                None
            }
        }
    }
}

/// The Open Inference Protocol tensor datatypes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Datatype {
    Bool,
    U8,
    U16,
    U32,
    U64,
    I8,
    I16,
    I32,
    I64,
    F16,
    F32,
    F64,
    Bytes,
}

impl Datatype {
    pub(super) fn parse(s: &str, tensor: &str) -> Result<Datatype, DecodeError> {
        Ok(match s {
            "BOOL" => Datatype::Bool,
            "UINT8" => Datatype::U8,
            "UINT16" => Datatype::U16,
            "UINT32" => Datatype::U32,
            "UINT64" => Datatype::U64,
            "INT8" => Datatype::I8,
            "INT16" => Datatype::I16,
            "INT32" => Datatype::I32,
            "INT64" => Datatype::I64,
            "FP16" => Datatype::F16,
            "FP32" => Datatype::F32,
            "FP64" => Datatype::F64,
            "BYTES" => Datatype::Bytes,
            _ => {
                return fail(
                    DecodeReason::UnsupportedDatatype,
                    format!(
                        "tensor {tensor:?} has datatype {s:?}, which is not an Open Inference Protocol type"
                    ),
                );
            }
        })
    }

    /// Bytes per element; `None` for BYTES (length-prefixed).
    fn size(self) -> Option<usize> {
        Some(match self {
            Datatype::Bool | Datatype::U8 | Datatype::I8 => 1,
            Datatype::U16 | Datatype::I16 | Datatype::F16 => 2,
            Datatype::U32 | Datatype::I32 | Datatype::F32 => 4,
            Datatype::U64 | Datatype::I64 | Datatype::F64 => 8,
            Datatype::Bytes => return None,
        })
    }
}

/// Decodes one complete binary tensor of `count` elements.
pub(super) fn decode(
    datatype: Datatype,
    bytes: &[u8],
    count: usize,
    tensor: &str,
) -> Result<Vec<Value>, DecodeError> {
    let Some(size) = datatype.size() else {
        return decode_bytes(bytes, count, tensor);
    };
    if count.checked_mul(size) != Some(bytes.len()) {
        return fail(
            DecodeReason::BinaryHeaderInvalid,
            format!(
                "tensor {tensor:?}: binary_data_size is {} but {count} elements of {size} bytes need {}",
                bytes.len(),
                count.saturating_mul(size)
            ),
        );
    }
    Ok(bytes
        .chunks_exact(size)
        .map(|b| element(datatype, b))
        .collect())
}

fn element(datatype: Datatype, b: &[u8]) -> Value {
    // `b` has exactly the datatype's size (chunks_exact), so the array conversions hold;
    // the fallbacks only keep this total.
    let a2 = || <[u8; 2]>::try_from(b).unwrap_or_default();
    let a4 = || <[u8; 4]>::try_from(b).unwrap_or_default();
    let a8 = || <[u8; 8]>::try_from(b).unwrap_or_default();
    let n = match datatype {
        Datatype::Bool => return Value::Bool(b.first().is_some_and(|x| *x != 0)),
        Datatype::U8 => f64::from(b.first().copied().unwrap_or_default()),
        Datatype::I8 => f64::from(b.first().copied().unwrap_or_default() as i8),
        Datatype::U16 => f64::from(u16::from_le_bytes(a2())),
        Datatype::I16 => f64::from(i16::from_le_bytes(a2())),
        Datatype::F16 => f16_to_f64(u16::from_le_bytes(a2())),
        Datatype::U32 => f64::from(u32::from_le_bytes(a4())),
        Datatype::I32 => f64::from(i32::from_le_bytes(a4())),
        Datatype::F32 => f64::from(f32::from_le_bytes(a4())),
        Datatype::U64 => u64::from_le_bytes(a8()) as f64,
        Datatype::I64 => i64::from_le_bytes(a8()) as f64,
        Datatype::F64 => f64::from_le_bytes(a8()),
        Datatype::Bytes => return Value::Missing,
    };
    Value::Number(n)
}

/// IEEE 754 half precision to double (subnormals, infinities and NaN included).
fn f16_to_f64(bits: u16) -> f64 {
    let sign = if bits & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exponent = i32::from((bits >> 10) & 0x1f);
    let fraction = f64::from(bits & 0x3ff);
    match exponent {
        0 => sign * fraction * 2f64.powi(-24),
        31 if fraction == 0.0 => sign * f64::INFINITY,
        31 => f64::NAN,
        e => sign * (1.0 + fraction / 1024.0) * 2f64.powi(e - 15),
    }
}

fn decode_bytes(mut bytes: &[u8], count: usize, tensor: &str) -> Result<Vec<Value>, DecodeError> {
    let invalid = || {
        fail(
            DecodeReason::BinaryHeaderInvalid,
            format!("tensor {tensor:?}: BYTES elements do not fill binary_data_size exactly"),
        )
    };
    let mut values = Vec::with_capacity(count.min(bytes.len() / 4));
    for _ in 0..count {
        let Some((len, rest)) = bytes.split_first_chunk::<4>() else {
            return invalid();
        };
        let len = u32::from_le_bytes(*len) as usize;
        if len > rest.len() {
            return invalid();
        }
        let (element, rest) = rest.split_at(len);
        values.push(Value::Text(String::from_utf8_lossy(element).into_owned()));
        bytes = rest;
    }
    if !bytes.is_empty() {
        return invalid();
    }
    Ok(values)
}
