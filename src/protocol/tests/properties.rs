//! Property tests: no input makes any decoder panic, and every success is a consistent
//! batch. Random bytes exercise the error paths; random token soups built from the
//! protocols' own keys and literals get past the JSON parser into the layout code.

use super::*;
use proptest::prelude::*;

/// Every decoder and every metadata variant that changes its path.
fn decode_everything(body: &[u8], header_len: usize) {
    let metas = [
        (None, None),
        (Some("text/csv"), None),
        (Some("application/octet-stream"), Some(header_len)),
    ];
    for protocol in Protocol::ALL {
        for (content_type, inference_header_len) in metas {
            let req = RequestMeta {
                content_type,
                inference_header_len,
            };
            check(decode_request(protocol, &req, body));
            let resp = ResponseMeta {
                content_type,
                inference_header_len,
            };
            check(decode_response(protocol, &resp, body));
        }
    }
    let _ = detect("/predict", None, body);
}

fn check(result: Result<Batch, DecodeError>) {
    if let Ok(batch) = result {
        assert!(batch.rows >= 1 && !batch.columns.is_empty(), "{batch:?}");
        assert!(
            batch.columns.iter().all(|c| c.values.len() == batch.rows),
            "{batch:?}"
        );
    }
}

/// JSON-ish text from the tokens the decoders look for.
fn token_soup() -> impl Strategy<Value = String> {
    let tokens = prop::sample::select(vec![
        "{",
        "}",
        "[",
        "]",
        ",",
        ":",
        "\"inputs\"",
        "\"outputs\"",
        "\"instances\"",
        "\"predictions\"",
        "\"name\"",
        "\"shape\"",
        "\"datatype\"",
        "\"data\"",
        "\"FP32\"",
        "\"BYTES\"",
        "\"BOOL\"",
        "\"parameters\"",
        "\"binary_data_size\"",
        "\"dataframe_split\"",
        "\"dataframe_records\"",
        "\"columns\"",
        "\"names\"",
        "\"ndarray\"",
        "\"tensor\"",
        "\"values\"",
        "\"b64\"",
        "\"x\"",
        "0",
        "1",
        "2",
        "3",
        "-1",
        "1e12",
        "0.5",
        "NaN",
        "Infinity",
        "-Infinity",
        "true",
        "null",
        "\"\\u0000NaN\"",
        "\"a\"",
        " ",
    ]);
    prop::collection::vec(tokens, 0..120).prop_map(|t| t.concat())
}

proptest! {
    #[test]
    fn random_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..512), len in 0usize..600) {
        decode_everything(&body, len);
    }

    #[test]
    fn token_soups_never_panic(body in token_soup(), len in 0usize..200) {
        decode_everything(body.as_bytes(), len);
    }

    #[test]
    fn well_formed_tensors_always_decode(rows in 1usize..20, width in 1usize..8, nested: bool) {
        let data: Vec<String> = (0..rows * width).map(|i| i.to_string()).collect();
        let data = if nested {
            let rows: Vec<String> = data.chunks(width).map(|r| format!("[{}]", r.join(","))).collect();
            rows.join(",")
        } else {
            data.join(",")
        };
        let body = format!(
            r#"{{"inputs":[{{"name":"x","shape":[{rows},{width}],"datatype":"INT32","data":[{data}]}}]}}"#
        );
        let batch = request(Protocol::OpenInference, &body).unwrap();
        prop_assert_eq!((batch.rows, batch.columns.len()), (rows, width));
        // Row-major in, column-major out: element (r, j) is r * width + j.
        prop_assert_eq!(&batch.columns[width - 1].values[rows - 1], &num((rows * width - 1) as f64));
    }
}
