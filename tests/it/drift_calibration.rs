//! Calibration: under no drift, each p-value test raises a false alarm in at most about α
//! of the windows; under a known shift, it detects it at the rate its power predicts (a
//! detector that never fires passes the first half, not the second).
//!
//! Each simulation draws reference and current windows from the *same* distribution with
//! a fixed seed and counts `drifted` verdicts over 1,000 windows. The bound is α plus three
//! binomial standard deviations, `α + 3 sqrt(α (1 - α) / windows)` (0.0707 at α = 0.05):
//! a calibrated test stays below it except with probability ~0.1% per seed, and the seed
//! is fixed, so the test is deterministic. The power checks draw the current window from a
//! shifted distribution and compare the detection rate with the power computed from theory
//! (named at each test), within three binomial standard deviations plus the named slack of
//! the approximation.

use modelwatch::drift::categorical::evidently_chi2;
use modelwatch::drift::{ColumnDriftConfig, categorical_column_drift, numeric_column_drift};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, LogNormal, Normal};
use statrs::distribution::{ChiSquared, ContinuousCDF};

const WINDOWS: usize = 1000;
const ALPHA: f64 = 0.05;

fn bound() -> f64 {
    ALPHA + 3.0 * (ALPHA * (1.0 - ALPHA) / WINDOWS as f64).sqrt()
}

/// Draws `n` category indices with the given probabilities and counts them.
fn category_counts(rng: &mut StdRng, probabilities: &[f64], n: usize) -> Vec<u64> {
    let mut counts = vec![0u64; probabilities.len()];
    for _ in 0..n {
        let mut u: f64 = rng.random();
        let mut idx = probabilities.len() - 1;
        for (i, p) in probabilities.iter().enumerate() {
            if u < *p {
                idx = i;
                break;
            }
            u -= p;
        }
        counts[idx] += 1;
    }
    counts
}

fn sorted_sample(rng: &mut StdRng, dist: &impl Distribution<f64>, n: usize) -> Vec<f64> {
    let mut v: Vec<f64> = (0..n).map(|_| dist.sample(rng)).collect();
    v.sort_by(f64::total_cmp);
    v
}

#[test]
fn ks_false_alarm_rate_stays_within_alpha() {
    // Reference ≤ 1000 rows and a continuous column: auto picks KS (exact p-values).
    let mut rng = StdRng::seed_from_u64(8_001);
    let dist = LogNormal::new(0.0, 1.0).unwrap();
    let auto = ColumnDriftConfig::default();
    let mut alarms = 0;
    for _ in 0..WINDOWS {
        let reference = sorted_sample(&mut rng, &dist, 300);
        let current = sorted_sample(&mut rng, &dist, 200);
        let r = numeric_column_drift(&reference, &current, &auto).unwrap();
        assert_eq!(r.method.as_str(), "ks");
        alarms += usize::from(r.drifted);
    }
    let rate = alarms as f64 / WINDOWS as f64;
    eprintln!(
        "KS: false alarms {alarms}/{WINDOWS} = {rate:.3} (bound {:.4})",
        bound()
    );
    assert!(
        rate <= bound(),
        "KS false-alarm rate {rate} above {}",
        bound()
    );
}

#[test]
fn ks_with_ties_stays_within_alpha() {
    // Rounded values give many ties; KS stays conservative.
    let mut rng = StdRng::seed_from_u64(8_002);
    let dist = Normal::new(0.0, 1.0).unwrap();
    let auto = ColumnDriftConfig::default();
    let mut alarms = 0;
    for _ in 0..WINDOWS {
        let round = |v: Vec<f64>| {
            v.into_iter()
                .map(|x| (x * 2.0).round() / 2.0)
                .collect::<Vec<_>>()
        };
        let reference = round(sorted_sample(&mut rng, &dist, 250));
        let current = round(sorted_sample(&mut rng, &dist, 250));
        let r = numeric_column_drift(&reference, &current, &auto).unwrap();
        assert_eq!(r.method.as_str(), "ks");
        alarms += usize::from(r.drifted);
    }
    let rate = alarms as f64 / WINDOWS as f64;
    eprintln!("KS with ties: false alarms {alarms}/{WINDOWS} = {rate:.3}");
    assert!(
        rate <= bound(),
        "KS (ties) false-alarm rate {rate} above {}",
        bound()
    );
}

