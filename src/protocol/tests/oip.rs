//! Open Inference Protocol: JSON tensors, naming, shapes and the binary tensor extension.

use super::*;

const P: Protocol = Protocol::OpenInference;

#[test]
fn spec_example_request_and_response() {
    // REFERENCE.md §1: one [1, 3] input tensor, one [1] INT64 output.
    let batch = request(
        P,
        r#"{"id":"42","inputs":[{"name":"input-0","shape":[1,3],"datatype":"FP64","data":[9,60,30]}]}"#,
    )
    .unwrap();
    assert_eq!(batch.rows, 1);
    assert_eq!(batch.names(), [None, None, None]);
    assert_eq!(
        batch
            .columns
            .iter()
            .map(|c| c.values[0].clone())
            .collect::<Vec<_>>(),
        [num(9.0), num(60.0), num(30.0)]
    );

    let out = response(
        P,
        r#"{"model_name":"credit","model_version":"3","id":"42","outputs":[{"name":"output-0","shape":[1],"datatype":"INT64","data":[0]}]}"#,
    )
    .unwrap();
    assert_eq!(out.names(), [Some("output-0")]);
    assert_eq!(values(&out, 0), [num(0.0)]);
    // Analysis attributes the rows to the version the server says answered.
    assert_eq!(out.model_version.as_deref(), Some("3"));
    let numbered = response(
        P,
        r#"{"model_version":4,"outputs":[{"name":"y","shape":[1],"datatype":"INT64","data":[1]}]}"#,
    )
    .unwrap();
    assert_eq!(numbered.model_version.as_deref(), Some("4"));
    let odd = response(
        P,
        r#"{"model_version":{"v":1},"outputs":[{"name":"y","shape":[1],"datatype":"INT64","data":[1]}]}"#,
    )
    .unwrap();
    assert_eq!(
        odd.model_version, None,
        "an odd version is ignored, the rows still count"
    );
}

#[test]
fn flat_and_nested_data_read_row_major_alike() {
    let flat = r#"{"inputs":[{"name":"x","shape":[2,3],"datatype":"FP32","data":[1,2,3,4,5,6]}]}"#;
    let nested =
        r#"{"inputs":[{"name":"x","shape":[2,3],"datatype":"FP32","data":[[1,2,3],[4,5,6]]}]}"#;
    let (a, b) = (request(P, flat).unwrap(), request(P, nested).unwrap());
    assert_eq!(a, b);
    assert_eq!(a.rows, 2);
    // Column j holds feature j of every row: row-major data, column-major batch.
    assert_eq!(values(&a, 0), [num(1.0), num(4.0)]);
    assert_eq!(values(&a, 2), [num(3.0), num(6.0)]);
}

#[test]
fn several_named_tensors_give_named_columns_of_any_type() {
    let body = r#"{"inputs":[
        {"name":"Age","shape":[2],"datatype":"INT64","data":[30,41]},
        {"name":"Home","shape":[2,1],"datatype":"BYTES","data":["rent","own"]},
        {"name":"Flag","shape":[2],"datatype":"BOOL","data":[true,null]},
        {"name":"Emb","shape":[2,2],"datatype":"FP32","data":[0.5,1.5,2.5,3.5]}]}"#;
    let batch = request(P, body).unwrap();
    assert_eq!(
        batch.names(),
        [
            Some("Age"),
            Some("Home"),
            Some("Flag"),
            Some("Emb:0"),
            Some("Emb:1")
        ]
    );
    assert_eq!(values(&batch, 1), [text("rent"), text("own")]);
    assert_eq!(values(&batch, 2), [Value::Bool(true), Value::Missing]);
    assert_eq!(values(&batch, 4), [num(1.5), num(3.5)]);
}

#[test]
fn two_dimensional_outputs_are_named_by_index() {
    let body = r#"{"outputs":[{"name":"probs","shape":[1,2],"datatype":"FP32","data":[0.2,0.8]},
        {"name":"label","shape":[1,1],"datatype":"INT64","data":[1]}]}"#;
    let batch = response(P, body).unwrap();
    assert_eq!(
        batch.names(),
        [Some("probs:0"), Some("probs:1"), Some("label")]
    );
}

#[test]
fn a_type_error_is_kept_for_the_caller_to_count() {
    let body = r#"{"inputs":[{"name":"x","shape":[2],"datatype":"FP32","data":["oops",1]}]}"#;
    assert_eq!(
        values(&request(P, body).unwrap(), 0),
        [text("oops"), num(1.0)]
    );
}

