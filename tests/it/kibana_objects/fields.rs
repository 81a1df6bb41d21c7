//! Which fields the saved objects use, what each use needs of the field's mapped type, and
//! the mapped types of an index template (or of `_field_caps`) flattened to dotted names.

use std::collections::BTreeMap;

use serde_json::Value;

use super::saved_objects::{SavedObject, lucene_fields, of_kind};

/// What an object does with a field, and so which mapped types work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    /// Shown as a column: any mapped field.
    Shown,
    /// Sorted on: a doc-values type.
    Sorted,
    /// The data view's time field, a date histogram: `date`.
    Time,
    /// A metric (percentile, max, …), a range query or a duration format: numeric.
    Number,
    /// A range query (`[a TO b]`, `>n`): numeric or date.
    Range,
    /// A term in a query or a phrase filter: keyword, numeric or boolean.
    Term,
    /// `field:true`: boolean.
    Boolean,
    /// Top values with Lens `dataType: string`: keyword.
    Keyword,
}

impl Need {
    /// True when a field mapped as `es_type` serves this use.
    pub fn accepts(self, es_type: &str) -> bool {
        let numeric = matches!(
            es_type,
            "long"
                | "integer"
                | "short"
                | "byte"
                | "double"
                | "float"
                | "half_float"
                | "scaled_float"
                | "unsigned_long"
        );
        let date = matches!(es_type, "date" | "date_nanos");
        let keyword = matches!(es_type, "keyword" | "constant_keyword" | "wildcard");
        match self {
            Need::Shown => es_type != "object" && es_type != "nested",
            Need::Sorted => numeric || date || keyword || es_type == "boolean",
            Need::Time => date,
            Need::Number => numeric,
            Need::Range => numeric || date,
            Need::Term => keyword || numeric || es_type == "boolean",
            Need::Boolean => es_type == "boolean",
            Need::Keyword => keyword,
        }
    }

    /// Aggregations and sorting read doc values: `_field_caps` must say aggregatable.
    pub fn aggregates(self) -> bool {
        matches!(
            self,
            Need::Sorted | Need::Time | Need::Number | Need::Keyword
        )
    }
}

/// One use of a field by one object.
#[derive(Clone, Debug)]
pub struct FieldUse {
    /// `type:id` of the object, and where in it.
    pub place: String,
    /// The data view whose documents the field is read from.
    pub data_view: String,
    pub field: String,
    pub need: Need,
}

/// Every field use of every data view, saved search and Lens object.
pub fn field_uses(objects: &[SavedObject]) -> Vec<FieldUse> {
    let mut uses = Vec::new();
    let mut add = |object: &SavedObject, data_view: &str, at: &str, field: &str, need| {
        uses.push(FieldUse {
            place: format!("{} {at}", object.key()),
            data_view: data_view.to_string(),
            field: field.to_string(),
            need,
        })
    };
    for view in of_kind(objects, "index-pattern") {
        let time = view.attributes["timeFieldName"].as_str().unwrap_or("");
        add(view, &view.id, "timeFieldName", time, Need::Time);
        let formats = view.nested_json(&["fieldFormatMap"]);
        for (field, format) in formats.as_object().into_iter().flatten() {
            let need = match format["id"].as_str() {
                Some("duration" | "number" | "bytes" | "percent") => Need::Number,
                _ => Need::Shown,
            };
            add(view, &view.id, "fieldFormatMap", field, need);
        }
    }
    for search in of_kind(objects, "search") {
        let view = search.search_data_view();
        for column in search.attributes["columns"]
            .as_array()
            .into_iter()
            .flatten()
        {
            add(
                search,
                &view,
                "columns",
                column.as_str().unwrap_or(""),
                Need::Shown,
            );
        }
        for sort in search.attributes["sort"].as_array().into_iter().flatten() {
            add(
                search,
                &view,
                "sort",
                sort[0].as_str().unwrap_or(""),
                Need::Sorted,
            );
        }
        let source = search.search_source();
        let query = source["query"]["query"].as_str().unwrap_or("");
        for (field, value) in lucene_fields(query) {
            let need = if value.starts_with(['[', '{', '>', '<']) {
                Need::Range
            } else if value == "true" || value == "false" {
                Need::Boolean
            } else {
                Need::Term
            };
            add(search, &view, "query", &field, need);
        }
        for filter in source["filter"].as_array().into_iter().flatten() {
            let key = filter["meta"]["key"].as_str().unwrap_or("");
            add(search, &view, "filter", key, Need::Term);
        }
    }
    for lens in of_kind(objects, "lens") {
        for (layer_id, layer) in lens.lens_layers() {
            let view = lens.lens_layer_data_view(&layer_id);
            for (column_id, column) in layer["columns"].as_object().into_iter().flatten() {
                let field = column["sourceField"].as_str().unwrap_or("");
                let at = format!("layer {layer_id} column {column_id}");
                let need = match (
                    column["operationType"].as_str(),
                    column["dataType"].as_str(),
                ) {
                    // Count of records reads no field.
                    (Some("count"), _) if field == "___records___" => continue,
                    (Some("date_histogram"), _) => Need::Time,
                    (Some("terms"), Some("string")) => Need::Keyword,
                    (Some("terms"), Some("number")) => Need::Number,
                    (Some("terms"), Some("boolean")) => Need::Boolean,
                    (Some(_), Some("number")) => Need::Number,
                    (operation, data_type) => panic!(
                        "{} {at}: operation {operation:?} with dataType {data_type:?} is not \
                         one this test knows how to check",
                        lens.key()
                    ),
                };
                add(lens, &view, &at, field, need);
            }
        }
    }
    uses
}

/// `properties` of a mapping flattened: dotted field name → mapped type.
pub fn flatten_mapping(properties: &Value) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    flatten_into(properties, "", &mut out);
    out
}

fn flatten_into(properties: &Value, prefix: &str, out: &mut BTreeMap<String, String>) {
    for (name, field) in properties.as_object().into_iter().flatten() {
        let path = format!("{prefix}{name}");
        if let Some(inner) = field.get("properties") {
            flatten_into(inner, &format!("{path}."), out);
        } else if let Some(es_type) = field["type"].as_str() {
            out.insert(path, es_type.to_string());
        }
    }
}

/// `true` when `pattern` (a data view title: comma-separated globs with `*`) matches `name`.
pub fn title_matches(pattern: &str, name: &str) -> bool {
    pattern
        .split(',')
        .any(|glob| glob_matches(glob.trim(), name))
}

fn glob_matches(glob: &str, name: &str) -> bool {
    let parts: Vec<&str> = glob.split('*').collect();
    if parts.len() == 1 {
        return glob == name;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !name.starts_with(first) || !name[first.len()..].ends_with(last) {
        return false;
    }
    let mut rest = &name[first.len()..name.len() - last.len()];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(at) => rest = &rest[at + middle.len()..],
            None => return false,
        }
    }
    true
}
