//! The admin listener: the drift page at `/` ([`crate::page`]), `/metrics`, `/healthz`,
//! `/readyz`, `/api/v1/drift`, `/api/v1/performance`, `POST /api/v1/feedback` (labels
//! for the prediction store) and `POST /-/reload`, on their own port so that inference
//! clients never reach them and scrapes never queue behind inference traffic. [`access`]
//! decides who may use which (`[admin]`: lifecycle endpoints off by default, an optional
//! bearer token).

pub mod access;
#[cfg(test)]
mod tests;

pub use access::AdminAccess;
use access::Refusal;

use crate::analysis::LiveAnalysis;
use crate::export::prometheus as exposition;
use crate::page;
use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use prometheus::Registry;
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// What `/readyz` checks.
pub struct Readiness {
    /// `host:port` of the upstream, connected to on every readiness probe.
    pub upstream: String,
    /// Set when shutdown begins, so load balancers stop sending traffic while it drains.
    pub draining: AtomicBool,
    /// Live analysis, when a reference is configured: readiness also needs it loaded.
    pub analysis: Option<Arc<LiveAnalysis>>,
}

/// Serves the admin endpoints until `stop` turns true.
pub async fn serve(
    listener: TcpListener,
    registry: Registry,
    readiness: Arc<Readiness>,
    access: Arc<AdminAccess>,
    mut stop: watch::Receiver<bool>,
) {
    let registry = Arc::new(registry);
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(err) => {
                    tracing::warn!(%err, "admin listener could not accept a connection");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
            _ = stop.changed() => return,
        };
        let (registry, readiness, access) = (registry.clone(), readiness.clone(), access.clone());
        let service = service_fn(move |req| {
            let (registry, readiness, access) =
                (registry.clone(), readiness.clone(), access.clone());
            async move { Ok::<_, Infallible>(route(req, &registry, &readiness, &access).await) }
        });
        tokio::spawn(async move {
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(10))
                .serve_connection(TokioIo::new(stream), service);
            if let Err(err) = conn.await {
                tracing::debug!(%err, "admin connection ended with an error");
            }
        });
    }
}

async fn route(
    req: Request<Incoming>,
    registry: &Registry,
    readiness: &Readiness,
    access: &AdminAccess,
) -> Response<Full<Bytes>> {
    if let Err(refusal) = access.check(req.uri().path(), req.headers()) {
        return refused(refusal, req.uri().path());
    }
    if req.uri().path() == "/-/reload" {
        return reload(&req, readiness).await;
    }
    if req.uri().path() == "/api/v1/feedback" {
        return feedback(req, readiness).await;
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return text(StatusCode::METHOD_NOT_ALLOWED, "use GET\n");
    }
    match req.uri().path() {
        "/" => drift_page(req.uri().query(), registry, readiness),
        "/api/v1/drift" => match &readiness.analysis {
            Some(analysis) => json(StatusCode::OK, &*analysis.report()),
            None => text(
                StatusCode::NOT_FOUND,
                "no drift report: start the proxy with --reference (a profile, dataset or \
                 model reference) to analyse traffic\n",
            ),
        },
        "/api/v1/performance" => match readiness.analysis.as_ref().and_then(|a| a.quality.as_ref())
        {
            Some(quality) => json(StatusCode::OK, &*quality.report()),
            None => text(
                StatusCode::NOT_FOUND,
                "no performance report: start the proxy with a reference and \
                 quality.enabled = true (MODELWATCH__QUALITY__ENABLED=true)\n",
            ),
        },
        "/metrics" => {
            let mut response = Response::new(Full::new(Bytes::from(exposition::render(registry))));
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                header::HeaderValue::from_static(exposition::CONTENT_TYPE),
            );
            response
        }
        "/healthz" => text(StatusCode::OK, "ok\n"),
        "/readyz" => ready(readiness).await,
        _ => text(
            StatusCode::NOT_FOUND,
            "not found; the admin endpoints are / (the drift page), /metrics, /healthz, \
             /readyz, /api/v1/drift, /api/v1/performance, POST /api/v1/feedback and \
             POST /-/reload\n",
        ),
    }
}

/// The largest feedback body taken in one request (about a million CSV items).
pub const MAX_FEEDBACK_BYTES: usize = 64 * 1024 * 1024;

