//! Names of stored things (datasets, models): safe as a Prometheus label value, a file
//! name and a URL path segment, so they never need escaping anywhere they travel.

use crate::exit::UsageError;

/// The longest accepted name.
pub const MAX_NAME_LEN: usize = 64;

/// Checks that `name` starts with an ASCII letter or digit and continues with letters,
/// digits, `_`, `-` or `.`, at most [`MAX_NAME_LEN`] characters. `what` names the thing
/// in the error ("dataset name").
pub fn validate(what: &str, name: &str) -> Result<(), UsageError> {
    // The label rule itself lives with the proxy's model identity; a stored name also must
    // not start with '.' or '-' (hidden files, flags).
    let first_ok = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric());
    if first_ok && crate::traffic::identity::is_label_safe(name) && name.len() <= MAX_NAME_LEN {
        Ok(())
    } else {
        Err(UsageError(format!(
            "{what} {name:?} is not allowed: use 1 to {MAX_NAME_LEN} ASCII letters, digits, \
             '_', '-' or '.', starting with a letter or digit (e.g. credit_2024-q1)"
        )))
    }
}

#[cfg(test)]
mod tests;
