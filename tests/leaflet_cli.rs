//! `stepdown leaflet` and `stepdown summary` through the built binary, on real
//! plans: morphine slow-release tablets, a fentanyl patch, co-codamol, two opioids
//! (one as needed) and a held methadone liquid. The PDFs are checked with
//! poppler's tools (pdftotext, pdffonts, pdfinfo); those checks skip with a
//! message only when the tools are not installed (`make setup` installs them).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{json, Value};
use stepdown::leaflet::{from_plan, long_date, LeafletDetails, PracticeDetails, StepKind};
use stepdown::reference::reference;
use stepdown::taper::Plan;

const BIN: &str = env!("CARGO_BIN_EXE_stepdown");

const MORPHINE_MR: &str = r#"{"items": [{"drug": "morphine", "route": "oral", "release": "modified", "strength_mg": 30, "units_per_dose": 1, "doses_per_day": 2}],
  "start_date": "2026-12-01", "taper": {"interval_days": 14}}"#;
const FENTANYL: &str = r#"{"items": [{"drug": "fentanyl", "route": "transdermal", "strength_mcg_per_hour": 25, "patches": 1}],
  "start_date": "2026-12-01", "taper": {"interval_days": 14}}"#;
const CO_CODAMOL: &str = r#"{"items": [{"drug": "codeine", "route": "oral", "strength_mg": 30, "units_per_dose": 2, "doses_per_day": 4, "paracetamol_mg": 500}],
  "start_date": "2026-12-01"}"#;
const TWO_OPIOIDS: &str = r#"{"patient": {"age": 70, "co_medications": ["diazepam"]},
  "items": [{"drug": "morphine", "route": "oral", "release": "modified", "strength_mg": 30, "units_per_dose": 1, "doses_per_day": 2},
            {"drug": "oxycodone", "route": "oral", "release": "immediate", "strength_mg": 5, "units_per_dose": 1, "doses_per_day": 4, "as_needed": true}],
  "start_date": "2026-12-01", "taper": {"interval_days": 14}}"#;
const HELD_METHADONE: &str = r#"{"items": [
  {"drug": "methadone", "route": "oral", "form": "solution", "strength_mg_per_ml": 1, "ml_per_dose": 10, "doses_per_day": 1},
  {"drug": "morphine", "route": "oral", "form": "solution", "strength_mg_per_ml": 2, "ml_per_dose": 5, "doses_per_day": 4, "as_needed": true}],
  "start_date": "2026-12-01"}"#;
/// A long plan: 60 mg twice a day, 8% of the start every 2 weeks, with a pause.
const LONG: &str = r#"{"items": [{"drug": "morphine", "route": "oral", "release": "modified", "strength_mg": 60, "units_per_dose": 1, "doses_per_day": 2}],
  "start_date": "2026-12-01", "taper": {"interval_days": 14, "reduction_percent": 8}, "pauses": [{"after_step": 4, "days": 28}]}"#;

const PRACTICE: [&str; 6] = [
    "--practice-name",
    "Riverside Surgery",
    "--practice-phone",
    "01632 960 123",
    "--issue-date",
    "2026-11-24",
];

fn temp_input(text: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::Builder::new()
        .suffix(".json")
        .tempfile()
        .expect("temp file");
    f.write_all(text.as_bytes()).expect("write");
    f
}

