//! Delayed labels joined to predictions, end to end: a real `modelwatch serve` answering
//! with credit@1 and then, after a promotion, credit@2; a real `modelwatch proxy` with
//! `quality.enabled` and an admin token in front of it; labels sent with
//! `modelwatch feedback send`, shuffled, some repeated, some for ids nobody made, some
//! broken, half of them after the sidecar restarted. Every item's outcome is counted,
//! nothing joins twice, and each label joins the version that made its prediction.

use super::follow_alias::register;
use super::ml_pipeline::credit_rows;
use super::ml_support::*;
use super::support::metrics_text::{parse, value};
use super::support::proxy_process::ProxyProcess;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use serde_json::json;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;
use std::time::Duration;

pub(crate) const TOKEN: &str = "5b1e9d0c7f3a4e2d8c6b1a3f5e7d9c02";
pub(crate) const PATIENCE: Duration = Duration::from_secs(60);

pub(crate) fn sidecar(
    home: &Path,
    state: &Path,
    token_file: &Path,
    upstream: &str,
) -> ProxyProcess {
    sidecar_with(home, state, token_file, upstream, &[])
}

/// [`sidecar`] with more environment.
pub(crate) fn sidecar_with(
    home: &Path,
    state: &Path,
    token_file: &Path,
    upstream: &str,
    env: &[(&str, &str)],
) -> ProxyProcess {
    ProxyProcess::start_with_reference(
        &format!("http://{upstream}"),
        "credit@production",
        &[
            "--reference-poll",
            "200ms",
            "--state-dir",
            state.to_str().unwrap(),
        ],
        &[
            ("MODELWATCH_HOME", home.to_str().unwrap()),
            ("MODELWATCH__QUALITY__ENABLED", "true"),
            (
                "MODELWATCH__ADMIN__TOKEN_FILE",
                token_file.to_str().unwrap(),
            ),
        ]
        .iter()
        .chain(env)
        .copied()
        .collect::<Vec<_>>(),
    )
}

pub(crate) fn metric(sidecar: &ProxyProcess, name: &str, labels: &[(&str, &str)]) -> f64 {
    let (status, _, body) = http(&sidecar.admin.to_string(), "GET", "/metrics", "", "");
    assert_eq!(status, 200, "{body}");
    value(&parse(&body), name, labels).unwrap_or(0.0)
}

/// Outcome counts per (model_version, outcome).
pub(crate) fn outcomes(sidecar: &ProxyProcess) -> BTreeMap<(String, String), f64> {
    let (_, _, body) = http(&sidecar.admin.to_string(), "GET", "/metrics", "", "");
    parse(&body)
        .into_iter()
        .filter(|s| s.name == "modelwatch_feedback_total" && s.value > 0.0)
        .map(|s| {
            let label = |k: &str| {
                s.labels
                    .iter()
                    .find(|(n, _)| n == k)
                    .map(|(_, v)| v.clone())
                    .unwrap()
            };
            ((label("model_version"), label("outcome")), s.value)
        })
        .collect()
}

