//! The cell memo is a cache, never a second opinion: a column that remembers cells must
//! count exactly what one that parses and searches every cell counts.

use super::*;
use crate::profile::ProfileOptions;
use crate::profile::builder::profile_of;
use crate::profile::schema::SchemaOverrides;

/// A numeric column `x` (values 0..200 in steps of 0.5) and a categorical column `c`.
fn profile() -> Profile {
    let mut text = String::from("x,c\n");
    for i in 0..400 {
        let label = ["red", "green", "blue", "a-long-label"][i % 4];
        text += &format!("{},{label}\n", f64::from(i as u32) / 2.0);
    }
    profile_of(
        &text,
        &SchemaOverrides::default(),
        &ProfileOptions::default(),
    )
}

#[test]
fn remembered_cells_count_exactly_like_fresh_ones() {
    let profile = profile();
    let x = &profile.columns[0];
    let sorted = x.numeric.as_ref().unwrap().sample.clone();
    let mut cells: Vec<String> = Vec::new();
    // Repeats, values outside the range, long cells, words, missing and non-finite cells,
    // and hundreds of distinct values in a 16-entry memo, so entries collide and are replaced.
    for round in 0..3 {
        for i in 0..5000 {
            cells.push(format!("{}", (i * 7 + round) % 450));
        }
        cells.extend(
            [
                "-3",
                "250",
                "12.25",
                "199.5",
                "1234567.5",
                "abc",
                "",
                "NA",
                "nan",
                "inf",
            ]
            .map(String::from),
        );
    }
    let remembering = same_with_and_without_memo(
        || CurrentColumn::new(0, x, 100, 1).counting_for_ks(&sorted),
        &cells,
    );
    assert!(remembering.out_of_range > 0 && remembering.type_errors > 0);

    let c = &profile.columns[1];
    let labels: Vec<String> = (0..3000usize)
        .map(|i| match i % 7 {
            0 => "red".to_string(),
            1 => "green".to_string(),
            2 => "a-long-label".to_string(),
            3 => format!("new{}", i % 50),
            4 => String::new(),
            _ => "blue".to_string(),
        })
        .collect();
    let remembering = same_with_and_without_memo(|| CurrentColumn::new(1, c, 100, 1), &labels);
    assert!(remembering.unseen > 0);
}

/// Pushes `cells` (line = index) into a column from `make` with a 16-entry memo and into
/// one without, asserts that the settled counts agree, and returns the remembering one.
fn same_with_and_without_memo(make: impl Fn() -> CurrentColumn, cells: &[String]) -> CurrentColumn {
    let mut fresh = make();
    fresh.memo = None;
    let mut remembering = make().remembering_cells(16);
    for (line, cell) in cells.iter().enumerate() {
        remembering.push(cell.as_bytes(), line as u64);
        fresh.push(cell.as_bytes(), line as u64);
    }
    assert!(remembering.memo.is_some());
    remembering.settle_cells();
    assert!(remembering.memo.is_none());
    assert_eq!(remembering.summary(), fresh.summary());
    remembering
}

#[test]
fn memo_size_shrinks_with_the_table_width() {
    assert_eq!(memo_slots(1), MEMO_SLOTS_MAX);
    assert_eq!(memo_slots(14), MEMO_SLOTS_MAX);
    // Wide tables stay within the budget, in powers of two, down to the floor.
    assert_eq!(memo_slots(200), 512);
    assert_eq!(memo_slots(100_000), 256);
    for columns in 1..3000 {
        let slots = memo_slots(columns);
        assert!(slots.is_power_of_two());
        assert!(
            slots == 256 || columns * slots * 16 <= 3 << 20,
            "{columns} columns"
        );
    }
}

#[test]
fn payload_text_that_spells_missing_counts_as_the_csv_cell_does() {
    // A reference profiled from a CSV took "" and "NA" as missing; a JSON payload that sends
    // them as strings must not show them as categories the reference never saw (or as type
    // errors in a numeric column).
    let profile = profile();
    for (index, cells) in [
        (0, ["", " NA ", "null", "12.5"]),
        (1, ["", "N/A", "None", "red"]),
    ] {
        let column = &profile.columns[index];
        let mut from_csv = CurrentColumn::new(index, column, 100, 1);
        let mut from_payload = CurrentColumn::new(index, column, 100, 1);
        for (line, cell) in cells.iter().enumerate() {
            from_csv.push(cell.as_bytes(), line as u64);
            from_payload.push_typed(TypedCell::Text(cell));
        }
        from_csv.settle_cells();
        assert_eq!(
            from_payload.summary(),
            from_csv.summary(),
            "{}",
            column.name
        );
        assert_eq!(
            (
                from_payload.missing,
                from_payload.unseen,
                from_payload.type_errors
            ),
            (3, 0, 0)
        );
        let kind = column.kind;
        assert_eq!(row_cell(TypedCell::Text(" NA "), kind), None);
    }
}
