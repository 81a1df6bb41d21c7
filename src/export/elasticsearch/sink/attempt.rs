//! One `_bulk` attempt of the shipper, and what it came to: the items' outcomes, a retry
//! of the whole request, a blocked sink or a batch to split. The first attempt installs
//! the lifecycle policy and the index templates.

use super::Shipper;
use crate::export::elasticsearch::bulk::{self, ItemOutcome};
use crate::export::elasticsearch::client::{Refused, retry_after};
use crate::export::elasticsearch::lifecycle;
use crate::export::elasticsearch::refusal::{self, BlockReason, Verdict};
use crate::export::elasticsearch::spool::SpooledEvent;
use crate::export::elasticsearch::templates::{self, Engine};
use bytes::Bytes;
use http::Method;
use serde_json::Value;
use std::time::Duration;

/// What one `_bulk` attempt came to.
pub(super) enum Attempt {
    Items(Vec<ItemOutcome>, Option<Duration>),
    RetryAll {
        reason: String,
        after: Option<Duration>,
    },
    /// The cluster refuses every request until someone acts: keep the events and wait.
    Blocked {
        reason: BlockReason,
        status: u16,
        answer: String,
    },
    /// 413: the body is too large; split the batch.
    TooLarge {
        answer: String,
    },
}

impl Shipper {
    /// One `_bulk` request (after the template, if it is not installed yet).
    pub(super) async fn attempt(&mut self, events: &[SpooledEvent]) -> Attempt {
        if !self.templates_ready {
            match self.install_templates().await {
                Ok(()) => self.templates_ready = true,
                Err(err) => {
                    let refused = err.downcast_ref::<Refused>();
                    if let Some(refused) = refused
                        && let Verdict::Block(reason) = refusal::whole_request(refused.status)
                    {
                        return Attempt::Blocked {
                            reason,
                            status: refused.status,
                            answer: format!("{err:#}"),
                        };
                    }
                    return Attempt::RetryAll {
                        reason: format!("installing the index template: {err:#}"),
                        after: None,
                    };
                }
            }
        }
        // Every action names its data stream, so one request carries both kinds.
        let body = Bytes::from(bulk::encode_raw(events.iter().map(|e| {
            (
                e.kind.data_stream(&self.config),
                e.id.as_str(),
                e.document.as_slice(),
            )
        })));
        let answer = match self
            .client
            .send(Method::POST, "/_bulk", Some(("application/x-ndjson", body)))
            .await
        {
            Ok(answer) => answer,
            Err(err) => {
                return Attempt::RetryAll {
                    reason: format!("{err:#}"),
                    after: None,
                };
            }
        };
        let status = answer.status.as_u16();
        let after = retry_after(&answer.headers, std::time::SystemTime::now());
        let text = || String::from_utf8_lossy(&answer.body).into_owned();
        if !answer.status.is_success() {
            return match refusal::whole_request(status) {
                Verdict::Retry => Attempt::RetryAll {
                    reason: format!("HTTP {status}: {}", text()),
                    after,
                },
                Verdict::Split => Attempt::TooLarge { answer: text() },
                Verdict::Block(reason) => Attempt::Blocked {
                    reason,
                    status,
                    answer: text(),
                },
            };
        }
        self.blocked.accepted();
        let parsed = serde_json::from_slice::<Value>(&answer.body)
            .map_err(|e| e.to_string())
            .and_then(|json| bulk::outcomes(&json, events.len()));
        match parsed {
            Ok(outcomes) => Attempt::Items(outcomes, after),
            // The cluster (or a proxy) answered 200 with something else: the events may or
            // may not be stored, so they are sent again (a stored one answers 409).
            Err(why) => Attempt::RetryAll {
                reason: format!("unreadable _bulk answer ({why})"),
                after,
            },
        }
    }

    /// Detects the engine and installs the lifecycle policy (ILM, or ISM when OpenSearch
    /// has it) and the three templates.
    async fn install_templates(&self) -> anyhow::Result<()> {
        let root = self.client.send(Method::GET, "/", None).await?;
        if !root.status.is_success() {
            return Err(Refused {
                what: "GET /".into(),
                status: root.status.as_u16(),
                body: String::from_utf8_lossy(&root.body).into_owned(),
            }
            .into());
        }
        let engine = Engine::from_root(&serde_json::from_slice(&root.body)?);
        let requests = &self.config.data_stream;
        let drift = &self.config.drift_data_stream;
        let performance = &self.config.performance_data_stream;
        // First, so the first backing index is created under its policy.
        lifecycle::install(&self.client, engine, &[requests, drift, performance]).await?;
        for (stream, template) in [
            (requests, templates::index_template(requests, engine)),
            (drift, templates::drift_template(drift, engine)),
            (
                performance,
                templates::performance_template(performance, engine),
            ),
        ] {
            self.client
                .put_json(
                    &format!("/_index_template/{}", templates::template_name(stream)),
                    &template,
                    &format!("the index template of {stream}"),
                )
                .await?;
            tracing::info!(?engine, data_stream = %stream, "index template installed");
        }
        Ok(())
    }
}
