use super::*;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn gap_percentiles_are_nearest_rank() {
    let mut gaps: Vec<Duration> = (1..=20).rev().map(ms).collect();
    let summary = GapSummary::of(&mut gaps, 20, ms(10)).unwrap();
    assert_eq!(summary.p50, ms(10));
    assert_eq!(summary.p95, ms(19));
    assert_eq!(summary.max, ms(20));
    assert_eq!(summary.count, 20);
    let one = GapSummary::of(&mut [ms(7)], 1, ms(7)).unwrap();
    assert_eq!((one.p50, one.p95, one.max), (ms(7), ms(7), ms(7)));
    assert_eq!(GapSummary::of(&mut [], 0, ms(0)), None);
}
