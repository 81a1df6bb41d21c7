//! A reference for LLM traffic: a JSONL file of OpenAI-compatible chat or text completion
//! requests, each optionally with its answer, or of embeddings requests with their
//! answers, turned into a CSV table of the drift features the sidecar derives from live
//! traffic ([`crate::protocol::openai::features`], [`crate::protocol::openai::embeddings`]).
//!
//! Each line is either a request body (`{"model": …, "messages": […]}`, `{"prompt": …}`,
//! or a Responses API request `{"input": …, "instructions": …}`), or a record `{"request": {…}, "response": …}` whose `response` is the
//! answer's JSON object or, for a streamed answer, the `text/event-stream` body as a string.
//! The table has the request columns, and the answer columns (as prediction columns) when
//! at least one line carries an answer.
//!
//! A record whose `response` is an embeddings answer (`"data": [{"embedding": …}]`) is an
//! embeddings line: one row per vector, every column a feature. A file holds one kind of
//! line or the other (they share no columns). Only the features are kept: no prompt text
//! and no vector reaches the registry or the profile.

use crate::exit::UsageError;
use crate::profile::schema::{ColumnKind, ColumnRole, ColumnSchema, Schema};
use crate::protocol::openai::embeddings::{self, EmbeddingRow};
use crate::protocol::openai::features::{
    ANSWER_COLUMNS, AnswerFeatures, NUMERIC_COLUMNS, PromptFeatures, REQUEST_COLUMNS,
    answer_features, finish_reason_value, request_features,
};
use crate::protocol::openai::responses;
use anyhow::Context;
use serde_json::Value as Json;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;

/// True for a file this module reads: its name ends in `.jsonl` or `.ndjson`.
pub fn is_requests_file(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("jsonl") || e.eq_ignore_ascii_case("ndjson"))
}

/// The feature table of a requests file, written to a temporary CSV file.
pub struct FeatureTable {
    pub schema: Schema,
    pub csv: tempfile::NamedTempFile,
    pub rows: u64,
}

/// One line's rows: its prompts, and its answer if it has one.
struct Line {
    prompts: Vec<PromptFeatures>,
    answer: Option<AnswerFeatures>,
}

/// What a file's lines are: all of one kind.
enum Lines {
    Text(Vec<Line>),
    Embeddings(Vec<EmbeddingRow>),
}

/// Reads the requests file at `path` into its feature table. A line that is not a chat or
/// completion request (or whose answer cannot be read) is an error naming the line.
pub fn feature_table(path: &Path) -> anyhow::Result<FeatureTable> {
    let shown = path.display();
    let file = std::fs::File::open(path).with_context(|| format!("could not open {shown}"))?;
    let mut lines: Option<Lines> = None;
    for (i, line) in BufReader::new(file).lines().enumerate() {
        let line = line.with_context(|| format!("could not read {shown}"))?;
        if line.trim().is_empty() {
            continue;
        }
        let at = |e: String| UsageError(format!("{shown} line {}: {e}", i + 1));
        let json: Json = serde_json::from_str(&line)
            .map_err(|e| at(format!("not JSON ({e}): write one JSON object per line")))?;
        let embedding = is_embeddings_record(&json);
        match lines.get_or_insert_with(|| match embedding {
            true => Lines::Embeddings(Vec::new()),
            false => Lines::Text(Vec::new()),
        }) {
            Lines::Text(text) if !embedding => text.push(read_line(&json).map_err(at)?),
            Lines::Embeddings(rows) if embedding => {
                rows.extend(read_embeddings(&json).map_err(at)?)
            }
            Lines::Text(_) | Lines::Embeddings(_) => {
                return Err(at(
                    "mixes embeddings records with chat or completion requests: they have \
                     different drift features, so give each kind its own file"
                        .to_string(),
                )
                .into());
            }
        }
    }
    let mut csv = tempfile::NamedTempFile::new().context("could not create a temporary file")?;
    let (schema, rows) = match lines {
        Some(Lines::Text(exchanges)) => {
            let with_answers = exchanges.iter().any(|e| e.answer.is_some());
            let schema = schema(with_answers);
            let rows = write_csv(&exchanges, &schema, csv.as_file_mut());
            (schema, rows)
        }
        Some(Lines::Embeddings(rows)) => {
            let schema = embeddings_schema();
            (schema, write_embeddings_csv(&rows, csv.as_file_mut()))
        }
        None => {
            return Err(UsageError(format!(
                "{shown} holds no requests: write one JSON request (or {{\"request\", \"response\"}} record) per line"
            ))
            .into());
        }
    };
    let rows = rows.context("could not write the feature table")?;
    Ok(FeatureTable { schema, csv, rows })
}

/// A record whose `response` is an embeddings answer (`data`). An embeddings request
/// without its answer is no embeddings line: its vectors are what drift compares.
fn is_embeddings_record(json: &Json) -> bool {
    json.get("response")
        .is_some_and(|r| r.get("data").is_some_and(Json::is_array))
}

