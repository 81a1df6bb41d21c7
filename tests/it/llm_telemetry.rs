//! What an LLM call leaves behind besides metrics, against the real services: its span's
//! `gen_ai.*` attributes in a real OpenTelemetry Collector (`tests/services/otelcol.sh`) and
//! its request event's `modelwatch.llm` fields in a real OpenSearch node, for a streamed and
//! an unstreamed chat completion from the real llama.cpp server (`tests/services/llama.sh`).
//! Every figure is compared with what the client itself received, and so are the OTLP
//! `gen_ai.*` metrics in the collector and the Kibana saved objects of the LLM fields
//! (`kibana_objects/llm.rs`) on these events.

use crate::export_capture::{capture_config, keyed_hash};
use crate::export_drift::fresh_streams;
use crate::export_elasticsearch::{cluster, forget, opensearch_url, search, wait_for_count};
use crate::kibana_objects::llm::{LlmCalls, assert_llm_objects};
use crate::live_drift::TempDir;
use crate::llm_serving::{LlamaServer, chat, stream};
use crate::otlp::{otel_env, service, string_attribute};
use crate::support::client::{self, post};
use crate::support::otel_collector::{Collector, attribute, int_attribute, int_field};
use crate::support::proxy_process::ProxyProcess;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// OTLP/JSON span kind SERVER.
const SERVER: u64 = 2;

/// The data point of OTLP histogram `name` whose attributes include `want`; `None` while
/// the collector has none.
fn histogram_point<'a>(
    metrics: &'a [Value],
    name: &str,
    want: &[(&str, &str)],
) -> Option<&'a Value> {
    let metric = metrics.iter().find(|m| m["name"] == name)?;
    metric["histogram"]["dataPoints"]
        .as_array()?
        .iter()
        .find(|p| {
            want.iter()
                .all(|(k, v)| attribute(p, k).and_then(Value::as_str) == Some(*v))
        })
}

/// A histogram point's count and sum.
fn count_and_sum(point: &Value) -> (u64, f64) {
    (int_field(&point["count"]), point["sum"].as_f64().unwrap())
}

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
    let whole_id = whole.header("x-request-id").unwrap().to_string();
    // A request that is no LLM call, which the LLM saved search must leave out.
    let other = post(
        &client::http1(),
        &proxy.url("/extras/tokenize"),
        json!({"input": "four words of text"}).to_string(),
    )
    .await;
    let other_id = other.header("x-request-id").unwrap().to_string();
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

    // Metrics: the conventions' histograms, one point per call and kind, with the same
    // figures as the spans (and so as the client).
    let call = [
        ("gen_ai.operation.name", "chat"),
        ("gen_ai.provider.name", "openai"),
        ("gen_ai.request.model", "tiny"),
        ("gen_ai.response.model", answering_model),
    ];
    let with = |extra: &[(&'static str, &'static str)]| -> Vec<(&str, &str)> {
        call.iter().chain(extra).copied().collect()
    };
    let output_chunks = with(&[
        ("gen_ai.token.type", "output"),
        ("modelwatch.llm.token_source", "chunks"),
    ]);
    let output_usage = with(&[
        ("gen_ai.token.type", "output"),
        ("modelwatch.llm.token_source", "usage"),
    ]);
    let input_usage = with(&[
        ("gen_ai.token.type", "input"),
        ("modelwatch.llm.token_source", "usage"),
    ]);
    let metrics = collector.wait_for_metrics(&service, |metrics| {
        histogram_point(metrics, "gen_ai.server.request.duration", &call)
            .is_some_and(|p| count_and_sum(p).0 == 2)
            && histogram_point(metrics, "gen_ai.client.token.usage", &input_usage).is_some()
            && histogram_point(metrics, "gen_ai.server.time_to_first_token", &call).is_some()
    });
    let unit = |name: &str| {
        metrics.iter().find(|m| m["name"] == name).unwrap()["unit"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(unit("gen_ai.client.token.usage"), "{token}");
    for seconds in [
        "gen_ai.server.request.duration",
        "gen_ai.server.time_to_first_token",
        "gen_ai.server.time_per_output_token",
    ] {
        assert_eq!(unit(seconds), "s", "{seconds}");
    }
    let tokens = |want: &[(&str, &str)]| {
        count_and_sum(histogram_point(&metrics, "gen_ai.client.token.usage", want).unwrap())
    };
    assert_eq!(tokens(&output_chunks), (1, completion_tokens as f64));
    assert_eq!(tokens(&output_usage), (1, completion_tokens as f64));
    assert_eq!(tokens(&input_usage), (1, prompt_tokens as f64));
    // The streamed call's input is unknown: no input point from chunks.
    let input_chunks = with(&[
        ("gen_ai.token.type", "input"),
        ("modelwatch.llm.token_source", "chunks"),
    ]);
    assert!(histogram_point(&metrics, "gen_ai.client.token.usage", &input_chunks).is_none());
    let (count, ttft) = count_and_sum(
        histogram_point(&metrics, "gen_ai.server.time_to_first_token", &call).unwrap(),
    );
    assert_eq!(
        (count, ttft),
        (1, first_chunk),
        "the span's time to first chunk"
    );
    let (count, per_token) = count_and_sum(
        histogram_point(&metrics, "gen_ai.server.time_per_output_token", &call).unwrap(),
    );
    assert_eq!(count, 1, "one streamed call with several output chunks");
    assert!(
        per_token > 0.0
            && per_token * (completion_tokens - 1) as f64
                <= streamed.frames.last().unwrap().0.as_secs_f64(),
        "time per output token {per_token} s"
    );

    // Events: the same figures, the completion as the client got it, the prompt hashed.
    wait_for_count(&proxy, "delivered", 3.0).await;
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
    // The metric's time per output token is the event's mean gap.
    let mean_gap_ms = s["inter_token_ms"]["mean"].as_f64().unwrap();
    assert!(
        (per_token * 1e3 - mean_gap_ms).abs() <= 1e-6 * mean_gap_ms,
        "metric {per_token} s, event {mean_gap_ms} ms"
    );
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

    // The Kibana objects of the LLM fields on these events: the saved search finds the two
    // calls and not the other request, the charts add up to what the client got.
    let request_ids: Vec<String> = hits
        .iter()
        .filter_map(|h| h.pointer("/_source/http/request/id")?.as_str())
        .filter(|id| **id != other_id)
        .map(str::to_string)
        .collect();
    assert_eq!(request_ids.len(), 2, "{hits:?}");
    assert!(request_ids.contains(&whole_id), "{request_ids:?}");
    assert_llm_objects(
        &events,
        &LlmCalls {
            request_ids,
            output_tokens: BTreeMap::from([("tiny".into(), 2.0 * completion_tokens as f64)]),
            finish_reasons: BTreeMap::from([("length".into(), 2.0)]),
            streamed: ("tiny".into(), ttft_ms),
        },
    )
    .await;

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
