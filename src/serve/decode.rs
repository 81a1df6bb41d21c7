//! Request bodies → raw feature rows, for the two protocols `serve` speaks.
//!
//! - Open Inference Protocol: one tensor of shape `[rows, n_features]` whose columns follow
//!   the model's feature order, or one `[rows]` / `[rows, 1]` tensor per feature, named by
//!   the feature (BYTES for categoricals). `data` may be flat or nested (row-major).
//! - MLflow `/invocations`: exactly one of `dataframe_split`, `dataframe_records`,
//!   `instances`, `inputs` (JSON), or a CSV body with a header row.
//!
//! Every error names the row (0-based), the column and what is wrong, because the client
//! has to fix exactly that cell.

use crate::train::table::{FeatureSpec, RawValue};
use serde_json::{Map, Value};

/// A request the model cannot read; becomes a 400 with this message.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BadRequest(pub String);

fn bad(message: impl Into<String>) -> BadRequest {
    BadRequest(message.into())
}

/// One JSON value as a feature cell.
pub fn cell(feature: &FeatureSpec, value: &Value, row: usize) -> Result<RawValue, BadRequest> {
    let wrong = |reason: String| bad(format!("row {row}, column {:?}: {reason}", feature.name));
    match value {
        Value::Null => Ok(RawValue::Missing),
        Value::Number(n) => match n.as_f64() {
            Some(x) if x.is_finite() => Ok(RawValue::Number(x)),
            _ => Err(wrong(format!("{n} is not a finite number"))),
        },
        Value::String(s) => feature.parse(s).map_err(wrong),
        Value::Bool(b) => feature
            .parse(if *b { "true" } else { "false" })
            .map_err(wrong),
        other => Err(wrong(format!("expected a scalar value, got {other}"))),
    }
}

/// Flattens nested row-major `data` into scalars.
fn flatten<'a>(value: &'a Value, out: &mut Vec<&'a Value>) {
    match value {
        Value::Array(items) => items.iter().for_each(|v| flatten(v, out)),
        scalar => out.push(scalar),
    }
}

fn shape_of(tensor: &Map<String, Value>, name: &str) -> Result<Vec<usize>, BadRequest> {
    tensor
        .get("shape")
        .and_then(Value::as_array)
        .ok_or_else(|| bad(format!("input {name:?} has no \"shape\" array")))?
        .iter()
        .map(|d| {
            d.as_u64().map(|d| d as usize).ok_or_else(|| {
                bad(format!(
                    "input {name:?}: shape entries must be non-negative integers"
                ))
            })
        })
        .collect()
}

