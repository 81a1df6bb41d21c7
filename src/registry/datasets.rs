//! Dataset versions: CSV files stored content-addressed with their schema and metadata.
//!
//! A version id is the first [`VERSION_LEN`] hex digits of the sha256 of the file's bytes,
//! so the same bytes always get the same id and adding them again returns the stored
//! version. `NAME@VERSION` names one version; `NAME` alone means the latest one added.

use super::blobs::{BlobHash, BlobWriter};
use super::home::Home;
use super::migrations::{Component, Migration};
use super::names;
use crate::exit::UsageError;
use crate::profile::schema::{Schema, SchemaOverrides};
use anyhow::{Context, bail};
use rusqlite::{OptionalExtension, Row, params};
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// Hex digits of the sha256 used as the version id (48 bits: a clash between two files
/// of one dataset is astronomically unlikely, and is refused rather than merged).
pub const VERSION_LEN: usize = 12;

/// The tables of the datasets component.
pub const COMPONENT: Component = Component {
    name: "datasets",
    migrations: &[Migration {
        version: 1,
        description: "dataset versions",
        sql: "CREATE TABLE dataset_versions (
            seq         INTEGER PRIMARY KEY AUTOINCREMENT,
            name        TEXT    NOT NULL,
            version     TEXT    NOT NULL,
            sha256      TEXT    NOT NULL,
            schema_json TEXT    NOT NULL,
            rows        INTEGER NOT NULL,
            columns     INTEGER NOT NULL,
            bytes       INTEGER NOT NULL,
            source_path TEXT    NOT NULL,
            created_at  TEXT    NOT NULL,
            UNIQUE (name, version)
        );",
    }],
};

/// One stored version of a dataset.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DatasetVersion {
    pub name: String,
    /// The first [`VERSION_LEN`] hex digits of `sha256`.
    pub version: String,
    /// Hash of the stored CSV bytes; the blob that holds them.
    pub sha256: BlobHash,
    /// Data rows (the header not counted).
    pub rows: u64,
    pub columns: usize,
    /// Size of the CSV file.
    pub bytes: u64,
    /// Where the file was added from (for the record; the stored copy is what is read).
    pub source_path: String,
    /// RFC 3339, UTC.
    pub created_at: String,
    pub schema: Schema,
}

impl DatasetVersion {
    /// `NAME@VERSION`.
    pub fn spec(&self) -> String {
        format!("{}@{}", self.name, self.version)
    }
}

/// `NAME` or `NAME@VERSION` as typed by a user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DatasetSpec {
    pub name: String,
    /// `None` means the latest version.
    pub version: Option<String>,
}

impl FromStr for DatasetSpec {
    type Err = UsageError;
    fn from_str(s: &str) -> Result<Self, UsageError> {
        let (name, version) = match s.split_once('@') {
            Some((name, version)) => (name, Some(version.to_ascii_lowercase())),
            None => (s, None),
        };
        names::validate("dataset name", name)?;
        if let Some(v) = &version
            && (v.len() != VERSION_LEN || !v.bytes().all(|b| b.is_ascii_hexdigit()))
        {
            return Err(UsageError(format!(
                "{s:?}: a dataset version is {VERSION_LEN} hex digits (see `modelwatch dataset \
                 list`); write NAME or NAME@VERSION"
            )));
        }
        Ok(DatasetSpec {
            name: name.to_string(),
            version,
        })
    }
}

/// What [`Home::add_dataset`] did.
#[derive(Clone, Debug)]
pub struct AddedDataset {
    pub dataset: DatasetVersion,
    /// False when identical bytes were already stored under this name.
    pub created: bool,
}

