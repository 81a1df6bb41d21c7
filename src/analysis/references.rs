//! Which reference profile each model is compared against, loaded at start and again on
//! reload (SIGHUP or `POST /-/reload`); a model `NAME@ALIAS` is also followed as the alias
//! moves ([`super::follow`]), and other versions of the model are
//! [`super::versions`].
//!
//! A reference is named in configuration: `analysis.reference` for the model in
//! `model.name` (or for every model when the sidecar serves one), `analysis.references`
//! per model name. A spec is a registered model `NAME@ALIAS` or `NAME@VERSION` (its
//! reference profile: training features and holdout predictions), a dataset
//! `NAME[@VERSION]` in the registry (`MODELWATCH_HOME`), a profile JSON file, or a CSV file.

use crate::config::Config;
use crate::drift::multivariate::{FittedReference, MultivariateConfig, table_of_sample};
use crate::profile::schema::SchemaOverrides;
use crate::profile::{Profile, ProfileOptions};
use crate::registry::source::ModelSource;
use anyhow::Context as _;
use sha2::Digest as _;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

/// A loaded reference.
#[derive(Debug)]
pub struct LoadedReference {
    /// What the configuration named.
    pub spec: String,
    pub profile: Profile,
    /// A short content id of the profile: the source's sha256 prefix when known.
    pub version: String,
    /// Positions of the monitored columns (features, then predictions) in `profile.columns`,
    /// capped at `analysis.max_features`.
    pub features: Vec<usize>,
    pub predictions: Vec<usize>,
    /// Feature columns beyond the cap.
    pub capped_features: usize,
    /// The registered model the reference belongs to, for a model reference.
    pub model: Option<String>,
    /// The version's task and the validation metrics the registry recorded for it (for a
    /// file or dataset reference: the task its profile says, no metrics).
    pub facts: crate::quality::VersionFacts,
    /// Multivariate drift's fit on the profile's row sample, made on first use (by the
    /// evaluator, never a worker); `None` when the profile has no usable row sample.
    multivariate: OnceLock<Option<Arc<FittedReference>>>,
}

/// The references of every configured model.
#[derive(Clone, Debug)]
pub struct ReferenceSet {
    /// By model name; the key `None` applies to any model without its own entry.
    by_model: HashMap<Option<String>, Arc<LoadedReference>>,
    /// When the set was put in use (loaded, reloaded, or an alias moved). Windows begin
    /// here: an exchange that arrived before it was served while another reference (or
    /// version) was in force, and its rows are not counted against this one.
    pub installed_at: SystemTime,
}

impl Default for ReferenceSet {
    fn default() -> Self {
        ReferenceSet {
            by_model: HashMap::new(),
            installed_at: SystemTime::UNIX_EPOCH,
        }
    }
}

impl ReferenceSet {
    /// Loads every reference the configuration names. An unreadable reference is an error
    /// naming the spec, so a typo stops the sidecar at start and fails a reload loudly.
    pub fn load(
        config: &Config,
        home: &std::path::Path,
        source: &ModelSource,
    ) -> anyhow::Result<ReferenceSet> {
        let mut by_model = HashMap::new();
        let analysis = &config.analysis;
        if let Some(spec) = &analysis.reference {
            let key = config.model.name.clone();
            by_model.insert(
                key,
                Arc::new(load_one(spec, home, source, analysis.max_features)?),
            );
        }
        for (model, spec) in &analysis.references {
            by_model.insert(
                Some(model.clone()),
                Arc::new(load_one(spec, home, source, analysis.max_features)?),
            );
        }
        Ok(ReferenceSet {
            by_model,
            installed_at: SystemTime::now(),
        })
    }

    /// The reference for `model`: its own, else the default one.
    pub fn for_model(&self, model: &str) -> Option<&Arc<LoadedReference>> {
        self.by_model
            .get(&Some(model.to_string()))
            .or_else(|| self.by_model.get(&None))
    }

    /// The reference configured for `model` by name (`analysis.references`), not the
    /// default one.
    pub fn own(&self, model: &str) -> Option<&Arc<LoadedReference>> {
        self.by_model.get(&Some(model.to_string()))
    }

    pub fn is_empty(&self) -> bool {
        self.by_model.is_empty()
    }

    /// True when `reference` is what `model`'s traffic is compared with now (for a
    /// followed alias: the version it points at).
    pub fn is_current(&self, model: &str, reference: &Arc<LoadedReference>) -> bool {
        self.for_model(model)
            .is_some_and(|current| Arc::ptr_eq(current, reference))
    }

    /// Puts `new` wherever `old` is used (an alias moved to another version).
    pub fn replace(&mut self, old: &Arc<LoadedReference>, new: &Arc<LoadedReference>) {
        for reference in self.by_model.values_mut() {
            if Arc::ptr_eq(reference, old) {
                *reference = new.clone();
            }
        }
    }

