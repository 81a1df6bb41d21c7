//! The profile document: `"format": "modelwatch.profile/v1"`, described for users in
//! `docs/profile-format.md`.
//!
//! A profile is what drift is measured against, offline (`modelwatch drift`) and live (the
//! sidecar loads it once). Lookups on the per-row path are cheap: a numeric value finds its
//! bin by binary search over at most `bins + 1` edges; a category finds its index through a
//! hash map built once on first use.

use super::quantiles;
use super::schema::{ColumnKind, ColumnRole};
use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;
use std::sync::OnceLock;

/// The format tag this version of modelwatch writes and reads.
pub const FORMAT: &str = "modelwatch.profile/v1";
/// The category name that stands for every category beyond the top K.
pub const OTHER: &str = "__other__";

/// How a profile is built.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProfileOptions {
    /// Equal-frequency bins per numeric column (before removing repeated edges).
    pub bins: usize,
    /// Categories kept by name per column; the rest are counted as `__other__`.
    pub top_k: usize,
    /// Reservoir size per numeric column. A reference with at most this many values keeps
    /// all of them, so KS and Wasserstein against it are exact.
    pub sample_size: usize,
    /// Seed of the reservoir sampler: the same data and options give the same profile.
    pub seed: u64,
    /// Whole feature rows kept in [`Profile::row_sample`], for multivariate drift (0: none).
    /// Profiles written before it existed read as 0.
    #[serde(default)]
    pub row_sample_size: usize,
}

/// Rows of features a profile keeps by default: the live reconstruction-error band is cut
/// from them in 10 chunks of 500, the size of a live window's row sample
/// (`analysis.multivariate.window_rows`), and the domain classifier trains on up to 2,000
/// of them.
pub const DEFAULT_ROW_SAMPLE_SIZE: usize = 5_000;

impl Default for ProfileOptions {
    fn default() -> Self {
        ProfileOptions {
            bins: 10,
            top_k: 100,
            sample_size: 10_000,
            seed: 0x6d6f_6465_6c77_6174, // "modelwat"
            row_sample_size: DEFAULT_ROW_SAMPLE_SIZE,
        }
    }
}

/// A reference profile: one entry per profiled column (id columns are left out).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Profile {
    /// Always [`FORMAT`].
    pub format: String,
    /// What it was built from: `NAME@VERSION` or a file path.
    pub source: String,
    /// sha256 of the source bytes, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_sha256: Option<String>,
    /// Data rows read.
    pub rows: u64,
    pub options: ProfileOptions,
    pub columns: Vec<ColumnProfile>,
    /// A seeded uniform sample of whole rows of the features: per-column summaries lose
    /// the joint distribution, which multivariate drift needs. Absent from profiles written
    /// before it existed (and with `row_sample_size` 0): those get no live multivariate
    /// drift.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub row_sample: Option<RowSample>,
    /// A classifier's validation rows (scores, true and predicted class), kept so
    /// that performance can be estimated before labels arrive (CBPE); absent in profiles
    /// of plain datasets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labelled_predictions: Option<LabelledPredictions>,
}

/// Whole rows of the feature columns, sampled uniformly (Algorithm R, seeded).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RowSample {
    /// The feature columns, in the order of each row's cells.
    pub columns: Vec<String>,
    /// Rows offered to the sample (the profile's `rows`).
    pub seen: u64,
    /// Each row's cells: a number for a numeric column, the category's label otherwise
    /// (`true`/`false` for booleans), `null` for a missing or unusable cell.
    pub rows: Vec<Vec<Option<RowCell>>>,
}

/// One non-missing cell of a sampled row.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RowCell {
    Number(f64),
    Text(String),
}

/// Validation rows of a binary classifier: for each, the positive-class score, whether
/// the row is truly positive and whether the model predicted it positive. Parallel
/// vectors (a few bytes per row in JSON).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LabelledPredictions {
    /// The class the scores are the probability of, as the model's `label` output names it.
    pub positive_class: String,
    pub scores: Vec<f64>,
    pub actual: Vec<bool>,
    pub predicted: Vec<bool>,
    /// A classifier of three or more classes: its rows here (the binary fields above are
    /// then empty). Added within format v1: profiles without it load as before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multiclass: Option<MulticlassPredictions>,
}

/// Validation rows of a classifier of three or more classes: one score per class, the
/// true and the predicted class (indices into `classes`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MulticlassPredictions {
    /// The classes, as the model's first output names them.
    pub classes: Vec<String>,
    /// The response output holding each class's probability, in `classes` order (for
    /// example `probabilities:0` … for a `[rows, classes]` tensor).
    pub score_outputs: Vec<String>,
    /// Per class (in `classes` order), every row's probability of that class.
    pub scores: Vec<Vec<f64>>,
    pub actual: Vec<u32>,
    pub predicted: Vec<u32>,
}

