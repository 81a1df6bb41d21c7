use super::*;
use crate::traffic::capture::CapturedBody;
use crate::traffic::exchange::{CapturedMessage, Exchange};

const CHAT: &str = r#"{"model":"tiny","user":"alice@example.com","messages":[{"role":"user","content":"hi there"}]}"#;
const ANSWER: &str = r#"{"choices":[{"index":0,"message":{"role":"assistant","content":"hello"},"finish_reason":"stop"}]}"#;
const STREAM: &str = "data: {\"choices\":[{\"delta\":{\"content\":\"hel\"}}]}\n\ndata: [DONE]\n\n";

fn exchange(request: &str, response: &str, content_type: &str) -> Exchange {
    let message = |body: &str, content_type: &str| CapturedMessage {
        content_type: Some(content_type.into()),
        inference_header_len: None,
        bytes: body.len() as u64,
        body: CapturedBody::Complete(Bytes::from(body.to_string())),
    };
    Exchange {
        request_id: "r".into(),
        received_at: std::time::SystemTime::now(),
        labels: crate::traffic::identity::ModelLabels {
            model: "tiny".into(),
            version: "1".into(),
        },
        method: http::Method::POST,
        path: "/v1/chat/completions".into(),
        status: http::StatusCode::OK,
        duration: std::time::Duration::from_millis(2),
        upstream_duration: None,
        request: message(request, "application/json"),
        response: message(response, content_type),
        response_end: BodyEnd::Complete,
        traceparent: None,
        llm: None,
    }
}

struct Run {
    dir: tempfile::TempDir,
    registry: Registry,
}

impl Run {
    fn new() -> Run {
        Run {
            dir: tempfile::tempdir().unwrap(),
            registry: Registry::new(),
        }
    }

    fn path(&self) -> PathBuf {
        self.dir.path().join("recording.jsonl")
    }

    /// Offers `exchanges` to a recorder configured by `config` and `capture`, then waits
    /// for the writer to finish.
    fn record(&self, config: RecordingConfig, capture: &CaptureConfig, exchanges: &[Exchange]) {
        let started = Recorder::start(&config, capture, 1 << 20, &self.registry)
            .unwrap()
            .unwrap();
        for exchange in exchanges {
            started.recorder.offer(exchange);
        }
        drop(started.recorder);
        started.writer.join().unwrap();
    }

    fn config(&self) -> RecordingConfig {
        RecordingConfig {
            path: Some(self.path()),
            ..Default::default()
        }
    }

    fn lines(&self) -> Vec<Value> {
        std::fs::read_to_string(self.path())
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    fn count(&self, outcome: Outcome) -> u64 {
        self.registry
            .gather()
            .iter()
            .find(|f| f.name() == "modelwatch_recording_calls_total")
            .unwrap()
            .get_metric()
            .iter()
            .find(|m| m.get_label()[0].value() == outcome.as_str())
            .map_or(0, |m| m.get_counter().get_value() as u64)
    }
}

#[test]
fn a_whole_answer_is_kept_as_json_and_a_stream_as_its_event_text() {
    let run = Run::new();
    run.record(
        run.config(),
        &CaptureConfig::default(),
        &[
            exchange(CHAT, ANSWER, "application/json"),
            exchange(CHAT, STREAM, "text/event-stream; charset=utf-8"),
        ],
    );
    let lines = run.lines();
    assert_eq!(lines.len(), 2);
    let request: Value = serde_json::from_str(CHAT).unwrap();
    assert_eq!(lines[0]["request"], request);
    assert_eq!(
        lines[0]["response"],
        serde_json::from_str::<Value>(ANSWER).unwrap()
    );
    assert_eq!(lines[1]["request"], request);
    assert_eq!(lines[1]["response"], Value::String(STREAM.into()));
    assert_eq!(run.count(Outcome::Written), 2);
}

#[test]
fn the_capture_policy_drops_and_hashes_top_level_request_fields() {
    let run = Run::new();
    let capture = CaptureConfig {
        drop: vec!["Model".into()],
        hash: vec!["user".into()],
        hash_key: Some("0123456789abcdef".into()),
        ..Default::default()
    };
    run.record(
        run.config(),
        &capture,
        &[exchange(CHAT, ANSWER, "application/json")],
    );
    let line = &run.lines()[0];
    assert!(line["request"].get("model").is_none(), "{line}");
    let user = line["request"]["user"].as_str().unwrap();
    assert!(user.starts_with("hmac:"), "{user}");
    assert!(!line.to_string().contains("alice"), "{line}");
    assert_eq!(line["request"]["messages"][0]["content"], "hi there");
}

#[test]
fn a_policy_that_forbids_keeping_prompts_forbids_the_recording() {
    let run = Run::new();
    for (drop, hash) in [(vec!["Prompt"], vec![]), (vec![], vec!["messages"])] {
        let capture = CaptureConfig {
            drop: drop.into_iter().map(String::from).collect(),
            hash: hash.into_iter().map(String::from).collect(),
            hash_key: Some("0123456789abcdef".into()),
            ..Default::default()
        };
        let mut problems = Vec::new();
        run.config().validate(&capture, &mut problems);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].contains("export.recording.path"),
            "{problems:?}"
        );
    }
    // Off, nothing to check; on with a harmless policy, nothing to say.
    let mut problems = Vec::new();
    let forbidding = CaptureConfig {
        drop: vec!["prompt".into()],
        ..Default::default()
    };
    RecordingConfig::default().validate(&forbidding, &mut problems);
    run.config()
        .validate(&CaptureConfig::default(), &mut problems);
    assert!(problems.is_empty(), "{problems:?}");
}

