//! The crate's layering, checked from its source: clinical modules never
//! reach the store, PDF rendering, the CLI or the clock (so they stay pure
//! and testable, with "today" as an input), and no module depends on itself
//! through others (no cycles).
//!
//! A module "uses" another when its non-test code names `crate::other`
//! (paths and `use crate::{a, b}` groups; comments and `#[cfg(test)]` parts
//! left out). A cycle anywhere fails here: the shared part belongs in a
//! lower module (`vocabulary`, `input`, `quantity`, `item`; ARCHITECTURE.md).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Pure clinical modules: no IO, no clock, no store, PDF or CLI.
const CLINICAL: &[&str] = &[
    "assess",
    "catalogue",
    "coded",
    "flags",
    "followup",
    "import",
    "input",
    "item",
    "nhs_number",
    "ome",
    "outcomes",
    "patient",
    "profile",
    "quantity",
    "readability",
    "record",
    "reference",
    "regimen",
    "taper",
    "vocabulary",
];

/// What a clinical module may not name.
const FORBIDDEN_MODULES: &[&str] = &["store", "pdf", "cli", "consult", "casefinding"];

/// Calls that read the clock or touch files, network or environment.
const FORBIDDEN_CALLS: &[&str] = &[
    "Local::now",
    "Utc::now",
    "SystemTime::now",
    "Instant::now",
    "std::fs",
    "std::net",
    "std::env",
    "std::process",
];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("read src")
        .map(|e| e.expect("dir entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file belongs to (`src/taper/schedule.rs` → `taper`).
fn module_of(path: &Path) -> Option<String> {
    let rel = path.strip_prefix(src()).ok()?;
    let first = rel.components().next()?.as_os_str().to_str()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    (!matches!(name, "lib" | "main")).then(|| name.to_string())
}

/// The code of a file that ships: test files and the `#[cfg(test)] mod`
/// are left out, and so are comments.
fn shipped_code(path: &Path) -> String {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if name == "tests.rs" || name.ends_with("_tests.rs") {
        return String::new();
    }
    let text = std::fs::read_to_string(path).expect("read source");
    // The test module (by convention last in the file) is left out; a single
    // test-only item elsewhere is kept, which is only stricter.
    let end = text
        .match_indices("#[cfg(test)]")
        .map(|(i, m)| i + m.len())
        .find(|&after| {
            let next = text[after..].trim_start();
            next.starts_with("mod ") || next.starts_with("#[path")
        })
        .map_or(text.len(), |after| after - "#[cfg(test)]".len());
    text[..end]
        .lines()
        .map(|l| match l.find("//") {
            // A `//` inside a string literal (a URL) is rare in paths we look for.
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The code with `super::super::…` paths that climb to the crate root
/// written as `crate::…` (`src/store/casefinding.rs` naming
/// `super::super::casefinding` uses the top-level `casefinding`). A single
/// `super::` never leaves the top-level module, so it is left alone.
fn as_crate_paths(path: &Path, code: &str) -> String {
    let Ok(rel) = path.strip_prefix(src()) else {
        return code.to_string();
    };
    let is_mod = path.file_name().is_some_and(|n| n == "mod.rs");
    let levels = rel.components().count() - usize::from(is_mod);
    if levels < 2 {
        return code.to_string();
    }
    code.replace(&"super::".repeat(levels), "crate::")
}

/// Names of crate modules the code refers to.
fn referenced_modules(code: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for part in group[..end].split(',') {
                let head = part.trim().split("::").next().unwrap_or("").trim();
                if !head.is_empty() {
                    found.insert(head.to_string());
                }
            }
        } else {
            let ident: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            found.insert(ident);
        }
    }
    found
}

struct Crate {
    /// module → modules it uses.
    uses: BTreeMap<String, BTreeSet<String>>,
    /// module → its shipped code, all files together.
    code: BTreeMap<String, String>,
}

fn read_crate() -> Crate {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let mut code: BTreeMap<String, String> = BTreeMap::new();
    for f in &files {
        if let Some(m) = module_of(f) {
            if m == "cli" {
                continue; // the binary's own modules
            }
            code.entry(m)
                .or_default()
                .push_str(&as_crate_paths(f, &shipped_code(f)));
        }
    }
    let modules: BTreeSet<String> = code.keys().cloned().collect();
    let uses = code
        .iter()
        .map(|(m, text)| {
            let used = referenced_modules(text)
                .into_iter()
                .filter(|u| u != m && modules.contains(u))
                .collect();
            (m.clone(), used)
        })
        .collect();
    Crate { uses, code }
}

/// Strongly connected components (Tarjan), each sorted.
fn tangles(uses: &BTreeMap<String, BTreeSet<String>>) -> Vec<BTreeSet<String>> {
    struct T<'a> {
        uses: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        next: usize,
        out: Vec<BTreeSet<String>>,
    }
    fn visit<'a>(t: &mut T<'a>, v: &'a str) {
        t.index.insert(v, t.next);
        t.low.insert(v, t.next);
        t.next += 1;
        t.stack.push(v);
        for w in t.uses.get(v).into_iter().flatten() {
            let w = w.as_str();
            if !t.index.contains_key(w) {
                visit(t, w);
                let lw = t.low[w];
                let lv = t.low[v];
                t.low.insert(v, lv.min(lw));
            } else if t.stack.contains(&w) {
                let iw = t.index[w];
                let lv = t.low[v];
                t.low.insert(v, lv.min(iw));
            }
        }
        if t.low[v] == t.index[v] {
            let mut group = BTreeSet::new();
            while let Some(w) = t.stack.pop() {
                group.insert(w.to_string());
                if w == v {
                    break;
                }
            }
            if group.len() > 1 {
                t.out.push(group);
            }
        }
    }
    let mut t = T {
        uses,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        next: 0,
        out: Vec::new(),
    };
    for m in uses.keys() {
        if !t.index.contains_key(m.as_str()) {
            visit(&mut t, m);
        }
    }
    t.out
}

#[test]
fn no_module_cycles() {
    let krate = read_crate();
    if let Some(tangle) = tangles(&krate.uses).first() {
        panic!(
            "a module cycle: {tangle:?} (uses: {:?}). Break it: move the shared part into a \
             lower module.",
            tangle
                .iter()
                .map(|m| (m, &krate.uses[m]))
                .collect::<BTreeMap<_, _>>()
        );
    }
}

#[test]
fn clinical_modules_never_reach_the_store_pdf_cli_or_clock() {
    let krate = read_crate();
    for m in CLINICAL {
        let uses = krate
            .uses
            .get(*m)
            .unwrap_or_else(|| panic!("clinical module {m} not found in src/"));
        for f in FORBIDDEN_MODULES {
            assert!(
                !uses.contains(*f),
                "clinical module `{m}` uses `crate::{f}`: clinical logic must stay pure"
            );
        }
        for call in FORBIDDEN_CALLS {
            assert!(
                !krate.code[*m].contains(call),
                "clinical module `{m}` calls `{call}`: take today's date or data as an input"
            );
        }
    }
}

#[test]
fn the_checks_see_what_they_look_for() {
    // The reader finds both forms of path, and the cycle finder finds a cycle.
    let found = referenced_modules("use crate::{ome::Ome, flags};\nlet x = crate::taper::plan();");
    assert_eq!(
        found,
        ["flags", "ome", "taper"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    );
    let mut uses = BTreeMap::new();
    uses.insert("a".to_string(), BTreeSet::from(["b".to_string()]));
    uses.insert("b".to_string(), BTreeSet::from(["a".to_string()]));
    uses.insert("c".to_string(), BTreeSet::from(["a".to_string()]));
    let t = tangles(&uses);
    assert_eq!(t, vec![BTreeSet::from(["a".to_string(), "b".to_string()])]);
    // A path that climbs out of a submodule to the crate root is seen too.
    assert_eq!(
        as_crate_paths(
            &src().join("store").join("casefinding.rs"),
            "use super::super::casefinding::X; use super::Y;"
        ),
        "use crate::casefinding::X; use super::Y;"
    );
    // And the real crate has modules in it (the walk found src/).
    let krate = read_crate();
    assert!(krate.uses.contains_key("taper") && krate.uses.contains_key("store"));
    assert!(
        krate.uses["consult"].contains("store"),
        "consult uses the store"
    );
}

#[test]
fn nothing_refers_to_files_outside_the_repository() {
    // Issue 17: the CLI contract and the clinical reference live in docs/;
    // a path that climbs out of the repository names a file nobody has.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in ["src", "src-tauri/src", "assets", "docs"] {
        walk(&root.join(dir), &mut files);
    }
    files.extend(["README.md", "ARCHITECTURE.md"].map(|f| root.join(f)));
    for f in files {
        let Ok(text) = std::fs::read_to_string(&f) else {
            continue;
        };
        for bad in ["../shared/", "shared/spec/"] {
            assert!(
                !text.contains(bad),
                "{} refers to {bad}, outside the repository",
                f.display()
            );
        }
    }
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).expect("read dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else {
                out.push(p);
            }
        }
    }
}
