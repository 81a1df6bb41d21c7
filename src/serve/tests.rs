//! Unit tests of request decoding: shapes, names and the errors a client sees.

use super::decode::{csv_rows, mlflow_json_rows, oip_rows};
use crate::profile::schema::ColumnKind;
use crate::train::table::{FeatureSpec, RawValue};
use serde_json::json;

fn features() -> Vec<FeatureSpec> {
    vec![
        FeatureSpec {
            name: "Age".into(),
            kind: ColumnKind::Numeric,
        },
        FeatureSpec {
            name: "Home".into(),
            kind: ColumnKind::Categorical,
        },
    ]
}

#[test]
fn one_tensor_maps_columns_in_feature_order_flat_or_nested() {
    let f = features();
    let nested = json!({"inputs": [{"name": "x", "shape": [2, 2], "datatype": "BYTES", "data": [[30, "rent"], [null, "owner"]]}]});
    let flat = json!({"inputs": [{"name": "x", "shape": [2, 2], "datatype": "BYTES", "data": [30, "rent", null, "owner"]}]});
    let expected = vec![
        vec![RawValue::Number(30.0), RawValue::Text("rent".into())],
        vec![RawValue::Missing, RawValue::Text("owner".into())],
    ];
    assert_eq!(oip_rows(&nested, &f).unwrap(), expected);
    assert_eq!(oip_rows(&flat, &f).unwrap(), expected);
}

#[test]
fn named_tensors_map_by_feature_name_in_any_order() {
    let body = json!({"inputs": [
        {"name": "Home", "shape": [1], "datatype": "BYTES", "data": ["rent"]},
        {"name": "Age", "shape": [1, 1], "datatype": "FP64", "data": [[41.5]]},
    ]});
    assert_eq!(
        oip_rows(&body, &features()).unwrap(),
        vec![vec![RawValue::Number(41.5), RawValue::Text("rent".into())]]
    );
}

#[test]
fn oip_errors_name_what_is_wrong() {
    let f = features();
    let wrong_width =
        json!({"inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP64", "data": [1, 2, 3]}]});
    assert!(
        oip_rows(&wrong_width, &f)
            .unwrap_err()
            .0
            .contains("the model takes 2 features: Age, Home")
    );
    let short =
        json!({"inputs": [{"name": "x", "shape": [2, 2], "datatype": "FP64", "data": [1, 2, 3]}]});
    assert!(
        oip_rows(&short, &f)
            .unwrap_err()
            .0
            .contains("needs 4 values, data has 3")
    );
    let missing =
        json!({"inputs": [{"name": "Age", "shape": [1], "datatype": "FP64", "data": [1]}]});
    assert!(
        oip_rows(&missing, &f)
            .unwrap_err()
            .0
            .contains("no input named \"Home\"")
    );
    let text_in_numeric = json!({"inputs": [{"name": "x", "shape": [1, 2], "datatype": "BYTES", "data": ["old", "rent"]}]});
    assert_eq!(
        oip_rows(&text_in_numeric, &f).unwrap_err().0,
        "row 0, column \"Age\": expected a number, got \"old\""
    );
}

#[test]
fn mlflow_formats_decode_to_the_same_rows() {
    let f = features();
    let expected = vec![vec![RawValue::Number(30.0), RawValue::Text("rent".into())]];
    for body in [
        json!({"dataframe_split": {"columns": ["Home", "Age", "Extra"], "data": [["rent", 30, 1]]}}),
        json!({"dataframe_records": [{"Age": 30, "Home": "rent"}]}),
        json!({"instances": [{"Age": 30, "Home": "rent"}]}),
        json!({"instances": [[30, "rent"]]}),
        json!({"inputs": {"Age": [30], "Home": ["rent"]}}),
    ] {
        assert_eq!(mlflow_json_rows(&body, &f).unwrap(), expected, "{body}");
    }
    assert_eq!(csv_rows(b"Home,Age\nrent,30\n", &f).unwrap(), expected);
    let two = json!({"instances": [], "inputs": []});
    assert!(
        mlflow_json_rows(&two, &f)
            .unwrap_err()
            .0
            .contains("exactly one of")
    );
    let absent = json!({"dataframe_records": [{"Age": 30}]});
    assert_eq!(
        mlflow_json_rows(&absent, &f).unwrap_err().0,
        "row 0, column \"Home\": missing; send null for a missing value"
    );
}
