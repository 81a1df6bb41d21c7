//! The shape of the saved objects, as Kibana 8's import checks it: unique ids, references
//! that resolve inside the file and are all used, nested JSON strings that parse, attribute
//! names Kibana's schemas accept and migration versions it can migrate from; Lens layers,
//! accessors and dashboard panels that fit together.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::saved_objects::{NDJSON, SavedObject, by_id, load, of_kind};
use super::{DRIFT_VIEW, INFERENCE_VIEW};

/// The saved objects issue 6 asks for, by type and id.
const REQUIRED: &[(&str, &str)] = &[
    ("index-pattern", INFERENCE_VIEW),
    ("index-pattern", DRIFT_VIEW),
    ("search", "modelwatch-server-errors"),
    ("search", "modelwatch-slow-requests"),
    ("search", "modelwatch-drifted-features"),
    ("search", "modelwatch-model-version"),
    ("lens", "modelwatch-requests-by-status"),
    ("lens", "modelwatch-p95-duration"),
    ("lens", "modelwatch-drift-score"),
    ("lens", "modelwatch-drift-share"),
    ("lens", "modelwatch-missing-rate"),
    ("dashboard", "modelwatch-dashboard"),
];

#[test]
fn every_reference_resolves_ids_are_unique_and_nested_json_parses() {
    let objects = load();
    let mut seen = BTreeSet::new();
    for object in &objects {
        assert!(
            seen.insert((object.kind.clone(), object.id.clone())),
            "{NDJSON} line {}: {} appears twice",
            object.line,
            object.key()
        );
        assert!(!object.title().is_empty(), "{} has no title", object.key());
        // Every reference points at an object of the file (none is external) of its type.
        let mut names = BTreeSet::new();
        for (name, kind, id) in &object.references {
            assert!(
                names.insert(name),
                "{}: two references named {name}",
                object.key()
            );
            assert!(
                objects.iter().any(|o| &o.kind == kind && &o.id == id),
                "{}: reference {name} points at {kind}:{id}, which is not in {NDJSON}",
                object.key()
            );
        }
        let used = match object.kind.as_str() {
            "index-pattern" => check_data_view(object),
            "search" => check_search(object),
            "lens" => check_lens(object),
            "dashboard" => check_dashboard(object, &objects),
            other => panic!("{}: unexpected type {other}", object.key()),
        };
        let declared: BTreeSet<String> = object.references.iter().map(|r| r.0.clone()).collect();
        assert_eq!(
            declared,
            used,
            "{}: the references and the names the object uses differ",
            object.key()
        );
    }
    for (kind, id) in REQUIRED {
        by_id(&objects, kind, id);
    }
}

/// The attributes Kibana 8's saved-object schemas accept per type (unknown keys are refused
/// on import): data views (`dataViewAttributesSchema`), saved searches
/// (`SCHEMA_SEARCH_BASE`), dashboards (`dashboardAttributesSchema`), Lens.
const ALLOWED_ATTRIBUTES: &[(&str, &[&str])] = &[
    (
        "index-pattern",
        &[
            "title",
            "type",
            "timeFieldName",
            "sourceFilters",
            "fields",
            "typeMeta",
            "fieldFormatMap",
            "fieldAttrs",
            "allowNoIndex",
            "runtimeFieldMap",
            "name",
        ],
    ),
    (
        "search",
        &[
            "title",
            "description",
            "columns",
            "sort",
            "grid",
            "rowHeight",
            "rowsPerPage",
            "hideChart",
            "breakdownField",
            "kibanaSavedObjectMeta",
            "isTextBasedQuery",
            "usesAdHocDataView",
            "timeRestore",
            "timeRange",
            "refreshInterval",
            "viewMode",
            "hideAggregatedPreview",
            "hits",
            "version",
        ],
    ),
    (
        "dashboard",
        &[
            "title",
            "description",
            "hits",
            "timeRestore",
            "timeFrom",
            "timeTo",
            "refreshInterval",
            "kibanaSavedObjectMeta",
            "panelsJSON",
            "optionsJSON",
            "version",
            "controlGroupInput",
        ],
    ),
    (
        "lens",
        &["title", "description", "visualizationType", "state"],
    ),
];

