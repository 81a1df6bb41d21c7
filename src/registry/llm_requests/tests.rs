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
    let err = bad(&format!("{ok}\n{{\"model\":\"m\"}}\n"));
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

/// Two embeddings records (the answer's shape from the OpenAI API reference): one input,
/// then two inputs answered out of order.
const EMBEDDINGS: &str = concat!(
    r#"{"request":{"model":"e","input":"hello world"},"response":{"object":"list","data":[{"object":"embedding","index":0,"embedding":[3.0,4.0]}],"model":"e","usage":{"prompt_tokens":2,"total_tokens":2}}}"#,
    "\n",
    r#"{"request":{"model":"e","input":["a","bb cc"]},"response":{"object":"list","data":[{"index":1,"embedding":[0.0,2.0]},{"index":0,"embedding":[1.0,0.0]}]}}"#,
    "\n",
);

#[test]
fn an_embeddings_file_becomes_one_row_per_vector() {
    use crate::protocol::openai::embeddings::{COMPONENTS, column_names, project};
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "embeddings.jsonl", EMBEDDINGS);
    let table = feature_table(&path).unwrap();
    assert_eq!(table.rows, 3);
    let names: Vec<String> = table
        .schema
        .columns
        .iter()
        .map(|c| c.name.clone())
        .collect();
    assert_eq!(names, column_names());
    assert!(
        table
            .schema
            .columns
            .iter()
            .all(|c| c.kind == ColumnKind::Numeric && c.role == ColumnRole::Feature)
    );
    let csv = std::fs::read_to_string(table.csv.path()).unwrap();
    let cells: Vec<Vec<f64>> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(|c| c.parse().unwrap()).collect())
        .collect();
    // "hello world" 2 + 2 tokens, norm 5; "a" 1 token paired with index 0's vector.
    assert_eq!(cells[0][..2], [4.0, 5.0]);
    assert_eq!(cells[0][2..], project(&[3.0, 4.0]));
    assert_eq!(cells[1][..2], [1.0, 1.0]);
    assert_eq!(cells[2][..2], [2.0, 2.0]);
    assert_eq!(cells[2][2..], project(&[0.0, 2.0]));
    assert_eq!(cells[2].len(), 2 + COMPONENTS);

    // `dataset profile` and `--reference` read it directly, like a chat file.
    assert_eq!(
        classify(path.to_str().unwrap()),
        ReferenceKind::RequestsFile
    );
    let profile = load_profile(
        dir.path(),
        path.to_str().unwrap(),
        &SchemaOverrides::default(),
        &ProfileOptions::default(),
    )
    .unwrap();
    assert_eq!(profile.columns.len(), 2 + COMPONENTS);
    assert_eq!(profile.row_sample.as_ref().unwrap().rows.len(), 3);
}

#[test]
fn embeddings_lines_stand_alone_and_pair_with_their_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let error = |name: &str, text: &str| {
        let path = write(dir.path(), name, text);
        match feature_table(&path) {
            Ok(_) => panic!("{name} was read"),
            Err(e) => format!("{e:#}"),
        }
    };
    let chat = r#"{"messages":[{"role":"user","content":"x"}]}"#;
    let mixed = error("mixed.jsonl", &format!("{EMBEDDINGS}{chat}\n"));
    assert!(
        mixed.contains("mixed.jsonl line 3") && mixed.contains("own file"),
        "{mixed}"
    );
    let mixed = error("mixed2.jsonl", &format!("{chat}\n{EMBEDDINGS}"));
    assert!(mixed.contains("line 2"), "{mixed}");
    let unpaired = error(
        "unpaired.jsonl",
        r#"{"request":{"input":["a","b"]},"response":{"data":[{"index":0,"embedding":[1.0]}]}}"#,
    );
    assert!(
        unpaired.contains("2 inputs but its response 1 vectors"),
        "{unpaired}"
    );
    let bad = error(
        "bad.jsonl",
        r#"{"request":{"input":"a"},"response":{"data":[{"index":0,"embedding":"%%"}]}}"#,
    );
    assert!(
        bad.contains("line 1: its response") && bad.contains("base64"),
        "{bad}"
    );
}

#[test]
fn a_responses_api_record_reads_its_answer_as_a_response() {
    // Shapes from the OpenAI API reference: `instructions` and `input`, and a response
    // object cut at `max_output_tokens`.
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "responses.jsonl",
        concat!(
            r#"{"request":{"model":"gpt-4.1","instructions":"Be brief.","input":"hello there"},"response":{"object":"response","status":"incomplete","incomplete_details":{"reason":"max_output_tokens"},"output":[{"type":"message","role":"assistant","content":[{"type":"output_text","text":"ok then"}]}]}}"#,
            "\n",
        ),
    );
    let table = feature_table(&path).unwrap();
    let csv = std::fs::read_to_string(table.csv.path()).unwrap();
    let row = csv.lines().nth(1).unwrap();
    let system = row.split(',').nth(2).unwrap();
    // The same row a chat with that system message gives: 8 tokens, 2 messages.
    assert_eq!(row, format!("8,2,{system},off,Latin,2,length"));
    assert_ne!(system, "absent");
}
