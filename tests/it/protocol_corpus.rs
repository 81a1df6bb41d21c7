//! Replays the committed fuzz corpus (`tests/fixtures/protocol/corpus/<target>/`) through
//! the decoder each fuzz target drives, so every seed and every input the fuzzer once
//! found interesting stays a regression test in plain `cargo test`: each file's outcome
//! (the decoded shape, or the exact failure reason) is pinned in
//! `tests/fixtures/protocol/corpus-outcomes.txt`.

use modelwatch::protocol::{
    Batch, DecodeError, Protocol, RequestMeta, ResponseMeta, decode_request, decode_response,
};
use std::collections::{BTreeMap, BTreeSet};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

/// Decodes a corpus input exactly as the fuzz target of that name does
/// (`fuzz/fuzz_targets/<target>.rs`).
fn replay(target: &str, input: &[u8]) -> Option<Result<Batch, DecodeError>> {
    let request = |protocol, body: &[u8]| decode_request(protocol, &RequestMeta::default(), body);
    let response =
        |protocol, body: &[u8]| decode_response(protocol, &ResponseMeta::default(), body);
    Some(match target {
        "oip_request" => request(Protocol::OpenInference, input),
        "oip_response" => response(Protocol::OpenInference, input),
        "oip_binary_request" | "oip_binary_response" => {
            let (len, body) = input.split_first_chunk::<2>()?;
            let header = Some(usize::from(u16::from_le_bytes(*len)));
            let content_type = Some("application/octet-stream");
            if target == "oip_binary_request" {
                let meta = RequestMeta {
                    content_type,
                    inference_header_len: header,
                };
                decode_request(Protocol::OpenInference, &meta, body)
            } else {
                let meta = ResponseMeta {
                    content_type,
                    inference_header_len: header,
                };
                decode_response(Protocol::OpenInference, &meta, body)
            }
        }
        "kserve_v1_request" => request(Protocol::KServeV1, input),
        "kserve_v1_response" => response(Protocol::KServeV1, input),
        "mlflow_request" => request(Protocol::Mlflow, input),
        "mlflow_csv_request" => {
            let meta = RequestMeta {
                content_type: Some("text/csv"),
                inference_header_len: None,
            };
            decode_request(Protocol::Mlflow, &meta, input)
        }
        "mlflow_response" => response(Protocol::Mlflow, input),
        "seldon_request" => request(Protocol::SeldonV1, input),
        "seldon_response" => response(Protocol::SeldonV1, input),
        "generic_request" => request(Protocol::GenericJson, input),
        "generic_response" => response(Protocol::GenericJson, input),
        other => panic!("corpus directory {other:?} has no fuzz target: add it to replay()"),
    })
}

fn names_in(dir: &Path, strip: &str) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| {
            e.unwrap()
                .file_name()
                .to_string_lossy()
                .trim_end_matches(strip)
                .to_owned()
        })
        .collect()
}

/// The decoders' corpora live here, the export targets' (`spool_segment`,
/// `bulk_response`) in `tests/fixtures/export/corpus/` (`fuzz_corpus.rs` replays those).
#[test]
fn every_fuzz_target_has_a_corpus_and_every_corpus_a_target() {
    let targets = names_in(&root().join("fuzz/fuzz_targets"), ".rs");
    let protocol = names_in(&root().join("tests/fixtures/protocol/corpus"), "");
    // Only the directories: the export area also holds the script that writes its seeds.
    let export_dir = root().join("tests/fixtures/export/corpus");
    let export: BTreeSet<String> = names_in(&export_dir, "")
        .into_iter()
        .filter(|name| export_dir.join(name).is_dir())
        .collect();
    assert!(
        protocol.is_disjoint(&export),
        "a target has a corpus in both areas: {:?}",
        protocol.intersection(&export).collect::<Vec<_>>()
    );
    let corpora: BTreeSet<String> = protocol.union(&export).cloned().collect();
    assert_eq!(
        targets, corpora,
        "fuzz targets and corpus directories must match one to one"
    );
}

/// The pinned outcomes: `<target>/<file> <outcome>` per line, `#` comments.
const OUTCOMES: &str = "tests/fixtures/protocol/corpus-outcomes.txt";

