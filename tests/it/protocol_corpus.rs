//! Replays the committed fuzz corpus (`tests/fixtures/protocol/corpus/<target>/`) through
//! the decoder each fuzz target drives, so every seed and every input the fuzzer once
//! found interesting stays a regression test in plain `cargo test`.

use modelwatch::protocol::{
    Batch, DecodeError, DecodeReason, Protocol, RequestMeta, ResponseMeta, decode_request,
    decode_response,
};
use std::collections::BTreeSet;
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

#[test]
fn every_fuzz_target_has_a_corpus_and_every_corpus_a_target() {
    let targets = names_in(&root().join("fuzz/fuzz_targets"), ".rs");
    let corpora = names_in(&root().join("tests/fixtures/protocol/corpus"), "");
    assert_eq!(
        targets, corpora,
        "fuzz targets and corpus directories must match one to one"
    );
}

#[test]
fn every_corpus_input_decodes_or_fails_with_a_known_reason() {
    let corpus = root().join("tests/fixtures/protocol/corpus");
    let mut problems = Vec::new();
    let mut replayed = 0;
    for target in names_in(&corpus, "") {
        let mut decoded = 0;
        for file in names_in(&corpus.join(&target), "") {
            let path = corpus.join(&target).join(&file);
            let input = std::fs::read(&path).unwrap();
            replayed += 1;
            match catch_unwind(AssertUnwindSafe(|| replay(&target, &input))) {
                Err(_) => problems.push(format!("{target}/{file}: the decoder panicked")),
                Ok(None) => {}
                Ok(Some(Ok(batch))) => {
                    decoded += 1;
                    let consistent = batch.rows >= 1
                        && !batch.columns.is_empty()
                        && batch.columns.iter().all(|c| c.values.len() == batch.rows);
                    if !consistent {
                        problems.push(format!("{target}/{file}: inconsistent batch {batch:?}"));
                    }
                }
                Ok(Some(Err(e))) => {
                    if !DecodeReason::ALL.contains(&e.reason()) || e.detail().is_empty() {
                        problems.push(format!("{target}/{file}: error without reason: {e:?}"));
                    }
                }
            }
        }
        // Each corpus keeps at least one valid payload, so the fuzzer starts deep.
        if decoded == 0 {
            problems.push(format!("{target}: no corpus input decodes successfully"));
        }
    }
    assert!(replayed >= 13, "only {replayed} corpus inputs found");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
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
