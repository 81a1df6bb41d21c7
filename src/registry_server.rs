//! `modelwatch registry serve`: a read-only HTTP API over a registry home, so that model
//! servers and sidecars in other pods follow one registry (`--registry-url`) instead of
//! each training its own. The API is described in [`crate::registry::remote`], its client.
//!
//! Read-only: the home is opened as every reader opens it (it may be mounted read-only,
//! beside a pipeline that promotes), and nothing is written. Polling is cheap: a resolve
//! carries an `ETag` and a poll that sends it back gets `304` with no body; blobs are
//! immutable, named and checked by their SHA-256. With `--token-file` every `/v1/` request
//! needs `Authorization: Bearer <token>` (the probes `/healthz`, `/readyz` stay open).

use crate::bearer::BearerToken;
use crate::exit::UsageError;
use crate::registry::blobs::BlobHash;
use crate::registry::home::Home;
use crate::registry::remote::{CHECKSUM_HEADER, LATEST, etag_of};
use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::Full;
use serde_json::json;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

type Reply = Response<Full<Bytes>>;

/// What every request shares: the home (one connection kept for reuse) and the token.
struct Registry {
    root: PathBuf,
    kept: Mutex<Option<Home>>,
    token: Option<BearerToken>,
}

impl Registry {
    /// Runs `f` on a kept connection, or on a fresh one when the kept one is in use.
    fn with_home<T>(&self, f: impl FnOnce(&Home) -> anyhow::Result<T>) -> anyhow::Result<T> {
        let taken = self.kept.lock().unwrap_or_else(|e| e.into_inner()).take();
        let home = match taken {
            Some(home) => home,
            None => Home::open(&self.root)?,
        };
        let result = f(&home);
        *self.kept.lock().unwrap_or_else(|e| e.into_inner()) = Some(home);
        result
    }
}

/// Serves the home at `root` on `listen` until SIGINT or SIGTERM; with `token_file`,
/// every `/v1/` request needs the bearer token it holds.
pub fn run(root: &Path, listen: SocketAddr, token_file: Option<&Path>) -> anyhow::Result<()> {
    let token = token_file
        .map(|path| {
            crate::bearer::read_token_file(path, "--token-file", "the registry API's token")
        })
        .transpose()?;
    // Fails now, with the fix, when the home cannot be read.
    let first = Home::open(root)?;
    let registry = Arc::new(Registry {
        root: root.to_path_buf(),
        kept: Mutex::new(Some(first)),
        token: token.as_deref().map(BearerToken::new),
    });
    let guarded = registry.token.is_some();
    let announce = |addr| {
        eprintln!(
            "modelwatch registry serve: {} listening on http://{addr}{}",
            root.display(),
            if guarded {
                " (bearer token required)"
            } else {
                ""
            }
        )
    };
    crate::http_listener::run(
        "registry serve",
        listen,
        std::time::Duration::ZERO,
        announce,
        move |req| {
            let registry = registry.clone();
            async move {
                // SQLite reads and blob hashing block: off the async workers.
                tokio::task::spawn_blocking(move || handle(&registry, &req))
                    .await
                    .unwrap_or_else(|e| error(StatusCode::INTERNAL_SERVER_ERROR, e, json!({})))
            }
        },
    )
}

fn error(
    status: StatusCode,
    message: impl std::fmt::Display,
    mut fields: serde_json::Value,
) -> Reply {
    fields["error"] = json!(message.to_string());
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(fields.to_string())))
        .expect("static headers are valid")
}

