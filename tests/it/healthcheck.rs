//! `modelwatch healthcheck URL`, what the distroless image's HEALTHCHECK runs: against a
//! real sidecar's admin port (alive, not ready), a closed port, a server that never
//! answers, and a bad URL.

use crate::support::proxy_process::{ProxyProcess, run_to_end};

fn healthcheck(args: &[&str]) -> (i32, String) {
    run_to_end(&[&["healthcheck"][..], args].concat(), &[])
}

#[test]
fn exit_0_only_for_a_2xx_answer() {
    // The upstream is a closed port: the sidecar is alive but not ready.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let proxy = ProxyProcess::start(&closed_url, &[]);
    let (code, err) = healthcheck(&[&proxy.admin_url("/healthz")]);
    assert_eq!(code, 0, "{err}");
    let (code, err) = healthcheck(&[&proxy.admin_url("/readyz")]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("answered 503"), "{err}");

    let (code, err) = healthcheck(&[&format!("{closed_url}/readyz")]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("could not reach"), "{err}");
}

#[test]
fn a_server_that_never_answers_fails_at_the_timeout() {
    // Accepts connections (the kernel's backlog) and never reads or writes.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/healthz", silent.local_addr().unwrap());
    let (code, err) = healthcheck(&["--timeout", "300ms", &url]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("did not answer within 300ms"), "{err}");
}

#[test]
fn a_url_that_is_not_http_is_a_usage_error() {
    for url in ["127.0.0.1:9090/readyz", "https://127.0.0.1:9090/readyz"] {
        let (code, err) = healthcheck(&[url]);
        assert_eq!(code, 2, "{err}");
        assert!(err.contains("is not an http:// URL"), "{err}");
    }
}