fn run(args: &[&str], input: &str) -> Output {
    let f = temp_input(input);
    Command::new(BIN)
        .args(args)
        .arg(f.path())
        .output()
        .expect("run stepdown")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

/// Writes the leaflet for `input` into `dir` and returns its path and the report.
fn leaflet(dir: &Path, name: &str, input: &str, extra: &[&str]) -> (PathBuf, Value) {
    let out = dir.join(name);
    let out_s = out.to_string_lossy().to_string();
    let mut args = vec!["leaflet", "--out", out_s.as_str()];
    args.extend_from_slice(&PRACTICE);
    args.extend_from_slice(extra);
    let o = run(&args, input);
    assert!(
        o.status.success(),
        "{name}: exit {:?}: {}",
        o.status.code(),
        stderr(&o)
    );
    let report: Value = serde_json::from_str(&stdout(&o)).expect("JSON report");
    (out, report)
}

/// Runs a poppler tool on a file; `None` (and a message) when it is missing.
fn poppler(tool: &str, args: &[&str], pdf: &Path) -> Option<String> {
    let mut all: Vec<String> = args.iter().map(|s| (*s).to_string()).collect();
    all.push(pdf.to_string_lossy().to_string());
    if tool == "pdftotext" {
        all.push("-".into());
    }
    match Command::new(tool).args(&all).output() {
        Ok(out) => {
            assert!(out.status.success(), "{tool} failed: {}", stderr(&out));
            Some(stdout(&out))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!("SKIPPED: {tool} is not installed (install poppler-utils: make setup)");
            None
        }
        Err(e) => panic!("could not run {tool}: {e}"),
    }
}

fn squash(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn plan_json(input: &str) -> Plan {
    // `stepdown plan` takes no patient; the leaflet and summary do.
    let mut value: Value = serde_json::from_str(input).expect("json");
    if let Some(obj) = value.as_object_mut() {
        obj.remove("patient");
    }
    let o = run(&["plan"], &value.to_string());
    assert!(o.status.success(), "{}", stderr(&o));
    serde_json::from_str(&stdout(&o)).expect("plan JSON")
}

/// Every date and dose the leaflet must show, from the library's own mapping of
/// the plan the CLI makes (the CLI must print exactly this).
fn expected(input: &str) -> Vec<String> {
    let plan = plan_json(input);
    let details = LeafletDetails {
        patient_name: None,
        practice: PracticeDetails {
            name: "Riverside Surgery".into(),
            phone: "01632 960 123".into(),
            address: None,
        },
        next_review: None,
        large_print: false,
        issue_date: chrono::NaiveDate::from_ymd_opt(2026, 11, 24).expect("date"),
        calendar: false,
    };
    let mapped = from_plan(&plan, &details, reference()).expect("maps");
    let mut out = Vec::new();
    for s in &mapped.steps {
        if s.kind == StepKind::Stop {
            out.push(format!("from {}", long_date(s.start)));
        } else {
            out.push(format!("{} to {}", long_date(s.start), long_date(s.end)));
        }
        for m in &s.medicines {
            out.push(m.name.clone());
            for d in &m.doses {
                out.push(d.when.clone());
                out.push(d.what.clone());
            }
        }
    }
    out
}

fn all_plans() -> [(&'static str, &'static str); 5] {
    [
        ("morphine", MORPHINE_MR),
        ("fentanyl", FENTANYL),
        ("co-codamol", CO_CODAMOL),
        ("two-opioids", TWO_OPIOIDS),
        ("held", HELD_METHADONE),
    ]
}

#[test]
fn leaflet_text_has_every_step_date_and_dose() {
    let dir = tempfile::tempdir().expect("dir");
    for (name, input) in all_plans() {
        for large in [false, true] {
            let extra: &[&str] = if large { &["--large-print"] } else { &[] };
            let (pdf, report) = leaflet(dir.path(), &format!("{name}-{large}.pdf"), input, extra);
            assert!(report["pages"].as_u64().unwrap_or(0) >= 1, "{report}");
            let Some(text) = poppler("pdftotext", &["-raw"], &pdf) else {
                return;
            };
            let text = squash(&text);
            for s in expected(input) {
                assert!(
                    text.contains(&squash(&s)),
                    "{name} (large print {large}): the PDF lacks {s:?}"
                );
            }
            assert!(text.contains("Riverside Surgery") && text.contains("01632 960 123"));
            assert!(text.contains("Page 1 of "), "{name}");
        }
    }
}

#[test]
fn leaflets_show_the_facts_of_each_kind_of_plan() {
    let dir = tempfile::tempdir().expect("dir");
    let text = |name: &str, input: &str| -> Option<String> {
        let (pdf, _) = leaflet(dir.path(), &format!("{name}.pdf"), input, &[]);
        poppler("pdftotext", &["-raw"], &pdf).map(|t| squash(&t))
    };
    let Some(morphine) = text("morphine", MORPHINE_MR) else {
        return;
    };
    for s in [
        "Step 1: Tuesday 1 December 2026 to Monday 14 December 2026",
        "Morphine 12-hourly slow-release tablets",
        "Morning one 15 mg tablet and one 10 mg tablet",
        "Evening one 30 mg tablet",
        "Swallow slow-release tablets and capsules whole.",
        "Stop your morphine 12-hourly slow-release tablets from this day.",
    ] {
        assert!(morphine.contains(s), "morphine leaflet lacks {s:?}");
    }
    let fentanyl = text("fentanyl", FENTANYL).unwrap_or_default();
    for s in [
        "Fentanyl 72-hour patches",
        "Every 3 days one 12 micrograms/hour patch",
        // Step 1 is the 25 patch as now (14 days, rounded up to whole
        // 3-day changes: 15); the 12 patch goes on on 16 December.
        "New patch on 16, 19, 22, 25, 28 and 31 December, then 3, 6,",
        "Do not cut a patch.",
    ] {
        assert!(fentanyl.contains(s), "fentanyl leaflet lacks {s:?}");
    }
    let cocodamol = text("co-codamol", CO_CODAMOL).unwrap_or_default();
    for s in [
        "Co-codamol tablets (codeine with paracetamol)",
        "Morning one 30 mg/500 mg tablet",
        "Bedtime two 30 mg/500 mg tablets",
    ] {
        assert!(cocodamol.contains(s), "co-codamol leaflet lacks {s:?}");
    }
    let two = text("two", TWO_OPIOIDS).unwrap_or_default();
    for s in [
        "Oxycodone capsules",
        "If you need it one 5 mg capsule, up to 4 times a day",
        "You have stopped this medicine. Do not take any more.",
        "Stop your oxycodone capsules from this day.",
    ] {
        assert!(two.contains(s), "two-opioid leaflet lacks {s:?}");
    }
    let held = text("held", HELD_METHADONE).unwrap_or_default();
    for s in [
        "Methadone oral solution 1 mg/mL Keep taking this as before. Once a day 10 ml of liquid (10 mg)",
        "This plan does not change your methadone oral solution 1 mg/mL. Keep taking it as before. We will talk about it at your review.",
    ] {
        assert!(held.contains(s), "held leaflet lacks {s:?}");
    }
    for t in [&morphine, &fentanyl, &cocodamol, &two, &held] {
        assert!(!t.contains(" MR") && !t.contains("OME") && !t.contains(" bd"));
    }
}

#[test]
fn fonts_are_embedded() {
    let dir = tempfile::tempdir().expect("dir");
    let (pdf, _) = leaflet(dir.path(), "fonts.pdf", TWO_OPIOIDS, &[]);
    let Some(out) = poppler("pdffonts", &[], &pdf) else {
        return;
    };
    let rows: Vec<&str> = out.lines().skip(2).collect();
    assert!(!rows.is_empty(), "{out}");
    for row in rows {
        let cols: Vec<&str> = row.split_whitespace().collect();
        assert!(cols[0].contains("+DejaVuSans"), "{row}");
        let n = cols.len();
        assert_eq!(&cols[n - 5..n - 2], ["yes", "yes", "yes"], "{row}");
    }
}

fn pages(pdf: &Path) -> Option<usize> {
    poppler("pdfinfo", &[], pdf)?
        .lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .and_then(|n| n.trim().parse().ok())
}

#[test]
fn page_counts_within_bounds_and_large_print_is_larger() {
    let dir = tempfile::tempdir().expect("dir");
    let (short, short_r) = leaflet(dir.path(), "short.pdf", FENTANYL, &[]);
    let (long, long_r) = leaflet(dir.path(), "long.pdf", LONG, &[]);
    let (long_large, long_large_r) =
        leaflet(dir.path(), "long-large.pdf", LONG, &["--large-print"]);
    let steps = plan_json(LONG).steps.len();
    let n = |r: &Value| r["pages"].as_u64().unwrap_or(0);
    eprintln!(
        "pages: 2-step patch plan {}, {steps}-step plan {}, large print {}",
        n(&short_r),
        n(&long_r),
        n(&long_large_r)
    );
    assert!(steps >= 12, "the long plan has {steps} steps");
    assert!((3..=5).contains(&n(&short_r)), "short: {short_r}");
    assert!((5..=10).contains(&n(&long_r)), "long: {long_r}");
    assert!(n(&long_large_r) > n(&long_r) && n(&long_large_r) <= 16);
    for (pdf, r) in [
        (&short, &short_r),
        (&long, &long_r),
        (&long_large, &long_large_r),
    ] {
        if let Some(p) = pages(pdf) {
            assert_eq!(p as u64, n(r));
        }
    }
    // Type size from `pdftotext -bbox` word boxes: 18 pt against 14 pt.
    let height = |pdf: &Path| -> Option<f64> {
        let html = poppler("pdftotext", &["-bbox"], pdf)?;
        let attr = |tag: &str, name: &str| -> Option<f64> {
            let start = tag.find(&format!("{name}=\""))? + name.len() + 2;
            let rest = &tag[start..];
            rest[..rest.find('"')?].parse().ok()
        };
        let mut h: Vec<f64> = html
            .lines()
            .filter(|l| l.trim_start().starts_with("<word"))
            .filter_map(|l| Some(attr(l, "yMax")? - attr(l, "yMin")?))
            .collect();
        h.sort_by(f64::total_cmp);
        h.get(h.len() / 2).copied()
    };
    if let (Some(s), Some(l)) = (height(&long), height(&long_large)) {
        eprintln!("median word height: standard {s:.2}, large print {l:.2}");
        assert!(l / s > 1.2, "large {l} vs standard {s}");
    }
}

#[test]
fn output_is_deterministic_and_the_report_matches_the_file() {
    let dir = tempfile::tempdir().expect("dir");
    let (a, ra) = leaflet(
        dir.path(),
        "a.pdf",
        TWO_OPIOIDS,
        &["--patient-name", "Margaret Jones"],
    );
    let (b, rb) = leaflet(
        dir.path(),
        "b.pdf",
        TWO_OPIOIDS,
        &["--patient-name", "Margaret Jones"],
    );
    let (ba, bb) = (std::fs::read(&a).expect("a"), std::fs::read(&b).expect("b"));
    assert!(ba == bb, "two runs differ");
    assert_eq!(ra["sha256"], rb["sha256"]);
    assert_eq!(ra["sha256"], stepdown::store::sha256_hex(&ba));
    assert_eq!(ra["bytes"].as_u64(), Some(ba.len() as u64));
    assert_eq!(ra["out"], a.to_string_lossy().as_ref());
    assert!(ba.starts_with(b"%PDF-"));
    // Only the PDF is left in the folder: no temporary files.
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .expect("list")
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().to_string()))
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
}

