//! Feedback in: the body of `POST /api/v1/feedback` parsed into items, each with the
//! line it came from, and the outcomes an item can have.
//!
//! Three forms, chosen by `Content-Type` (or, without one, by the first byte):
//! - a JSON array (`application/json`) of `{"request_id": "...", "label": <value>}`;
//! - NDJSON (`application/x-ndjson`), one such object per line;
//! - CSV (`text/csv`) with a header naming `request_id` and `label` (and optionally
//!   `timestamp`, `row`).
//!
//! An item may give `labels` (an object, output name → label) instead of `label` for a
//! model with several outputs, `row` (the row's index in a batched request, default 0) and
//! `timestamp` (when the label was known, RFC 3339 or Unix seconds; default: when it
//! arrived). A body that cannot be read as a whole (a JSON array that does not parse, a
//! CSV without the header) is refused with the line; an item that is wrong on its own is
//! `invalid`, with its line, and the rest of the batch still joins.

use serde_json::{Map, Value};

/// What became of one feedback item: the `outcome` label of `modelwatch_feedback_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The label is now beside its prediction.
    Joined,
    /// No stored prediction has this request id.
    UnknownRequest,
    /// The prediction already had a label; the first one stays.
    Duplicate,
    /// The prediction was evicted, or is older than the retention.
    Expired,
    /// The item itself is wrong (no request id, no label, a label that is not a value).
    Invalid,
}

impl Outcome {
    pub const ALL: [Outcome; 5] = [
        Outcome::Joined,
        Outcome::UnknownRequest,
        Outcome::Duplicate,
        Outcome::Expired,
        Outcome::Invalid,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Joined => "joined",
            Outcome::UnknownRequest => "unknown_request",
            Outcome::Duplicate => "duplicate",
            Outcome::Expired => "expired",
            Outcome::Invalid => "invalid",
        }
    }
}

/// One feedback item that parsed.
#[derive(Clone, Debug, PartialEq)]
pub struct FeedbackItem {
    pub at: At,
    pub request_id: String,
    pub row: u32,
    /// `label` (as `None` key) or `labels`.
    pub labels: Labels,
    /// When the label was known, ms since the Unix epoch.
    pub timestamp_ms: Option<i64>,
}

/// The label(s) an item carries.
#[derive(Clone, Debug, PartialEq)]
pub enum Labels {
    /// `label`: for the model's first output.
    One(Value),
    /// `labels`: output name → label.
    ByOutput(Map<String, Value>),
}

/// Where an item is in the body: its 1-based line (NDJSON, CSV), or its 1-based place in
/// a JSON array (serde_json keeps no positions of array elements).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum At {
    Line(usize),
    Item(usize),
}

/// An item that could not be used, with its line.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Problem {
    #[serde(flatten)]
    pub at: At,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    pub outcome: Outcome,
    pub reason: String,
}

/// A body that cannot be read at all: answered 400 with this message.
#[derive(Debug, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct Unreadable {
    pub line: usize,
    pub message: String,
}

/// The body's form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Form {
    JsonArray,
    Ndjson,
    Csv,
}

impl Form {
    /// From the `Content-Type`, else from the body's first non-blank byte.
    pub fn of(content_type: Option<&str>, body: &[u8]) -> Form {
        let essence = content_type
            .and_then(|c| c.split(';').next())
            .map(|c| c.trim().to_ascii_lowercase());
        match essence.as_deref() {
            Some("text/csv") => Form::Csv,
            Some("application/x-ndjson" | "application/jsonl" | "application/json-lines") => {
                Form::Ndjson
            }
            Some("application/json") if first_byte(body) != Some(b'{') => Form::JsonArray,
            _ => match first_byte(body) {
                Some(b'[') => Form::JsonArray,
                Some(b'{') => Form::Ndjson,
                _ => Form::Csv,
            },
        }
    }
}

fn first_byte(body: &[u8]) -> Option<u8> {
    body.iter().copied().find(|b| !b.is_ascii_whitespace())
}

