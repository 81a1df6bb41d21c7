//! Drift of LLM traffic: an OpenAI-compatible chat, text completion or Responses API
//! exchange becomes
//! rows of its drift features ([`crate::protocol::openai::features`]), the request's as
//! feature columns and its answer's as prediction columns, and is recorded like a tabular
//! model's rows: same windows, gauges, report and alerts.
//!
//! The rows go to the model the request body names when `analysis.references` has a
//! reference of that name (so one sidecar in front of a server with several models keeps
//! them apart, and labels stay bounded by the configuration); otherwise to the proxy's
//! model label and its reference, as any other traffic.
//!
//! An embeddings exchange gives one row per returned vector
//! ([`crate::protocol::openai::embeddings`]: the input's length, the vector's norm and a
//! fixed projection of it), all feature columns: the vectors are what the reference's
//! row sample and the multivariate methods compare.

use super::LiveAnalysis;
use super::worker::{Decoded, body};
use crate::protocol::Batch;
use crate::protocol::openai::features::{
    answer_batch, answer_features, request_batch, request_features,
};
use crate::protocol::openai::{self, Endpoint, embeddings, responses};
use crate::protocol::sse::is_event_stream;
use crate::traffic::Exchange;
use crate::traffic::identity::ModelLabels;
use std::sync::Arc;

/// An answer's prediction row (`None`: the endpoint has none), or the skip reason.
type AnswerRow = Result<Option<Batch>, &'static str>;

/// Records the exchange's feature rows against its model's reference. `Err` is the
/// `modelwatch_analysis_skipped_total` reason.
pub fn analyse(
    analysis: &LiveAnalysis,
    exchange: &Exchange,
    endpoint: Endpoint,
    decoded: &mut Decoded,
) -> Result<(), &'static str> {
    let (request, response) = match endpoint {
        Endpoint::Chat | Endpoint::TextCompletion | Endpoint::Responses => {
            text_rows(exchange, endpoint)?
        }
        Endpoint::Embeddings => (embedding_rows(exchange)?, Ok(None)),
    };
    let request_body = body(&exchange.request.body).ok();
    let model = request_body
        .and_then(|b| openai::decode_request(b).ok())
        .and_then(|r| r.model);
    let references = analysis.reference_set();
    let (current, labels) = match model
        .as_deref()
        .and_then(|m| references.own(m).map(|r| (m, r)))
    {
        Some((model, reference)) => (
            reference.clone(),
            ModelLabels {
                model: Arc::from(model),
                version: exchange.labels.version.clone(),
            },
        ),
        None => (
            references
                .for_model(&exchange.labels.model)
                .ok_or("no_reference")?
                .clone(),
            exchange.labels.clone(),
        ),
    };
    let response = response.unwrap_or_else(|reason| {
        // The prompt's features are still worth counting; say why the answer's are not.
        analysis.metrics.skipped.with_label_values(&[reason]).inc();
        None
    });
    let (reference, labels) =
        super::versions::attribute(&analysis.versions, current, &labels, None);
    analysis.record(
        &labels,
        reference.clone(),
        exchange.received_at,
        &request,
        response.as_ref(),
    );
    decoded.reference = Some(reference);
    decoded.model_version = Some(labels.version.clone());
    decoded.request = Some(request);
    decoded.response = response;
    Ok(())
}

/// A chat, text completion or Responses API call's request rows, and its answer's row or
/// why it cannot be read.
fn text_rows(exchange: &Exchange, endpoint: Endpoint) -> Result<(Batch, AnswerRow), &'static str> {
    let request_body = body(&exchange.request.body)?;
    let prompts = request_features(request_body).map_err(|e| e.reason().as_str())?;
    let answer = body(&exchange.response.body).and_then(|bytes| {
        let streamed = (exchange.response.content_type.as_deref()).is_some_and(is_event_stream);
        let features = match endpoint {
            Endpoint::Responses => responses::answer_features(bytes, streamed),
            _ => answer_features(bytes, streamed),
        };
        features.map_err(|e| e.reason().as_str())
    });
    Ok((
        request_batch(&prompts),
        answer.map(|a| Some(answer_batch(&a))),
    ))
}

/// An embeddings exchange's rows, one per returned vector: the vectors are what is
/// monitored, so an answer that cannot be read skips the exchange. The request only adds
/// the inputs' lengths (left missing when it cannot be read).
fn embedding_rows(exchange: &Exchange) -> Result<Batch, &'static str> {
    let vectors = body(&exchange.response.body)
        .and_then(|b| embeddings::vectors(b).map_err(|e| e.reason().as_str()))?;
    let inputs = body(&exchange.request.body)
        .ok()
        .and_then(|b| embeddings::input_tokens(b).ok());
    Ok(embeddings::batch(&embeddings::rows(
        inputs.as_deref(),
        &vectors,
    )))
}
