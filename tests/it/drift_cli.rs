//! `modelwatch drift` end to end: the real binary on the credit data and on broken files.

use crate::support::cli::{CREDIT, modelwatch, stderr};
use std::path::{Path, PathBuf};
use std::process::Output;

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            stderr(out)
        )
    })
}

/// The credit rows, header first, transformed by `edit` (which sees the header too).
fn credit_variant(
    dir: &Path,
    name: &str,
    keep: impl Fn(usize) -> bool,
    edit: impl Fn(&mut Vec<String>),
) -> PathBuf {
    let text = std::fs::read_to_string(CREDIT).unwrap();
    let mut out = String::new();
    for (i, line) in text.lines().enumerate() {
        if i > 0 && !keep(i) {
            continue;
        }
        let mut fields: Vec<String> = line.split(',').map(str::to_string).collect();
        if i > 0 {
            edit(&mut fields);
        }
        out.push_str(&fields.join(","));
        out.push('\n');
    }
    let path = dir.join(name);
    std::fs::write(&path, out).unwrap();
    path
}

/// `modelwatch drift --reference credit --current CURRENT --json EXTRA…`, which must
/// succeed.
fn drift_json(s: &Setup, current: &Path, extra: &[&str]) -> serde_json::Value {
    let head = ["drift", "--reference", "credit", "--current"];
    let current = current.to_str().unwrap();
    let out = modelwatch(&s.home, &[&head[..], &[current, "--json"], extra].concat());
    assert!(out.status.success(), "{}", stderr(&out));
    json(&out)
}

/// The numbers of field `field` in the credit rows `keep` takes (line numbers, header 0),
/// sorted; missing cells left out.
fn credit_values(keep: impl Fn(usize) -> bool, field: usize) -> Vec<f64> {
    let text = std::fs::read_to_string(CREDIT).unwrap();
    let mut v: Vec<f64> = text
        .lines()
        .enumerate()
        .skip(1)
        .filter(|(i, _)| keep(*i))
        .filter_map(|(_, l)| l.split(',').nth(field)?.parse().ok())
        .collect();
    v.sort_by(f64::total_cmp);
    v
}

fn column<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["columns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no column {name} in {report}"))
}

