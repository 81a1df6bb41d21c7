//! Calibration of the live drift alarms: how often each setting of `analysis.correction` and
//! `analysis.persistence` raises a false alarm under no drift, and how soon it sees a
//! modest real shift.
//!
//! `cargo bench --bench drift_calibration [-- --days D --rate R --seed S]` (without
//! `--bench`, as `cargo test --all-targets` runs it, it only says so)
//!
//! The simulation follows the live sidecar with its defaults: 50 numeric features, a
//! reference of 1,000 rows each (so `auto` tests them with KS), a `rows` window of the last
//! 10,000 rows in 10 tumbling sub-windows, evaluated every 15 s while `R` rows per second
//! arrive (default 10: the window spans about 17 minutes and consecutive evaluations share
//! almost all their rows, which is what makes their p-values move together). Values are
//! counted between the reference values as `drift::ks_counts` does; the p-value is KS's
//! asymptotic one (`kstwo` at the effective size, scipy's branch above 10,000 rows; the
//! exact branch at 1,000 × 10,000 costs too much for simulated weeks and differs little).
//!
//! Under no drift every feature of every evaluation is N(0, 1) like its reference: every
//! alarm is false. An alarm is counted when a feature turns drifted (not for every
//! evaluation it stays so): what pages someone. Then, for detection, the mean of 5 of the
//! 50 features moves by 0.2 standard deviations at a random point after the window is
//! full, and the time until the first alarm on a shifted feature is taken, 40 times.

use modelwatch::drift::alarms::{AlarmHistory, Correction, Persistence};
use modelwatch::drift::kolmogorov::kstwo_sf;
use modelwatch::drift::ks_counts::KsCounts;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::{Distribution, StandardNormal};
use std::collections::VecDeque;

const FEATURES: usize = 50;
const REFERENCE_ROWS: usize = 1000;
const WINDOW_ROWS: usize = 10_000;
const SUB_WINDOWS: usize = 10;
const INTERVAL_S: f64 = 15.0;
const SHIFTED_FEATURES: usize = 5;
const SHIFT_SD: f64 = 0.2;
const EPISODES: usize = 20;
/// An episode without an alarm after this long counts as missed.
const GIVE_UP_S: f64 = 4.0 * 3600.0;

/// One feature's window: slot counts per sub-window (the newest last) and their sum.
struct FeatureWindow {
    slots: VecDeque<Vec<u32>>,
    total: Vec<u32>,
}

/// The live window of every feature, against fixed references.
struct Simulation {
    references: Vec<KsCounts>,
    windows: Vec<FeatureWindow>,
    /// Rows in the open (newest) sub-window, and in the window.
    open_rows: usize,
    window_rows: usize,
    rng: StdRng,
}

impl Simulation {
    fn new(seed: u64) -> Simulation {
        let mut rng = StdRng::seed_from_u64(seed);
        let references: Vec<KsCounts> = (0..FEATURES)
            .map(|_| {
                let mut r: Vec<f64> = (0..REFERENCE_ROWS)
                    .map(|_| StandardNormal.sample(&mut rng))
                    .collect();
                r.sort_by(f64::total_cmp);
                KsCounts::new(&r)
            })
            .collect();
        let windows = (0..FEATURES)
            .map(|_| FeatureWindow {
                slots: VecDeque::from([vec![0; 2 * REFERENCE_ROWS + 1]]),
                total: vec![0; 2 * REFERENCE_ROWS + 1],
            })
            .collect();
        Simulation {
            references,
            windows,
            open_rows: 0,
            window_rows: 0,
            rng,
        }
    }

