//! Lossless delivery through an outage, against a real OpenSearch node of this test's own:
//! at a steady request rate through the real `modelwatch proxy`, the node is stopped for
//! 30 s and started again, and during the outage the sidecar is killed with SIGKILL and
//! restarted on the same spool directory. Every request id must then be in the data stream
//! exactly once, except at most the events the fsync interval allows to be lost (the bound
//! is reasoned out at `LOSS_WINDOW`).
//!
//! The node is started with `tests/services/opensearch.sh` under a state directory of its
//! own (a subdirectory of `$MODELWATCH_TEST_STATE`), so stopping it never disturbs the
//! shared node other tests reach through `OPENSEARCH_URL`.

use crate::export_elasticsearch::{cluster_at, export_count, start_proxy_with};
use crate::support::client;
use crate::support::metrics_text::{parse, value};
use crate::support::proxy_process::ProxyProcess;
use crate::support::upstream::Upstream;
use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Full};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long the node is away.
const OUTAGE: Duration = Duration::from_secs(30);
/// The sidecar's `export.elasticsearch.fsync_interval` in this test.
const FSYNC_INTERVAL: Duration = Duration::from_secs(1);
/// The loss bound. An event is offered to the export queue when its response ends; the
/// persister thread wakes on the queue and `write`s it into the segment file at once (no
/// user-space buffer outlives one wake-up), i.e. within milliseconds. From there it is in
/// the kernel's page cache, which a SIGKILL of the process does not touch: only a crash of
/// the machine loses writes not yet fsynced, and those are at most `fsync_interval` old.
/// So an event whose response was answered more than `fsync_interval` before the SIGKILL
/// must survive it; only events answered in the last `fsync_interval` may be lost (in
/// practice none are, and the test reports how many were).
const LOSS_WINDOW: Duration = FSYNC_INTERVAL;
/// Requests per second, one at a time.
const RATE: u64 = 40;

/// An OpenSearch node with a state directory of its own; stopped (data deleted) on drop.
struct OwnNode {
    state: PathBuf,
    url: String,
}

impl OwnNode {
    fn script() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/services/opensearch.sh")
    }

    fn run(state: &PathBuf, args: &[&str]) -> String {
        let out = Command::new("bash")
            .arg(Self::script())
            .args(args)
            .env("MODELWATCH_TEST_STATE", state)
            .output()
            .expect("bash runs tests/services/opensearch.sh");
        assert!(
            out.status.success(),
            "opensearch.sh {args:?} failed (Java 17 and Maven are needed):\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn start() -> OwnNode {
        let base = std::env::var("MODELWATCH_TEST_STATE")
            .unwrap_or_else(|_| "/tmp/modelwatch-test".into());
        let state = PathBuf::from(base).join(format!("outage-{}", std::process::id()));
        let out = Self::run(&state, &["start"]);
        let url = out
            .lines()
            .find_map(|l| l.strip_prefix("OPENSEARCH_URL="))
            .unwrap_or_else(|| panic!("no OPENSEARCH_URL line in {out:?}"))
            .to_string();
        OwnNode { state, url }
    }

    /// Stops the node, keeping its data and port for `restart`.
    fn stop_keeping_data(&self) {
        Self::run(&self.state, &["stop", "--keep-data"]);
    }

    fn restart(&self) {
        let out = Self::run(&self.state, &["start"]);
        assert!(
            out.contains(&self.url),
            "the node came back on another port: {out}"
        );
    }
}

impl Drop for OwnNode {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(Self::script())
            .arg("stop")
            .env("MODELWATCH_TEST_STATE", &self.state)
            .status();
        let _ = std::fs::remove_dir_all(&self.state);
    }
}

/// Requests answered 200, by id, with the instant the answer was read.
type Answered = Arc<Mutex<BTreeMap<String, Instant>>>;

