//! Case-finding against real SQLite stores: generated extracts checked
//! against their ground truth, re-imports, all-or-nothing, filters, ranking
//! and figures.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};

use super::synthetic::{generate, ExportShape, SyntheticOptions, Truth};
use super::*;
use crate::flags::FlagId;
use crate::import::csv::{ColumnMap, Extract, FieldLimits, RowOutcome, TextEncoding};
use crate::reference::reference;
// Tests in `on_both_backends!` run on SQLite and on PostgreSQL (with a test
// cluster); the others are SQLite-only on purpose: they reach into the file
// (a second connection to it, its staging tables, an import killed part-way
// and the file reopened, the raw schema) or check the generator itself.
use crate::store::test_pg::{new_test_store, on_both_backends, TestHeld};
use crate::store::{ManualClock, OpenOptions, Store};

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 24).unwrap()
}

/// A SQLite store in a temporary folder, or a team store on the test
/// cluster inside `on_both_backends!`'s PostgreSQL run.
fn store() -> (TestHeld, Store) {
    let t0: DateTime<Utc> = DateTime::parse_from_rfc3339("2026-11-24T09:00:00Z")
        .unwrap()
        .with_timezone(&Utc);
    new_test_store(
        "cf.db",
        OpenOptions {
            clock: Arc::new(ManualClock::stepping(t0, Duration::from_secs(1))),
            ..OpenOptions::default()
        },
    )
}

fn options(name: &str) -> ImportOptions {
    ImportOptions {
        practice: None,
        file_name: name.into(),
        today: today(),
        list_size: Some(8000),
        column_map: ColumnMap::default(),
        window_days: None,
        actor: Some("Test pharmacist".into()),
        exclusions: Vec::new(),
    }
}

fn extract(rows: usize, seed: u64) -> (Vec<u8>, Truth) {
    let mut out = Vec::new();
    let truth = generate(
        &SyntheticOptions::new(rows, seed, today()),
        reference(),
        &mut out,
    )
    .unwrap();
    (out, truth)
}

fn import(store: &mut Store, bytes: &[u8], name: &str) -> ImportReport {
    import_csv(store, bytes, &options(name), &mut |_| {}).unwrap()
}

fn all(store: &mut Store) -> Worklist {
    worklist(store, &WorklistFilters::default(), today()).unwrap()
}

fn count(store: &Store, table: &str) -> i64 {
    store
        .db()
        .query_row(&format!("SELECT count(*) FROM {table}"), (), |r| r.get(0))
        .unwrap()
}

#[test]
fn every_generated_patient_matches_the_ground_truth() {
    for seed in [1, 2, 3] {
        matches_the_ground_truth(seed, ExportShape::Standard, &ColumnMap::default());
    }
}

// The SystmOne Strategic Reporting file shape, read with the `systmone-sr`
// preset, gives every patient exactly as the truth says (issue 16).
on_both_backends! {
#[test]
fn a_systmone_strategic_reporting_file_read_with_its_preset_matches_the_ground_truth() {
    let map = crate::import::presets::preset_map("systmone-sr", &ColumnMap::default()).unwrap();
    matches_the_ground_truth(4, ExportShape::SystmOneSr, &map);
    // Without the preset the file's columns are not found: nothing is imported.
    let mut gen = SyntheticOptions::new(50, 4, today());
    gen.shape = ExportShape::SystmOneSr;
    let mut bytes = Vec::new();
    generate(&gen, reference(), &mut bytes).unwrap();
    let (_d, mut s) = store();
    let e = import_csv(&mut s, &bytes, &options("sr.csv"), &mut |_| {}).unwrap_err();
    assert!(e.to_string().contains("missing columns"), "{e}");
}
}

// The CSV of Stepdown's EMIS Web list report (its headings, a title line
// above the header, EMIS-style dates), read with the `emis-web` preset, gives
// every patient exactly as the truth says; without the preset nothing is
// imported (issue 16).
on_both_backends! {
#[test]
fn an_emis_web_list_report_read_with_its_preset_matches_the_ground_truth() {
    let map = crate::import::presets::preset_map("emis-web", &ColumnMap::default()).unwrap();
    matches_the_ground_truth(5, ExportShape::EmisWeb, &map);
    let mut gen = SyntheticOptions::new(50, 5, today());
    gen.shape = ExportShape::EmisWeb;
    let mut bytes = Vec::new();
    generate(&gen, reference(), &mut bytes).unwrap();
    let (_d, mut s) = store();
    let e = import_csv(&mut s, &bytes, &options("emis.csv"), &mut |_| {}).unwrap_err();
    assert!(
        e.to_string().contains("missing columns patient_id, dose"),
        "{e}"
    );
    // With it, the title line above the header is named in the warnings.
    let mut with = options("emis.csv");
    with.column_map = map;
    let report = import_csv(&mut s, &bytes, &with, &mut |_| {}).unwrap();
    assert_eq!(report.rows_read, 50);
    assert!(
        report
            .warnings
            .iter()
            .any(|w| w.line == 1 && w.reason.contains("above the header")),
        "{:?}",
        report.warnings
    );
}
}

/// The generated sample of the EMIS Web shape shipped in tests/cases is what
/// the generator writes (regenerate it with the command in docs/casefinding.md).
#[test]
fn the_emis_web_sample_file_is_the_generators() {
    let mut gen = SyntheticOptions::new(400, 16, today());
    gen.history_days = 180;
    gen.shape = ExportShape::EmisWeb;
    let mut bytes = Vec::new();
    generate(&gen, reference(), &mut bytes).unwrap();
    let shipped = include_bytes!("../../tests/cases/extract_emis_web.csv");
    assert!(
        bytes.as_slice() == shipped.as_slice(),
        "tests/cases/extract_emis_web.csv differs from the generator's output"
    );
}

/// The generated sample of the SystmOne shape shipped in tests/cases is what
/// the generator writes (regenerate it with the command in docs/casefinding.md).
#[test]
fn the_systmone_sample_file_is_the_generators() {
    let mut gen = SyntheticOptions::new(400, 16, today());
    gen.history_days = 180;
    gen.shape = ExportShape::SystmOneSr;
    let mut bytes = Vec::new();
    generate(&gen, reference(), &mut bytes).unwrap();
    let shipped = include_bytes!("../../tests/cases/extract_systmone_sr.csv");
    assert!(
        bytes.as_slice() == shipped.as_slice(),
        "tests/cases/extract_systmone_sr.csv differs from the generator's output"
    );
}

