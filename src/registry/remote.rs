//! Reading a registry over HTTP: the client of `modelwatch registry serve`, for model
//! servers and sidecars in other pods than the one that owns the registry home.
//!
//! The API (all `GET`, JSON errors `{"error": …}`):
//!
//! - `/v1/models/NAME/versions/REF`: the [`ModelVersion`] that `NAME@REF` resolves to (REF
//!   a version number, an alias, or `latest`). Validated by an `ETag` (a hash of the
//!   answer): a poll that sends it back in `If-None-Match` gets `304 Not Modified` and no
//!   body while the alias has not moved.
//! - `/v1/blobs/SHA256`: the bytes of a model version's artifact, profile or validation
//!   report (no other blob: datasets stay in the home). Immutable, so fetched once: the
//!   client keeps what it fetched in its cache directory (a [`BlobStore`] in the state
//!   directory) after checking that the bytes hash to the name it asked for.
//!
//! The last answer to each resolve is kept there too (`answers/`), so that a process
//! restarted while the registry is down starts from the version it last served, with a
//! warning (see [`super::source::ModelSource::resolve_at_start`]).
//!
//! Requests run on a short-lived thread of their own: the blocking HTTP client may not run
//! on an async runtime's threads, and the sidecar loads its references from one.

use super::blobs::{BlobHash, BlobStore};
use super::models::{ModelVersion, parse_model_spec};
use crate::exit::UsageError;
use anyhow::Context;
use reqwest::StatusCode;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

/// The header carrying a blob's SHA-256 (also its name and its `ETag`).
pub const CHECKSUM_HEADER: &str = "x-checksum-sha256";
/// The selector of `NAME` alone: its newest unarchived version.
pub const LATEST: &str = "latest";
/// How long one request may take, connecting included.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The path that resolves `name@reference`.
pub fn version_path(name: &str, reference: &str) -> String {
    format!("/v1/models/{name}/versions/{reference}")
}

/// The path of a blob.
pub fn blob_path(hash: &BlobHash) -> String {
    format!("/v1/blobs/{hash}")
}

/// The validator of an answer: a quoted hash of its bytes.
pub fn etag_of(body: &[u8]) -> String {
    format!("\"{}\"", BlobHash::of(body).prefix(32))
}

/// A registry behind `modelwatch registry serve`.
pub struct RemoteRegistry {
    base: String,
    token: Option<String>,
    client: reqwest::blocking::Client,
    cache: BlobStore,
    /// The last answer per `NAME/REF`, sent back as `If-None-Match`.
    answers: Mutex<HashMap<String, (String, ModelVersion)>>,
}

impl RemoteRegistry {
    /// A client of the registry at `url` (`http://HOST:PORT`, or `https://` checked
    /// against `ca_file`'s CA certificates, else the system's roots), caching blobs under
    /// `cache_dir`, which must be writable (a usage error naming it otherwise).
    pub fn new(
        url: &str,
        token: Option<String>,
        ca_file: Option<&Path>,
        cache_dir: &Path,
    ) -> anyhow::Result<Self> {
        let base = url.trim_end_matches('/').to_string();
        let parsed: Option<http::Uri> = base.parse().ok();
        let scheme = parsed
            .as_ref()
            .filter(|u| u.host().is_some())
            .and_then(|u| u.scheme_str());
        let https = match scheme {
            Some("http") => false,
            Some("https") => true,
            _ => {
                return Err(UsageError(format!(
                    "--registry-url {url:?} is not an http:// or https:// URL: give the \
                     address of `modelwatch registry serve`, e.g. http://registry:8070 (or \
                     https:// through your ingress, with --registry-ca-file for a private CA)"
                ))
                .into());
            }
        };
        if let (false, Some(ca_file)) = (https, ca_file) {
            return Err(UsageError(format!(
                "--registry-ca-file {} is set but --registry-url {url:?} is plain http://: \
                 use the registry's https:// address, or drop the CA file",
                ca_file.display()
            ))
            .into());
        }
        crate::config::state::ensure_writable(
            cache_dir,
            "the registry cache directory",
            "set --state-dir (or MODELWATCH_STATE_DIR) to a directory this process can write",
        )?;
        let tls = if https {
            crate::tls::client_config(ca_file, "--registry-ca-file", None)
                .map_err(|e| UsageError(format!("{e:#}")))?
        } else {
            // No trust store is loaded for plain HTTP, but the client wants its TLS named.
            crate::tls::plaintext_only()?
        };
        let client = off_runtime(|| {
            reqwest::blocking::Client::builder()
                .timeout(REQUEST_TIMEOUT)
                .tls_backend_preconfigured(tls)
                .build()
        })
        .context("could not build the registry's HTTP client")?;
        Ok(RemoteRegistry {
            base,
            token,
            client,
            cache: BlobStore::new(cache_dir),
            answers: Mutex::new(HashMap::new()),
        })
    }

