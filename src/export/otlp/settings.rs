//! Which OTLP signals are on, decided from the standard `OTEL_*` environment variables.
//!
//! The exporters and the SDK read the variables themselves (endpoint, protocol, headers,
//! timeout, sampler, resource, batch sizes); this module only decides whether there is
//! anything to export, and refuses values that would otherwise be ignored with a warning
//! the operator never sees, so a typo exits 2 naming the variable instead.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

/// The signals to export. Both off means the proxy creates no SDK at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Signals {
    pub traces: bool,
    pub metrics: bool,
}

impl Signals {
    pub fn any(self) -> bool {
        self.traces || self.metrics
    }
}

/// Decides the signals from `env`, listing every problem at once.
///
/// A signal is on when an endpoint is set for it (`OTEL_EXPORTER_OTLP_ENDPOINT` or the
/// signal's own `OTEL_EXPORTER_OTLP_{TRACES,METRICS}_ENDPOINT`) and its exporter variable
/// (`OTEL_TRACES_EXPORTER`, `OTEL_METRICS_EXPORTER`) is unset or `otlp`.
/// `OTEL_SDK_DISABLED=true` turns everything off. Without an endpoint nothing is exported:
/// the SDK's default of `localhost:4318` would make every sidecar without a collector retry
/// forever.
pub fn signals(env: &HashMap<String, String>) -> Result<Signals, Vec<String>> {
    let get = |key: &str| env.get(key).map(|v| v.trim()).filter(|v| !v.is_empty());
    let mut problems = Vec::new();
    if let Some(v) = get("OTEL_SDK_DISABLED") {
        match v.to_ascii_lowercase().as_str() {
            "true" => {
                return Ok(Signals {
                    traces: false,
                    metrics: false,
                });
            }
            "false" => {}
            _ => problems.push(format!(
                "OTEL_SDK_DISABLED = {v:?} is neither true nor false: set it to true to turn \
                 OTLP export off, or unset it"
            )),
        }
    }
    for key in [
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
    ] {
        if let Some(url) = get(key)
            && !url.starts_with("http://")
            && !url.starts_with("https://")
        {
            problems.push(format!(
                "{key} = {url:?} is not an http:// or https:// URL: point it at an \
                 OpenTelemetry Collector, for example http://127.0.0.1:4318 (http/protobuf) \
                 or https://otel-collector:4317 (grpc over TLS)"
            ));
        }
    }
    for key in [
        "OTEL_EXPORTER_OTLP_TIMEOUT",
        "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
        "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT",
    ] {
        if let Some(ms) = get(key)
            && ms.parse::<u64>().is_err()
        {
            problems.push(format!(
                "{key} = {ms:?} is not a number of milliseconds: for example 10000 (the default)"
            ));
        }
    }
    for key in [
        "OTEL_EXPORTER_OTLP_PROTOCOL",
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
        "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL",
    ] {
        if let Some(protocol) = get(key)
            && !matches!(protocol, "grpc" | "http/protobuf")
        {
            problems.push(format!(
                "{key} = {protocol:?} is not supported: use http/protobuf (port 4318, the \
                 default) or grpc (port 4317)"
            ));
        }
    }
    let mut enabled = |exporter_key: &str, endpoint_key: &str| -> bool {
        let exporter_on = match get(exporter_key) {
            None | Some("otlp") => true,
            Some("none") => false,
            Some(other) => {
                problems.push(format!(
                    "{exporter_key} = {other:?} is not supported: use otlp (the default) or \
                     none"
                ));
                false
            }
        };
        let endpoint = get("OTEL_EXPORTER_OTLP_ENDPOINT").or(get(endpoint_key));
        exporter_on && endpoint.is_some()
    };
    let signals = Signals {
        traces: enabled("OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
        metrics: enabled(
            "OTEL_METRICS_EXPORTER",
            "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
        ),
    };
    if let Some(sampler) = get("OTEL_TRACES_SAMPLER")
        && !matches!(
            sampler,
            "always_on"
                | "always_off"
                | "traceidratio"
                | "parentbased_always_on"
                | "parentbased_always_off"
                | "parentbased_traceidratio"
        )
    {
        problems.push(format!(
            "OTEL_TRACES_SAMPLER = {sampler:?} is not supported: use parentbased_always_on \
             (the default), parentbased_traceidratio with OTEL_TRACES_SAMPLER_ARG=0.1, \
             always_on, always_off, traceidratio or parentbased_always_off"
        ));
    }
    for (on, signal) in [
        (signals.traces, Signal::Traces),
        (signals.metrics, Signal::Metrics),
    ] {
        if !on {
            continue;
        }
        let transport = Transport::of(env, signal);
        let endpoint = signal.name().to_ascii_lowercase();
        let tls_only = [
            &transport.ca_file,
            &transport.client_certificate,
            &transport.client_key,
        ];
        for (_, setting) in tls_only.into_iter().flatten() {
            if !transport.https {
                problems.push(format!(
                    "{setting} is set but the {endpoint} endpoint is not https://: it only \
                     applies to a TLS collector; use an https:// endpoint or unset it"
                ));
            }
        }
        if !transport.https {
            continue;
        }
        if let Some((path, setting)) = &transport.ca_file
            && let Err(why) = super::transport::check_ca_file(path, setting)
        {
            problems.push(why);
        }
        match (&transport.client_certificate, &transport.client_key) {
            (Some(cert), Some(key)) => {
                if let Err(why) = super::transport::check_client_identity(cert, key) {
                    problems.push(why);
                }
            }
            (Some((_, setting)), None) | (None, Some((_, setting))) => {
                problems.push(format!(
                    "{setting} is set alone: mutual TLS needs both \
                     OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE and OTEL_EXPORTER_OTLP_CLIENT_KEY \
                     (or the {} ones of the signal)",
                    signal.name()
                ));
            }
            (None, None) => {}
        }
    }
    problems.dedup();
    if problems.is_empty() {
        Ok(signals)
    } else {
        Err(problems)
    }
}

/// A signal with its own `OTEL_EXPORTER_OTLP_{SIGNAL}_*` variables.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    Traces,
    Metrics,
}

