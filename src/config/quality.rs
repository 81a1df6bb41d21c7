//! `[quality]`: the prediction store behind the label join (`POST /api/v1/feedback`).
//! Off by default (docs/model-quality.md says why): turning it on makes the sidecar keep
//! every analysed prediction on disk in the state directory, bounded in bytes and age.

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The prediction store's settings.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct QualityConfig {
    /// Keep analysed predictions (in `STATE_DIR/predictions.sqlite`) so that labels sent
    /// later to `POST /api/v1/feedback` join them. Needs a reference (analysis on).
    pub enabled: bool,
    /// Size bound of the store; the oldest predictions are evicted (and counted) beyond it.
    pub max_bytes: u64,
    /// Predictions older than this are evicted; labels for them are counted `expired`.
    #[serde(with = "humantime_serde")]
    pub retention: Duration,
    /// Predictions waiting to be written; beyond it new ones are dropped and counted.
    pub queue_capacity: usize,
    /// Realised performance covers at most this many of the latest labels per version...
    pub window_rows: usize,
    /// ...received within this time.
    #[serde(with = "humantime_serde")]
    pub window: Duration,
}

impl Default for QualityConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            max_bytes: 256 * 1024 * 1024,
            retention: Duration::from_secs(7 * 24 * 3600),
            queue_capacity: 16_384,
            window_rows: 10_000,
            window: Duration::from_secs(24 * 3600),
        }
    }
}

impl QualityConfig {
    pub(crate) fn validate(&self, problems: &mut Vec<String>) {
        if self.enabled && self.max_bytes < 1024 * 1024 {
            problems.push(format!(
                "quality.max_bytes = {} is below 1 MiB: give the prediction store room for \
                 at least a few thousand predictions (e.g. 268435456)",
                self.max_bytes
            ));
        }
        if self.enabled && self.retention.is_zero() {
            problems.push(
                "quality.retention is 0: labels could never join; give a duration such as \"7d\""
                    .into(),
            );
        }
        if self.enabled && self.window_rows == 0 {
            problems.push("quality.window_rows is 0: give a positive count, e.g. 10000".into());
        }
        if self.enabled && self.queue_capacity == 0 {
            problems.push("quality.queue_capacity is 0: give a positive count".into());
        }
    }
}