#[test]
fn chi2_with_many_rare_categories_stays_within_alpha_where_evidently_does_not() {
    // 51 categories with US-state-like skew, 600 reference / 400 current rows: most cells
    // have expected counts below 5 and many categories are missing from one side.
    let weights: Vec<f64> = (0..51).map(|i| 1.0 / (1.0 + i as f64).powf(1.2)).collect();
    let total: f64 = weights.iter().sum();
    let probabilities: Vec<f64> = weights.iter().map(|w| w / total).collect();
    let mut rng = StdRng::seed_from_u64(8_003);
    let auto = ColumnDriftConfig::default();
    let (mut alarms, mut evidently_alarms) = (0, 0);
    for _ in 0..WINDOWS {
        let reference = category_counts(&mut rng, &probabilities, 600);
        let current = category_counts(&mut rng, &probabilities, 400);
        let r = categorical_column_drift(&reference, &current, &auto).unwrap();
        assert_eq!(r.result.method.as_str(), "chi2");
        alarms += usize::from(r.result.drifted);
        // Evidently's chisquare(cur, ref * n_cur / n_ref) on the same windows.
        let p = evidently_chi2(&reference, &current).unwrap().p_value;
        evidently_alarms += usize::from(p < ALPHA);
    }
    let rate = alarms as f64 / WINDOWS as f64;
    let evidently_rate = evidently_alarms as f64 / WINDOWS as f64;
    eprintln!(
        "chi2, 51 rare categories: modelwatch {rate:.3}, Evidently's test {evidently_rate:.3}"
    );
    assert!(
        rate <= bound(),
        "chi2 false-alarm rate {rate} above {}",
        bound()
    );
    // The same windows show the failure modelwatch avoids: Evidently's goodness of fit
    // (the reference taken as exact, unseen categories infinite) alarms far above α
    // (0.47 with this seed).
    assert!(
        evidently_rate > 4.0 * bound(),
        "Evidently's goodness-of-fit rate {evidently_rate}"
    );
}

#[test]
fn chi2_with_few_common_categories_stays_within_alpha() {
    let probabilities = [0.4, 0.3, 0.2, 0.1];
    let mut rng = StdRng::seed_from_u64(8_004);
    let auto = ColumnDriftConfig::default();
    let mut alarms = 0;
    for _ in 0..WINDOWS {
        let reference = category_counts(&mut rng, &probabilities, 800);
        let current = category_counts(&mut rng, &probabilities, 200);
        let r = categorical_column_drift(&reference, &current, &auto).unwrap();
        assert_eq!(r.result.method.as_str(), "chi2");
        alarms += usize::from(r.result.drifted);
    }
    let rate = alarms as f64 / WINDOWS as f64;
    eprintln!("chi2, 4 categories: false alarms {alarms}/{WINDOWS} = {rate:.3}");
    assert!(
        rate <= bound(),
        "chi2 false-alarm rate {rate} above {}",
        bound()
    );
}

#[test]
fn z_test_false_alarm_rate_stays_within_alpha() {
    let probabilities = [0.3, 0.7];
    let mut rng = StdRng::seed_from_u64(8_005);
    let auto = ColumnDriftConfig::default();
    let mut alarms = 0;
    for _ in 0..WINDOWS {
        let reference = category_counts(&mut rng, &probabilities, 500);
        let current = category_counts(&mut rng, &probabilities, 300);
        let r = categorical_column_drift(&reference, &current, &auto).unwrap();
        assert_eq!(r.result.method.as_str(), "z");
        alarms += usize::from(r.result.drifted);
    }
    let rate = alarms as f64 / WINDOWS as f64;
    eprintln!("z: false alarms {alarms}/{WINDOWS} = {rate:.3}");
    assert!(
        rate <= bound(),
        "z false-alarm rate {rate} above {}",
        bound()
    );
}