impl Signal {
    pub fn name(self) -> &'static str {
        match self {
            Signal::Traces => "TRACES",
            Signal::Metrics => "METRICS",
        }
    }
}

/// How one signal is exported, from its own variable or else the generic one (the SDK's
/// precedence).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transport {
    /// gRPC; otherwise http/protobuf (the default).
    pub grpc: bool,
    /// The endpoint is `https://`.
    pub https: bool,
    /// The CA file to trust instead of the system's roots, and the variable that named it.
    pub ca_file: Option<(PathBuf, String)>,
    /// The client certificate and key files for mutual TLS, each with its variable.
    pub client_certificate: Option<(PathBuf, String)>,
    pub client_key: Option<(PathBuf, String)>,
    /// The export timeout (the SDK's default: 10 s).
    pub timeout: Duration,
}

impl Transport {
    pub fn of(env: &HashMap<String, String>, signal: Signal) -> Transport {
        let pick = |what: &str| -> Option<(String, &str)> {
            [
                format!("OTEL_EXPORTER_OTLP_{}_{what}", signal.name()),
                format!("OTEL_EXPORTER_OTLP_{what}"),
            ]
            .into_iter()
            .find_map(|key| {
                let value = env.get(&key).map(|v| v.trim()).filter(|v| !v.is_empty())?;
                Some((key, value))
            })
        };
        Transport {
            grpc: pick("PROTOCOL").is_some_and(|(_, p)| p == "grpc"),
            https: pick("ENDPOINT").is_some_and(|(_, url)| url.starts_with("https://")),
            ca_file: pick("CERTIFICATE").map(|(key, path)| (PathBuf::from(path), key)),
            client_certificate: pick("CLIENT_CERTIFICATE")
                .map(|(key, path)| (PathBuf::from(path), key)),
            client_key: pick("CLIENT_KEY").map(|(key, path)| (PathBuf::from(path), key)),
            timeout: pick("TIMEOUT")
                .and_then(|(_, ms)| ms.parse().ok())
                .map_or(Duration::from_secs(10), Duration::from_millis),
        }
    }
}
