//! Lint rules for the Grafana dashboards in `dashboards/grafana/`, the ones
//! grafana/dashboard-linter enforces (that linter cannot be built here: the Go module
//! proxy refuses it), plus the metric contract and the provisioning files.
//!
//! PromQL syntax and evaluation are not checked here: `alerts/check.sh` parses every
//! expression with promtool and evaluates it on contract-shaped series
//! (`alerts/dashboard_exprs.py`); the live-Prometheus test evaluates them on a sidecar.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::metric_contract::{self, read, repo_path};
use crate::promql_selectors::selectors;

/// Grafana unit ids the dashboards may use (a subset of Grafana's value formats).
const GRAFANA_UNITS: &[&str] = &[
    "none",
    "short",
    "percent",
    "percentunit",
    "s",
    "ms",
    "us",
    "ns",
    "bytes",
    "decbytes",
    "reqps",
    "ops",
    "rps",
    "wps",
    "eps",
    "mps",
    "recps",
    "rowsps",
];

/// Functions a counter (or a histogram's counters) may be wrapped in.
const COUNTER_FUNCTIONS: &[&str] = &["rate", "increase"];

/// The dashboards issues 6, 15 and 19 ask for, by uid, with the series each must show.
const REQUIRED: &[(&str, &[&str])] = &[
    (
        "modelwatch-overview",
        &[
            "modelwatch_requests_total",
            "modelwatch_upstream_errors_total",
            "modelwatch_client_errors_total",
            "modelwatch_request_duration_seconds_bucket",
            "modelwatch_upstream_duration_seconds_bucket",
            "modelwatch_requests_in_flight",
            "modelwatch_rows_total",
        ],
    ),
    (
        "modelwatch-drift",
        &[
            "modelwatch_drift_share",
            "modelwatch_drift_score",
            "modelwatch_drift_p_value",
            "modelwatch_drift_detected",
            "modelwatch:feature_psi:1h",
            "modelwatch_feature_missing_total",
            "modelwatch_feature_unseen_category_total",
            "modelwatch_feature_bin_total",
            "modelwatch_reference_bin_ratio",
            "modelwatch_prediction_bin_total",
            "modelwatch_prediction_class_total",
            "modelwatch_reference_info",
        ],
    ),
    (
        "modelwatch-sidecar-health",
        &[
            "modelwatch_analysis_queue_depth",
            "modelwatch_analysis_dropped_total",
            "modelwatch_export_events_total",
            "modelwatch_export_spool_bytes",
            "process_cpu_seconds_total",
            "process_resident_memory_bytes",
        ],
    ),
    // Issue 15: model quality.
    (
        "modelwatch-quality",
        &[
            "modelwatch_performance",
            "modelwatch_performance_estimated",
            "modelwatch_performance_estimated_lower",
            "modelwatch_performance_estimated_upper",
            "modelwatch_performance_reference",
            "modelwatch_performance_rows",
            "modelwatch_label_coverage",
            "modelwatch_label_delay_seconds_bucket",
            "modelwatch_feedback_total",
        ],
    ),
    // Issue 19: LLM serving.
    (
        "modelwatch-llm",
        &[
            "modelwatch_llm_time_to_first_token_seconds_bucket",
            "modelwatch_llm_time_per_output_token_seconds_bucket",
            "modelwatch_llm_output_tokens_per_second_bucket",
            "modelwatch_llm_token_usage_tokens_sum",
            "modelwatch_llm_token_usage_tokens_bucket",
            "modelwatch_llm_finish_reasons_total",
            "modelwatch_llm_errors_total",
            "modelwatch_llm_requests_in_flight",
            // Drift of the text features and of embedding vectors.
            "modelwatch_drift_detected",
            "modelwatch_multivariate_drift_score",
        ],
    ),
];

struct Dashboard {
    file: String,
    json: Value,
}

fn dashboards() -> Vec<Dashboard> {
    let dir = repo_path("dashboards/grafana");
    let mut found: Vec<Dashboard> = std::fs::read_dir(&dir)
        .unwrap_or_else(|err| panic!("listing {}: {err}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .map(|path| {
            let text = std::fs::read_to_string(&path).unwrap();
            let json = serde_json::from_str(&text)
                .unwrap_or_else(|err| panic!("{} is not JSON: {err}", path.display()));
            let file = path.file_name().unwrap().to_string_lossy().into_owned();
            Dashboard { file, json }
        })
        .collect();
    found.sort_by(|a, b| a.file.cmp(&b.file));
    assert!(!found.is_empty(), "no dashboards in {}", dir.display());
    found
}