#[test]
fn shape_and_data_disagreements_are_shape_mismatch() {
    let short = r#"{"inputs":[{"name":"x","shape":[2,3],"datatype":"FP32","data":[1,2,3,4,5]}]}"#;
    let rows = r#"{"inputs":[{"name":"a","shape":[2],"datatype":"FP32","data":[1,2]},
        {"name":"b","shape":[3],"datatype":"FP32","data":[1,2,3]}]}"#;
    assert_eq!(reason(request(P, short)), DecodeReason::ShapeMismatch);
    assert_eq!(reason(request(P, rows)), DecodeReason::ShapeMismatch);
}

#[test]
fn huge_declared_shapes_are_refused_without_allocating() {
    for shape in [
        "[1000000000000,14]",
        "[18446744073709551615,18446744073709551615]",
    ] {
        let body = format!(
            r#"{{"inputs":[{{"name":"x","shape":{shape},"datatype":"FP32","data":[1]}}]}}"#
        );
        assert_eq!(reason(request(P, &body)), DecodeReason::TooLarge, "{shape}");
    }
    // `1e12` is not an integer dimension at all.
    let float = r#"{"inputs":[{"name":"x","shape":[1e12,14],"datatype":"FP32","data":[1]}]}"#;
    assert_eq!(reason(request(P, float)), DecodeReason::InvalidField);
}

#[test]
fn unanalysed_shapes_datatypes_and_elements_have_their_reasons() {
    let image =
        r#"{"inputs":[{"name":"img","shape":[1,2,2],"datatype":"UINT8","data":[1,2,3,4]}]}"#;
    let dtype = r#"{"inputs":[{"name":"x","shape":[1],"datatype":"FP8","data":[1]}]}"#;
    let object = r#"{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[{"a":1}]}]}"#;
    let none = r#"{"inputs":[]}"#;
    let zero_rows = r#"{"inputs":[{"name":"x","shape":[0,14],"datatype":"FP32","data":[]}]}"#;
    assert_eq!(reason(request(P, image)), DecodeReason::UnsupportedShape);
    assert_eq!(reason(request(P, dtype)), DecodeReason::UnsupportedDatatype);
    assert_eq!(reason(request(P, object)), DecodeReason::UnsupportedShape);
    assert_eq!(reason(request(P, none)), DecodeReason::Empty);
    assert_eq!(reason(request(P, zero_rows)), DecodeReason::Empty);
}

