#![no_main]
//! Fuzzes the binary tensor extension of `decode_response` (Open Inference Protocol):
//! the first two input bytes (little-endian) are `Inference-Header-Content-Length`,
//! the rest is the body.

use libfuzzer_sys::fuzz_target;
use modelwatch::protocol::{Protocol, ResponseMeta, decode_response};

fuzz_target!(|input: &[u8]| {
    let Some((len, body)) = input.split_first_chunk::<2>() else {
        return;
    };
    let meta = ResponseMeta {
        content_type: Some("application/octet-stream"),
        inference_header_len: Some(usize::from(u16::from_le_bytes(*len))),
    };
    let _ = decode_response(Protocol::OpenInference, &meta, body);
});
