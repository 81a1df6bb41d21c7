//! The drift features of one `/v1/embeddings` exchange: one row per input, holding the
//! input's length and its returned vector reduced to a few numbers, so that embedding
//! traffic is windowed and tested (column by column and by the multivariate methods) like
//! tabular rows.
//!
//! A row has [`INPUT_TOKENS`] (the input's estimated tokens, the rule of
//! [`super::text::estimate_tokens`]; a list of token ids counts as its length),
//! [`EMBEDDING_NORM`] (the vector's Euclidean norm) and [`COMPONENTS`] components
//! `embedding_p01…` of a fixed random projection of the vector.
//!
//! # Why a fixed random projection
//! A vector of 384 to 3,072 numbers cannot be columns as it is: each column gets its own
//! drift test and gauges (thousands of series per model), and the multivariate methods'
//! CPU per evaluation grows with the columns (measured in docs/llm.md). A projection
//! fitted on the reference (PCA) would have to travel with every reference, including a
//! feature table stored by `modelwatch dataset add`, and be applied identically by the
//! sidecar; a fixed projection needs nothing stored: it is a function of the vector alone,
//! so a reference and the live traffic always get the same columns. Random projections keep
//! distances between vectors up to a small distortion (Johnson–Lindenstrauss; Achlioptas,
//! "Database-friendly random projections", 2003, for the ±1 entries used here), so a change
//! in where the vectors lie shows in the components; Rabanser et al. ("Failing Loudly",
//! NeurIPS 2019) found such projections as good as PCA for detecting shifts.
//!
//! Component `i` is `Σ_j s_ij·x_j / √COMPONENTS` with signs `s_ij = ±1` drawn from
//! [`SeededRng`] seeded with `PROJECTION_SEED + i` ([`PROJECTION_SEED`]), bit `j mod 64`
//! of its `(j div 64)`th draw (1 is +1). A row's signs do not depend on the vector's dimension, and the scale
//! keeps the norm on average. Changing the seed, the scale or [`COMPONENTS`] changes the
//! columns of every stored reference: they are part of the format.

use super::from_json;
use super::text::estimate_tokens;
use crate::protocol::error::{DecodeError, DecodeReason, fail};
use crate::protocol::{Batch, Column, Value};
use crate::random::SeededRng;
use base64::Engine as _;
use serde::Deserialize;
use serde_json::Value as Json;

/// Estimated tokens of the input (token ids count as themselves).
pub const INPUT_TOKENS: &str = "input_tokens";
/// The Euclidean norm of the returned vector (1 for servers that normalise).
pub const EMBEDDING_NORM: &str = "embedding_norm";
/// Components of the projection (`embedding_p01` … `embedding_p32`).
pub const COMPONENTS: usize = 32;
/// The projection's seed (part of the format: see the module docs).
pub const PROJECTION_SEED: u64 = 0x6d77_656d_6265_6400;

/// The columns of a row, in order: all numeric features.
pub fn column_names() -> Vec<String> {
    [INPUT_TOKENS.to_string(), EMBEDDING_NORM.to_string()]
        .into_iter()
        .chain((1..=COMPONENTS).map(|i| format!("embedding_p{i:02}")))
        .collect()
}

/// One input and its vector.
#[derive(Clone, Debug, PartialEq)]
pub struct EmbeddingRow {
    /// `None` when the request's inputs cannot be paired with the answer's vectors.
    pub input_tokens: Option<u64>,
    pub norm: f64,
    pub components: [f64; COMPONENTS],
}

#[derive(Deserialize)]
struct RawRequest {
    input: Option<Json>,
}

#[derive(Deserialize)]
struct RawAnswer {
    #[serde(default)]
    data: Vec<RawEmbedding>,
    error: Option<serde::de::IgnoredAny>,
}

#[derive(Deserialize)]
struct RawEmbedding {
    #[serde(default)]
    index: usize,
    embedding: RawVector,
}

/// `encoding_format: "float"` gives numbers; `"base64"` (the default of OpenAI's own
/// Python client) the little-endian `f32`s base64-encoded. llama-cpp-python answers with
/// one vector per token when the model pools none (a chat model started with
/// `--embedding true`).
#[derive(Deserialize)]
#[serde(untagged)]
enum RawVector {
    Floats(Vec<f64>),
    PerToken(Vec<Vec<f64>>),
    Base64(String),
}

