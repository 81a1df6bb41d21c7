//! TLS for the cluster client: rustls (ring) with the system's roots, or only the CA
//! certificates of `export.elasticsearch.ca_file` (a private CA, as self-managed
//! Elasticsearch clusters use). The server's name is checked against its certificate.

use rustls::RootCertStore;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use std::path::Path;
use std::sync::Arc;

/// The client's TLS settings: trust `ca_file`'s certificates when given, else the
/// system's trust store.
pub fn client_config(ca_file: Option<&Path>) -> anyhow::Result<rustls::ClientConfig> {
    let mut roots = RootCertStore::empty();
    match ca_file {
        Some(path) => {
            let certs = read_ca_file(path)?;
            let (added, _ignored) = roots.add_parsable_certificates(certs);
            if added == 0 {
                anyhow::bail!(
                    "export.elasticsearch.ca_file {} holds no usable CA certificate: give the \
                     PEM file of the CA that signed the cluster's certificate",
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
                    "no system CA certificates found: https to the cluster will fail unless \
                     export.elasticsearch.ca_file names its CA"
                );
            }
        }
    }
    with_roots(roots)
}

/// Settings for an `http://` cluster: no trust store is loaded (none is ever used).
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

/// Every certificate in a PEM file; an error names the file and what to do.
fn read_ca_file(path: &Path) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let unreadable = |why: String| {
        anyhow::anyhow!(
            "export.elasticsearch.ca_file {} cannot be read ({why}): give the path of the PEM \
             file of the cluster's CA (-----BEGIN CERTIFICATE-----)",
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
