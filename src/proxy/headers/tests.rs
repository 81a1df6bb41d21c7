use super::*;

fn map(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut m = HeaderMap::new();
    for (k, v) in pairs {
        m.append(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    m
}

#[test]
fn hop_by_hop_fields_and_those_named_in_connection_are_removed() {
    let mut h = map(&[
        ("connection", "keep-alive, x-secret-hop"),
        ("keep-alive", "timeout=5"),
        ("x-secret-hop", "1"),
        ("transfer-encoding", "chunked"),
        ("upgrade", "h2c"),
        (
            "traceparent",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        ),
        ("content-type", "application/json"),
    ]);
    strip_hop_by_hop(&mut h);
    let left: Vec<_> = h.keys().map(|k| k.as_str()).collect();
    assert_eq!(left, vec!["traceparent", "content-type"]);
}

#[test]
fn a_sane_client_request_id_is_kept_and_a_bad_one_replaced() {
    let kept = request_id(&map(&[("x-request-id", "abc-123")]));
    assert_eq!(kept, "abc-123");
    for bad in ["", "has space", &"x".repeat(129)] {
        let mut h = HeaderMap::new();
        h.insert(&REQUEST_ID, HeaderValue::from_str(bad).unwrap());
        let id = request_id(&h);
        let parsed = uuid::Uuid::parse_str(id.to_str().unwrap()).unwrap();
        assert_eq!(parsed.get_version_num(), 7, "{bad:?} → {id:?}");
    }
}

#[test]
fn upstream_headers_carry_forwarding_information() {
    let mut h = map(&[("host", "sidecar:8080"), ("x-forwarded-for", "10.0.0.1")]);
    let id = HeaderValue::from_static("r1");
    to_upstream(&mut h, &id, "127.0.0.1".parse().unwrap());
    assert_eq!(h["x-request-id"], "r1");
    assert_eq!(h["x-forwarded-host"], "sidecar:8080");
    assert_eq!(h["x-forwarded-for"], "10.0.0.1, 127.0.0.1");
    assert_eq!(h["x-forwarded-proto"], "http");
    assert!(!h.contains_key("host"));
}
