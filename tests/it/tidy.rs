//! Repository rules a reviewer would otherwise have to remember.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every source file opens with a `//!` comment that says what it is for; unit-test
/// files (`tests.rs`) are exempt, their parent module documents them.
#[test]
fn every_module_has_a_doc_comment() {
    let mut files = Vec::new();
    rust_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    let undocumented: Vec<_> = files
        .iter()
        .filter(|p| p.file_name().is_some_and(|n| n != "tests.rs"))
        .filter(|p| {
            !std::fs::read_to_string(p)
                .unwrap()
                .trim_start()
                .starts_with("//!")
        })
        .collect();
    assert!(
        undocumented.is_empty(),
        "add a `//!` module doc to: {undocumented:?}"
    );
}

/// The top-level modules from the bottom layer up: a module may use modules of lower
/// layers only, so arrows point down and no two modules lean on each other.
/// ARCHITECTURE.md draws the same layers.
const LAYERS: &[&[&str]] = &[
    &[
        "traffic",
        "exit",
        "logging",
        "shutdown",
        "provenance",
        "random",
    ],
    &["bearer", "http_listener", "tls"],
    &["profile"],
    &["drift", "protocol"],
    &["config", "page"],
    &["export", "registry"],
    &["train"],
    &["quality"],
    &["analysis"],
    &["proxy", "serve", "pipeline", "replay", "registry_server"],
    &["cli"],
];

/// Arrows that still point up, each with the reason and the way out. The test fails when
/// one of them disappears too, so this list only shrinks. (Empty since the registry stopped
/// decoding model artifacts and the `registry` command left `registry/` for `cli/`.)
const KNOWN_UPWARD: &[(&str, &str)] = &[];

/// `from -> to` for every `crate::to` path (code or doc link) in a file under `src/from`.
fn module_edges() -> std::collections::BTreeMap<(String, String), Vec<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut edges = std::collections::BTreeMap::<(String, String), Vec<String>>::new();
    for path in files {
        let relative = path
            .strip_prefix(&src)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let from = relative
            .split('/')
            .next()
            .unwrap()
            .trim_end_matches(".rs")
            .to_string();
        if from == "main" || from == "lib" {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for (at, _) in text.match_indices("crate::") {
            let to: String = text[at + "crate::".len()..]
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
                .collect();
            if !to.is_empty() && to != from {
                let places = edges.entry((from.clone(), to)).or_default();
                if !places.contains(&relative) {
                    places.push(relative.clone());
                }
            }
        }
    }
    edges
}

/// Module arrows point down the layers. `cargo test --test it module_arrows -- --nocapture`
/// prints the whole graph.
#[test]
fn module_arrows_point_down() {
    let layer = |module: &str| {
        LAYERS
            .iter()
            .position(|layer| layer.contains(&module))
            .unwrap_or_else(|| panic!("src/{module} is in no layer: add it to LAYERS"))
    };
    let edges = module_edges();
    let mut upward = Vec::new();
    for ((from, to), places) in &edges {
        println!("{from} -> {to}   ({})", places.join(", "));
        let known = KNOWN_UPWARD.contains(&(from.as_str(), to.as_str()));
        if layer(to) >= layer(from) && !known {
            upward.push(format!("{from} -> {to} (in {})", places.join(", ")));
        }
    }
    assert!(
        upward.is_empty(),
        "these arrows point up or sideways; move the shared item down a layer:\n{}",
        upward.join("\n")
    );
    for (from, to) in KNOWN_UPWARD {
        assert!(
            edges.contains_key(&(from.to_string(), to.to_string())),
            "{from} -> {to} no longer exists: remove it from KNOWN_UPWARD"
        );
    }
}
