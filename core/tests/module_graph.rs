//! The core's module graph is acyclic, so that CI fails on a new import cycle.
//!
//! A node is a top-level module of `core/src` (`foo.rs` and everything under `foo/` is `foo`).
//! An edge `a -> b` is a path in `a` that names `b`: `use crate::b…`, `crate::b::…` anywhere
//! in code (attribute strings such as serde's `skip_serializing_if` included), `crate::X` for
//! a name the crate root re-exports from `b` (`crate::Error` is `error`), and `super::…` paths
//! that climb out of `a`. Comments are ignored, and so are unit-test modules: files named
//! `tests.rs` and everything after a `#[cfg(test)]` line followed by `mod tests {`.
//!
//! The layering this protects is written in the crate doc (`core/src/lib.rs`).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fs;
use std::path::{Path, PathBuf};

/// Module → modules it names, each edge with the first place it is seen (`file:line`).
type Graph = BTreeMap<String, BTreeMap<String, String>>;

#[test]
fn core_module_graph_is_acyclic() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let graph = module_graph(&src);

    // Guard against a parser that silently finds nothing.
    assert!(
        graph
            .get("engine")
            .is_some_and(|e| e.contains_key("storage")),
        "the parser lost the edge engine -> storage:\n{}",
        edge_list(&graph)
    );

    let cycles: Vec<String> = strongly_connected(&graph)
        .into_iter()
        .filter(|scc| scc.len() > 1)
        .map(|scc| {
            format!(
                "{}  (modules in one cycle: {})",
                one_cycle(&graph, &scc).join(" -> "),
                scc.join(", ")
            )
        })
        .collect();
    if !cycles.is_empty() {
        panic!(
            "the core's module graph has {} cycle(s):\n  {}\n\nedges:\n{}",
            cycles.len(),
            cycles.join("\n  "),
            edge_list(&graph)
        );
    }
}

#[test]
fn the_parser_reads_grouped_imports_super_paths_and_skips_comments_and_tests() {
    let roots = BTreeMap::from([("Error".to_string(), "error".to_string())]);
    let modules: BTreeSet<String> = ["a", "b", "c", "d", "error", "f"].map(String::from).into();
    let text = "use crate::{b::X, Error,\n    c};\n// use crate::d::Y;\nfn f() { super::super::f::g(); }\n\
                #[cfg(test)]\nmod tests {\n    use crate::d::Z;\n}\n";
    let found: BTreeSet<String> = names(text, 2, &modules, &roots)
        .into_iter()
        .map(|(m, _)| m)
        .collect();
    let want: BTreeSet<String> = ["b", "error", "c", "f"].map(String::from).into();
    assert_eq!(found, want);
}

/// Reads every `.rs` file under `src` into the module graph.
fn module_graph(src: &Path) -> Graph {
    let mut files = Vec::new();
    rs_files(src, &mut files);
    files.sort();

    let modules: BTreeSet<String> = files
        .iter()
        .filter_map(|f| top_module(&f.strip_prefix(src).unwrap().to_string_lossy()))
        .collect();
    let roots = root_reexports(&fs::read_to_string(src.join("lib.rs")).unwrap(), &modules);

    let mut graph = Graph::new();
    for file in &files {
        let rel = file
            .strip_prefix(src)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let Some(from) = top_module(&rel) else {
            continue; // lib.rs, the crate root
        };
        if rel.ends_with("/tests.rs") {
            continue;
        }
        let depth = file_depth(&rel);
        let edges = graph.entry(from.clone()).or_default();
        let text = fs::read_to_string(file).unwrap();
        for (to, line) in names(&text, depth, &modules, &roots) {
            if to != from {
                edges
                    .entry(to)
                    .or_insert_with(|| format!("core/src/{rel}:{line}"));
            }
        }
    }
    graph
}

fn rs_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rs_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `foo.rs` and `foo/**.rs` → `foo`; `lib.rs` → none.
fn top_module(rel: &str) -> Option<String> {
    let rel = rel.replace('\\', "/");
    match rel.split_once('/') {
        Some((dir, _)) => Some(dir.to_string()),
        None if rel == "lib.rs" => None,
        None => Some(rel.trim_end_matches(".rs").to_string()),
    }
}

/// How many `super::` reach the crate root: 1 from `foo.rs` or `foo/mod.rs`, 2 from
/// `foo/bar.rs`, and so on.
fn file_depth(rel: &str) -> usize {
    let parts = rel.split('/').count();
    if rel.ends_with("/mod.rs") {
        parts - 1
    } else {
        parts
    }
}

/// Names the crate root re-exports from a module: `pub use engine::{Engine, …};` maps
/// `Engine` → `engine`.
fn root_reexports(lib: &str, modules: &BTreeSet<String>) -> BTreeMap<String, String> {
    let mut roots = BTreeMap::new();
    for stmt in lib.split(';') {
        let Some(path) = stmt.trim().strip_prefix("pub use ") else {
            continue;
        };
        let path = path.trim().trim_start_matches("crate::");
        let Some((module, rest)) = path.split_once("::") else {
            continue;
        };
        if !modules.contains(module) {
            continue;
        }
        for name in rest.trim_matches(|c| c == '{' || c == '}').split(',') {
            let name = name.split(" as ").last().unwrap().trim();
            if !name.is_empty() {
                roots.insert(name.to_string(), module.to_string());
            }
        }
    }
    roots
}

