//! MLflow's `text/csv` request: a header row of column names, then one row per record.
//!
//! Cells read the way the reference profile reads CSV: the missing spellings of
//! [`is_missing`] are `Missing`, numbers (including `NaN` / `inf`) are numbers,
//! `true`/`false` are booleans, anything else is text.

use crate::profile::schema::{is_missing, parse_bool};
use crate::protocol::batch::{Batch, Column, Value};
use crate::protocol::error::{DecodeError, DecodeReason, fail};
use crate::protocol::layout;

pub(super) fn decode(body: &[u8]) -> Result<Batch, DecodeError> {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    if body.trim_ascii().is_empty() {
        return fail(DecodeReason::Empty, "the CSV body is empty");
    }
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(body);
    let headers = reader.headers().map_err(csv_error)?.clone();
    let mut columns: Vec<Column> = headers
        .iter()
        .map(|name| Column {
            name: Some(name.to_owned()),
            values: Vec::new(),
        })
        .collect();
    let mut record = csv::StringRecord::new();
    let mut rows = 0;
    while reader.read_record(&mut record).map_err(csv_error)? {
        for (column, cell) in columns.iter_mut().zip(record.iter()) {
            column.values.push(cell_value(cell));
        }
        rows += 1;
    }
    layout::finish(columns, rows)
}

fn cell_value(cell: &str) -> Value {
    if is_missing(cell) {
        return Value::Missing;
    }
    if let Ok(x) = cell.trim().parse::<f64>() {
        return Value::Number(x);
    }
    match parse_bool(cell) {
        Some(b) => Value::Bool(b),
        None => Value::Text(cell.to_owned()),
    }
}

fn csv_error(err: csv::Error) -> DecodeError {
    let reason = match err.kind() {
        csv::ErrorKind::UnequalLengths { .. } => DecodeReason::ShapeMismatch,
        _ => DecodeReason::MalformedCsv,
    };
    DecodeError::new(reason, format!("CSV body: {err}"))
}
