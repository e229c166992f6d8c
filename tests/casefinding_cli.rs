//! Drives `stepdown import`, `worklist` and `figures` through the built
//! binary: the hand-counted extract in tests/cases/extract_small.csv (the
//! count is in extract_small.md beside it), the report file, filters, CSV
//! figures, re-imports, and bad input (exit 2, nothing on stdout, one message).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_stepdown");
const TODAY: &str = "2026-11-24";

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("STEPDOWN_DB")
        .output()
        .expect("run stepdown")
}

fn p(path: &Path) -> &str {
    path.to_str().expect("utf-8 temp path")
}

fn small() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases/extract_small.csv")
}

fn stdout_json(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// Exit 2, nothing on stdout, one message on stderr containing `expect`.
fn assert_bad_input(out: &Output, expect: &str) {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "stderr: {err}");
    assert!(
        out.stdout.is_empty(),
        "stdout: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        err.contains(expect),
        "stderr should contain {expect:?}: {err}"
    );
    assert_eq!(err.trim_end().lines().count(), 1, "one message: {err}");
}

fn imported(dir: &Path) -> PathBuf {
    let db = dir.join("stepdown.db");
    let out = run(&[
        "import",
        p(&small()),
        "--db",
        p(&db),
        "--today",
        TODAY,
        "--list-size",
        "2000",
        "--actor",
        "PCN pharmacist",
    ]);
    stdout_json(&out);
    db
}

#[test]
fn the_small_extract_imports_with_every_refused_row_named() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("stepdown.db");
    let report_file = dir.path().join("report.json");
    let out = run(&[
        "import",
        p(&small()),
        "--db",
        p(&db),
        "--today",
        TODAY,
        "--list-size",
        "2000",
        "--report",
        p(&report_file),
    ]);
    let report = stdout_json(&out);
    assert_eq!(report["rows_read"], 19);
    assert_eq!(report["imported"], 17);
    assert_eq!(report["duplicates"], 0);
    assert_eq!(report["not_understood_count"], 2);
    assert_eq!(report["opioid_rows"], 15);
    assert_eq!(report["co_medication_rows"], 2);
    assert_eq!(report["instructions_not_read"], 2);
    assert_eq!(report["patients_in_file"], 7);
    assert_eq!(report["patients_on_worklist"], 7);
    assert_eq!(report["patients_estimated"], 1);
    assert_eq!(report["encoding"], "utf-8");
    let refused: Vec<(u64, &str)> = report["not_understood"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["line"].as_u64().unwrap(), r["column"].as_str().unwrap()))
        .collect();
    assert_eq!(refused, [(18, "drug"), (19, "issue_date")]);
    assert!(report["not_understood"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("Amoxicillin"));
    // The report file holds the same report.
    let file: Value =
        serde_json::from_str(&std::fs::read_to_string(&report_file).unwrap()).unwrap();
    assert_eq!(file, report);

    // Importing the same file again changes nothing.
    let again = stdout_json(&run(&[
        "import",
        p(&small()),
        "--db",
        p(&db),
        "--today",
        TODAY,
    ]));
    assert_eq!(again["already_imported"], true);
    assert_eq!(again["imported"], 0);
    assert_eq!(again["duplicates"], 17);
}