/// The top-level modules a file's code names, with the 1-based line of each mention.
fn names(
    text: &str,
    depth: usize,
    modules: &BTreeSet<String>,
    roots: &BTreeMap<String, String>,
) -> Vec<(String, usize)> {
    let code = without_tests(&without_comments(text));
    let resolve = |name: &str| {
        if modules.contains(name) {
            Some(name.to_string())
        } else {
            roots.get(name).cloned()
        }
    };
    let mut found = Vec::new();
    let bytes = code.as_bytes();
    let mut i = 0;
    while i < code.len() {
        let at_word = i == 0 || !is_ident(bytes[i - 1]);
        let rest = &code[i..];
        // How the path reaches the crate root: `crate::`, or enough `super::` to climb out.
        let after_root = if at_word && rest.starts_with("crate::") {
            Some(i + "crate::".len())
        } else if at_word && rest.starts_with("super::") {
            let mut j = i;
            let mut climbed = 0;
            while code[j..].starts_with("super::") {
                j += "super::".len();
                climbed += 1;
            }
            if climbed < depth {
                i = j; // a path inside the module
                continue;
            }
            Some(j)
        } else {
            None
        };
        let Some(start) = after_root else {
            i += rest.chars().next().unwrap().len_utf8();
            continue;
        };
        let line = code[..i].matches('\n').count() + 1;
        for name in first_segments(&code[start..]) {
            if let Some(module) = resolve(&name) {
                found.push((module, line));
            }
        }
        i = start;
    }
    found
}

/// The first path segment after `crate::`: one identifier, or one per item of a `{…}` group.
fn first_segments(path: &str) -> Vec<String> {
    let path = path.trim_start();
    if let Some(group) = path.strip_prefix('{') {
        let mut depth = 1;
        let end = group
            .char_indices()
            .find(|&(_, c)| {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    _ => {}
                }
                depth == 0
            })
            .map_or(group.len(), |(k, _)| k);
        let mut items = Vec::new();
        let mut level = 0;
        let mut item_start = true;
        for (k, c) in group[..end].char_indices() {
            match c {
                '{' => level += 1,
                '}' => level -= 1,
                ',' if level == 0 => item_start = true,
                c if item_start && !c.is_whitespace() => {
                    items.push(ident_at(&group[k..]));
                    item_start = false;
                }
                _ => {}
            }
        }
        items
    } else {
        vec![ident_at(path)]
    }
}

fn ident_at(s: &str) -> String {
    s.bytes()
        .take_while(|&b| is_ident(b))
        .map(char::from)
        .collect()
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// The text with `//` comments (and so doc comments) blanked, lines kept.
fn without_comments(text: &str) -> String {
    text.lines()
        .map(|l| match l.find("//") {
            // Keep `"https://…"` strings: only cut at a `//` outside a string.
            Some(k) if l[..k].matches('"').count() % 2 == 0 => &l[..k],
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The text up to a `#[cfg(test)]` line followed by `mod tests {` (a unit-test module, by
/// convention the end of its file).
fn without_tests(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let end = lines
        .windows(2)
        .position(|w| w[0].trim() == "#[cfg(test)]" && w[1].trim_start().starts_with("mod tests {"))
        .unwrap_or(lines.len());
    lines[..end].join("\n")
}

/// Tarjan's strongly connected components.
fn strongly_connected(graph: &Graph) -> Vec<Vec<String>> {
    struct Tarjan<'g> {
        graph: &'g Graph,
        next: usize,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        on_stack: BTreeSet<&'g str>,
        out: Vec<Vec<String>>,
    }
    impl<'g> Tarjan<'g> {
        fn visit(&mut self, v: &'g str) {
            self.index.insert(v, self.next);
            self.low.insert(v, self.next);
            self.next += 1;
            self.stack.push(v);
            self.on_stack.insert(v);
            for w in self.graph.get(v).into_iter().flat_map(|e| e.keys()) {
                let w = w.as_str();
                if !self.index.contains_key(w) {
                    self.visit(w);
                    self.low.insert(v, self.low[v].min(self.low[w]));
                } else if self.on_stack.contains(w) {
                    self.low.insert(v, self.low[v].min(self.index[w]));
                }
            }
            if self.low[v] == self.index[v] {
                let mut scc = Vec::new();
                loop {
                    let w = self.stack.pop().unwrap();
                    self.on_stack.remove(w);
                    scc.push(w.to_string());
                    if w == v {
                        break;
                    }
                }
                scc.sort();
                self.out.push(scc);
            }
        }
    }
    let mut t = Tarjan {
        graph,
        next: 0,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in graph.keys() {
        if !t.index.contains_key(v.as_str()) {
            t.visit(v);
        }
    }
    t.out
}

/// A shortest cycle through the first module of a strongly connected component, written
/// `a -> b -> … -> a`.
fn one_cycle(graph: &Graph, scc: &[String]) -> Vec<String> {
    let start = &scc[0];
    let mut parent: BTreeMap<&str, &str> = BTreeMap::new();
    let mut queue = VecDeque::from([start.as_str()]);
    while let Some(v) = queue.pop_front() {
        for w in graph.get(v).into_iter().flat_map(|e| e.keys()) {
            if w == start {
                let mut path = vec![start.clone()];
                let mut at = v;
                while at != start {
                    path.push(at.to_string());
                    at = parent[at];
                }
                path.push(start.clone());
                path.reverse();
                return path;
            }
            if scc.contains(w) && !parent.contains_key(w.as_str()) {
                parent.insert(w, v);
                queue.push_back(w);
            }
        }
    }
    unreachable!("a strongly connected component of more than one module has a cycle")
}

fn edge_list(graph: &Graph) -> String {
    let mut out = String::new();
    for (from, edges) in graph {
        for (to, at) in edges {
            out.push_str(&format!("  {from} -> {to}  ({at})\n"));
        }
    }
    out
}
