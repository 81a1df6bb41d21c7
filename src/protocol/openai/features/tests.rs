use super::*;
use crate::protocol::openai::text::{ScriptTally, estimate_tokens};

fn script_of(text: &str) -> &'static str {
    let mut tally = ScriptTally::default();
    tally.add(text);
    tally.majority()
}

#[test]
fn tokens_are_estimated_by_the_documented_rule() {
    // Words count ceil(chars / 4): "hello" 2, "there" 2, "a" 1; "," and "!" 1 each.
    assert_eq!(estimate_tokens("hello there, a!"), 2 + 2 + 1 + 1 + 1);
    assert_eq!(estimate_tokens(""), 0);
    assert_eq!(estimate_tokens("   \n\t"), 0);
    // Han and kana count one per character; digits are word characters.
    assert_eq!(estimate_tokens("東京へ 2024"), 3 + 1);
    // A combining accent stays in its word: "e\u{301}te\u{301}" is 5 code points, 2 tokens.
    assert_eq!(estimate_tokens("e\u{301}te\u{301}"), 2);
    // Cyrillic words follow the same rule as Latin ones.
    assert_eq!(estimate_tokens("привет мир"), 2 + 1);
}

#[test]
fn the_script_is_that_of_most_letters() {
    assert_eq!(script_of("hello there"), "Latin");
    assert_eq!(script_of("привет, how"), "Cyrillic");
    assert_eq!(script_of("東京"), "Han");
    assert_eq!(script_of("1234 !?"), "Common");
    // A tie goes to the name first in alphabetical order, whatever the order of the text.
    assert_eq!(script_of("ab вг"), "Cyrillic");
    assert_eq!(script_of("вг ab"), "Cyrillic");
}

#[test]
fn a_chat_request_gives_one_row_of_every_feature() {
    let rows = request_features(
        r#"{"model":"m","messages":[
            {"role":"system","content":"You are terse."},
            {"role":"user","content":[{"type":"text","text":"привет мир"},{"type":"image_url","image_url":{"url":"x"}}]},
            {"role":"assistant","content":null,"tool_calls":[{"id":"1","type":"function","function":{"name":"f","arguments":"{}"}}]},
            {"role":"tool","content":"ok"}],
          "tools":[{"type":"function","function":{"name":"f"}}]}"#.as_bytes(),
    )
    .unwrap();
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    // "You are terse." 1+1+2+1, "привет мир" 2+1, "{}" 2, "ok" 1.
    assert_eq!(row.prompt_tokens, 5 + 3 + 2 + 1);
    assert_eq!(row.messages, Some(4));
    assert_eq!(row.tool_use, Some("auto"));
    // Only what the user wrote decides the script (the system prompt is English).
    assert_eq!(row.prompt_script, "Cyrillic");
    let hash = row.system_prompt.clone().unwrap();
    assert_eq!(hash.len(), 8);
    assert!(hash.bytes().all(|b| b.is_ascii_hexdigit()), "{hash}");
}

