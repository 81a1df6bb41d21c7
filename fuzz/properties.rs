//! What must hold for any input to the export's parsers and the proxy's server-sent
//! events reader: the bodies of the `spool_segment`, `bulk_response` and `sse_stream` fuzz
//! targets, shared with `tests/it/fuzz_corpus.rs`, which runs them
//! over the committed corpus (`tests/fixtures/export/corpus/<target>/`) in plain
//! `cargo test`. Each panics when a property breaks, which is what libFuzzer reports.

// Each fuzz target uses one of these.
#![allow(dead_code)]

use modelwatch::export::elasticsearch::bulk::{self, ItemOutcome};
use modelwatch::export::elasticsearch::spool::segment::{self, Decoded};
use modelwatch::protocol::openai::decode_answer;
use modelwatch::protocol::sse::{SseEvent, SseParser};

/// A spool segment file's bytes, as recovery and the reader see them: `scan` never
/// panics, the good records it reports are exactly the records there (each decodes,
/// re-encodes to the same bytes, and they tile the file from the header to `valid_len`),
/// and a file it finds no problem in is good to its last byte.
pub fn spool_segment(file: &[u8]) {
    let scan = segment::scan(file);
    assert!(scan.valid_len as usize <= file.len());
    if scan.problem.is_none() {
        assert_eq!(
            scan.valid_len as usize,
            file.len(),
            "no problem, yet bytes left"
        );
    }
    let mut expected_start = segment::HEADER_BYTES;
    for &start in &scan.record_starts {
        assert_eq!(start, expected_start, "records tile the file");
        let Decoded::Record {
            kind,
            id,
            document,
            len,
        } = segment::decode_record(&file[start as usize..])
        else {
            panic!("scan reported a record at {start} that does not decode");
        };
        let mut again = Vec::new();
        assert!(segment::encode_record(kind, id, document, &mut again));
        assert_eq!(
            again.as_slice(),
            &file[start as usize..start as usize + len]
        );
        expected_start = start + len as u64;
    }
    if !scan.record_starts.is_empty() || scan.valid_len > 0 {
        assert_eq!(
            scan.valid_len, expected_start,
            "valid_len ends the last record"
        );
    }
}

/// A `_bulk` answer for `expected` events (the first byte), as the shipper reads it: a
/// JSON value that parses gives one outcome per event or an error (retried), never a
/// panic, and an outcome is final only for a status that is final.
pub fn bulk_response(input: &[u8]) {
    let Some((&expected, body)) = input.split_first() else {
        return;
    };
    let Ok(json) = serde_json::from_slice::<serde_json::Value>(body) else {
        return;
    };
    let Ok(outcomes) = bulk::outcomes(&json, usize::from(expected)) else {
        return;
    };
    assert_eq!(outcomes.len(), usize::from(expected));
    for outcome in outcomes {
        if let ItemOutcome::Rejected { status, .. } = outcome {
            assert!(
                !(200..300).contains(&status) && status != 409 && !bulk::is_retryable(status),
                "status {status} is not a final refusal"
            );
        }
    }
}

/// The largest event `sse_stream` keeps.
const SSE_LIMIT: usize = 4096;

fn sse_events(chunks: &[&[u8]]) -> (Vec<SseEvent>, u64) {
    let mut parser = SseParser::new(SSE_LIMIT);
    let mut out = Vec::new();
    for chunk in chunks {
        parser.push(chunk, &mut |e| out.push(e));
    }
    (out, parser.dropped)
}

/// A response stream as the proxy's tap sees it (`protocol::sse`): the first byte says
/// where the network cut the rest in two. The events (and the count of those dropped
/// for size) do not depend on the cut, none is longer than the limit, and the OpenAI
/// chunk decoder takes each event's data without panicking.
pub fn sse_stream(input: &[u8]) {
    let Some((&cut, stream)) = input.split_first() else {
        return;
    };
    let cut = usize::from(cut).min(stream.len());
    let whole = sse_events(&[stream]);
    let split = sse_events(&[&stream[..cut], &stream[cut..]]);
    assert_eq!(
        whole, split,
        "events depend on where the stream was cut ({cut})"
    );
    let bytewise: Vec<&[u8]> = stream.chunks(1).collect();
    assert_eq!(
        whole,
        sse_events(&bytewise),
        "events differ when fed byte by byte"
    );
    for event in &whole.0 {
        assert!(
            event.data.len() <= SSE_LIMIT,
            "an event past the limit was kept"
        );
        let _ = decode_answer(event.data.as_bytes());
    }
}
