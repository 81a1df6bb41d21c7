//! The dead-letter file: one JSON line per event the cluster refused for good (a
//! per-document refusal, or one event too large on its own), with the status and reason,
//! so nothing refused is lost without a trace.

use super::Shipper;
use crate::export::elasticsearch::event::KindCounts;
use crate::export::elasticsearch::queue::Outcome;
use crate::export::elasticsearch::spool::SpooledEvent;
use serde_json::Value;
use std::io::Write as _;

impl Shipper {
    /// Appends one line per event to the dead-letter file, with the reason.
    pub(super) fn dead_letter(&self, events: &[SpooledEvent], status: u16, reason: &str) {
        self.counters.add_each(
            Outcome::DeadLetter,
            KindCounts::of(events.iter().map(|e| e.kind)),
        );
        tracing::warn!(
            events = events.len(),
            status,
            file = %self.dead_letter.display(),
            "events refused by Elasticsearch written to the dead-letter file: {reason}"
        );
        let mut lines = Vec::new();
        for SpooledEvent { kind, id, document } in events {
            // The document as written, even if it no longer parses (it did when spooled).
            let document = serde_json::from_slice::<Value>(document)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(document).into()));
            let line = serde_json::json!({
                "@timestamp": humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string(),
                "_id": id,
                "data_stream": kind.data_stream(&self.config),
                "status": status,
                "reason": reason,
                "event": document,
            });
            serde_json::to_writer(&mut lines, &line).expect("JSON values always serialise");
            lines.push(b'\n');
        }
        // Rare and small: a blocking append on the shipper's task is fine.
        let written = self
            .dead_letter
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| {
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&self.dead_letter)
            })
            .and_then(|mut file| file.write_all(&lines));
        if let Err(err) = written {
            tracing::error!(
                file = %self.dead_letter.display(),
                "could not write the dead-letter file, the refused events are lost: {err}"
            );
        }
    }
}
