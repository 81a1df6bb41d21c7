//! The reference ML lifecycle end to end on the credit data: pipeline, idempotent re-run,
//! a failing gate, rollback, and `serve` (a real process) answering both protocols with
//! the in-process model's predictions and following promotions without failing requests.

use super::ml_support::*;
use modelwatch::train::table::RawValue;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// The first `n` credit rows as JSON cells (numbers, strings, null for missing) and as
/// raw values for the in-process model.
pub(crate) fn credit_rows(
    n: usize,
    artifact: &modelwatch::train::model::ModelArtifact,
) -> (Vec<Vec<Value>>, Vec<Vec<RawValue>>) {
    let mut reader = csv::Reader::from_path(CREDIT).unwrap();
    let headers = reader.headers().unwrap().clone();
    let mut cells = Vec::new();
    let mut raw = Vec::new();
    for record in reader.records().take(n) {
        let record = record.unwrap();
        let mut json_row = Vec::new();
        let mut raw_row = Vec::new();
        for f in &artifact.features {
            let at = headers.iter().position(|h| h == f.name).unwrap();
            let value = f.parse(&record[at]).unwrap();
            json_row.push(match &value {
                RawValue::Missing => Value::Null,
                RawValue::Number(x) => json!(x),
                RawValue::Text(t) => json!(t),
            });
            raw_row.push(value);
        }
        cells.push(json_row);
        raw.push(raw_row);
    }
    (cells, raw)
}

