//! Accepting client connections: HTTP/1.1 and h2c on one port, limits on the request head,
//! and a graceful shutdown: serving on for `shutdown_delay` with `Connection: close`, then
//! a drain of the requests in flight.
//!
//! The drain is our own rather than `hyper_util`'s `GracefulShutdown`, which shuts every
//! connection down at once: a connection that has not sent its first request yet (in
//! `auto`'s protocol detection, or idle since its accept) would be closed unread, and its
//! client, which was accepted and may be writing right now, would see its request go
//! unanswered. Here such a connection keeps its first-request deadline through the drain
//! and is shut down once its first request arrives, like every other after its current one.

use super::forward::Forwarder;
use super::headers::ClientAddr;
use super::metrics::{ClientErrorReason, ProxyMetrics};
use crate::config::ProxyConfig;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{Notify, mpsc, watch};

/// Serves `listener` until `shutdown` turns true; then, for `shutdown_delay`, still accepts
/// and serves, closing each HTTP/1.1 connection after its next response (h2 clients get
/// GOAWAY at the drain); then stops accepting and drains for at most `drain_timeout`: each
/// connection finishes the request it is serving and closes, and a connection that has not
/// sent a request yet may still send one within its first-request deadline (it is answered
/// with `Connection: close`).
///
/// Why the delay: a request a client writes into a keep-alive connection just as the
/// server closes it idle is never read, and the client sees a reset. The chaos suite's
/// SIGTERM scenario counted one such request per client connection without it.
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
    // The drain's start, and its end: every connection's task holds a sender, so the
    // receiver's `recv` returns `None` once the last connection has closed.
    let (drain, draining) = watch::channel(false);
    let (live, mut all_closed) = mpsc::channel::<Infallible>(1);
    let first_request_deadline = config.header_read_timeout;
    let closing = Arc::new(AtomicBool::new(false));
    let mut stop_accepting: Option<std::pin::Pin<Box<tokio::time::Sleep>>> = None;

    // Serves one accepted connection: from the accept loop, and from the backlog drain
    // at the end of the delay.
    let serve_one = |stream: tokio::net::TcpStream, peer: std::net::SocketAddr| {
        let _ = stream.set_nodelay(true);
        let started = Arc::new(AtomicBool::new(false));
        let first_request = Arc::new(Notify::new());
        let client = ClientAddr::new(peer.ip());
        let service = {
            let forwarder = forwarder.clone();
            let started = started.clone();
            let first_request = first_request.clone();
            let closing = closing.clone();
            service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                if !started.swap(true, Ordering::Relaxed) {
                    first_request.notify_one();
                }
                let forwarder = forwarder.clone();
                let closing = closing.clone();
                let client = client.clone();
                let http1 = req.version() < http::Version::HTTP_2;
                async move {
                    let mut response = forwarder.handle(req, &client).await;
                    // Read when the response is ready, so that a request in flight as the
                    // shutdown began closes its connection too.
                    if http1 && closing.load(Ordering::Relaxed) {
                        response.headers_mut().insert(
                            http::header::CONNECTION,
                            http::HeaderValue::from_static("close"),
                        );
                    }
                    Ok::<_, Infallible>(response)
                }
            })
        };
        let conn = builder
            .serve_connection(TokioIo::new(stream), service)
            .into_owned();
        let metrics = metrics.clone();
        let forwarder = forwarder.clone();
        let mut draining = draining.clone();
        let live = live.clone();
        tokio::spawn(async move {
            let _live = live;
            tokio::pin!(conn);
            // hyper's header timeout starts once it knows the protocol; a client that
            // connects and sends nothing (or a byte at a time) must not hold a connection
            // open before that either.
            let deadline = tokio::time::sleep(first_request_deadline);
            tokio::pin!(deadline);
            let (mut deadline_passed, mut drain_begun, mut shut_down) = (false, false, false);
            let result = loop {
                tokio::select! {
                    result = conn.as_mut() => break result,
                    _ = &mut deadline, if !deadline_passed => {
                        if !started.load(Ordering::Relaxed) {
                            metrics.client_error(ClientErrorReason::HeaderTimeout);
                            tracing::debug!(%peer, "closed a connection that sent no request in time");
                            return;
                        }
                        deadline_passed = true;
                    }
                    // An error means the server is gone: drain as well.
                    _ = draining.wait_for(|begun| *begun), if !drain_begun => {
                        drain_begun = true;
                        if started.load(Ordering::Relaxed) {
                            // Idle keep-alive connections close now; busy ones after
                            // their response (h2: GOAWAY, streams in flight finish).
                            conn.as_mut().graceful_shutdown();
                            shut_down = true;
                        }
                    }
                    () = first_request.notified(), if drain_begun && !shut_down => {
                        conn.as_mut().graceful_shutdown();
                        shut_down = true;
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
    };

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
            _ = shutdown.changed(), if stop_accepting.is_none() => {
                closing.store(true, Ordering::Relaxed);
                if config.shutdown_delay.is_zero() {
                    break;
                }
                tracing::info!(
                    delay = ?config.shutdown_delay,
                    "shutting down: serving on for proxy.shutdown_delay, closing each \
                     connection after its next response, then draining"
                );
                stop_accepting = Some(Box::pin(tokio::time::sleep(config.shutdown_delay)));
                continue;
            }
            () = async { stop_accepting.as_mut().expect("checked by the guard").await },
                if stop_accepting.is_some() => break,
        };
        serve_one(stream, peer);
    }

    // Connections the kernel completed since the last accept wait in the listener's
    // backlog, their requests perhaps already sent; closing the listener would reset
    // them. Accept them first (a system call each, not a wait on the reactor), and serve
    // them like the others (with `Connection: close` after a delay). The listener closes
    // here.
    if let Ok(listener) = listener.into_std() {
        let mut waiting = 0;
        while let Ok((stream, peer)) = listener.accept() {
            if stream.set_nonblocking(true).is_ok()
                && let Ok(stream) = tokio::net::TcpStream::from_std(stream)
            {
                serve_one(stream, peer);
                waiting += 1;
            }
        }
        if waiting > 0 {
            tracing::info!(
                connections = waiting,
                "served the connections left in the backlog"
            );
        }
    }
    tracing::info!("stopped accepting; draining in-flight requests");
    drain.send_replace(true);
    drop(live);
    tokio::select! {
        None = all_closed.recv() => tracing::info!("all connections drained"),
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
