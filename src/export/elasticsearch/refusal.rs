//! What a whole-request answer from the cluster means, and the gauge that says when the
//! sink is refused as a whole.
//!
//! Only a per-item refusal in a `_bulk` answer is about one document, so only it sends an
//! event to the dead-letter file. An answer to the whole request is about the request, the
//! credentials or the cluster, and never costs an event:
//!
//! - 408, 429, 5xx: transient, the batch is retried with backoff (honouring `Retry-After`);
//! - 413: the body is too large for the cluster (or a proxy in front of it), the batch is
//!   split in halves until it fits; a single event still refused is too large on its own,
//!   the one case of a whole-request answer that dead-letters (the reason says so);
//! - 401, 403 and every other 4xx: the sink is *blocked*: nothing can be shipped until an
//!   operator acts (new credentials, privileges, the URL, a proxy's settings), so the
//!   events wait in the spool (bounded by `spool_bytes`), the batch is retried with backoff,
//!   `modelwatch_export_blocked{sink,reason}` is 1 and an error names the cause.

use super::queue::SINK;
use prometheus::{IntGaugeVec, Opts, Registry};
use std::time::Duration;
use tokio::time::Instant;

/// Why the cluster refuses every request: the `reason` label of
/// `modelwatch_export_blocked`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockReason {
    /// 401 (or 407 from a proxy): the credentials are missing, wrong or expired.
    Unauthorized,
    /// 403: the credentials are valid but lack a privilege (create_doc, the templates).
    Forbidden,
    /// 404, 405, 410: the URL does not serve `_bulk` (a path prefix, a proxy's route).
    NotFound,
    /// Any other 4xx (400, 406, 415, …): the request's format is refused by the cluster or
    /// by something in front of it. Our documents and actions are valid JSON (the spool's
    /// checksums hold them as written), so this is not one event's fault.
    Rejected,
}

impl BlockReason {
    pub const ALL: [BlockReason; 4] = [
        BlockReason::Unauthorized,
        BlockReason::Forbidden,
        BlockReason::NotFound,
        BlockReason::Rejected,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            BlockReason::Unauthorized => "unauthorized",
            BlockReason::Forbidden => "forbidden",
            BlockReason::NotFound => "not_found",
            BlockReason::Rejected => "rejected",
        }
    }

    /// What the operator should do, for the log line.
    fn fix(self) -> &'static str {
        match self {
            BlockReason::Unauthorized => {
                "check export.elasticsearch.username/password or api_key (expired or rotated?)"
            }
            BlockReason::Forbidden => {
                "grant the user or API key the create_doc privilege on the data streams (and \
                 manage_index_templates while install_templates is on)"
            }
            BlockReason::NotFound => {
                "check export.elasticsearch.url: it must be the cluster's base URL"
            }
            BlockReason::Rejected => {
                "check what sits between the sidecar and the cluster, and the cluster's answer"
            }
        }
    }
}

/// What a non-2xx answer to a whole request means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Transient: try the same request again later.
    Retry,
    /// Too large: split the batch.
    Split,
    /// Refused as a whole until someone acts: keep the events and wait.
    Block(BlockReason),
}

/// The verdict on a whole-request status that is not a success.
pub fn whole_request(status: u16) -> Verdict {
    match status {
        408 | 429 | 500..=599 => Verdict::Retry,
        413 => Verdict::Split,
        401 | 407 => Verdict::Block(BlockReason::Unauthorized),
        403 => Verdict::Block(BlockReason::Forbidden),
        404 | 405 | 410 => Verdict::Block(BlockReason::NotFound),
        400..=499 => Verdict::Block(BlockReason::Rejected),
        // 1xx or 3xx (the client follows no redirects): nothing we can act on; retry.
        _ => Verdict::Retry,
    }
}

/// `modelwatch_export_blocked{sink,reason}` and the log lines of entering and leaving the
/// blocked state.
pub struct BlockedGauge {
    gauge: IntGaugeVec,
    since: Option<(BlockReason, Instant)>,
}

impl BlockedGauge {
    pub fn register(registry: &Registry) -> prometheus::Result<Self> {
        let gauge = IntGaugeVec::new(
            Opts::new(
                "modelwatch_export_blocked",
                "1 while the sink refuses every request as a whole (401, 403, other 4xx) and \
                 events wait in the spool; 0 otherwise.",
            ),
            &["sink", "reason"],
        )?;
        registry.register(Box::new(gauge.clone()))?;
        for reason in BlockReason::ALL {
            gauge.with_label_values(&[SINK, reason.as_str()]).set(0);
        }
        Ok(Self { gauge, since: None })
    }

    /// Records a refusal of the whole request: an error when it starts (or its reason
    /// changes), a reminder every tenth attempt.
    pub fn refused(
        &mut self,
        reason: BlockReason,
        status: u16,
        answer: &str,
        waiting: u64,
        attempt: u32,
    ) {
        let changed = self.since.is_none_or(|(was, _)| was != reason);
        if changed {
            self.clear_gauges();
            self.gauge
                .with_label_values(&[SINK, reason.as_str()])
                .set(1);
            self.since = Some((reason, Instant::now()));
        }
        if changed || attempt.is_multiple_of(10) {
            let blocked_for = self.since.map(|(_, at)| at.elapsed()).unwrap_or_default();
            tracing::error!(
                status,
                reason = reason.as_str(),
                waiting,
                blocked_for = ?Duration::from_secs(blocked_for.as_secs()),
                "Elasticsearch refuses every request ({status}: {}); export is blocked and \
                 events wait in the spool until it accepts them (they are dropped only when \
                 the spool is full): {}",
                answer.trim(),
                reason.fix()
            );
        }
    }

    /// Records an answer that is not a refusal of the whole request.
    pub fn accepted(&mut self) {
        if let Some((reason, at)) = self.since.take() {
            self.clear_gauges();
            tracing::info!(
                reason = reason.as_str(),
                blocked_for = ?Duration::from_secs(at.elapsed().as_secs()),
                "Elasticsearch accepts requests again; the waiting events are shipped"
            );
        }
    }

    fn clear_gauges(&self) {
        for reason in BlockReason::ALL {
            self.gauge
                .with_label_values(&[SINK, reason.as_str()])
                .set(0);
        }
    }
}