struct Setup {
    _dir: tempfile::TempDir,
    dir: PathBuf,
    home: PathBuf,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let out = modelwatch(
        &home,
        &["dataset", "add", "credit", CREDIT, "--target", "Status"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    Setup {
        dir: dir.path().to_path_buf(),
        _dir: dir,
        home,
    }
}

#[test]
fn an_undrifted_half_of_the_reference_shows_no_drift() {
    let s = setup();
    let current = credit_variant(&s.dir, "half.csv", |i| i % 2 == 0, |_| {});
    let out = modelwatch(
        &s.home,
        &[
            "drift",
            "--reference",
            "credit",
            "--current",
            current.to_str().unwrap(),
            "--json",
            "--fail-on-drift",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let report = json(&out);
    assert_eq!(report["dataset_drift"], false);
    assert_eq!(report["drift_share"], 0.0);
    assert_eq!(report["rows"], 2227);
    // Reference > 1000 rows: Evidently's auto picks normed Wasserstein / Jensen–Shannon.
    let age = column(&report, "Age");
    assert_eq!(age["method"], "wasserstein");
    assert!(age["p_value"].is_null());
    assert_eq!(age["drifted"], false);
    for key in [
        "statistic",
        "score",
        "threshold",
        "missing_rate",
        "out_of_range_rate",
        "unseen_rate",
    ] {
        assert!(age[key].is_number(), "{key} in {age}");
    }
    assert_eq!(column(&report, "Home")["method"], "jensen_shannon");
}

#[test]
fn a_shifted_file_drifts_and_fail_on_drift_exits_1() {
    let s = setup();
    // Status,Seniority,Home,Time,Age,Marital,Records,Job,Expenses,Income,Assets,Debt,Amount,Price
    let current = credit_variant(
        &s.dir,
        "shifted.csv",
        |_| true,
        |f| {
            for i in [1, 3, 4, 8, 12, 13] {
                if let Ok(v) = f[i].parse::<f64>() {
                    f[i] = (v * 2.0 + 50.0).to_string();
                }
            }
            f[2] = "boat".into();
        },
    );
    let args = [
        "drift",
        "--reference",
        "credit",
        "--current",
        current.to_str().unwrap(),
    ];
    let out = modelwatch(&s.home, &[&args[..], &["--json"]].concat());
    assert!(
        out.status.success(),
        "without --fail-on-drift the report is a success"
    );
    let report = json(&out);
    assert_eq!(report["dataset_drift"], true);
    assert!(report["drift_share"].as_f64().unwrap() >= 0.5);
    assert_eq!(column(&report, "Age")["drifted"], true);
    assert!(
        column(&report, "Age")["out_of_range_rate"]
            .as_f64()
            .unwrap()
            > 0.5
    );
    // Every Home value is a category the reference never saw.
    assert!((column(&report, "Home")["unseen_rate"].as_f64().unwrap() - 1.0).abs() < 1e-12);

    let out = modelwatch(&s.home, &[&args[..], &["--fail-on-drift"]].concat());
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("dataset drift"), "{}", stderr(&out));
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("DATASET DRIFT") && table.contains("Age"),
        "{table}"
    );
    // The table shows the statistic beside the score and the p-value.
    let header = table.lines().find(|l| l.starts_with("COLUMN")).unwrap();
    let columns: Vec<&str> = header.split_whitespace().collect();
    assert_eq!(columns[3..6], ["STATISTIC", "SCORE", "P-VALUE"], "{header}");
}

#[test]
fn a_fixed_p_value_method_reports_p_values_and_falls_back_on_categoricals() {
    let s = setup();
    let current = credit_variant(&s.dir, "half.csv", |i| i % 2 == 1, |_| {});
    let report = drift_json(&s, &current, &["--method", "ks"]);
    let age = column(&report, "Age");
    assert_eq!(age["method"], "ks");
    let p = age["p_value"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&p) && age["score"] == age["p_value"]);
    // The statistic is KS D of every current Age against the reference's (counted in a
    // stream, not sampled): the same value as the test on the two full samples.
    let d = modelwatch::drift::ks::ks_statistic(
        &credit_values(|_| true, 4),
        &credit_values(|i| i % 2 == 1, 4),
    );
    // (The streamed D can differ from the merge walk's in the last bit.)
    let got = age["statistic"].as_f64().unwrap();
    assert!((got - d).abs() <= 1e-12 * d, "{age} vs D = {d}");
    let home = column(&report, "Home");
    assert_ne!(home["method"], "ks");
    assert!(home["note"].as_str().unwrap().contains("auto"), "{home}");
}

#[test]
fn profile_json_and_csv_references_agree_with_the_dataset() {
    let s = setup();
    let profile = s.dir.join("credit.profile.json");
    let out = modelwatch(
        &s.home,
        &[
            "dataset",
            "profile",
            "credit",
            "-o",
            profile.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let current = credit_variant(&s.dir, "third.csv", |i| i % 3 == 0, |_| {});
    let run = |reference: &str| {
        let out = modelwatch(
            &s.home,
            &[
                "drift",
                "--reference",
                reference,
                "--current",
                current.to_str().unwrap(),
                "--json",
                "--target",
                "Status",
            ],
        );
        assert!(out.status.success(), "{}", stderr(&out));
        json(&out)["columns"].clone()
    };
    let by_dataset = run("credit");
    assert_eq!(run(profile.to_str().unwrap()), by_dataset);
    assert_eq!(run(CREDIT), by_dataset);
}

#[test]
fn words_nan_and_inf_in_numeric_columns_are_counted_and_named() {
    let s = setup();
    let current = credit_variant(
        &s.dir,
        "dirty.csv",
        |i| i <= 100,
        |f| {
            if f[4] == "30" {
                f[4] = "thirty".into();
            }
            if f[8] == "35" {
                f[8] = "NaN".into();
            }
            if f[13] == "1000" {
                f[13] = "inf".into();
            }
        },
    );
    let out = modelwatch(
        &s.home,
        &[
            "drift",
            "--reference",
            "credit",
            "--current",
            current.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("dirty.csv line 2, column Age: \"thirty\" is not a valid numeric value"),
        "{err}"
    );
    assert!(
        err.contains("column Expenses: NaN is not a finite number"),
        "{err}"
    );
    let out = modelwatch(
        &s.home,
        &[
            "drift",
            "--reference",
            "credit",
            "--current",
            current.to_str().unwrap(),
            "--json",
        ],
    );
    let report = json(&out);
    assert!(column(&report, "Age")["type_error_rate"].as_f64().unwrap() > 0.0);
    assert!(
        column(&report, "Expenses")["non_finite_rate"]
            .as_f64()
            .unwrap()
            > 0.0
    );
}

#[test]
fn broken_current_files_get_messages_naming_file_line_and_column() {
    let s = setup();
    let run = |name: &str, text: &str| {
        let path = s.dir.join(name);
        std::fs::write(&path, text).unwrap();
        let out = modelwatch(
            &s.home,
            &[
                "drift",
                "--reference",
                "credit",
                "--current",
                path.to_str().unwrap(),
            ],
        );
        (out.status.code(), stderr(&out))
    };
    let header = std::fs::read_to_string(CREDIT)
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_string();
    let row = "good,9,rent,60,30,married,no,freelance,73,129.0,0.0,0.0,800,846";

    let (code, err) = run("empty.csv", "");
    assert_eq!(code, Some(2));
    assert!(err.contains("empty.csv is empty"), "{err}");

    let (code, err) = run("header.csv", &format!("{header}\n"));
    assert_eq!(code, Some(2));
    assert!(
        err.contains("header.csv has a header but no data rows"),
        "{err}"
    );

    let (code, err) = run("ragged.csv", &format!("{header}\n{row}\n{row}\ngood,9\n"));
    assert_eq!(code, Some(2));
    assert!(
        err.contains("ragged.csv: line 4 has 2 fields but the header has 14"),
        "{err}"
    );

    let (code, err) = run("nocol.csv", "Status,Seniority\ngood,9\n");
    assert_eq!(code, Some(2));
    assert!(
        err.contains("nocol.csv lacks reference column(s) Home, Time"),
        "{err}"
    );

    // An extra column is reported and left out; the rest is tested.
    let (code, err) = run("extra.csv", &format!("{header},Shoe\n{row},42\n"));
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("not tested: Shoe"), "{err}");

    let out = modelwatch(
        &s.home,
        &[
            "drift",
            "--reference",
            "credit",
            "--current",
            "/nonexistent/cur.csv",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("/nonexistent/cur.csv"),
        "{}",
        stderr(&out)
    );

    let out = modelwatch(
        &s.home,
        &["drift", "--reference", "nosuch", "--current", CREDIT],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no dataset named \"nosuch\""),
        "{}",
        stderr(&out)
    );
}

/// Files above 16 MB are read in parallel ranges: line numbers in messages must still be
/// file lines, and a quoted field spanning a cut must not break the rows.
#[test]
fn large_files_read_in_ranges_keep_file_line_numbers() {
    let s = setup();
    let text = std::fs::read_to_string(CREDIT).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let body: Vec<&str> = lines.collect();
    let mut out = format!("{header}\n");
    let mut n = 0u64;
    while out.len() < 20_000_000 {
        out.push_str(body[n as usize % body.len()]);
        out.push('\n');
        n += 1;
    }
    let bad_line = n + 2; // header is line 1, rows 2..=n+1
    out.push_str("good,9,rent,60,oops,married,no,freelance,73,129.0,0.0,0.0,800,846\n");
    let path = s.dir.join("big.csv");
    std::fs::write(&path, &out).unwrap();
    let run = |path: &Path| {
        modelwatch(
            &s.home,
            &[
                "drift",
                "--reference",
                "credit",
                "--current",
                path.to_str().unwrap(),
            ],
        )
    };
    let result = run(&path);
    assert!(result.status.success(), "{}", stderr(&result));
    assert!(
        stderr(&result).contains(&format!("big.csv line {bad_line}, column Age: \"oops\"")),
        "{}",
        stderr(&result)
    );

    out.push_str("good,9\n");
    std::fs::write(&path, &out).unwrap();
    let result = run(&path);
    assert_eq!(result.status.code(), Some(2));
    assert!(
        stderr(&result).contains(&format!("big.csv: line {} has 2 fields", bad_line + 1)),
        "{}",
        stderr(&result)
    );

    // Quoted labels with embedded newlines all over the file: still every row counted.
    let quoted = out
        .replace(",rent,", ",\"re\nnt\",")
        .replace("good,9\n", "");
    let qpath = s.dir.join("quoted.csv");
    std::fs::write(&qpath, &quoted).unwrap();
    let result = modelwatch(
        &s.home,
        &[
            "drift",
            "--reference",
            "credit",
            "--current",
            qpath.to_str().unwrap(),
            "--json",
        ],
    );
    let report = json(&result);
    assert_eq!(report["rows"].as_u64().unwrap(), n + 1);
    assert!(column(&report, "Home")["unseen_rate"].as_f64().unwrap() > 0.1);
}

/// `modelwatch drift --json | true`: the reader is gone before modelwatch writes, and
/// modelwatch ends quietly instead of panicking on the closed pipe.
#[test]
fn a_closed_pipe_ends_the_output_quietly() {
    let credit = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/credit/credit_data.csv"
    );
    let script = format!(
        "{} drift --reference {credit} --current {credit} --json | true",
        env!("CARGO_BIN_EXE_modelwatch")
    );
    let out = std::process::Command::new("sh")
        .args(["-c", &script])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn psi_and_jensen_shannon_count_every_row_into_the_reference_bins() {
    let s = setup();
    let forward = credit_variant(&s.dir, "odd.csv", |i| i % 2 == 1, |_| {});
    // The same rows bottom up: a sample would see other values, counts see the same.
    let text = std::fs::read_to_string(&forward).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines[1..].reverse();
    let backward = s.dir.join("odd_reversed.csv");
    std::fs::write(&backward, lines.join("\n") + "\n").unwrap();
    for method in ["psi", "jensen_shannon"] {
        // A reservoir this small would make the score a lottery.
        let report = |current: &Path| {
            drift_json(&s, current, &["--method", method, "--current-sample", "10"])
        };
        let (a, b) = (report(&forward), report(&backward));
        for (name, field) in [("Age", 4), ("Income", 9), ("Amount", 12)] {
            let (ca, cb) = (column(&a, name), column(&b, name));
            assert_eq!(ca["method"], method, "{ca}");
            assert_eq!(
                ca["score"], cb["score"],
                "{name} {method}: row order changed it"
            );
            // The statistic over every value: the reference's bins, all current rows.
            let counts = modelwatch::drift::bin_counts::BinCounts::of_samples(
                &credit_values(|_| true, field),
                &credit_values(|i| i % 2 == 1, field),
            );
            let (r, c) = counts.proportions();
            let expected = match method {
                "psi" => modelwatch::drift::psi::psi_proportions(&r, &c),
                _ => modelwatch::drift::jensen_shannon::jensen_shannon_distance(&r, &c),
            };
            let got = ca["score"].as_f64().unwrap();
            // (Sums of the same terms in another order may differ in the last bits.)
            assert!(
                (got - expected).abs() <= 1e-12 * expected.max(1e-300),
                "{name} {method}: {got} vs {expected} over every row"
            );
        }
    }
}

/// `--correction`: Bonferroni and Benjamini–Hochberg across the p-value columns, as the
/// live `analysis.correction` does. Five columns of 1,000 rows: three strongly shifted,
/// one mildly (0.01 < p < 0.04), one not at all.
#[test]
fn correction_changes_the_verdicts_of_p_value_columns() {
    let dir = tempfile::tempdir().unwrap();
    let shifts = [
        ("strong1", 0.2),
        ("strong2", 0.25),
        ("strong3", 0.3),
        ("mild", 0.065),
        ("same", 0.0),
    ];
    let write = |name: &str, shifted: bool| {
        let mut text = shifts.iter().map(|s| s.0).collect::<Vec<_>>().join(",") + "\n";
        for i in 0..1000 {
            let row: Vec<String> = shifts
                .iter()
                .map(|&(_, d)| format!("{:.4}", i as f64 / 1000.0 + if shifted { d } else { 0.0 }))
                .collect();
            text.push_str(&row.join(","));
            text.push('\n');
        }
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let reference = write("reference.csv", false);
    let current = write("current.csv", true);
    let run = |correction: &str| {
        let out = modelwatch(
            dir.path(),
            &[
                "drift",
                "--reference",
                reference.to_str().unwrap(),
                "--current",
                current.to_str().unwrap(),
                "--method",
                "ks",
                "--correction",
                correction,
                "--json",
            ],
        );
        assert!(out.status.success(), "{}", stderr(&out));
        let report = json(&out);
        assert_eq!(report["correction"], correction);
        let drifted: Vec<String> = report["columns"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["drifted"] == true)
            .map(|c| c["name"].as_str().unwrap().to_string())
            .collect();
        (report, drifted)
    };
    let (none, drifted) = run("none");
    let mild_p = none["columns"][3]["p_value"].as_f64().unwrap();
    assert!(
        mild_p > 0.01 && mild_p < 0.04,
        "the mild column's p-value is {mild_p}"
    );
    assert_eq!(drifted, ["strong1", "strong2", "strong3", "mild"]);
    // Bonferroni: p <= 0.05 / 5 = 0.01, which the mild column misses.
    assert_eq!(run("bonferroni").1, ["strong1", "strong2", "strong3"]);
    // Benjamini–Hochberg: the mild column is 4th of 5, p <= 4 · 0.05 / 5 = 0.04.
    assert_eq!(
        run("benjamini_hochberg").1,
        ["strong1", "strong2", "strong3", "mild"]
    );

    let out = modelwatch(
        dir.path(),
        &[
            "drift",
            "--reference",
            reference.to_str().unwrap(),
            "--current",
            current.to_str().unwrap(),
            "--correction",
            "holm",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("use none, bonferroni or benjamini_hochberg"),
        "{}",
        stderr(&out)
    );
}
