use super::*;
use prometheus::Encoder;

fn metrics() -> (Registry, Arc<LlmMetrics>, Arc<LabelInterner>) {
    let registry = Registry::new();
    let metrics = Arc::new(LlmMetrics::register(&registry).unwrap());
    (registry, metrics, Arc::new(LabelInterner::new(8, 8)))
}

fn exposition(registry: &Registry) -> String {
    let mut out = Vec::new();
    prometheus::TextEncoder::new()
        .encode(&registry.gather(), &mut out)
        .unwrap();
    String::from_utf8(out).unwrap()
}

fn sse_headers() -> http::HeaderMap {
    let mut headers = http::HeaderMap::new();
    headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/event-stream; charset=utf-8"),
    );
    headers
}

fn call(
    path: &str,
    request: &'static [u8],
    metrics: &Arc<LlmMetrics>,
    labels: &Arc<LabelInterner>,
) -> LlmCall {
    call_capturing(path, request, metrics, labels, None)
}

fn call_capturing(
    path: &str,
    request: &'static [u8],
    metrics: &Arc<LlmMetrics>,
    labels: &Arc<LabelInterner>,
    text: Option<&Arc<CapturePolicy>>,
) -> LlmCall {
    let sinks = LlmSinks {
        metrics,
        labels,
        text,
    };
    let (mut tap, call) =
        LlmRequestTap::for_path(path, Instant::now(), sinks, Arc::from("unknown"))
            .expect("an OpenAI route");
    tap.on_data(&Bytes::from_static(request));
    tap.on_end(BodyEnd::Complete);
    call
}

