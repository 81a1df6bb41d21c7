//! Reading a CSV cell as a number, fast, straight from its bytes.
//!
//! Nearly every numeric cell in practice is a plain decimal such as `129.0` or `-35`. For
//! those, [`parse_plain_decimal`] skips UTF-8 validation and the general parser: with at most
//! 15 significant digits the digits form an integer below 2^53 (exact in f64) and the scale
//! 10^k (k ≤ 15) is exact too, so one IEEE division gives the correctly rounded value —
//! Clinger's fast path ("How to read floating point numbers accurately", PLDI 1990), the
//! same value `str::parse::<f64>` returns. Anything else (exponents, long mantissas,
//! spaces, `NaN`) returns `None` and the caller uses the standard parser.

const POW10: [f64; 16] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
];

/// `-?\d*\.?\d*` with 1 to 15 digits, parsed exactly; `None` for anything else.
#[inline]
pub fn parse_plain_decimal(bytes: &[u8]) -> Option<f64> {
    let (negative, body) = match bytes.first()? {
        b'-' => (true, &bytes[1..]),
        b'+' => (false, &bytes[1..]),
        _ => (false, bytes),
    };
    if body.is_empty() || body.len() > 16 {
        return None;
    }
    let mut mantissa = 0u64;
    let mut digits = 0usize;
    let mut fraction_digits = 0usize;
    let mut seen_point = false;
    for &b in body {
        match b {
            b'0'..=b'9' => {
                mantissa = mantissa * 10 + u64::from(b - b'0');
                digits += 1;
                fraction_digits += usize::from(seen_point);
            }
            b'.' if !seen_point => seen_point = true,
            _ => return None,
        }
    }
    if digits == 0 || digits > 15 {
        return None;
    }
    let value = mantissa as f64 / POW10[fraction_digits];
    Some(if negative { -value } else { value })
}

/// A cell as a number: the fast path, else the standard parser on the UTF-8 text (which
/// also accepts exponents, `NaN` and `inf`). Surrounding spaces are not accepted here.
#[inline]
pub fn parse_number(bytes: &[u8]) -> Option<f64> {
    parse_plain_decimal(bytes).or_else(|| std::str::from_utf8(bytes).ok()?.parse().ok())
}

#[cfg(test)]
mod tests;
