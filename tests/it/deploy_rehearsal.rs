//! The deployment files rehearsed for real: the modelwatch containers of
//! `compose/docker-compose.yml` (here) and `compose/k8s/` (`k8s_rehearsal`) run as a container engine
//! would run them (`support::container`: the image's non-root user and entrypoint, each
//! volume with its mode, a read-only root where the manifest asks for one), with the
//! exact commands, arguments and environment read from the files themselves, so the files
//! cannot drift from what is tested.
//!
//! Around them run the real services of the stack: Prometheus loaded with
//! `compose/prometheus.yml`'s scrape job and the shipped rules, Alertmanager with
//! `alerts/alertmanager.yml`, and the test's OpenSearch node standing in for
//! Elasticsearch. What the test changes, and why:
//! - Prometheus's scrape and evaluation intervals become 1 s and every rule's `for:` 2 s,
//!   so that an alert fires within the test instead of after 30 minutes.
//! - `elasticsearch:9200` and `otel-collector:4318` are loopback forwarders to the test's
//!   OpenSearch node and OpenTelemetry Collector, which run on ports of their own (the
//!   stand-in for compose's network; the names resolve to 127.0.0.1 in every container).
//! - The alert receiver (`alert-receiver:5001` in compose, a small Python server there) is
//!   the test's own HTTP server on the same address.
//!
//! The compose and Kubernetes rehearsals (`k8s_rehearsal`) use the files' fixed ports
//! (8000, 8080, 9090, …), so they run one at a time.

use crate::prometheus_live::{Service, shipped_rules_with_for_2s};
use crate::support::container::{Container, Engine, Image, Mount, Running, quote};
use crate::support::upstream::{Upstream, free_loopback_port};
use serde_json::Value;
use serde_yaml_ng::Value as Yaml;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The deployment files' fixed ports: one rehearsal at a time. An async lock, as the
/// rehearsal awaits while holding it (and a failed rehearsal poisons nothing).
pub(crate) static PORTS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

pub(crate) fn yaml(path: &str) -> Yaml {
    let text = std::fs::read_to_string(Path::new(ROOT).join(path)).unwrap();
    let mut value: Yaml = serde_yaml_ng::from_str(&text).unwrap();
    value.apply_merge().unwrap();
    value
}

