//! The real OpenTelemetry Collector started by `tests/services/otelcol.sh`, and what its
//! file exporter wrote: OTLP JSON, one export request per line (trace and span ids in hex,
//! 64-bit integers as strings, as the OTLP/JSON encoding specifies).

use serde_json::Value;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The collector's endpoints and output directory, from the variables the script prints.
pub struct Collector {
    pub grpc: String,
    pub http: String,
    /// The same receivers over TLS (`https://`), with a certificate signed by `ca_file`.
    pub grpcs: String,
    pub https: String,
    pub ca_file: String,
    /// A CA that signed nothing the collector serves.
    pub other_ca_file: String,
    /// Receivers over TLS that require a client certificate signed by `ca_file`, and one.
    pub grpc_mtls: String,
    pub http_mtls: String,
    pub client_cert_file: String,
    pub client_key_file: String,
    output: PathBuf,
}

impl Collector {
    pub fn from_env() -> Collector {
        let var = |name: &str| {
            std::env::var(name).unwrap_or_else(|_| {
                panic!(
                    "{name} is not set: these tests need the real OpenTelemetry Collector. Run \
                     `bash tests/services/otelcol.sh start`, export the OTELCOL_… lines \
                     it prints, and run the tests again (tests/run.sh does this for you)"
                )
            })
        };
        Collector {
            grpc: var("OTELCOL_GRPC_ENDPOINT"),
            http: var("OTELCOL_HTTP_ENDPOINT"),
            grpcs: var("OTELCOL_GRPCS_ENDPOINT"),
            https: var("OTELCOL_HTTPS_ENDPOINT"),
            ca_file: var("OTELCOL_CA_FILE"),
            other_ca_file: var("OTELCOL_OTHER_CA_FILE"),
            grpc_mtls: var("OTELCOL_GRPC_MTLS_ENDPOINT"),
            http_mtls: var("OTELCOL_HTTP_MTLS_ENDPOINT"),
            client_cert_file: var("OTELCOL_CLIENT_CERT_FILE"),
            client_key_file: var("OTELCOL_CLIENT_KEY_FILE"),
            output: PathBuf::from(var("OTELCOL_OUTPUT_DIR")),
        }
    }

    /// Every span the collector received from `service` so far.
    pub fn spans(&self, service: &str) -> Vec<Value> {
        self.resources("traces.jsonl", "resourceSpans", service)
            .iter()
            .flat_map(|resource| array(&resource["scopeSpans"]))
            .flat_map(|scope| array(&scope["spans"]))
            .cloned()
            .collect()
    }

    /// Waits (at most 20 s) until `done` holds for the spans of `service`, and returns them.
    pub fn wait_for_spans(&self, service: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        poll(&format!("spans of {service}"), || self.spans(service), done)
    }

    /// Waits (at most 20 s) until `done` holds for the latest metrics of `service`.
    pub fn wait_for_metrics(&self, service: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        poll(
            &format!("metrics of {service}"),
            || self.latest_metrics(service),
            done,
        )
    }

    /// The metrics of the latest export from `service` (cumulative, so the latest holds
    /// everything), or nothing before the first.
    pub fn latest_metrics(&self, service: &str) -> Vec<Value> {
        self.resources("metrics.jsonl", "resourceMetrics", service)
            .last()
            .map(|resource| {
                array(&resource["scopeMetrics"])
                    .iter()
                    .flat_map(|scope| array(&scope["metrics"]))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The resource entries of `service` in `file`, oldest first.
    fn resources(&self, file: &str, key: &str, service: &str) -> Vec<Value> {
        let text = std::fs::read_to_string(self.output.join(file)).unwrap_or_default();
        text.lines()
            // The exporter may be mid-line when we read.
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .flat_map(|request| array(&request[key]).to_vec())
            .filter(|resource| {
                attribute(&resource["resource"], "service.name") == Some(&Value::from(service))
            })
            .collect()
    }
}

fn poll(what: &str, fetch: impl Fn() -> Vec<Value>, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let got = fetch();
        if done(&got) {
            return got;
        }
        assert!(
            Instant::now() < deadline,
            "the collector never received the expected {what}; it has:\n{}",
            serde_json::to_string_pretty(&got).unwrap()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn array(value: &Value) -> &[Value] {
    value.as_array().map(Vec::as_slice).unwrap_or_default()
}

/// The value of attribute `key` of an OTLP object (span, data point, resource), unwrapped
/// from its `{"stringValue": …}` / `{"intValue": "…"}` form; integers become numbers.
pub fn attribute<'a>(object: &'a Value, key: &str) -> Option<&'a Value> {
    let value = array(&object["attributes"])
        .iter()
        .find(|kv| kv["key"] == key)
        .map(|kv| &kv["value"])?;
    value.as_object()?.values().next()
}

/// An integer attribute (OTLP/JSON writes 64-bit integers as strings).
pub fn int_attribute(object: &Value, key: &str) -> Option<i64> {
    attribute(object, key)?.as_str()?.parse().ok()
}

/// A 64-bit integer field of an OTLP object (`"count": "5"`).
pub fn int_field(value: &Value) -> u64 {
    value
        .as_str()
        .and_then(|s| s.parse().ok())
        .or_else(|| value.as_u64())
        .unwrap_or_else(|| panic!("not an OTLP integer: {value}"))
}
