//! A worker that lags behind a reload: the new window holds only rows of exchanges that
//! arrived after the reload.

use super::*;
use crate::protocol::{Batch, Column, Value};
use std::time::SystemTime;

fn batch(x: f64) -> Batch {
    Batch {
        columns: vec![Column {
            name: Some("x".into()),
            values: vec![Value::Number(x)],
        }],
        rows: 1,
        model_version: None,
    }
}

#[test]
fn rows_of_exchanges_that_arrived_before_a_reload_stay_out_of_the_new_window() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("reference.csv");
    let cells: String = (0..100).map(|i| format!("{i}\n")).collect();
    std::fs::write(&csv, format!("x\n{cells}")).unwrap();
    let config = Config {
        home: Some(dir.path().join("home")),
        state_dir: Some(dir.path().join("state")),
        analysis: AnalysisConfig {
            reference: Some(csv.to_str().unwrap().into()),
            ..AnalysisConfig::default()
        },
        ..Config::default()
    };
    let registry = prometheus::Registry::new();
    let started = LiveAnalysis::start(&config, &registry).unwrap().unwrap();
    let analysis = started.analysis.clone();
    let labels = ModelLabels {
        model: "m".into(),
        version: "unknown".into(),
    };
    let rows = || {
        analysis
            .metrics
            .rows
            .with_label_values(&["m", "unknown"])
            .get()
    };
    let changed = || {
        analysis
            .metrics
            .skipped
            .with_label_values(&["reference_changed"])
            .get()
    };
    let served_before = SystemTime::now();
    analysis.record(
        &labels,
        analysis.reference_for("m").unwrap(),
        served_before,
        &batch(1.0),
        None,
    );
    assert_eq!((rows(), changed()), (1, 0));

    analysis.reload().unwrap();
    // Queued before the reload, analysed after: served while the old reference was in force.
    let reference = analysis.reference_for("m").unwrap();
    analysis.record(&labels, reference.clone(), served_before, &batch(2.0), None);
    assert_eq!(changed(), 1);
    let served_after = SystemTime::now();
    analysis.record(&labels, reference, served_after, &batch(3.0), None);
    let states = analysis.states();
    assert_eq!(states.len(), 1);
    let state = states[0].lock().unwrap();
    let (window_rows, _) = state.features.window.merged(&state.reference.profile);
    assert_eq!(
        window_rows, 1,
        "only the exchange that arrived after the reload"
    );
    drop(state);
    analysis.begin_stop();
    analysis.stop();
    drop(started.queue);
    for thread in started.threads {
        thread.join().unwrap();
    }
}
