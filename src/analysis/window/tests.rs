use super::*;
use crate::drift::current::TypedCell;
use crate::profile::format::RowCell;
use crate::profile::schema::{ColumnKind, ColumnRole, ColumnSchema, Schema};
use crate::profile::{ProfileBuilder, ProfileOptions};

/// A numeric feature `x` seen from 0 to 99 (also the state tests' reference).
pub(in crate::analysis) fn profile() -> Profile {
    let schema = Schema {
        columns: vec![ColumnSchema {
            name: "x".into(),
            kind: ColumnKind::Numeric,
            role: ColumnRole::Feature,
        }],
    };
    let mut builder = ProfileBuilder::new(&schema, &ProfileOptions::default());
    for i in 0..100 {
        builder
            .push_record(&csv::StringRecord::from(vec![i.to_string()]))
            .unwrap();
    }
    builder.finish("test")
}

fn config(kind: WindowKind, rows: usize, subs: usize, span: Duration) -> AnalysisConfig {
    AnalysisConfig {
        window: kind,
        window_rows: rows,
        sub_windows: subs,
        sub_window_duration: span,
        ..AnalysisConfig::default()
    }
}

fn push(window: &mut Window, profile: &Profile, value: f64, now: Instant) {
    let sub = window.current(profile, now);
    sub.columns[0].push_typed(TypedCell::Number(value));
    sub.end_row();
}

#[test]
fn a_rows_window_keeps_the_last_rows_only() {
    let p = profile();
    let mut w = Window::new(
        &config(WindowKind::Rows, 100, 10, Duration::from_secs(1)),
        &p,
        vec![0],
    );
    let now = Instant::now();
    for i in 0..1000 {
        push(&mut w, &p, i as f64, now);
    }
    let (rows, merged) = w.merged(&p);
    assert_eq!(rows, 100);
    let values = merged[0].sorted_sample();
    assert_eq!(values.len(), 100);
    // The last 100 rows pushed were 900..=999.
    assert_eq!(values.first(), Some(&900.0));
    assert_eq!(values.last(), Some(&999.0));
}

#[test]
fn a_time_window_forgets_sub_windows_older_than_its_span() {
    let p = profile();
    let span = Duration::from_secs(60);
    let mut w = Window::new(&config(WindowKind::Time, 1000, 5, span), &p, vec![0]);
    let start = Instant::now();
    // One row per minute for ten minutes: the window spans five sub-windows of a minute.
    for minute in 0..10u64 {
        push(
            &mut w,
            &p,
            minute as f64,
            start + Duration::from_secs(60 * minute),
        );
    }
    w.expire(&p, start + Duration::from_secs(60 * 9 + 30));
    let (rows, merged) = w.merged(&p);
    assert_eq!(rows, 5, "minutes 5..=9 remain");
    assert_eq!(merged[0].sorted_sample(), vec![5.0, 6.0, 7.0, 8.0, 9.0]);
    // Long silence: everything expires, and the window is empty but usable.
    w.expire(&p, start + Duration::from_secs(3600));
    assert_eq!(w.merged(&p).0, 0);
    push(&mut w, &p, 42.0, start + Duration::from_secs(3600));
    assert_eq!(w.merged(&p).0, 1);
}

#[test]
fn a_time_window_samples_a_busy_sub_window_within_its_share_of_rows() {
    let p = profile();
    let mut w = Window::new(
        &config(WindowKind::Time, 100, 4, Duration::from_secs(60)),
        &p,
        vec![0],
    );
    let now = Instant::now();
    for i in 0..10_000 {
        push(&mut w, &p, (i % 100) as f64, now);
    }
    let (rows, merged) = w.merged(&p);
    assert_eq!(rows, 10_000, "every row is counted");
    assert_eq!(
        merged[0].sample.values().len(),
        25,
        "but memory holds 100 / 4 values"
    );
}

/// Pushes one row whose only cell is `value`, into the row sample too.
fn push_row(window: &mut Window, profile: &Profile, value: f64, now: Instant) {
    let sub = window.current(profile, now);
    sub.columns[0].push_typed(TypedCell::Number(value));
    if let Some(sample) = &mut sub.row_sample
        && let Some(slot) = sample.slot()
    {
        sample.put(slot, vec![Some(RowCell::Number(value))]);
    }
    sub.end_row();
}

fn sampled_values(window: &Window) -> Vec<f64> {
    window
        .sampled_rows()
        .iter()
        .map(|r| match r[0] {
            Some(RowCell::Number(x)) => x,
            _ => panic!("{r:?}"),
        })
        .collect()
}

#[test]
fn the_row_sample_covers_the_live_window_only_within_its_cap() {
    let p = profile();
    let mut w = Window::new(
        &config(WindowKind::Rows, 1000, 10, Duration::from_secs(1)),
        &p,
        vec![0],
    );
    w.sample_rows(200);
    let now = Instant::now();
    for i in 0..5000 {
        push_row(&mut w, &p, i as f64, now);
    }
    let values = sampled_values(&w);
    assert_eq!(values.len(), 200);
    // Only the window's rows (the last 1,000), from every sub-window.
    assert!(values.iter().all(|&v| v >= 4000.0), "{values:?}");
    for sub in 0..10 {
        let lo = 4000.0 + 100.0 * sub as f64;
        let from_sub = values
            .iter()
            .filter(|&&v| v >= lo && v < lo + 100.0)
            .count();
        assert_eq!(from_sub, 20, "sub-window {sub}");
    }
}

#[test]
fn a_busy_time_slice_gives_the_row_sample_its_share() {
    let p = profile();
    let span = Duration::from_secs(60);
    let mut w = Window::new(&config(WindowKind::Time, 1000, 2, span), &p, vec![0]);
    w.sample_rows(100);
    let start = Instant::now();
    // 900 rows in the first minute, 100 in the second: the sample keeps that 9:1 ratio
    // instead of taking 50 from each slice.
    for i in 0..900 {
        push_row(&mut w, &p, 0.0 + (i % 2) as f64, start);
    }
    for _ in 0..100 {
        push_row(&mut w, &p, 5.0, start + span);
    }
    let values = sampled_values(&w);
    let busy = values.iter().filter(|&&v| v < 5.0).count();
    let quiet = values.len() - busy;
    assert_eq!((busy, quiet), (50, 6), "{values:?}");
}
