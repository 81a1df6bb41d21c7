//! The label join under load: a real load generator (h2load) sends 1,000 requests a second
//! through a real sidecar to a real `modelwatch serve`, on credit@1 and then, after a
//! promotion, on credit@2. Their labels then arrive shuffled, a tenth of them twice (the
//! repeat saying the opposite), with ids nobody made, half before and half after a sidecar
//! restart. Every item is counted once under its outcome, each prediction joins exactly one
//! label, and each join is counted under the version that made the prediction.
//!
//! Which version made which prediction is read from the sidecar's own store (its SQLite
//! file, read-only, as an operator could): h2load does not report per-request headers.
//! That the store attributes each prediction to the version that answered it is what
//! `model_quality.rs` checks request by request; here the join must keep that attribution
//! under load and across the restart.
//!
//! `REQUESTS` sets the number of requests per version (default 1,500: three seconds at
//! 1,000 rps in all); the full-scale run is
//! `REQUESTS=60000 cargo test --release --test it model_quality_load`.

use super::ml_pipeline::credit_rows;
use super::ml_support::*;
use super::model_quality::{
    PATIENCE, Setup, metric, outcomes, promote_until_served, restart_sidecar, send,
};
use super::support::metrics_text::parse;
use super::support::proxy_process::ProxyProcess;
use modelwatch::random::SeededRng;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

/// The target rate of the load generator, requests per second.
const RATE: u32 = 1000;
/// h2load's connections; each sends `RATE / CLIENTS` requests a second.
const CLIENTS: u32 = 4;

/// Sends `n` identical inference requests through the sidecar at [`RATE`] with h2load;
/// returns how many succeeded (2xx).
fn load(sidecar: &ProxyProcess, body: &Path, n: usize) -> usize {
    let out = Command::new("h2load")
        .args(["--h1", "-m", "1"])
        .args([
            "-c",
            &CLIENTS.to_string(),
            "--rps",
            &(RATE / CLIENTS).to_string(),
        ])
        .args(["-n", &n.to_string()])
        .args(["-H", "content-type: application/json"])
        .arg("-d")
        .arg(body)
        .arg(format!("http://{}/v2/models/credit/infer", sidecar.listen))
        .output()
        .expect("h2load runs (Debian package nghttp2-client)");
    let said = text(&out.stdout);
    assert!(out.status.success(), "h2load: {said}{}", text(&out.stderr));
    // "requests: 1500 total, 1500 started, 1500 done, 1500 succeeded, 0 failed, ..."
    let succeeded = said
        .lines()
        .find(|l| l.starts_with("requests:"))
        .and_then(|l| l.split(", ").find(|f| f.ends_with(" succeeded")))
        .and_then(|f| f.trim_end_matches(" succeeded").parse().ok())
        .unwrap_or_else(|| panic!("h2load's summary: {said}"));
    assert!(succeeded > 0, "{said}");
    // The achieved rate, for the record (no assertion: the machine's load decides it).
    if let Some(finished) = said.lines().find(|l| l.starts_with("finished in")) {
        eprintln!("h2load: {finished}");
    }
    succeeded
}

/// Sum of a metric over all its label sets.
fn total(sidecar: &ProxyProcess, name: &str) -> f64 {
    let (_, _, body) = http(&sidecar.admin.to_string(), "GET", "/metrics", "", "");
    parse(&body)
        .iter()
        .filter(|s| s.name == name)
        .map(|s| s.value)
        .sum()
}

