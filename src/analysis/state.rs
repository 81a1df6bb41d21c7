//! The live state of one model version: its reference, its windows, and the metric
//! handles its rows bump, resolved once so that a row costs atomic adds, not label lookups.

use super::live_metrics::LiveMetrics;
use super::references::LoadedReference;
use super::window::Window;
use crate::config::AnalysisConfig;
use crate::drift::alarms::AlarmHistory;
use crate::drift::current::{Observed, TypedCell, row_cell};
use crate::drift::multivariate::MultivariateMethod;
use crate::profile::{CategorySlot, ColumnProfile, OTHER};
use crate::protocol::{Batch, Value};
use crate::traffic::identity::ModelLabels;
use prometheus::IntCounter;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Instant;

/// The `bin` label of categories the reference never saw.
pub const UNSEEN: &str = "__unseen__";

/// Per-column metric handles.
struct ColumnHandles {
    /// Numeric: one per reference bin. Categorical: one per named category up to the cap,
    /// then `__other__`, then `__unseen__`.
    bins: Vec<IntCounter>,
    missing: Option<IntCounter>,
    out_of_range: Option<IntCounter>,
    unseen: Option<IntCounter>,
    type_errors: Option<IntCounter>,
    /// What one exchange's rows add to the counters above, added to them once per
    /// exchange ([`ColumnHandles::flush`]): an exchange of 9 rows × 14 features otherwise
    /// makes 126 atomic increments, most of them to the same few bins.
    pending: Tally,
}

/// Counts not yet added to a column's counters (indexes as `ColumnHandles::bins`).
#[derive(Default)]
struct Tally {
    bins: Vec<u64>,
    missing: u64,
    out_of_range: u64,
    unseen: u64,
    type_errors: u64,
}

/// One monitored side (features or predictions) of a model version.
pub struct Side {
    pub window: Window,
    /// Column name → index into the window's tracked columns.
    by_name: HashMap<String, usize>,
    handles: Vec<ColumnHandles>,
    max_categories: usize,
}

/// Evaluations whose scores a column keeps for the drift page: 15 minutes at the default
/// 15 s interval, 0.5 KiB per column (and about 0.7 KB of page per column).
pub const SCORE_HISTORY: usize = 60;

/// Everything live about one model version.
pub struct ModelVersionState {
    pub reference: Arc<LoadedReference>,
    pub labels: ModelLabels,
    pub features: Side,
    pub predictions: Side,
    /// Each column's recent verdicts (by its metric `feature` name), for
    /// `analysis.persistence`.
    pub alarms: HashMap<String, AlarmHistory>,
    /// Each column's recent scores (by its metric `feature` name), oldest first, at most
    /// [`SCORE_HISTORY`]: the drift page's sparklines.
    pub scores: HashMap<String, VecDeque<f64>>,
    /// Each multivariate method's recent verdicts, for `analysis.persistence`.
    pub multivariate_alarms: HashMap<MultivariateMethod, AlarmHistory>,
    /// The latest multivariate evaluation (empty when none could run), the rows it ran
    /// on, and when they were taken from the window (RFC 3339): the report shows it.
    pub multivariate: Vec<crate::drift::multivariate::MultivariateResult>,
    pub multivariate_rows: u64,
    pub multivariate_at: Option<String>,
    /// When the references this state was made under were put in use: rows of exchanges
    /// that arrived earlier belong to no window of it.
    pub since: std::time::SystemTime,
    rows: IntCounter,
    /// Rows arrived since the evaluator last looked: a version that stops getting traffic
    /// after the alias moved on is retired.
    fresh: bool,
    /// Its series are gone from the registry; rows for this version need a new state.
    retired: bool,
}

impl ModelVersionState {
    pub fn new(
        reference: Arc<LoadedReference>,
        labels: ModelLabels,
        config: &AnalysisConfig,
        metrics: &LiveMetrics,
    ) -> Self {
        let mv = [&*labels.model, &*labels.version];
        metrics
            .reference_info
            .with_label_values(&[mv[0], mv[1], &reference.spec, &reference.version])
            .set(1);
        if reference.capped_features > 0 {
            metrics
                .capped
                .with_label_values(&["feature"])
                .inc_by(reference.capped_features as u64);
        }
        let features = Side::new(
            &reference,
            reference.features.clone(),
            config,
            metrics,
            &labels,
            false,
        );
        let predictions = Side::new(
            &reference,
            reference.predictions.clone(),
            config,
            metrics,
            &labels,
            true,
        );
        ModelVersionState {
            rows: metrics.rows.with_label_values(&mv),
            alarms: HashMap::new(),
            scores: HashMap::new(),
            multivariate_alarms: HashMap::new(),
            multivariate: Vec::new(),
            multivariate_rows: 0,
            multivariate_at: None,
            since: std::time::SystemTime::UNIX_EPOCH,
            reference,
            labels,
            features,
            predictions,
            fresh: false,
            retired: false,
        }
    }

