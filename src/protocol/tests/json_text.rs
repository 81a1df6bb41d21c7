//! Tolerance for bare non-finite literals, and strings that merely contain those words.

use super::*;
use crate::protocol::json::tolerate_non_finite;

#[test]
fn bare_non_finite_literals_become_numbers() {
    let batch = request(
        Protocol::KServeV1,
        r#"{"instances":[[NaN, Infinity, -Infinity, 1]]}"#,
    )
    .unwrap();
    let got: Vec<_> = batch.columns.iter().map(|c| c.values[0].clone()).collect();
    assert!(matches!(got[0], Value::Number(x) if x.is_nan()));
    assert_eq!(
        got[1..],
        [num(f64::INFINITY), num(f64::NEG_INFINITY), num(1.0)]
    );
}

#[test]
fn the_words_inside_strings_are_left_alone() {
    let body = r#"{"instances":[{"note":"NaN Infinity \"NaN\" -Infinity","x":NaN}]}"#;
    let batch = request(Protocol::KServeV1, body).unwrap();
    assert_eq!(
        batch.column("note").unwrap().values,
        [text(r#"NaN Infinity "NaN" -Infinity"#)]
    );
    assert!(matches!(batch.column("x").unwrap().values[0], Value::Number(x) if x.is_nan()));
}

#[test]
fn bodies_without_literals_are_not_copied() {
    let body = br#"{"a":"NaN","b":[1,2,-3]}"#;
    assert!(matches!(
        tolerate_non_finite(body),
        std::borrow::Cow::Borrowed(_)
    ));
}

#[test]
fn longer_identifiers_are_not_literals() {
    // `NaNa` is not `NaN`: the body stays invalid JSON rather than becoming NaN + junk.
    assert_eq!(
        reason(request(Protocol::KServeV1, r#"{"instances":[NaNa]}"#)),
        DecodeReason::MalformedJson
    );
}

/// The scan `tolerate_non_finite` replaced, one byte at a time: the oracle for the
/// differential test below.
fn byte_at_a_time(body: &[u8]) -> Vec<u8> {
    let literals: [(&[u8], &[u8]); 3] = [
        (b"NaN", br#""\u0000NaN""#),
        (b"Infinity", br#""\u0000Infinity""#),
        (b"-Infinity", br#""\u0000-Infinity""#),
    ];
    let mut out = Vec::new();
    let (mut in_string, mut escaped, mut i) = (false, false, 0);
    while i < body.len() {
        let b = body[i];
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
        } else if b == b'"' {
            in_string = true;
        } else if let Some((literal, sentinel)) = literals.iter().find(|(literal, _)| {
            body[i..].starts_with(literal)
                && !body
                    .get(i + literal.len())
                    .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
        }) {
            out.extend_from_slice(sentinel);
            i += literal.len();
            continue;
        }
        out.push(b);
        i += 1;
    }
    out
}

#[test]
fn the_jumping_scan_rewrites_exactly_what_a_byte_at_a_time_scan_does() {
    // Pieces that meet at every boundary the scan cares about: quotes and escapes around
    // the literals, literals glued to each other, to letters, to `-` and to the end.
    let pieces: [&[u8]; 16] = [
        b"\"",
        b"\\",
        b"\\\"",
        b"NaN",
        b"Infinity",
        b"-Infinity",
        b"-",
        b"I",
        b"N",
        b"a",
        b"_",
        b"1.5",
        b",",
        b"[",
        b"]",
        b" ",
    ];
    let mut rng = crate::random::SeededRng::new(14);
    for case in 0..20_000 {
        let len = rng.below(12) as usize;
        let body: Vec<u8> = (0..len)
            .flat_map(|_| {
                pieces[rng.below(pieces.len() as u64) as usize]
                    .iter()
                    .copied()
            })
            .collect();
        assert_eq!(
            tolerate_non_finite(&body).as_ref(),
            byte_at_a_time(&body).as_slice(),
            "case {case}: {:?}",
            String::from_utf8_lossy(&body)
        );
    }
}
