use super::*;
use crate::protocol::Column;
use hmac::{Hmac, KeyInit, Mac};

const KEY: &str = "0123456789abcdef-test-key";

fn batch(columns: &[(Option<&str>, Vec<Cell>)]) -> Batch {
    Batch {
        rows: columns[0].1.len(),
        columns: columns
            .iter()
            .map(|(name, values)| Column {
                name: name.map(str::to_string),
                values: values.clone(),
            })
            .collect(),
        model_version: None,
    }
}

fn policy(config: CaptureConfig) -> CapturePolicy {
    let mut problems = Vec::new();
    config.validate(&mut problems);
    assert!(problems.is_empty(), "{problems:?}");
    CapturePolicy::new(&config).expect("sample_rate > 0")
}

fn everything() -> CaptureConfig {
    CaptureConfig {
        sample_rate: 1.0,
        max_bytes: 100_000,
        drop: vec!["SSN".into()],
        hash: vec!["customer".into()],
        hash_key: Some(KEY.into()),
    }
}

fn request() -> Batch {
    batch(&[
        (
            Some("Income"),
            vec![Cell::Number(1500.0), Cell::Missing, Cell::Number(f64::NAN)],
        ),
        (
            Some("ssn"),
            vec![
                Cell::Text("123-45-6789".into()),
                Cell::Text("987-65-4321".into()),
                Cell::Text("555-55-5555".into()),
            ],
        ),
        (
            Some("Customer"),
            vec![
                Cell::Text("alice".into()),
                Cell::Text("bob".into()),
                Cell::Text("alice".into()),
            ],
        ),
    ])
}

fn hmac_hex(text: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(KEY.as_bytes()).unwrap();
    mac.update(text.as_bytes());
    format!("hmac:{}", hex::encode(&mac.finalize().into_bytes()[..16]))
}

#[test]
fn dropped_fields_are_absent_and_hashed_ones_correlate_without_the_value() {
    let response = batch(&[(None, vec![Cell::Text("good".into()); 3])]);
    let payload = policy(everything())
        .capture(Some(&request()), Some(&response), &[], &["label"])
        .unwrap();
    let features = payload.features.unwrap();
    assert_eq!(features["Income"], json!([1500.0, null, null]));
    assert!(features.get("ssn").is_none(), "dropped, case-insensitively");
    assert!(!features.to_string().contains("123-45"));
    let customers = features["Customer"].as_array().unwrap();
    assert_eq!(customers[0], hmac_hex("alice"), "HMAC-SHA256 with the key");
    assert_eq!(customers[0], customers[2], "equal values, equal hashes");
    assert_ne!(customers[0], customers[1]);
    assert!(!features.to_string().contains("alice"));
    // An unnamed output takes the reference's prediction name.
    assert_eq!(
        payload.predictions.unwrap()["label"],
        json!(["good", "good", "good"])
    );
    assert_eq!(payload.rows, 3);
    assert!(!payload.truncated);

    // Another key gives other hashes: without the key, a guess cannot be checked.
    let other = CaptureConfig {
        hash_key: Some("another-key-of-16+chars".into()),
        ..everything()
    };
    let features = policy(other)
        .capture(Some(&request()), None, &[], &[])
        .unwrap()
        .features
        .unwrap();
    assert_ne!(features["Customer"][0], customers[0]);
}

#[test]
fn max_bytes_keeps_whole_rows_and_says_so() {
    let rows: Vec<Cell> = (0..100).map(|i| Cell::Number(i as f64 * 1000.5)).collect();
    let wide = batch(&[(Some("Amount"), rows.clone()), (None, rows)]);
    let capped = CaptureConfig {
        max_bytes: 200,
        ..everything()
    };
    let payload = policy(capped)
        .capture(Some(&wide), None, &["Amount", "Price"], &[])
        .unwrap();
    assert!(payload.truncated);
    assert!(payload.rows > 0 && payload.rows < 100, "{}", payload.rows);
    let features = payload.features.unwrap();
    let text = features.to_string();
    assert!(text.len() <= 200, "{} bytes: {text}", text.len());
    assert_eq!(payload.bytes, text.len());
    // Whole rows: every column has the same, first rows.
    assert_eq!(
        features["Amount"].as_array().unwrap().len() as u64,
        payload.rows
    );
    assert_eq!(
        features["Price"], features["Amount"],
        "positional column named by the reference"
    );
    assert_eq!(features["Amount"][1], 1000.5);

    // A budget too small for one row captures nothing but says it was cut.
    let tiny = CaptureConfig {
        max_bytes: 10,
        ..everything()
    };
    let payload = policy(tiny).capture(Some(&wide), None, &[], &[]).unwrap();
    assert_eq!(
        (payload.features, payload.rows, payload.truncated),
        (None, 0, true)
    );
}

#[test]
fn sampling_follows_the_request_id() {
    let half = policy(CaptureConfig {
        sample_rate: 0.5,
        ..everything()
    });
    let ids: Vec<String> = (0..2000).map(|i| format!("req-{i}")).collect();
    let sampled = ids.iter().filter(|id| half.sampled(id)).count();
    assert!((900..1100).contains(&sampled), "{sampled} of 2000 at 0.5");
    // The same id is always decided the same way (a resend carries the same payload).
    assert!(ids.iter().all(|id| half.sampled(id) == half.sampled(id)));
    let all = policy(everything());
    assert!(ids.iter().all(|id| all.sampled(id)));
    assert!(
        CapturePolicy::new(&CaptureConfig::default()).is_none(),
        "off by default"
    );
}

#[test]
fn bad_capture_settings_name_the_key() {
    let config = CaptureConfig {
        sample_rate: 1.5,
        max_bytes: 0,
        drop: vec!["id".into()],
        hash: vec!["ID".into()],
        hash_key: Some("short".into()),
    };
    let mut problems = Vec::new();
    config.validate(&mut problems);
    let text = problems.join("\n");
    assert_eq!(problems.len(), 4, "{text}");
    for key in ["sample_rate", "max_bytes", "hash_key", "both drop and hash"] {
        assert!(text.contains(key), "{key} missing from {text}");
    }
}

#[test]
fn llm_text_is_dropped_hashed_or_cut_to_the_budget_like_a_column() {
    let kept = policy(CaptureConfig {
        max_bytes: 7,
        ..everything()
    });
    // The prompt first; "é" (2 bytes) straddles the budget and is not split; the
    // completion gets what is left.
    let text = kept.capture_text(Some("abcdefé"), Some("xyz"), false);
    assert_eq!(text.prompt.as_deref(), Some("abcdef"));
    assert_eq!(text.completion.as_deref(), Some("x"));
    assert!(text.truncated);
    let whole = kept.capture_text(Some("ab"), Some("cd"), false);
    assert_eq!(
        (
            whole.prompt.as_deref(),
            whole.completion.as_deref(),
            whole.truncated
        ),
        (Some("ab"), Some("cd"), false)
    );
    assert!(kept.capture_text(Some("ab"), Some("cd"), true).truncated);

    let redacting = policy(CaptureConfig {
        drop: vec!["Prompt".into()],
        hash: vec!["completion".into()],
        ..everything()
    });
    let text = redacting.capture_text(Some("my secret"), Some("the answer"), false);
    assert_eq!(text.prompt, None);
    assert_eq!(text.completion, Some(hmac_hex("the answer")));
}
