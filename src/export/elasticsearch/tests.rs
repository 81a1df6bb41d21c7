use super::bulk::{self, ItemOutcome};
use super::config::ElasticsearchConfig;
use super::event::RequestRecord;
use super::sink::backoff;
use super::templates::{self, Engine};
use serde_json::json;
use std::time::{Duration, SystemTime};

fn record() -> RequestRecord {
    RequestRecord {
        request_id: "req-1".into(),
        received_at: SystemTime::UNIX_EPOCH + Duration::from_millis(1_795_000_000_123),
        model: "credit".into(),
        model_version: "3".into(),
        method: "POST".into(),
        path: "/v2/models/credit/infer".into(),
        status: 503,
        duration: Duration::from_micros(1500),
        upstream_duration: Some(Duration::from_micros(1250)),
        request_bytes: 120,
        response_bytes: 40,
    }
}

#[test]
fn the_document_has_the_documented_ecs_fields() {
    let doc = record().document();
    assert_eq!(doc["@timestamp"], "2026-11-18T11:06:40.123Z");
    assert_eq!(doc["event"]["outcome"], "failure");
    assert_eq!(doc["event"]["duration"], 1_500_000);
    assert_eq!(doc["event"]["category"], json!(["web"]));
    assert_eq!(doc["event"]["dataset"], "modelwatch.inference");
    assert_eq!(doc["http"]["request"]["id"], "req-1");
    assert_eq!(doc["http"]["request"]["body"]["bytes"], 120);
    assert_eq!(doc["http"]["response"]["status_code"], 503);
    assert_eq!(doc["url"]["path"], "/v2/models/credit/infer");
    assert_eq!(doc["modelwatch"]["upstream_duration_ms"], 1.25);
    let mut ok = record();
    ok.status = 200;
    ok.upstream_duration = None;
    let doc = ok.document();
    assert_eq!(doc["event"]["outcome"], "success");
    assert!(doc["modelwatch"].get("upstream_duration_ms").is_none());
}

#[test]
fn bulk_bodies_end_every_line_with_a_newline() {
    let body = bulk::encode(&[("a".into(), json!({"x": 1})), ("b".into(), json!({"x": 2}))]);
    let text = String::from_utf8(body).unwrap();
    assert_eq!(
        text,
        "{\"create\":{\"_id\":\"a\"}}\n{\"x\":1}\n{\"create\":{\"_id\":\"b\"}}\n{\"x\":2}\n"
    );
}

#[test]
fn every_item_status_is_read() {
    let answer = json!({"errors": true, "items": [
        {"create": {"status": 201}},
        {"create": {"status": 409, "error": {"type": "version_conflict_engine_exception"}}},
        {"create": {"status": 429}},
        {"create": {"status": 400, "error": {"type": "mapper_parsing_exception",
            "reason": "failed to parse field [x]", "caused_by": {"reason": "not a long"}}}},
    ]});
    let outcomes = bulk::outcomes(&answer, 4).unwrap();
    assert_eq!(outcomes[0], ItemOutcome::Delivered);
    assert_eq!(outcomes[1], ItemOutcome::Duplicate);
    assert_eq!(outcomes[2], ItemOutcome::Retry);
    assert_eq!(
        outcomes[3],
        ItemOutcome::Rejected {
            status: 400,
            reason: "mapper_parsing_exception: failed to parse field [x] (caused by: not a long)"
                .into()
        }
    );
    assert!(bulk::outcomes(&answer, 3).is_err());
    assert!(bulk::outcomes(&json!({"error": "x"}), 1).is_err());
}

#[test]
fn backoff_grows_is_capped_and_jittered() {
    assert_eq!(backoff(0, 0.0), Duration::from_millis(100));
    assert_eq!(backoff(0, 1.0), Duration::from_millis(200));
    assert_eq!(backoff(3, 1.0), Duration::from_millis(1600));
    assert_eq!(backoff(30, 1.0), Duration::from_secs(30));
}

