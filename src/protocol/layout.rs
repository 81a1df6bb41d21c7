//! Turning the payload layouts (row-major tensors, lists of rows, records, column maps)
//! into a column-major [`Batch`], with the naming rules every protocol shares.
//!
//! Naming: a tensor or list of width 1 is one column called by its base name; width
//! `k > 1` gives `base:0 … base:k-1`; positional columns have no name (the caller maps
//! them through the reference schema's feature order); explicit names (Seldon `names`,
//! MLflow `columns`) must match the width.

use super::batch::{Batch, Column, Value};
use super::error::{DecodeError, DecodeReason, fail};
use super::json::Node;
use std::collections::HashMap;

/// How the columns of one tensor or list of rows are named.
pub(crate) enum Naming<'a> {
    Positional,
    Derived(&'a str),
    Given(Vec<String>),
}

impl Naming<'_> {
    fn names(&self, width: usize) -> Result<Vec<Option<String>>, DecodeError> {
        Ok(match self {
            Naming::Positional => vec![None; width],
            Naming::Derived(base) if width == 1 => vec![Some((*base).to_owned())],
            Naming::Derived(base) => (0..width).map(|j| Some(format!("{base}:{j}"))).collect(),
            Naming::Given(names) if names.len() == width => {
                names.iter().cloned().map(Some).collect()
            }
            Naming::Given(names) => {
                return fail(
                    DecodeReason::ShapeMismatch,
                    format!("{} names for {width} columns", names.len()),
                );
            }
        })
    }
}

/// A tensor's values in row-major order, `rows × width`.
pub(crate) struct Tensor {
    pub rows: usize,
    pub width: usize,
    /// Declared (or read) as two-dimensional, even when `width` is 1.
    pub rank2: bool,
    pub values: Vec<Value>,
}

impl Tensor {
    /// Reads a JSON list as a tensor: a list of scalars is `[rows]`, a list of equal-length
    /// lists of scalars is `[rows, width]`; anything deeper is `unsupported_shape`.
    pub(crate) fn from_node(node: Node, what: &str) -> Result<Tensor, DecodeError> {
        let Node::List(items) = node else {
            return fail(
                DecodeReason::UnsupportedShape,
                format!("{what} is not a list with one entry per row"),
            );
        };
        let rows = items.len();
        if !matches!(items.first(), Some(Node::List(_))) {
            let values = items
                .into_iter()
                .map(|item| cell(item, what))
                .collect::<Result<_, _>>()?;
            return Ok(Tensor {
                rows,
                width: 1,
                rank2: false,
                values,
            });
        }
        let width = match items.first() {
            Some(Node::List(first)) => first.len(),
            _ => 0,
        };
        let mut values = Vec::with_capacity(rows.saturating_mul(width));
        for item in items {
            let Node::List(row) = item else {
                return fail(
                    DecodeReason::ShapeMismatch,
                    format!("{what} mixes lists and scalars"),
                );
            };
            if row.len() != width {
                return fail(
                    DecodeReason::ShapeMismatch,
                    format!("{what} has rows of {} and {width} values", row.len()),
                );
            }
            for v in row {
                values.push(cell(v, what)?);
            }
        }
        Ok(Tensor {
            rows,
            width,
            rank2: true,
            values,
        })
    }
}

fn cell(node: Node, what: &str) -> Result<Value, DecodeError> {
    match node {
        Node::Cell(v) => Ok(v),
        Node::List(_) => fail(
            DecodeReason::UnsupportedShape,
            format!("{what} nests lists more than two levels deep"),
        ),
        Node::Object(_) => fail(
            DecodeReason::UnsupportedShape,
            format!("{what} holds an object where a scalar belongs"),
        ),
    }
}

