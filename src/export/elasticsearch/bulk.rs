//! The `_bulk` wire format: NDJSON `create` actions out, per-item outcomes back.
//!
//! A 200 answer can still hold failures, so every `items[].create.status` is read: 201 is
//! delivered, 409 already delivered (a retry of a batch that got through), 429/502/503/504
//! are worth retrying, any other status is final and goes to the dead-letter file.

use serde_json::Value;

/// What one item's status means for the shipper.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ItemOutcome {
    Delivered,
    /// 409 on `create`: this `_id` is already in the stream.
    Duplicate,
    /// Try this item again later.
    Retry,
    /// Refused for good, with the cluster's reason.
    Rejected {
        status: u16,
        reason: String,
    },
}

/// One NDJSON body for `POST /_bulk` from documents already serialised (as the spool holds
/// them), `(data stream, _id, document)` per item: an action line naming the data stream
/// and `_id`, and the document line; every line ends in `\n` (the last one too, or the
/// cluster answers 400).
pub fn encode_raw<'a>(events: impl IntoIterator<Item = (&'a str, &'a str, &'a [u8])>) -> Vec<u8> {
    let mut body = Vec::new();
    for (index, id, document) in events {
        let action = serde_json::json!({"create": {"_index": index, "_id": id}});
        serde_json::to_writer(&mut body, &action).expect("JSON values always serialise");
        body.push(b'\n');
        body.extend_from_slice(document);
        body.push(b'\n');
    }
    body
}

/// Whether a status is transient (the item or the request may succeed later).
pub fn is_retryable(status: u16) -> bool {
    matches!(status, 429 | 502 | 503 | 504)
}

/// The outcome of each of `expected` items, in request order; `Err` when the answer is not
/// a bulk response for that many items.
pub fn outcomes(response: &Value, expected: usize) -> Result<Vec<ItemOutcome>, String> {
    let items = response["items"]
        .as_array()
        .ok_or("the _bulk answer has no items array")?;
    if items.len() != expected {
        return Err(format!(
            "the _bulk answer has {} items for {expected} events",
            items.len()
        ));
    }
    items
        .iter()
        .map(|item| {
            let create = &item["create"];
            let status = create["status"]
                .as_u64()
                .and_then(|s| u16::try_from(s).ok())
                .ok_or("a _bulk item has no create.status")?;
            Ok(match status {
                200..=299 => ItemOutcome::Delivered,
                409 => ItemOutcome::Duplicate,
                s if is_retryable(s) => ItemOutcome::Retry,
                s => ItemOutcome::Rejected {
                    status: s,
                    reason: reason(&create["error"]),
                },
            })
        })
        .collect()
}

/// `type: reason (caused by …)` from an item's `error` object.
fn reason(error: &Value) -> String {
    let mut text = format!(
        "{}: {}",
        error["type"].as_str().unwrap_or("error"),
        error["reason"].as_str().unwrap_or("no reason given")
    );
    if let Some(cause) = error["caused_by"]["reason"].as_str() {
        text.push_str(&format!(" (caused by: {cause})"));
    }
    text
}
