//! The export fuzz targets' properties (`fuzz/properties.rs`, the very code the
//! `spool_segment` and `bulk_response` targets run) over their committed corpus
//! (`tests/fixtures/export/corpus/<target>/`, seeds from `make_seeds.py` and whatever the
//! fuzzer found worth keeping), so they hold in plain `cargo test` where libFuzzer cannot
//! run; and every fuzz target has a corpus of its own.

#[path = "../../fuzz/properties.rs"]
mod properties;

use crate::metric_contract::{read, repo_path};
use modelwatch::export::elasticsearch::spool::segment;
use std::path::PathBuf;

/// Each file in a target's corpus, with its name.
fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = repo_path(&format!("tests/fixtures/export/corpus/{target}"));
    let mut inputs: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|err| panic!("{}: {err}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .map(|path: PathBuf| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&path).unwrap())
        })
        .collect();
    inputs.sort();
    assert!(inputs.len() >= 5, "{target}: a corpus of {}", inputs.len());
    inputs
}

#[test]
fn spool_segment_properties_hold_over_the_corpus() {
    for (name, input) in corpus("spool_segment") {
        // A broken property panics; name the input that broke it.
        let held = std::panic::catch_unwind(|| properties::spool_segment(&input));
        assert!(held.is_ok(), "spool_segment: corpus input {name}");
    }
    // The seeds reach what recovery must tell apart.
    let scan = |name: &str| {
        let (_, bytes) = corpus("spool_segment")
            .into_iter()
            .find(|(n, _)| n == name)
            .unwrap();
        segment::scan(&bytes)
    };
    assert_eq!(scan("two_records").record_starts.len(), 2);
    assert_eq!(scan("two_records").problem, None);
    assert_eq!(scan("torn_tail").record_starts.len(), 1);
    assert!(scan("torn_tail").problem.unwrap().contains("torn"));
    assert_eq!(scan("flipped_bit").problem, Some("checksum mismatch"));
    assert_eq!(scan("wrong_magic").valid_len, 0);
}

#[test]
fn bulk_response_properties_hold_over_the_corpus() {
    for (name, input) in corpus("bulk_response") {
        let held = std::panic::catch_unwind(|| properties::bulk_response(&input));
        assert!(held.is_ok(), "bulk_response: corpus input {name}");
    }
}

#[test]
fn sse_stream_properties_hold_over_the_corpus() {
    for (name, input) in corpus("sse_stream") {
        let held = std::panic::catch_unwind(|| properties::sse_stream(&input));
        assert!(held.is_ok(), "sse_stream: corpus input {name}");
    }
}

#[test]
fn every_fuzz_target_has_a_corpus() {
    let manifest = read("fuzz/Cargo.toml");
    let targets: Vec<&str> = manifest
        .lines()
        .filter_map(|line| line.strip_prefix("name = \""))
        .filter_map(|rest| rest.strip_suffix('"'))
        .filter(|name| *name != "modelwatch-fuzz")
        .collect();
    assert_eq!(targets.len(), 16, "{targets:?}");
    for target in targets {
        let seeds = ["protocol", "export"]
            .iter()
            .map(|area| repo_path(&format!("tests/fixtures/{area}/corpus/{target}")))
            .find(|dir| dir.is_dir());
        assert!(
            seeds.is_some(),
            "fuzz target {target} has no corpus directory"
        );
        let source = repo_path(&format!("fuzz/fuzz_targets/{target}.rs"));
        assert!(source.is_file(), "{}", source.display());
    }
}
