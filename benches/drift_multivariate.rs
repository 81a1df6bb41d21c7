//! CPU time of one multivariate drift evaluation: the figures behind the row cap and the
//! numbers in `docs/multivariate-drift.md`.
//!
//! `cargo bench --bench drift_multivariate [-- --runs R]` (without `--bench`, as
//! `cargo test --all-targets` runs it, it only says so)
//!
//! For 14 and 50 numeric features (a correlated pair, the rest independent N(0, 1)) and
//! 1,000 and 10,000 rows on each side, it takes the CPU time of the thread (Linux), median
//! of R runs
//! (default 5): fitting the encoder and PCA on the reference (once per reference), the
//! reconstruction error of the current rows against it, the domain classifier (rows capped
//! at the default 2,000 a side), and both together as `multivariate_drift` runs them.
//!
//! Then the live sidecar's evaluation at its caps: a reference profile's row sample of
//! 5,000 rows fitted once ([`FittedReference`]), and per evaluation both methods on a
//! window's row sample of `analysis.multivariate.window_rows` (500 by default, 2,000
//! for comparison), the classifier at `classifier_rows` a side (2,000 by default, 1,000
//! for comparison).
//!
//! With `--embeddings` (only that): the live evaluation on embedding vectors of 384, 768
//! and 1,536 dimensions, as raw columns and as the 34 columns the sidecar makes of them
//! (`src/protocol/openai/embeddings.rs`: input tokens, norm, 32 projected components):
//! CPU per evaluation, fit once, the projection per vector, and which method flags a
//! modest shift (docs/llm.md "Embedding drift").
//!
//! With `--calibrate K`: the live defaults' false alarms and power, at 14 features. K
//! windows of 500 rows against the 5,000-row reference: undrifted, and with a share f of
//! their rows from a modest change (the correlated pair's ρ from 0.8 to 0.4, every
//! marginal unchanged): the share of windows each method flags, per f.

use modelwatch::drift::multivariate::encoding::Encoder;
use modelwatch::drift::multivariate::reconstruction::ReconstructionModel;
use modelwatch::drift::multivariate::{
    FeatureTable, FeatureValues, FittedReference, MultivariateConfig, domain_classifier,
    multivariate_drift,
};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::{Distribution, StandardNormal};

fn table(n: usize, d: usize, rho: f64, seed: u64) -> FeatureTable {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut columns = vec![Vec::with_capacity(n); d];
    for _ in 0..n {
        let a: f64 = StandardNormal.sample(&mut rng);
        let e: f64 = StandardNormal.sample(&mut rng);
        columns[0].push(a);
        columns[1].push(rho * a + (1.0 - rho * rho).sqrt() * e);
        for col in columns.iter_mut().skip(2) {
            col.push(StandardNormal.sample(&mut rng));
        }
    }
    FeatureTable {
        names: (0..d).map(|j| format!("x{j}")).collect(),
        columns: columns.into_iter().map(FeatureValues::Numeric).collect(),
    }
}

/// CPU time this thread has run, in ms (`/proc/thread-self/schedstat`, first field, ns):
/// on a shared machine wall time counts the other processes too.
fn thread_cpu_ms() -> f64 {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat")
        .expect("Linux /proc/thread-self/schedstat");
    let ns: f64 = text.split_whitespace().next().unwrap().parse().unwrap();
    ns / 1e6
}

