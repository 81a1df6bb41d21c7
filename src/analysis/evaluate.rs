//! The evaluator: on a timer, every model version's window is merged and tested against
//! its reference; the drift gauges and the JSON report are replaced in one go, and the
//! evaluation is queued as drift snapshots (and, with `quality.enabled`, performance
//! documents) when the Elasticsearch export is on.

use super::LiveAnalysis;
use super::state::{ModelVersionState, SCORE_HISTORY};
use crate::drift::alarms::{AlarmHistory, Correction, Persistence};
use crate::drift::model_report::{LiveReport, ModelReport, ReferenceSummary, WindowSummary};
use crate::drift::report::{ColumnReport, MethodChoice, apply_correction, column_report};
use crate::drift::{self, Method};
use crate::profile::Profile;
use std::collections::{HashMap, VecDeque};
use std::time::{Instant, SystemTime};

/// Realised and estimated performance; the estimate of each live version is fitted on
/// its reference profile's labelled validation rows.
fn evaluate_quality(
    quality: &crate::quality::Quality,
    states: &[std::sync::Arc<std::sync::Mutex<ModelVersionState>>],
    facts: impl Fn(&str, &str) -> Option<crate::quality::VersionFacts>,
) {
    use crate::quality::cbpe::live::VersionReference;
    let live: Vec<_> = states
        .iter()
        .filter_map(|shared| {
            let state = shared.lock().expect("model state poisoned");
            (!state.is_retired()).then(|| (state.labels.clone(), state.reference.clone()))
        })
        .collect();
    let references: Vec<VersionReference> = live
        .iter()
        .map(|(labels, reference)| VersionReference {
            model: &labels.model,
            version: &labels.version,
            reference_id: &reference.version,
            labelled: reference.profile.labelled_predictions.as_ref(),
        })
        .collect();
    quality.evaluate(&references, facts);
}

/// Evaluates every model version now and publishes the result.
pub fn evaluate_all(analysis: &LiveAnalysis) {
    let states = analysis.states();
    if let Some(quality) = &analysis.quality {
        // What the registry says of each version with stored predictions: the profile of
        // that version (loaded once, like the drift references of versions traffic names),
        // in the family of the model's configured reference.
        let current = analysis.reference_set();
        evaluate_quality(quality, &states, |model, version| {
            let reference = current.for_model(model)?;
            let loaded = analysis.versions.get(reference, version)?;
            (loaded.version == version).then(|| loaded.facts.clone())
        });
        if let Some(export) = analysis.export.get() {
            export
                .queue
                .offer_performance(crate::quality::performance::document::documents(
                    &quality.report(),
                ));
        }
    }
    let current = analysis.reference_set();
    let evaluated_at = SystemTime::now();
    let mut models = Vec::with_capacity(states.len());
    let mut retired = Vec::new();
    for shared in states {
        let mut state = shared.lock().expect("model state poisoned");
        if state.is_retired() {
            continue;
        }
        // A version the alias has moved away from stays while traffic still names it
        // (a canary, a server not yet switched), and goes once a whole interval passes
        // without any: no gauge of a version that stopped serving lingers.
        let fresh = state.take_fresh();
        if !fresh && !current.is_current(&state.labels.model, &state.reference) {
            state.retire(&analysis.metrics);
            drop(state);
            retired.push(shared);
            continue;
        }
        let mut report = evaluate(analysis, &mut state);
        // The methods run on their own thread, without this lock: the columns'
        // evaluation never waits for them, and workers keep recording meanwhile.
        super::multivariate::offer(analysis, &shared, &mut state);
        report.window.multivariate_rows = state.multivariate_rows;
        report.multivariate = state.multivariate.clone();
        report.multivariate_evaluated_at = state.multivariate_at.clone();
        drop(state);
        models.push(report);
    }
    if !retired.is_empty() {
        analysis.forget(&retired);
    }
    models.sort_by(|a, b| (&a.model, &a.model_version).cmp(&(&b.model, &b.model_version)));
    if let Some(export) = analysis.export.get() {
        for model in &models {
            export
                .queue
                .offer_drift(crate::export::elasticsearch::drift_snapshot::snapshots(
                    model,
                    evaluated_at,
                ));
        }
    }
    analysis.publish(LiveReport {
        generated_at: humantime::format_rfc3339_seconds(evaluated_at).to_string(),
        evaluation_interval_seconds: analysis.config.evaluation_interval.as_secs_f64(),
        models,
    });
}