    /// Adds one exchange's rows.
    pub fn record(&mut self, request: &Batch, response: Option<&Batch>, now: Instant) {
        self.fresh = true;
        self.features.record(&self.reference, request, now, false);
        self.rows.inc_by(request.rows as u64);
        if let Some(response) = response {
            self.predictions
                .record(&self.reference, response, now, true);
        }
    }
}

impl ModelVersionState {
    /// True when rows arrived since the last call.
    pub fn take_fresh(&mut self) -> bool {
        std::mem::take(&mut self.fresh)
    }

    pub fn is_retired(&self) -> bool {
        self.retired
    }

    /// Removes every series of this model version from the metrics (its counters, the
    /// reference shares, the drift gauges and its `modelwatch_reference_info`), so that a
    /// version that stopped serving leaves no stale gauge behind. Idempotent.
    pub fn retire(&mut self, metrics: &LiveMetrics) {
        if std::mem::replace(&mut self.retired, true) {
            return;
        }
        let reference = &self.reference;
        let (model, version) = (&*self.labels.model, &*self.labels.version);
        let _ = metrics.reference_info.remove_label_values(&[
            model,
            version,
            &reference.spec,
            &reference.version,
        ]);
        let _ = metrics.rows.remove_label_values(&[model, version]);
        let _ = metrics.drift_share.remove_label_values(&[model, version]);
        let _ = metrics.window_rows.remove_label_values(&[model, version]);
        remove_multivariate(metrics, model, version);
        let profile = &reference.profile;
        let max_categories = self.features.max_categories;
        for (tracked, predictions) in [(&reference.features, false), (&reference.predictions, true)]
        {
            for &p in tracked {
                let column = &profile.columns[p];
                let name = column.name.as_str();
                let feature = if predictions {
                    format!("prediction:{name}")
                } else {
                    name.to_string()
                };
                for bin in bin_labels(column, max_categories) {
                    let values = [model, version, name, bin.as_str()];
                    let _ = metrics.reference_bin_ratio.remove_label_values(&[
                        model,
                        version,
                        feature.as_str(),
                        bin.as_str(),
                    ]);
                    let _ = if !predictions {
                        metrics.feature_bins.remove_label_values(&values)
                    } else if column.numeric.is_some() {
                        metrics.prediction_bins.remove_label_values(&values)
                    } else {
                        metrics.prediction_classes.remove_label_values(&values)
                    };
                }
                let mvf = [model, version, feature.as_str()];
                if !predictions {
                    for quality in [
                        &metrics.missing,
                        &metrics.out_of_range,
                        &metrics.unseen,
                        &metrics.type_errors,
                    ] {
                        let _ = quality.remove_label_values(&mvf);
                    }
                }
                let _ = metrics.drift_detected.remove_label_values(&mvf);
                for method in crate::drift::Method::ALL {
                    let values = [model, version, feature.as_str(), method.as_str()];
                    let _ = metrics.drift_score.remove_label_values(&values);
                    let _ = metrics.drift_p_value.remove_label_values(&values);
                    let _ = metrics.drift_statistic.remove_label_values(&values);
                }
            }
        }
    }
}

/// Removes a model version's multivariate gauges (retired, or no evaluation this time).
pub fn remove_multivariate(metrics: &LiveMetrics, model: &str, version: &str) {
    for method in MultivariateMethod::ALL {
        let values = [model, version, method.as_str()];
        let _ = metrics.multivariate_score.remove_label_values(&values);
        let _ = metrics.multivariate_detected.remove_label_values(&values);
    }
}

