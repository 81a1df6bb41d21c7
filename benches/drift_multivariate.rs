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
//! 10 rows/s, an evaluation every 15 s on the 500-row sample drawn as
//! `Window::sampled_rows` draws it: first E episodes of the ρ 0.8 → 0.4 change in every
//! new row (the time until each method is reported drifted under persistence 1/1 and
//! 3/5), then HOURS of undrifted traffic, with the alarm table (evaluations flagged,
//! report onsets and 30-minute alerts per day with Poisson 95% intervals) printed after
//! every simulated hour, so a run cut short still gives the rate over the hours it ran.

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
    /// The seed `Window::sampled_rows` shuffles with: it changes when a sub-window opens,
    /// so between rotations consecutive evaluations take the same rows of full sub-windows.
    seed: u64,
}

impl LiveWindow {
    fn new(d: usize, seed: u64) -> LiveWindow {
        LiveWindow {
            subs: std::collections::VecDeque::from([(0, Vec::new())]),
            rng: StdRng::seed_from_u64(seed),
            d,
            seed,
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
            self.seed = self.seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
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
        let mut shuffle = modelwatch::random::SeededRng::new(self.seed);
        for (seen, rows) in &self.subs {
            let take = ((*seen as f64 * share).round() as usize).min(rows.len());
            // A partial Fisher–Yates, as the sidecar draws: reservoir slots are not in
            // random order (a filling sub-window's first slots hold its oldest rows).
            let mut order: Vec<usize> = (0..rows.len()).collect();
            for i in 0..take {
                let j = i + shuffle.below((order.len() - i) as u64) as usize;
                order.swap(i, j);
            }
            for row in order[..take].iter().map(|&i| &rows[i]) {
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
const METHODS: [&str; 2] = ["domain_classifier", "reconstruction_error"];
/// Evaluations in the alert's hold (`ModelwatchMultivariateDrift`, `for: 30m`): an alert
/// fires once a method has been reported drifted this many evaluations in a row.
const ALERT_HOLD_EVALUATIONS: usize = 30 * 60 / INTERVAL_S;

/// Per method and rule (slot `method * RULES.len() + rule`): the alarm history, whether
/// it is reported drifted now, and for how many evaluations in a row it has been.
struct LiveAlarms {
    histories: Vec<AlarmHistory>,
    reported: Vec<bool>,
    run: Vec<usize>,
}

/// What one evaluation changed: the slots that turned reported-drifted, and those whose
/// report has just lasted the alert's hold.
struct Changes {
    onsets: Vec<usize>,
    alerts: Vec<usize>,
}

impl LiveAlarms {
    fn new() -> LiveAlarms {
        let slots = METHODS.len() * RULES.len();
        LiveAlarms {
            histories: vec![AlarmHistory::default(); slots],
            reported: vec![false; slots],
            run: vec![0; slots],
        }
    }

    /// Feeds one evaluation, as `analysis::multivariate::run` records it.
    fn feed(&mut self, results: &[MultivariateResult]) -> Changes {
        let mut changes = Changes {
            onsets: Vec::new(),
            alerts: Vec::new(),
        };
        for (m, result) in results.iter().enumerate() {
            for (r, rule) in RULES.iter().enumerate() {
                let slot = m * RULES.len() + r;
                let rule = Persistence::parse(rule).expect("valid");
                let now = self.histories[slot].record(result.drifted, rule);
                if now && !self.reported[slot] {
                    changes.onsets.push(slot);
                }
                self.run[slot] = if now { self.run[slot] + 1 } else { 0 };
                if self.run[slot] == ALERT_HOLD_EVALUATIONS {
                    changes.alerts.push(slot);
                }
                self.reported[slot] = now;
            }
        }
        changes
    }
}

/// Counts over the undrifted hours so far.
#[derive(Default)]
struct Undrifted {
    evaluations: usize,
    flagged: [usize; 2],
    reported: Vec<usize>,
    onsets: Vec<usize>,
    alerts: Vec<usize>,
    cpu_ms: f64,
}

impl Undrifted {
    /// The alarm table after `self.evaluations` evaluations: per method and rule, the
    /// evaluations reported drifted, report onsets and alerts per simulated day with
    /// exact Poisson 95% intervals over the time simulated.
    fn print(&self) {
        let days = (self.evaluations * INTERVAL_S) as f64 / 86_400.0;
        let rate = |x: usize| {
            let (lo, hi) = poisson_interval(x);
            format!(
                "{x} → {:.1} ({:.1}–{:.1})",
                x as f64 / days,
                lo / days,
                hi / days
            )
        };
        println!(
            "| method | evaluations flagged | persistence | evaluations reported drifted | \
             report onsets → per day (95% interval) | alerts (30 min hold) → per day (95% interval) |"
        );
        println!("|---|---|---|---|---|---|");
        for (m, method) in METHODS.iter().enumerate() {
            for (r, rule) in RULES.iter().enumerate() {
                let slot = m * RULES.len() + r;
                println!(
                    "| {method} | {}/{} | {rule} | {} | {} | {} |",
                    self.flagged[m],
                    self.evaluations,
                    self.reported[slot],
                    rate(self.onsets[slot]),
                    rate(self.alerts[slot])
                );
            }
        }
    }
}

/// Detection episodes of a modest change (the correlated pair's ρ from 0.8 to 0.4 in
/// every new row, every marginal unchanged), then simulated hours of live evaluation under
/// no drift (alarms per day of each method and persistence rule). The episodes come first
/// and the alarm table is printed after every simulated hour, so a run cut short still
/// gives both (the rates over the hours it ran).
fn simulate_live(hours: usize, d: usize, episodes: usize) {
    let config = MultivariateConfig::default();
    let fitted = FittedReference::fit(&table(5_000, d, 0.8, 1), &config).unwrap();
    let slots = METHODS.len() * RULES.len();
    println!();
    println!(
        "# live: {d} features, reference 5,000 rows, window {} rows in {SUBS} sub-windows \
         (reservoirs of {} rows), sample {SAMPLE_ROWS} rows, every {INTERVAL_S} s, {RATE} rows/s, \
         classifier_rows {}, α {}",
        SUBS * SUB_ROWS,
        SAMPLE_ROWS / SUBS,
        config.classifier_rows,
        config.alpha
    );

    println!(
        "# detection: ρ 0.8 → 0.4 in every row from the change on (after 5 undrifted \
         evaluations), {episodes} episodes, given up after {} min; time from the change until \
         the method is reported drifted (its gauge; the alert fires 30 min later)",
        GIVE_UP_EVALUATIONS * INTERVAL_S / 60
    );
    let mut detection = vec![Vec::new(); slots];
    for episode in 0..episodes {
        let mut window = LiveWindow::new(d, 77 + episode as u64);
        window.fill();
        let mut alarms = LiveAlarms::new();
        for _ in 0..5 {
            window.interval(0.8);
            alarms.feed(&fitted.evaluate(&window.sample(), &config).unwrap());
        }
        let mut found: Vec<Option<usize>> = vec![None; slots];
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
        let shown: Vec<String> = found
            .iter()
            .enumerate()
            .map(|(slot, f)| {
                let name = format!(
                    "{} {}",
                    METHODS[slot / RULES.len()],
                    RULES[slot % RULES.len()]
                );
                f.map_or(format!("{name}: missed"), |t| format!("{name}: {t} s"))
            })
            .collect();
        println!("# episode {episode}: {}", shown.join("; "));
        for (slot, f) in found.into_iter().enumerate() {
            detection[slot].push(f);
        }
    }
    println!("| method | persistence | median time to detection | range | missed |");
    println!("|---|---|---|---|---|");
    for (slot, times) in detection.iter().enumerate() {
        let mut seen: Vec<usize> = times.iter().flatten().copied().collect();
        seen.sort_unstable();
        let (median, range) = match (seen.first(), seen.last()) {
            (Some(lo), Some(hi)) => (
                format!("{} s", seen[(seen.len() - 1) / 2]),
                format!("{lo}–{hi} s"),
            ),
            _ => ("–".into(), "–".into()),
        };
        println!(
            "| {} | {} | {median} | {range} | {}/{episodes} |",
            METHODS[slot / RULES.len()],
            RULES[slot % RULES.len()],
            times.iter().filter(|t| t.is_none()).count()
        );
    }

    let mut window = LiveWindow::new(d, 20_261_205);
    window.fill();
    let mut alarms = LiveAlarms::new();
    let mut totals = Undrifted {
        reported: vec![0; slots],
        onsets: vec![0; slots],
        alerts: vec![0; slots],
        ..Undrifted::default()
    };
    for hour in 1..=hours {
        let start = thread_cpu_ms();
        for _ in 0..3_600 / INTERVAL_S {
            window.interval(0.8);
            let results = fitted.evaluate(&window.sample(), &config).unwrap();
            for (m, r) in results.iter().enumerate() {
                totals.flagged[m] += usize::from(r.drifted);
            }
            let changes = alarms.feed(&results);
            for slot in changes.onsets {
                totals.onsets[slot] += 1;
            }
            for slot in changes.alerts {
                totals.alerts[slot] += 1;
            }
            for (slot, &now) in alarms.reported.iter().enumerate() {
                totals.reported[slot] += usize::from(now);
            }
            totals.evaluations += 1;
        }
        totals.cpu_ms += thread_cpu_ms() - start;
        println!();
        println!(
            "# undrifted, after {hour} of {hours} simulated h ({} evaluations, {:.0} ms CPU each):",
            totals.evaluations,
            totals.cpu_ms / totals.evaluations as f64
        );
        totals.print();
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
