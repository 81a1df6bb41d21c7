//! Runs modelwatch's own containers the way a container engine would, without one: the
//! image's user, working directory, environment and entrypoint from `compose/Dockerfile`,
//! a private mount namespace (`unshare --mount`) holding the image's files, each volume
//! bound at its path with its mode (read-only where the deployment file says so), a
//! read-only root where the manifest asks for one, and the process started as the
//! image's non-root user (`setpriv`). Only the network is the host's loopback: service
//! names (`model`, `elasticsearch`, …) resolve to 127.0.0.1 through the namespace's own
//! `/etc/hosts`, so the ports in the deployment files must be free on this machine.
//!
//! Needs root (to make namespaces and mounts), as CI and `tests/run.sh` run.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use super::child_process::{kill_and_reap, send_sigterm, wait_for_exit};

/// What the final stage of `compose/Dockerfile` says about the runtime image.
#[derive(Clone, Debug)]
pub struct Image {
    pub uid: u32,
    pub gid: u32,
    pub workdir: String,
    pub env: Vec<(String, String)>,
    /// The entrypoint's program (the binary's path in the image).
    pub entrypoint: String,
    /// `COPY` destinations of the runtime stage, with the repository path they come from
    /// (`None` for what the build stage made: the binary, empty directories).
    pub copies: Vec<(String, Option<PathBuf>)>,
}

impl Image {
    /// Reads `compose/Dockerfile`: `USER`, `WORKDIR`, `ENV`, `ENTRYPOINT` and `COPY` of the
    /// last stage.
    pub fn from_dockerfile(repo: &Path) -> Image {
        let text = std::fs::read_to_string(repo.join("compose/Dockerfile")).unwrap();
        let runtime = text
            .rsplit_once("\nFROM ")
            .expect("the Dockerfile has a runtime stage")
            .1;
        let mut image = Image {
            uid: 0,
            gid: 0,
            workdir: "/".into(),
            // What every image gets from the engine and distroless.
            env: vec![
                (
                    "PATH".into(),
                    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into(),
                ),
                ("HOME".into(), "/home/nonroot".into()),
            ],
            entrypoint: String::new(),
            copies: Vec::new(),
        };
        for line in logical_lines(runtime) {
            let (instruction, rest) = line.split_once(' ').unwrap_or((&line, ""));
            let rest = rest.trim();
            match instruction {
                "USER" => {
                    let (u, g) = rest.split_once(':').unwrap_or((rest, rest));
                    image.uid = u.parse().expect("USER is numeric");
                    image.gid = g.parse().expect("USER group is numeric");
                }
                "WORKDIR" => image.workdir = rest.to_string(),
                "ENV" => {
                    let (k, v) = rest.split_once('=').expect("ENV KEY=VALUE");
                    image
                        .env
                        .push((k.to_string(), v.trim_matches('"').to_string()));
                }
                "ENTRYPOINT" => {
                    let list: Vec<String> =
                        serde_json::from_str(rest).expect("exec-form ENTRYPOINT");
                    image.entrypoint = list[0].clone();
                }
                "COPY" => {
                    let words: Vec<&str> = rest
                        .split_whitespace()
                        .filter(|w| !w.starts_with("--chown") && !w.starts_with("--chmod"))
                        .collect();
                    let (from_build, words) = match words.first() {
                        Some(w) if w.starts_with("--from") => (true, &words[1..]),
                        _ => (false, &words[..]),
                    };
                    let destination = words.last().unwrap().to_string();
                    let source = (!from_build).then(|| repo.join(words[0]));
                    image.copies.push((destination, source));
                }
                _ => {}
            }
        }
        assert!(
            image.uid != 0 && !image.entrypoint.is_empty(),
            "the runtime image must set a non-root USER and an ENTRYPOINT"
        );
        image
    }
}

/// Dockerfile lines with `\` continuations joined and comments dropped.
fn logical_lines(text: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || (trimmed.is_empty() && current.is_empty()) {
            continue;
        }
        if let Some(head) = trimmed.strip_suffix('\\') {
            current.push_str(head);
            current.push(' ');
        } else {
            current.push_str(trimmed);
            lines.push(std::mem::take(&mut current));
        }
    }
    lines
}

/// A volume mounted into a container.
#[derive(Clone, Debug)]
pub struct Mount {
    /// The host directory standing in for the volume.
    pub source: PathBuf,
    pub target: String,
    pub read_only: bool,
}

/// One container to run.
#[derive(Clone, Debug)]
pub struct Container {
    pub name: String,
    /// The arguments after the entrypoint (`command` in compose, `args` in Kubernetes).
    pub args: Vec<String>,
    /// The deployment file's environment, on top of the image's.
    pub env: Vec<(String, String)>,
    pub mounts: Vec<Mount>,
    /// The user to run as, when the deployment file overrides the image's.
    pub user: Option<(u32, u32)>,
    pub read_only_root: bool,
}