impl Side {
    fn new(
        reference: &LoadedReference,
        tracked: Vec<usize>,
        config: &AnalysisConfig,
        metrics: &LiveMetrics,
        labels: &ModelLabels,
        predictions: bool,
    ) -> Side {
        let profile = &reference.profile;
        let mut by_name = HashMap::new();
        let mut handles = Vec::with_capacity(tracked.len());
        for (i, &p) in tracked.iter().enumerate() {
            let column = &profile.columns[p];
            by_name.insert(column.name.clone(), i);
            handles.push(column_handles(
                column,
                config.max_categories,
                metrics,
                labels,
                predictions,
            ));
        }
        let mut window = Window::new(config, profile, tracked);
        // Rows only where an evaluation can use them: features, a profile with a row
        // sample (checked, not fitted: fitting is the evaluator's job).
        if !predictions && config.multivariate.enabled && profile.row_sample.is_some() {
            window.sample_rows(config.multivariate.window_rows);
        }
        Side {
            window,
            by_name,
            handles,
            max_categories: config.max_categories,
        }
    }

    /// Maps the batch's columns onto the tracked ones (by name; unnamed columns by
    /// position) and adds every row. Tracked columns the batch lacks count as missing.
    fn record(
        &mut self,
        reference: &LoadedReference,
        batch: &Batch,
        now: Instant,
        predictions: bool,
    ) {
        let profile = &reference.profile;
        // The same columns the window tracks, borrowed from the reference (no copy per call).
        let tracked: &[usize] = if predictions {
            &reference.predictions
        } else {
            &reference.features
        };
        let mut sources: Vec<Option<&[Value]>> = vec![None; tracked.len()];
        let mut position = 0;
        for column in &batch.columns {
            let target = match &column.name {
                Some(name) => self.by_name.get(name).copied().or_else(|| {
                    predictions
                        .then(|| self.unnamed_prediction(profile, tracked, column))
                        .flatten()
                }),
                None => {
                    let t = (position < tracked.len()).then_some(position);
                    position += 1;
                    t.or_else(|| {
                        predictions
                            .then(|| self.unnamed_prediction(profile, tracked, column))
                            .flatten()
                    })
                }
            };
            if let Some(t) = target
                && sources[t].is_none()
            {
                sources[t] = Some(&column.values);
            }
        }
        let max_categories = self.max_categories;
        for row in 0..batch.rows {
            let sub = self.window.current(profile, now);
            // The row's cells are copied only when the row sample keeps it.
            let slot = sub.row_sample.as_mut().and_then(|r| r.slot());
            let mut kept = slot.map(|_| Vec::with_capacity(tracked.len()));
            for (j, &p) in tracked.iter().enumerate() {
                let column_profile = &profile.columns[p];
                let cell = match sources[j].and_then(|v| v.get(row)) {
                    None | Some(Value::Missing) => TypedCell::Missing,
                    Some(Value::Number(x)) => TypedCell::Number(*x),
                    Some(Value::Text(t)) => TypedCell::Text(t),
                    Some(Value::Bool(b)) => TypedCell::Bool(*b),
                };
                if let Some(kept) = &mut kept {
                    kept.push(row_cell(cell, column_profile.kind));
                }
                let observed = sub.columns[j].push_typed(cell);
                count(
                    &mut self.handles[j],
                    column_profile,
                    observed,
                    max_categories,
                );
            }
            if let (Some(slot), Some(kept), Some(sample)) = (slot, kept, &mut sub.row_sample) {
                sample.put(slot, kept);
            }
            sub.end_row();
        }
        for handles in &mut self.handles {
            handles.flush();
        }
    }

    /// A response column whose name matches no prediction column (MLflow and KServe V1
    /// `predictions`): the first prediction column of the same kind.
    fn unnamed_prediction(
        &self,
        profile: &crate::profile::Profile,
        tracked: &[usize],
        column: &crate::protocol::Column,
    ) -> Option<usize> {
        use crate::profile::schema::ColumnKind;
        let numeric = column
            .values
            .iter()
            .find(|v| !matches!(v, Value::Missing))
            .is_some_and(|v| matches!(v, Value::Number(_)));
        tracked.iter().position(|&p| {
            let kind = profile.columns[p].kind;
            if numeric {
                kind == ColumnKind::Numeric
            } else {
                kind != ColumnKind::Numeric
            }
        })
    }
}

