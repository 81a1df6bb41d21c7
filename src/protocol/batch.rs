//! The decoded form of a payload: named or positional columns of scalar values.
//!
//! Column-major because everything downstream (bins, category counts, windows) works one
//! feature at a time. A value is a small enum, so numbers cost no allocation.

/// One scalar from a payload.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// Any JSON or CSV number. Non-finite values (`NaN`, `±Infinity`) are kept as they
    /// came: the caller counts them, the decoder does not judge them.
    Number(f64),
    /// A string; BYTES tensor elements and `{"b64": "..."}` objects (left encoded).
    Text(String),
    /// A JSON boolean, a BOOL tensor element, or `true`/`false` in CSV.
    Bool(bool),
    /// JSON `null`, an absent key in a record, or a missing CSV cell.
    Missing,
}

/// One column of a [`Batch`].
#[derive(Clone, Debug, PartialEq)]
pub struct Column {
    /// The feature or output name; `None` for positional columns (one 2-D input tensor,
    /// a list of lists), which the caller maps through the reference schema's order.
    pub name: Option<String>,
    /// One value per row, in row order.
    pub values: Vec<Value>,
}

/// Every row of a payload, column by column.
///
/// Invariant of a decoded batch: `rows >= 1`, at least one column, and every column
/// holds exactly `rows` values (a payload without rows is the `empty` error instead).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Batch {
    pub columns: Vec<Column>,
    pub rows: usize,
    /// The model version the server says answered, for a response that carries one (Open
    /// Inference Protocol `model_version`): analysis attributes the rows to it.
    pub model_version: Option<String>,
}

impl Batch {
    /// The column with this name, if any.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns
            .iter()
            .find(|c| c.name.as_deref() == Some(name))
    }

    /// The column names in order (`None` for positional columns).
    pub fn names(&self) -> Vec<Option<&str>> {
        self.columns.iter().map(|c| c.name.as_deref()).collect()
    }
}
