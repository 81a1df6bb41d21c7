//! What a reader of the page relies on: names from payloads cannot inject markup, the
//! drifted columns come first, each histogram has one bar per bin, a report file needs no
//! network, and the sidecar's counters reach the page.

use super::*;
use crate::drift::histogram::Histogram;
use crate::drift::model_report::{ReferenceSummary, WindowSummary};

const HOSTILE: &str = "<script>alert(\"x\")</script>&'<img src=x onerror=alert(1)>";

fn column(name: &str, drifted: bool, bars: usize) -> ColumnReport {
    let p = if drifted { 1e-9 } else { 0.4 };
    ColumnReport {
        drifted,
        evaluation_drifted: Some(drifted),
        missing_rate: 0.25,
        histogram: Some(Histogram {
            labels: (0..bars).map(|i| format!("{HOSTILE}{i}")).collect(),
            reference: vec![1.0 / bars as f64; bars],
            current: vec![1.0 / bars as f64; bars],
        }),
        history: vec![0.5, 0.3, 0.01],
        ..ColumnReport::example(name, Some(p))
    }
}

fn report(features: Vec<ColumnReport>) -> LiveReport {
    LiveReport {
        generated_at: "2026-01-01T00:00:00Z".to_string(),
        evaluation_interval_seconds: 15.0,
        models: vec![ModelReport {
            model: HOSTILE.to_string(),
            model_version: "v1".to_string(),
            reference: ReferenceSummary {
                spec: HOSTILE.to_string(),
                source: "ref.csv".to_string(),
                version: "abc".to_string(),
            },
            window: WindowSummary {
                kind: "rows",
                rows: 500,
                prediction_rows: 500,
                multivariate_rows: 0,
            },
            drift_share: 0.5,
            drift_share_threshold: 0.5,
            drifted_features: 1,
            dataset_drift: true,
            features,
            predictions: vec![column("score", false, 3)],
            multivariate: Vec::new(),
            multivariate_evaluated_at: None,
        }],
    }
}

