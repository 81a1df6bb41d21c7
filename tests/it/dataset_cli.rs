//! `modelwatch dataset` end to end: the real binary on files in a temp dir.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const CREDIT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/examples/credit/credit_data.csv"
);

fn modelwatch(home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_modelwatch"))
        .args(args)
        .env("MODELWATCH_HOME", home)
        .output()
        .expect("the modelwatch binary runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn json(out: &Output) -> serde_json::Value {
    assert!(out.status.success(), "{}", stderr(out));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout(out)))
}

#[test]
fn add_list_show_the_credit_data() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let added = json(&modelwatch(
        &home,
        &[
            "dataset", "add", "credit", CREDIT, "--target", "Status", "--json",
        ],
    ));
    assert_eq!(added["rows"], 4454);
    assert_eq!(added["columns"], 14);
    assert_eq!(added["created"], true);
    let version = added["version"].as_str().unwrap().to_string();
    assert_eq!(version.len(), 12);
    assert!(added["sha256"].as_str().unwrap().starts_with(&version));

    let again = modelwatch(
        &home,
        &["dataset", "add", "credit", CREDIT, "--target", "Status"],
    );
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(
        stdout(&again).contains(&format!("credit@{version} already holds these bytes")),
        "{}",
        stdout(&again)
    );

    let list = json(&modelwatch(&home, &["dataset", "list", "--json"]));
    assert_eq!(list.as_array().unwrap().len(), 1);

    let shown = json(&modelwatch(&home, &["dataset", "show", "credit", "--json"]));
    assert_eq!(shown["version"], version.as_str());
    let columns = shown["schema"]["columns"].as_array().unwrap();
    let status = columns.iter().find(|c| c["name"] == "Status").unwrap();
    assert_eq!(status["role"], "target");
    let income = columns.iter().find(|c| c["name"] == "Income").unwrap();
    assert_eq!(income["kind"], "numeric");

    let text = stdout(&modelwatch(
        &home,
        &["dataset", "show", &format!("credit@{version}")],
    ));
    assert!(
        text.contains("Marital") && text.contains("categorical"),
        "{text}"
    );
}

#[test]
fn a_read_command_without_a_home_says_how_to_create_one() {
    let dir = tempfile::tempdir().unwrap();
    let out = modelwatch(&dir.path().join("nowhere"), &["dataset", "list"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no registry at"), "{}", stderr(&out));
    assert!(
        !dir.path().join("nowhere").exists(),
        "a read must not create the home"
    );
}

#[test]
fn bad_names_and_files_are_usage_errors_naming_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let out = modelwatch(&home, &["dataset", "add", "bad name", CREDIT]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("dataset name \"bad name\""),
        "{}",
        stderr(&out)
    );

    let empty = write(dir.path(), "empty.csv", "");
    let out = modelwatch(&home, &["dataset", "add", "e", empty.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("empty.csv") && stderr(&out).contains("empty"));

    let header = write(dir.path(), "header.csv", "a,b\n");
    let out = modelwatch(&home, &["dataset", "add", "h", header.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no data rows"), "{}", stderr(&out));

    let out = modelwatch(&home, &["dataset", "add", "t", CREDIT, "--target", "Nope"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("--target names column \"Nope\""),
        "{}",
        stderr(&out)
    );
}

/// Two real processes add datasets into one fresh home at the same time, many times over:
/// every version must land, none twice, and the database must stay readable.
#[test]
fn concurrent_writers_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let files: Vec<PathBuf> = (0..12)
        .map(|i| write(dir.path(), &format!("f{i}.csv"), &format!("x,y\n{i},a\n")))
        .collect();
    let spawn = |name: &str, file: &Path| {
        Command::new(env!("CARGO_BIN_EXE_modelwatch"))
            .args(["dataset", "add", name, file.to_str().unwrap()])
            .env("MODELWATCH_HOME", &home)
            .output()
    };
    for pair in files.chunks(2) {
        let (a, b) = std::thread::scope(|s| {
            let a = s.spawn(|| spawn("left", &pair[0]).unwrap());
            let b = s.spawn(|| spawn("right", &pair[1]).unwrap());
            (a.join().unwrap(), b.join().unwrap())
        });
        assert!(a.status.success(), "{}", stderr(&a));
        assert!(b.status.success(), "{}", stderr(&b));
    }
    // Both processes adding the very same bytes under one name: one version, one "added".
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| spawn("same", &files[0]).unwrap());
        let b = s.spawn(|| spawn("same", &files[0]).unwrap());
        (a.join().unwrap(), b.join().unwrap())
    });
    let added = [&a, &b]
        .iter()
        .filter(|o| stdout(o).starts_with("added"))
        .count();
    assert_eq!(added, 1, "{} / {}", stdout(&a), stdout(&b));

    let list = json(&modelwatch(&home, &["dataset", "list", "--json"]));
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.iter().filter(|n| **n == "left").count(), 6);
    assert_eq!(names.iter().filter(|n| **n == "right").count(), 6);
    assert_eq!(names.iter().filter(|n| **n == "same").count(), 1);
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}
