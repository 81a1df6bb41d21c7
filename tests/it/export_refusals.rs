//! Refusals of a whole `_bulk` request never lose an event: a real `modelwatch proxy`
//! ships to the real OpenSearch node through a front (`support/fault_front.rs`) that
//! refuses for a while as a cluster or the proxy before it would. 401/403 block the export
//! (gauge, log line) and every event arrives once afterwards, none dead-lettered; 413
//! splits the batch and dead-letters only an event too large on its own; `Retry-After`
//! is honoured in seconds and as an HTTP-date; a 200 that is not a bulk answer is retried,
//! and the events it hid are stored once.
//!
//! The node's security plugin, which would answer 401/403 itself, is not available to the
//! test node here: the front stands in for it (and for nginx's body limit).

use crate::export_elasticsearch::{
    export_count, forget, infer, opensearch_url, start_proxy_with, stream, wait_for_count,
};
use crate::export_outage::stored_ids;
use crate::support::client::{self, get};
use crate::support::fault_front::{Fault, FaultFront};
use crate::support::metrics_text::{parse, value};
use crate::support::proxy_process::ProxyProcess;
use crate::support::upstream::Upstream;
use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime};

async fn blocked(proxy: &ProxyProcess, reason: &str) -> f64 {
    let text = get(&client::http1(), &proxy.admin_url("/metrics"))
        .await
        .text();
    value(
        &parse(&text),
        "modelwatch_export_blocked",
        &[("sink", "elasticsearch"), ("reason", reason)],
    )
    .expect("modelwatch_export_blocked is exported for every reason")
}

