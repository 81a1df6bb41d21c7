//! What this binary was built from: the package version and the git revision that
//! `build.rs` records (`unknown` only when the build had neither git nor
//! `MODELWATCH_GIT_COMMIT`).

/// The package version, e.g. `0.1.0`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The git revision: 12 hex digits of the commit, or what `MODELWATCH_GIT_COMMIT` said.
pub const REVISION: &str = env!("MODELWATCH_GIT_COMMIT");

/// What `modelwatch --version` prints after the name: `0.1.0 (0123456789ab)`.
pub const VERSION_LINE: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("MODELWATCH_GIT_COMMIT"),
    ")"
);
