//! The LLM saved objects (`modelwatch.llm.*` fields) on real request events of OpenAI-
//! compatible calls: `llm_telemetry.rs` sends calls to the real llama.cpp server through
//! the sidecar, into the real OpenSearch node, and asks these checks what it expects from
//! what its client received.

use std::collections::BTreeMap;

use super::saved_objects::{by_id, load};
use super::{
    INFERENCE_VIEW, assert_node_maps_the_fields, chart_totals, hit_ids, query_dsl, sorted, traffic,
};

/// What the client saw of the LLM calls in a stream.
pub(crate) struct LlmCalls {
    /// The `X-Request-Id` of each LLM call (other requests in the stream are not LLM calls).
    pub request_ids: Vec<String>,
    /// Output tokens per request model, summed over the calls.
    pub output_tokens: BTreeMap<String, f64>,
    /// Calls per finish reason.
    pub finish_reasons: BTreeMap<String, f64>,
    /// The request model of the one streamed call, and its time to first token in ms (as
    /// its event says; the caller compares that with the client's).
    pub streamed: (String, f64),
}

/// The saved search finds exactly the LLM calls; the charts add up to what the client got.
pub(crate) async fn assert_llm_objects(events: &str, calls: &LlmCalls) {
    let objects = load();
    assert_node_maps_the_fields(&objects, INFERENCE_VIEW, events).await;
    let view = by_id(&objects, "index-pattern", INFERENCE_VIEW);
    let time_field = view.attributes["timeFieldName"].as_str().unwrap();

    let search = by_id(&objects, "search", "modelwatch-llm-calls");
    assert_eq!(search.search_data_view(), INFERENCE_VIEW);
    let request = query_dsl::saved_search_request(search, time_field, 1000);
    let found = traffic::search(events, request.clone()).await;
    assert_eq!(
        sorted(hit_ids(&found)),
        sorted(calls.request_ids.clone()),
        "modelwatch-llm-calls: {request}"
    );

    let tokens = chart_totals(&objects, "modelwatch-llm-output-tokens", events, time_field).await;
    assert_eq!(tokens.sum, calls.output_tokens);
    let reasons = chart_totals(
        &objects,
        "modelwatch-llm-finish-reasons",
        events,
        time_field,
    )
    .await;
    assert_eq!(reasons.sum, calls.finish_reasons);
    // One streamed call: the p95 of its model is its own time to first token (the
    // percentile sketch of one value may round in the last digits).
    let ttft = chart_totals(&objects, "modelwatch-llm-ttft", events, time_field).await;
    let (model, ttft_ms) = &calls.streamed;
    assert_eq!(ttft.max.keys().collect::<Vec<_>>(), [model]);
    let p95 = ttft.max[model];
    assert!(
        (p95 - ttft_ms).abs() <= ttft_ms * 1e-6,
        "p95 TTFT {p95} ms, the call's {ttft_ms} ms"
    );
}
