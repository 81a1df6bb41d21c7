//! The exporters' connections: plain for `http://` endpoints, TLS for `https://` ones.
//!
//! The SDK reads the endpoint, headers, compression and timeout itself; what it does not
//! do is trust a private CA. `OTEL_EXPORTER_OTLP_CERTIFICATE` (or the signal's own
//! `OTEL_EXPORTER_OTLP_{TRACES,METRICS}_CERTIFICATE`), the specification's variable for
//! "the trusted certificate to use when verifying a server's TLS credentials", names a PEM
//! file whose CAs are then the only ones trusted; without it the system's roots are. The
//! server's name is always checked. `OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE` and
//! `OTEL_EXPORTER_OTLP_CLIENT_KEY` (PEM files, or the signal's own) add a client
//! certificate for collectors that require one (mutual TLS).

use super::settings::{Signal, Transport};
use anyhow::Context;
use opentelemetry_otlp::{MetricExporter, SpanExporter, WithHttpConfig, WithTonicConfig};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

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
/// system's roots (loaded only then: a plain endpoint works on an image without any), and
/// the client certificate when one is configured.
fn grpc_tls(
    transport: &Transport,
) -> anyhow::Result<opentelemetry_otlp::tonic_types::transport::ClientTlsConfig> {
    use opentelemetry_otlp::tonic_types::transport::{Certificate, ClientTlsConfig, Identity};
    let read = |path: &Path, setting: &str| {
        std::fs::read(path).with_context(|| format!("{setting} {} cannot be read", path.display()))
    };
    // The files were checked with the settings (`settings::signals`); tonic parses them.
    let config = match &transport.ca_file {
        Some((path, setting)) => {
            ClientTlsConfig::new().ca_certificate(Certificate::from_pem(read(path, setting)?))
        }
        None => ClientTlsConfig::new().with_native_roots(),
    };
    Ok(match client_files(transport) {
        Some(((cert, cert_setting), (key, key_setting))) => config.identity(Identity::from_pem(
            read(cert, cert_setting)?,
            read(key, key_setting)?,
        )),
        None => config,
    })
}

/// The blocking HTTP client the SDK would build (it exports from its own thread), given
/// rustls settings: the CA file's or the system's roots and the client certificate for
/// `https://`, nothing for `http://`.
fn http_client(transport: &Transport) -> anyhow::Result<reqwest::blocking::Client> {
    let tls = if transport.https {
        let identity = match client_files(transport) {
            Some((cert, key)) => Some(identity(cert, key)?),
            None => None,
        };
        let (ca_file, setting) = match &transport.ca_file {
            Some((path, setting)) => (Some(path.as_path()), setting.as_str()),
            None => (None, "OTEL_EXPORTER_OTLP_CERTIFICATE"),
        };
        crate::tls::client_config(ca_file, setting, identity)?
    } else {
        crate::tls::plaintext_only()?
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

/// A file and the variable that named it.
type Named = (PathBuf, String);

/// The client certificate and key files when both are set (the settings check refuses
/// one without the other).
fn client_files(transport: &Transport) -> Option<(&Named, &Named)> {
    transport
        .client_certificate
        .as_ref()
        .zip(transport.client_key.as_ref())
}

fn identity(
    (cert, cert_setting): &Named,
    (key, key_setting): &Named,
) -> anyhow::Result<crate::tls::ClientIdentity> {
    crate::tls::read_client_identity((cert, cert_setting), (key, key_setting))
}

/// Whether a client certificate and key are usable, for the settings check.
pub fn check_client_identity(cert: &Named, key: &Named) -> Result<(), String> {
    identity(cert, key).map(|_| ()).map_err(|e| e.to_string())
}

/// Whether a certificate file is usable, for the settings check.
pub fn check_ca_file(path: &Path, setting: &str) -> Result<(), String> {
    crate::tls::read_ca_file(path, setting)
        .map(|_| ())
        .map_err(|e| e.to_string())
}
