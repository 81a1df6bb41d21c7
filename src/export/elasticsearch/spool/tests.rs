use super::segment::{self, Decoded};
use super::*;
use crate::export::elasticsearch::event::{DocumentKind, KindCounts};
use crate::export::elasticsearch::queue::tests::export_events;
use prometheus::IntGauge;
use std::time::Duration;

fn gauge() -> IntGauge {
    IntGauge::new("spool_bytes", "test").unwrap()
}

fn limits(max_bytes: u64, segment_bytes: u64) -> SpoolLimits {
    SpoolLimits {
        max_bytes,
        segment_bytes,
    }
}

/// A document of about `size` bytes for event `i`.
fn document(i: usize, size: usize) -> Vec<u8> {
    let mut doc = format!("{{\"n\":{i},\"pad\":\"");
    while doc.len() < size.saturating_sub(2) {
        doc.push('x');
    }
    doc.push_str("\"}");
    doc.into_bytes()
}

/// Event `i`'s kind: request events and drift snapshots alternate, so that every test also
/// checks each record keeps its own.
fn kind(i: usize) -> DocumentKind {
    if i.is_multiple_of(2) {
        DocumentKind::Request
    } else {
        DocumentKind::Drift
    }
}

fn append(writer: &mut SpoolWriter, range: std::ops::Range<usize>, size: usize) -> Appended {
    let events: Vec<(DocumentKind, String, Vec<u8>)> = range
        .map(|i| (kind(i), format!("id-{i}"), document(i, size)))
        .collect();
    writer.append(
        events
            .iter()
            .map(|(k, id, d)| (*k, id.as_str(), d.as_slice())),
    )
}

/// Reads and acknowledges everything, returning the ids in the order read.
fn drain(reader: &mut SpoolReader, per_batch: usize) -> Vec<String> {
    let mut ids = Vec::new();
    loop {
        let batch = reader.read(per_batch, u64::MAX).unwrap();
        if batch.is_empty() {
            reader.ack(&batch);
            return ids;
        }
        for e in &batch.events {
            let i: usize = e.id.trim_start_matches("id-").parse().unwrap();
            assert_eq!(e.kind, kind(i), "the kind of {}", e.id);
        }
        ids.extend(batch.events.iter().map(|e| e.id.clone()));
        reader.ack(&batch);
    }
}

fn ids(range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| format!("id-{i}")).collect()
}

fn segment_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| segment::parse_file_name(p).is_some())
        .collect();
    files.sort();
    files
}

#[test]
fn a_record_round_trips_and_every_prefix_is_incomplete() {
    let mut bytes = Vec::new();
    assert!(segment::encode_record(
        DocumentKind::Drift,
        "req-1",
        b"{\"a\":1}",
        &mut bytes
    ));
    assert_eq!(
        segment::decode_record(&bytes),
        Decoded::Record {
            kind: DocumentKind::Drift,
            id: "req-1",
            document: b"{\"a\":1}",
            len: bytes.len()
        }
    );
    for cut in 0..bytes.len() {
        assert_eq!(
            segment::decode_record(&bytes[..cut]),
            Decoded::Incomplete,
            "prefix of {cut} bytes"
        );
    }
    // Any flipped bit in the payload is caught by the checksum.
    for at in segment::RECORD_HEADER_BYTES..bytes.len() {
        let mut flipped = bytes.clone();
        flipped[at] ^= 0x10;
        assert_eq!(
            segment::decode_record(&flipped),
            Decoded::Corrupt("checksum mismatch"),
            "bit flipped at {at}"
        );
    }
    // A kind this build does not know, with a valid checksum: corrupt, not guessed.
    let mut unknown = bytes.clone();
    unknown[segment::RECORD_HEADER_BYTES] = 9;
    let crc = crc32fast::hash(&unknown[segment::RECORD_HEADER_BYTES..]);
    unknown[4..8].copy_from_slice(&crc.to_le_bytes());
    assert_eq!(
        segment::decode_record(&unknown),
        Decoded::Corrupt("unknown document kind")
    );
    let mut huge = bytes.clone();
    huge[0..4].copy_from_slice(&u32::MAX.to_le_bytes());
    assert_eq!(
        segment::decode_record(&huge),
        Decoded::Corrupt("impossible record length")
    );
}

