//! Off the hot path: what the proxy saw, turned into distributions and drift.
//!
//! The proxy tees each body into a bounded [`capture::Capture`] and, when the response has
//! ended, hands one [`exchange::Exchange`] to the [`queue::AnalysisQueue`] with a
//! non-blocking send. A full queue drops the exchange and counts it; nothing here can slow
//! down or change a response. Worker threads drain the queue.

pub mod capture;
pub mod exchange;
pub mod queue;
