#![no_main]
//! Fuzzes `decode_response` for `Protocol::SeldonV1`: the input is the body.

use libfuzzer_sys::fuzz_target;
use modelwatch::protocol::{Protocol, ResponseMeta, decode_response};

fuzz_target!(|body: &[u8]| {
    let _ = decode_response(Protocol::SeldonV1, &ResponseMeta::default(), body);
});
