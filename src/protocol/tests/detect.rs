//! Protocol detection from routes and body shapes.

use crate::protocol::{Protocol, detect};

#[test]
fn routes_pick_their_protocol_whatever_the_body() {
    let cases = [
        ("/v2/models/credit/infer", Protocol::OpenInference),
        (
            "/v2/models/credit/versions/3/infer",
            Protocol::OpenInference,
        ),
        (
            "/serving/ns/credit/v2/models/credit/infer?x=1",
            Protocol::OpenInference,
        ),
        ("/v1/models/credit:predict", Protocol::KServeV1),
        ("/v1/models/credit/versions/2:predict", Protocol::KServeV1),
        (
            "/v1/models/credit/labels/stable:predict",
            Protocol::KServeV1,
        ),
        ("/invocations", Protocol::Mlflow),
        ("/api/v1.0/predictions", Protocol::SeldonV1),
        (
            "/seldon/prod/credit/api/v1.0/predictions",
            Protocol::SeldonV1,
        ),
    ];
    for (path, protocol) in cases {
        assert_eq!(detect(path, None, b"[1,2]"), Some(protocol), "{path}");
    }
}

#[test]
fn non_inference_routes_are_not_taken_for_inference() {
    for path in [
        "/v2/models/credit",
        "/v2/health/ready",
        "/v1/models/credit",
        "/ping",
    ] {
        assert_eq!(detect(path, None, b""), None, "{path}");
    }
}

#[test]
fn unknown_routes_are_sniffed_from_the_body() {
    let cases = [
        (
            r#"{"inputs":[{"name":"x","shape":[1,2],"datatype":"FP32","data":[1,2]}]}"#,
            Protocol::OpenInference,
        ),
        (r#"{"instances":[[1,2]]}"#, Protocol::KServeV1),
        (r#"{"inputs":{"a":[1]}}"#, Protocol::KServeV1),
        (
            r#"{"dataframe_split":{"columns":["a"],"data":[[1]]}}"#,
            Protocol::Mlflow,
        ),
        (r#"{"dataframe_records":[{"a":1}]}"#, Protocol::Mlflow),
        (
            r#"{"data":{"names":["a"],"ndarray":[[1]]}}"#,
            Protocol::SeldonV1,
        ),
        (r#"[{"Age":30,"Home":"rent"}]"#, Protocol::GenericJson),
        (
            r#"{"Age":[30,41],"Home":["rent","own"]}"#,
            Protocol::GenericJson,
        ),
        (r#"{"Age":30,"Home":"rent"}"#, Protocol::GenericJson),
    ];
    for (body, protocol) in cases {
        assert_eq!(
            detect("/predict", None, body.as_bytes()),
            Some(protocol),
            "{body}"
        );
    }
}

#[test]
fn a_body_cut_mid_way_is_still_sniffed_from_its_first_keys() {
    let body = br#"{"inputs":[{"name":"x","shape":[100,14],"datatype":"FP32","data":[1,2,"#;
    assert_eq!(
        detect("/predict", None, body),
        Some(Protocol::OpenInference)
    );
}

#[test]
fn csv_on_an_unknown_route_is_mlflow_and_scalars_are_nothing() {
    assert_eq!(
        detect("/score", Some("text/csv; charset=utf-8"), b"a\n1\n"),
        Some(Protocol::Mlflow)
    );
    assert_eq!(detect("/score", None, b"42"), None);
    assert_eq!(detect("/score", None, b"not json"), None);
    assert_eq!(detect("/score", None, br#"{"a":[1],"b":2}"#), None);
}
