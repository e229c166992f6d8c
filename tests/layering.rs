//! The crate's layering, checked from its source: clinical modules never
//! reach the store, PDF rendering, the CLI or the clock (so they stay pure
//! and testable, with "today" as an input), and no module depends on itself
//! through others (no cycles).
//!
//! A module "uses" another when its non-test code names `crate::other`
//! (paths and `use crate::{a, b}` groups; comments and `#[cfg(test)]` parts
//! left out). A cycle anywhere fails here: the shared part belongs in a
//! lower module (`vocabulary`, `input`, `quantity`, `item`; ARCHITECTURE.md).
//! Nor may a module's tests name a module that uses it (the store's tests
//! computing reviews through `consult`, say): such a test belongs with the
//! higher module, or in tests/ on the public API.

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

/// Tests that name a module using the module they test, from before this
/// check: none may be added. The store's unit tests still compute their
/// reviews through `consult::compute_review` (the only maker of a
/// `ComputedReview`) and load the demo through it; their move is to come.
const KNOWN_TEST_CYCLES: &[(&str, &str)] = &[
    ("limits", "patient"),
    ("limits", "reference"),
    ("limits", "taper"),
    ("ome", "regimen"),
    ("store", "consult"),
];

fn is_test_file(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    name == "tests.rs" || name.ends_with("_tests.rs")
}

/// The code of a file, tests included, without comments.
fn all_code(path: &Path) -> String {
    without_comments(&std::fs::read_to_string(path).expect("read source"))
}

fn without_comments(text: &str) -> String {
    text.lines()
        .map(|l| match l.find("//") {
            // A `//` inside a string literal (a URL) is rare in paths we look for.
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The code of a file that ships: test files and the `#[cfg(test)] mod`
/// are left out, and so are comments.
fn shipped_code(path: &Path) -> String {
    if is_test_file(path) {
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
    without_comments(&text[..end])
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
    /// module → modules its code names, tests included.
    names_in_tests: BTreeMap<String, BTreeSet<String>>,
    /// module → its shipped code, all files together.
    code: BTreeMap<String, String>,
}

fn read_crate() -> Crate {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let mut code: BTreeMap<String, String> = BTreeMap::new();
    let mut with_tests: BTreeMap<String, String> = BTreeMap::new();
    for f in &files {
        if let Some(m) = module_of(f) {
            if m == "cli" {
                continue; // the binary's own modules
            }
            code.entry(m.clone())
                .or_default()
                .push_str(&as_crate_paths(f, &shipped_code(f)));
            with_tests
                .entry(m)
                .or_default()
                .push_str(&as_crate_paths(f, &all_code(f)));
        }
    }
    let modules: BTreeSet<String> = code.keys().cloned().collect();
    let named = |texts: &BTreeMap<String, String>| -> BTreeMap<String, BTreeSet<String>> {
        texts
            .iter()
            .map(|(m, text)| {
                let used = referenced_modules(text)
                    .into_iter()
                    .filter(|u| u != m && modules.contains(u))
                    .collect();
                (m.clone(), used)
            })
            .collect()
    };
    Crate {
        uses: named(&code),
        names_in_tests: named(&with_tests),
        code,
    }
}

/// Every module `from` uses, directly or through others.
fn reached(uses: &BTreeMap<String, BTreeSet<String>>, from: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut todo = vec![from.to_string()];
    while let Some(m) = todo.pop() {
        for u in uses.get(&m).into_iter().flatten() {
            if seen.insert(u.clone()) {
                todo.push(u.clone());
            }
        }
    }
    seen
}

/// (module, what its tests name) where what they name uses the module:
/// a cycle that only the tests make.
fn test_cycles(krate: &Crate) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for (m, named) in &krate.names_in_tests {
        for u in named {
            if reached(&krate.uses, u).contains(m) {
                found.push((m.clone(), u.clone()));
            }
        }
    }
    found
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
fn no_module_cycles_through_tests() {
    let krate = read_crate();
    let new: Vec<_> = test_cycles(&krate)
        .into_iter()
        .filter(|(m, u)| !KNOWN_TEST_CYCLES.contains(&(m.as_str(), u.as_str())))
        .collect();
    assert!(
        new.is_empty(),
        "tests that name a module using the module they test: {new:?} (module, named). Move \
         each test to the higher module's tests, or to tests/ on the public API."
    );
    // The store's tests once imported extracts through `casefinding`:
    // those tests are beside `casefinding` or in tests/ now.
    assert!(
        !krate.names_in_tests["store"].contains("casefinding"),
        "the store's tests name `casefinding`"
    );
    // A known one that is gone must leave the list, so it cannot come back.
    let found = test_cycles(&krate);
    for (m, u) in KNOWN_TEST_CYCLES {
        assert!(
            found.iter().any(|(a, b)| a == m && b == u),
            "{m}'s tests no longer name {u}: take ({m:?}, {u:?}) off KNOWN_TEST_CYCLES"
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
    // A cycle only tests make is found, and only that one: `b` is used by
    // `c` and `d`, and the tests of `b` name `d` (which uses it) and `e`.
    let set = |names: &[&str]| names.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    let tested = Crate {
        uses: BTreeMap::from([
            ("c".to_string(), set(&["b"])),
            ("d".to_string(), set(&["c"])),
        ]),
        names_in_tests: BTreeMap::from([("b".to_string(), set(&["d", "e"]))]),
        code: BTreeMap::new(),
    };
    assert_eq!(
        test_cycles(&tested),
        vec![("b".to_string(), "d".to_string())]
    );
    // Test files and test modules are read for it, and only for it.
    let store_tests = src().join("store").join("tests.rs");
    assert!(is_test_file(&store_tests) && shipped_code(&store_tests).is_empty());
    assert!(all_code(&store_tests).contains("crate::"));
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