    /// One row: every feature N(shift_f, 1).
    fn push_row(&mut self, shift: &[f64]) {
        let per_sub = WINDOW_ROWS / SUB_WINDOWS;
        if self.open_rows == per_sub {
            for w in &mut self.windows {
                w.slots.push_back(vec![0; 2 * REFERENCE_ROWS + 1]);
                if w.slots.len() > SUB_WINDOWS {
                    let old = w.slots.pop_front().expect("more than one");
                    for (t, o) in w.total.iter_mut().zip(&old) {
                        *t -= o;
                    }
                }
            }
            self.window_rows = self.window_rows.min((SUB_WINDOWS - 1) * per_sub);
            self.open_rows = 0;
        }
        for (f, w) in self.windows.iter_mut().enumerate() {
            let z: f64 = StandardNormal.sample(&mut self.rng);
            let slot = self.references[f].locate(z + shift[f]) as usize;
            w.slots.back_mut().expect("one open")[slot] += 1;
            w.total[slot] += 1;
        }
        self.open_rows += 1;
        self.window_rows += 1;
    }

    /// The KS p-value of every feature's window against its reference.
    fn p_values(&self) -> Vec<f64> {
        let (n, m) = (REFERENCE_ROWS as f64, self.window_rows as f64);
        let effective = (n * m / (n + m)).round() as u64;
        self.windows
            .iter()
            .map(|w| {
                // The reference values are distinct: `j + 1` of them are <= point `j`.
                let (mut d, mut current) = (0.0f64, 0u64);
                for j in 0..REFERENCE_ROWS {
                    let inside = u64::from(w.total[2 * j]);
                    if inside > 0 {
                        current += inside;
                        d = d.max((j as f64 / n - current as f64 / m).abs());
                    }
                    current += u64::from(w.total[2 * j + 1]);
                    d = d.max(((j + 1) as f64 / n - current as f64 / m).abs());
                }
                kstwo_sf(d, effective).clamp(0.0, 1.0)
            })
            .collect()
    }

    /// Rows for one evaluation interval at `rate` rows per second, then the p-values.
    fn interval(&mut self, rate: f64, shift: &[f64], carry: &mut f64) -> Vec<f64> {
        *carry += rate * INTERVAL_S;
        while *carry >= 1.0 {
            self.push_row(shift);
            *carry -= 1.0;
        }
        self.p_values()
    }
}

/// A setting compared: the per-column threshold (α), the correction, the persistence.
type Setting = (f64, Correction, Persistence);

/// The settings compared.
fn settings() -> Vec<Setting> {
    let mut out = Vec::new();
    for alpha in [0.05, 0.001] {
        for correction in Correction::ALL {
            for rule in ["1/1", "2/3", "3/5", "5/8"] {
                out.push((alpha, correction, Persistence::parse(rule).expect("valid")));
            }
        }
    }
    out
}

/// Runs each setting over a stream of evaluations; returns, per setting, the evaluations
/// (index) at which each feature turned drifted.
struct Alarms {
    histories: Vec<Vec<AlarmHistory>>,
    reported: Vec<Vec<bool>>,
}

impl Alarms {
    fn new(settings: usize) -> Alarms {
        Alarms {
            histories: vec![vec![AlarmHistory::default(); FEATURES]; settings],
            reported: vec![vec![false; FEATURES]; settings],
        }
    }

    /// Feeds one evaluation's p-values; returns per setting the features that turned
    /// drifted now.
    fn feed(&mut self, settings: &[Setting], p: &[f64]) -> Vec<Vec<usize>> {
        settings
            .iter()
            .enumerate()
            .map(|(s, &(alpha, correction, rule))| {
                let tests: Vec<(f64, f64)> = p.iter().map(|&p| (p, alpha)).collect();
                let verdicts = correction.verdicts(&tests);
                let mut onsets = Vec::new();
                for (f, &verdict) in verdicts.iter().enumerate().take(FEATURES) {
                    let now = self.histories[s][f].record(verdict, rule);
                    if now && !self.reported[s][f] {
                        onsets.push(f);
                    }
                    self.reported[s][f] = now;
                }
                onsets
            })
            .collect()
    }
}

