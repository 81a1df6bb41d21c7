#![no_main]
//! Fuzzes the properties in `properties::sse_stream` (`fuzz/properties.rs`): the input is
//! a response stream (its first byte the chunk boundary) as the proxy's LLM tap reads it
//! (`protocol::sse`, `protocol::openai`).

#[path = "../properties.rs"]
mod properties;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| properties::sse_stream(input));
