//! The exporters' connections: plain for `http://` endpoints, TLS for `https://` ones.
//!
//! The SDK reads the endpoint, headers, compression and timeout itself; what it does not
//! do is trust a private CA. `OTEL_EXPORTER_OTLP_CERTIFICATE` (or the signal's own
//! `OTEL_EXPORTER_OTLP_{TRACES,METRICS}_CERTIFICATE`), the specification's variable for
//! "the trusted certificate to use when verifying a server's TLS credentials", names a PEM
//! file whose CAs are then the only ones trusted; without it the system's roots are. The
//! server's name is always checked. Client certificates (mutual TLS) are not supported.

use super::settings::{Signal, Transport};
use anyhow::Context;
use opentelemetry_otlp::{MetricExporter, SpanExporter, WithHttpConfig, WithTonicConfig};
use std::collections::HashMap;
use std::path::Path;

/// The exporter of spans over the signal's transport.
pub fn span_exporter(env: &HashMap<String, String>) -> anyhow::Result<SpanExporter> {
    let transport = Transport::of(env, Signal::Traces);
    let built = match transport.grpc {
        true if transport.https => SpanExporter::builder()
            .with_tonic()
            .with_tls_config(grpc_tls(&transport)?)
            .build(),
        true => SpanExporter::builder().with_tonic().build(),
        false => SpanExporter::builder()
            .with_http()
            .with_http_client(http_client(&transport)?)
            .build(),
    };
    built.context("could not create the OTLP span exporter (OTEL_EXPORTER_OTLP_*)")
}

/// The exporter of metrics over the signal's transport.
pub fn metric_exporter(env: &HashMap<String, String>) -> anyhow::Result<MetricExporter> {
    let transport = Transport::of(env, Signal::Metrics);
    let built = match transport.grpc {
        true if transport.https => MetricExporter::builder()
            .with_tonic()
            .with_tls_config(grpc_tls(&transport)?)
            .build(),
        true => MetricExporter::builder().with_tonic().build(),
        false => MetricExporter::builder()
            .with_http()
            .with_http_client(http_client(&transport)?)
            .build(),
    };
    built.context("could not create the OTLP metric exporter (OTEL_EXPORTER_OTLP_*)")
}

/// gRPC's TLS settings for an `https://` endpoint: the CA file's certificates, or the
/// system's roots (loaded only then: a plain endpoint works on an image without any).
fn grpc_tls(
    transport: &Transport,
) -> anyhow::Result<opentelemetry_otlp::tonic_types::transport::ClientTlsConfig> {
    use opentelemetry_otlp::tonic_types::transport::{Certificate, ClientTlsConfig};
    Ok(match &transport.ca_file {
        Some((path, setting)) => {
            // Read and checked like the HTTP client's, for the same messages.
            crate::export::tls::read_ca_file(path, setting)?;
            let pem = std::fs::read(path)
                .with_context(|| format!("{setting} {} cannot be read", path.display()))?;
            ClientTlsConfig::new().ca_certificate(Certificate::from_pem(pem))
        }
        None => ClientTlsConfig::new().with_native_roots(),
    })
}

/// The blocking HTTP client the SDK would build (it exports from its own thread), given
/// rustls settings: the CA file's or the system's roots for `https://`, none for `http://`.
fn http_client(transport: &Transport) -> anyhow::Result<reqwest::blocking::Client> {
    let tls = match (transport.https, &transport.ca_file) {
        (true, Some((path, setting))) => crate::export::tls::client_config(Some(path), setting)?,
        (true, None) => crate::export::tls::client_config(None, "OTEL_EXPORTER_OTLP_CERTIFICATE")?,
        (false, _) => crate::export::tls::plaintext_only()?,
    };
    let timeout = transport.timeout;
    // A blocking client owns a runtime, which may not be created or dropped on a thread
    // of ours that runs tokio: build it on a thread of its own, as the SDK does.
    std::thread::spawn(move || {
        reqwest::blocking::Client::builder()
            .timeout(timeout)
            .tls_backend_preconfigured(tls)
            .build()
    })
    .join()
    .map_err(|_| anyhow::anyhow!("building the OTLP HTTP client panicked"))?
    .context("could not build the OTLP HTTP client")
}

/// Whether a certificate file is usable, for the settings check.
pub fn check_ca_file(path: &Path, setting: &str) -> Result<(), String> {
    crate::export::tls::read_ca_file(path, setting)
        .map(|_| ())
        .map_err(|e| e.to_string())
}