    /// Every (model name or `None`, reference) pair.
    pub fn iter(&self) -> impl Iterator<Item = (Option<&str>, &Arc<LoadedReference>)> {
        self.by_model.iter().map(|(k, v)| (k.as_deref(), v))
    }
}

fn load_one(
    spec: &str,
    home: &std::path::Path,
    source: &ModelSource,
    max_features: usize,
) -> anyhow::Result<LoadedReference> {
    if let Some(loaded) = model_reference(spec, source, max_features)? {
        return Ok(loaded);
    }
    let profile = crate::registry::reference::load_profile(
        home,
        spec,
        &SchemaOverrides::default(),
        &ProfileOptions::default(),
    )
    .with_context(|| format!("could not load the reference {spec:?} (analysis.reference)"))?;
    Ok(LoadedReference::new(spec, profile, max_features))
}

/// A registered model's reference, when `spec` is `NAME@VERSION` or `NAME@ALIAS` of a model
/// in the registry; `None` when it names no model (then it is a file or a dataset). Over
/// `--registry-url` every `NAME@…` that is not a file is a model: datasets are not served.
fn model_reference(
    spec: &str,
    source: &ModelSource,
    max_features: usize,
) -> anyhow::Result<Option<LoadedReference>> {
    let Some((name, _)) = spec.split_once('@') else {
        return Ok(None);
    };
    if std::path::Path::new(spec).exists() {
        return Ok(None);
    }
    if let ModelSource::Home(home) = source {
        if !home.join(crate::registry::home::DB_FILE).exists() {
            return Ok(None);
        }
        let home = crate::registry::home::Home::open(home)?;
        if home.list_models(Some(name))?.is_empty() {
            return Ok(None);
        }
    }
    let (version, profile, warning) = source
        .model_profile_at_start(spec)
        .with_context(|| format!("could not load the reference of model {spec}"))?;
    if let Some(warning) = warning {
        tracing::warn!(reference = spec, "{warning}");
    }
    let mut loaded = LoadedReference::new(spec, profile, max_features);
    loaded.facts = crate::quality::VersionFacts::of(&loaded.profile, &version.metrics);
    loaded.version = version.version.to_string();
    loaded.model = Some(version.name);
    Ok(Some(loaded))
}

impl LoadedReference {
    /// Wraps a profile: the monitored columns are the features (the first `max_features`)
    /// and the prediction columns.
    pub fn new(spec: &str, profile: Profile, max_features: usize) -> LoadedReference {
        use crate::profile::schema::ColumnRole;
        let mut features: Vec<usize> = Vec::new();
        let mut predictions: Vec<usize> = Vec::new();
        for (i, c) in profile.columns.iter().enumerate() {
            match c.role {
                ColumnRole::Feature => features.push(i),
                ColumnRole::Prediction => predictions.push(i),
                ColumnRole::Target | ColumnRole::Id => {}
            }
        }
        let capped_features = features.len().saturating_sub(max_features);
        features.truncate(max_features);
        // The source's hash; a profile or CSV file without one is known by its profile's,
        // so a reload that swaps the file shows a new `reference_version`.
        let version = match &profile.source_sha256 {
            Some(sha) => sha.chars().take(12).collect(),
            None => {
                let json = serde_json::to_vec(&profile).expect("a profile serialises");
                hex::encode(&sha2::Sha256::digest(&json)[..6])
            }
        };
        LoadedReference {
            spec: spec.to_string(),
            version,
            features,
            predictions,
            capped_features,
            model: None,
            facts: crate::quality::VersionFacts::of(&profile, &serde_json::Value::Null),
            profile,
            multivariate: OnceLock::new(),
        }
    }

    /// The monitored features' names, in window order.
    pub fn feature_names(&self) -> Vec<String> {
        self.features
            .iter()
            .map(|&p| self.profile.columns[p].name.clone())
            .collect()
    }

    /// Multivariate drift's reference, fitted on the profile's row sample of the monitored
    /// features the first time it is asked for. A profile without one (written before
    /// profiles kept rows, or with `--row-sample-size 0`) gets `None`, and one log line.
    pub fn multivariate(&self) -> Option<Arc<FittedReference>> {
        self.multivariate
            .get_or_init(|| {
                let Some(table) = table_of_sample(&self.profile, &self.feature_names()) else {
                    tracing::info!(
                        reference = %self.spec,
                        "the reference profile keeps no row sample of its features, so live \
                         multivariate drift is off for it; rebuild the profile with this \
                         modelwatch (`modelwatch dataset profile`, or train the model again) \
                         to turn it on"
                    );
                    return None;
                };
                match FittedReference::fit(&table, &MultivariateConfig::default()) {
                    Ok(fitted) => Some(Arc::new(fitted)),
                    Err(e) => {
                        tracing::warn!(
                            reference = %self.spec,
                            error = %e,
                            "live multivariate drift is off for this reference"
                        );
                        None
                    }
                }
            })
            .clone()
    }
}
