//! Drift of LLM text traffic, against the real llama.cpp server of `llm_serving.rs`: a
//! reference recorded by a sidecar itself (`--record`), whole and streamed calls, which
//! `modelwatch dataset add` turns into the same feature table as the same calls written
//! down by the client as a JSONL file; then live traffic through a second sidecar that
//! changes one thing at a time — longer prompts, another script, a new system prompt,
//! longer answers — and flags the matching feature, and only that one.
//!
//! Every phase draws the same prompt shapes as the reference except for its one change (the
//! same word counts, words of four letters, a system prompt of the same estimated length),
//! so an unchanged feature has exactly the reference's distribution and cannot be flagged
//! by chance.

use crate::live_drift::{TempDir, drift_report};
use crate::llm_serving::LlamaServer;
use crate::support::client::{self, post};
use crate::support::proxy_process::ProxyProcess;
use modelwatch::protocol::openai::features::REQUEST_COLUMNS;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Requests in the reference and in each phase (the window holds one phase).
const N: usize = 60;

/// Four-letter words: each is one estimated token (docs/llm.md), in either script.
const LATIN: [&str; 8] = [
    "able", "back", "calm", "dark", "each", "fast", "gold", "hand",
];
const CYRILLIC: [&str; 8] = [
    "блок", "вода", "гора", "дело", "жена", "зима", "игра", "мост",
];

/// Two system prompts of the same estimated length (9 tokens each).
const SYSTEM_A: &str = "You are a helpful assistant.";
const SYSTEM_B: &str = "You are a concise assistant.";

/// The `i`th prompt: 3 to 10 words (plus `extra`), cycling through `words`.
fn prompt(i: usize, words: &[&str], extra: usize) -> String {
    let count = 3 + i % 8 + extra;
    (0..count)
        .map(|j| words[(i + j) % words.len()])
        .collect::<Vec<_>>()
        .join(" ")
}

fn chat(system: &str, user: &str, max_tokens: u32) -> Value {
    json!({
        "model": "tiny",
        "messages": [
            {"role": "system", "content": system},
            {"role": "user", "content": user},
        ],
        "max_tokens": max_tokens,
        "temperature": 0,
    })
}

/// A phase of traffic: the `i`th request of it.
type Phase = fn(usize) -> Value;

fn reference_like(i: usize) -> Value {
    chat(SYSTEM_A, &prompt(i, &LATIN, 0), 1)
}

/// The `i`th call of a phase: every other one streamed (a stream's text gives the same
/// features as the whole answer).
fn call(phase: Phase, i: usize) -> Value {
    let mut request = phase(i);
    request["stream"] = json!(i % 2 == 1);
    request
}

/// Sends one call; the answer as the client got it: its JSON, or a stream's event text.
async fn send(url: &str, request: &Value) -> Value {
    let answer = post(&client::http1(), url, request.to_string()).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    if request["stream"] == json!(true) {
        assert!(answer.text().starts_with("data: "), "{}", answer.text());
        Value::String(answer.text())
    } else {
        serde_json::from_slice(&answer.body).unwrap()
    }
}

async fn send_phase(proxy: &ProxyProcess, phase: Phase) {
    for i in 0..N {
        send(&proxy.url("/v1/chat/completions"), &call(phase, i)).await;
    }
}

/// `modelwatch dataset add NAME FILE --json`: the stored version's facts.
fn dataset_add(home: &Path, name: &str, file: &Path) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_modelwatch"))
        .args(["dataset", "add", name, file.to_str().unwrap(), "--json"])
        .args(["--home", home.to_str().unwrap()])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Waits until the recording holds `lines` lines (its writer is off the request path).