/// The profile of one column.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ColumnProfile {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: ColumnKind,
    pub role: ColumnRole,
    /// Rows seen (missing ones included).
    pub count: u64,
    /// Missing cells (see [`super::schema::is_missing`]) and their share of `count`.
    pub missing: u64,
    pub missing_rate: f64,
    /// Cells that do not parse as the column's type (a word in a numeric column).
    pub type_errors: u64,
    /// NaN and ±Inf in a numeric column: neither missing nor usable.
    pub non_finite: u64,
    /// Distinct valid values, exact up to [`DISTINCT_CAP`] (the value then means "at least").
    pub distinct: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub numeric: Option<NumericProfile>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub categorical: Option<CategoricalProfile>,
}

/// Distinct values are counted exactly up to this many per column.
pub const DISTINCT_CAP: u64 = 10_000;

/// Statistics of a numeric column's valid (non-missing, finite) values.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NumericProfile {
    /// Valid values.
    pub valid: u64,
    pub min: f64,
    pub max: f64,
    pub mean: f64,
    /// Population standard deviation (ddof 0, as `numpy.std`).
    pub std: f64,
    /// Bin edges, ascending and distinct; bin `i` is `[edges[i], edges[i+1])`, the last one
    /// closed. One edge means one bin (a constant column).
    pub edges: Vec<f64>,
    /// Share of valid values in each bin; sums to 1.
    pub proportions: Vec<f64>,
    /// Uniform reservoir sample of valid values, sorted ascending.
    pub sample: Vec<f64>,
    /// True when `sample` holds every valid value.
    pub sample_complete: bool,
}

impl NumericProfile {
    /// The bin of `value` (out-of-range values go to the outer bins).
    #[inline]
    pub fn bin_of(&self, value: f64) -> usize {
        quantiles::bin_index(&self.edges, value)
    }

    /// Number of bins.
    pub fn bin_count(&self) -> usize {
        quantiles::bin_count(&self.edges)
    }

    /// True when `value` lies outside the reference `[min, max]`.
    #[inline]
    pub fn out_of_range(&self, value: f64) -> bool {
        value < self.min || value > self.max
    }
}

/// Frequencies of a categorical (or boolean) column's valid values.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CategoricalProfile {
    /// Valid (non-missing) values.
    pub valid: u64,
    /// The `top_k` most frequent categories, most frequent first (ties by name).
    pub categories: Vec<CategoryFrequency>,
    /// Values in every other reference category, reported as `__other__`.
    pub other_count: u64,
    pub other_proportion: f64,
    /// Names of the categories folded into `__other__` (up to [`DISTINCT_CAP`]), so a
    /// current value in one of them is known, not unseen.
    #[serde(default)]
    pub other_categories: Vec<String>,
    #[serde(skip)]
    index: OnceLock<HashMap<String, CategorySlot>>,
}

/// One named category.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CategoryFrequency {
    pub value: String,
    pub count: u64,
    pub proportion: f64,
}

/// Where a current value falls among the reference categories.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CategorySlot {
    /// Index into `categories`.
    Named(usize),
    /// A reference category folded into `__other__`.
    Other,
}

impl CategoricalProfile {
    /// Builds a categorical profile (the lookup index is built on first use).
    pub fn new(
        valid: u64,
        categories: Vec<CategoryFrequency>,
        other_count: u64,
        other_categories: Vec<String>,
    ) -> Self {
        let other_proportion = if valid == 0 {
            0.0
        } else {
            other_count as f64 / valid as f64
        };
        CategoricalProfile {
            valid,
            categories,
            other_count,
            other_proportion,
            other_categories,
            index: OnceLock::new(),
        }
    }

    /// Where `value` falls; `None` when the reference never saw it (an unseen category).
    #[inline]
    pub fn slot_of(&self, value: &str) -> Option<CategorySlot> {
        self.index
            .get_or_init(|| {
                let mut index: HashMap<String, CategorySlot> = self
                    .other_categories
                    .iter()
                    .map(|c| (c.clone(), CategorySlot::Other))
                    .collect();
                for (i, c) in self.categories.iter().enumerate() {
                    index.insert(c.value.clone(), CategorySlot::Named(i));
                }
                index
            })
            .get(value)
            .copied()
    }
}

impl Profile {
    /// The profile of the column with this name.
    pub fn column(&self, name: &str) -> Option<&ColumnProfile> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// Parses a profile document, refusing other formats.
    pub fn from_json(bytes: &[u8]) -> anyhow::Result<Profile> {
        #[derive(Deserialize)]
        struct Tag {
            format: Option<String>,
        }
        let tag: Tag = serde_json::from_slice(bytes).context("not a JSON profile")?;
        match tag.format.as_deref() {
            Some(FORMAT) => {}
            Some(other) => bail!(
                "profile format {other:?} is not supported: this modelwatch reads {FORMAT:?}; \
                 rebuild it with `modelwatch dataset profile`"
            ),
            None => bail!("not a modelwatch profile: the \"format\" field is missing"),
        }
        serde_json::from_slice(bytes)
            .context("the profile does not match the modelwatch.profile/v1 layout")
    }

    /// Reads a profile file.
    pub fn read(path: &Path) -> anyhow::Result<Profile> {
        let bytes =
            std::fs::read(path).with_context(|| format!("could not read {}", path.display()))?;
        Profile::from_json(&bytes)
            .with_context(|| format!("{} is not a usable profile", path.display()))
    }

    /// The profile as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a profile always serialises")
    }
}
