//! One column's drift verdict, as a report line: the test chosen for the column, its score,
//! threshold and verdict, and the data-quality rates of the current data. The same line is
//! printed by `modelwatch drift`, served by the live sidecar at `/api/v1/drift` and
//! exported in drift snapshots.

use super::alarms::Correction;
use super::counts::NumericCounts;
use super::current::{CurrentColumn, aligned_counts};
use super::histogram::{Histogram, histogram};
use super::{ColumnDriftConfig, Method};
use crate::drift;
use crate::profile::ColumnProfile;
use crate::profile::schema::ColumnKind;
use serde::Serialize;

/// One column's line of the report.
#[derive(Clone, Debug, Serialize)]
pub struct ColumnReport {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub method: String,
    /// The test statistic ([`drift::DriftResult::statistic`]): KS D, χ², z, PSI, the raw
    /// Wasserstein distance, the Jensen–Shannon distance.
    pub statistic: Option<f64>,
    pub score: Option<f64>,
    pub p_value: Option<f64>,
    pub threshold: Option<f64>,
    /// The verdict: after the correction across columns, and (live) after persistence.
    pub drifted: bool,
    /// Live only: this evaluation's verdict (after the correction) before persistence
    /// turns it into `drifted` (`analysis.persistence`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evaluation_drifted: Option<bool>,
    pub missing_rate: f64,
    pub out_of_range_rate: f64,
    pub unseen_rate: f64,
    pub type_error_rate: f64,
    pub non_finite_rate: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The reference beside the current data, bin by bin, for the HTML page and report
    /// (the `page` module); not in the JSON.
    #[serde(skip)]
    pub histogram: Option<Histogram>,
    /// Live only: the scores of the recent evaluations, oldest first, this one last
    /// (`analysis::state::SCORE_HISTORY` at most); not in the JSON.
    #[serde(skip)]
    pub history: Vec<f64>,
}

#[cfg(test)]
impl ColumnReport {
    /// A numeric column tested with KS, `score` its p-value against 0.05, no drift and no
    /// data-quality problem: tests change what they look at.
    pub(crate) fn example(name: &str, score: Option<f64>) -> ColumnReport {
        ColumnReport {
            name: name.to_string(),
            kind: "numeric".to_string(),
            method: "ks".to_string(),
            statistic: score,
            score,
            p_value: score,
            threshold: Some(0.05),
            drifted: false,
            evaluation_drifted: None,
            missing_rate: 0.0,
            out_of_range_rate: 0.0,
            unseen_rate: 0.0,
            type_error_rate: 0.0,
            non_finite_rate: 0.0,
            note: None,
            histogram: None,
            history: Vec::new(),
        }
    }
}

/// `auto` or one method for every column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MethodChoice {
    Auto,
    Fixed(Method),
}

/// Parses `auto` or a method name.
pub fn parse_method(name: &str) -> Result<MethodChoice, String> {
    if name == "auto" {
        return Ok(MethodChoice::Auto);
    }
    Method::from_name(name)
        .map(MethodChoice::Fixed)
        .ok_or_else(|| {
            format!(
                "unknown method {name:?}: use auto, psi, ks, wasserstein, jensen_shannon, chi2 or z"
            )
        })
}

/// Tests one column of the current data against its reference profile: the report line
/// shared by `modelwatch drift` and the live sidecar's drift report.
pub fn column_report(
    reference: &ColumnProfile,
    current: &CurrentColumn,
    method: MethodChoice,
    threshold: Option<f64>,
) -> ColumnReport {
    let rate = |n: u64| n as f64 / current.rows.max(1) as f64;
    let mut note = None;
    let fixed = match method {
        MethodChoice::Auto => None,
        MethodChoice::Fixed(m @ (Method::Ks | Method::Wasserstein))
            if reference.kind != ColumnKind::Numeric =>
        {
            note = Some(format!("{m} needs a numeric column; auto used"));
            None
        }
        MethodChoice::Fixed(m) => Some(m),
    };
    let config = ColumnDriftConfig {
        method: fixed,
        threshold,
    };
    let result = match (reference.kind, current.counts.as_ref()) {
        (ColumnKind::Numeric, Some(NumericCounts::Ks(counts))) => {
            drift::column::ks_counts_column_drift(counts, &config)
        }
        (ColumnKind::Numeric, Some(NumericCounts::Bins(counts))) => {
            let method = fixed.unwrap_or(Method::Psi);
            drift::column::bin_counts_column_drift(counts, method, &threshold)
        }
        (ColumnKind::Numeric, None) => {
            let reference_sample = reference
                .numeric
                .as_ref()
                .map_or(&[][..], |n| n.sample.as_slice());
            drift::numeric_column_drift(reference_sample, &current.sorted_sample(), &config)
        }
        (ColumnKind::Categorical | ColumnKind::Boolean, _) => {
            let (r, c) = aligned_counts(reference, current);
            drift::categorical_column_drift(&r, &c, &config).map(|d| d.result)
        }
    };
    let (method, statistic, score, p_value, threshold, drifted) = match result {
        Ok(r) => (
            r.method.to_string(),
            Some(r.statistic).filter(|s| s.is_finite()),
            Some(r.score).filter(|s| s.is_finite()),
            r.p_value.filter(|p| p.is_finite()),
            Some(r.threshold),
            r.drifted,
        ),
        Err(e) => {
            note = Some(e.to_string());
            ("-".to_string(), None, None, None, None, false)
        }
    };
    ColumnReport {
        name: reference.name.clone(),
        kind: kind_name(reference.kind).to_string(),
        method,
        statistic,
        score,
        p_value,
        threshold,
        drifted,
        evaluation_drifted: None,
        missing_rate: rate(current.missing),
        out_of_range_rate: rate(current.out_of_range),
        unseen_rate: rate(current.unseen),
        type_error_rate: rate(current.type_errors),
        non_finite_rate: rate(current.non_finite),
        note,
        histogram: histogram(reference, current),
        history: Vec::new(),
    }
}