fn median_ms(runs: usize, mut f: impl FnMut()) -> f64 {
    let mut times: Vec<f64> = (0..runs)
        .map(|_| {
            let start = thread_cpu_ms();
            f();
            thread_cpu_ms() - start
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if !args.iter().any(|a| a == "--bench") {
        println!("drift_multivariate: run with `cargo bench --bench drift_multivariate`");
        return;
    }
    let runs = args
        .iter()
        .position(|a| a == "--runs")
        .and_then(|i| args.get(i + 1))
        .map_or(5, |v| v.parse().expect("--runs N"));
    if args.iter().any(|a| a == "--embeddings") {
        embeddings(runs);
        return;
    }
    let config = MultivariateConfig::default();
    println!(
        "| features | rows a side | fit (ms) | reconstruction (ms) | domain classifier (ms) | both (ms) |"
    );
    println!("|---|---|---|---|---|---|");
    for d in [14, 50] {
        for n in [1_000, 10_000] {
            let reference = table(n, d, 0.8, 1);
            let current = table(n, d, -0.8, 2);
            let fit = median_ms(runs, || {
                let encoder = Encoder::fit(&reference).unwrap();
                ReconstructionModel::fit(&encoder.encode(&reference), 10).unwrap();
            });
            let encoder = Encoder::fit(&reference).unwrap();
            let reference_x = encoder.encode(&reference);
            let model = ReconstructionModel::fit(&reference_x, 10).unwrap();
            let reconstruction = median_ms(runs, || {
                model.evaluate(&encoder.encode(&current)).unwrap();
            });
            let current_x = encoder.encode(&current);
            let classifier = median_ms(runs, || {
                domain_classifier::domain_classifier(&reference_x, &current_x, &config).unwrap();
            });
            let both = median_ms(runs, || {
                multivariate_drift(&reference, &current, &config).unwrap();
            });
            println!(
                "| {d} | {n} | {fit:.1} | {reconstruction:.1} | {classifier:.1} | {both:.1} |"
            );
        }
    }
    live(runs);
    if let Some(k) = args
        .iter()
        .position(|a| a == "--calibrate")
        .and_then(|i| args.get(i + 1))
    {
        calibrate(k.parse().expect("--calibrate K"));
    }
}

/// `n` rows: a share `f` (the last rows) with the pair's correlation at `rho_after`.
fn mixed(n: usize, d: usize, f: f64, rho_after: f64, seed: u64) -> FeatureTable {
    let shifted = (n as f64 * f).round() as usize;
    let tail = table(shifted, d, rho_after, seed ^ 0xabcdef);
    let mut head = table(n - shifted, d, 0.8, seed);
    for (c, t) in head.columns.iter_mut().zip(tail.columns) {
        if let (FeatureValues::Numeric(c), FeatureValues::Numeric(t)) = (c, t) {
            c.extend(t);
        }
    }
    head
}

/// Share of windows each method flags, undrifted and at each share of changed rows.
fn calibrate(k: usize) {
    let d = 14;
    let config = MultivariateConfig::default();
    let fitted = FittedReference::fit(&table(5_000, d, 0.8, 1), &config).unwrap();
    println!();
    println!(
        "| changed rows in the window | windows | domain classifier flags | reconstruction error flags | either |"
    );
    println!("|---|---|---|---|---|");
    for f in [0.0, 0.25, 0.5, 0.75, 1.0] {
        let (mut classifier, mut reconstruction, mut either) = (0, 0, 0);
        for w in 0..k {
            let window = mixed(500, d, f, 0.4, 1_000 + w as u64);
            let results = fitted.evaluate(&window, &config).unwrap();
            classifier += usize::from(results[0].drifted);
            reconstruction += usize::from(results[1].drifted);
            either += usize::from(results.iter().any(|r| r.drifted));
        }
        let share = |x: usize| x as f64 / k as f64;
        println!(
            "| {:.0}% | {k} | {:.3} | {:.3} | {:.3} |",
            f * 100.0,
            share(classifier),
            share(reconstruction),
            share(either)
        );
    }
}

/// The live evaluation at the caps: what the evaluator thread spends per model version
/// and evaluation.
fn live(runs: usize) {
    println!();
    println!(
        "| features | window rows | classifier rows a side | fit once (ms) | evaluation (ms) |"
    );
    println!("|---|---|---|---|---|");
    for d in [14, 50] {
        let reference = table(5_000, d, 0.8, 1);
        for (window, classifier_rows) in [(500, 2_000), (500, 1_000), (2_000, 2_000)] {
            let config = MultivariateConfig {
                classifier_rows,
                ..MultivariateConfig::default()
            };
            let current = table(window, d, -0.8, 2);
            let fit = median_ms(runs, || {
                FittedReference::fit(&reference, &config).unwrap();
            });
            let fitted = FittedReference::fit(&reference, &config).unwrap();
            let evaluation = median_ms(runs, || {
                fitted.evaluate(&current, &config).unwrap();
            });
            println!("| {d} | {window} | {classifier_rows} | {fit:.1} | {evaluation:.1} |");
        }
    }
}

/// `n` unit vectors of dimension `d` like sentence embeddings: a common mean direction, 24
/// latent factors of decaying spread along fixed random directions, a little isotropic
/// noise; latent factor 5's mean moved by `shift` (in its standard deviations).
fn embedding_vectors(n: usize, d: usize, shift: f64, seed: u64) -> Vec<Vec<f64>> {
    let mut basis_rng = StdRng::seed_from_u64(7);
    let gaussian = |rng: &mut StdRng, len: usize| -> Vec<f64> {
        (0..len).map(|_| StandardNormal.sample(rng)).collect()
    };
    let mean = gaussian(&mut basis_rng, d);
    let factors: Vec<Vec<f64>> = (0..24).map(|_| gaussian(&mut basis_rng, d)).collect();
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            let mut x: Vec<f64> = gaussian(&mut rng, d).iter().map(|e| 0.3 * e).collect();
            for (j, m) in mean.iter().enumerate() {
                x[j] += 0.5 * m;
            }
            for (k, u) in factors.iter().enumerate() {
                let sd = 1.0 / ((k + 1) as f64).sqrt();
                let z: f64 = StandardNormal.sample(&mut rng);
                let z = sd * (z + if k == 5 { shift } else { 0.0 });
                for (xj, uj) in x.iter_mut().zip(u) {
                    *xj += z * uj;
                }
            }
            let norm = x.iter().map(|v| v * v).sum::<f64>().sqrt();
            x.iter().map(|v| v / norm).collect()
        })
        .collect()
}

