//! An analysis worker: takes exchanges off the queue, decodes both bodies, and adds the
//! rows to their model version's state; with the Elasticsearch export on, it then queues
//! the exchange's request event with what decoding learnt (protocol, rows). It runs on its
//! own thread; nothing it does can reach a client.

use super::LiveAnalysis;
use super::queue::{Idle, QueueReceiver};
use super::references::LoadedReference;
use crate::export::elasticsearch::capture::CapturePolicy;
use crate::export::elasticsearch::event::RequestRecord;
use crate::protocol::openai::Endpoint;
use crate::protocol::{self, Protocol, RequestMeta, ResponseMeta};
use crate::quality::store::{Prediction, PredictionStore};
use crate::traffic::Exchange;
use crate::traffic::capture::CapturedBody;
use std::sync::Arc;
use std::time::Duration;

#[cfg(test)]
mod tests;

/// How long a worker pauses after emptying the queue before it looks again.
///
/// A worker blocked on an empty queue must be woken by the proxy thread that offers the
/// next exchange (a futex wake and a context switch per exchange, ~1,000 a second at
/// 1,000 rps). Pausing after each batch lets exchanges gather with nobody waiting on the
/// queue, so offering them is a plain push and the worker wakes ~50 times a second under
/// load. Drift is evaluated every 15 s by default: rows a few milliseconds late change
/// nothing, and at the queue's default 4,096 exchanges this pause fills it only past
/// ~200,000 exchanges a second.
pub const BATCH_PAUSE: Duration = Duration::from_millis(20);

/// Runs until the queue closes, or until shutdown once the queue is empty.
pub fn run(analysis: Arc<LiveAnalysis>, receiver: QueueReceiver) {
    lower_priority();
    loop {
        match receiver.recv_timeout(Duration::from_millis(100)) {
            Ok(exchange) => {
                handle(&analysis, &exchange);
                while let Some(exchange) = receiver.try_recv() {
                    handle(&analysis, &exchange);
                }
                if !analysis.stopping() {
                    std::thread::sleep(BATCH_PAUSE);
                }
            }
            Err(Idle::Closed) => return,
            Err(Idle::Empty) if analysis.stopping() => return,
            Err(Idle::Empty) => {}
        }
    }
}

/// Analyses one exchange and, with event export on, offers its request event.
fn handle(analysis: &LiveAnalysis, exchange: &Exchange) {
    let mut decoded = Decoded::default();
    if let Err(reason) = analyse(analysis, exchange, &mut decoded) {
        analysis.metrics.skipped.with_label_values(&[reason]).inc();
    }
    if let Some(export) = analysis.export.get() {
        let event = decoded.event(exchange, export.capture.as_ref());
        export.queue.offer_record(event);
    }
}

/// What decoding learnt about an exchange, for its request event.
#[derive(Default)]
pub struct Decoded {
    pub protocol: Option<Protocol>,
    pub reference: Option<Arc<LoadedReference>>,
    pub request: Option<protocol::Batch>,
    pub response: Option<protocol::Batch>,
    /// The version the rows were attributed to (it may say more than the URL or header:
    /// the OIP body's `model_version`, or the alias's current version).
    pub model_version: Option<Arc<str>>,
}

impl Decoded {
    /// The exchange's request event with the protocol, the row count and, when `capture`
    /// samples it, the payload (positional columns named by the reference).
    pub fn event(&self, exchange: &Exchange, capture: Option<&CapturePolicy>) -> RequestRecord {
        let mut record = RequestRecord::from_exchange(exchange);
        record.protocol = self.protocol.map(Protocol::as_str);
        record.rows = self.request.as_ref().map(|b| b.rows as u64);
        if let Some(version) = &self.model_version {
            record.model_version = version.to_string();
        }
        if let Some(policy) = capture.filter(|p| p.sampled(&exchange.request_id)) {
            let (features, predictions) = match &self.reference {
                Some(r) => (
                    column_names(r, &r.features),
                    column_names(r, &r.predictions),
                ),
                None => (Vec::new(), Vec::new()),
            };
            record.payload = policy.capture(
                self.request.as_ref(),
                self.response.as_ref(),
                &features,
                &predictions,
            );
        }
        record
    }
}

fn column_names<'a>(reference: &'a LoadedReference, columns: &[usize]) -> Vec<&'a str> {
    columns
        .iter()
        .map(|&p| reference.profile.columns[p].name.as_str())
        .collect()
}

