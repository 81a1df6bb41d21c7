use super::access::{AdminAccess, Refusal, is_lifecycle};
use crate::config::admin::AdminConfig;
use http::HeaderMap;

fn access(token: Option<&str>, enable_lifecycle: bool, protect_metrics: bool) -> AdminAccess {
    let dir = tempfile::tempdir().unwrap();
    let token_file = token.map(|t| {
        let path = dir.path().join("token");
        std::fs::write(&path, format!("{t}\n")).unwrap();
        path
    });
    let config = AdminConfig {
        enable_lifecycle,
        token_file,
        protect_metrics,
    };
    AdminAccess::new(&config, &prometheus::Registry::new()).unwrap()
}

fn bearer(value: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(http::header::AUTHORIZATION, value.parse().unwrap());
    headers
}

#[test]
fn lifecycle_endpoints_are_off_unless_enabled() {
    let none = HeaderMap::new();
    assert!(is_lifecycle("/-/reload"));
    assert!(!is_lifecycle("/metrics"));
    let default = access(None, false, false);
    assert_eq!(
        default.check("/-/reload", &none),
        Err(Refusal::LifecycleDisabled)
    );
    for open in ["/healthz", "/readyz", "/metrics", "/api/v1/drift", "/nope"] {
        assert_eq!(default.check(open, &none), Ok(()), "{open}");
    }
    assert_eq!(access(None, true, false).check("/-/reload", &none), Ok(()));
}

#[test]
fn a_token_protects_all_but_the_probes_and_by_choice_the_metrics() {
    let none = HeaderMap::new();
    let locked = access(Some("s3cret-token"), true, false);
    for open in ["/healthz", "/readyz", "/metrics"] {
        assert_eq!(locked.check(open, &none), Ok(()), "{open}");
    }
    for closed in ["/api/v1/drift", "/-/reload", "/anything"] {
        assert_eq!(
            locked.check(closed, &none),
            Err(Refusal::MissingToken),
            "{closed}"
        );
        assert_eq!(
            locked.check(closed, &bearer("Bearer s3cret-tokeN")),
            Err(Refusal::WrongToken)
        );
        assert_eq!(
            locked.check(closed, &bearer("Bearer s3cret-token-and-more")),
            Err(Refusal::WrongToken)
        );
        assert_eq!(
            locked.check(closed, &bearer("Basic s3cret-token")),
            Err(Refusal::MissingToken)
        );
        assert_eq!(locked.check(closed, &bearer("Bearer s3cret-token")), Ok(()));
        assert_eq!(
            locked.check(closed, &bearer("bearer  s3cret-token ")),
            Ok(())
        );
    }
    let metrics_too = access(Some("s3cret-token"), false, true);
    assert_eq!(
        metrics_too.check("/metrics", &none),
        Err(Refusal::MissingToken)
    );
    assert_eq!(
        metrics_too.check("/metrics", &bearer("Bearer s3cret-token")),
        Ok(())
    );
    assert_eq!(metrics_too.check("/readyz", &none), Ok(()));
    // The right token does not open a disabled lifecycle endpoint.
    assert_eq!(
        metrics_too.check("/-/reload", &bearer("Bearer s3cret-token")),
        Err(Refusal::LifecycleDisabled)
    );
}

#[test]
fn a_token_file_without_a_token_is_a_usage_error_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty");
    std::fs::write(&empty, "\n").unwrap();
    for path in [empty, dir.path().join("missing")] {
        let config = AdminConfig {
            token_file: Some(path.clone()),
            ..Default::default()
        };
        let err = config.token().unwrap_err().0;
        assert!(err.contains("admin.token_file"), "{err}");
        assert!(err.contains(path.to_str().unwrap()), "{err}");
    }
    let mut problems = Vec::new();
    AdminConfig {
        protect_metrics: true,
        ..Default::default()
    }
    .validate(&mut problems);
    assert_eq!(problems.len(), 1);
    assert!(problems[0].contains("admin.token_file"), "{problems:?}");
}
