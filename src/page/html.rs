//! Escaping: every string that comes from outside the code (feature and category names
//! from payloads, model names from URLs, file names, notes) goes through [`Escaped`] before
//! it reaches the page, in text and in attribute values alike.

use std::fmt;

/// Displays a string with `& < > " '` replaced by character references: safe in element
/// text and in quoted attribute values.
pub struct Escaped<'a>(pub &'a str);

/// Short for [`Escaped`].
pub fn esc(text: &str) -> Escaped<'_> {
    Escaped(text)
}

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(at) = rest.find(['&', '<', '>', '"', '\'']) {
            f.write_str(&rest[..at])?;
            f.write_str(match rest.as_bytes()[at] {
                b'&' => "&amp;",
                b'<' => "&lt;",
                b'>' => "&gt;",
                b'"' => "&quot;",
                _ => "&#39;",
            })?;
            rest = &rest[at + 1..];
        }
        f.write_str(rest)
    }
}
