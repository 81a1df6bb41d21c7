//! A small HTTP client for the cluster's REST API, on the hyper client the proxy already
//! uses (no second HTTP stack): `http://` or `https://` (rustls, [`crate::export::tls`]), with
//! basic or API-key authentication.

use crate::config::elasticsearch::{ElasticsearchConfig, parse_url};
use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use std::time::Duration;

/// One answer, read whole.
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// The cluster's base URL, credentials and a keep-alive pool.
pub struct ClusterClient {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    base: String,
    authorization: Option<HeaderValue>,
    timeout: Duration,
}

impl ClusterClient {
    /// A client for a validated config (the URL has been checked already).
    pub fn new(config: &ElasticsearchConfig) -> anyhow::Result<Self> {
        let url = config.url.as_deref().unwrap_or_default();
        let base = parse_url(url)
            .map_err(|why| anyhow::anyhow!("export.elasticsearch.url {why}"))?
            .to_string();
        let authorization = match (&config.username, &config.password, &config.api_key) {
            (Some(user), Some(password), _) => Some(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
            )),
            (_, _, Some(key)) => Some(format!("ApiKey {key}")),
            _ => None,
        }
        .map(|value| {
            let mut value = HeaderValue::from_str(&value).map_err(|_| {
                anyhow::anyhow!(
                    "export.elasticsearch credentials hold characters not allowed in a header"
                )
            })?;
            value.set_sensitive(true);
            Ok::<_, anyhow::Error>(value)
        })
        .transpose()?;
        // One connector for both schemes; the trust store is only loaded for https://.
        let tls = if base.starts_with("https://") {
            crate::export::tls::client_config(
                config.ca_file.as_deref(),
                "export.elasticsearch.ca_file",
                None,
            )
            .map_err(|err| crate::exit::UsageError(format!("{err:#}")))?
        } else {
            crate::export::tls::plaintext_only()?
        };
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .build();
        Ok(Self {
            client: Client::builder(TokioExecutor::new()).build(connector),
            base: base.trim_end_matches('/').to_string(),
            authorization,
            timeout: config.request_timeout,
        })
    }

    /// Sends one request; `Err` is a transport failure (refused, reset, timed out).
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<(&'static str, Bytes)>,
    ) -> anyhow::Result<Answer> {
        let mut request = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        if let Some(auth) = &self.authorization {
            request = request.header(http::header::AUTHORIZATION, auth.clone());
        }
        let body = match body {
            Some((content_type, bytes)) => {
                request = request.header(http::header::CONTENT_TYPE, content_type);
                Full::new(bytes)
            }
            None => Full::default(),
        };
        let request = request.body(body)?;
        let exchange = async {
            let response = self.client.request(request).await?;
            let (parts, body) = response.into_parts();
            let body = body.collect().await?.to_bytes();
            Ok::<_, anyhow::Error>(Answer {
                status: parts.status,
                headers: parts.headers,
                body,
            })
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| anyhow::anyhow!("no answer within {:?}", self.timeout))?
    }

    /// Sends JSON and expects a 2xx, else the error names `what` and the cluster's answer.
    pub async fn put_json(
        &self,
        path: &str,
        body: &serde_json::Value,
        what: &str,
    ) -> anyhow::Result<()> {
        let answer = self
            .send(
                Method::PUT,
                path,
                Some(("application/json", Bytes::from(body.to_string()))),
            )
            .await?;
        if !answer.status.is_success() {
            return Err(Refused {
                what: what.to_string(),
                status: answer.status.as_u16(),
                body: String::from_utf8_lossy(&answer.body).into_owned(),
            }
            .into());
        }
        Ok(())
    }
}

/// A non-2xx answer to a setup request (`put_json`), typed so that the shipper can tell a
/// refusal of the credentials from a transient failure.
#[derive(Debug, thiserror::Error)]
#[error("{what} was refused with {status}: {body}")]
pub struct Refused {
    pub what: String,
    pub status: u16,
    pub body: String,
}

/// The longest `Retry-After` honoured: a cluster asking for more still gets a try every
/// five minutes.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

/// How long `Retry-After` asks to wait, from `now`: delay-seconds or an HTTP-date (RFC 9110
/// §10.2.3; a date in the past means "now"). Capped at five minutes.
pub fn retry_after(headers: &HeaderMap, now: std::time::SystemTime) -> Option<Duration> {
    let value = headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    let wait = match value.parse::<u64>() {
        Ok(seconds) => Duration::from_secs(seconds),
        Err(_) => httpdate::parse_http_date(value)
            .ok()?
            .duration_since(now)
            .unwrap_or_default(),
    };
    Some(wait.min(MAX_RETRY_AFTER))
}
