use super::*;
use crate::profile::ProfileOptions;
use crate::profile::schema::{SchemaOverrides, is_missing};
use crate::registry::home::Home;
use crate::registry::reference::{ReferenceKind, classify, load_profile};
use std::path::PathBuf;

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// A plain chat request, a completion with two prompts and a JSON answer, and a chat
/// request with its streamed answer as event-stream text.
const REQUESTS: &str = concat!(
    r#"{"model":"m","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"hello there"}]}"#,
    "\n\n",
    r#"{"request":{"model":"m","prompt":["abc","привет"]},"response":{"choices":[{"index":0,"text":"ok then","finish_reason":"stop"}]}}"#,
    "\n",
    r#"{"request":{"messages":[{"role":"user","content":"東京"}]},"response":"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"}}]}\n\ndata: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"length\"}]}\n\ndata: [DONE]\n\n"}"#,
    "\n",
);

#[test]
fn a_requests_file_becomes_a_table_of_the_features() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "requests.jsonl", REQUESTS);
    let table = feature_table(&path).unwrap();
    assert_eq!(table.rows, 4);
    let names: Vec<&str> = table
        .schema
        .columns
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "prompt_tokens",
            "messages",
            "system_prompt",
            "tool_use",
            "prompt_script",
            "completion_tokens",
            "finish_reason"
        ]
    );
    let roles: Vec<ColumnRole> = table.schema.columns.iter().map(|c| c.role).collect();
    assert_eq!(roles[4], ColumnRole::Feature);
    assert_eq!(roles[5], ColumnRole::Prediction);
    assert_eq!(table.schema.columns[2].kind, ColumnKind::Categorical);
    let csv = std::fs::read_to_string(table.csv.path()).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    let system = &lines[1].split(',').nth(2).unwrap().to_string();
    // "Be brief." 1 + 2 + 1 and "hello there" 2 + 2.
    assert_eq!(lines[1], format!("8,2,{system},off,Latin,,"));
    // The answer belongs to the first prompt of the line.
    assert_eq!(lines[2], "1,,,,Latin,2,stop");
    assert_eq!(lines[3], "2,,,,Cyrillic,,");
    assert_eq!(lines[4], "2,1,absent,off,Han,1,length");
}

#[test]
fn without_answers_the_table_has_only_the_request_columns() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "requests.ndjson",
        r#"{"messages":[{"role":"user","content":"x"}]}"#,
    );
    let table = feature_table(&path).unwrap();
    assert_eq!(table.schema.columns.len(), REQUEST_COLUMNS.len());
}

#[test]
fn no_category_the_features_produce_reads_as_a_missing_cell() {
    // The CSV reader takes `none`, `NA`, `null` for missing: a category spelled so would
    // vanish from the reference while live traffic still sends it.
    for value in [
        "absent", "off", "auto", "required", "Common", "Latin", "stop",
    ] {
        assert!(!is_missing(value), "{value}");
    }
}

#[test]
fn a_bad_line_is_a_usage_error_naming_the_line_and_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let bad = |text: &str| {
        let path = write(dir.path(), "bad.jsonl", text);
        let err = feature_table(&path).err().unwrap();
        assert!(err.downcast_ref::<UsageError>().is_some(), "{err:#}");
        format!("{err:#}")
    };
    let ok = r#"{"prompt":"x"}"#;
    let err = bad(&format!("{ok}\n{{\"input\":\"x\"}}\n"));
    assert!(err.contains("bad.jsonl line 2:"), "{err}");
    assert!(err.contains("`messages`"), "{err}");
    let err = bad(&format!("{ok}\nnot json\n"));
    assert!(err.contains("line 2: not JSON"), "{err}");
    let err = bad(&format!(
        "{ok}\n{{\"request\":{ok},\"response\":{{\"error\":{{\"message\":\"x\"}}}}}}\n"
    ));
    assert!(err.contains("line 2: its response"), "{err}");
    let err = bad("\n\n");
    assert!(err.contains("holds no requests"), "{err}");
}

#[test]
fn a_requests_file_is_a_reference_and_a_dataset_with_the_same_profile() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "requests.jsonl", REQUESTS);
    let spec = path.display().to_string();
    assert_eq!(classify(&spec), ReferenceKind::RequestsFile);
    let options = ProfileOptions::default();
    let home_dir = dir.path().join("home");
    let direct = load_profile(&home_dir, &spec, &SchemaOverrides::default(), &options).unwrap();
    assert_eq!(direct.rows, 4);
    let script = direct.column("prompt_script").unwrap();
    let categories: Vec<&str> = script
        .categorical
        .as_ref()
        .unwrap()
        .categories
        .iter()
        .map(|c| c.value.as_str())
        .collect();
    assert_eq!(categories, ["Latin", "Cyrillic", "Han"]);
    assert_eq!(direct.column("completion_tokens").unwrap().missing, 2);

    let mut home = Home::create(&home_dir).unwrap();
    let added = home
        .add_dataset("chat", &path, &SchemaOverrides::default())
        .unwrap();
    assert_eq!(added.dataset.rows, 4);
    assert!(added.dataset.source_path.ends_with("requests.jsonl"));
    let stored = load_profile(&home_dir, "chat", &SchemaOverrides::default(), &options).unwrap();
    assert_eq!(
        serde_json::to_value(&stored.columns).unwrap(),
        serde_json::to_value(&direct.columns).unwrap()
    );

    let flags = SchemaOverrides {
        target: Some("finish_reason".into()),
        ..Default::default()
    };
    let err = load_profile(&home_dir, &spec, &flags, &options).unwrap_err();
    assert!(format!("{err}").contains("drop --target"), "{err}");
    let err = home.add_dataset("chat", &path, &flags).unwrap_err();
    assert!(format!("{err}").contains("drop --target"), "{err}");
}
