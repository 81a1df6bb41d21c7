use super::*;

fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn defaults_are_the_documented_ones() {
    let c = Config::load(None, &HashMap::new(), &Overrides::default()).unwrap();
    assert_eq!(c.proxy.listen, "0.0.0.0:8080");
    assert_eq!(c.proxy.admin_listen, "0.0.0.0:9090");
    assert_eq!(c.proxy.drain_timeout, Duration::from_secs(25));
    assert_eq!(c.proxy.upstream, None);
}

#[test]
fn layers_apply_file_then_env_then_flags() {
    let dir = std::env::temp_dir().join(format!("mw-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("modelwatch.toml");
    std::fs::write(
        &file,
        "[proxy]\nupstream = \"http://file:1\"\nlisten = \"127.0.0.1:1000\"\nresponse_timeout = \"3s\"\n",
    )
    .unwrap();
    let c = Config::load(
        Some(&file),
        &env(&[
            ("MODELWATCH__PROXY__LISTEN", "127.0.0.1:2000"),
            ("MODELWATCH__PROXY__MAX_HEADERS", "50"),
            ("OTHER__PROXY__LISTEN", "ignored"),
        ]),
        &Overrides(vec![("proxy.upstream", Some("http://flag:2".into()))]),
    )
    .unwrap();
    assert_eq!(c.proxy.upstream.as_deref(), Some("http://flag:2"));
    assert_eq!(c.proxy.listen, "127.0.0.1:2000");
    assert_eq!(c.proxy.max_headers, 50);
    assert_eq!(c.proxy.response_timeout, Duration::from_secs(3));
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn a_misspelled_key_is_named() {
    let dir = std::env::temp_dir().join(format!("mw-config-typo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("bad.toml");
    std::fs::write(&file, "[proxy]\nupstreem = \"http://x:1\"\n").unwrap();
    let err = Config::load(Some(&file), &HashMap::new(), &Overrides::default()).unwrap_err();
    assert!(err.0.contains("upstreem"), "{}", err.0);
    assert!(err.0.contains("bad.toml"), "{}", err.0);
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn a_wrong_type_in_the_environment_names_the_key() {
    let err = Config::load(
        None,
        &env(&[("MODELWATCH__PROXY__RESPONSE_TIMEOUT", "soon")]),
        &Overrides::default(),
    )
    .unwrap_err();
    assert!(err.0.contains("response_timeout"), "{}", err.0);
}

#[test]
fn validation_reports_every_problem_at_once() {
    let mut c = Config::default();
    c.proxy.upstream = Some("https://model:8443".into());
    c.proxy.listen = "nowhere".into();
    c.proxy.connect_timeout = Duration::ZERO;
    c.model.name = Some("has space".into());
    let err = c.validate_proxy().unwrap_err().0;
    assert!(
        err.contains("proxy.upstream = \"https://model:8443\" uses https"),
        "{err}"
    );
    assert!(err.contains("proxy.listen = \"nowhere\""), "{err}");
    assert!(err.contains("proxy.connect_timeout is 0"), "{err}");
    assert!(err.contains("model.name = \"has space\""), "{err}");
}

#[test]
fn the_prediction_store_needs_analysed_traffic() {
    let mut c = Config::default();
    c.proxy.upstream = Some("http://model:8000".into());
    c.quality.enabled = true;
    let err = c.validate_proxy().unwrap_err().0;
    assert!(
        err.contains("quality.enabled is on but no traffic is analysed"),
        "{err}"
    );
    c.analysis.reference = Some("credit@production".into());
    c.validate_proxy().unwrap();
}

#[test]
fn a_missing_upstream_says_which_flag_to_pass() {
    let err = Config::default().validate_proxy().unwrap_err().0;
    assert!(err.contains("--upstream http://HOST:PORT"), "{err}");
}

#[test]
fn upstream_urls() {
    assert_eq!(parse_upstream("http://127.0.0.1:8000").unwrap().port, 8000);
    assert_eq!(parse_upstream("http://model/").unwrap().port, 80);
    assert!(parse_upstream("http://model:1/v2").is_err());
    assert!(parse_upstream("model:8000").is_err());
}

#[test]
fn drift_alarm_settings_are_checked_and_read_from_the_environment() {
    let c = Config::load(
        None,
        &env(&[
            ("MODELWATCH__ANALYSIS__CORRECTION", "bonferroni"),
            ("MODELWATCH__ANALYSIS__PERSISTENCE", "3/5"),
        ]),
        &Overrides::default(),
    )
    .unwrap();
    assert_eq!(c.analysis.correction, "bonferroni");
    assert_eq!(c.analysis.persistence, "3/5");
    let defaults = AnalysisConfig::default();
    assert_eq!(defaults.correction, DEFAULT_CORRECTION);
    assert_eq!(defaults.persistence, DEFAULT_PERSISTENCE);

    let mut c = Config::default();
    c.proxy.upstream = Some("http://model:8000".into());
    c.analysis.correction = "fdr".into();
    c.analysis.persistence = "4/3".into();
    let err = c.validate_proxy().unwrap_err().0;
    assert!(
        err.contains("analysis.correction = \"fdr\" is not known: use none, bonferroni"),
        "{err}"
    );
    assert!(
        err.contains("analysis.persistence = \"4/3\" is not K/N"),
        "{err}"
    );
}

#[test]
fn the_state_dir_comes_from_the_file_then_modelwatch_state_dir_then_the_flag() {
    let none = Config::load(None, &HashMap::new(), &Overrides::default()).unwrap();
    assert_eq!(none.state_dir(), Path::new(".modelwatch-state"));
    let es = &none.export.elasticsearch;
    assert_eq!(
        es.spool_path(&none.state_dir()),
        Path::new(".modelwatch-state/spool/elasticsearch")
    );
    assert_eq!(
        es.dead_letter_path(&none.state_dir()),
        Path::new(".modelwatch-state/dead-letter.ndjson")
    );

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("modelwatch.toml");
    std::fs::write(&file, "state_dir = \"/from/file\"\n").unwrap();
    let load = |vars: &[(&str, &str)], flag: Option<&str>| {
        Config::load(
            Some(&file),
            &env(vars),
            &Overrides(vec![("state_dir", flag.map(str::to_string))]),
        )
        .unwrap()
        .state_dir()
    };
    assert_eq!(load(&[], None), Path::new("/from/file"));
    let state_env = [("MODELWATCH_STATE_DIR", "/from/env")];
    assert_eq!(load(&state_env, None), Path::new("/from/env"));
    assert_eq!(
        load(&state_env, Some("/from/flag")),
        Path::new("/from/flag")
    );
    // MODELWATCH_HOME is the registry, never the state.
    assert_eq!(
        load(&[("MODELWATCH_HOME", "/home")], None),
        Path::new("/from/file")
    );
}

#[test]
fn an_explicit_spool_dir_wins_over_the_state_dir() {
    let c = Config::load(
        None,
        &env(&[
            ("MODELWATCH_STATE_DIR", "/state"),
            ("MODELWATCH__EXPORT__ELASTICSEARCH__SPOOL_DIR", "/spool"),
        ]),
        &Overrides::default(),
    )
    .unwrap();
    assert_eq!(
        c.export.elasticsearch.spool_path(&c.state_dir()),
        Path::new("/spool")
    );
}

#[test]
fn the_reference_poll_is_a_positive_duration_named_when_wrong() {
    let load = |value: &str| {
        Config::load(
            None,
            &HashMap::new(),
            &Overrides(vec![("analysis.reference_poll", Some(value.into()))]),
        )
    };
    let defaults = Config::load(None, &HashMap::new(), &Overrides::default()).unwrap();
    assert_eq!(defaults.analysis.reference_poll, Duration::from_secs(1));
    assert_eq!(
        load("250ms").unwrap().analysis.reference_poll,
        Duration::from_millis(250)
    );
    let err = load("soon").unwrap_err().0;
    assert!(err.contains("reference_poll"), "{err}");
    let mut zero = load("0s").unwrap();
    zero.proxy.upstream = Some("http://model:8000".into());
    let err = zero.validate_proxy().unwrap_err().0;
    assert!(err.contains("analysis.reference_poll"), "{err}");
}

#[test]
fn the_otel_variables_of_the_given_environment_reach_the_config() {
    // The sidecar reads its OpenTelemetry settings from here, not from the process
    // environment: an embedder's map is the whole truth.
    let c = Config::load(
        None,
        &env(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
            ("OTEL_SERVICE_NAME", "credit-sidecar"),
            ("MODELWATCH__PROXY__LISTEN", "127.0.0.1:2000"),
            ("PATH", "/usr/bin"),
        ]),
        &Overrides::default(),
    )
    .unwrap();
    assert_eq!(
        c.otel_env,
        env(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
            ("OTEL_SERVICE_NAME", "credit-sidecar"),
        ])
    );
    assert_eq!(c.home(), Path::new(DEFAULT_HOME));
}
