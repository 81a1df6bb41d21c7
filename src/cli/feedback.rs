//! `modelwatch feedback send FILE --url URL`: posts a file of labels to a sidecar's
//! `POST /api/v1/feedback` and prints what became of them. The file's form (CSV, NDJSON,
//! JSON array) is told by its extension.

use crate::exit::UsageError;
use anyhow::Context as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Send delayed labels (ground truth) to a sidecar, to join its stored predictions.
#[derive(Debug, clap::Args)]
pub struct FeedbackArgs {
    #[command(subcommand)]
    pub command: FeedbackCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum FeedbackCommand {
    Send(SendArgs),
}

/// Post a file of labels to POST /api/v1/feedback on a sidecar's admin port.
///
/// FILE is CSV with a header naming request_id and label (.csv), NDJSON (.ndjson,
/// .jsonl) or a JSON array (.json) of {"request_id": "...", "label": ...} items. Prints
/// how many items joined, and every item that did not with its line and reason.
/// Exit 0 when the sidecar took the batch (even if some items did not join), 1 when it
/// refused it, 2 for bad usage.
///
/// Example:
///   modelwatch feedback send labels.csv --url http://127.0.0.1:9090 \
///     --token-file /etc/modelwatch/admin-token
// `--help` text with an example command, not rustdoc.
#[allow(rustdoc::broken_intra_doc_links)]
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct SendArgs {
    /// The labels: .csv, .ndjson / .jsonl, or .json
    pub file: PathBuf,
    /// The sidecar's admin URL, http://HOST:PORT (the path /api/v1/feedback is added)
    #[arg(long, value_name = "URL")]
    pub url: String,
    /// A file holding the admin bearer token (the sidecar's admin.token_file)
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// Give up (exit 1) when the sidecar has not answered within this time
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
}

/// Runs `modelwatch feedback`.
pub fn run(args: FeedbackArgs) -> anyhow::Result<()> {
    match args.command {
        FeedbackCommand::Send(args) => send(args),
    }
}

fn content_type(file: &Path) -> Result<&'static str, UsageError> {
    let extension = file
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match extension.as_deref() {
        Some("csv") => Ok("text/csv"),
        Some("ndjson" | "jsonl") => Ok("application/x-ndjson"),
        Some("json") => Ok("application/json"),
        _ => Err(UsageError(format!(
            "{}: cannot tell the form from the extension; name the file .csv \
             (request_id,label), .ndjson / .jsonl or .json",
            file.display()
        ))),
    }
}

fn send(args: SendArgs) -> anyhow::Result<()> {
    let base = args.url.trim_end_matches('/');
    let uri = crate::replay::labels::feedback_uri(&args.url, "--url")?;
    let content_type = content_type(&args.file)?;
    let body = std::fs::read(&args.file).map_err(|err| {
        UsageError(format!(
            "{} cannot be read ({err}): give the path of the labels file",
            args.file.display()
        ))
    })?;
    let token = match &args.token_file {
        Some(path) => crate::config::admin::AdminConfig {
            token_file: Some(path.clone()),
            ..Default::default()
        }
        .token()
        .map_err(|e| UsageError(e.0.replace("admin.token_file", "--token-file")))?,
        None => None,
    };
    let mut request = http::Request::post(uri).header(http::header::CONTENT_TYPE, content_type);
    if let Some(token) = token {
        request = request.header(http::header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let request = request
        .body(http_body_util::Full::new(bytes::Bytes::from(body)))
        .context("could not build the request")?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("could not start the async runtime")?;
    let (status, answer) = runtime.block_on(async {
        use http_body_util::BodyExt as _;
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build_http::<http_body_util::Full<bytes::Bytes>>();
        let exchange = async {
            let response = client
                .request(request)
                .await
                .with_context(|| format!("could not reach {base}"))?;
            let status = response.status();
            let body = response
                .into_body()
                .collect()
                .await
                .context("the answer broke off")?
                .to_bytes();
            anyhow::Ok((status, body))
        };
        tokio::time::timeout(args.timeout, exchange)
            .await
            .map_err(|_| anyhow::anyhow!("{base} did not answer within {:?}", args.timeout))?
    })?;
    let text = String::from_utf8_lossy(&answer);
    match serde_json::from_slice::<serde_json::Value>(&answer) {
        Ok(summary) => print_summary(&summary),
        Err(_) => eprint!("{text}"),
    }
    anyhow::ensure!(
        status.is_success(),
        "the sidecar refused the feedback ({status})"
    );
    Ok(())
}

/// One line of counts, then one line per item that did not join.
fn print_summary(summary: &serde_json::Value) {
    let outcomes = summary["outcomes"].as_object().cloned().unwrap_or_default();
    let counts: Vec<String> = outcomes.iter().map(|(k, v)| format!("{k} {v}")).collect();
    println!("{} items: {}", summary["items"], counts.join(", "));
    for problem in summary["problems"].as_array().into_iter().flatten() {
        let at = match (problem.get("line"), problem.get("item")) {
            (Some(line), _) => format!("line {line}"),
            (None, Some(item)) => format!("item {item}"),
            _ => String::new(),
        };
        let id = problem["request_id"].as_str().unwrap_or("-");
        println!(
            "{at}: {} {id}: {}",
            problem["outcome"].as_str().unwrap_or_default(),
            problem["reason"].as_str().unwrap_or_default()
        );
    }
    if let Some(more) = summary.get("more_problems") {
        println!("... and {more} more items that did not join");
    }
}
