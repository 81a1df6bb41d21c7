//! References per model version: a model reference (`NAME@ALIAS`) stands for a family of
//! profiles, one per registered version, and traffic is compared with the profile of the
//! version that answered it.
//!
//! Which version answered: the exchange's `model_version` label (the URL's `/versions/N`,
//! the response's `X-Model-Version` header, or `model.version`), else the Open Inference
//! Protocol response's `model_version`, else the version the alias points at now. A
//! version the registry does not know is compared with the alias's current version, as a
//! server with its own numbering would want.
//!
//! Profiles are loaded on first use from the registry (`MODELWATCH_HOME`, or
//! `--registry-url`) and kept; what
//! is kept is bounded twice: by the versions the registry holds (only numbers it knows
//! are loaded) and by [`MAX_VERSIONS`] per reference, past which other versions fall back
//! to the current one rather than reading the registry again.

use super::references::{LoadedReference, ReferenceSet};
use crate::registry::source::ModelSource;
use crate::traffic::identity::{ModelLabels, UNKNOWN};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Versions kept per model reference (loaded profiles and versions the registry lacks).
pub const MAX_VERSIONS: usize = 32;

/// A profile per (configured spec, version number); `None` remembers a version the
/// registry could not give (unknown, or registered without a profile).
type Loaded = HashMap<(String, u32), Option<Arc<LoadedReference>>>;

/// The profiles of the model versions traffic was attributed to.
pub struct VersionReferences {
    source: ModelSource,
    max_features: usize,
    loaded: Mutex<Loaded>,
}

impl VersionReferences {
    pub fn new(source: ModelSource, max_features: usize) -> Self {
        VersionReferences {
            source,
            max_features,
            loaded: Mutex::new(HashMap::new()),
        }
    }

    /// Remembers the current references of a freshly loaded set, so that traffic naming
    /// their version shares them (and their live state) instead of loading them again.
    pub fn remember(&self, set: &ReferenceSet) {
        let mut loaded = self.loaded.lock().expect("versions lock poisoned");
        for (_, reference) in set.iter() {
            if let Some(key) = key_of(reference) {
                loaded.insert(key, Some(reference.clone()));
            }
        }
    }

    /// The profile of `version` in the family of `current` (a model reference), loading it
    /// on first use; `None` when the registry has no profile for that version.
    pub fn get(
        &self,
        current: &Arc<LoadedReference>,
        version: &str,
    ) -> Option<Arc<LoadedReference>> {
        if version == current.version {
            return Some(current.clone());
        }
        let name = current.model.as_deref()?;
        let number: u32 = version.parse().ok()?;
        let key = (current.spec.clone(), number);
        let mut loaded = self.loaded.lock().expect("versions lock poisoned");
        if let Some(found) = loaded.get(&key) {
            return found.clone();
        }
        let family = loaded.keys().filter(|(spec, _)| *spec == key.0).count();
        if family >= MAX_VERSIONS {
            return None;
        }
        // Rare (once per version) and on an analysis thread, never on the request path.
        let found = match load_version(&self.source, current, name, number, self.max_features) {
            Ok(reference) => Some(Arc::new(reference)),
            Err(e) => {
                tracing::warn!(
                    reference = %current.spec,
                    version = number,
                    error = %format!("{e:#}"),
                    "traffic names a model version without a usable reference profile; \
                     comparing it with the alias's current version"
                );
                None
            }
        };
        loaded.insert(key, found.clone());
        found
    }

    /// Forgets what `keep` rejects: versions no state uses any more, and versions the
    /// registry lacked (it may have them now).
    pub fn retain(&self, mut keep: impl FnMut(&LoadedReference) -> bool) {
        self.loaded
            .lock()
            .expect("versions lock poisoned")
            .retain(|_, found| found.as_deref().is_some_and(&mut keep));
    }
}

fn key_of(reference: &LoadedReference) -> Option<(String, u32)> {
    reference.model.as_ref()?;
    let number = reference.version.parse().ok()?;
    Some((reference.spec.clone(), number))
}

/// Loads `NAME@N` as a member of `current`'s family: the same configured spec, another
/// version.
pub fn load_version(
    source: &ModelSource,
    current: &LoadedReference,
    name: &str,
    version: u32,
    max_features: usize,
) -> anyhow::Result<LoadedReference> {
    let (found, profile) = source.model_profile(&format!("{name}@{version}"))?;
    let mut loaded = LoadedReference::new(&current.spec, profile, max_features);
    loaded.facts = crate::quality::VersionFacts::of(&loaded.profile, &found.metrics);
    loaded.version = found.version.to_string();
    loaded.model = Some(found.name);
    Ok(loaded)
}

/// The reference an exchange is compared with, and the labels its rows are counted
/// under: the answering version's profile, or the alias's current one.
pub fn attribute(
    versions: &VersionReferences,
    current: Arc<LoadedReference>,
    labels: &ModelLabels,
    answered: Option<&str>,
) -> (Arc<LoadedReference>, ModelLabels) {
    if current.model.is_none() {
        // A dataset or file reference has no versions: every version is compared with it.
        return (current, labels.clone());
    }
    if &*labels.version != UNKNOWN {
        // The label is bounded by the proxy's interner; an unknown number keeps its label
        // and is compared with the current version.
        let reference = versions.get(&current, &labels.version).unwrap_or(current);
        return (reference, labels.clone());
    }
    // From the response body: used only when the registry knows it, so that a label
    // value always names a registered version.
    let reference = answered
        .and_then(|v| versions.get(&current, v))
        .unwrap_or(current);
    let labels = ModelLabels {
        model: labels.model.clone(),
        version: Arc::from(reference.version.as_str()),
    };
    (reference, labels)
}