/// Applies a multiple-testing correction across the columns tested with a p-value (the
/// other columns keep their verdict): `drifted` becomes the corrected verdict.
/// [`Correction::None`] changes nothing.
pub fn apply_correction<'a>(
    reports: impl IntoIterator<Item = &'a mut ColumnReport>,
    correction: Correction,
) {
    if correction == Correction::None {
        return;
    }
    let mut tested: Vec<&mut ColumnReport> = reports
        .into_iter()
        .filter(|r| r.p_value.is_some() && r.threshold.is_some())
        .collect();
    let tests: Vec<(f64, f64)> = tested
        .iter()
        .map(|r| (r.p_value.unwrap_or(1.0), r.threshold.unwrap_or(0.0)))
        .collect();
    for (report, verdict) in tested.iter_mut().zip(correction.verdicts(&tests)) {
        report.drifted = verdict;
    }
}

/// The sorted reference sample of a numeric column whose method is KS whatever the current
/// data holds: `--method ks`, or `auto` with at most 1,000 reference values of which more
/// than 5 are distinct (more current values only add distinct ones). Such columns count
/// current values between the reference values ([`drift::ks_counts`]) instead of sampling
/// them: the test is exact on every row and costs no sort.
pub fn surely_ks(reference: &ColumnProfile, method: MethodChoice) -> Option<&[f64]> {
    let sample = reference.numeric.as_ref()?.sample.as_slice();
    if reference.kind != ColumnKind::Numeric || sample.is_empty() {
        return None;
    }
    let ks = match method {
        MethodChoice::Fixed(m) => m == Method::Ks,
        MethodChoice::Auto => {
            let auto = drift::choose_method(drift::AutoInput {
                kind: ColumnKind::Numeric,
                reference_rows: sample.len() as u64,
                distinct_values: drift::binning::count_distinct_union(sample, &[]),
            });
            auto.method == Method::Ks
        }
    };
    ks.then_some(sample)
}

/// The sorted reference sample of a numeric column whose method is PSI or Jensen–Shannon
/// whatever the current data holds (`--method psi` or `--method jensen_shannon`): such
/// columns count current values into the reference's bins ([`drift::bin_counts`]) instead
/// of sampling them, exact on every row.
pub fn surely_binned(reference: &ColumnProfile, method: MethodChoice) -> Option<&[f64]> {
    let sample = reference.numeric.as_ref()?.sample.as_slice();
    let binned = matches!(
        method,
        MethodChoice::Fixed(Method::Psi | Method::JensenShannon)
    );
    (binned && reference.kind == ColumnKind::Numeric && !sample.is_empty()).then_some(sample)
}

/// A fresh current column set up for how `method` tests it: counting against the
/// reference for KS ([`surely_ks`]) or for PSI and Jensen–Shannon ([`surely_binned`]),
/// sampling otherwise.
pub fn counting_for_method(
    column: CurrentColumn,
    reference: &ColumnProfile,
    method: MethodChoice,
) -> CurrentColumn {
    if let Some(sorted) = surely_ks(reference, method) {
        column.counting_for_ks(sorted)
    } else if let Some(sorted) = surely_binned(reference, method) {
        column.counting_into_bins(sorted)
    } else {
        column
    }
}

/// The report's name for a column type.
pub fn kind_name(kind: ColumnKind) -> &'static str {
    match kind {
        ColumnKind::Numeric => "numeric",
        ColumnKind::Categorical => "categorical",
        ColumnKind::Boolean => "boolean",
    }
}
