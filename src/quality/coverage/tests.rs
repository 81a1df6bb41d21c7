use super::*;

#[test]
fn coverage_is_the_labelled_share_of_the_window_per_version() {
    let mut c = CoverageCounts::default();
    c.add(1, 0, 10, 0); // minute 0, outside the window below
    c.add(1, 120_000, 4, 0);
    c.add(1, 130_000, 0, 1); // a label joining a prediction of minute 2
    c.add(2, 125_000, 6, 3);
    c.add(3, 125_000, 100, 100); // another version
    let window = c.since(&[1, 2], 120_000);
    assert_eq!(
        window,
        Counts {
            predicted: 10,
            labelled: 4
        }
    );
    assert_eq!(window.coverage(), Some(0.4));
    c.prune(120_000);
    assert_eq!(c.since(&[1], 0).predicted, 4, "minute 0 pruned");
    assert_eq!(Counts::default().coverage(), None);
}
