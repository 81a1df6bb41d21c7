//! Payload capture: which requests carry their decoded features and predictions into the
//! event, how much of them, and what is removed or hidden first.
//!
//! `[export.elasticsearch.capture]`: a request is sampled by its request id (so a resend is
//! sampled the same way), its decoded rows are written column by column as
//! `modelwatch.features` / `modelwatch.predictions`, fields named in `drop` are left out,
//! fields named in `hash` are replaced by a keyed hash (HMAC-SHA256 with `hash_key`: equal
//! values give equal hashes, so they can be counted and correlated, but without the key a
//! value cannot be recovered by hashing guesses), and whole rows are kept only while the
//! captured JSON stays within `max_bytes`. Pure: the analysis worker calls it with the
//! batches it decoded.

use crate::config::elasticsearch::CaptureConfig;
use crate::protocol::{Batch, Value as Cell};
use crate::traffic::llm::CapturedText;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

/// The validated policy, ready for the worker: lowercase names, the HMAC key.
#[derive(Clone)]
pub struct CapturePolicy {
    sample_rate: f64,
    max_bytes: usize,
    drop: Vec<String>,
    hash: Vec<String>,
    key: Option<Hmac<Sha256>>,
}

/// What one sampled request carries: the captured columns and how much of them.
#[derive(Clone, Debug, PartialEq)]
pub struct CapturedPayload {
    /// `{"<feature>": [value per captured row]}`; `None` when nothing was captured.
    pub features: Option<Value>,
    pub predictions: Option<Value>,
    /// Rows captured (of the request; predictions the same rows).
    pub rows: u64,
    /// Rows were left out to stay within `max_bytes`.
    pub truncated: bool,
    /// Bytes of the captured JSON.
    pub bytes: usize,
}

/// Whether a request id falls in a sample of `rate` (0 to 1): the first 8 bytes of the
/// id's sha256 as a share of 2^64, the same on every resend and every sidecar. Shared by
/// the capture policy and the recording (`export::recording`).
pub fn sampled_by_id(rate: f64, request_id: &str) -> bool {
    let digest = Sha256::digest(request_id.as_bytes());
    let head = u64::from_be_bytes(digest[..8].try_into().expect("8 bytes"));
    (head as f64) < rate * 2f64.powi(64)
}

/// How a column is treated.
#[derive(Clone, Copy, PartialEq)]
enum Treatment {
    Keep,
    Hash,
}

/// One column on its way into the payload.
struct Source<'a> {
    name: String,
    values: &'a [Cell],
    treatment: Treatment,
    prediction: bool,
}

impl CapturePolicy {
    /// `None` when capture is off (`sample_rate` 0).
    pub fn new(config: &CaptureConfig) -> Option<Self> {
        if config.sample_rate <= 0.0 {
            return None;
        }
        let lower = |names: &[String]| names.iter().map(|n| n.to_lowercase()).collect();
        Some(Self {
            sample_rate: config.sample_rate,
            max_bytes: config.max_bytes,
            drop: lower(&config.drop),
            hash: lower(&config.hash),
            key: config
                .hash_key
                .as_ref()
                .map(|k| Hmac::<Sha256>::new_from_slice(k.as_bytes()).expect("any key length")),
        })
    }

    /// Whether this request id is in the sample: the first 8 bytes of its sha256 as a
    /// share of 2^64, so the choice is the same on every resend and every sidecar.
    pub fn sampled(&self, request_id: &str) -> bool {
        sampled_by_id(self.sample_rate, request_id)
    }

    /// The keyed hash of one value: `hmac:` and 32 hex digits (128 bits of HMAC-SHA256).
    pub fn hash_value(&self, text: &str) -> String {
        let mut mac = self.key.clone().expect("validated: hash needs hash_key");
        mac.update(text.as_bytes());
        let tag = mac.finalize().into_bytes();
        format!("hmac:{}", hex::encode(&tag[..16]))
    }

