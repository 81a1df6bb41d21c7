#![no_main]
//! Fuzzes `decode_response` for `Protocol::Mlflow`: the input is the body.

use libfuzzer_sys::fuzz_target;
use modelwatch::protocol::{Protocol, ResponseMeta, decode_response};

fuzz_target!(|body: &[u8]| {
    let _ = decode_response(Protocol::Mlflow, &ResponseMeta::default(), body);
});