/// Every panel that shows data (rows are flattened away, their children kept).
fn data_panels(dashboard: &Value) -> Vec<&Value> {
    fn walk<'a>(panels: &'a Value, out: &mut Vec<&'a Value>) {
        for panel in panels.as_array().into_iter().flatten() {
            walk(&panel["panels"], out);
            if panel["type"] != "row" {
                out.push(panel);
            }
        }
    }
    let mut out = Vec::new();
    walk(&dashboard["panels"], &mut out);
    out
}

fn variables(dashboard: &Value) -> Vec<&Value> {
    dashboard["templating"]["list"]
        .as_array()
        .into_iter()
        .flatten()
        .collect()
}

fn variable_query(variable: &Value) -> Option<&str> {
    variable["query"]["query"]
        .as_str()
        .or(variable["query"].as_str())
}

fn uses_datasource_variable(value: &Value) -> bool {
    value["uid"] == "${datasource}" && value["type"] == "prometheus"
}

/// Lint problems of one PromQL expression of a panel or variable.
fn expression_problems(expr: &str, where_: &str, problems: &mut Vec<String>) {
    let metrics = metric_contract::contract_metrics();
    let recorded = metric_contract::recording_rules();
    let labels = metric_contract::contract_labels();
    let found = match selectors(expr) {
        Ok(found) => found,
        Err(err) => return problems.push(format!("{where_}: {err}")),
    };
    if found.is_empty() {
        problems.push(format!("{where_}: no series selector in {expr:?}"));
    }
    for selector in found {
        let name = &selector.metric;
        if name.is_empty() {
            problems.push(format!(
                "{where_}: selector without a metric name: {{{}}}",
                selector.matchers
            ));
            continue;
        }
        if let Some(why) = metric_contract::unknown_series(name, &metrics, &recorded) {
            problems.push(format!("{where_}: {why}"));
        }
        // A matcher on a label the series does not carry silently selects nothing.
        if let Some(allowed) = labels.get(name) {
            for label in metric_contract::matcher_labels(&selector.matchers) {
                if !allowed.contains(&label) {
                    problems.push(format!(
                        "{where_}: {name} has no label {label:?} (alerts/metrics.txt)"
                    ));
                }
            }
        }
        if !selector.matchers.contains(r#"job=~"$job""#) {
            problems.push(format!("{where_}: {name} lacks the matcher job=~\"$job\""));
        }
        // Fleet-wide recording rules aggregate `instance` away: there is nothing to match.
        if !name.contains(':') && !selector.matchers.contains(r#"instance=~"$instance""#) {
            problems.push(format!(
                "{where_}: {name} lacks the matcher instance=~\"$instance\""
            ));
        }
        let is_counter = ["_total", "_bucket", "_count", "_sum"]
            .iter()
            .any(|s| name.ends_with(s));
        let function = selector.enclosing_function.as_deref().unwrap_or("");
        if is_counter && !COUNTER_FUNCTIONS.contains(&function) {
            problems.push(format!("{where_}: counter {name} must sit directly inside rate() or increase(), not {function:?}"));
        }
        if let Some(range) = &selector.range {
            if range != "$__rate_interval" {
                problems.push(format!(
                    "{where_}: {name}[{range}] must use [$__rate_interval]"
                ));
            }
        } else if COUNTER_FUNCTIONS.contains(&function) {
            problems.push(format!("{where_}: {function}({name}) has no range"));
        }
    }
}

