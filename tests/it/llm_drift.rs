//! Drift of LLM text traffic, against the real llama.cpp server of `llm_serving.rs`: a
//! reference recorded from the server (requests and answers, stored with `modelwatch
//! dataset add` from a JSONL file), then live traffic through the sidecar that changes one
//! thing at a time — longer prompts, another script, a new system prompt, longer answers —
//! and flags the matching feature, and only that one.
//!
//! Every phase draws the same prompt shapes as the reference except for its one change (the
//! same word counts, words of four letters, a system prompt of the same estimated length),
//! so an unchanged feature has exactly the reference's distribution and cannot be flagged
//! by chance.

use crate::live_drift::{TempDir, drift_report};
use crate::llm_serving::LlamaServer;
use crate::support::client::{self, post};
use crate::support::proxy_process::{ProxyProcess, run_to_end};
use modelwatch::protocol::openai::features::REQUEST_COLUMNS;
use serde_json::{Value, json};
use std::collections::BTreeSet;
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

async fn send(url: &str, request: &Value) -> Value {
    let answer = post(&client::http1(), url, request.to_string()).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    serde_json::from_slice(&answer.body).unwrap()
}

async fn send_phase(proxy: &ProxyProcess, phase: Phase) {
    for i in 0..N {
        send(&proxy.url("/v1/chat/completions"), &phase(i)).await;
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

    // The reference: requests sent straight to the server, recorded with their answers.
    let mut lines = String::new();
    for i in 0..N {
        let request = reference_like(i);
        let response = send(&server.url("/v1/chat/completions"), &request).await;
        lines.push_str(&json!({"request": request, "response": response}).to_string());
        lines.push('\n');
    }
    let requests = dir.0.join("reference.jsonl");
    std::fs::write(&requests, lines).unwrap();
    let (code, stderr) = run_to_end(
        &[
            "dataset",
            "add",
            "chat",
            requests.to_str().unwrap(),
            "--home",
            home_arg,
        ],
        &[],
    );
    assert_eq!(code, 0, "{stderr}");

    // The sidecar compares model `tiny` (named in the request bodies) with dataset `chat`.
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