/// Decodes an Open Inference Protocol request body.
pub fn oip_rows(body: &Value, features: &[FeatureSpec]) -> Result<Vec<Vec<RawValue>>, BadRequest> {
    let inputs = body
        .get("inputs")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("the request has no \"inputs\" array (Open Inference Protocol)"))?;
    let tensors: Vec<(&str, &Map<String, Value>)> = inputs
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let t = t
                .as_object()
                .ok_or_else(|| bad(format!("inputs[{i}] is not an object")))?;
            let name = t.get("name").and_then(Value::as_str).unwrap_or("");
            Ok((name, t))
        })
        .collect::<Result<_, BadRequest>>()?;
    if tensors.is_empty() {
        return Err(bad(
            "\"inputs\" is empty: send one tensor [rows, n_features] or one tensor per feature",
        ));
    }
    let n = features.len();
    // One 2-D tensor whose name is not a feature: columns in feature order.
    if let [(name, t)] = tensors[..] {
        let shape = shape_of(t, name)?;
        if shape.len() == 2 && !features.iter().any(|f| f.name == name) {
            if shape[1] != n {
                return Err(bad(format!(
                    "input {name:?} has shape {shape:?} but the model takes {n} features: {}",
                    feature_list(features)
                )));
            }
            let mut flat = Vec::new();
            flatten(t.get("data").unwrap_or(&Value::Null), &mut flat);
            if flat.len() != shape[0] * n {
                return Err(bad(format!(
                    "input {name:?}: shape {shape:?} needs {} values, data has {}",
                    shape[0] * n,
                    flat.len()
                )));
            }
            return flat
                .chunks(n)
                .enumerate()
                .map(|(r, chunk)| {
                    features
                        .iter()
                        .zip(chunk)
                        .map(|(f, v)| cell(f, v, r))
                        .collect()
                })
                .collect();
        }
    }
    // One tensor per feature.
    let mut columns: Vec<Vec<&Value>> = Vec::with_capacity(n);
    for f in features {
        let (name, t) = tensors
            .iter()
            .find(|(name, _)| *name == f.name)
            .ok_or_else(|| {
                bad(format!(
                    "no input named {:?}: send one tensor per feature ({}) or a single [rows, {n}] tensor",
                    f.name,
                    feature_list(features)
                ))
            })?;
        let shape = shape_of(t, name)?;
        if shape.is_empty() || shape.len() > 2 || (shape.len() == 2 && shape[1] != 1) {
            return Err(bad(format!(
                "input {name:?} has shape {shape:?}; expected [rows] or [rows, 1]"
            )));
        }
        let mut flat = Vec::new();
        flatten(t.get("data").unwrap_or(&Value::Null), &mut flat);
        if flat.len() != shape[0] {
            return Err(bad(format!(
                "input {name:?}: shape {shape:?} needs {} values, data has {}",
                shape[0],
                flat.len()
            )));
        }
        columns.push(flat);
    }
    let rows = columns[0].len();
    if let Some((f, c)) = features.iter().zip(&columns).find(|(_, c)| c.len() != rows) {
        return Err(bad(format!(
            "input {:?} has {} rows but {:?} has {rows}: every feature tensor needs the same rows",
            f.name,
            c.len(),
            features[0].name
        )));
    }
    (0..rows)
        .map(|r| {
            features
                .iter()
                .zip(&columns)
                .map(|(f, c)| cell(f, c[r], r))
                .collect()
        })
        .collect()
}