/// Splits row-major values into columns.
pub(crate) fn split(tensor: Tensor, naming: &Naming) -> Result<Vec<Column>, DecodeError> {
    let Tensor {
        rows,
        width,
        values,
        ..
    } = tensor;
    if rows.checked_mul(width) != Some(values.len()) {
        return fail(
            DecodeReason::ShapeMismatch,
            format!("{} values for shape [{rows}, {width}]", values.len()),
        );
    }
    let names = naming.names(width)?;
    if width == 1 {
        let name = names.into_iter().next().flatten();
        return Ok(vec![Column { name, values }]);
    }
    let mut columns: Vec<Column> = names
        .into_iter()
        .map(|name| Column {
            name,
            values: Vec::with_capacity(rows),
        })
        .collect();
    let mut j = 0;
    for v in values {
        columns[j].values.push(v);
        j += 1;
        if j == width {
            j = 0;
        }
    }
    Ok(columns)
}

/// Joins named tensors into one batch; all must have the same number of rows.
pub(crate) fn assemble(parts: Vec<(Tensor, Naming)>) -> Result<Batch, DecodeError> {
    let mut rows = None;
    let mut columns = Vec::new();
    for (tensor, naming) in parts {
        if *rows.get_or_insert(tensor.rows) != tensor.rows {
            return fail(
                DecodeReason::ShapeMismatch,
                format!(
                    "tensors disagree on the number of rows ({} and {})",
                    rows.unwrap_or(0),
                    tensor.rows
                ),
            );
        }
        columns.extend(split(tensor, &naming)?);
    }
    finish(columns, rows.unwrap_or(0))
}

/// A batch, or `empty` when it has no rows or no columns.
pub(crate) fn finish(columns: Vec<Column>, rows: usize) -> Result<Batch, DecodeError> {
    if rows == 0 || columns.is_empty() {
        return fail(DecodeReason::Empty, "the payload carries no rows");
    }
    Ok(Batch {
        columns,
        rows,
        model_version: None,
    })
}

/// A list of rows: scalars (one column), lists (one column per position) or objects
/// (one column per key, `null` where a row lacks a key). `naming` names scalar and list
/// rows; object rows are always named by their keys.
pub(crate) fn rows_to_batch(rows: Vec<Node>, naming: Naming) -> Result<Batch, DecodeError> {
    match rows.first() {
        None => fail(DecodeReason::Empty, "the payload has an empty list of rows"),
        Some(Node::Object(_)) => records_to_batch(rows),
        Some(_) => {
            let tensor = Tensor::from_node(Node::List(rows), "the list of rows")?;
            let rows = tensor.rows;
            finish(split(tensor, &naming)?, rows)
        }
    }
}

/// A map of column name → list of values (or of equal-length lists). With
/// `single_2d_positional`, one 2-D entry is a positional tensor (like a single
/// `[rows, n]` input tensor of the Open Inference Protocol).
pub(crate) fn column_map_to_batch(
    entries: Vec<(String, Node)>,
    single_2d_positional: bool,
) -> Result<Batch, DecodeError> {
    let single = entries.len() == 1;
    let mut names = Vec::with_capacity(entries.len());
    let mut tensors = Vec::with_capacity(entries.len());
    for (name, node) in entries {
        tensors.push(Tensor::from_node(node, &format!("column {name:?}"))?);
        names.push(name);
    }
    let parts = tensors
        .into_iter()
        .zip(&names)
        .map(|(tensor, name)| {
            let naming = if single && single_2d_positional && tensor.rank2 {
                Naming::Positional
            } else {
                Naming::Derived(name)
            };
            (tensor, naming)
        })
        .collect();
    assemble(parts)
}

/// One key of a list of records: its width (1 for scalars, k for lists of k) and columns.
struct KeyColumns {
    key: String,
    columns: Vec<Vec<Value>>,
    /// The last row that set this key; rows that skip it get `Missing`.
    last_row: usize,
}

/// How many cells a list of records may expand to, given how many values it holds.
/// Filling absent keys with `Missing` could otherwise turn a body where every record has a
/// new key into rows × keys cells (quadratic memory from a linear body).
fn cell_budget(rows: &[Node]) -> usize {
    fn leaves(node: &Node) -> usize {
        match node {
            Node::Cell(_) => 1,
            Node::List(items) => items.iter().map(leaves).sum(),
            Node::Object(entries) => entries.iter().map(|(_, v)| leaves(v)).sum(),
        }
    }
    let sent: usize = rows.iter().map(leaves).sum();
    sent.saturating_mul(16).saturating_add(65_536)
}

