//! Flags several subcommands share: `--home`, the schema overrides of a CSV and how a
//! reference profile is built. Each turns into the library's plain value
//! ([`HomeArgs::home`], [`SchemaOverrides`], [`ProfileOptions`]).

use crate::config::DEFAULT_HOME;
use crate::profile::ProfileOptions;
use crate::profile::schema::SchemaOverrides;
use std::path::PathBuf;

/// The `--home` flag, shared by every job that uses the registry.
#[derive(Clone, Debug, clap::Args)]
pub struct HomeArgs {
    /// Directory holding datasets, models and their metadata.
    #[arg(
        long,
        global = true,
        env = "MODELWATCH_HOME",
        default_value = DEFAULT_HOME,
        value_name = "DIR"
    )]
    pub home: PathBuf,
}

/// How a profile is built (shared with `modelwatch drift`).
#[derive(Clone, Debug, clap::Args)]
pub struct ProfileFlags {
    /// Equal-frequency bins per numeric column.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub bins: u16,
    /// Categories kept by name per column; the rest become __other__.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..))]
    pub top_k: u32,
    /// Reservoir sample size per numeric column (a column with fewer values keeps all).
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..))]
    pub sample_size: u32,
    /// Seed of the reservoir sampler.
    #[arg(long, default_value_t = ProfileOptions::default().seed)]
    pub seed: u64,
}

impl ProfileFlags {
    /// The options these flags describe, keeping `row_sample_size` whole feature rows
    /// (only a profile that is written needs them: `dataset profile` has the flag).
    pub fn options(&self, row_sample_size: usize) -> ProfileOptions {
        ProfileOptions {
            bins: self.bins.into(),
            top_k: self.top_k as usize,
            sample_size: self.sample_size as usize,
            seed: self.seed,
            row_sample_size,
        }
    }
}

/// Schema overrides shared by every command that reads a CSV.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct SchemaFlags {
    /// The target (label) column.
    #[arg(long, value_name = "COL")]
    pub target: Option<String>,
    /// A row-id column: stored, never profiled or monitored.
    #[arg(long, value_name = "COL")]
    pub id: Option<String>,
    /// Columns to treat as categorical even if their values are numbers.
    #[arg(long, value_name = "COL,...", value_delimiter = ',')]
    pub categorical: Vec<String>,
}

impl SchemaFlags {
    /// The overrides these flags describe.
    pub fn overrides(&self) -> SchemaOverrides {
        SchemaOverrides {
            target: self.target.clone(),
            id: self.id.clone(),
            categorical: self.categorical.clone(),
            ..Default::default()
        }
    }
}