#[test]
fn attributes_and_migration_versions_are_what_kibana_8_imports() {
    for object in load() {
        // Only the keys every Kibana from 8.9 knows: later additions such as `managed` are
        // not in older releases' strictly mapped saved-object index, and export-only keys
        // (`namespaces`, `updated_at`, `version`) mean nothing on import.
        for key in object.raw.as_object().unwrap().keys() {
            assert!(
                [
                    "type",
                    "id",
                    "attributes",
                    "references",
                    "coreMigrationVersion",
                    "typeMigrationVersion"
                ]
                .contains(&key.as_str()),
                "{}: top-level key {key:?}",
                object.key()
            );
        }
        let allowed = ALLOWED_ATTRIBUTES
            .iter()
            .find(|(kind, _)| *kind == object.kind)
            .map(|(_, keys)| *keys)
            .unwrap_or_else(|| panic!("{}: no schema known", object.key()));
        for key in object.attributes.as_object().unwrap().keys() {
            assert!(
                allowed.contains(&key.as_str()),
                "{}: Kibana's schema has no attribute {key:?}",
                object.key()
            );
        }
        let version = |name: &str| -> Vec<u64> {
            let text = object.raw[name].as_str().unwrap_or_else(|| {
                panic!("{}: no {name} (Kibana would treat it as 7.x)", object.key())
            });
            text.split('.').map(|n| n.parse().unwrap()).collect()
        };
        assert!(
            version("coreMigrationVersion") >= vec![8, 8, 0],
            "{}",
            object.key()
        );
        let type_version = version("typeMigrationVersion");
        // Kibana 8.6.0's Lens migration renames the `indexpattern` datasource to
        // `formBased`: an object already in the new shape must say it is past that
        // migration, or the rename would run on it. Above 8.9.0 (the newest Lens migration
        // of Kibana 8.9, the oldest the README promises) that Kibana refuses the object.
        if object.kind == "lens" {
            assert!(
                type_version >= vec![8, 6, 0] && type_version <= vec![8, 9, 0],
                "{}: typeMigrationVersion {type_version:?}",
                object.key()
            );
        }
    }
}

/// A data view: a time field and parseable nested strings. No references.
fn check_data_view(view: &SavedObject) -> BTreeSet<String> {
    assert!(
        view.attributes["timeFieldName"].is_string(),
        "{}",
        view.key()
    );
    for nested in ["fieldFormatMap", "runtimeFieldMap", "fields", "typeMeta"] {
        view.nested_json(&[nested]);
    }
    BTreeSet::new()
}

/// A saved search: its source parses, names its data view and filters' data views by
/// reference, and its sort pairs are `[field, asc|desc]`.
fn check_search(search: &SavedObject) -> BTreeSet<String> {
    let source = search.search_source();
    let mut used = BTreeSet::new();
    let index = source["indexRefName"].as_str().unwrap_or_default();
    assert_eq!(
        index,
        "kibanaSavedObjectMeta.searchSourceJSON.index",
        "{}",
        search.key()
    );
    used.insert(index.to_string());
    assert!(source["query"]["query"].is_string(), "{}", search.key());
    for (i, filter) in source["filter"].as_array().unwrap().iter().enumerate() {
        let name = filter["meta"]["indexRefName"].as_str().unwrap_or_default();
        assert_eq!(
            name,
            format!("kibanaSavedObjectMeta.searchSourceJSON.filter[{i}].meta.index"),
            "{}",
            search.key()
        );
        assert_eq!(search.referenced(name).0, "index-pattern");
        used.insert(name.to_string());
    }
    assert!(
        search.attributes["columns"]
            .as_array()
            .is_some_and(|c| !c.is_empty())
    );
    for sort in search.attributes["sort"].as_array().unwrap() {
        let pair = sort.as_array().unwrap();
        assert!(pair.len() == 2 && matches!(pair[1].as_str(), Some("asc" | "desc")));
    }
    search.search_data_view();
    used
}