pub(crate) fn strings(value: &Yaml) -> Vec<String> {
    value
        .as_sequence()
        .map(|s| {
            s.iter()
                .map(|v| match v {
                    Yaml::String(s) => s.clone(),
                    other => serde_yaml_ng::to_string(other).unwrap().trim().to_string(),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A compose service as a container: `command`, `environment`, `volumes` (named volumes
/// from `volumes`, bind mounts relative to the compose file), `user`, `read_only`.
fn compose_container(engine: &Engine, compose: &Yaml, name: &str) -> Container {
    let service = &compose["services"][name];
    assert!(
        service["image"].as_str() == Some("modelwatch:local"),
        "{name} is not a modelwatch container"
    );
    let env = service["environment"]
        .as_mapping()
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    let v = match v {
                        Yaml::String(s) => s.clone(),
                        other => serde_yaml_ng::to_string(other).unwrap().trim().to_string(),
                    };
                    (k.as_str().unwrap().to_string(), v)
                })
                .collect()
        })
        .unwrap_or_default();
    let mounts = strings(&service["volumes"])
        .iter()
        .map(|spec| {
            let parts: Vec<&str> = spec.split(':').collect();
            let source = if parts[0].starts_with('.') || parts[0].starts_with('/') {
                Path::new(ROOT).join("compose").join(parts[0])
            } else {
                assert!(
                    compose["volumes"].get(parts[0]).is_some(),
                    "{name}: volume {} is not declared",
                    parts[0]
                );
                engine.volume(parts[0])
            };
            Mount {
                source,
                target: parts[1].to_string(),
                read_only: parts.get(2) == Some(&"ro"),
            }
        })
        .collect();
    let user = service["user"].as_str().map(|u| {
        let (uid, gid) = u.split_once(':').unwrap_or((u, u));
        (uid.parse().unwrap(), gid.parse().unwrap())
    });
    Container {
        name: name.to_string(),
        args: strings(&service["command"]),
        env,
        mounts,
        user,
        read_only_root: service["read_only"].as_bool().unwrap_or(false),
    }
}

/// The exec-form health check compose declares for `name`.
fn compose_healthcheck(compose: &Yaml, name: &str) -> Vec<String> {
    let test = strings(&compose["services"][name]["healthcheck"]["test"]);
    assert!(
        test.first().map(String::as_str) == Some("CMD"),
        "{name} needs an exec-form healthcheck (`test: [\"CMD\", …]`): the image has no shell"
    );
    test[1..].to_vec()
}

/// Waits until `check` holds, polling; panics with `what`, the container's log and
/// `context()` (what else helps to see why).
pub(crate) fn wait_until(
    what: &str,
    container: &mut Running,
    context: &dyn Fn() -> String,
    mut check: impl FnMut() -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        if check() {
            return;
        }
        if let Some(status) = container.exited() {
            panic!(
                "{what}: {} exited ({status}); its log:\n{}\n{}",
                container.name,
                container.log(),
                context()
            );
        }
        assert!(
            Instant::now() < deadline,
            "{what}: not within 180 s; {}'s log:\n{}\n{}",
            container.name,
            container.log(),
            context()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Forwards `127.0.0.1:port` to `target` (`host:port`), on a thread of its own.
fn forward(port: u16, target: String) {
    let listener = std::net::TcpListener::bind(("127.0.0.1", port))
        .unwrap_or_else(|e| panic!("port {port} (from the deployment files) is taken: {e}"));
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let Ok(server) = std::net::TcpStream::connect(&target) else {
                continue;
            };
            let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            std::thread::spawn(move || pipe(client, server));
            std::thread::spawn(move || pipe(s2, c2));
        }
    });
}

fn pipe(mut from: std::net::TcpStream, mut to: std::net::TcpStream) {
    let _ = std::io::copy(&mut from, &mut to);
    let _ = to.shutdown(std::net::Shutdown::Write);
}

pub(crate) fn http_get(url: &str) -> Option<(u16, String)> {
    let out = Command::new("curl")
        .args(["-s", "-m", "5", "-o", "-", "-w", "\n%{http_code}", url])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n')?;
    Some((code.parse().ok()?, body.to_string()))
}

pub(crate) fn json(url: &str) -> Option<Value> {
    http_get(url).and_then(|(_, body)| serde_json::from_str(&body).ok())
}

fn host_port(url: &str) -> String {
    url.trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string()
}

/// Real Prometheus (compose/prometheus.yml, intervals 1 s, rules with `for: 2s`) and
/// Alertmanager (alerts/alertmanager.yml) in mount namespaces whose `/etc/hosts` knows the
/// stack's names. Returns the Prometheus URL.
fn start_prometheus_and_alertmanager(dir: &Path, hosts: &Path) -> (String, Service, Service) {
    std::fs::write(dir.join("rules.yml"), shipped_rules_with_for_2s()).unwrap();
    let mut config = yaml("compose/prometheus.yml");
    config["global"]["scrape_interval"] = Yaml::from("1s");
    config["global"]["evaluation_interval"] = Yaml::from("1s");
    let rule_files = strings(&config["rule_files"]);
    assert_eq!(
        rule_files.len(),
        1,
        "one rule file in compose/prometheus.yml"
    );
    std::fs::write(
        dir.join("prometheus.yml"),
        serde_yaml_ng::to_string(&config).unwrap(),
    )
    .unwrap();
    let prom_port = free_loopback_port();
    // Binds the rules where the compose file mounts them, and the hosts file.
    let in_namespace = |binary: &str, args: Vec<String>, extra: &str, log: &str| {
        let script = format!(
            "set -e\nmount --bind {hosts} /etc/hosts\n{extra}\nexec {binary} \"$@\"",
            hosts = quote(&hosts.to_string_lossy())
        );
        let log = std::fs::File::create(dir.join(log)).unwrap();
        Service(
            Command::new("unshare")
                .args([
                    "--mount",
                    "--propagation",
                    "private",
                    "--",
                    "sh",
                    "-c",
                    &script,
                    binary,
                ])
                .args(args)
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .unwrap(),
        )
    };
    let rules_dir = Path::new(&rule_files[0]).parent().unwrap().to_owned();
    let alertmanager = in_namespace(
        "prometheus-alertmanager",
        vec![
            format!(
                "--config.file={}",
                Path::new(ROOT).join("alerts/alertmanager.yml").display()
            ),
            format!("--storage.path={}", dir.join("am-data").display()),
            "--web.listen-address=127.0.0.1:9093".into(),
            "--cluster.listen-address=".into(),
        ],
        "",
        "alertmanager.log",
    );
    let prometheus = in_namespace(
        "prometheus",
        vec![
            format!("--config.file={}", dir.join("prometheus.yml").display()),
            format!("--storage.tsdb.path={}", dir.join("prom-data").display()),
            format!("--web.listen-address=127.0.0.1:{prom_port}"),
        ],
        &format!(
            "mount -t tmpfs rules {parent}\nmkdir -p {d}\ntouch {f}\nmount --bind {src} {f}",
            parent = quote(&rules_dir.parent().unwrap().to_string_lossy()),
            d = quote(&rules_dir.to_string_lossy()),
            f = quote(&rule_files[0]),
            src = quote(&dir.join("rules.yml").to_string_lossy())
        ),
        "prometheus.log",
    );
    (
        format!("http://127.0.0.1:{prom_port}"),
        prometheus,
        alertmanager,
    )
}

pub(crate) fn engine(dir: &Path, hosts: &[&str]) -> Engine {
    Engine {
        image: Image::from_dockerfile(Path::new(ROOT)),
        binary: PathBuf::from(env!("CARGO_BIN_EXE_modelwatch")),
        dir: dir.to_path_buf(),
        hosts: hosts.iter().map(|h| h.to_string()).collect(),
    }
}

/// Replays the credit dataset through the sidecar with `modelwatch replay`; returns its
/// JSON summary.
pub(crate) fn replay(target: &str, seconds: u32, drift: &[&str]) -> Value {
    let mut command = Command::new(env!("CARGO_BIN_EXE_modelwatch"));
    command.args([
        "replay",
        "--target",
        target,
        "--dataset",
        &format!("{ROOT}/examples/credit/credit_data.csv"),
        "--drop",
        "Status",
        "--rate",
        "50",
        "--batch",
        "20",
        "--duration",
        &format!("{seconds}s"),
        "--json",
    ]);
    for spec in drift {
        command.args(["--drift", spec]);
    }
    let out = command.output().unwrap();
    assert!(
        out.status.success(),
        "replay failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_compose_stack_starts_read_only_and_is_watched() {
    let _ports = PORTS.lock().await;
    let opensearch = std::env::var("OPENSEARCH_URL")
        .expect("OPENSEARCH_URL: run through tests/run.sh, which starts the OpenSearch node");
    let collector = std::env::var("OTELCOL_HTTP_ENDPOINT").expect(
        "OTELCOL_HTTP_ENDPOINT: run through tests/run.sh, which starts the OpenTelemetry Collector",
    );
    let dir = crate::live_drift::TempDir::new("compose");
    let compose = yaml("compose/docker-compose.yml");
    let engine = engine(
        &dir.0,
        &[
            "model",
            "sidecar",
            "elasticsearch",
            "otel-collector",
            "alertmanager",
            "alert-receiver",
            "prometheus",
        ],
    );
    forward(9200, host_port(&opensearch));
    forward(4318, host_port(&collector));
    // The notifications Alertmanager sends to `alert-receiver:5001`.
    let (_receiver, notifications) = Upstream::collecting_json_on("127.0.0.1:5001").await;

    // modelwatch-init: the pipeline writes the registry into the shared volume.
    let init = compose_container(&engine, &compose, "modelwatch-init");
    let mut running = engine.start(&init);
    let status = running
        .wait(Duration::from_secs(600))
        .expect("the pipeline finished");
    assert!(
        status.success(),
        "modelwatch-init failed:\n{}",
        running.log()
    );

    // model and sidecar mount the registry read-only and must become healthy, checked by
    // their own compose health checks.
    let mut containers = Vec::new();
    for name in ["model", "sidecar"] {
        let container = compose_container(&engine, &compose, name);
        assert!(
            container
                .mounts
                .iter()
                .any(|m| m.target == "/var/lib/modelwatch" && m.read_only),
            "{name} mounts the registry read-only"
        );
        let check = compose_healthcheck(&compose, name);
        let mut running = engine.start(&container);
        wait_until(
            &format!("{name} healthy"),
            &mut running,
            &String::new,
            || engine.exec_check(&container, &check),
        );
        containers.push(running);
    }
    let hosts = dir.0.join("hosts");
    let (prom, _prometheus, _alertmanager) = start_prometheus_and_alertmanager(&dir.0, &hosts);

    // Clean traffic through the sidecar: every request answered.
    let summary = replay("http://127.0.0.1:8080", 6, &[]);
    assert_eq!(summary["errors"], 0, "{summary}");
    let sent = summary["sent"].as_u64().unwrap();
    assert!(sent > 0, "{summary}");

    // It shows in Prometheus, through compose/prometheus.yml's scrape job…
    let query = format!(
        "{prom}/api/v1/query?query=sum(modelwatch_requests_total%7Bjob%3D%22modelwatch%22%7D)"
    );
    let prometheus_state = || {
        format!(
            "Prometheus targets: {}\nPrometheus log:\n{}\nAlertmanager log:\n{}",
            json(&format!("{prom}/api/v1/targets")).unwrap_or_default(),
            std::fs::read_to_string(dir.0.join("prometheus.log")).unwrap_or_default(),
            std::fs::read_to_string(dir.0.join("alertmanager.log")).unwrap_or_default(),
        )
    };
    wait_until(
        "requests in Prometheus",
        &mut containers[1],
        &prometheus_state,
        || {
            json(&query).is_some_and(|v| {
                v["data"]["result"][0]["value"][1]
                    .as_str()
                    .and_then(|s| s.parse::<f64>().ok())
                    .is_some_and(|n| n >= sent as f64)
            })
        },
    );
    // …and every request event reaches OpenSearch.
    let count = format!("{opensearch}/logs-modelwatch.inference-default/_count");
    wait_until(
        "request events in OpenSearch",
        &mut containers[1],
        &|| json(&count).unwrap_or_default().to_string(),
        || json(&count).is_some_and(|v| v["count"].as_u64().is_some_and(|n| n >= sent)),
    );

    // Drift: incomes tripled; ModelwatchFeatureDrift reaches the receiver through the
    // real Alertmanager.
    let summary = replay("http://127.0.0.1:8080", 10, &["Income*3"]);
    assert_eq!(summary["errors"], 0, "{summary}");
    wait_until(
        "ModelwatchFeatureDrift at the receiver",
        &mut containers[1],
        &prometheus_state,
        || {
            notifications.lock().unwrap().iter().any(|n| {
                n["alerts"].as_array().is_some_and(|a| {
                    a.iter().any(|x| {
                        x["labels"]["alertname"] == "ModelwatchFeatureDrift"
                            && x["labels"]["feature"] == "Income"
                            && x["status"] == "firing"
                    })
                })
            })
        },
    );
}
