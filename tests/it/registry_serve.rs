//! `modelwatch registry serve`: the registry read over HTTP by pods that do not hold the
//! home. What a client relies on: an alias resolves with an `ETag`, and a poll that sends
//! it back gets a bodiless `304` until the alias moves; a blob comes with its SHA-256 and
//! hashes to it; unknown names are a 404 naming them; datasets are not handed out; with
//! a token, a request without it gets 401. And the clients: `serve --registry-url` starts
//! from it; restarted while it is down, from what it cached, with a warning; without a
//! reachable registry and nothing cached, it fails with a clear error.

use super::follow_alias::two_versions;
use super::ml_support::*;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

const TOKEN: &str = "registry-test-token";

/// One raw HTTP/1.1 GET: (status, lower-cased head, body bytes, bytes on the wire).
fn get(addr: &str, path: &str, headers: &[(&str, &str)]) -> (u16, String, Vec<u8>, usize) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let extra: String = headers
        .iter()
        .map(|(k, v)| format!("{k}: {v}\r\n"))
        .collect();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\n{extra}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response head");
    let head = String::from_utf8_lossy(&response[..split]).to_ascii_lowercase();
    let body = response[split + 4..].to_vec();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, head, body, response.len())
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines()
        .find_map(|line| line.strip_prefix(&format!("{name}: ")))
        .map(str::trim)
}

fn bearer() -> (&'static str, String) {
    ("Authorization", format!("Bearer {TOKEN}"))
}

