//! Labels (ground truth) sent after the traffic: each replayed row's target, as feedback
//! to a sidecar's `POST /api/v1/feedback`, a fixed delay after its prediction was answered,
//! in batches, under the request id the sidecar returned (`X-Request-Id`) and the row's
//! place in its request. A [`Flip`] corrupts them for concept shift: the inputs stay as
//! they are, the outcome changes for a segment.
//!
//! Labels wait in memory until they are due: at most rate × rows per request × delay of
//! them, which the caller chooses.

use crate::exit::UsageError;
use crate::random::SeededRng;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// The feedback path on a sidecar's admin port.
pub const FEEDBACK_PATH: &str = "/api/v1/feedback";

/// A partly filled batch goes out after waiting this long, so a slow replay still sends
/// its labels close to when they are due.
const LINGER: Duration = Duration::from_secs(1);

/// The sidecar stores predictions off the request path, so a label sent right after its
/// answer may arrive before its prediction is stored and come back `unknown_request`.
/// Such a label is sent again, `LINGER` later, up to this many times; only its last
/// outcome is counted. (Only the problems the answer lists, its first 100, can be.)
const ATTEMPTS: u8 = 10;

/// Label corruption: the label of a row in the segment (every row without one) becomes
/// another class, in `share` of such rows.
#[derive(Clone, Debug, PartialEq)]
pub struct Flip {
    /// Column and value (as the request carried it) naming the segment.
    pub segment: Option<(String, String)>,
    pub share: f64,
}

impl Flip {
    /// Parses `COL=VALUE`, `COL=VALUE:SHARE` or `SHARE`.
    pub fn parse(spec: &str) -> Result<Flip, UsageError> {
        let bad = |why: &str| {
            UsageError(format!(
                "--flip-labels {spec:?}: {why}; use COL=VALUE (every row of the segment), \
                 COL=VALUE:SHARE or SHARE (of every row), e.g. Home=rent, Home=rent:0.5, 0.1"
            ))
        };
        let share = |s: &str| match s.parse::<f64>() {
            Ok(x) if (0.0..=1.0).contains(&x) => Ok(x),
            _ => Err(bad("SHARE must be a number between 0 and 1")),
        };
        let Some((column, rest)) = spec.split_once('=') else {
            return Ok(Flip {
                segment: None,
                share: share(spec)?,
            });
        };
        let (value, share) = match rest.rsplit_once(':') {
            Some((value, s)) => (value, share(s)?),
            None => (rest, 1.0),
        };
        if column.is_empty() || value.is_empty() {
            return Err(bad("no column or no value"));
        }
        Ok(Flip {
            segment: Some((column.to_string(), value.to_string())),
            share,
        })
    }
}

/// A [`Flip`] bound to the sent columns and the dataset's classes.
pub struct BoundFlip {
    column: Option<(usize, String)>,
    share: f64,
}

impl BoundFlip {
    /// Whether this row's label is flipped (drawing from `rng` when the share is partial).
    pub fn applies(&self, row: &[Value], rng: &mut SeededRng) -> bool {
        let in_segment = self
            .column
            .as_ref()
            .is_none_or(|(j, value)| match &row[*j] {
                Value::String(s) => s == value,
                Value::Number(n) => value.parse::<f64>().ok() == n.as_f64(),
                _ => false,
            });
        in_segment && (self.share >= 1.0 || rng.unit() < self.share)
    }
}

/// The dataset's target column: its value per row and its classes.
pub struct Targets {
    pub column: String,
    /// Aligned with the rows.
    pub values: Vec<Value>,
    /// Distinct values, sorted: a flipped label becomes the next class.
    pub classes: Vec<Value>,
}

impl Targets {
    /// The other class a flipped `label` becomes: the next one in sorted order.
    pub fn flipped(&self, label: &Value) -> Value {
        let at = self.classes.iter().position(|c| c == label).unwrap_or(0);
        self.classes[(at + 1) % self.classes.len()].clone()
    }

    /// Binds `flip` to the sent `columns`.
    pub fn bind(&self, flip: &Flip, columns: &[String]) -> Result<BoundFlip, UsageError> {
        if self.classes.len() < 2 {
            return Err(UsageError(format!(
                "--flip-labels: the target column {} has a single class, nothing to flip to",
                self.column
            )));
        }
        let column = match &flip.segment {
            None => None,
            Some((name, value)) => Some((
                columns.iter().position(|c| c == name).ok_or_else(|| {
                    UsageError(format!(
                        "--flip-labels {name}={value}: no column {name:?} is sent; the columns \
                         are {}",
                        columns.join(", ")
                    ))
                })?,
                value.clone(),
            )),
        };
        Ok(BoundFlip {
            column,
            share: flip.share,
        })
    }
}

