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
//! With `--calibrate K` (`--features D`, default 50; `--runs 0` skips the cost tables): the
//! live defaults' false alarms and power. K undrifted 500-row windows spread over 10
//! references of 5,000 rows: the classifier's `z = (score − 1/2) / null sd` (mean and sd,
//! 0 and 1 if its null is right) and the share flagged at α = 0.05 and 0.01 with Wilson
//! 95% intervals, the reconstruction error's share; then windows with a share f of their
//! rows from a modest change (the correlated pair's ρ from 0.8 to 0.4, every marginal
//! unchanged): the share of windows each method flags, per f.
//!
//! With `--simulate HOURS` (`--episodes E`, default 5): live evaluation as the sidecar
//! runs it, a 10,000-row window in 10 sub-windows, each keeping a reservoir of 50 rows,
//! 10 rows/s, an evaluation every 15 s on the 500-row sample: alarms per day of each
//! method under persistence 1/1 and 3/5 (onsets, with a Poisson 95% interval), then the
//! time until each reports the ρ 0.8 → 0.4 change in every new row.

use modelwatch::drift::alarms::{AlarmHistory, Persistence};
use modelwatch::drift::multivariate::MultivariateResult;
use modelwatch::drift::multivariate::encoding::Encoder;
use modelwatch::drift::multivariate::reconstruction::ReconstructionModel;
use modelwatch::drift::multivariate::{
    FeatureTable, FeatureValues, FittedReference, MultivariateConfig, domain_classifier,
    multivariate_drift,
};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::{Distribution, StandardNormal};
use statrs::distribution::{ContinuousCDF, Normal};

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

/// The value after `name`, or `default`.
fn arg(args: &[String], name: &str, default: usize) -> usize {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map_or(default, |v| v.parse().expect("a whole number"))
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if !args.iter().any(|a| a == "--bench") {
        println!("drift_multivariate: run with `cargo bench --bench drift_multivariate`");
        return;
    }
    let runs = arg(&args, "--runs", 5);
    if args.iter().any(|a| a == "--embeddings") {
        embeddings(runs);
        return;
    }
    let config = MultivariateConfig::default();
    if runs > 0 {
        cost(runs, &config);
        live(runs);
    }
    if let Some(k) = args
        .iter()
        .position(|a| a == "--calibrate")
        .and_then(|i| args.get(i + 1))
    {
        calibrate(
            k.parse().expect("--calibrate K"),
            arg(&args, "--features", 50),
        );
    }
    if let Some(hours) = args
        .iter()
        .position(|a| a == "--simulate")
        .and_then(|i| args.get(i + 1))
    {
        simulate_live(
            hours.parse().expect("--simulate HOURS"),
            arg(&args, "--features", 50),
            arg(&args, "--episodes", 5),
        );
    }
}

/// CPU per evaluation of each method, offline, at 1,000 and 10,000 rows a side.
fn cost(runs: usize, config: &MultivariateConfig) {
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
                domain_classifier::domain_classifier(&reference_x, &current_x, config).unwrap();
            });
            let both = median_ms(runs, || {
                multivariate_drift(&reference, &current, config).unwrap();
            });
            println!(
                "| {d} | {n} | {fit:.1} | {reconstruction:.1} | {classifier:.1} | {both:.1} |"
            );
        }
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

/// The Wilson 95% interval of `x` successes in `n` trials, as percentages.
fn wilson(x: usize, n: usize) -> (f64, f64) {
    let (z, n_f) = (1.959_964, n as f64);
    let p = x as f64 / n_f;
    let centre = (p + z * z / (2.0 * n_f)) / (1.0 + z * z / n_f);
    let half = z / (1.0 + z * z / n_f) * (p * (1.0 - p) / n_f + z * z / (4.0 * n_f * n_f)).sqrt();
    (
        100.0 * (centre - half).max(0.0),
        100.0 * (centre + half).min(1.0),
    )
}

/// How far above chance the classifier's score is, in null standard deviations (its
/// threshold is `1/2 + z_{1−α}·sd`): one run gives the verdict at every α.
fn classifier_z(r: &MultivariateResult, alpha: f64) -> f64 {
    let z_alpha = Normal::standard().inverse_cdf(1.0 - alpha);
    (r.score - 0.5) / ((r.threshold - 0.5) / z_alpha)
}