/// One single-row inference through the sidecar: (request id, version that answered,
/// predicted class).
pub(crate) fn predict(
    sidecar: &ProxyProcess,
    cells: &[serde_json::Value],
) -> (String, String, String) {
    let body = json!({"inputs": [{"name": "input-0", "shape": [1, cells.len()], "datatype": "BYTES", "data": cells}]});
    let (status, head, reply) = http(
        &sidecar.listen.to_string(),
        "POST",
        "/v2/models/credit/infer",
        "application/json",
        &body.to_string(),
    );
    assert_eq!(status, 200, "{head}\n{reply}");
    let id = head
        .lines()
        .find_map(|l| l.strip_prefix("x-request-id: "))
        .expect("the sidecar returns the request id")
        .trim()
        .to_string();
    let reply: serde_json::Value = serde_json::from_str(&reply).unwrap();
    let class = reply["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == "label")
        .map(|o| o["data"][0].as_str().unwrap().to_string())
        .unwrap();
    (
        id,
        reply["model_version"].as_str().unwrap().to_string(),
        class,
    )
}

pub(crate) fn send(file: &Path, sidecar: &ProxyProcess, token_file: Option<&Path>) -> Output {
    let url = format!("http://{}", sidecar.admin);
    let mut args = vec!["feedback", "send", file.to_str().unwrap(), "--url", &url];
    if let Some(token_file) = token_file {
        args.extend(["--token-file", token_file.to_str().unwrap()]);
    }
    modelwatch(Path::new("/nonexistent-home"), &args)
}

/// Two registered credit versions (1 in production, 2 in staging), `serve` following
/// production and a sidecar with the prediction store and an admin token in front of it.
pub(crate) struct Setup {
    pub dir: tempfile::TempDir,
    pub home: std::path::PathBuf,
    pub state: std::path::PathBuf,
    pub token_file: std::path::PathBuf,
    pub server: Server,
    pub proxy: ProxyProcess,
}

impl Setup {
    pub fn start() -> Setup {
        Setup::start_with(&[])
    }

    /// With more environment for the sidecar.
    pub fn start_with(env: &[(&str, &str)]) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        let state = dir.path().join("state");
        let token_file = dir.path().join("admin-token");
        std::fs::write(&token_file, TOKEN).unwrap();
        register(dir.path(), &home, 1, "production");
        register(dir.path(), &home, 7, "staging");
        let server = serve(&home, "credit@production");
        let proxy = sidecar_with(&home, &state, &token_file, &server.addr, env);
        Setup {
            dir,
            home,
            state,
            token_file,
            server,
            proxy,
        }
    }
}

