//! The crate's modules form a stack: each uses only those below it. Read from the source
//! text (the `use` paths and qualified names), so a change that makes a module reach up
//! fails here, with the arrow named, before it becomes an import circle.
//!
//! Two stacks are held: the crate's top-level modules, in the order below, and the files of
//! `src/index/`, in the order `src/index/mod.rs` declares them. Comments and test modules
//! do not count: a test may use anything.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Top-level modules, lowest first.
const CRATE_STACK: &[&str] =
    &["log_sink", "sendfile", "config", "chart", "storage", "index", "http", "server", "gen_index", "fuzzing"];

/// The code of a source file without comments and without its `#[cfg(test)]` part.
fn code(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let text = match text.find("#[cfg(test)]") {
        Some(at) => &text[..at],
        None => &text[..],
    };
    text.lines().filter(|line| !line.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n")
}

/// Every `.rs` file under `dir`, recursively.
fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(sources(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out.sort();
    out
}

/// Whether `code` names `module` through one of `prefixes` (`super::x`, `crate::index::x`,
/// or inside a `use super::{x, …}` group).
fn names(code: &str, prefixes: &[&str], module: &str) -> bool {
    let followed = |rest: &str| rest.starts_with("::") || rest.starts_with(';') || rest.starts_with(',');
    for prefix in prefixes {
        let mut search = code;
        while let Some(at) = search.find(prefix) {
            let after = &search[at + prefix.len()..];
            if let Some(rest) = after.strip_prefix(module) {
                if followed(rest) || rest.starts_with('}') {
                    return true;
                }
            }
            // `use super::{a, b::C};`
            if let Some(group) = after.strip_prefix('{') {
                let group = &group[..group.find('}').unwrap_or(group.len())];
                if group.split(',').any(|item| item.trim().split("::").next() == Some(module)) {
                    return true;
                }
            }
            search = after;
        }
    }
    false
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn top_level_modules_use_only_those_below_them() {
    let mut upward = Vec::new();
    for (level, module) in CRATE_STACK.iter().enumerate() {
        let dir = src().join(module);
        let files = if dir.is_dir() { sources(&dir) } else { vec![src().join(format!("{module}.rs"))] };
        for file in files {
            let code = code(&file);
            for higher in &CRATE_STACK[level + 1..] {
                if names(&code, &["crate::"], higher) {
                    upward.push(format!("{} uses crate::{higher}", file.display()));
                }
            }
        }
    }
    assert!(upward.is_empty(), "arrows that run up the stack {CRATE_STACK:?}:\n{}", upward.join("\n"));
}

#[test]
fn index_files_use_only_those_declared_before_them() {
    let dir = src().join("index");
    let declared: Vec<String> = std::fs::read_to_string(dir.join("mod.rs"))
        .unwrap()
        .lines()
        .filter_map(|line| line.strip_prefix("mod ")?.strip_suffix(';').map(str::to_string))
        .collect();
    assert!(declared.len() > 10, "src/index/mod.rs declares its modules one per line: {declared:?}");
    let level: HashMap<&str, usize> = declared.iter().enumerate().map(|(i, m)| (m.as_str(), i)).collect();
    let mut upward = Vec::new();
    for (i, module) in declared.iter().enumerate() {
        let code = code(&dir.join(format!("{module}.rs")));
        for other in &declared {
            if other != module && level[other.as_str()] > i && names(&code, &["super::", "crate::index::"], other) {
                upward.push(format!("{module} uses {other}, which is declared after it"));
            }
        }
    }
    assert!(upward.is_empty(), "src/index/ is not a stack in the order of mod.rs:\n{}", upward.join("\n"));
}

#[test]
fn the_reader_sees_upward_arrows() {
    // The check itself can fail: these name a module in each way the code does.
    assert!(names("use super::state::RepoState;", &["super::"], "state"));
    assert!(names("use super::{scan, startup_cache};", &["super::"], "startup_cache"));
    assert!(names("let x = crate::index::writes::save(a);", &["crate::index::"], "writes"));
    assert!(names("use crate::http;", &["crate::"], "http"));
    assert!(!names("use super::statement::X;", &["super::"], "state"));
}