fn read_embeddings(json: &Json) -> Result<Vec<EmbeddingRow>, String> {
    let (request, response) = (&json["request"], &json["response"]);
    let inputs = embeddings::input_tokens(request.to_string().as_bytes())
        .map_err(|e| format!("its request: {e}"))?;
    let vectors = embeddings::vectors(response.to_string().as_bytes()).map_err(|e| {
        format!("its response: {e}; give the `/v1/embeddings` answer's JSON object")
    })?;
    if inputs.len() != vectors.len() {
        return Err(format!(
            "its request has {} inputs but its response {} vectors: give the answer to this request",
            inputs.len(),
            vectors.len()
        ));
    }
    Ok(embeddings::rows(Some(&inputs), &vectors))
}

fn read_line(json: &Json) -> Result<Line, String> {
    let (request, response) = match json.get("request") {
        Some(request) => (request, json.get("response")),
        None => (json, None),
    };
    let prompts = request_features(request.to_string().as_bytes()).map_err(|e| {
        format!("{e}; each line is a chat (`messages`), completion (`prompt`) or Responses API (`input`) request body, or {{\"request\": …, \"response\": …}}")
    })?;
    // A request with `input` (and no `messages` or `prompt`) is the Responses API's.
    let is_responses = ["messages", "prompt"]
        .iter()
        .all(|field| request.get(field).is_none())
        && request.get("input").is_some();
    let answer_of = |body: &[u8], streamed| match is_responses {
        true => responses::answer_features(body, streamed),
        false => answer_features(body, streamed),
    };
    let answer = match response {
        None | Some(Json::Null) => None,
        Some(Json::String(stream)) => Some(answer_of(stream.as_bytes(), true)),
        Some(whole) => Some(answer_of(whole.to_string().as_bytes(), false)),
    }
    .transpose()
    .map_err(|e| {
        format!("its response: {e}; give the answer's JSON object, or a streamed answer's event-stream text as a string")
    })?;
    Ok(Line { prompts, answer })
}

/// Every embeddings column is a numeric feature.
fn embeddings_schema() -> Schema {
    Schema {
        columns: embeddings::column_names()
            .into_iter()
            .map(|name| ColumnSchema {
                name,
                kind: ColumnKind::Numeric,
                role: ColumnRole::Feature,
            })
            .collect(),
    }
}

fn write_embeddings_csv(rows: &[EmbeddingRow], out: &mut impl Write) -> anyhow::Result<u64> {
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record(embeddings::column_names())?;
    for row in rows {
        let mut record = vec![
            row.input_tokens.map(|t| t.to_string()).unwrap_or_default(),
            row.norm.to_string(),
        ];
        record.extend(row.components.iter().map(f64::to_string));
        writer.write_record(&record)?;
    }
    writer.flush()?;
    Ok(rows.len() as u64)
}

/// Request columns as features, answer columns as predictions; the kinds are fixed (a
/// system prompt hash of eight digits is still a category).
fn schema(with_answers: bool) -> Schema {
    let column = |name: &str, role| ColumnSchema {
        name: name.to_string(),
        kind: if NUMERIC_COLUMNS.contains(&name) {
            ColumnKind::Numeric
        } else {
            ColumnKind::Categorical
        },
        role,
    };
    let mut columns: Vec<ColumnSchema> = REQUEST_COLUMNS
        .iter()
        .map(|name| column(name, ColumnRole::Feature))
        .collect();
    if with_answers {
        columns.extend(
            ANSWER_COLUMNS
                .iter()
                .map(|name| column(name, ColumnRole::Prediction)),
        );
    }
    Schema { columns }
}

/// One row per prompt; a line's answer goes on its first prompt's row.
fn write_csv(exchanges: &[Line], schema: &Schema, out: &mut impl Write) -> anyhow::Result<u64> {
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record(schema.columns.iter().map(|c| c.name.as_str()))?;
    let with_answers = schema.columns.len() > REQUEST_COLUMNS.len();
    let mut rows = 0;
    for exchange in exchanges {
        for (i, p) in exchange.prompts.iter().enumerate() {
            let number = |n: Option<u64>| n.map(|n| n.to_string()).unwrap_or_default();
            let mut record = vec![
                p.prompt_tokens.to_string(),
                number(p.messages),
                p.system_prompt.clone().unwrap_or_default(),
                p.tool_use.unwrap_or_default().to_string(),
                p.prompt_script.to_string(),
            ];
            if with_answers {
                match exchange.answer.as_ref().filter(|_| i == 0) {
                    Some(a) => {
                        record.push(a.completion_tokens.to_string());
                        record.push(finish_reason_value(a).to_string());
                    }
                    None => record.extend([String::new(), String::new()]),
                }
            }
            writer.write_record(&record)?;
            rows += 1;
        }
    }
    writer.flush()?;
    Ok(rows)
}

#[cfg(test)]
mod tests;
