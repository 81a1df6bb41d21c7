//! What flows between the stages: the vocabulary that the proxy, analysis and export share,
//! kept below all three so that none of them imports another's insides.
//!
//! - [`identity`]: which model and version a request is for, as bounded label values.
//! - [`capture`]: the bounded copy of a body the proxy tees off as it streams.
//! - [`exchange`]: one finished request/response ([`Exchange`]) and how its body ended
//!   ([`BodyEnd`]).
//! - [`trace`]: the W3C `traceparent` header.
//! - [`llm`]: what one OpenAI-compatible call came to ([`llm::LlmRecord`]), for its span
//!   and its event.
//!
//! Nothing here does I/O or knows who produces or consumes these values.

pub mod capture;
pub mod exchange;
pub mod identity;
pub mod llm;
pub mod trace;

pub use exchange::{BodyEnd, CapturedMessage, Exchange};
pub use identity::ModelLabels;
