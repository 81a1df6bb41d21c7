//! `[admin]`: what the admin listener lets through, as Prometheus does it: state-changing
//! endpoints only when enabled, and an optional bearer token for everything but the probes.

use crate::exit::UsageError;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Access to the admin endpoints (`proxy.admin_listen`).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdminConfig {
    /// Allow the state-changing endpoints (`POST /-/reload`); off by default, they answer
    /// 403 (SIGHUP still reloads).
    pub enable_lifecycle: bool,
    /// A file holding a bearer token (surrounding whitespace ignored). When set, every
    /// admin endpoint except `/healthz` and `/readyz` (and `/metrics`, unless
    /// `protect_metrics`) needs `Authorization: Bearer <token>`, else 401.
    pub token_file: Option<PathBuf>,
    /// Ask for the token on `/metrics` too (the scraper then needs it: Prometheus's
    /// `authorization.credentials_file`).
    pub protect_metrics: bool,
}

impl AdminConfig {
    pub(crate) fn validate(&self, problems: &mut Vec<String>) {
        if self.protect_metrics && self.token_file.is_none() {
            problems.push(
                "admin.protect_metrics is on but admin.token_file is not set: name the file \
                 holding the token, or turn protect_metrics off"
                    .into(),
            );
        }
    }

    /// The token from `token_file`, read once at start; `None` without a file. A file
    /// that cannot be read or holds no token is a usage error naming the key.
    pub fn token(&self) -> Result<Option<String>, UsageError> {
        let Some(path) = &self.token_file else {
            return Ok(None);
        };
        crate::bearer::read_token_file(path, "admin.token_file", "the admin API token").map(Some)
    }
}
