//! The on-disk format of a spool segment: a magic header, then length-prefixed,
//! checksummed records.
//!
//! ```text
//! segment := "MWSPOOL1" record*
//! record  := len:u32le crc:u32le payload[len]        crc = CRC-32 (IEEE) of the payload
//! payload := kind:u8 id_len:u32le id[id_len] document
//!                                  kind: 0 request event, 1 drift snapshot (DocumentKind)
//!                                  document = the ECS JSON, UTF-8
//! ```
//!
//! A record is only trusted when all of its bytes are there and its checksum matches, so a
//! write cut short by a crash (a torn tail) or a flipped bit is detected, never parsed.
//! Parsing is a pure function of a byte slice; the file I/O lives in `spool.rs`.

use crate::export::elasticsearch::event::DocumentKind;
use std::path::Path;

/// The first bytes of every segment file (the format's version is its last byte).
pub const MAGIC: &[u8; 8] = b"MWSPOOL1";
/// Bytes before the first record.
pub const HEADER_BYTES: u64 = MAGIC.len() as u64;
/// Length and checksum before each payload.
pub const RECORD_HEADER_BYTES: usize = 8;
/// No record is larger: a bigger length field is corruption, not an allocation to attempt.
pub const MAX_RECORD_BYTES: usize = 16 * 1024 * 1024;

/// Bytes of a payload before the id: the kind and the id's length.
const PAYLOAD_HEADER_BYTES: usize = 5;

/// Appends one record for the document `id` of `kind` with its JSON `document` to `out`;
/// `false` (and nothing appended) when the record would exceed [`MAX_RECORD_BYTES`].
pub fn encode_record(kind: DocumentKind, id: &str, document: &[u8], out: &mut Vec<u8>) -> bool {
    let payload_len = PAYLOAD_HEADER_BYTES + id.len() + document.len();
    if payload_len > MAX_RECORD_BYTES {
        return false;
    }
    let start = out.len();
    out.extend_from_slice(&(payload_len as u32).to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.push(kind.as_byte());
    out.extend_from_slice(&(id.len() as u32).to_le_bytes());
    out.extend_from_slice(id.as_bytes());
    out.extend_from_slice(document);
    let crc = crc32fast::hash(&out[start + RECORD_HEADER_BYTES..]);
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
    true
}

/// What the bytes at the start of a slice hold.
#[derive(Debug, PartialEq, Eq)]
pub enum Decoded<'a> {
    /// A whole, verified record of `len` bytes (header included).
    Record {
        kind: DocumentKind,
        id: &'a str,
        document: &'a [u8],
        len: usize,
    },
    /// The slice ends inside a record: at the end of a file, a torn write.
    Incomplete,
    /// The bytes are not a record: the reason says why.
    Corrupt(&'static str),
}

/// Reads the record at the start of `bytes`.
pub fn decode_record(bytes: &[u8]) -> Decoded<'_> {
    if bytes.len() < RECORD_HEADER_BYTES {
        return Decoded::Incomplete;
    }
    let len = u32::from_le_bytes(bytes[0..4].try_into().expect("4 bytes")) as usize;
    let crc = u32::from_le_bytes(bytes[4..8].try_into().expect("4 bytes"));
    if !(PAYLOAD_HEADER_BYTES..=MAX_RECORD_BYTES).contains(&len) {
        return Decoded::Corrupt("impossible record length");
    }
    let Some(payload) = bytes.get(RECORD_HEADER_BYTES..RECORD_HEADER_BYTES + len) else {
        return Decoded::Incomplete;
    };
    if crc32fast::hash(payload) != crc {
        return Decoded::Corrupt("checksum mismatch");
    }
    let Some(kind) = DocumentKind::from_byte(payload[0]) else {
        return Decoded::Corrupt("unknown document kind");
    };
    let id_len = u32::from_le_bytes(payload[1..5].try_into().expect("4 bytes")) as usize;
    let Some(id) = payload.get(PAYLOAD_HEADER_BYTES..PAYLOAD_HEADER_BYTES + id_len) else {
        return Decoded::Corrupt("id longer than its record");
    };
    let Ok(id) = std::str::from_utf8(id) else {
        return Decoded::Corrupt("id is not UTF-8");
    };
    Decoded::Record {
        kind,
        id,
        document: &payload[PAYLOAD_HEADER_BYTES + id_len..],
        len: RECORD_HEADER_BYTES + len,
    }
}

/// The result of checking a whole segment's bytes.
#[derive(Debug, PartialEq, Eq)]
pub struct Scan {
    /// Bytes from the start of the file up to the end of the last good record.
    pub valid_len: u64,
    /// Offsets (from the start of the file) where each good record starts.
    pub record_starts: Vec<u64>,
    /// Where and why the good records end before the file does.
    pub problem: Option<&'static str>,
}

/// Checks a segment file's bytes: magic, then records up to the first bad one.
pub fn scan(file: &[u8]) -> Scan {
    if file.len() < MAGIC.len() || &file[..MAGIC.len()] != MAGIC {
        return Scan {
            valid_len: 0,
            record_starts: Vec::new(),
            problem: Some(if file.len() < MAGIC.len() && MAGIC.starts_with(file) {
                "the file ends inside its header"
            } else {
                "not a modelwatch spool segment (wrong magic bytes)"
            }),
        };
    }
    let mut at = MAGIC.len();
    let mut record_starts = Vec::new();
    let problem = loop {
        if at == file.len() {
            break None;
        }
        match decode_record(&file[at..]) {
            Decoded::Record { len, .. } => {
                record_starts.push(at as u64);
                at += len;
            }
            Decoded::Incomplete => break Some("the last record is incomplete (a torn write)"),
            Decoded::Corrupt(why) => break Some(why),
        }
    };
    Scan {
        valid_len: at as u64,
        record_starts,
        problem,
    }
}

/// `0000000000000042.seg`: zero-padded so names sort like their numbers.
pub fn file_name(seq: u64) -> String {
    format!("{seq:016}.seg")
}

/// The sequence number of a segment file, `None` for any other file.
pub fn parse_file_name(path: &Path) -> Option<u64> {
    let name = path.file_name()?.to_str()?;
    let digits = name.strip_suffix(".seg")?;
    (digits.len() == 16 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}