/// Answers one request.
fn handle<B>(registry: &Registry, req: &Request<B>) -> Reply {
    let path = req.uri().path();
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return error(
            StatusCode::METHOD_NOT_ALLOWED,
            "the registry API is read-only: GET only",
            json!({}),
        );
    }
    match path {
        "/healthz" => return Response::new(Full::new(Bytes::from_static(b"ok\n"))),
        "/readyz" => {
            return match registry.with_home(|home| Ok(home.list_models(None)?.len())) {
                Ok(_) => Response::new(Full::new(Bytes::from_static(b"ready\n"))),
                Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, format!("{e:#}"), json!({})),
            };
        }
        _ => {}
    }
    if let Some(token) = &registry.token
        && token.check(req.headers()).is_err()
    {
        let mut reply = error(
            StatusCode::UNAUTHORIZED,
            "this registry needs `Authorization: Bearer <token>` (--registry-token-file)",
            json!({}),
        );
        reply.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Bearer"),
        );
        return reply;
    }
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match segments.as_slice() {
        ["v1", "models", name, "versions", reference] => resolve(registry, req, name, reference),
        ["v1", "blobs", hash] => blob(registry, req, hash),
        _ => error(
            StatusCode::NOT_FOUND,
            format!(
                "no such endpoint {path}: GET /v1/models/NAME/versions/REF or /v1/blobs/SHA256"
            ),
            json!({}),
        ),
    }
}

fn if_none_match<B>(req: &Request<B>, etag: &str) -> bool {
    req.headers()
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|v| v.trim() == etag || v.trim() == "*")
}

fn not_modified(etag: &str) -> Reply {
    Response::builder()
        .status(StatusCode::NOT_MODIFIED)
        .header(header::ETAG, etag)
        .body(Full::new(Bytes::new()))
        .expect("an etag is a valid header")
}

fn resolve<B>(registry: &Registry, req: &Request<B>, name: &str, reference: &str) -> Reply {
    let spec = if reference == LATEST {
        name.to_string()
    } else {
        format!("{name}@{reference}")
    };
    let found = registry.with_home(|home| {
        if home.list_models(Some(name))?.is_empty() {
            return Ok(None);
        }
        home.resolve_model(&spec).map(Some)
    });
    let version = match found {
        Ok(Some(version)) => version,
        Ok(None) => {
            return error(
                StatusCode::NOT_FOUND,
                format!("no model named {name:?} in this registry"),
                json!({"model": name}),
            );
        }
        Err(e) if e.downcast_ref::<UsageError>().is_some() => {
            return error(
                StatusCode::NOT_FOUND,
                format!("{e:#}"),
                json!({"model": name, "ref": reference}),
            );
        }
        Err(e) => {
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("{e:#}"),
                json!({}),
            );
        }
    };
    let body = serde_json::to_vec(&version).expect("a model version serializes");
    let etag = etag_of(&body);
    if if_none_match(req, &etag) {
        return not_modified(&etag);
    }
    Response::builder()
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::ETAG, &etag)
        // Aliases move: a cache must ask again each time (cheaply, with the ETag).
        .header(header::CACHE_CONTROL, "no-cache")
        .body(Full::new(Bytes::from(body)))
        .expect("an etag is a valid header")
}

fn blob<B>(registry: &Registry, req: &Request<B>, hash: &str) -> Reply {
    let Ok(hash) = BlobHash::parse(hash) else {
        return error(
            StatusCode::NOT_FOUND,
            format!("{hash:?} is not a sha256: blobs are named by 64 hex digits"),
            json!({"blob": hash}),
        );
    };
    let etag = format!("\"{hash}\"");
    let read = registry.with_home(|home| {
        if !home.is_model_blob(&hash)? {
            return Ok(None);
        }
        home.blobs().read(&hash).map(Some)
    });
    let bytes = match read {
        Ok(Some(bytes)) => bytes,
        Ok(None) => {
            return error(
                StatusCode::NOT_FOUND,
                format!("blob {hash} is no model version's artifact, profile or report"),
                json!({"blob": hash.as_str()}),
            );
        }
        Err(e) => {
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("{e:#}"),
                json!({"blob": hash.as_str()}),
            );
        }
    };
    if if_none_match(req, &etag) {
        return not_modified(&etag);
    }
    Response::builder()
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .header(header::ETAG, &etag)
        .header(CHECKSUM_HEADER, hash.as_str())
        .header(header::CACHE_CONTROL, "public, max-age=31536000, immutable")
        .body(Full::new(Bytes::from(bytes)))
        .expect("a hash is a valid header")
}
