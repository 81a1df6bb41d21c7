//! The shipped dashboards and alert rules against real Prometheus and Alertmanager
//! (Debian packages, started as processes on loopback) scraping a running sidecar with
//! real traffic: every Grafana expression evaluates, the ones whose metrics exist return
//! data, and injected drift takes `ModelwatchFeatureDrift` to FIRING in Prometheus and to
//! a webhook receiver through Alertmanager.
//!
//! Only the test's copy of the rules is changed: every `for:` becomes 2s, so the alert can
//! fire within the test instead of after 30 minutes.

use crate::live_drift::{
    TempDir, Wire, credit_profile, credit_rows, drifted, model_server, sample, send_rows,
};
use crate::support::child_process::kill_and_reap;
use crate::support::client::{self, get};
use crate::support::proxy_process::ProxyProcess;
use crate::support::upstream::{Upstream, free_loopback_port};
use http::Request;
use http_body_util::BodyExt;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A service process killed when dropped.
pub(crate) struct Service(pub(crate) Child);

impl Drop for Service {
    fn drop(&mut self) {
        kill_and_reap(&mut self.0);
    }
}

fn start(binary: &str, args: &[String], log: &Path) -> Service {
    let path = ["/usr/bin", "/usr/local/bin"]
        .iter()
        .map(|d| Path::new(d).join(binary))
        .find(|p| p.exists())
        .unwrap_or_else(|| {
            panic!("{binary} is not installed: tests/run.sh installs the Debian packages prometheus and prometheus-alertmanager")
        });
    let log = std::fs::File::create(log).unwrap();
    Service(
        Command::new(path)
            .args(args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap(),
    )
}

pub(crate) async fn get_json(url: &str) -> Option<Value> {
    let answer = client::http1()
        .request(Request::get(url).body(Default::default()).unwrap())
        .await
        .ok()?;
    let body = answer.into_body().collect().await.ok()?.to_bytes();
    serde_json::from_slice(&body).ok()
}

pub(crate) async fn wait_for<F: Fn(&Value) -> bool>(url: &str, what: &str, ok: F) -> Value {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if let Some(v) = get_json(url).await
            && ok(&v)
        {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "{what} did not happen within 90 s ({url})"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The shipped alert rules (`alerts/modelwatch-rules.yml`) with every `for:` made 2s, so
/// that a test sees them fire within seconds.
pub(crate) fn shipped_rules_with_for_2s() -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("alerts/modelwatch-rules.yml"),
    )
    .unwrap()
    .lines()
    .map(|l| match l.trim_start().strip_prefix("for: ") {
        Some(_) => format!("{}for: 2s", &l[..l.len() - l.trim_start().len()]),
        None => l.to_string(),
    })
    .collect::<Vec<_>>()
    .join("\n")
}

/// Real Alertmanager notifying a webhook receiver of this test, and real Prometheus
/// evaluating the shipped rules (every `for:` made 2s) on a scrape of one sidecar.
pub(crate) struct Alerting {
    /// Prometheus' base URL.
    pub prometheus: String,
    received: Arc<Mutex<Vec<Value>>>,
    dir: std::path::PathBuf,
    _webhook: Upstream,
    _alertmanager: Service,
    _prometheus: Service,
}

impl Alerting {
    /// Starts both in `dir`, Prometheus scraping `admin` (the sidecar's admin address);
    /// `scrape_extra` is added to its scrape config (e.g. `authorization`), indented as a
    /// key of the job.
    pub async fn start(dir: &Path, admin: &str, scrape_extra: &str) -> Alerting {
        // The webhook receiver Alertmanager notifies.
        let (webhook, received) = Upstream::collecting_json_on("127.0.0.1:0").await;
        let am_port = free_loopback_port();
        std::fs::write(
            dir.join("alertmanager.yml"),
            format!(
                "route:\n  receiver: test\n  group_by: [alertname]\n  group_wait: 1s\n  group_interval: 1s\n  repeat_interval: 1h\n\
                 receivers:\n  - name: test\n    webhook_configs:\n      - url: {}/alerts\n        send_resolved: false\n",
                webhook.url()
            ),
        )
        .unwrap();
        let alertmanager = start(
            "prometheus-alertmanager",
            &[
                format!("--config.file={}", dir.join("alertmanager.yml").display()),
                format!("--storage.path={}", dir.join("am-data").display()),
                format!("--web.listen-address=127.0.0.1:{am_port}"),
                "--cluster.listen-address=".into(),
            ],
            &dir.join("alertmanager.log"),
        );
        std::fs::write(dir.join("rules.yml"), shipped_rules_with_for_2s()).unwrap();
        let prom_port = free_loopback_port();
        std::fs::write(
            dir.join("prometheus.yml"),
            format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
                 rule_files: [{rules}]\n\
                 alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['127.0.0.1:{am_port}']\n\
                 scrape_configs:\n  - job_name: modelwatch\n{scrape_extra}    static_configs:\n      - targets: ['{admin}']\n",
                rules = dir.join("rules.yml").display(),
            ),
        )
        .unwrap();
        let prometheus = start(
            "prometheus",
            &[
                format!("--config.file={}", dir.join("prometheus.yml").display()),
                format!("--storage.tsdb.path={}", dir.join("prom-data").display()),
                format!("--web.listen-address=127.0.0.1:{prom_port}"),
            ],
            &dir.join("prometheus.log"),
        );
        let url = format!("http://127.0.0.1:{prom_port}");
        wait_for(
            &format!("{url}/api/v1/targets"),
            "Prometheus scraping the sidecar",
            |v| v["data"]["activeTargets"][0]["health"] == "up",
        )
        .await;
        Alerting {
            prometheus: url,
            received,
            dir: dir.to_path_buf(),
            _webhook: webhook,
            _alertmanager: alertmanager,
            _prometheus: prometheus,
        }
    }

    /// Waits until Alertmanager has notified the webhook of `alertname` firing; returns
    /// the labels of every such alert notified so far.
    pub async fn notified(&self, alertname: &str) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let found: Vec<Value> = self
                .received
                .lock()
                .unwrap()
                .iter()
                .filter_map(|n| n["alerts"].as_array())
                .flatten()
                .filter(|x| x["labels"]["alertname"] == alertname && x["status"] == "firing")
                .map(|x| x["labels"].clone())
                .collect();
            if !found.is_empty() {
                return found;
            }
            assert!(
                Instant::now() < deadline,
                "Alertmanager never notified the webhook of {alertname}; its log:\n{}",
                std::fs::read_to_string(self.dir.join("alertmanager.log")).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

/// Every target expression of every panel, with the dashboard variables filled in.
fn panel_expressions(fill: &dyn Fn(&str) -> String) -> Vec<(String, String)> {
    fn walk(
        panels: &[Value],
        dashboard: &str,
        fill: &dyn Fn(&str) -> String,
        out: &mut Vec<(String, String)>,
    ) {
        for p in panels {
            walk(
                p["panels"]
                    .as_array()
                    .map(Vec::as_slice)
                    .unwrap_or_default(),
                dashboard,
                fill,
                out,
            );
            for t in p["targets"].as_array().into_iter().flatten() {
                if let Some(expr) = t["expr"].as_str() {
                    out.push((format!("{dashboard}: {}", p["title"]), fill(expr)));
                }
            }
        }
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("dashboards/grafana");
    let mut out = Vec::new();
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    for path in names
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
    {
        let dashboard: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        walk(
            dashboard["panels"].as_array().unwrap(),
            &name,
            fill,
            &mut out,
        );
    }
    out
}

fn metric_names(expr: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let bytes = expr.as_bytes();
    let mut i = 0;
    while let Some(at) = expr[i..].find("modelwatch_").map(|p| p + i) {
        let end = expr[at..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .map_or(expr.len(), |e| e + at);
        // Recording-rule names (modelwatch:…) contain a colon and are not exported series.
        if at == 0 || bytes[at - 1] != b':' {
            names.insert(expr[at..end].to_string());
        }
        i = end;
    }
    names
}

#[tokio::test(flavor = "multi_thread")]
async fn dashboards_evaluate_and_drift_alerts_reach_alertmanager() {
    let dir = TempDir::new("prometheus");
    let profile = credit_profile(&dir.0);
    let upstream = model_server(Wire::Oip).await;
    let proxy = ProxyProcess::start_with_reference(
        &upstream.url(),
        profile.to_str().unwrap(),
        &[],
        &[
            ("MODELWATCH__ANALYSIS__EVALUATION_INTERVAL", "500ms"),
            ("MODELWATCH__ANALYSIS__WINDOW_ROWS", "1000"),
            ("MODELWATCH__MODEL__NAME", "credit"),
        ],
    );

    let alerting = Alerting::start(&dir.0, &proxy.admin.to_string(), "").await;
    let prom = alerting.prometheus.clone();
    wait_for(
        &format!("{prom}/api/v1/targets"),
        "Prometheus scraping the sidecar",
        |v| v["data"]["activeTargets"][0]["health"] == "up",
    )
    .await;

    // Clean traffic, for a while, so that rates over a minute have points.
    let (features, rows) = credit_rows();
    for round in 0..4 {
        send_rows(
            &proxy,
            Wire::Oip,
            &features,
            &sample(&rows, 500, round * 101),
        )
        .await;
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    let version = {
        let s = crate::support::metrics_text::parse(
            &get(&client::http1(), &proxy.admin_url("/metrics"))
                .await
                .text(),
        );
        s.iter()
            .find(|x| x.name == "modelwatch_rows_total")
            .and_then(|x| {
                x.labels
                    .iter()
                    .find(|(k, _)| k == "model_version")
                    .map(|(_, v)| v.clone())
            })
            .expect("rows are counted")
    };
    let instance = proxy.admin.to_string();
    let fill = |expr: &str| {
        let mut e = expr
            .replace("$__rate_interval", "1m")
            .replace("$__interval", "15s")
            .replace("$__range", "5m");
        for (var, value) in [
            ("job", "modelwatch"),
            ("instance", instance.as_str()),
            ("model_version", version.as_str()),
            ("model", "credit"),
            ("feature", ".+"),
        ] {
            e = e
                .replace(&format!("${{{var}}}"), value)
                .replace(&format!("${var}"), value);
        }
        e
    };
    let scraped: BTreeSet<String> = get_json(&format!("{prom}/api/v1/label/__name__/values"))
        .await
        .unwrap()["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    let mut with_data = 0;
    let mut checked = 0;
    for (panel, expr) in panel_expressions(&fill) {
        let url = format!("{prom}/api/v1/query?query={}", url_escape(&expr));
        let answer = get_json(&url)
            .await
            .unwrap_or_else(|| panic!("{panel}: no answer for {expr}"));
        assert_eq!(answer["status"], "success", "{panel}: {expr}: {answer}");
        checked += 1;
        // A panel over metrics the sidecar exports (and that this traffic produces) shows data.
        let needs = metric_names(&expr);
        let present = needs.iter().all(|n| {
            scraped.contains(n)
                || scraped.contains(&format!("{n}_bucket"))
                || n.ends_with("_bucket") && scraped.contains(n)
        });
        // No data is expected for errors this traffic does not cause, nor for predictions:
        // this test's reference is a dataset profile, which has no prediction columns.
        let quiet = expr.contains("upstream_errors")
            || expr.contains("code=~\"5")
            || expr.contains("code=~\"4")
            || expr.contains("prediction");
        if present && !needs.is_empty() && !quiet {
            let result = answer["data"]["result"].as_array().map_or(0, Vec::len);
            assert!(result > 0, "{panel}: no data for {expr}");
            with_data += 1;
        }
    }
    assert!(
        checked >= 30 && with_data >= 15,
        "checked {checked}, with data {with_data}"
    );

    // Drift: the window fills with shifted rows; the alert fires and reaches the webhook.
    send_rows(
        &proxy,
        Wire::Oip,
        &features,
        &drifted(sample(&rows, 1000, 7), &features),
    )
    .await;
    let alerts = wait_for(
        &format!("{prom}/api/v1/alerts"),
        "ModelwatchFeatureDrift firing",
        |v| {
            v["data"]["alerts"].as_array().is_some_and(|a| {
                a.iter().any(|x| {
                    x["labels"]["alertname"] == "ModelwatchFeatureDrift" && x["state"] == "firing"
                })
            })
        },
    )
    .await;
    let firing: BTreeSet<String> = alerts["data"]["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["labels"]["alertname"] == "ModelwatchFeatureDrift" && x["state"] == "firing")
        .map(|x| x["labels"]["feature"].as_str().unwrap().to_string())
        .collect();
    assert!(
        firing.contains("Income") && firing.contains("Home"),
        "{firing:?}"
    );
    assert!(
        !firing.contains("Age"),
        "an undrifted feature fired: {firing:?}"
    );
    alerting.notified("ModelwatchFeatureDrift").await;
}

fn url_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