fn analyse(
    analysis: &LiveAnalysis,
    exchange: &Exchange,
    decoded: &mut Decoded,
) -> Result<(), &'static str> {
    if !exchange.status.is_success() {
        return Err("not_success");
    }
    if let Some(endpoint) = Endpoint::from_route(&exchange.path) {
        return super::llm::analyse(analysis, exchange, endpoint, decoded);
    }
    let current = analysis
        .reference_for(&exchange.labels.model)
        .ok_or("no_reference")?;
    let request_body = body(&exchange.request.body)?;
    let protocol = match analysis.protocol {
        Some(p) => p,
        None => protocol::detect(
            &exchange.path,
            exchange.request.content_type.as_deref(),
            request_body,
        )
        .ok_or("unknown_protocol")?,
    };
    decoded.protocol = Some(protocol);
    let request = protocol::decode_request(
        protocol,
        &RequestMeta {
            content_type: exchange.request.content_type.as_deref(),
            inference_header_len: exchange.request.inference_header_len,
        },
        request_body,
    )
    .map_err(|e| e.reason().as_str())?;
    let response = match body(&exchange.response.body) {
        Ok(bytes) => match decode_response(protocol, exchange, bytes) {
            Ok(batch) => Some(batch),
            Err(reason) => {
                // The features are still worth counting; say why predictions are not.
                analysis.metrics.skipped.with_label_values(&[reason]).inc();
                None
            }
        },
        Err(reason) => {
            analysis.metrics.skipped.with_label_values(&[reason]).inc();
            None
        }
    };
    let answered = response.as_ref().and_then(|b| b.model_version.as_deref());
    let (reference, labels) =
        super::versions::attribute(&analysis.versions, current, &exchange.labels, answered);
    decoded.reference = Some(reference.clone());
    decoded.model_version = Some(labels.version.clone());
    analysis.record(
        &labels,
        reference,
        exchange.received_at,
        &request,
        response.as_ref(),
    );
    if let (Some(quality), Some(response)) = (&analysis.quality, &response) {
        keep_predictions(&quality.store, exchange, &labels, response);
    }
    decoded.request = Some(request);
    decoded.response = response;
    Ok(())
}

/// Offers each response row to the prediction store, for labels that arrive later.
fn keep_predictions(
    store: &PredictionStore,
    exchange: &Exchange,
    labels: &crate::traffic::identity::ModelLabels,
    response: &protocol::Batch,
) {
    let outputs: Arc<[String]> = response
        .columns
        .iter()
        .enumerate()
        .map(|(i, c)| c.name.clone().unwrap_or_else(|| format!("output_{i}")))
        .collect();
    let at_ms = crate::quality::store::to_ms(exchange.received_at);
    for row in 0..response.rows {
        store.offer(Prediction {
            request_id: exchange.request_id.clone(),
            row: row as u32,
            model: labels.model.clone(),
            version: labels.version.clone(),
            outputs: outputs.clone(),
            values: response
                .columns
                .iter()
                .map(|c| json_value(c.values.get(row)))
                .collect(),
            at_ms,
        });
    }
}

fn json_value(value: Option<&protocol::Value>) -> serde_json::Value {
    match value {
        Some(protocol::Value::Number(n)) => serde_json::Number::from_f64(*n)
            .map_or(serde_json::Value::Null, serde_json::Value::Number),
        Some(protocol::Value::Text(t)) => serde_json::Value::String(t.clone()),
        Some(protocol::Value::Bool(b)) => serde_json::Value::Bool(*b),
        Some(protocol::Value::Missing) | None => serde_json::Value::Null,
    }
}

fn decode_response(
    protocol: Protocol,
    exchange: &Exchange,
    body: &[u8],
) -> Result<protocol::Batch, &'static str> {
    protocol::decode_response(
        protocol,
        &ResponseMeta {
            content_type: exchange.response.content_type.as_deref(),
            inference_header_len: exchange.response.inference_header_len,
        },
        body,
    )
    .map_err(|e| e.reason().as_str())
}

pub(super) fn body(captured: &CapturedBody) -> Result<&[u8], &'static str> {
    match captured {
        CapturedBody::Complete(b) => Ok(b),
        CapturedBody::TooLarge => Err("body_too_large"),
        CapturedBody::Incomplete => Err("incomplete_body"),
    }
}

/// Analysis must lose every contest for the CPU with the proxy's own threads: on a busy
/// sidecar, a late drift update is fine, a late response is not. Linux schedules threads
/// individually, so this lowers only the calling thread (nice 10).
pub fn lower_priority() {
    // SAFETY: setpriority with PRIO_PROCESS and a thread id only changes that thread's
    // nice value; it reads no memory of ours.
    let result = unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, 10)
    };
    if result != 0 {
        tracing::debug!(
            err = %std::io::Error::last_os_error(),
            "could not lower the analysis thread's priority"
        );
    }
}
