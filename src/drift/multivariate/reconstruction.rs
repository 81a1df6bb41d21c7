//! Data reconstruction error, as NannyML 0.13.1's `DataReconstructionDriftCalculator`:
//! PCA fitted on the encoded, standardised reference keeps the fewest components whose
//! explained variance exceeds 65% (scikit-learn's `PCA(n_components=0.65)`); a row's error
//! is the Euclidean distance between it and its reconstruction from those components, a
//! sample's error the mean over its rows. The reference is cut into chunks (NannyML's
//! default chunker makes 10), and the band is the mean of the chunk errors ± 3 of their
//! standard deviations (population std, lower end clipped at 0): a current error outside
//! it is drift.
//!
//! Where modelwatch departs from NannyML, and why: NannyML scores the reference chunks with
//! the PCA fitted on those same rows, so the band sits below the error of any new rows by
//! the PCA's overfit (about k·d/n of the error: k components of d features fitted on n
//! rows), while the band's width is the spread of 500-row chunk means, a few percent of
//! the error. At 14 features the bias is inside the band; at 50 weakly correlated features
//! it is outside, and every undrifted window drifted (300 of 300 in
//! `cargo bench --bench drift_multivariate -- --calibrate 300`). [`ReconstructionModel::fit_held_out`],
//! which modelwatch uses, scores each reference chunk with a PCA fitted on the other
//! chunks, so the band is made of errors of rows the PCA never saw, like a window's.
//! [`ReconstructionModel::fit`] keeps NannyML's band (the parity fixtures check it).
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
    /// Fits PCA on `reference` (encoded, standardised rows) and NannyML's band: the
    /// errors of its `chunks` chunks under that same PCA.
    pub fn fit(
        reference: &Array2<f64>,
        chunks: usize,
    ) -> Result<ReconstructionModel, MultivariateError> {
        let model = Self::pca(reference.view(), chunks)?;
        let errors = chunk_bounds(reference.nrows(), chunks)
            .into_iter()
            .map(|(a, b)| model.error(reference.slice(s![a..b, ..])))
            .collect();
        Ok(model.with_band(errors))
    }

    /// Fits PCA on `reference` and a band of held-out errors: each of its `chunks` chunks
    /// scored by a PCA fitted on the other chunks (see the module doc for why).
    pub fn fit_held_out(
        reference: &Array2<f64>,
        chunks: usize,
    ) -> Result<ReconstructionModel, MultivariateError> {
        let model = Self::pca(reference.view(), chunks)?;
        let mut errors = Vec::with_capacity(chunks);
        for (a, b) in chunk_bounds(reference.nrows(), chunks) {
            let others = ndarray::concatenate(
                Axis(0),
                &[reference.slice(s![..a, ..]), reference.slice(s![b.., ..])],
            )
            .expect("slices of one array share their columns");
            let without = Self::pca(others.view(), 1)?;
            errors.push(without.error(reference.slice(s![a..b, ..])));
        }
        Ok(model.with_band(errors))
    }

    /// PCA of `rows`, with no band yet; at least `chunks` (and 2) rows.
    fn pca(rows: ArrayView2<f64>, chunks: usize) -> Result<ReconstructionModel, MultivariateError> {
        let n = rows.nrows();
        let needed = chunks.max(2);
        if n < needed {
            return Err(MultivariateError::TooFewRows {
                side: "reference",
                needed,
                got: n,
            });
        }
        let mean = rows.mean_axis(Axis(0)).expect("rows checked above");
        let centred = &rows - &mean;
        let covariance = centred.t().dot(&centred) / (n as f64 - 1.0);
        let (values, vectors) = covariance
            .eigh_into()
            .expect("a covariance matrix is symmetric")
            .sort_eig_desc();
        let k = components_kept(values.as_slice().expect("contiguous"));
        Ok(ReconstructionModel {
            mean,
            components: vectors.slice(s![.., ..k]).to_owned(),
            reference_chunk_errors: Vec::new(),
            lower: 0.0,
            upper: 0.0,
        })
    }

    /// The band of `errors`: their mean ± [`STD_MULTIPLIER`] population standard
    /// deviations, the lower end clipped at 0.
    fn with_band(mut self, errors: Vec<f64>) -> ReconstructionModel {
        let m = errors.iter().sum::<f64>() / errors.len() as f64;
        let std =
            (errors.iter().map(|e| (e - m) * (e - m)).sum::<f64>() / errors.len() as f64).sqrt();
        self.lower = (m - STD_MULTIPLIER * std).max(0.0);
        self.upper = m + STD_MULTIPLIER * std;
        self.reference_chunk_errors = errors;
        self
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
            // Outside the band. NannyML alerts unless lower < value < upper, so a score on
            // an edge is drift there; that matters only when the band has collapsed (a
            // reference whose rows PCA reconstructs exactly, such as constant features:
            // band [0, 0], and every window, the same rows included, scored 0 and drifted).
            drifted: score > self.upper || score < self.lower,
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
