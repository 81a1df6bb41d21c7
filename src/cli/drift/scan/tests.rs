//! The plain reader against the CSV reader: on every input without quotes they must find
//! the same rows, lines, ragged rows and per-column counts, or the plain one must step
//! aside (`None`) so the CSV reader decides.

use super::*;
use crate::profile::ProfileOptions;
use crate::profile::builder::profile_of;
use crate::profile::schema::SchemaOverrides;

/// A profile of a numeric column `x` and a categorical column `c`.
fn profile() -> Profile {
    profile_of(
        "x,c\n1,a\n2,b\n3,a\n4,b\n5,a\n6,b\n7,a\n",
        &SchemaOverrides::default(),
        &ProfileOptions::default(),
    )
}

fn columns(profile: &Profile, method: MethodChoice) -> Vec<(usize, CurrentColumn)> {
    (0..2)
        .map(|p| {
            let column = CurrentColumn::new(p, &profile.columns[p], 100, 7);
            let column = counting_for_method(column, &profile.columns[p], method);
            (p, column.remembering_cells(64))
        })
        .collect()
}

/// Everything a report is made of, as text, so two readers can be compared in one assert
/// (of a chunk as a range reader returns it: with its columns settled).
fn summary(chunk: &Chunk) -> String {
    let lines = chunk;
    // After a ragged row the scan stops with an error naming it: how far each reader had
    // read and what it had counted does not matter then.
    let newlines = lines.ragged.is_none().then_some(lines.newlines);
    let mut out = format!(
        "rows {} newlines {newlines:?} ragged {:?}\n",
        lines.rows,
        lines.ragged.as_ref().map(|r| (r.line, r.found))
    );
    if lines.ragged.is_some() {
        return out;
    }
    for (_, c) in &chunk.columns {
        out += &c.summary();
        out.push('\n');
    }
    out
}

fn both(input: &str, method: MethodChoice) -> (Option<String>, String) {
    let profile = profile();
    let mut plain_columns = columns(&profile, method);
    let plain = read_plain(input.as_bytes(), 2, &mut plain_columns)
        .unwrap()
        .map(|lines| lines.with_columns(plain_columns))
        .map(|chunk| summary(&chunk));
    let mut csv_columns = columns(&profile, method);
    let lines = read_csv(input.as_bytes(), 2, &mut csv_columns).unwrap();
    (plain, summary(&lines.with_columns(csv_columns)))
}

#[test]
fn plain_reader_agrees_with_the_csv_reader() {
    let inputs = [
        "1,a\n2,b\n",
        "1,a\r\n2,b\r\n3,a\r\n",
        "1,a\n\n2,b\n\r\n\n3,a",
        "1,a\n2,b",
        "1,a\n2\n3,b\n",
        "1,a\n2,b,c\n",
        "1,a\nx,b\n2.5,zz\nNA,\n,b\n1e3,a\nnan,a\n",
        "",
        "\n\n",
        "7,a\n",
        "1,a\r",
        "1,\r\n,b\r\n",
        "\r\n\r\n1,a\r\n2,b",
        ",\n,,\n",
    ];
    for method in [
        MethodChoice::Auto,
        MethodChoice::Fixed(crate::drift::Method::Ks),
        MethodChoice::Fixed(crate::drift::Method::Psi),
    ] {
        for input in inputs {
            let (plain, csv) = both(input, method);
            assert_eq!(plain.as_deref(), Some(csv.as_str()), "input {input:?}");
        }
    }
}

#[test]
fn plain_reader_steps_aside_for_quotes_and_stray_carriage_returns() {
    for input in ["1,\"a\"\n", "1,a\n\"2\",b\n", "1,a\r2,b\n", "1,a\rb\n"] {
        let (plain, _) = both(input, MethodChoice::Auto);
        assert_eq!(plain, None, "input {input:?}");
    }
}

#[test]
fn a_line_longer_than_the_buffer_is_read_whole() {
    let profile = profile();
    let mut columns = columns(&profile, MethodChoice::Auto);
    let long_label = "z".repeat(3 * BLOCK);
    let input = format!("1,a\n2,{long_label}\n3,b\n");
    let lines = read_plain(input.as_bytes(), 2, &mut columns)
        .unwrap()
        .unwrap();
    assert_eq!((lines.rows, lines.newlines), (3, 3));
    assert_eq!(columns[1].1.unseen_counts.get(&long_label), Some(&1));
}

#[test]
fn a_line_longer_than_the_plain_limit_is_left_to_the_csv_reader() {
    let long_label = "z".repeat(MAX_PLAIN_LINE + 10);
    let input = format!("1,a\n2,{long_label}\n3,b\n");
    let (plain, csv) = both(&input, MethodChoice::Auto);
    assert_eq!(plain, None);
    assert!(
        csv.starts_with("rows 3 newlines Some(3)"),
        "{}",
        &csv[..200]
    );
}

#[test]
fn blocks_are_cut_at_newlines_only() {
    // Rows over several blocks, with CRLF endings and no final newline: every block
    // boundary falls inside some line unless the reader carries the line over.
    let mut input = String::new();
    for i in 0..100_000 {
        input += &format!("{},{}\r\n", i % 9, ["a", "b", "zz"][i % 3]);
    }
    input += "3,b";
    assert!(input.len() > 2 * BLOCK);
    let (plain, csv) = both(&input, MethodChoice::Auto);
    assert_eq!(plain.as_deref(), Some(csv.as_str()));
    assert!(
        csv.starts_with("rows 100001 newlines Some(100000)"),
        "{csv}"
    );
}

proptest::proptest! {
    /// The word-at-a-time search finds exactly the `,` and `\n` a byte-by-byte scan finds,
    /// wherever they fall in a word and whatever the slice's length (bytes from a small
    /// alphabet, so separators are dense; the bytes after them and 0x80+ ones would catch a
    /// compare whose borrows crossed bytes).
    #[test]
    fn separators_are_found_as_a_byte_scan_finds_them(
        bytes in proptest::collection::vec(
            proptest::sample::select(vec![b',', b'\n', b'-', 0x0b, b'a', 0, 0x80, 0xac, 0x8a, 0xff]),
            0..300,
        )
    ) {
        // Room left dirty by a longer input before, as a block's is.
        let (mut separators, mut newlines) = (vec![7; 400], vec![7; 400]);
        let (found, lines) = find_separators(&bytes, &mut separators, &mut newlines);
        separators.truncate(found);
        newlines.truncate(lines);
        let expected: Vec<u32> = (0..bytes.len() as u32)
            .filter(|&i| matches!(bytes[i as usize], b',' | b'\n'))
            .collect();
        proptest::prop_assert_eq!(&separators, &expected);
        let newline_offsets: Vec<u32> = newlines.iter().map(|&k| separators[k as usize]).collect();
        let expected: Vec<u32> = (0..bytes.len() as u32)
            .filter(|&i| bytes[i as usize] == b'\n')
            .collect();
        proptest::prop_assert_eq!(newline_offsets, expected);
    }
}
