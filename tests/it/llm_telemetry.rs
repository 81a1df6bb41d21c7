//! What an LLM call leaves behind besides metrics, against the real services: its span's
//! `gen_ai.*` attributes in a real OpenTelemetry Collector (`tests/services/otelcol.sh`) and
//! its request event's `modelwatch.llm` fields in a real OpenSearch node, for a streamed and
//! an unstreamed chat completion from the real llama.cpp server (`tests/services/llama.sh`).
//! Every figure is compared with what the client itself received.

use crate::export_capture::{capture_config, keyed_hash};
use crate::export_drift::fresh_streams;
use crate::export_elasticsearch::{cluster, forget, opensearch_url, search, wait_for_count};
use crate::live_drift::TempDir;
use crate::llm_serving::{LlamaServer, chat, stream};
use crate::otlp::{otel_env, service, string_attribute};
use crate::support::client::{self, post};
use crate::support::otel_collector::{Collector, attribute, int_attribute};
use crate::support::proxy_process::ProxyProcess;
use serde_json::{Value, json};

/// OTLP/JSON span kind SERVER.
const SERVER: u64 = 2;

/// The server span of the call whose `gen_ai.request.stream` is `streamed`.
fn llm_span(spans: &[Value], streamed: bool) -> Option<&Value> {
    spans.iter().find(|s| {
        s["kind"].as_u64() == Some(SERVER)
            && attribute(s, "gen_ai.request.stream").and_then(Value::as_bool) == Some(streamed)
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn an_llm_call_has_gen_ai_span_attributes_and_llm_event_fields_as_the_client_saw_them() {
    let collector = Collector::from_env();
    let service = service("llm");
    let es = opensearch_url();
    let (events, drift) = fresh_streams("llm").await;
    let dir = TempDir::new("llm-telemetry");
    let config = dir.0.join("modelwatch.toml");
    // Every call sampled; the prompt hashed, the completion kept.
    std::fs::write(
        &config,
        capture_config(
            &es,
            &events,
            &drift,
            "max_bytes = 4096\nhash = [\"prompt\"]",
        ),
    )
    .unwrap();
    let server = LlamaServer::start(&[]).await;
    let upstream = server.url("");
    let mut env = otel_env(&service, &collector.http, "http/protobuf");
    env.push(("MODELWATCH_STATE_DIR", dir.0.to_str().unwrap()));
    let proxy = ProxyProcess::start_with_args(
        &[
            "--upstream",
            &upstream,
            "--config",
            config.to_str().unwrap(),
        ],
        &env,
    );
    let chat_url = proxy.url("/v1/chat/completions");

    let streamed = stream(&chat_url, &chat(true)).await;
    let whole = post(&client::http1(), &chat_url, chat(false).to_string()).await;
    assert_eq!(whole.status, 200, "{}", whole.text());
    let whole: Value = serde_json::from_slice(&whole.body).unwrap();
    let (prompt_tokens, completion_tokens) = (
        whole["usage"]["prompt_tokens"].as_i64().unwrap(),
        whole["usage"]["completion_tokens"].as_i64().unwrap(),
    );
    let answering_model = whole["model"].as_str().unwrap();
    let streamed_text: String = streamed
        .events
        .iter()
        .filter_map(|e| e["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert!(!streamed_text.is_empty());

    // Spans: the conventions' names, the server's own figures.
    let spans = collector.wait_for_spans(&service, |spans| {
        llm_span(spans, true).is_some() && llm_span(spans, false).is_some()
    });
    for streamed_call in [true, false] {
        let span = llm_span(&spans, streamed_call).unwrap();
        assert_eq!(
            string_attribute(span, "gen_ai.operation.name"),
            Some("chat"),
            "{span}"
        );
        assert_eq!(
            string_attribute(span, "gen_ai.provider.name"),
            Some("openai")
        );
        assert_eq!(string_attribute(span, "gen_ai.request.model"), Some("tiny"));
        assert_eq!(
            string_attribute(span, "gen_ai.response.model"),
            Some(answering_model)
        );
        assert_eq!(int_attribute(span, "gen_ai.request.max_tokens"), Some(6));
        assert_eq!(
            attribute(span, "gen_ai.request.temperature").and_then(Value::as_f64),
            Some(0.0),
            "{span}"
        );
        assert_eq!(
            attribute(span, "gen_ai.response.finish_reasons"),
            Some(&json!({"values": [{"stringValue": "length"}]})),
            "{span}"
        );
        assert_eq!(
            int_attribute(span, "gen_ai.usage.output_tokens"),
            Some(completion_tokens)
        );
    }
    let streamed_span = llm_span(&spans, true).unwrap();
    let whole_span = llm_span(&spans, false).unwrap();
    // The streamed answer had no usage (llama-cpp-python ignores include_usage): its output
    // was counted from the chunks, and its input is unknown rather than zero.
    assert_eq!(
        int_attribute(streamed_span, "gen_ai.usage.input_tokens"),
        None
    );
    assert_eq!(
        string_attribute(streamed_span, "modelwatch.llm.token_source"),
        Some("chunks")
    );
    assert_eq!(
        int_attribute(whole_span, "gen_ai.usage.input_tokens"),
        Some(prompt_tokens)
    );
    let first_chunk = attribute(streamed_span, "gen_ai.response.time_to_first_chunk")
        .and_then(Value::as_f64)
        .unwrap();
    assert!(
        first_chunk > 0.0 && first_chunk <= streamed.first_output.as_secs_f64(),
        "the sidecar's TTFT {first_chunk} s vs the client's {:?}",
        streamed.first_output
    );
    assert_eq!(
        attribute(whole_span, "gen_ai.response.time_to_first_chunk"),
        None
    );

    // Events: the same figures, the completion as the client got it, the prompt hashed.
    wait_for_count(&proxy, "delivered", 2.0).await;
    let hits = search(&events).await;
    let llm = |streamed_call: bool| -> Value {
        hits.iter()
            .map(|h| &h["_source"]["modelwatch"]["llm"])
            .find(|l| l["stream"] == streamed_call)
            .unwrap_or_else(|| panic!("no event with stream {streamed_call}: {hits:?}"))
            .clone()
    };
    let (s, w) = (llm(true), llm(false));
    assert_eq!(s["operation"], "chat");
    assert_eq!(s["request_model"], "tiny");
    assert_eq!(w["response_model"], answering_model);
    assert_eq!(s["finish_reasons"], json!(["length"]));
    assert_eq!(
        s["tokens"],
        json!({"output": completion_tokens, "source": "chunks"}),
        "{s}"
    );
    assert_eq!(
        w["tokens"],
        json!({
            "input": prompt_tokens,
            "output": completion_tokens,
            "total": prompt_tokens + completion_tokens,
            "source": "usage",
        }),
        "{w}"
    );
    let ttft_ms = s["time_to_first_token_ms"].as_f64().unwrap();
    assert!(ttft_ms > 0.0 && ttft_ms <= streamed.first_output.as_secs_f64() * 1e3);
    assert_eq!(s["inter_token_ms"]["count"], completion_tokens - 1, "{s}");
    let gaps = &s["inter_token_ms"];
    assert!(
        gaps["p50"].as_f64() <= gaps["p95"].as_f64()
            && gaps["p95"].as_f64() <= gaps["max"].as_f64()
    );
    assert!(w.get("time_to_first_token_ms").is_none(), "{w}");
    assert_eq!(s["completion"], streamed_text);
    assert_eq!(w["completion"], whole["choices"][0]["message"]["content"]);
    let prompt = keyed_hash("user: hello there");
    assert_eq!(
        (&s["prompt"], &w["prompt"]),
        (&json!(prompt), &json!(prompt))
    );
    assert!(!hits.iter().any(|h| h.to_string().contains("hello there")));
    assert_eq!(s["text_truncated"], false);

    // The template typed the fields: a temperature of 0 is still a double, and the
    // completion is searchable text.
    let (status, mapping) = cluster(
        http::Method::GET,
        &format!("/{events}/_mapping/field/modelwatch.llm.temperature,modelwatch.llm.completion"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{mapping}");
    let types: Vec<&str> = mapping
        .as_object()
        .unwrap()
        .values()
        .flat_map(|index| {
            ["modelwatch.llm.temperature", "modelwatch.llm.completion"].map(|field| {
                let leaf = field.rsplit('.').next().unwrap();
                index["mappings"][field]["mapping"][leaf]["type"]
                    .as_str()
                    .unwrap_or("unmapped")
            })
        })
        .collect();
    assert_eq!(types, ["double", "text"], "{mapping}");
    forget(&events).await;
    forget(&drift).await;
}
