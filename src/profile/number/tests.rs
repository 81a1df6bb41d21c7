use super::*;
use crate::random::SeededRng;

#[test]
fn plain_decimals_parse_bit_for_bit_like_std() {
    let mut rng = SeededRng::new(7);
    for _ in 0..200_000 {
        let len = 1 + rng.below(15) as usize;
        let mut s = String::new();
        if rng.below(4) == 0 {
            s.push('-');
        }
        let point = rng.below(len as u64 + 1) as usize;
        for i in 0..len {
            if i == point && i > 0 {
                s.push('.');
            }
            s.push(char::from(b'0' + rng.below(10) as u8));
        }
        let want: f64 = s.parse().unwrap();
        let got = parse_plain_decimal(s.as_bytes()).unwrap_or_else(|| panic!("{s}"));
        assert_eq!(got.to_bits(), want.to_bits(), "{s}");
    }
}

#[test]
fn everything_else_falls_back_to_the_standard_parser() {
    for s in [
        "1e5",
        "1234567890123456",
        " 1",
        "NaN",
        "inf",
        "-",
        ".",
        "",
        "1.2.3",
        "0x10",
    ] {
        assert_eq!(parse_plain_decimal(s.as_bytes()), None, "{s:?}");
    }
    assert_eq!(parse_number(b"1e5"), Some(1e5));
    assert!(parse_number(b"NaN").unwrap().is_nan());
    assert_eq!(
        parse_number(b"12345678901234567"),
        Some(12345678901234567.0)
    );
    assert_eq!(parse_number(b"abc"), None);
    assert_eq!(
        parse_number(b"-0").map(f64::to_bits),
        Some((-0.0f64).to_bits())
    );
}
