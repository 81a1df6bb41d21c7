use super::*;
use serde_json::json;

#[test]
fn the_form_follows_the_content_type_then_the_first_byte() {
    assert_eq!(Form::of(Some("text/csv; charset=utf-8"), b"[]"), Form::Csv);
    assert_eq!(Form::of(Some("application/x-ndjson"), b"{}"), Form::Ndjson);
    assert_eq!(Form::of(Some("application/json"), b" [ ]"), Form::JsonArray);
    assert_eq!(Form::of(Some("application/json"), b"{}\n{}"), Form::Ndjson);
    assert_eq!(Form::of(None, b"\n[]"), Form::JsonArray);
    assert_eq!(Form::of(None, b"request_id,label\n"), Form::Csv);
}

#[test]
fn the_three_forms_give_the_same_items() {
    let json = br#"[{"request_id": "a", "label": 1}, {"request_id": "b", "label": "no", "timestamp": "2026-01-01T00:00:00Z"}]"#;
    let ndjson = b"{\"request_id\": \"a\", \"label\": 1}\n\n{\"request_id\": \"b\", \"label\": \"no\", \"timestamp\": 1767225600}\n";
    let csv = b"request_id,label,timestamp\na,1,\nb,no,2026-01-01T00:00:00Z\n";
    for (form, body) in [
        (Form::JsonArray, &json[..]),
        (Form::Ndjson, &ndjson[..]),
        (Form::Csv, &csv[..]),
    ] {
        let (items, problems) = parse(form, body).unwrap();
        assert!(problems.is_empty(), "{form:?}: {problems:?}");
        let got: Vec<_> = items
            .iter()
            .map(|i| (i.request_id.as_str(), i.labels.clone(), i.timestamp_ms))
            .collect();
        assert_eq!(
            got,
            [
                ("a", Labels::One(json!(1)), None),
                ("b", Labels::One(json!("no")), Some(1_767_225_600_000)),
            ],
            "{form:?}"
        );
    }
}

#[test]
fn a_bad_item_is_reported_with_its_line_and_the_rest_is_kept() {
    let body = b"{\"request_id\": \"a\", \"label\": 1}\n{\"request_id\": \"b\"}\nnot json\n{\"request_id\": \"c\", \"labels\": {\"p\": 0.5}, \"row\": 2}\n";
    let (items, problems) = parse(Form::Ndjson, body).unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[1].row, 2);
    let lines: Vec<_> = problems.iter().map(|p| p.at).collect();
    assert_eq!(lines, [At::Line(2), At::Line(3)]);
    assert!(problems[0].reason.contains("no label"), "{problems:?}");
    assert_eq!(problems[0].request_id.as_deref(), Some("b"));

    let csv = b"request_id,label\na,1\n,2\nc,\n";
    let (items, problems) = parse(Form::Csv, csv).unwrap();
    assert_eq!(items.len(), 1);
    let lines: Vec<_> = problems.iter().map(|p| p.at).collect();
    assert_eq!(lines, [At::Line(3), At::Line(4)]);
}

#[test]
fn an_unreadable_body_names_the_line() {
    let err = parse(
        Form::JsonArray,
        b"[\n{\"request_id\": \"a\", \"label\": 1},\n{oops}\n]",
    )
    .unwrap_err();
    assert_eq!(err.line, 3, "{err}");
    let err = parse(Form::Csv, b"id,value\na,1\n").unwrap_err();
    assert_eq!(err.line, 1);
    assert!(err.message.contains("request_id and label"), "{err}");
}

#[test]
fn labels_must_name_outputs_of_the_prediction() {
    let outputs = ["label".to_string(), "probability".to_string()];
    let (items, _) = parse(
        Form::Ndjson,
        b"{\"request_id\": \"a\", \"labels\": {\"label\": \"yes\"}}\n{\"request_id\": \"b\", \"labels\": {\"price\": 3}}\n{\"request_id\": \"c\", \"label\": [1]}\n",
    )
    .unwrap();
    assert_eq!(
        items[0].label_for(&outputs).unwrap(),
        serde_json::Map::from_iter([("label".to_string(), json!("yes"))])
    );
    assert!(items[1].label_for(&outputs).unwrap_err().contains("price"));
    assert!(items[2].label_for(&outputs).is_err());
}

#[test]
fn a_uuid_v7_request_id_tells_when_the_request_was_made() {
    let id = uuid::Uuid::now_v7().to_string();
    let item = FeedbackItem {
        at: At::Line(1),
        request_id: id,
        row: 0,
        labels: Labels::One(json!(1)),
        timestamp_ms: None,
    };
    let made = item.request_time_ms().unwrap();
    assert!((crate::quality::store::now_ms() - made).abs() < 60_000);
    let client_id = FeedbackItem {
        request_id: "order-17".into(),
        ..item
    };
    assert_eq!(client_id.request_time_ms(), None);
}