#[test]
fn other_protocols_and_error_bodies_are_told_apart() {
    assert_eq!(
        reason(request(P, r#"{"instances":[[1,2]]}"#)),
        DecodeReason::WrongProtocol
    );
    assert_eq!(reason(request(P, r#"[1,2]"#)), DecodeReason::WrongProtocol);
    assert_eq!(
        reason(response(P, r#"{"error":"model not ready"}"#)),
        DecodeReason::UpstreamError
    );
}

/// A binary-extension body: the JSON header, then each tensor's bytes.
fn binary_body(header: &str, tensors: &[&[u8]]) -> (Vec<u8>, usize) {
    let mut body = header.as_bytes().to_vec();
    for t in tensors {
        body.extend_from_slice(t);
    }
    (body, header.len())
}

fn le_f32(xs: &[f32]) -> Vec<u8> {
    xs.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn binary_request(body: &[u8], header_len: usize) -> Result<Batch, DecodeError> {
    let meta = RequestMeta {
        content_type: Some("application/octet-stream"),
        inference_header_len: Some(header_len),
    };
    decode_request(P, &meta, body)
}

#[test]
fn binary_tensors_decode_little_endian_values() {
    let header = r#"{"inputs":[
        {"name":"x","shape":[2,2],"datatype":"FP32","parameters":{"binary_data_size":16}},
        {"name":"n","shape":[2],"datatype":"INT16","parameters":{"binary_data_size":4}},
        {"name":"h","shape":[2],"datatype":"FP16","parameters":{"binary_data_size":4}},
        {"name":"b","shape":[2],"datatype":"BOOL","parameters":{"binary_data_size":2}},
        {"name":"s","shape":[2],"datatype":"BYTES","parameters":{"binary_data_size":13}},
        {"name":"j","shape":[2],"datatype":"INT64","data":[7,8]}]}"#;
    let x = le_f32(&[1.0, 2.0, 3.0, f32::NAN]);
    let n: Vec<u8> = [-5i16, 300].iter().flat_map(|v| v.to_le_bytes()).collect();
    // FP16 1.0 and -2.0.
    let h = [0x00, 0x3c, 0x00, 0xc0];
    let b = [1u8, 0];
    let s = [&4u32.to_le_bytes()[..], b"rent", &1u32.to_le_bytes(), b"o"].concat();
    let (body, len) = binary_body(header, &[&x, &n, &h, &b, &s]);
    let batch = binary_request(&body, len).unwrap();
    assert_eq!(
        batch.names(),
        [
            Some("x:0"),
            Some("x:1"),
            Some("n"),
            Some("h"),
            Some("b"),
            Some("s"),
            Some("j")
        ]
    );
    assert_eq!(values(&batch, 0), [num(1.0), num(3.0)]);
    assert!(matches!(values(&batch, 1)[1], Value::Number(v) if v.is_nan()));
    assert_eq!(values(&batch, 2), [num(-5.0), num(300.0)]);
    assert_eq!(values(&batch, 3), [num(1.0), num(-2.0)]);
    assert_eq!(values(&batch, 4), [Value::Bool(true), Value::Bool(false)]);
    assert_eq!(values(&batch, 5), [text("rent"), text("o")]);
    assert_eq!(values(&batch, 6), [num(7.0), num(8.0)]);
}

#[test]
fn a_single_binary_tensor_is_positional_like_json() {
    let header = r#"{"inputs":[{"name":"x","shape":[1,3],"datatype":"FP64","parameters":{"binary_data_size":24}}]}"#;
    let raw: Vec<u8> = [9.0f64, 60.0, 30.0]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let (body, len) = binary_body(header, &[&raw]);
    let batch = binary_request(&body, len).unwrap();
    assert_eq!(batch.names(), [None, None, None]);
    assert_eq!(values(&batch, 1), [num(60.0)]);
}

#[test]
fn incomplete_binary_tensors_are_skipped_and_none_left_is_truncated() {
    let header = r#"{"inputs":[
        {"name":"a","shape":[2],"datatype":"FP32","parameters":{"binary_data_size":8}},
        {"name":"b","shape":[2],"datatype":"FP32","parameters":{"binary_data_size":8}}]}"#;
    let (mut body, len) = binary_body(header, &[&le_f32(&[1.0, 2.0]), &le_f32(&[3.0, 4.0])]);
    body.truncate(body.len() - 3);
    let batch = binary_request(&body, len).unwrap();
    assert_eq!(batch.names(), [Some("a")]);
    assert_eq!(values(&batch, 0), [num(1.0), num(2.0)]);

    body.truncate(len + 5);
    assert_eq!(reason(binary_request(&body, len)), DecodeReason::Truncated);
    // A body cut inside the JSON header itself.
    assert_eq!(
        reason(binary_request(&body[..len - 10], len)),
        DecodeReason::Truncated
    );
}

#[test]
fn inconsistent_binary_headers_are_binary_header_invalid() {
    let header = r#"{"inputs":[{"name":"a","shape":[2],"datatype":"FP32","parameters":{"binary_data_size":6}}]}"#;
    let (body, len) = binary_body(header, &[&[0u8; 6]]);
    assert_eq!(
        reason(binary_request(&body, len)),
        DecodeReason::BinaryHeaderInvalid
    );
    assert_eq!(
        reason(binary_request(&body, 0)),
        DecodeReason::BinaryHeaderInvalid
    );
    let bytes = r#"{"inputs":[{"name":"s","shape":[1],"datatype":"BYTES","parameters":{"binary_data_size":6}}]}"#;
    let (body, len) = binary_body(bytes, &[&[9, 0, 0, 0, b'a', b'b']]);
    assert_eq!(
        reason(binary_request(&body, len)),
        DecodeReason::BinaryHeaderInvalid
    );
}

#[test]
fn binary_responses_decode_like_requests() {
    let header = r#"{"model_name":"m","outputs":[{"name":"p","shape":[2],"datatype":"FP32","parameters":{"binary_data_size":8}}]}"#;
    let (body, len) = binary_body(header, &[&le_f32(&[0.25, 0.75])]);
    let meta = ResponseMeta {
        content_type: None,
        inference_header_len: Some(len),
    };
    let batch = decode_response(P, &meta, &body).unwrap();
    assert_eq!(batch.names(), [Some("p")]);
    assert_eq!(values(&batch, 0), [num(0.25), num(0.75)]);
}
