//! Following model aliases: the `reference-follow` thread resolves each model reference
//! (`credit@production`) every `analysis.reference_poll` and, when the alias points at
//! another version (a promotion, a rollback), switches to that version's profile without
//! a restart or a signal, as `modelwatch serve` switches the model it serves.
//!
//! Cheap when nothing changed ([`AliasWatch`]): a home stays open between polls and
//! SQLite's `PRAGMA data_version` says whether anything was committed since the last look
//! (only then are the aliases resolved); a registry over `--registry-url` answers each
//! conditional resolve with a bodiless `304` while its alias stays put.
//! A poll that fails (registry gone, new version without a profile) keeps the references
//! in use, logs once per distinct error, counts in
//! `modelwatch_reference_follow_failures_total`, and tries again at the next poll.

use super::LiveAnalysis;
use super::references::LoadedReference;
use crate::registry::source::AliasWatch;
use std::sync::Arc;
use std::time::Duration;

/// Polls until the analysis stops.
pub fn run(analysis: Arc<LiveAnalysis>, interval: Duration, stop: crossbeam_channel::Receiver<()>) {
    super::worker::lower_priority();
    let mut watch = AliasWatch::new(analysis.source.clone());
    let mut last_error = String::new();
    loop {
        match stop.recv_timeout(interval) {
            Err(crossbeam_channel::RecvTimeoutError::Timeout) if !analysis.stopping() => {}
            _ => return,
        }
        match poll(&analysis, &mut watch) {
            Ok(()) => last_error.clear(),
            Err(e) => {
                analysis.metrics.follow_failures.inc();
                // Reopen next time: the registry may have been replaced.
                watch.reset();
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

fn poll(analysis: &LiveAnalysis, watch: &mut AliasWatch) -> anyhow::Result<()> {
    let seen = analysis.reference_set();
    let followed: Vec<&Arc<LoadedReference>> = seen
        .iter()
        .map(|(_, r)| r)
        .filter(|r| r.model.is_some())
        .collect();
    if followed.is_empty() {
        return Ok(());
    }
    if !watch.changed()? {
        return Ok(());
    }
    let mut moves: Vec<(Arc<LoadedReference>, Arc<LoadedReference>)> = Vec::new();
    for reference in followed {
        if moves.iter().any(|(old, _)| Arc::ptr_eq(old, reference)) {
            continue;
        }
        let now = watch.resolve(&reference.spec)?.version.to_string();
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
        watch.settle();
    }
    Ok(())
}