#[test]
fn the_worklist_matches_the_hand_count() {
    let dir = tempfile::tempdir().unwrap();
    let db = imported(dir.path());
    let list = stdout_json(&run(&["worklist", "--db", p(&db), "--today", TODAY]));
    let patients = list["patients"].as_array().unwrap();
    let mut ome: Vec<(&str, f64)> = patients
        .iter()
        .map(|x| {
            (
                x["patient_id"].as_str().unwrap(),
                x["ome_mg_per_day"].as_f64().unwrap(),
            )
        })
        .collect();
    ome.sort_by(|a, b| a.0.cmp(b.0));
    assert_eq!(
        ome,
        [
            ("P01", 120.0),
            ("P02", 24.0),
            ("P03", 100.0),
            ("P04", 120.0),
            ("P05", 40.0),
            ("P06", 120.0),
            ("P08", 24.0)
        ]
    );
    // Ranked: the four at or above the high-dose threshold first.
    let top: Vec<&str> = patients[..4]
        .iter()
        .map(|x| x["patient_id"].as_str().unwrap())
        .collect();
    for id in ["P01", "P03", "P04", "P06"] {
        assert!(top.contains(&id), "{id} in {top:?}");
    }
    let m = &list["metrics"];
    assert_eq!(m["patients"], 7);
    assert_eq!(m["at_or_above"][0]["mg_per_day"], 90.0);
    assert_eq!(m["at_or_above"][0]["patients"], 4);
    assert_eq!(m["at_or_above"][1]["mg_per_day"], 120.0);
    assert_eq!(m["at_or_above"][1]["patients"], 3);
    assert_eq!(m["benzodiazepine"], 1);
    assert_eq!(m["gabapentinoid"], 1);
    assert_eq!(m["estimated"], 1);

    // The estimate is marked, with its method.
    let p06 = patients.iter().find(|x| x["patient_id"] == "P06").unwrap();
    assert_eq!(p06["estimated"], true);
    let item = &p06["items"][0];
    assert_eq!(item["estimated"], true);
    let how = item["estimate"].as_str().unwrap();
    assert!(how.contains("112 tablets or capsules"), "{how}");
    assert!(how.contains("28 days"), "{how}");
    assert_eq!(item["item"]["units_per_dose"], 4.0);
    // Flags are ids; P01 has the benzodiazepine and older-adult ones.
    let p01 = patients.iter().find(|x| x["patient_id"] == "P01").unwrap();
    let flags: Vec<&str> = p01["flags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    for f in ["high-dose", "benzodiazepine", "older-adult"] {
        assert!(flags.contains(&f), "{f} in {flags:?}");
    }
    assert_eq!(p01["nhs_number"], "9434765919");
    assert_eq!(p01["patient"]["co_medications"][0], "diazepam");
    assert_eq!(p01["trend"].as_array().unwrap().len(), 12);
    assert_eq!(p01["trend"][11]["month"], "2026-11");
    assert_eq!(p01["trend"][11]["ome_mg_per_day"], 120.0);
    assert_eq!(p01["trend"][10]["ome_mg_per_day"], 120.0);
    assert_eq!(p01["trend"][7]["ome_mg_per_day"], 0.0);
}

#[test]
fn worklist_filters_on_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let db = imported(dir.path());
    let ids = |args: &[&str]| -> Vec<String> {
        let mut all = vec!["worklist", "--db", p(&db), "--today", TODAY];
        all.extend_from_slice(args);
        let list = stdout_json(&run(&all));
        let mut v: Vec<String> = list["patients"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["patient_id"].as_str().unwrap().to_string())
            .collect();
        v.sort();
        v
    };
    assert_eq!(ids(&["--min-ome", "120"]), ["P01", "P04", "P06"]);
    assert_eq!(ids(&["--min-ome", "90"]), ["P01", "P03", "P04", "P06"]);
    assert_eq!(ids(&["--benzodiazepine"]), ["P01"]);
    assert_eq!(ids(&["--gabapentinoid"]), ["P04"]);
    assert_eq!(ids(&["--estimates-only"]), ["P06"]);
    assert_eq!(ids(&["--limit", "2"]).len(), 2);
    assert_bad_input(
        &run(&[
            "worklist",
            "--db",
            p(&db),
            "--today",
            TODAY,
            "--min-ome",
            "-5",
        ]),
        "min_ome: must be 0 or more",
    );
}

