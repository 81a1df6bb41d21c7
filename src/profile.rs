//! Dataset schemas and reference profiles.
//!
//! A schema says what each column of a tabular dataset is (numeric, categorical, boolean)
//! and what role it plays (feature, target, id). It is inferred from the data and can be
//! overridden by the user. Profiles, built from a dataset and its schema, are what the drift
//! statistics compare live traffic against.
//!
//! - [`schema`]: column kinds and roles, inferred from CSV.
//! - [`format`](mod@format): the profile document (`modelwatch.profile/v1`) and its cheap lookups.
//! - [`builder`]: streaming construction ([`ProfileBuilder`], [`build_from_csv`]).
//! - [`number`]: reading a cell as a number straight from its bytes (exact fast path).
//! - [`quantiles`]: equal-frequency bin edges and the value → bin lookup.
//! - [`reservoir`]: the seeded reservoir sample behind exact-when-small KS.

pub mod builder;
pub mod format;
pub mod number;
pub mod quantiles;
pub mod reservoir;
pub mod schema;

pub use builder::{ProfileBuilder, RaggedRow, build_from_csv};
pub use format::{
    CategoricalProfile, CategoryFrequency, CategorySlot, ColumnProfile, FORMAT, NumericProfile,
    OTHER, Profile, ProfileOptions,
};
pub use schema::{ColumnKind, ColumnRole, ColumnSchema, Schema, SchemaError, SchemaOverrides};
