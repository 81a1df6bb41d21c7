//! Build script: records the git revision the binary is built from as
//! `MODELWATCH_GIT_COMMIT`, read by `src/provenance.rs` (`modelwatch --version`,
//! `modelwatch_build_info{revision}`).
//!
//! Order: `git rev-parse --short=12 HEAD` in the source tree; else a `MODELWATCH_GIT_COMMIT`
//! environment variable (the Dockerfile passes it as a build argument, since `.git` is not
//! in the build context); else `unknown`. No `-dirty` suffix: keeping it true would mean
//! rerunning this script on every edit anywhere in the tree (and `.git/index`), and a
//! marker that is sometimes stale is worse than none.

use std::path::Path;
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && !text.is_empty()).then_some(text)
}

fn main() {
    println!("cargo:rerun-if-env-changed=MODELWATCH_GIT_COMMIT");
    let revision = git(&["rev-parse", "--short=12", "HEAD"]);
    if revision.is_some() {
        // HEAD moves on checkout, the branch ref on commit (loose, or packed by `git gc`).
        // In a worktree these live in different directories; git says where.
        let mut watched = vec![git(&["rev-parse", "--git-path", "HEAD"])];
        if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
            watched.push(git(&["rev-parse", "--git-path", &branch]));
        }
        watched.push(git(&["rev-parse", "--git-path", "packed-refs"]));
        // A path that does not exist would make Cargo rerun this script on every build.
        for path in watched.into_iter().flatten() {
            if Path::new(&path).exists() {
                println!("cargo:rerun-if-changed={path}");
            }
        }
    }
    let revision = revision
        .or_else(|| std::env::var("MODELWATCH_GIT_COMMIT").ok())
        .filter(|r| !r.trim().is_empty())
        .unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=MODELWATCH_GIT_COMMIT={}", revision.trim());
}
