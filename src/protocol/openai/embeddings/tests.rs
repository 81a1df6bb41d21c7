use super::*;
use crate::protocol::error::DecodeReason;

#[test]
fn every_input_shape_gives_one_count_per_input() {
    // Words count ceil(chars / 4) (docs/llm.md): "hello" 2, "world" 2.
    assert_eq!(input_tokens(br#"{"input": "hello world"}"#).unwrap(), [4]);
    assert_eq!(
        input_tokens(br#"{"input": ["hello", "a b c"], "model": "m"}"#).unwrap(),
        [2, 3]
    );
    // Token ids count as themselves: one list is one input, a list of lists several.
    assert_eq!(input_tokens(br#"{"input": [1, 2, 3]}"#).unwrap(), [3]);
    assert_eq!(
        input_tokens(br#"{"input": [[1, 2], [3]]}"#).unwrap(),
        [2, 1]
    );
    let reason = |body: &[u8]| input_tokens(body).unwrap_err().reason();
    assert_eq!(reason(br#"{"model": "m"}"#), DecodeReason::WrongProtocol);
    assert_eq!(reason(br#"{"input": 5}"#), DecodeReason::InvalidField);
    assert_eq!(
        reason(br#"{"input": [{"a": 1}]}"#),
        DecodeReason::InvalidField
    );
}

#[test]
fn vectors_come_in_index_order_as_floats_or_base64() {
    // The answer's shape from the OpenAI API reference (`object: list` of `embedding`s),
    // indices out of order on purpose.
    let answer = br#"{"object": "list", "model": "text-embedding-3-small",
        "data": [
            {"object": "embedding", "index": 1, "embedding": [0.5, -1.0]},
            {"object": "embedding", "index": 0, "embedding": [3, 4]}
        ],
        "usage": {"prompt_tokens": 4, "total_tokens": 4}}"#;
    assert_eq!(vectors(answer).unwrap(), [vec![3.0, 4.0], vec![0.5, -1.0]]);

    // `encoding_format: "base64"`: little-endian f32s, as the reference documents.
    let bytes: Vec<u8> = [1.5f32, -2.0, 0.25]
        .iter()
        .flat_map(|x| x.to_le_bytes())
        .collect();
    let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
    let answer =
        format!(r#"{{"object": "list", "data": [{{"index": 0, "embedding": "{encoded}"}}]}}"#);
    assert_eq!(vectors(answer.as_bytes()).unwrap(), [vec![1.5, -2.0, 0.25]]);

    // llama-cpp-python's answer for a model without pooling: one vector per token, here
    // taken as their mean.
    let per_token = br#"{"object": "list", "data": [{"object": "embedding", "index": 0,
        "embedding": [[1.0, 2.0], [3.0, -2.0]]}]}"#;
    assert_eq!(vectors(per_token).unwrap(), [vec![2.0, 0.0]]);

    let reason = |body: &[u8]| vectors(body).unwrap_err().reason();
    assert_eq!(
        reason(br#"{"data": [{"embedding": [[1.0], [1.0, 2.0]]}]}"#),
        DecodeReason::ShapeMismatch
    );
    assert_eq!(
        reason(br#"{"data": [{"embedding": [[]]}]}"#),
        DecodeReason::Empty
    );
    assert_eq!(
        reason(br#"{"error": {"message": "no"}}"#),
        DecodeReason::UpstreamError
    );
    assert_eq!(reason(br#"{"data": []}"#), DecodeReason::Empty);
    assert_eq!(
        reason(br#"{"data": [{"embedding": []}]}"#),
        DecodeReason::Empty
    );
    assert_eq!(
        reason(br#"{"data": [{"embedding": "AAA"}]}"#),
        DecodeReason::InvalidField
    );
    assert_eq!(
        reason(br#"{"data": [{"embedding": "not base64!"}]}"#),
        DecodeReason::InvalidField
    );
}

/// A vector of `d` draws, roughly N(0, 1) (a sum of uniforms), from `seed`.
fn vector(d: usize, seed: u64) -> Vec<f64> {
    let mut rng = SeededRng::new(seed);
    (0..d)
        .map(|_| (0..12).map(|_| rng.unit()).sum::<f64>() - 6.0)
        .collect()
}

#[test]
fn the_projection_is_linear_and_ignores_trailing_zeros() {
    let (a, b) = (vector(384, 1), vector(384, 2));
    let sum: Vec<f64> = a.iter().zip(&b).map(|(x, y)| x + y).collect();
    let (pa, pb, ps) = (project(&a), project(&b), project(&sum));
    for i in 0..COMPONENTS {
        assert!((ps[i] - pa[i] - pb[i]).abs() < 1e-9, "component {i}");
    }
    // A component's signs depend on the position alone, not on the dimension.
    let mut padded = a.clone();
    padded.resize(1536, 0.0);
    assert_eq!(project(&padded), pa);
    // Every component sees every coordinate: moving the last one moves them all.
    let mut moved = a.clone();
    moved[383] += 1.0;
    let pm = project(&moved);
    let step = 1.0 / (COMPONENTS as f64).sqrt();
    for i in 0..COMPONENTS {
        assert!(((pm[i] - pa[i]).abs() - step).abs() < 1e-9, "component {i}");
    }
}

#[test]
fn the_projection_keeps_the_norm_on_average() {
    // E‖Px‖² = ‖x‖² for ±1/√k entries; over 200 vectors the mean ratio is near 1, and the
    // components are not all the same (different seeds per component).
    let ratios: Vec<f64> = (0..200)
        .map(|s| {
            let x = vector(768, 100 + s);
            let p = project(&x);
            p.iter().map(|c| c * c).sum::<f64>() / x.iter().map(|c| c * c).sum::<f64>()
        })
        .collect();
    let mean = ratios.iter().sum::<f64>() / ratios.len() as f64;
    assert!((mean - 1.0).abs() < 0.05, "mean ‖Px‖²/‖x‖² = {mean}");
    let p = project(&vector(768, 7));
    assert!(p.iter().any(|&c| c != p[0]));
}

#[test]
fn rows_pair_inputs_with_vectors_and_batch_as_the_named_columns() {
    let vectors = [vec![3.0, 4.0], vec![0.0, 1.0]];
    let rows_of = |inputs: Option<&[u64]>| rows(inputs, &vectors);
    let paired = rows_of(Some(&[5, 7]));
    assert_eq!(
        paired.iter().map(|r| r.input_tokens).collect::<Vec<_>>(),
        [Some(5), Some(7)]
    );
    assert_eq!(paired[0].norm, 5.0);
    assert_eq!(paired[0].components, project(&vectors[0]));
    // Inputs that do not pair one to one (a server that dropped one) leave the count out.
    assert!(rows_of(Some(&[5])).iter().all(|r| r.input_tokens.is_none()));
    assert!(rows_of(None).iter().all(|r| r.input_tokens.is_none()));

    let batch = batch(&rows_of(None));
    assert_eq!(batch.rows, 2);
    let names: Vec<String> = batch
        .columns
        .iter()
        .map(|c| c.name.clone().unwrap())
        .collect();
    assert_eq!(names, column_names());
    assert_eq!(names.len(), 2 + COMPONENTS);
    assert_eq!(names[2], "embedding_p01");
    assert_eq!(names[33], "embedding_p32");
    assert_eq!(batch.columns[0].values[0], Value::Missing);
    assert_eq!(batch.columns[1].values[1], Value::Number(1.0));
    assert_eq!(
        batch.columns[2].values[0],
        Value::Number(project(&vectors[0])[0])
    );
}
