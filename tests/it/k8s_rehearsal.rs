//! The Kubernetes example (`compose/k8s/*.yaml`) rehearsed for real: every Deployment's
//! pod runs as the kubelet would run it (`support::container`: the pod's non-root user,
//! each container's exact `args` and `env`, a read-only root where the manifest asks for
//! one, each volume with its mode), read from the manifests themselves.
//!
//! The pods start at once, each on a thread of its own, in no particular order: a failed
//! init container is run again, as the kubelet does, so `wait-for-registry` holds the
//! model pod until the registry pod's pipeline has filled the claim and it answers.
//! Then, with traffic flowing through the sidecar: a second version is registered, promoted
//! and rolled back as `registry.yaml`'s header says (`kubectl exec` into the registry), and
//! both the model server and the sidecar follow with no failed request; the containers
//! stay within their memory limits; and the model pod is deleted (SIGTERM to both of its
//! containers at once) without failing a request of the clients still sent to it.
//!
//! What stands in for the cluster, and why:
//! - A `persistentVolumeClaim` is one directory shared by every pod that mounts it; an
//!   `emptyDir` a fresh one per pod; a `secret` a directory of its keys (root-owned, mode
//!   0644, as the kubelet projects them), made here the way `registry.yaml`'s header tells
//!   the user to create it.
//! - Service names resolve to 127.0.0.1 in every container (the pods share this machine's
//!   loopback), so a Service must forward to the same port number it listens on. For the
//!   same reason one replica of each Deployment runs.
//! - `kubectl exec` is a new container with the target container's user, environment
//!   and volumes, running the command given.

use crate::deploy_rehearsal::{PORTS, engine, http_get, json, replay, strings, wait_until};
use crate::support::container::{Container, Engine, Mount, Running};
use crate::support::metrics_text::{parse, value};
use serde::Deserialize;
use serde_yaml_ng::Value as Yaml;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The Secrets the manifests mount, with their keys: the user creates them (the header of
/// `compose/k8s/registry.yaml` says how); the rehearsal makes them the same way.
const SECRETS: &[(&str, &str)] = &[("modelwatch-registry-token", "token")];

/// Every object of every `compose/k8s/*.yaml`, in file order.
fn manifests() -> Vec<Yaml> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(Path::new(ROOT).join("compose/k8s"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    let mut objects = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for document in serde_yaml_ng::Deserializer::from_str(&text) {
            let object = Yaml::deserialize(document).unwrap();
            if !object.is_null() {
                objects.push(object);
            }
        }
    }
    objects
}

fn of_kind<'a>(objects: &'a [Yaml], kind: &str) -> Vec<&'a Yaml> {
    objects.iter().filter(|o| o["kind"] == kind).collect()
}

/// `512Mi`, `1Gi`, `128M` in bytes.
fn quantity(text: &str) -> u64 {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let unit = match unit {
        "" => 1,
        "Ki" => 1 << 10,
        "Mi" => 1 << 20,
        "Gi" => 1 << 30,
        "k" => 1_000,
        "M" => 1_000_000,
        "G" => 1_000_000_000,
        other => panic!("memory quantity {text:?}: unit {other:?} is not rehearsed"),
    };
    number.parse::<u64>().unwrap() * unit
}

/// A container of a pod, with what the rehearsal checks about it.
struct PodContainer {
    container: Container,
    /// `http://127.0.0.1:PORT/PATH` of its readiness probe.
    ready_url: Option<String>,
    memory_limit: Option<u64>,
}

/// One replica of a Deployment's pod, ready to start.
struct Pod {
    name: String,
    /// `terminationGracePeriodSeconds` (the kubelet's default 30 when unset).
    termination_grace: u64,
    inits: Vec<Container>,
    containers: Vec<PodContainer>,
}