fn raw_table(vectors: &[Vec<f64>]) -> FeatureTable {
    let d = vectors[0].len();
    FeatureTable {
        names: (0..d).map(|j| format!("e{j}")).collect(),
        columns: (0..d)
            .map(|j| FeatureValues::Numeric(vectors.iter().map(|v| v[j]).collect()))
            .collect(),
    }
}

/// The sidecar's columns of the vectors (input tokens drawn alike on both sides).
fn projected_table(vectors: &[Vec<f64>], seed: u64) -> FeatureTable {
    use modelwatch::protocol::openai::embeddings::{column_names, rows};
    let mut rng = StdRng::seed_from_u64(seed);
    let tokens: Vec<u64> = vectors
        .iter()
        .map(|_| {
            let z: f64 = StandardNormal.sample(&mut rng);
            5 + (z.abs() * 10.0) as u64
        })
        .collect();
    let rows = rows(Some(&tokens), vectors);
    let mut columns = vec![
        rows.iter()
            .map(|r| r.input_tokens.unwrap() as f64)
            .collect::<Vec<_>>(),
        rows.iter().map(|r| r.norm).collect(),
    ];
    for i in 0..rows[0].components.len() {
        columns.push(rows.iter().map(|r| r.components[i]).collect());
    }
    FeatureTable {
        names: column_names(),
        columns: columns.into_iter().map(FeatureValues::Numeric).collect(),
    }
}

fn embeddings(runs: usize) {
    use modelwatch::protocol::openai::embeddings::project;
    let config = MultivariateConfig::default();
    println!(
        "| dimensions | columns | fit once (ms) | evaluation (ms) | flags at shift 0 | flags at shift 0.5 |"
    );
    println!("|---|---|---|---|---|---|");
    for d in [384, 768, 1536] {
        let reference = embedding_vectors(5_000, d, 0.0, 1);
        let same = embedding_vectors(500, d, 0.0, 2);
        let shifted = embedding_vectors(500, d, 0.5, 3);
        let flags = |fitted: &FittedReference, window: &FeatureTable| -> String {
            let results = fitted.evaluate(window, &config).unwrap();
            let named: Vec<&str> = results
                .iter()
                .filter(|r| r.drifted)
                .map(|r| r.method.as_str())
                .collect();
            if named.is_empty() {
                "none".into()
            } else {
                named.join(", ")
            }
        };
        for (label, reference, same, shifted) in [
            (
                "raw",
                raw_table(&reference),
                raw_table(&same),
                raw_table(&shifted),
            ),
            (
                "projected",
                projected_table(&reference, 1),
                projected_table(&same, 2),
                projected_table(&shifted, 3),
            ),
        ] {
            // The raw fit is slow: one run of it is enough to show its order.
            let fit_runs = if label == "raw" { 1 } else { runs };
            let fit = median_ms(fit_runs, || {
                FittedReference::fit(&reference, &config).unwrap();
            });
            let fitted = FittedReference::fit(&reference, &config).unwrap();
            let evaluation = median_ms(fit_runs, || {
                fitted.evaluate(&shifted, &config).unwrap();
            });
            println!(
                "| {d} | {label} ({}) | {fit:.0} | {evaluation:.0} | {} | {} |",
                reference.names.len(),
                flags(&fitted, &same),
                flags(&fitted, &shifted)
            );
        }
        let vectors = embedding_vectors(1_000, d, 0.0, 4);
        let per_vector = median_ms(runs, || {
            for v in &vectors {
                std::hint::black_box(project(v));
            }
        }) * 1_000.0
            / vectors.len() as f64;
        println!("| {d} | projection of one vector: {per_vector:.1} µs | | | | |");
    }
}
