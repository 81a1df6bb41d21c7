use super::*;

#[test]
fn paths_of_each_protocol() {
    let id = |p| {
        let i = from_path(p);
        (i.model, i.version)
    };
    assert_eq!(id("/v2/models/credit/infer"), (Some("credit"), None));
    assert_eq!(
        id("/v2/models/credit/versions/3/infer"),
        (Some("credit"), Some("3"))
    );
    assert_eq!(id("/v2/models/credit"), (Some("credit"), None));
    assert_eq!(id("/v1/models/credit:predict"), (Some("credit"), None));
    assert_eq!(
        id("/v1/models/credit/versions/7:predict"),
        (Some("credit"), Some("7"))
    );
    assert_eq!(
        id("/v1/models/credit/labels/stable:predict"),
        (Some("credit"), None)
    );
    assert_eq!(id("/predictions/resnet/2.0"), (Some("resnet"), Some("2.0")));
    assert_eq!(id("/invocations"), (None, None));
    assert_eq!(id("/v2/models//infer"), (None, None));
}

#[test]
fn label_safety() {
    assert!(is_label_safe("credit-v1.2_x"));
    assert!(!is_label_safe(""));
    assert!(!is_label_safe("a b"));
    assert!(!is_label_safe("{evil=\"1\"}"));
    assert!(!is_label_safe(&"x".repeat(65)));
}

#[test]
fn names_beyond_the_cap_collapse_into_other() {
    let interner = LabelInterner::new(3, 2);
    let mut distinct = std::collections::HashSet::new();
    for i in 0..1000 {
        let name = format!("model{i}");
        let labels = interner.labels(Some(&name), Some(&format!("{i}")));
        distinct.insert((labels.model.to_string(), labels.version.to_string()));
    }
    // 3 models × (2 versions + __other__) + the overflow bucket.
    assert!(distinct.len() <= 3 * 3 + 1, "{distinct:?}");
    assert!(distinct.contains(&(OTHER.to_string(), UNKNOWN.to_string())));
}

#[test]
fn known_names_keep_their_labels_and_unsafe_ones_do_not() {
    let interner = LabelInterner::new(2, 2);
    let a = interner.labels(Some("credit"), Some("3"));
    assert_eq!((&*a.model, &*a.version), ("credit", "3"));
    let b = interner.labels(Some("credit"), Some("3"));
    assert!(Arc::ptr_eq(&a.model, &b.model));
    let bad = interner.labels(Some("cr\"edit"), None);
    assert_eq!(&*bad.model, OTHER);
    let none = interner.labels(None, Some("9"));
    assert_eq!((&*none.model, &*none.version), (UNKNOWN, UNKNOWN));
    let unsafe_version = interner.labels(Some("credit"), Some("a/b"));
    assert_eq!(&*unsafe_version.version, OTHER);
}
