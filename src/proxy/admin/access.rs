//! Who may use which admin endpoint: the probes are always open, `/metrics` unless
//! `admin.protect_metrics`, everything else needs the bearer token of `admin.token_file`
//! when one is set, and the state-changing (lifecycle) endpoints also need
//! `admin.enable_lifecycle`. Refusals are counted in
//! `modelwatch_admin_refusals_total{reason}`.

use crate::bearer::{BearerToken, TokenRefusal};
use crate::config::admin::AdminConfig;
use http::HeaderMap;
use prometheus::{IntCounterVec, Opts, Registry};

/// Why a request was refused: the `reason` label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// No `Authorization: Bearer …` on a protected endpoint (401).
    MissingToken,
    /// A bearer token that is not the configured one (401).
    WrongToken,
    /// A lifecycle endpoint while `admin.enable_lifecycle` is off (403).
    LifecycleDisabled,
}

impl Refusal {
    pub const ALL: [Refusal; 3] = [
        Refusal::MissingToken,
        Refusal::WrongToken,
        Refusal::LifecycleDisabled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::MissingToken => "missing_token",
            Refusal::WrongToken => "wrong_token",
            Refusal::LifecycleDisabled => "lifecycle_disabled",
        }
    }
}

/// Endpoints that change the sidecar's state: `POST /-/reload` and any later `/-/…`.
pub fn is_lifecycle(path: &str) -> bool {
    path.starts_with("/-/")
}

/// The admin listener's access rules, built once at start.
pub struct AdminAccess {
    enable_lifecycle: bool,
    protect_metrics: bool,
    /// Compared in constant time (see [`crate::bearer`]).
    token: Option<BearerToken>,
    refusals: IntCounterVec,
}

impl AdminAccess {
    /// Reads `admin.token_file` (a usage error when unreadable or empty) and registers the
    /// refusal counter.
    pub fn new(config: &AdminConfig, registry: &Registry) -> anyhow::Result<Self> {
        let token = config.token()?;
        let refusals = IntCounterVec::new(
            Opts::new(
                "modelwatch_admin_refusals_total",
                "Admin API requests refused, by reason (missing_token, wrong_token, \
                 lifecycle_disabled).",
            ),
            &["reason"],
        )?;
        registry.register(Box::new(refusals.clone()))?;
        for reason in Refusal::ALL {
            refusals.with_label_values(&[reason.as_str()]);
        }
        Ok(Self {
            enable_lifecycle: config.enable_lifecycle,
            protect_metrics: config.protect_metrics,
            token: token.as_deref().map(BearerToken::new),
            refusals,
        })
    }

    /// Whether a request for `path` with `headers` may go on; a refusal is counted.
    pub fn check(&self, path: &str, headers: &HeaderMap) -> Result<(), Refusal> {
        let verdict = self.verdict(path, headers);
        if let Err(refusal) = verdict {
            self.refusals.with_label_values(&[refusal.as_str()]).inc();
        }
        verdict
    }

    fn verdict(&self, path: &str, headers: &HeaderMap) -> Result<(), Refusal> {
        let open =
            matches!(path, "/healthz" | "/readyz") || (path == "/metrics" && !self.protect_metrics);
        if !open && let Some(token) = &self.token {
            token.check(headers).map_err(|refusal| match refusal {
                TokenRefusal::Missing => Refusal::MissingToken,
                TokenRefusal::Wrong => Refusal::WrongToken,
            })?;
        }
        if is_lifecycle(path) && !self.enable_lifecycle {
            return Err(Refusal::LifecycleDisabled);
        }
        Ok(())
    }
}
