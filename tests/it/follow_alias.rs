//! The sidecar follows the serving version: two `modelwatch proxy` processes with
//! `--reference credit@production`, each in front of its own `modelwatch serve --model
//! credit@production`: one pair reads the registry home, the other pair reads the same
//! registry over HTTP (`modelwatch registry serve`, `--registry-url`), as pods without the
//! home do. A promotion and then a rollback, while a client keeps sending through both
//! sidecars: no request fails, both servers and both sidecars switch without a restart or
//! a signal, and each sidecar's `/api/v1/drift` and gauges show only the new version,
//! compared with its own reference profile. Then the registry server goes away during a
//! promotion: the remote readers keep serving what they have, say so, and catch up once
//! it is back.
//!
//! And attribution: traffic that a server says version 2 answered (in the
//! `X-Model-Version` header, or only in the Open Inference Protocol body) is compared with
//! version 2's profile even while the alias still points at version 1.

use super::ml_pipeline::credit_rows;
use super::ml_support::*;
use super::support::client::{http1, post};
use super::support::metrics_text::{Sample, parse, value};
use super::support::proxy_process::ProxyProcess;
use super::support::upstream::{Upstream, full};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How often the sidecars and `serve` look at the registry.
const POLL: &str = "200ms";
/// Bound on every wait below: far above one poll plus two evaluations, so a loaded CI
/// machine does not fail the test, while a sidecar that never switches still does.
const PATIENCE: Duration = Duration::from_secs(60);

/// Families that live analysis keeps per model version (the proxy's own request counters
/// keep every version they saw, as counters should).
const ANALYSIS_FAMILIES: [&str; 6] = [
    "modelwatch_rows_total",
    "modelwatch_feature_",
    "modelwatch_prediction_",
    "modelwatch_reference_",
    "modelwatch_drift_",
    "modelwatch_multivariate_",
];

