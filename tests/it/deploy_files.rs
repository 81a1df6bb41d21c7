//! The deployment files' health and state wiring, decoded from the files themselves:
//! every long-running compose service has a healthcheck and starts after what it needs is
//! healthy (or, for one-shot jobs, completed); the sidecar writes only to its own state
//! volume and reads the home read-only, in compose and in Kubernetes; the distroless
//! image's HEALTHCHECK is exec-form and runs `modelwatch healthcheck`.

use crate::metric_contract::read;
use serde_yaml_ng::Value;

/// Services no probe can run in, each with the reason (the compose file says it too).
const NO_HEALTHCHECK: &[(&str, &str)] = &[(
    "otel-collector",
    "the image has no shell and no HTTP client",
)];

fn is_one_shot(service: &Value) -> bool {
    service["restart"].as_str() == Some("no")
}

#[test]
fn every_compose_service_is_probed_and_waits_for_health() {
    let compose: Value = serde_yaml_ng::from_str(&read("compose/docker-compose.yml")).unwrap();
    let services = compose["services"].as_mapping().unwrap();
    let mut problems = Vec::new();
    for (name, service) in services {
        let name = name.as_str().unwrap();
        let exempt = NO_HEALTHCHECK.iter().any(|(n, _)| *n == name);
        let probed = service["healthcheck"]["test"].as_sequence().is_some();
        if !is_one_shot(service) && !exempt && !probed {
            problems.push(format!("{name}: no healthcheck"));
        }
        if let Some(test) = service["healthcheck"]["test"].as_sequence() {
            // Exec form: no shell in our image, and no quoting surprises in the others.
            if test.first().and_then(Value::as_str) != Some("CMD") {
                problems.push(format!("{name}: healthcheck is not exec form [\"CMD\", …]"));
            }
        }
        let Some(needs) = service["depends_on"].as_mapping() else {
            if service["depends_on"].as_sequence().is_some() {
                problems.push(format!("{name}: depends_on without conditions"));
            }
            continue;
        };
        for (dependency, how) in needs {
            let dependency = dependency.as_str().unwrap();
            let target = &services[dependency];
            let expected = if is_one_shot(target) {
                "service_completed_successfully"
            } else if NO_HEALTHCHECK.iter().any(|(n, _)| *n == dependency) {
                "service_started"
            } else {
                "service_healthy"
            };
            if how["condition"].as_str() != Some(expected) {
                problems.push(format!(
                    "{name}: depends on {dependency} with {:?}, want {expected}",
                    how["condition"]
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // modelwatch's own probes use its healthcheck subcommand on the right ports.
    for (name, url) in [
        ("model", "http://127.0.0.1:8000/v2/health/ready"),
        ("sidecar", "http://127.0.0.1:9090/readyz"),
    ] {
        let test: Vec<&str> = services[name]["healthcheck"]["test"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(
            test[1..3],
            ["/usr/local/bin/modelwatch", "healthcheck"],
            "{name}"
        );
        assert_eq!(test.last(), Some(&url), "{name}");
    }
}

#[test]
fn the_sidecar_reads_the_home_read_only_and_writes_only_its_state() {
    let compose: Value = serde_yaml_ng::from_str(&read("compose/docker-compose.yml")).unwrap();
    let sidecar = &compose["services"]["sidecar"];
    let state = sidecar["environment"]["MODELWATCH_STATE_DIR"]
        .as_str()
        .unwrap();
    let home = sidecar["environment"]["MODELWATCH_HOME"].as_str().unwrap();
    let mounts: Vec<&str> = sidecar["volumes"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        mounts.contains(&format!("modelwatch-home:{home}:ro").as_str()),
        "{mounts:?}"
    );
    assert!(
        mounts.contains(&format!("modelwatch-state:{state}").as_str()),
        "{mounts:?}"
    );
    assert!(compose["volumes"]["modelwatch-state"].is_mapping());
    assert_eq!(
        compose["services"]["model"]["volumes"][0].as_str(),
        Some(format!("modelwatch-home:{home}:ro").as_str())
    );

    let k8s: Value = serde_yaml_ng::from_str(&read("compose/k8s/deployment.yaml")).unwrap();
    let pod = &k8s["spec"]["template"]["spec"];
    let container = pod["containers"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "modelwatch")
        .unwrap();
    let env_state = container["env"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "MODELWATCH_STATE_DIR")
        .and_then(|e| e["value"].as_str())
        .expect("the sidecar sets MODELWATCH_STATE_DIR");
    let mounts = container["volumeMounts"].as_sequence().unwrap();
    let state_mount = mounts
        .iter()
        .find(|m| m["mountPath"].as_str() == Some(env_state))
        .expect("a volume at the state directory");
    assert_ne!(state_mount["readOnly"].as_bool(), Some(true));
    let volume = pod["volumes"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|v| v["name"] == state_mount["name"])
        .unwrap();
    assert!(volume["emptyDir"].is_mapping(), "{volume:?}");
    for mount in mounts
        .iter()
        .filter(|m| m["mountPath"].as_str() != Some(env_state))
    {
        assert_eq!(mount["readOnly"].as_bool(), Some(true), "{mount:?}");
    }
    assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/healthz");
}

#[test]
fn the_image_probes_itself_in_exec_form() {
    let dockerfile = read("compose/Dockerfile");
    let healthcheck = dockerfile
        .replace("\\\n", " ")
        .lines()
        .find(|l| l.starts_with("HEALTHCHECK"))
        .map(str::to_string)
        .expect("the Dockerfile has a HEALTHCHECK");
    let exec = healthcheck
        .split_once(" CMD ")
        .map(|(_, cmd)| cmd.trim())
        .expect("HEALTHCHECK ... CMD [...]");
    let argv: Vec<String> = serde_json::from_str(exec).expect("exec form: a JSON array");
    assert_eq!(argv[..2], ["/usr/local/bin/modelwatch", "healthcheck"]);
    assert_eq!(argv.last().unwrap(), "http://127.0.0.1:9090/readyz");
    assert!(dockerfile.contains("ENV MODELWATCH_STATE_DIR=/var/lib/modelwatch-state"));
}

/// The value following `flag` in a container's `args`.
fn flag<'a>(container: &'a Value, flag: &str) -> Option<&'a str> {
    let args = container["args"].as_sequence()?;
    let at = args.iter().position(|a| a.as_str() == Some(flag))?;
    args.get(at + 1)?.as_str()
}

/// The `Secret` behind the volume mounted at the directory holding `file`.
fn secret_of(pod: &Value, container: &Value, file: &str) -> Option<String> {
    let dir = std::path::Path::new(file).parent()?.to_str()?;
    let mount = container["volumeMounts"]
        .as_sequence()?
        .iter()
        .find(|m| m["mountPath"].as_str() == Some(dir))?;
    let volume = pod["volumes"]
        .as_sequence()?
        .iter()
        .find(|v| v["name"] == mount["name"])?;
    Some(volume["secret"]["secretName"].as_str()?.to_string())
}

#[test]
fn kubernetes_pods_read_the_one_registry_with_its_token() {
    let text = read("compose/k8s/registry.yaml");
    let objects: Vec<Value> = serde_yaml_ng::Deserializer::from_str(&text)
        .map(|d| <Value as serde::Deserialize>::deserialize(d).unwrap())
        .collect();
    let find = |kind: &str| objects.iter().find(|o| o["kind"] == kind).unwrap();
    let (registry, service) = (find("Deployment"), find("Service"));
    let registry_pod = &registry["spec"]["template"]["spec"];
    let server = &registry_pod["containers"][0];
    let server_args: Vec<&str> = server["args"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(server_args[..2], ["registry", "serve"]);
    let port = flag(server, "--listen")
        .and_then(|l| l.rsplit_once(':'))
        .unwrap()
        .1;
    // The URL the clients use: the registry's Service, on the port the server listens on.
    let url = format!(
        "http://{}:{}",
        service["metadata"]["name"].as_str().unwrap(),
        service["spec"]["ports"][0]["port"].as_u64().unwrap()
    );
    assert_eq!(
        service["spec"]["ports"][0]["port"]
            .as_u64()
            .unwrap()
            .to_string(),
        port
    );
    let token = secret_of(registry_pod, server, flag(server, "--token-file").unwrap())
        .expect("the registry's --token-file is in a Secret volume");

    let k8s: Value = serde_yaml_ng::from_str(&read("compose/k8s/deployment.yaml")).unwrap();
    let pod = &k8s["spec"]["template"]["spec"];
    for container in pod["containers"].as_sequence().unwrap() {
        let name = container["name"].as_str().unwrap();
        assert_eq!(
            flag(container, "--registry-url"),
            Some(url.as_str()),
            "{name}"
        );
        let file = flag(container, "--registry-token-file").expect(name);
        assert_eq!(
            secret_of(pod, container, file).as_ref(),
            Some(&token),
            "{name}"
        );
    }
    // No model pod trains or keeps a registry of its own.
    assert!(pod.get("initContainers").is_none_or(|inits| {
        inits
            .as_sequence()
            .unwrap()
            .iter()
            .all(|c| c["args"][0] == "healthcheck")
    }));
    for volume in pod["volumes"].as_sequence().unwrap() {
        assert!(volume.get("persistentVolumeClaim").is_none(), "{volume:?}");
    }
}