/// Parses a body into items and per-item problems.
pub fn parse(form: Form, body: &[u8]) -> Result<(Vec<FeedbackItem>, Vec<Problem>), Unreadable> {
    let text = std::str::from_utf8(body).map_err(|e| Unreadable {
        line: line_of(body, e.valid_up_to()),
        message: "the body is not UTF-8".into(),
    })?;
    let mut items = Vec::new();
    let mut problems = Vec::new();
    let mut take = |at: At, result: Result<FeedbackItem, (Option<String>, String)>| match result {
        Ok(item) => items.push(item),
        Err((request_id, reason)) => problems.push(Problem {
            at,
            request_id,
            outcome: Outcome::Invalid,
            reason,
        }),
    };
    match form {
        Form::JsonArray => {
            let values: Vec<Value> = serde_json::from_str(text).map_err(|e| Unreadable {
                line: e.line(),
                message: format!(
                    "not a JSON array of feedback items ({e}); send \
                     [{{\"request_id\": \"...\", \"label\": ...}}, ...]"
                ),
            })?;
            for (i, value) in values.into_iter().enumerate() {
                take(At::Item(i + 1), item_from_value(At::Item(i + 1), value));
            }
        }
        Form::Ndjson => {
            for (i, line_text) in text.lines().enumerate() {
                if line_text.trim().is_empty() {
                    continue;
                }
                take(At::Line(i + 1), item_from_json(At::Line(i + 1), line_text));
            }
        }
        Form::Csv => parse_csv(text, &mut take)?,
    }
    Ok((items, problems))
}

fn parse_csv(
    text: &str,
    take: &mut impl FnMut(At, Result<FeedbackItem, (Option<String>, String)>),
) -> Result<(), Unreadable> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let header = reader.headers().map_err(|e| Unreadable {
        line: 1,
        message: format!("the CSV header cannot be read: {e}"),
    })?;
    let column = |name: &str| header.iter().position(|h| h == name);
    let (Some(id_at), Some(label_at)) = (column("request_id"), column("label")) else {
        return Err(Unreadable {
            line: 1,
            message: format!(
                "the CSV header is {:?}; it must name the columns request_id and label \
                 (optionally timestamp and row), e.g. `request_id,label`",
                header.iter().collect::<Vec<_>>().join(",")
            ),
        });
    };
    let (time_at, row_at) = (column("timestamp"), column("row"));
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line() as usize);
                take(
                    At::Line(line),
                    Err((None, format!("unreadable CSV row: {e}"))),
                );
                continue;
            }
        };
        let line = record.position().map_or(0, |p| p.line() as usize);
        let request_id = record.get(id_at).unwrap_or_default().to_string();
        let result = (|| {
            let label = record
                .get(label_at)
                .filter(|l| !l.is_empty())
                .ok_or("the label is empty")?;
            let timestamp_ms = match time_at
                .and_then(|i| record.get(i))
                .filter(|t| !t.is_empty())
            {
                Some(t) => Some(parse_time(&Value::String(t.into()))?),
                None => None,
            };
            let row = match row_at.and_then(|i| record.get(i)).filter(|t| !t.is_empty()) {
                Some(r) => r.parse().map_err(|_| "row is not a non-negative integer")?,
                None => 0,
            };
            check_id(&request_id)?;
            Ok::<_, &str>(FeedbackItem {
                at: At::Line(line),
                request_id: request_id.clone(),
                row,
                labels: Labels::One(csv_value(label)),
                timestamp_ms,
            })
        })();
        take(
            At::Line(line),
            result.map_err(|why| ((!request_id.is_empty()).then_some(request_id), why.into())),
        );
    }
    Ok(())
}

/// A CSV cell as the JSON value it stands for: numbers and booleans as such, else text.
fn csv_value(cell: &str) -> Value {
    if let Ok(n) = cell.parse::<f64>()
        && let Some(n) = serde_json::Number::from_f64(n)
    {
        return if let Ok(i) = cell.parse::<i64>() {
            Value::from(i)
        } else {
            Value::Number(n)
        };
    }
    match cell {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        _ => Value::String(cell.into()),
    }
}

fn item_from_json(at: At, text: &str) -> Result<FeedbackItem, (Option<String>, String)> {
    let value: Value =
        serde_json::from_str(text).map_err(|e| (None, format!("not a JSON object: {e}")))?;
    item_from_value(at, value)
}

