use super::*;

#[test]
fn the_request_event_names_the_version_its_rows_were_attributed_to() {
    let mut exchange = crate::export::elasticsearch::tests::exchange("r1");
    exchange.labels.version = crate::traffic::identity::UNKNOWN.into();
    // Not analysed: the label as the proxy saw it.
    let plain = Decoded::default().event(&exchange, None);
    assert_eq!(plain.model_version, "unknown");
    // Analysed: the version the OIP body named, or the alias's current one.
    let attributed = Decoded {
        model_version: Some(Arc::from("2")),
        ..Decoded::default()
    };
    assert_eq!(attributed.event(&exchange, None).model_version, "2");
}
