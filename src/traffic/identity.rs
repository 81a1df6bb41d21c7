//! Which model and version a request is for, as bounded metric label values.
//!
//! The identity comes from the URL where the protocol carries it (Open Inference Protocol
//! `/v2/models/{m}[/versions/{v}]`, KServe V1 / TF Serving `/v1/models/{m}[/versions/{v}]:verb`,
//! TorchServe `/predictions/{m}[/{v}]`), else from configuration, else it is `unknown`.
//! Clients choose URLs, so label values are interned with a cap: a name that is not
//! label-safe, or arrives after the cap is reached, becomes `__other__`. However many names
//! clients invent, the number of series stays bounded by configuration.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// The label value for a request whose model or version is not known.
pub const UNKNOWN: &str = "unknown";
/// The label value for names beyond the cap or not safe as labels.
pub const OTHER: &str = "__other__";

/// True when `value` is 1 to 64 ASCII letters, digits, `.`, `_` or `-`.
pub fn is_label_safe(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 64
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// The model name and version a URL path names, borrowed from the path.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PathIdentity<'a> {
    pub model: Option<&'a str>,
    pub version: Option<&'a str>,
}

/// Reads the model identity from a request path, without allocating.
pub fn from_path(path: &str) -> PathIdentity<'_> {
    if let Some(rest) = path.strip_prefix("/v2/models/") {
        let mut parts = rest.split('/');
        let model = parts.next().filter(|m| !m.is_empty());
        let version = match (parts.next(), parts.next()) {
            (Some("versions"), Some(v)) if !v.is_empty() => Some(v),
            _ => None,
        };
        return PathIdentity { model, version };
    }
    if let Some(rest) = path.strip_prefix("/v1/models/") {
        // `/v1/models/credit:predict`, `/v1/models/credit/versions/3:predict`,
        // `/v1/models/credit/labels/stable:predict` (a label is not a version).
        let mut parts = rest.split('/');
        let model = parts.next().map(strip_verb).filter(|m| !m.is_empty());
        let version = match (parts.next(), parts.next()) {
            (Some("versions"), Some(v)) => Some(strip_verb(v)).filter(|v| !v.is_empty()),
            _ => None,
        };
        return PathIdentity { model, version };
    }
    if let Some(rest) = path.strip_prefix("/predictions/") {
        let mut parts = rest.split('/');
        let model = parts.next().filter(|m| !m.is_empty());
        let version = parts.next().filter(|v| !v.is_empty());
        return PathIdentity { model, version };
    }
    PathIdentity::default()
}

fn strip_verb(segment: &str) -> &str {
    segment
        .split_once(':')
        .map_or(segment, |(name, _verb)| name)
}

/// Interned, bounded label values for models and their versions.
///
/// Lookups of names already seen take a read lock and allocate nothing; the write lock is
/// taken only the first time a name is seen, at most `max_models × max_versions` times.
pub struct LabelInterner {
    max_models: usize,
    max_versions: usize,
    unknown: Arc<str>,
    other: Arc<str>,
    models: RwLock<HashMap<Arc<str>, ModelVersions>>,
}

struct ModelVersions {
    name: Arc<str>,
    versions: HashMap<Arc<str>, ()>,
}

/// The label values of one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelLabels {
    pub model: Arc<str>,
    pub version: Arc<str>,
}

impl LabelInterner {
    pub fn new(max_models: usize, max_versions: usize) -> Self {
        Self {
            max_models,
            max_versions,
            unknown: Arc::from(UNKNOWN),
            other: Arc::from(OTHER),
            models: RwLock::new(HashMap::new()),
        }
    }

    /// The bounded labels for a model name and version, either of which may be unknown.
    pub fn labels(&self, model: Option<&str>, version: Option<&str>) -> ModelLabels {
        let model_label = match model {
            // Without a model there is nothing to scope a version to: both stay unknown,
            // so a client cannot mint series through the version alone.
            None => return self.unknown_model(),
            Some(m) if !is_label_safe(m) => {
                return ModelLabels {
                    model: self.other.clone(),
                    version: self.unknown.clone(),
                };
            }
            Some(m) => m,
        };
        {
            // A std RwLock is fine: it is never held across an await.
            let models = self.models.read().expect("label interner lock poisoned");
            if let Some(entry) = models.get(model_label) {
                if let Some(found) = self.known_version(entry, version) {
                    return found;
                }
            } else if models.len() >= self.max_models {
                return ModelLabels {
                    model: self.other.clone(),
                    version: self.unknown.clone(),
                };
            }
        }
        let mut models = self.models.write().expect("label interner lock poisoned");
        if !models.contains_key(model_label) {
            if models.len() >= self.max_models {
                return ModelLabels {
                    model: self.other.clone(),
                    version: self.unknown.clone(),
                };
            }
            let name: Arc<str> = Arc::from(model_label);
            models.insert(
                name.clone(),
                ModelVersions {
                    name,
                    versions: HashMap::new(),
                },
            );
        }
        let entry = models.get_mut(model_label).expect("inserted above");
        let version_label = match version {
            None => self.unknown.clone(),
            Some(v) if !is_label_safe(v) => self.other.clone(),
            Some(v) => match entry.versions.get_key_value(v) {
                Some((k, ())) => k.clone(),
                None if entry.versions.len() >= self.max_versions => self.other.clone(),
                None => {
                    let v: Arc<str> = Arc::from(v);
                    entry.versions.insert(v.clone(), ());
                    v
                }
            },
        };
        ModelLabels {
            model: entry.name.clone(),
            version: version_label,
        }
    }

    fn unknown_model(&self) -> ModelLabels {
        ModelLabels {
            model: self.unknown.clone(),
            version: self.unknown.clone(),
        }
    }

    fn known_version(&self, entry: &ModelVersions, version: Option<&str>) -> Option<ModelLabels> {
        let version = match version {
            None => self.unknown.clone(),
            Some(v) if !is_label_safe(v) => self.other.clone(),
            Some(v) => match entry.versions.get_key_value(v) {
                Some((k, ())) => k.clone(),
                None if entry.versions.len() >= self.max_versions => self.other.clone(),
                None => return None,
            },
        };
        Some(ModelLabels {
            model: entry.name.clone(),
            version,
        })
    }
}

#[cfg(test)]
mod tests;
