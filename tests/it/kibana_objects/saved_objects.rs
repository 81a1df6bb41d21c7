//! `dashboards/kibana/modelwatch.ndjson` read the way Kibana's import reads it: one saved
//! object per line, nested JSON strings (`searchSourceJSON`, `panelsJSON`,
//! `fieldFormatMap`) parsed, references looked up by name.

use serde_json::Value;

use crate::metric_contract::repo_path;

/// The shipped file, relative to the repository.
pub const NDJSON: &str = "dashboards/kibana/modelwatch.ndjson";

/// One line of the NDJSON file.
#[derive(Clone, Debug)]
pub struct SavedObject {
    pub kind: String,
    pub id: String,
    pub attributes: Value,
    /// `(name, type, id)` of each reference.
    pub references: Vec<(String, String, String)>,
    /// 1-based line in the file, for messages.
    pub line: usize,
    /// The whole line, for the fields around `attributes` (migration versions).
    pub raw: Value,
}

impl SavedObject {
    /// `type:id`, how messages name an object.
    pub fn key(&self) -> String {
        format!("{}:{}", self.kind, self.id)
    }

    pub fn title(&self) -> &str {
        self.attributes["title"].as_str().unwrap_or("")
    }

    /// The `(type, id)` a named reference points at.
    pub fn reference(&self, name: &str) -> Option<(&str, &str)> {
        self.references
            .iter()
            .find(|(n, _, _)| n == name)
            .map(|(_, kind, id)| (kind.as_str(), id.as_str()))
    }

    /// The reference's target, or a panic that names the object and the missing name.
    pub fn referenced(&self, name: &str) -> (&str, &str) {
        self.reference(name)
            .unwrap_or_else(|| panic!("{} has no reference named {name:?}", self.key()))
    }

    /// A nested JSON string attribute (`attributes.<path>`), parsed.
    pub fn nested_json(&self, path: &[&str]) -> Value {
        let mut node = &self.attributes;
        for part in path {
            node = &node[part];
        }
        let text = node.as_str().unwrap_or_else(|| {
            panic!(
                "{}: attributes.{} is not a string",
                self.key(),
                path.join(".")
            )
        });
        serde_json::from_str(text).unwrap_or_else(|e| {
            panic!(
                "{}: attributes.{} is not JSON ({e}): {text}",
                self.key(),
                path.join(".")
            )
        })
    }

    /// A saved search's `searchSourceJSON`.
    pub fn search_source(&self) -> Value {
        self.nested_json(&["kibanaSavedObjectMeta", "searchSourceJSON"])
    }

    /// The data view a saved search reads, by id.
    pub fn search_data_view(&self) -> String {
        let source = self.search_source();
        let name = source["indexRefName"]
            .as_str()
            .unwrap_or_else(|| panic!("{}: searchSourceJSON has no indexRefName", self.key()));
        let (kind, id) = self.referenced(name);
        assert_eq!(kind, "index-pattern", "{}: {name}", self.key());
        id.to_string()
    }

    /// A Lens object's layers: `(layer id, layer state)`.
    pub fn lens_layers(&self) -> Vec<(String, Value)> {
        let layers = &self.attributes["state"]["datasourceStates"]["formBased"]["layers"];
        layers
            .as_object()
            .unwrap_or_else(|| panic!("{}: no state.datasourceStates.formBased.layers", self.key()))
            .iter()
            .map(|(id, layer)| (id.clone(), layer.clone()))
            .collect()
    }

    /// The data view of a Lens layer, by id.
    pub fn lens_layer_data_view(&self, layer: &str) -> String {
        let (kind, id) = self.referenced(&format!("indexpattern-datasource-layer-{layer}"));
        assert_eq!(kind, "index-pattern", "{} layer {layer}", self.key());
        id.to_string()
    }
}

/// Every object of the shipped file, in file order. Blank lines and an export summary
/// line (`exportedCount`) are skipped, as the import API does.
pub fn load() -> Vec<SavedObject> {
    let text = std::fs::read_to_string(repo_path(NDJSON))
        .unwrap_or_else(|e| panic!("cannot read {NDJSON}: {e}"));
    let mut objects = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let value: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("{NDJSON} line {}: not JSON ({e})", i + 1));
        if value.get("exportedCount").is_some() {
            continue;
        }
        let text_of = |key: &str| {
            value[key]
                .as_str()
                .unwrap_or_else(|| panic!("{NDJSON} line {}: no string {key:?}", i + 1))
                .to_string()
        };
        let references = value["references"]
            .as_array()
            .unwrap_or_else(|| panic!("{NDJSON} line {}: references is not a list", i + 1))
            .iter()
            .map(|r| {
                let field = |key: &str| {
                    r[key]
                        .as_str()
                        .unwrap_or_else(|| {
                            panic!("{NDJSON} line {}: a reference without {key}: {r}", i + 1)
                        })
                        .to_string()
                };
                (field("name"), field("type"), field("id"))
            })
            .collect();
        objects.push(SavedObject {
            kind: text_of("type"),
            id: text_of("id"),
            attributes: value["attributes"].clone(),
            references,
            line: i + 1,
            raw: value,
        });
    }
    objects
}

/// The objects of one type.
pub fn of_kind<'a>(objects: &'a [SavedObject], kind: &str) -> Vec<&'a SavedObject> {
    objects.iter().filter(|o| o.kind == kind).collect()
}

/// The object with this id (and type), or a panic naming it.
pub fn by_id<'a>(objects: &'a [SavedObject], kind: &str, id: &str) -> &'a SavedObject {
    objects
        .iter()
        .find(|o| o.kind == kind && o.id == id)
        .unwrap_or_else(|| panic!("{NDJSON} has no {kind} with id {id:?}"))
}

/// Field names a Lucene query string names (`field:value`), the subset the saved searches
/// use: terms, ranges and comparisons joined with AND/OR/NOT and parentheses.
pub fn lucene_fields(query: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut rest = query;
    while let Some(colon) = rest.find(':') {
        let before = &rest[..colon];
        let start = before
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '@')))
            .map_or(0, |i| i + 1);
        let field = &before[start..];
        let after = &rest[colon + 1..];
        // The value: up to the closing bracket of a range, else up to whitespace or `)`.
        let end = if after.starts_with('[') || after.starts_with('{') {
            after.find([']', '}']).map_or(after.len(), |i| i + 1)
        } else {
            after
                .find(|c: char| c.is_whitespace() || c == ')')
                .unwrap_or(after.len())
        };
        if !field.is_empty() {
            found.push((field.to_string(), after[..end].to_string()));
        }
        rest = &after[end..];
    }
    found
}
