//! Persistence end to end: through the running proxy, a feature that drifts is reported
//! only after it drifted in K of the last N evaluations (`analysis.persistence`), while
//! `/api/v1/drift`'s `evaluation_drifted` shows each evaluation's own verdict at once.

use crate::live_drift::{TempDir, Wire, credit_proxy, credit_rows, drifted, sample, send_rows};
use crate::support::client::{self, get};
use crate::support::proxy_process::ProxyProcess;
use serde_json::Value;
use std::time::{Duration, Instant};

async fn income(proxy: &ProxyProcess) -> (Value, Value) {
    let report: Value = serde_json::from_slice(
        &get(&client::http1(), &proxy.admin_url("/api/v1/drift"))
            .await
            .body,
    )
    .unwrap();
    let model = report["models"][0].clone();
    let line = model["features"]
        .as_array()
        .and_then(|f| f.iter().find(|f| f["name"] == "Income"))
        .cloned()
        .unwrap_or(Value::Null);
    (line, model)
}

#[tokio::test(flavor = "multi_thread")]
async fn persistence_holds_a_live_alarm_until_k_of_n_evaluations_drifted() {
    let dir = TempDir::new("persistence");
    // 4 of the last 4 evaluations, one a second: after the first drifted evaluation the
    // alarm is held for three more (about 3 s), long enough for the polls below to see it.
    let (_upstream, proxy) = credit_proxy(
        &dir,
        Wire::Oip,
        &[
            ("MODELWATCH__ANALYSIS__EVALUATION_INTERVAL", "1s"),
            ("MODELWATCH__ANALYSIS__WINDOW_ROWS", "1000"),
            ("MODELWATCH__ANALYSIS__PERSISTENCE", "4/4"),
            ("MODELWATCH__MODEL__NAME", "credit"),
        ],
    )
    .await;
    let (features, rows) = credit_rows();
    send_rows(
        &proxy,
        Wire::Oip,
        &features,
        &drifted(sample(&rows, 1000, 17), &features),
    )
    .await;

    // Every report seen until Income is reported drifted: the evaluation's own verdict
    // turns first, the reported one only evaluations later.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut held = Vec::new();
    let reported = loop {
        let (line, model) = income(&proxy).await;
        if model["window"]["rows"].as_u64() == Some(1000) {
            assert!(line["evaluation_drifted"].is_boolean(), "{line}");
            if line["drifted"] == true {
                break line;
            }
            if line["evaluation_drifted"] == true {
                held.push(model["generated_at"].clone());
            }
        }
        assert!(
            Instant::now() < deadline,
            "Income was never reported drifted: {model}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(reported["evaluation_drifted"], true, "{reported}");
    assert!(
        !held.is_empty(),
        "Income was reported drifted with no evaluation held back first (persistence 4/4): {reported}"
    );
}
