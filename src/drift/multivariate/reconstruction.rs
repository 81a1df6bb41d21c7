//! Data reconstruction error, as NannyML 0.13.1's `DataReconstructionDriftCalculator`:
//! PCA fitted on the encoded, standardised reference keeps the fewest components whose
//! explained variance exceeds 65% (scikit-learn's `PCA(n_components=0.65)`); a row's error
//! is the Euclidean distance between it and its reconstruction from those components, a
//! sample's error the mean over its rows. The reference is cut into chunks (NannyML's
//! default chunker makes 10), and the band is the mean of the chunk errors ± 3 of their
//! standard deviations (population std, lower end clipped at 0): a current error outside
//! it is drift.
//!
//! PCA is the eigendecomposition of the d×d covariance (`linfa-linalg`, pure Rust: no
//! LAPACK to install), the same subspace scikit-learn's SVD finds; reconstruction does not
//! depend on the sign of the components, so errors agree to rounding.

use super::{MultivariateError, MultivariateMethod, MultivariateResult};
use linfa_linalg::eigh::{EigSort, EighInto};
use ndarray::{Array1, Array2, ArrayView2, Axis, s};

/// NannyML's `n_components` default: the share of variance the components keep.
pub const VARIANCE_KEPT: f64 = 0.65;
/// NannyML's default chunker cuts the reference into this many chunks.
pub const DEFAULT_REFERENCE_CHUNKS: usize = 10;
/// NannyML's `StandardDeviationThreshold` multipliers.
pub const STD_MULTIPLIER: f64 = 3.0;

/// PCA fitted on the reference and the band of its chunks' errors.
#[derive(Clone, Debug)]
pub struct ReconstructionModel {
    mean: Array1<f64>,
    /// Components as columns (d × k).
    components: Array2<f64>,
    /// Errors of the reference chunks, in order.
    pub reference_chunk_errors: Vec<f64>,
    pub lower: f64,
    pub upper: f64,
}

impl ReconstructionModel {
    /// Fits PCA on `reference` (encoded, standardised rows) and the band of its `chunks`
    /// chunks.
    pub fn fit(
        reference: &Array2<f64>,
        chunks: usize,
    ) -> Result<ReconstructionModel, MultivariateError> {
        let n = reference.nrows();
        let needed = chunks.max(2);
        if n < needed {
            return Err(MultivariateError::TooFewRows {
                side: "reference",
                needed,
                got: n,
            });
        }
        let mean = reference.mean_axis(Axis(0)).expect("rows checked above");
        let centred = reference - &mean;
        let covariance = centred.t().dot(&centred) / (n as f64 - 1.0);
        let (values, vectors) = covariance
            .eigh_into()
            .expect("a covariance matrix is symmetric")
            .sort_eig_desc();
        let k = components_kept(values.as_slice().expect("contiguous"));
        let components = vectors.slice(s![.., ..k]).to_owned();
        let mut model = ReconstructionModel {
            mean,
            components,
            reference_chunk_errors: Vec::new(),
            lower: 0.0,
            upper: 0.0,
        };
        let errors: Vec<f64> = chunk_bounds(n, chunks)
            .into_iter()
            .map(|(a, b)| model.error(reference.slice(s![a..b, ..])))
            .collect();
        let m = errors.iter().sum::<f64>() / errors.len() as f64;
        let std =
            (errors.iter().map(|e| (e - m) * (e - m)).sum::<f64>() / errors.len() as f64).sqrt();
        model.lower = (m - STD_MULTIPLIER * std).max(0.0);
        model.upper = m + STD_MULTIPLIER * std;
        model.reference_chunk_errors = errors;
        Ok(model)
    }

    /// Components kept.
    pub fn components(&self) -> usize {
        self.components.ncols()
    }

    /// The mean reconstruction error of `rows` (encoded with the reference's encoder).
    pub fn error(&self, rows: ArrayView2<f64>) -> f64 {
        let centred = &rows - &self.mean;
        let projected = centred.dot(&self.components).dot(&self.components.t());
        let residual = centred - projected;
        let total: f64 = residual.rows().into_iter().map(|r| r.dot(&r).sqrt()).sum();
        total / rows.nrows() as f64
    }

    /// The current rows' error against the band.
    pub fn evaluate(&self, current: &Array2<f64>) -> Result<MultivariateResult, MultivariateError> {
        if current.nrows() == 0 {
            return Err(MultivariateError::TooFewRows {
                side: "current",
                needed: 1,
                got: 0,
            });
        }
        let score = self.error(current.view());
        Ok(MultivariateResult {
            method: MultivariateMethod::ReconstructionError,
            score,
            threshold: self.upper,
            lower_threshold: Some(self.lower),
            evaluation_drifted: None,
            // NannyML alerts unless lower < value < upper.
            drifted: score >= self.upper || score <= self.lower,
        })
    }
}

/// scikit-learn's choice for a fractional `n_components`: the first k whose cumulative
/// explained-variance ratio exceeds [`VARIANCE_KEPT`] (`searchsorted(..., side="right") + 1`).
fn components_kept(eigenvalues_desc: &[f64]) -> usize {
    let total: f64 = eigenvalues_desc.iter().map(|v| v.max(0.0)).sum();
    if total <= 0.0 {
        return 1;
    }
    let mut cumulative = 0.0;
    for (i, v) in eigenvalues_desc.iter().enumerate() {
        cumulative += v.max(0.0) / total;
        if cumulative > VARIANCE_KEPT {
            return i + 1;
        }
    }
    eigenvalues_desc.len()
}

/// NannyML's `DefaultChunker` for `chunk_number` = 10: chunks of `n / chunk_number` rows
/// (integer division) from the start, and the leftover rows, if any, as one more, smaller
/// chunk (`SizeBasedChunker(incomplete="keep")`).
pub fn chunk_bounds(n: usize, chunk_number: usize) -> Vec<(usize, usize)> {
    let size = (n / chunk_number.max(1)).max(1);
    (0..n)
        .step_by(size)
        .map(|a| (a, (a + size).min(n)))
        .collect()
}
