//! Real model-server stand-ins: hyper servers on `127.0.0.1:0` whose behaviour each test
//! chooses with a handler closure.

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use serde_json::Value;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;

pub type Body = BoxBody<Bytes, Box<dyn std::error::Error + Send + Sync>>;
type Handler =
    dyn Fn(Request<Incoming>) -> Pin<Box<dyn Future<Output = Response<Body>> + Send>> + Send + Sync;

/// A running upstream; it stops when dropped.
pub struct Upstream {
    pub addr: SocketAddr,
    /// Requests received so far.
    pub hits: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Upstream {
    /// Starts a server (HTTP/1.1 and h2c) answering every request with `handler`.
    pub async fn start<F, Fut>(handler: F) -> Upstream
    where
        F: Fn(Request<Incoming>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Response<Body>> + Send + 'static,
    {
        Self::start_on("127.0.0.1:0", handler).await
    }

    /// [`Upstream::start`] on a given address (a port a deployment file fixes).
    pub async fn start_on<F, Fut>(address: &str, handler: F) -> Upstream
    where
        F: Fn(Request<Incoming>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Response<Body>> + Send + 'static,
    {
        let listener = TcpListener::bind(address)
            .await
            .unwrap_or_else(|e| panic!("could not listen on {address}: {e}"));
        let addr = listener.local_addr().unwrap();
        let hits = Arc::new(AtomicUsize::new(0));
        let handler: Arc<Handler> = Arc::new(move |req| Box::pin(handler(req)));
        let counted = hits.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let handler = handler.clone();
                let counted = counted.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| {
                        counted.fetch_add(1, Ordering::SeqCst);
                        let handler = handler.clone();
                        async move { Ok::<_, Infallible>(handler(req).await) }
                    });
                    let _ = auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Upstream { addr, hits, task }
    }

    /// An upstream that answers with the request body, and reports in response headers
    /// what it received: `x-seen-<name>` for selected request headers, the method, path,
    /// and HTTP version.
    pub async fn echo() -> Upstream {
        Upstream::start(|req: Request<Incoming>| async move {
            let (parts, body) = req.into_parts();
            let body = body
                .collect()
                .await
                .map(|c| c.to_bytes())
                .unwrap_or_default();
            let mut response = Response::builder()
                .header("x-seen-method", parts.method.as_str())
                .header("x-seen-path", parts.uri.path_and_query().unwrap().as_str())
                .header("x-seen-version", format!("{:?}", parts.version));
            for (name, value) in &parts.headers {
                response = response.header(format!("x-seen-{name}"), value);
            }
            response.body(full(body)).unwrap()
        })
        .await
    }

    /// A webhook receiver on `address` (`127.0.0.1:0` for any port): keeps every JSON
    /// body posted to it, in arrival order, and answers `200 {}`.
    pub async fn collecting_json_on(address: &str) -> (Upstream, Arc<Mutex<Vec<Value>>>) {
        let received: Arc<Mutex<Vec<Value>>> = Arc::default();
        let sink = received.clone();
        let server = Self::start_on(address, move |req: Request<Incoming>| {
            let sink = sink.clone();
            async move {
                let body = req.into_body().collect().await.unwrap().to_bytes();
                if let Ok(v) = serde_json::from_slice(&body) {
                    sink.lock().unwrap().push(v);
                }
                respond(200, "{}")
            }
        })
        .await;
        (server, received)
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// A loopback port free right now (the kernel picks it; a process started next binds it).
pub fn free_loopback_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A complete body.
pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed()
}

/// A response with a status and a body.
pub fn respond(status: u16, body: &'static str) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(full(body))
        .unwrap()
}