#[test]
fn bad_input_exits_2_naming_the_field_and_writes_nothing() {
    let dir = tempfile::tempdir().expect("dir");
    let out = dir.path().join("never.pdf");
    let out_s = out.to_string_lossy().to_string();
    let cases: Vec<(Vec<&str>, String, &str)> = vec![
        (
            vec![],
            r#"{"items": [{"drug": "morphine", "route": "oral", "strength_mg": -5, "doses_per_day": 2}], "start_date": "2026-12-01"}"#.into(),
            "items[0].strength_mg: must be greater than 0 (got -5)",
        ),
        (
            vec![],
            r#"{"patient": {"age": 130}, "items": [{"drug": "morphine", "route": "oral", "strength_mg": 10, "doses_per_day": 2}], "start_date": "2026-12-01"}"#.into(),
            "patient.age",
        ),
        (vec!["--next-review", "14/12/2026"], MORPHINE_MR.into(), "--next-review: must be a date YYYY-MM-DD"),
        (vec!["--practice-phone", "  "], MORPHINE_MR.into(), "--practice-phone: must not be empty"),
        (
            vec![],
            r#"{"items": [{"drug": "morphine", "route": "oral", "strength_mg": 10, "doses_per_day": 2}], "start_date": "2026-12-01", "colour": "red"}"#.into(),
            "colour: unknown field",
        ),
        (
            // MXL 30 mg once a day is kept at its dose with a question for the
            // prescriber: nothing is reduced, so no "plan to reduce" is printed.
            vec![],
            r#"{"items": [{"drug": "morphine", "route": "oral", "release": "modified", "form": "capsule", "strength_mg": 30, "doses_per_day": 1}], "start_date": "2026-12-01"}"#.into(),
            "items: nothing in this plan is reduced",
        ),
    ];
    for (extra, input, message) in cases {
        let mut args = vec!["leaflet", "--out", out_s.as_str()];
        args.extend_from_slice(&extra);
        let o = run(&args, &input);
        assert_eq!(o.status.code(), Some(2), "{extra:?}: {}", stderr(&o));
        assert!(o.stdout.is_empty(), "{extra:?}: printed {}", stdout(&o));
        assert!(stderr(&o).contains(message), "{extra:?}: {}", stderr(&o));
        assert!(!out.exists(), "{extra:?}: a PDF was written");
    }
    // A failure leaves an existing file as it was.
    std::fs::write(&out, b"old").expect("write");
    let o = run(
        &["leaflet", "--out", out_s.as_str(), "--practice-phone", ""],
        MORPHINE_MR,
    );
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(std::fs::read(&out).expect("read"), b"old");
    // An unwritable destination is refused by name.
    let o = run(&["leaflet", "--out", "/nonexistent-dir/x.pdf"], MORPHINE_MR);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).starts_with("--out: could not write"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn without_practice_details_the_leaflet_has_lines_to_fill_in() {
    let dir = tempfile::tempdir().expect("dir");
    let out = dir.path().join("blank.pdf");
    let o = run(&["leaflet", "--out", &out.to_string_lossy()], MORPHINE_MR);
    assert!(o.status.success(), "{}", stderr(&o));
    if let Some(text) = poppler("pdftotext", &["-raw"], &out) {
        assert!(squash(&text).contains("Call the practice on ____________________."));
        assert!(squash(&text).contains("We will agree a date with you"));
    }
}

fn summary(input: &str, extra: &[&str]) -> String {
    let mut args = vec![
        "summary",
        "--review-date",
        "2026-11-24",
        "--patient-name",
        "Margaret Jones",
        "--nhs-number",
        "943 476 5919",
        "--reviewer",
        "Dr A Patel",
        "--practice-name",
        "Riverside Surgery",
    ];
    args.extend_from_slice(extra);
    let o = run(&args, input);
    assert!(o.status.success(), "{}", stderr(&o));
    stdout(&o)
}

#[test]
fn summary_text_has_total_profile_reference_flags_and_quantities() {
    for (name, input) in all_plans() {
        let text = summary(input, &["--next-review", "2026-12-14"]);
        let plan = plan_json(input);
        let value: Value = serde_json::from_str(input).expect("json");
        let assess_input = json!({"patient": value.get("patient").cloned().unwrap_or(Value::Null), "items": value["items"]});
        let o = run(&["assess"], &assess_input.to_string());
        assert!(o.status.success(), "{}", stderr(&o));
        let assessment: Value = serde_json::from_str(&stdout(&o)).expect("assess JSON");
        let total = assessment["ome"]["total_ome_mg_per_day"]
            .as_f64()
            .expect("total");
        let total = stepdown::vocabulary::num(total);
        assert!(
            text.contains(&format!("Total {total} mg OME/day")),
            "{name}: {text}"
        );
        assert!(text.contains("UK profile"), "{name}");
        assert!(
            text.contains(&format!("reference {}", plan.reference_version)),
            "{name}"
        );
        assert!(
            text.contains(&format!(
                "conversion factor table {}",
                reference().ome_factors.header.version
            )),
            "{name}"
        );
        let flags = assessment["flags"].as_array().expect("flags");
        assert!(!flags.is_empty(), "{name}");
        for f in flags {
            let action = f["action"].as_str().expect("action");
            assert!(text.contains(action), "{name}: lacks the action {action:?}");
        }
        for s in &plan.steps {
            for line in &s.supply {
                let q = format!(
                    "{} × {}",
                    stepdown::vocabulary::num(line.quantity),
                    stepdown::vocabulary::num(line.strength)
                );
                let ml = format!("{} mL of", stepdown::vocabulary::num(line.quantity));
                assert!(
                    text.contains(&q) || text.contains(&ml),
                    "{name}: lacks {q:?}"
                );
            }
        }
        assert!(text.contains("Reviewed: 24/11/2026 by Dr A Patel, Riverside Surgery"));
        assert!(text.contains("Next review: 14/12/2026"));
        assert!(text.contains("Patient: Margaret Jones, NHS number 943 476 5919"));
    }
    // The patient object in the input feeds the flags.
    let two = summary(TWO_OPIOIDS, &[]);
    assert!(
        two.contains("HIGH: Benzodiazepine or Z-drug with an opioid."),
        "{two}"
    );
    assert!(two.contains("CAUTION: Age 65 or over."), "{two}");
    let held = summary(HELD_METHADONE, &[]);
    assert!(
        held.contains("methadone liquid: 10 mL (10 mg) once a day (held, unchanged)"),
        "{held}"
    );
}

#[test]
fn summary_snapshot() {
    let text = summary(TWO_OPIOIDS, &[]);
    insta::assert_snapshot!("summary_two_opioids", text);
}

#[test]
fn summary_pdf_and_its_errors() {
    let dir = tempfile::tempdir().expect("dir");
    let out = dir.path().join("summary.pdf");
    let out_s = out.to_string_lossy().to_string();
    let report = summary(MORPHINE_MR, &["--format", "pdf", "--out", &out_s]);
    let report: Value = serde_json::from_str(&report).expect("report");
    // Thirteen steps (issue 14: never a bigger cut than asked, so 5 mg steps)
    // flow onto a second page.
    assert_eq!(report["pages"], 2, "{report}");
    if let Some(text) = poppler("pdftotext", &["-raw"], &out) {
        let text = squash(&text);
        assert!(text.contains("Opioid reduction plan: clinician summary"));
        assert!(text.contains("28 × 15 mg"), "{text}");
    }
    let o = run(&["summary", "--format", "pdf"], MORPHINE_MR);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).starts_with("--out:"), "{}", stderr(&o));
    let o = run(&["summary", "--nhs-number", "943 476 5918"], MORPHINE_MR);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).starts_with("--nhs-number:"), "{}", stderr(&o));
    assert!(o.stdout.is_empty());
    let o = run(&["summary", "--high-dose-threshold", "-1"], MORPHINE_MR);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).starts_with("--high-dose-threshold:"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn mapped_leaflets_read_easily_and_carry_no_jargon() {
    use stepdown::leaflet::{jargon_in, leaflet_text};
    use stepdown::readability::flesch_reading_ease;
    let mut plans: Vec<(&str, &str)> = all_plans().to_vec();
    plans.push(("long", LONG));
    for (name, input) in plans {
        let plan = plan_json(input);
        for large_print in [false, true] {
            let details = LeafletDetails {
                patient_name: Some("Margaret Jones".into()),
                practice: PracticeDetails {
                    name: "Riverside Surgery".into(),
                    phone: "01632 960 123".into(),
                    address: None,
                },
                next_review: None,
                large_print,
                issue_date: chrono::NaiveDate::from_ymd_opt(2026, 11, 24).expect("date"),
                calendar: false,
            };
            let mapped = from_plan(&plan, &details, reference()).expect("maps");
            let text = leaflet_text(&mapped).expect("text");
            assert_eq!(
                jargon_in(&text).expect("wording"),
                Vec::<String>::new(),
                "{name}"
            );
            let score = flesch_reading_ease(&text).expect("words");
            eprintln!("{name}: Flesch reading ease {score:.1}");
            assert!(score >= 60.0, "{name}: Flesch {score:.1} is below 60");
        }
    }
}

/// Issue 20: `leaflet --out` and `summary --out` replaced any file without a
/// word, their own input too (`--out plan.json` put a PDF in its place), and
/// made them world-readable.
#[test]
fn outputs_are_new_private_files_and_never_the_input() {
    let dir = tempfile::tempdir().expect("dir");
    let out = dir.path().join("leaflet.pdf");
    let out_s = out.to_string_lossy().to_string();
    std::fs::write(&out, b"someone else's file").expect("write");
    for args in [
        vec!["leaflet", "--out", out_s.as_str()],
        vec!["summary", "--out", out_s.as_str()],
        vec!["summary", "--format", "pdf", "--out", out_s.as_str()],
    ] {
        let o = run(&args, MORPHINE_MR);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("already exists") && stderr(&o).contains("--overwrite"),
            "{}",
            stderr(&o)
        );
        assert_eq!(std::fs::read(&out).expect("read"), b"someone else's file");
    }
    // With --overwrite the file is replaced, and owner-only.
    let o = run(&["leaflet", "--overwrite", "--out", &out_s], MORPHINE_MR);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(std::fs::read(&out).expect("read").starts_with(b"%PDF"));
    let fresh = dir.path().join("summary.txt");
    let o = run(&["summary", "--out", &fresh.to_string_lossy()], MORPHINE_MR);
    assert!(o.status.success(), "{}", stderr(&o));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for p in [&out, &fresh] {
            let mode = std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", p.display());
        }
    }
    // Never the input, even with --overwrite, and however it is spelt.
    let input = dir.path().join("plan.json");
    std::fs::write(&input, MORPHINE_MR).expect("write");
    let spelt_otherwise = dir.path().join(".").join("plan.json");
    for (cmd, target) in [("leaflet", &input), ("summary", &spelt_otherwise)] {
        let o = Command::new(BIN)
            .args([cmd, "--overwrite", "--out"])
            .arg(target)
            .arg(&input)
            .output()
            .expect("run");
        assert_eq!(o.status.code(), Some(2), "{cmd}: {}", stderr(&o));
        assert!(stderr(&o).contains("is the input file"), "{}", stderr(&o));
        assert_eq!(std::fs::read_to_string(&input).expect("read"), MORPHINE_MR);
    }
    // No temporary files left behind.
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().to_string())
        .collect();
    assert!(names.iter().all(|n| !n.ends_with(".tmp")), "{names:?}");
}