    /// The payload of a sampled request. `names` name positional columns: the reference's
    /// feature and prediction names in order (a column without a name or reference name is
    /// called by its position).
    pub fn capture(
        &self,
        request: Option<&Batch>,
        response: Option<&Batch>,
        feature_names: &[&str],
        prediction_names: &[&str],
    ) -> Option<CapturedPayload> {
        let mut sources = Vec::new();
        self.sources(request, feature_names, false, &mut sources);
        self.sources(response, prediction_names, true, &mut sources);
        let rows = request
            .map_or(0, |b| b.rows)
            .max(response.map_or(0, |b| b.rows));
        if sources.is_empty() || rows == 0 {
            return None;
        }
        // Whole rows while the JSON stays within max_bytes: `{"name":[` per column and
        // side, then each value and its comma.
        let mut used: usize = sources.iter().map(|s| s.name.len() + 6).sum::<usize>() + 4;
        let mut cells: Vec<Vec<Value>> = vec![Vec::new(); sources.len()];
        let mut kept = 0;
        for row in 0..rows {
            let values: Vec<Value> = sources
                .iter()
                .map(|s| self.cell(s, s.values.get(row)))
                .collect();
            let cost: usize = values.iter().map(|v| v.to_string().len() + 1).sum();
            if used + cost > self.max_bytes {
                break;
            }
            used += cost;
            for (column, value) in cells.iter_mut().zip(values) {
                column.push(value);
            }
            kept += 1;
        }
        let mut features = Map::new();
        let mut predictions = Map::new();
        if kept > 0 {
            for (source, values) in sources.iter().zip(cells) {
                let side = if source.prediction {
                    &mut predictions
                } else {
                    &mut features
                };
                side.insert(source.name.clone(), Value::Array(values));
            }
        }
        let side = |map: Map<String, Value>| (!map.is_empty()).then_some(Value::Object(map));
        let (features, predictions) = (side(features), side(predictions));
        let bytes = features.as_ref().map_or(0, |f| f.to_string().len())
            + predictions.as_ref().map_or(0, |p| p.to_string().len());
        Some(CapturedPayload {
            features,
            predictions,
            rows: kept as u64,
            truncated: kept < rows,
            bytes,
        })
    }

    /// The prompt and completion of a sampled LLM request (`modelwatch.llm.prompt` /
    /// `.completion`), treated like columns of those names: left out when `drop` names them,
    /// their keyed hash when `hash` does, else kept, the prompt first, cut at a character
    /// boundary so that both together stay within `max_bytes`. `cut_short`: the text given
    /// is already incomplete (the proxy stopped collecting it).
    pub fn capture_text(
        &self,
        prompt: Option<&str>,
        completion: Option<&str>,
        cut_short: bool,
    ) -> CapturedText {
        let mut budget = self.max_bytes;
        let mut truncated = cut_short;
        let mut field = |name: &str, text: Option<&str>| {
            let text = text?;
            if self.drop.iter().any(|d| d == name) {
                return None;
            }
            if self.hash.iter().any(|h| h == name) {
                return Some(self.hash_value(text));
            }
            let mut end = text.len().min(budget);
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            truncated |= end < text.len();
            budget -= end;
            Some(text[..end].to_string())
        };
        let prompt = field("prompt", prompt);
        let completion = field("completion", completion);
        CapturedText {
            prompt,
            completion,
            truncated,
        }
    }

    fn sources<'a>(
        &self,
        batch: Option<&'a Batch>,
        names: &[&str],
        prediction: bool,
        out: &mut Vec<Source<'a>>,
    ) {
        let Some(batch) = batch else { return };
        for (position, column) in batch.columns.iter().enumerate() {
            let name = match (&column.name, names.get(position)) {
                (Some(name), _) => name.clone(),
                (None, Some(name)) => name.to_string(),
                (None, None) => position.to_string(),
            };
            let lower = name.to_lowercase();
            if self.drop.contains(&lower) {
                continue;
            }
            let treatment = if self.hash.contains(&lower) {
                Treatment::Hash
            } else {
                Treatment::Keep
            };
            out.push(Source {
                name,
                values: &column.values,
                treatment,
                prediction,
            });
        }
    }

    fn cell(&self, source: &Source<'_>, cell: Option<&Cell>) -> Value {
        let value = match cell {
            None | Some(Cell::Missing) => return Value::Null,
            Some(Cell::Number(x)) => json!(x),
            Some(Cell::Text(t)) => json!(t),
            Some(Cell::Bool(b)) => json!(b),
        };
        match source.treatment {
            // A non-finite number has no JSON form: null, like a missing value.
            _ if value.is_null() => value,
            Treatment::Keep => value,
            // The text form is what is hashed: "rent", "1500.0" → its JSON number "1500.0".
            Treatment::Hash => match &value {
                Value::String(s) => json!(self.hash_value(s)),
                other => json!(self.hash_value(&other.to_string())),
            },
        }
    }
}

#[cfg(test)]
mod tests;