fn arg(name: &str, default: f64) -> f64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map_or(default, |v| v.parse().expect("a number"))
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    // `cargo test --all-targets` runs bench binaries without `--bench`: simulated days
    // belong to `cargo bench`, not to the test suite.
    if !std::env::args().any(|a| a == "--bench") {
        println!("drift_calibration: run it with `cargo bench --bench drift_calibration`");
        return;
    }
    let days = arg("--days", 2.0);
    let rate = arg("--rate", 10.0);
    let seed = arg("--seed", 20261205.0) as u64;
    let settings = settings();
    let no_shift = vec![0.0; FEATURES];
    let evaluations_per_day = (86_400.0 / INTERVAL_S) as usize;
    let mut sim = Simulation::new(seed);
    let mut carry = 0.0;
    // Fill the window first: a half-empty window is not what runs for days.
    while sim.window_rows < WINDOW_ROWS - WINDOW_ROWS / SUB_WINDOWS {
        sim.push_row(&no_shift);
    }
    let mut alarms = Alarms::new(settings.len());
    let mut false_alarms = vec![0usize; settings.len()];
    let total = (days * evaluations_per_day as f64) as usize;
    for _ in 0..total {
        let p = sim.interval(rate, &no_shift, &mut carry);
        for (s, onsets) in alarms.feed(&settings, &p).into_iter().enumerate() {
            false_alarms[s] += onsets.len();
        }
    }

    // Detection: a fresh, full window each episode, then the shift.
    let mut detection: Vec<Vec<f64>> = vec![Vec::new(); settings.len()];
    let mut missed = vec![0usize; settings.len()];
    let mut shift = vec![0.0; FEATURES];
    for s in shift.iter_mut().take(SHIFTED_FEATURES) {
        *s = SHIFT_SD;
    }
    for episode in 0..EPISODES {
        let mut sim = Simulation::new(seed ^ (episode as u64 + 1).wrapping_mul(0x9E37_79B9));
        while sim.window_rows < WINDOW_ROWS - WINDOW_ROWS / SUB_WINDOWS {
            sim.push_row(&no_shift);
        }
        let mut alarms = Alarms::new(settings.len());
        let mut carry = 0.0;
        // Settle the histories on undrifted evaluations, as a running sidecar has.
        for _ in 0..10 {
            let p = sim.interval(rate, &no_shift, &mut carry);
            alarms.feed(&settings, &p);
        }
        let mut found: Vec<Option<f64>> = vec![None; settings.len()];
        let mut t = 0.0;
        while t < GIVE_UP_S && found.iter().any(Option::is_none) {
            let p = sim.interval(rate, &shift, &mut carry);
            t += INTERVAL_S;
            for (s, onsets) in alarms.feed(&settings, &p).into_iter().enumerate() {
                if found[s].is_none() && onsets.iter().any(|&f| f < SHIFTED_FEATURES) {
                    found[s] = Some(t);
                }
            }
        }
        for (s, f) in found.into_iter().enumerate() {
            match f {
                Some(t) => detection[s].push(t),
                None => missed[s] += 1,
            }
        }
    }

    println!(
        "# {FEATURES} features, KS, reference {REFERENCE_ROWS} rows, window {WINDOW_ROWS} rows \
         in {SUB_WINDOWS}, every {INTERVAL_S} s, {rate} rows/s, {days} days, seed {seed}"
    );
    println!(
        "# detection: {SHIFTED_FEATURES} features shifted by {SHIFT_SD} sd, {EPISODES} episodes"
    );
    println!(
        "| threshold | correction | persistence | false alarms / day | median time to \
         detection | missed |"
    );
    println!("|---|---|---|---|---|---|");
    for (s, (alpha, correction, rule)) in settings.iter().enumerate() {
        println!(
            "| {alpha} | {} | {} | {:.1} | {:.0} s | {}/{EPISODES} |",
            correction.as_str(),
            rule,
            false_alarms[s] as f64 / days,
            median(detection[s].clone()),
            missed[s]
        );
    }
}