    /// The registry's base URL.
    pub fn url(&self) -> &str {
        &self.base
    }

    /// What `spec` (`NAME@ALIAS`, `NAME@VERSION`, `NAME`) resolves to now. Cheap when
    /// nothing moved: the request is conditional and a `304` carries no body.
    pub fn resolve(&self, spec: &str) -> anyhow::Result<ModelVersion> {
        let (name, selector) = parse_model_spec(spec)?;
        let path = version_path(&name, selector.as_deref().unwrap_or(LATEST));
        let known = self.lock_answers().get(&path).cloned();
        let response = self.get(&path, known.as_ref().map(|(etag, _)| etag.as_str()))?;
        if response.status == StatusCode::NOT_MODIFIED
            && let Some((_, version)) = known
        {
            return Ok(version);
        }
        let response = self.accept(&path, response)?;
        let version: ModelVersion = serde_json::from_slice(&response.body)
            .with_context(|| format!("{}{path} did not answer a model version", self.base))?;
        if let Some(etag) = response.etag {
            self.keep_answer(&path, &etag, &version);
            self.lock_answers().insert(path, (etag, version.clone()));
        }
        Ok(version)
    }

    /// What `spec` resolved to when this cache last reached the registry, for a cold start
    /// while the registry is unreachable; its `ETag` primes the next conditional resolve,
    /// so catching up costs a `304` when nothing moved meanwhile.
    pub fn cached_resolve(&self, spec: &str) -> Option<ModelVersion> {
        let (name, selector) = parse_model_spec(spec).ok()?;
        let path = version_path(&name, selector.as_deref().unwrap_or(LATEST));
        let text = std::fs::read(self.answer_file(&path)).ok()?;
        let kept: KeptAnswer = serde_json::from_slice(&text).ok()?;
        self.lock_answers()
            .insert(path, (kept.etag, kept.version.clone()));
        Some(kept.version)
    }

    /// Where the last answer to `path` from this registry is kept across restarts.
    fn answer_file(&self, path: &str) -> PathBuf {
        let key = BlobHash::of(format!("{}{path}", self.base).as_bytes());
        self.cache
            .root()
            .join("answers")
            .join(format!("{}.json", key.prefix(32)))
    }

    /// Keeps an answer for [`RemoteRegistry::cached_resolve`] (written whole, then renamed
    /// into place). Best effort: without it only a cold start with the registry down fails.
    fn keep_answer(&self, path: &str, etag: &str, version: &ModelVersion) {
        let file = self.answer_file(path);
        let kept = KeptAnswer {
            etag: etag.to_string(),
            version: version.clone(),
        };
        let written = (|| -> std::io::Result<()> {
            std::fs::create_dir_all(file.parent().expect("answers/ is the parent"))?;
            let partial = file.with_extension("partial");
            std::fs::write(&partial, serde_json::to_vec(&kept)?)?;
            std::fs::rename(&partial, &file)
        })();
        if let Err(e) = written {
            tracing::warn!(file = %file.display(), error = %e, "could not keep the registry's answer");
        }
    }

