mod detect;
mod generic;
mod json_text;
mod kserve_v1;
mod mlflow;
mod oip;
mod properties;
mod seldon;

use super::*;

/// Decodes a request body with default metadata.
fn request(protocol: Protocol, body: &str) -> Result<Batch, DecodeError> {
    decode_request(protocol, &RequestMeta::default(), body.as_bytes())
}

/// Decodes a response body with default metadata.
fn response(protocol: Protocol, body: &str) -> Result<Batch, DecodeError> {
    decode_response(protocol, &ResponseMeta::default(), body.as_bytes())
}

/// The reason of a failed decode (a successful one fails the test with the batch).
fn reason(result: Result<Batch, DecodeError>) -> DecodeReason {
    match result {
        Ok(batch) => panic!("expected a decode error, got {batch:?}"),
        Err(e) => e.reason(),
    }
}

fn num(x: f64) -> Value {
    Value::Number(x)
}

fn text(s: &str) -> Value {
    Value::Text(s.to_owned())
}

fn values(batch: &Batch, index: usize) -> &[Value] {
    &batch.columns[index].values
}

#[test]
fn protocol_names_round_trip_through_from_str() {
    for p in Protocol::ALL {
        assert_eq!(p.as_str().parse::<Protocol>(), Ok(p));
    }
    assert_eq!("OIP".parse::<Protocol>(), Ok(Protocol::OpenInference));
    let err = "kserve".parse::<Protocol>().unwrap_err();
    assert!(err.to_string().contains("kserve_v1"), "{err}");
}

#[test]
fn reason_labels_are_unique_snake_case() {
    let labels: std::collections::HashSet<_> =
        DecodeReason::ALL.iter().map(|r| r.as_str()).collect();
    assert_eq!(labels.len(), DecodeReason::ALL.len());
    assert!(
        labels
            .iter()
            .all(|l| l.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
    );
}

#[test]
fn empty_and_whitespace_bodies_are_empty_for_every_protocol() {
    for p in Protocol::ALL {
        assert_eq!(reason(request(p, "")), DecodeReason::Empty, "{p}");
        assert_eq!(reason(response(p, " \n\t")), DecodeReason::Empty, "{p}");
    }
}

#[test]
fn truncated_json_is_truncated_not_malformed() {
    let body = r#"{"inputs":[{"name":"x","shape":[1,3],"datatype":"FP64","data":[9,60"#;
    for p in Protocol::ALL {
        assert_eq!(reason(request(p, body)), DecodeReason::Truncated, "{p}");
    }
}

#[test]
fn garbage_is_malformed_json() {
    for p in Protocol::ALL {
        assert_eq!(
            reason(request(p, "{not json}")),
            DecodeReason::MalformedJson,
            "{p}"
        );
    }
}

#[test]
fn multipart_and_foreign_charsets_are_unsupported_content_types() {
    let body = br#"{"instances":[[1,2]]}"#;
    let multipart = RequestMeta {
        content_type: Some("multipart/form-data; boundary=x"),
        ..Default::default()
    };
    let latin1 = RequestMeta {
        content_type: Some("application/json; charset=ISO-8859-1"),
        ..Default::default()
    };
    for meta in [multipart, latin1] {
        let err = decode_request(Protocol::KServeV1, &meta, body).unwrap_err();
        assert_eq!(err.reason(), DecodeReason::UnsupportedContentType);
    }
    // Lenient on the usual mislabels: curl's default form type still decodes as JSON.
    let curl = RequestMeta {
        content_type: Some("application/x-www-form-urlencoded"),
        ..Default::default()
    };
    assert!(decode_request(Protocol::KServeV1, &curl, body).is_ok());
}

#[test]
fn an_html_error_page_is_malformed_json_and_a_json_list_is_wrong_protocol() {
    let html = "<html><body>502 Bad Gateway</body></html>";
    for p in [
        Protocol::OpenInference,
        Protocol::KServeV1,
        Protocol::SeldonV1,
    ] {
        assert_eq!(
            reason(response(p, html)),
            DecodeReason::MalformedJson,
            "{p}"
        );
        assert_eq!(
            reason(request(p, "[1, 2]")),
            DecodeReason::WrongProtocol,
            "{p}"
        );
    }
}

#[test]
fn records_too_sparse_to_fill_are_too_large_not_quadratic_memory() {
    // Every record brings a new key: filling the others with nulls would need
    // rows × keys cells from a body that holds only `rows` values.
    let records: Vec<String> = (0..5000).map(|i| format!(r#"{{"k{i}":1}}"#)).collect();
    let body = format!("[{}]", records.join(","));
    assert_eq!(
        reason(request(Protocol::GenericJson, &body)),
        DecodeReason::TooLarge
    );
    // Ordinary sparsity (a few absent keys) is filled with `Missing`.
    let sparse = r#"[{"a":1,"b":2},{"a":3},{"b":4,"c":5}]"#;
    let batch = request(Protocol::GenericJson, sparse).unwrap();
    assert_eq!(
        values(&batch, 2),
        [Value::Missing, Value::Missing, num(5.0)]
    );
}