#[test]
fn a_stream_split_anywhere_gives_first_token_chunk_count_and_finish_reason() {
    let (registry, metrics, labels) = metrics();
    let stream: &[u8] =
        b"data: {\"model\":\"tiny\",\"choices\":[{\"delta\":{\"role\":\"assistant\"}}]}\n\n\
data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n\
data: {\"choices\":[{\"delta\":{\"content\":\"b\"}}]}\n\n\
data: {\"choices\":[{\"delta\":{\"content\":\"c\"},\"finish_reason\":\"length\"}]}\n\n\
data: [DONE]\n\n";
    let request = br#"{"model":"tiny","stream":true,"messages":[]}"#;
    let mut tap = LlmResponseTap::new(
        call("/v1/chat/completions", request, &metrics, &labels),
        &sse_headers(),
    );
    for piece in stream.chunks(7) {
        tap.on_data(&Bytes::copy_from_slice(piece));
    }
    let record = tap.on_end(http::StatusCode::OK, BodyEnd::Complete);
    // The record the span and the event get says what the metrics say.
    assert_eq!(record.operation, "chat");
    assert_eq!(record.request_model.as_deref(), Some("tiny"));
    assert_eq!(record.response_model.as_deref(), Some("tiny"));
    assert!(record.stream);
    assert_eq!(record.finish_reasons, vec!["length"]);
    assert_eq!(
        (
            record.input_tokens,
            record.output_tokens,
            record.total_tokens
        ),
        (None, Some(3), None)
    );
    assert_eq!(record.token_source, Some(TokenSource::Chunks));
    assert!(record.time_to_first_token.is_some());
    assert_eq!(record.inter_token.map(|g| g.count), Some(2));
    assert_eq!(record.text, None, "not sampled: no text");
    let text = exposition(&registry);
    assert!(
        text.contains(
            r#"modelwatch_llm_time_to_first_token_seconds_count{model="tiny",operation="chat"} 1"#
        ),
        "{text}"
    );
    assert!(text.contains(r#"modelwatch_llm_token_usage_tokens_sum{model="tiny",operation="chat",source="chunks",token_type="output"} 3"#), "{text}");
    assert!(text.contains(r#"modelwatch_llm_finish_reasons_total{model="tiny",operation="chat",reason="length"} 1"#), "{text}");
    assert!(
        text.contains(r#"modelwatch_llm_requests_in_flight{model="tiny",operation="chat"} 0"#),
        "{text}"
    );
}

#[test]
fn a_json_answer_gives_usage_and_an_error_status_counts_by_code() {
    let (registry, metrics, labels) = metrics();
    let request = br#"{"model":"tiny","prompt":"x"}"#;
    let mut tap = LlmResponseTap::new(
        call("/v1/completions", request, &metrics, &labels),
        &http::HeaderMap::new(),
    );
    tap.on_data(&Bytes::from_static(br#"{"choices":[{"text":"y","finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}}"#));
    let record = tap.on_end(http::StatusCode::OK, BodyEnd::Complete);
    assert_eq!(
        (
            record.input_tokens,
            record.output_tokens,
            record.total_tokens
        ),
        (Some(5), Some(2), Some(7))
    );
    assert_eq!(record.token_source, Some(TokenSource::Usage));
    assert_eq!(record.finish_reasons, vec!["stop"]);
    assert_eq!(record.time_to_first_token, None);
    let failed = LlmResponseTap::new(
        call("/v1/completions", request, &metrics, &labels),
        &http::HeaderMap::new(),
    );
    let failed = failed.on_end(http::StatusCode::TOO_MANY_REQUESTS, BodyEnd::Complete);
    assert_eq!(failed.operation, "text_completion");
    assert_eq!((failed.output_tokens, failed.token_source), (None, None));
    let text = exposition(&registry);
    assert!(text.contains(r#"modelwatch_llm_token_usage_tokens_sum{model="tiny",operation="text_completion",source="usage",token_type="input"} 5"#), "{text}");
    assert!(text.contains(r#"modelwatch_llm_token_usage_tokens_sum{model="tiny",operation="text_completion",source="usage",token_type="output"} 2"#), "{text}");
    assert!(text.contains(r#"modelwatch_llm_errors_total{error_type="429",model="tiny",operation="text_completion"} 1"#), "{text}");
    assert!(
        !text.contains("modelwatch_llm_time_to_first_token_seconds_count{"),
        "no TTFT without a stream: {text}"
    );
}

#[test]
fn the_first_token_is_the_first_chunk_with_output_not_the_role_chunk() {
    let role = openai::decode_answer(
        br#"{"choices":[{"delta":{"role":"assistant"},"finish_reason":null}]}"#,
    )
    .unwrap();
    let token = openai::decode_answer(br#"{"choices":[{"delta":{"content":"a"}}]}"#).unwrap();
    let t0 = Instant::now();
    let (t1, t2) = (t0 + Duration::from_millis(5), t0 + Duration::from_millis(9));
    let mut seen = Seen::new(false);
    seen.add(role, t0);
    seen.add(token.clone(), t1);
    seen.add(token, t2);
    assert_eq!(seen.first_output, Some(t1));
    assert_eq!(seen.last_output, Some(t2));
    assert_eq!(seen.output_chunks, 2);
}

#[test]
fn a_sampled_call_carries_its_prompt_and_streamed_completion_under_the_policy() {
    let (_registry, metrics, labels) = metrics();
    let policy = Arc::new(
        CapturePolicy::new(&crate::config::elasticsearch::CaptureConfig {
            sample_rate: 1.0,
            max_bytes: 1000,
            ..Default::default()
        })
        .unwrap(),
    );
    let request =
        br#"{"model":"tiny","stream":true,"messages":[{"role":"user","content":"hello"}]}"#;
    let mut tap = LlmResponseTap::new(
        call_capturing(
            "/v1/chat/completions",
            request,
            &metrics,
            &labels,
            Some(&policy),
        ),
        &sse_headers(),
    );
    tap.on_data(&Bytes::from_static(
        b"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"}}]}\n\n\
data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lo.\"},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n",
    ));
    let record = tap.on_end(http::StatusCode::OK, BodyEnd::Complete);
    let text = record.text.expect("sampled");
    assert_eq!(text.prompt.as_deref(), Some("user: hello"));
    assert_eq!(text.completion.as_deref(), Some("Hello."));
    assert!(!text.truncated);
}

/// A streamed Responses API call, in the event format of the OpenAI API reference (see
/// `protocol/openai/responses/tests.rs`): deltas are the output, the last event's usage
/// is the server's count.
#[test]
fn a_streamed_responses_call_is_measured_from_its_deltas_and_usage() {
    let (registry, metrics, labels) = metrics();
    let request = br#"{"model":"tiny","input":"hi","stream":true}"#;
    let mut tap = LlmResponseTap::new(
        call("/v1/responses", request, &metrics, &labels),
        &sse_headers(),
    );
    let stream: &[u8] = b"event: response.created\n\
data: {\"type\":\"response.created\",\"response\":{\"model\":\"tiny-1\",\"status\":\"in_progress\",\"output\":[]}}\n\n\
event: response.output_text.delta\n\
data: {\"type\":\"response.output_text.delta\",\"delta\":\"Hi\"}\n\n\
event: response.output_text.delta\n\
data: {\"type\":\"response.output_text.delta\",\"delta\":\" there\"}\n\n\
event: response.completed\n\
data: {\"type\":\"response.completed\",\"response\":{\"model\":\"tiny-1\",\"status\":\"completed\",\"output\":[{\"type\":\"message\",\"content\":[{\"type\":\"output_text\",\"text\":\"Hi there\"}]}],\"usage\":{\"input_tokens\":3,\"output_tokens\":2,\"total_tokens\":5}}}\n\n";
    for piece in stream.chunks(11) {
        tap.on_data(&Bytes::copy_from_slice(piece));
    }
    let record = tap.on_end(http::StatusCode::OK, BodyEnd::Complete);
    assert_eq!(record.operation, "chat");
    assert_eq!(record.response_model.as_deref(), Some("tiny-1"));
    assert_eq!(record.finish_reasons, vec!["stop"]);
    assert_eq!(
        (
            record.input_tokens,
            record.output_tokens,
            record.total_tokens
        ),
        (Some(3), Some(2), Some(5))
    );
    assert_eq!(record.token_source, Some(TokenSource::Usage));
    assert!(record.time_to_first_token.is_some());
    assert_eq!(record.inter_token.map(|g| g.count), Some(1));
    let text = exposition(&registry);
    assert!(text.contains(r#"modelwatch_llm_token_usage_tokens_sum{model="tiny",operation="chat",source="usage",token_type="output"} 2"#), "{text}");
}
