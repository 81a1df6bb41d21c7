//! `modelwatch serve`: where the model comes from (the home, or a registry over HTTP with
//! its token and cache), then [`crate::serve::run`].

use super::flags::HomeArgs;
use crate::config::state::DEFAULT_STATE_DIR;
use crate::registry::source::ModelSource;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Flags of `modelwatch serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub home: HomeArgs,
    /// The model to serve: NAME@ALIAS (followed as the alias moves) or NAME@VERSION.
    #[arg(long, value_name = "NAME@ALIAS")]
    pub model: String,
    /// Address to listen on (port 0 picks a free port, printed on stderr).
    #[arg(long, value_name = "ADDR", default_value = "0.0.0.0:8000")]
    pub listen: SocketAddr,
    /// After SIGTERM, keep serving this long (answers close their connections) before
    /// draining. In a pod, give at least the sidecar's proxy.shutdown_delay: every
    /// container gets SIGTERM at once, and the sidecar forwards until its delay ends.
    #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = humantime::parse_duration)]
    pub shutdown_delay: Duration,
    /// How often to check the registry for a newly promoted version.
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = humantime::parse_duration)]
    pub poll_interval: Duration,
    /// Read the model from `modelwatch registry serve` at this URL instead of the home,
    /// following its alias the same way; artifacts are verified and cached in --state-dir.
    #[arg(long, value_name = "URL", env = "MODELWATCH_REGISTRY_URL")]
    pub registry_url: Option<String>,
    /// File holding the bearer token of that registry.
    #[arg(long, value_name = "FILE", env = "MODELWATCH_REGISTRY_TOKEN_FILE")]
    pub registry_token_file: Option<PathBuf>,
    /// PEM file of the CA that signed an https:// registry's certificate (default: the
    /// system's roots).
    #[arg(long, value_name = "FILE", env = "MODELWATCH_REGISTRY_CA_FILE")]
    pub registry_ca_file: Option<PathBuf>,
    /// Where artifacts fetched over --registry-url are cached (must be writable then).
    #[arg(
        long,
        value_name = "DIR",
        env = "MODELWATCH_STATE_DIR",
        default_value = DEFAULT_STATE_DIR
    )]
    pub state_dir: PathBuf,
}

/// Runs `modelwatch serve` until SIGINT or SIGTERM.
pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    let source = ModelSource::new(
        args.home.home.clone(),
        args.registry_url.as_deref(),
        args.registry_token_file.as_deref(),
        args.registry_ca_file.as_deref(),
        &args.state_dir,
    )?;
    crate::serve::run(
        source,
        &args.model,
        args.listen,
        args.poll_interval,
        args.shutdown_delay,
    )
}