/// Promotes `credit@VERSION` to `production` and waits until `serve`, which follows the
/// alias, answers with that version.
pub(crate) fn promote_until_served(home: &Path, server: &Server, version: u32) {
    let spec = format!("credit@{version}");
    let out = modelwatch(
        home,
        &["registry", "promote", &spec, "--alias", "production"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(eventually(PATIENCE, || {
        let (_, head, _) = http(&server.addr, "GET", "/v2/models/credit", "", "");
        head.contains(&format!("x-model-version: {version}"))
    }));
}

/// Stops the sidecar with SIGTERM (it must exit) and starts it again on the same home,
/// state directory and token, in front of the same server.
pub(crate) fn restart_sidecar(
    mut proxy: ProxyProcess,
    home: &Path,
    state: &Path,
    token_file: &Path,
    server: &Server,
) -> ProxyProcess {
    proxy.terminate();
    assert!(proxy.wait(PATIENCE).is_some());
    drop(proxy);
    sidecar(home, state, token_file, &server.addr)
}

#[test]
fn labels_join_their_own_version_once_across_a_restart() {
    let Setup {
        dir,
        home,
        state,
        token_file,
        server,
        proxy,
    } = Setup::start();

    let classes = artifact(&home, "credit@1").classes;
    let (rows, _) = credit_rows(80, &artifact(&home, "credit@1"));
    let mut made: Vec<(String, String, String)> =
        rows[..40].iter().map(|r| predict(&proxy, r)).collect();
    promote_until_served(&home, &server, 2);
    made.extend(rows[40..].iter().map(|r| predict(&proxy, r)));
    let per_version = |ids: &[(String, String, String)]| {
        let mut n = BTreeMap::<String, f64>::new();
        for (_, v, _) in ids {
            *n.entry(v.clone()).or_default() += 1.0;
        }
        n
    };
    let answered = per_version(&made);
    assert_eq!(answered.keys().collect::<Vec<_>>(), ["1", "2"]);
    assert!(
        eventually(PATIENCE, || metric(
            &proxy,
            "modelwatch_prediction_store_writes_total",
            &[("outcome", "stored")]
        ) == 80.0),
        "the sidecar stores every prediction:\n{}",
        proxy.log()
    );

    // The truth: every fourth prediction was wrong. Realised accuracy per version follows.
    let truth: BTreeMap<String, String> = made
        .iter()
        .enumerate()
        .map(|(i, (id, _, predicted))| {
            let other = if *predicted == classes.positive {
                &classes.negative
            } else {
                &classes.positive
            };
            (
                id.clone(),
                if i % 4 == 0 { other } else { predicted }.clone(),
            )
        })
        .collect();
    let mut accuracy = BTreeMap::<String, (f64, f64)>::new();
    for (id, version, predicted) in &made {
        let right = accuracy.entry(version.clone()).or_default();
        right.0 += f64::from(truth[id] == *predicted);
        right.1 += 1.0;
    }

    // First half of the labels, shuffled, with two unknown ids and a broken row.
    let mut rng = rand::rngs::StdRng::seed_from_u64(15);
    made.shuffle(&mut rng);
    let (first, second) = made.split_at(40);
    let mut csv = String::from("request_id,label\n");
    for (id, _, _) in first {
        csv.push_str(&format!("{id},{}\n", truth[id]));
    }
    csv.push_str("never-made-1,bad\nnever-made-2,good\nbroken-row,\n");
    let labels = dir.path().join("first.csv");
    std::fs::write(&labels, &csv).unwrap();

    let refused = send(&labels, &proxy, None);
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused.stderr));
    assert!(
        text(&refused.stderr).contains("401"),
        "{}",
        text(&refused.stderr)
    );
    let sent = send(&labels, &proxy, Some(&token_file));
    assert!(sent.status.success(), "{}", text(&sent.stderr));
    let printed = text(&sent.stdout);
    assert!(printed.contains("43 items"), "{printed}");
    assert!(printed.contains("line 44: invalid broken-row"), "{printed}");
    assert!(
        printed.contains("unknown_request never-made-1"),
        "{printed}"
    );
    // A body that cannot be read is refused whole, naming the line; nothing is counted.
    let broken = dir.path().join("broken.json");
    std::fs::write(
        &broken,
        "[\n{\"request_id\": \"a\", \"label\": 1},\n{oops}\n]",
    )
    .unwrap();
    let refused = send(&broken, &proxy, Some(&token_file));
    assert_eq!(refused.status.code(), Some(1));
    let said = text(&refused.stderr);
    assert!(said.contains("400") && said.contains("line 3"), "{said}");
    let before = outcomes(&proxy);

    // Label coverage: the share of each version's predictions that has a label so far.
    let labelled_first = per_version(first);
    let coverage = |proxy: &ProxyProcess, version: &str| {
        let (_, _, body) = http(&proxy.admin.to_string(), "GET", "/metrics", "", "");
        value(
            &parse(&body),
            "modelwatch_label_coverage",
            &[("model", "credit"), ("model_version", version)],
        )
    };
    let mut seen = BTreeMap::new();
    assert!(
        eventually(PATIENCE, || {
            seen = answered
                .keys()
                .map(|v| (v.clone(), coverage(&proxy, v)))
                .collect();
            answered
                .iter()
                .all(|(v, n)| seen[v] == Some(labelled_first[v] / n))
        }),
        "coverage per version {seen:?}, expected {labelled_first:?} of {answered:?}"
    );

    // A restart: the store is on disk, so the rest still joins, and the first half is
    // now a duplicate.
    let proxy = restart_sidecar(proxy, &home, &state, &token_file, &server);
    let mut ndjson = String::new();
    for (i, (id, _, _)) in second.iter().chain(&first[..10]).enumerate() {
        // The repeated ones say the opposite: the first label must stay.
        let label = if i < second.len() {
            truth[id].clone()
        } else {
            "flipped".into()
        };
        ndjson.push_str(&json!({"request_id": id, "label": label}).to_string());
        ndjson.push('\n');
    }
    let labels = dir.path().join("second.ndjson");
    std::fs::write(&labels, &ndjson).unwrap();
    let sent = send(&labels, &proxy, Some(&token_file));
    assert!(sent.status.success(), "{}", text(&sent.stderr));
    let after = outcomes(&proxy);

    // Each label joined the version that made its prediction, exactly once.
    let mut joined = BTreeMap::<String, f64>::new();
    let mut counted = BTreeMap::<(String, String), f64>::new();
    for counts in [&before, &after] {
        for ((version, outcome), n) in counts {
            *counted
                .entry((version.clone(), outcome.clone()))
                .or_default() += n;
            if outcome == "joined" {
                *joined.entry(version.clone()).or_default() += n;
            }
        }
    }
    assert_eq!(joined, answered, "joins per version: {counted:?}");
    let of = |v: &str, o: &str| counted.get(&(v.into(), o.into())).copied().unwrap_or(0.0);
    assert_eq!(of("unknown", "unknown_request"), 2.0, "{counted:?}");
    assert_eq!(of("unknown", "invalid"), 1.0, "{counted:?}");
    let duplicates = of("1", "duplicate") + of("2", "duplicate");
    assert_eq!(duplicates, 10.0, "{counted:?}");
    let expected_duplicates = per_version(&first[..10]);
    for (version, n) in expected_duplicates {
        assert_eq!(of(&version, "duplicate"), n, "{counted:?}");
    }
    let total: f64 = counted.values().sum();
    assert_eq!(total, 43.0 + 50.0, "every item counted once: {counted:?}");

    // Realised performance: each version's accuracy on its own labels.
    let (status, _, _) = http(
        &proxy.admin.to_string(),
        "GET",
        "/api/v1/performance",
        "",
        "",
    );
    assert_eq!(status, 401, "the report is behind the admin token");
    let mut last = String::new();
    let shown = eventually(PATIENCE, || {
        let report: serde_json::Value = match authorised_get(&proxy, "/api/v1/performance") {
            Some(r) => r,
            None => return false,
        };
        last = report.to_string();
        let models = report["models"].as_array().cloned().unwrap_or_default();
        models.len() == 2
            && accuracy.iter().all(|(version, (right, n))| {
                models.iter().any(|m| {
                    m["model_version"] == version.as_str()
                        && m["rows"].as_f64() == Some(*n)
                        && m["metrics"]["accuracy"].as_f64() == Some(right / n)
                })
            })
    });
    assert!(shown, "expected accuracy {accuracy:?}; last report: {last}");
    let gauge = metric(
        &proxy,
        "modelwatch_performance",
        &[
            ("model", "credit"),
            ("model_version", "2"),
            ("metric", "accuracy"),
        ],
    );
    let (right, n) = accuracy["2"];
    assert_eq!(gauge, right / n);

    // After the restart (counts rebuilt from the store) every prediction has its label.
    for version in answered.keys() {
        assert_eq!(coverage(&proxy, version), Some(1.0), "version {version}");
    }
    // Each version is compared with the holdout metrics the registry recorded for it.
    for version in answered.keys() {
        let shown = json(&modelwatch(
            &home,
            &["registry", "show", &format!("credit@{version}"), "--json"],
        ));
        let holdout = shown["metrics"]["holdout"].as_object().unwrap();
        assert!(holdout.len() >= 6, "{holdout:?}");
        for (name, recorded) in holdout {
            let gauge = metric(
                &proxy,
                "modelwatch_performance_reference",
                &[
                    ("model", "credit"),
                    ("model_version", version),
                    ("metric", name),
                ],
            );
            assert_eq!(Some(gauge), recorded.as_f64(), "credit@{version} {name}");
        }
    }
}

/// A GET with the admin token; `None` unless it answers 200 with JSON.
fn authorised_get(sidecar: &ProxyProcess, path: &str) -> Option<serde_json::Value> {
    let mut stream = std::net::TcpStream::connect(sidecar.admin).ok()?;
    use std::io::{Read, Write};
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n\
         Connection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.1 200").then_some(())?;
    serde_json::from_str(body).ok()
}
