//! NannyML's preprocessing for multivariate drift, fitted on the reference rows:
//! missing numbers take the reference mean (`SimpleImputer(strategy="mean")`), missing
//! categories the most frequent reference category (`strategy="most_frequent"`, ties to
//! the smallest name, as scikit-learn does), each category becomes its share of the
//! reference rows (`category_encoders.CountEncoder(normalize=True)`; a category the
//! reference never saw becomes 0), and every encoded column is standardised with the
//! reference mean and population std (`StandardScaler`; a constant column is only
//! centred).

use super::{FeatureTable, FeatureValues, MultivariateError};
use ndarray::Array2;
use std::collections::HashMap;

/// How one feature is encoded.
#[derive(Clone, Debug)]
enum ColumnEncoding {
    Numeric {
        fill: f64,
    },
    Categorical {
        fill: String,
        shares: HashMap<String, f64>,
    },
}

/// Preprocessing fitted on the reference: encode, then standardise.
#[derive(Clone, Debug)]
pub struct Encoder {
    columns: Vec<ColumnEncoding>,
    mean: Vec<f64>,
    scale: Vec<f64>,
}

impl Encoder {
    /// Fits imputation, count encoding and scaling on `reference`.
    pub fn fit(reference: &FeatureTable) -> Result<Encoder, MultivariateError> {
        if reference.columns.is_empty() {
            return Err(MultivariateError::NoFeatures);
        }
        let n = reference.rows();
        if n < 2 {
            return Err(MultivariateError::TooFewRows {
                side: "reference",
                needed: 2,
                got: n,
            });
        }
        let columns: Vec<ColumnEncoding> = reference.columns.iter().map(fit_column).collect();
        let mut encoder = Encoder {
            columns,
            mean: Vec::new(),
            scale: Vec::new(),
        };
        let raw = encoder.encode_unscaled(reference);
        for col in raw.columns() {
            let mean = col.sum() / n as f64;
            let var = col.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n as f64;
            let std = var.sqrt();
            encoder.mean.push(mean);
            // StandardScaler leaves a zero-variance column unscaled (scale 1).
            encoder.scale.push(if std > 0.0 { std } else { 1.0 });
        }
        Ok(encoder)
    }

    /// The encoded, standardised rows of `table` (rows × features).
    pub fn encode(&self, table: &FeatureTable) -> Array2<f64> {
        let mut x = self.encode_unscaled(table);
        for (j, mut col) in x.columns_mut().into_iter().enumerate() {
            let (m, s) = (self.mean[j], self.scale[j]);
            col.mapv_inplace(|v| (v - m) / s);
        }
        x
    }

    fn encode_unscaled(&self, table: &FeatureTable) -> Array2<f64> {
        let n = table.rows();
        let mut x = Array2::zeros((n, self.columns.len()));
        for (j, (encoding, values)) in self.columns.iter().zip(&table.columns).enumerate() {
            let mut col = x.column_mut(j);
            match (encoding, values) {
                (ColumnEncoding::Numeric { fill }, FeatureValues::Numeric(v)) => {
                    for (out, &value) in col.iter_mut().zip(v) {
                        *out = if value.is_finite() { value } else { *fill };
                    }
                }
                (ColumnEncoding::Categorical { fill, shares }, FeatureValues::Categorical(v)) => {
                    for (out, value) in col.iter_mut().zip(v) {
                        let key = value.as_deref().unwrap_or(fill);
                        *out = shares.get(key).copied().unwrap_or(0.0);
                    }
                }
                // A numeric column in one table and categorical in the other: the caller
                // builds both tables from one schema, so this is a bug there.
                _ => panic!("feature {} changed kind between tables", table.names[j]),
            }
        }
        x
    }
}

fn fit_column(values: &FeatureValues) -> ColumnEncoding {
    match values {
        FeatureValues::Numeric(v) => {
            let (sum, count) = v
                .iter()
                .filter(|x| x.is_finite())
                .fold((0.0, 0usize), |(s, c), x| (s + x, c + 1));
            // An all-missing column imputes 0 (scikit-learn drops it; one constant
            // column changes neither method).
            let fill = if count > 0 { sum / count as f64 } else { 0.0 };
            ColumnEncoding::Numeric { fill }
        }
        FeatureValues::Categorical(v) => {
            let mut counts: HashMap<&str, usize> = HashMap::new();
            for value in v.iter().flatten() {
                *counts.entry(value.as_str()).or_default() += 1;
            }
            let fill = counts
                .iter()
                .max_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.cmp(a.0)))
                .map_or_else(String::new, |(k, _)| k.to_string());
            // Missing cells are imputed before counting, so they count as `fill`.
            let missing = v.iter().filter(|x| x.is_none()).count();
            *counts.entry(fill.as_str()).or_default() += missing;
            let n = v.len() as f64;
            let shares = counts
                .into_iter()
                .map(|(k, c)| (k.to_string(), c as f64 / n))
                .collect();
            ColumnEncoding::Categorical { fill, shares }
        }
    }
}
