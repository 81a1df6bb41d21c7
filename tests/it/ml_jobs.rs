//! The lifecycle step by step, as a data scientist types it: `train` (reproducible by
//! seed), `validate` (report files, exit 1 naming the failed gate), `registry register`
//! with the report, `promote`, `archive`.

use super::ml_support::*;
use std::path::Path;

fn sha_of(out: &std::process::Output) -> String {
    assert!(out.status.success(), "{}", text(&out.stderr));
    let line = text(&out.stdout);
    line.split("sha256 ").nth(1).unwrap().trim().to_string()
}

fn train(home: &Path, out: &Path, seed: &str) -> String {
    sha_of(&modelwatch(
        home,
        &[
            "train",
            "--dataset",
            "credit",
            "--seed",
            seed,
            "--out",
            out.to_str().unwrap(),
        ],
    ))
}

#[test]
fn train_validate_register_promote_archive_step_by_step() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let added = modelwatch(
        &home,
        &["dataset", "add", "credit", CREDIT, "--target", "Status"],
    );
    assert!(added.status.success(), "{}", text(&added.stderr));

    // Same data, config and seed: same artifact bytes; another seed: another artifact.
    let a = dir.path().join("a.json");
    let b = dir.path().join("b.json");
    let c = dir.path().join("c.json");
    assert_eq!(train(&home, &a, "3"), train(&home, &b, "3"));
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    assert_ne!(train(&home, &c, "4"), train(&home, &a, "3"));

    // Validation with light settings and the gates of a file.
    let config = pipeline_file(dir.path(), "light.toml", 3, "min = { roc_auc = 0.75 }");
    let report_dir = dir.path().join("report");
    let validated = modelwatch(
        &home,
        &[
            "validate",
            "--artifact",
            a.to_str().unwrap(),
            "--config",
            config.to_str().unwrap(),
            "--report",
            report_dir.to_str().unwrap(),
            "--json",
        ],
    );
    let report = json(&validated);
    assert_eq!(report["passed"], true);
    assert_eq!(report["cross_validation"]["folds"], 2);
    assert_eq!(
        report["permutation_importance"].as_array().unwrap().len(),
        13
    );
    assert_eq!(report["robustness"].as_array().unwrap().len(), 2);
    let markdown = std::fs::read_to_string(report_dir.join("report.md")).unwrap();
    assert!(
        markdown.contains("| roc_auc |") && markdown.contains("## Gates"),
        "{markdown}"
    );
    // The same report as one HTML file: every table, one importance row per feature.
    let html = std::fs::read_to_string(report_dir.join("report.html")).unwrap();
    for caption in [
        "Metrics",
        "Confusion matrix (holdout)",
        "Permutation importance (ROC AUC drop)",
        "Robustness",
        "Gates",
    ] {
        assert!(
            html.contains(&format!("<caption>{caption}</caption>")),
            "{caption}: {html}"
        );
    }
    let importance = html.split("Permutation importance").nth(2).unwrap();
    let importance = &importance[..importance.find("</table>").unwrap()];
    assert_eq!(
        importance.matches("<th scope=\"row\">").count(),
        13,
        "{html}"
    );
    assert!(
        html.contains("<th scope=\"row\">min roc_auc ≥ 0.75</th>")
            && html.contains("<td>pass</td>"),
        "{html}"
    );
    assert!(!html.contains("<script"));

    // An unreachable gate: exit 1 and the message names it.
    let strict = pipeline_file(dir.path(), "strict.toml", 3, "min = { f1 = 0.99 }");
    let failed = modelwatch(
        &home,
        &[
            "validate",
            "--artifact",
            a.to_str().unwrap(),
            "--config",
            strict.to_str().unwrap(),
        ],
    );
    assert_eq!(failed.status.code(), Some(1));
    assert!(
        text(&failed.stderr).contains("validation gate failed: min f1 ≥ 0.99"),
        "{}",
        text(&failed.stderr)
    );
    // A misspelt metric is a usage error naming the key.
    let typo = pipeline_file(dir.path(), "typo.toml", 3, "min = { auc = 0.7 }");
    let bad = modelwatch(
        &home,
        &[
            "validate",
            "--artifact",
            a.to_str().unwrap(),
            "--gates",
            typo.to_str().unwrap(),
        ],
    );
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        text(&bad.stderr).contains("gates.min.auc: unknown metric"),
        "{}",
        text(&bad.stderr)
    );

    // Register with the report: its metrics are recorded; a report of another artifact is refused.
    let report_file = report_dir.join("report.json");
    let wrong = register_credit(&home, &c, &["--report", report_file.to_str().unwrap()]);
    assert_eq!(wrong.status.code(), Some(2), "{}", text(&wrong.stderr));
    let v = json(&register_credit(
        &home,
        &a,
        &["--report", report_file.to_str().unwrap(), "--json"],
    ));
    assert_eq!(
        (v["version"].as_u64(), v["created"].as_bool()),
        (Some(1), Some(true))
    );
    assert_eq!(v["metrics"]["holdout"], report["holdout"]["metrics"]);
    assert_eq!(v["metrics"]["cross_validation"]["folds"], 2);
    assert!(
        v["code_version"].is_string() && v["author"].is_string() && v["created_at"].is_string()
    );
    let again = json(&register_credit(&home, &b, &["--json"]));
    assert_eq!(
        (again["version"].as_u64(), again["created"].as_bool()),
        (Some(1), Some(false))
    );
    let v2 = json(&register_credit(&home, &c, &["--json"]));
    assert_eq!(v2["version"], 2);

    // Validate a registered version against production with a regression gate.
    let promoted = json(&modelwatch(
        &home,
        &[
            "registry",
            "promote",
            "credit@1",
            "--alias",
            "production",
            "--json",
        ],
    ));
    assert_eq!(promoted["aliases"], serde_json::json!(["production"]));
    let regression = pipeline_file(
        dir.path(),
        "reg.toml",
        3,
        "max_regression = { roc_auc = 0.5 }",
    );
    let checked = json(&modelwatch(
        &home,
        &[
            "validate",
            "--model",
            "credit@2",
            "--config",
            regression.to_str().unwrap(),
            "--json",
        ],
    ));
    assert!(
        checked["gates"][0]["gate"]
            .as_str()
            .unwrap()
            .contains("credit@1"),
        "{}",
        checked["gates"]
    );

    // Archive: the production version is protected; an archived one cannot be promoted.
    let busy = modelwatch(&home, &["registry", "archive", "credit@1"]);
    assert_eq!(busy.status.code(), Some(2));
    assert!(
        text(&busy.stderr).contains("still production"),
        "{}",
        text(&busy.stderr)
    );
    let archived = json(&modelwatch(
        &home,
        &["registry", "archive", "credit@2", "--json"],
    ));
    assert!(archived["archived_at"].is_string());
    let refused = modelwatch(
        &home,
        &["registry", "promote", "credit@2", "--alias", "production"],
    );
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        text(&refused.stderr).contains("archived"),
        "{}",
        text(&refused.stderr)
    );
    let table = text(&modelwatch(&home, &["registry", "list"]).stdout);
    assert!(
        table.contains("production") && table.contains("archived"),
        "{table}"
    );
}