fn records_to_batch(rows: Vec<Node>) -> Result<Batch, DecodeError> {
    let n = rows.len();
    let budget = cell_budget(&rows);
    let mut total_width = 0usize;
    let mut keys: Vec<KeyColumns> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for (r, row) in rows.into_iter().enumerate() {
        let Node::Object(entries) = row else {
            return fail(
                DecodeReason::ShapeMismatch,
                "the list of rows mixes objects with scalars or lists",
            );
        };
        for (position, (key, node)) in entries.into_iter().enumerate() {
            // Records usually repeat the key order, so the position is a cheap first guess.
            let at = match keys.get(position) {
                Some(k) if k.key == key => position,
                _ => match index.get(&key) {
                    Some(&at) => at,
                    None => {
                        index.insert(key.clone(), keys.len());
                        keys.push(KeyColumns {
                            key,
                            columns: Vec::new(),
                            last_row: usize::MAX,
                        });
                        keys.len() - 1
                    }
                },
            };
            let entry = &mut keys[at];
            let values = match node {
                Node::Cell(v) => vec![v],
                list @ Node::List(_) => Tensor::from_node(list, &format!("key {:?}", entry.key))
                    .and_then(|t| {
                        if t.rank2 {
                            fail(
                                DecodeReason::UnsupportedShape,
                                format!("key {:?} holds a nested list", entry.key),
                            )
                        } else {
                            Ok(t.values)
                        }
                    })?,
                Node::Object(_) => {
                    return fail(
                        DecodeReason::UnsupportedShape,
                        format!("key {:?} holds a nested object", entry.key),
                    );
                }
            };
            if entry.columns.is_empty() {
                total_width += values.len();
                if total_width.saturating_mul(n) > budget {
                    return fail(
                        DecodeReason::TooLarge,
                        format!(
                            "{n} records with {total_width} distinct columns are too sparse to \
                             analyse (more than 16 cells per value sent)"
                        ),
                    );
                }
                entry.columns = (0..values.len())
                    .map(|_| {
                        let mut c = Vec::with_capacity(n);
                        c.resize(r, Value::Missing);
                        c
                    })
                    .collect();
            } else if entry.columns.len() != values.len() {
                return fail(
                    DecodeReason::ShapeMismatch,
                    format!(
                        "key {:?} holds {} values in one row and {} in another",
                        entry.key,
                        entry.columns.len(),
                        values.len()
                    ),
                );
            }
            for (column, v) in entry.columns.iter_mut().zip(values) {
                column.push(v);
            }
            entry.last_row = r;
        }
        for entry in &mut keys {
            if entry.last_row != r {
                for column in &mut entry.columns {
                    column.push(Value::Missing);
                }
            }
        }
    }
    let mut columns = Vec::new();
    for entry in keys {
        let width = entry.columns.len();
        let names = Naming::Derived(&entry.key).names(width)?;
        columns.extend(
            names
                .into_iter()
                .zip(entry.columns)
                .map(|(name, values)| Column { name, values }),
        );
    }
    finish(columns, n)
}

/// Predictions of the v1, MLflow and generic protocols: a list of rows (scalars give
/// `prediction`, lists give `prediction:0..`, objects give their keys), a map of output
/// name → list, or a single scalar (one row).
pub(crate) fn predictions_to_batch(node: Node) -> Result<Batch, DecodeError> {
    match node {
        Node::List(rows) => rows_to_batch(rows, Naming::Derived("prediction")),
        Node::Object(entries) => column_map_to_batch(entries, false),
        cell @ Node::Cell(_) => rows_to_batch(vec![cell], Naming::Derived("prediction")),
    }
}

/// Inputs given as a list of rows or a map of columns (v1 `instances` / `inputs`, MLflow
/// `instances` / `inputs`).
pub(crate) fn inputs_to_batch(node: Node, field: &str) -> Result<Batch, DecodeError> {
    match node {
        Node::List(rows) => rows_to_batch(rows, Naming::Positional),
        Node::Object(entries) => column_map_to_batch(entries, true),
        Node::Cell(_) => fail(
            DecodeReason::InvalidField,
            format!("`{field}` is a scalar; it must be a list of rows or a map of columns"),
        ),
    }
}
