//! Issue 20, the importer: a stray quote cannot swallow an extract, two
//! imports of one file at once agree that it is "already imported", and a
//! failed import leaves no store behind a mistyped `--db`.

use std::path::Path;
use std::process::Command;

use chrono::NaiveDate;
use serde_json::Value;
use stepdown::casefinding::{import_csv, ImportOptions};
use stepdown::import::csv::ColumnMap;
use stepdown::Store;

const BIN: &str = env!("CARGO_BIN_EXE_stepdown");

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 24).expect("date")
}

fn options() -> ImportOptions {
    ImportOptions {
        practice: None,
        file_name: "extract.csv".into(),
        today: today(),
        list_size: None,
        column_map: ColumnMap::default(),
        window_days: None,
        actor: Some("Test".into()),
        exclusions: Vec::new(),
    }
}

/// `rows` data rows; the one at `stray_line` (a physical line, from 2) has an
/// unterminated quote in its dose.
fn extract(rows: usize, stray_line: Option<usize>) -> String {
    let mut text = String::from("patient_id,issue_date,drug,dose,quantity\n");
    for i in 0..rows {
        let line = i + 2;
        let dose = if Some(line) == stray_line {
            "\"1 tablet twice a day"
        } else {
            "1 tablet twice a day"
        };
        text.push_str(&format!(
            "P{i},2026-11-01,Morphine sulfate 10mg modified-release tablets,{dose},56\n"
        ));
    }
    text
}

fn run(args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .env_remove("STEPDOWN_DB")
        .output()
        .expect("run stepdown")
}

fn p(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

/// Issue 20 item 1: "A 1,001-line extract reports rows_read 1, imported 0
/// and exits 0." Every physical line is now read or reported.
#[test]
fn a_stray_quote_costs_only_its_own_row() {
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("extract.csv");
    std::fs::write(&file, extract(1000, Some(2))).expect("write");
    let db = dir.path().join("s.db");
    let out = run(&["import", p(&file), "--db", p(&db), "--today", "2026-11-24"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(report["rows_read"], 1000, "every data line counted");
    assert_eq!(report["imported"], 999);
    assert_eq!(report["not_understood_count"], 1);
    let problem = &report["not_understood"][0];
    assert_eq!(problem["line"], 2);
    assert_eq!(problem["column"], "dose");
    assert!(
        problem["reason"]
            .as_str()
            .expect("reason")
            .contains("quote"),
        "{problem}"
    );
}

/// Issue 20: two imports of the same file at once gave a raw SQLite
/// constraint error. The second to reach the write lock now finds the first
/// inside its own transaction. The race is made certain here: while the
/// first import is reading (after its early check), a second handle on the
/// same store imports the same file.
#[test]
fn the_same_file_imported_twice_at_once_is_already_imported() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("s.db");
    let bytes = extract(50, None).into_bytes();
    let mut first = Store::open(&db).expect("open");
    let mut second = Store::open(&db).expect("open");
    let mut raced = None;
    let report = import_csv(&mut first, &bytes, &options(), &mut |_| {
        if raced.is_none() {
            raced = Some(
                import_csv(&mut second, &bytes, &options(), &mut |_| {}).expect("second import"),
            );
        }
    })
    .expect("the first import reports, not fails");
    let raced = raced.expect("the race ran");
    assert!(!raced.already_imported);
    assert_eq!(raced.imported, 50);
    assert!(report.already_imported, "{report:?}");
    assert_eq!(report.import_id, raced.import_id);
    assert_eq!(report.imported, 0);
}

/// Issue 20: "a mistyped --db creates folders and an empty store even when
/// the import fails".
#[test]
fn a_failed_import_creates_no_store_and_no_folders() {
    let dir = tempfile::tempdir().expect("dir");
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "no,columns,we,know\n1,2,3,4\n").expect("write");
    let db = dir.path().join("typo").join("deeper").join("s.db");
    let out = run(&["import", p(&bad), "--db", p(&db), "--today", "2026-11-24"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!db.exists());
    assert!(!dir.path().join("typo").exists(), "folders left behind");
    // A missing input file, likewise.
    let out = run(&["import", p(&dir.path().join("nope.csv")), "--db", p(&db)]);
    assert_eq!(out.status.code(), Some(2));
    assert!(!dir.path().join("typo").exists());
    // A good import still creates the store.
    let good = dir.path().join("good.csv");
    std::fs::write(&good, extract(3, None)).expect("write");
    let out = run(&["import", p(&good), "--db", p(&db), "--today", "2026-11-24"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(db.exists());
    // A failed import into an existing store leaves it in place.
    let out = run(&["import", p(&bad), "--db", p(&db), "--today", "2026-11-24"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(db.exists());
}