/// Sends one request every 1/RATE s to whichever proxy `target` names (none: pause) until
/// `stop` is set; records the ids answered 200.
fn steady_traffic(
    target: Arc<Mutex<Option<String>>>,
    answered: Answered,
    stop: Arc<std::sync::atomic::AtomicBool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let client = client::http1();
        let mut tick = tokio::time::interval(Duration::from_millis(1000 / RATE));
        let mut n = 0u64;
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            tick.tick().await;
            let Some(url) = target.lock().unwrap().clone() else {
                continue;
            };
            n += 1;
            let id = format!("outage-{}-{n}", std::process::id());
            let request = Request::post(format!("{url}/v2/models/credit/infer"))
                .header("content-type", "application/json")
                .header("x-request-id", &id)
                .body(Full::new(Bytes::from_static(b"{\"inputs\":[]}")))
                .unwrap();
            let exchange = async {
                let response = client.request(request).await.ok()?;
                let status = response.status();
                response.into_body().collect().await.ok()?;
                Some(status)
            };
            // A request to a proxy being killed fails: it was never answered, so its
            // event is not expected.
            if let Ok(Some(status)) = tokio::time::timeout(Duration::from_secs(2), exchange).await
                && status == 200
            {
                answered.lock().unwrap().insert(id, Instant::now());
            }
        }
    })
}