fn matches_the_ground_truth(seed: u64, shape: ExportShape, map: &ColumnMap) {
    {
        let mut gen = SyntheticOptions::new(4000, seed, today());
        gen.excluded_per_1000 = 40;
        gen.shape = shape;
        let mut bytes = Vec::new();
        let truth = generate(&gen, reference(), &mut bytes).unwrap();
        let (_d, mut s) = store();
        let mut with_list = options("gen.csv");
        with_list.column_map = map.clone();
        with_list.exclusions = truth
            .exclusions
            .iter()
            .map(|(id, why)| Exclusion {
                patient_id: id.clone(),
                reason: why.clone(),
            })
            .collect();
        assert!(!with_list.exclusions.is_empty());
        let report = import_csv(&mut s, &bytes, &with_list, &mut |_| {}).unwrap();
        assert_eq!(report.rows_read as usize, truth.rows);
        assert_eq!(report.patients_in_file as usize, truth.patients_in_file);
        assert_eq!(
            report.imported + report.duplicates + report.not_understood_count,
            report.rows_read
        );

        // The report names every refused row, with its line and column, and nothing else.
        let got: Vec<(u64, Option<String>)> = report
            .not_understood
            .iter()
            .map(|p| (p.line, p.column.clone()))
            .collect();
        let want: Vec<(u64, Option<String>)> = truth
            .refused
            .iter()
            .map(|r| (r.line, r.column.clone()))
            .collect();
        assert_eq!(got, want, "seed {seed}");

        let list = all(&mut s);
        let by_id: BTreeMap<&str, &WorklistPatient> = list
            .patients
            .iter()
            .map(|p| (p.patient_id.as_str(), p))
            .collect();
        assert_eq!(
            by_id.keys().copied().collect::<Vec<_>>(),
            truth
                .patients
                .iter()
                .filter(|(_, t)| t.excluded.is_none())
                .map(|(id, _)| id.as_str())
                .collect::<Vec<_>>(),
            "seed {seed}: the worklist holds exactly the patients with a current opioid, less those excluded"
        );
        // Excluded patients are counted apart, by reason.
        let mut want_excluded: BTreeMap<&str, u64> = BTreeMap::new();
        for t in truth.patients.values() {
            if let Some(why) = &t.excluded {
                *want_excluded.entry(why.as_str()).or_default() += 1;
            }
        }
        assert_eq!(want_excluded.len(), 2, "seed {seed}: both reasons occur");
        let got_excluded: BTreeMap<&str, u64> = list
            .metrics
            .excluded
            .iter()
            .map(|x| (x.reason.as_str(), x.patients))
            .collect();
        assert_eq!(got_excluded, want_excluded, "seed {seed}");
        let mut estimated = 0;
        let mut seen_markers = std::collections::BTreeSet::new();
        for (id, t) in truth.patients.iter().filter(|(_, t)| t.excluded.is_none()) {
            let p = by_id[id.as_str()];
            seen_markers.extend(p.markers.iter().copied());
            for (marker, want) in [
                (Marker::ImmediateReleaseOnly, t.immediate_release_only),
                (Marker::Combination, t.combination),
                (Marker::LargeLiquidIssue, t.large_liquid_issue),
                (Marker::DependenceForming, t.dependence_forming),
                // No Stepdown review is stored for any of them.
                (Marker::NoRecentReview, true),
            ] {
                assert_eq!(
                    p.markers.contains(&marker),
                    want,
                    "seed {seed} {id} {marker:?}: {p:#?}"
                );
            }
            assert_eq!(
                p.ome_mg_per_day, t.ome_mg_per_day,
                "seed {seed} {id}: {p:#?}"
            );
            assert_eq!(p.estimated, t.estimated, "seed {seed} {id}: {p:#?}");
            assert_eq!(p.complete, t.complete, "seed {seed} {id}: {p:#?}");
            assert_eq!(
                p.flags.contains(&FlagId::Benzodiazepine),
                t.benzodiazepine,
                "seed {seed} {id}: {p:#?}"
            );
            assert_eq!(
                p.flags.contains(&FlagId::Gabapentinoid),
                t.gabapentinoid,
                "seed {seed} {id}"
            );
            // Issue 16: the supply figure and the unclear-directions marker.
            assert_eq!(
                (p.supply_ome_mg_per_day, p.supply_complete),
                (t.supply_ome_mg_per_day, t.supply_complete),
                "seed {seed} {id}: {p:#?}"
            );
            let fraction = reference()
                .casefinding
                .setting(CaseFindingSetting::SupplyDifferFraction);
            assert_eq!(
                p.figures_differ,
                t.supply_ome_mg_per_day.is_some_and(
                    |s| (s - t.ome_mg_per_day).abs() > fraction * s.max(t.ome_mg_per_day)
                ),
                "seed {seed} {id}"
            );
            assert_eq!(
                p.markers.contains(&Marker::UnclearDirections),
                t.unclear_directions,
                "seed {seed} {id}: {p:#?}"
            );
            // Estimates are marked on the item, with the method in words.
            for item in &p.items {
                assert_eq!(item.estimated, item.estimate.is_some());
                if let Some(how) = &item.estimate {
                    assert!(how.starts_with("estimated: "), "{how}");
                }
            }
            estimated += usize::from(p.estimated);
        }
        assert!(estimated > 0, "seed {seed}: the mix includes estimates");
        assert_eq!(
            seen_markers.len(),
            Marker::ALL.len(),
            "seed {seed}: every marker occurs: {seen_markers:?}"
        );
        assert_eq!(
            list.metrics.patients as usize,
            truth.patients.len() - want_excluded.values().sum::<u64>() as usize
        );
        assert_eq!(list.metrics.estimated as usize, estimated);
    }
}

fn audit_entries(store: &Store) -> i64 {
    count(store, "audit_log")
}

on_both_backends! {
#[test]
fn re_importing_the_same_file_changes_nothing() {
    let (bytes, _) = extract(1500, 11);
    let (_d, mut s) = store();
    let first = import(&mut s, &bytes, "jan.csv");
    assert!(!first.already_imported);
    let issues = count(&s, "cf_issues");
    let audits = audit_entries(&s);
    assert_eq!(issues as u64, first.imported);

    let again = import(&mut s, &bytes, "jan-copy.csv");
    assert!(again.already_imported);
    assert_eq!(again.import_id, first.import_id);
    assert_eq!(again.imported, 0);
    assert_eq!(again.duplicates, first.imported);
    assert_eq!(again.rows_read, first.rows_read);
    assert!(again.warnings[0].reason.contains("already imported"));
    assert_eq!(count(&s, "cf_issues"), issues);
    assert_eq!(count(&s, "cf_imports"), 1);
    assert_eq!(audit_entries(&s), audits, "a no-op is not audited");
}
}

