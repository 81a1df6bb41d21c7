//! `modelwatch drift`: compare a current CSV file with a reference, column by column.
//!
//! The reference (a dataset `NAME[@VERSION]`, a profile JSON or a CSV) becomes a
//! [`Profile`]; the current file is streamed once ([`crate::drift::current`]), so memory
//! is bounded by the sample sizes, not by the file; then each column goes through the
//! statistics in [`crate::drift`] and the verdicts are summed into dataset drift
//! ([`report`]).
//!
//! Statistics on samples: numeric methods compare the reference sample (every value of a
//! reference with at most 10,000 per column) with a uniform reservoir of the current
//! values (`--current-sample`, default 100,000; every value below that), except KS, which
//! counts every current value between the reference values
//! ([`surely_ks`](crate::drift::report::surely_ks), [`crate::drift::ks_counts`]), and
//! `--method psi` / `jensen_shannon`, which count every current value into the
//! reference's bins ([`crate::drift::bin_counts`]): both exact on every row, whatever the
//! order of the rows or the ranges the file is read in. Categorical methods and all
//! data-quality rates use exact counts over every current row.

pub mod multivariate;
pub mod report;
pub mod scan;

use super::flags::{HomeArgs, ProfileFlags, SchemaFlags};
use crate::drift;
use crate::drift::alarms::Correction;
use crate::drift::current::ColumnMap;
use crate::drift::report::{
    ColumnReport, MethodChoice, apply_correction, column_report, kind_name, parse_method,
};
use crate::exit::UsageError;
use crate::profile::Profile;
use crate::registry::reference::load_profile;
use anyhow::Context;
use report::DriftReport;
use std::path::{Path, PathBuf};

/// Flags of `modelwatch drift`.
// Doc comments here are `--help` text (TOML sections, `NAME[@VERSION]`), not rustdoc links.
#[allow(rustdoc::broken_intra_doc_links)]
#[derive(Debug, clap::Args)]
pub struct DriftArgs {
    /// The reference: a dataset NAME[@VERSION], a profile JSON file or a CSV file.
    #[arg(long, value_name = "REF")]
    pub reference: String,
    /// The current data: a CSV file with the reference's columns (streamed).
    #[arg(long, value_name = "FILE")]
    pub current: PathBuf,
    /// Test per column: auto (Evidently's choice by type, size and distinct values), psi,
    /// ks, wasserstein, jensen_shannon, chi2 or z. A numeric-only method on a categorical
    /// column falls back to auto for that column.
    #[arg(long, default_value = "auto", value_parser = parse_method)]
    pub method: MethodChoice,
    /// Threshold for every column (default: 0.05 for p-values, 0.1 for distances).
    #[arg(long, value_name = "X")]
    pub threshold: Option<f64>,
    /// Multiple-testing correction across the columns tested with a p-value (ks, chi2, z):
    /// none (each column at its own threshold, as Evidently), bonferroni (p <= threshold /
    /// m) or benjamini_hochberg (the step-up procedure; the live sidecar's default). The
    /// other columns keep their verdict. See docs/drift-alarms.md.
    #[arg(long, default_value = "none", value_name = "CORRECTION", value_parser = parse_correction)]
    pub correction: Correction,
    /// Dataset drift when at least this share of the tested columns drifted.
    #[arg(long, default_value_t = drift::auto::DEFAULT_DRIFT_SHARE, value_name = "SHARE")]
    pub drift_share: f64,
    /// Reservoir size per numeric column of the current file, for the methods that need
    /// the values (wasserstein, and auto's choices). Columns tested with KS, PSI or
    /// Jensen–Shannon keep no sample: their values are counted between the reference
    /// values or into the reference's bins, exact on every row.
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u32).range(1..))]
    pub current_sample: u32,
    /// Also test the joint distribution: a domain classifier (cross-validated ROC AUC of
    /// reference vs current rows) and PCA reconstruction error (NannyML's), which see
    /// changes no per-column test can, such as a correlation that flips sign. Needs the
    /// reference's rows: a CSV file, a dataset, or a profile's row sample.
    #[arg(long)]
    pub multivariate: bool,
    /// Rows of each file --multivariate uses at most (a seeded uniform sample above it):
    /// bounds its memory and CPU time.
    #[arg(long, default_value_t = 10_000, value_name = "N",
          value_parser = clap::value_parser!(u32).range(20..))]
    pub multivariate_rows: u32,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Also write the report as one self-contained HTML file (each column's verdict and
    /// the reference beside the current data as a histogram; no script, opens offline).
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Exit 1 when the dataset drifted (or, with --multivariate, a multivariate method did).
    #[arg(long)]
    pub fail_on_drift: bool,
    #[command(flatten)]
    pub home: HomeArgs,
    /// Schema overrides when the reference is a CSV file.
    #[command(flatten)]
    pub schema: SchemaFlags,
    /// How the reference profile is built when the reference is a dataset or a CSV.
    #[command(flatten)]
    pub profile: ProfileFlags,
}

/// Parses `--correction` (the names of `analysis.correction`).
fn parse_correction(name: &str) -> Result<Correction, String> {
    Correction::from_name(name).ok_or_else(|| {
        format!("unknown correction `{name}`: use none, bonferroni or benjamini_hochberg")
    })
}