/// One corpus input's outcome as a pinned line: `decoded rows=R columns=C`, `error REASON`,
/// or `not replayed` (a binary input too short to carry its header length); a panic or an
/// inconsistent batch is a problem instead.
fn outcome(target: &str, file: &str, input: &[u8]) -> Result<String, String> {
    match catch_unwind(AssertUnwindSafe(|| replay(target, input))) {
        Err(_) => Err(format!("{target}/{file}: the decoder panicked")),
        Ok(None) => Ok("not replayed".into()),
        Ok(Some(Ok(batch))) => {
            let consistent = batch.rows >= 1
                && !batch.columns.is_empty()
                && batch.columns.iter().all(|c| c.values.len() == batch.rows);
            if !consistent {
                return Err(format!("{target}/{file}: inconsistent batch {batch:?}"));
            }
            Ok(format!(
                "decoded rows={} columns={}",
                batch.rows,
                batch.columns.len()
            ))
        }
        Ok(Some(Err(e))) => {
            if e.detail().is_empty() {
                return Err(format!("{target}/{file}: error without detail: {e:?}"));
            }
            Ok(format!("error {}", e.reason().as_str()))
        }
    }
}

#[test]
fn every_corpus_input_has_its_pinned_outcome() {
    let corpus = root().join("tests/fixtures/protocol/corpus");
    let mut problems = Vec::new();
    let mut actual = BTreeMap::new();
    for target in names_in(&corpus, "") {
        let mut decoded = 0;
        for file in names_in(&corpus.join(&target), "") {
            let input = std::fs::read(corpus.join(&target).join(&file)).unwrap();
            match outcome(&target, &file, &input) {
                Ok(seen) => {
                    decoded += usize::from(seen.starts_with("decoded"));
                    actual.insert(format!("{target}/{file}"), seen);
                }
                Err(problem) => problems.push(problem),
            }
        }
        // Each corpus keeps at least one valid payload, so the fuzzer starts deep.
        if decoded == 0 {
            problems.push(format!("{target}: no corpus input decodes successfully"));
        }
    }
    assert!(
        actual.len() >= 13,
        "only {} corpus inputs found",
        actual.len()
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));

    let rendered: String = actual
        .iter()
        .map(|(file, seen)| format!("{file} {seen}\n"))
        .collect();
    let path = root().join(OUTCOMES);
    // A new corpus input (a fuzzer find) or a deliberate decoder change: rewrite the file
    // with MODELWATCH_PIN_CORPUS=1 and review its diff before committing it.
    if std::env::var_os("MODELWATCH_PIN_CORPUS").is_some() {
        let header = "# Outcome of each fuzz corpus input (tests/it/protocol_corpus.rs).\n\
                      # Rewrite with MODELWATCH_PIN_CORPUS=1 cargo test --test it protocol_corpus\n";
        std::fs::write(&path, format!("{header}{rendered}")).unwrap();
    }
    let pinned: BTreeMap<String, String> = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {OUTCOMES}: {e}"))
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (file, seen) = l.split_once(' ').expect("`<target>/<file> <outcome>`");
            (file.to_string(), seen.to_string())
        })
        .collect();
    let differences: Vec<String> = pinned
        .keys()
        .chain(actual.keys())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .filter(|file| pinned.get(*file) != actual.get(*file))
        .map(|file| {
            format!(
                "{file}: pinned {:?}, now {:?}",
                pinned.get(file),
                actual.get(file)
            )
        })
        .collect();
    assert!(
        differences.is_empty(),
        "corpus outcomes differ from {OUTCOMES} (if the change is intended, rewrite it with \
         MODELWATCH_PIN_CORPUS=1 and review the diff):\n{}",
        differences.join("\n")
    );
}

#[test]
fn spec_example_seeds_decode_to_the_documented_columns() {
    let read =
        |p: &str| std::fs::read(root().join("tests/fixtures/protocol/corpus").join(p)).unwrap();
    let oip = replay("oip_request", &read("oip_request/spec_example.json"))
        .unwrap()
        .unwrap();
    assert_eq!((oip.rows, oip.columns.len()), (1, 3));
    let seldon = replay("seldon_request", &read("seldon_request/spec_example.json"))
        .unwrap()
        .unwrap();
    assert_eq!(seldon.names(), [Some("Age"), Some("Income")]);
    let binary = replay(
        "oip_binary_request",
        &read("oip_binary_request/cut_in_raw_bytes.bin"),
    )
    .unwrap()
    .unwrap();
    // The cut body still yields the complete tensors before the cut.
    assert_eq!(binary.names(), [Some("x:0"), Some("x:1"), Some("j")]);
}
