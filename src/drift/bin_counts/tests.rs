//! The reference's bins: where values land, and that counting is independent of order
//! and of how the stream is split.

use super::*;

fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(f64::total_cmp);
    v
}

/// 0.0, 0.5, …, 49.5: 100 distinct values, so Sturges bins (ceil(log2(100) + 1) = 8).
fn continuous_reference() -> Vec<f64> {
    (0..100).map(|i| f64::from(i) / 2.0).collect()
}

#[test]
fn sturges_bins_of_the_reference_hold_what_numpy_histogram_holds() {
    let reference = continuous_reference();
    let counts = BinCounts::new(&reference);
    let edges = sturges_edges(&reference, &[]);
    assert_eq!(edges.len(), 9, "{edges:?}");
    let mut expected = vec![0u64; 8];
    histogram_counts(&reference, &edges, &mut expected);
    assert_eq!(counts.reference, expected);
    // In range: numpy's half-open bins, the last one closed.
    let current = sorted(vec![0.0, 6.1, 6.2, 30.0, 49.5, 49.5, 12.3]);
    let mut in_range = vec![0u64; 8];
    histogram_counts(&current, &edges, &mut in_range);
    assert_eq!(
        BinCounts::of_samples(&reference, &current).current,
        in_range
    );
    // Out of range: the outer bins are open-ended.
    let outside = BinCounts::of_samples(&reference, &[-100.0, -0.5, 50.0, 1e9]);
    assert_eq!(outside.current, [2, 0, 0, 0, 0, 0, 0, 2]);
    // Each edge starts its bin.
    for (i, &e) in edges[1..8].iter().enumerate() {
        assert_eq!(counts.locate(e), i as u32 + 1, "edge {e}");
    }
}

#[test]
fn few_distinct_values_get_a_bin_each_and_others_one_more_when_present() {
    let reference = sorted(vec![1.0, 1.0, 2.0, 3.0, 3.0, 3.0]);
    let same = BinCounts::of_samples(&reference, &[1.0, 2.0, 2.0, 3.0]);
    let (r, c) = same.proportions();
    assert_eq!(r, [2.0 / 6.0, 1.0 / 6.0, 3.0 / 6.0]);
    assert_eq!(c, [0.25, 0.5, 0.25]);
    let with_new = BinCounts::of_samples(&reference, &[1.0, 2.5, 7.0, 3.0]);
    let (r, c) = with_new.proportions();
    assert_eq!(r, [2.0 / 6.0, 1.0 / 6.0, 3.0 / 6.0, 0.0]);
    assert_eq!(c, [0.25, 0.0, 0.25, 0.5]);
}

#[test]
fn counts_do_not_depend_on_order_or_on_how_the_stream_is_split() {
    let reference = continuous_reference();
    // A current stream with repeats, values outside the range and values on edges.
    let current: Vec<f64> = (0..5000)
        .map(|i| f64::from((i * 37) % 1200) / 20.0 - 5.0)
        .collect();
    let whole = BinCounts::of_samples(&reference, &sorted(current.clone()));
    for parts in [2, 3, 7] {
        let chunk = current.len().div_ceil(parts);
        let mut merged = BinCounts::new(&reference);
        for piece in current.chunks(chunk).rev() {
            let mut part = BinCounts::new(&reference);
            for &x in piece {
                part.push(x);
            }
            merged.merge(&part);
        }
        assert_eq!(merged, whole, "{parts} parts");
    }
    assert_eq!(whole.current_len(), 5000);
}
