use super::settings::{Signals, signals};
use super::trace_id;
use std::collections::HashMap;

fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

const OFF: Signals = Signals {
    traces: false,
    metrics: false,
};

#[test]
fn nothing_is_exported_without_an_endpoint() {
    assert_eq!(signals(&env(&[])).unwrap(), OFF);
    assert_eq!(
        signals(&env(&[("OTEL_SERVICE_NAME", "credit-sidecar")])).unwrap(),
        OFF
    );
}

#[test]
fn the_general_endpoint_turns_both_signals_on_and_exporter_none_turns_one_off() {
    let on = signals(&env(&[(
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "http://127.0.0.1:4318",
    )]))
    .unwrap();
    assert_eq!(
        on,
        Signals {
            traces: true,
            metrics: true
        }
    );
    let traces_only = signals(&env(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318"),
        ("OTEL_METRICS_EXPORTER", "none"),
    ]))
    .unwrap();
    assert_eq!(
        traces_only,
        Signals {
            traces: true,
            metrics: false
        }
    );
}

#[test]
fn a_signal_endpoint_turns_on_only_that_signal() {
    let metrics_only = signals(&env(&[(
        "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
        "http://127.0.0.1:4318/v1/metrics",
    )]))
    .unwrap();
    assert_eq!(
        metrics_only,
        Signals {
            traces: false,
            metrics: true
        }
    );
}

#[test]
fn sdk_disabled_wins_over_an_endpoint() {
    let disabled = signals(&env(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318"),
        ("OTEL_SDK_DISABLED", "TRUE"),
    ]))
    .unwrap();
    assert_eq!(disabled, OFF);
}

#[test]
fn every_bad_value_is_named_with_its_variable() {
    let problems = signals(&env(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4317"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
        ("OTEL_TRACES_SAMPLER", "sometimes"),
        ("OTEL_METRICS_EXPORTER", "prometheus"),
        ("OTEL_SDK_DISABLED", "yes"),
    ]))
    .unwrap_err();
    let text = problems.join("\n");
    for variable in [
        "OTEL_EXPORTER_OTLP_ENDPOINT = \"collector:4317\"",
        "OTEL_EXPORTER_OTLP_PROTOCOL = \"http/json\"",
        "OTEL_TRACES_SAMPLER = \"sometimes\"",
        "OTEL_METRICS_EXPORTER = \"prometheus\"",
        "OTEL_SDK_DISABLED = \"yes\"",
    ] {
        assert!(text.contains(variable), "{variable} missing from:\n{text}");
    }
    assert_eq!(problems.len(), 5, "{text}");
}

fn traceparent(value: &str) -> http::HeaderMap {
    let mut headers = http::HeaderMap::new();
    headers.insert("traceparent", value.parse().unwrap());
    headers
}

#[test]
fn the_trace_id_comes_from_a_valid_traceparent_only() {
    let id = "4bf92f3577b34da6a3ce929d0e0e4736";
    assert_eq!(
        trace_id(&traceparent(&format!("00-{id}-00f067aa0ba902b7-01"))).as_deref(),
        Some(id)
    );
    // A future version may append fields; version 00 may not.
    assert_eq!(
        trace_id(&traceparent(&format!("01-{id}-00f067aa0ba902b7-01-extra"))).as_deref(),
        Some(id)
    );
    for bad in [
        format!("00-{id}-00f067aa0ba902b7-01-extra"),
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01".to_string(),
        format!("00-{id}-0000000000000000-01"),
        format!("00-{}-00f067aa0ba902b7-01", id.to_uppercase()),
        format!("ff-{id}-00f067aa0ba902b7-01"),
        format!("00-{id}-00f067aa0ba902b7"),
        "garbage".to_string(),
    ] {
        assert_eq!(trace_id(&traceparent(&bad)), None, "{bad}");
    }
    assert_eq!(trace_id(&http::HeaderMap::new()), None);
}