    /// A blob's bytes, from the cache or fetched once and cached, verified against its
    /// hash either way.
    pub fn blob(&self, hash: &BlobHash) -> anyhow::Result<Vec<u8>> {
        if self.cache.contains(hash) {
            match self.cache.read(hash) {
                Ok(bytes) => return Ok(bytes),
                // Damaged in the cache: fetched again below, and replaced.
                Err(e) => tracing::warn!(error = %format!("{e:#}"), "fetching the blob again"),
            }
        }
        let path = blob_path(hash);
        let response = self.get(&path, None)?;
        let response = self.accept(&path, response)?;
        let actual = BlobHash::of(&response.body);
        anyhow::ensure!(
            &actual == hash,
            "{}{path} sent bytes that hash to {actual}, not {hash}: refused (a proxy or the \
             registry's disk damaged them)",
            self.base
        );
        let stored = self.cache.put_bytes(&response.body).with_context(|| {
            format!(
                "could not cache blob {hash} in {}",
                self.cache.root().display()
            )
        })?;
        debug_assert_eq!(&stored, hash);
        Ok(response.body)
    }

    fn lock_answers(&self) -> std::sync::MutexGuard<'_, HashMap<String, (String, ModelVersion)>> {
        self.answers.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn get(&self, path: &str, etag: Option<&str>) -> anyhow::Result<Fetched> {
        let url = format!("{}{path}", self.base);
        off_runtime(|| {
            let mut request = self.client.get(&url);
            if let Some(token) = &self.token {
                request = request.bearer_auth(token);
            }
            if let Some(etag) = etag {
                request = request.header(reqwest::header::IF_NONE_MATCH, etag);
            }
            let response = request.send()?;
            let status = response.status();
            let etag = response
                .headers()
                .get(reqwest::header::ETAG)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let body = response.bytes()?.to_vec();
            Ok::<_, reqwest::Error>(Fetched { status, etag, body })
        })
        .with_context(|| {
            let https = if url.starts_with("https://") {
                " (https: its certificate must be signed by a CA of --registry-ca-file, or of \
                 the system's roots without it)"
            } else {
                ""
            };
            format!("could not reach the registry at {url}{https}")
        })
    }

    /// `response` when it is a 200; otherwise an error saying what the registry said.
    fn accept(&self, path: &str, response: Fetched) -> anyhow::Result<Fetched> {
        if response.status == StatusCode::OK {
            return Ok(response);
        }
        let said = serde_json::from_slice::<serde_json::Value>(&response.body)
            .ok()
            .and_then(|v| v["error"].as_str().map(str::to_string))
            .unwrap_or_else(|| String::from_utf8_lossy(&response.body).into_owned());
        let message = format!(
            "the registry at {} answered {} to {path}: {said}",
            self.base, response.status
        );
        Err(match response.status {
            StatusCode::NOT_FOUND => UsageError(message).into(),
            StatusCode::UNAUTHORIZED => UsageError(format!(
                "{message}; give its token with --registry-token-file (or \
                 MODELWATCH_REGISTRY_TOKEN_FILE)"
            ))
            .into(),
            _ => anyhow::anyhow!(message),
        })
    }
}

/// A resolve's answer as kept in the cache directory.
#[derive(serde::Serialize, serde::Deserialize)]
struct KeptAnswer {
    etag: String,
    version: ModelVersion,
}

/// One answer, read whole.
struct Fetched {
    status: StatusCode,
    etag: Option<String>,
    body: Vec<u8>,
}

/// Runs `f` on a thread of its own, off any async runtime (see the module docs).
fn off_runtime<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("registry-client".into())
            .spawn_scoped(scope, f)
            .expect("could not start a thread for a registry request")
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}
