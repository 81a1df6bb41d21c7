use super::settings::{Signal, Signals, Transport, signals};
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

#[test]
fn https_endpoints_are_accepted_and_a_certificate_needs_one() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "not a certificate\n").unwrap();
    let empty = empty.to_str().unwrap();

    let on = signals(&env(&[(
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "https://collector:4318",
    )]));
    assert_eq!(
        on,
        Ok(Signals {
            traces: true,
            metrics: true
        })
    );

    let problems = signals(&env(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
        ("OTEL_EXPORTER_OTLP_CERTIFICATE", "/etc/collector-ca.pem"),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "10s"),
    ]))
    .unwrap_err()
    .join("\n");
    assert!(
        problems.contains(
            "OTEL_EXPORTER_OTLP_CERTIFICATE is set but the traces endpoint is not https://"
        ),
        "{problems}"
    );
    assert!(
        problems.contains("OTEL_EXPORTER_OTLP_TIMEOUT = \"10s\""),
        "{problems}"
    );

    // A file without a certificate is named, with the signal's own variable.
    let problems = signals(&env(&[
        (
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "https://collector:4318/v1/traces",
        ),
        ("OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", empty),
    ]))
    .unwrap_err()
    .join("\n");
    assert!(
        problems.contains(&format!(
            "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE {empty} cannot be read"
        )),
        "{problems}"
    );
}

#[test]
fn a_client_certificate_needs_its_key_and_an_https_endpoint() {
    let alone = signals(&env(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "https://collector:4318"),
        ("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", "/client.pem"),
    ]))
    .unwrap_err()
    .join("\n");
    assert!(
        alone.contains("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE is set alone"),
        "{alone}"
    );

    let plain = signals(&env(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
        ("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", "/client.pem"),
        ("OTEL_EXPORTER_OTLP_CLIENT_KEY", "/client.key"),
    ]))
    .unwrap_err()
    .join("\n");
    for variable in [
        "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE is set but the traces endpoint is not https://",
        "OTEL_EXPORTER_OTLP_CLIENT_KEY is set but the metrics endpoint is not https://",
    ] {
        assert!(
            plain.contains(variable),
            "{variable} missing from:\n{plain}"
        );
    }

    let missing = signals(&env(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "https://collector:4318"),
        (
            "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
            "/nonexistent/client.pem",
        ),
        ("OTEL_EXPORTER_OTLP_CLIENT_KEY", "/nonexistent/client.key"),
    ]))
    .unwrap_err()
    .join("\n");
    assert!(
        missing.contains("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE /nonexistent/client.pem holds no readable certificate"),
        "{missing}"
    );
}

#[test]
fn a_signals_own_variables_win_over_the_generic_ones() {
    let both = env(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
        (
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "https://collector:4317",
        ),
        ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc"),
        ("OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", "/ca.pem"),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "2500"),
    ]);
    assert_eq!(
        Transport::of(&both, Signal::Traces),
        Transport {
            grpc: true,
            https: true,
            ca_file: Some((
                "/ca.pem".into(),
                "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE".to_string()
            )),
            client_certificate: None,
            client_key: None,
            timeout: std::time::Duration::from_millis(2500),
        }
    );
    assert_eq!(
        Transport::of(&both, Signal::Metrics),
        Transport {
            grpc: false,
            https: false,
            ca_file: None,
            client_certificate: None,
            client_key: None,
            timeout: std::time::Duration::from_millis(2500),
        }
    );
}