#[test]
fn registry_serve_resolves_with_validators_hands_out_checksummed_blobs_and_says_what_is_missing() {
    let (dir, home) = two_versions();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, format!("{TOKEN}\n")).unwrap();
    let registry = serve_with(
        &home,
        &[
            "registry",
            "serve",
            "--token-file",
            token_file.to_str().unwrap(),
        ],
    );
    let auth = bearer();
    let auth = [(auth.0, auth.1.as_str())];
    let production = "/v1/models/credit/versions/production";

    // Without the token: 401 and nothing else.
    let (status, head, body, _) = get(&registry.addr, production, &[]);
    assert_eq!(status, 401, "{head}");
    assert!(String::from_utf8_lossy(&body).contains("Bearer"));
    let (status, _, _, _) = get(&registry.addr, "/healthz", &[]);
    assert_eq!(status, 200, "the probe stays open");

    // Resolve: version 1, with a validator; the same validator back gives 304, no body.
    let (status, head, body, changed_bytes) = get(&registry.addr, production, &auth);
    assert_eq!(status, 200, "{head}");
    let version: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(version["version"], 1);
    let etag = header(&head, "etag").expect("an etag").to_string();
    let (status, head, body, unchanged_bytes) = get(
        &registry.addr,
        production,
        &[auth[0], ("If-None-Match", &etag)],
    );
    assert_eq!(status, 304, "{head}");
    assert!(body.is_empty());
    eprintln!(
        "alias poll over HTTP: {unchanged_bytes} bytes when unchanged (304), \
         {changed_bytes} when it answers (200)"
    );

    // Blobs: the artifact's bytes hash to the name and to the checksum header.
    for field in ["artifact_sha256", "profile_sha256"] {
        let sha = version[field].as_str().unwrap();
        let (status, head, body, _) = get(&registry.addr, &format!("/v1/blobs/{sha}"), &auth);
        assert_eq!(status, 200, "{field}: {head}");
        assert_eq!(hex::encode(Sha256::digest(&body)), sha);
        assert_eq!(header(&head, "x-checksum-sha256"), Some(sha));
    }
    // The training dataset is in the same blob store, and is not handed out.
    let datasets = json(&modelwatch(&home, &["dataset", "list", "--json"]));
    let dataset_sha = datasets[0]["sha256"].as_str().expect("a dataset hash");
    let (status, _, body, _) = get(&registry.addr, &format!("/v1/blobs/{dataset_sha}"), &auth);
    assert_eq!(status, 404);
    assert!(String::from_utf8_lossy(&body).contains("no model version"));

    // Unknown names: 404 with a JSON body naming them.
    let (status, _, body, _) = get(&registry.addr, "/v1/models/nope/versions/production", &auth);
    assert_eq!(status, 404);
    let said: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(said["model"], "nope");
    assert!(said["error"].as_str().unwrap().contains("nope"), "{said}");
    let (status, _, body, _) = get(&registry.addr, "/v1/models/credit/versions/canary", &auth);
    assert_eq!(status, 404);
    let said: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(said["ref"], "canary");
    assert!(said["error"].as_str().unwrap().contains("canary"), "{said}");

    // A promotion: the old validator no longer matches, and the answer is version 2.
    let out = modelwatch(
        &home,
        &["registry", "promote", "credit@2", "--alias", "production"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let (status, head, body, _) = get(
        &registry.addr,
        production,
        &[auth[0], ("If-None-Match", &etag)],
    );
    assert_eq!(status, 200, "{head}");
    let moved: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(moved["version"], 2);
    assert_ne!(header(&head, "etag"), Some(etag.as_str()));

    // `serve --registry-url` serves what the registry says, with the token from a file.
    let registry_url = format!("http://{}", registry.addr);
    let state = dir.path().join("serve-state");
    let empty_home = dir.path().join("no-home");
    let serve_remote = || {
        serve_with(
            &empty_home,
            &[
                "serve",
                "--model",
                "credit@production",
                "--registry-url",
                &registry_url,
                "--registry-token-file",
                token_file.to_str().unwrap(),
                "--state-dir",
                state.to_str().unwrap(),
            ],
        )
    };
    let remote = serve_remote();
    let (_, head, _) = http(&remote.addr, "GET", "/v2/models/credit", "", "");
    assert!(head.contains("x-model-version: 2"), "{head}");
    // Its artifact was cached in the state directory, under its hash.
    let artifact = moved["artifact_sha256"].as_str().unwrap();
    assert!(
        state
            .join("registry-cache")
            .join(&artifact[..2])
            .join(&artifact[2..])
            .is_file()
    );
    drop(remote);
    drop(registry);

    // Restarted while the registry is down, with its state directory: it starts from the
    // version it last resolved and the artifact it cached, and says so.
    let cold = serve_remote();
    let (_, head, _) = http(&cold.addr, "GET", "/v2/models/credit", "", "");
    assert!(head.contains("x-model-version: 2"), "{head}");
    let said = cold.log.lock().unwrap().clone();
    assert!(
        said.contains("warning: starting from credit@production = version 2 as last resolved")
            && said.contains(&format!("could not reach the registry at {registry_url}")),
        "{said}"
    );
    drop(cold);

    // No registry, nothing to start from: a clear error naming the URL.
    let started = Instant::now();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_modelwatch"))
        .args([
            "serve",
            "--model",
            "credit@production",
            "--listen",
            "127.0.0.1:0",
        ])
        .args(["--registry-url", "http://127.0.0.1:9", "--state-dir"])
        .arg(dir.path().join("other-state"))
        .env("MODELWATCH_HOME", &empty_home)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let said = text(&out.stderr);
    assert!(
        said.contains("could not reach the registry at http://127.0.0.1:9/v1/models/credit/versions/production"),
        "{said}"
    );
    eprintln!(
        "gave up on an unreachable registry after {:?}",
        started.elapsed()
    );
}

/// `--registry-url https://…`: a TLS front with a private CA made at test time
/// (`support::tls_front`, rcgen) in front of the real `registry serve`. With the CA file
/// the model server starts and follows the registry through it; without it the
/// certificate is refused with an error that names the flag; a CA file for a plain
/// http:// registry is a usage error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_reads_an_https_registry_trusting_its_ca_file() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    super::follow_alias::register(dir.path(), &home, 1, "production");
    let registry = serve_with(&home, &["registry", "serve", "--listen", "127.0.0.1:0"]);
    let front =
        crate::support::tls_front::TlsFront::start(&format!("http://{}", registry.addr)).await;
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &front.ca_pem).unwrap();
    let state = dir.path().join("state");
    let args = |extra: &[&str]| -> Vec<String> {
        let mut args = vec![
            "serve",
            "--model",
            "credit@production",
            "--registry-url",
            &front.url(),
        ]
        .into_iter()
        .map(String::from)
        .collect::<Vec<_>>();
        args.extend([
            "--state-dir".to_string(),
            state.to_str().unwrap().to_string(),
        ]);
        args.extend(extra.iter().map(|a| a.to_string()));
        args
    };

    let trusted = tokio::task::block_in_place(|| {
        let args = args(&["--registry-ca-file", ca.to_str().unwrap()]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        serve_with(&dir.path().join("no-home"), &args)
    });
    let (status, head, _, _) =
        tokio::task::block_in_place(|| get(&trusted.addr, "/v2/models/credit", &[]));
    assert_eq!(status, 200);
    assert_eq!(header(&head, "x-model-version"), Some("1"));
    assert!(
        !front.authorizations.lock().unwrap().is_empty(),
        "the model came through the TLS front"
    );
    drop(trusted);

    let refused = tokio::task::block_in_place(|| {
        let args = args(&[]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        modelwatch(&dir.path().join("no-home"), &args)
    });
    let stderr = text(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(&front.url()), "{stderr}");
    assert!(stderr.contains("--registry-ca-file"), "{stderr}");
    assert!(stderr.to_lowercase().contains("certificate"), "{stderr}");

    let plain = format!("http://{}", registry.addr);
    let mismatched = tokio::task::block_in_place(|| {
        modelwatch(
            &dir.path().join("no-home"),
            &[
                "serve",
                "--model",
                "credit@production",
                "--registry-url",
                &plain,
                "--registry-ca-file",
                ca.to_str().unwrap(),
                "--state-dir",
                state.to_str().unwrap(),
            ],
        )
    });
    let stderr = text(&mismatched.stderr);
    assert_eq!(mismatched.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("plain http://"), "{stderr}");
}
