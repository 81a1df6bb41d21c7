//! Bearer tokens (`Authorization: Bearer <token>`), checked in constant time: the admin API
//! (`admin.token_file`) and `modelwatch registry serve` (`--token-file`) both ask for one.
//!
//! Only the token's SHA-256 is kept and compared, so the comparison takes one time whatever
//! the presented token's content or length.

use crate::exit::UsageError;
use http::{HeaderMap, header};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Why a request's token was not accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenRefusal {
    /// No `Authorization: Bearer …` header.
    Missing,
    /// A bearer token that is not the expected one.
    Wrong,
}

/// The token a server expects.
pub struct BearerToken {
    digest: Vec<u8>,
}

impl BearerToken {
    pub fn new(token: &str) -> BearerToken {
        BearerToken {
            digest: Sha256::digest(token.as_bytes()).to_vec(),
        }
    }

    /// Whether `headers` carry this token.
    pub fn check(&self, headers: &HeaderMap) -> Result<(), TokenRefusal> {
        let presented = headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(bearer)
            .ok_or(TokenRefusal::Missing)?;
        let digest = Sha256::digest(presented.as_bytes());
        if bool::from(digest.as_slice().ct_eq(&self.digest)) {
            Ok(())
        } else {
            Err(TokenRefusal::Wrong)
        }
    }
}

/// Reads a token file: one word, surrounding whitespace ignored. A file that cannot be
/// read or holds no single token is a usage error naming `setting` (the flag or key) and
/// what the token is for.
pub fn read_token_file(
    path: &std::path::Path,
    setting: &str,
    what: &str,
) -> Result<String, UsageError> {
    let text = std::fs::read_to_string(path).map_err(|err| {
        UsageError(format!(
            "{setting} {} cannot be read ({err}): give the path of a readable file holding \
             {what}",
            path.display()
        ))
    })?;
    let token = text.trim();
    if token.is_empty() || token.chars().any(char::is_whitespace) {
        return Err(UsageError(format!(
            "{setting} {} holds {}: write one token (no spaces) into it, e.g. \
             `openssl rand -hex 32 > {}`",
            path.display(),
            if token.is_empty() {
                "no token"
            } else {
                "more than one word"
            },
            path.display()
        )));
    }
    Ok(token.to_string())
}

/// The token of an `Authorization: Bearer <token>` value (the scheme is case-insensitive).
fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests;