/// Runs `modelwatch drift`.
pub fn run(args: DriftArgs) -> anyhow::Result<()> {
    if let Some(t) = args.threshold
        && !(t.is_finite() && t >= 0.0)
    {
        return Err(UsageError(format!("--threshold {t}: use a number ≥ 0")).into());
    }
    if !(0.0..=1.0).contains(&args.drift_share) {
        return Err(UsageError(format!(
            "--drift-share {}: use a share between 0 and 1",
            args.drift_share
        ))
        .into());
    }
    // A reference built here from rows keeps no row sample: `--multivariate` reads a CSV
    // or dataset reference's rows from the file itself, and sampling them cost about 4% of
    // the whole command's instructions at 1e5 current rows.
    let profile = load_profile(
        &args.home.home,
        &args.reference,
        &args.schema.overrides(),
        &args.profile.options(0),
    )
    .with_context(|| format!("could not load the reference {}", args.reference))?;
    let mut report = compare(&profile, &args.current, &args)?;
    if args.multivariate {
        report.multivariate = Some(multivariate_section(&profile, &args)?);
    }
    if let Some(path) = &args.html {
        std::fs::write(path, report.to_html())
            .with_context(|| format!("could not write the HTML report to {}", path.display()))?;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.to_table());
    }
    if args.fail_on_drift && report.any_drift() {
        anyhow::bail!(
            "dataset drift: {} of {} columns drifted{} (--fail-on-drift)",
            report.drifted_columns,
            report.columns.len(),
            if report.dataset_drift {
                ""
            } else {
                ", and the joint distribution drifted"
            }
        );
    }
    Ok(())
}

/// The report's `multivariate` section: both methods on row samples of both sides.
fn multivariate_section(
    profile: &Profile,
    args: &DriftArgs,
) -> anyhow::Result<Vec<drift::multivariate::MultivariateResult>> {
    let features = multivariate::feature_names(profile);
    let cap = args.multivariate_rows as usize;
    let reference = match multivariate::reference_rows(&args.home.home, &args.reference)? {
        multivariate::ReferenceRows::File(file) => {
            multivariate::read_table(&file, profile, &features, cap)?
        }
        multivariate::ReferenceRows::ProfileSample => {
            multivariate::profile_table(&args.reference, profile, &features, cap)?
        }
    };
    let current = multivariate::read_table(&args.current, profile, &features, cap)?;
    drift::multivariate::multivariate_drift(
        &reference,
        &current,
        &drift::multivariate::MultivariateConfig::default(),
    )
    .map_err(|e| {
        UsageError(format!(
            "--multivariate: {e} ({} reference rows, {} current rows, {} features)",
            reference.rows(),
            current.rows(),
            features.len()
        ))
        .into()
    })
}

/// Streams the current file and builds the report.
pub fn compare(
    profile: &Profile,
    current_path: &Path,
    args: &DriftArgs,
) -> anyhow::Result<DriftReport> {
    let shown = current_path.display().to_string();
    let file = std::fs::File::open(current_path)
        .with_context(|| format!("could not open the current file {shown}"))?;
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .buffer_capacity(1 << 18)
        .from_reader(file);
    let header = reader
        .byte_headers()
        .with_context(|| format!("could not read the header of {shown}"))?
        .clone();
    if header.is_empty() || (header.len() == 1 && header[0].is_empty()) {
        return Err(UsageError(format!(
            "{shown} is empty: the current file needs a header row and data rows"
        ))
        .into());
    }
    let map = ColumnMap::new(profile, &header);
    if !map.missing_features.is_empty() {
        return Err(UsageError(format!(
            "{shown} lacks reference column(s) {}; its header is: {}",
            map.missing_features.join(", "),
            header
                .iter()
                .map(|h| String::from_utf8_lossy(h).into_owned())
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .into());
    }
    if map.matched.is_empty() {
        return Err(UsageError(format!(
            "{shown} shares no column with the reference {}",
            profile.source
        ))
        .into());
    }
    if !map.unknown.is_empty() && !args.json {
        eprintln!(
            "modelwatch: note: {shown} has column(s) the reference does not know, not tested: {}",
            map.unknown.join(", ")
        );
    }

    let first = reader.position();
    let start = scan::DataStart {
        byte: first.byte(),
        lines_before: first.line().saturating_sub(1),
        fields: header.len(),
    };
    drop(reader);
    let scan::Scan { rows, columns } = scan::scan(
        current_path,
        &start,
        profile,
        &map.matched,
        args.current_sample as usize,
        args.method,
    )?;
    if rows == 0 {
        return Err(UsageError(format!(
            "{shown} has a header but no data rows: nothing to compare"
        ))
        .into());
    }
    if !args.json {
        for (p, c) in &columns {
            let name = &profile.columns[*p].name;
            if let Some(bad) = &c.first_type_error {
                eprintln!(
                    "modelwatch: note: {shown} line {}, column {name}: {:?} is not a valid {} \
                     value ({} such cells counted as type errors)",
                    bad.line,
                    bad.value,
                    kind_name(c.kind),
                    c.type_errors
                );
            }
            if let Some(bad) = &c.first_non_finite {
                eprintln!(
                    "modelwatch: note: {shown} line {}, column {name}: {} is not a finite \
                     number ({} such cells left out of the statistics)",
                    bad.line, bad.value, c.non_finite
                );
            }
        }
    }

    let mut reports: Vec<ColumnReport> = columns
        .iter()
        .map(|(p, c)| column_report(&profile.columns[*p], c, args.method, args.threshold))
        .collect();
    apply_correction(reports.iter_mut(), args.correction);
    let tested = reports.iter().filter(|r| r.score.is_some());
    let verdict = drift::dataset_drift(tested.map(|r| r.drifted), args.drift_share);
    Ok(DriftReport {
        reference: profile.source.clone(),
        current: shown,
        rows,
        columns: reports,
        drift_share: verdict.share,
        drift_share_threshold: args.drift_share,
        drifted_columns: verdict.drifted_columns,
        dataset_drift: verdict.drifted,
        ignored_columns: map.unknown,
        correction: args.correction,
        multivariate: None,
    })
}
