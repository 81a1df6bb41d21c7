//! HTTP routing for `serve`: Open Inference Protocol v2 REST and MLflow scoring endpoints.
//!
//! Responses: OIP `infer` returns two outputs, `label` (BYTES, the predicted class) and
//! `probability` (FP64, positive-class probability), plus `model_name` and
//! `model_version`. `/invocations` returns `{"predictions": [label, …], "probabilities":
//! [p, …], "model_name", "model_version"}`. Both set the `X-Model-Version` header and carry
//! `parameters: {"imputed_values", "unknown_categories"}`: missing cells filled with the
//! training median / most frequent category, and categories never seen in training (encoded
//! as all zeros), so a client sees when its rows were scored on patched input.
//!
//! Errors are `{"error": "..."}` with 400 (bad input), 404 (unknown model or path), 413
//! (body too large) or 415 (unsupported content type), as both protocols expect.

use super::decode::{self, BadRequest};
use super::{ModelSlot, ServedModel};
use crate::train::table::RawValue;
use bytes::Bytes;
use http::{Method, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use serde_json::{Value, json};
use std::sync::Arc;

/// Largest request body accepted.
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

type Reply = Response<Full<Bytes>>;

fn json_reply(status: StatusCode, body: &Value, model: Option<&ServedModel>) -> Reply {
    let mut builder = Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(m) = model {
        builder = builder.header("X-Model-Version", m.version.to_string());
    }
    builder
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("static headers are valid")
}

fn error(status: StatusCode, message: impl std::fmt::Display) -> Reply {
    json_reply(status, &json!({ "error": message.to_string() }), None)
}

/// Routes one request. Clones the current model once so the whole request uses one version.
pub async fn handle(req: hyper::Request<Incoming>, slot: Arc<ModelSlot>) -> Reply {
    let model = slot.current();
    let path = req.uri().path().trim_end_matches('/').to_string();
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let method = req.method().clone();
    match (&method, segments.as_slice()) {
        (&Method::GET, ["v2", "health", "live"]) => {
            json_reply(StatusCode::OK, &json!({"live": true}), None)
        }
        (&Method::GET, ["v2", "health", "ready"]) => {
            json_reply(StatusCode::OK, &json!({"ready": true}), Some(&model))
        }
        (&Method::GET, ["ping"] | ["health"]) => {
            json_reply(StatusCode::OK, &json!({"status": "ok"}), Some(&model))
        }
        (&Method::GET, ["version"]) => json_reply(
            StatusCode::OK,
            &json!({"version": env!("CARGO_PKG_VERSION")}),
            None,
        ),
        (&Method::GET, ["v2"]) => json_reply(
            StatusCode::OK,
            &json!({"name": "modelwatch", "version": env!("CARGO_PKG_VERSION"), "extensions": []}),
            None,
        ),
        (_, ["v2", "models", name, rest @ ..]) => {
            if *name != model.name {
                return error(
                    StatusCode::NOT_FOUND,
                    format!(
                        "model {name:?} is not served here; this server serves {:?}",
                        model.name
                    ),
                );
            }
            let rest = match rest {
                ["versions", v, tail @ ..] => {
                    if *v != model.version.to_string() {
                        return error(
                            StatusCode::NOT_FOUND,
                            format!(
                                "version {v} of {:?} is not served; version {} is",
                                model.name, model.version
                            ),
                        );
                    }
                    tail
                }
                other => other,
            };
            match (&method, rest) {
                (&Method::GET, []) => json_reply(StatusCode::OK, &metadata(&model), Some(&model)),
                (&Method::GET, ["ready"]) => json_reply(
                    StatusCode::OK,
                    &json!({"name": model.name, "ready": true}),
                    Some(&model),
                ),
                (&Method::POST, ["infer"]) => match read_json(req).await {
                    Ok(body) => infer_oip(&model, &body),
                    Err(reply) => reply,
                },
                _ => error(
                    StatusCode::NOT_FOUND,
                    format!("no route for {method} {path}"),
                ),
            }
        }
        (&Method::POST, ["invocations"]) => invocations(req, &model).await,
        _ => error(
            StatusCode::NOT_FOUND,
            format!("no route for {method} {path}"),
        ),
    }
}

async fn read_body(req: hyper::Request<Incoming>) -> Result<Bytes, Reply> {
    match Limited::new(req.into_body(), MAX_BODY_BYTES)
        .collect()
        .await
    {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the request body exceeds {MAX_BODY_BYTES} bytes: send fewer rows per request"),
        )),
        Err(e) => Err(error(
            StatusCode::BAD_REQUEST,
            format!("could not read the request body: {e}"),
        )),
    }
}

