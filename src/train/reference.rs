//! The reference profile a model version carries for drift monitoring: the training
//! split's features plus the holdout predictions (`prediction`) and positive-class scores
//! (`score`).

use super::evaluation::HoldoutScoring;
use super::model::ModelArtifact;

/// The profile JSON bytes, or `None` when profiles cannot be built by this binary yet.
pub fn profile_bytes(
    _artifact: &ModelArtifact,
    _scoring: &HoldoutScoring,
) -> anyhow::Result<Option<Vec<u8>>> {
    Ok(None)
}