/// The estimated tokens of each input of an embeddings request body: a string, a list of
/// strings, a list of token ids, or a list of such lists.
pub fn input_tokens(body: &[u8]) -> Result<Vec<u64>, DecodeError> {
    let raw: RawRequest = from_json(body)?;
    let Some(input) = raw.input else {
        return fail(
            DecodeReason::WrongProtocol,
            "an embeddings request needs `input`",
        );
    };
    super::features::each_input(&input, "input", estimate_tokens, |ids| ids.len() as u64)
}

/// The vectors of an embeddings answer, in `index` order.
pub fn vectors(body: &[u8]) -> Result<Vec<Vec<f64>>, DecodeError> {
    let mut raw: RawAnswer = from_json(body)?;
    if raw.error.is_some() {
        return fail(
            DecodeReason::UpstreamError,
            "the answer is an error envelope",
        );
    }
    if raw.data.is_empty() {
        return fail(DecodeReason::Empty, "the answer has no `data`");
    }
    raw.data.sort_by_key(|e| e.index);
    raw.data
        .into_iter()
        .map(|e| {
            let vector = match e.embedding {
                RawVector::Floats(values) => values,
                RawVector::PerToken(tokens) => mean_of(&tokens)?,
                RawVector::Base64(text) => decode_base64(&text)?,
            };
            if vector.is_empty() {
                return fail(DecodeReason::Empty, "an `embedding` is empty");
            }
            Ok(vector)
        })
        .collect()
}

/// Per-token vectors become their mean: the pooling llama.cpp itself applies with
/// `--pooling mean`, so such a server's answers are monitored like a pooled model's.
fn mean_of(tokens: &[Vec<f64>]) -> Result<Vec<f64>, DecodeError> {
    let Some(first) = tokens.first() else {
        return fail(DecodeReason::Empty, "an `embedding` has no token vectors");
    };
    if tokens.iter().any(|t| t.len() != first.len()) {
        return fail(
            DecodeReason::ShapeMismatch,
            "an `embedding`'s token vectors differ in length",
        );
    }
    let n = tokens.len() as f64;
    Ok((0..first.len())
        .map(|j| tokens.iter().map(|t| t[j]).sum::<f64>() / n)
        .collect())
}

fn decode_base64(text: &str) -> Result<Vec<f64>, DecodeError> {
    let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(text) else {
        return fail(DecodeReason::InvalidField, "`embedding` is not base64");
    };
    if bytes.len() % 4 != 0 {
        return fail(
            DecodeReason::InvalidField,
            "a base64 `embedding` is not a whole number of 32-bit floats",
        );
    }
    Ok(bytes
        .chunks_exact(4)
        .map(|b| f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]])))
        .collect())
}

/// The rows of an exchange: the answer's vectors, each with its input's tokens when the
/// request's inputs pair one to one with them (`inputs` may be `None`: request unread).
pub fn rows(inputs: Option<&[u64]>, vectors: &[Vec<f64>]) -> Vec<EmbeddingRow> {
    let paired = inputs.filter(|i| i.len() == vectors.len());
    vectors
        .iter()
        .enumerate()
        .map(|(i, vector)| EmbeddingRow {
            input_tokens: paired.map(|tokens| tokens[i]),
            norm: vector.iter().map(|x| x * x).sum::<f64>().sqrt(),
            components: project(vector),
        })
        .collect()
}

/// The vector's [`COMPONENTS`] projected components (see the module docs).
pub fn project(vector: &[f64]) -> [f64; COMPONENTS] {
    let scale = 1.0 / (COMPONENTS as f64).sqrt();
    std::array::from_fn(|i| {
        let mut signs = SeededRng::new(PROJECTION_SEED + i as u64);
        let mut sum = 0.0;
        for block in vector.chunks(64) {
            let bits = signs.next_u64();
            for (j, x) in block.iter().enumerate() {
                if bits >> j & 1 == 1 {
                    sum += x;
                } else {
                    sum -= x;
                }
            }
        }
        sum * scale
    })
}

/// The rows as a batch of [`column_names`].
pub fn batch(rows: &[EmbeddingRow]) -> Batch {
    let number = |x: f64| Value::Number(x);
    let mut columns = vec![
        rows.iter()
            .map(|r| r.input_tokens.map_or(Value::Missing, |t| number(t as f64)))
            .collect(),
        rows.iter().map(|r| number(r.norm)).collect(),
    ];
    columns.extend((0..COMPONENTS).map(|i| rows.iter().map(|r| number(r.components[i])).collect()));
    Batch {
        columns: column_names()
            .into_iter()
            .zip(columns)
            .map(|(name, values)| Column {
                name: Some(name),
                values,
            })
            .collect(),
        rows: rows.len(),
        model_version: None,
    }
}

#[cfg(test)]
mod tests;