on_both_backends! {
#[test]
fn overlapping_extracts_do_not_duplicate_rows() {
    let (bytes, truth) = extract(3000, 12);
    let text = String::from_utf8(bytes.clone()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let (header, rows) = (lines[0], &lines[1..]);
    // Two files that overlap in their middle third.
    let a = format!("{header}\n{}\n", rows[..2000].join("\n"));
    let b = format!("{header}\n{}\n", rows[1000..].join("\n"));
    let (_d, mut s) = store();
    let ra = import(&mut s, a.as_bytes(), "a.csv");
    let rb = import(&mut s, b.as_bytes(), "b.csv");
    let overlap_refused = truth
        .refused
        .iter()
        .filter(|r| (1002..=2001).contains(&r.line))
        .count() as u64;
    assert_eq!(rb.duplicates, 1000 - overlap_refused, "{rb:#?}");
    assert_eq!(
        count(&s, "cf_issues") as u64,
        ra.imported + rb.imported,
        "every stored row is distinct"
    );

    // The same patients and totals as importing the whole file at once.
    let (_d2, mut whole) = store();
    import(&mut whole, &bytes, "whole.csv");
    let ome = |w: Worklist| -> Vec<(String, f64)> {
        w.patients
            .into_iter()
            .map(|p| (p.patient_id, p.ome_mg_per_day))
            .collect()
    };
    assert_eq!(ome(all(&mut s)), ome(all(&mut whole)));
}
}

on_both_backends! {
#[test]
fn identical_rows_in_one_file_are_kept_apart() {
    let csv = "patient_id,issue_date,drug,dose,quantity\n\
               P1,2026-11-01,Co-codamol 30mg/500mg tablets,2 qds,100\n\
               P1,2026-11-01,Co-codamol 30mg/500mg tablets,2 qds,100\n";
    let (_d, mut s) = store();
    let r = import(&mut s, csv.as_bytes(), "twice.csv");
    assert_eq!((r.imported, r.duplicates), (2, 0));
    // Two boxes on one day are more supply, not a double dose.
    let list = all(&mut s);
    assert_eq!(list.patients[0].ome_mg_per_day, 24.0);
    assert_eq!(list.patients[0].items.len(), 1);
}
}

#[test]
fn an_import_that_fails_part_way_leaves_nothing_behind() {
    let (bytes, _) = extract(2000, 13);
    let (_d, mut s) = store();
    let audits = audit_entries(&s);
    // Make the store refuse one row in the middle of the file. (Not a TEMP
    // trigger: the import moves the connection's temporary storage to
    // memory while it stores, which drops temporary objects.)
    s.conn()
        .execute_batch(
            "CREATE TRIGGER fail_midway BEFORE INSERT ON cf_issues
             WHEN NEW.line = 1000 BEGIN SELECT RAISE(ABORT, 'disk on fire'); END;",
        )
        .unwrap();
    let e = import_csv(&mut s, &bytes, &options("bad.csv"), &mut |_| {}).unwrap_err();
    assert!(e.to_string().contains("disk on fire"), "{e}");
    for table in [
        "cf_imports",
        "cf_issues",
        "cf_patients",
        "cf_texts",
        "cf_summaries",
        "cf_state",
    ] {
        assert_eq!(count(&s, table), 0, "{table}");
    }
    assert_eq!(audit_entries(&s), audits);

    // Nothing is stuck: without the fault the same file imports.
    s.conn().execute_batch("DROP TRIGGER fail_midway").unwrap();
    let r = import(&mut s, &bytes, "bad.csv");
    assert!(r.imported > 0);
    assert_eq!(audit_entries(&s), audits + 1);
}

on_both_backends! {
#[test]
fn a_file_that_cannot_be_read_imports_nothing() {
    let (_d, mut s) = store();
    let no_dose = "patient_id,issue_date,drug,quantity\nP1,2026-11-01,Morphine 10mg tablets,56\n";
    let e = import_csv(&mut s, no_dose.as_bytes(), &options("x.csv"), &mut |_| {}).unwrap_err();
    assert!(matches!(
        e,
        CaseFindingError::BadFile(CsvError::MissingColumns(_))
    ));
    assert!(e.is_user_error());
    assert!(e.to_string().contains("missing column dose"), "{e}");
    let e = import_csv(
        &mut s,
        b"PK\x03\x04\0\0binary",
        &options("x.xlsx"),
        &mut |_| {},
    )
    .unwrap_err();
    assert!(e.to_string().contains("not text"), "{e}");
    let e = import_csv(&mut s, b"", &options("empty.csv"), &mut |_| {}).unwrap_err();
    assert!(e.to_string().contains("empty"), "{e}");
    assert_eq!(count(&s, "cf_imports"), 0);

    let mut zero = options("x.csv");
    zero.list_size = Some(0);
    let e = import_csv(&mut s, no_dose.as_bytes(), &zero, &mut |_| {}).unwrap_err();
    assert!(e.to_string().starts_with("list_size:"), "{e}");
    let mut no_window = options("x.csv");
    no_window.window_days = Some(0);
    let e = import_csv(&mut s, no_dose.as_bytes(), &no_window, &mut |_| {}).unwrap_err();
    assert!(e.to_string().starts_with("window_days:"), "{e}");
}
}

#[test]
fn reading_in_parallel_gives_the_same_rows_as_reading_in_one_go() {
    let (bytes, _) = extract(5000, 14);
    // A quoted field with line breaks near the middle.
    let mut text = String::from_utf8(bytes).unwrap();
    let mid = text.len() / 2;
    let nl = mid + text[mid..].find('\n').unwrap() + 1;
    text.insert_str(
        nl,
        "P9999999,2026-11-01,\"Morphine 10mg\nmodified-release tablets\",\"1 bd\nwith food\",56,,,\n",
    );
    let e = Extract::open(text.as_bytes(), &ColumnMap::default()).unwrap();
    let collect = |spans: Vec<crate::import::csv::Span>| {
        let mut out = Vec::new();
        for span in spans {
            e.rows_in(span, today(), FieldLimits { age: (0.0, 120.0) }, |r, _| {
                out.push(match r {
                    RowOutcome::Row(r) => {
                        format!("{} {} {} {}", r.line, r.patient_id, r.drug, r.dose)
                    }
                    RowOutcome::Problem(p) => format!("{} problem {}", p.line, p.reason),
                })
            });
        }
        out
    };
    let one = collect(vec![e.all()]);
    for parts in [2, 3, 7] {
        let spans = e.split(parts);
        assert!(spans.len() > 1);
        assert_eq!(spans[0].start, e.all().start);
        assert_eq!(spans.last().unwrap().end, e.all().end);
        assert!(spans.windows(2).all(|w| w[0].end == w[1].start));
        assert_eq!(collect(spans), one, "{parts} parts");
    }
    // A quoted field never runs over a line end (issue 20: one stray quote
    // swallowed the rest of a file): the three lines of that row are each
    // reported, at their own line, and every other row is read.
    let first = one
        .iter()
        .position(|r| r.contains("problem") && r.contains("quote"))
        .expect("the quote is reported");
    let reported: Vec<&String> = one[first..first + 3].iter().collect();
    assert!(
        reported.iter().all(|r| r.contains("problem")),
        "{reported:?}"
    );
    let lines: Vec<u64> = reported
        .iter()
        .filter_map(|r| r.split(' ').next()?.parse().ok())
        .collect();
    assert_eq!(lines[1], lines[0] + 1);
    assert_eq!(lines[2], lines[0] + 2);
    assert_eq!(
        one.len(),
        text.lines().count() - 1,
        "every line read or reported"
    );
}

on_both_backends! {
#[test]
fn worklist_filters_paging_and_ranking() {
    let (bytes, truth) = extract(6000, 15);
    let (_d, mut s) = store();
    import(&mut s, &bytes, "gen.csv");
    let full = all(&mut s);
    assert_eq!(full.patients.len(), truth.patients.len());
    // Ranks run 1.. in order.
    for (i, p) in full.patients.iter().enumerate() {
        assert_eq!(p.rank as usize, i + 1);
    }
    // Dose bands from the reference thresholds come first, then OME within equal flags.
    let high = reference()
        .threshold(compute::PROFILE, crate::reference::ThresholdKind::HighDose)
        .unwrap()
        .mg_per_day;
    let first_below = full
        .patients
        .iter()
        .position(|p| p.ome_mg_per_day < high)
        .unwrap();
    assert!(full.patients[first_below..]
        .iter()
        .all(|p| p.ome_mg_per_day < high));
    assert!(full.patients[..first_below]
        .iter()
        .all(|p| p.ome_mg_per_day >= high));

    let get = |s: &mut Store, f: WorklistFilters| worklist(s, &f, today()).unwrap();
    let at_120 = get(
        &mut s,
        WorklistFilters {
            min_ome: Some(120.0),
            ..WorklistFilters::default()
        },
    );
    let want: Vec<&str> = full
        .patients
        .iter()
        .filter(|p| p.ome_mg_per_day >= 120.0)
        .map(|p| p.patient_id.as_str())
        .collect();
    let got: Vec<&str> = at_120
        .patients
        .iter()
        .map(|p| p.patient_id.as_str())
        .collect();
    assert_eq!(got, want, "the filter keeps the order");
    assert_eq!(at_120.metrics.matching as usize, want.len());
    assert_eq!(at_120.metrics.patients as usize, full.patients.len());
    let counts: Vec<(f64, u64)> = at_120
        .metrics
        .at_or_above
        .iter()
        .map(|c| (c.mg_per_day, c.patients))
        .collect();
    assert_eq!(counts[1], (120.0, want.len() as u64));
    assert_eq!(counts[0].0, high);

    let benzo = get(
        &mut s,
        WorklistFilters {
            benzodiazepine: true,
            ..WorklistFilters::default()
        },
    );
    assert!(!benzo.patients.is_empty());
    assert!(benzo
        .patients
        .iter()
        .all(|p| p.flags.contains(&FlagId::Benzodiazepine)));
    assert_eq!(benzo.patients.len() as u64, full.metrics.benzodiazepine);
    let both = get(
        &mut s,
        WorklistFilters {
            benzodiazepine: true,
            gabapentinoid: true,
            ..WorklistFilters::default()
        },
    );
    assert!(both
        .patients
        .iter()
        .all(|p| p.flags.contains(&FlagId::Benzodiazepine)
            && p.flags.contains(&FlagId::Gabapentinoid)));
    let estimates = get(
        &mut s,
        WorklistFilters {
            estimates_only: true,
            ..WorklistFilters::default()
        },
    );
    assert!(!estimates.patients.is_empty());
    assert!(estimates.patients.iter().all(|p| p.estimated));

    let page = get(
        &mut s,
        WorklistFilters {
            limit: Some(10),
            offset: Some(5),
            ..WorklistFilters::default()
        },
    );
    assert_eq!(page.patients, full.patients[5..15].to_vec());
    assert_eq!(page.metrics.shown, 10);

    let e = worklist(
        &mut s,
        &WorklistFilters {
            min_ome: Some(-1.0),
            ..WorklistFilters::default()
        },
        today(),
    )
    .unwrap_err();
    assert!(e.to_string().starts_with("min_ome:"), "{e}");
}
}

on_both_backends! {
#[test]
fn a_later_today_recomputes_the_worklist() {
    let csv = "patient_id,issue_date,drug,dose,quantity\n\
               P1,2026-10-01,Morphine 30mg modified-release tablets,1 bd,56\n\
               P2,2026-06-01,Morphine 30mg modified-release tablets,1 bd,56\n\
               P3,2026-11-20,Tramadol 50mg capsules,2 qds,224\n";
    let (_d, mut s) = store();
    import(&mut s, csv.as_bytes(), "t.csv");
    let ids =
        |w: &Worklist| -> Vec<String> { w.patients.iter().map(|p| p.patient_id.clone()).collect() };
    let now = all(&mut s);
    assert_eq!(
        ids(&now),
        ["P1", "P3"],
        "P2's last issue is outside the 90 days"
    );
    let later = worklist(
        &mut s,
        &WorklistFilters::default(),
        NaiveDate::from_ymd_opt(2027, 1, 10).unwrap(),
    )
    .unwrap();
    assert_eq!(ids(&later), ["P3"]);
    assert_eq!(later.metrics.as_of, "2027-01-10");
    // A wider window brings P1 back.
    let wider = worklist(
        &mut s,
        &WorklistFilters {
            window_days: Some(120),
            ..WorklistFilters::default()
        },
        NaiveDate::from_ymd_opt(2027, 1, 10).unwrap(),
    )
    .unwrap();
    assert_eq!(ids(&wider), ["P1", "P3"]);
    assert_eq!(wider.metrics.window_days, 120);
}
}

#[test]
fn stored_rows_point_at_stored_patients_and_texts_and_are_never_altered() {
    let (bytes, _) = extract(1500, 16);
    let (_d, mut s) = store();
    import(&mut s, &bytes, "gen.csv");
    let orphans: i64 = s
        .conn()
        .query_row(
            "SELECT count(*) FROM cf_issues i
             WHERE NOT EXISTS (SELECT 1 FROM cf_patients p WHERE p.id = i.patient_id)
                OR NOT EXISTS (SELECT 1 FROM cf_texts t WHERE t.id = i.drug_id)
                OR NOT EXISTS (SELECT 1 FROM cf_texts t WHERE t.id = i.dose_id)
                OR NOT EXISTS (SELECT 1 FROM cf_imports m WHERE m.id = i.import_id)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(orphans, 0);
    let e = s
        .conn()
        .execute("UPDATE cf_issues SET quantity = 1", [])
        .unwrap_err();
    assert!(e.to_string().contains("cannot be altered"), "{e}");
}

on_both_backends! {
#[test]
fn the_import_is_audited_without_patient_details() {
    let (bytes, _) = extract(800, 17);
    let (_d, mut s) = store();
    let r = import(&mut s, &bytes, "extract-nov.csv");
    let log = s.audit_log(&crate::store::AuditQuery::default()).unwrap();
    let entry = &log[0];
    assert_eq!(entry.actor, "Test pharmacist");
    assert_eq!(entry.entity_id, Some(r.import_id));
    assert!(
        entry.summary.contains("extract-nov.csv"),
        "{}",
        entry.summary
    );
    assert!(entry
        .summary
        .contains(&format!("{} rows read", r.rows_read)));
    assert!(
        !entry.summary.contains("P0000"),
        "no patient identifiers: {}",
        entry.summary
    );
}
}

on_both_backends! {
#[test]
fn windows_1252_files_and_mapped_headers_import() {
    let text = "Patient No;Date;Medication;Directions;Qty\n\
                A1;01/11/2026;Fentanyl 25µg/h transdermal patches;apply one patch every 72 hours;10\n\
                A1;15/11/2026;Co-codamol 30mg/500mg tablets;½-1 qds;56\n";
    let bytes = encoding_rs::WINDOWS_1252.encode(text).0.into_owned();
    let (_d, mut s) = store();
    let mut o = options("emis.csv");
    o.column_map = ColumnMap::parse(
        "patient_id=Patient No,issue_date=Date,drug=Medication,dose=Directions,quantity=Qty",
    )
    .unwrap();
    let r = import_csv(&mut s, &bytes, &o, &mut |_| {}).unwrap();
    assert_eq!(r.encoding, TextEncoding::Windows1252);
    assert_eq!((r.imported, r.not_understood_count), (2, 0), "{r:#?}");
    let list = all(&mut s);
    // Fentanyl 25 micrograms/hour = 60 mg OME; co-codamol 1 × 4 × 30 mg × 0.1 = 12.
    assert_eq!(list.patients[0].ome_mg_per_day, 72.0);
}
}

on_both_backends! {
#[test]
fn progress_is_reported_in_order() {
    let (bytes, _) = extract(3000, 18);
    let (_d, mut s) = store();
    let mut seen: Vec<ImportPhase> = Vec::new();
    import_csv(&mut s, &bytes, &options("p.csv"), &mut |p| {
        assert!(p.done <= p.total, "{p:?}");
        if seen.last() != Some(&p.phase) {
            seen.push(p.phase);
        }
    })
    .unwrap();
    assert_eq!(seen.first(), Some(&ImportPhase::Reading));
    assert_eq!(seen.last(), Some(&ImportPhase::Done));
    assert!(seen.contains(&ImportPhase::Saving));
}
}

#[test]
fn flag_ids_are_written_as_json() {
    let flags = [
        FlagId::HighDose,
        FlagId::Benzodiazepine,
        FlagId::LongTermUse,
    ];
    assert_eq!(flag_json(&flags), serde_json::to_string(&flags).unwrap());
    assert_eq!(flag_json(&[]), "[]");
}

#[test]
fn the_fast_hasher_spreads_similar_keys() {
    use std::hash::{BuildHasher, BuildHasherDefault};
    let b = BuildHasherDefault::<FxHasher>::default();
    let buckets: std::collections::HashSet<u64> = (0..10_000)
        .map(|i| b.hash_one(format!("P{i:07}")) & 1023)
        .collect();
    assert!(buckets.len() > 1000, "{} of 1024 buckets", buckets.len());
}

on_both_backends! {
#[test]
fn paracetamol_issued_alongside_counts_towards_the_paracetamol_limit() {
    let csv = "patient_id,issue_date,drug,dose,quantity\n\
               P1,2026-11-01,Co-codamol 30mg/500mg tablets,2 qds,224\n\
               P1,2026-11-01,Paracetamol 500mg tablets,2 qds,100\n\
               P2,2026-11-01,Co-codamol 30mg/500mg tablets,2 qds,224\n\
               P3,2026-11-01,Co-codamol 30mg/500mg tablets,2 qds,224\n\
               P3,2026-11-01,Paracetamol 500mg tablets,as directed,100\n";
    let (_d, mut s) = store();
    import(&mut s, csv.as_bytes(), "para.csv");
    let list = all(&mut s);
    let get = |id: &str| list.patients.iter().find(|p| p.patient_id == id).unwrap();
    assert_eq!(
        get("P1").patient.co_medication_paracetamol_mg_per_day,
        Some(4000.0)
    );
    assert!(
        get("P1").flags.contains(&FlagId::ParacetamolLimit),
        "{:?}",
        get("P1").flags
    );
    assert!(!get("P2").flags.contains(&FlagId::ParacetamolLimit));
    assert_eq!(get("P3").patient.co_medication_paracetamol_mg_per_day, None);
    assert!(get("P3")
        .warnings
        .iter()
        .any(|w| w.contains("not counted towards the paracetamol limit")));
}
}

on_both_backends! {
#[test]
fn implausible_readings_are_left_unread_and_estimated_with_the_reason() {
    // P1: "11 four times a day" for morphine 10 mg tablets is 11 tablets a
    // dose: not used, estimated from supply (56 tablets over 28 days = 2 a day).
    // P2: weekly dispensing does not make it one tablet a week.
    // P3: "1/2" counted as two, with a note the clinician sees.
    let csv = "patient_id,issue_date,drug,dose,quantity\n\
               P1,2026-10-01,Morphine 10mg modified-release tablets,11 four times a day,56\n\
               P1,2026-10-29,Morphine 10mg modified-release tablets,11 four times a day,56\n\
               P2,2026-11-01,Morphine 30mg modified-release tablets,1 tab bd dispense weekly,14\n\
               P3,2026-11-01,Codeine 30mg tablets,1/2 qds prn,100\n";
    let (_d, mut s) = store();
    let report = import(&mut s, csv.as_bytes(), "plausible.csv");
    assert!(
        report.not_understood.is_empty(),
        "{:?}",
        report.not_understood
    );
    let list = all(&mut s);
    let get = |id: &str| list.patients.iter().find(|p| p.patient_id == id).unwrap();
    let p1 = &get("P1").items[0];
    assert!(p1.estimated, "{p1:?}");
    let how = p1.estimate.as_deref().unwrap_or_default();
    assert!(how.contains("11 tablets or capsules a dose"), "{how}");
    assert_eq!(get("P1").ome_mg_per_day, 20.0);
    assert_eq!(get("P2").ome_mg_per_day, 60.0);
    assert!(!get("P2").items[0].estimated);
    let p3 = &get("P3").items[0];
    assert!(
        p3.dose_note.as_deref().unwrap_or_default().contains("1/2"),
        "{p3:?}"
    );
    assert_eq!(p3.item.as_ref().and_then(|i| i.units_per_dose), Some(2.0));
    assert_eq!(get("P2").items[0].dose_note, None);
}
}

on_both_backends! {
#[test]
fn the_supply_figure_sits_beside_the_instruction_figure_and_differences_are_marked() {
    // P4 takes what is issued; P5 is issued twice what the instruction says;
    // P6 has one issue only, so there is nothing to measure supply against.
    let csv = "patient_id,issue_date,drug,dose,quantity\n\
               P4,2026-10-01,Morphine 30mg modified-release tablets,1 bd,56\n\
               P4,2026-10-29,Morphine 30mg modified-release tablets,1 bd,56\n\
               P5,2026-10-01,Morphine 30mg modified-release tablets,1 bd,112\n\
               P5,2026-10-29,Morphine 30mg modified-release tablets,1 bd,112\n\
               P6,2026-11-01,Morphine 30mg modified-release tablets,1 bd,56\n";
    let (_d, mut s) = store();
    import(&mut s, csv.as_bytes(), "supply.csv");
    let list = all(&mut s);
    let get = |id: &str| list.patients.iter().find(|p| p.patient_id == id).unwrap();
    let p4 = get("P4");
    assert_eq!(
        (p4.ome_mg_per_day, p4.supply_ome_mg_per_day),
        (60.0, Some(60.0))
    );
    assert!(p4.supply_complete && !p4.figures_differ);
    let p5 = get("P5");
    assert_eq!(
        (p5.ome_mg_per_day, p5.supply_ome_mg_per_day),
        (60.0, Some(120.0))
    );
    assert!(p5.figures_differ);
    let p6 = get("P6");
    assert_eq!(p6.supply_ome_mg_per_day, None);
    assert!(!p6.supply_complete && !p6.figures_differ);
}
}

on_both_backends! {
#[test]
fn audit_markers_are_set_filtered_and_unclear_directions_raise_the_patient() {
    let csv = "patient_id,issue_date,drug,dose,quantity\n\
               A1,2026-11-01,Morphine 30mg modified-release tablets,as directed,60\n\
               A2,2026-11-01,Co-codamol 30mg/500mg tablets,2 qds,224\n\
               A3,2026-11-01,Morphine 10mg/5ml oral solution,5ml qds prn,500\n\
               A4,2026-11-01,Morphine 30mg modified-release tablets,1 bd,56\n\
               A4,2026-11-01,Diazepam 5mg tablets,1 at night,28\n\
               A5,2026-11-01,Morphine 30mg modified-release tablets,1 bd,56\n";
    let (_d, mut s) = store();
    import(&mut s, csv.as_bytes(), "markers.csv");
    let mut list = all(&mut s);
    // No Stepdown review is stored: every patient has that marker (tested
    // on its own below); the others are compared here.
    for p in &mut list.patients {
        assert_eq!(p.markers.pop(), Some(Marker::NoRecentReview));
    }
    let get = |id: &str| list.patients.iter().find(|p| p.patient_id == id).unwrap();
    assert_eq!(get("A1").markers, [Marker::UnclearDirections]);
    assert_eq!(
        get("A2").markers,
        [Marker::ImmediateReleaseOnly, Marker::Combination]
    );
    assert_eq!(
        get("A3").markers,
        [Marker::ImmediateReleaseOnly, Marker::LargeLiquidIssue]
    );
    assert_eq!(get("A4").markers, [Marker::DependenceForming]);
    assert!(get("A5").markers.is_empty());
    // Unclear directions raise A1 above A5, whose known dose is the same band.
    assert!(get("A1").rank < get("A5").rank);
    // Information-only flags are for the patient view, not worklist risk.
    for p in &list.patients {
        assert!(!p.flags.contains(&FlagId::Driving), "{:?}", p.flags);
    }
    assert!(get("A5").info_flags.contains(&FlagId::Driving));
    let mut only = |m: Vec<Marker>| {
        worklist(
            &mut s,
            &WorklistFilters {
                markers: m,
                ..WorklistFilters::default()
            },
            today(),
        )
        .unwrap()
        .patients
        .into_iter()
        .map(|p| p.patient_id)
        .collect::<Vec<_>>()
    };
    assert_eq!(only(vec![Marker::Combination]), ["A2"]);
    assert_eq!(only(vec![Marker::LargeLiquidIssue]), ["A3"]);
    assert_eq!(only(vec![Marker::DependenceForming]), ["A4"]);
    assert_eq!(only(vec![Marker::UnclearDirections]), ["A1"]);
    let ir: Vec<String> = only(vec![Marker::ImmediateReleaseOnly]);
    assert_eq!(ir.len(), 2);
    assert!(only(vec![Marker::Combination, Marker::LargeLiquidIssue]).is_empty());
}
}

on_both_backends! {
#[test]
fn excluded_patients_leave_the_worklist_and_are_counted_apart() {
    let csv = "patient_id,issue_date,drug,dose,quantity\n\
               E1,2026-11-01,Morphine 30mg modified-release tablets,1 bd,56\n\
               E2,2026-11-01,Morphine 60mg modified-release tablets,1 bd,56\n\
               E3,2026-11-01,Morphine 10mg modified-release tablets,1 bd,56\n";
    let list = Exclusion::parse_list(
        "patient_id,reason\n# from the registers\nE2,palliative care register\nE3\nNOT-IN-STORE,opioid dependence treatment\n",
    )
    .unwrap();
    assert_eq!(list[1].reason, "on the exclusion list");
    let (_d, mut s) = store();
    let mut o = options("excl.csv");
    o.exclusions = list;
    import_csv(&mut s, csv.as_bytes(), &o, &mut |_| {}).unwrap();
    let w = all(&mut s);
    let ids: Vec<&str> = w.patients.iter().map(|p| p.patient_id.as_str()).collect();
    assert_eq!(ids, ["E1"]);
    assert_eq!(w.metrics.patients, 1);
    let counts: Vec<(&str, u64)> = w
        .metrics
        .excluded
        .iter()
        .map(|c| (c.reason.as_str(), c.patients))
        .collect();
    assert_eq!(
        counts,
        [
            ("on the exclusion list", 1),
            ("palliative care register", 1)
        ]
    );
    // Kept with the patient: a later import and another day still leave them off.
    let later = "patient_id,issue_date,drug,dose,quantity\n\
                 E2,2026-11-20,Morphine 60mg modified-release tablets,1 bd,56\n";
    import(&mut s, later.as_bytes(), "later.csv");
    let w = worklist(
        &mut s,
        &WorklistFilters::default(),
        today() + chrono::Duration::days(1),
    )
    .unwrap();
    assert!(w.patients.iter().all(|p| p.patient_id == "E1"));
    assert_eq!(w.metrics.excluded.len(), 2);
    let bad = Exclusion::parse_list("E1,line\u{7}bell").unwrap_err();
    assert!(bad.to_string().contains("line 1"), "{bad}");
}
}

// ---------------------------------------------------------------------------
// Imports in batches (issue 16)
// ---------------------------------------------------------------------------

/// Tiny chunks, runs and batches, so that a small file takes every path a
/// ten-million-row one does (many chunks, spilled runs merged, many batches).
fn tiny() -> batched::Tuning {
    batched::Tuning {
        chunk_text: 3_000,
        run_rows: 700,
        batch_rows: 250,
        ..batched::Tuning::default()
    }
}

fn import_tuned(
    store: &mut Store,
    bytes: &[u8],
    name: &str,
    tuning: batched::Tuning,
    progress: &mut dyn FnMut(ImportProgress),
) -> Result<ImportReport, CaseFindingError> {
    batched::import(
        store,
        std::io::Cursor::new(bytes),
        &options(name),
        progress,
        tuning,
    )
}

fn open_again(dir: &tempfile::TempDir, at: &str, busy: Duration) -> Store {
    let t: DateTime<Utc> = DateTime::parse_from_rfc3339(at)
        .unwrap()
        .with_timezone(&Utc);
    Store::open_with(
        dir.path().join("cf.db"),
        OpenOptions {
            clock: Arc::new(ManualClock::stepping(t, Duration::from_secs(1))),
            busy_timeout: busy,
            ..OpenOptions::default()
        },
    )
    .unwrap()
}

#[test]
fn small_chunks_runs_and_batches_give_the_same_import_as_one_go() {
    let (mut bytes, truth) = extract(6000, 21);
    // Identical rows far apart (different chunks and runs) still count once each.
    let text = String::from_utf8(bytes.clone()).unwrap();
    let row = text.lines().nth(5).unwrap().to_string();
    bytes.extend_from_slice(format!("{row}\n").as_bytes());
    let (_d1, mut a) = store();
    let one = import(&mut a, &bytes, "x.csv");
    let (_d2, mut b) = store();
    let mut phases = Vec::new();
    let many = import_tuned(&mut b, &bytes, "x.csv", tiny(), &mut |p| {
        phases.push(p.phase)
    })
    .unwrap();
    assert_eq!(many.not_understood, one.not_understood);
    assert_eq!(many.warnings, one.warnings);
    assert_eq!(
        (
            many.rows_read,
            many.imported,
            many.duplicates,
            many.patients_in_file
        ),
        (
            one.rows_read,
            one.imported,
            one.duplicates,
            one.patients_in_file
        )
    );
    assert_eq!(many.rows_read as usize, truth.rows + 1);
    assert_eq!(count(&b, "cf_issues"), count(&a, "cf_issues"));
    assert_eq!(count(&b, "cf_issues") as u64, many.imported);
    assert!(phases.iter().filter(|p| **p == ImportPhase::Saving).count() > 10);
    let (la, lb) = (all(&mut a), all(&mut b));
    assert_eq!(lb.patients, la.patients);
    assert_eq!(lb.metrics, la.metrics);
    assert_eq!(
        figures(&mut b, today(), None).unwrap(),
        figures(&mut a, today(), None).unwrap()
    );
    // No temporary file is left behind.
    let left: Vec<_> = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(&format!("stepdown-import-{}-", std::process::id()))
        })
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn another_connection_writes_between_batches_and_sees_nothing_until_published() {
    let (bytes, _) = extract(3000, 22);
    let (dir, mut s) = store();
    // The other connection does not wait for locks at all: each of its
    // writes succeeds only if the import holds no transaction open.
    let mut other = open_again(&dir, "2026-11-24T09:00:00Z", Duration::ZERO);
    let mut saves = 0;
    let mut seen_during = Vec::new();
    let report = import_tuned(&mut s, &bytes, "x.csv", tiny(), &mut |p| {
        if p.phase == ImportPhase::Saving || p.phase == ImportPhase::Computing {
            let mut settings = other.settings().unwrap();
            settings.reviewer_name = format!("Reviewer {saves}");
            other.update_settings(&settings, "Dr Other").unwrap();
            saves += 1;
            seen_during.push(all(&mut other).metrics.patients);
        }
    })
    .unwrap();
    assert!(saves > 10, "{saves} writes between batches");
    assert!(seen_during.iter().all(|n| *n == 0), "{seen_during:?}");
    assert_eq!(
        all(&mut other).metrics.patients,
        report.patients_on_worklist
    );
    assert!(report.patients_on_worklist > 0);
}

#[test]
fn an_import_stopped_part_way_shows_nothing_and_the_next_import_removes_it() {
    let (bytes, _) = extract(3000, 23);
    let (dir, mut s) = store();
    let before = all(&mut s);
    // Stop the import as a kill would: in the middle of storing, with no
    // chance to clean up.
    let mut batches = 0;
    let stopped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        import_tuned(&mut s, &bytes, "x.csv", tiny(), &mut |p| {
            if p.phase == ImportPhase::Saving {
                batches += 1;
                if batches == 3 {
                    panic!("killed");
                }
            }
        })
    }));
    assert!(stopped.is_err());
    drop(s);
    assert!(
        count_in(&dir, "cf_issues") > 0,
        "rows were stored before the stop"
    );

    // Nothing of it shows: not the worklist, not the figures, not an export.
    let mut s = open_again(&dir, "2026-11-24T09:00:30Z", Duration::from_secs(5));
    assert_eq!(all(&mut s), before);
    assert!(figures(&mut s, today(), None).unwrap().months.is_empty());
    let export = s.export_all("Dr A").unwrap();
    for table in ["cf_imports", "cf_issues", "cf_patients", "cf_texts"] {
        assert!(export.casefinding[table].rows.is_empty(), "{table}");
    }

    // Soon after, it may still be running: a second import is refused.
    let e = import_csv(&mut s, &bytes, &options("x.csv"), &mut |_| {}).unwrap_err();
    assert!(matches!(e, CaseFindingError::Busy(_)), "{e}");
    assert!(e.to_string().contains("under way"), "{e}");

    // Later it is taken for stopped, removed, and the file imports whole,
    // as into a store that never saw it.
    let mut s = open_again(&dir, "2026-11-24T10:00:00Z", Duration::from_secs(5));
    let r = import_csv(&mut s, &bytes, &options("x.csv"), &mut |_| {}).unwrap();
    assert!(!r.already_imported);
    let (_d2, mut clean) = store();
    let c = import(&mut clean, &bytes, "x.csv");
    assert_eq!((r.imported, r.duplicates), (c.imported, c.duplicates));
    assert_eq!(count(&s, "cf_imports"), 1);
    assert_eq!(count(&s, "cf_patients"), count(&clean, "cf_patients"));
    assert_eq!(count(&s, "cf_issues"), count(&clean, "cf_issues"));
    assert_eq!(all(&mut s).patients, all(&mut clean).patients);
    let staging: i64 = s
        .conn()
        .query_row(
            "SELECT count(*) FROM sqlite_schema WHERE name LIKE 'cfstage%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(staging, 0);
}

