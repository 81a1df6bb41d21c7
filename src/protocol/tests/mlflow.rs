//! MLflow /invocations: the four JSON layouts, CSV, and prediction shapes.

use super::*;

const P: Protocol = Protocol::Mlflow;

#[test]
fn spec_examples_split_and_records() {
    // REFERENCE.md §1.
    let split = request(
        P,
        r#"{"dataframe_split":{"columns":["Age","Home"],"data":[[30,"rent"]]}}"#,
    )
    .unwrap();
    let records = request(P, r#"{"dataframe_records":[{"Age":30,"Home":"rent"}]}"#).unwrap();
    assert_eq!(split, records);
    assert_eq!(split.names(), [Some("Age"), Some("Home")]);
    assert_eq!(values(&split, 0), [num(30.0)]);
}

#[test]
fn split_with_index_and_params_and_without_columns() {
    let body = r#"{"dataframe_split":{"index":[7,8],"columns":["a","b"],"data":[[1,2],[3,4]]},"params":{"k":1}}"#;
    let batch = request(P, body).unwrap();
    assert_eq!(
        (batch.rows, values(&batch, 1)),
        (2, &[num(2.0), num(4.0)][..])
    );
    let positional = request(P, r#"{"dataframe_split":{"data":[[1,2]]}}"#).unwrap();
    assert_eq!(positional.names(), [None, None]);
    let ragged = r#"{"dataframe_split":{"columns":["a","b","c"],"data":[[1,2]]}}"#;
    assert_eq!(reason(request(P, ragged)), DecodeReason::ShapeMismatch);
}

#[test]
fn instances_and_inputs_read_like_v1() {
    let instances = request(P, r#"{"instances":[{"a":1},{"a":2}]}"#).unwrap();
    assert_eq!(instances.names(), [Some("a")]);
    let inputs = request(P, r#"{"inputs":{"a":[1,2],"b":["x","y"]}}"#).unwrap();
    assert_eq!(inputs.names(), [Some("a"), Some("b")]);
}

#[test]
fn exactly_one_layout_is_required() {
    let two = r#"{"dataframe_records":[{"a":1}],"instances":[{"a":1}]}"#;
    assert_eq!(reason(request(P, two)), DecodeReason::InvalidField);
    assert_eq!(
        reason(request(P, r#"{"params":{}}"#)),
        DecodeReason::WrongProtocol
    );
    assert_eq!(
        reason(request(P, r#"{"error_code":"BAD_REQUEST","message":"x"}"#)),
        DecodeReason::UpstreamError
    );
}

fn csv_request(body: &str) -> Result<Batch, DecodeError> {
    let meta = RequestMeta {
        content_type: Some("text/csv"),
        inference_header_len: None,
    };
    decode_request(P, &meta, body.as_bytes())
}

#[test]
fn csv_bodies_read_header_names_and_typed_cells() {
    let batch =
        csv_request("Age,Home,Owner,Score\n30,rent,true,NaN\n,\"own, big\",False,1e3\n").unwrap();
    assert_eq!(
        batch.names(),
        [Some("Age"), Some("Home"), Some("Owner"), Some("Score")]
    );
    assert_eq!(values(&batch, 0), [num(30.0), Value::Missing]);
    assert_eq!(values(&batch, 1), [text("rent"), text("own, big")]);
    assert_eq!(values(&batch, 2), [Value::Bool(true), Value::Bool(false)]);
    assert!(matches!(values(&batch, 3)[0], Value::Number(x) if x.is_nan()));
    assert_eq!(values(&batch, 3)[1], num(1000.0));
}

#[test]
fn csv_errors_have_their_reasons() {
    assert_eq!(
        reason(csv_request("a,b\n1,2\n3\n")),
        DecodeReason::ShapeMismatch
    );
    assert_eq!(reason(csv_request("a,b\n")), DecodeReason::Empty);
    let latin1 = RequestMeta {
        content_type: Some("text/csv; charset=latin1"),
        inference_header_len: None,
    };
    let err = decode_request(P, &latin1, b"a\n1\n").unwrap_err();
    assert_eq!(err.reason(), DecodeReason::UnsupportedContentType);
    // CSV is MLflow's alone.
    let meta = RequestMeta {
        content_type: Some("text/csv"),
        inference_header_len: None,
    };
    let err = decode_request(Protocol::GenericJson, &meta, b"a\n1\n").unwrap_err();
    assert_eq!(err.reason(), DecodeReason::UnsupportedContentType);
}

#[test]
fn predictions_as_list_lists_records_or_columns() {
    let list = response(P, r#"{"predictions":[0,1,1]}"#).unwrap();
    assert_eq!((list.rows, list.names()), (3, vec![Some("prediction")]));
    let lists = response(P, r#"{"predictions":[[0.1,0.9]]}"#).unwrap();
    assert_eq!(lists.names(), [Some("prediction:0"), Some("prediction:1")]);
    let records = response(P, r#"{"predictions":[{"label":"a","p":0.5}]}"#).unwrap();
    assert_eq!(records.names(), [Some("label"), Some("p")]);
    let columns = response(P, r#"{"predictions":{"label":["a","b"],"p":[0.5,0.7]}}"#).unwrap();
    assert_eq!(
        (columns.rows, columns.names()),
        (2, vec![Some("label"), Some("p")])
    );
    let bare = response(P, "[0, 1]").unwrap();
    assert_eq!(bare.names(), [Some("prediction")]);
}
