//! Server-side render time of the drift page for one model version with 50 features (and
//! 2 predictions), each with a 20-bar histogram and a full score history
//! (`analysis::state::SCORE_HISTORY` evaluations): what `GET /` and `GET /?part=main` cost
//! on the admin listener. Also writes the page to `target/page-50-features.html`, whose
//! size (and `gzip -9` size) is the page weight the README states.
//!
//!     cargo bench --bench page_render

use criterion::{Criterion, criterion_group, criterion_main};
use modelwatch::analysis::state::SCORE_HISTORY;
use modelwatch::drift::histogram::Histogram;
use modelwatch::drift::model_report::{LiveReport, ModelReport, ReferenceSummary, WindowSummary};
use modelwatch::drift::report::ColumnReport;
use modelwatch::page::{self, SidecarHealth};
use std::hint::black_box;

fn column(i: usize) -> ColumnReport {
    let bars = 20;
    ColumnReport {
        name: format!("feature_{i:02}"),
        kind: "numeric".into(),
        method: "ks".into(),
        statistic: Some(0.05 + i as f64 / 1000.0),
        score: Some(0.5 / (i + 1) as f64),
        p_value: Some(0.5 / (i + 1) as f64),
        threshold: Some(0.05),
        drifted: i.is_multiple_of(7),
        evaluation_drifted: Some(i.is_multiple_of(7)),
        missing_rate: 0.01,
        out_of_range_rate: 0.002,
        unseen_rate: 0.0,
        type_error_rate: 0.0,
        non_finite_rate: 0.0,
        note: None,
        histogram: Some(Histogram {
            labels: (0..bars).map(|b| format!("[{b}.5, {}.5)", b + 1)).collect(),
            reference: vec![1.0 / bars as f64; bars],
            current: (0..bars).map(|b| (b + 1) as f64 / 210.0).collect(),
        }),
        history: (0..SCORE_HISTORY)
            .map(|t| ((t * 37 + i) % 100) as f64 / 100.0)
            .collect(),
    }
}

fn report() -> LiveReport {
    LiveReport {
        generated_at: "2026-12-05T04:00:00Z".into(),
        evaluation_interval_seconds: 15.0,
        models: vec![ModelReport {
            model: "credit".into(),
            model_version: "3".into(),
            reference: ReferenceSummary {
                spec: "credit@production".into(),
                source: "dataset credit@2".into(),
                version: "3".into(),
            },
            window: WindowSummary {
                kind: "rows",
                rows: 10_000,
                prediction_rows: 10_000,
                multivariate_rows: 0,
            },
            drift_share: 0.16,
            drift_share_threshold: 0.5,
            drifted_features: 8,
            dataset_drift: false,
            features: (0..50).map(column).collect(),
            predictions: (50..52).map(column).collect(),
            multivariate: Vec::new(),
            multivariate_evaluated_at: None,
        }],
    }
}

fn render(c: &mut Criterion) {
    let report = report();
    let health = SidecarHealth::default();
    let html = page::live_page(&report, &health);
    let out = concat!(env!("CARGO_MANIFEST_DIR"), "/target/page-50-features.html");
    std::fs::write(out, &html).unwrap();
    println!(
        "page with 50 features: {} bytes, written to {out}",
        html.len()
    );
    c.bench_function("live_page_50_features", |b| {
        b.iter(|| page::live_page(black_box(&report), black_box(&health)))
    });
    c.bench_function("live_main_50_features", |b| {
        b.iter(|| page::live_main(black_box(&report), black_box(&health)))
    });
}

criterion_group!(benches, render);
criterion_main!(benches);