/// `stepdown summary` with only the review date fixed, and `extra`.
fn summary_with(input: &str, extra: &[&str]) -> String {
    let mut args = vec!["summary", "--review-date", "2026-11-24"];
    args.extend_from_slice(extra);
    let o = run(&args, input);
    assert!(o.status.success(), "{}", stderr(&o));
    stdout(&o)
}

/// Word boxes from `pdftotext -bbox`: (page, yMax, text) per word, in order.
fn word_boxes(pdf: &Path) -> Option<Vec<(usize, f64, String)>> {
    let html = poppler("pdftotext", &["-bbox"], pdf)?;
    let attr = |tag: &str, name: &str| -> Option<f64> {
        let start = tag.find(&format!("{name}=\""))? + name.len() + 2;
        let rest = &tag[start..];
        rest[..rest.find('"')?].parse().ok()
    };
    let mut page = 0;
    let mut words = Vec::new();
    for line in html.lines().map(str::trim_start) {
        if line.starts_with("<page") {
            page += 1;
        } else if line.starts_with("<word") {
            let text = line
                .split_once('>')
                .and_then(|(_, r)| r.split_once("</word>"))
                .map_or(String::new(), |(t, _)| t.to_string());
            words.push((page, attr(line, "yMax")?, text));
        }
    }
    Some(words)
}

