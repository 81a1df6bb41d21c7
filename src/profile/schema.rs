//! Column types and roles of a tabular dataset, inferred from CSV and overridable.
//!
//! Inference reads at most [`SchemaOverrides::sample_rows`] data rows, so it is cheap on a
//! large file; a later value that does not fit the inferred type is a data-quality event
//! (a type error) for whoever reads the rest, not a schema change.

use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::io::Read;

/// What kind of values a column holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnKind {
    /// Every non-missing value parses as a number.
    Numeric,
    /// Labels from a finite set (strings, or numbers the user declared categorical).
    Categorical,
    /// `true`/`false` in any letter case.
    Boolean,
}

/// What a column is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnRole {
    /// An input of the model: profiled and monitored for drift.
    Feature,
    /// The label the model learns: profiled, never sent by clients.
    Target,
    /// A row identifier: neither profiled nor monitored.
    Id,
    /// A model output (predicted class or score) in a model version's reference profile:
    /// compared with the predictions in live responses, matched by output name.
    Prediction,
}

/// One column of a schema.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnSchema {
    pub name: String,
    pub kind: ColumnKind,
    pub role: ColumnRole,
}

/// The columns of a dataset, in file order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schema {
    pub columns: Vec<ColumnSchema>,
}

/// What the user says about columns, overriding inference.
#[derive(Clone, Debug)]
pub struct SchemaOverrides {
    /// The target column, if the dataset has one.
    pub target: Option<String>,
    /// The row-id column, if any.
    pub id: Option<String>,
    /// Columns to treat as categorical even when their values parse as numbers.
    pub categorical: Vec<String>,
    /// How many data rows inference reads at most.
    pub sample_rows: usize,
}

impl Default for SchemaOverrides {
    fn default() -> Self {
        Self {
            target: None,
            id: None,
            categorical: Vec::new(),
            sample_rows: 10_000,
        }
    }
}

/// Why a schema could not be inferred. Each message says what to fix.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error("the file is empty: a CSV dataset needs a header row and at least one data row")]
    Empty,
    #[error("the file has a header but no data rows: add at least one row")]
    HeaderOnly,
    #[error("the header has an empty column name at position {position}: name every column")]
    EmptyColumnName { position: usize },
    #[error("the header names column {name:?} twice: column names must be unique")]
    DuplicateColumn { name: String },
    #[error(
        "{flag} names column {name:?}, which is not in the header; the columns are: {available}"
    )]
    UnknownColumn {
        flag: &'static str,
        name: String,
        available: String,
    },
    #[error(
        "row {row} has {found} fields but the header has {expected}: fix the row or the header"
    )]
    Ragged {
        row: u64,
        found: usize,
        expected: usize,
    },
    #[error("could not read the CSV: {0}")]
    Csv(#[from] csv::Error),
}

impl Schema {
    /// The column with this name.
    pub fn column(&self, name: &str) -> Option<&ColumnSchema> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// Position of the column with this name.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    /// The feature columns, in file order.
    pub fn features(&self) -> impl Iterator<Item = &ColumnSchema> {
        self.columns
            .iter()
            .filter(|c| c.role == ColumnRole::Feature)
    }

    /// The target column, if one is declared.
    pub fn target(&self) -> Option<&ColumnSchema> {
        self.columns.iter().find(|c| c.role == ColumnRole::Target)
    }

