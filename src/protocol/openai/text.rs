//! What a piece of prompt or completion text looks like to drift: its length in estimated
//! tokens and the Unicode script most of its letters are written in.
//!
//! The token estimate is one fixed rule, not a tokenizer: each model has its own, and a
//! drift feature must be measured the same way in the reference and in live traffic
//! whatever the server reports. The rule follows the usual rule of thumb for BPE
//! vocabularies (about four characters of English per token):
//! - a run of letters, digits and combining marks (a word) counts `ceil(chars / 4)`;
//! - each character of a script written without spaces (Han, Hiragana, Katakana, Hangul,
//!   Thai, Lao, Khmer, Myanmar) counts 1;
//! - each other non-space character (punctuation, symbols, emoji) counts 1;
//! - white space counts nothing.
//!
//! The script is `unicode-script`'s `Script` of each alphabetic character (the Unicode
//! Character Database's Scripts.txt), ignoring the `Common` and `Inherited` scripts shared
//! by all; the majority wins, ties going to the name first in alphabetical order.

use unicode_script::{Script, UnicodeScript};

/// The script value of a text without letters of any particular script: Unicode's name
/// for the characters all scripts share (digits, punctuation).
pub const NO_SCRIPT: &str = "Common";

/// The estimated number of tokens of `text` (see the module docs for the rule).
pub fn estimate_tokens(text: &str) -> u64 {
    let mut tokens = 0u64;
    let mut word = 0u64;
    for c in text.chars() {
        if c.is_alphanumeric() && !unspaced(c) || is_mark(c) {
            word += 1;
            continue;
        }
        tokens += word.div_ceil(4);
        word = 0;
        if !c.is_whitespace() {
            tokens += 1;
        }
    }
    tokens + word.div_ceil(4)
}

/// Counts the letters of each script in the texts it is shown.
#[derive(Debug, Default)]
pub struct ScriptTally {
    /// (script, letters), in order of first appearance; a text has a handful of scripts.
    counts: Vec<(Script, u64)>,
}

impl ScriptTally {
    pub fn add(&mut self, text: &str) {
        for c in text.chars().filter(|c| c.is_alphabetic()) {
            let script = c.script();
            if matches!(script, Script::Common | Script::Inherited | Script::Unknown) {
                continue;
            }
            match self.counts.iter_mut().find(|(s, _)| *s == script) {
                Some((_, n)) => *n += 1,
                None => self.counts.push((script, 1)),
            }
        }
    }

    /// The full Unicode name of the script with the most letters (`Latin`, `Cyrillic`,
    /// `Han`, …), or [`NO_SCRIPT`].
    pub fn majority(&self) -> &'static str {
        self.counts
            .iter()
            .map(|&(s, n)| (n, s.full_name()))
            .max_by(|a, b| a.0.cmp(&b.0).then_with(|| b.1.cmp(a.1)))
            .map_or(NO_SCRIPT, |(_, name)| name)
    }
}

/// Characters of scripts written without spaces between words: one token each.
fn unspaced(c: char) -> bool {
    matches!(
        c.script(),
        Script::Han
            | Script::Hiragana
            | Script::Katakana
            | Script::Hangul
            | Script::Thai
            | Script::Lao
            | Script::Khmer
            | Script::Myanmar
    )
}

/// Combining marks stay in their word (accents written as a separate code point).
fn is_mark(c: char) -> bool {
    c.script() == Script::Inherited && !c.is_whitespace()
}
