use super::*;
use crate::drift::current::TypedCell;
use crate::profile::schema::{ColumnKind, ColumnRole, ColumnSchema, Schema};
use crate::profile::{ProfileBuilder, ProfileOptions};

fn profile() -> Profile {
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