fn evaluate(analysis: &LiveAnalysis, state: &mut ModelVersionState) -> ModelReport {
    let now = Instant::now();
    let reference = state.reference.clone();
    let profile = &reference.profile;
    state.features.window.expire(profile, now);
    state.predictions.window.expire(profile, now);
    let (rows, features) = state.features.window.merged(profile);
    let (prediction_rows, predictions) = state.predictions.window.merged(profile);
    let mut feature_reports = reports(
        analysis,
        profile,
        state.features.window.tracked(),
        &features,
    );
    let mut prediction_reports = reports(
        analysis,
        profile,
        state.predictions.window.tracked(),
        &predictions,
    );

    control_alarms(
        analysis,
        &mut state.alarms,
        &mut feature_reports,
        &mut prediction_reports,
    );
    remember_scores(
        &mut state.scores,
        &mut feature_reports,
        &mut prediction_reports,
    );

    let labels = &state.labels;
    let m = &analysis.metrics;
    let tested: Vec<&ColumnReport> = feature_reports
        .iter()
        .chain(&prediction_reports)
        .filter(|r| r.score.is_some())
        .collect();
    let verdict = drift::dataset_drift(
        tested.iter().map(|r| r.drifted),
        analysis.config.drift_share,
    );
    for (report, is_prediction) in feature_reports
        .iter()
        .map(|r| (r, false))
        .chain(prediction_reports.iter().map(|r| (r, true)))
    {
        let feature = if is_prediction {
            format!("prediction:{}", report.name)
        } else {
            report.name.clone()
        };
        let mvf = [&*labels.model, &*labels.version, feature.as_str()];
        for method in Method::ALL {
            // Only the method in use has a series; a feature whose method changed (auto
            // picks by window size) must not keep reporting the old one.
            let values = [mvf[0], mvf[1], mvf[2], method.as_str()];
            if method.as_str() != report.method {
                let _ = m.drift_score.remove_label_values(&values);
                let _ = m.drift_p_value.remove_label_values(&values);
                let _ = m.drift_statistic.remove_label_values(&values);
            }
        }
        match report.score {
            Some(score) => {
                let values = [mvf[0], mvf[1], mvf[2], report.method.as_str()];
                m.drift_score.with_label_values(&values).set(score);
                if let Some(p) = report.p_value {
                    m.drift_p_value.with_label_values(&values).set(p);
                }
                match report.statistic {
                    Some(x) => m.drift_statistic.with_label_values(&values).set(x),
                    None => {
                        let _ = m.drift_statistic.remove_label_values(&values);
                    }
                }
                m.drift_detected
                    .with_label_values(&mvf)
                    .set(i64::from(report.drifted));
            }
            None => {
                let _ = m.drift_detected.remove_label_values(&mvf);
            }
        }
    }
    let mv = [&*labels.model, &*labels.version];
    m.drift_share.with_label_values(&mv).set(verdict.share);
    m.window_rows.with_label_values(&mv).set(rows as i64);

    ModelReport {
        model: labels.model.to_string(),
        model_version: labels.version.to_string(),
        reference: ReferenceSummary {
            spec: reference.spec.clone(),
            source: profile.source.clone(),
            version: reference.version.clone(),
        },
        window: WindowSummary {
            kind: match analysis.config.window {
                crate::config::WindowKind::Rows => "rows",
                crate::config::WindowKind::Time => "time",
            },
            rows,
            prediction_rows,
            multivariate_rows: 0,
        },
        drift_share: verdict.share,
        drift_share_threshold: analysis.config.drift_share,
        drifted_features: verdict.drifted_columns,
        dataset_drift: verdict.drifted,
        features: feature_reports,
        predictions: prediction_reports,
        multivariate: Vec::new(),
        multivariate_evaluated_at: None,
    }
}

/// The correction across this evaluation's columns (features and predictions), then
/// persistence over evaluations: `drifted` is what the gauges, the report and the
/// snapshots show, `evaluation_drifted` this evaluation's corrected verdict.
fn control_alarms(
    analysis: &LiveAnalysis,
    alarms: &mut HashMap<String, AlarmHistory>,
    features: &mut [ColumnReport],
    predictions: &mut [ColumnReport],
) {
    // Both were validated at start: the fallbacks never apply.
    let correction = Correction::from_name(&analysis.config.correction).unwrap_or_default();
    let persistence = Persistence::parse(&analysis.config.persistence).unwrap_or(Persistence::NONE);
    apply_correction(
        features.iter_mut().chain(predictions.iter_mut()),
        correction,
    );
    let named = features.iter_mut().map(|r| (r.name.clone(), r)).chain(
        predictions
            .iter_mut()
            .map(|r| (format!("prediction:{}", r.name), r)),
    );
    for (key, report) in named {
        if report.score.is_none() {
            continue;
        }
        report.evaluation_drifted = Some(report.drifted);
        report.drifted = alarms
            .entry(key)
            .or_default()
            .record(report.drifted, persistence);
    }
}

/// Appends this evaluation's score to each column's bounded history and hands the
/// history to its report line (the page draws it). A column without a score this time
/// keeps its history unchanged.
fn remember_scores(
    scores: &mut HashMap<String, VecDeque<f64>>,
    features: &mut [ColumnReport],
    predictions: &mut [ColumnReport],
) {
    let named = features.iter_mut().map(|r| (r.name.clone(), r)).chain(
        predictions
            .iter_mut()
            .map(|r| (format!("prediction:{}", r.name), r)),
    );
    for (key, report) in named {
        let history = scores.entry(key).or_default();
        if let Some(score) = report.score {
            if history.len() == SCORE_HISTORY {
                history.pop_front();
            }
            history.push_back(score);
        }
        report.history = history.iter().copied().collect();
    }
}

fn reports(
    analysis: &LiveAnalysis,
    profile: &Profile,
    tracked: &[usize],
    merged: &[crate::drift::current::CurrentColumn],
) -> Vec<ColumnReport> {
    tracked
        .iter()
        .zip(merged)
        .filter(|(_, current)| current.rows > 0)
        .map(|(&p, current)| {
            let column = &profile.columns[p];
            let (method, threshold) = analysis.method_for(&column.name);
            column_report(column, current, method, threshold)
        })
        .collect()
}

/// Parses a configured method name (validated at start).
pub fn method_choice(name: &str) -> MethodChoice {
    crate::drift::report::parse_method(name).unwrap_or(MethodChoice::Auto)
}

#[cfg(test)]
mod tests;
