//! The library's folders are its layers, and imports only point down.
//!
//! This reads every source file of the library and fails if a module names
//! (`use`s or calls through a path) a module of its own layer or above,
//! other than itself. Comments are skipped, so a doc link may point up.

use std::path::{Path, PathBuf};

/// The top-level modules, bottom layer first. A module may use the modules
/// of earlier layers; two modules of one layer may not use each other.
/// `error` sits below everything.
const LAYERS: &[&[&str]] = &[
    &["error"],
    &["rng", "compare", "files", "text"],
    &["ops"],
    &["data"],
    &["model"],
    &["optim"],
    &["recipe"],
    &["backend"],
    &["train"],
    &["tools", "trained"],
    &["eval"],
];

/// Inside a layer's folder, files that are above their siblings: only they
/// (and upper layers) may name them.
const TOP_OF_FOLDER: &[(&str, &str)] = &[("backend", "select")];

fn layer(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src/ is readable") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module path of a file under src/: `src/backend/cuda/mod.rs` is
/// `["backend", "cuda"]`.
fn module_path(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).expect("under src/");
    let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    let last = parts.pop().expect("a file name");
    let stem = last.trim_end_matches(".rs");
    if stem != "mod" && stem != "lib" {
        parts.push(stem.to_string());
    }
    parts
}

/// Every `crate::a::b` path in the code (not in comments), as its segments.
fn crate_paths(text: &str) -> Vec<(usize, Vec<String>)> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(i) = rest.find("crate::") {
            let before_ok =
                i == 0 || !rest[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == '$');
            let tail = &rest[i + "crate::".len()..];
            // `crate::{a::x, b}`: each first segment inside the braces.
            if let Some(group) = tail.strip_prefix('{') {
                let inner = group.split('}').next().unwrap_or("");
                for item in inner.split(',') {
                    let first: String = item
                        .trim()
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    if before_ok && !first.is_empty() {
                        out.push((n + 1, vec![first]));
                    }
                }
                rest = tail;
                continue;
            }
            let path: Vec<String> = tail
                .split("::")
                .map(|s| {
                    s.chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect::<String>()
                })
                .take_while(|s| !s.is_empty())
                .collect();
            if before_ok && !path.is_empty() {
                out.push((n + 1, path));
            }
            rest = tail;
        }
    }
    out
}

#[test]
fn imports_only_point_down() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut bad = Vec::new();
    let mut checked = 0;
    for file in &files {
        let me = module_path(&src, file);
        // The binary (main.rs, cli/) sits above the library and may use all of it.
        let Some(top) = me.first() else { continue };
        if top == "main" || top == "cli" {
            continue;
        }
        let Some(my_layer) = layer(top) else {
            bad.push(format!(
                "{}: module `{top}` is in no layer of tests/layers.rs",
                file.display()
            ));
            continue;
        };
        let text = std::fs::read_to_string(file).expect("a readable source file");
        for (line, path) in crate_paths(&text) {
            checked += 1;
            let target = &path[0];
            let Some(their_layer) = layer(target) else {
                // Re-exported items at the crate root (Error, Result) live in `error`.
                if target == "Error" || target == "Result" {
                    continue;
                }
                bad.push(format!(
                    "{}:{line}: crate::{target} is in no layer",
                    file.display()
                ));
                continue;
            };
            if target == top {
                // Within one folder: nothing below its top file may name it.
                for (folder, top_file) in TOP_OF_FOLDER {
                    let names_it = path.get(1).is_some_and(|p| p == top_file);
                    let is_it = me.get(1).is_some_and(|p| p == top_file);
                    if top == folder && names_it && !is_it {
                        bad.push(format!(
                            "{}:{line}: crate::{} is the top of {folder}/ and cannot be used from below it",
                            file.display(),
                            path.join("::")
                        ));
                    }
                }
                continue;
            }
            if their_layer >= my_layer {
                bad.push(format!(
                    "{}:{line}: `{}` (layer {my_layer}) uses crate::{} (layer {their_layer})",
                    file.display(),
                    me.join("::"),
                    path.join("::")
                ));
            }
        }
    }
    assert!(
        checked > 100,
        "only {checked} crate paths found: is the scan broken?"
    );
    assert!(
        bad.is_empty(),
        "{} imports point up or sideways:\n{}",
        bad.len(),
        bad.join("\n")
    );
    println!(
        "layers: {checked} crate paths in {} files, all pointing down",
        files.len()
    );
}

#[test]
fn the_scan_sees_a_path_that_points_up() {
    // The check must be able to fail: an upward path is found, a comment is not.
    let text = "use crate::train::Setup;\n// crate::tools in a comment\nlet x = crate::ops::mse_sum(a, b);\nuse crate::{data::Ratings, model};";
    let paths = crate_paths(text);
    assert_eq!(paths.len(), 4);
    assert_eq!(paths[3], (4, vec!["model".to_string()]));
    assert_eq!(paths[0], (1, vec!["train".to_string(), "Setup".to_string()]));
    assert_eq!(paths[1].1[0], "ops");
    assert!(layer("train") > layer("data"));
    assert!(layer("tools") == layer("trained"));
}