/// Staging tables and their heartbeats in the store at `dir`.
fn staging_left(dir: &tempfile::TempDir) -> (Vec<String>, i64) {
    let c = rusqlite::Connection::open(dir.path().join("cf.db")).unwrap();
    let tables = c
        .prepare("SELECT name FROM sqlite_schema WHERE name LIKE 'cfstage%' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<Vec<String>, _>>()
        .unwrap();
    let beats = c
        .query_row(
            "SELECT count(*) FROM cf_state WHERE key LIKE 'staging:%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    (tables, beats)
}

/// Starts recomputing the cache for `day` and stops it, as a kill would,
/// after its first batch is in the staging table.
fn kill_a_recomputation(s: &mut Store, day: NaiveDate) {
    let stopped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        batched::refresh_tuned(s, day, 90, reference(), 50, &mut || panic!("killed"))
    }));
    assert!(stopped.is_err());
}

#[test]
fn a_recomputation_stopped_part_way_leaves_a_staging_table_the_next_open_or_import_removes() {
    let (bytes, _) = extract(1500, 24);
    let (dir, mut s) = store();
    import(&mut s, &bytes, "x.csv");
    let tomorrow = today().succ_opt().unwrap();
    kill_a_recomputation(&mut s, tomorrow);
    drop(s);
    let (tables, beats) = staging_left(&dir);
    assert_eq!((tables.len(), beats), (1, 1), "{tables:?}");
    let killed = tables[0].clone();
    assert!(killed.starts_with("cfstage_summaries_p"), "{killed}");

    // Soon after, it may be another window still at work: left alone.
    let mut soon = open_again(&dir, "2026-11-24T09:01:00Z", Duration::from_secs(5));
    let before = all(&mut soon);
    assert!(staging_left(&dir).0.contains(&killed));

    // Later, opening the worklist removes it (and its heartbeat), and the
    // worklist is as before.
    let mut later = open_again(&dir, "2026-11-24T10:00:00Z", Duration::from_secs(5));
    assert_eq!(all(&mut later), before);
    assert_eq!(staging_left(&dir), (vec![], 0));

    // So does the next import, and a recomputation.
    kill_a_recomputation(&mut later, tomorrow);
    assert_eq!(staging_left(&dir).0.len(), 1);
    drop(later);
    let mut later = open_again(&dir, "2026-11-24T11:00:00Z", Duration::from_secs(5));
    let (more, _) = extract(300, 25);
    import(&mut later, &more, "y.csv");
    assert_eq!(staging_left(&dir), (vec![], 0));
    kill_a_recomputation(&mut later, tomorrow);
    drop(later);
    let mut later = open_again(&dir, "2026-11-24T12:00:00Z", Duration::from_secs(5));
    batched::refresh_tuned(&mut later, tomorrow, 90, reference(), 50, &mut || {}).unwrap();
    assert_eq!(staging_left(&dir), (vec![], 0));
}