#[test]
fn names_from_payloads_cannot_inject_markup() {
    let mut note = column(HOSTILE, true, 2);
    note.note = Some(HOSTILE.to_string());
    let page = live_page(&report(vec![note]), &SidecarHealth::default());
    assert!(
        !page.contains("<script>alert"),
        "a name became a script element"
    );
    assert!(!page.contains("<img"), "a name became an element");
    assert!(!page.contains("\"x\")"), "a quote was left raw");
    assert!(page.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;"));
    // The page's own single script element is there, and only it.
    assert_eq!(page.matches("<script").count(), 1);
}

#[test]
fn drifted_columns_come_first() {
    let features = vec![
        column("a_stable", false, 4),
        column("z_drifted", true, 4),
        column("b_stable", false, 4),
        column("c_drifted", true, 4),
    ];
    let main = live_main(&report(features), &SidecarHealth::default());
    let order: Vec<&str> = main
        .split("data-name=\"")
        .skip(1)
        .map(|rest| &rest[..rest.find('"').unwrap()])
        .collect();
    assert_eq!(
        order,
        ["c_drifted", "z_drifted", "a_stable", "b_stable", "score"]
    );
    assert!(main.contains("2 of 4 drifted"));
}

#[test]
fn each_histogram_has_one_bar_per_bin() {
    let main = live_main(
        &report(vec![column("seven", true, 7), column("two", false, 2)]),
        &SidecarHealth::default(),
    );
    let charts: Vec<usize> = main
        .split("<svg class=\"hist\"")
        .skip(1)
        .map(|svg| {
            svg[..svg.find("</svg>").unwrap()]
                .matches("<g class=\"bar\">")
                .count()
        })
        .collect();
    assert_eq!(charts, [7, 2, 3]);
    assert_eq!(main.matches("<svg class=\"spark\"").count(), 3);
}

#[test]
fn the_main_part_is_a_fragment_and_the_page_a_document() {
    let r = report(vec![column("x", false, 2)]);
    let main = live_main(&r, &SidecarHealth::default());
    let page = live_page(&r, &SidecarHealth::default());
    assert!(!main.contains("<html") && !main.contains("<script"));
    assert!(page.starts_with("<!doctype html>") && page.contains(&main));
    // No JavaScript: the page reloads itself every evaluation interval instead.
    assert!(page.contains("<noscript><meta http-equiv=\"refresh\" content=\"15\">"));
    assert!(live_policy().contains(&format!("'sha256-{}'", {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(Sha256::digest(SCRIPT))
    })));
}

#[test]
fn a_report_file_needs_no_network() {
    let features = vec![column("x", true, 3)];
    let view = ModelView {
        title: "current.csv".to_string(),
        reference: "ref.csv".to_string(),
        window: "1000 rows".to_string(),
        drift_share: 1.0,
        drift_share_threshold: 0.5,
        drifted: 1,
        tested: 1,
        dataset_drift: true,
        features: &features,
        predictions: &[],
        extra: vec![Section {
            title: "Multivariate".to_string(),
            html: "<p>domain classifier</p>".to_string(),
        }],
    };
    let file = report_file("current.csv against ref.csv", &view, &[]);
    assert!(!file.contains("<script"));
    assert!(!file.contains("http://") && !file.contains("https://"));
    assert!(
        file.contains("content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\"")
    );
    assert!(file.contains("<h3>Multivariate</h3><p>domain classifier</p>"));
}

#[test]
fn health_comes_from_the_registry() {
    let registry = prometheus::Registry::new();
    let requests = prometheus::IntCounterVec::new(
        prometheus::Opts::new("modelwatch_requests_total", "r"),
        &["code"],
    )
    .unwrap();
    registry.register(Box::new(requests.clone())).unwrap();
    requests.with_label_values(&["200"]).inc_by(97);
    requests.with_label_values(&["502"]).inc_by(3);
    let latency = prometheus::Histogram::with_opts(
        prometheus::HistogramOpts::new("modelwatch_request_duration_seconds", "d")
            .buckets(vec![0.001, 0.01, 0.1]),
    )
    .unwrap();
    registry.register(Box::new(latency.clone())).unwrap();
    for _ in 0..98 {
        latency.observe(0.0005);
    }
    latency.observe(0.05);
    latency.observe(0.05);
    let health = SidecarHealth::from_registry(&registry);
    assert_eq!((health.requests, health.server_errors), (100, 3));
    assert_eq!(health.latency_p50, Some(0.001));
    assert_eq!(health.latency_p99, Some(0.1));
    let main = live_main(&LiveReport::default(), &health);
    assert!(main.contains("<dt>Requests</dt><dd>100</dd>"), "{main}");
    assert!(main.contains("No evaluation yet"));
}

#[test]
fn the_live_page_shows_the_multivariate_verdicts_when_they_ran() {
    use crate::drift::multivariate::{MultivariateMethod, MultivariateResult};
    let without = live_page(
        &report(vec![column("a", false, 2)]),
        &SidecarHealth::default(),
    );
    assert!(!without.contains("Multivariate drift"));
    let mut with = report(vec![column("a", false, 2)]);
    with.models[0].multivariate = vec![
        MultivariateResult {
            method: MultivariateMethod::DomainClassifier,
            score: 0.9,
            threshold: 0.526,
            lower_threshold: None,
            evaluation_drifted: Some(true),
            drifted: true,
        },
        MultivariateResult {
            method: MultivariateMethod::ReconstructionError,
            score: 1.0,
            threshold: 1.1,
            lower_threshold: Some(0.9),
            evaluation_drifted: Some(false),
            drifted: false,
        },
    ];
    let page = live_page(&with, &SidecarHealth::default());
    let section = page
        .split("Multivariate drift (the joint distribution)")
        .nth(1)
        .expect("a multivariate section");
    assert!(
        section
            .contains("<td>domain_classifier</td><td>0.9000</td><td>0.5260</td><td>drifted</td>"),
        "{section}"
    );
    assert!(
        section.contains(
            "<td>reconstruction_error</td><td>1.0000</td><td>0.9000 – 1.1000</td><td>no drift</td>"
        ),
        "{section}"
    );
}
