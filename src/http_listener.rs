//! The HTTP listener of the small server jobs (`serve`, `registry serve`): bind (a busy
//! address is a usage error naming the flag), serve HTTP/1.1 and h2c with one task per
//! connection until SIGTERM or SIGINT, then stop accepting and let requests in flight
//! finish (at most [`DRAIN_TIMEOUT`]). The sidecar has its own, with limits and metrics.

use crate::exit::UsageError;
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;

/// How long a shutdown waits for requests in flight before it gives up on them.
pub const DRAIN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Runs a two-worker runtime serving `handle` on `listen` until the stop signal;
/// `announce` is told the bound address (port 0 picks one) before the first request.
pub fn run<F, Fut>(
    job: &str,
    listen: SocketAddr,
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
        loop {
            let (stream, _) = tokio::select! {
                accepted = listener.accept() => accepted?,
                () = &mut stop => break,
            };
            let handle = handle.clone();
            let service = hyper::service::service_fn(move |req| {
                let reply = handle(req);
                async move { Ok::<_, Infallible>(reply.await) }
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
