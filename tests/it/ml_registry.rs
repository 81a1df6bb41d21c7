//! The model registry under abuse: concurrent writers (real processes), processes killed
//! mid-write, a tampered artifact, a missing home. Clear errors, nothing lost.

use super::ml_support::*;
use modelwatch::registry::home::Home;
use modelwatch::train::jobs;
use modelwatch::train::model::ModelArtifact;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn integrity_ok(home: &Path) {
    let conn = rusqlite::Connection::open(home.join("registry.sqlite")).unwrap();
    let verdict: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(verdict, "ok");
}

#[test]
fn concurrent_registrations_get_distinct_versions_and_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (home, files) = home_with_artifacts(dir.path(), 6);
    // Six real processes register at once; each file also twice, so reuse races too.
    let children: Vec<_> = files
        .iter()
        .chain(files.iter())
        .map(|f| {
            Command::new(env!("CARGO_BIN_EXE_modelwatch"))
                .args([
                    "registry",
                    "register",
                    "credit",
                    "--artifact",
                    f.to_str().unwrap(),
                    "--json",
                ])
                .env("MODELWATCH_HOME", &home)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    let listed = versions(&home);
    let numbers: Vec<u64> = listed
        .iter()
        .map(|v| v["version"].as_u64().unwrap())
        .collect();
    assert_eq!(
        numbers,
        [1, 2, 3, 4, 5, 6],
        "one version per distinct artifact, no gaps"
    );
    let h = Home::open(&home).unwrap();
    let mut hashes: Vec<String> = files
        .iter()
        .map(|f| jobs::read_artifact(f).unwrap().sha256())
        .collect();
    hashes.sort();
    let mut registered: Vec<String> = listed
        .iter()
        .map(|v| v["artifact_sha256"].as_str().unwrap().to_string())
        .collect();
    registered.sort();
    assert_eq!(hashes, registered);
    for v in h.list_models(Some("credit")).unwrap() {
        ModelArtifact::load(&h, &v).unwrap();
    }
    integrity_ok(&home);
}

/// Starts `modelwatch registry register credit --artifact FILE` and SIGKILLs it (no
/// cleanup code runs) as soon as `reached` says so, polling every millisecond. Returns
/// false when the registration ended before that point was seen.
fn register_killed_when(home: &Path, file: &Path, reached: impl Fn() -> bool) -> bool {
    let mut child = Command::new(env!("CARGO_BIN_EXE_modelwatch"))
        .args([
            "registry",
            "register",
            "credit",
            "--artifact",
            file.to_str().unwrap(),
        ])
        .env("MODELWATCH_HOME", home)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let killed = loop {
        if reached() {
            let _ = child.kill();
            break true;
        }
        if child.try_wait().unwrap().is_some() {
            break false;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the registration neither reached the kill point nor ended"
        );
        std::thread::sleep(std::time::Duration::from_millis(1));
    };
    let _ = child.wait();
    killed
}

#[test]
fn a_process_killed_mid_registration_leaves_a_working_registry() {
    let dir = tempfile::tempdir().unwrap();
    let (home, files) = home_with_artifacts(dir.path(), 4);
    let first = register_credit(&home, &files[0], &[]);
    assert!(first.status.success(), "{}", text(&first.stderr));
    let h = Home::open(&home).unwrap();
    let sha = |f: &Path| jobs::read_artifact(f).unwrap().sha256();
    let registered = |f: &Path| {
        // A reader beside the writer (WAL): only committed rows are visible.
        let conn = rusqlite::Connection::open_with_flags(
            home.join("registry.sqlite"),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .unwrap();
        conn.query_row(
            "SELECT COUNT(*) FROM model_versions WHERE artifact_sha256 = ?1",
            [sha(f)],
            |r| r.get::<_, u32>(0),
        )
        .unwrap()
            > 0
    };

    // Kill point 1: the artifact's blob is stored under its final name, so the process is
    // past its blob writes and at, or before, its transaction. Whatever it got to, the
    // registry stays whole: no row, or a whole row whose artifact loads.
    let artifact_blob = h
        .blobs()
        .path_of(&modelwatch::registry::BlobHash::parse(&sha(&files[1])).unwrap());
    let killed = register_killed_when(&home, &files[1], || artifact_blob.is_file());
    assert!(
        killed,
        "the registration ended before its artifact blob appeared"
    );
    integrity_ok(&home);
    // Kill point 2: the version's row is committed.
    let killed = register_killed_when(&home, &files[2], || registered(&files[2]));
    assert!(killed, "the registration ended before its row was seen");
    integrity_ok(&home);
    assert!(registered(&files[2]), "a committed row survives the kill");
    // A temporary file as a write killed mid-blob leaves it (its lock died with it): the
    // next open removes it.
    std::fs::write(home.join("blobs/sha256/.incoming-killed"), b"half").unwrap();
    assert_eq!(crate::support::cli::blob_temporary_files(&home).len(), 1);

    // Whatever got in is whole; version 1 is still there; registering again completes.
    register_all(&home, &files);
    assert_eq!(
        crate::support::cli::blob_temporary_files(&home),
        Vec::<PathBuf>::new(),
        "temporary files are removed on the next open"
    );
    let listed = versions(&home);
    assert_eq!(listed.len(), 4);
    assert_eq!(
        listed[0]["artifact_sha256"].as_str().unwrap(),
        sha(&files[0])
    );
    let h = Home::open(&home).unwrap();
    for v in h.list_models(Some("credit")).unwrap() {
        ModelArtifact::load(&h, &v).expect("every registered artifact loads");
    }
}

#[test]
fn a_tampered_artifact_is_refused_by_its_hash() {
    let dir = tempfile::tempdir().unwrap();
    let (home, files) = home_with_artifacts(dir.path(), 1);
    let out = register_credit(&home, &files[0], &["--json"]);
    let v = json(&out);
    let promote = modelwatch(
        &home,
        &["registry", "promote", "credit@1", "--alias", "production"],
    );
    assert!(promote.status.success(), "{}", text(&promote.stderr));
    // Change one weight in the stored blob, keeping it valid JSON.
    let h = Home::open(&home).unwrap();
    let hash =
        modelwatch::registry::BlobHash::parse(v["artifact_sha256"].as_str().unwrap()).unwrap();
    let blob = h.blobs().path_of(&hash);
    let original = std::fs::read_to_string(&blob).unwrap();
    let tampered = original.replacen("\"intercept\": ", "\"intercept\": 1", 1);
    assert_ne!(original, tampered);
    let mut perms = std::fs::metadata(&blob).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    std::fs::set_permissions(&blob, perms).unwrap();
    std::fs::write(&blob, tampered).unwrap();

    for args in [
        vec![
            "serve",
            "--model",
            "credit@production",
            "--listen",
            "127.0.0.1:0",
        ],
        vec!["validate", "--model", "credit@1"],
    ] {
        let out = modelwatch(&home, &args);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{args:?}: {}",
            text(&out.stderr)
        );
        let err = text(&out.stderr);
        assert!(
            err.contains("refusing the artifact of credit@1"),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn a_missing_home_is_a_usage_error_that_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nowhere");
    for args in [
        vec!["registry", "list"],
        vec!["registry", "show", "credit@production"],
        vec!["serve", "--model", "credit@production"],
        vec!["validate", "--model", "credit@1"],
        vec!["train", "--dataset", "credit"],
    ] {
        let out = modelwatch(&missing, &args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            text(&out.stderr).contains("no registry at"),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
    assert!(!missing.exists(), "read commands never create a home");
    // A home without the model names what exists instead.
    let (home, _) = home_with_artifacts(dir.path(), 0);
    let out = modelwatch(&home, &["serve", "--model", "credit@production"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("no model named \"credit\""),
        "{}",
        text(&out.stderr)
    );
}
