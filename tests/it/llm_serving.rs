//! OpenAI-compatible LLM traffic through the proxy, against a real server on loopback:
//! llama.cpp's, as `llama_cpp.server` of llama-cpp-python (pinned, built from source once
//! and cached by `tests/services/llama.sh`, which also writes the model), serving a tiny
//! llama-architecture model with random weights (`tests/llm/make_tiny_model.py`). What is
//! tested is the protocol, the streaming and the token counts, not what the model says;
//! greedy decoding (`temperature: 0`) makes each answer the same every time.
//!
//! llama-cpp-python 0.3.16 does not honour `stream_options.include_usage`, so streamed
//! output is counted from the chunks (`source="chunks"`), and compared with the `usage`
//! the same server reports for the same request unstreamed.

use crate::support::client::{self, post};
use crate::support::metrics_text::{Sample, parse, value};
use crate::support::proxy_process::ProxyProcess;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use modelwatch::protocol::openai::decode_answer;
use modelwatch::protocol::sse::SseParser;
use serde_json::Value;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `llama_cpp.server`; killed when dropped.
pub(crate) struct LlamaServer {
    child: Child,
    port: u16,
}

impl LlamaServer {
    /// Starts the server with extra flags (`--embedding true` for `/v1/embeddings`).
    pub(crate) async fn start(extra: &[&str]) -> LlamaServer {
        let var = |name: &str| {
            std::env::var(name).unwrap_or_else(|_| {
                panic!(
                    "{name} is not set: these tests need the real llama.cpp server. Run \
                     `bash tests/services/llama.sh`, export the LLAMA_… lines it prints, and \
                     run the tests again (tests/run.sh does this for you)"
                )
            })
        };
        let (python, model) = (var("LLAMA_PYTHON"), var("LLAMA_MODEL"));
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        // A name of its own: a port the kernel hands out twice (to a test running beside
        // this one) must not pass for this server being ready.
        let alias = format!("tiny-{}-{port}", std::process::id());
        let child = Command::new(python)
            .args([
                "-m",
                "llama_cpp.server",
                "--model",
                &model,
                "--model_alias",
                &alias,
            ])
            .args([
                "--host",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--n_ctx",
                "512",
            ])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("could not start llama_cpp.server");
        let mut server = LlamaServer { child, port };
        let deadline = Instant::now() + Duration::from_secs(120);
        let http = client::http1();
        loop {
            let answer = http.get(server.url("/v1/models").parse().unwrap()).await;
            if let Ok(answer) = answer {
                let body = answer.into_body().collect().await.unwrap().to_bytes();
                if String::from_utf8_lossy(&body).contains(&alias) {
                    return server;
                }
            }
            let exited = server.child.try_wait().unwrap();
            assert!(exited.is_none(), "llama_cpp.server exited: {exited:?}");
            assert!(Instant::now() < deadline, "llama_cpp.server did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

impl Drop for LlamaServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A streamed answer as the client saw it.
pub(crate) struct Streamed {
    /// Each body frame, and when it arrived (since the request was sent).
    pub(crate) frames: Vec<(Duration, Bytes)>,
    /// Each event's JSON without the fields that differ between two identical requests
    /// (`id`, `created`).
    pub(crate) events: Vec<Value>,
    /// When the frame carrying the first output arrived.
    pub(crate) first_output: Duration,
}

pub(crate) async fn stream(url: &str, body: &Value) -> Streamed {
    let request = http::Request::post(url)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap();
    let sent = Instant::now();
    let response = client::http1().request(request).await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let mut body = response.into_body();
    let (mut frames, mut events, mut first_output) = (Vec::new(), Vec::new(), None);
    let mut parser = SseParser::new(1 << 20);
    while let Some(frame) = body.frame().await {
        let at = sent.elapsed();
        let Ok(data) = frame.unwrap().into_data() else {
            continue;
        };
        parser.push(&data, &mut |event| {
            if event.data == "[DONE]" {
                events.push(Value::String(event.data));
                return;
            }
            if decode_answer(event.data.as_bytes()).unwrap().output_choices > 0 {
                first_output.get_or_insert(at);
            }
            let mut json: Value = serde_json::from_str(&event.data).unwrap();
            let object = json.as_object_mut().unwrap();
            object.remove("id");
            object.remove("created");
            events.push(json);
        });
        frames.push((at, data));
    }
    Streamed {
        frames,
        events,
        first_output: first_output.expect("the stream carried no output"),
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

async fn metrics(proxy: &ProxyProcess) -> Vec<Sample> {
    parse(
        &client::get(&client::http1(), &proxy.admin_url("/metrics"))
            .await
            .text(),
    )
}

pub(crate) fn chat(stream: bool) -> Value {
    serde_json::json!({
        "model": "tiny",
        "messages": [{"role": "user", "content": "hello there"}],
        "max_tokens": 6,
        "temperature": 0,
        "stream": stream,
        "stream_options": if stream { serde_json::json!({"include_usage": true}) } else { Value::Null },
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn llm_streams_pass_through_unchanged_and_are_measured_as_the_server_reports() {
    let server = LlamaServer::start(&[]).await;
    let proxy = ProxyProcess::start(&server.url(""), &[]);
    let chat_path = "/v1/chat/completions";

    // The same greedy request, streamed, directly and through the sidecar in turn.
    const RUNS: usize = 5;
    let (mut added_ttft, mut proxied_ttft) = (Vec::new(), Vec::new());
    for run in 0..RUNS {
        let direct = stream(&server.url(chat_path), &chat(true)).await;
        let proxied = stream(&proxy.url(chat_path), &chat(true)).await;
        assert_eq!(
            proxied.events, direct.events,
            "run {run}: the stream changed"
        );
        // Not buffered: the events reach the client in frames of their own, as they do
        // without the sidecar, not in one block at the end.
        assert!(
            proxied.frames.len() >= direct.events.len() - 1,
            "run {run}: {} frames through the sidecar for {} events",
            proxied.frames.len(),
            direct.events.len()
        );
        added_ttft.push(proxied.first_output.as_secs_f64() - direct.first_output.as_secs_f64());
        proxied_ttft.push(proxied.first_output.as_secs_f64());
    }
    eprintln!(
        "TTFT at the client: median {:.2} ms through the sidecar, median added {:.3} ms over {RUNS} runs",
        median(proxied_ttft.clone()) * 1e3,
        median(added_ttft) * 1e3
    );

    // The same request unstreamed: the server's own usage and finish reason.
    let whole = post(
        &client::http1(),
        &proxy.url(chat_path),
        chat(false).to_string(),
    )
    .await;
    assert_eq!(whole.status, 200, "{}", whole.text());
    let whole: Value = serde_json::from_slice(&whole.body).unwrap();
    let usage = &whole["usage"];
    let (prompt, completion) = (
        usage["prompt_tokens"].as_f64().unwrap(),
        usage["completion_tokens"].as_f64().unwrap(),
    );
    assert_eq!(whole["choices"][0]["finish_reason"], "length");

    // A request that stops on a stop sequence, and one the server refuses.
    let text_path = "/v1/completions";
    let stopped = post(
        &client::http1(),
        &proxy.url(text_path),
        serde_json::json!({"model": "tiny", "prompt": "hello", "max_tokens": 8, "temperature": 0, "stop": [" et"]}).to_string(),
    )
    .await;
    let stopped: Value = serde_json::from_slice(&stopped.body).unwrap();
    assert_eq!(stopped["choices"][0]["finish_reason"], "stop", "{stopped}");
    let refused = post(
        &client::http1(),
        &proxy.url(chat_path),
        r#"{"model":"tiny","messages":[{"role":"user","content":"hi"}],"temperature":"hot"}"#,
    )
    .await;
    let refused_code = refused.status.as_str().to_string();
    // llama-cpp-python answers a request it cannot validate with 500.
    assert!(
        !refused.status.is_success(),
        "{} {}",
        refused.status,
        refused.text()
    );

    let chat_labels = [("model", "tiny"), ("operation", "chat")];
    let samples = metrics(&proxy).await;
    let get = |name: &str, extra: &[(&str, &str)]| {
        let labels: Vec<(&str, &str)> = chat_labels.iter().chain(extra).copied().collect();
        value(&samples, name, &labels).unwrap_or_else(|| panic!("no {name}{extra:?}"))
    };
    let streamed_runs = RUNS as f64;
    assert_eq!(
        get("modelwatch_llm_time_to_first_token_seconds_count", &[]),
        streamed_runs
    );
    // The sidecar saw each first token before the client did, and after the request came.
    let ttft_sum = get("modelwatch_llm_time_to_first_token_seconds_sum", &[]);
    assert!(
        ttft_sum > 0.0 && ttft_sum <= proxied_ttft.iter().sum::<f64>(),
        "{ttft_sum} vs {proxied_ttft:?}"
    );
    // Streamed output counted from the chunks is what the server says it generated.
    let chunks = [("token_type", "output"), ("source", "chunks")];
    assert_eq!(
        get("modelwatch_llm_token_usage_tokens_sum", &chunks),
        streamed_runs * completion
    );
    assert_eq!(
        get("modelwatch_llm_token_usage_tokens_count", &chunks),
        streamed_runs
    );
    assert_eq!(
        get(
            "modelwatch_llm_token_usage_tokens_sum",
            &[("token_type", "input"), ("source", "usage")]
        ),
        prompt
    );
    assert_eq!(
        get(
            "modelwatch_llm_token_usage_tokens_sum",
            &[("token_type", "output"), ("source", "usage")]
        ),
        completion
    );
    assert_eq!(
        get(
            "modelwatch_llm_finish_reasons_total",
            &[("reason", "length")]
        ),
        streamed_runs + 1.0
    );
    assert_eq!(
        get("modelwatch_llm_time_per_output_token_seconds_count", &[]),
        streamed_runs
    );
    assert_eq!(
        get(
            "modelwatch_llm_errors_total",
            &[("error_type", &refused_code)]
        ),
        1.0
    );
    assert_eq!(get("modelwatch_llm_requests_in_flight", &[]), 0.0);
    assert_eq!(
        value(
            &samples,
            "modelwatch_llm_finish_reasons_total",
            &[
                ("model", "tiny"),
                ("operation", "text_completion"),
                ("reason", "stop")
            ]
        ),
        Some(1.0)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn embeddings_are_measured_with_the_servers_input_tokens() {
    let server = LlamaServer::start(&["--embedding", "true"]).await;
    let proxy = ProxyProcess::start(&server.url(""), &[]);
    let body = serde_json::json!({"model": "tiny", "input": "hello there"});
    let answer = post(
        &client::http1(),
        &proxy.url("/v1/embeddings"),
        body.to_string(),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    let answer: Value = serde_json::from_slice(&answer.body).unwrap();
    assert_eq!(answer["data"].as_array().unwrap().len(), 1);
    let prompt = answer["usage"]["prompt_tokens"].as_f64().unwrap();
    assert!(prompt > 0.0);

    let samples = metrics(&proxy).await;
    let labels = [("model", "tiny"), ("operation", "embeddings")];
    let input: Vec<(&str, &str)> = labels
        .iter()
        .copied()
        .chain([("token_type", "input"), ("source", "usage")])
        .collect();
    assert_eq!(
        value(&samples, "modelwatch_llm_token_usage_tokens_sum", &input),
        Some(prompt)
    );
    assert_eq!(
        value(
            &samples,
            "modelwatch_llm_request_duration_seconds_count",
            &labels
        ),
        Some(1.0)
    );
    // Embeddings have no output tokens, first token or finish reason.
    let output: Vec<(&str, &str)> = labels
        .iter()
        .copied()
        .chain([("token_type", "output"), ("source", "usage")])
        .collect();
    assert_eq!(
        value(&samples, "modelwatch_llm_token_usage_tokens_count", &output),
        None
    );
    assert_eq!(
        value(
            &samples,
            "modelwatch_llm_time_to_first_token_seconds_count",
            &labels
        ),
        None
    );
}

/// No server needed: the proxy answers 502 itself and counts it as a failed LLM call.
#[tokio::test(flavor = "multi_thread")]
async fn an_llm_call_the_upstream_never_answers_counts_as_an_error() {
    // A port that was just free: nothing listens there.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let proxy = ProxyProcess::start(&format!("http://{closed}"), &[]);
    let body = serde_json::json!({"model": "tiny", "prompt": "x"});
    let refused = post(
        &client::http1(),
        &proxy.url("/v1/completions"),
        body.to_string(),
    )
    .await;
    assert_eq!(refused.status, 502);
    let samples = metrics(&proxy).await;
    let labels = [
        ("model", "unknown"),
        ("operation", "text_completion"),
        ("error_type", "502"),
    ];
    assert_eq!(
        value(&samples, "modelwatch_llm_errors_total", &labels),
        Some(1.0)
    );
}
