//! The house rules, checked on the source: imports run one way
//! (`cli → config → app → engine → {cake, checkpoint, report} → sheet → update`), the emulator
//! sits beside the product, `mod.rs` files only declare and re-export, and no two files import
//! each other, directly or around a loop.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Layer of each top-level module: a module may import only from a higher number.
/// `mock` is beside the product: only the entry layers may start it, and it may use only the
/// bottom layer.
const LAYERS: &[(&str, u32)] = &[
    ("cli", 0),
    ("web", 5),
    ("config", 10),
    ("app", 20),
    ("engine", 30),
    ("error", 40),
    ("logging", 45),
    ("cake", 50),
    ("checkpoint", 50),
    ("report", 50),
    ("sheet", 60),
    ("update", 70),
    ("exit", 80),
];
const MOCK_MAY_USE: &[&str] = &["update", "exit"];
const MAY_USE_MOCK: &[&str] = &["cli", "web", "config", "app"];

/// Every product source file under `dir` (a module's unit tests in `NAME/tests.rs` are tests,
/// which may reach anywhere).
fn rs_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            rs_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// `src/sheet/columns.rs` → `sheet::columns`; `src/sheet/mod.rs` → `sheet`.
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .filter(|c| c != "mod")
        .collect();
    parts.join("::")
}

/// The code of a file without its comments and unit tests (which may reach anywhere).
fn product_code(text: &str) -> String {
    let code = text
        .find("#[cfg(test)]\nmod tests")
        .map_or(text, |i| &text[..i]);
    code.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every `crate::a::b…` path and every `super::x` a file names, as module paths.
fn references(module: &str, code: &str, known: &BTreeSet<String>) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let resolve = |path: &str, found: &mut BTreeSet<String>| {
        // The longest known module that prefixes the path.
        let segs: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
        for n in (1..=segs.len()).rev() {
            let candidate = segs[..n].join("::");
            if known.contains(&candidate) {
                found.insert(candidate);
                return;
            }
        }
    };
    let ident = |s: &str| {
        s.chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
            .collect::<String>()
    };
    for (i, _) in code.match_indices("crate::") {
        let rest = &code[i + 7..];
        if let Some(group) = rest.strip_prefix('{') {
            for item in group.split('}').next().unwrap_or("").split(',') {
                resolve(&ident(item.trim()), &mut found);
            }
        } else {
            let path = ident(rest);
            let path = path.trim_end_matches(':');
            if let Some((head, _)) = path.rsplit_once("::{") {
                resolve(head, &mut found);
            }
            resolve(path, &mut found);
            // `crate::a::{b, c}`
            let after = &rest[path.len()..];
            if let Some(group) = after.strip_prefix("::{") {
                for item in group.split('}').next().unwrap_or("").split(',') {
                    resolve(&format!("{path}::{}", ident(item.trim())), &mut found);
                }
            }
        }
    }
    let parent = module.rsplit_once("::").map_or("", |(p, _)| p);
    for (i, _) in code.match_indices("super::") {
        if parent.is_empty() {
            continue;
        }
        let rest = ident(&code[i + 7..]);
        let first = rest.split("::").next().unwrap_or("");
        if first == "*" || first.is_empty() {
            continue;
        }
        resolve(&format!("{parent}::{first}"), &mut found);
    }
    found.remove(module);
    found
}

fn top(module: &str) -> &str {
    module.split("::").next().unwrap_or(module)
}

fn layer(top: &str) -> Option<u32> {
    LAYERS.iter().find(|(m, _)| *m == top).map(|(_, l)| *l)
}

/// Depth-first search for a loop; returns it as a path.
fn visit<'a>(
    n: &'a str,
    graph: &'a BTreeMap<&'a str, BTreeSet<String>>,
    state: &mut BTreeMap<&'a str, u8>,
    stack: &mut Vec<&'a str>,
) -> Option<Vec<String>> {
    match state.get(n) {
        Some(2) => return None,
        Some(1) => {
            let from = stack.iter().position(|s| *s == n).unwrap_or(0);
            let mut cycle: Vec<String> = stack[from..].iter().map(|s| (*s).to_string()).collect();
            cycle.push(n.to_string());
            return Some(cycle);
        }
        _ => {}
    }
    state.insert(n, 1);
    stack.push(n);
    for next in graph.get(n).into_iter().flatten() {
        // mod.rs files re-export their children: edges into a parent are not loops.
        if n.starts_with(&format!("{next}::")) {
            continue;
        }
        if let Some(c) = visit(next.as_str(), graph, state, stack) {
            return Some(c);
        }
    }
    stack.pop();
    state.insert(n, 2);
    None
}

