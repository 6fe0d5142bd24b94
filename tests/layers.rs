//! The layering the README's Layout section writes down, enforced: every
//! `crate::` path in a module of `src/` names a module listed before it
//! (below it), so no module imports one above it and no two import each
//! other. The failure names the file, the import and both layers. And every
//! ErrorInfo is set through `reason::set_error_info`, so its reason is a value
//! of the proto's ErrorReason enum.

use std::collections::BTreeMap;
use std::path::Path;

/// The top-level modules, bottom first, as the README's first Layout block lists them.
fn layers(readme: &str) -> Vec<String> {
    let section = readme.split("\n## Layout\n").nth(1).expect("a Layout section");
    let block = section.split("```").nth(1).expect("a code block in Layout");
    let mut out: Vec<String> = Vec::new();
    for line in block.lines().filter_map(|l| l.strip_prefix("src/")) {
        let name = line.split(['/', ' ']).next().unwrap_or_default().trim_end_matches(".rs").to_string();
        if !name.is_empty() && !out.contains(&name) {
            out.push(name);
        }
    }
    out
}

/// The top-level modules a Rust source names through `crate::` (comments aside).
fn imports(source: &str) -> Vec<String> {
    let code: String = source.lines().map(|l| l.split("//").next().unwrap_or_default()).collect::<Vec<_>>().join("\n");
    let mut out = Vec::new();
    for rest in code.split("crate::").skip(1) {
        let names = match rest.strip_prefix('{') {
            Some(group) => group.split('}').next().unwrap_or_default().split(',').map(str::trim).collect(),
            None => vec![rest],
        };
        for name in names {
            let module: String = name.chars().take_while(|c| c.is_ascii_lowercase() || *c == '_').collect();
            if !module.is_empty() {
                out.push(module);
            }
        }
    }
    out
}

/// Every import in `sources` (file, its top-level module, its text) that goes
/// up or sideways out of `order`, or names a module `order` does not list.
fn violations(order: &[String], sources: &[(String, String, String)]) -> Vec<String> {
    let rank = |m: &str| order.iter().position(|o| o == m);
    let mut out = Vec::new();
    for (file, module, text) in sources {
        let Some(own) = rank(module) else {
            out.push(format!("{file}: module `{module}` is not in the README's Layout list"));
            continue;
        };
        for target in imports(text).into_iter().filter(|t| t != module) {
            match rank(&target) {
                Some(r) if r < own => {}
                Some(_) => out.push(format!(
                    "{file} imports crate::{target}, which is above `{module}` in the README's Layout (upward import or cycle)"
                )),
                None => out.push(format!("{file} imports crate::{target}, which the README's Layout does not list")),
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

fn sources(dir: &Path, root: &Path, out: &mut Vec<(String, String, String)>) {
    for entry in std::fs::read_dir(dir).expect("src is readable") {
        let path = entry.expect("an entry").path();
        if path.is_dir() {
            sources(&path, root, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let rel = path.strip_prefix(root).expect("under src").to_string_lossy().to_string();
            if rel == "lib.rs" || rel == "main.rs" {
                continue;
            }
            let module = rel.split('/').next().unwrap_or_default().trim_end_matches(".rs").to_string();
            let text = std::fs::read_to_string(&path).expect("a source file");
            out.push((format!("src/{rel}"), module, text));
        }
    }
}

#[test]
fn no_module_imports_one_above_it_in_the_readmes_layout() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md");
    let order = layers(&readme);
    let mut files = Vec::new();
    sources(&root.join("src"), &root.join("src"), &mut files);
    let modules: BTreeMap<&str, ()> = files.iter().map(|(_, m, _)| (m.as_str(), ())).collect();
    for listed in &order {
        assert!(modules.contains_key(listed.as_str()), "the README lists `{listed}`, which src/ does not have");
    }
    let found = violations(&order, &files);
    assert!(found.is_empty(), "layering violations:\n{}", found.join("\n"));
}

#[test]
fn the_check_catches_an_upward_import_a_cycle_and_an_unlisted_module() {
    let order: Vec<String> = ["low", "mid", "high"].map(String::from).to_vec();
    let file = |name: &str, module: &str, text: &str| (name.to_string(), module.to_string(), text.to_string());
    let sources = [
        file("src/low.rs", "low", "use crate::mid::Thing; // crate::high in a comment is fine"),
        file("src/mid.rs", "mid", "use crate::{low::A, high::B};"),
        file("src/high.rs", "high", "fn f() { crate::low::g(); crate::ghost::h(); }"),
    ];
    let found = violations(&order, &sources);
    assert_eq!(found.len(), 3, "{found:#?}");
    assert!(found[0].starts_with("src/high.rs imports crate::ghost"), "{found:#?}");
    assert!(found[1].starts_with("src/low.rs imports crate::mid"), "{found:#?}");
    assert!(found[2].starts_with("src/mid.rs imports crate::high"), "{found:#?}");
}

/// Files that set an ErrorInfo by hand (tonic-types' `set_error_info` with a
/// string reason) instead of through `reason::set_error_info`, which takes an
/// `ErrorReason` value and so cannot send a reason the proto does not list.
fn hand_made_reasons(files: &[(String, String, String)]) -> Vec<String> {
    files
        .iter()
        .filter(|(file, _, text)| file != "src/reason.rs" && text.contains(".set_error_info("))
        .map(|(file, _, _)| file.clone())
        .collect()
}

#[test]
fn every_error_info_reason_is_a_value_of_the_protos_error_reason() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    sources(&root.join("src"), &root.join("src"), &mut files);
    assert!(files.iter().any(|(file, _, _)| file == "src/reason.rs"));
    assert_eq!(hand_made_reasons(&files), Vec::<String>::new());
    let bypass = ("src/x.rs".to_string(), "x".to_string(), "d.set_error_info(\"NEW\", DOMAIN, m);".to_string());
    assert_eq!(hand_made_reasons(&[bypass]), ["src/x.rs"], "the check sees a bypass");
}
