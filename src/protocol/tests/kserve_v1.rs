//! KServe V1 / TF Serving: instances, columnar inputs, b64, predictions and outputs.

use super::*;

const P: Protocol = Protocol::KServeV1;

#[test]
fn spec_example_object_instances_and_predictions() {
    // REFERENCE.md §1.
    let batch = request(P, r#"{"instances":[{"Age":30,"Home":"rent"}]}"#).unwrap();
    assert_eq!(batch.names(), [Some("Age"), Some("Home")]);
    assert_eq!(values(&batch, 1), [text("rent")]);
    let out = response(P, r#"{"predictions":[0.12]}"#).unwrap();
    assert_eq!(out.names(), [Some("prediction")]);
    assert_eq!(values(&out, 0), [num(0.12)]);
}

#[test]
fn list_instances_are_positional_and_records_fill_missing_keys() {
    let lists = request(
        P,
        r#"{"signature_name":"serving_default","instances":[[1,"a"],[2,null]]}"#,
    )
    .unwrap();
    assert_eq!(lists.names(), [None, None]);
    assert_eq!(values(&lists, 1), [text("a"), Value::Missing]);

    let records = request(P, r#"{"instances":[{"a":1,"b":2},{"b":3,"c":true}]}"#).unwrap();
    assert_eq!(records.names(), [Some("a"), Some("b"), Some("c")]);
    assert_eq!(values(&records, 0), [num(1.0), Value::Missing]);
    assert_eq!(values(&records, 2), [Value::Missing, Value::Bool(true)]);
}

#[test]
fn scalar_instances_are_one_positional_column() {
    let batch = request(P, r#"{"instances":[1.5,2.5,3.5]}"#).unwrap();
    assert_eq!((batch.rows, batch.names()), (3, vec![None]));
}

#[test]
fn b64_objects_stay_encoded_text() {
    let batch = request(P, r#"{"instances":[{"image":{"b64":"aGVsbG8="},"n":1}]}"#).unwrap();
    assert_eq!(batch.column("image").unwrap().values, [text("aGVsbG8=")]);
}

#[test]
fn columnar_inputs_as_list_or_map() {
    let list = request(P, r#"{"inputs":[[1,2,3],[4,5,6]]}"#).unwrap();
    assert_eq!((list.rows, list.names()), (2, vec![None, None, None]));

    let map = request(P, r#"{"inputs":{"Age":[30,41],"Home":["rent","own"]}}"#).unwrap();
    assert_eq!(map.names(), [Some("Age"), Some("Home")]);
    assert_eq!(values(&map, 1), [text("rent"), text("own")]);

    // One 2-D input alone maps like one Open Inference Protocol tensor: positional.
    let single = request(P, r#"{"inputs":{"x":[[1,2],[3,4]]}}"#).unwrap();
    assert_eq!(single.names(), [None, None]);
}

#[test]
fn instances_and_inputs_together_are_refused() {
    let both = r#"{"instances":[[1]],"inputs":[[1]]}"#;
    assert_eq!(reason(request(P, both)), DecodeReason::InvalidField);
}

#[test]
fn ragged_rows_mixed_kinds_and_deep_nesting_are_refused() {
    assert_eq!(
        reason(request(P, r#"{"instances":[[1,2],[3]]}"#)),
        DecodeReason::ShapeMismatch
    );
    assert_eq!(
        reason(request(P, r#"{"instances":[[1,2],{"a":1}]}"#)),
        DecodeReason::ShapeMismatch
    );
    assert_eq!(
        reason(request(P, r#"{"instances":[[[1,2]]]}"#)),
        DecodeReason::UnsupportedShape
    );
    assert_eq!(
        reason(request(P, r#"{"inputs":{"a":[1,2],"b":[1]}}"#)),
        DecodeReason::ShapeMismatch
    );
    assert_eq!(
        reason(request(P, r#"{"instances":[]}"#)),
        DecodeReason::Empty
    );
    assert_eq!(
        reason(request(P, r#"{"dataframe_records":[]}"#)),
        DecodeReason::WrongProtocol
    );
}

#[test]
fn tf_serving_responses_with_non_finite_values_and_multiple_outputs() {
    let out = response(P, r#"{"predictions":[[0.1, NaN], [Infinity, -Infinity]]}"#).unwrap();
    assert_eq!(out.names(), [Some("prediction:0"), Some("prediction:1")]);
    assert_eq!(values(&out, 0)[1], num(f64::INFINITY));
    assert_eq!(values(&out, 1)[1], num(f64::NEG_INFINITY));

    let multi = response(
        P,
        r#"{"predictions":[{"classes":1,"scores":[0.3,0.7]},{"classes":0,"scores":[0.9,0.1]}]}"#,
    )
    .unwrap();
    assert_eq!(
        multi.names(),
        [Some("classes"), Some("scores:0"), Some("scores:1")]
    );
    assert_eq!(values(&multi, 2), [num(0.7), num(0.1)]);

    let columnar = response(P, r#"{"outputs":{"scores":[0.5,0.6]}}"#).unwrap();
    assert_eq!(columnar.names(), [Some("scores")]);
    assert_eq!(
        reason(response(P, r#"{"error":"bad input"}"#)),
        DecodeReason::UpstreamError
    );
}
