//! Drift of embedding vectors, against the real llama.cpp server of `llm_serving.rs`
//! started with `--embedding true`: a reference of `/v1/embeddings` requests and answers
//! recorded straight from the server (the JSONL read directly as the reference), then the
//! same inputs again through the sidecar (nothing flagged), then inputs of another script
//! with the same lengths in estimated tokens (the vectors move: the multivariate methods
//! flag them; `input_tokens` stays unflagged).
//!
//! The tiny test model pools nothing, so llama-cpp-python answers one vector per token and
//! only one input per request; the sidecar takes the tokens' mean
//! (`src/protocol/openai/embeddings.rs`). Flat and base64 vectors are unit-tested on
//! payloads from the OpenAI reference.

use crate::live_drift::TempDir;
use crate::live_multivariate::report_after;
use crate::llm_serving::LlamaServer;
use crate::support::client::{self, get, post};
use crate::support::metrics_text::{parse, value};
use crate::support::proxy_process::ProxyProcess;
use modelwatch::protocol::openai::embeddings::{INPUT_TOKENS, column_names};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::time::Instant;

/// Inputs in the reference and in each phase (the window holds one phase).
const N: usize = 40;

/// Four-letter words: one estimated token each in either script (docs/llm.md).
const LATIN: [&str; 8] = [
    "able", "back", "calm", "dark", "each", "fast", "gold", "hand",
];
const CYRILLIC: [&str; 8] = [
    "блок", "вода", "гора", "дело", "жена", "зима", "игра", "мост",
];

/// The `i`th input: 3 to 10 words cycling through `words`.
fn input(i: usize, words: &[&str]) -> Value {
    let text: Vec<&str> = (0..3 + i % 8)
        .map(|j| words[(i + j) % words.len()])
        .collect();
    json!({"model": "tiny", "input": text.join(" ")})
}

async fn embed(url: &str, request: &Value) -> Value {
    let answer = post(&client::http1(), url, request.to_string()).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    serde_json::from_slice(&answer.body).unwrap()
}

fn flagged(model: &Value) -> BTreeSet<String> {
    model["features"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["drifted"] == json!(true))
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect()
}

fn multivariate_drifted(model: &Value, method: &str) -> bool {
    let result = model["multivariate"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["method"] == method)
        .unwrap_or_else(|| panic!("no {method} in {model:#}"));
    result["drifted"].as_bool().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn embeddings_of_a_new_input_population_drift_and_the_same_inputs_do_not() {
    let started = Instant::now();
    // One thread: llama.cpp's worker threads spin, which costs much on a busy machine.
    let server = LlamaServer::start(&["--embedding", "true", "--n_threads", "1"]).await;
    let dir = TempDir::new("llm-embedding-drift");

    // The reference: requests sent straight to the server, recorded with their answers.
    let mut lines = String::new();
    for i in 0..N {
        let request = input(i, &LATIN);
        let response = embed(&server.url("/v1/embeddings"), &request).await;
        lines.push_str(&json!({"request": request, "response": response}).to_string());
        lines.push('\n');
    }
    let reference = dir.0.join("embeddings.jsonl");
    std::fs::write(&reference, lines).unwrap();

    // Each evaluation stands alone (persistence 1/1): a verdict is the window's own.
    let config = dir.0.join("modelwatch.toml");
    std::fs::write(
        &config,
        format!(
            "[analysis]\nevaluation_interval = \"300ms\"\nwindow_rows = {N}\n\
             persistence = \"1/1\"\n[analysis.references]\ntiny = {:?}\n",
            reference.to_str().unwrap()
        ),
    )
    .unwrap();
    let proxy = ProxyProcess::start_with_args(
        &[
            "--upstream",
            &server.url(""),
            "--config",
            config.to_str().unwrap(),
        ],
        &[],
    );
    eprintln!("reference recorded ({:?} into the test)", started.elapsed());

    // The same inputs: the same vectors, so no column and no method can drift.
    for i in 0..N {
        embed(&proxy.url("/v1/embeddings"), &input(i, &LATIN)).await;
    }
    let model = report_after(&proxy, "tiny", N as u64, N as u64).await;
    let names: Vec<&str> = model["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, column_names(), "{model:#}");
    assert_eq!(flagged(&model), BTreeSet::new(), "{model:#}");
    assert_eq!(model["window"]["multivariate_rows"], json!(N), "{model:#}");
    for method in ["domain_classifier", "reconstruction_error"] {
        assert!(!multivariate_drifted(&model, method), "{method}: {model:#}");
    }

    // Another script, the same lengths: the vectors move, the input lengths do not.
    eprintln!("shifted phase ({:?} into the test)", started.elapsed());
    for i in 0..N {
        embed(&proxy.url("/v1/embeddings"), &input(i, &CYRILLIC)).await;
    }
    let model = report_after(&proxy, "tiny", N as u64, 2 * N as u64).await;
    assert!(
        multivariate_drifted(&model, "domain_classifier"),
        "{model:#}"
    );
    let flagged = flagged(&model);
    assert!(!flagged.contains(INPUT_TOKENS), "{model:#}");
    assert!(
        flagged.iter().any(|name| name.starts_with("embedding_")),
        "{model:#}"
    );
    let text = get(&client::http1(), &proxy.admin_url("/metrics"))
        .await
        .text();
    let detected = [
        ("model", "tiny"),
        ("model_version", "unknown"),
        ("method", "domain_classifier"),
    ];
    assert_eq!(
        value(
            &parse(&text),
            "modelwatch_multivariate_drift_detected",
            &detected
        ),
        Some(1.0)
    );
    eprintln!("done ({:?})", started.elapsed());
}