/// A4 height in points less the bottom margin (12 mm): no text below it, and
/// nothing but the footer within the footer band above it.
const TEXT_BOTTOM: f64 = 841.89 - 12.0 * 72.0 / 25.4;

/// Issue 20: the summary PDF printed a Chinese, Devanagari or emoji name as
/// empty boxes and exited 0, while the leaflet refused the same name; the
/// leaflet itself printed an Arabic or Hebrew name unjoined and left to right
/// (DejaVu Sans has the glyphs, printpdf does no shaping). One policy now
/// refuses both, naming the option, the script or characters, and what to do.
#[test]
fn both_pdfs_refuse_a_name_they_cannot_print_and_say_what_to_do() {
    let dir = tempfile::tempdir().expect("dir");
    for (name, expect) in [
        ("山田 太郎", "'山' (U+5C71)"),
        ("प्रिया शर्मा", "Devanagari script"),
        ("محمد علي", "Arabic script"),
        ("דוד כהן", "Hebrew script"),
        ("Ann 🧑", "U+1F9D1"),
        ("Ann\u{200b}Lee", "invisible"),
    ] {
        let out = dir.path().join("refused.pdf");
        let out_s = out.to_string_lossy().to_string();
        for args in [
            vec!["leaflet", "--out", &out_s, "--patient-name", name],
            vec![
                "summary",
                "--format",
                "pdf",
                "--out",
                &out_s,
                "--patient-name",
                name,
            ],
        ] {
            let o = run(&args, MORPHINE_MR);
            let e = stderr(&o);
            assert_eq!(o.status.code(), Some(2), "{name} {}: {e}", args[0]);
            assert!(e.starts_with("--patient-name: "), "{e}");
            assert!(e.contains(expect), "{name}: {e}");
            if expect != "invisible" {
                assert!(e.contains("Latin") && e.contains("NHS record"), "{e}");
            }
            assert!(!out.exists(), "{name}: a file was written");
        }
    }
    // The plain-text summary for the record takes any script.
    let o = run(&["summary", "--patient-name", "محمد علي"], MORPHINE_MR);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("محمد علي"));
    // Other entered fields are held to the same policy, by their option.
    let out = dir.path().join("x.pdf");
    let out_s = out.to_string_lossy().to_string();
    for (args, option) in [
        (
            vec![
                "summary",
                "--format",
                "pdf",
                "--out",
                &out_s,
                "--reviewer",
                "王医生",
            ],
            "--reviewer",
        ),
        (
            vec![
                "summary",
                "--format",
                "pdf",
                "--out",
                &out_s,
                "--practice-name",
                "مطب",
            ],
            "--practice-name",
        ),
        (
            vec![
                "leaflet",
                "--out",
                &out_s,
                "--practice-address",
                "1 High St ☎\u{fe0f}",
            ],
            "--practice-address",
        ),
    ] {
        let o = run(&args, MORPHINE_MR);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).starts_with(option), "{}", stderr(&o));
        assert!(!out.exists());
    }
}