/// Every stored prediction: request id → version, read from the store's file.
fn stored(state: &Path) -> BTreeMap<String, String> {
    let conn = rusqlite::Connection::open_with_flags(
        state.join("predictions.sqlite"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let mut query = conn
        .prepare(
            "SELECT p.request_id, v.version FROM predictions p
             JOIN versions v ON v.id = p.version_id",
        )
        .unwrap();
    query
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn labels_join_once_to_their_version_under_load_across_a_restart() {
    let per_version: usize = std::env::var("REQUESTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1500);
    let Setup {
        dir,
        home,
        state,
        token_file,
        server,
        proxy,
    } = Setup::start();

    let (rows, _) = credit_rows(1, &artifact(&home, "credit@1"));
    let cells = &rows[0];
    let body = dir.path().join("infer.json");
    let request = serde_json::json!({"inputs": [{"name": "input-0",
        "shape": [1, cells.len()], "datatype": "BYTES", "data": cells}]});
    std::fs::write(&body, request.to_string()).unwrap();

    let mut succeeded = load(&proxy, &body, per_version);
    promote_until_served(&home, &server, 2);
    succeeded += load(&proxy, &body, per_version);

    // Every answered request is stored, or counted where it was given up (a full
    // analysis or store queue: the sidecar never slows traffic down to keep up).
    let accounted = |p: &ProxyProcess| {
        metric(
            p,
            "modelwatch_prediction_store_writes_total",
            &[("outcome", "stored")],
        ) + metric(
            p,
            "modelwatch_prediction_store_writes_total",
            &[("outcome", "dropped")],
        ) + total(p, "modelwatch_analysis_dropped_total")
            + total(p, "modelwatch_analysis_skipped_total")
    };
    assert!(
        eventually(PATIENCE, || accounted(&proxy) >= succeeded as f64),
        "{succeeded} answered, {} accounted for\n{}",
        accounted(&proxy),
        proxy.log()
    );
    let made = stored(&state);
    let mut made_per_version = BTreeMap::<String, f64>::new();
    for version in made.values() {
        *made_per_version.entry(version.clone()).or_default() += 1.0;
    }
    assert_eq!(
        made_per_version.keys().collect::<Vec<_>>(),
        ["1", "2"],
        "both versions answered"
    );
    assert!(
        made.len() as f64 >= 0.9 * succeeded as f64,
        "most predictions are stored: {} of {succeeded}",
        made.len()
    );

    // The labels: every prediction's, shuffled; a tenth repeated with the opposite label;
    // 200 for ids nobody made. Half before the restart, half after.
    let mut rng = SeededRng::new(1000);
    let mut ids: Vec<&String> = made.keys().collect();
    rng.shuffle(&mut ids);
    let repeats: Vec<&String> = ids[..ids.len() / 10].to_vec();
    let mut items: Vec<String> = ids.iter().map(|id| format!("{id},bad")).collect();
    items.extend((0..200).map(|i| format!("never-made-{i},good")));
    rng.shuffle(&mut items);
    let (first, second) = items.split_at(items.len() / 2);
    let batch = |proxy: &ProxyProcess, name: &str, lines: &[String]| {
        let file = dir.path().join(name);
        std::fs::write(&file, format!("request_id,label\n{}\n", lines.join("\n"))).unwrap();
        let sent = send(&file, proxy, Some(&token_file));
        assert!(sent.status.success(), "{}", text(&sent.stderr));
    };
    batch(&proxy, "first.csv", first);
    let before = outcomes(&proxy);
    let proxy = restart_sidecar(proxy, &home, &state, &token_file, &server);
    let mut rest: Vec<String> = second.to_vec();
    rest.extend(repeats.iter().map(|id| format!("{id},good")));
    rng.shuffle(&mut rest);
    batch(&proxy, "second.csv", &rest);
    let after = outcomes(&proxy);

    let mut counted = BTreeMap::<(String, String), f64>::new();
    for counts in [&before, &after] {
        for (key, n) in counts {
            *counted.entry(key.clone()).or_default() += n;
        }
    }
    let of = |v: &str, o: &str| counted.get(&(v.into(), o.into())).copied().unwrap_or(0.0);
    for (version, n) in &made_per_version {
        assert_eq!(
            of(version, "joined"),
            *n,
            "joins of version {version}: {counted:?}"
        );
    }
    let mut repeated_per_version = BTreeMap::<String, f64>::new();
    for id in &repeats {
        *repeated_per_version.entry(made[*id].clone()).or_default() += 1.0;
    }
    for (version, n) in &repeated_per_version {
        assert_eq!(
            of(version, "duplicate"),
            *n,
            "duplicates of {version}: {counted:?}"
        );
    }
    assert_eq!(of("unknown", "unknown_request"), 200.0, "{counted:?}");
    let sent = (made.len() + repeats.len() + 200) as f64;
    assert_eq!(
        counted.values().sum::<f64>(),
        sent,
        "every item counted once: {counted:?}"
    );
}