/// False alarms of each method on undrifted windows (K windows spread over 10 references,
/// since a live reference is fixed for months and its own draw matters), at several α for
/// the classifier; then the share of windows flagged with a share f of changed rows.
fn calibrate(k: usize, d: usize) {
    let config = MultivariateConfig::default();
    let references = 10;
    let per_reference = k.div_ceil(references);
    let alphas = [0.05, 0.01];
    let mut z_all = Vec::new();
    let mut reconstruction = 0;
    let mut per_reference_alarms = Vec::new();
    for r in 0..references {
        let fitted =
            FittedReference::fit(&table(5_000, d, 0.8, 7_000 + r as u64), &config).unwrap();
        let mut alarms = 0;
        for w in 0..per_reference {
            let window = table(500, d, 0.8, 100_000 + (r * per_reference + w) as u64);
            let results = fitted.evaluate(&window, &config).unwrap();
            let z = classifier_z(&results[0], config.alpha);
            alarms += usize::from(z > Normal::standard().inverse_cdf(0.95));
            z_all.push(z);
            reconstruction += usize::from(results[1].drifted);
        }
        per_reference_alarms.push(alarms);
    }
    let n = z_all.len();
    let mean = z_all.iter().sum::<f64>() / n as f64;
    let sd = (z_all.iter().map(|z| (z - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt();
    println!();
    println!(
        "# undrifted: {n} windows of 500 rows, {d} features, {references} references of 5,000 \
         rows; classifier z = (AUC − 1/2) / null sd: mean {mean:.3}, sd {sd:.3} (exact null: 0, 1)"
    );
    println!("| method | α | windows flagged | rate | 95% interval |");
    println!("|---|---|---|---|---|");
    for alpha in alphas {
        let cut = Normal::standard().inverse_cdf(1.0 - alpha);
        let x = z_all.iter().filter(|&&z| z > cut).count();
        let (lo, hi) = wilson(x, n);
        println!(
            "| domain_classifier | {alpha} | {x}/{n} | {:.1}% | {lo:.1}–{hi:.1}% |",
            100.0 * x as f64 / n as f64
        );
    }
    let (lo, hi) = wilson(reconstruction, n);
    println!(
        "| reconstruction_error | band ±3 sd | {reconstruction}/{n} | {:.1}% | {lo:.1}–{hi:.1}% |",
        100.0 * reconstruction as f64 / n as f64
    );
    println!(
        "# classifier alarms at α = 0.05 per reference (of {per_reference}): {per_reference_alarms:?}"
    );

    println!();
    println!(
        "| changed rows in the window (ρ 0.8 → 0.4) | windows | domain classifier flags (α = {}) | reconstruction error flags |",
        config.alpha
    );
    println!("|---|---|---|---|");
    let fitted = FittedReference::fit(&table(5_000, d, 0.8, 1), &config).unwrap();
    let windows = (k / 4).max(10);
    for f in [0.25, 0.5, 1.0] {
        let (mut classifier, mut reconstruction) = (0, 0);
        for w in 0..windows {
            let window = mixed(500, d, f, 0.4, 1_000 + w as u64);
            let results = fitted.evaluate(&window, &config).unwrap();
            classifier += usize::from(results[0].drifted);
            reconstruction += usize::from(results[1].drifted);
        }
        println!(
            "| {:.0}% | {windows} | {classifier}/{windows} | {reconstruction}/{windows} |",
            f * 100.0
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

/// Rows a second, sub-windows and rows per sub-window of the simulated live window (the
/// defaults: a `rows` window of 10,000 rows in 10), and its row sample's size
/// (`analysis.multivariate.window_rows`).
const RATE: usize = 10;
const SUBS: usize = 10;
const SUB_ROWS: usize = 1_000;
const SAMPLE_ROWS: usize = 500;
const INTERVAL_S: usize = 15;
/// A detection episode without a report after this long counts as missed.
const GIVE_UP_EVALUATIONS: usize = 160;

/// The live window's row sample as `Window::sampled_rows` keeps it: a reservoir of
/// `SAMPLE_ROWS / SUBS` rows per sub-window, the newest sub-window still filling.
struct LiveWindow {
    subs: std::collections::VecDeque<(usize, Vec<Vec<f64>>)>,
    rng: StdRng,
    d: usize,
}

impl LiveWindow {
    fn new(d: usize, seed: u64) -> LiveWindow {
        LiveWindow {
            subs: std::collections::VecDeque::from([(0, Vec::new())]),
            rng: StdRng::seed_from_u64(seed),
            d,
        }
    }

    /// One row whose first two features have correlation `rho`.
    fn push(&mut self, rho: f64) {
        let a: f64 = StandardNormal.sample(&mut self.rng);
        let e: f64 = StandardNormal.sample(&mut self.rng);
        let mut row = vec![a, rho * a + (1.0 - rho * rho).sqrt() * e];
        row.extend((2..self.d).map(|_| -> f64 { StandardNormal.sample(&mut self.rng) }));
        if self.subs.back().is_some_and(|s| s.0 == SUB_ROWS) {
            self.subs.push_back((0, Vec::new()));
            if self.subs.len() > SUBS {
                self.subs.pop_front();
            }
        }
        let keep = SAMPLE_ROWS / SUBS;
        let (seen, rows) = self.subs.back_mut().expect("a sub-window");
        *seen += 1;
        // Reservoir sampling (algorithm R).
        if rows.len() < keep {
            rows.push(row);
        } else {
            let j = rand::RngExt::random_range(&mut self.rng, 0..*seen);
            if j < keep {
                rows[j] = row;
            }
        }
    }

    /// The sample an evaluation sees: from each sub-window in proportion to its rows.
    fn sample(&self) -> FeatureTable {
        let share = self
            .subs
            .iter()
            .filter(|s| s.0 > 0)
            .map(|s| s.1.len() as f64 / s.0 as f64)
            .fold(1.0, f64::min);
        let mut columns = vec![Vec::new(); self.d];
        for (seen, rows) in &self.subs {
            let take = ((*seen as f64 * share).round() as usize).min(rows.len());
            for row in &rows[..take] {
                for (c, &v) in columns.iter_mut().zip(row) {
                    c.push(v);
                }
            }
        }
        FeatureTable {
            names: (0..self.d).map(|j| format!("x{j}")).collect(),
            columns: columns.into_iter().map(FeatureValues::Numeric).collect(),
        }
    }

    /// The rows of one evaluation interval.
    fn interval(&mut self, rho: f64) {
        for _ in 0..RATE * INTERVAL_S {
            self.push(rho);
        }
    }

    fn fill(&mut self) {
        for _ in 0..SUBS * SUB_ROWS {
            self.push(0.8);
        }
    }
}

/// Persistence rules compared (`analysis.persistence`; 3/5 is the default).
const RULES: [&str; 2] = ["1/1", "3/5"];

/// Per method and rule: the alarm history, and whether it is reported drifted now.
struct LiveAlarms {
    histories: Vec<AlarmHistory>,
    reported: Vec<bool>,
}

impl LiveAlarms {
    fn new() -> LiveAlarms {
        LiveAlarms {
            histories: vec![AlarmHistory::default(); 2 * RULES.len()],
            reported: vec![false; 2 * RULES.len()],
        }
    }

    /// Feeds one evaluation; returns the (method, rule) slots that turned drifted now.
    fn feed(&mut self, results: &[MultivariateResult]) -> Vec<usize> {
        let mut onsets = Vec::new();
        for (m, result) in results.iter().enumerate() {
            for (r, rule) in RULES.iter().enumerate() {
                let slot = m * RULES.len() + r;
                let rule = Persistence::parse(rule).expect("valid");
                let now = self.histories[slot].record(result.drifted, rule);
                if now && !self.reported[slot] {
                    onsets.push(slot);
                }
                self.reported[slot] = now;
            }
        }
        onsets
    }
}

/// Simulated hours of live evaluation under no drift (alarms per day of each method and
/// persistence rule), then detection episodes of a modest change (the correlated pair's
/// ρ from 0.8 to 0.4 in every new row, every marginal unchanged).
fn simulate_live(hours: usize, d: usize, episodes: usize) {
    let config = MultivariateConfig::default();
    let fitted = FittedReference::fit(&table(5_000, d, 0.8, 1), &config).unwrap();
    let evaluations = hours * 3_600 / INTERVAL_S;
    let mut window = LiveWindow::new(d, 20_261_205);
    window.fill();
    let mut alarms = LiveAlarms::new();
    let mut onsets = vec![0usize; 2 * RULES.len()];
    let mut flagged = [0usize; 2];
    let start = thread_cpu_ms();
    for _ in 0..evaluations {
        window.interval(0.8);
        let results = fitted.evaluate(&window.sample(), &config).unwrap();
        for (m, r) in results.iter().enumerate() {
            flagged[m] += usize::from(r.drifted);
        }
        for slot in alarms.feed(&results) {
            onsets[slot] += 1;
        }
    }
    let cpu_per_evaluation = (thread_cpu_ms() - start) / evaluations.max(1) as f64;

    let mut detection = vec![Vec::new(); 2 * RULES.len()];
    for episode in 0..episodes {
        let mut window = LiveWindow::new(d, 77 + episode as u64);
        window.fill();
        let mut alarms = LiveAlarms::new();
        for _ in 0..5 {
            window.interval(0.8);
            alarms.feed(&fitted.evaluate(&window.sample(), &config).unwrap());
        }
        let mut found: Vec<Option<usize>> = vec![None; 2 * RULES.len()];
        let mut evaluation = 0;
        while evaluation < GIVE_UP_EVALUATIONS && found.iter().any(Option::is_none) {
            window.interval(0.4);
            evaluation += 1;
            let results = fitted.evaluate(&window.sample(), &config).unwrap();
            alarms.feed(&results);
            for (slot, f) in found.iter_mut().enumerate() {
                if f.is_none() && alarms.reported[slot] {
                    *f = Some(evaluation * INTERVAL_S);
                }
            }
        }
        for (slot, f) in found.into_iter().enumerate() {
            detection[slot].push(f);
        }
    }

    let days = hours as f64 / 24.0;
    println!();
    println!(
        "# live: {d} features, reference 5,000 rows, window {} rows in {SUBS} sub-windows, \
         sample {SAMPLE_ROWS} rows, every {INTERVAL_S} s, {RATE} rows/s; {hours} h undrifted \
         ({evaluations} evaluations, {cpu_per_evaluation:.0} ms CPU each); detection: ρ 0.8 → 0.4 \
         from one evaluation on, {episodes} episodes, given up after {} min",
        SUBS * SUB_ROWS,
        GIVE_UP_EVALUATIONS * INTERVAL_S / 60
    );
    println!(
        "| method | evaluations flagged | persistence | alarms / day (95% interval) | median time to detection | missed |"
    );
    println!("|---|---|---|---|---|---|");
    for (m, method) in ["domain_classifier", "reconstruction_error"]
        .iter()
        .enumerate()
    {
        for (r, rule) in RULES.iter().enumerate() {
            let slot = m * RULES.len() + r;
            let (lo, hi) = poisson_interval(onsets[slot]);
            let mut times: Vec<usize> = detection[slot].iter().flatten().copied().collect();
            times.sort_unstable();
            let median = times
                .get(times.len().saturating_sub(1) / 2)
                .map_or("–".to_string(), |t| format!("{t} s"));
            println!(
                "| {method} | {}/{evaluations} | {rule} | {:.1} ({:.1}–{:.1}) | {median} | {}/{episodes} |",
                flagged[m],
                onsets[slot] as f64 / days,
                lo / days,
                hi / days,
                detection[slot].iter().filter(|t| t.is_none()).count()
            );
        }
    }
}

/// The exact 95% interval of a Poisson count (Garwood), from the χ² quantiles.
fn poisson_interval(x: usize) -> (f64, f64) {
    use statrs::distribution::ChiSquared;
    let lo = if x == 0 {
        0.0
    } else {
        ChiSquared::new(2.0 * x as f64).unwrap().inverse_cdf(0.025) / 2.0
    };
    let hi = ChiSquared::new(2.0 * (x as f64 + 1.0))
        .unwrap()
        .inverse_cdf(0.975)
        / 2.0;
    (lo, hi)
}