#[test]
fn a_full_file_keeps_whole_lines_and_counts_the_rest() {
    let run = Run::new();
    let one = record_line(
        &call_of(&exchange(CHAT, ANSWER, "application/json")).unwrap(),
        &Redaction::new(&CaptureConfig::default()),
    )
    .unwrap();
    let config = RecordingConfig {
        max_bytes: one.len() as u64 * 2 + 1,
        ..run.config()
    };
    let exchanges = vec![exchange(CHAT, ANSWER, "application/json"); 3];
    run.record(config, &CaptureConfig::default(), &exchanges);
    assert_eq!(run.lines().len(), 2);
    assert_eq!(run.count(Outcome::Written), 2);
    assert_eq!(run.count(Outcome::FileFull), 1);
}

#[test]
fn an_unwritable_path_counts_every_call_and_takes_them_all() {
    let run = Run::new();
    let config = RecordingConfig {
        path: Some(run.dir.path().join("missing").join("recording.jsonl")),
        ..run.config()
    };
    let exchanges = vec![exchange(CHAT, ANSWER, "application/json"); 3];
    run.record(config, &CaptureConfig::default(), &exchanges);
    assert_eq!(run.count(Outcome::WriteError), 3);
    assert_eq!(run.count(Outcome::Written), 0);
}

#[test]
fn errors_cut_bodies_and_unreadable_answers_are_not_recorded() {
    let run = Run::new();
    let mut failed = exchange(CHAT, ANSWER, "application/json");
    failed.status = http::StatusCode::BAD_REQUEST;
    let mut cut = exchange(CHAT, ANSWER, "application/json");
    cut.response.body = CapturedBody::TooLarge;
    let mut abandoned = exchange(CHAT, ANSWER, "application/json");
    abandoned.response_end = BodyEnd::Abandoned;
    run.record(
        run.config(),
        &CaptureConfig::default(),
        &[
            failed,
            cut,
            abandoned,
            exchange("[1, 2]", ANSWER, "application/json"),
            exchange(CHAT, "not json", "application/json"),
        ],
    );
    assert!(run.lines().is_empty());
    assert_eq!(run.count(Outcome::ErrorStatus), 1);
    assert_eq!(run.count(Outcome::Incomplete), 2);
    assert_eq!(run.count(Outcome::Unreadable), 2);
}

#[test]
fn a_queue_over_its_bytes_drops_instead_of_waiting() {
    let run = Run::new();
    let config = RecordingConfig {
        queue_bytes: CHAT.len() + ANSWER.len() - 1,
        ..run.config()
    };
    run.record(
        config,
        &CaptureConfig::default(),
        &[exchange(CHAT, ANSWER, "application/json")],
    );
    assert_eq!(run.count(Outcome::QueueFull), 1);
    assert!(run.lines().is_empty());
}

#[test]
fn a_recording_cut_mid_line_is_continued_on_a_new_line() {
    let run = Run::new();
    std::fs::write(run.path(), "{\"request\": {\"prompt\": \"a\"}}\n{\"requ").unwrap();
    run.record(
        run.config(),
        &CaptureConfig::default(),
        &[exchange(CHAT, ANSWER, "application/json")],
    );
    let text = std::fs::read_to_string(run.path()).unwrap();
    let last = text.lines().last().unwrap();
    assert!(serde_json::from_str::<Value>(last).is_ok(), "{text}");
}

#[test]
fn only_chat_and_text_completions_in_the_sample_are_wanted() {
    let run = Run::new();
    let started = Recorder::start(
        &run.config(),
        &CaptureConfig::default(),
        1024,
        &run.registry,
    )
    .unwrap()
    .unwrap();
    let recorder = &started.recorder;
    assert!(recorder.wants("/v1/chat/completions", "a"));
    assert!(recorder.wants("/llm/v1/completions?x=1", "a"));
    assert!(!recorder.wants("/v1/embeddings", "a"));
    assert!(!recorder.wants("/v1/responses", "a"));
    assert!(!recorder.wants("/v2/models/m/infer", "a"));
    let sampled = Recorder::start(
        &RecordingConfig {
            sample_rate: 0.25,
            ..run.config()
        },
        &CaptureConfig::default(),
        1024,
        &Registry::new(),
    )
    .unwrap()
    .unwrap();
    let chosen = (0..4000)
        .filter(|i| {
            sampled
                .recorder
                .wants("/v1/chat/completions", &format!("id-{i}"))
        })
        .count();
    // Binomial(4000, 0.25): sd 27; 10 sd either side.
    assert!((730..=1270).contains(&chosen), "{chosen}");
}