#[test]
fn imports_run_one_way_and_never_in_a_loop() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rs_files(&src, &mut files);
    let modules: BTreeMap<String, String> = files
        .iter()
        .filter(|f| !f.ends_with("lib.rs") && !f.ends_with("main.rs"))
        .map(|f| (module_of(&src, f), std::fs::read_to_string(f).unwrap()))
        .collect();
    let known: BTreeSet<String> = modules.keys().cloned().collect();
    let mut graph: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    let mut wrong = Vec::new();
    for (module, text) in &modules {
        let refs = references(module, &product_code(text), &known);
        for r in &refs {
            let (from, to) = (top(module), top(r));
            if from == to {
                continue;
            }
            let ok = match (from, to) {
                ("mock", to) => MOCK_MAY_USE.contains(&to),
                (from, "mock") => MAY_USE_MOCK.contains(&from),
                (from, to) => match (layer(from), layer(to)) {
                    (Some(a), Some(b)) => a < b || (a == b && from != to),
                    _ => false,
                },
            };
            if !ok {
                wrong.push(format!("{module} imports {r}"));
            }
        }
        graph.insert(module.as_str(), refs);
    }
    assert!(
        wrong.is_empty(),
        "imports against the layering:\n{}",
        wrong.join("\n")
    );
    assert!(
        known
            .iter()
            .all(|m| layer(top(m)).is_some() || top(m) == "mock"),
        "a top-level module without a layer: add it to LAYERS and ARCHITECTURE.md"
    );

    // No loop between files (a sibling import is fine one way, never both).
    let mut state = BTreeMap::new();
    for n in graph.keys() {
        let mut stack = Vec::new();
        if let Some(cycle) = visit(n, &graph, &mut state, &mut stack) {
            panic!("import loop: {}", cycle.join(" → "));
        }
    }
}

#[test]
fn mod_rs_files_only_declare_and_re_export() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rs_files(&src, &mut files);
    for f in files.iter().filter(|f| f.ends_with("mod.rs")) {
        let text = std::fs::read_to_string(f).unwrap();
        for line in text.lines().map(str::trim) {
            let allowed = line.is_empty()
                || line.starts_with("//")
                || line.starts_with("mod ")
                || line.starts_with("pub mod ")
                || line.starts_with("pub(crate) mod ")
                || line.starts_with("pub use ")
                || line.starts_with("pub(crate) use ")
                || line.starts_with("#[")
                // continuation lines of a multi-line `pub use … {…};`
                || line.ends_with(',')
                || line.ends_with("};");
            assert!(allowed, "{}: logic in a mod.rs: {line}", f.display());
        }
    }
}

/// The screen talks to the command line through `app`'s typed values (`JobSpec`'s arguments,
/// the dry run's model, the run's outcome), never through the reader's insides: `web/` imports
/// nothing of `sheet`.
#[test]
fn the_screen_imports_nothing_of_the_sheet_reader() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rs_files(&src.join("web"), &mut files);
    let known: BTreeSet<String> = {
        let mut all = Vec::new();
        rs_files(&src, &mut all);
        all.iter().map(|f| module_of(&src, f)).collect()
    };
    for f in &files {
        let module = module_of(&src, f);
        let text = std::fs::read_to_string(f).unwrap();
        let refs = references(&module, &product_code(&text), &known);
        let sheet: Vec<&String> = refs.iter().filter(|r| top(r) == "sheet").collect();
        assert!(sheet.is_empty(), "{module} imports {sheet:?}");
    }
}

/// The command line's parser lives in `cli.rs` and `config/` alone: everything below gets
/// validated, typed settings.
#[test]
fn clap_is_only_in_the_command_line_and_its_config() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rs_files(&src, &mut files);
    let mut wrong = Vec::new();
    for f in &files {
        let module = module_of(&src, f);
        if module == "cli" || top(&module) == "config" || f.ends_with("main.rs") {
            continue;
        }
        let text = std::fs::read_to_string(f).unwrap();
        if product_code(&text).contains("clap") {
            wrong.push(module);
        }
    }
    assert!(
        wrong.is_empty(),
        "clap outside cli.rs and config/: {wrong:?}"
    );
}

/// No source file over 600 lines: a file that grew past it holds more than one job.
#[test]
fn no_source_file_is_over_600_lines() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rs_files(&src, &mut files);
    let long: Vec<String> = files
        .iter()
        .filter_map(|f| {
            let n = std::fs::read_to_string(f).unwrap().lines().count();
            (n > 600).then(|| format!("{} ({n} lines)", f.display()))
        })
        .collect();
    assert!(long.is_empty(), "split these by job: {long:?}");
}