/// A recomputation whose staging table is removed under it (taken for
/// stopped by another process) starts again rather than failing.
#[test]
fn a_recomputation_whose_staging_table_is_removed_under_it_starts_again() {
    let (bytes, _) = extract(1500, 26);
    let (dir, mut s) = store();
    import(&mut s, &bytes, "x.csv");
    let other = open_again(&dir, "2026-11-24T09:00:00Z", Duration::from_secs(5));
    let tomorrow = today().succ_opt().unwrap();
    let mut batches = 0;
    let state = batched::refresh_tuned(&mut s, tomorrow, 90, reference(), 50, &mut || {
        batches += 1;
        if batches == 2 {
            let c = other.conn();
            let name: String = c
                .query_row(
                    "SELECT name FROM sqlite_schema WHERE name LIKE 'cfstage%'",
                    [],
                    |r| r.get(0),
                )
                .unwrap();
            c.execute_batch(&format!(
                "DROP TABLE {name}; DELETE FROM cf_state WHERE key LIKE 'staging:%';"
            ))
            .unwrap();
        }
    })
    .unwrap();
    assert!(batches > 2, "{batches}");
    assert_eq!(state.as_of, tomorrow);
    assert_eq!(staging_left(&dir), (vec![], 0));
    let fresh = worklist(&mut s, &WorklistFilters::default(), tomorrow).unwrap();
    assert_eq!(fresh.metrics.patients, state.patients);
}

