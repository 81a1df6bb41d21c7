//! Model versions, aliases (`production`, `staging`, …) and their history.
//!
//! A version is a number per model name (1, 2, 3…), assigned inside one `IMMEDIATE`
//! transaction so concurrent registrations never reuse a number. Its bytes (artifact,
//! reference profile, validation report) go to the blob store *before* the row is
//! inserted: a process killed in between leaves an unreferenced blob, never a row that
//! points at nothing. The same artifact registered twice under one name returns the
//! existing version (the artifact hash is unique per name).
//!
//! Aliases keep an append-only event log (`promote`, `rollback`); replaying it as a stack
//! gives where `rollback` moves an alias back to.

use super::blobs::BlobHash;
use super::home::Home;
use super::migrations::{Component, Migration};
use super::names;
use crate::exit::UsageError;
use crate::profile::Profile;
use anyhow::Context;
use rusqlite::{OptionalExtension, Row, Transaction, params};
use serde::{Deserialize, Serialize};

/// The tables of the models component.
pub const COMPONENT: Component = Component {
    name: "models",
    migrations: &[Migration {
        version: 1,
        description: "model versions, aliases and alias history",
        sql: "CREATE TABLE model_versions (
            name            TEXT    NOT NULL,
            version         INTEGER NOT NULL,
            artifact_sha256 TEXT    NOT NULL,
            profile_sha256  TEXT,
            report_sha256   TEXT,
            dataset         TEXT    NOT NULL,
            params_json     TEXT    NOT NULL,
            metrics_json    TEXT    NOT NULL,
            code_version    TEXT    NOT NULL,
            author          TEXT    NOT NULL,
            created_at      TEXT    NOT NULL,
            archived_at     TEXT,
            PRIMARY KEY (name, version),
            UNIQUE (name, artifact_sha256)
        );
        CREATE TABLE model_aliases (
            name       TEXT    NOT NULL,
            alias      TEXT    NOT NULL,
            version    INTEGER NOT NULL,
            updated_at TEXT    NOT NULL,
            PRIMARY KEY (name, alias),
            FOREIGN KEY (name, version) REFERENCES model_versions (name, version)
        );
        CREATE TABLE model_alias_events (
            seq     INTEGER PRIMARY KEY AUTOINCREMENT,
            name    TEXT    NOT NULL,
            alias   TEXT    NOT NULL,
            action  TEXT    NOT NULL,
            version INTEGER NOT NULL,
            author  TEXT    NOT NULL,
            at      TEXT    NOT NULL
        );",
    }],
};

impl ModelVersion {
    /// The artifact's bytes, as `read` gives them for its hash (a home's blob store, or a
    /// remote registry), which verifies them. `train::model::ModelArtifact` decodes them:
    /// the registry stores artifacts without knowing their format.
    pub fn artifact_bytes(
        &self,
        read: impl FnOnce(&BlobHash) -> anyhow::Result<Vec<u8>>,
    ) -> anyhow::Result<Vec<u8>> {
        read(&self.artifact_sha256).with_context(|| {
            format!(
                "refusing the artifact of {}: it does not match its registered sha256",
                self.spec()
            )
        })
    }

    /// Decodes the reference profile from the bytes `read` gives for its hash.
    pub fn read_profile(
        &self,
        read: impl FnOnce(&BlobHash) -> anyhow::Result<Vec<u8>>,
    ) -> anyhow::Result<Profile> {
        let hash = self.profile_sha256.as_ref().with_context(|| {
            format!("{} was registered without a reference profile", self.spec())
        })?;
        let bytes =
            read(hash).with_context(|| format!("the reference profile of {}", self.spec()))?;
        Profile::from_json(&bytes)
            .with_context(|| format!("the reference profile of {}", self.spec()))
    }
}

/// One registered model version.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelVersion {
    pub name: String,
    pub version: u32,
    pub artifact_sha256: BlobHash,
    /// Reference profile (training features + holdout predictions) for drift monitoring.
    pub profile_sha256: Option<BlobHash>,
    /// The JSON validation report.
    pub report_sha256: Option<BlobHash>,
    /// `NAME@VERSION` of the training dataset.
    pub dataset: String,
    /// Training configuration (seed included).
    pub params: serde_json::Value,
    /// Holdout and cross-validation metrics.
    pub metrics: serde_json::Value,
    /// `git rev-parse HEAD` where registration ran, or `unknown`.
    pub code_version: String,
    pub author: String,
    pub created_at: String,
    pub archived_at: Option<String>,
    /// Aliases pointing at this version now.
    pub aliases: Vec<String>,
}

