//! The metrics of live analysis: per-feature distributions and data quality (counters
//! the workers bump through cached handles), drift gauges (set by the evaluator), and the
//! analysis pipeline's own health.
//!
//! Bins are aligned to the reference: for a numeric feature `bin` is the reference bin
//! index (`0`..`B-1`), for a categorical one the category (top `analysis.max_categories`,
//! then `__other__`, and `__unseen__` for categories the reference never saw). Together with
//! `modelwatch_reference_bin_ratio` this lets PromQL compute PSI across replicas.

use prometheus::{GaugeVec, IntCounterVec, IntGaugeVec, Opts, Registry};

/// Why an exchange reached a worker but was not analysed.
pub fn skip_reasons() -> impl Iterator<Item = &'static str> {
    [
        "no_reference",
        "reference_changed",
        "body_too_large",
        "incomplete_body",
        "not_success",
        "unknown_protocol",
    ]
    .into_iter()
    .chain(
        crate::protocol::DecodeReason::ALL
            .iter()
            .map(|r| r.as_str()),
    )
}

/// Every live-analysis metric family.
#[derive(Clone)]
pub struct LiveMetrics {
    pub rows: IntCounterVec,
    pub feature_bins: IntCounterVec,
    pub reference_bin_ratio: GaugeVec,
    pub missing: IntCounterVec,
    pub out_of_range: IntCounterVec,
    pub unseen: IntCounterVec,
    pub type_errors: IntCounterVec,
    pub prediction_bins: IntCounterVec,
    pub prediction_classes: IntCounterVec,
    pub drift_score: GaugeVec,
    pub drift_p_value: GaugeVec,
    pub drift_statistic: GaugeVec,
    pub drift_detected: IntGaugeVec,
    pub drift_share: GaugeVec,
    pub multivariate_score: GaugeVec,
    pub multivariate_detected: IntGaugeVec,
    pub window_rows: IntGaugeVec,
    pub reference_info: IntGaugeVec,
    pub skipped: IntCounterVec,
    pub capped: IntCounterVec,
    /// Failed polls of the registry for moved aliases.
    pub follow_failures: prometheus::IntCounter,
}

impl LiveMetrics {
    pub fn register(registry: &Registry) -> prometheus::Result<Self> {
        let mv = ["model", "model_version"];
        let mvf = ["model", "model_version", "feature"];
        let counter = |name: &str, help: &str, labels: &[&str]| {
            IntCounterVec::new(Opts::new(name, help), labels)
        };
        let gauge =
            |name: &str, help: &str, labels: &[&str]| GaugeVec::new(Opts::new(name, help), labels);
        let int_gauge = |name: &str, help: &str, labels: &[&str]| {
            IntGaugeVec::new(Opts::new(name, help), labels)
        };
        let m = LiveMetrics {
            rows: counter("modelwatch_rows_total", "Rows (instances) analysed.", &mv)?,
            feature_bins: counter(
                "modelwatch_feature_bin_total",
                "Values per reference bin (numeric) or category (categorical).",
                &["model", "model_version", "feature", "bin"],
            )?,
            reference_bin_ratio: gauge(
                "modelwatch_reference_bin_ratio",
                "Share of the reference in each bin or category, for PSI in PromQL.",
                &["model", "model_version", "feature", "bin"],
            )?,
            missing: counter(
                "modelwatch_feature_missing_total",
                "Missing values (null, absent, NaN).",
                &mvf,
            )?,
            out_of_range: counter(
                "modelwatch_feature_out_of_range_total",
                "Numeric values outside the reference [min, max].",
                &mvf,
            )?,
            unseen: counter(
                "modelwatch_feature_unseen_category_total",
                "Categorical values the reference never saw.",
                &mvf,
            )?,
            type_errors: counter(
                "modelwatch_feature_type_errors_total",
                "Values of the wrong type (a word in a numeric feature, ±Inf).",
                &mvf,
            )?,
            prediction_bins: counter(
                "modelwatch_prediction_bin_total",
                "Numeric predictions per reference bin.",
                &["model", "model_version", "output", "bin"],
            )?,
            prediction_classes: counter(
                "modelwatch_prediction_class_total",
                "Predicted classes.",
                &["model", "model_version", "output", "class"],
            )?,
            drift_score: gauge(
                "modelwatch_drift_score",
                "Drift statistic of the current window (a p-value for ks/chi2/z).",
                &["model", "model_version", "feature", "method"],
            )?,
            drift_p_value: gauge(
                "modelwatch_drift_p_value",
                "p-value of the drift test, for the tests that have one.",
                &["model", "model_version", "feature", "method"],
            )?,
            drift_statistic: gauge(
                "modelwatch_drift_statistic",
                "Test statistic of the drift test: KS D, chi-squared, z, PSI, raw Wasserstein \
                 distance, Jensen-Shannon distance.",
                &["model", "model_version", "feature", "method"],
            )?,
            drift_detected: int_gauge(
                "modelwatch_drift_detected",
                "1 when the feature's window drifted from the reference.",
                &mvf,
            )?,
            drift_share: gauge(
                "modelwatch_drift_share",
                "Share of monitored features (predictions included) that drifted.",
                &mv,
            )?,
            multivariate_score: gauge(
                "modelwatch_multivariate_drift_score",
                "Multivariate drift of the window's sampled rows: the domain classifier's \
                 cross-validated ROC AUC, or the mean PCA reconstruction error.",
                &["model", "model_version", "method"],
            )?,
            multivariate_detected: int_gauge(
                "modelwatch_multivariate_drift_detected",
                "1 when the method finds the window's joint distribution drifted from the \
                 reference (after analysis.persistence).",
                &["model", "model_version", "method"],
            )?,
            window_rows: int_gauge(
                "modelwatch_drift_window_rows",
                "Rows in the current drift window.",
                &mv,
            )?,
            reference_info: int_gauge(
                "modelwatch_reference_info",
                "1 for the reference loaded for a model; the labels say which.",
                &["model", "model_version", "reference", "reference_version"],
            )?,
            skipped: counter(
                "modelwatch_analysis_skipped_total",
                "Exchanges a worker did not analyse, by reason.",
                &["reason"],
            )?,
            capped: counter(
                "modelwatch_analysis_capped_total",
                "Features or categories beyond the configured caps (values still counted).",
                &["kind"],
            )?,
            follow_failures: prometheus::IntCounter::new(
                "modelwatch_reference_follow_failures_total",
                "Polls for moved model aliases that failed (registry unreachable, a new \
                 version without a profile); the references in use are kept.",
            )?,
        };
        for c in [
            &m.rows,
            &m.feature_bins,
            &m.missing,
            &m.out_of_range,
            &m.unseen,
            &m.type_errors,
            &m.prediction_bins,
            &m.prediction_classes,
            &m.skipped,
            &m.capped,
        ] {
            registry.register(Box::new(c.clone()))?;
        }
        for g in [
            &m.reference_bin_ratio,
            &m.drift_score,
            &m.drift_p_value,
            &m.drift_statistic,
            &m.drift_share,
            &m.multivariate_score,
        ] {
            registry.register(Box::new(g.clone()))?;
        }
        for g in [
            &m.drift_detected,
            &m.multivariate_detected,
            &m.window_rows,
            &m.reference_info,
        ] {
            registry.register(Box::new(g.clone()))?;
        }
        registry.register(Box::new(m.follow_failures.clone()))?;
        for reason in skip_reasons() {
            m.skipped.with_label_values(&[reason]);
        }
        for kind in ["feature", "category"] {
            m.capped.with_label_values(&[kind]);
        }
        Ok(m)
    }
}
