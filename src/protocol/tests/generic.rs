//! Generic JSON: records, columns, a single record, and predictions.

use super::*;

const P: Protocol = Protocol::GenericJson;

#[test]
fn records_columns_and_one_record_give_named_columns() {
    let records = request(P, r#"[{"Age":30,"Home":"rent"},{"Age":41,"Home":"own"}]"#).unwrap();
    let columns = request(P, r#"{"Age":[30,41],"Home":["rent","own"]}"#).unwrap();
    assert_eq!(records, columns);
    assert_eq!(records.names(), [Some("Age"), Some("Home")]);
    let one = request(P, r#"{"Age":30,"Home":"rent"}"#).unwrap();
    assert_eq!(
        (one.rows, one.names()),
        (1, vec![Some("Age"), Some("Home")])
    );
}

#[test]
fn unequal_or_mixed_columns_are_shape_mismatch() {
    assert_eq!(
        reason(request(P, r#"{"a":[1,2],"b":[1]}"#)),
        DecodeReason::ShapeMismatch
    );
    assert_eq!(
        reason(request(P, r#"{"a":[1,2],"b":1}"#)),
        DecodeReason::ShapeMismatch
    );
    assert_eq!(reason(request(P, "42")), DecodeReason::WrongProtocol);
    assert_eq!(reason(request(P, "{}")), DecodeReason::Empty);
}

#[test]
fn responses_read_predictions_lists_and_records() {
    let wrapped = response(P, r#"{"predictions":[1,0],"model":"m"}"#).unwrap();
    assert_eq!(wrapped.names(), [Some("prediction")]);
    let bare = response(P, "[0.2, 0.4]").unwrap();
    assert_eq!((bare.rows, bare.names()), (2, vec![Some("prediction")]));
    let records = response(P, r#"[{"label":"a","score":0.9}]"#).unwrap();
    assert_eq!(records.names(), [Some("label"), Some("score")]);
}