fn count_in(dir: &tempfile::TempDir, table: &str) -> i64 {
    let c = rusqlite::Connection::open(dir.path().join("cf.db")).unwrap();
    c.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
        .unwrap()
}

#[test]
fn patients_without_a_recent_stepdown_review_carry_a_marker() {
    let csv = "patient_id,issue_date,drug,dose,quantity,nhs_number\n\
               P1,2026-11-01,Morphine 30mg modified-release tablets,1 bd,56,9434765919\n\
               P2,2026-11-01,Morphine 30mg modified-release tablets,1 bd,56,\n\
               P3,2026-11-01,Morphine 30mg modified-release tablets,1 bd,56,\n";
    let (_d, mut s) = store();
    import(&mut s, csv.as_bytes(), "x.csv");
    let review = |s: &Store, nhs: Option<&str>, local: Option<&str>, saved: &str| {
        let c = s.conn();
        c.execute(
            "INSERT INTO patients (nhs_number, name, local_id, created_at, updated_at)
             VALUES (?1, 'A Patient', ?2, ?3, ?3)",
            rusqlite::params![nhs, local, saved],
        )
        .unwrap();
        let pid = c.last_insert_rowid();
        c.execute(
            "INSERT INTO reviews (patient_id, created_at, created_by) VALUES (?1, ?2, 'Dr A')",
            rusqlite::params![pid, saved],
        )
        .unwrap();
        let rid = c.last_insert_rowid();
        c.execute(
            "INSERT INTO review_versions (review_id, version, saved_at, reviewer, profile,
                 reference_version, patient_context, regimen, result, plan)
             VALUES (?1, 1, ?2, 'Dr A', 'uk', 'x', '{}', '{}', '{}', '{}')",
            rusqlite::params![rid, saved],
        )
        .unwrap();
    };
    // P1 reviewed 10 days ago (matched by NHS number); P2 five months ago
    // (matched by the practice identifier, in another case); P3 never.
    review(&s, Some("9434765919"), None, "2026-11-14T10:00:00.000Z");
    review(&s, None, Some("p2"), "2026-06-20T10:00:00.000Z");
    let marked = |s: &mut Store| -> Vec<String> {
        all(s)
            .patients
            .into_iter()
            .filter(|p| p.markers.contains(&Marker::NoRecentReview))
            .map(|p| p.patient_id)
            .collect()
    };
    assert_eq!(marked(&mut s), ["P2", "P3"]);
    let filtered = worklist(
        &mut s,
        &WorklistFilters {
            markers: vec![Marker::NoRecentReview],
            ..WorklistFilters::default()
        },
        today(),
    )
    .unwrap();
    let ids: Vec<&str> = filtered
        .patients
        .iter()
        .map(|p| p.patient_id.as_str())
        .collect();
    assert_eq!(ids, ["P2", "P3"]);
    assert_eq!(filtered.metrics.matching, 2);
    // A review saved for P3 today takes it off at once (the cache notices).
    review(&s, None, Some("P3"), "2026-11-24T08:00:00.000Z");
    assert_eq!(marked(&mut s), ["P2"]);
    // "Today" is a parameter: three months on, P1's review is no longer recent.
    let later = NaiveDate::from_ymd_opt(2027, 2, 20).unwrap();
    let year = WorklistFilters {
        window_days: Some(365),
        ..WorklistFilters::default()
    };
    let list = worklist(&mut s, &year, later).unwrap();
    let p1 = list.patients.iter().find(|p| p.patient_id == "P1").unwrap();
    assert!(p1.markers.contains(&Marker::NoRecentReview));
}

