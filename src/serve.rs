//! placeholder
#[derive(Debug, clap::Args)]
pub struct ServeArgs {}
pub fn run(_args: ServeArgs) -> anyhow::Result<()> {
    Ok(())
}