#[test]
fn the_figures_match_the_hand_count() {
    let dir = tempfile::tempdir().unwrap();
    let db = imported(dir.path());
    let f = stdout_json(&run(&["figures", "--db", p(&db), "--today", TODAY]));
    assert_eq!(f["list_size"], 2000);
    let thresholds: Vec<f64> = f["thresholds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["mg_per_day"].as_f64().unwrap())
        .collect();
    assert_eq!(thresholds, [90.0, 120.0]);
    // (month, people, items, [people, items, people/1000, items/1000] at 90 and at 120), from extract_small.md.
    type Row = (&'static str, u64, u64, [(u64, u64, f64, f64); 2], f64);
    let want: [Row; 3] = [
        ("2026-09", 5, 6, [(2, 3, 1.0, 1.5), (2, 3, 1.0, 1.5)], 2.5),
        ("2026-10", 4, 5, [(3, 4, 1.5, 2.0), (3, 4, 1.5, 2.0)], 2.0),
        ("2026-11", 3, 4, [(1, 2, 0.5, 1.0), (0, 0, 0.0, 0.0)], 1.5),
    ];
    let months = f["months"].as_array().unwrap();
    assert_eq!(months.len(), 3);
    for (m, (month, people, items, at, per_1000)) in months.iter().zip(want) {
        assert_eq!(m["month"], month);
        assert_eq!(m["people_prescribed_opioids"], people, "{month}");
        assert_eq!(m["opioid_items"], items, "{month}");
        assert_eq!(m["people_per_1000"], per_1000, "{month}");
        for (k, (p, i, pp, ip)) in at.iter().enumerate() {
            let a = &m["at_or_above"][k];
            assert_eq!(a["people"], *p, "{month} {k}");
            assert_eq!(a["items"], *i, "{month} {k}");
            assert_eq!(a["people_per_1000"], *pp, "{month} {k}");
            assert_eq!(a["items_per_1000"], *ip, "{month} {k}");
        }
    }
    assert_eq!(months[2]["as_of"], TODAY);

    let out = run(&[
        "figures",
        "--db",
        p(&db),
        "--today",
        TODAY,
        "--format",
        "csv",
    ]);
    assert!(out.status.success());
    let csv = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "month,as_of,people_prescribed_opioids,opioid_items,people_prescribed_opioids_per_1000,\
         people_ome_ge_90,items_ome_ge_90,people_ome_ge_90_per_1000,items_ome_ge_90_per_1000,\
         people_ome_ge_120,items_ome_ge_120,people_ome_ge_120_per_1000,items_ome_ge_120_per_1000"
    );
    assert_eq!(lines[1], "2026-09,2026-09-30,5,6,2.5,2,3,1,1.5,2,3,1,1.5");
    assert_eq!(lines[3], "2026-11,2026-11-24,3,4,1.5,1,2,0.5,1,0,0,0,0");
}

#[test]
fn other_exports_import_with_a_column_map() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("emis.csv");
    std::fs::write(
        &csv,
        "\u{feff}Patient No,Date,Medication,Directions,Qty\r\n\
         A1,01/11/2026,Fentanyl 25micrograms/hour transdermal patches,apply one patch every 72 hours,10\r\n",
    )
    .unwrap();
    let db = dir.path().join("s.db");
    let map = "patient_id=Patient No,issue_date=Date,drug=Medication,dose=Directions,quantity=Qty";
    let report = stdout_json(&run(&[
        "import",
        p(&csv),
        "--db",
        p(&db),
        "--map",
        map,
        "--today",
        TODAY,
    ]));
    assert_eq!(report["imported"], 1);
    assert_eq!(report["encoding"], "utf-8 with BOM");
    let list = stdout_json(&run(&["worklist", "--db", p(&db), "--today", TODAY]));
    assert_eq!(list["patients"][0]["ome_mg_per_day"], 60.0);
}