fn feature_list(features: &[FeatureSpec]) -> String {
    features
        .iter()
        .map(|f| f.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Rows given as objects keyed by column name; extra keys are ignored.
fn records_rows(
    records: &[Value],
    features: &[FeatureSpec],
    what: &str,
) -> Result<Vec<Vec<RawValue>>, BadRequest> {
    records
        .iter()
        .enumerate()
        .map(|(r, record)| {
            let obj = record
                .as_object()
                .ok_or_else(|| bad(format!("{what}[{r}] is not an object of column → value")))?;
            features
                .iter()
                .map(|f| match obj.get(&f.name) {
                    Some(v) => cell(f, v, r),
                    None => Err(bad(format!(
                        "row {r}, column {:?}: missing; send null for a missing value",
                        f.name
                    ))),
                })
                .collect()
        })
        .collect()
}

/// Rows given as lists in a known column order.
fn list_rows(
    columns: &[String],
    data: &[Value],
    features: &[FeatureSpec],
) -> Result<Vec<Vec<RawValue>>, BadRequest> {
    let positions: Vec<usize> = features
        .iter()
        .map(|f| {
            columns.iter().position(|c| *c == f.name).ok_or_else(|| {
                bad(format!(
                    "column {:?} is missing from \"columns\"; the model needs {}",
                    f.name,
                    feature_list(features)
                ))
            })
        })
        .collect::<Result<_, _>>()?;
    data.iter()
        .enumerate()
        .map(|(r, row)| {
            let row = row
                .as_array()
                .ok_or_else(|| bad(format!("row {r} is not a list of values")))?;
            if row.len() != columns.len() {
                return Err(bad(format!(
                    "row {r} has {} values but there are {} columns",
                    row.len(),
                    columns.len()
                )));
            }
            features
                .iter()
                .zip(&positions)
                .map(|(f, &p)| cell(f, &row[p], r))
                .collect()
        })
        .collect()
}

/// Decodes an MLflow `/invocations` JSON body.
pub fn mlflow_json_rows(
    body: &Value,
    features: &[FeatureSpec],
) -> Result<Vec<Vec<RawValue>>, BadRequest> {
    let obj = body
        .as_object()
        .ok_or_else(|| bad("the body must be a JSON object"))?;
    let keys = [
        "dataframe_split",
        "dataframe_records",
        "instances",
        "inputs",
    ];
    let present: Vec<&str> = keys
        .iter()
        .copied()
        .filter(|k| obj.contains_key(*k))
        .collect();
    let [key] = present[..] else {
        return Err(bad(format!(
            "the body must hold exactly one of {}; found {}",
            keys.join(", "),
            if present.is_empty() {
                "none".into()
            } else {
                present.join(", ")
            }
        )));
    };
    let value = &obj[key];
    let names: Vec<String> = features.iter().map(|f| f.name.clone()).collect();
    match (key, value) {
        ("dataframe_split", Value::Object(split)) => {
            let columns: Vec<String> = split
                .get("columns")
                .and_then(Value::as_array)
                .ok_or_else(|| bad("dataframe_split needs \"columns\" (a list of names)"))?
                .iter()
                .map(|c| {
                    c.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| bad("dataframe_split.columns must be strings"))
                })
                .collect::<Result<_, _>>()?;
            let data = split
                .get("data")
                .and_then(Value::as_array)
                .ok_or_else(|| bad("dataframe_split needs \"data\" (a list of rows)"))?;
            list_rows(&columns, data, features)
        }
        ("dataframe_records", Value::Array(records)) => records_rows(records, features, key),
        ("instances" | "inputs", Value::Array(items)) => match items.first() {
            Some(Value::Array(_)) => list_rows(&names, items, features),
            _ => records_rows(items, features, key),
        },
        ("inputs" | "instances", Value::Object(columns)) => {
            // Columnar: {"Age": [30, 41], "Home": ["rent", "owner"]}.
            let cols: Vec<&Vec<Value>> = features
                .iter()
                .map(|f| {
                    columns
                        .get(&f.name)
                        .and_then(Value::as_array)
                        .ok_or_else(|| bad(format!("{key} has no list for column {:?}", f.name)))
                })
                .collect::<Result<_, _>>()?;
            let rows = cols.first().map_or(0, |c| c.len());
            if let Some((f, c)) = features.iter().zip(&cols).find(|(_, c)| c.len() != rows) {
                return Err(bad(format!(
                    "{key}.{} has {} values, expected {rows}",
                    f.name,
                    c.len()
                )));
            }
            (0..rows)
                .map(|r| {
                    features
                        .iter()
                        .zip(&cols)
                        .map(|(f, c)| cell(f, &c[r], r))
                        .collect()
                })
                .collect()
        }
        _ => Err(bad(format!(
            "{key} has the wrong shape; see the MLflow scoring-server formats"
        ))),
    }
}

/// Decodes a CSV body with a header row.
pub fn csv_rows(body: &[u8], features: &[FeatureSpec]) -> Result<Vec<Vec<RawValue>>, BadRequest> {
    let mut reader = csv::Reader::from_reader(body);
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| bad(format!("the CSV header cannot be read: {e}")))?
        .iter()
        .map(str::to_string)
        .collect();
    let positions: Vec<usize> = features
        .iter()
        .map(|f| {
            headers.iter().position(|h| *h == f.name).ok_or_else(|| {
                bad(format!(
                    "the CSV has no column {:?}; the model needs {}",
                    f.name,
                    feature_list(features)
                ))
            })
        })
        .collect::<Result<_, _>>()?;
    reader
        .records()
        .enumerate()
        .map(|(r, record)| {
            let record = record.map_err(|e| bad(format!("row {r}: {e}")))?;
            features
                .iter()
                .zip(&positions)
                .map(|(f, &p)| {
                    f.parse(record.get(p).unwrap_or(""))
                        .map_err(|reason| bad(format!("row {r}, column {:?}: {reason}", f.name)))
                })
                .collect()
        })
        .collect()
}
