//! The binary says what it was built from: `modelwatch --version` and
//! `modelwatch_build_info{revision}` carry the git revision, and `build.rs` falls back to
//! `MODELWATCH_GIT_COMMIT` (the Dockerfile's build argument) and then `unknown`.

use std::path::Path;
use std::process::Command;

const REPO: &str = env!("CARGO_MANIFEST_DIR");

/// `git rev-parse --short=12 HEAD` of the source tree, asked independently of build.rs;
/// `None` when the tests run without git.
pub fn git_revision() -> Option<String> {
    let out = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(REPO)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8(out.stdout).unwrap().trim().to_string())
}

#[test]
fn version_names_the_git_revision() {
    let Some(revision) = git_revision() else {
        eprintln!("skipped: no git here to compare with");
        return;
    };
    let out = Command::new(env!("CARGO_BIN_EXE_modelwatch"))
        .arg("--version")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        format!("modelwatch {} ({revision})\n", env!("CARGO_PKG_VERSION"))
    );
}

/// Compiles build.rs on its own and runs it where the Dockerfile's build runs it: in a
/// directory without git metadata, with and without the build argument.
#[test]
fn the_build_script_falls_back_to_the_build_argument_then_unknown() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("build-script");
    let compiled = Command::new(std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into()))
        .args(["--edition", "2024", "-O", "-o"])
        .arg(&script)
        .arg(Path::new(REPO).join("build.rs"))
        .output()
        .unwrap();
    assert!(
        compiled.status.success(),
        "{}",
        String::from_utf8_lossy(&compiled.stderr)
    );
    let outside_git = dir.path().join("src");
    std::fs::create_dir(&outside_git).unwrap();
    let run = |cwd: &Path, arg: Option<&str>| {
        let mut command = Command::new(&script);
        command
            .current_dir(cwd)
            .env_remove("MODELWATCH_GIT_COMMIT")
            // Stops git from finding the repository that holds the temporary directory.
            .env("GIT_CEILING_DIRECTORIES", dir.path());
        if let Some(value) = arg {
            command.env("MODELWATCH_GIT_COMMIT", value);
        }
        let out = command.output().unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .find_map(|l| l.strip_prefix("cargo:rustc-env=MODELWATCH_GIT_COMMIT="))
            .expect("the script always sets the revision")
            .to_string()
    };
    assert_eq!(run(&outside_git, Some("0123456789ab")), "0123456789ab");
    assert_eq!(run(&outside_git, None), "unknown");
    assert_eq!(run(&outside_git, Some("  ")), "unknown");
    if let Some(revision) = git_revision() {
        // In the repository git wins over the variable.
        assert_eq!(run(Path::new(REPO), Some("0123456789ab")), revision);
    }
}
