//! Accepting client connections: HTTP/1.1 and h2c on one port, limits on the request head,
//! and a graceful drain on shutdown.

use super::forward::Forwarder;
use super::metrics::{ClientErrorReason, ProxyMetrics};
use crate::config::ProxyConfig;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Serves `listener` until `shutdown` turns true, then drains in-flight requests for at
/// most `drain_timeout`.
pub async fn serve(
    listener: TcpListener,
    forwarder: Arc<Forwarder>,
    metrics: Arc<ProxyMetrics>,
    config: &ProxyConfig,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(config.header_read_timeout)
        .max_buf_size(config.max_header_bytes)
        .max_headers(config.max_headers);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(config.max_header_bytes as u32);
    let graceful = GracefulShutdown::new();
    let first_request_deadline = config.header_read_timeout;

    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(err) => {
                    // Out of file descriptors and similar: back off briefly instead of
                    // spinning; the listener itself is still fine.
                    tracing::warn!(%err, "could not accept a connection");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => break,
        };
        let _ = stream.set_nodelay(true);
        let started = Arc::new(AtomicBool::new(false));
        let service = {
            let forwarder = forwarder.clone();
            let started = started.clone();
            service_fn(move |req| {
                started.store(true, Ordering::Relaxed);
                let forwarder = forwarder.clone();
                async move { Ok::<_, Infallible>(forwarder.handle(req, peer.ip()).await) }
            })
        };
        let conn = builder
            .serve_connection(TokioIo::new(stream), service)
            .into_owned();
        let conn = graceful.watch(conn);
        let metrics = metrics.clone();
        let forwarder = forwarder.clone();
        tokio::spawn(async move {
            tokio::pin!(conn);
            // hyper's header timeout starts once it knows the protocol; a client that
            // connects and sends nothing (or a byte at a time) must not hold a connection
            // open before that either.
            let deadline = tokio::time::sleep(first_request_deadline);
            tokio::pin!(deadline);
            let result = tokio::select! {
                result = &mut conn => result,
                _ = &mut deadline => {
                    if started.load(Ordering::Relaxed) {
                        conn.await
                    } else {
                        metrics.client_error(ClientErrorReason::HeaderTimeout);
                        tracing::debug!(%peer, "closed a connection that sent no request in time");
                        return;
                    }
                }
            };
            if let Err(err) = result
                && count_connection_error(&metrics, &*err)
                    == Some(ClientErrorReason::HeadersTooLarge)
            {
                forwarder.export_refused_head();
            }
        });
    }

    drop(listener);
    tracing::info!("stopped accepting; draining in-flight requests");
    tokio::select! {
        _ = graceful.shutdown() => tracing::info!("all connections drained"),
        _ = tokio::time::sleep(config.drain_timeout) => {
            tracing::warn!(
                timeout = ?config.drain_timeout,
                "drain timeout reached; closing the remaining connections"
            );
        }
    }
}

/// Counts a connection's error under its client-error reason, and returns that reason.
fn count_connection_error(
    metrics: &ProxyMetrics,
    err: &(dyn std::error::Error + 'static),
) -> Option<ClientErrorReason> {
    let Some(hyper_err) = err.downcast_ref::<hyper::Error>() else {
        tracing::debug!(%err, "connection ended with an error");
        return None;
    };
    let reason = if hyper_err.is_timeout() {
        ClientErrorReason::HeaderTimeout
    } else if hyper_err.is_parse_too_large() {
        ClientErrorReason::HeadersTooLarge
    } else if hyper_err.is_parse() {
        ClientErrorReason::MalformedRequest
    } else {
        // Resets, clients that hang up mid-request: not the client's request being bad.
        tracing::debug!(err = %hyper_err, "connection ended with an error");
        return None;
    };
    metrics.client_error(reason);
    Some(reason)
}