/// Where labels go and when.
pub struct LabelFeed {
    /// The sidecar's admin base URL, http://HOST:PORT.
    pub admin: String,
    pub token: Option<String>,
    /// How long after its prediction was answered a label is sent.
    pub delay: Duration,
    /// Labels per request.
    pub batch: usize,
}

/// The labels of one answered request, waiting to be due.
pub struct Answered {
    pub request_id: Option<String>,
    pub labels: Vec<Value>,
    pub due: Instant,
}

/// What became of the labels.
#[derive(Clone, Default)]
pub struct LabelTally(Arc<Mutex<LabelSummary>>);

/// Labels sent and their outcomes, as the sidecar counted them.
#[derive(Clone, Debug, Default, Serialize)]
pub struct LabelSummary {
    /// Labels posted.
    pub sent: u64,
    /// Of those, how many were flipped.
    pub flipped: u64,
    /// Outcome → labels, from the sidecar's answers (`joined`, `unknown_request`, ...).
    pub outcomes: BTreeMap<String, u64>,
    /// Labels of answers that carried no `X-Request-Id` (the target is not a sidecar).
    pub without_request_id: u64,
    /// Labels in batches the sidecar refused (4xx/5xx) or did not answer.
    pub failed: u64,
    /// The last such failure, with the sidecar's body.
    pub last_error: Option<String>,
}

impl LabelTally {
    pub fn summary(&self) -> LabelSummary {
        self.0.lock().expect("label tally lock poisoned").clone()
    }

    pub fn count_flipped(&self, n: u64) {
        self.0.lock().expect("label tally lock poisoned").flipped += n;
    }
}

impl LabelSummary {
    /// One human line, and the last failure on the next.
    pub fn line(&self) -> String {
        let outcomes: Vec<String> = self
            .outcomes
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        let mut line = format!(
            "labels {} (flipped {}): {}",
            self.sent,
            self.flipped,
            if outcomes.is_empty() {
                "none answered".to_string()
            } else {
                outcomes.join(", ")
            }
        );
        if self.failed > 0 {
            line.push_str(&format!("  failed {}", self.failed));
        }
        if self.without_request_id > 0 {
            line.push_str(&format!(
                "\n{} labels not sent: the answers carried no X-Request-Id (send the traffic \
                 through the modelwatch sidecar)",
                self.without_request_id
            ));
        }
        if let Some(e) = &self.last_error {
            line.push_str(&format!("\nlast label error: {e}"));
        }
        line
    }
}

/// Sends the labels handed to it as they come due.
pub struct LabelSender {
    feed: LabelFeed,
    uri: http::Uri,
    rx: mpsc::UnboundedReceiver<Answered>,
    tally: LabelTally,
}

/// The admin base URL as the feedback URI, or a usage error naming `flag`.
pub fn feedback_uri(admin: &str, flag: &str) -> Result<http::Uri, UsageError> {
    format!("{}{FEEDBACK_PATH}", admin.trim_end_matches('/'))
        .parse()
        .ok()
        .filter(|u: &http::Uri| u.scheme_str() == Some("http") && u.host().is_some())
        .ok_or_else(|| {
            UsageError(format!(
                "{flag} {admin:?} is not an http:// URL: give the sidecar's admin address, \
                 e.g. http://127.0.0.1:9090"
            ))
        })
}

impl LabelSender {
    /// The sender and the channel answered requests' labels go into.
    pub fn new(
        feed: LabelFeed,
        tally: LabelTally,
    ) -> Result<(LabelSender, mpsc::UnboundedSender<Answered>), UsageError> {
        let uri = feedback_uri(&feed.admin, "--labels-url")?;
        let (tx, rx) = mpsc::unbounded_channel();
        Ok((
            LabelSender {
                feed,
                uri,
                rx,
                tally,
            },
            tx,
        ))
    }