#[test]
fn every_dashboard_meets_the_lint_rules() {
    let mut problems = Vec::new();
    let mut uids = BTreeSet::new();
    for Dashboard { file, json } in dashboards() {
        let uid = json["uid"].as_str().unwrap_or_default();
        if uid.is_empty() || !uids.insert(uid.to_string()) {
            problems.push(format!("{file}: uid {uid:?} is missing or not unique"));
        }
        if json["title"].as_str().unwrap_or_default().is_empty() {
            problems.push(format!("{file}: no title"));
        }
        match json["schemaVersion"].as_u64() {
            Some(v) if v <= 42 => {}
            other => problems.push(format!(
                "{file}: schemaVersion {other:?} is not a classic model (<= 42)"
            )),
        }
        if !json["tags"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|t| t == "modelwatch")
        {
            problems.push(format!(
                "{file}: missing the tag \"modelwatch\" (dashboard links use it)"
            ));
        }

        // Variables: one datasource variable; job and instance as multi-value queries.
        let vars = variables(&json);
        let names: BTreeSet<&str> = vars.iter().filter_map(|v| v["name"].as_str()).collect();
        let datasource_vars: Vec<_> = vars.iter().filter(|v| v["type"] == "datasource").collect();
        if datasource_vars.len() != 1
            || datasource_vars[0]["name"] != "datasource"
            || datasource_vars[0]["query"] != "prometheus"
        {
            problems.push(format!("{file}: needs exactly one datasource variable named `datasource` of type prometheus"));
        }
        for required in ["job", "instance"] {
            match vars.iter().find(|v| v["name"] == required) {
                None => problems.push(format!("{file}: no `{required}` variable")),
                Some(v) => {
                    if v["type"] != "query"
                        || v["multi"] != true
                        || v["includeAll"] != true
                        || v["allValue"] != ".+"
                        || v["refresh"] != 2
                    {
                        problems.push(format!("{file}: variable `{required}` must be a query with multi, includeAll, allValue \".+\", refresh 2"));
                    }
                }
            }
        }
        for v in vars.iter().filter(|v| v["type"] == "query") {
            let name = v["name"].as_str().unwrap_or("?");
            let where_ = format!("{file}: variable {name}");
            if !uses_datasource_variable(&v["datasource"]) {
                problems.push(format!("{where_}: datasource must be ${{datasource}}"));
            }
            match variable_query(v).and_then(|q| q.strip_prefix("label_values(")) {
                Some(rest) => {
                    let selector = rest.rsplit_once(',').map(|(s, _)| s).unwrap_or("");
                    let metrics = metric_contract::contract_metrics();
                    let recorded = metric_contract::recording_rules();
                    for s in selectors(selector).unwrap_or_default() {
                        let names = s.metric_names().unwrap_or_else(|why| {
                            problems.push(format!("{where_}: {why}"));
                            Vec::new()
                        });
                        for name in names {
                            if let Some(why) =
                                metric_contract::unknown_series(&name, &metrics, &recorded)
                            {
                                problems.push(format!("{where_}: {why}"));
                            }
                        }
                    }
                }
                None => problems.push(format!(
                    "{where_}: query must be label_values(selector, label)"
                )),
            }
        }

        // Panels.
        let mut ids = BTreeSet::new();
        for panel in data_panels(&json) {
            let title = panel["title"].as_str().unwrap_or_default();
            let where_ = format!("{file}: panel {title:?}");
            if title.is_empty() {
                problems.push(format!(
                    "{file}: a panel of type {} has no title",
                    panel["type"]
                ));
            }
            if !ids.insert(panel["id"].as_u64()) {
                problems.push(format!("{where_}: duplicate or missing id"));
            }
            if panel["description"]
                .as_str()
                .unwrap_or_default()
                .trim()
                .is_empty()
            {
                problems.push(format!("{where_}: no description"));
            }
            let unit = panel["fieldConfig"]["defaults"]["unit"]
                .as_str()
                .unwrap_or_default();
            if !GRAFANA_UNITS.contains(&unit) {
                problems.push(format!(
                    "{where_}: unit {unit:?} is missing or not a known Grafana unit"
                ));
            }
            if !uses_datasource_variable(&panel["datasource"]) {
                problems.push(format!(
                    "{where_}: datasource must be {{type: prometheus, uid: ${{datasource}}}}"
                ));
            }
            if panel["gridPos"]["w"].as_u64().is_none() || panel["gridPos"]["h"].as_u64().is_none()
            {
                problems.push(format!("{where_}: no gridPos"));
            }
            let targets = panel["targets"].as_array().cloned().unwrap_or_default();
            if targets.is_empty() {
                problems.push(format!("{where_}: no targets"));
            }
            for target in &targets {
                let ref_id = target["refId"].as_str().unwrap_or("?");
                let where_ = format!("{where_} target {ref_id}");
                if !target["datasource"].is_null()
                    && !uses_datasource_variable(&target["datasource"])
                {
                    problems.push(format!("{where_}: datasource must be ${{datasource}}"));
                }
                let expr = target["expr"].as_str().unwrap_or_default();
                expression_problems(expr, &where_, &mut problems);
                // Every `$var` the expression uses must be defined on the dashboard.
                for var in expr.split('$').skip(1) {
                    let name: String = var
                        .trim_start_matches('{')
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    if !name.starts_with("__") && !names.contains(name.as_str()) {
                        problems.push(format!(
                            "{where_}: uses ${name}, which is not a dashboard variable"
                        ));
                    }
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "dashboard lint problems:\n  {}",
        problems.join("\n  ")
    );
}

#[test]
fn lint_rules_catch_what_the_linter_would() {
    // The rules above are only worth something if they reject bad expressions.
    let mut problems = Vec::new();
    expression_problems(
        r#"sum(rate(modelwatch_requests_total{job=~"$job",instance=~"$instance"}[5m]))"#,
        "fixed range",
        &mut problems,
    );
    expression_problems(
        r#"sum(modelwatch_requests_total{job=~"$job",instance=~"$instance"})"#,
        "bare counter",
        &mut problems,
    );
    expression_problems(
        r#"modelwatch_requests_in_flight{instance=~"$instance"}"#,
        "no job",
        &mut problems,
    );
    expression_problems(
        r#"modelwatch_request_latency_ms{job=~"$job",instance=~"$instance"}"#,
        "unknown metric",
        &mut problems,
    );
    expression_problems(
        r#"modelwatch_requests_in_flight{job=~"$job",instance=~"$instance",model_version=~"$model_version"}"#,
        "wrong label",
        &mut problems,
    );
    let joined = problems.join("\n");
    assert!(
        joined.contains("fixed range: modelwatch_requests_total[5m] must use [$__rate_interval]"),
        "{joined}"
    );
    assert!(
        joined.contains(
            "bare counter: counter modelwatch_requests_total must sit directly inside rate()"
        ),
        "{joined}"
    );
    assert!(
        joined.contains("no job: modelwatch_requests_in_flight lacks the matcher job"),
        "{joined}"
    );
    assert!(
        joined.contains(
            "unknown metric: metric modelwatch_request_latency_ms is not in alerts/metrics.txt"
        ),
        "{joined}"
    );
    assert!(
        joined
            .contains(r#"wrong label: modelwatch_requests_in_flight has no label "model_version""#),
        "{joined}"
    );
    assert_eq!(problems.len(), 5, "{joined}");
}

#[test]
fn each_dashboard_shows_what_issue_6_asks_for() {
    let all = dashboards();
    for (uid, required) in REQUIRED {
        let dashboard = all
            .iter()
            .find(|d| d.json["uid"] == *uid)
            .unwrap_or_else(|| panic!("no dashboard with uid {uid} in dashboards/grafana"));
        let used: BTreeSet<String> = data_panels(&dashboard.json)
            .iter()
            .flat_map(|p| p["targets"].as_array().cloned().unwrap_or_default())
            .flat_map(|t| selectors(t["expr"].as_str().unwrap_or_default()).unwrap_or_default())
            .map(|s| s.metric)
            .collect();
        let missing: Vec<_> = required.iter().filter(|m| !used.contains(**m)).collect();
        assert!(
            missing.is_empty(),
            "{}: no panel shows {missing:?}",
            dashboard.file
        );
    }
    let drift = all
        .iter()
        .find(|d| d.json["uid"] == "modelwatch-drift")
        .unwrap();
    let names: BTreeSet<&str> = variables(&drift.json)
        .iter()
        .filter_map(|v| v["name"].as_str())
        .collect();
    for name in [
        "datasource",
        "job",
        "instance",
        "model",
        "model_version",
        "feature",
    ] {
        assert!(
            names.contains(name),
            "the drift dashboard lacks the `{name}` variable"
        );
    }
}

#[test]
fn provisioning_loads_the_dashboards_and_the_datasource_they_expect() {
    let datasources: serde_yaml_ng::Value = serde_yaml_ng::from_str(&read(
        "dashboards/grafana/provisioning/datasources/prometheus.yml",
    ))
    .unwrap();
    assert_eq!(datasources["apiVersion"].as_u64(), Some(1));
    let prometheus = &datasources["datasources"][0];
    assert_eq!(prometheus["type"].as_str(), Some("prometheus"));
    assert_eq!(prometheus["access"].as_str(), Some("proxy"));
    assert!(prometheus["uid"].as_str().is_some_and(|u| !u.is_empty()));
    assert!(
        prometheus["url"]
            .as_str()
            .is_some_and(|u| u.starts_with("http"))
    );

    let providers: serde_yaml_ng::Value = serde_yaml_ng::from_str(&read(
        "dashboards/grafana/provisioning/dashboards/modelwatch.yml",
    ))
    .unwrap();
    assert_eq!(providers["apiVersion"].as_u64(), Some(1));
    let provider = &providers["providers"][0];
    assert_eq!(provider["type"].as_str(), Some("file"));
    let path = provider["options"]["path"]
        .as_str()
        .expect("provider options.path");

    // The compose stack must mount the dashboards where the provider looks for them.
    let compose = read("compose/docker-compose.yml");
    assert!(
        compose.contains(&format!("../dashboards/grafana:{path}")),
        "compose/docker-compose.yml does not mount ../dashboards/grafana at {path}"
    );
}
