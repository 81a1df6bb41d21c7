//! How old events leave the cluster: an ILM policy on Elasticsearch, an ISM policy on
//! OpenSearch, both "roll over at 50 GB per primary shard or 7 days, delete 30 days later".
//!
//! ILM is part of Elasticsearch and the index templates name the policy. ISM is an
//! OpenSearch plugin that a cluster may not have (the node in the tests has none): there
//! `PUT _plugins/_ism/policies/<id>` answers 400 "no handler found", and the export goes
//! on without a lifecycle after a warning that says what that means. An ISM policy is
//! attached to new backing indices by its own `ism_template` (one policy per data stream).

use super::client::{ClusterClient, Refused};
use super::templates::Engine;
use http::Method;
use serde_json::{Value, json};

/// The ILM policy name used on Elasticsearch (both data streams).
pub const ILM_POLICY: &str = "modelwatch-logs";

/// Hot with rollover, deleted after 30 days.
pub fn ilm_policy() -> Value {
    json!({"policy": {"phases": {
        "hot": {"actions": {"rollover": {"max_primary_shard_size": "50gb", "max_age": "7d"}}},
        "delete": {"min_age": "30d", "actions": {"delete": {}}}
    }}})
}

/// The ISM policy id of a data stream.
pub fn ism_policy_id(data_stream: &str) -> String {
    format!("modelwatch-{data_stream}")
}

/// The ISM policy of a data stream: the same lifecycle as the ILM policy. ISM rolls over
/// when any condition holds; `ism_template` attaches it to the stream's new backing indices.
pub fn ism_policy(data_stream: &str) -> Value {
    json!({"policy": {
        "description": format!(
            "modelwatch: {data_stream} rolls over at 50 GB per primary shard or 7 days, \
             backing indices are deleted after 30 days"
        ),
        "default_state": "hot",
        "states": [
            {"name": "hot",
             "actions": [{"rollover": {"min_primary_shard_size": "50gb", "min_index_age": "7d"}}],
             "transitions": [{"state_name": "delete", "conditions": {"min_index_age": "30d"}}]},
            {"name": "delete", "actions": [{"delete": {}}], "transitions": []},
        ],
        "ism_template": [{"index_patterns": [data_stream], "priority": 100}],
    }})
}

/// What installing the ISM policy came to.
#[derive(Debug, PartialEq, Eq)]
pub enum IsmOutcome {
    Installed,
    /// The cluster has no ISM plugin (the answer's status and body).
    Unavailable(u16, String),
}

/// Whether an answer to `PUT _plugins/_ism/policies/…` means "there is no ISM here":
/// 400 "no handler found" (no plugin), 404 or 405 (a proxy or a distribution without it).
pub fn ism_missing(status: u16, body: &str) -> bool {
    matches!(status, 404 | 405) || (status == 400 && body.contains("no handler found"))
}

/// Installs the lifecycle of `data_streams` for `engine`; a missing ISM plugin is a
/// warning, not an error.
pub async fn install(
    client: &ClusterClient,
    engine: Engine,
    data_streams: &[&str],
) -> anyhow::Result<()> {
    match engine {
        Engine::Elasticsearch => {
            client
                .put_json(
                    &format!("/_ilm/policy/{ILM_POLICY}"),
                    &ilm_policy(),
                    "the ILM policy",
                )
                .await
        }
        Engine::OpenSearch => {
            for stream in data_streams {
                if let IsmOutcome::Unavailable(status, body) = install_ism(client, stream).await? {
                    tracing::warn!(
                        status,
                        answer = %body,
                        "OpenSearch has no ISM plugin (index-management): no lifecycle \
                         policy is attached to the data streams, so their backing indices \
                         are never rolled over or deleted; install the plugin and restart \
                         the sidecar, or delete old backing indices yourself"
                    );
                    return Ok(());
                }
            }
            Ok(())
        }
    }
}

/// Creates or updates (on 409, with the stored policy's sequence number) one ISM policy.
async fn install_ism(client: &ClusterClient, data_stream: &str) -> anyhow::Result<IsmOutcome> {
    let path = format!("/_plugins/_ism/policies/{}", ism_policy_id(data_stream));
    let body = bytes::Bytes::from(ism_policy(data_stream).to_string());
    let put = |path: String| {
        let body = body.clone();
        async move {
            client
                .send(Method::PUT, &path, Some(("application/json", body)))
                .await
        }
    };
    let answer = put(path.clone()).await?;
    let status = answer.status.as_u16();
    let text = String::from_utf8_lossy(&answer.body).into_owned();
    if answer.status.is_success() {
        return Ok(IsmOutcome::Installed);
    }
    if ism_missing(status, &text) {
        return Ok(IsmOutcome::Unavailable(status, text));
    }
    if status != 409 {
        return Err(Refused {
            what: format!("the ISM policy of {data_stream}"),
            status,
            body: text,
        }
        .into());
    }
    // It exists: replace it, naming the version replaced (ISM requires that).
    let stored = client.send(Method::GET, &path, None).await?;
    let stored: Value = serde_json::from_slice(&stored.body)?;
    let (Some(seq_no), Some(primary_term)) =
        (stored["_seq_no"].as_u64(), stored["_primary_term"].as_u64())
    else {
        anyhow::bail!("the stored ISM policy of {data_stream} has no _seq_no: {stored}");
    };
    let answer = put(format!(
        "{path}?if_seq_no={seq_no}&if_primary_term={primary_term}"
    ))
    .await?;
    if !answer.status.is_success() {
        return Err(Refused {
            what: format!("updating the ISM policy of {data_stream}"),
            status: answer.status.as_u16(),
            body: String::from_utf8_lossy(&answer.body).into_owned(),
        }
        .into());
    }
    Ok(IsmOutcome::Installed)
}