/// The generated SystmOne Strategic Reporting sample (tests/cases, written by
/// `gen_extract --shape systmone-sr`) imports with `--preset systmone-sr`;
/// without it its columns are not found.
#[test]
fn a_systmone_export_imports_with_its_preset() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases/extract_systmone_sr.csv");
    assert_bad_input(
        &run(&["import", p(&sample), "--db", p(&db), "--today", TODAY]),
        "missing columns patient_id, issue_date, drug, dose, quantity",
    );
    assert_bad_input(
        &run(&["import", p(&sample), "--db", p(&db), "--preset", "emis"]),
        "--preset: there is no preset 'emis' (presets: systmone-sr, emis-web)",
    );
    let report = import_sample_with_preset(&db, &sample, "systmone-sr");
    assert_eq!(report["patients_on_worklist"], 49);
    let list = stdout_json(&run(&["worklist", "--db", p(&db), "--today", TODAY]));
    assert_eq!(list["patients"].as_array().unwrap().len(), 49);
    assert!(list["patients"][0]["ome_mg_per_day"].as_f64().unwrap() > 0.0);
    // The store is as Stepdown made it (the worklist cache swapped in from
    // its staging table is the same table).
    assert_check_ok(&db);
}

/// A generated sample of 400 rows (tests/cases) imported with `preset`:
/// the generator's one malformed row named at its line, everything else
/// stored. Returns the import's report.
fn import_sample_with_preset(db: &Path, sample: &Path, preset: &str) -> Value {
    let report = stdout_json(&run(&[
        "import",
        p(sample),
        "--db",
        p(db),
        "--preset",
        preset,
        "--today",
        TODAY,
    ]));
    assert_eq!(report["rows_read"], 400);
    assert_eq!(report["not_understood_count"], 1);
    assert_eq!(
        report["imported"].as_u64().unwrap() + report["duplicates"].as_u64().unwrap(),
        399
    );
    report
}

/// `stepdown check` finds the store sound.
fn assert_check_ok(db: &Path) {
    let check = stdout_json(&run(&["check", "--db", p(db)]));
    assert_eq!(check["ok"], true, "{check}");
}

/// The generated sample of Stepdown's EMIS Web list report (tests/cases,
/// written by `gen_extract --shape emis-web`) imports with `--preset emis-web`,
/// its title line named in the warnings; without the preset its columns are
/// not found.
#[test]
fn an_emis_web_export_imports_with_its_preset() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases/extract_emis_web.csv");
    assert_bad_input(
        &run(&["import", p(&sample), "--db", p(&db), "--today", TODAY]),
        "line 3 (header): missing columns patient_id, dose",
    );
    let report = import_sample_with_preset(&db, &sample, "emis-web");
    let warnings = report["warnings"].as_array().unwrap();
    assert!(
        warnings
            .iter()
            .any(|w| w["line"] == 1 && w["reason"].as_str().unwrap().contains("above the header")),
        "{report}"
    );
    let on_list = report["patients_on_worklist"].as_u64().unwrap();
    assert!(on_list > 0);
    let list = stdout_json(&run(&["worklist", "--db", p(&db), "--today", TODAY]));
    assert_eq!(list["patients"].as_array().unwrap().len() as u64, on_list);
    // NHS numbers written with spaces are read.
    assert!(
        list["patients"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["nhs_number"].is_string()),
        "{list}"
    );
    assert_check_ok(&db);
}

#[test]
fn bad_files_and_options_exit_2_with_one_message() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    let csv = dir.path().join("no-dose.csv");
    std::fs::write(
        &csv,
        "patient_id,issue_date,drug,quantity\nP1,2026-11-01,Morphine 10mg tablets,56\n",
    )
    .unwrap();
    assert_bad_input(
        &run(&["import", p(&csv), "--db", p(&db), "--today", TODAY]),
        "no-dose.csv: line 1 (header): missing column dose",
    );
    assert_bad_input(
        &run(&["import", p(&dir.path().join("missing.csv")), "--db", p(&db)]),
        "missing.csv: could not read the file",
    );
    assert_bad_input(
        &run(&[
            "import",
            p(&small()),
            "--db",
            p(&db),
            "--map",
            "patient=Patient",
        ]),
        "--map: 'patient' is not a column",
    );
    assert_bad_input(
        &run(&[
            "import",
            p(&small()),
            "--db",
            p(&db),
            "--list-size",
            "0",
            "--today",
            TODAY,
        ]),
        "list_size: must be at least 1",
    );
    assert_bad_input(
        &run(&[
            "import",
            p(&small()),
            "--db",
            p(&db),
            "--report",
            p(&dir.path().join("no/such/dir/r.json")),
        ]),
        "--report",
    );
    assert_bad_input(
        &run(&["worklist", "--db", p(&dir.path().join("none.db"))]),
        "no such file",
    );
    // Nothing was imported by any of these.
    let out = run(&["import", p(&small()), "--db", p(&db), "--today", TODAY]);
    assert_eq!(stdout_json(&out)["imported"], 17);
}

