//! The cluster's REST API: over `http://` through the official `elasticsearch` client, over
//! `https://` on the hyper client the proxy already uses with our rustls settings
//! ([`crate::tls`]); basic or API-key authentication on both.
//!
//! Why two routes: the official client (9.1.0-alpha.1) builds its own reqwest client and
//! takes no TLS configuration but a list of extra roots, added to roots compiled in (its
//! `rustls-tls` feature brings webpki-roots). `ca_file` means "trust only this CA", and
//! without it we trust the system's store; neither can be said to it, so `https://`
//! keeps our client (docs/events.md, "Connection and credentials"). Everything above this
//! file (engine detection, templates, lifecycle policies, `_bulk`) sends the same
//! requests through [`ClusterClient::send`] whichever route carries them.
//!
//! The official client checks no `X-Elastic-Product` header and sends no compatibility
//! `Accept` header (plain `application/json`), so OpenSearch answers it as it answers any
//! client. Requests go through its generic [`Elasticsearch::send`], not the typed
//! builders: the `_bulk` body is the spool's documents already serialised, and the typed
//! `bulk` builder would copy them into a new buffer, while a [`Bytes`] body is sent as is.

use crate::config::elasticsearch::{ElasticsearchConfig, parse_url};
use base64::Engine as _;
use bytes::Bytes;
use elasticsearch::Elasticsearch;
use elasticsearch::auth::Credentials;
use elasticsearch::http::transport::{SingleNodeConnectionPool, TransportBuilder};
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

/// The cluster's base URL, credentials and a keep-alive pool, on one of two routes.
pub struct ClusterClient {
    route: Route,
    timeout: Duration,
}

enum Route {
    /// `http://`: the official client.
    Official(Elasticsearch),
    /// `https://`: hyper with our rustls settings (boxed: ten times the size of the
    /// official client's handle).
    Rustls {
        client: Box<Client<HttpsConnector<HttpConnector>, Full<Bytes>>>,
        base: String,
        authorization: Option<HeaderValue>,
    },
}

impl ClusterClient {
    /// A client for a validated config (the URL has been checked already).
    pub fn new(config: &ElasticsearchConfig) -> anyhow::Result<Self> {
        let url = config.url.as_deref().unwrap_or_default();
        let base = parse_url(url)
            .map_err(|why| anyhow::anyhow!("export.elasticsearch.url {why}"))?
            .to_string();
        let base = base.trim_end_matches('/');
        // Checked here for both routes: the official client would panic on an API key
        // that is not a header value.
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
        let route = if base.starts_with("https://") {
            Self::rustls(config, base, authorization)?
        } else {
            Self::official(config, base)?
        };
        Ok(Self {
            route,
            timeout: config.request_timeout,
        })
    }

    fn official(config: &ElasticsearchConfig, base: &str) -> anyhow::Result<Route> {
        // A path prefix in the URL is kept: the connection adds the trailing `/` that
        // joining paths needs.
        let url = elasticsearch::http::Url::parse(base)
            .map_err(|err| anyhow::anyhow!("export.elasticsearch.url {base}: {err}"))?;
        // No proxy from the environment (HTTP_PROXY): the https:// route has none either.
        let mut transport =
            TransportBuilder::new(SingleNodeConnectionPool::new(url)).disable_proxy();
        match (&config.username, &config.password, &config.api_key) {
            (Some(user), Some(password), _) => {
                transport = transport.auth(Credentials::Basic(user.clone(), password.clone()));
            }
            (_, _, Some(key)) => {
                transport = transport.auth(Credentials::EncodedApiKey(key.clone()));
            }
            _ => {}
        }
        Ok(Route::Official(Elasticsearch::new(transport.build()?)))
    }

    fn rustls(
        config: &ElasticsearchConfig,
        base: &str,
        authorization: Option<HeaderValue>,
    ) -> anyhow::Result<Route> {
        let tls = crate::tls::client_config(
            config.ca_file.as_deref(),
            "export.elasticsearch.ca_file",
            None,
        )
        .map_err(|err| crate::exit::UsageError(format!("{err:#}")))?;
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_only()
            .enable_http1()
            .build();
        Ok(Route::Rustls {
            client: Box::new(Client::builder(TokioExecutor::new()).build(connector)),
            base: base.to_string(),
            authorization,
        })
    }

    /// Sends one request; `Err` is a transport failure (refused, reset, timed out).
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<(&'static str, Bytes)>,
    ) -> anyhow::Result<Answer> {
        let exchange = async {
            match &self.route {
                Route::Official(client) => send_official(client, method, path, body).await,
                Route::Rustls {
                    client,
                    base,
                    authorization,
                } => {
                    let mut request = Request::builder()
                        .method(method)
                        .uri(format!("{base}{path}"));
                    if let Some(auth) = authorization {
                        request = request.header(http::header::AUTHORIZATION, auth.clone());
                    }
                    let body = match body {
                        Some((content_type, bytes)) => {
                            request = request.header(http::header::CONTENT_TYPE, content_type);
                            Full::new(bytes)
                        }
                        None => Full::default(),
                    };
                    let response = client.request(request.body(body)?).await?;
                    let (parts, body) = response.into_parts();
                    let body = body.collect().await?.to_bytes();
                    Ok(Answer {
                        status: parts.status,
                        headers: parts.headers,
                        body,
                    })
                }
            }
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

/// One request through the official client: `body` is handed over as [`Bytes`] (no copy).
async fn send_official(
    client: &Elasticsearch,
    method: Method,
    path: &str,
    body: Option<(&'static str, Bytes)>,
) -> anyhow::Result<Answer> {
    use elasticsearch::http::Method as Official;
    let method = match method {
        Method::GET => Official::Get,
        Method::PUT => Official::Put,
        Method::POST => Official::Post,
        Method::DELETE => Official::Delete,
        Method::HEAD => Official::Head,
        other => anyhow::bail!("the cluster client sends no {other} requests"),
    };
    let mut headers = HeaderMap::new();
    let body = body.map(|(content_type, bytes)| {
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static(content_type),
        );
        bytes
    });
    let response = client
        .send(method, path, headers, None::<&()>, body, None)
        .await?;
    let status = response.status_code();
    let headers = response.headers().clone();
    let body = response.bytes().await?;
    Ok(Answer {
        status,
        headers,
        body,
    })
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

#[cfg(test)]
mod tests;