/// A pipeline run that registers a credit model and points `alias` at it.
pub(crate) fn register(dir: &Path, home: &Path, seed: u64, alias: &str) {
    let file = pipeline_file(dir, &format!("seed{seed}.toml"), seed, "");
    let text_of = std::fs::read_to_string(&file).unwrap().replace(
        "[model]\nname = \"credit\"\n",
        &format!("[model]\nname = \"credit\"\nalias = \"{alias}\"\n"),
    );
    std::fs::write(&file, text_of).unwrap();
    let out = modelwatch(home, &["pipeline", "run", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

fn sidecar(home: &Path, upstream: &str) -> ProxyProcess {
    sidecar_with(home, upstream, &[])
}

/// A sidecar with more environment, e.g. `MODELWATCH_REGISTRY_URL`.
fn sidecar_with(home: &Path, upstream: &str, env: &[(&str, &str)]) -> ProxyProcess {
    let mut env = env.to_vec();
    env.extend([
        ("MODELWATCH_HOME", home.to_str().unwrap()),
        ("MODELWATCH__ANALYSIS__EVALUATION_INTERVAL", "300ms"),
    ]);
    ProxyProcess::start_with_reference(
        &format!("http://{upstream}"),
        "credit@production",
        &["--reference-poll", POLL],
        &env,
    )
}

/// `serve --model credit@production` reading the registry at `url` (no home at all).
fn remote_serve(dir: &Path, url: &str) -> Server {
    let state = dir.join("serve-state");
    serve_with(
        &dir.join("no-home"),
        &[
            "serve",
            "--model",
            "credit@production",
            "--poll-interval",
            POLL,
            "--registry-url",
            url,
            "--state-dir",
            state.to_str().unwrap(),
        ],
    )
}

/// How many times the sidecar said it switched from one version to the other.
fn moves(sidecar: &ProxyProcess, from: &str, to: &str) -> usize {
    sidecar
        .log()
        .lines()
        .filter(|line| {
            line.contains("the model reference moved to another version")
                && line.contains("reference=credit@production")
                && line.contains(&format!("from={from} to={to}"))
        })
        .count()
}

/// The body of an admin GET, which must answer 200.
fn admin_get(sidecar: &ProxyProcess, path: &str) -> String {
    let (status, _, body) = http(&sidecar.admin.to_string(), "GET", path, "", "");
    assert_eq!(status, 200, "{path}: {body}");
    body
}

fn metrics(sidecar: &ProxyProcess) -> Vec<Sample> {
    parse(&admin_get(sidecar, "/metrics"))
}

fn drift_report(sidecar: &ProxyProcess) -> Value {
    serde_json::from_str(&admin_get(sidecar, "/api/v1/drift")).unwrap()
}

/// The sidecar says it switched the alias's reference from one version to the other
/// (what the follower does at once; retiring the old version's series waits for the
/// evaluator).
fn said_moved(sidecar: &ProxyProcess, from: &str, to: &str) -> bool {
    moves(sidecar, from, to) > 0
}

/// `modelwatch_reference_info` names `version`'s profile for `version`'s traffic.
fn reference_info(sidecar: &ProxyProcess, version: &str) -> bool {
    let samples = metrics(sidecar);
    value(
        &samples,
        "modelwatch_reference_info",
        &[
            ("model", "credit"),
            ("model_version", version),
            ("reference", "credit@production"),
            ("reference_version", version),
        ],
    ) == Some(1.0)
}

/// Analysis series of each version label, e.g. `{"1": 40, "2": 38}`.
fn analysis_versions(samples: &[Sample]) -> std::collections::BTreeMap<String, usize> {
    let mut versions = std::collections::BTreeMap::new();
    for s in samples {
        if !ANALYSIS_FAMILIES.iter().any(|f| s.name.starts_with(f)) {
            continue;
        }
        if let Some((_, v)) = s.labels.iter().find(|(k, _)| k == "model_version") {
            *versions.entry(v.clone()).or_insert(0) += 1;
        }
    }
    versions
}

/// Only `version` is left: its gauges and report, compared with its own profile; the
/// other version's windows and series are retired. `Err` says what is still off.
fn only(sidecar: &ProxyProcess, version: &str) -> Result<(), String> {
    let samples = metrics(sidecar);
    let versions = analysis_versions(&samples);
    let window_rows = value(
        &samples,
        "modelwatch_drift_window_rows",
        &[("model", "credit"), ("model_version", version)],
    );
    let report = drift_report(sidecar);
    let models = report["models"].as_array().cloned().unwrap_or_default();
    let shown = |m: &Value| {
        m["model_version"] == version
            && m["reference"]["version"] == version
            && m["reference"]["spec"] == "credit@production"
            && m["window"]["rows"].as_u64().is_some_and(|r| r > 0)
    };
    if window_rows.is_some_and(|rows| rows > 0.0)
        && versions.keys().eq([version])
        && models.len() == 1
        && shown(&models[0])
    {
        Ok(())
    } else {
        let summary: Vec<_> = models
            .iter()
            .map(|m| (&m["model_version"], &m["reference"], &m["window"]))
            .collect();
        Err(format!(
            "series per version {versions:?}, window rows {window_rows:?}, report {summary:?}"
        ))
    }
}

/// Waits until `check` holds, and says how long after `since` that was.
fn time_until(
    since: Instant,
    what: &str,
    mut check: impl FnMut() -> Result<(), String>,
) -> Duration {
    let mut last = String::new();
    let held = eventually(PATIENCE, || match check() {
        Ok(()) => true,
        Err(e) => {
            last = e;
            false
        }
    });
    assert!(held, "{what}: not within {PATIENCE:?}; last seen: {last}");
    since.elapsed()
}

/// `Ok` when `holds`, else `Err(what)`.
fn check(holds: bool, what: impl FnOnce() -> String) -> Result<(), String> {
    if holds { Ok(()) } else { Err(what()) }
}

/// A registry home with credit@1 as `production` and credit@2 as `staging` (the temp dir
/// is removed when the first value drops).
pub fn two_versions() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    register(dir.path(), &home, 1, "production");
    register(dir.path(), &home, 7, "staging");
    (dir, home)
}

#[test]
fn sidecars_follow_a_promotion_and_a_rollback_while_traffic_flows() {
    let (dir, home) = two_versions();
    assert_eq!(production(&home), 1);

    let registry = serve_with(&home, &["registry", "serve"]);
    let registry_url = format!("http://{}", registry.addr);
    let servers = [
        serve(&home, "credit@production"),
        remote_serve(dir.path(), &registry_url),
    ];
    let remote_state = dir.path().join("sidecar-state");
    let sidecars = [
        sidecar(&home, &servers[0].addr),
        sidecar_with(
            &dir.path().join("no-home"),
            &servers[1].addr,
            &[
                ("MODELWATCH_REGISTRY_URL", &registry_url),
                ("MODELWATCH_STATE_DIR", remote_state.to_str().unwrap()),
            ],
        ),
    ];

    let body = credit_request(&home);

    // A client sends through both sidecars, one request after another, until told to stop.
    let stop = Arc::new(AtomicBool::new(false));
    let client = {
        let addrs: Vec<String> = sidecars.iter().map(|s| s.listen.to_string()).collect();
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut answered = 0u64;
            while !stop.load(Ordering::Relaxed) {
                for addr in &addrs {
                    let (status, head, reply) = http(
                        addr,
                        "POST",
                        "/v2/models/credit/infer",
                        "application/json",
                        &body,
                    );
                    assert_eq!(status, 200, "a request failed: {head}\n{reply}");
                    answered += 1;
                }
                // Paced, so that the analysis threads (nice 10, on a shared machine) keep
                // up: this test is about following versions, not about throughput.
                std::thread::sleep(Duration::from_millis(20));
            }
            answered
        })
    };

    for sidecar in &sidecars {
        time_until(Instant::now(), "the sidecar analyses version 1", || {
            only(sidecar, "1")
        });
    }

    for (step, command, from, to) in [
        (
            "promotion",
            vec!["registry", "promote", "credit@2", "--alias", "production"],
            "1",
            "2",
        ),
        (
            "rollback",
            vec!["registry", "rollback", "credit", "--alias", "production"],
            "2",
            "1",
        ),
    ] {
        let out = modelwatch(&home, &command);
        let moved = Instant::now();
        assert!(out.status.success(), "{step}: {}", text(&out.stderr));
        assert_eq!(production(&home).to_string(), to);
        let serve_took = time_until(
            moved,
            &format!("{step}: both serves answer with {to}"),
            || {
                for server in &servers {
                    let (_, head, _) = http(&server.addr, "GET", "/v2/models/credit", "", "");
                    check(head.contains(&format!("x-model-version: {to}")), || head)?;
                }
                Ok(())
            },
        );
        // Both sidecars watched in one loop, so each one's time is its own.
        let mut followed: [Option<Duration>; 2] = [None; 2];
        time_until(moved, &format!("{step}: both sidecars follow {to}"), || {
            for (i, sidecar) in sidecars.iter().enumerate() {
                if followed[i].is_none() && said_moved(sidecar, from, to) {
                    followed[i] = Some(moved.elapsed());
                }
            }
            check(followed.iter().all(Option::is_some), || {
                format!("followed: {followed:?}")
            })
        });
        for (i, sidecar) in sidecars.iter().enumerate() {
            let retired = time_until(
                moved,
                &format!("{step}: sidecar {i} shows only version {to}, {from} retired"),
                || only(sidecar, to),
            );
            assert!(
                reference_info(sidecar, to),
                "{}",
                admin_get(sidecar, "/metrics")
            );
            eprintln!(
                "{step} {from}->{to}, after the alias moved: serve answers with {to} at \
                 {serve_took:?}; sidecar {i} follows at {:?}, shows only {to} by \
                 {retired:?} (poll {POLL}, evaluation 300ms)",
                followed[i].unwrap()
            );
        }
    }

    // The registry server goes away, and the alias moves meanwhile: the readers over HTTP
    // keep serving and comparing with version 1 (the client still sees no failure), say
    // that they cannot follow, and catch up once the registry is back at its address.
    let registry_addr = registry.addr.clone();
    drop(registry);
    let out = modelwatch(
        &home,
        &["registry", "promote", "credit@2", "--alias", "production"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    time_until(
        Instant::now(),
        "the remote readers say they keep version 1",
        || {
            let serve_log = servers[1].log.lock().unwrap().clone();
            check(serve_log.contains("keeping version 1"), || {
                serve_log.clone()
            })?;
            check(
                sidecars[1]
                    .log()
                    .contains("could not follow the model references; keeping the ones in use"),
                || sidecars[1].log(),
            )
        },
    );
    let (_, head, _) = http(&servers[1].addr, "GET", "/v2/models/credit", "", "");
    assert!(head.contains("x-model-version: 1"), "{head}");
    let failures = value(
        &metrics(&sidecars[1]),
        "modelwatch_reference_follow_failures_total",
        &[],
    );
    assert!(failures.is_some_and(|n| n >= 1.0), "{failures:?}");
    assert_eq!(moves(&sidecars[1], "1", "2"), 1, "{}", sidecars[1].log());
    let _registry = serve_with(&home, &["registry", "serve", "--listen", &registry_addr]);
    time_until(Instant::now(), "the remote readers catch up", || {
        let (_, head, _) = http(&servers[1].addr, "GET", "/v2/models/credit", "", "");
        check(head.contains("x-model-version: 2"), || head)?;
        check(moves(&sidecars[1], "1", "2") == 2, || sidecars[1].log())
    });

    stop.store(true, Ordering::Relaxed);
    let answered = client
        .join()
        .expect("no request failed while versions changed");
    assert!(answered > 0);
    // Following adds a thread; SIGTERM still ends the sidecar promptly and cleanly.
    for mut sidecar in sidecars {
        sidecar.terminate();
        let status = sidecar.wait(PATIENCE);
        assert!(
            status.is_some_and(|s| s.success()),
            "{status:?}: {}",
            sidecar.log()
        );
    }
}

/// The OIP request body for 25 credit rows.
fn credit_request(home: &Path) -> String {
    let (cells, _) = credit_rows(25, &artifact(home, "credit@1"));
    json!({"inputs": [{"name": "input-0", "shape": [25, 13], "datatype": "BYTES", "data": cells}]})
        .to_string()
}

/// The report's entry for `credit` at `version`, compared with `reference_version`.
fn compared(sidecar: &ProxyProcess, version: &str, reference_version: &str) -> Result<(), String> {
    let report = drift_report(sidecar);
    let models = report["models"].as_array().cloned().unwrap_or_default();
    let found = models.iter().any(|m| {
        m["model"] == "credit"
            && m["model_version"] == version
            && m["reference"]["version"] == reference_version
            && m["reference"]["spec"] == "credit@production"
    });
    check(found && models.len() == 1, || {
        let seen: Vec<_> = models
            .iter()
            .map(|m| (&m["model_version"], &m["reference"]["version"]))
            .collect();
        format!("(model_version, reference.version) in the report: {seen:?}")
    })
}

#[test]
fn traffic_is_compared_with_the_version_that_answered() {
    let (_dir, home) = two_versions();
    // The alias stays at 1 throughout; the server serves version 2 (a canary, say).
    let server = serve(&home, "credit@2");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    // Stand-in for a server that says its version only in the body (Triton, KServe
    // runtimes): the real `serve` behind a hop that drops its X-Model-Version header.
    let serve_addr = server.addr.clone();
    let hop = runtime.block_on(Upstream::start(move |req: http::Request<_>| {
        let url = format!("http://{serve_addr}{}", req.uri().path());
        async move {
            let body = req.into_body().collect().await.unwrap().to_bytes();
            let answer = post(&http1(), &url, body).await;
            let mut response = http::Response::builder().status(answer.status);
            for (name, value) in &answer.headers {
                if name != "x-model-version" {
                    response = response.header(name, value);
                }
            }
            response.body(full(answer.body)).unwrap()
        }
    }));
    let by_header = sidecar(&home, &server.addr);
    let by_body = sidecar(&home, &hop.addr.to_string());

    let body = credit_request(&home);
    let send = |sidecar: &ProxyProcess| {
        let (status, head, reply) = http(
            &sidecar.listen.to_string(),
            "POST",
            "/v2/models/credit/infer",
            "application/json",
            &body,
        );
        assert_eq!(status, 200, "{reply}");
        assert_eq!(
            head.contains("x-model-version: 2"),
            std::ptr::eq(sidecar, &by_header),
            "{head}"
        );
    };
    for (how, sidecar) in [("header", &by_header), ("body", &by_body)] {
        // The canary keeps getting traffic while the test looks: a version the alias is
        // not at is retired after an evaluation interval (300 ms) without any, so one
        // request and a test thread paused longer than that (a loaded machine) would
        // find the report empty and wait in vain.
        time_until(
            Instant::now(),
            &format!("version 2 named in the {how}"),
            || {
                send(sidecar);
                compared(sidecar, "2", "2")
            },
        );
        // The alias has not moved: version 1 stays the current reference.
        assert!(
            reference_info(sidecar, "1") && !said_moved(sidecar, "1", "2"),
            "{}",
            admin_get(sidecar, "/metrics")
        );
    }
}