fn item_from_value(at: At, value: Value) -> Result<FeedbackItem, (Option<String>, String)> {
    let Value::Object(mut object) = value else {
        return Err((None, "not a JSON object".into()));
    };
    let request_id = match object.remove("request_id") {
        Some(Value::String(s)) => s,
        Some(_) => return Err((None, "request_id is not a string".into())),
        None => return Err((None, "no request_id".into())),
    };
    let fail = |why: &str| (Some(request_id.clone()), why.to_string());
    check_id(&request_id).map_err(fail)?;
    let labels = match (object.remove("label"), object.remove("labels")) {
        (Some(_), Some(_)) => return Err(fail("give label or labels, not both")),
        (Some(v), None) => Labels::One(v),
        (None, Some(Value::Object(map))) => Labels::ByOutput(map),
        (None, Some(_)) => {
            return Err(fail("labels must be an object: output name → label"));
        }
        (None, None) => return Err(fail("no label (or labels)")),
    };
    let timestamp_ms = match object.remove("timestamp") {
        None | Some(Value::Null) => None,
        Some(t) => Some(parse_time(&t).map_err(fail)?),
    };
    let row = match object.remove("row") {
        None | Some(Value::Null) => 0,
        Some(Value::Number(n)) => n
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| fail("row is not a non-negative integer"))?,
        Some(_) => return Err(fail("row is not a non-negative integer")),
    };
    if let Some(key) = object.keys().next() {
        return Err(fail(&format!(
            "unknown field {key:?}: an item has request_id, label or labels, and \
             optionally row and timestamp"
        )));
    }
    Ok(FeedbackItem {
        at,
        request_id,
        row,
        labels,
        timestamp_ms,
    })
}

fn check_id(id: &str) -> Result<(), &'static str> {
    if id.is_empty() {
        Err("the request_id is empty")
    } else if id.len() > 128 {
        Err("the request_id is longer than 128 bytes (the proxy never keeps such an id)")
    } else {
        Ok(())
    }
}

/// RFC 3339 text or Unix seconds.
fn parse_time(value: &Value) -> Result<i64, &'static str> {
    const WHY: &str = "timestamp is neither RFC 3339 (2026-01-31T12:00:00Z) nor Unix seconds";
    match value {
        Value::Number(n) => n.as_f64().map(|s| (s * 1000.0) as i64).ok_or(WHY),
        Value::String(s) => {
            if let Ok(secs) = s.parse::<f64>() {
                return Ok((secs * 1000.0) as i64);
            }
            humantime::parse_rfc3339_weak(s)
                .map(super::store::to_ms)
                .map_err(|_| WHY)
        }
        _ => Err(WHY),
    }
}

/// 1-based line number of a byte offset.
fn line_of(body: &[u8], offset: usize) -> usize {
    1 + memchr::memchr_iter(b'\n', &body[..offset.min(body.len())]).count()
}

impl FeedbackItem {
    /// The label object to store, output name → label, checked against the prediction's
    /// outputs; `Err` says why the item is invalid.
    pub fn label_for(&self, outputs: &[String]) -> Result<Map<String, Value>, String> {
        let scalar = |v: &Value| matches!(v, Value::String(_) | Value::Number(_) | Value::Bool(_));
        match &self.labels {
            Labels::One(value) => {
                if !scalar(value) {
                    return Err(format!(
                        "the label {value} is not a string, number or boolean"
                    ));
                }
                let name = outputs.first().cloned().unwrap_or_default();
                Ok(Map::from_iter([(name, value.clone())]))
            }
            Labels::ByOutput(map) => {
                if map.is_empty() {
                    return Err("labels is empty".into());
                }
                for (name, value) in map {
                    if !outputs.iter().any(|o| o == name) {
                        return Err(format!(
                            "labels names {name:?}, which is not an output of this \
                             prediction (its outputs: {})",
                            outputs.join(", ")
                        ));
                    }
                    if !scalar(value) {
                        return Err(format!(
                            "the label of {name:?} is not a string, number or boolean"
                        ));
                    }
                }
                Ok(map.clone())
            }
        }
    }

    /// When the request was made, as far as its id tells: the proxy's generated ids are
    /// UUID v7, which carry their creation time.
    pub fn request_time_ms(&self) -> Option<i64> {
        let id = uuid::Uuid::parse_str(&self.request_id).ok()?;
        let (secs, nanos) = id.get_timestamp()?.to_unix();
        Some(secs as i64 * 1000 + i64::from(nanos / 1_000_000))
    }
}

#[cfg(test)]
mod tests;