/// Issue 20: the desktop's import (the file's bytes through `import_csv`) was
/// not held to max_extract_bytes, only the CLI's file. The cap is checked in
/// the one core call both use, before anything is read or stored.
#[test]
fn an_extract_over_the_byte_cap_is_refused_before_anything_is_stored() {
    let (bytes, _) = extract(300, 5);
    let (_d, mut s) = store();
    let cap = bytes.len() as u64 - 1;
    let mut phases = Vec::new();
    let e = import_tuned(
        &mut s,
        &bytes,
        "big.csv",
        batched::Tuning {
            max_bytes: cap,
            ..batched::Tuning::default()
        },
        &mut |p| phases.push(p.phase),
    )
    .unwrap_err();
    assert!(
        matches!(e, CaseFindingError::BadFile(CsvError::TooLarge { size, cap: c }) if size == cap + 1 && c == cap),
        "{e:?}"
    );
    assert!(e.to_string().contains("the cap in limits.json"), "{e}");
    assert!(phases.is_empty(), "it started reading: {phases:?}");
    assert_eq!(count(&s, "cf_imports"), 0);
    // At the cap it imports; and the default cap is the data's.
    let ok = import_tuned(
        &mut s,
        &bytes,
        "big.csv",
        batched::Tuning {
            max_bytes: cap + 1,
            ..batched::Tuning::default()
        },
        &mut |_| {},
    )
    .unwrap();
    assert!(ok.imported > 0);
    assert_eq!(
        batched::Tuning::default().max_bytes,
        crate::limits::limits().max_extract_bytes
    );
}

/// A killed import's temporary file (patient identifiers and rows) is
/// removed by the next import; one a running import holds is kept.
/// Run once, not on both backends: the files are the process's, in the
/// shared temporary folder, and a second import at the same time removes them.
#[test]
fn a_killed_imports_temporary_file_is_removed_by_the_next_import() {
    let dir = std::env::temp_dir();
    // Process ids no system hands out, so no real import has these names.
    let stale = dir.join("stepdown-import-4000000001-7.tmp");
    let live = dir.join("stepdown-import-4000000002-7.tmp");
    std::fs::write(&stale, b"P1,2026-11-01").unwrap();
    std::fs::write(&live, b"P2,2026-11-01").unwrap();
    let held = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&live)
        .unwrap();
    held.lock().unwrap();
    let (bytes, _) = extract(200, 27);
    let (_d, mut s) = store();
    import(&mut s, &bytes, "x.csv");
    assert!(!stale.exists(), "the stale file is removed");
    assert!(live.exists(), "a file a running import holds is kept");
    drop(held);
    std::fs::remove_file(&live).unwrap();
}
