#![no_main]
//! Fuzzes the properties in `properties::bulk_response` (`fuzz/properties.rs`): the first
//! byte is the number of events sent, the rest the body of a `_bulk` answer, as the
//! shipper reads it (`bulk::outcomes`).

#[path = "../properties.rs"]
mod properties;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| properties::bulk_response(input));
