//! The image's build stage, replayed outside Docker: the files `compose/Dockerfile`
//! copies into its builder (and only those, after `compose/Dockerfile.dockerignore`) must
//! be enough for its `cargo build` line.
//!
//! No Docker engine runs here and no container registry is reachable, so the image itself
//! cannot be built in the tests (the first `docker build` is that test). What can break the
//! build on our side can be checked: a file the build needs but the Dockerfile does not
//! copy or the ignore file leaves out (a bench the manifest declares, for one), a
//! lockfile out of date. The replay runs the Dockerfile's own cargo arguments with `check`
//! instead of `build --release` (the same manifest, sources and lockfile checks; no code
//! generation) in a scratch copy, with a target directory of its own under `target/`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The builder stage: the lines from `FROM … AS builder` to the next `FROM`, with `\`
/// continuations joined.
fn builder_stage(dockerfile: &str) -> Vec<String> {
    let joined = dockerfile.replace("\\\n", " ");
    let mut lines = Vec::new();
    let mut inside = false;
    for line in joined.lines().map(str::trim) {
        if line.starts_with("FROM ") {
            inside = line.to_lowercase().ends_with(" as builder");
            continue;
        }
        if inside && !line.is_empty() && !line.starts_with('#') {
            lines.push(line.to_string());
        }
    }
    lines
}

/// `(sources, destination)` of every `COPY` from the build context.
fn copies(stage: &[String]) -> Vec<(Vec<String>, String)> {
    stage
        .iter()
        .filter_map(|l| l.strip_prefix("COPY "))
        .filter(|args| !args.contains("--from"))
        .map(|args| {
            let mut words: Vec<String> = args
                .split_whitespace()
                .filter(|w| !w.starts_with("--"))
                .map(String::from)
                .collect();
            let destination = words.pop().expect("COPY has a destination");
            (words, destination)
        })
        .collect()
}

/// Whether `.dockerignore` sends `path` (a top-level file or directory) to the builder:
/// the last matching pattern wins; this file uses only `*`, `!NAME` and `!NAME/`.
fn sent(ignore: &str, path: &str) -> bool {
    let mut sent = true;
    for pattern in ignore.lines().map(str::trim) {
        if pattern.is_empty() || pattern.starts_with('#') {
            continue;
        }
        let (negated, pattern) = match pattern.strip_prefix('!') {
            Some(p) => (true, p.trim_end_matches('/')),
            None => (false, pattern.trim_end_matches('/')),
        };
        if pattern == "*" || pattern == path {
            sent = negated;
        }
    }
    sent
}

fn copy_tree(from: &Path, to: &Path) {
    if from.is_dir() {
        fs::create_dir_all(to).unwrap();
        for entry in fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            copy_tree(&entry.path(), &to.join(entry.file_name()));
        }
    } else {
        fs::copy(from, to).unwrap_or_else(|e| panic!("copy {}: {e}", from.display()));
    }
}

#[test]
fn the_dockerfile_builder_stage_has_everything_its_cargo_build_needs() {
    let dockerfile = fs::read_to_string(Path::new(ROOT).join("compose/Dockerfile")).unwrap();
    let ignore =
        fs::read_to_string(Path::new(ROOT).join("compose/Dockerfile.dockerignore")).unwrap();
    let stage = builder_stage(&dockerfile);
    let workdir = stage
        .iter()
        .find_map(|l| l.strip_prefix("WORKDIR "))
        .expect("the builder stage sets a WORKDIR")
        .trim()
        .to_string();

    let scratch = tempfile::tempdir().unwrap();
    for (sources, destination) in copies(&stage) {
        let destination = destination.trim_start_matches("./").trim_end_matches('/');
        for source in &sources {
            assert!(
                sent(&ignore, source.trim_end_matches('/')),
                "compose/Dockerfile copies {source} but Dockerfile.dockerignore leaves it out \
                 of the build context"
            );
            let from = Path::new(ROOT).join(source);
            let to: PathBuf = if sources.len() > 1 || destination.is_empty() {
                scratch.path().join(destination).join(source)
            } else {
                scratch.path().join(destination)
            };
            copy_tree(&from, &to);
        }
    }

    let build = stage
        .iter()
        .find(|l| l.contains("cargo build"))
        .expect("the builder stage runs cargo build");
    let arguments: Vec<&str> = build
        .split("cargo build")
        .nth(1)
        .unwrap()
        .split("&&")
        .next()
        .unwrap()
        .split_whitespace()
        .filter(|&a| a != "--release")
        .collect();
    assert!(
        arguments.contains(&"--locked"),
        "the image must build the locked dependency versions: {build}"
    );
    let output = Command::new(env!("CARGO"))
        .arg("check")
        .args(&arguments)
        .arg("--offline")
        .current_dir(scratch.path())
        .env(
            "CARGO_TARGET_DIR",
            Path::new(ROOT).join("target/image-build-check"),
        )
        .output()
        .expect("cargo runs");
    assert!(
        output.status.success(),
        "the Dockerfile's build (as `cargo check {}` in a copy of what it copies to {workdir}) \
         fails:\n{}",
        arguments.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
}
