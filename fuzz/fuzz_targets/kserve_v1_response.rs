#![no_main]
//! Fuzzes `decode_response` for `Protocol::KServeV1`: the input is the body.

use libfuzzer_sys::fuzz_target;
use modelwatch::protocol::{Protocol, ResponseMeta, decode_response};

fuzz_target!(|body: &[u8]| {
    let _ = decode_response(Protocol::KServeV1, &ResponseMeta::default(), body);
});