/// `POST /api/v1/feedback`: labels joined to stored predictions. 200 with the outcome
/// counts and the items that did not join; 400 when the body cannot be read (naming the
/// line) or nothing in it joined because every item was wrong.
async fn feedback(req: Request<Incoming>, readiness: &Readiness) -> Response<Full<Bytes>> {
    use http_body_util::BodyExt as _;
    if req.method() != Method::POST {
        return text(
            StatusCode::METHOD_NOT_ALLOWED,
            "use POST /api/v1/feedback with a JSON array, NDJSON or CSV (request_id,label)\n",
        );
    }
    let Some(analysis) = readiness.analysis.clone().filter(|a| a.quality.is_some()) else {
        return text(
            StatusCode::NOT_FOUND,
            "no prediction store: start the proxy with a reference and quality.enabled = true \
             (MODELWATCH__QUALITY__ENABLED=true) to join labels\n",
        );
    };
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = match http_body_util::Limited::new(req.into_body(), MAX_FEEDBACK_BYTES)
        .collect()
        .await
    {
        Ok(collected) => collected.to_bytes(),
        Err(err) if err.is::<http_body_util::LengthLimitError>() => {
            return text(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!(
                    "the feedback body is over {MAX_FEEDBACK_BYTES} bytes: send it in batches\n"
                ),
            );
        }
        Err(err) => {
            return text(
                StatusCode::BAD_REQUEST,
                &format!("the feedback body could not be read: {err}\n"),
            );
        }
    };
    // The join reads and writes SQLite: keep it off the runtime.
    let joined = tokio::task::spawn_blocking(move || {
        let quality = analysis.quality.as_ref().expect("checked above");
        quality.receive(content_type.as_deref(), &body)
    })
    .await;
    match joined {
        Ok(Ok(Ok(answer))) => {
            let status = if answer.nothing_joined() {
                StatusCode::BAD_REQUEST
            } else {
                StatusCode::OK
            };
            json(status, &answer)
        }
        Ok(Ok(Err(unreadable))) => text(
            StatusCode::BAD_REQUEST,
            &format!("feedback body refused, nothing joined: {unreadable}\n"),
        ),
        Ok(Err(err)) => text(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("the prediction store failed, nothing joined: {err:#}\n"),
        ),
        Err(err) => text(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("feedback failed: {err}\n"),
        ),
    }
}

/// The drift page (`/`), or only its refreshable part (`/?part=main`).
fn drift_page(
    query: Option<&str>,
    registry: &Registry,
    readiness: &Readiness,
) -> Response<Full<Bytes>> {
    let report = readiness
        .analysis
        .as_ref()
        .map(|analysis| analysis.report())
        .unwrap_or_default();
    let health = page::SidecarHealth::from_registry(registry);
    let main_only = query.is_some_and(|q| q.split('&').any(|p| p == page::MAIN_ONLY_QUERY));
    let body = if main_only {
        page::live_main(&report, &health)
    } else {
        page::live_page(&report, &health)
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        header::HeaderValue::from_static(page::live_policy()),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        header::HeaderValue::from_static("nosniff"),
    );
    response
}

async fn reload(req: &Request<Incoming>, readiness: &Readiness) -> Response<Full<Bytes>> {
    if req.method() != Method::POST {
        return text(StatusCode::METHOD_NOT_ALLOWED, "use POST /-/reload\n");
    }
    let Some(analysis) = readiness.analysis.clone() else {
        return text(
            StatusCode::NOT_FOUND,
            "nothing to reload: no reference is configured\n",
        );
    };
    // Loading a reference reads files and may build a profile: keep it off the runtime.
    match tokio::task::spawn_blocking(move || analysis.reload()).await {
        Ok(Ok(summary)) => text(StatusCode::OK, &format!("reloaded: {summary}\n")),
        Ok(Err(err)) => text(
            StatusCode::UNPROCESSABLE_ENTITY,
            &format!("reload failed, the previous references stay in use: {err:#}\n"),
        ),
        Err(err) => text(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("reload failed: {err}\n"),
        ),
    }
}

/// 401 (with the `WWW-Authenticate` challenge) or 403, saying what to send or set.
fn refused(refusal: Refusal, path: &str) -> Response<Full<Bytes>> {
    match refusal {
        Refusal::MissingToken | Refusal::WrongToken => {
            let why = if refusal == Refusal::MissingToken {
                "needs a bearer token"
            } else {
                "refused: the bearer token is not the one in admin.token_file"
            };
            let mut response = text(
                StatusCode::UNAUTHORIZED,
                &format!(
                    "{path} {why}: send `Authorization: Bearer <token>` with the token in                      admin.token_file (/healthz and /readyz need none)\n"
                ),
            );
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer realm=\"modelwatch admin\""),
            );
            response
        }
        Refusal::LifecycleDisabled => text(
            StatusCode::FORBIDDEN,
            &format!(
                "{path} is disabled: lifecycle endpoints need admin.enable_lifecycle = true \
                 (MODELWATCH__ADMIN__ENABLE_LIFECYCLE=true); SIGHUP reloads references too\n"
            ),
        ),
    }
}

fn json<T: serde::Serialize>(status: StatusCode, value: &T) -> Response<Full<Bytes>> {
    let body = serde_json::to_vec_pretty(value).unwrap_or_default();
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    response
}

async fn ready(readiness: &Readiness) -> Response<Full<Bytes>> {
    if readiness.draining.load(Ordering::Relaxed) {
        return text(StatusCode::SERVICE_UNAVAILABLE, "draining: shutting down\n");
    }
    if let Some(analysis) = &readiness.analysis
        && !analysis.has_reference()
    {
        return text(StatusCode::SERVICE_UNAVAILABLE, "no reference loaded\n");
    }
    let connect = tokio::net::TcpStream::connect(readiness.upstream.as_str());
    match tokio::time::timeout(Duration::from_secs(1), connect).await {
        Ok(Ok(_)) => text(StatusCode::OK, "ready\n"),
        Ok(Err(err)) => text(
            StatusCode::SERVICE_UNAVAILABLE,
            &format!("upstream {} unreachable: {err}\n", readiness.upstream),
        ),
        Err(_) => text(
            StatusCode::SERVICE_UNAVAILABLE,
            &format!(
                "upstream {} did not accept a connection within 1s\n",
                readiness.upstream
            ),
        ),
    }
}

fn text(status: StatusCode, body: &str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::copy_from_slice(body.as_bytes())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}