/// A running container: one process (`unshare` execs `sh`, which execs `setpriv`, which
/// execs the entrypoint), killed when dropped.
pub struct Running {
    pub name: String,
    child: Child,
    log: PathBuf,
}

impl Running {
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Where its output goes.
    pub fn log_file(&self) -> PathBuf {
        self.log.clone()
    }

    /// The exit status once the process has ended, waiting at most `timeout`.
    pub fn wait(&mut self, timeout: Duration) -> Option<ExitStatus> {
        wait_for_exit(&mut self.child, timeout)
    }

    /// Whether the process has ended (it should not have, for a server).
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().unwrap()
    }

    /// The process's peak resident set so far (`VmHWM`), in bytes. `unshare`, `sh`,
    /// `setpriv` and `env` each exec the next, so this is the entrypoint's own process,
    /// and an exec starts a new high-water mark.
    pub fn peak_rss(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
        let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib * 1024)
    }

    /// Sends SIGTERM, as the kubelet or `docker compose stop` does.
    pub fn terminate(&self) {
        assert!(send_sigterm(&self.child), "could not signal {}", self.name);
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        kill_and_reap(&mut self.child);
    }
}

/// Quotes a word for `sh`.
pub fn quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}

/// Where this machine's files make up the image: the binary under test for the image's
/// entrypoint and `COPY` sources from the repository.
pub struct Engine {
    pub image: Image,
    pub binary: PathBuf,
    /// Directory for logs, the hosts file and volumes.
    pub dir: PathBuf,
    /// Names that resolve to 127.0.0.1 inside every container.
    pub hosts: Vec<String>,
}

impl Engine {
    /// A named volume: a fresh directory owned by the image's user, as an engine
    /// initialises a new volume from the image's (empty, `chown`ed) directory.
    pub fn volume(&self, name: &str) -> PathBuf {
        let path = self.dir.join("volumes").join(name);
        std::fs::create_dir_all(&path).unwrap();
        chown(&path, self.image.uid, self.image.gid);
        path
    }