    /// Runs until every sender of the channel is gone and every label is sent.
    pub async fn run(mut self) {
        let client: Client<HttpConnector, Full<Bytes>> =
            Client::builder(TokioExecutor::new()).build_http();
        let mut waiting = VecDeque::<Answered>::new();
        let mut retry = VecDeque::<(Instant, Item)>::new();
        let mut batch = Vec::<Item>::new();
        let mut batch_since = Instant::now();
        let mut open = true;
        loop {
            let next_due = match (waiting.front(), retry.front()) {
                (Some(a), Some((at, _))) => Some(a.due.min(*at)),
                (a, r) => a.map(|a| a.due).or(r.map(|(at, _)| *at)),
            };
            tokio::select! {
                answered = self.rx.recv(), if open => match answered {
                    Some(a) => waiting.push_back(a),
                    None => open = false,
                },
                _ = tokio::time::sleep_until(next_due.unwrap_or_else(Instant::now)), if next_due.is_some() => {
                    if batch.is_empty() {
                        batch_since = Instant::now();
                    }
                    while waiting.front().is_some_and(|a| a.due <= Instant::now()) {
                        let a = waiting.pop_front().expect("front exists");
                        self.take(a, &mut batch);
                    }
                    while retry.front().is_some_and(|(at, _)| *at <= Instant::now()) {
                        batch.push(retry.pop_front().expect("front exists").1);
                    }
                }
                _ = tokio::time::sleep_until(batch_since + LINGER), if !batch.is_empty() => {
                    retry.extend(self.post(&client, std::mem::take(&mut batch)).await);
                }
            }
            while batch.len() >= self.feed.batch {
                let rest = batch.split_off(self.feed.batch);
                retry.extend(
                    self.post(&client, std::mem::replace(&mut batch, rest))
                        .await,
                );
            }
            if !open && waiting.is_empty() && !batch.is_empty() && retry.is_empty() {
                retry.extend(self.post(&client, std::mem::take(&mut batch)).await);
            }
            if !open && waiting.is_empty() && batch.is_empty() && retry.is_empty() {
                return;
            }
        }
    }

    fn take(&self, answered: Answered, batch: &mut Vec<Item>) {
        let Some(id) = answered.request_id else {
            self.tally
                .0
                .lock()
                .expect("label tally lock poisoned")
                .without_request_id += answered.labels.len() as u64;
            return;
        };
        batch.extend(
            answered
                .labels
                .into_iter()
                .enumerate()
                .map(|(row, label)| Item {
                    body: json!({"request_id": id, "row": row, "label": label}),
                    attempts: 0,
                }),
        );
    }

    /// Posts `items`, counts their outcomes, and returns those to send again.
    async fn post(
        &self,
        client: &Client<HttpConnector, Full<Bytes>>,
        mut items: Vec<Item>,
    ) -> Vec<(Instant, Item)> {
        let n = items.len() as u64;
        let body = Value::Array(items.iter().map(|i| i.body.clone()).collect());
        let mut request = http::Request::post(self.uri.clone())
            .header(http::header::CONTENT_TYPE, "application/json");
        if let Some(token) = &self.feed.token {
            request = request.header(http::header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let request = request
            .body(Full::new(Bytes::from(body.to_string())))
            .expect("a valid request");
        let answer = async {
            let response = client
                .request(request)
                .await
                .map_err(|e| format!("could not reach {}: {e:#}", self.feed.admin))?;
            let status = response.status();
            let body = response
                .into_body()
                .collect()
                .await
                .map_err(|e| format!("the answer broke off: {e}"))?
                .to_bytes();
            Ok::<_, String>((status, body))
        }
        .await;
        let mut tally = self.tally.0.lock().expect("label tally lock poisoned");
        let mut again = Vec::new();
        let failure = match answer {
            Ok((status, body)) => {
                let text = String::from_utf8_lossy(&body);
                let answer = serde_json::from_slice::<Value>(&body).unwrap_or_default();
                match answer["outcomes"].as_object() {
                    // 200, or a 400 for a batch in which nothing joined: the items were read.
                    Some(counts) if status.is_success() || status.as_u16() == 400 => {
                        for (outcome, k) in counts {
                            *tally.outcomes.entry(outcome.clone()).or_default() +=
                                k.as_u64().unwrap_or(0);
                        }
                        // Items are numbered from 1 in the answer.
                        for problem in answer["problems"].as_array().into_iter().flatten() {
                            let unknown = problem["outcome"] == "unknown_request";
                            let at = problem["item"].as_u64().and_then(|k| k.checked_sub(1));
                            let Some(item) = at.and_then(|k| items.get_mut(k as usize)) else {
                                continue;
                            };
                            if unknown && item.attempts + 1 < ATTEMPTS {
                                item.attempts += 1;
                                *tally.outcomes.entry("unknown_request".into()).or_default() -= 1;
                                again.push((
                                    Instant::now() + LINGER,
                                    Item {
                                        body: item.body.clone(),
                                        attempts: item.attempts,
                                    },
                                ));
                            }
                        }
                        tally.outcomes.retain(|_, k| *k > 0);
                        tally.sent += n - again.len() as u64;
                        (!status.is_success()).then(|| format!("HTTP {status}: {}", text.trim()))
                    }
                    _ => {
                        tally.sent += n;
                        tally.failed += n;
                        Some(format!("HTTP {status}: {}", text.trim()))
                    }
                }
            }
            Err(e) => {
                tally.sent += n;
                tally.failed += n;
                Some(e)
            }
        };
        if let Some(e) = failure {
            tally.last_error = Some(e.chars().take(500).collect());
        }
        again
    }
}

/// One feedback item, and how many times it was sent already.
struct Item {
    body: Value,
    attempts: u8,
}

#[cfg(test)]
mod tests;