/// The pod of `deployment`: volumes mapped as the module doc says.
fn pod(engine: &Engine, deployment: &Yaml, secrets: &Path) -> Pod {
    let name = deployment["metadata"]["name"].as_str().unwrap().to_string();
    let spec = &deployment["spec"]["template"]["spec"];
    let security = &spec["securityContext"];
    assert!(
        security["runAsNonRoot"].as_bool() == Some(true),
        "{name}: the pod runs as non-root"
    );
    let pod_user = security["runAsUser"].as_u64().map(|u| {
        (
            u as u32,
            security["runAsGroup"].as_u64().unwrap_or(u) as u32,
        )
    });
    let volumes: Vec<(String, PathBuf)> = spec["volumes"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|v| {
            let volume = v["name"].as_str().unwrap();
            let source = if v.get("emptyDir").is_some() {
                engine.volume(&format!("{name}-{volume}"))
            } else if let Some(claim) = v["persistentVolumeClaim"]["claimName"].as_str() {
                engine.volume(&format!("claim-{claim}"))
            } else if let Some(secret) = v["secret"]["secretName"].as_str() {
                let dir = secrets.join(secret);
                assert!(
                    dir.is_dir(),
                    "{name}: Secret {secret} is not one the rehearsal makes (SECRETS)"
                );
                dir
            } else {
                panic!("{name}: volume {volume}: only emptyDir, persistentVolumeClaim and secret are rehearsed")
            };
            (volume.to_string(), source)
        })
        .collect();
    let container = |c: &Yaml| -> Container {
        let mounts = c["volumeMounts"]
            .as_sequence()
            .map(|m| {
                m.iter()
                    .map(|m| Mount {
                        source: volumes
                            .iter()
                            .find(|(n, _)| n == m["name"].as_str().unwrap())
                            .expect("a declared volume")
                            .1
                            .clone(),
                        target: m["mountPath"].as_str().unwrap().to_string(),
                        read_only: m["readOnly"].as_bool().unwrap_or(false),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let env = c["env"]
            .as_sequence()
            .map(|e| {
                e.iter()
                    .map(|e| {
                        (
                            e["name"].as_str().unwrap().to_string(),
                            e["value"].as_str().unwrap_or_default().to_string(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        let user = c["securityContext"]["runAsUser"]
            .as_u64()
            .map(|u| (u as u32, u as u32))
            .or(pod_user);
        Container {
            name: format!("{name}-{}", c["name"].as_str().unwrap()),
            args: strings(&c["args"]),
            env,
            mounts,
            user,
            read_only_root: c["securityContext"]["readOnlyRootFilesystem"]
                .as_bool()
                .unwrap_or(false),
        }
    };
    let inits = spec["initContainers"]
        .as_sequence()
        .map(|s| s.iter().map(container).collect())
        .unwrap_or_default();
    let containers = spec["containers"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|c| {
            let probe = &c["readinessProbe"]["httpGet"];
            let ready_url = probe.get("path").map(|path| {
                let port = match &probe["port"] {
                    Yaml::Number(n) => n.as_u64().unwrap(),
                    Yaml::String(port) => c["ports"]
                        .as_sequence()
                        .unwrap()
                        .iter()
                        .find(|p| p["name"].as_str() == Some(port))
                        .and_then(|p| p["containerPort"].as_u64())
                        .expect("a named port"),
                    other => panic!("probe port {other:?}"),
                };
                format!("http://127.0.0.1:{port}{}", path.as_str().unwrap())
            });
            PodContainer {
                container: container(c),
                ready_url,
                memory_limit: c["resources"]["limits"]["memory"].as_str().map(quantity),
            }
        })
        .collect();
    Pod {
        name,
        termination_grace: spec["terminationGracePeriodSeconds"].as_u64().unwrap_or(30),
        inits,
        containers,
    }
}

/// Starts `pod` as the kubelet does: each init container to success in turn (a failed one
/// is run again), then the containers, each until its readiness probe answers 2xx.
fn start(engine: &Engine, pod: &Pod) -> Vec<Running> {
    let deadline = Instant::now() + Duration::from_secs(600);
    for init in &pod.inits {
        loop {
            let mut running = engine.start(init);
            let status = running
                .wait(Duration::from_secs(600))
                .expect("the init container finished");
            if status.success() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{} kept failing:\n{}",
                init.name,
                running.log()
            );
            // The kubelet's back-off before it runs a failed init container again.
            std::thread::sleep(Duration::from_millis(500));
        }
    }
    let mut started = Vec::new();
    for c in &pod.containers {
        let container = &c.container;
        assert!(
            container.read_only_root,
            "{}: readOnlyRootFilesystem",
            container.name
        );
        let mut running = engine.start(container);
        if let Some(url) = &c.ready_url {
            wait_until(
                &format!("{} ready ({url})", container.name),
                &mut running,
                &String::new,
                || http_get(url).is_some_and(|(code, _)| (200..300).contains(&code)),
            );
        }
        started.push(running);
    }
    started
}

/// Makes each Secret of [`SECRETS`] as `kubectl create secret generic NAME
/// --from-literal=KEY=$(openssl rand -hex 32)` would: a random token per key.
fn make_secrets(dir: &Path) {
    for (name, key) in SECRETS {
        let secret = dir.join(name);
        std::fs::create_dir_all(&secret).unwrap();
        let mut bytes = [0u8; 32];
        std::io::Read::read_exact(
            &mut std::fs::File::open("/dev/urandom").unwrap(),
            &mut bytes,
        )
        .unwrap();
        let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        std::fs::write(secret.join(key), token).unwrap();
    }
}

/// `kubectl exec` into `target`: `args` run in a container with its user, environment
/// and volumes (plus `extra` mounts); returns its log once it succeeded.
fn exec(engine: &Engine, target: &Container, args: &[&str], extra: &[Mount]) -> String {
    let mut command = target.clone();
    command.name = format!("{}-exec-{}", target.name, args.join("-").replace('/', "_"));
    command.args = args.iter().map(|a| a.to_string()).collect();
    command.mounts.extend_from_slice(extra);
    let mut running = engine.start(&command);
    let status = running
        .wait(Duration::from_secs(600))
        .expect("the command finished");
    assert!(status.success(), "{args:?} failed:\n{}", running.log());
    running.log()
}

fn by_name(running: &[Running], name: &str) -> usize {
    running.iter().position(|r| r.name == name).unwrap()
}

/// The version the model server answers with (`X-Model-Version` of its model metadata).
fn serving_version() -> Option<String> {
    let out = std::process::Command::new("curl")
        .args(["-s", "-m", "5", "-D", "-", "-o", "/dev/null"])
        .arg("http://127.0.0.1:8000/v2/models/credit")
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout).lines().find_map(|l| {
        l.to_ascii_lowercase()
            .strip_prefix("x-model-version:")
            .map(|v| v.trim().to_string())
    })
}

/// The sidecar compares `version`'s traffic with `version`'s own profile: in
/// `/api/v1/drift`, and in `modelwatch_reference_info`. `Err` says what it shows instead.
fn sidecar_compares(version: &str) -> Result<(), String> {
    let report = json("http://127.0.0.1:9090/api/v1/drift").unwrap_or_default();
    let models = report["models"].as_array().cloned().unwrap_or_default();
    let in_report = models.iter().any(|m| {
        m["model_version"] == version
            && m["reference"]["version"] == version
            && m["reference"]["spec"] == "credit@production"
    });
    let metrics = http_get("http://127.0.0.1:9090/metrics")
        .unwrap_or_default()
        .1;
    let info = value(
        &parse(&metrics),
        "modelwatch_reference_info",
        &[
            ("model", "credit"),
            ("model_version", version),
            ("reference", "credit@production"),
            ("reference_version", version),
        ],
    );
    if in_report && info == Some(1.0) {
        Ok(())
    } else {
        let seen: Vec<_> = models
            .iter()
            .map(|m| (&m["model_version"], &m["reference"]["version"]))
            .collect();
        Err(format!(
            "report (version, reference): {seen:?}; reference_info: {info:?}"
        ))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kubernetes_pods_share_one_registry_and_follow_its_promotions() {
    let _ports = PORTS.lock().await;
    let dir = crate::live_drift::TempDir::new("k8s");
    let objects = manifests();
    // Every Service name resolves to the loopback, where its pod listens on the same port.
    let mut hosts: Vec<String> = vec!["otel-collector.observability".into()];
    for service in of_kind(&objects, "Service") {
        hosts.push(service["metadata"]["name"].as_str().unwrap().to_string());
    }
    let hosts: Vec<&str> = hosts.iter().map(String::as_str).collect();
    let engine = engine(&dir.0, &hosts);
    let secrets = dir.0.join("secrets");
    make_secrets(&secrets);
    let pods: Vec<Pod> = of_kind(&objects, "Deployment")
        .into_iter()
        .map(|d| pod(&engine, d, &secrets))
        .collect();
    let names: Vec<&str> = pods.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        ["credit-model", "modelwatch-registry"],
        "the example's pods"
    );

    // All pods at once, as `kubectl apply -f compose/k8s/` starts them.
    let engine = &engine;
    let mut running: Vec<Running> = std::thread::scope(|scope| {
        let started: Vec<_> = pods
            .iter()
            .map(|pod| scope.spawn(move || start(engine, pod)))
            .collect();
        started
            .into_iter()
            .flat_map(|s| s.join().expect("a pod started"))
            .collect()
    });
    let registry_container = &pods[1].containers[0].container;

    // Traffic enters at the sidecar's port, as the Service sends it.
    let summary = replay("http://127.0.0.1:8080", 4, &[]);
    assert_eq!(summary["errors"], 0, "{summary}");
    let (_, metrics) = http_get("http://127.0.0.1:9090/metrics").unwrap();
    assert!(
        metrics.contains("modelwatch_requests_total"),
        "the sidecar counts the traffic"
    );
    assert_eq!(serving_version().as_deref(), Some("1"));
    let sidecar = by_name(&running, "credit-model-modelwatch");
    wait_until(
        "the sidecar compares version 1 with its own profile",
        &mut running[sidecar],
        &|| format!("{:?}", sidecar_compares("1")),
        || sidecar_compares("1").is_ok(),
    );

    // A second version, registered as `staging` where the registry pod writes the home
    // (a stand-in for the user's training pipeline, with a pipeline file of its own).
    let pipeline = engine.volume("pipeline-v2");
    std::fs::write(
        pipeline.join("pipeline.toml"),
        "[dataset]\nname = \"credit\"\nfile = \"/opt/modelwatch/examples/credit/credit_data.csv\"\n\
         target = \"Status\"\n\n[model]\nname = \"credit\"\nalias = \"staging\"\n\n\
         [train]\nseed = 7\npositive_class = \"bad\"\n\n[validate]\nfolds = 2\npermutation_repeats = 1\n",
    )
    .unwrap();
    exec(
        engine,
        registry_container,
        &[
            "pipeline",
            "run",
            "/opt/modelwatch/pipeline-v2/pipeline.toml",
        ],
        &[Mount {
            source: pipeline,
            target: "/opt/modelwatch/pipeline-v2".into(),
            read_only: true,
        }],
    );

    // Traffic through the sidecar the whole time, in back-to-back replays, until told to
    // stop: the promotion and the rollback must not fail one request.
    let stop = Arc::new(AtomicBool::new(false));
    let client = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let (mut sent, mut errors) = (0, 0);
            while !stop.load(Ordering::Relaxed) {
                let summary = replay("http://127.0.0.1:8080", 1, &[]);
                sent += summary["sent"].as_u64().unwrap();
                errors += summary["errors"].as_u64().unwrap();
            }
            (sent, errors)
        })
    };
    // As the header of registry.yaml says: `kubectl exec deploy/modelwatch-registry -c
    // registry -- modelwatch registry promote …`.
    for (step, command, from, to) in [
        (
            "promotion",
            &["registry", "promote", "credit@2", "--alias", "production"][..],
            "1",
            "2",
        ),
        (
            "rollback",
            &["registry", "rollback", "credit", "--alias", "production"][..],
            "2",
            "1",
        ),
    ] {
        let sidecar_log = running[sidecar].log_file();
        let sidecar_moves = || {
            std::fs::read_to_string(&sidecar_log)
                .unwrap_or_default()
                .lines()
                .filter(|l| {
                    l.contains("the model reference moved to another version")
                        && l.contains(&format!("from={from} to={to}"))
                })
                .count()
        };
        let moves_before = sidecar_moves();
        exec(engine, registry_container, command, &[]);
        let moved = Instant::now();
        let model = by_name(&running, "credit-model-model");
        wait_until(
            &format!("{step}: the model server serves version {to}"),
            &mut running[model],
            &|| format!("serving {:?}", serving_version()),
            || serving_version().as_deref() == Some(to),
        );
        let serve_took = moved.elapsed();
        wait_until(
            &format!("{step}: the sidecar switches its reference to version {to}"),
            &mut running[sidecar],
            &String::new,
            || sidecar_moves() > moves_before,
        );
        let sidecar_took = moved.elapsed();
        wait_until(
            &format!("{step}: the sidecar compares version {to} with its profile"),
            &mut running[sidecar],
            &|| format!("{:?}", sidecar_compares(to)),
            || sidecar_compares(to).is_ok(),
        );
        eprintln!(
            "{step}: after the alias moved, serve answered with {to} in {serve_took:?}, the \
             sidecar switched its reference in {sidecar_took:?} and showed it in \
             /api/v1/drift in {:?} (after an evaluation of version {to}'s traffic)",
            moved.elapsed()
        );
    }
    stop.store(true, Ordering::Relaxed);
    let (sent, errors) = client.join().unwrap();
    assert!(sent > 0);
    assert_eq!(
        errors, 0,
        "{errors} of {sent} requests failed across the promotion and rollback"
    );

    // The memory limits hold what the containers used (a debug build, which takes more
    // than the release build the image ships).
    let limits: Vec<(&str, Option<u64>)> = pods
        .iter()
        .flat_map(|p| &p.containers)
        .map(|c| (c.container.name.as_str(), c.memory_limit))
        .collect();
    for (name, limit) in limits {
        let r = &running[by_name(&running, name)];
        let peak = r.peak_rss().expect("the container is still running");
        eprintln!(
            "{name}: peak RSS {:.1} MiB (limit {:?} MiB)",
            peak as f64 / 1048576.0,
            limit.map(|l| l >> 20)
        );
        let limit = limit.unwrap_or_else(|| panic!("{name}: no memory limit"));
        assert!(
            peak < limit,
            "{name}: peak RSS {peak} B over its limit {limit} B"
        );
    }
    for r in &mut running {
        assert!(r.exited().is_none(), "{} exited:\n{}", r.name, r.log());
    }

    // The model pod is deleted while traffic flows: the kubelet sends SIGTERM to both
    // containers at once. Clients keep coming for a while (the endpoints controller takes
    // the pod out of the Service meanwhile): here for half the sidecar's shutdown delay.
    let model_pod = &pods[0];
    let sidecar_env = &model_pod.containers[1].container.env;
    let delay = sidecar_env
        .iter()
        .find(|(k, _)| k == "MODELWATCH__PROXY__SHUTDOWN_DELAY")
        .map(|(_, v)| humantime::parse_duration(v).unwrap())
        .expect("the sidecar sets proxy.shutdown_delay");
    let grace = Duration::from_secs(model_pod.termination_grace);
    let requests = || {
        let metrics = http_get("http://127.0.0.1:9090/metrics")
            .unwrap_or_default()
            .1;
        parse(&metrics)
            .iter()
            .filter(|s| s.name == "modelwatch_requests_total")
            .map(|s| s.value)
            .sum::<f64>()
    };
    let before = requests();
    let late_clients = std::thread::spawn(move || {
        replay(
            "http://127.0.0.1:8080",
            (delay.as_secs() as u32 / 2).max(1),
            &[],
        )
    });
    wait_until(
        "the late clients' first requests reach the sidecar",
        &mut running[sidecar],
        &String::new,
        || requests() > before,
    );
    let stopping: Vec<usize> = model_pod
        .containers
        .iter()
        .map(|c| by_name(&running, &c.container.name))
        .collect();
    for &at in &stopping {
        running[at].terminate();
    }
    let summary = late_clients.join().unwrap();
    assert!(summary["sent"].as_u64().unwrap() > 0, "{summary}");
    assert_eq!(
        summary["errors"], 0,
        "requests failed while the pod shut down: {summary}"
    );
    for at in stopping {
        let r = &mut running[at];
        let status = r.wait(grace);
        assert!(
            status.is_some_and(|s| s.success()),
            "{} did not stop cleanly within terminationGracePeriodSeconds ({grace:?}): \
             {status:?}\n{}",
            r.name,
            r.log()
        );
    }
}
