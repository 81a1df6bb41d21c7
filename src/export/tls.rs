//! TLS for the exporters' clients (Elasticsearch, OTLP over HTTP): rustls (ring) with the
//! system's roots, or only the CA certificates of a configured file (a private CA, as
//! self-managed clusters and collectors use). The server's name is checked against its
//! certificate.

use rustls::RootCertStore;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use std::path::Path;
use std::sync::Arc;

/// The client's TLS settings: trust `ca_file`'s certificates when given, else the
/// system's trust store. `setting` names where the file came from, for messages (for
/// example `export.elasticsearch.ca_file`).
pub fn client_config(
    ca_file: Option<&Path>,
    setting: &str,
) -> anyhow::Result<rustls::ClientConfig> {
    let mut roots = RootCertStore::empty();
    match ca_file {
        Some(path) => {
            let certs = read_ca_file(path, setting)?;
            let (added, _ignored) = roots.add_parsable_certificates(certs);
            if added == 0 {
                anyhow::bail!(
                    "{setting} {} holds no usable CA certificate: give the PEM file of the \
                     CA that signed the server's certificate",
                    path.display()
                );
            }
        }
        None => {
            let native = rustls_native_certs::load_native_certs();
            let (added, _ignored) = roots.add_parsable_certificates(native.certs);
            if added == 0 {
                tracing::warn!(
                    errors = ?native.errors,
                    "no system CA certificates found: https will fail unless {setting} names \
                     the server's CA"
                );
            }
        }
    }
    with_roots(roots)
}

/// Settings for an `http://` server: no trust store is loaded (none is ever used).
pub fn plaintext_only() -> anyhow::Result<rustls::ClientConfig> {
    with_roots(RootCertStore::empty())
}

fn with_roots(roots: RootCertStore) -> anyhow::Result<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// Every certificate in a PEM file; an error names the setting, the file and what to do.
pub fn read_ca_file(path: &Path, setting: &str) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let unreadable = |why: String| {
        anyhow::anyhow!(
            "{setting} {} cannot be read ({why}): give the path of the PEM file of the \
             server's CA (-----BEGIN CERTIFICATE-----)",
            path.display()
        )
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| unreadable(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| unreadable(e.to_string()))?;
    if certs.is_empty() {
        return Err(unreadable("no CERTIFICATE section".into()));
    }
    Ok(certs)
}
