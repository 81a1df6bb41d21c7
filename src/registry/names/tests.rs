use super::*;

#[test]
fn accepts_label_safe_names() {
    for name in [
        "credit",
        "credit_2024-q1",
        "a",
        "v1.2",
        &"x".repeat(MAX_NAME_LEN),
    ] {
        assert!(validate("dataset name", name).is_ok(), "{name}");
    }
}

#[test]
fn rejects_names_that_need_escaping_somewhere() {
    for name in [
        "",
        "-credit",
        ".hidden",
        "credit@v1",
        "a/b",
        "with space",
        "crédit",
        &"x".repeat(MAX_NAME_LEN + 1),
    ] {
        let err = validate("dataset name", name).unwrap_err();
        assert!(err.0.contains("dataset name"), "{err}");
    }
}