async fn read_json(req: hyper::Request<Incoming>) -> Result<Value, Reply> {
    let bytes = read_body(req).await?;
    serde_json::from_slice(&bytes).map_err(|e| {
        error(
            StatusCode::BAD_REQUEST,
            format!("the body is not valid JSON: {e}"),
        )
    })
}

/// Open Inference Protocol model metadata: inputs in feature order, the two outputs.
pub fn metadata(model: &ServedModel) -> Value {
    let inputs: Vec<Value> = model
        .artifact
        .features
        .iter()
        .map(|f| {
            let datatype = match f.kind {
                crate::profile::schema::ColumnKind::Numeric => "FP64",
                _ => "BYTES",
            };
            json!({"name": f.name, "datatype": datatype, "shape": [-1]})
        })
        .collect();
    json!({
        "name": model.name,
        "versions": [model.version.to_string()],
        "platform": "modelwatch-linfa",
        "inputs": inputs,
        "outputs": [
            {"name": "label", "datatype": "BYTES", "shape": [-1]},
            {"name": "probability", "datatype": "FP64", "shape": [-1]},
        ],
        "parameters": {"positive_class": model.artifact.classes.positive, "threshold": model.artifact.threshold},
    })
}

/// Scores rows: labels, positive-class probabilities and what encoding papered over
/// (`{"imputed_values", "unknown_categories"}`), or a 400 naming the cell.
fn score(
    model: &ServedModel,
    rows: &[Vec<RawValue>],
) -> Result<(Vec<String>, Vec<f64>, Value), Box<Reply>> {
    let (p, stats) = model
        .artifact
        .score(rows)
        .map_err(|e| Box::new(error(StatusCode::BAD_REQUEST, e)))?;
    let labels = p
        .iter()
        .map(|&q| model.artifact.label_for(q).to_string())
        .collect();
    let counts = json!({
        "imputed_values": stats.imputed,
        "unknown_categories": stats.unknown_categories,
    });
    Ok((labels, p, counts))
}

fn infer_oip(model: &ServedModel, body: &Value) -> Reply {
    let rows = match decode::oip_rows(body, &model.artifact.features) {
        Ok(rows) => rows,
        Err(BadRequest(m)) => return error(StatusCode::BAD_REQUEST, m),
    };
    let (labels, p, counts) = match score(model, &rows) {
        Ok(s) => s,
        Err(reply) => return *reply,
    };
    let n = rows.len();
    let mut response = json!({
        "model_name": model.name,
        "model_version": model.version.to_string(),
        "parameters": counts,
        "outputs": [
            {"name": "label", "datatype": "BYTES", "shape": [n], "data": labels},
            {"name": "probability", "datatype": "FP64", "shape": [n], "data": p},
        ],
    });
    if let Some(id) = body.get("id") {
        response["id"] = id.clone();
    }
    json_reply(StatusCode::OK, &response, Some(model))
}

async fn invocations(req: hyper::Request<Incoming>, model: &ServedModel) -> Reply {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json")
        .to_ascii_lowercase();
    if let Some(charset) = content_type
        .split(';')
        .find_map(|p| p.trim().strip_prefix("charset="))
        && !charset.trim_matches('"').eq_ignore_ascii_case("utf-8")
    {
        return error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("charset {charset} is not supported: send utf-8"),
        );
    }
    let mime = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_string();
    let body = match read_body(req).await {
        Ok(b) => b,
        Err(reply) => return reply,
    };
    let features = &model.artifact.features;
    let rows = match mime.as_str() {
        "application/json" | "" => match serde_json::from_slice::<Value>(&body) {
            Ok(v) => decode::mlflow_json_rows(&v, features),
            Err(e) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    format!("the body is not valid JSON: {e}"),
                );
            }
        },
        "text/csv" => decode::csv_rows(&body, features),
        other => {
            return error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!(
                    "content type {other:?} is not supported: use application/json or text/csv"
                ),
            );
        }
    };
    let rows = match rows {
        Ok(rows) => rows,
        Err(BadRequest(m)) => return error(StatusCode::BAD_REQUEST, m),
    };
    let (labels, p, counts) = match score(model, &rows) {
        Ok(s) => s,
        Err(reply) => return *reply,
    };
    // MLflow clients read `predictions` (the labels, as a scikit-learn pyfunc returns
    // them); `probabilities` carries P(positive class) per row.
    json_reply(
        StatusCode::OK,
        &json!({
            "predictions": labels,
            "probabilities": p,
            "parameters": counts,
            "model_name": model.name,
            "model_version": model.version.to_string(),
        }),
        Some(model),
    )
}