/// A Lens XY chart: each layer has a data view reference, its column order lists exactly
/// its columns, and every accessor and order-by names a column of the layer.
fn check_lens(lens: &SavedObject) -> BTreeSet<String> {
    let key = lens.key();
    assert_eq!(lens.attributes["visualizationType"], "lnsXY", "{key}");
    let state = &lens.attributes["state"];
    assert!(
        state["query"]["query"].is_string() && state["filters"].is_array(),
        "{key}"
    );
    let layers: BTreeMap<String, Value> = lens.lens_layers().into_iter().collect();
    assert!(!layers.is_empty(), "{key} has no layer");
    let mut used = BTreeSet::new();
    for (id, layer) in &layers {
        used.insert(format!("indexpattern-datasource-layer-{id}"));
        lens.lens_layer_data_view(id);
        let columns: BTreeSet<&String> = layer["columns"].as_object().unwrap().keys().collect();
        let order: BTreeSet<&str> = layer["columnOrder"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap())
            .collect();
        assert_eq!(
            columns.iter().map(|c| c.as_str()).collect::<BTreeSet<_>>(),
            order,
            "{key} layer {id}: columnOrder and columns differ"
        );
        for (column_id, column) in layer["columns"].as_object().unwrap() {
            let bucketed = matches!(
                column["operationType"].as_str(),
                Some("date_histogram" | "terms")
            );
            assert_eq!(column["isBucketed"], bucketed, "{key} column {column_id}");
            if let Some(by) = column["params"]["orderBy"]["columnId"].as_str() {
                assert!(columns.contains(&by.to_string()), "{key}: orders by {by}");
            }
        }
    }
    for layer in state["visualization"]["layers"].as_array().unwrap() {
        let id = layer["layerId"].as_str().unwrap();
        let columns = layers[id]["columns"].as_object().unwrap();
        let mut accessors: Vec<&str> = layer["accessors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        assert!(!accessors.is_empty(), "{key} layer {id} shows no metric");
        accessors.extend(layer["xAccessor"].as_str());
        accessors.extend(layer["splitAccessor"].as_str());
        for accessor in accessors {
            assert!(
                columns.contains_key(accessor),
                "{key}: no column {accessor}"
            );
        }
    }
    used
}

/// A dashboard: panels on the 48-column grid without overlap, each panel's reference
/// `<panelIndex>:<panelRefName>` of the panel's type; every search and chart is on it.
fn check_dashboard(dashboard: &SavedObject, objects: &[SavedObject]) -> BTreeSet<String> {
    let key = dashboard.key();
    let panels = dashboard.nested_json(&["panelsJSON"]);
    dashboard.nested_json(&["optionsJSON"]);
    dashboard.nested_json(&["kibanaSavedObjectMeta", "searchSourceJSON"]);
    let mut used = BTreeSet::new();
    let mut cells = BTreeSet::new();
    for panel in panels.as_array().unwrap() {
        let index = panel["panelIndex"].as_str().unwrap();
        let grid = &panel["gridData"];
        assert_eq!(grid["i"], index, "{key} panel {index}");
        let (x, y, w, h) = (
            grid["x"].as_u64().unwrap(),
            grid["y"].as_u64().unwrap(),
            grid["w"].as_u64().unwrap(),
            grid["h"].as_u64().unwrap(),
        );
        assert!(
            w > 0 && h > 0 && x + w <= 48,
            "{key} panel {index} off the grid"
        );
        for cell in (x..x + w).flat_map(|cx| (y..y + h).map(move |cy| (cx, cy))) {
            assert!(cells.insert(cell), "{key}: panel {index} overlaps another");
        }
        let name = format!("{index}:{}", panel["panelRefName"].as_str().unwrap());
        let (kind, _) = dashboard.referenced(&name);
        assert_eq!(Some(kind), panel["type"].as_str(), "{key} panel {index}");
        used.insert(name);
    }
    for wanted in of_kind(objects, "search")
        .into_iter()
        .chain(of_kind(objects, "lens"))
    {
        assert!(
            dashboard
                .references
                .iter()
                .any(|(_, kind, id)| kind == &wanted.kind && id == &wanted.id),
            "{key} does not show {}",
            wanted.key()
        );
    }
    used
}

#[test]
fn the_ndjson_is_what_generate_py_writes() {
    // python3 is on every machine the test script runs (alerts/check.sh needs it too).
    let script = crate::metric_contract::repo_path("dashboards/kibana/generate.py");
    let out = std::process::Command::new("python3")
        .arg(&script)
        .arg("--check")
        .output()
        .unwrap_or_else(|e| panic!("cannot run python3 {}: {e}", script.display()));
    assert!(
        out.status.success(),
        "{NDJSON} was edited by hand or generate.py changed without rerunning it: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
