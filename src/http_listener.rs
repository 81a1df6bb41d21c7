//! The HTTP listener of the small server jobs (`serve`, `registry serve`): bind (a busy
//! address is a usage error naming the flag), serve HTTP/1.1 and h2c with one task per
//! connection until SIGTERM or SIGINT, serve on for a shutdown delay if one is given
//! (answering with `Connection: close`), then stop accepting and let requests in flight
//! finish (at most [`DRAIN_TIMEOUT`]). The sidecar has its own, with limits and metrics.
//!
//! Why `serve` has a delay: in a Kubernetes pod every container gets SIGTERM at the same
//! moment. The sidecar in front serves on for its `proxy.shutdown_delay` while the
//! endpoints controller takes the pod out of the Service; a model server that stopped at
//! once would turn that traffic into 502s. Given a delay at least the sidecar's, it
//! outlives the sidecar's accepting, and its drain covers what the sidecar still forwards.

use crate::exit::UsageError;
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// How long a shutdown waits for requests in flight before it gives up on them.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs a two-worker runtime serving `handle` on `listen` until the stop signal, and
/// `shutdown_delay` after it; `announce` is told the bound address (port 0 picks one)
/// before the first request.
pub fn run<F, Fut>(
    job: &str,
    listen: SocketAddr,
    shutdown_delay: Duration,
    announce: impl FnOnce(SocketAddr),
    handle: F,
) -> anyhow::Result<()>
where
    F: Fn(Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Response<Full<Bytes>>> + Send + 'static,
{
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| UsageError(format!("cannot listen on {listen} (--listen): {e}")))?;
        announce(listener.local_addr()?);
        let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
        let graceful = hyper_util::server::graceful::GracefulShutdown::new();
        let stop = crate::shutdown::signal();
        tokio::pin!(stop);
        // Set once the stop signal came: answers then close their HTTP/1.1 connection, so
        // that no client writes into a keep-alive connection the drain closes as idle.
        let closing = Arc::new(AtomicBool::new(false));
        let mut delay_ends: Option<std::pin::Pin<Box<tokio::time::Sleep>>> = None;
        loop {
            let (stream, _) = tokio::select! {
                accepted = listener.accept() => accepted?,
                () = &mut stop, if delay_ends.is_none() => {
                    if shutdown_delay.is_zero() {
                        break;
                    }
                    eprintln!(
                        "modelwatch {job}: stopping; serving on for {shutdown_delay:?} \
                         (--shutdown-delay), then draining"
                    );
                    closing.store(true, Ordering::Relaxed);
                    delay_ends = Some(Box::pin(tokio::time::sleep(shutdown_delay)));
                    continue;
                }
                () = async { delay_ends.as_mut().expect("checked by the guard").await },
                    if delay_ends.is_some() => break,
            };
            let (handle, closing) = (handle.clone(), closing.clone());
            let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                let http1 = req.version() < http::Version::HTTP_2;
                let reply = handle(req);
                let closing = closing.clone();
                async move {
                    let mut reply = reply.await;
                    if http1 && closing.load(Ordering::Relaxed) {
                        reply.headers_mut().insert(
                            http::header::CONNECTION,
                            http::HeaderValue::from_static("close"),
                        );
                    }
                    Ok::<_, Infallible>(reply)
                }
            });
            let connection = builder
                .serve_connection(TokioIo::new(stream), service)
                .into_owned();
            let watched = graceful.watch(connection);
            tokio::spawn(async move {
                let _ = watched.await;
            });
        }
        drop(listener);
        if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown())
            .await
            .is_err()
        {
            eprintln!(
                "modelwatch {job}: requests still running after {DRAIN_TIMEOUT:?}; exiting anyway"
            );
        }
        Ok(())
    })
}
