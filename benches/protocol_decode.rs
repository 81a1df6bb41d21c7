//! Decode throughput in rows per second for the bodies the sidecar sees most: a
//! 14-feature Open Inference Protocol request of 1 and 100 rows, and a KServe v1
//! `instances` request of 100 rows.
//!
//! Baseline, measured in the same run: parsing the same body into a `serde_json::Value`
//! tree and nothing else, i.e. the cost of reading the JSON at all. The ratio
//! decode / baseline shows what the column building adds (or saves).
//!
//!     cargo bench --bench protocol_decode

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use modelwatch::protocol::{Protocol, RequestMeta, decode_request};
use std::hint::black_box;

const FEATURES: usize = 14;

/// A feature value that looks like real data: mixed magnitudes and decimals.
fn feature(row: usize, j: usize) -> f64 {
    ((row * 31 + j * 17) % 1000) as f64 * 0.37 + j as f64
}

fn oip_body(rows: usize) -> String {
    let data: Vec<String> = (0..rows)
        .flat_map(|r| (0..FEATURES).map(move |j| format!("{}", feature(r, j))))
        .collect();
    format!(
        r#"{{"id":"bench","inputs":[{{"name":"input-0","shape":[{rows},{FEATURES}],"datatype":"FP64","data":[{}]}}]}}"#,
        data.join(",")
    )
}

fn v1_body(rows: usize) -> String {
    let instances: Vec<String> = (0..rows)
        .map(|r| {
            let row: Vec<String> = (0..FEATURES)
                .map(|j| format!("{}", feature(r, j)))
                .collect();
            format!("[{}]", row.join(","))
        })
        .collect();
    format!(r#"{{"instances":[{}]}}"#, instances.join(","))
}

fn bench(c: &mut Criterion) {
    let cases = [
        ("oip_14x1", Protocol::OpenInference, oip_body(1), 1),
        ("oip_14x100", Protocol::OpenInference, oip_body(100), 100),
        ("v1_instances_14x100", Protocol::KServeV1, v1_body(100), 100),
    ];
    let meta = RequestMeta::default();
    for (name, protocol, body, rows) in &cases {
        let mut group = c.benchmark_group(*name);
        group.throughput(Throughput::Elements(*rows as u64));
        group.bench_function("decode", |b| {
            b.iter(|| {
                decode_request(*protocol, &meta, black_box(body.as_bytes())).map(|batch| batch.rows)
            })
        });
        group.bench_function("baseline_serde_json_value", |b| {
            b.iter(|| {
                serde_json::from_slice::<serde_json::Value>(black_box(body.as_bytes())).is_ok()
            })
        });
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