/// What DejaVu Sans draws without shaping prints exactly, in both PDFs:
/// Latin with any accent (typed decomposed too), Greek, Cyrillic, Vietnamese.
#[test]
fn names_in_latin_greek_and_cyrillic_print_exactly_in_both_pdfs() {
    let dir = tempfile::tempdir().expect("dir");
    for (i, (name, printed)) in [
        ("Siobhán Ní Bhriain-Núñez", "Siobhán Ní Bhriain-Núñez"),
        ("Zoë Łukasz Żółć", "Zoë Łukasz Żółć"),
        ("Ελένη Παπαδοπούλου", "Ελένη Παπαδοπούλου"),
        ("Дмитрий Иванов", "Дмитрий Иванов"),
        ("Nguyễn Thị Minh Khai", "Nguyễn Thị Minh Khai"),
        ("Rene\u{301}e Aubé", "Renée Aubé"),
    ]
    .into_iter()
    .enumerate()
    {
        let (leaflet_pdf, _) = leaflet(
            dir.path(),
            &format!("l{i}.pdf"),
            MORPHINE_MR,
            &["--patient-name", name],
        );
        let summary_pdf = dir.path().join(format!("s{i}.pdf"));
        let out_s = summary_pdf.to_string_lossy().to_string();
        summary_with(
            MORPHINE_MR,
            &["--format", "pdf", "--out", &out_s, "--patient-name", name],
        );
        for pdf in [&leaflet_pdf, &summary_pdf] {
            let Some(text) = poppler("pdftotext", &[], pdf) else {
                return;
            };
            assert!(
                squash(&text).contains(printed),
                "{name} not in {}: {}",
                pdf.display(),
                &text[..300.min(text.len())]
            );
        }
    }
}

