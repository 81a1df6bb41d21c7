//! modelwatch's integration tests: one binary, one module per area. Each test runs the
//! real `modelwatch` binary against real HTTP servers bound on loopback.

mod protocol_corpus;
mod proxy;
mod support;
mod tidy;