/// Asserts that `detected` of `WINDOWS` is the predicted power within three binomial
/// standard deviations plus `slack` (the approximation's own error).
fn assert_power(what: &str, detected: usize, predicted: f64, slack: f64) {
    let rate = detected as f64 / WINDOWS as f64;
    let tolerance = 3.0 * (predicted * (1.0 - predicted) / WINDOWS as f64).sqrt() + slack;
    eprintln!("{what}: detected {detected}/{WINDOWS} = {rate:.3}, predicted power {predicted:.3}");
    assert!(
        (rate - predicted).abs() <= tolerance,
        "{what}: detection rate {rate} is not the predicted power {predicted} (± {tolerance:.3})"
    );
}

fn standard_normal() -> statrs::distribution::Normal {
    statrs::distribution::Normal::standard()
}

#[test]
fn z_test_detects_a_known_shift_at_its_predicted_power() {
    // 0.3 → 0.4 with 500 / 300 rows. Power of the two-sided pooled two-proportion z-test at
    // level α (normal approximation): Φ((|Δ| - z_{1-α/2} σ0) / σ1), σ0 the pooled standard
    // error, σ1 the unpooled one under the shift (the far tail adds < 1e-6).
    let (p_ref, p_cur, n_ref, n_cur): (f64, f64, f64, f64) = (0.3, 0.4, 500.0, 300.0);
    let pooled = (p_ref * n_ref + p_cur * n_cur) / (n_ref + n_cur);
    let sigma0 = (pooled * (1.0 - pooled) * (1.0 / n_ref + 1.0 / n_cur)).sqrt();
    let sigma1 = (p_ref * (1.0 - p_ref) / n_ref + p_cur * (1.0 - p_cur) / n_cur).sqrt();
    let z = standard_normal().inverse_cdf(1.0 - ALPHA / 2.0);
    let predicted = standard_normal().cdf(((p_cur - p_ref) - z * sigma0) / sigma1);
    let mut rng = StdRng::seed_from_u64(8_105);
    let auto = ColumnDriftConfig::default();
    let mut detected = 0;
    for _ in 0..WINDOWS {
        let reference = category_counts(&mut rng, &[p_ref, 1.0 - p_ref], n_ref as usize);
        let current = category_counts(&mut rng, &[p_cur, 1.0 - p_cur], n_cur as usize);
        let r = categorical_column_drift(&reference, &current, &auto).unwrap();
        assert_eq!(r.result.method.as_str(), "z");
        detected += usize::from(r.result.drifted);
    }
    // Slack 0.02: the normal approximation's error for binomial proportions at these sizes.
    assert_power("z, 0.3 → 0.4", detected, predicted, 0.02);
}

/// P(X > x) for a noncentral χ² with `dof` degrees of freedom and noncentrality `lambda`:
/// the Poisson(λ/2) mixture of central χ² with `dof + 2j` degrees of freedom.
fn noncentral_chi2_sf(x: f64, dof: f64, lambda: f64) -> f64 {
    let half = lambda / 2.0;
    let mut weight = (-half).exp();
    let mut cdf = 0.0;
    for j in 0..200 {
        if j > 0 {
            weight *= half / j as f64;
        }
        cdf += weight * ChiSquared::new(dof + 2.0 * j as f64).unwrap().cdf(x);
    }
    1.0 - cdf
}

