use super::*;

#[test]
fn quantiles_match_numpy_linear() {
    let x = [1.0, 2.0, 3.0, 4.0, 10.0];
    // np.quantile([1,2,3,4,10], [0, .1, .5, .9, 1]) -> [1. , 1.4, 3. , 7.6, 10.]
    let want = [1.0, 1.4, 3.0, 7.6, 10.0];
    for (q, w) in [0.0, 0.1, 0.5, 0.9, 1.0].iter().zip(want) {
        assert!((quantile(&x, *q) - w).abs() < 1e-12, "q={q}");
    }
}

#[test]
fn ten_equal_frequency_bins_hold_a_tenth_each() {
    let x: Vec<f64> = (0..1000).map(f64::from).collect();
    let edges = equal_frequency_edges(&x, 10, 0.0, 999.0);
    assert_eq!(edges.len(), 11);
    let mut counts = vec![0; bin_count(&edges)];
    for &v in &x {
        counts[bin_index(&edges, v)] += 1;
    }
    assert_eq!(counts, vec![100; 10]);
}

#[test]
fn ties_collapse_edges_instead_of_making_empty_bins() {
    // 80% zeros, then 1..=20 (a spike at zero, like Debt or Assets).
    let mut x = vec![0.0; 80];
    x.extend((1..=20).map(f64::from));
    let edges = equal_frequency_edges(&x, 10, 0.0, 20.0);
    assert!(edges.windows(2).all(|w| w[0] < w[1]), "{edges:?}");
    assert_eq!(edges[0], 0.0);
    assert_eq!(bin_index(&edges, 0.0), 0);
    assert!(bin_index(&edges, 20.0) == bin_count(&edges) - 1);
}

#[test]
fn a_constant_column_has_one_bin() {
    let edges = equal_frequency_edges(&[5.0; 10], 10, 5.0, 5.0);
    assert_eq!(edges, vec![5.0]);
    assert_eq!(bin_count(&edges), 1);
    assert_eq!(bin_index(&edges, 5.0), 0);
    assert_eq!(bin_index(&edges, 99.0), 0);
}

#[test]
fn out_of_range_values_land_in_the_outer_bins() {
    let edges = [0.0, 1.0, 2.0, 3.0];
    assert_eq!(bin_index(&edges, -5.0), 0);
    assert_eq!(bin_index(&edges, 1.0), 1);
    assert_eq!(bin_index(&edges, 3.0), 2);
    assert_eq!(bin_index(&edges, 50.0), 2);
}
