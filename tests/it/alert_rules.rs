//! Checks on the alerting side that promtool does not make: every alert carries what the
//! on-call engineer needs (severity, summary, description, a runbook section that
//! exists), every alert has a promtool test that sees it fire and one that sees it stay
//! silent, every recording rule is tested or used, the Alertmanager inhibit rules name
//! real alerts, and every series name anywhere is in the metric contract.
//!
//! promtool itself (check rules, test rules) and amtool run in `alerts/check.sh`.

use std::collections::{BTreeMap, BTreeSet};

use serde_yaml_ng::Value;

use crate::metric_contract::{self, read, repo_path};
use crate::promql_selectors::selectors;

/// Where every `runbook_url` points: the runbook's path in this repository (a link that is
/// true wherever the repository is hosted; alerts/alertmanager.yml says how to prefix it).
const RUNBOOK_PATH: &str = "alerts/RUNBOOK.md";

fn alerts() -> Vec<Value> {
    metric_contract::all_rules()
        .into_iter()
        .filter(|rule| rule["alert"].is_string())
        .collect()
}

fn test_files() -> Vec<(String, Value)> {
    let dir = repo_path("alerts/tests");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|err| panic!("listing {}: {err}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "yml"))
        .map(|path| {
            let text = std::fs::read_to_string(&path).unwrap();
            let yaml = serde_yaml_ng::from_str(&text)
                .unwrap_or_else(|err| panic!("{}: {err}", path.display()));
            (
                path.file_name().unwrap().to_string_lossy().into_owned(),
                yaml,
            )
        })
        .collect();
    files.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(!files.is_empty(), "no promtool tests in alerts/tests");
    files
}

/// GitHub's anchor for a Markdown heading: lower case, spaces to '-', punctuation dropped.
fn github_anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

#[test]
fn every_alert_has_severity_text_and_a_runbook_section() {
    let runbook = read("alerts/RUNBOOK.md");
    let anchors: BTreeSet<String> = runbook
        .lines()
        .filter_map(|line| line.strip_prefix("## "))
        .map(github_anchor)
        .collect();
    let mut problems = Vec::new();
    let alerts = alerts();
    assert!(
        alerts.len() >= 14,
        "expected the issue 6 alert set, found {} alerts",
        alerts.len()
    );
    for alert in &alerts {
        let name = alert["alert"].as_str().unwrap();
        if !name.starts_with("Modelwatch") {
            problems.push(format!("{name}: alert names share the prefix Modelwatch"));
        }
        let severity = alert["labels"]["severity"].as_str().unwrap_or_default();
        if !["critical", "warning", "info"].contains(&severity) {
            problems.push(format!(
                "{name}: severity {severity:?} is not critical, warning or info"
            ));
        }
        if alert["labels"]["category"]
            .as_str()
            .unwrap_or_default()
            .is_empty()
        {
            problems.push(format!(
                "{name}: no category label (the Alertmanager inhibit rules group by it)"
            ));
        }
        for key in ["summary", "description", "runbook_url"] {
            if alert["annotations"][key]
                .as_str()
                .unwrap_or_default()
                .trim()
                .is_empty()
            {
                problems.push(format!("{name}: no {key} annotation"));
            }
        }
        let url = alert["annotations"]["runbook_url"]
            .as_str()
            .unwrap_or_default();
        let expected = format!("{RUNBOOK_PATH}#{}", name.to_lowercase());
        if url != expected {
            problems.push(format!(
                "{name}: runbook_url {url:?} should be {expected:?}"
            ));
        }
        // The link itself resolves: a file in this repository with that heading.
        match url.split_once('#') {
            Some((path, anchor)) if repo_path(path).is_file() => {
                let headings: BTreeSet<String> = read(path)
                    .lines()
                    .filter_map(|line| line.trim_start_matches('#').strip_prefix(' '))
                    .map(github_anchor)
                    .collect();
                if !headings.contains(anchor) {
                    problems.push(format!("{name}: {path} has no heading for #{anchor}"));
                }
            }
            _ => problems.push(format!(
                "{name}: runbook_url {url:?} is not FILE#ANCHOR of a file in this repository"
            )),
        }
        if !anchors.contains(&name.to_lowercase()) {
            problems.push(format!(
                "{name}: alerts/RUNBOOK.md has no section `## {name}`"
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "alert problems:\n  {}",
        problems.join("\n  ")
    );
}

#[test]
fn every_alert_is_tested_firing_and_silent() {
    // alertname -> (seen firing, seen silent) across all promtool test files.
    let mut coverage: BTreeMap<String, (bool, bool)> = BTreeMap::new();
    for (_, file) in test_files() {
        for test in file["tests"].as_sequence().into_iter().flatten() {
            for case in test["alert_rule_test"].as_sequence().into_iter().flatten() {
                let name = case["alertname"].as_str().unwrap_or_default().to_string();
                let fires = case["exp_alerts"]
                    .as_sequence()
                    .is_some_and(|a| !a.is_empty());
                let entry = coverage.entry(name).or_default();
                if fires {
                    entry.0 = true;
                    // Rendered text must be asserted, not only labels.
                    for exp in case["exp_alerts"].as_sequence().unwrap() {
                        assert!(
                            exp["exp_annotations"]["summary"].is_string()
                                && exp["exp_annotations"]["description"].is_string(),
                            "{}: a firing case lacks exp_annotations summary/description",
                            case["alertname"].as_str().unwrap_or_default()
                        );
                    }
                } else {
                    entry.1 = true;
                }
            }
        }
    }
    let mut problems = Vec::new();
    for alert in alerts() {
        let name = alert["alert"].as_str().unwrap();
        match coverage.get(name) {
            None => problems.push(format!("{name}: no promtool test")),
            Some((false, _)) => problems.push(format!("{name}: no test where it fires")),
            Some((_, false)) => problems.push(format!("{name}: no test where it stays silent")),
            Some(_) => {}
        }
    }
    assert!(
        problems.is_empty(),
        "untested alerts:\n  {}",
        problems.join("\n  ")
    );
}

#[test]
fn every_recording_rule_is_tested_or_feeds_an_alert() {
    let mut referenced = BTreeSet::new();
    for (_, file) in test_files() {
        for test in file["tests"].as_sequence().into_iter().flatten() {
            for case in test["promql_expr_test"].as_sequence().into_iter().flatten() {
                for s in selectors(case["expr"].as_str().unwrap_or_default()).unwrap() {
                    referenced.insert(s.metric);
                }
            }
        }
    }
    for rule in metric_contract::all_rules() {
        for s in selectors(rule["expr"].as_str().unwrap_or_default()).unwrap() {
            if rule["alert"].is_string() {
                referenced.insert(s.metric);
            }
        }
    }
    // A rule only read by another recording rule counts once that one is covered.
    let rules = metric_contract::all_rules();
    loop {
        let before = referenced.len();
        for rule in &rules {
            if let Some(name) = rule["record"].as_str()
                && referenced.contains(name)
            {
                for s in selectors(rule["expr"].as_str().unwrap_or_default()).unwrap() {
                    referenced.insert(s.metric);
                }
            }
        }
        if referenced.len() == before {
            break;
        }
    }
    let unreferenced: Vec<_> = metric_contract::recording_rules()
        .into_iter()
        .filter(|r| !referenced.contains(r))
        .collect();
    assert!(
        unreferenced.is_empty(),
        "recording rules neither tested nor used by an alert: {unreferenced:?}"
    );
}

#[test]
fn every_series_name_is_in_the_metric_contract() {
    let metrics = metric_contract::contract_metrics();
    let recorded = metric_contract::recording_rules();
    let labels = metric_contract::contract_labels();
    let mut problems = Vec::new();
    // PromQL in the rules: selectors, including recording rules read by other rules.
    for rule in metric_contract::all_rules() {
        let expr = rule["expr"].as_str().unwrap_or_default();
        for s in selectors(expr).unwrap_or_else(|err| panic!("{expr}: {err}")) {
            if let Some(why) = metric_contract::unknown_series(&s.metric, &metrics, &recorded) {
                problems.push(format!("{}: {why}", metric_contract::RULES_FILE));
            }
            if let Some(allowed) = labels.get(&s.metric) {
                for label in metric_contract::matcher_labels(&s.matchers) {
                    if !allowed.contains(&label) {
                        problems.push(format!(
                            "{}: {} has no label {label:?}",
                            metric_contract::RULES_FILE,
                            s.metric
                        ));
                    }
                }
            }
        }
    }
    // Series names in prose and test input: the rules' comments and annotations, the
    // promtool input series, the runbook's PromQL.
    let mut texts = vec![
        (
            metric_contract::RULES_FILE.to_string(),
            read(metric_contract::RULES_FILE),
        ),
        ("alerts/RUNBOOK.md".to_string(), read("alerts/RUNBOOK.md")),
    ];
    for (file, _) in test_files() {
        texts.push((
            format!("alerts/tests/{file}"),
            read(&format!("alerts/tests/{file}")),
        ));
    }
    for (file, text) in &texts {
        for token in metric_contract::metric_like_tokens(text) {
            // Prose may name a histogram by its family (`…_seconds`); PromQL may not.
            if metrics.contains(&format!("{token}_bucket")) {
                continue;
            }
            if let Some(why) = metric_contract::unknown_series(&token, &metrics, &recorded) {
                problems.push(format!("{file}: {why}"));
            }
        }
        // Recording-rule names mentioned anywhere must exist.
        for word in text.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':')) {
            if word.starts_with("modelwatch:")
                && word.matches(':').count() == 2
                && !recorded.contains(word)
            {
                problems.push(format!("{file}: recording rule {word} is not defined"));
            }
        }
    }
    problems.sort();
    problems.dedup();
    assert!(
        problems.is_empty(),
        "names outside the contract:\n  {}",
        problems.join("\n  ")
    );
}

#[test]
fn alertmanager_inhibit_rules_name_existing_alerts_and_labels() {
    let config: Value = serde_yaml_ng::from_str(&read("alerts/alertmanager.yml")).unwrap();
    let alerts = alerts();
    let names: BTreeSet<&str> = alerts.iter().filter_map(|a| a["alert"].as_str()).collect();
    let categories: BTreeSet<&str> = alerts
        .iter()
        .filter_map(|a| a["labels"]["category"].as_str())
        .collect();
    assert!(!categories.is_empty());
    let rules = config["inhibit_rules"]
        .as_sequence()
        .expect("inhibit_rules");
    assert!(!rules.is_empty(), "no inhibit rules");
    for rule in rules {
        for side in ["source_matchers", "target_matchers"] {
            for matcher in rule[side].as_sequence().into_iter().flatten() {
                let matcher = matcher.as_str().unwrap();
                let Some(value) = matcher
                    .strip_prefix("alertname=~")
                    .or(matcher.strip_prefix("alertname="))
                else {
                    continue;
                };
                for name in value.trim_matches('"').split('|') {
                    assert!(
                        names.contains(name),
                        "alerts/alertmanager.yml inhibits unknown alert {name:?}"
                    );
                }
            }
        }
        // An `equal` label no alert carries would make the rule match nothing or everything.
        for label in rule["equal"].as_sequence().into_iter().flatten() {
            let label = label.as_str().unwrap();
            let carried = alerts.iter().any(|a| {
                a["labels"][label].is_string()
                    || a["expr"].as_str().is_some_and(|e| e.contains(label))
            });
            assert!(
                carried,
                "inhibit rule compares label {label:?}, which no alert carries"
            );
        }
    }
}
