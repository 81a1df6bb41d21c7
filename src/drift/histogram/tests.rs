//! The bars a chart draws: as many as the reference has bins or categories, each side's
//! shares where its values fell, whichever way the current column was counted.

use super::*;
use crate::profile::builder::profile_of;
use crate::profile::schema::SchemaOverrides;
use crate::profile::{Profile, ProfileOptions};

/// `x` numeric 0..100, `c` four categories.
fn profile() -> Profile {
    let mut text = String::from("x,c\n");
    for i in 0..400 {
        let label = ["red", "green", "blue", "a <b>"][i % 4];
        text += &format!("{},{label}\n", f64::from(i as u32) / 4.0);
    }
    profile_of(
        &text,
        &SchemaOverrides::default(),
        &ProfileOptions::default(),
    )
}

fn pushed(mut column: CurrentColumn, cells: &[&str]) -> CurrentColumn {
    for (i, cell) in cells.iter().enumerate() {
        column.push(cell.as_bytes(), i as u64 + 2);
    }
    column
}

#[test]
fn numeric_bars_are_the_reference_bins_whichever_way_current_is_counted() {
    let profile = profile();
    let x = &profile.columns[0];
    let numeric = x.numeric.as_ref().unwrap();
    let cells = ["1", "2", "3", "90", "95", "99.75"];
    let sampled = pushed(CurrentColumn::new(0, x, 1000, 1), &cells);
    let ks = pushed(
        CurrentColumn::new(0, x, 1000, 1).counting_for_ks(&numeric.sample),
        &cells,
    );
    let from_sample = histogram(x, &sampled).unwrap();
    let from_ks = histogram(x, &ks).unwrap();
    assert_eq!(from_sample.labels.len(), numeric.bin_count());
    assert_eq!(from_sample.reference, numeric.proportions);
    // Every current value is a reference value, so KS counts place them exactly.
    assert_eq!(from_sample, from_ks);
    // Half the values in the first bin, half in the last.
    assert_eq!(from_sample.current[0], 0.5);
    assert_eq!(*from_sample.current.last().unwrap(), 0.5);
    let sum: f64 = from_sample.current.iter().sum();
    assert!((sum - 1.0).abs() < 1e-12);
}

#[test]
fn psi_counted_columns_are_drawn_in_the_bins_their_score_used() {
    let profile = profile();
    let x = &profile.columns[0];
    let sample = &x.numeric.as_ref().unwrap().sample;
    let column = pushed(
        CurrentColumn::new(0, x, 1000, 1).counting_into_bins(sample),
        &["1", "50", "99"],
    );
    let h = histogram(x, &column).unwrap();
    let Some(NumericCounts::Bins(bins)) = &column.counts else {
        panic!("counted into bins")
    };
    let (r, c) = bins.proportions();
    assert_eq!((h.reference, h.current), (r, c));
    assert_eq!(h.labels.len(), bins.bin_labels().len());
    assert!(h.labels[0].starts_with('<'), "{:?}", h.labels);
}

#[test]
fn categories_include_the_unseen_ones() {
    let profile = profile();
    let c = &profile.columns[1];
    let column = pushed(CurrentColumn::new(1, c, 1000, 1), &["red", "red", "violet"]);
    let h = histogram(c, &column).unwrap();
    assert_eq!(h.labels, ["a <b>", "blue", "green", "red", "violet"]);
    assert_eq!(h.reference, [0.25, 0.25, 0.25, 0.25, 0.0]);
    assert_eq!(h.current[3], 2.0 / 3.0);
    assert_eq!(h.current[4], 1.0 / 3.0);
}

#[test]
fn many_categories_keep_the_largest_and_fold_the_rest() {
    let n = MAX_BARS + 10;
    let h = Histogram {
        labels: (0..n).map(|i| format!("c{i:02}")).collect(),
        reference: (0..n).map(|i| (i + 1) as f64).collect(),
        current: vec![0.0; n],
    };
    let total: f64 = h.reference.iter().sum();
    let capped = capped(h);
    assert_eq!(capped.labels.len(), MAX_BARS);
    assert_eq!(
        capped.labels[0], "c11",
        "the smallest went into the last bar"
    );
    assert_eq!(capped.labels.last().unwrap(), "11 more");
    assert_eq!(capped.reference.iter().sum::<f64>(), total);
}

#[test]
fn numbers_are_short() {
    assert_eq!(number(3.0), "3");
    assert_eq!(number(0.123456), "0.1235");
    assert_eq!(number(1234.5678), "1235");
    assert_eq!(number(12.5), "12.5");
    assert_eq!(number(1230.4), "1230");
    assert_eq!(number(1e-7), "1.000e-7");
}
