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

mod drift_features {
    //! The Responses API's drift features, on request and answer payloads written from the
    //! OpenAI API reference (not recorded: no server here serves `/v1/responses`).

    use super::super::answer_features;
    use super::WHOLE;
    use crate::protocol::error::DecodeReason;
    use crate::protocol::openai::FinishReason;
    use crate::protocol::openai::features::{AnswerFeatures, request_features};
    use crate::protocol::openai::text::estimate_tokens;

    #[test]
    fn instructions_and_input_read_as_the_chat_request_they_stand_for() {
        let responses = request_features(
            br#"{"model": "gpt-4.1", "instructions": "Talk like a pirate.", "input": "Are semicolons optional in JavaScript?"}"#,
        )
        .unwrap();
        let chat = request_features(
            br#"{"model": "gpt-4.1", "messages": [{"role": "system", "content": "Talk like a pirate."}, {"role": "user", "content": "Are semicolons optional in JavaScript?"}]}"#,
        )
        .unwrap();
        // Same tokens, 2 messages, the same system prompt hash, no tools, Latin.
        assert_eq!(responses, chat);
        assert_eq!(responses[0].messages, Some(2));

        // Without instructions there is no system prompt; a list gives a message per item.
        let items = request_features(
            br#"{"model": "gpt-4.1",
                 "input": [
                   {"role": "user", "content": [
                     {"type": "input_text", "text": "what is in this image?"},
                     {"type": "input_image", "image_url": "https://example.com/a.jpg"}]},
                   {"type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": "{\"location\":\"Paris\"}"},
                   {"type": "function_call_output", "call_id": "call_1", "output": "sunny"}],
                 "tools": [{"type": "function", "name": "get_weather", "parameters": {"type": "object"}}],
                 "tool_choice": "required"}"#,
        )
        .unwrap();
        let row = &items[0];
        assert_eq!(row.messages, Some(3));
        assert_eq!(row.system_prompt.as_deref(), Some("absent"));
        assert_eq!(row.tool_use, Some("required"));
        assert_eq!(row.prompt_script, "Latin");
        // The text part, the call's arguments and the tool's output count; the image does not.
        let expected = estimate_tokens("what is in this image?")
            + estimate_tokens("{\"location\":\"Paris\"}")
            + estimate_tokens("sunny");
        assert_eq!(row.prompt_tokens, expected);

        // A developer message in `input` is a system prompt, as in a chat.
        let developer = request_features(
            br#"{"input": [{"role": "developer", "content": "Talk like a pirate."}, {"role": "user", "content": "Are semicolons optional in JavaScript?"}]}"#,
        )
        .unwrap();
        assert_eq!(developer[0].system_prompt, chat[0].system_prompt);
        // Tools offered but left to the model.
        let auto =
            request_features(br#"{"input": "hi", "tools": [{"type": "web_search_preview"}]}"#)
                .unwrap();
        assert_eq!(auto[0].tool_use, Some("auto"));
    }

    fn features(body: &[u8]) -> AnswerFeatures {
        answer_features(body, false).unwrap()
    }

    #[test]
    fn a_response_gives_its_output_tokens_and_a_mapped_finish_reason() {
        assert_eq!(
            features(WHOLE),
            AnswerFeatures {
                completion_tokens: estimate_tokens("Silent circuits hum."),
                finish_reason: Some(FinishReason::Stop),
            }
        );
        let call = features(
            br#"{"object":"response","status":"completed","output":[{"type":"function_call","id":"fc_1","call_id":"call_1","name":"get_weather","arguments":"{\"location\":\"Paris\"}","status":"completed"}]}"#,
        );
        assert_eq!(call.finish_reason, Some(FinishReason::ToolCalls));
        assert_eq!(
            call.completion_tokens,
            estimate_tokens("{\"location\":\"Paris\"}")
        );
        let cut = features(
            br#"{"object":"response","status":"incomplete","incomplete_details":{"reason":"max_output_tokens"},"output":[{"type":"message","role":"assistant","content":[{"type":"output_text","text":"Once upon"}]}]}"#,
        );
        assert_eq!(cut.finish_reason, Some(FinishReason::Length));
        assert_eq!(cut.completion_tokens, estimate_tokens("Once upon"));

        let reason = |body: &[u8]| answer_features(body, false).unwrap_err().reason();
        assert_eq!(
            reason(br#"{"object":"response","status":"failed","error":{"code":"server_error","message":"x"},"output":[]}"#),
            DecodeReason::UpstreamError
        );
        assert_eq!(reason(br#"{"id": "x"}"#), DecodeReason::Empty);
    }

    #[test]
    fn a_streamed_response_gives_what_the_whole_one_gives() {
        // `event:` lines name each event as the reference shows; `data` is what counts.
        let stream = concat!(
            "event: response.created\n",
            r#"data: {"type":"response.created","sequence_number":0,"response":{"id":"resp_1","object":"response","status":"in_progress","output":[]}}"#,
            "\n\nevent: response.output_text.delta\n",
            r#"data: {"type":"response.output_text.delta","sequence_number":1,"item_id":"msg_1","output_index":0,"content_index":0,"delta":"Silent circuits"}"#,
            "\n\nevent: response.output_text.delta\n",
            r#"data: {"type":"response.output_text.delta","sequence_number":2,"item_id":"msg_1","output_index":0,"content_index":0,"delta":" hum."}"#,
            "\n\nevent: response.completed\n",
            r#"data: {"type":"response.completed","sequence_number":3,"response":{"id":"resp_1","object":"response","status":"completed","output":[{"type":"message","role":"assistant","content":[{"type":"output_text","text":"Silent circuits hum."}]}]}}"#,
            "\n\n",
        );
        assert_eq!(
            answer_features(stream.as_bytes(), true).unwrap(),
            features(WHOLE)
        );
        // A stream cut before its last event: output, no finish reason.
        let cut = stream.split("event: response.completed").next().unwrap();
        assert_eq!(
            answer_features(cut.as_bytes(), true).unwrap().finish_reason,
            None
        );
        let error = "data: {\"type\":\"error\",\"code\":\"ERR\",\"message\":\"x\",\"sequence_number\":1}\n\n";
        assert_eq!(
            answer_features(error.as_bytes(), true)
                .unwrap_err()
                .reason(),
            DecodeReason::UpstreamError
        );
    }
}