#[test]
fn segment_names_sort_like_their_numbers() {
    assert_eq!(segment::file_name(42), "0000000000000042.seg");
    assert_eq!(
        segment::parse_file_name(Path::new("/x/0000000000000042.seg")),
        Some(42)
    );
    for other in [
        "lock",
        "ack",
        "42.seg",
        "000000000000004x.seg",
        "0000000000000042.seg.tmp",
    ] {
        assert_eq!(segment::parse_file_name(Path::new(other)), None, "{other}");
    }
}

#[test]
fn events_come_back_oldest_first_across_segments_and_read_segments_are_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let gauge = gauge();
    let (mut writer, mut reader, recovered) =
        open(dir.path(), limits(1 << 20, 4096), gauge.clone()).unwrap();
    assert_eq!(recovered, Recovered::default());
    let appended = append(&mut writer, 0..100, 300);
    assert_eq!(
        (
            appended.spooled.total(),
            appended.full.total(),
            appended.failed.total()
        ),
        (100, 0, 0)
    );
    assert!(segment_files(dir.path()).len() > 5, "small segments rotate");
    assert_eq!(reader.pending_events(), 100);
    assert!(gauge.get() > 100 * 300, "the gauge counts pending bytes");

    // Half, in batches of 7, then the writer adds more while the reader is mid-way.
    let first = reader.read(7, u64::MAX).unwrap();
    assert_eq!(
        first
            .events
            .iter()
            .map(|e| e.id.clone())
            .collect::<Vec<_>>(),
        ids(0..7)
    );
    assert_eq!(first.events[3].document, document(3, 300));
    // Not acknowledged: read again from the same place.
    let again = reader.read(7, u64::MAX).unwrap();
    assert_eq!(again.events, first.events);
    reader.ack(&again);
    append(&mut writer, 100..120, 300);
    let rest = drain(&mut reader, 7);
    assert_eq!(rest, ids(7..120));
    assert_eq!(reader.pending_events(), 0);
    assert_eq!(gauge.get(), 0);
    // Only the writer's active segment is left.
    assert_eq!(segment_files(dir.path()).len(), 1);
}

#[test]
fn a_batch_is_bounded_in_bytes_but_holds_at_least_one_event() {
    let dir = tempfile::tempdir().unwrap();
    let (mut writer, mut reader, _) = open(dir.path(), limits(1 << 20, 1 << 20), gauge()).unwrap();
    append(&mut writer, 0..10, 1000);
    let batch = reader.read(100, 2500).unwrap();
    assert_eq!(batch.events.len(), 3, "2500 bytes hold 3 records started");
    let one = reader.read(100, 10).unwrap();
    assert_eq!(one.events.len(), 1);
}

#[test]
fn a_full_spool_refuses_new_events_and_takes_them_again_once_drained() {
    let dir = tempfile::tempdir().unwrap();
    let cap = 64 * 1024;
    let (mut writer, mut reader, _) = open(dir.path(), SpoolLimits::for_cap(cap), gauge()).unwrap();
    let appended = append(&mut writer, 0..200, 500);
    let spooled = appended.spooled.total();
    assert!(spooled > 100 && spooled < 200, "{appended:?}");
    // Each refused event is counted under its own kind (they alternate), so the counter
    // says which data was lost.
    assert_eq!(appended.full, KindCounts::of((spooled..200).map(kind)));
    assert_eq!(appended.spooled, KindCounts::of((0..spooled).map(kind)));
    let on_disk: u64 = segment_files(dir.path())
        .iter()
        .map(|p| p.metadata().unwrap().len())
        .sum();
    assert!(on_disk <= cap, "{on_disk} bytes on disk for a cap of {cap}");
    // The kept events are the oldest ones, in order; the newest were refused.
    assert_eq!(drain(&mut reader, 50), ids(0..spooled));
    writer.sync().unwrap();
    let again = append(&mut writer, 200..300, 500);
    assert_eq!(
        again.spooled.total(),
        100,
        "room again after draining: {again:?}"
    );
}

#[test]
fn a_restart_replays_what_was_not_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (mut writer, mut reader, _) = open(dir.path(), limits(1 << 20, 8192), gauge()).unwrap();
        append(&mut writer, 0..50, 200);
        let batch = reader.read(20, u64::MAX).unwrap();
        reader.ack(&batch);
        // 20..30 are read (in flight) but not acknowledged when the process dies.
        reader.read(10, u64::MAX).unwrap();
    }
    let gauge = gauge();
    let (mut writer, mut reader, recovered) =
        open(dir.path(), limits(1 << 20, 8192), gauge.clone()).unwrap();
    assert_eq!(recovered.events, 30);
    assert_eq!(recovered.truncated_bytes, 0);
    assert_eq!(gauge.get() as u64, recovered.bytes);
    // New events go after the old ones.
    append(&mut writer, 50..60, 200);
    assert_eq!(drain(&mut reader, 8), ids(20..60));
}