impl ModelVersion {
    /// `NAME@VERSION`.
    pub fn spec(&self) -> String {
        format!("{}@{}", self.name, self.version)
    }
}

/// What registration stores.
pub struct NewModelVersion<'a> {
    pub name: &'a str,
    /// The encoded artifact (`train::model::ModelArtifact::to_bytes`).
    pub artifact: &'a [u8],
    /// `NAME@VERSION` of the dataset it was trained on.
    pub dataset: &'a str,
    /// The training parameters, as JSON.
    pub params: serde_json::Value,
    pub profile: Option<&'a [u8]>,
    pub report: Option<&'a [u8]>,
    pub metrics: serde_json::Value,
}

/// One alias move, as `registry show` lists it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AliasEvent {
    pub alias: String,
    pub action: String,
    pub version: u32,
    pub author: String,
    pub at: String,
}

/// `NAME@VERSION` or `NAME@ALIAS`; `NAME` alone is the latest unarchived version.
pub fn parse_model_spec(spec: &str) -> Result<(String, Option<String>), UsageError> {
    let (name, selector) = match spec.split_once('@') {
        Some((n, s)) if !s.is_empty() => (n, Some(s.to_string())),
        Some(_) => {
            return Err(UsageError(format!(
                "{spec:?}: nothing after '@'; write NAME@VERSION or NAME@ALIAS (e.g. credit@production)"
            )));
        }
        None => (spec, None),
    };
    names::validate("model name", name)?;
    Ok((name.to_string(), selector))
}

const COLUMNS: &str = "name, version, artifact_sha256, profile_sha256, report_sha256, dataset, \
    params_json, metrics_json, code_version, author, created_at, archived_at";

fn from_row(row: &Row<'_>) -> rusqlite::Result<ModelVersion> {
    let hash = |i: usize| -> rusqlite::Result<Option<BlobHash>> {
        let s: Option<String> = row.get(i)?;
        Ok(s.and_then(|s| BlobHash::parse(&s).ok()))
    };
    let json = |i: usize| -> rusqlite::Result<serde_json::Value> {
        let s: String = row.get(i)?;
        Ok(serde_json::from_str(&s).unwrap_or(serde_json::Value::Null))
    };
    let artifact: String = row.get(2)?;
    Ok(ModelVersion {
        name: row.get(0)?,
        version: row.get(1)?,
        artifact_sha256: BlobHash::parse(&artifact).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(2, rusqlite::types::Type::Text, e.into())
        })?,
        profile_sha256: hash(3)?,
        report_sha256: hash(4)?,
        dataset: row.get(5)?,
        params: json(6)?,
        metrics: json(7)?,
        code_version: row.get(8)?,
        author: row.get(9)?,
        created_at: row.get(10)?,
        archived_at: row.get(11)?,
        aliases: Vec::new(),
    })
}

