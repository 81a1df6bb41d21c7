//! `modelwatch replay` sending the dataset's labels as feedback, end to end: a real
//! `modelwatch serve` with credit@1, a real sidecar with the prediction store and an admin
//! token, and the replay binary. Every row is sent once; its label joins the prediction
//! the sidecar made for it (the request id the sidecar returned, the row's place in the
//! request); the renters' labels are flipped, and the realised accuracy is exactly what the
//! model's predictions and those labels make it. Bad usage, an unreachable admin API and a
//! refused batch (wrong token, the sidecar's body shown) get clear errors.

use super::ml_support::*;
use super::model_quality::{PATIENCE, Setup, metric};
use std::path::Path;

/// Rows in the replayed file: 40 requests of 10 rows, each row once.
const ROWS: usize = 400;

/// The first `ROWS` rows of the credit data, as a dataset file in `dir`.
fn dataset(dir: &Path) -> std::path::PathBuf {
    let file = dir.join("credit-400.csv");
    let lines: Vec<String> = std::fs::read_to_string(CREDIT)
        .unwrap()
        .lines()
        .take(ROWS + 1)
        .map(str::to_string)
        .collect();
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    file
}

/// [`replay`] sending the labels of the `Status` column to the sidecar with `token_file`.
fn replay_labelled(
    setup: &Setup,
    data: &Path,
    token_file: &Path,
    more: &[&str],
) -> std::process::Output {
    let admin = format!("http://{}", setup.proxy.admin);
    let mut args = vec![
        "--target-column",
        "Status",
        "--labels-url",
        &admin,
        "--token-file",
        token_file.to_str().unwrap(),
    ];
    args.extend(more);
    replay(setup, data, &args)
}

fn replay(setup: &Setup, data: &Path, labels: &[&str]) -> std::process::Output {
    let target = format!("http://{}", setup.proxy.listen);
    let mut args = vec![
        "replay",
        "--target",
        &target,
        "--dataset",
        data.to_str().unwrap(),
        "--rate",
        "40",
        "--duration",
        "1s",
        "--batch",
        "10",
    ];
    args.extend(labels);
    modelwatch(Path::new("/nonexistent-home"), &args)
}

#[test]
fn replay_sends_flipped_labels_that_join_their_predictions() {
    let setup = Setup::start();
    let data = dataset(setup.dir.path());
    let admin = format!("http://{}", setup.proxy.admin);

    // Bad usage first: nothing is sent.
    let no_target = replay(&setup, &data, &["--labels-url", &admin]);
    assert_eq!(
        no_target.status.code(),
        Some(2),
        "{}",
        text(&no_target.stderr)
    );
    assert!(text(&no_target.stderr).contains("--target-column"));
    let wrong_column = replay(
        &setup,
        &data,
        &["--target-column", "Outcome", "--labels-url", &admin],
    );
    assert_eq!(wrong_column.status.code(), Some(2));
    assert!(
        text(&wrong_column.stderr).contains("--target-column Outcome")
            && text(&wrong_column.stderr).contains("Status"),
        "{}",
        text(&wrong_column.stderr)
    );
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let nowhere = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let unreachable = replay(
        &setup,
        &data,
        &["--target-column", "Status", "--labels-url", &nowhere],
    );
    assert_eq!(unreachable.status.code(), Some(1));
    assert!(
        text(&unreachable.stderr).contains("cannot reach the sidecar's admin API"),
        "{}",
        text(&unreachable.stderr)
    );
    assert_eq!(
        metric(
            &setup.proxy,
            "modelwatch_prediction_store_writes_total",
            &[("outcome", "stored")]
        ),
        0.0,
        "bad usage sends no traffic"
    );

    // The real run: every row once, renters' labels flipped.
    let out = replay_labelled(
        &setup,
        &data,
        &setup.token_file,
        &[
            "--labels-batch",
            "100",
            "--flip-labels",
            "Home=rent",
            "--json",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let summary = json(&out);
    let model = artifact(&setup.home, "credit@1");
    let (_, raw) = super::ml_pipeline::credit_rows(ROWS, &model);
    let (scores, _) = model.score(&raw).unwrap();
    let mut reader = csv::Reader::from_path(&data).unwrap();
    let headers = reader.headers().unwrap().clone();
    let at = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let (status, home) = (at("Status"), at("Home"));
    let (mut renters, mut correct) = (0, 0);
    for (record, score) in reader.records().zip(&scores) {
        let record = record.unwrap();
        let renter = &record[home] == "rent";
        let label = match (renter, &record[status]) {
            (false, truth) => truth.to_string(),
            (true, truth) if truth == model.classes.positive => model.classes.negative.clone(),
            (true, _) => model.classes.positive.clone(),
        };
        renters += usize::from(renter);
        correct += usize::from(model.label_for(*score) == label);
    }
    assert_eq!(summary["sent"], 40, "{summary:#}");
    assert_eq!(summary["labels"]["sent"], ROWS, "{summary:#}");
    assert_eq!(summary["labels"]["flipped"], renters, "{summary:#}");
    assert_eq!(
        summary["labels"]["outcomes"],
        serde_json::json!({"joined": ROWS}),
        "every label joins its own prediction: {summary:#}"
    );
    let expected = correct as f64 / ROWS as f64;
    let accuracy = || {
        metric(
            &setup.proxy,
            "modelwatch_performance",
            &[
                ("model", "credit"),
                ("model_version", "1"),
                ("metric", "accuracy"),
            ],
        )
    };
    assert!(
        eventually(PATIENCE, || accuracy() == expected),
        "realised accuracy {} (expected {expected}, {renters} renters flipped)",
        accuracy()
    );

    // A refused batch: the sidecar's answer is shown and the run fails.
    let wrong = setup.dir.path().join("wrong-token");
    std::fs::write(&wrong, "not-the-token").unwrap();
    let refused = replay_labelled(&setup, &data, &wrong, &[]);
    let stderr = text(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("labels were not taken")
            && stderr.contains("HTTP 401")
            && stderr.contains("the bearer token is not the one in admin.token_file"),
        "{stderr}"
    );
    assert!(
        text(&refused.stdout).contains("failed 400"),
        "{}",
        text(&refused.stdout)
    );
}
