//! The metric contract shared by the dashboard and alert tests: series names listed in
//! `alerts/metrics.txt`, recording rules defined in `alerts/modelwatch-rules.yml`, and the
//! few series Prometheus makes itself.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

/// Series Prometheus synthesises for every scrape target; the sidecar cannot export them.
pub const PROMETHEUS_SERIES: &[&str] = &["up"];

pub const RULES_FILE: &str = "alerts/modelwatch-rules.yml";

/// A path inside the repository.
pub fn repo_path(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(relative)
}

pub fn read(relative: &str) -> String {
    let path = repo_path(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("reading {}: {err}", path.display()))
}

/// Names listed in `alerts/metrics.txt` (comments and blank lines skipped).
pub fn contract_metrics() -> BTreeSet<String> {
    contract_labels().into_keys().collect()
}

/// Each contract series with the labels it may carry (`job` and `instance` included).
pub fn contract_labels() -> BTreeMap<String, BTreeSet<String>> {
    read("alerts/metrics.txt")
        .lines()
        .map(|line| line.split('#').next().unwrap_or("").trim())
        .filter(|line| !line.is_empty())
        .map(|line| {
            let mut fields = line.split_whitespace();
            let name = fields.next().unwrap().to_string();
            let labels = fields.next().unwrap_or_else(|| {
                panic!("alerts/metrics.txt: {name} lists no labels ('-' for none)")
            });
            let mut set: BTreeSet<String> = labels
                .split(',')
                .filter(|l| *l != "-")
                .map(str::to_string)
                .collect();
            set.extend(["job".to_string(), "instance".to_string()]);
            (name, set)
        })
        .collect()
}

/// The parsed rules file.
pub fn rules() -> serde_yaml_ng::Value {
    serde_yaml_ng::from_str(&read(RULES_FILE)).expect("alerts/modelwatch-rules.yml is YAML")
}

/// Every rule (alerting and recording) of every group, in file order.
pub fn all_rules() -> Vec<serde_yaml_ng::Value> {
    rules()["groups"]
        .as_sequence()
        .expect("rules file has groups")
        .iter()
        .flat_map(|group| group["rules"].as_sequence().cloned().unwrap_or_default())
        .collect()
}

/// Names of the recording rules.
pub fn recording_rules() -> BTreeSet<String> {
    all_rules()
        .iter()
        .filter_map(|rule| rule["record"].as_str().map(str::to_string))
        .collect()
}

/// Why `name`, used as a series name somewhere, is not allowed (None when it is).
pub fn unknown_series(
    name: &str,
    metrics: &BTreeSet<String>,
    recorded: &BTreeSet<String>,
) -> Option<String> {
    if metrics.contains(name) || recorded.contains(name) || PROMETHEUS_SERIES.contains(&name) {
        None
    } else if name.contains(':') {
        Some(format!(
            "recording rule {name} is not defined in {RULES_FILE}"
        ))
    } else {
        Some(format!("metric {name} is not in alerts/metrics.txt"))
    }
}

/// Tokens of `text` that look like metric names of the contract's families
/// (`modelwatch_…`, `process_…`), for prose and YAML where there is no PromQL structure.
pub fn metric_like_tokens(text: &str) -> BTreeSet<String> {
    let mut tokens = BTreeSet::new();
    let bytes = text.as_bytes();
    let is_word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut i = 0;
    while i < bytes.len() {
        if is_word(bytes[i]) && (i == 0 || !is_word(bytes[i - 1]) && bytes[i - 1] != b':') {
            let start = i;
            while i < bytes.len() && is_word(bytes[i]) {
                i += 1;
            }
            let word = &text[start..i];
            // A recording-rule name continues with ':' and is checked separately.
            let followed_by_colon = bytes.get(i) == Some(&b':');
            if !followed_by_colon
                && (word.starts_with("modelwatch_") || word.starts_with("process_"))
            {
                tokens.insert(word.to_string());
            }
        } else {
            i += 1;
        }
    }
    tokens
}

/// Label names of a matcher list such as `job=~"$job",le="0.5"`.
pub fn matcher_labels(matchers: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = matchers;
    while let Some(op) = rest.find(['=', '!']) {
        let name = rest[..op].trim().trim_start_matches(',').trim();
        if !name.is_empty() {
            names.push(name.to_string());
        }
        // Skip the quoted value (which may itself contain '=' or ',').
        let Some(open) = rest[op..].find('"') else {
            break;
        };
        let value_start = op + open + 1;
        let mut end = value_start;
        let bytes = rest.as_bytes();
        while end < bytes.len() && bytes[end] != b'"' {
            end += if bytes[end] == b'\\' { 2 } else { 1 };
        }
        rest = rest.get(end + 1..).unwrap_or("");
    }
    names
}
