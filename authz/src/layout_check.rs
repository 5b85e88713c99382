//! The shape of the code, checked by reading the source files (no build
//! information, no parser crate): the folders of [`NO_CIRCLE_DIRS`]
//! (`http/`, `oauth/`) have no import circle; no file of `http/` is over
//! [`HTTP_MAX_LINES`] lines; `login/` imports neither axum nor the app
//! state (`docs/ARCHITECTURE.md`, "Invariants").
//!
//! An edge `a -> b` between two modules of a folder `d` is any path in
//! `a`'s non-test code that starts with `super::b` or `crate::d::b` (in a
//! `use` or inline); a name that is not a file of `d` is a re-export
//! of `mod.rs`, so it is an edge to `mod`. `mod.rs` itself points at every
//! module it names as `b::...` (its routes).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The folders of `src/` whose files import one another in no circle.
/// Not yet `store/` and `login/`: their files take `Store`/`Level` from
/// `super::` while `mod.rs` re-exports them (`audit -> mod -> audit`).
const NO_CIRCLE_DIRS: &[&str] = &["http", "oauth"];

/// The longest a file under `src/http` may be.
const HTTP_MAX_LINES: usize = 300;

/// The code of a file that the shape rules read: no comment lines, and
/// nothing from its first `#[cfg(test)]` on (tests may reach anywhere).
fn code(src: &str) -> String {
    let body = src.split("#[cfg(test)]").next().unwrap_or("");
    body.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn ident(s: &str) -> &str {
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    &s[..end]
}

/// The first segment of every path after `prefix` (`super::a::x`,
/// `super::{a, b::c}` -> `a`, `b`).
fn heads_after<'a>(src: &'a str, prefix: &str) -> Vec<&'a str> {
    let mut out = vec![];
    for (i, _) in src.match_indices(prefix) {
        let before = src[..i].chars().next_back();
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':') {
            continue; // `super::super::`, `foo_super::`
        }
        let rest = &src[i + prefix.len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let group = &group[..group.find('}').unwrap_or(group.len())];
            out.extend(group.split(',').map(|p| ident(p.trim())));
        } else {
            out.push(ident(rest));
        }
    }
    out.retain(|h| !h.is_empty() && *h != "*" && *h != "self");
    out
}

/// The modules of `src/{dir}` that its file `name` (a file stem) depends on.
fn edges(dir: &str, name: &str, src: &str, files: &BTreeSet<String>) -> BTreeSet<String> {
    let src = code(src);
    let mut out = BTreeSet::new();
    if name == "mod" {
        for f in files {
            let named = src.match_indices(&format!("{f}::")).any(|(i, _)| {
                !src[..i]
                    .chars()
                    .next_back()
                    .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
            });
            if named && f != "mod" {
                out.insert(f.clone());
            }
        }
        return out;
    }
    for head in heads_after(&src, "super::")
        .into_iter()
        .chain(heads_after(&src, &format!("crate::{dir}::")))
    {
        let target = if files.contains(head) { head } else { "mod" };
        if target != name {
            out.insert(target.to_string());
        }
    }
    out
}

/// A circle in `graph`, as the modules along it (first = last), if any.
fn cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|p| p == n) {
            let mut c = path[at..].to_vec();
            c.push(n.to_string());
            return Some(c);
        }
        if done.contains(n) {
            return None;
        }
        path.push(n.to_string());
        for m in graph.get(n).into_iter().flatten() {
            if let Some(c) = visit(m, graph, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(n.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|n| visit(n, graph, &mut vec![], &mut done))
}

/// The `*.rs` files directly in `dir`: (stem, text).
fn rust_files(dir: &Path) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "rs"))
        .map(|p| {
            let stem = p.file_stem().unwrap().to_string_lossy().into_owned();
            (stem, std::fs::read_to_string(&p).unwrap())
        })
        .collect();
    out.sort();
    out
}

/// Every `*.rs` file under `dir`, recursively: (path, text).
fn rust_files_under(dir: &Path) -> Vec<(String, String)> {
    let mut out = vec![];
    for e in std::fs::read_dir(dir).unwrap().filter_map(Result::ok) {
        let p = e.path();
        if p.is_dir() {
            out.extend(rust_files_under(&p));
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push((
                p.display().to_string(),
                std::fs::read_to_string(&p).unwrap(),
            ));
        }
    }
    out
}

fn src_dir(sub: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src").join(sub)
}

/// The import graph among the files directly in `src/{dir}`.
fn graph_of(dir: &str) -> BTreeMap<String, BTreeSet<String>> {
    let files = rust_files(&src_dir(dir));
    let names: BTreeSet<String> = files.iter().map(|(n, _)| n.clone()).collect();
    files
        .iter()
        .map(|(n, s)| (n.clone(), edges(dir, n, s, &names)))
        .collect()
}

/// The lines of `src` (non-test code) that use axum or the app state.
fn forbidden_uses(src: &str) -> Vec<String> {
    code(src)
        .lines()
        .filter(|l| {
            ["axum::", "crate::state", "state::App", "AppState"]
                .iter()
                .any(|w| l.contains(w))
        })
        .map(|l| l.trim().to_string())
        .collect()
}

/// What `store/` may not import: the layers above it.
const ABOVE_STORE: &[&str] = &[
    "crate::login",
    "crate::http",
    "crate::oauth",
    "crate::state",
];

/// The one import of a layer above that `store/` still has: a client's
/// settings are `oauth` types (with `Level`, `Permission`, `AuthMethod`)
/// stored as JSON. Moving them down is the next step; nothing may join it.
const STORE_KNOWN: &[&str] = &["use crate::oauth::client::ClientSettings;"];

