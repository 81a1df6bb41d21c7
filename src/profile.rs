//! Dataset schemas and reference profiles.
//!
//! A schema says what each column of a tabular dataset is (numeric, categorical, boolean)
//! and what role it plays (feature, target, id). It is inferred from the data and can be
//! overridden by the user. Profiles, built from a dataset and its schema, are what the drift
//! statistics compare live traffic against.

pub mod schema;

pub use schema::{ColumnKind, ColumnRole, ColumnSchema, Schema, SchemaError, SchemaOverrides};
