#![no_main]
//! Fuzzes `decode_request` for `Protocol::OpenInference`: the input is the body.

use libfuzzer_sys::fuzz_target;
use modelwatch::protocol::{Protocol, RequestMeta, decode_request};

fuzz_target!(|body: &[u8]| {
    let _ = decode_request(Protocol::OpenInference, &RequestMeta::default(), body);
});
