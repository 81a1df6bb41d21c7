//! Generic JSON for model servers without a standard protocol: a list of records, an
//! object of equal-length columns, or a single record.
//!
//! Requests: records and columns give named columns; a list of lists gives positional
//! columns. Responses: additionally a list of scalars (`prediction`) or an object with
//! `predictions` (read as MLflow predictions).

use super::batch::Batch;
use super::error::{DecodeError, DecodeReason, fail};
use super::json::{self, Node};
use super::layout::{self, Naming};

pub(super) fn decode_request(body: &[u8]) -> Result<Batch, DecodeError> {
    match json::parse::<Node>(body, false)? {
        Node::List(rows) => layout::rows_to_batch(rows, Naming::Positional),
        Node::Object(entries) => object_to_batch(entries),
        Node::Cell(_) => fail(
            DecodeReason::WrongProtocol,
            "the body is a bare scalar, not records or columns",
        ),
    }
}

pub(super) fn decode_response(body: &[u8]) -> Result<Batch, DecodeError> {
    match json::parse::<Node>(body, false)? {
        Node::Object(mut entries) => {
            if let Some(at) = entries.iter().position(|(k, _)| k == "predictions") {
                let (_, predictions) = entries.swap_remove(at);
                return layout::predictions_to_batch(predictions);
            }
            object_to_batch(entries)
        }
        node => layout::predictions_to_batch(node),
    }
}

/// An object of columns (every value a list) or one record (every value a scalar).
fn object_to_batch(entries: Vec<(String, Node)>) -> Result<Batch, DecodeError> {
    if entries.iter().all(|(_, v)| matches!(v, Node::List(_))) {
        layout::column_map_to_batch(entries, false)
    } else if entries.iter().all(|(_, v)| matches!(v, Node::Cell(_))) {
        layout::rows_to_batch(vec![Node::Object(entries)], Naming::Positional)
    } else {
        fail(
            DecodeReason::ShapeMismatch,
            "the object mixes lists and scalars: send columns (all lists) or one record",
        )
    }
}
