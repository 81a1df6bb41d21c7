//! The hot path: a transparent reverse proxy in front of a model server.

pub mod identity;

/// Flags of `modelwatch proxy`.
#[derive(Debug, clap::Args)]
pub struct ProxyArgs {
    /// Base URL of the model server, e.g. http://127.0.0.1:8000 [config: proxy.upstream].
    #[arg(long, value_name = "URL")]
    pub upstream: Option<String>,
}

/// Runs the sidecar until SIGTERM or SIGINT.
pub fn run(args: ProxyArgs) -> anyhow::Result<()> {
    anyhow::bail!("the proxy is being built: {args:?}")
}
