//! The score history the drift page draws: bounded, oldest first, this evaluation last,
//! kept apart for features and predictions of the same name.

use super::*;

fn line(name: &str, score: Option<f64>) -> ColumnReport {
    ColumnReport::example(name, score)
}

#[test]
fn score_history_is_bounded_and_ends_with_this_evaluation() {
    let mut scores = HashMap::new();
    let mut features = [line("x", None)];
    let mut predictions = [line("x", None)];
    for i in 0..SCORE_HISTORY + 10 {
        features[0].score = Some(i as f64);
        predictions[0].score = Some(-(i as f64));
        remember_scores(&mut scores, &mut features, &mut predictions);
    }
    let expected: Vec<f64> = (10..SCORE_HISTORY + 10).map(|i| i as f64).collect();
    assert_eq!(features[0].history, expected);
    assert_eq!(
        predictions[0].history[SCORE_HISTORY - 1],
        -((SCORE_HISTORY + 9) as f64)
    );
    // An evaluation without a score (too few rows) keeps the history as it was.
    features[0].score = None;
    remember_scores(&mut scores, &mut features, &mut []);
    assert_eq!(features[0].history, expected);
}