impl Home {
    /// Stores the CSV at `file` as a version of dataset `name`, with a schema inferred from
    /// it and corrected by `overrides`. Identical bytes return the existing version.
    ///
    /// The file is read twice: once for schema inference (first rows only) and once to copy
    /// it into the blob store while checking every row (field count, UTF-8) and counting
    /// rows. Memory stays bounded whatever the file size.
    ///
    /// A JSONL file of LLM requests ([`super::llm_requests`]) is stored as its table of
    /// drift features, with their fixed schema: the version is the hash of that table, and
    /// no prompt text is stored.
    pub fn add_dataset(
        &mut self,
        name: &str,
        file: &Path,
        overrides: &SchemaOverrides,
    ) -> anyhow::Result<AddedDataset> {
        names::validate("dataset name", name)?;
        if super::llm_requests::is_requests_file(file) {
            super::reference::refuse_schema_flags(&file.display().to_string(), overrides)?;
            let table = super::llm_requests::feature_table(file)?;
            return self.store_csv(name, table.csv.path(), file, table.schema);
        }
        let schema = infer_schema(file, overrides)?;
        self.store_csv(name, file, file, schema)
    }

    /// Stores the CSV at `file` (made from `added_from`) under `schema`.
    fn store_csv(
        &mut self,
        name: &str,
        file: &Path,
        added_from: &Path,
        schema: Schema,
    ) -> anyhow::Result<AddedDataset> {
        let shown = file.display();

        let source = File::open(file).with_context(|| format!("could not open {shown}"))?;
        let mut writer = self.blobs().writer()?;
        let rows = count_rows(
            Tee {
                source,
                sink: &mut writer,
            },
            schema.columns.len(),
        )
        .map_err(|e| e.context(format!("{shown} is not a valid CSV dataset")))?;
        let (sha256, bytes) = writer.commit()?;

        let candidate = DatasetVersion {
            name: name.to_string(),
            version: sha256.prefix(VERSION_LEN).to_string(),
            sha256,
            rows,
            columns: schema.columns.len(),
            bytes,
            source_path: std::fs::canonicalize(added_from)
                .unwrap_or_else(|_| added_from.to_path_buf())
                .display()
                .to_string(),
            created_at: now_rfc3339(),
            schema,
        };
        self.write(|tx| {
            let existing = tx
                .query_row(
                    &format!("{SELECT} WHERE name = ?1 AND version = ?2"),
                    params![candidate.name, candidate.version],
                    from_row,
                )
                .optional()?;
            if let Some(existing) = existing {
                let existing = existing?;
                if existing.sha256 != candidate.sha256 {
                    bail!(
                        "{} already names different bytes (sha256 {}); this file hashes to {}. \
                         Add it under another dataset name",
                        existing.spec(),
                        existing.sha256,
                        candidate.sha256
                    );
                }
                if existing.schema != candidate.schema {
                    return Err(UsageError(format!(
                        "{} holds these exact bytes with a different schema (other --target, \
                         --id or --categorical flags); a version's schema never changes: repeat \
                         the original flags or add the file under another dataset name",
                        existing.spec()
                    ))
                    .into());
                }
                return Ok(AddedDataset {
                    dataset: existing,
                    created: false,
                });
            }
            tx.execute(
                "INSERT INTO dataset_versions
                   (name, version, sha256, schema_json, rows, columns, bytes, source_path, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    candidate.name,
                    candidate.version,
                    candidate.sha256.as_str(),
                    serde_json::to_string(&candidate.schema)?,
                    candidate.rows as i64,
                    candidate.columns as i64,
                    candidate.bytes as i64,
                    candidate.source_path,
                    candidate.created_at,
                ],
            )?;
            Ok(AddedDataset {
                dataset: candidate.clone(),
                created: true,
            })
        })
    }

    /// Every stored version, by name, oldest first within a name.
    pub fn list_datasets(&self) -> anyhow::Result<Vec<DatasetVersion>> {
        let mut stmt = self
            .conn()
            .prepare(&format!("{SELECT} ORDER BY name, seq"))?;
        let rows = stmt.query_map([], from_row)?;
        rows.map(|r| r?).collect()
    }

