//! A plain HTTP front in front of the real OpenSearch node that refuses requests the way a
//! cluster or the proxy before it would, while the test says so: 401/403 for revoked
//! credentials, 413 for bodies over a size (nginx's `client_max_body_size`), 429/503 with
//! `Retry-After`, or a 200 whose body is not a bulk answer. Everything else is forwarded
//! to the node unchanged, so deliveries, 409 duplicates and per-item answers are real.
//!
//! A stand-in only for what cannot run here: the node's security plugin (which would
//! answer 401/403 itself) is not among the jars the test node is built from.

use crate::support::client;
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::net::TcpListener;

/// How the front answers, until the test changes it.
#[derive(Clone, Debug)]
pub enum Fault {
    /// Forward every request.
    None,
    /// Answer every request (any path) with this status, as a cluster that no longer
    /// accepts the sidecar's credentials.
    Refuse(u16),
    /// Answer `_bulk` requests whose body is over this many bytes with 413.
    MaxBody(usize),
    /// Answer the next `times` `_bulk` requests with `status` and `Retry-After: value`.
    RetryAfter {
        status: u16,
        value: String,
        times: usize,
    },
    /// Forward the next `times` `_bulk` requests, then replace the node's answer with a
    /// 200 that is not a bulk answer (the events *are* stored).
    Garble { times: usize },
}

/// One `_bulk` request the front saw.
#[derive(Clone, Debug)]
pub struct BulkSeen {
    pub at: Instant,
    pub bytes: usize,
    /// Events in it (action lines).
    pub events: usize,
    /// What the front answered.
    pub status: u16,
}

#[derive(Debug)]
struct State {
    fault: Fault,
    bulks: Vec<BulkSeen>,
    /// Requests of any path refused by `Fault::Refuse`.
    refused: usize,
}

/// A running front; it stops when dropped.
pub struct FaultFront {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

impl FaultFront {
    /// Starts a front for `backend` (`http://HOST:PORT`) with no fault.
    pub async fn start(backend: &str) -> FaultFront {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(State {
            fault: Fault::None,
            bulks: Vec::new(),
            refused: 0,
        }));
        let shared = state.clone();
        let backend = backend.trim_end_matches('/').to_string();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let (state, backend) = (shared.clone(), backend.clone());
                tokio::spawn(async move {
                    let service = service_fn(move |req: Request<Incoming>| {
                        let (state, backend) = (state.clone(), backend.clone());
                        async move { Ok::<_, Infallible>(answer(req, &backend, &state).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        FaultFront { addr, state, task }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn set(&self, fault: Fault) {
        self.state.lock().unwrap().fault = fault;
    }

    /// The `_bulk` requests seen so far, in order.
    pub fn bulks(&self) -> Vec<BulkSeen> {
        self.state.lock().unwrap().bulks.clone()
    }

    /// Requests answered by `Fault::Refuse` so far.
    pub fn refused(&self) -> usize {
        self.state.lock().unwrap().refused
    }
}

impl Drop for FaultFront {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn status_only(status: u16, retry_after: Option<&str>, body: &str) -> Response<Full<Bytes>> {
    let mut response = Response::builder()
        .status(status)
        .header("content-type", "application/json");
    if let Some(value) = retry_after {
        response = response.header("retry-after", value);
    }
    response
        .body(Full::new(Bytes::copy_from_slice(body.as_bytes())))
        .unwrap()
}

async fn answer(
    req: Request<Incoming>,
    backend: &str,
    state: &Mutex<State>,
) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    let is_bulk = parts.uri.path() == "/_bulk";
    // Decide under the lock, forward without it.
    let (refusal, garble) = {
        let mut state = state.lock().unwrap();
        let refusal = match &mut state.fault {
            Fault::None | Fault::Garble { .. } => None,
            Fault::Refuse(status) => Some((*status, None)),
            Fault::MaxBody(max) => (is_bulk && body.len() > *max).then_some((413, None)),
            Fault::RetryAfter {
                status,
                value,
                times,
            } if is_bulk && *times > 0 => {
                *times -= 1;
                Some((*status, Some(value.clone())))
            }
            Fault::RetryAfter { .. } => None,
        };
        let garble = match &mut state.fault {
            Fault::Garble { times } if is_bulk && *times > 0 => {
                *times -= 1;
                true
            }
            _ => false,
        };
        if matches!(state.fault, Fault::Refuse(_)) {
            state.refused += 1;
        }
        (refusal, garble)
    };
    let response = match refusal {
        Some((status, retry_after)) => status_only(
            status,
            retry_after.as_deref(),
            &format!(r#"{{"error":"refused by the test's front","status":{status}}}"#),
        ),
        None => {
            let forwarded = client::relay(&parts, body.clone(), backend).await;
            if garble {
                status_only(200, None, "<html>502 Bad Gateway</html>")
            } else {
                forwarded
            }
        }
    };
    if is_bulk {
        let events = body
            .split(|b| *b == b'\n')
            .filter(|line| line.starts_with(b"{\"create\""))
            .count();
        state.lock().unwrap().bulks.push(BulkSeen {
            at: Instant::now(),
            bytes: body.len(),
            events,
            status: response.status().as_u16(),
        });
    }
    response
}