    /// Starts `container`; its output goes to `DIR/NAME.log`.
    pub fn start(&self, container: &Container) -> Running {
        let hosts = self.dir.join("hosts");
        std::fs::write(
            &hosts,
            format!(
                "127.0.0.1 localhost {}\n::1 localhost ip6-localhost\n",
                self.hosts.join(" ")
            ),
        )
        .unwrap();
        let (uid, gid) = container.user.unwrap_or((self.image.uid, self.image.gid));

        // The image's file system: the top directories its files live in become empty
        // tmpfs (so this machine's files there are out of sight), then each file or
        // directory of the image is bound in.
        let mut tops: Vec<String> = Vec::new();
        let mut targets = vec![self.image.entrypoint.clone(), self.image.workdir.clone()];
        targets.extend(self.image.copies.iter().map(|(d, _)| d.clone()));
        targets.extend(container.mounts.iter().map(|m| m.target.clone()));
        for target in &targets {
            let top = image_top(target);
            if !tops.contains(&top) {
                tops.push(top);
            }
        }
        // Every file from this machine is first bound under a staging tmpfs at /mnt, so
        // that hiding a directory (the tmpfs tops, /tmp) cannot hide a source.
        let mut sources: Vec<PathBuf> = vec![hosts.clone(), self.binary.clone()];
        sources.extend(self.image.copies.iter().filter_map(|(_, s)| s.clone()));
        sources.extend(container.mounts.iter().map(|m| m.source.clone()));
        for source in &sources {
            assert!(
                !source.starts_with("/mnt"),
                "{} is under /mnt, where the rehearsal stages files: move it",
                source.display()
            );
        }
        let staged = |source: &Path| {
            let at = sources.iter().position(|s| s == source).unwrap();
            quote(&format!("/mnt/{at}"))
        };
        let mut script = vec![
            "set -e".to_string(),
            "mount -t tmpfs -o mode=0700 stage /mnt".to_string(),
        ];
        for (at, source) in sources.iter().enumerate() {
            let make = if source.is_dir() { "mkdir" } else { "touch" };
            script.push(format!(
                "{make} /mnt/{at} && mount --bind {s} /mnt/{at}",
                s = quote(&source.to_string_lossy())
            ));
        }
        for top in &tops {
            script.push(format!(
                "[ -d {t} ] || {{ echo {t}: not on this machine, cannot hide it >&2; exit 125; }}",
                t = quote(top)
            ));
            script.push(format!("mount -t tmpfs -o mode=0755 image {}", quote(top)));
        }
        script.push("mount -t tmpfs -o mode=1777 tmp /tmp".into());
        script.push(format!("mount --bind {} /etc/hosts", staged(&hosts)));
        // The binary under test is the image's entrypoint.
        let bin = &self.image.entrypoint;
        script.push(format!(
            "mkdir -p \"$(dirname {b})\" && touch {b} && mount --bind {src} {b}",
            b = quote(bin),
            src = staged(&self.binary)
        ));
        for (destination, source) in &self.image.copies {
            match source {
                Some(source) => script.push(format!(
                    "mkdir -p {d} && mount --bind {s} {d} && mount -o remount,bind,ro {d}",
                    d = quote(destination),
                    s = staged(source)
                )),
                None if destination != bin => script.push(format!(
                    "mkdir -p {d} && chown {uid}:{gid} {d}",
                    d = quote(destination),
                    uid = self.image.uid,
                    gid = self.image.gid
                )),
                None => {}
            }
        }
        script.push(format!("mkdir -p {}", quote(&self.image.workdir)));
        for mount in &container.mounts {
            script.push(format!(
                "mkdir -p {t} && mount --bind {s} {t}",
                t = quote(&mount.target),
                s = staged(&mount.source)
            ));
            if mount.read_only {
                script.push(format!("mount -o remount,bind,ro {}", quote(&mount.target)));
            }
        }
        if container.read_only_root {
            // The root and the image's own directories become read-only; volumes keep
            // their own mode.
            script.push("mount -o remount,bind,ro /".into());
            for top in tops.iter().chain(std::iter::once(&"/tmp".to_string())) {
                script.push(format!("mount -o remount,ro {}", quote(top)));
            }
        }
        let mut env: Vec<(String, String)> = self.image.env.clone();
        for (k, v) in &container.env {
            env.retain(|(key, _)| key != k);
            env.push((k.clone(), v.clone()));
        }
        let env_words: Vec<String> = env
            .iter()
            .map(|(k, v)| quote(&format!("{k}={v}")))
            .collect();
        let args: Vec<String> = container.args.iter().map(|a| quote(a)).collect();
        script.push(format!(
            "cd {wd} && exec setpriv --reuid={uid} --regid={gid} --clear-groups --inh-caps=-all -- \
             env -i {env} {bin} {args}",
            wd = quote(&self.image.workdir),
            env = env_words.join(" "),
            bin = quote(bin),
            args = args.join(" "),
        ));
        let log = self.dir.join(format!("{}.log", container.name));
        let out = std::fs::File::create(&log).unwrap();
        let child = Command::new("unshare")
            .args(["--mount", "--propagation", "private", "--", "sh", "-c"])
            .arg(script.join("\n"))
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("unshare (util-linux) is needed to rehearse the deployment files");
        Running {
            name: container.name.clone(),
            child,
            log,
        }
    }

    /// Runs `argv` (an exec-form health check, its program a path in the image) inside a
    /// fresh container like `container`: true when it exits 0.
    pub fn exec_check(&self, container: &Container, argv: &[String]) -> bool {
        assert_eq!(
            argv[0], self.image.entrypoint,
            "health checks run the image's own binary (distroless has no shell or curl)"
        );
        let mut check = container.clone();
        check.name = format!("{}-healthcheck", container.name);
        check.args = argv[1..].to_vec();
        let mut running = self.start(&check);
        running
            .wait(Duration::from_secs(30))
            .is_some_and(|s| s.success())
    }
}

/// `/var/lib/modelwatch` → `/var/lib`; `/opt/modelwatch/examples` → `/opt`;
/// `/usr/local/bin/x` → `/usr/local/bin`: the directory replaced by an empty tmpfs.
fn image_top(path: &str) -> String {
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let depth = match parts[0] {
        "usr" | "var" => 2.min(parts.len() - 1).max(1),
        _ => 1,
    };
    let depth = if parts[0] == "usr" && parts.get(1) == Some(&"local") {
        3.min(parts.len() - 1)
    } else {
        depth
    };
    format!("/{}", parts[..depth].join("/"))
}

fn chown(path: &Path, uid: u32, gid: u32) {
    std::os::unix::fs::chown(path, Some(uid), Some(gid)).unwrap();
}

#[test]
fn image_tops_hide_only_the_image_directories() {
    assert_eq!(image_top("/var/lib/modelwatch"), "/var/lib");
    assert_eq!(image_top("/opt/modelwatch/examples"), "/opt");
    assert_eq!(image_top("/usr/local/bin/modelwatch"), "/usr/local/bin");
    assert_eq!(image_top("/data"), "/data");
}