#[test]
fn a_torn_tail_is_truncated_and_the_good_records_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (mut writer, _reader, _) = open(dir.path(), limits(1 << 20, 1 << 20), gauge()).unwrap();
        append(&mut writer, 0..3, 100);
    }
    let file = segment_files(dir.path()).pop().unwrap();
    let full = file.metadata().unwrap().len();
    // A crash in the middle of writing the third record.
    std::fs::OpenOptions::new()
        .write(true)
        .open(&file)
        .unwrap()
        .set_len(full - 5)
        .unwrap();
    let (mut writer, mut reader, recovered) =
        open(dir.path(), limits(1 << 20, 1 << 20), gauge()).unwrap();
    assert_eq!(recovered.events, 2);
    assert!(recovered.truncated_bytes > 0);
    let kept = file.metadata().unwrap().len();
    assert!(kept < full - 5, "the partial record is cut off the file");
    append(&mut writer, 3..5, 100);
    assert_eq!(drain(&mut reader, 10), ["id-0", "id-1", "id-3", "id-4"]);
}

#[test]
fn a_checksum_mismatch_ends_the_segment_there() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (mut writer, _reader, _) = open(dir.path(), limits(1 << 20, 1 << 20), gauge()).unwrap();
        append(&mut writer, 0..3, 100);
    }
    let file = segment_files(dir.path()).pop().unwrap();
    let mut bytes = std::fs::read(&file).unwrap();
    let second = segment::scan(&bytes).record_starts[1] as usize;
    bytes[second + segment::RECORD_HEADER_BYTES + 10] ^= 0xff;
    std::fs::write(&file, &bytes).unwrap();
    let (_writer, mut reader, recovered) =
        open(dir.path(), limits(1 << 20, 1 << 20), gauge()).unwrap();
    assert_eq!(recovered.events, 1);
    assert_eq!(recovered.truncated_bytes, (bytes.len() - second) as u64);
    assert_eq!(drain(&mut reader, 10), ["id-0"]);
}

#[test]
fn files_that_are_not_segments_are_removed_or_ignored_without_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(segment::file_name(3)), b"garbage!garbage").unwrap();
    std::fs::write(dir.path().join(segment::file_name(4)), b"MWSP").unwrap();
    std::fs::write(dir.path().join("ack"), b"short").unwrap();
    std::fs::write(dir.path().join("notes.txt"), b"hello").unwrap();
    let (mut writer, mut reader, recovered) =
        open(dir.path(), limits(1 << 20, 1 << 20), gauge()).unwrap();
    assert_eq!(recovered.events, 0);
    assert_eq!(recovered.truncated_bytes, 15 + 4);
    append(&mut writer, 0..2, 50);
    assert_eq!(drain(&mut reader, 10), ids(0..2));
    assert!(dir.path().join("notes.txt").exists());
}

#[test]
fn two_processes_cannot_share_a_spool_directory() {
    let dir = tempfile::tempdir().unwrap();
    let _first = open(dir.path(), limits(1 << 20, 1 << 20), gauge()).unwrap();
    let second = open(dir.path(), limits(1 << 20, 1 << 20), gauge());
    let err = second.err().expect("the directory is locked");
    assert_eq!(err.kind(), io::ErrorKind::ResourceBusy, "{err}");
}

