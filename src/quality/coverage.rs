//! Label coverage: of the predictions a model version made within `quality.window`, the
//! share that has a label now (`modelwatch_label_coverage`).
//!
//! Counted in memory, per stored version and minute of prediction time, as predictions are
//! written and labels join: the evaluation then sums a few thousand counters instead of
//! scanning millions of rows every interval. [`CoverageCounts`] is rebuilt from the store
//! with one pass when the sidecar starts, so a restart loses nothing. Predictions evicted
//! for `quality.max_bytes` stay counted: they were made, and their labels can no longer
//! join, which is what low coverage should say. The window's oldest minute is counted
//! whole (up to a minute more than `quality.window`).

use std::collections::{BTreeMap, HashMap};

const MINUTE_MS: i64 = 60_000;

/// Predictions made and how many of them have a label.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub predicted: u64,
    pub labelled: u64,
}

impl Counts {
    /// The labelled share; `None` without predictions.
    pub fn coverage(&self) -> Option<f64> {
        (self.predicted > 0).then(|| self.labelled as f64 / self.predicted as f64)
    }
}

/// Per stored version id, per minute of prediction time.
#[derive(Debug, Default)]
pub struct CoverageCounts {
    minutes: HashMap<i64, BTreeMap<i64, Counts>>,
}

impl CoverageCounts {
    /// Adds counts read from the store (or one event): `predicted` predictions made at
    /// `at_ms`, `labelled` of which have a label.
    pub fn add(&mut self, version_id: i64, at_ms: i64, predicted: u64, labelled: u64) {
        let counts = self
            .minutes
            .entry(version_id)
            .or_default()
            .entry(at_ms.div_euclid(MINUTE_MS))
            .or_default();
        counts.predicted += predicted;
        counts.labelled += labelled;
    }

    /// Forgets minutes before `since_ms`'s.
    pub fn prune(&mut self, since_ms: i64) {
        let first = since_ms.div_euclid(MINUTE_MS);
        self.minutes.retain(|_, minutes| {
            *minutes = minutes.split_off(&first);
            !minutes.is_empty()
        });
    }

    /// The counts of these version ids from `since_ms`'s minute on.
    pub fn since(&self, version_ids: &[i64], since_ms: i64) -> Counts {
        let first = since_ms.div_euclid(MINUTE_MS);
        let mut total = Counts::default();
        for minutes in version_ids.iter().filter_map(|id| self.minutes.get(id)) {
            for counts in minutes.range(first..).map(|(_, c)| c) {
                total.predicted += counts.predicted;
                total.labelled += counts.labelled;
            }
        }
        total
    }
}

#[cfg(test)]
mod tests;
