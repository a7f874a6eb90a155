//! The modules of every crate depend on each other one way: no cycle among a crate's top-level
//! modules, nor among the files of one directory module. Dependencies are read from the source
//! (`crate::a`, `super::b`, `use crate::{a, b}`), test modules left out.
//!
//! A cycle that must stay for a while would be listed in `KNOWN` with its reason; the test fails
//! if the cycles found differ from that list, so it cannot go stale.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Cycles that exist today, each with why it is still there: none.
const KNOWN: &[(&str, &[&str], &str)] = &[];

type Graph = BTreeMap<String, BTreeSet<String>>;

/// The names that follow `prefix` in `text`: `prefix a` and each top-level item of
/// `prefix {a::x, b}`.
fn names_after(text: &str, prefix: &str) -> Vec<String> {
    let ident = |s: &str| -> String {
        s.trim_start()
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let mut out = Vec::new();
    for (at, _) in text.match_indices(prefix) {
        let rest = &text[at + prefix.len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let (mut depth, mut item) = (0usize, String::new());
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        out.push(ident(&item));
                        item.clear();
                        continue;
                    }
                    _ => {}
                }
                item.push(c);
            }
            out.push(ident(&item));
        } else {
            out.push(ident(rest));
        }
    }
    out.retain(|n| !n.is_empty() && n != "self");
    out
}

/// A file's source without comments and without its `#[cfg(test)]` tests module.
fn source(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let text = text.split("#[cfg(test)]\nmod tests").next().unwrap_or("");
    text.lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The `.rs` files under `dir`.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
}

/// The module a path under `dir` belongs to at that level (`x.rs` and `x/…` are `x`).
fn module_of(path: &Path, dir: &Path) -> String {
    let first = path.strip_prefix(dir).unwrap().components().next().unwrap();
    let name = first.as_os_str().to_string_lossy();
    name.trim_end_matches(".rs").to_string()
}

/// The graph among the modules of directory `dir`; `prefix` is how its files name a sibling.
fn graph(dir: &Path, prefix: &str) -> Graph {
    let mut files = Vec::new();
    rust_files(dir, &mut files);
    let mut graph = Graph::new();
    let parents = ["lib", "main", "mod"];
    for file in &files {
        let from = module_of(file, dir);
        if parents.contains(&from.as_str()) {
            continue;
        }
        // A sibling file names siblings with `super::`; a deeper file's `super::` is its own
        // directory's, so only `crate::` paths count there (at the top level).
        let direct = file.parent() == Some(dir);
        let text = source(file);
        let mut deps = if prefix == "crate::" || direct {
            names_after(&text, prefix)
        } else {
            Vec::new()
        };
        if prefix != "crate::" {
            deps.retain(|d| dir.join(format!("{d}.rs")).exists() || dir.join(d).is_dir());
        }
        let edges = graph.entry(from.clone()).or_default();
        edges.extend(deps.into_iter().filter(|d| *d != from));
    }
    graph
}

/// The cycles of `graph`: its strongly connected components of more than one module.
fn cycles(graph: &Graph) -> Vec<Vec<String>> {
    let nodes: Vec<&String> = graph.keys().collect();
    let reach = |from: &String| -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut todo = vec![from.clone()];
        while let Some(node) = todo.pop() {
            for next in graph.get(&node).into_iter().flatten() {
                if graph.contains_key(next) && seen.insert(next.clone()) {
                    todo.push(next.clone());
                }
            }
        }
        seen
    };
    let reachable: BTreeMap<&String, BTreeSet<String>> =
        nodes.iter().map(|n| (*n, reach(n))).collect();
    let mut out: Vec<Vec<String>> = Vec::new();
    for node in &nodes {
        let component: Vec<String> = nodes
            .iter()
            .filter(|m| reachable[*node].contains(**m) && reachable[*m].contains(*node))
            .map(|m| (*m).clone())
            .collect();
        if component.len() > 1 && !out.contains(&component) {
            out.push(component);
        }
    }
    out
}

#[test]
fn no_module_cycles_but_the_known_one() {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut found: Vec<(String, Vec<String>)> = Vec::new();
    for krate in [
        "agentsync",
        "agentsync-wasm",
        "agentsync-js",
        "agentsync-cli",
    ] {
        let src = crates.join(krate).join("src");
        let mut dirs = vec![(src.clone(), "crate::")];
        let mut stack = vec![src.clone()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push((path.clone(), "super::"));
                    stack.push(path);
                }
            }
        }
        for (dir, prefix) in dirs {
            for cycle in cycles(&graph(&dir, prefix)) {
                found.push((krate.to_string(), cycle));
            }
        }
    }
    let known: Vec<(String, Vec<String>)> = KNOWN
        .iter()
        .map(|(k, c, _)| (k.to_string(), c.iter().map(|s| s.to_string()).collect()))
        .collect();
    assert_eq!(
        found, known,
        "module cycles differ from the known list (a new one, or a known one that is gone)"
    );
}

#[test]
fn the_reader_finds_a_planted_cycle() {
    let dir = std::env::temp_dir().join(format!("agentsync-cycles-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("c")).unwrap();
    std::fs::write(dir.join("lib.rs"), "mod a; mod b; mod c;").unwrap();
    std::fs::write(dir.join("a.rs"), "use crate::{b::X, c};").unwrap();
    std::fs::write(dir.join("b.rs"), "fn f() { crate::a::g(); }").unwrap();
    std::fs::write(dir.join("c/mod.rs"), "mod d; mod e;").unwrap();
    std::fs::write(
        dir.join("c/d.rs"),
        "use super::e::Y; // crate::b is a comment",
    )
    .unwrap();
    std::fs::write(dir.join("c/e.rs"), "use super::{d, Z};").unwrap();
    assert_eq!(cycles(&graph(&dir, "crate::")), [["a", "b"]]);
    assert_eq!(cycles(&graph(&dir.join("c"), "super::")), [["d", "e"]]);
    let _ = std::fs::remove_dir_all(&dir);
}