/// The git commit of the working directory, or `unknown` outside a repository.
pub fn code_version() -> String {
    std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

/// Who registers: `$USER`, or `unknown`.
pub fn author() -> String {
    std::env::var("USER")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

fn alias_names(
    tx: &rusqlite::Connection,
    name: &str,
    version: u32,
) -> rusqlite::Result<Vec<String>> {
    let mut stmt = tx.prepare_cached(
        "SELECT alias FROM model_aliases WHERE name = ?1 AND version = ?2 ORDER BY alias",
    )?;
    stmt.query_map(params![name, version], |r| r.get(0))?
        .collect()
}

impl Home {
    /// Registers a model version, or returns the version that already holds this exact
    /// artifact under `name` (`created == false`).
    pub fn register_model(
        &mut self,
        new: &NewModelVersion<'_>,
    ) -> anyhow::Result<(ModelVersion, bool)> {
        names::validate("model name", new.name)?;
        // Bytes first: a crash after this leaves only unreferenced blobs.
        let artifact = self.blobs().put_bytes(new.artifact)?;
        let profile = new.profile.map(|b| self.blobs().put_bytes(b)).transpose()?;
        let report = new.report.map(|b| self.blobs().put_bytes(b)).transpose()?;
        let params = serde_json::to_string(&new.params)?;
        let metrics = serde_json::to_string(&new.metrics)?;
        let (code, who) = (code_version(), author());
        let (version, created) = self.write(|tx| {
            let existing: Option<u32> = tx
                .query_row(
                    "SELECT version FROM model_versions WHERE name = ?1 AND artifact_sha256 = ?2",
                    params![new.name, artifact.as_str()],
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(v) = existing {
                return Ok((v, false));
            }
            let next: u32 = tx.query_row(
                "SELECT COALESCE(MAX(version), 0) + 1 FROM model_versions WHERE name = ?1",
                params![new.name],
                |r| r.get(0),
            )?;
            tx.execute(
                &format!("INSERT INTO model_versions ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, NULL)"),
                params![
                    new.name,
                    next,
                    artifact.as_str(),
                    profile.as_ref().map(|h| h.as_str()),
                    report.as_ref().map(|h| h.as_str()),
                    new.dataset,
                    params,
                    metrics,
                    code,
                    who,
                    super::datasets::now_rfc3339(),
                ],
            )?;
            Ok((next, true))
        })?;
        Ok((self.model_version(new.name, version)?, created))
    }

    /// One version by number.
    pub fn model_version(&self, name: &str, version: u32) -> anyhow::Result<ModelVersion> {
        let conn = self.conn();
        let found = conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM model_versions WHERE name = ?1 AND version = ?2"),
                params![name, version],
                from_row,
            )
            .optional()?;
        let Some(mut v) = found else {
            return Err(self.unknown_version(name, &version.to_string())?.into());
        };
        v.aliases = alias_names(conn, name, version)?;
        Ok(v)
    }

    fn unknown_version(&self, name: &str, selector: &str) -> anyhow::Result<UsageError> {
        let versions = self.list_models(Some(name))?;
        Ok(if versions.is_empty() {
            UsageError(format!(
                "no model named {name:?} is registered: run `modelwatch pipeline run` or \
                 `modelwatch registry register` first (see `modelwatch registry list`)"
            ))
        } else {
            let known: Vec<String> = versions.iter().map(|v| v.version.to_string()).collect();
            UsageError(format!(
                "model {name:?} has no version or alias {selector:?}; versions: {}",
                known.join(", ")
            ))
        })
    }

    /// Resolves `NAME`, `NAME@VERSION` or `NAME@ALIAS`.
    pub fn resolve_model(&self, spec: &str) -> anyhow::Result<ModelVersion> {
        let (name, selector) = parse_model_spec(spec)?;
        let version: Option<u32> = match &selector {
            None => self.conn().query_row(
                "SELECT MAX(version) FROM model_versions WHERE name = ?1 AND archived_at IS NULL",
                params![name],
                |r| r.get(0),
            )?,
            Some(s) => match s.parse::<u32>() {
                Ok(v) => Some(v),
                Err(_) => self
                    .conn()
                    .query_row(
                        "SELECT version FROM model_aliases WHERE name = ?1 AND alias = ?2",
                        params![name, s],
                        |r| r.get(0),
                    )
                    .optional()?,
            },
        };
        match version {
            Some(v) => self.model_version(&name, v),
            None => Err(self
                .unknown_version(&name, selector.as_deref().unwrap_or("latest"))?
                .into()),
        }
    }

    /// A version's artifact bytes, refused when they no longer match the registered hash.
    pub fn model_artifact_bytes(&self, version: &ModelVersion) -> anyhow::Result<Vec<u8>> {
        version.artifact_bytes(|hash| self.blobs().read(hash))
    }

    /// The reference profile of `NAME@VERSION` or `NAME@ALIAS`, verified by its hash: what
    /// the sidecar and `modelwatch drift` compare live traffic with.
    pub fn model_profile(&self, spec: &str) -> anyhow::Result<(ModelVersion, Profile)> {
        let version = self.resolve_model(spec)?;
        let profile = version.read_profile(|hash| self.blobs().read(hash))?;
        Ok((version, profile))
    }

    /// Whether `hash` is the artifact, profile or report of some model version: the blobs
    /// a registry server hands out (datasets stay in the home).
    pub fn is_model_blob(&self, hash: &BlobHash) -> anyhow::Result<bool> {
        Ok(self.conn().query_row(
            "SELECT EXISTS (SELECT 1 FROM model_versions WHERE artifact_sha256 = ?1 \
             OR profile_sha256 = ?1 OR report_sha256 = ?1)",
            params![hash.as_str()],
            |row| row.get(0),
        )?)
    }

    /// Every version (of one model, or of all), oldest first.
    pub fn list_models(&self, name: Option<&str>) -> anyhow::Result<Vec<ModelVersion>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT {COLUMNS} FROM model_versions WHERE ?1 IS NULL OR name = ?1 ORDER BY name, version"
        ))?;
        let mut versions: Vec<ModelVersion> = stmt
            .query_map(params![name], from_row)?
            .collect::<rusqlite::Result<_>>()?;
        for v in &mut versions {
            v.aliases = alias_names(conn, &v.name, v.version)?;
        }
        Ok(versions)
    }

    /// Points `alias` at `NAME@VERSION`.
    pub fn promote_model(&mut self, spec: &str, alias: &str) -> anyhow::Result<ModelVersion> {
        check_alias(alias)?;
        let target = self.resolve_model(spec)?;
        if let Some(at) = &target.archived_at {
            return Err(UsageError(format!(
                "{} was archived at {at}: archived versions cannot be promoted",
                target.spec()
            ))
            .into());
        }
        self.write(|tx| set_alias(tx, &target.name, alias, target.version, "promote"))?;
        self.model_version(&target.name, target.version)
    }

    /// Moves `alias` back to the version it pointed at before the last promotion.
    pub fn rollback_model(&mut self, name: &str, alias: &str) -> anyhow::Result<ModelVersion> {
        check_alias(alias)?;
        names::validate("model name", name)?;
        let version = self.write(|tx| {
            let stack = alias_stack(tx, name, alias)?;
            if stack.len() < 2 {
                return Err(UsageError(format!(
                    "{name}@{alias} has no earlier version to roll back to (history: {})",
                    if stack.is_empty() {
                        "empty".to_string()
                    } else {
                        format!("{stack:?}")
                    }
                ))
                .into());
            }
            let previous = stack[stack.len() - 2];
            set_alias(tx, name, alias, previous, "rollback")?;
            Ok(previous)
        })?;
        self.model_version(name, version)
    }

    /// Marks a version archived; it stays readable but can no longer be promoted.
    pub fn archive_model(&mut self, spec: &str) -> anyhow::Result<ModelVersion> {
        let target = self.resolve_model(spec)?;
        if !target.aliases.is_empty() {
            return Err(UsageError(format!(
                "{} is still {}: promote another version first",
                target.spec(),
                target.aliases.join(", ")
            ))
            .into());
        }
        self.write(|tx| {
            tx.execute(
                "UPDATE model_versions SET archived_at = ?3 WHERE name = ?1 AND version = ?2 AND archived_at IS NULL",
                params![target.name, target.version, super::datasets::now_rfc3339()],
            )?;
            Ok(())
        })?;
        self.model_version(&target.name, target.version)
    }

    /// The alias moves of one model, oldest first.
    pub fn alias_history(&self, name: &str) -> anyhow::Result<Vec<AliasEvent>> {
        let mut stmt = self.conn().prepare(
            "SELECT alias, action, version, author, at FROM model_alias_events WHERE name = ?1 ORDER BY seq",
        )?;
        let events = stmt
            .query_map(params![name], |r| {
                Ok(AliasEvent {
                    alias: r.get(0)?,
                    action: r.get(1)?,
                    version: r.get(2)?,
                    author: r.get(3)?,
                    at: r.get(4)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(events)
    }
}

fn check_alias(alias: &str) -> Result<(), UsageError> {
    names::validate("alias", alias)?;
    if alias.parse::<u32>().is_ok() {
        return Err(UsageError(format!(
            "alias {alias:?} is a number and would read as a version: choose a word such as production"
        )));
    }
    Ok(())
}

/// Replays the alias events: a promotion pushes, a rollback pops.
fn alias_stack(tx: &Transaction<'_>, name: &str, alias: &str) -> anyhow::Result<Vec<u32>> {
    let mut stmt = tx.prepare(
        "SELECT action, version FROM model_alias_events WHERE name = ?1 AND alias = ?2 ORDER BY seq",
    )?;
    let mut stack: Vec<u32> = Vec::new();
    let rows = stmt.query_map(params![name, alias], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, u32>(1)?))
    })?;
    for row in rows {
        let (action, version) = row?;
        if action == "rollback" {
            stack.pop();
        } else if stack.last() != Some(&version) {
            stack.push(version);
        }
    }
    Ok(stack)
}

fn set_alias(
    tx: &Transaction<'_>,
    name: &str,
    alias: &str,
    version: u32,
    action: &str,
) -> anyhow::Result<()> {
    let now = super::datasets::now_rfc3339();
    tx.execute(
        "INSERT INTO model_aliases (name, alias, version, updated_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (name, alias) DO UPDATE SET version = excluded.version, updated_at = excluded.updated_at",
        params![name, alias, version, now],
    )?;
    tx.execute(
        "INSERT INTO model_alias_events (name, alias, action, version, author, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![name, alias, action, version, author(), now],
    )?;
    Ok(())
}
