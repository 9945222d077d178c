//! The STS's architecture, checked: its modules form one-way layers, and the domain core speaks no
//! HTTP.
//!
//! Rust allows any module of a crate to use any other, so nothing but this test stops `cache` from
//! importing `exchange` again (the cycle issue 12 found) or the exchange's error from reaching for
//! `axum::http::StatusCode`. Splitting `sts` into one crate per layer would make the compiler say
//! it; at ~9,000 lines, with one binary and one state struct, the split would cost a dozen
//! manifests and re-exports for what this table states in one place. The module list itself is
//! checked too: a new module must be given a layer here before the test passes.
//!
//! A dependency is any `crate::<module>` path in a file of another module, tests and doc links
//! included (a doc link to a higher layer is how the next import starts).
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers, lowest first. A module may use modules of lower layers only (never its own layer's
/// others, never a higher one).
const LAYERS: &[(&str, &[&str])] = &[
    ("foundation: time, crypto provider, secret types, origin patterns", &["clock", "crypto", "secret", "origin"]),
    ("configuration", &["config"]),
    ("observability and stores", &["metrics", "telemetry", "registry_watch", "certs", "cache"]),
    ("the shared (Redis) cache under the memory cache", &["shared_cache"]),
    ("audit", &["audit"]),
    (
        "upstream identity providers: the Entra client (validation, keys, assertions, OBO and client \
         credentials) and Power Pages sites (portal token validation, site keys)",
        &["entra", "portal"],
    ),
    ("domain: one exchange", &["exchange"]),
    ("readiness probes", &["readiness"]),
    ("the one state struct", &["state"]),
    ("HTTP edge", &["http"]),
    ("wiring", &["app"]),
    ("the in-process demo", &["demo"]),
    ("command line", &["cli"]),
];

/// Modules that make up the domain core and the layers beneath it: no HTTP server or client types
/// (the Entra client `entra` is the one place that speaks HTTP to Entra; `http` the one edge).
const NO_HTTP: &[&str] = &[
    "clock",
    "crypto",
    "secret",
    "origin",
    "config",
    "metrics",
    "registry_watch",
    "certs",
    "cache",
    "shared_cache",
    "audit",
    "exchange",
];

/// Crates and paths that mean "HTTP".
const HTTP_MARKERS: &[&str] = &["axum", "hyper", "tower", "reqwest", "http::", "StatusCode", "HeaderMap"];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
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

/// The top-level module a file belongs to (`None` for `lib.rs` / `main.rs`, the crate root).
fn module_of(file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src()).unwrap();
    let first = rel.components().next()?.as_os_str().to_str()?.to_owned();
    let name = first.strip_suffix(".rs").unwrap_or(&first).to_owned();
    (name != "lib" && name != "main").then_some(name)
}

/// `crate::<name>` occurrences, with their line numbers.
fn crate_paths(text: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let mut rest = line;
        while let Some(at) = rest.find("crate::") {
            let tail = &rest[at + "crate::".len()..];
            let name: String = tail.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            if !name.is_empty() {
                found.push((n + 1, name));
            }
            rest = tail;
        }
    }
    found
}

/// Lines with an HTTP marker, outside comments (a comment may explain why there is no HTTP here).
fn http_lines(text: &str) -> Vec<(usize, String)> {
    text.lines()
        .enumerate()
        .filter_map(|(n, line)| {
            let code = line.split("//").next().unwrap_or("");
            HTTP_MARKERS.iter().any(|m| code.contains(m)).then(|| (n + 1, line.trim().to_owned()))
        })
        .collect()
}

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|(_, modules)| modules.contains(&module))
}

#[test]
fn every_module_has_a_layer_and_uses_only_lower_layers() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let mut problems = Vec::new();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in &files {
        let Some(module) = module_of(file) else { continue };
        let Some(own) = layer_of(&module) else {
            problems.push(format!("module `{module}` ({}) has no layer in LAYERS", file.display()));
            continue;
        };
        let text = std::fs::read_to_string(file).unwrap();
        for (line, used) in crate_paths(&text) {
            if used == module {
                continue;
            }
            edges.entry(module.clone()).or_default().insert(used.clone());
            match layer_of(&used) {
                Some(theirs) if theirs < own => {}
                Some(theirs) => problems.push(format!(
                    "{}:{line}: `{module}` ({}) uses `{used}` ({}), which is not below it",
                    file.display(),
                    LAYERS[own].0,
                    LAYERS[theirs].0
                )),
                None => {} // a crate-root item (`crate::VERSION`-like) or a macro path: not a module
            }
        }
    }
    assert!(problems.is_empty(), "layering broken:\n{}", problems.join("\n"));
    // The table is not vacuous: the modules do depend on each other, downwards.
    assert!(edges.get("exchange").is_some_and(|e| e.contains("cache") && e.contains("entra")), "{edges:?}");
}

#[test]
fn the_domain_core_has_no_http_types() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let mut problems = Vec::new();
    let mut checked = 0;
    for file in &files {
        let Some(module) = module_of(file) else { continue };
        if !NO_HTTP.contains(&module.as_str()) {
            continue;
        }
        checked += 1;
        for (line, text) in http_lines(&std::fs::read_to_string(file).unwrap()) {
            problems.push(format!("{}:{line}: {text}", file.display()));
        }
    }
    assert!(checked >= NO_HTTP.len(), "only {checked} files checked");
    assert!(problems.is_empty(), "HTTP types in the domain core:\n{}", problems.join("\n"));
}

/// The checks above see what they claim to: an upward import and an HTTP type are both caught.
#[test]
fn the_checks_catch_what_they_look_for() {
    let upward = "use crate::exchange::ExchangeError;\nfn f() { crate::http::x(); }";
    assert_eq!(crate_paths(upward), vec![(1, "exchange".to_owned()), (2, "http".to_owned())]);
    assert!(layer_of("exchange") > layer_of("cache"));
    assert_eq!(http_lines("use axum::http::StatusCode;\n// axum is not used here").len(), 1);
}
