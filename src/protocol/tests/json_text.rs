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
