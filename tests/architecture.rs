//! The layering of `src/`, checked: no import circle between top-level modules, `model` imports
//! nothing else from the crate, and `config` imports only `model`. A module that reaches up to a
//! layer above it fails here, naming the files that do.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every `crate::x` a file names outside its `#[cfg(test)] mod …` block.
fn references(text: &str) -> BTreeSet<String> {
    let code = match text.find("#[cfg(test)]\nmod ") {
        Some(at) => &text[..at],
        None => text,
    };
    let mut out = BTreeSet::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        let before = rest[..at].chars().next_back();
        rest = &rest[at + "crate::".len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let name: String = item
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    out.insert(name);
                }
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                out.insert(name);
            }
        }
    }
    out
}

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

/// Top-level module → (module it names → files that name it).
fn graph() -> BTreeMap<String, BTreeMap<String, BTreeSet<String>>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let module_of = |path: &Path| -> String {
        let rel = path.strip_prefix(&src).unwrap();
        let first = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy();
        first.trim_end_matches(".rs").to_string()
    };
    let modules: BTreeSet<String> = files
        .iter()
        .map(|p| module_of(p))
        .filter(|m| m != "main" && m != "lib")
        .collect();
    let mut graph: BTreeMap<String, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for path in &files {
        let module = module_of(path);
        if !modules.contains(&module) {
            continue;
        }
        let text = std::fs::read_to_string(path).unwrap();
        let edges = graph.entry(module.clone()).or_default();
        for name in references(&text) {
            if name != module && modules.contains(&name) {
                edges
                    .entry(name)
                    .or_default()
                    .insert(path.strip_prefix(&src).unwrap().display().to_string());
            }
        }
    }
    graph
}

fn reachable(
    graph: &BTreeMap<String, BTreeMap<String, BTreeSet<String>>>,
    from: &str,
) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut todo = vec![from.to_string()];
    while let Some(module) = todo.pop() {
        for next in graph.get(&module).into_iter().flat_map(|e| e.keys()) {
            if seen.insert(next.clone()) {
                todo.push(next.clone());
            }
        }
    }
    seen
}

#[test]
fn no_module_reaches_up_into_a_layer_above_it() {
    let graph = graph();
    let mut circles = Vec::new();
    for (module, edges) in &graph {
        for (next, files) in edges {
            if reachable(&graph, next).contains(module) {
                circles.push(format!(
                    "{module} -> {next} (in {}), and {next} leads back to {module}",
                    files.iter().cloned().collect::<Vec<_>>().join(", ")
                ));
            }
        }
    }
    assert!(
        circles.is_empty(),
        "import circles:\n{}",
        circles.join("\n")
    );
    assert!(
        graph["model"].is_empty(),
        "model is the leaf, but imports {:?}",
        graph["model"]
    );
    let config: Vec<&String> = graph["config"].keys().filter(|m| *m != "model").collect();
    assert!(
        config.is_empty(),
        "config imports only model, not {config:?}"
    );
    // The judgement is pure: it reads nothing and writes nothing itself.
    for pure in ["diff", "judge"] {
        for forbidden in ["desired", "store", "serve", "remediate", "scan", "report"] {
            assert!(
                !graph[pure].contains_key(forbidden),
                "{pure} must not import {forbidden}"
            );
        }
    }
}

#[test]
fn the_checker_sees_imports_in_every_form() {
    let text = "use crate::a::B;\nuse crate::{b, c::D};\nfn f() { crate::d::e(); notcrate::x(); }\n#[cfg(test)]\nmod tests { use crate::z; }\n";
    let found: Vec<String> = references(text).into_iter().collect();
    assert_eq!(found, vec!["a", "b", "c", "d"]);
}
