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
fn each_hop_by_hop_field_is_removed_on_its_own() {
    for name in HOP_BY_HOP {
        let mut h = map(&[
            ("content-type", "application/json"),
            (name.as_str(), "x"),
            ("x-request-id", "abc"),
        ]);
        strip_hop_by_hop(&mut h);
        let left: Vec<_> = h.keys().map(|k| k.as_str()).collect();
        assert_eq!(left, vec!["content-type", "x-request-id"], "{name}");
    }
    // Named in `Connection` in any case, with the fixed ones among the names.
    let mut h = map(&[
        ("Connection", "Keep-Alive, X-Hop , close"),
        ("keep-alive", "timeout=5"),
        ("x-hop", "1"),
        ("content-type", "application/json"),
    ]);
    strip_hop_by_hop(&mut h);
    let left: Vec<_> = h.keys().map(|k| k.as_str()).collect();
    assert_eq!(left, vec!["content-type"]);
    // A message with none is left as it was.
    let mut h = map(&[("content-type", "application/json"), ("te-extra", "1")]);
    strip_hop_by_hop(&mut h);
    assert_eq!(h.len(), 2);
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
    let client = ClientAddr::new("127.0.0.1".parse().unwrap());
    to_upstream(&mut h, &id, &client);
    assert_eq!(h["x-request-id"], "r1");
    assert_eq!(h["x-forwarded-host"], "sidecar:8080");
    assert_eq!(h["x-forwarded-for"], "10.0.0.1, 127.0.0.1");
    assert_eq!(h["x-forwarded-proto"], "http");
    assert!(!h.contains_key("host"));

    // Without a prior hop, the address alone; IPv6 in its canonical text.
    let client = ClientAddr::new("2001:db8::1".parse().unwrap());
    let mut h = map(&[("x-forwarded-proto", "https")]);
    to_upstream(&mut h, &id, &client);
    assert_eq!(h["x-forwarded-for"], "2001:db8::1");
    assert_eq!(h["x-forwarded-proto"], "https");
}

/// The removal by name of every hop-by-hop field this module did before its one-pass
/// check: the differential test below holds the new one to its result, order included.
fn strip_every_name(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
}

#[test]
fn the_one_pass_strip_leaves_exactly_what_removing_every_name_did() {
    let names = [
        "connection",
        "keep-alive",
        "te",
        "transfer-encoding",
        "upgrade",
        "proxy-authorization",
        "content-type",
        "x-hop",
        "x-request-id",
        "traceparent",
        "accept",
    ];
    let tokens = [
        "keep-alive",
        "Keep-Alive",
        "close",
        "x-hop",
        "X-Hop",
        "TE",
        " upgrade ",
        "",
    ];
    let mut rng = crate::random::SeededRng::new(9110);
    for case in 0..5_000 {
        let mut h = HeaderMap::new();
        for _ in 0..rng.below(8) {
            let name = names[rng.below(names.len() as u64) as usize];
            let value = if name == "connection" {
                (0..1 + rng.below(3))
                    .map(|_| tokens[rng.below(tokens.len() as u64) as usize])
                    .collect::<Vec<_>>()
                    .join(",")
            } else {
                format!("v{}", rng.below(100))
            };
            h.append(
                HeaderName::from_static(name),
                HeaderValue::from_str(&value).unwrap(),
            );
        }
        let (mut new, mut old) = (h.clone(), h.clone());
        strip_hop_by_hop(&mut new);
        strip_every_name(&mut old);
        let fields = |m: &HeaderMap| -> Vec<(String, Vec<u8>)> {
            m.iter()
                .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
                .collect()
        };
        assert_eq!(fields(&new), fields(&old), "case {case}: {h:?}");
    }
}
