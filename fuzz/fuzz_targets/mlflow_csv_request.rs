#![no_main]
//! Fuzzes the MLflow CSV request decoder: the input is a `text/csv` body.

use libfuzzer_sys::fuzz_target;
use modelwatch::protocol::{Protocol, RequestMeta, decode_request};

fuzz_target!(|body: &[u8]| {
    let meta = RequestMeta {
        content_type: Some("text/csv"),
        inference_header_len: None,
    };
    let _ = decode_request(Protocol::Mlflow, &meta, body);
});