#[test]
fn chi2_detects_a_known_shift_at_its_predicted_power() {
    // Four common categories, 800 / 200 rows (no merging: every expected count is ≥ 5);
    // 0.07 of the mass moves from the first category to the last.
    // Asymptotic power of Pearson's test of homogeneity: a noncentral χ² with 3 degrees of
    // freedom and λ = Σ_groups n_g Σ_i (π_gi - π̄_i)² / π̄_i (π̄ the row-weighted mean).
    let reference_p: [f64; 4] = [0.4, 0.3, 0.2, 0.1];
    let current_p = [0.33, 0.3, 0.2, 0.17];
    let (n_ref, n_cur): (f64, f64) = (800.0, 200.0);
    let lambda: f64 = (0..4)
        .map(|i| {
            let mean = (n_ref * reference_p[i] + n_cur * current_p[i]) / (n_ref + n_cur);
            (n_ref * (reference_p[i] - mean).powi(2) + n_cur * (current_p[i] - mean).powi(2)) / mean
        })
        .sum();
    let critical = ChiSquared::new(3.0).unwrap().inverse_cdf(1.0 - ALPHA);
    let predicted = noncentral_chi2_sf(critical, 3.0, lambda);
    let mut rng = StdRng::seed_from_u64(8_104);
    let auto = ColumnDriftConfig::default();
    let mut detected = 0;
    for _ in 0..WINDOWS {
        let reference = category_counts(&mut rng, &reference_p, n_ref as usize);
        let current = category_counts(&mut rng, &current_p, n_cur as usize);
        let r = categorical_column_drift(&reference, &current, &auto).unwrap();
        assert_eq!(r.result.method.as_str(), "chi2");
        detected += usize::from(r.result.drifted);
    }
    // Slack 0.03: the noncentral approximation's error at a few hundred rows per group.
    assert_power("chi2, 4 categories shifted", detected, predicted, 0.03);
}

#[test]
fn ks_detects_a_known_shift_at_least_as_often_as_its_power_bound() {
    // Log-normal, log-location shifted by 0.8, 300 / 200 rows. KS has no closed-form power,
    // but a rigorous lower bound: the true distance is d = sup|F - G| = 2Φ(0.4) - 1, and
    // the test rejects once the observed distance passes its critical value c, which it
    // does unless an empirical CDF strays from its own by more than ε (d - c split in
    // proportion), which the Dvoretzky–Kiefer–Wolfowitz inequality bounds by 2e^(-2nε²).
    // c is the asymptotic critical value sqrt(-ln(α/2) / 2) · sqrt((n + m) / (n m)); the
    // exact test's is within a few percent at these sizes.
    let (n, m) = (300.0_f64, 200.0_f64);
    let shift = 0.8;
    let d = 2.0 * standard_normal().cdf(shift / 2.0) - 1.0;
    let c = (-(ALPHA / 2.0).ln() / 2.0).sqrt() * ((n + m) / (n * m)).sqrt();
    // ε_n sqrt(n) = ε_m sqrt(m) makes both exponents equal.
    let eps_n = (d - c) / (1.0 + (n / m).sqrt());
    let eps_m = eps_n * (n / m).sqrt();
    let lower_bound =
        1.0 - 2.0 * (-2.0 * n * eps_n * eps_n).exp() - 2.0 * (-2.0 * m * eps_m * eps_m).exp();
    assert!(lower_bound > 0.9, "the bound says something: {lower_bound}");
    let mut rng = StdRng::seed_from_u64(8_101);
    let reference_dist = LogNormal::new(0.0, 1.0).unwrap();
    let current_dist = LogNormal::new(shift, 1.0).unwrap();
    let auto = ColumnDriftConfig::default();
    let mut detected = 0;
    for _ in 0..WINDOWS {
        let reference = sorted_sample(&mut rng, &reference_dist, n as usize);
        let current = sorted_sample(&mut rng, &current_dist, m as usize);
        let r = numeric_column_drift(&reference, &current, &auto).unwrap();
        assert_eq!(r.method.as_str(), "ks");
        detected += usize::from(r.drifted);
    }
    let rate = detected as f64 / WINDOWS as f64;
    let tolerance = 3.0 * (lower_bound * (1.0 - lower_bound) / WINDOWS as f64).sqrt();
    eprintln!("KS, shift {shift}: detected {rate:.3}, power at least {lower_bound:.3}");
    assert!(
        rate >= lower_bound - tolerance,
        "KS detected {rate} of shifted windows, below its power bound {lower_bound}"
    );
}
