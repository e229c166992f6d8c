//! Patient leaflet: content checks on its text (readability, jargon, snapshot) and
//! checks on the PDF itself with poppler's tools (pdftotext, pdffonts, pdfinfo).
//! The poppler tests skip with a message only when the tools are not installed
//! (`make setup` installs poppler-utils).

use crate::common::leaflet_plans as plans;

use std::io::Write;
use std::process::Command;

use stepdown::leaflet::{
    jargon_in, leaflet_text, render_leaflet, LeafletError, LeafletInput, StepKind,
};
use stepdown::readability::flesch_reading_ease;

/// Runs a poppler tool on a PDF; `None` (and a message) when the tool is missing.
fn poppler(tool: &str, args: &[&str], pdf: &[u8]) -> Option<String> {
    let mut file = tempfile::Builder::new()
        .suffix(".pdf")
        .tempfile()
        .expect("temp file");
    file.write_all(pdf).expect("write pdf");
    let path = file.path().to_string_lossy().to_string();
    let mut all: Vec<&str> = args.to_vec();
    all.push(&path);
    if tool == "pdftotext" || tool == "pdftoppm" {
        all.push("-");
    }
    match Command::new(tool).args(&all).output() {
        Ok(out) => {
            assert!(
                out.status.success(),
                "{tool} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            Some(String::from_utf8_lossy(&out.stdout).to_string())
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

fn long_date(d: chrono::NaiveDate) -> String {
    stepdown::leaflet::long_date(d)
}

/// Every date and every dose the plan prints.
fn expected_strings(input: &LeafletInput) -> Vec<String> {
    let mut out = Vec::new();
    for s in &input.steps {
        out.push(long_date(s.start));
        if s.kind != StepKind::Stop {
            out.push(long_date(s.end));
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

#[test]
fn leaflet_text_reads_easily() {
    for (name, input) in [
        ("12-step", plans::plan(12, Some(5))),
        ("patches", plans::patch_plan()),
        ("20-step", plans::plan(20, None)),
    ] {
        let text = leaflet_text(&input).expect("leaflet builds");
        let score = flesch_reading_ease(&text).expect("has words");
        eprintln!("{name}: Flesch reading ease {score:.1}");
        assert!(
            score >= 60.0,
            "{name}: Flesch reading ease {score:.1} is below 60"
        );
    }
}

#[test]
fn leaflet_text_has_no_jargon() {
    let mut input = plans::plan(12, Some(5));
    input.has_patches = true;
    let text = leaflet_text(&input).expect("leaflet builds");
    assert_eq!(jargon_in(&text).expect("wording"), Vec::<String>::new());
    // The check itself does catch the usual abbreviations.
    assert_eq!(
        jargon_in("morphine MR 30 mg bd, oxycodone 5 mg prn; OME 60").expect("wording"),
        vec!["bd", "prn", "MR", "OME"]
    );
}

#[test]
fn leaflet_text_snapshot() {
    let text = leaflet_text(&plans::plan(4, Some(1))).expect("leaflet builds");
    insta::assert_snapshot!("leaflet_text_4_steps_with_pause", text);
}

#[test]
fn patch_advice_only_with_patches() {
    let with = leaflet_text(&plans::patch_plan()).expect("builds");
    let without = leaflet_text(&plans::plan(3, None)).expect("builds");
    for phrase in [
        "Do not cut a patch.",
        "sticky sides together",
        "hot water bottle",
    ] {
        assert!(with.contains(phrase), "patch leaflet lacks {phrase:?}");
        assert!(!without.contains(phrase), "tablet leaflet has {phrase:?}");
    }
    assert!(without.contains("Swallow slow-release tablets"));
    assert!(!with.contains("Swallow slow-release tablets"));
}

#[test]
fn leaflet_has_the_required_sections() {
    let text = leaflet_text(&plans::plan(12, Some(5))).expect("builds");
    for phrase in [
        "Margaret Jones",
        "Riverside Surgery",
        "01632 960 123",
        "Why we are reducing your medicine",
        "Tuesday 1 December 2026",
        "Monday 14 December 2026",
        "usually gets better within a few days",
        "Do not take extra doses.",
        "We can pause the plan",
        "Do not go back to your old dose",
        "Driving",
        "back to a pharmacy",
        "Live Well with Pain",
        "Ten Footsteps",
        "Flippin' Pain",
        "family, friends or carers",
        "Next review: Tuesday 29 December 2026",
        "This is a pause.",
        "Stop your morphine slow-release tablets from this day.",
    ] {
        assert!(text.contains(phrase), "leaflet lacks {phrase:?}");
    }
    // Without a name or review date the leaflet still reads sensibly.
    let mut anon = plans::plan(3, None);
    anon.patient_name = None;
    anon.next_review = None;
    let text = leaflet_text(&anon).expect("builds");
    assert!(!text.contains("For:"));
    assert!(text.contains("We will agree a date with you"));
}

#[test]
fn bad_input_names_the_field() {
    let err = |i: &LeafletInput| match leaflet_text(i) {
        Err(LeafletError::Input { field, .. }) => field,
        other => panic!("expected an input error, got {other:?}"),
    };
    let mut i = plans::plan(3, None);
    i.steps.clear();
    assert_eq!(err(&i), "steps");

    let mut i = plans::plan(3, None);
    i.steps[1].end = i.steps[1].start.pred_opt().expect("date");
    assert_eq!(err(&i), "steps[1].end");

    let mut i = plans::plan(3, None);
    i.steps[0].medicines[0].doses[0].what = "1 MR tablet bd".into();
    assert_eq!(err(&i), "steps[0].medicines[0].doses[0].what");

    let mut i = plans::plan(3, None);
    i.patient_name = Some("李雷".into());
    assert_eq!(err(&i), "patient_name");

    let mut i = plans::plan(3, None);
    i.practice.phone = "  ".into();
    assert_eq!(err(&i), "practice.phone");

    // "Mr" in a name is not jargon.
    let mut i = plans::plan(3, None);
    i.patient_name = Some("Mr Tomás O'Brien-Łukasz".into());
    assert!(leaflet_text(&i).is_ok());
}

#[test]
fn output_is_deterministic() {
    let input = plans::plan(12, Some(5));
    let a = render_leaflet(&input).expect("renders");
    let b = render_leaflet(&input).expect("renders");
    assert!(a.bytes == b.bytes, "two renders of the same input differ");
    let mut later = input.clone();
    later.issue_date = plans::date(2026, 11, 25);
    let c = render_leaflet(&later).expect("renders");
    assert!(
        a.bytes != c.bytes,
        "a different issue date should change the PDF"
    );
    assert!(a.bytes.starts_with(b"%PDF-"));
}

#[test]
fn pdf_size_within_budget() {
    let r = render_leaflet(&plans::plan(12, Some(5))).expect("renders");
    eprintln!(
        "12-step leaflet: {} pages, {} bytes",
        r.pages,
        r.bytes.len()
    );
    assert!(r.bytes.len() <= 300 * 1024, "{} bytes", r.bytes.len());
}

#[test]
fn pdftotext_shows_every_date_and_dose() {
    for large_print in [false, true] {
        let mut input = plans::plan(12, Some(5));
        input.large_print = large_print;
        let pdf = render_leaflet(&input).expect("renders").bytes;
        let Some(text) = poppler("pdftotext", &["-raw"], &pdf) else {
            return;
        };
        let text = squash(&text);
        for s in expected_strings(&input) {
            assert!(
                text.contains(&squash(&s)),
                "large_print={large_print}: PDF text lacks {s:?}"
            );
        }
        // Everything in the plain text is in the PDF, in the same order within a line.
        let plain = leaflet_text(&input).expect("builds");
        for line in plain.lines().filter(|l| !l.trim().is_empty()) {
            let line = squash(&line.replace('\t', " "));
            assert!(
                text.contains(&line),
                "large_print={large_print}: PDF text lacks the line {line:?}"
            );
        }
        assert!(text.contains("Page 1 of "));
    }
}

#[test]
fn pdffonts_shows_embedded_subset_fonts() {
    let pdf = render_leaflet(&plans::plan(3, None))
        .expect("renders")
        .bytes;
    let Some(out) = poppler("pdffonts", &[], &pdf) else {
        return;
    };
    let rows: Vec<&str> = out.lines().skip(2).collect();
    assert_eq!(rows.len(), 2, "expected regular and bold:\n{out}");
    for row in rows {
        let cols: Vec<&str> = row.split_whitespace().collect();
        assert!(cols[0].contains("+DejaVuSans"), "{row}");
        // name, type (2 words), encoding, emb, sub, uni, object, generation
        let n = cols.len();
        assert_eq!(&cols[n - 5..n - 2], ["yes", "yes", "yes"], "{row}");
    }
}

fn page_count(pdf: &[u8]) -> Option<usize> {
    let info = poppler("pdfinfo", &[], pdf)?;
    info.lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .and_then(|n| n.trim().parse().ok())
}

#[test]
fn page_counts_within_bounds() {
    let short = render_leaflet(&plans::plan(3, None)).expect("renders");
    let long = render_leaflet(&plans::plan(20, Some(8))).expect("renders");
    let mut long_large_input = plans::plan(20, Some(8));
    long_large_input.large_print = true;
    let long_large = render_leaflet(&long_large_input).expect("renders");
    eprintln!(
        "pages: 3-step {}, 20-step {}, 20-step large print {}",
        short.pages, long.pages, long_large.pages
    );
    assert!((3..=5).contains(&short.pages), "short: {}", short.pages);
    assert!((6..=10).contains(&long.pages), "long: {}", long.pages);
    assert!(long_large.pages > long.pages && long_large.pages <= 16);
    if let Some(n) = page_count(&long.bytes) {
        assert_eq!(n, long.pages);
        let text = poppler("pdftotext", &[], &long.bytes).unwrap_or_default();
        assert!(text.contains(&format!("Page {n} of {n}")));
    }
}

/// Median word height from `pdftotext -bbox` (the font's line box, so proportional
/// to the type size).
fn median_word_height(pdf: &[u8]) -> Option<f64> {
    let html = poppler("pdftotext", &["-bbox"], pdf)?;
    let attr = |tag: &str, name: &str| -> Option<f64> {
        let start = tag.find(&format!("{name}=\""))? + name.len() + 2;
        let rest = &tag[start..];
        rest[..rest.find('"')?].parse().ok()
    };
    let mut heights: Vec<f64> = html
        .lines()
        .filter(|l| l.trim_start().starts_with("<word"))
        .filter_map(|l| Some(attr(l, "yMax")? - attr(l, "yMin")?))
        .collect();
    heights.sort_by(f64::total_cmp);
    heights.get(heights.len() / 2).copied()
}

#[test]
fn large_print_is_really_larger() {
    let mut input = plans::plan(6, None);
    let standard = render_leaflet(&input).expect("renders");
    input.large_print = true;
    let large = render_leaflet(&input).expect("renders");
    let (Some(s), Some(l)) = (
        median_word_height(&standard.bytes),
        median_word_height(&large.bytes),
    ) else {
        return;
    };
    eprintln!("median word height: standard {s:.2} pt, large print {l:.2} pt");
    // 18 pt against 14 pt body text.
    assert!(l / s > 1.2, "large {l} vs standard {s}");
    assert!(large.pages > standard.pages);
}

#[test]
fn pdf_metadata_comes_from_the_input() {
    let pdf = render_leaflet(&plans::plan(3, None))
        .expect("renders")
        .bytes;
    let Some(info) = poppler("pdfinfo", &[], &pdf) else {
        return;
    };
    assert!(
        info.contains("Your plan to reduce your pain medicine"),
        "{info}"
    );
    assert!(info.contains("Riverside Surgery"), "{info}");
    // The issue date, not the clock.
    assert!(info.contains("Nov 24 00:00:00 2026"), "{info}");
    assert!(info.contains("A4"), "{info}");
    assert!(!info.contains("PDF/X"), "must not claim PDF/X: {info}");
}
