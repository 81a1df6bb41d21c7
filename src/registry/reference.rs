//! Turning what a user typed as a reference (`NAME[@VERSION]`, a profile JSON file, a
//! CSV file, or a JSONL file of LLM requests) into a [`Profile`].

use super::datasets::infer_schema;
use super::home::Home;
use crate::exit::UsageError;
use crate::profile::schema::SchemaOverrides;
use crate::profile::{Profile, ProfileOptions, build_from_csv};
use std::path::Path;

/// Where a reference comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReferenceKind {
    /// A stored dataset version.
    Dataset,
    /// A profile document.
    ProfileFile,
    /// A CSV file profiled on the fly.
    CsvFile,
    /// A JSONL file of OpenAI-compatible requests (`.jsonl`, `.ndjson`): its LLM drift
    /// features ([`super::llm_requests`]) profiled on the fly.
    RequestsFile,
}

/// Classifies `reference`: an existing file is a requests file when it ends in `.jsonl` or
/// `.ndjson`, a profile when it is JSON (ends in `.json` or starts with `{`), a CSV
/// otherwise; anything else is a dataset spec.
pub fn classify(reference: &str) -> ReferenceKind {
    let path = Path::new(reference);
    if !path.is_file() {
        return ReferenceKind::Dataset;
    }
    if super::llm_requests::is_requests_file(path) {
        return ReferenceKind::RequestsFile;
    }
    let is_json = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
        || first_non_space_byte(path) == Some(b'{');
    if is_json {
        ReferenceKind::ProfileFile
    } else {
        ReferenceKind::CsvFile
    }
}

/// Loads or builds the profile `reference` names. `home` is only opened for a dataset;
/// `overrides` only apply to a CSV file (a dataset has its stored schema).
pub fn load_profile(
    home: &Path,
    reference: &str,
    overrides: &SchemaOverrides,
    options: &ProfileOptions,
) -> anyhow::Result<Profile> {
    match classify(reference) {
        ReferenceKind::ProfileFile => Profile::read(Path::new(reference)),
        ReferenceKind::CsvFile => {
            let path = Path::new(reference);
            let schema = infer_schema(path, overrides)?;
            build_from_csv(path, &schema, options, reference)
        }
        ReferenceKind::RequestsFile => {
            refuse_schema_flags(reference, overrides)?;
            let table = super::llm_requests::feature_table(Path::new(reference))?;
            build_from_csv(table.csv.path(), &table.schema, options, reference)
        }
        ReferenceKind::Dataset => {
            if [".csv", ".json", ".jsonl", ".ndjson"]
                .iter()
                .any(|ext| reference.ends_with(ext))
            {
                return Err(UsageError(format!(
                    "{reference}: no such file (and not a dataset name): check the path"
                ))
                .into());
            }
            let home = Home::open(home)?;
            let dataset = home.resolve_dataset(reference)?;
            let file = home.dataset_file(&dataset)?;
            let mut profile = build_from_csv(&file, &dataset.schema, options, &dataset.spec())?;
            profile.source_sha256 = Some(dataset.sha256.to_string());
            Ok(profile)
        }
    }
}

/// A requests file has a fixed schema: `--target`, `--id` and `--categorical` would be
/// silently meaningless, so they are refused.
pub fn refuse_schema_flags(reference: &str, overrides: &SchemaOverrides) -> Result<(), UsageError> {
    if overrides.target.is_some() || overrides.id.is_some() || !overrides.categorical.is_empty() {
        return Err(UsageError(format!(
            "{reference} is a JSONL of LLM requests, whose feature columns are fixed \
             (docs/llm.md): drop --target, --id and --categorical"
        )));
    }
    Ok(())
}

fn first_non_space_byte(path: &Path) -> Option<u8> {
    use std::io::Read;
    let mut buf = [0u8; 64];
    let n = std::fs::File::open(path).ok()?.read(&mut buf).ok()?;
    buf[..n].iter().copied().find(|b| !b.is_ascii_whitespace())
}
