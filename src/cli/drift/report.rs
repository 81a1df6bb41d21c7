//! The drift report: what `modelwatch drift` prints, as an aligned table or as JSON, and
//! writes as HTML with `--html`.
//!
//! JSON layout (stable; fields may be added):
//! `{"reference","current","rows","columns":[{"name","type","method","statistic","score","p_value",
//! "threshold","drifted","missing_rate","out_of_range_rate","unseen_rate",
//! "type_error_rate","non_finite_rate","note"}],"drift_share","drift_share_threshold",
//! "drifted_columns","dataset_drift","ignored_columns","correction","multivariate"}`. Rates are shares of the current
//! rows; `statistic` is the test statistic (KS D, χ², z, PSI, raw Wasserstein distance,
//! Jensen–Shannon distance), `score` what is compared with the threshold (the p-value for
//! ks, chi2 and z; the normed distance for wasserstein); `p_value` is null for distance
//! methods; `statistic` and `score` are null (and `note` says why) when a column could not
//! be tested. `correction` is `--correction` (`drifted` is the verdict after it).
//! `multivariate` is there only with `--multivariate`: a list of
//! `{"method","score","threshold","lower_threshold","drifted"}` for `domain_classifier`
//! (score: cross-validated ROC AUC) and `reconstruction_error` (score: mean PCA
//! reconstruction error; `lower_threshold` the bottom of its band).

use crate::cli::table::align;
use crate::drift::alarms::Correction;
use crate::drift::multivariate::MultivariateResult;
use crate::drift::report::ColumnReport;
use crate::page;
use serde::Serialize;

/// The whole report.
#[derive(Clone, Debug, Serialize)]
pub struct DriftReport {
    pub reference: String,
    pub current: String,
    pub rows: u64,
    pub columns: Vec<ColumnReport>,
    /// Share of tested columns that drifted.
    pub drift_share: f64,
    /// Dataset drift when `drift_share` reaches this.
    pub drift_share_threshold: f64,
    pub drifted_columns: usize,
    pub dataset_drift: bool,
    /// Current columns the reference does not know (not tested).
    pub ignored_columns: Vec<String>,
    /// The multiple-testing correction applied across the p-value columns.
    pub correction: Correction,
    /// Drift of the joint distribution (`--multivariate` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub multivariate: Option<Vec<MultivariateResult>>,
}

impl DriftReport {
    /// The report as one self-contained HTML document ([`crate::page::report_file`]).
    pub fn to_html(&self) -> String {
        let tested = self.columns.iter().filter(|c| c.score.is_some()).count();
        let view = page::ModelView {
            title: self.current.clone(),
            reference: self.reference.clone(),
            window: format!("{} rows of {}", self.rows, self.current),
            drift_share: self.drift_share,
            drift_share_threshold: self.drift_share_threshold,
            drifted: self.drifted_columns,
            tested,
            dataset_drift: self.dataset_drift,
            features: &self.columns,
            predictions: &[],
            extra: self
                .multivariate
                .as_deref()
                .map(page::Section::multivariate)
                .into_iter()
                .collect(),
        };
        let notes: Vec<String> = if self.ignored_columns.is_empty() {
            Vec::new()
        } else {
            vec![format!(
                "Columns the reference does not know, not tested: {}",
                self.ignored_columns.join(", ")
            )]
        };
        page::report_file(
            &format!("{} against {}", self.current, self.reference),
            &view,
            &notes,
        )
    }

    /// The human table and verdict.
    pub fn to_table(&self) -> String {
        let mut rows = vec![
            [
                "COLUMN",
                "TYPE",
                "METHOD",
                "STATISTIC",
                "SCORE",
                "P-VALUE",
                "THRESHOLD",
                "DRIFT",
                "MISSING",
                "OUT-OF-RANGE",
                "UNSEEN",
                "TYPE-ERR",
            ]
            .map(String::from),
        ];
        let number = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |v| format!("{v:.4}"));
        let rate = |v: f64| format!("{:.2}%", v * 100.0);
        for c in &self.columns {
            rows.push([
                c.name.clone(),
                c.kind.clone(),
                c.method.clone(),
                number(c.statistic),
                number(c.score),
                number(c.p_value),
                number(c.threshold),
                if c.drifted { "DRIFT" } else { "ok" }.to_string(),
                rate(c.missing_rate),
                rate(c.out_of_range_rate),
                rate(c.unseen_rate),
                rate(c.type_error_rate),
            ]);
        }
        let mut out = format!(
            "reference {}\ncurrent   {} ({} rows)\n\n",
            self.reference, self.current, self.rows
        );
        out.push_str(&align(&rows));
        for c in self.columns.iter().filter(|c| c.note.is_some()) {
            out.push_str(&format!(
                "note: {}: {}\n",
                c.name,
                c.note.as_deref().unwrap_or("")
            ));
        }
        if !self.ignored_columns.is_empty() {
            out.push_str(&format!(
                "note: not in the reference, not tested: {}\n",
                self.ignored_columns.join(", ")
            ));
        }
        out.push_str(&format!(
            "\n{} of {} columns drifted{} (share {:.2}, threshold {:.2}): {}\n",
            self.drifted_columns,
            self.columns.iter().filter(|c| c.score.is_some()).count(),
            match self.correction {
                Correction::None => String::new(),
                c => format!(" after {} correction", c.as_str()),
            },
            self.drift_share,
            self.drift_share_threshold,
            if self.dataset_drift {
                "DATASET DRIFT"
            } else {
                "no dataset drift"
            }
        ));
        if let Some(results) = &self.multivariate {
            let mut rows = vec![["MULTIVARIATE", "SCORE", "THRESHOLD", "DRIFT"].map(String::from)];
            for r in results {
                let threshold = match r.lower_threshold {
                    Some(lower) => format!("{lower:.4}..{:.4}", r.threshold),
                    None => format!("{:.4}", r.threshold),
                };
                rows.push([
                    r.method.as_str().to_string(),
                    format!("{:.4}", r.score),
                    threshold,
                    if r.drifted { "DRIFT" } else { "ok" }.to_string(),
                ]);
            }
            out.push('\n');
            out.push_str(&align(&rows));
        }
        out
    }

    /// True when the dataset drifted or a multivariate method did.
    pub fn any_drift(&self) -> bool {
        self.dataset_drift || self.multivariate.iter().flatten().any(|r| r.drifted)
    }
}
