use super::*;

#[test]
fn routes_name_the_endpoint_with_or_without_a_prefix() {
    assert_eq!(
        Endpoint::from_route("/v1/chat/completions"),
        Some(Endpoint::Chat)
    );
    assert_eq!(
        Endpoint::from_route("/llm/v1/completions?x=1"),
        Some(Endpoint::TextCompletion)
    );
    assert_eq!(
        Endpoint::from_route("/v1/embeddings/"),
        Some(Endpoint::Embeddings)
    );
    assert_eq!(Endpoint::from_route("/v1/models"), None);
    assert_eq!(Endpoint::from_route("/v2/models/m/infer"), None);
}

#[test]
fn a_request_gives_its_model_and_streaming_options() {
    let req = decode_request(
        br#"{"model":"tiny","messages":[{"role":"user","content":"hi"}],"stream":true,
            "stream_options":{"include_usage":true},"max_tokens":8,"temperature":0.5}"#,
    )
    .unwrap();
    assert_eq!(
        req,
        LlmRequest {
            model: Some("tiny".into()),
            stream: true,
            include_usage: true,
            max_tokens: Some(8),
            temperature: Some(0.5),
        }
    );
    assert!(
        !decode_request(br#"{"model":"m","prompt":"x"}"#)
            .unwrap()
            .stream
    );
    assert_eq!(
        decode_request(b"").unwrap_err().reason(),
        DecodeReason::Empty
    );
    assert_eq!(
        decode_request(b"{\"model\":").unwrap_err().reason(),
        DecodeReason::Truncated
    );
    assert_eq!(
        decode_request(b"{\"stream\":3}").unwrap_err().reason(),
        DecodeReason::InvalidField
    );
}

#[test]
fn a_streamed_chunk_counts_output_only_when_it_carries_some() {
    let role = decode_answer(br#"{"model":"m","choices":[{"index":0,"delta":{"role":"assistant"},"finish_reason":null}]}"#).unwrap();
    assert_eq!(role.output_choices, 0);
    let token = decode_answer(br#"{"choices":[{"delta":{"content":"Hel"}}]}"#).unwrap();
    assert_eq!(token.output_choices, 1);
    let tool = decode_answer(br#"{"choices":[{"delta":{"tool_calls":[{"index":0}]}}]}"#).unwrap();
    assert_eq!(tool.output_choices, 1);
    let last = decode_answer(br#"{"choices":[{"delta":{},"finish_reason":"length"}]}"#).unwrap();
    assert_eq!(last.finish_reasons, [FinishReason::Length]);
    let usage = decode_answer(
        br#"{"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":3,"total_tokens":8}}"#,
    )
    .unwrap();
    assert_eq!(
        usage.usage,
        Some(Usage {
            prompt_tokens: 5,
            completion_tokens: 3,
            total_tokens: 8
        })
    );
    assert!(
        decode_answer(br#"{"error":{"message":"boom","type":"server_error"}}"#)
            .unwrap()
            .error
    );
}

#[test]
fn a_whole_answer_gives_usage_and_every_choices_finish_reason() {
    let chat = decode_answer(br#"{"model":"m","choices":[{"message":{"role":"assistant","content":"a"},"finish_reason":"stop"},{"message":{"content":null,"tool_calls":[]},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":2,"completion_tokens":1,"total_tokens":3}}"#).unwrap();
    assert_eq!(
        chat.finish_reasons,
        [FinishReason::Stop, FinishReason::ToolCalls]
    );
    assert_eq!(chat.output_choices, 2);
    assert_eq!(chat.usage.unwrap().total_tokens, 3);
    let text = decode_answer(br#"{"choices":[{"text":"x","finish_reason":"weird"}]}"#).unwrap();
    assert_eq!(text.finish_reasons, [FinishReason::Other]);
    let embeddings = decode_answer(
        br#"{"data":[{"embedding":[0.1]}],"usage":{"prompt_tokens":4,"total_tokens":4}}"#,
    )
    .unwrap();
    assert_eq!(embeddings.usage.unwrap().prompt_tokens, 4);
}

#[test]
fn a_temperature_the_server_will_refuse_still_leaves_the_model() {
    let req = decode_request(br#"{"model":"tiny","temperature":"hot"}"#).unwrap();
    assert_eq!(req.model.as_deref(), Some("tiny"));
    assert_eq!(req.temperature, None);
}

#[test]
fn prompt_text_reads_messages_prompts_and_inputs() {
    assert_eq!(
        prompt_text(
            br#"{"messages":[{"role":"system","content":"Be brief."},
                {"role":"user","content":[{"type":"text","text":"hi"},{"type":"image_url","image_url":{}}]}]}"#
        )
        .as_deref(),
        Some("system: Be brief.\nuser: hi")
    );
    assert_eq!(
        prompt_text(br#"{"prompt":["a","b"]}"#).as_deref(),
        Some("a\nb")
    );
    assert_eq!(
        prompt_text(br#"{"input":"embed me"}"#).as_deref(),
        Some("embed me")
    );
    // Token ids are not text.
    assert_eq!(prompt_text(br#"{"prompt":[1,2,3]}"#), None);
    assert_eq!(prompt_text(b"not json"), None);
}

#[test]
fn the_output_text_is_the_first_choices() {
    let chunk =
        decode_answer(br#"{"choices":[{"index":1,"delta":{"content":"x"}},{"index":0,"delta":{"content":"Hel"}}]}"#)
            .unwrap();
    assert_eq!(chunk.text, "Hel");
    let whole = decode_answer(
        br#"{"choices":[{"index":0,"message":{"role":"assistant","content":"Hello."},"finish_reason":"stop"}]}"#,
    )
    .unwrap();
    assert_eq!(whole.text, "Hello.");
    let text = decode_answer(br#"{"choices":[{"text":"abc","index":0}]}"#).unwrap();
    assert_eq!(text.text, "abc");
}

#[test]
fn a_responses_api_request_gives_its_route_limit_and_prompt() {
    assert_eq!(
        Endpoint::from_route("/v1/responses"),
        Some(Endpoint::Responses)
    );
    // Retrieving a stored response is not a generation.
    assert_eq!(Endpoint::from_route("/v1/responses/resp_123"), None);
    let body = br#"{"model":"gpt-4.1","instructions":"Be brief.","input":"Say hi","max_output_tokens":16,"stream":true}"#;
    let req = decode_request(body).unwrap();
    assert_eq!((req.max_tokens, req.stream), (Some(16), true));
    assert_eq!(
        prompt_text(body).as_deref(),
        Some("system: Be brief.\nuser: Say hi")
    );
    let items = br#"{"model":"m","input":[{"role":"user","content":[{"type":"input_text","text":"what is in this image?"},{"type":"input_image","image_url":"https://x"}]}]}"#;
    assert_eq!(
        prompt_text(items).as_deref(),
        Some("user: what is in this image?")
    );
}