fn column_handles(
    column: &ColumnProfile,
    max_categories: usize,
    metrics: &LiveMetrics,
    labels: &ModelLabels,
    predictions: bool,
) -> ColumnHandles {
    let (model, version) = (&*labels.model, &*labels.version);
    let name = column.name.as_str();
    let bin_labels = bin_labels(column, max_categories);
    let ratios = bin_ratios(column, max_categories);
    let bins = bin_labels
        .iter()
        .zip(&ratios)
        .map(|(bin, ratio)| {
            let values = [model, version, name, bin.as_str()];
            if predictions {
                // The reference share sits beside the features' as `prediction:<output>`,
                // so one panel compares live predictions with the reference.
                let feature = format!("prediction:{name}");
                metrics
                    .reference_bin_ratio
                    .with_label_values(&[model, version, feature.as_str(), bin.as_str()])
                    .set(*ratio);
                if column.numeric.is_some() {
                    metrics.prediction_bins.with_label_values(&values)
                } else {
                    metrics.prediction_classes.with_label_values(&values)
                }
            } else {
                metrics
                    .reference_bin_ratio
                    .with_label_values(&values)
                    .set(*ratio);
                metrics.feature_bins.with_label_values(&values)
            }
        })
        .collect::<Vec<_>>();
    let quality = |vec: &prometheus::IntCounterVec| {
        (!predictions).then(|| vec.with_label_values(&[model, version, name]))
    };
    let pending = Tally {
        bins: vec![0; bins.len()],
        ..Tally::default()
    };
    ColumnHandles {
        bins,
        pending,
        missing: quality(&metrics.missing),
        out_of_range: column
            .numeric
            .as_ref()
            .and_then(|_| quality(&metrics.out_of_range)),
        unseen: column
            .categorical
            .as_ref()
            .and_then(|_| quality(&metrics.unseen)),
        type_errors: quality(&metrics.type_errors),
    }
}

/// Bin labels: reference bin indexes, or categories then `__other__` and `__unseen__`.
fn bin_labels(column: &ColumnProfile, max_categories: usize) -> Vec<String> {
    if let Some(n) = &column.numeric {
        return (0..n.bin_count()).map(|i| i.to_string()).collect();
    }
    let mut labels: Vec<String> = column
        .categorical
        .as_ref()
        .map(|c| {
            c.categories
                .iter()
                .take(max_categories)
                .map(|f| f.value.clone())
                .collect()
        })
        .unwrap_or_default();
    labels.push(OTHER.to_string());
    labels.push(UNSEEN.to_string());
    labels
}

/// The reference share of each bin label.
fn bin_ratios(column: &ColumnProfile, max_categories: usize) -> Vec<f64> {
    if let Some(n) = &column.numeric {
        return n.proportions.clone();
    }
    let Some(c) = &column.categorical else {
        return vec![0.0, 0.0];
    };
    let mut ratios: Vec<f64> = c
        .categories
        .iter()
        .take(max_categories)
        .map(|f| f.proportion)
        .collect();
    let folded: f64 = c
        .categories
        .iter()
        .skip(max_categories)
        .map(|f| f.proportion)
        .sum();
    ratios.push(c.other_proportion + folded);
    ratios.push(0.0);
    ratios
}

#[cfg(test)]
mod tests;

fn count(
    handles: &mut ColumnHandles,
    column: &ColumnProfile,
    observed: Observed,
    max_categories: usize,
) {
    let tally = &mut handles.pending;
    match observed {
        Observed::Missing => tally.missing += 1,
        Observed::TypeError | Observed::NonFinite => tally.type_errors += 1,
        Observed::Number {
            value,
            out_of_range,
        } => {
            if out_of_range {
                tally.out_of_range += 1;
            }
            if let Some(n) = &column.numeric {
                tally.bins[n.bin_of(value)] += 1;
            }
        }
        Observed::Category(slot) => {
            let last = tally.bins.len() - 1;
            let index = match slot {
                Some(CategorySlot::Named(i)) if i < max_categories => i,
                Some(_) => last - 1,
                None => {
                    tally.unseen += 1;
                    last
                }
            };
            tally.bins[index] += 1;
        }
    }
}

impl ColumnHandles {
    /// Adds the pending counts to the counters, each counter touched at most once.
    fn flush(&mut self) {
        let tally = &mut self.pending;
        for (counter, n) in self.bins.iter().zip(&mut tally.bins) {
            if *n > 0 {
                counter.inc_by(std::mem::take(n));
            }
        }
        for (counter, n) in [
            (&self.missing, &mut tally.missing),
            (&self.out_of_range, &mut tally.out_of_range),
            (&self.unseen, &mut tally.unseen),
            (&self.type_errors, &mut tally.type_errors),
        ] {
            let n = std::mem::take(n);
            if let Some(counter) = counter.as_ref().filter(|_| n > 0) {
                counter.inc_by(n);
            }
        }
    }
}
