//! Where model versions come from: a registry home on this machine, or a registry served
//! over HTTP by `modelwatch registry serve` (`--registry-url`). `serve` and the sidecar's
//! reference follower use one [`ModelSource`] and one [`AliasWatch`] for both, so they
//! follow promotions and rollbacks with the same semantics either way.

use super::home::Home;
use super::models::ModelVersion;
use super::remote::RemoteRegistry;
use crate::profile::Profile;
use std::path::PathBuf;
use std::sync::Arc;

/// A registry to read model versions from.
#[derive(Clone)]
pub enum ModelSource {
    /// A home directory (`--home`, `MODELWATCH_HOME`), possibly mounted read-only.
    Home(PathBuf),
    /// `modelwatch registry serve` at `--registry-url`.
    Remote(Arc<RemoteRegistry>),
}

impl ModelSource {
    /// The home at `home`, or the registry at `url` when one is given (with its bearer
    /// token, read from `token_file`; an `https://` registry's certificate checked against
    /// `ca_file`, else the system's roots; fetched blobs cached under `state_dir`).
    pub fn new(
        home: PathBuf,
        url: Option<&str>,
        token_file: Option<&std::path::Path>,
        ca_file: Option<&std::path::Path>,
        state_dir: &std::path::Path,
    ) -> anyhow::Result<ModelSource> {
        let Some(url) = url else {
            return Ok(ModelSource::Home(home));
        };
        let token = token_file
            .map(|path| {
                crate::bearer::read_token_file(
                    path,
                    "--registry-token-file",
                    "the token of `modelwatch registry serve`",
                )
            })
            .transpose()?;
        let cache = state_dir.join("registry-cache");
        Ok(ModelSource::Remote(Arc::new(RemoteRegistry::new(
            url, token, ca_file, &cache,
        )?)))
    }

    /// Where it is, for messages.
    pub fn describe(&self) -> String {
        match self {
            ModelSource::Home(home) => home.display().to_string(),
            ModelSource::Remote(remote) => remote.url().to_string(),
        }
    }

    /// What `spec` resolves to now.
    pub fn resolve(&self, spec: &str) -> anyhow::Result<ModelVersion> {
        match self {
            ModelSource::Home(home) => Home::open(home)?.resolve_model(spec),
            ModelSource::Remote(remote) => remote.resolve(spec),
        }
    }

    /// `version`'s reference profile, verified by its hash.
    pub fn profile(&self, version: &ModelVersion) -> anyhow::Result<Profile> {
        match self {
            ModelSource::Home(home) => {
                let home = Home::open(home)?;
                version.read_profile(|hash| home.blobs().read(hash))
            }
            ModelSource::Remote(remote) => version.read_profile(|hash| remote.blob(hash)),
        }
    }

    /// `version`'s artifact bytes, verified by their hash.
    pub fn artifact_bytes(&self, version: &ModelVersion) -> anyhow::Result<Vec<u8>> {
        match self {
            ModelSource::Home(home) => Home::open(home)?.model_artifact_bytes(version),
            ModelSource::Remote(remote) => version.artifact_bytes(|hash| remote.blob(hash)),
        }
    }

    /// What `spec` resolves to, at a process's start: like [`ModelSource::resolve`], but
    /// when a remote registry cannot be reached (no answer, or a 5xx; not a 404 or 401) and
    /// its last answer is cached in the state directory, that answer, with a warning to
    /// show. The caller's poll then follows the registry once it answers again.
    pub fn resolve_at_start(&self, spec: &str) -> anyhow::Result<(ModelVersion, Option<String>)> {
        let ModelSource::Remote(remote) = self else {
            return Ok((self.resolve(spec)?, None));
        };
        match remote.resolve(spec) {
            Ok(version) => Ok((version, None)),
            Err(e) if e.downcast_ref::<crate::exit::UsageError>().is_some() => Err(e),
            Err(e) => match remote.cached_resolve(spec) {
                Some(version) => {
                    let warning = format!(
                        "starting from {spec} = version {} as last resolved (cached in the \
                         state directory), since the registry cannot be reached; following it \
                         once it answers: {e:#}",
                        version.version
                    );
                    Ok((version, Some(warning)))
                }
                None => Err(e),
            },
        }
    }

    /// The version `spec` resolves to and its profile.
    pub fn model_profile(&self, spec: &str) -> anyhow::Result<(ModelVersion, Profile)> {
        let version = self.resolve(spec)?;
        let profile = self.profile(&version)?;
        Ok((version, profile))
    }

    /// [`ModelSource::model_profile`] at a process's start: from the cache, with a warning,
    /// when the registry cannot be reached ([`ModelSource::resolve_at_start`]).
    pub fn model_profile_at_start(
        &self,
        spec: &str,
    ) -> anyhow::Result<(ModelVersion, Profile, Option<String>)> {
        let (version, warning) = self.resolve_at_start(spec)?;
        let profile = self.profile(&version)?;
        Ok((version, profile, warning))
    }
}

/// Polling a [`ModelSource`] for moved aliases, cheaply when nothing moved: a home stays
/// open between polls and SQLite's `PRAGMA data_version` (which changes only when another
/// connection commits) says whether anything was written since the last settled look; a
/// remote registry answers each conditional resolve with a bodiless `304`.
pub struct AliasWatch {
    source: ModelSource,
    home: Option<Home>,
    /// `data_version` at the last [`AliasWatch::settle`], and at the last look.
    settled: Option<i64>,
    seen: Option<i64>,
}

impl AliasWatch {
    pub fn new(source: ModelSource) -> AliasWatch {
        AliasWatch {
            source,
            home: None,
            settled: None,
            seen: None,
        }
    }

    pub fn source(&self) -> &ModelSource {
        &self.source
    }

    /// False when the registry certainly has not changed since the last settled look
    /// (a home's `data_version`); true when its aliases must be resolved again.
    pub fn changed(&mut self) -> anyhow::Result<bool> {
        let ModelSource::Home(root) = &self.source else {
            return Ok(true);
        };
        let home = match &mut self.home {
            Some(home) => home,
            slot @ None => slot.insert(Home::open(root)?),
        };
        let data_version: i64 = home
            .conn()
            .query_row("PRAGMA data_version", [], |row| row.get(0))?;
        self.seen = Some(data_version);
        Ok(self.settled != Some(data_version))
    }

    /// What `spec` resolves to now (after [`AliasWatch::changed`] said to look).
    pub fn resolve(&mut self, spec: &str) -> anyhow::Result<ModelVersion> {
        match (&self.source, &self.home) {
            (ModelSource::Home(_), Some(home)) => home.resolve_model(spec),
            (source, _) => source.resolve(spec),
        }
    }

    /// What was resolved since the last [`AliasWatch::changed`] has been acted on: the
    /// next poll may skip resolving until something else is committed.
    pub fn settle(&mut self) {
        self.settled = self.seen;
    }

    /// Forgets the open home (after an error: the registry may have been replaced).
    pub fn reset(&mut self) {
        self.home = None;
        self.settled = None;
        self.seen = None;
    }
}
