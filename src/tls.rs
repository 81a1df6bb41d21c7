//! TLS for modelwatch's clients (the exporters' Elasticsearch and OTLP over HTTP, the
//! registry client of `--registry-url https://…`): rustls (ring) with the system's roots, or only the CA certificates of a configured file (a private CA, as
//! self-managed clusters and collectors use). The server's name is checked against its
//! certificate.

use rustls::RootCertStore;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::path::Path;
use std::sync::Arc;

/// A client certificate chain and its private key, shown to a server that asks for one
/// (mutual TLS).
pub struct ClientIdentity {
    pub certs: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
}

/// The client's TLS settings: trust `ca_file`'s certificates when given, else the
/// system's trust store; present `identity` when given. `setting` names where the CA file
/// came from, for messages (for example `export.elasticsearch.ca_file`).
pub fn client_config(
    ca_file: Option<&Path>,
    setting: &str,
    identity: Option<ClientIdentity>,
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
    with_roots(roots, identity)
}

/// Settings for an `http://` server: no trust store is loaded (none is ever used).
pub fn plaintext_only() -> anyhow::Result<rustls::ClientConfig> {
    with_roots(RootCertStore::empty(), None)
}

fn with_roots(
    roots: RootCertStore,
    identity: Option<ClientIdentity>,
) -> anyhow::Result<rustls::ClientConfig> {
    // rustls 0.23.48 deprecates the ring provider because ring has no post-quantum key
    // exchange. Every TLS client in the binary (hyper-rustls, reqwest, OTLP) is built on
    // ring; moving them all to aws-lc-rs, which brings a C library into the build, is a
    // decision of its own, so the deprecation is acknowledged here rather than followed.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots);
    Ok(match identity {
        Some(identity) => builder.with_client_auth_cert(identity.certs, identity.key)?,
        None => builder.with_no_client_auth(),
    })
}

/// A client certificate (PEM, the chain) and its private key (PEM: PKCS#8, PKCS#1 or
/// SEC1); an error names the setting, the file and what to do.
pub fn read_client_identity(
    (cert_file, cert_setting): (&Path, &str),
    (key_file, key_setting): (&Path, &str),
) -> anyhow::Result<ClientIdentity> {
    let certs = CertificateDer::pem_file_iter(cert_file)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .ok()
        .filter(|certs| !certs.is_empty())
        .ok_or_else(|| {
            anyhow::anyhow!(
                "{cert_setting} {} holds no readable certificate: give the PEM file of the \
                 client certificate (-----BEGIN CERTIFICATE-----)",
                cert_file.display()
            )
        })?;
    let key = PrivateKeyDer::from_pem_file(key_file).map_err(|e| {
        anyhow::anyhow!(
            "{key_setting} {} holds no readable private key ({e}): give the PEM file of the \
             client certificate's key (-----BEGIN PRIVATE KEY-----)",
            key_file.display()
        )
    })?;
    Ok(ClientIdentity { certs, key })
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