fn probabilities_of(outputs: &Value) -> Vec<f64> {
    let out = outputs["outputs"].as_array().unwrap();
    let p = out.iter().find(|o| o["name"] == "probability").unwrap();
    p["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect()
}

#[test]
fn pipeline_registers_promotes_reuses_gates_rolls_back_and_serves() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");

    // 1. The shipped example pipeline registers and promotes a good model.
    let first = modelwatch(&home, &["pipeline", "run", EXAMPLE_PIPELINE]);
    assert!(first.status.success(), "{}", text(&first.stderr));
    assert!(
        text(&first.stderr).contains("[5/5] promote"),
        "progress on stderr"
    );
    let v1 = versions(&home);
    assert_eq!(v1.len(), 1);
    let auc = v1[0]["metrics"]["holdout"]["roc_auc"].as_f64().unwrap();
    assert!(auc >= 0.75, "holdout ROC AUC {auc}");
    assert!(
        v1[0]["metrics"]["cross_validation"]["mean"]["roc_auc"]
            .as_f64()
            .unwrap()
            > 0.75
    );
    assert_eq!(v1[0]["aliases"], json!(["production"]));
    assert_eq!(v1[0]["params"]["seed"], 42);
    assert!(v1[0]["dataset"].as_str().unwrap().starts_with("credit@"));
    assert!(v1[0]["report_sha256"].is_string());
    // The reference profile: training features plus holdout label/probability columns.
    let profile_file = dir.path().join("profile.json");
    let wrote = modelwatch(
        &home,
        &[
            "registry",
            "profile",
            "credit@production",
            "-o",
            profile_file.to_str().unwrap(),
        ],
    );
    assert!(wrote.status.success(), "{}", text(&wrote.stderr));
    let profile: Value = serde_json::from_slice(&std::fs::read(&profile_file).unwrap()).unwrap();
    let columns: Vec<&str> = profile["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(columns.len(), 15, "{columns:?}");
    assert_eq!(&columns[13..], ["label", "probability"]);
    let holdout_rows = v1[0]["metrics"]["holdout_rows"].as_u64().unwrap();
    assert_eq!(profile["columns"][13]["count"], holdout_rows);
    assert_eq!(profile["rows"].as_u64().unwrap() + holdout_rows, 4454);
    assert_eq!(production(&home), 1);

    // 2. Same inputs again: the deterministic artifact is found, nothing new registered.
    let second = modelwatch(&home, &["pipeline", "run", EXAMPLE_PIPELINE]);
    assert!(second.status.success(), "{}", text(&second.stderr));
    assert!(
        text(&second.stdout).contains("existing"),
        "{}",
        text(&second.stdout)
    );
    assert_eq!(versions(&home).len(), 1);

    // 3. A gate out of reach: exit 1 naming the gate, nothing registered or promoted.
    let strict = pipeline_file(dir.path(), "strict.toml", 7, "min = { roc_auc = 0.999 }");
    let failed = modelwatch(&home, &["pipeline", "run", strict.to_str().unwrap()]);
    assert_eq!(failed.status.code(), Some(1), "{}", text(&failed.stderr));
    assert!(
        text(&failed.stderr).contains("min roc_auc ≥ 0.999"),
        "{}",
        text(&failed.stderr)
    );
    assert_eq!(versions(&home).len(), 1);
    assert_eq!(production(&home), 1);

    // 4. Serve production; both protocols give the in-process model's predictions.
    let server = serve(&home, "credit@production");
    let artifact = artifact(&home, "credit@production");
    let (cells, raw) = credit_rows(25, &artifact);
    let (expected, _) = artifact.score(&raw).unwrap();
    let labels: Vec<&str> = expected.iter().map(|&p| artifact.label_for(p)).collect();

    let (status, _, body) = http(
        &server.addr,
        "GET",
        "/v2/health/ready",
        "application/json",
        "",
    );
    assert_eq!(status, 200, "{body}");
    let oip = json!({"id": "t1", "inputs": [{"name": "input-0", "shape": [25, 13], "datatype": "BYTES", "data": cells}]});
    let (status, head, body) = http(
        &server.addr,
        "POST",
        "/v2/models/credit/infer",
        "application/json",
        &oip.to_string(),
    );
    assert_eq!(status, 200, "{body}");
    assert!(head.contains("x-model-version: 1"), "{head}");
    let response: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (
            response["model_name"].as_str(),
            response["model_version"].as_str()
        ),
        (Some("credit"), Some("1"))
    );
    assert_eq!(response["id"], "t1");
    assert_eq!(probabilities_of(&response), expected, "OIP probabilities");
    let label_out = response["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == "label")
        .unwrap();
    assert_eq!(label_out["data"], json!(labels));

    // One named tensor per feature (BYTES for categoricals).
    let per_feature: Vec<Value> = artifact
        .features
        .iter()
        .enumerate()
        .map(|(j, f)| json!({"name": f.name, "shape": [25], "datatype": "BYTES", "data": cells.iter().map(|r| r[j].clone()).collect::<Vec<_>>()}))
        .collect();
    let (status, _, body) = http(
        &server.addr,
        "POST",
        "/v2/models/credit/infer",
        "application/json",
        &json!({"inputs": per_feature}).to_string(),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        probabilities_of(&serde_json::from_str(&body).unwrap()),
        expected,
        "per-feature tensors"
    );

    // MLflow /invocations: dataframe_split and dataframe_records.
    let columns: Vec<&str> = artifact.features.iter().map(|f| f.name.as_str()).collect();
    let split = json!({"dataframe_split": {"columns": columns, "data": cells}});
    let records: Vec<Value> = cells
        .iter()
        .map(|r| {
            Value::Object(
                columns
                    .iter()
                    .map(|c| c.to_string())
                    .zip(r.iter().cloned())
                    .collect(),
            )
        })
        .collect();
    for body in [
        split,
        json!({"dataframe_records": records}),
        json!({"instances": records}),
    ] {
        let (status, head, reply) = http(
            &server.addr,
            "POST",
            "/invocations",
            "application/json",
            &body.to_string(),
        );
        assert_eq!(status, 200, "{reply}");
        assert!(head.contains("x-model-version: 1"));
        let reply: Value = serde_json::from_str(&reply).unwrap();
        let got: Vec<f64> = reply["probabilities"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_f64().unwrap())
            .collect();
        assert_eq!(
            got,
            expected,
            "/invocations {}",
            body.as_object().unwrap().keys().next().unwrap()
        );
        assert_eq!(reply["predictions"], json!(labels));
    }

    // An unseen category still scores (all-zero one-hot) and is counted, as are imputed cells.
    let mut odd = records[..2].to_vec();
    odd[0]["Home"] = json!("houseboat");
    odd[1]["Income"] = Value::Null;
    let (status, _, body) = http(
        &server.addr,
        "POST",
        "/invocations",
        "application/json",
        &json!({ "dataframe_records": odd }).to_string(),
    );
    assert_eq!(status, 200, "{body}");
    let reply: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(reply["parameters"]["unknown_categories"], 1);
    assert!(reply["parameters"]["imputed_values"].as_u64().unwrap() >= 1);

    // A bad cell: 400 naming row, column and reason.
    let mut bad_records = records.clone();
    bad_records[3]["Age"] = json!("forty");
    let (status, _, body) = http(
        &server.addr,
        "POST",
        "/invocations",
        "application/json",
        &json!({"dataframe_records": bad_records}).to_string(),
    );
    assert_eq!(status, 400);
    let err: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        err["error"],
        "row 3, column \"Age\": expected a number, got \"forty\""
    );
    let (status, _, body) = http(
        &server.addr,
        "POST",
        "/v2/models/other/infer",
        "application/json",
        &oip.to_string(),
    );
    assert_eq!(status, 404, "{body}");

    // 5. A new version promoted while a client keeps sending: no request fails, and the
    //    server switches without restarting.
    let stop = Arc::new(AtomicBool::new(false));
    let client = {
        let (addr, stop, body) = (server.addr.clone(), stop.clone(), oip.to_string());
        std::thread::spawn(move || {
            let mut seen = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let (status, _, reply) = http(
                    &addr,
                    "POST",
                    "/v2/models/credit/infer",
                    "application/json",
                    &body,
                );
                assert_eq!(status, 200, "a request failed during the switch: {reply}");
                let v: Value = serde_json::from_str(&reply).unwrap();
                seen.push(v["model_version"].as_str().unwrap().to_string());
            }
            seen
        })
    };
    let other_seed = pipeline_file(
        dir.path(),
        "seed7.toml",
        7,
        "min = { roc_auc = 0.7 }\nmax_regression = { roc_auc = 0.05 }",
    );
    let promoted = modelwatch(&home, &["pipeline", "run", other_seed.to_str().unwrap()]);
    assert!(promoted.status.success(), "{}", text(&promoted.stderr));
    assert_eq!(production(&home), 2);
    let switched = eventually(Duration::from_secs(10), || {
        let (_, head, _) = http(
            &server.addr,
            "GET",
            "/v2/models/credit",
            "application/json",
            "",
        );
        head.contains("x-model-version: 2")
    });
    stop.store(true, Ordering::Relaxed);
    let seen = client
        .join()
        .expect("no request failed while the version changed");
    assert!(
        switched,
        "serve did not pick up credit@2: {}",
        server.log.lock().unwrap()
    );
    assert!(
        !seen.is_empty() && seen.iter().all(|v| v == "1" || v == "2"),
        "{seen:?}"
    );

    // 6. Rollback moves the alias back, and the server follows.
    let rolled = json(&modelwatch(
        &home,
        &[
            "registry",
            "rollback",
            "credit",
            "--alias",
            "production",
            "--json",
        ],
    ));
    assert_eq!(rolled["version"], 1);
    assert_eq!(production(&home), 1);
    assert!(eventually(Duration::from_secs(10), || {
        let (_, head, _) = http(
            &server.addr,
            "GET",
            "/v2/models/credit",
            "application/json",
            "",
        );
        head.contains("x-model-version: 1")
    }));
    let show = json(&modelwatch(
        &home,
        &["registry", "show", "credit@2", "--json"],
    ));
    let actions: Vec<&str> = show["alias_history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["promote", "promote", "rollback"]);
    // Nothing earlier than version 1: a second rollback is refused with a reason.
    let again = modelwatch(
        &home,
        &["registry", "rollback", "credit", "--alias", "production"],
    );
    assert_eq!(again.status.code(), Some(2));
    assert!(
        text(&again.stderr).contains("no earlier version"),
        "{}",
        text(&again.stderr)
    );
}
