//! `modelwatch healthcheck URL`: exit 0 when URL answers 2xx within the timeout, 1
//! otherwise. The image is distroless (no shell, no curl), so its exec-form `HEALTHCHECK`
//! and compose's healthchecks run this.

use crate::exit::UsageError;
use anyhow::Context as _;
use std::time::Duration;

/// Probe an HTTP endpoint: exit 0 on a 2xx answer, 1 on anything else.
///
/// For container healthchecks in images without curl, e.g. in a Dockerfile:
///   HEALTHCHECK CMD ["/usr/local/bin/modelwatch", "healthcheck", "http://127.0.0.1:9090/readyz"]
/// The sidecar serves /healthz (alive) and /readyz (ready for traffic) on its admin port,
/// `serve` /v2/health/live and /v2/health/ready. Exit 2 when URL is not http://.
// `--help` text with an example command, not rustdoc.
#[allow(rustdoc::broken_intra_doc_links)]
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct HealthcheckArgs {
    /// http://HOST:PORT/PATH, e.g. http://127.0.0.1:9090/readyz
    pub url: String,
    /// Give up (exit 1) when connecting and the answer take longer, e.g. 2s or 500ms
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
}

/// Runs `modelwatch healthcheck`.
pub fn run(args: HealthcheckArgs) -> anyhow::Result<()> {
    let uri: http::Uri = args
        .url
        .parse()
        .ok()
        .filter(|u: &http::Uri| u.scheme_str() == Some("http") && u.host().is_some())
        .ok_or_else(|| {
            UsageError(format!(
                "healthcheck URL {:?} is not an http:// URL: give one like \
                 http://127.0.0.1:9090/readyz",
                args.url
            ))
        })?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("could not start the async runtime")?;
    let status = runtime.block_on(async {
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build_http::<http_body_util::Empty<bytes::Bytes>>();
        tokio::time::timeout(args.timeout, client.get(uri))
            .await
            .map_err(|_| anyhow::anyhow!("{} did not answer within {:?}", args.url, args.timeout))?
            .with_context(|| format!("could not reach {}", args.url))
            .map(|response| response.status())
    })?;
    anyhow::ensure!(status.is_success(), "{} answered {status}", args.url);
    Ok(())
}
