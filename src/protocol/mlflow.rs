//! MLflow scoring server `/invocations`: JSON with exactly one of `dataframe_split`,
//! `dataframe_records`, `instances`, `inputs`, or a CSV body; responses carry
//! `predictions` (older servers answer with a bare list, also accepted).

mod csv_body;

use super::batch::Batch;
use super::error::{DecodeError, DecodeReason, fail};
use super::json::{self, Node};
use super::layout::{self, Naming};
use super::{BodyFormat, body_format};
use serde::Deserialize;
use serde::de::IgnoredAny;

#[derive(Deserialize)]
struct RequestBody {
    dataframe_split: Option<Node>,
    dataframe_records: Option<Node>,
    instances: Option<Node>,
    inputs: Option<Node>,
    error_code: Option<IgnoredAny>,
}

pub(super) fn decode_request(
    content_type: Option<&str>,
    body: &[u8],
) -> Result<Batch, DecodeError> {
    if body_format(content_type)? == BodyFormat::Csv {
        return csv_body::decode(body);
    }
    let parsed: RequestBody = json::parse(body, true)?;
    let fields = [
        ("dataframe_split", parsed.dataframe_split),
        ("dataframe_records", parsed.dataframe_records),
        ("instances", parsed.instances),
        ("inputs", parsed.inputs),
    ];
    let present: Vec<_> = fields.into_iter().filter(|(_, v)| v.is_some()).collect();
    if present.len() > 1 {
        let names: Vec<_> = present.iter().map(|(name, _)| *name).collect();
        return fail(
            DecodeReason::InvalidField,
            format!(
                "the body has {}; MLflow accepts exactly one",
                names.join(" and ")
            ),
        );
    }
    let Some((field, Some(node))) = present.into_iter().next() else {
        if parsed.error_code.is_some() {
            return fail(
                DecodeReason::UpstreamError,
                "the body is an MLflow error response",
            );
        }
        return fail(
            DecodeReason::WrongProtocol,
            "none of dataframe_split, dataframe_records, instances, inputs: not an MLflow request",
        );
    };
    match field {
        "dataframe_split" => split_frame(node),
        "dataframe_records" => match node {
            Node::List(rows) => layout::rows_to_batch(rows, Naming::Positional),
            _ => fail(
                DecodeReason::InvalidField,
                "`dataframe_records` is not a list of records",
            ),
        },
        _ => layout::inputs_to_batch(node, field),
    }
}

/// pandas' `split` orientation: `columns` (optional) and `data` rows; `index` is ignored.
fn split_frame(node: Node) -> Result<Batch, DecodeError> {
    let Node::Object(entries) = node else {
        return fail(
            DecodeReason::InvalidField,
            "`dataframe_split` is not an object",
        );
    };
    let (mut columns, mut data) = (None, None);
    for (key, value) in entries {
        match key.as_str() {
            "columns" => columns = Some(value),
            "data" => data = Some(value),
            _ => {}
        }
    }
    let Some(Node::List(rows)) = data else {
        return fail(
            DecodeReason::InvalidField,
            "`dataframe_split.data` is missing or not a list",
        );
    };
    let naming = match columns {
        None => Naming::Positional,
        Some(Node::List(names)) => Naming::Given(column_names(names)?),
        Some(_) => {
            return fail(
                DecodeReason::InvalidField,
                "`dataframe_split.columns` is not a list",
            );
        }
    };
    layout::rows_to_batch(rows, naming)
}

/// Column labels as text; pandas allows numbers as labels.
fn column_names(names: Vec<Node>) -> Result<Vec<String>, DecodeError> {
    names
        .into_iter()
        .map(|n| match n {
            Node::Cell(super::Value::Text(s)) => Ok(s),
            Node::Cell(super::Value::Number(x)) => Ok(x.to_string()),
            _ => fail(
                DecodeReason::InvalidField,
                "a column name is not a string or number",
            ),
        })
        .collect()
}

pub(super) fn decode_response(body: &[u8]) -> Result<Batch, DecodeError> {
    let trimmed = json::trim_body(body)?;
    if trimmed[0] == b'[' {
        return layout::predictions_to_batch(json::parse::<Node>(trimmed, false)?);
    }
    #[derive(Deserialize)]
    struct ResponseBody {
        predictions: Option<Node>,
        error_code: Option<IgnoredAny>,
    }
    let parsed: ResponseBody = json::parse(trimmed, true)?;
    match parsed.predictions {
        Some(node) => layout::predictions_to_batch(node),
        None if parsed.error_code.is_some() => fail(
            DecodeReason::UpstreamError,
            "the body is an MLflow error response",
        ),
        None => fail(
            DecodeReason::WrongProtocol,
            "no `predictions`: not an MLflow response",
        ),
    }
}