#[test]
fn the_system_prompt_category_tells_prompts_apart_and_none_from_empty() {
    let system = |messages: &str| {
        request_features(format!(r#"{{"messages":{messages}}}"#).as_bytes()).unwrap()[0]
            .system_prompt
            .clone()
            .unwrap()
    };
    let user = r#"{"role":"user","content":"hi"}"#;
    let a = system(&format!(r#"[{{"role":"system","content":"A"}},{user}]"#));
    let a_again = system(&format!(
        r#"[{{"role":"system","content":"A"}},{user},{{"role":"user","content":"more"}}]"#
    ));
    let b = system(&format!(r#"[{{"role":"system","content":"B"}},{user}]"#));
    let developer = system(&format!(r#"[{{"role":"developer","content":"A"}},{user}]"#));
    let split = system(r#"[{"role":"system","content":"A"},{"role":"system","content":"B"}]"#);
    let joined = system(r#"[{"role":"system","content":"AB"}]"#);
    assert_eq!(a, a_again, "the same system prompt is the same category");
    assert_ne!(a, b);
    assert_eq!(
        a, developer,
        "developer messages are the newer name of system ones"
    );
    assert_ne!(split, joined);
    assert_eq!(system(&format!("[{user}]")), ABSENT);
}

#[test]
fn tool_use_says_whether_tools_are_offered_and_required() {
    let tool_use = |extra: &str| {
        let body = format!(r#"{{"messages":[{{"role":"user","content":"x"}}]{extra}}}"#);
        request_features(body.as_bytes()).unwrap()[0]
            .tool_use
            .unwrap()
    };
    let tools = r#","tools":[{"type":"function","function":{"name":"f"}}]"#;
    assert_eq!(tool_use(""), "off");
    assert_eq!(tool_use(r#","tools":[]"#), "off");
    assert_eq!(tool_use(tools), "auto");
    assert_eq!(
        tool_use(&format!(r#"{tools},"tool_choice":"auto""#)),
        "auto"
    );
    assert_eq!(tool_use(&format!(r#"{tools},"tool_choice":"none""#)), "off");
    assert_eq!(
        tool_use(&format!(r#"{tools},"tool_choice":"required""#)),
        "required"
    );
    assert_eq!(
        tool_use(&format!(
            r#"{tools},"tool_choice":{{"type":"function","function":{{"name":"f"}}}}"#
        )),
        "required"
    );
    assert_eq!(tool_use(r#","functions":[{"name":"f"}]"#), "auto");
}

#[test]
fn completion_prompts_give_a_row_each_without_chat_columns() {
    let rows = request_features(r#"{"prompt":["hello", "東京"]}"#.as_bytes()).unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0], prompt_only(2, "Latin"));
    assert_eq!(rows[1], prompt_only(2, "Han"));
    let ids = request_features(br#"{"prompt":[1,2,3]}"#).unwrap();
    assert_eq!(ids, vec![prompt_only(3, "Common")]);
    let lists = request_features(br#"{"prompt":[[1,2],[3]]}"#).unwrap();
    assert_eq!(
        lists,
        vec![prompt_only(2, "Common"), prompt_only(1, "Common")]
    );
    let batch = request_batch(&rows);
    assert_eq!(batch.rows, 2);
    assert_eq!(batch.column(MESSAGES).unwrap().values[0], Value::Missing);
    assert_eq!(
        batch.column(PROMPT_SCRIPT).unwrap().values[1],
        Value::Text("Han".into())
    );
}

#[test]
fn requests_that_are_not_chat_or_completions_are_refused_with_a_reason() {
    let reason = |body: &[u8]| request_features(body).unwrap_err().reason();
    assert_eq!(reason(br#"{"model":"m"}"#), DecodeReason::WrongProtocol);
    // `input` is the Responses API's: a string or a list of items.
    assert_eq!(reason(br#"{"input":5}"#), DecodeReason::InvalidField);
    assert_eq!(reason(br#"{"input":[5]}"#), DecodeReason::InvalidField);
    assert_eq!(reason(br#"{"prompt":{"a":1}}"#), DecodeReason::InvalidField);
    assert_eq!(reason(br#"{"messages":"#), DecodeReason::Truncated);
    assert_eq!(reason(b""), DecodeReason::Empty);
}

#[test]
fn a_whole_answer_gives_its_first_choice() {
    let answer = answer_features(
        br#"{"choices":[
            {"index":1,"message":{"role":"assistant","content":"ignored text here"},"finish_reason":"stop"},
            {"index":0,"message":{"role":"assistant","content":"hello there"},"finish_reason":"length"}],
          "usage":{"prompt_tokens":3,"completion_tokens":99}}"#,
        false,
    )
    .unwrap();
    // Estimated from the text (2 + 2), not taken from `usage`.
    assert_eq!(
        answer,
        AnswerFeatures {
            completion_tokens: 4,
            finish_reason: Some(FinishReason::Length)
        }
    );
    let text = answer_features(
        br#"{"choices":[{"index":0,"text":"abcdefgh","finish_reason":"stop"}]}"#,
        false,
    )
    .unwrap();
    assert_eq!(text.completion_tokens, 2);
    let tool = answer_features(
        br#"{"choices":[{"index":0,"message":{"content":null,"tool_calls":[{"function":{"name":"f","arguments":"{\"q\":1}"}}]},"finish_reason":"tool_calls"}]}"#,
        false,
    )
    .unwrap();
    assert_eq!(tool.finish_reason, Some(FinishReason::ToolCalls));
    assert!(tool.completion_tokens > 0);
}

#[test]
fn a_stream_gives_the_same_features_as_the_whole_answer() {
    let stream = concat!(
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\"}}]}\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"ab\"}}]}\r\n\r\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"cd\"}}]}\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"efgh ij\"}}]}\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n",
        "data: [DONE]\n\n",
    );
    let streamed = answer_features(stream.as_bytes(), true).unwrap();
    let whole = answer_features(
        br#"{"choices":[{"index":0,"message":{"content":"abcdefgh ij"},"finish_reason":"stop"}]}"#,
        false,
    )
    .unwrap();
    // The chunks' text is joined before it is measured: "ab" + "cd" + "efgh" is one word
    // of two tokens, not three words of one.
    assert_eq!(streamed, whole);
    assert_eq!(streamed.completion_tokens, 3);
    assert_eq!(finish_reason_value(&streamed), "stop");
    let cut = answer_features(
        b"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"}}]}\n\n",
        true,
    )
    .unwrap();
    assert_eq!(finish_reason_value(&cut), "absent");
}

#[test]
fn error_answers_and_answers_without_choices_are_refused() {
    let reason = |body: &[u8], streamed| answer_features(body, streamed).unwrap_err().reason();
    assert_eq!(
        reason(br#"{"error":{"message":"x"}}"#, false),
        DecodeReason::UpstreamError
    );
    assert_eq!(
        reason(b"data: {\"error\":{\"message\":\"x\"}}\n\n", true),
        DecodeReason::UpstreamError
    );
    assert_eq!(
        reason(br#"{"data":[{"embedding":[0.1]}]}"#, false),
        DecodeReason::Empty
    );
    assert_eq!(reason(b"data: [DONE]\n\n", true), DecodeReason::Empty);
}

#[test]
fn an_answer_batch_is_one_row_of_the_answer_columns() {
    let batch = answer_batch(&AnswerFeatures {
        completion_tokens: 7,
        finish_reason: None,
    });
    assert_eq!(batch.rows, 1);
    assert_eq!(
        batch.names(),
        vec![Some(COMPLETION_TOKENS), Some(FINISH_REASON)]
    );
    assert_eq!(batch.columns[1].values[0], Value::Text("absent".into()));
}
