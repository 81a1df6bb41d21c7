//! Seldon Core v1: names with ndarray or tensor, and the payloads not analysed.

use super::*;

const P: Protocol = Protocol::SeldonV1;

#[test]
fn spec_example_names_and_ndarray() {
    // REFERENCE.md §1.
    let batch = request(
        P,
        r#"{"data":{"names":["Age","Income"],"ndarray":[[30,129.0]]}}"#,
    )
    .unwrap();
    assert_eq!(batch.names(), [Some("Age"), Some("Income")]);
    assert_eq!(values(&batch, 1), [num(129.0)]);
}

#[test]
fn tensor_values_are_row_major() {
    let batch = request(
        P,
        r#"{"data":{"names":["a","b"],"tensor":{"shape":[2,2],"values":[1,2,3,4]}}}"#,
    )
    .unwrap();
    assert_eq!(values(&batch, 0), [num(1.0), num(3.0)]);
    let mismatch = r#"{"data":{"tensor":{"shape":[2,2],"values":[1,2,3]}}}"#;
    assert_eq!(reason(request(P, mismatch)), DecodeReason::ShapeMismatch);
    let huge = r#"{"data":{"tensor":{"shape":[1000000000000,14],"values":[1]}}}"#;
    assert_eq!(reason(request(P, huge)), DecodeReason::TooLarge);
}

#[test]
fn without_names_requests_are_positional_and_responses_are_predictions() {
    let req = request(P, r#"{"data":{"ndarray":[[1,2]]}}"#).unwrap();
    assert_eq!(req.names(), [None, None]);
    let resp = response(
        P,
        r#"{"meta":{"puid":"x"},"data":{"names":[],"ndarray":[[0.1,0.9]]}}"#,
    )
    .unwrap();
    assert_eq!(resp.names(), [Some("prediction:0"), Some("prediction:1")]);
    let named = response(
        P,
        r#"{"data":{"names":["t:0","t:1"],"ndarray":[[0.1,0.9]]}}"#,
    )
    .unwrap();
    assert_eq!(named.names(), [Some("t:0"), Some("t:1")]);
}

#[test]
fn names_must_match_the_width() {
    let body = r#"{"data":{"names":["a"],"ndarray":[[1,2]]}}"#;
    assert_eq!(reason(request(P, body)), DecodeReason::ShapeMismatch);
}

#[test]
fn str_bin_and_json_data_are_counted_not_analysed() {
    for body in [
        r#"{"strData":"hello"}"#,
        r#"{"binData":"aGk="}"#,
        r#"{"jsonData":{"a":1}}"#,
    ] {
        assert_eq!(
            reason(request(P, body)),
            DecodeReason::UnsupportedShape,
            "{body}"
        );
    }
    let status = r#"{"status":{"code":-1,"info":"bad","status":"FAILURE"}}"#;
    assert_eq!(reason(response(P, status)), DecodeReason::UpstreamError);
    assert_eq!(
        reason(request(P, r#"{"instances":[[1]]}"#)),
        DecodeReason::WrongProtocol
    );
}
