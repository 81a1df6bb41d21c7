//! Request bodies in each inference protocol, built from dataset rows.

use serde_json::{Value, json};
use std::str::FromStr;

/// The protocol replayed requests speak.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wire {
    /// Open Inference Protocol: one named tensor per column (FP64 or BYTES).
    Oip,
    /// KServe V1 / TF Serving: `instances` as objects.
    V1,
    /// MLflow `/invocations`: `dataframe_split`.
    Mlflow,
    /// Seldon Core v1: `data.names` + `ndarray`.
    Seldon,
}

impl FromStr for Wire {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "oip" => Ok(Wire::Oip),
            "v1" => Ok(Wire::V1),
            "mlflow" => Ok(Wire::Mlflow),
            "seldon" => Ok(Wire::Seldon),
            other => Err(format!(
                "unknown protocol {other:?}: use oip, v1, mlflow or seldon"
            )),
        }
    }
}

impl Wire {
    /// The request path for `model`.
    pub fn path(self, model: &str) -> String {
        match self {
            Wire::Oip => format!("/v2/models/{model}/infer"),
            Wire::V1 => format!("/v1/models/{model}:predict"),
            Wire::Mlflow => "/invocations".to_string(),
            Wire::Seldon => "/api/v1.0/predictions".to_string(),
        }
    }

    /// The body carrying `rows` (each aligned with `columns`; `numeric[j]` says whether
    /// column `j` holds numbers).
    pub fn body(self, columns: &[String], numeric: &[bool], rows: &[Vec<Value>]) -> Value {
        match self {
            Wire::Oip => json!({"inputs": columns.iter().enumerate().map(|(j, name)| json!({
                "name": name,
                "shape": [rows.len()],
                "datatype": if numeric[j] { "FP64" } else { "BYTES" },
                "data": rows.iter().map(|r| r[j].clone()).collect::<Vec<_>>(),
            })).collect::<Vec<_>>()}),
            Wire::V1 => json!({"instances": rows.iter().map(|r| {
                columns.iter().cloned().zip(r.iter().cloned()).collect::<serde_json::Map<_, _>>()
            }).collect::<Vec<_>>()}),
            Wire::Mlflow => json!({"dataframe_split": {"columns": columns, "data": rows}}),
            Wire::Seldon => json!({"data": {"names": columns, "ndarray": rows}}),
        }
    }
}
