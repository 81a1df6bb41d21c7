//! Analysis throughput on one core: rows per second that one worker decodes and adds to a
//! model version's state (per-bin counters, data-quality counters, the live window), for a
//! 14-feature Open Inference Protocol body of 100 rows and the credit data's 13 mixed
//! features as named tensors.
//!
//! Baseline, measured in the same run: decoding alone. The difference is what the
//! windows and counters cost. The issue's target is ≥ 50,000 rows/s for the whole path.
//!
//!     cargo bench --bench analysis

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use modelwatch::analysis::live_metrics::LiveMetrics;
use modelwatch::analysis::references::LoadedReference;
use modelwatch::analysis::state::ModelVersionState;
use modelwatch::config::AnalysisConfig;
use modelwatch::profile::schema::{Schema, SchemaOverrides};
use modelwatch::profile::{ProfileOptions, build_from_csv};
use modelwatch::protocol::{Protocol, RequestMeta, decode_request};
use modelwatch::traffic::identity::ModelLabels;
use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

const ROWS: usize = 100;

fn numeric_csv(dir: &Path, features: usize, rows: usize) -> std::path::PathBuf {
    let path = dir.join(format!("numeric{features}.csv"));
    let mut text: String = (0..features)
        .map(|j| format!("f{j}"))
        .collect::<Vec<_>>()
        .join(",");
    text.push('\n');
    for r in 0..rows {
        let row: Vec<String> = (0..features).map(|j| format!("{}", value(r, j))).collect();
        text.push_str(&row.join(","));
        text.push('\n');
    }
    std::fs::write(&path, text).unwrap();
    path
}

fn value(row: usize, j: usize) -> f64 {
    ((row * 7919 + j * 104_729) % 1000) as f64 * 0.37 + j as f64
}

fn state_for(csv: &Path, target: Option<&str>) -> ModelVersionState {
    let mut reader = csv::Reader::from_path(csv).unwrap();
    let schema = Schema::infer(
        &mut reader,
        &SchemaOverrides {
            target: target.map(str::to_string),
            ..Default::default()
        },
    )
    .unwrap();
    let profile = build_from_csv(csv, &schema, &ProfileOptions::default(), "bench").unwrap();
    let config = AnalysisConfig::default();
    let metrics = LiveMetrics::register(&prometheus::Registry::new()).unwrap();
    ModelVersionState::new(
        Arc::new(LoadedReference::new("bench", profile, config.max_features)),
        ModelLabels {
            model: "bench".into(),
            version: "1".into(),
        },
        &config,
        &metrics,
    )
}

fn oip_numeric_body(features: usize) -> String {
    let data: Vec<String> = (0..ROWS)
        .flat_map(|r| (0..features).map(move |j| format!("{}", value(r + 13, j))))
        .collect();
    format!(
        r#"{{"inputs":[{{"name":"input-0","shape":[{ROWS},{features}],"datatype":"FP64","data":[{}]}}]}}"#,
        data.join(",")
    )
}

fn oip_credit_body(csv: &Path) -> String {
    let mut reader = csv::Reader::from_path(csv).unwrap();
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_string)
        .collect();
    let rows: Vec<csv::StringRecord> = reader.records().take(ROWS).map(Result::unwrap).collect();
    let tensors: Vec<String> = header
        .iter()
        .enumerate()
        .filter(|(_, h)| *h != "Status")
        .map(|(j, h)| {
            let values: Vec<&str> = rows.iter().map(|r| &r[j]).collect();
            let numeric = values
                .iter()
                .all(|v| v.is_empty() || v.parse::<f64>().is_ok());
            let data: Vec<String> = values
                .iter()
                .map(|v| match (v.is_empty(), numeric) {
                    (true, _) => "null".to_string(),
                    (false, true) => v.to_string(),
                    (false, false) => format!("\"{v}\""),
                })
                .collect();
            let datatype = if numeric { "FP64" } else { "BYTES" };
            format!(
                r#"{{"name":"{h}","shape":[{ROWS}],"datatype":"{datatype}","data":[{}]}}"#,
                data.join(",")
            )
        })
        .collect();
    format!(r#"{{"inputs":[{}]}}"#, tensors.join(","))
}

fn bench(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("mw-bench-analysis-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let credit = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/credit/credit_data.csv");
    let cases = [
        (
            "oip_14_numeric_x100",
            state_for(&numeric_csv(&dir, 14, 5000), None),
            oip_numeric_body(14),
        ),
        (
            "oip_credit_13_mixed_x100",
            state_for(&credit, Some("Status")),
            oip_credit_body(&credit),
        ),
    ];
    let meta = RequestMeta {
        content_type: Some("application/json"),
        inference_header_len: None,
    };
    for (name, mut state, body) in cases {
        let mut group = c.benchmark_group(name);
        group.throughput(Throughput::Elements(ROWS as u64));
        group.bench_function("decode_only", |b| {
            b.iter(|| {
                decode_request(Protocol::OpenInference, &meta, black_box(body.as_bytes())).unwrap()
            })
        });
        group.bench_function("decode_and_record", |b| {
            b.iter(|| {
                let batch =
                    decode_request(Protocol::OpenInference, &meta, black_box(body.as_bytes()))
                        .unwrap();
                state.record(&batch, None, Instant::now());
            })
        });
        group.finish();
    }
    std::fs::remove_dir_all(dir).ok();
}

criterion_group!(benches, bench);
criterion_main!(benches);