/// Issue 20: a 10,000-character name ran over the footer and off the page.
/// Every entered field too long for its line (name, practice, address,
/// reviewer) is wrapped onto more lines and pages, never clipped: every word
/// is in the text, in order, and none sits below the page's text area.
#[test]
fn long_entered_text_is_wrapped_never_clipped() {
    let dir = tempfile::tempdir().expect("dir");
    let words = |tag: &str, n: usize| -> String {
        (0..n)
            .map(|i| format!("{tag}{i:04}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    // Each just within max_string_chars (1,000); one unbreakable "word" far
    // wider than a line, too.
    let name = format!("{} {}", words("Nm", 120), "X".repeat(150));
    let practice = words("Pr", 140);
    let address = words("Ad", 140);
    let reviewer = words("Rv", 140);
    let (leaflet_pdf, _) = leaflet(
        dir.path(),
        "long.pdf",
        MORPHINE_MR,
        &[
            "--patient-name",
            &name,
            "--practice-address",
            &address,
            "--large-print",
        ],
    );
    let summary_pdf = dir.path().join("long-summary.pdf");
    let out_s = summary_pdf.to_string_lossy().to_string();
    summary_with(
        MORPHINE_MR,
        &[
            "--format",
            "pdf",
            "--out",
            &out_s,
            "--patient-name",
            &name,
            "--practice-name",
            &practice,
            "--reviewer",
            &reviewer,
        ],
    );
    for (pdf, fields) in [
        (&leaflet_pdf, vec![&name, &address]),
        (&summary_pdf, vec![&name, &practice, &reviewer]),
    ] {
        let Some(boxes) = word_boxes(pdf) else {
            return;
        };
        for (page, y_max, text) in &boxes {
            assert!(
                *y_max <= TEXT_BOTTOM,
                "{}: {text:?} on page {page} ends at {y_max}, below the text area",
                pdf.display()
            );
        }
        let all: String = boxes
            .iter()
            .map(|(_, _, t)| t.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        for field in fields {
            for w in field.split(' ').filter(|w| !w.starts_with('X')) {
                assert!(all.contains(w), "{}: {w} is missing", pdf.display());
            }
            let xs: usize = boxes
                .iter()
                .filter(|(_, _, t)| t.chars().all(|c| c == 'X'))
                .map(|(_, _, t)| t.len())
                .sum();
            if field == &name {
                assert_eq!(xs, 150, "{}: the long word lost letters", pdf.display());
            }
        }
    }
}

/// Issue 20: `--patient-name` (and the other details given as options) was not
/// held to max_string_chars. A name over the cap is refused by its option in
/// both commands, without echoing it, and nothing is written.
#[test]
fn names_and_details_over_the_text_cap_are_refused_by_option() {
    let dir = tempfile::tempdir().expect("dir");
    let cap = stepdown::limits::limits().max_string_chars;
    let long = "N".repeat(cap + 1);
    let at_cap = "N".repeat(cap);
    let out = dir.path().join("x.pdf");
    let out_s = out.to_string_lossy().to_string();
    let runs: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["leaflet", "--out", &out_s, "--patient-name", &long],
            "--patient-name",
        ),
        (
            vec!["leaflet", "--out", &out_s, "--practice-name", &long],
            "--practice-name",
        ),
        (
            vec!["leaflet", "--out", &out_s, "--practice-address", &long],
            "--practice-address",
        ),
        (vec!["summary", "--patient-name", &long], "--patient-name"),
        (
            vec![
                "summary",
                "--format",
                "pdf",
                "--out",
                &out_s,
                "--patient-name",
                &long,
            ],
            "--patient-name",
        ),
        (vec!["summary", "--reviewer", &long], "--reviewer"),
        (vec!["summary", "--practice-name", &long], "--practice-name"),
    ];
    for (args, option) in runs {
        let o = run(&args, MORPHINE_MR);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{option}: {err}");
        assert!(
            err.starts_with(&format!(
                "{option}: is {} characters long; at most {cap} are accepted",
                cap + 1
            )),
            "{option}: {err}"
        );
        assert!(
            err.len() < 300,
            "{option}: the message echoes the value: {} bytes",
            err.len()
        );
        assert!(
            o.stdout.is_empty() && !out.exists(),
            "{option}: something was written"
        );
    }
    // At the cap it is accepted.
    let o = run(&["summary", "--patient-name", &at_cap], MORPHINE_MR);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

/// Issue 20: "years 0000 and 9999 pass validation". They are field errors in
/// the JSON input (src/limits.rs), and date options are held to the same
/// years: a leaflet dated 9999 or a summary of year 0 is refused by option.
#[test]
fn date_options_outside_the_plausible_years_are_refused() {
    let dir = tempfile::tempdir().expect("dir");
    let out = dir.path().join("x.pdf");
    let out_s = out.to_string_lossy().to_string();
    for (args, option) in [
        (
            vec!["leaflet", "--out", &out_s, "--issue-date", "9999-12-31"],
            "--issue-date",
        ),
        (
            vec!["leaflet", "--out", &out_s, "--next-review", "0000-01-01"],
            "--next-review",
        ),
        (
            vec!["summary", "--review-date", "0000-01-01"],
            "--review-date",
        ),
        (
            vec!["summary", "--next-review", "9999-01-01"],
            "--next-review",
        ),
    ] {
        let o = run(&args, MORPHINE_MR);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{option}: {err}");
        assert!(
            err.starts_with(&format!("{option}: the year ")),
            "{option}: {err}"
        );
        assert!(
            err.contains("is not plausible (accepted: 1900 to 2200)"),
            "{err}"
        );
        assert!(!out.exists() && o.stdout.is_empty(), "{option}: written");
    }
    let o = Command::new(BIN)
        .args(["reference", "--today", "0000-01-01"])
        .output()
        .expect("run");
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).starts_with("--today: the year 0 is not plausible"),
        "{}",
        stderr(&o)
    );
    // Case-finding's --today too, before any store is made.
    let csv = dir.path().join("x.csv");
    std::fs::write(&csv, "patient_id,issue_date,drug,dose,quantity\n").expect("write");
    let db = dir.path().join("new.db");
    let o = Command::new(BIN)
        .arg("import")
        .arg(&csv)
        .arg("--db")
        .arg(&db)
        .args(["--today", "9999-01-01"])
        .output()
        .expect("run");
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).starts_with("--today: the year 9999"),
        "{}",
        stderr(&o)
    );
    assert!(!db.exists(), "a store was made");
}