#[test]
fn the_lifecycle_setting_is_only_sent_to_elasticsearch() {
    let os = templates::index_template("logs-a-b", Engine::OpenSearch);
    assert!(os["template"].get("settings").is_none());
    assert_eq!(os["priority"], 501);
    let es = templates::index_template("logs-a-b", Engine::Elasticsearch);
    assert_eq!(
        es["template"]["settings"]["index.lifecycle.name"],
        templates::ILM_POLICY
    );
    let root = json!({"version": {"distribution": "opensearch", "number": "2.19.0"}});
    assert_eq!(Engine::from_root(&root), Engine::OpenSearch);
    assert_eq!(
        Engine::from_root(&json!({"version": {"number": "8.15.0"}})),
        Engine::Elasticsearch
    );
}

#[test]
fn bad_settings_are_reported_by_key() {
    let config = ElasticsearchConfig {
        url: Some("ftp://x".into()),
        batch_events: 0,
        data_stream: "logs-model-watch-default".into(),
        username: Some("elastic".into()),
        spool_bytes: 1000,
        fsync_interval: Duration::ZERO,
        ..Default::default()
    };
    let mut problems = Vec::new();
    config.validate(&mut problems);
    let text = problems.join("\n");
    for key in [
        "export.elasticsearch.url",
        "export.elasticsearch.batch_events",
        "export.elasticsearch.data_stream",
        "export.elasticsearch.password",
        "export.elasticsearch.spool_bytes",
        "export.elasticsearch.fsync_interval",
    ] {
        assert!(text.contains(key), "{key} missing from {text}");
    }
    let mut problems = Vec::new();
    ElasticsearchConfig::default().validate(&mut problems);
    assert!(problems.is_empty(), "{problems:?}");
}

pub(crate) fn exchange(id: &str) -> crate::analysis::exchange::Exchange {
    use crate::analysis::capture::CapturedBody;
    use crate::analysis::exchange::{CapturedMessage, Exchange};
    let message = || CapturedMessage {
        content_type: None,
        inference_header_len: None,
        bytes: 10,
        body: CapturedBody::Incomplete,
    };
    Exchange {
        request_id: id.into(),
        received_at: SystemTime::now(),
        labels: crate::proxy::identity::ModelLabels {
            model: "credit".into(),
            version: "1".into(),
        },
        method: http::Method::POST,
        path: "/invocations?token=secret".into(),
        status: http::StatusCode::OK,
        duration: Duration::from_millis(2),
        upstream_duration: None,
        request: message(),
        response: message(),
    }
}

#[tokio::test]
async fn the_export_queue_is_bounded_in_bytes_and_counts_what_it_drops() {
    use super::queue::{ExportCounters, ExportQueue};
    let registry = prometheus::Registry::new();
    let counters = ExportCounters::register(&registry).unwrap();
    let one = RequestRecord::from_exchange(&exchange("r-0")).footprint();
    let (queue, mut receiver) = ExportQueue::new(one * 3, counters);
    for i in 0..5 {
        queue.offer(&exchange(&format!("r-{i}")));
    }
    let dropped = registry
        .gather()
        .iter()
        .find(|f| f.name() == "modelwatch_export_events_total")
        .unwrap()
        .get_metric()
        .iter()
        .find(|m| m.get_label().iter().any(|l| l.value() == "dropped"))
        .unwrap()
        .get_counter()
        .get_value();
    assert_eq!(dropped, 2.0);
    let first = receiver.try_recv().unwrap();
    assert_eq!(first.request_id, "r-0");
    assert_eq!(
        first.path, "/invocations",
        "the query string is not exported"
    );
    // Taking one frees its bytes: the next offer fits again.
    queue.offer(&exchange("r-5"));
    let ids: Vec<String> = std::iter::from_fn(|| receiver.try_recv())
        .map(|r| r.request_id)
        .collect();
    assert_eq!(ids, ["r-1", "r-2", "r-5"]);
}
