use super::*;

/// Headers holding one `traceparent` value.
fn with_traceparent(value: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(&TRACEPARENT, HeaderValue::from_str(value).unwrap());
    headers
}

#[test]
fn the_trace_id_comes_from_a_valid_traceparent_only() {
    let trace = |value: &str| trace_id(&with_traceparent(value));
    let id = "4bf92f3577b34da6a3ce929d0e0e4736";
    assert_eq!(
        trace(&format!("00-{id}-00f067aa0ba902b7-01")).as_deref(),
        Some(id)
    );
    // A later version may carry more fields.
    assert_eq!(
        trace(&format!("01-{id}-00f067aa0ba902b7-01-extra")).as_deref(),
        Some(id)
    );
    for bad in [
        format!("00-{id}-00f067aa0ba902b7-01-extra"),
        format!("ff-{id}-00f067aa0ba902b7-01"),
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01".to_string(),
        format!("00-{id}-0000000000000000-01"),
        format!("00-{}-00f067aa0ba902b7-01", id.to_uppercase()),
        format!("00-{id}-00f067aa0ba902b7"),
        "garbage".to_string(),
    ] {
        assert_eq!(trace(&bad), None, "{bad}");
    }
    assert_eq!(trace_id(&HeaderMap::new()), None);
}