#[test]
fn worklist_shows_both_figures_and_markers_filters_by_marker_and_imports_exclusions() {
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("exclusions.csv");
    std::fs::write(&list, "patient_id,reason\nP01,palliative care register\n").unwrap();
    let db = dir.path().join("stepdown.db");
    let out = run(&[
        "import",
        p(&small()),
        "--db",
        p(&db),
        "--today",
        TODAY,
        "--exclusions",
        p(&list),
    ]);
    stdout_json(&out);
    let all = stdout_json(&run(&["worklist", "--db", p(&db), "--today", TODAY]));
    let patients = all["patients"].as_array().unwrap();
    assert!(patients.iter().all(|x| x["patient_id"] != "P01"));
    assert_eq!(
        all["metrics"]["excluded"],
        serde_json::json!([{"reason": "palliative care register", "patients": 1}])
    );
    for x in patients {
        assert!(x.get("supply_ome_mg_per_day").is_some(), "{x}");
        assert!(x["markers"].is_array(), "{x}");
        assert!(x["figures_differ"].is_boolean(), "{x}");
    }
    let unclear = stdout_json(&run(&[
        "worklist",
        "--db",
        p(&db),
        "--today",
        TODAY,
        "--marker",
        "unclear-directions",
    ]));
    for x in unclear["patients"].as_array().unwrap() {
        assert!(
            x["markers"]
                .as_array()
                .unwrap()
                .contains(&"unclear-directions".into()),
            "{x}"
        );
    }
    assert_bad_input(
        &run(&[
            "worklist",
            "--db",
            p(&db),
            "--today",
            TODAY,
            "--marker",
            "nope",
        ]),
        "--marker: unknown marker 'nope'",
    );
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, ",no id\n").unwrap();
    assert_bad_input(
        &run(&[
            "import",
            p(&small()),
            "--db",
            p(&dir.path().join("other.db")),
            "--today",
            TODAY,
            "--exclusions",
            p(&bad),
        ]),
        "no patient identifier",
    );
}

/// `stepdown import` killed (SIGKILL) while it stores, at varied moments:
/// nothing of it is ever shown, the store stays sound, and a second import
/// straight after is refused as "under way" rather than mixing with it
/// (the next import removes it once its heartbeat is two minutes old, tested
/// in the library with a stepping clock). An import that finished before its
/// kill shows whole.
#[test]
fn an_import_killed_while_it_stores_shows_nothing_and_leaves_the_store_sound() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("big.csv");
    let mut text = String::from("patient_id,issue_date,drug,dose,quantity\n");
    for i in 0..120_000u32 {
        let day = 1 + i % 28;
        text.push_str(&format!(
            "P{:05},2026-10-{day:02},Morphine 10mg modified-release tablets,1 bd,56\n",
            i % 15_000
        ));
    }
    std::fs::write(&csv, text).unwrap();
    let count = |db: &Path, sql: &str| -> i64 {
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .and_then(|c| c.query_row(sql, [], |r| r.get(0)))
            .unwrap_or(0)
    };
    let mut killed_while_storing = 0;
    for attempt in 0..6u64 {
        let db = dir.path().join(format!("s{attempt}.db"));
        let mut child = Command::new(BIN)
            .args(["import", p(&csv), "--db", p(&db), "--today", TODAY])
            .env_remove("STEPDOWN_DB")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // Wait until rows are being stored (or it finished), then a little more.
        while count(&db, "SELECT count(*) FROM cf_issues") == 0
            && child.try_wait().unwrap().is_none()
        {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        std::thread::sleep(std::time::Duration::from_millis(attempt * 40));
        let _ = child.kill(); // SIGKILL on Unix
        let status = child.wait().unwrap();
        let published = count(&db, "SELECT count(*) FROM cf_imports WHERE published = 1");
        let list = stdout_json(&run(&["worklist", "--db", p(&db), "--today", TODAY]));
        let shown = list["patients"].as_array().unwrap().len();
        if published == 0 {
            killed_while_storing += 1;
            assert!(status.code().is_none(), "killed, not finished: {status}");
            assert_eq!(
                shown, 0,
                "attempt {attempt}: an unfinished import shows nothing"
            );
            let again = run(&["import", p(&csv), "--db", p(&db), "--today", TODAY]);
            assert_eq!(again.status.code(), Some(1), "attempt {attempt}");
            let said = String::from_utf8_lossy(&again.stderr);
            assert!(said.contains("under way"), "{said}");
            assert!(!said.contains("internal error"), "{said}");
        } else {
            assert_eq!(
                shown, 15_000,
                "attempt {attempt}: a finished import shows whole"
            );
        }
        let check = stdout_json(&run(&["check", "--db", p(&db)]));
        assert_eq!(check["ok"], true, "attempt {attempt}: {check}");
    }
    assert!(killed_while_storing > 0, "no import was killed part-way");
}

