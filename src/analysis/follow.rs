//! Following model aliases: the `reference-follow` thread resolves each model reference
//! (`credit@production`) every `analysis.reference_poll` and, when the alias points at
//! another version (a promotion, a rollback), switches to that version's profile without
//! a restart or a signal, as `modelwatch serve` switches the model it serves.
//!
//! Cheap when nothing changed: the registry stays open between polls and SQLite's
//! `PRAGMA data_version` (which changes only when another connection commits) says
//! whether anything was written since the last look; only then are the aliases resolved.
//! A poll that fails (registry gone, new version without a profile) keeps the references
//! in use, logs once per distinct error, and tries again at the next poll.

use super::LiveAnalysis;
use super::references::LoadedReference;
use crate::registry::home::Home;
use std::sync::Arc;
use std::time::Duration;

/// The registry as the follower last saw it.
#[derive(Default)]
struct Watch {
    home: Option<Home>,
    /// `PRAGMA data_version` when the aliases were last resolved and followed.
    data_version: Option<i64>,
}

/// Polls until the analysis stops.
pub fn run(analysis: Arc<LiveAnalysis>, interval: Duration, stop: crossbeam_channel::Receiver<()>) {
    super::worker::lower_priority();
    let mut watch = Watch::default();
    let mut last_error = String::new();
    loop {
        match stop.recv_timeout(interval) {
            Err(crossbeam_channel::RecvTimeoutError::Timeout) if !analysis.stopping() => {}
            _ => return,
        }
        match poll(&analysis, &mut watch) {
            Ok(()) => last_error.clear(),
            Err(e) => {
                // Reopen next time: the registry may have been replaced.
                watch = Watch::default();
                let message = format!("{e:#}");
                if message != last_error {
                    tracing::warn!(
                        error = %message,
                        "could not follow the model references; keeping the ones in use"
                    );
                    last_error = message;
                }
            }
        }
    }
}

fn poll(analysis: &LiveAnalysis, watch: &mut Watch) -> anyhow::Result<()> {
    let seen = analysis.reference_set();
    let followed: Vec<&Arc<LoadedReference>> = seen
        .iter()
        .map(|(_, r)| r)
        .filter(|r| r.model.is_some())
        .collect();
    if followed.is_empty() {
        return Ok(());
    }
    let home = match &mut watch.home {
        Some(home) => home,
        slot @ None => slot.insert(Home::open(&analysis.home)?),
    };
    let data_version: i64 = home
        .conn()
        .query_row("PRAGMA data_version", [], |row| row.get(0))?;
    if watch.data_version == Some(data_version) {
        return Ok(());
    }
    let mut moves: Vec<(Arc<LoadedReference>, Arc<LoadedReference>)> = Vec::new();
    for reference in followed {
        if moves.iter().any(|(old, _)| Arc::ptr_eq(old, reference)) {
            continue;
        }
        let now = home.resolve_model(&reference.spec)?.version.to_string();
        if now == reference.version {
            continue;
        }
        let next = analysis.versions.get(reference, &now).ok_or_else(|| {
            anyhow::anyhow!(
                "{} now points at version {now}, which has no usable reference profile \
                 (see the log above); still comparing with version {}",
                reference.spec,
                reference.version
            )
        })?;
        moves.push((reference.clone(), next));
    }
    if moves.is_empty() || analysis.switch(&seen, &moves) {
        watch.data_version = Some(data_version);
    }
    Ok(())
}
