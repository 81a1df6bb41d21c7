use super::bulk::{self, ItemOutcome};
use super::event::{ExportRecord, RequestRecord};
use super::sink::backoff;
use super::templates::{self, Engine};
use crate::config::elasticsearch::ElasticsearchConfig;
use serde_json::json;
use std::time::{Duration, SystemTime};

fn record() -> RequestRecord {
    RequestRecord {
        event_id: "0192f1e2-7c3a-7000-8000-000000000001".into(),
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
        trace_id: None,
        error: None,
        response_end: crate::traffic::BodyEnd::Complete,
        protocol: None,
        rows: None,
        payload: None,
        llm: None,
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
    assert_eq!(doc["error"]["type"], "http_status");
    assert_eq!(
        doc["error"]["message"],
        "the model server answered 503 Service Unavailable"
    );
    assert_eq!(doc["modelwatch"]["protocol"], "oip", "from the route");
    assert!(doc.get("trace").is_none());
    let mut ok = record();
    ok.status = 200;
    ok.upstream_duration = None;
    ok.trace_id = Some("4bf92f3577b34da6a3ce929d0e0e4736".into());
    ok.protocol = Some("kserve_v1");
    ok.rows = Some(20);
    let doc = ok.document();
    assert_eq!(doc["event"]["outcome"], "success");
    assert!(doc.get("error").is_none());
    assert!(doc["modelwatch"].get("upstream_duration_ms").is_none());
    assert_eq!(doc["trace"]["id"], "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(
        doc["modelwatch"]["protocol"], "kserve_v1",
        "the decoder's wins"
    );
    assert_eq!(doc["modelwatch"]["rows"], 20);
}

#[test]
fn failures_say_what_failed() {
    use super::event::EventError;
    use crate::traffic::BodyEnd;
    // A 200 whose body broke off, or that the client left, is a failure too.
    let mut broken = record();
    broken.status = 200;
    broken.response_end = BodyEnd::Failed;
    let doc = broken.document();
    assert_eq!(doc["event"]["outcome"], "failure");
    assert_eq!(doc["error"]["type"], "response_failed");
    broken.response_end = BodyEnd::Abandoned;
    assert_eq!(broken.document()["error"]["type"], "client_abandoned");
    // The proxy's own answer keeps its reason; a refused head has no method or path.
    let mut refused = record();
    refused.status = 431;
    refused.method.clear();
    refused.path.clear();
    refused.error = Some(EventError {
        kind: "headers_too_large",
        message: "too large".into(),
    });
    let doc = refused.document();
    assert_eq!(doc["error"]["type"], "headers_too_large");
    assert_eq!(doc["error"]["message"], "too large");
    assert!(doc.get("url").is_none());
    assert!(doc["http"]["request"].get("method").is_none());
    assert!(doc["modelwatch"].get("protocol").is_none());
}

#[test]
fn bulk_bodies_end_every_line_with_a_newline() {
    let body = bulk::encode_raw([
        ("logs-a-b", "a", &b"{\"x\":1}"[..]),
        ("metrics-c-d", "b", &b"{\"x\":2}"[..]),
    ]);
    let text = String::from_utf8(body).unwrap();
    assert_eq!(
        text,
        "{\"create\":{\"_id\":\"a\",\"_index\":\"logs-a-b\"}}\n{\"x\":1}\n\
         {\"create\":{\"_id\":\"b\",\"_index\":\"metrics-c-d\"}}\n{\"x\":2}\n"
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
        super::lifecycle::ILM_POLICY
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

pub(crate) fn exchange(id: &str) -> crate::traffic::exchange::Exchange {
    use crate::traffic::capture::CapturedBody;
    use crate::traffic::exchange::{CapturedMessage, Exchange};
    let message = || CapturedMessage {
        content_type: None,
        inference_header_len: None,
        bytes: 10,
        body: CapturedBody::Incomplete,
    };
    Exchange {
        request_id: id.into(),
        received_at: SystemTime::now(),
        labels: crate::traffic::identity::ModelLabels {
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
        response_end: crate::traffic::BodyEnd::Complete,
        traceparent: None,
        llm: None,
    }
}

#[test]
fn each_exchange_gets_its_own_event_id_whatever_its_request_id() {
    // A client that sends one `X-Request-Id` for every request (a retry library, a constant
    // header) must not make the second event a duplicate of the first.
    let first = ExportRecord::Request(RequestRecord::from_exchange(&exchange("same")));
    let second = ExportRecord::Request(RequestRecord::from_exchange(&exchange("same")));
    assert_ne!(first.id(), second.id());
    for record in [&first, &second] {
        let document = record.document();
        assert_eq!(document["http"]["request"]["id"], "same");
        assert_eq!(document["event"]["id"], record.id());
        assert!(uuid::Uuid::parse_str(record.id()).is_ok_and(|u| u.get_version_num() == 7));
    }
    // A resend (the shipper's retry, the spool after a restart) keeps the id: a 409 then.
    assert_eq!(first.clone().id(), first.id());
}

fn column(name: &str, score: Option<f64>, drifted: bool) -> crate::drift::report::ColumnReport {
    crate::drift::report::ColumnReport {
        name: name.into(),
        kind: "numeric".into(),
        method: "ks".into(),
        statistic: score.map(|_| 0.42),
        score,
        p_value: score.map(|_| 0.001),
        threshold: Some(0.05),
        drifted,
        evaluation_drifted: None,
        missing_rate: 0.25,
        out_of_range_rate: 0.0,
        unseen_rate: 0.0,
        type_error_rate: 0.0,
        non_finite_rate: 0.0,
        note: score.is_none().then(|| "no rows".to_string()),
        histogram: None,
        history: Vec::new(),
    }
}

fn model_report() -> crate::drift::model_report::ModelReport {
    use crate::drift::model_report::{ModelReport, ReferenceSummary, WindowSummary};
    ModelReport {
        model: "credit".into(),
        model_version: "3".into(),
        reference: ReferenceSummary {
            spec: "credit@production".into(),
            source: "credit.csv".into(),
            version: "3".into(),
        },
        window: WindowSummary {
            kind: "rows",
            rows: 1000,
            prediction_rows: 990,
            multivariate_rows: 0,
        },
        drift_share: 0.5,
        drift_share_threshold: 0.5,
        drifted_features: 1,
        dataset_drift: true,
        features: vec![
            column("Income", Some(0.4), true),
            column("Age", None, false),
        ],
        predictions: vec![column("label", Some(0.01), false)],
        multivariate: Vec::new(),
        multivariate_evaluated_at: None,
    }
}

#[test]
fn a_drift_evaluation_becomes_one_snapshot_per_column() {
    use super::drift_snapshot::{snapshot_id, snapshots};
    let at = SystemTime::UNIX_EPOCH + Duration::from_micros(1_795_000_000_123_456);
    let docs = snapshots(&model_report(), at);
    assert_eq!(docs.len(), 3);
    let income = &docs[0].document;
    assert_eq!(income["@timestamp"], "2026-11-18T11:06:40.123Z");
    assert_eq!(income["event"]["kind"], "metric");
    assert_eq!(income["event"]["dataset"], "modelwatch.drift");
    let m = &income["modelwatch"];
    assert_eq!(m["model"], "credit");
    assert_eq!(m["model_version"], "3");
    assert_eq!(m["feature"], "Income");
    assert_eq!(m["method"], "ks");
    assert_eq!(m["statistic"], 0.42);
    assert_eq!(m["score"], 0.4);
    assert_eq!(m["p_value"], 0.001);
    assert_eq!(m["threshold"], 0.05);
    assert_eq!(m["drifted"], true);
    assert_eq!(m["drift_share"], 0.5);
    assert_eq!(m["dataset_drift"], true);
    assert_eq!(m["window_rows"], 1000);
    assert_eq!(m["reference"]["name"], "credit@production");
    assert_eq!(m["reference"]["version"], "3");
    assert_eq!(m["missing_rate"], 0.25);
    // An untested column has no score (absent, not null) and says why.
    let age = &docs[1].document["modelwatch"];
    assert!(age.get("score").is_none() && age.get("p_value").is_none());
    assert!(age.get("statistic").is_none());
    assert_eq!(age["note"], "no rows");
    // Predictions are named as in the metrics and count the prediction rows.
    let label = &docs[2].document["modelwatch"];
    assert_eq!(label["feature"], "prediction:label");
    assert_eq!(label["window_rows"], 990);

    // The id is the same for the same evaluation (a resend is stored once) and differs
    // per feature and per evaluation.
    assert_eq!(docs[0].id, snapshots(&model_report(), at)[0].id);
    assert_eq!(
        docs[0].id,
        snapshot_id("credit", "3", "Income", 1_795_000_000_123)
    );
    assert_ne!(docs[0].id, docs[1].id);
    let later = snapshots(&model_report(), at + Duration::from_millis(1));
    assert_ne!(docs[0].id, later[0].id);
    assert_eq!(docs[0].id.len(), 40);
    assert!(docs[0].footprint > docs[0].document.to_string().len());
}

#[test]
fn drift_snapshots_go_to_their_own_stream_with_typed_fields() {
    let config = ElasticsearchConfig::default();
    let docs = super::drift_snapshot::snapshots(&model_report(), SystemTime::now());
    let drift = ExportRecord::Drift(docs[0].clone());
    assert_eq!(
        drift.kind().data_stream(&config),
        "metrics-modelwatch.drift-default"
    );
    assert_eq!(drift.id(), docs[0].id);
    use super::event::DocumentKind;
    for kind in [
        DocumentKind::Request,
        DocumentKind::Drift,
        DocumentKind::Performance,
    ] {
        assert_eq!(DocumentKind::from_byte(kind.as_byte()), Some(kind));
    }
    assert_eq!(DocumentKind::from_byte(7), None);
    let request = ExportRecord::Request(record());
    assert_eq!(
        request.kind().data_stream(&config),
        "logs-modelwatch.inference-default"
    );
    assert_eq!(request.id(), "0192f1e2-7c3a-7000-8000-000000000001");
    assert_eq!(request.document()["event"]["id"], request.id());

    let template = templates::drift_template("metrics-a-b", Engine::OpenSearch);
    assert_eq!(template["priority"], 501);
    assert_eq!(template["index_patterns"], json!(["metrics-a-b"]));
    let props = &template["template"]["mappings"]["properties"]["modelwatch"]["properties"];
    for (field, kind) in [
        ("feature", "keyword"),
        ("statistic", "double"),
        ("score", "double"),
        ("drifted", "boolean"),
        ("window_rows", "long"),
        ("missing_rate", "double"),
        ("lower_threshold", "double"),
        ("evaluation_drifted", "boolean"),
    ] {
        assert_eq!(props[field]["type"], kind, "{field}");
    }
}

#[test]
fn each_multivariate_method_becomes_one_more_snapshot() {
    use super::drift_snapshot::{snapshot_id, snapshots};
    use crate::drift::multivariate::{MultivariateMethod, MultivariateResult};
    let mut report = model_report();
    report.window.multivariate_rows = 500;
    report.multivariate = vec![
        MultivariateResult {
            method: MultivariateMethod::DomainClassifier,
            score: 0.9,
            threshold: 0.526,
            lower_threshold: None,
            evaluation_drifted: Some(true),
            drifted: false,
        },
        MultivariateResult {
            method: MultivariateMethod::ReconstructionError,
            score: 1.5,
            threshold: 1.1,
            lower_threshold: Some(0.9),
            evaluation_drifted: Some(true),
            drifted: true,
        },
    ];
    let at = SystemTime::UNIX_EPOCH + Duration::from_millis(1_795_000_000_123);
    let docs = snapshots(&report, at);
    // Three columns, then the two methods.
    assert_eq!(docs.len(), 5);
    let classifier = &docs[3];
    assert_eq!(
        classifier.id,
        snapshot_id(
            "credit",
            "3",
            "multivariate:domain_classifier",
            1_795_000_000_123
        )
    );
    let m = &classifier.document["modelwatch"];
    assert_eq!(m["method"], "domain_classifier");
    assert_eq!(m["score"], 0.9);
    assert_eq!(m["threshold"], 0.526);
    assert_eq!(m["evaluation_drifted"], true);
    assert_eq!(m["drifted"], false);
    assert_eq!(m["window_rows"], 500);
    assert_eq!(m["reference"]["name"], "credit@production");
    for absent in ["feature", "column_type", "lower_threshold", "drift_share"] {
        assert!(m.get(absent).is_none(), "{absent} in {m}");
    }
    let reconstruction = &docs[4].document["modelwatch"];
    assert_eq!(reconstruction["method"], "reconstruction_error");
    assert_eq!(reconstruction["lower_threshold"], 0.9);
    assert_eq!(reconstruction["drifted"], true);
    assert_eq!(docs[4].document["event"]["dataset"], "modelwatch.drift");
}

#[test]
fn the_drift_data_stream_is_checked() {
    let config = ElasticsearchConfig {
        drift_data_stream: "logs-modelwatch.drift-default".into(),
        ..Default::default()
    };
    let mut problems = Vec::new();
    config.validate(&mut problems);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].contains("export.elasticsearch.drift_data_stream"));
    assert!(problems[0].contains("metrics-<dataset>-<namespace>"));
}

#[test]
fn the_performance_data_stream_is_checked_and_kept_apart() {
    let config = ElasticsearchConfig {
        performance_data_stream: "logs-modelwatch.performance-default".into(),
        ..Default::default()
    };
    let mut problems = Vec::new();
    config.validate(&mut problems);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].contains("export.elasticsearch.performance_data_stream"));
    assert!(problems[0].contains("metrics-<dataset>-<namespace>"));

    let shared = ElasticsearchConfig {
        performance_data_stream: "metrics-modelwatch.drift-default".into(),
        ..Default::default()
    };
    let mut problems = Vec::new();
    shared.validate(&mut problems);
    assert_eq!(
        problems,
        [
            "export.elasticsearch.performance_data_stream equals drift_data_stream: request \
          events, drift snapshots and performance documents need data streams of their own"
        ]
    );
}

