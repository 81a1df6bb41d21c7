//! Payloads in the formats the OpenAI API reference documents for the Responses API
//! (written from the reference, not recorded from a live server: llama-cpp-python 0.3.16,
//! the test server, does not serve `/v1/responses`). Ids and timestamps shortened.

use super::*;

const WHOLE: &[u8] = br#"{
  "id": "resp_67cc", "object": "response", "created_at": 1741386163, "status": "completed",
  "error": null, "incomplete_details": null, "instructions": null,
  "model": "gpt-4o-2024-08-06",
  "output": [{
    "type": "message", "id": "msg_67cc", "status": "completed", "role": "assistant",
    "content": [{"type": "output_text", "text": "Silent circuits hum.", "annotations": []}]
  }],
  "usage": {"input_tokens": 36, "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": 87, "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": 123}
}"#;

#[test]
fn a_whole_response_gives_its_model_text_finish_and_usage() {
    let answer = decode(WHOLE).unwrap();
    assert_eq!(answer.model.as_deref(), Some("gpt-4o-2024-08-06"));
    assert_eq!(answer.output_choices, 1);
    assert_eq!(answer.text, "Silent circuits hum.");
    assert_eq!(answer.finish_reasons, vec![FinishReason::Stop]);
    assert_eq!(
        answer.usage,
        Some(Usage {
            prompt_tokens: 36,
            completion_tokens: 87,
            total_tokens: 123
        })
    );
    assert!(!answer.error);
}

#[test]
fn an_incomplete_or_calling_response_maps_onto_the_chat_finish_reasons() {
    let cut = decode(
        br#"{"object":"response","status":"incomplete","incomplete_details":{"reason":"max_output_tokens"},"output":[]}"#,
    )
    .unwrap();
    assert_eq!(cut.finish_reasons, vec![FinishReason::Length]);
    let filtered = decode(
        br#"{"object":"response","status":"incomplete","incomplete_details":{"reason":"content_filter"},"output":[]}"#,
    )
    .unwrap();
    assert_eq!(filtered.finish_reasons, vec![FinishReason::ContentFilter]);
    let call = decode(
        br#"{"object":"response","status":"completed","output":[{"type":"function_call","id":"fc_1","call_id":"call_1","name":"get_weather","arguments":"{\"location\":\"Paris\"}","status":"completed"}]}"#,
    )
    .unwrap();
    assert_eq!(call.finish_reasons, vec![FinishReason::ToolCalls]);
    assert_eq!(call.output_choices, 1);
    let failed = decode(br#"{"object":"response","status":"failed","error":{"code":"server_error","message":"x"},"output":[]}"#).unwrap();
    assert!(failed.error);
}

#[test]
fn a_stream_counts_deltas_as_output_and_takes_usage_from_its_last_event() {
    let events: [&[u8]; 6] = [
        br#"{"type":"response.created","sequence_number":0,"response":{"id":"resp_67c9","object":"response","status":"in_progress","model":"gpt-4.1-2025-04-14","output":[],"usage":null}}"#,
        br#"{"type":"response.output_item.added","sequence_number":1,"output_index":0,"item":{"id":"msg_67c9","type":"message","status":"in_progress","role":"assistant","content":[]}}"#,
        br#"{"type":"response.output_text.delta","sequence_number":2,"item_id":"msg_67c9","output_index":0,"content_index":0,"delta":"Hi"}"#,
        br#"{"type":"response.output_text.delta","sequence_number":3,"item_id":"msg_67c9","output_index":0,"content_index":0,"delta":" there"}"#,
        br#"{"type":"response.output_text.done","sequence_number":4,"item_id":"msg_67c9","output_index":0,"content_index":0,"text":"Hi there"}"#,
        br#"{"type":"response.completed","sequence_number":5,"response":{"id":"resp_67c9","object":"response","status":"completed","model":"gpt-4.1-2025-04-14","output":[{"id":"msg_67c9","type":"message","status":"completed","role":"assistant","content":[{"type":"output_text","text":"Hi there","annotations":[]}]}],"usage":{"input_tokens":37,"output_tokens":11,"total_tokens":48}}}"#,
    ];
    let answers: Vec<AnswerSummary> = events.iter().map(|e| decode(e).unwrap()).collect();
    assert_eq!(answers[0].model.as_deref(), Some("gpt-4.1-2025-04-14"));
    let output: Vec<u64> = answers.iter().map(|a| a.output_choices).collect();
    assert_eq!(output, [0, 0, 1, 1, 0, 0], "only deltas are output");
    let text: String = answers.iter().map(|a| a.text.as_str()).collect();
    assert_eq!(
        text, "Hi there",
        "the completed response's copy is not counted twice"
    );
    let last = &answers[5];
    assert_eq!(last.finish_reasons, vec![FinishReason::Stop]);
    assert_eq!(
        last.usage.map(|u| (u.prompt_tokens, u.completion_tokens)),
        Some((37, 11))
    );
    assert!(decode(br#"{"type":"error","code":"ERR_SOMETHING","message":"Something went wrong","param":null,"sequence_number":1}"#).unwrap().error);
}