    /// Infers a schema from a CSV reader positioned before the header.
    ///
    /// A column is numeric when every non-missing sampled value parses as a float,
    /// boolean when every one is `true` or `false`, and categorical otherwise or when the
    /// user says so. A column with no non-missing value in the sample is categorical.
    pub fn infer<R: Read>(
        reader: &mut csv::Reader<R>,
        overrides: &SchemaOverrides,
    ) -> Result<Schema, SchemaError> {
        let headers = reader.headers()?.clone();
        if headers.is_empty() || (headers.len() == 1 && headers[0].is_empty()) {
            return Err(SchemaError::Empty);
        }
        let mut seen = HashSet::new();
        for (position, name) in headers.iter().enumerate() {
            if name.trim().is_empty() {
                return Err(SchemaError::EmptyColumnName {
                    position: position + 1,
                });
            }
            if !seen.insert(name) {
                return Err(SchemaError::DuplicateColumn {
                    name: name.to_string(),
                });
            }
        }
        let available = || headers.iter().collect::<Vec<_>>().join(", ");
        let check = |flag: &'static str, name: &str| {
            if seen.contains(name) {
                Ok(())
            } else {
                Err(SchemaError::UnknownColumn {
                    flag,
                    name: name.to_string(),
                    available: available(),
                })
            }
        };
        if let Some(t) = &overrides.target {
            check("--target", t)?;
        }
        if let Some(id) = &overrides.id {
            check("--id", id)?;
        }
        for c in &overrides.categorical {
            check("--categorical", c)?;
        }

        let mut evidence = vec![KindEvidence::default(); headers.len()];
        let mut record = csv::StringRecord::new();
        let mut rows = 0usize;
        while rows < overrides.sample_rows && reader.read_record(&mut record)? {
            rows += 1;
            if record.len() != headers.len() {
                return Err(SchemaError::Ragged {
                    row: record.position().map_or(rows as u64, |p| p.line()),
                    found: record.len(),
                    expected: headers.len(),
                });
            }
            for (e, value) in evidence.iter_mut().zip(record.iter()) {
                e.observe(value);
            }
        }
        if rows == 0 {
            return Err(SchemaError::HeaderOnly);
        }

        let columns = headers
            .iter()
            .zip(evidence)
            .map(|(name, e)| {
                let role = if overrides.target.as_deref() == Some(name) {
                    ColumnRole::Target
                } else if overrides.id.as_deref() == Some(name) {
                    ColumnRole::Id
                } else {
                    ColumnRole::Feature
                };
                let kind = if overrides.categorical.iter().any(|c| c == name) {
                    ColumnKind::Categorical
                } else {
                    e.kind()
                };
                ColumnSchema {
                    name: name.to_string(),
                    kind,
                    role,
                }
            })
            .collect();
        Ok(Schema { columns })
    }
}

/// True for the spellings of a missing value in CSV: an empty cell, `NA`, `N/A`, `null`,
/// `None` (any case, surrounding spaces ignored).
///
/// `NaN` is deliberately not missing: it is a numeric value that is not finite, and the
/// data-quality counters report it separately.
pub fn is_missing(value: &str) -> bool {
    let v = value.trim();
    v.is_empty()
        || v.eq_ignore_ascii_case("na")
        || v.eq_ignore_ascii_case("n/a")
        || v.eq_ignore_ascii_case("null")
        || v.eq_ignore_ascii_case("none")
}

/// Parses a boolean the way inference recognises one.
pub fn parse_bool(value: &str) -> Option<bool> {
    let v = value.trim();
    if v.eq_ignore_ascii_case("true") {
        Some(true)
    } else if v.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

#[derive(Clone, Copy, Default)]
struct KindEvidence {
    present: usize,
    numeric: usize,
    boolean: usize,
}

impl KindEvidence {
    fn observe(&mut self, value: &str) {
        if is_missing(value) {
            return;
        }
        self.present += 1;
        if value.trim().parse::<f64>().is_ok() {
            self.numeric += 1;
        } else if parse_bool(value).is_some() {
            self.boolean += 1;
        }
    }

    fn kind(self) -> ColumnKind {
        if self.present == 0 {
            ColumnKind::Categorical
        } else if self.numeric == self.present {
            ColumnKind::Numeric
        } else if self.boolean == self.present {
            ColumnKind::Boolean
        } else {
            ColumnKind::Categorical
        }
    }
}

#[cfg(test)]
mod tests;