/// Polls `probe` every 100 ms until it holds (at most 30 s).
async fn wait_until<F: AsyncFnMut() -> bool>(what: &str, proxy: &ProxyProcess, mut probe: F) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !probe().await {
        assert!(
            Instant::now() < deadline,
            "{what} did not happen; log:\n{}",
            proxy.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Sends ten requests (ids tagged `reason`) and waits until the export is blocked for
/// `reason` and the front has refused `refused` requests in all; returns the ids.
async fn send_until_blocked(
    proxy: &ProxyProcess,
    front: &FaultFront,
    reason: &str,
    refused: usize,
) -> Vec<String> {
    let sent = ids(reason, 0..10);
    for id in &sent {
        infer(proxy, id).await;
    }
    wait_until(
        &format!("blocked{{reason={reason}}} = 1"),
        proxy,
        async || blocked(proxy, reason).await == 1.0,
    )
    .await;
    wait_until(&format!("{refused} refused attempts"), proxy, async || {
        front.refused() >= refused
    })
    .await;
    sent
}

/// Every id stored exactly once, and nothing else.
async fn assert_stored_once(stream: &str, ids: &[String]) {
    let stored = stored_ids(&opensearch_url(), stream).await;
    let expected: BTreeMap<String, usize> = ids.iter().map(|id| (id.clone(), 1)).collect();
    assert_eq!(stored, expected, "every request id exactly once");
}

fn ids(tag: &str, range: std::ops::Range<usize>) -> Vec<String> {
    range
        .map(|i| format!("{tag}-{}-{i}", std::process::id()))
        .collect()
}

/// A sidecar shipping through a front of its own to a data stream of its own. Bind every
/// field (`_upstream` too): a dropped upstream or home would pull the ground from under it.
struct Rig {
    stream: String,
    front: FaultFront,
    home: tempfile::TempDir,
    proxy: ProxyProcess,
    _upstream: Upstream,
}

impl Rig {
    async fn start(tag: &str, fault: Fault, extra: &[(&str, &str)]) -> Rig {
        let stream = stream(tag);
        forget(&stream).await;
        let front = FaultFront::start(&opensearch_url()).await;
        front.set(fault);
        let home = tempfile::tempdir().unwrap();
        let upstream = Upstream::echo().await;
        let proxy = start_proxy_with(
            &upstream,
            &front.url(),
            &stream,
            home.path().to_str().unwrap(),
            extra,
        );
        Rig {
            stream,
            front,
            home,
            proxy,
            _upstream: upstream,
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn refused_credentials_block_the_export_and_every_event_arrives_once_after() {
    // Refused from the start: the templates cannot be installed either.
    let Rig {
        stream,
        front,
        home,
        proxy,
        _upstream,
    } = Rig::start("blocked", Fault::Refuse(401), &[]).await;
    // Tried again with backoff, and still waiting.
    let first = send_until_blocked(&proxy, &front, "unauthorized", 3).await;
    assert_eq!(export_count(&proxy, "dead_letter").await, 0.0);
    assert_eq!(export_count(&proxy, "delivered").await, 0.0);
    assert!(export_count(&proxy, "retried").await > 0.0);
    let log = proxy.log();
    assert!(
        log.contains("export is blocked") && log.contains("401") && log.contains("api_key"),
        "the log names the cause and the fix:\n{log}"
    );

    front.set(Fault::None);
    wait_for_count(&proxy, "delivered", 10.0).await;
    assert_eq!(blocked(&proxy, "unauthorized").await, 0.0);
    assert!(proxy.log().contains("Elasticsearch accepts requests again"));

    // Mid-run, the privilege is taken away.
    front.set(Fault::Refuse(403));
    let two_more = front.refused() + 2;
    let second = send_until_blocked(&proxy, &front, "forbidden", two_more).await;
    assert_eq!(blocked(&proxy, "unauthorized").await, 0.0);
    assert_eq!(export_count(&proxy, "dead_letter").await, 0.0);

    front.set(Fault::None);
    wait_for_count(&proxy, "delivered", 20.0).await;
    assert_eq!(blocked(&proxy, "forbidden").await, 0.0);
    assert_eq!(export_count(&proxy, "dead_letter").await, 0.0);
    assert_eq!(export_count(&proxy, "dropped").await, 0.0);
    assert!(
        !home.path().join("dead-letter.ndjson").exists(),
        "nothing is dead-lettered"
    );
    assert_stored_once(&stream, &[first, second].concat()).await;
    forget(&stream).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_oversized_batch_is_split_and_only_an_event_too_large_alone_is_dead_lettered() {
    // As nginx in front of the cluster with a small client_max_body_size: a few events fit.
    const MAX_BODY: usize = 4096;
    // One batch for all of them (a batch is shipped when its oldest event is 2 s old).
    let Rig {
        stream,
        front,
        home,
        proxy,
        _upstream,
    } = Rig::start(
        "split",
        Fault::MaxBody(MAX_BODY),
        &[("MODELWATCH__EXPORT__ELASTICSEARCH__BATCH_AGE", "2s")],
    )
    .await;
    let small = ids("split", 0..30);
    for id in &small[..15] {
        infer(&proxy, id).await;
    }
    // Its url.path alone makes the document larger than the limit.
    let big = format!("too-big-{}", std::process::id());
    let long_path = format!("/v2/models/credit/infer/{}", "x".repeat(MAX_BODY + 1000));
    let request = http::Request::post(proxy.url(&long_path))
        .header("x-request-id", &big)
        .body(http_body_util::Full::new(bytes::Bytes::from_static(b"{}")))
        .unwrap();
    let answer = client::send(&client::http1(), request).await;
    assert_eq!(answer.status, 200);
    for id in &small[15..] {
        infer(&proxy, id).await;
    }
    wait_for_count(&proxy, "delivered", 30.0).await;
    wait_for_count(&proxy, "dead_letter", 1.0).await;

    let bulks = front.bulks();
    assert!(
        bulks.iter().any(|b| b.status == 413 && b.events > 1),
        "a batch was refused as too large: {bulks:?}"
    );
    for bulk in bulks.iter().filter(|b| b.status == 200) {
        assert!(bulk.bytes <= MAX_BODY, "{bulk:?}");
    }
    let dead = std::fs::read_to_string(home.path().join("dead-letter.ndjson")).unwrap();
    let lines: Vec<serde_json::Value> = dead
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1, "{dead}");
    assert_eq!(lines[0]["event"]["http"]["request"]["id"], big.as_str());
    assert_eq!(lines[0]["_id"], lines[0]["event"]["event"]["id"]);
    assert_eq!(lines[0]["status"], 413);
    assert!(
        lines[0]["reason"]
            .as_str()
            .unwrap()
            .contains("too large for the cluster"),
        "{}",
        lines[0]["reason"]
    );
    assert_stored_once(&stream, &small).await;
    forget(&stream).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn retry_after_is_honoured_and_an_unreadable_answer_is_retried_not_lost() {
    let Rig {
        stream,
        front,
        proxy,
        home: _home,
        _upstream,
    } = Rig::start("after", Fault::None, &[]).await;
    let all = ids("after", 0..8);
    infer(&proxy, &all[0]).await;
    wait_for_count(&proxy, "delivered", 1.0).await;

    // The gap between the refused _bulk and the next one. Without Retry-After the first
    // backoff is 100-200 ms; a lower bound on a sleep cannot flake.
    let gap_after_refusal = |refused_status: u16| {
        let bulks = front.bulks();
        let at = bulks
            .iter()
            .rposition(|b| b.status == refused_status)
            .unwrap_or_else(|| panic!("no {refused_status} in {bulks:?}"));
        bulks[at + 1].at - bulks[at].at
    };
    front.set(Fault::RetryAfter {
        status: 429,
        value: "3".into(),
        times: 1,
    });
    infer(&proxy, &all[1]).await;
    wait_for_count(&proxy, "delivered", 2.0).await;
    let gap = gap_after_refusal(429);
    assert!(
        gap >= Duration::from_secs(3),
        "429 Retry-After: 3, then {gap:?}"
    );

    // An HTTP-date at least 4 s ahead (it has whole seconds).
    let date = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(5));
    front.set(Fault::RetryAfter {
        status: 503,
        value: date.clone(),
        times: 1,
    });
    infer(&proxy, &all[2]).await;
    wait_for_count(&proxy, "delivered", 3.0).await;
    let gap = gap_after_refusal(503);
    assert!(
        gap >= Duration::from_millis(3500),
        "503 Retry-After: {date}, then {gap:?}"
    );

    // Twice, the events are stored but the answer is garbage: they are sent again and
    // the node answers 409 for each (stored once, counted as duplicates).
    front.set(Fault::Garble { times: 2 });
    for id in &all[3..] {
        infer(&proxy, id).await;
    }
    wait_until("the garbled batch settles", &proxy, async || {
        export_count(&proxy, "delivered").await + export_count(&proxy, "duplicate").await >= 8.0
    })
    .await;
    assert!(
        export_count(&proxy, "duplicate").await >= 1.0,
        "the events behind a garbled answer were sent again and found stored"
    );
    assert_eq!(export_count(&proxy, "dead_letter").await, 0.0);
    assert!(
        proxy.log().contains("unreadable _bulk answer"),
        "{}",
        proxy.log()
    );
    assert_stored_once(&stream, &all).await;
    forget(&stream).await;
}
