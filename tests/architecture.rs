//! The library's top-level modules import each other without a cycle
//! (docs/architecture.md, "No import cycles"): configuration flows into the
//! client, the client owns its caches, and no cache or verifier reaches back.
//!
//! The graph is read from the source: an edge `a -> b` for every `crate::b`
//! path outside comments and outside `#[cfg(test)] mod tests` in the files of
//! module `a` (`src/a.rs` and `src/a/**`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `crate::name` references in code (not comments), before any unit-test module.
fn crate_references(source: &str) -> BTreeSet<String> {
    let code = source.split("#[cfg(test)]\nmod tests").next().unwrap_or(source);
    let mut found = BTreeSet::new();
    for line in code.lines().filter(|l| !l.trim_start().starts_with("//")) {
        for (i, _) in line.match_indices("crate::") {
            let name: String = line[i + "crate::".len()..]
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
                .collect();
            if !name.is_empty() {
                found.insert(name);
            }
        }
    }
    found
}

fn module_graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let relative = file.strip_prefix(&src).unwrap();
        let first = relative
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy();
        let module = first.trim_end_matches(".rs").to_owned();
        if module == "lib" {
            continue;
        }
        let references = crate_references(&std::fs::read_to_string(&file).unwrap());
        let edges = graph.entry(module.clone()).or_default();
        edges.extend(references.into_iter().filter(|r| *r != module));
    }
    graph
}

/// A cycle through `start`, if the graph has one reachable from it.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Open,
        Done,
    }
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        marks: &mut BTreeMap<String, Mark>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        match marks.get(node) {
            Some(Mark::Done) => return None,
            Some(Mark::Open) => {
                let at = path.iter().position(|n| n == node).unwrap_or(0);
                let mut cycle = path[at..].to_vec();
                cycle.push(node.to_owned());
                return Some(cycle);
            }
            None => {}
        }
        marks.insert(node.to_owned(), Mark::Open);
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, marks, path) {
                return Some(cycle);
            }
        }
        path.pop();
        marks.insert(node.to_owned(), Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    graph
        .keys()
        .find_map(|start| visit(start, graph, &mut marks, &mut Vec::new()))
}

#[test]
fn the_library_modules_have_no_import_cycle() {
    let graph = module_graph();
    // The reader sees the real source: the client, the JWT core and the error type are there.
    for module in ["client", "builder", "jose", "error", "flow"] {
        assert!(
            graph.contains_key(module),
            "{module} not found in src/: {graph:?}"
        );
    }
    assert_eq!(
        find_cycle(&graph),
        None,
        "import cycle among the library's modules"
    );
}

#[test]
fn the_cycle_finder_finds_a_cycle() {
    let graph: BTreeMap<String, BTreeSet<String>> = [
        ("builder", vec!["client", "error"]),
        ("client", vec!["jwks", "error"]),
        ("jwks", vec!["client"]),
        ("error", vec![]),
    ]
    .into_iter()
    .map(|(m, e)| (m.to_owned(), e.into_iter().map(str::to_owned).collect()))
    .collect();
    let cycle = find_cycle(&graph).expect("the cycle of round one");
    assert_eq!(cycle, ["client", "jwks", "client"]);
    assert_eq!(
        crate_references("use crate::client::X;\n// crate::jwks\nlet y = crate::jose::f();"),
        ["client", "jose"].map(str::to_owned).into_iter().collect()
    );
}