/// Every `http.request.id` in the stream, with how often it occurs (each request sent one:
/// more than one document for it is an event stored twice).
pub(crate) async fn stored_ids(node: &str, stream: &str) -> BTreeMap<String, usize> {
    let (status, _) = cluster_at(
        node,
        http::Method::POST,
        &format!("/{stream}/_refresh"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let (status, found) = cluster_at(
        node,
        http::Method::POST,
        &format!("/{stream}/_search"),
        Some(
            json!({"size": 10000, "_source": ["http.request.id", "event.id"],
                    "query": {"match_all": {}}, "track_total_hits": true}),
        ),
    )
    .await;
    assert_eq!(status, 200, "{found}");
    let hits = found["hits"]["hits"].as_array().unwrap();
    assert_eq!(
        found["hits"]["total"]["value"].as_u64().unwrap() as usize,
        hits.len(),
        "all hits fit in one page"
    );
    let mut ids = BTreeMap::new();
    for hit in hits {
        let id = hit["_source"]["http"]["request"]["id"].as_str().unwrap();
        assert_eq!(
            hit["_id"], hit["_source"]["event"]["id"],
            "_id is the event's own id"
        );
        *ids.entry(id.to_string()).or_insert(0) += 1;
    }
    ids
}

async fn spool_bytes(proxy: &ProxyProcess) -> f64 {
    let text = client::get(&client::http1(), &proxy.admin_url("/metrics"))
        .await
        .text();
    value(
        &parse(&text),
        "modelwatch_export_spool_bytes",
        &[("sink", "elasticsearch")],
    )
    .expect("the spool gauge is exported")
}

fn start_sidecar(
    upstream: &Upstream,
    node: &str,
    stream: &str,
    home: &str,
    spool: &str,
) -> ProxyProcess {
    start_proxy_with(
        upstream,
        node,
        stream,
        home,
        &[
            ("MODELWATCH__EXPORT__ELASTICSEARCH__SPOOL_DIR", spool),
            ("MODELWATCH__EXPORT__ELASTICSEARCH__FSYNC_INTERVAL", "1s"),
        ],
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn an_outage_and_a_sigkill_lose_nothing_older_than_the_fsync_interval() {
    let node = OwnNode::start();
    let stream = format!("logs-modelwatch.inference-outage{}", std::process::id());
    let home = tempfile::tempdir().unwrap();
    let home_path = home.path().to_str().unwrap().to_string();
    let spool = home.path().join("spool-of-this-test");
    let spool = spool.to_str().unwrap();
    let upstream = Upstream::echo().await;
    let first = start_sidecar(&upstream, &node.url, &stream, &home_path, spool);

    let target = Arc::new(Mutex::new(Some(first.url(""))));
    let answered: Answered = Default::default();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let traffic = steady_traffic(target.clone(), answered.clone(), stop.clone());
    tokio::time::sleep(Duration::from_secs(3)).await;

    // The outage: the node goes away (data and port kept).
    let blocking = |f: Box<dyn FnOnce() + Send>| tokio::task::spawn_blocking(f);
    let node = Arc::new(node);
    let n = node.clone();
    blocking(Box::new(move || n.stop_keeping_data()))
        .await
        .unwrap();
    let outage_started = Instant::now();
    tokio::time::sleep(OUTAGE / 2).await;

    // Mid-outage, events are piling up in the spool; then the sidecar is killed.
    assert!(spool_bytes(&first).await > 0.0, "log:\n{}", first.log());
    *target.lock().unwrap() = None;
    let killed_at = Instant::now();
    Command::new("kill")
        .args(["-KILL", &first.pid().to_string()])
        .status()
        .unwrap();
    let mut first = first;
    assert!(
        first.wait(Duration::from_secs(5)).is_some(),
        "SIGKILL ends it"
    );
    let first_log = first.log();

    // A new sidecar on the same spool directory; traffic resumes through it.
    let second = start_sidecar(&upstream, &node.url, &stream, &home_path, spool);
    assert!(
        second
            .log()
            .contains("events left in the export spool by the last run"),
        "the restart finds the spooled events; log:\n{}",
        second.log()
    );
    *target.lock().unwrap() = Some(second.url(""));
    tokio::time::sleep(OUTAGE.saturating_sub(outage_started.elapsed())).await;
    let n = node.clone();
    blocking(Box::new(move || n.restart())).await.unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    traffic.await.unwrap();

    // Everything spooled drains into the node.
    let deadline = Instant::now() + Duration::from_secs(90);
    while spool_bytes(&second).await > 0.0 {
        assert!(
            Instant::now() < deadline,
            "the spool did not drain; log:\n{}",
            second.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let answered = answered.lock().unwrap().clone();
    let stored = stored_ids(&node.url, &stream).await;
    let duplicated: Vec<_> = stored.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        duplicated.is_empty(),
        "stored more than once: {duplicated:?}"
    );
    let missing: BTreeSet<&String> = answered
        .keys()
        .filter(|id| !stored.contains_key(*id))
        .collect();
    // Within the bound: only events answered in the last LOSS_WINDOW before the SIGKILL.
    let beyond_bound: Vec<_> = missing
        .iter()
        .filter(|id| answered[**id] + LOSS_WINDOW < killed_at)
        .collect();
    assert!(
        beyond_bound.is_empty(),
        "{} of {} answered requests are missing although answered more than {LOSS_WINDOW:?} \
         before the SIGKILL: {beyond_bound:?}\nfirst sidecar's log:\n{first_log}\nsecond's:\n{}",
        beyond_bound.len(),
        answered.len(),
        second.log()
    );
    let unexpected: Vec<_> = stored
        .keys()
        .filter(|id| !answered.contains_key(*id))
        .collect();
    // A request cut off by the SIGKILL may have been answered by the upstream (and its
    // event spooled) without the client reading the answer: at most the one in flight.
    assert!(
        unexpected.len() <= 1,
        "events of requests never answered: {unexpected:?}"
    );
    eprintln!(
        "outage test: {} requests answered, {} stored, {} missing within the {LOSS_WINDOW:?} \
         loss window before the SIGKILL",
        answered.len(),
        stored.len(),
        missing.len()
    );
    assert!(
        answered.len() as u64 > RATE * 20,
        "steady traffic: {}",
        answered.len()
    );
    assert_eq!(export_count(&second, "dropped").await, 0.0);
    assert_eq!(export_count(&second, "dead_letter").await, 0.0);
    assert!(
        export_count(&second, "retried").await > 0.0,
        "the outage was seen"
    );
}