#[test]
fn the_persister_writes_queued_events_and_syncs_on_close() {
    use crate::export::elasticsearch::queue::{ExportCounters, ExportQueue};
    let dir = tempfile::tempdir().unwrap();
    let registry = prometheus::Registry::new();
    let counters = ExportCounters::register(&registry).unwrap();
    let (writer, mut reader, _) = open(dir.path(), limits(1 << 20, 1 << 20), gauge()).unwrap();
    let (queue, receiver) = ExportQueue::new(1 << 20, counters.clone());
    let thread = persist::spawn(receiver, writer, Duration::from_secs(1), counters).unwrap();
    for i in 0..5 {
        queue.offer(&crate::export::elasticsearch::tests::exchange(&format!(
            "p-{i}"
        )));
    }
    queue.close();
    thread.join().unwrap();
    let batch = reader.read(10, u64::MAX).unwrap();
    // Each event is spooled under its own id (the `_id` a resend will carry again), with
    // the client's request id in the document.
    let docs: Vec<serde_json::Value> = batch
        .events
        .iter()
        .map(|e| serde_json::from_slice(&e.document).unwrap())
        .collect();
    let request_ids: Vec<&str> = docs
        .iter()
        .map(|d| d["http"]["request"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(request_ids, ["p-0", "p-1", "p-2", "p-3", "p-4"]);
    for (event, doc) in batch.events.iter().zip(&docs) {
        assert_eq!(doc["event"]["id"], event.id.as_str());
    }
    assert_eq!(export_events(&registry, "spooled", "request"), 5.0);
}

#[test]
fn the_persister_counts_what_a_full_spool_refuses_under_each_document_kind() {
    use crate::export::elasticsearch::event::RenderedDocument;
    use crate::export::elasticsearch::queue::{ExportCounters, ExportQueue};
    let dir = tempfile::tempdir().unwrap();
    let registry = prometheus::Registry::new();
    let counters = ExportCounters::register(&registry).unwrap();
    // Room for the segment header and a little more: no event fits.
    let cap = segment::HEADER_BYTES + 16;
    let (writer, _reader, _) = open(dir.path(), limits(cap, cap), gauge()).unwrap();
    let (queue, receiver) = ExportQueue::new(1 << 20, counters.clone());
    let thread = persist::spawn(receiver, writer, Duration::from_secs(1), counters).unwrap();
    for i in 0..3 {
        queue.offer(&crate::export::elasticsearch::tests::exchange(&format!(
            "f-{i}"
        )));
    }
    let snapshot = RenderedDocument::new("d-0".into(), serde_json::json!({"n": 1}));
    queue.offer_drift(vec![snapshot]);
    queue.close();
    thread.join().unwrap();
    assert_eq!(export_events(&registry, "dropped", "request"), 3.0);
    assert_eq!(export_events(&registry, "dropped", "drift"), 1.0);
    assert_eq!(export_events(&registry, "spooled", "request"), 0.0);
}

#[test]
fn a_failing_disk_refuses_events_without_a_panic_and_writing_resumes_after() {
    let dir = tempfile::tempdir().unwrap();
    let spool = dir.path().join("spool");
    let (mut writer, _reader, _) = open(&spool, limits(1 << 20, 4096), gauge()).unwrap();
    append(&mut writer, 0..5, 300);
    // The directory disappears (an unmounted volume): the next segment cannot be created.
    std::fs::remove_dir_all(&spool).unwrap();
    let failed = append(&mut writer, 5..40, 300);
    assert!(failed.failed.total() > 0, "{failed:?}");
    assert!(failed.error.is_some());
    assert_eq!(
        failed.spooled + failed.failed,
        KindCounts::of((5..40).map(kind)),
        "every event is accounted for, under its own kind"
    );
    std::fs::create_dir_all(&spool).unwrap();
    let resumed = append(&mut writer, 40..45, 300);
    assert_eq!(resumed.spooled.total(), 5, "{resumed:?}");
}

/// Files under `dir` this process holds open although they were deleted (Linux).
fn deleted_but_open(dir: &Path) -> Vec<String> {
    let dir = dir.to_string_lossy().into_owned();
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .map(|target| target.to_string_lossy().into_owned())
        .filter(|target| target.starts_with(&dir) && target.ends_with(" (deleted)"))
        .collect()
}

#[test]
fn a_delivered_segment_is_not_held_open_once_the_writer_deletes_it() {
    // On a full disk, the blocks of a deleted segment come back only when no descriptor
    // holds it: a reader that kept it open left no room for the next segment, for ever.
    let dir = tempfile::tempdir().unwrap();
    let (mut writer, mut reader, _) = open(dir.path(), limits(1 << 20, 4096), gauge()).unwrap();
    append(&mut writer, 0..8, 300);
    assert_eq!(drain(&mut reader, 3), ids(0..8));
    // Drained and over a quarter segment: the next sync seals and deletes it.
    writer.sync().unwrap();
    assert!(
        segment_files(dir.path()).is_empty(),
        "the drained segment is deleted"
    );
    assert_eq!(deleted_but_open(dir.path()), Vec::<String>::new());
    // Reading goes on in the next segment.
    append(&mut writer, 8..10, 300);
    assert_eq!(drain(&mut reader, 3), ids(8..10));
}
