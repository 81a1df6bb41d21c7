//! A real TLS endpoint in front of a real backend: a private CA and a server certificate
//! for `localhost` made with rcgen at test time, a tokio-rustls listener on loopback, and a
//! hyper server that forwards every request over plain HTTP to the backend (the OpenSearch
//! node) and records the `Authorization` header it received. Nothing is mocked: the TLS
//! handshake, the certificate check and the backend's answers are all real.

use crate::support::client;
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;

/// A running TLS front; it stops when dropped.
pub struct TlsFront {
    pub addr: SocketAddr,
    /// The CA certificate (PEM) that signed the front's certificate.
    pub ca_pem: String,
    /// The `Authorization` header of every request, in order (`-` when absent).
    pub authorizations: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl TlsFront {
    /// Starts a front for `backend` (`http://HOST:PORT`).
    pub async fn start(backend: &str) -> TlsFront {
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(DnType::CommonName, "modelwatch test CA");
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let issuer = Issuer::from_params(&ca, &ca_key);
        let server_key = KeyPair::generate().unwrap();
        let server = CertificateParams::new(vec!["localhost".to_string()])
            .unwrap()
            .signed_by(&server_key, &issuer)
            .unwrap();
        let chain: Vec<CertificateDer<'static>> = vec![server.der().clone()];
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der()));
        // The provider the product's clients use (src/tls.rs says why its deprecation
        // in rustls 0.23.48 is not followed).
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));

        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let authorizations = Arc::new(Mutex::new(Vec::new()));
        let seen = authorizations.clone();
        let backend = backend.trim_end_matches('/').to_string();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let (acceptor, seen, backend) = (acceptor.clone(), seen.clone(), backend.clone());
                tokio::spawn(async move {
                    // A client that rejects the certificate ends the handshake: nothing to serve.
                    let Ok(tls) = acceptor.accept(stream).await else {
                        return;
                    };
                    let service = service_fn(move |req: Request<Incoming>| {
                        let (seen, backend) = (seen.clone(), backend.clone());
                        async move { Ok::<_, Infallible>(forward(req, &backend, &seen).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tls), service)
                        .await;
                });
            }
        });
        TlsFront {
            addr,
            ca_pem: ca_cert.pem(),
            authorizations,
            task,
        }
    }

    /// The front's URL, by the name its certificate carries.
    pub fn url(&self) -> String {
        format!("https://localhost:{}", self.addr.port())
    }
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn forward(
    req: Request<Incoming>,
    backend: &str,
    seen: &Mutex<Vec<String>>,
) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    seen.lock().unwrap().push(
        parts
            .headers
            .get(http::header::AUTHORIZATION)
            .map_or("-".into(), |v| v.to_str().unwrap().to_string()),
    );
    let body = body.collect().await.unwrap().to_bytes();
    client::relay(&parts, body, backend).await
}
