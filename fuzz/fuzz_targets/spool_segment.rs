#![no_main]
//! Fuzzes the properties in `properties::spool_segment` (`fuzz/properties.rs`): the input
//! is the bytes of a spool segment file (`spool/segment.rs`), as crash recovery and the
//! shipper's reader scan them.

#[path = "../properties.rs"]
mod properties;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| properties::spool_segment(input));