/// The lines of `src` (non-test code) that import from a layer above the store.
fn store_upward_uses(src: &str) -> Vec<String> {
    code(src)
        .lines()
        .filter(|l| ABOVE_STORE.iter().any(|w| l.contains(w)))
        .map(|l| l.trim().to_string())
        .filter(|l| !STORE_KNOWN.contains(&l.as_str()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(v: &[&str]) -> BTreeSet<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn edges_table() {
        let files = set(&["mod", "login", "pages", "cookies", "error"]);
        let cases: Vec<(&str, &str, Vec<&str>)> = vec![
            ("login", "use super::pages;", vec!["pages"]),
            (
                "login",
                "use super::{cookies, pages::render};",
                vec!["cookies", "pages"],
            ),
            (
                "login",
                "let x = super::cookies::Jar::of(app);",
                vec!["cookies"],
            ),
            ("login", "use crate::http::pages::message;", vec!["pages"]),
            ("login", "use super::PageError;", vec!["mod"]),
            ("login", "// super::cookies in a comment", vec![]),
            (
                "login",
                "use super::pages;\n#[cfg(test)]\nuse super::cookies;",
                vec!["pages"],
            ),
            ("login", "use super::login::x;", vec![]),
            (
                "mod",
                "mod login;\n.route(\"/\", get(login::show))",
                vec!["login"],
            ),
            ("mod", "use axum::routing::get; fn f() {}", vec![]),
        ];
        for (name, src, want) in cases {
            assert_eq!(
                edges("http", name, src, &files),
                set(&want),
                "{name}: {src}"
            );
        }
    }

    #[test]
    fn cycle_table() {
        let g = |pairs: &[(&str, &[&str])]| -> BTreeMap<String, BTreeSet<String>> {
            pairs.iter().map(|(a, b)| (a.to_string(), set(b))).collect()
        };
        let cases: Vec<(BTreeMap<String, BTreeSet<String>>, bool)> = vec![
            (g(&[("a", &["b"]), ("b", &["c"]), ("c", &[])]), false),
            (g(&[("a", &["b"]), ("b", &["a"])]), true),
            (
                g(&[
                    ("a", &["b", "c"]),
                    ("b", &["c"]),
                    ("c", &["d"]),
                    ("d", &["b"]),
                ]),
                true,
            ),
            (g(&[("mod", &["a", "b"]), ("a", &["b"]), ("b", &[])]), false),
        ];
        for (graph, want) in cases {
            assert_eq!(cycle(&graph).is_some(), want, "{graph:?}");
        }
    }

    #[test]
    fn modules_import_no_circle() {
        for dir in NO_CIRCLE_DIRS {
            let graph = graph_of(dir);
            assert!(graph.len() > 5, "read src/{dir}");
            assert_eq!(cycle(&graph), None, "an import circle among {dir}/ modules");
        }
    }

    #[test]
    fn http_files_are_at_most_300_lines() {
        let long: Vec<(String, usize)> = rust_files(&src_dir("http"))
            .into_iter()
            .map(|(n, s)| (n, s.lines().count()))
            .filter(|(_, n)| *n > HTTP_MAX_LINES)
            .collect();
        assert_eq!(long, vec![], "split these files by concept");
    }

    #[test]
    fn login_imports_neither_axum_nor_state() {
        let files = rust_files_under(&src_dir("login"));
        assert!(files.len() > 5, "read src/login");
        let found: Vec<(String, Vec<String>)> = files
            .into_iter()
            .map(|(p, s)| (p, forbidden_uses(&s)))
            .filter(|(_, uses)| !uses.is_empty())
            .collect();
        assert_eq!(
            found,
            vec![],
            "login/ must know nothing of axum or AppState"
        );
    }

    #[test]
    fn store_imports_nothing_from_above() {
        let files = rust_files_under(&src_dir("store"));
        assert!(files.len() > 5, "read src/store");
        let found: Vec<(String, Vec<String>)> = files
            .into_iter()
            .map(|(p, s)| (p, store_upward_uses(&s)))
            .filter(|(_, uses)| !uses.is_empty())
            .collect();
        assert_eq!(
            found,
            vec![],
            "store/ must import nothing from login, http, oauth or state"
        );
    }

    #[test]
    fn store_upward_uses_table() {
        let cases: Vec<(&str, usize)> = vec![
            ("use crate::login::ProvenFactor;", 1),
            ("use crate::oauth::grant::{CodeData, RefreshData};", 1),
            ("fn f(a: &crate::state::AppState) {}", 1),
            ("use crate::http::error::PageError;", 1),
            ("use crate::oauth::client::ClientSettings;", 0),
            (
                "use crate::secret::Secret;\n// crate::login in a comment",
                0,
            ),
            (
                "use super::Store;\n#[cfg(test)]\nuse crate::login::Level;",
                0,
            ),
        ];
        for (src, want) in cases {
            assert_eq!(store_upward_uses(src).len(), want, "{src}");
        }
    }

    #[test]
    fn forbidden_uses_table() {
        let cases: Vec<(&str, usize)> = vec![
            ("use axum::http::StatusCode;", 1),
            ("use crate::state::App;", 1),
            ("fn f(app: &AppState) {}", 1),
            ("use crate::store::Store;\n// axum:: in a comment", 0),
            (
                "use crate::store::Store;\n#[cfg(test)]\nuse axum::Router;",
                0,
            ),
        ];
        for (src, want) in cases {
            assert_eq!(forbidden_uses(src).len(), want, "{src}");
        }
    }
}