    /// The version `spec` (`NAME` or `NAME@VERSION`) names. Unknown names and versions are
    /// usage errors listing what exists.
    pub fn resolve_dataset(&self, spec: &str) -> anyhow::Result<DatasetVersion> {
        let parsed: DatasetSpec = spec.parse()?;
        let found = match &parsed.version {
            Some(version) => self
                .conn()
                .query_row(
                    &format!("{SELECT} WHERE name = ?1 AND version = ?2"),
                    params![parsed.name, version],
                    from_row,
                )
                .optional()?,
            None => self
                .conn()
                .query_row(
                    &format!("{SELECT} WHERE name = ?1 ORDER BY seq DESC LIMIT 1"),
                    params![parsed.name],
                    from_row,
                )
                .optional()?,
        };
        if let Some(found) = found {
            return found;
        }
        let versions: Vec<String> = self
            .list_datasets()?
            .into_iter()
            .filter(|d| d.name == parsed.name)
            .map(|d| d.version)
            .collect();
        Err(UsageError(if versions.is_empty() {
            format!(
                "no dataset named {:?} in {}: add it with `modelwatch dataset add {} FILE`",
                parsed.name,
                self.root().display(),
                parsed.name
            )
        } else {
            format!(
                "dataset {:?} has no version {:?}; its versions are: {}",
                parsed.name,
                parsed.version.unwrap_or_default(),
                versions.join(", ")
            )
        })
        .into())
    }

    /// The stored CSV of `dataset`, after checking its bytes against the recorded hash.
    pub fn dataset_file(&self, dataset: &DatasetVersion) -> anyhow::Result<PathBuf> {
        self.blobs()
            .verified_path(&dataset.sha256)
            .with_context(|| format!("could not read dataset {}", dataset.spec()))
    }
}

const SELECT: &str = "SELECT name, version, sha256, schema_json, rows, columns, bytes, \
                      source_path, created_at FROM dataset_versions";

fn from_row(row: &Row<'_>) -> rusqlite::Result<anyhow::Result<DatasetVersion>> {
    let sha256: String = row.get(2)?;
    let schema_json: String = row.get(3)?;
    let rows: i64 = row.get(4)?;
    let columns: i64 = row.get(5)?;
    let bytes: i64 = row.get(6)?;
    let name: String = row.get(0)?;
    let version: String = row.get(1)?;
    let source_path: String = row.get(7)?;
    let created_at: String = row.get(8)?;
    Ok((|| {
        Ok(DatasetVersion {
            sha256: BlobHash::parse(&sha256)?,
            schema: serde_json::from_str(&schema_json)
                .with_context(|| format!("the stored schema of {name}@{version} is unreadable"))?,
            rows: rows as u64,
            columns: columns as usize,
            bytes: bytes as u64,
            name,
            version,
            source_path,
            created_at,
        })
    })())
}

/// Infers the schema of the CSV at `file`; every failure names the file.
pub fn infer_schema(file: &Path, overrides: &SchemaOverrides) -> anyhow::Result<Schema> {
    let shown = file.display();
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(file)
        .with_context(|| format!("could not open {shown}"))?;
    Schema::infer(&mut reader, overrides).map_err(|e| {
        let message = format!("{shown}: {e}");
        match e {
            crate::profile::schema::SchemaError::Csv(_) => anyhow::anyhow!(message),
            _ => UsageError(message).into(),
        }
    })
}

/// Counts data rows, refusing a row whose field count differs from the header's.
fn count_rows(source: impl Read, columns: usize) -> anyhow::Result<u64> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .buffer_capacity(1 << 16)
        .from_reader(source);
    let mut record = csv::StringRecord::new();
    let mut rows = 0u64;
    reader.headers()?;
    while reader.read_record(&mut record)? {
        rows += 1;
        if record.len() != columns {
            let line = record.position().map_or(rows + 1, |p| p.line());
            return Err(UsageError(format!(
                "line {line} has {} fields but the header has {columns}: fix the row or the header",
                record.len()
            ))
            .into());
        }
    }
    Ok(rows)
}

/// Copies everything read from `source` into `sink` (the blob being written).
struct Tee<'a> {
    source: File,
    sink: &'a mut BlobWriter,
}

impl Read for Tee<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.source.read(buf)?;
        self.sink.write_all(&buf[..n])?;
        Ok(n)
    }
}

/// The current time as RFC 3339 UTC with seconds.
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

#[cfg(test)]
mod tests;