#[test]
fn the_ism_policy_mirrors_the_ilm_lifecycle_for_one_stream() {
    use super::lifecycle::{ism_missing, ism_policy, ism_policy_id};
    let policy = &ism_policy("logs-modelwatch.inference-default")["policy"];
    assert_eq!(
        ism_policy_id("logs-modelwatch.inference-default"),
        "modelwatch-logs-modelwatch.inference-default"
    );
    assert_eq!(policy["default_state"], "hot");
    let states = policy["states"].as_array().unwrap();
    assert_eq!(states[0]["name"], "hot");
    assert_eq!(
        states[0]["actions"][0]["rollover"],
        json!({"min_primary_shard_size": "50gb", "min_index_age": "7d"})
    );
    assert_eq!(
        states[0]["transitions"][0],
        json!({"state_name": "delete", "conditions": {"min_index_age": "30d"}})
    );
    assert_eq!(states[1]["actions"][0], json!({"delete": {}}));
    assert_eq!(
        policy["ism_template"][0]["index_patterns"],
        json!(["logs-modelwatch.inference-default"])
    );
    // What an OpenSearch node without the plugin answers, and what a real refusal is.
    let missing =
        r#"{"error":"no handler found for uri [/_plugins/_ism/policies/x] and method [PUT]"}"#;
    assert!(ism_missing(400, missing));
    assert!(ism_missing(404, ""));
    assert!(!ism_missing(
        400,
        r#"{"error":{"type":"illegal_argument_exception"}}"#
    ));
    assert!(!ism_missing(409, ""));
}

