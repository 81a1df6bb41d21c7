//! The registry: everything modelwatch stores in its home directory.
//!
//! A home directory (`--home DIR`, `MODELWATCH_HOME`, default `./.modelwatch`) holds one
//! SQLite database with the metadata and a content-addressed blob store with the bytes:
//!
//! ```text
//! .modelwatch/
//!   registry.sqlite          metadata (WAL mode), one table set per component
//!   registry.sqlite-wal/-shm kept by writers, so readers need no write access
//!   blobs/sha256/ab/cdef…    immutable blobs named by the sha256 of their bytes
//! ```
//!
//! - [`home`]: opening or creating a home, the database handle and the write transaction.
//! - [`migrations`]: versioned schema changes per component, applied by writers.
//! - [`blobs`]: the content-addressed store (atomic writes, verified reads).
//! - [`names`]: validation of dataset and model names.
//! - [`datasets`]: dataset versions (`NAME@VERSION`), their schema and metadata.
//! - [`reference`](mod@reference): a drift reference (`NAME[@VERSION]`, profile JSON, CSV,
//!   or a JSONL of LLM requests) → a profile; [`llm_requests`]: such a JSONL as a table of
//!   the LLM drift features.
//! - [`models`]: model versions, aliases and their history (the `modelwatch dataset`
//!   and `registry` commands sit above, in `cli`).
//! - [`source`]: where `serve` and the sidecar read model versions from (a home, or a
//!   registry over HTTP) and how they poll it; [`remote`]: the client of
//!   `modelwatch registry serve`.
//!
//! A component that needs its own tables (models, aliases) adds a `Component` with its
//! migrations to [`migrations::COMPONENTS`] and an `impl Home` block in its own file.

pub mod blobs;
pub mod datasets;
pub mod home;
pub mod llm_requests;
pub mod migrations;
pub mod models;
pub mod names;
pub mod reference;
pub mod remote;
pub mod source;

pub use blobs::{BlobHash, BlobStore, BlobWriter};
pub use datasets::{AddedDataset, DatasetSpec, DatasetVersion};
pub use home::Home;
