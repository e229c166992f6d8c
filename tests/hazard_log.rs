//! The hazard log (docs/clinical-safety/hazard-log.json) is part of the
//! safety case, so `make test` checks it:
//! - it has the DCB0129 columns for at least 20 hazards, and covers the
//!   hazards the issue names;
//! - every risk is the 5x5 matrix's value for its severity and likelihood,
//!   controls never raise a risk, and a residual risk of 3 or more stays open
//!   (it needs a Clinical Safety Officer's acceptance);
//! - every added control names at least one test, and every named test
//!   exists, is a test, and is not ignored: a Rust `#[test]` fn in the named
//!   file, or a `test("…")` / `it("…")` title in the named e2e or UI file;
//! - hazard-log.md is the rendering of the JSON (regenerate with
//!   `UPDATE_HAZARD_LOG=1 cargo test -p stepdown --test hazard_log`);
//! - the clinical risk management plan carries the same matrix, and the
//!   section the reference-currency policy row cites.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde::Deserialize;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn docs() -> PathBuf {
    root().join("docs/clinical-safety")
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Log {
    title: String,
    standard: String,
    version: String,
    date: String,
    approval: String,
    risk_matrix: Matrix,
    hazards: Vec<Hazard>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Matrix {
    source: String,
    severity: Vec<String>,
    likelihood: Vec<String>,
    #[serde(
        rename = "rows_are_likelihood_very_low_to_very_high_columns_are_severity_minor_to_catastrophic"
    )]
    values: Vec<Vec<u8>>,
    risk: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Rating {
    severity: u8,
    likelihood: u8,
    risk: u8,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Control {
    control: String,
    verified_by: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Hazard {
    id: String,
    hazard: String,
    cause: String,
    effect: String,
    possible_harm: String,
    existing_controls: Vec<String>,
    initial: Rating,
    added_controls: Vec<Control>,
    residual: Rating,
    status: String,
    evidence_strength: String,
    evidence_notes: String,
}

fn load() -> Log {
    let path = docs().join("hazard-log.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The matrix as published in the clinical risk management plan.
const MATRIX: [[u8; 5]; 5] = [
    [1, 1, 2, 2, 3],
    [1, 2, 2, 3, 4],
    [2, 2, 3, 3, 4],
    [2, 3, 3, 4, 5],
    [3, 4, 4, 5, 5],
];

fn matrix_risk(r: &Rating) -> Option<u8> {
    let s = usize::from(r.severity).checked_sub(1)?;
    let l = usize::from(r.likelihood).checked_sub(1)?;
    MATRIX.get(l)?.get(s).copied()
}

#[test]
fn hazard_log_has_the_dcb0129_columns_for_at_least_20_hazards() {
    let log = load();
    assert!(log.standard.contains("DCB0129"));
    assert!(
        log.approval.contains("Not approved"),
        "the log must not claim approval it does not have"
    );
    assert!(!log.title.is_empty() && !log.version.is_empty() && !log.date.is_empty());
    assert!(
        log.hazards.len() >= 20,
        "only {} hazards",
        log.hazards.len()
    );
    let mut ids = HashSet::new();
    for (i, h) in log.hazards.iter().enumerate() {
        assert_eq!(
            h.id,
            format!("HAZ-{:03}", i + 1),
            "ids run HAZ-001, HAZ-002, …"
        );
        assert!(ids.insert(h.id.clone()));
        for (col, text) in [
            ("hazard", &h.hazard),
            ("cause", &h.cause),
            ("effect", &h.effect),
            ("possible_harm", &h.possible_harm),
            ("status", &h.status),
        ] {
            assert!(!text.trim().is_empty(), "{}: {col} is empty", h.id);
        }
        assert!(
            !h.existing_controls.is_empty(),
            "{}: no existing controls",
            h.id
        );
        assert!(!h.added_controls.is_empty(), "{}: no added controls", h.id);
        for c in &h.added_controls {
            assert!(
                !c.control.trim().is_empty(),
                "{}: a control has no text",
                h.id
            );
            assert!(
                !c.verified_by.is_empty(),
                "{}: control {:?} names no test",
                h.id,
                c.control
            );
        }
        assert!(
            ["strong", "partial", "weak"].contains(&h.evidence_strength.as_str()),
            "{}: evidence_strength {:?}",
            h.id,
            h.evidence_strength
        );
        if h.evidence_strength != "strong" {
            assert!(
                !h.evidence_notes.trim().is_empty(),
                "{}: {} evidence must say what is missing",
                h.id,
                h.evidence_strength
            );
        }
    }
}

#[test]
fn hazard_log_risks_follow_the_matrix() {
    let log = load();
    let m = &log.risk_matrix;
    assert_eq!(m.severity.len(), 5);
    assert_eq!(m.likelihood.len(), 5);
    assert_eq!(m.risk.len(), 5);
    assert!(m.source.contains("clinical risk management plan"));
    let values: Vec<Vec<u8>> = MATRIX.iter().map(|r| r.to_vec()).collect();
    assert_eq!(m.values, values, "the JSON matrix differs from the plan's");
    for h in &log.hazards {
        for (when, r) in [("initial", &h.initial), ("residual", &h.residual)] {
            assert_eq!(
                matrix_risk(r),
                Some(r.risk),
                "{} {when}: severity {} x likelihood {} is risk {:?}, not {}",
                h.id,
                r.severity,
                r.likelihood,
                matrix_risk(r),
                r.risk
            );
        }
        assert!(
            h.residual.risk <= h.initial.risk
                && h.residual.severity <= h.initial.severity
                && h.residual.likelihood <= h.initial.likelihood,
            "{}: controls must not raise the risk",
            h.id
        );
        if h.residual.risk >= 3 {
            assert_eq!(
                h.status, "Open",
                "{}: residual risk {} needs CSO acceptance, so it cannot be closed here",
                h.id, h.residual.risk
            );
        }
    }
}

#[test]
fn hazard_log_covers_the_hazards_the_issue_names() {
    let log = load();
    let text: Vec<String> = log
        .hazards
        .iter()
        .map(|h| format!("{} {} {}", h.hazard, h.cause, h.effect).to_lowercase())
        .collect();
    for topic in [
        "conversion factor",
        "product strength",
        "as-needed",
        "wear time",
        "methadone",
        "co-medication",
        "raises the dose",
        "modified-release",
        "wrong dates",
        "wrong patient",
        "lost",
        "out of date",
        "high-dose threshold",
        "micrograms",
        "paracetamol",
        "opioid-naive",
        "import",
        "stale total",
        "network",
        "audit log",
    ] {
        assert!(
            text.iter().any(|t| t.contains(topic)),
            "no hazard about {topic:?}"
        );
    }
}

/// Attributes and comments directly above line `at`.
fn attributes_above(lines: &[&str], at: usize) -> Vec<String> {
    let mut out = Vec::new();
    for l in lines[..at].iter().rev() {
        let t = l.trim();
        if t.starts_with("#[") || t.starts_with("//") || t.is_empty() {
            out.push(t.to_string());
        } else {
            break;
        }
    }
    out
}

/// `Ok(())` when `reference` (`path::name`) names a live test.
fn check_reference(reference: &str) -> Result<(), String> {
    let (path, name) = reference
        .split_once("::")
        .ok_or_else(|| format!("{reference:?} is not path::test"))?;
    let file = root().join(path);
    let text = std::fs::read_to_string(&file)
        .map_err(|e| format!("{reference:?}: cannot read {path} ({e})"))?;
    if path.ends_with(".rs") {
        let lines: Vec<&str> = text.lines().collect();
        let needle = format!("fn {name}(");
        let at = lines
            .iter()
            .position(|l| l.trim_start().starts_with(&needle))
            .ok_or_else(|| format!("{reference:?}: no `fn {name}` in {path}"))?;
        let attrs = attributes_above(&lines, at);
        if !attrs.iter().any(|a| a.starts_with("#[test]")) {
            return Err(format!("{reference:?}: `fn {name}` is not a #[test]"));
        }
        if attrs.iter().any(|a| a.starts_with("#[ignore")) {
            return Err(format!(
                "{reference:?}: the test is ignored, so it proves nothing"
            ));
        }
        Ok(())
    } else if path.ends_with(".mjs") || path.ends_with(".ts") {
        let found = ["test(", "it("].iter().any(|f| {
            text.contains(&format!("{f}\"{name}\"")) || text.contains(&format!("{f}'{name}'"))
        });
        if !found {
            return Err(format!("{reference:?}: no test titled {name:?} in {path}"));
        }
        if text.contains(&format!("test.skip(\"{name}\""))
            || text.contains(&format!("it.skip(\"{name}\""))
        {
            return Err(format!("{reference:?}: the test is skipped"));
        }
        Ok(())
    } else {
        Err(format!("{reference:?}: tests are .rs, .mjs or .ts files"))
    }
}

#[test]
fn every_test_named_in_the_hazard_log_exists() {
    let log = load();
    let mut problems = Vec::new();
    let mut count = 0;
    for h in &log.hazards {
        for c in &h.added_controls {
            for r in &c.verified_by {
                count += 1;
                if let Err(e) = check_reference(r) {
                    problems.push(format!("{}: {e}", h.id));
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{} of {count} named tests are missing:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn the_reference_checker_refuses_missing_ignored_and_non_tests() {
    assert!(
        check_reference("tests/hazard_log.rs::every_test_named_in_the_hazard_log_exists").is_ok()
    );
    let e = check_reference("tests/hazard_log.rs::no_such_test").unwrap_err();
    assert!(e.contains("no `fn no_such_test`"), "{e}");
    let e = check_reference("tests/hazard_log.rs::load").unwrap_err();
    assert!(e.contains("not a #[test]"), "{e}");
    let e = check_reference("tests/fuzz_cli.rs::plan_with_a_null_start_date_names_the_field");
    // Ignored while the defect it describes is open; accepted once un-ignored.
    if let Err(e) = e {
        assert!(e.contains("ignored"), "{e}");
    }
    let e = check_reference("tests/e2e/shell.test.mjs::no such title").unwrap_err();
    assert!(e.contains("no test titled"), "{e}");
    assert!(check_reference("no/such/file.rs::x").is_err());
    assert!(check_reference("just words").is_err());
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn rating(r: &Rating) -> String {
    format!("S{} L{} **R{}**", r.severity, r.likelihood, r.risk)
}

/// The markdown 5x5 matrix, as it appears in the hazard log and the plan.
fn matrix_table(m: &Matrix) -> String {
    let mut out = String::from("| Likelihood \\ Severity |");
    for (i, s) in m.severity.iter().enumerate() {
        out.push_str(&format!(" {} {} |", i + 1, s));
    }
    out.push_str("\n| --- |");
    out.push_str(&" :-: |".repeat(m.severity.len()));
    out.push('\n');
    for (li, l) in m.likelihood.iter().enumerate().rev() {
        out.push_str(&format!("| {} {} |", li + 1, l));
        for v in &m.values[li] {
            out.push_str(&format!(" {v} |"));
        }
        out.push('\n');
    }
    out
}

fn render(log: &Log) -> String {
    let mut out = String::new();
    out.push_str(&format!("# {}\n\n", log.title));
    out.push_str(
        "<!-- Generated from hazard-log.json by tests/hazard_log.rs; do not edit by hand. \
         Regenerate: UPDATE_HAZARD_LOG=1 cargo test -p stepdown --test hazard_log -->\n\n",
    );
    out.push_str(&format!(
        "Standard: {}. Version {}, {}.\n\n**{}**\n\n",
        log.standard, log.version, log.date, log.approval
    ));
    out.push_str(
        "Each added control names the tests that verify it (`file::test` for Rust, \
         `file::title` for end-to-end and UI tests). `make test` runs every one of them, and \
         `tests/hazard_log.rs` fails if a named test does not exist, is not a test, or is ignored. \
         Ratings are severity (S), likelihood (L) and risk (R) on the matrix below; see the \
         [clinical risk management plan](clinical-risk-management-plan.md) for the definitions.\n\n",
    );
    out.push_str("## Risk matrix\n\n");
    out.push_str(&matrix_table(&log.risk_matrix));
    out.push('\n');
    for (i, r) in log.risk_matrix.risk.iter().enumerate() {
        out.push_str(&format!("- R{}: {}\n", i + 1, r));
    }
    out.push_str("\n## Summary\n\n| ID | Hazard | Initial | Residual | Status | Evidence |\n| --- | --- | --- | --- | --- | --- |\n");
    for h in &log.hazards {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            h.id,
            cell(&h.hazard),
            rating(&h.initial),
            rating(&h.residual),
            cell(&h.status),
            h.evidence_strength
        ));
    }
    out.push_str("\n## Hazard log\n\n");
    out.push_str("| ID | Hazard | Cause | Effect | Possible harm | Existing controls | Initial | Added controls | Verification evidence | Residual | Status |\n");
    out.push_str("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
    for h in &log.hazards {
        let existing = h
            .existing_controls
            .iter()
            .map(|c| cell(c))
            .collect::<Vec<_>>()
            .join("<br>");
        let added = h
            .added_controls
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{}. {}", i + 1, cell(&c.control)))
            .collect::<Vec<_>>()
            .join("<br>");
        let evidence = h
            .added_controls
            .iter()
            .enumerate()
            .map(|(i, c)| {
                format!(
                    "{}. {}",
                    i + 1,
                    c.verified_by
                        .iter()
                        .map(|t| format!("`{}`", cell(t)))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })
            .collect::<Vec<_>>()
            .join("<br>");
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            h.id,
            cell(&h.hazard),
            cell(&h.cause),
            cell(&h.effect),
            cell(&h.possible_harm),
            existing,
            rating(&h.initial),
            added,
            evidence,
            rating(&h.residual),
            cell(&h.status)
        ));
    }
    out.push_str("\n## Where the evidence is partial or weak\n\n");
    for h in log
        .hazards
        .iter()
        .filter(|h| h.evidence_strength != "strong")
    {
        out.push_str(&format!(
            "- **{} {}** ({}): {}\n",
            h.id, h.hazard, h.evidence_strength, h.evidence_notes
        ));
    }
    out
}

fn compare_or_update(path: &Path, expected: &str) {
    if std::env::var_os("UPDATE_HAZARD_LOG").is_some() {
        std::fs::write(path, expected).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        return;
    }
    let actual = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        actual == expected,
        "{} is not the rendering of hazard-log.json; run \
         UPDATE_HAZARD_LOG=1 cargo test -p stepdown --test hazard_log",
        path.display()
    );
}

#[test]
fn hazard_log_markdown_is_the_rendering_of_the_json() {
    let log = load();
    compare_or_update(&docs().join("hazard-log.md"), &render(&log));
}

#[test]
fn the_risk_management_plan_has_the_matrix_and_the_currency_policy() {
    let log = load();
    let plan_path = docs().join("clinical-risk-management-plan.md");
    let plan = std::fs::read_to_string(&plan_path)
        .unwrap_or_else(|e| panic!("{}: {e}", plan_path.display()));
    assert!(
        plan.contains(&matrix_table(&log.risk_matrix)),
        "the plan's risk matrix differs from hazard-log.json's:\n{}",
        matrix_table(&log.risk_matrix)
    );
    // The policy row in assets/reference/policy.json cites this section.
    let policy = stepdown::reference::reference()
        .overdue_months()
        .expect("the policy row");
    assert!(
        policy
            .source
            .contains("section 8 'Reference data currency'"),
        "{}",
        policy.source
    );
    assert!(plan.contains("## 8. Reference data currency"));
    assert!(plan.contains(&format!("{} months", policy.value)));
    assert!(plan.contains("not been signed off"));
}

#[test]
fn the_safety_case_report_cites_every_open_hazard() {
    let log = load();
    let path = docs().join("safety-case-report.md");
    let report =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(report.contains("not been signed off"));
    for h in log.hazards.iter().filter(|h| h.status == "Open") {
        assert!(
            report.contains(&h.id),
            "the report does not discuss open hazard {}",
            h.id
        );
    }
}