#[test]
fn retry_after_is_read_in_seconds_and_as_an_http_date() {
    use super::client::retry_after;
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_000_000);
    let headers = |value: &str| {
        let mut map = http::HeaderMap::new();
        map.insert(http::header::RETRY_AFTER, value.parse().unwrap());
        map
    };
    assert_eq!(retry_after(&http::HeaderMap::new(), now), None);
    assert_eq!(
        retry_after(&headers("7"), now),
        Some(Duration::from_secs(7))
    );
    // RFC 9110's IMF-fixdate, 90 s after `now`.
    let later = httpdate::fmt_http_date(now + Duration::from_secs(90));
    assert_eq!(
        retry_after(&headers(&later), now),
        Some(Duration::from_secs(90))
    );
    // A date already past means "now"; very long waits are capped at five minutes.
    let past = httpdate::fmt_http_date(now - Duration::from_secs(5));
    assert_eq!(retry_after(&headers(&past), now), Some(Duration::ZERO));
    assert_eq!(
        retry_after(&headers("86400"), now),
        Some(Duration::from_secs(300))
    );
    assert_eq!(retry_after(&headers("soon"), now), None);
}

#[test]
fn only_transient_statuses_retry_and_no_whole_request_refusal_dead_letters() {
    use super::refusal::{BlockReason, Verdict, whole_request};
    for status in [408, 429, 500, 502, 503, 504] {
        assert_eq!(whole_request(status), Verdict::Retry, "{status}");
    }
    assert_eq!(whole_request(413), Verdict::Split);
    for (status, reason) in [
        (401, BlockReason::Unauthorized),
        (407, BlockReason::Unauthorized),
        (403, BlockReason::Forbidden),
        (404, BlockReason::NotFound),
        (405, BlockReason::NotFound),
        (400, BlockReason::Rejected),
        (406, BlockReason::Rejected),
        (415, BlockReason::Rejected),
    ] {
        assert_eq!(whole_request(status), Verdict::Block(reason), "{status}");
    }
}