async fn wait_for_lines(path: &Path, lines: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let written = std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .count();
        assert!(
            written <= lines,
            "{written} lines recorded for {lines} calls"
        );
        if written == lines {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the recording holds {written} of {lines} calls"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Polls the report until the window holds `N` rows of both kinds and exactly `expected`
/// is flagged (prediction columns as `prediction:NAME`); fails with the last report.
async fn wait_for_flagged(proxy: &ProxyProcess, expected: &[&str]) -> Value {
    let expected: BTreeSet<String> = expected.iter().map(|s| s.to_string()).collect();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let report = drift_report(proxy).await;
        let model = report["models"]
            .as_array()
            .and_then(|models| models.iter().find(|m| m["model"] == "tiny"))
            .cloned()
            .unwrap_or(Value::Null);
        let full =
            model["window"]["rows"] == json!(N) && model["window"]["prediction_rows"] == json!(N);
        let flagged: BTreeSet<String> = ["features", "predictions"]
            .into_iter()
            .flat_map(|side| {
                model[side]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|c| c["drifted"] == json!(true))
                    .map(move |c| {
                        let name = c["name"].as_str().unwrap().to_string();
                        if side == "predictions" {
                            format!("prediction:{name}")
                        } else {
                            name
                        }
                    })
            })
            .collect();
        if full && flagged == expected {
            return model;
        }
        assert!(
            Instant::now() < deadline,
            "expected {expected:?} flagged, got {flagged:?} (window full: {full}): {model:#}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn shifted_prompts_flag_the_matching_features_and_only_those() {
    let started = Instant::now();
    // One thread: llama.cpp's worker threads spin, which costs much on a busy machine.
    let server = LlamaServer::start(&["--n_threads", "1"]).await;
    let dir = TempDir::new("llm-drift");
    let home = dir.0.join("home");
    let home_arg = home.to_str().unwrap();

    // The reference: calls through a recording sidecar (no reference of its own: recording
    // needs none); the client writes down what it sent and got.
    let recording = dir.0.join("recording.jsonl");
    let recorder = ProxyProcess::start_with_args(
        &[
            "--upstream",
            &server.url(""),
            "--record",
            recording.to_str().unwrap(),
        ],
        &[],
    );
    let mut sent = String::new();
    for i in 0..N {
        let request = call(reference_like, i);
        let response = send(&recorder.url("/v1/chat/completions"), &request).await;
        sent.push_str(&json!({"request": request, "response": response}).to_string());
        sent.push('\n');
    }
    wait_for_lines(&recording, N).await;
    let metrics = client::get(&client::http1(), &recorder.admin_url("/metrics"))
        .await
        .text();
    let written = format!("modelwatch_recording_calls_total{{outcome=\"written\"}} {N}\n");
    assert!(metrics.contains(&written), "{metrics}");
    drop(recorder);
    // The same feature table, byte for byte: a dataset version is its table's sha256.
    let sent_file = dir.0.join("sent.jsonl");
    std::fs::write(&sent_file, sent).unwrap();
    let from_client = dataset_add(&home, "sent", &sent_file);
    let from_recording = dataset_add(&home, "chat", &recording);
    assert_eq!(from_recording["rows"], json!(N), "{from_recording:#}");
    assert_eq!(
        from_recording["sha256"], from_client["sha256"],
        "recorded {from_recording:#}\nsent {from_client:#}"
    );

    // The sidecar compares model `tiny` (named in the request bodies) with the recording (dataset
    // `chat`).
    // Every reference answer is one token (max_tokens 1), so `auto` tests
    // `completion_tokens` by chi² over its few distinct values, where lengths the reference
    // never had are columns of the table like any other: the longer answers must drift it
    // with no per-feature method configured.
    let config = dir.0.join("modelwatch.toml");
    std::fs::write(
        &config,
        format!(
            "[analysis]\nevaluation_interval = \"300ms\"\nwindow_rows = {N}\n\
             [analysis.references]\ntiny = \"chat\"\n"
        ),
    )
    .unwrap();
    let proxy = ProxyProcess::start_with_args(
        &[
            "--upstream",
            &server.url(""),
            "--config",
            config.to_str().unwrap(),
            "--home",
            home_arg,
        ],
        &[],
    );

    eprintln!("reference recorded ({:?} into the test)", started.elapsed());
    // Traffic like the reference's flags nothing.
    send_phase(&proxy, reference_like).await;
    let model = wait_for_flagged(&proxy, &[]).await;
    let names: Vec<&str> = model["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, REQUEST_COLUMNS, "{model:#}");

    let phases: [(&str, Phase, &[&str]); 4] = [
        (
            "longer prompts",
            |i| chat(SYSTEM_A, &prompt(i, &LATIN, 8), 1),
            &["prompt_tokens"],
        ),
        (
            "another script",
            |i| chat(SYSTEM_A, &prompt(i, &CYRILLIC, 0), 1),
            &["prompt_script"],
        ),
        (
            "a new system prompt",
            |i| chat(SYSTEM_B, &prompt(i, &LATIN, 0), 1),
            &["system_prompt"],
        ),
        (
            "longer answers",
            |i| chat(SYSTEM_A, &prompt(i, &LATIN, 0), 6),
            &["prediction:completion_tokens"],
        ),
    ];
    for (what, phase, expected) in phases {
        eprintln!("phase: {what} ({:?} into the test)", started.elapsed());
        send_phase(&proxy, phase).await;
        wait_for_flagged(&proxy, expected).await;
    }
}