/// A case-finding table dropped outside Stepdown: the worklist and the
/// figures say the store is missing part of its structure and point at
/// `stepdown check` (exit 1), not "internal error: no such table" (issue 16).
#[test]
fn a_dropped_case_finding_table_points_at_check() {
    for table in ["cf_patients", "cf_issues", "cf_imports"] {
        let dir = tempfile::tempdir().unwrap();
        let db = imported(dir.path());
        rusqlite::Connection::open(&db)
            .unwrap()
            .execute_batch(&format!("DROP TABLE {table};"))
            .unwrap();
        for args in [
            vec!["worklist", "--db", p(&db), "--today", TODAY],
            vec!["figures", "--db", p(&db), "--today", TODAY],
        ] {
            let out = run(&args);
            let err = String::from_utf8_lossy(&out.stderr);
            if args[0] == "figures" && out.status.success() {
                // The figures may not read this table: then they still work.
                continue;
            }
            assert_eq!(out.status.code(), Some(1), "{table} {args:?}: {err}");
            assert!(out.stdout.is_empty(), "{table} {args:?}");
            assert!(
                !err.contains("internal error")
                    && err.contains(&format!("no such table: {table}"))
                    && err.contains("run `stepdown check`"),
                "{table} {args:?}: {err}"
            );
        }
        // check names the missing table.
        let out = run(&["check", "--db", p(&db), "--format", "text"]);
        assert_eq!(out.status.code(), Some(1));
        assert!(
            String::from_utf8_lossy(&out.stdout).contains(&format!("table {table} is missing")),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
}

/// `args` with `--practice A81001` added: refused (exit 2, one message
/// containing `expect`).
fn assert_practice_refused(args: &[&str], expect: &str) {
    let mut args = args.to_vec();
    args.extend(["--practice", "A81001"]);
    assert_bad_input(&run(&args), expect);
}

#[test]
fn practice_is_refused_for_a_store_on_this_computer() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("stepdown.db");
    let db = p(&db);
    let one_practice = "practice: a store on this computer holds one practice";
    assert_practice_refused(
        &["import", p(&small()), "--db", db, "--today", TODAY],
        one_practice,
    );
    assert_practice_refused(
        &["patient", "add", "--db", db, "--name", "Jo"],
        one_practice,
    );
    // Without it, as ever; then the worklist and figures refuse it too.
    stdout_json(&run(&["import", p(&small()), "--db", db, "--today", TODAY]));
    for command in ["worklist", "figures"] {
        assert_practice_refused(
            &[command, "--db", db, "--today", TODAY],
            "holds one practice",
        );
    }
}
