//! The clinical record through the CLI (`settings`, `patient`, `review`): a
//! review is saved from its inputs only and the core computes its figures;
//! leaflets and summaries come from a stored version; a print re-renders to
//! the hash recorded; bad input is refused by field and saves nothing.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_stepdown");

struct Store {
    _dir: tempfile::TempDir,
    db: PathBuf,
}

impl Store {
    fn new() -> Store {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = dir.path().join("stepdown.db");
        Store { _dir: dir, db }
    }

    fn dir(&self) -> &Path {
        self.db.parent().expect("db folder")
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(BIN)
            .args(args)
            .arg("--db")
            .arg(&self.db)
            .env_remove("STEPDOWN_DB")
            .output()
            .expect("run stepdown")
    }

    fn ok(&self, args: &[&str]) -> Value {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "stepdown {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout of {args:?} is not JSON ({e}): {}",
                String::from_utf8_lossy(&out.stdout)
            )
        })
    }

    /// Runs a command expected to refuse its input: exit 2, nothing on stdout.
    fn refused(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "stepdown {args:?} should refuse its input; stdout {} stderr {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.stdout.is_empty(), "nothing on stdout when refused");
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    fn write(&self, name: &str, value: &Value) -> String {
        let path = self.dir().join(name);
        std::fs::write(&path, value.to_string()).expect("write input");
        path.to_str().expect("utf-8 path").to_string()
    }

    fn audit_entries(&self) -> u64 {
        self.ok(&["audit", "verify"])["entries"]
            .as_u64()
            .expect("entries")
    }

    /// A store with practice details and one patient; returns the patient id.
    fn with_patient(&self) -> i64 {
        self.ok(&[
            "settings",
            "set",
            "--practice-name",
            "Riverside Surgery",
            "--practice-phone",
            "01234 567890",
            "--reviewer-name",
            "Ann Pharmacist",
        ]);
        self.ok(&[
            "patient",
            "add",
            "--name",
            "Jo Smith",
            "--nhs-number",
            "943 476 5919",
        ])["id"]
            .as_i64()
            .expect("patient id")
    }
}

/// MST 60 mg, `doses` a day, with a taper starting 2026-12-07; with a
/// `review_id`, a new version started from its version 1.
fn mst_review(patient_id: i64, review_id: Option<i64>, doses: u32) -> Value {
    json!({
        "patient_id": patient_id,
        "review_id": review_id,
        "base_version": review_id.map(|_| 1),
        "reviewer": "Ann Pharmacist",
        "notes": "reviewed in clinic",
        "patient": {"age": 58},
        "items": [{"drug": "morphine", "route": "oral", "release": "modified",
                   "strength_mg": 60, "units_per_dose": 1, "doses_per_day": doses}],
        "taper": {"start_date": "2026-12-07",
                  "taper": {"reduction_percent": 10, "interval_days": 14}}
    })
}

#[test]
fn a_saved_review_carries_the_figures_of_its_own_regimen() {
    let store = Store::new();
    let patient = store.with_patient();
    let first = store.write("first.json", &mst_review(patient, None, 2));
    let saved = store.ok(&["review", "save", &first]);
    assert_eq!(saved["version"], 1);
    assert_eq!(saved["total_ome_mg_per_day"], 120.0);
    assert_eq!(saved["record_format"], 2);
    let review = saved["review_id"].as_i64().expect("review id");

    // The doses changed and saved at once: the stored total is the new regimen's.
    let second = store.write("second.json", &mst_review(patient, Some(review), 4));
    let saved = store.ok(&["review", "save", &second]);
    assert_eq!(saved["version"], 2);
    assert_eq!(saved["total_ome_mg_per_day"], 240.0);

    let shown = store.ok(&["review", "show", "--review", &review.to_string()]);
    assert_eq!(shown["version"], 2);
    let text = shown.to_string();
    assert!(text.contains("\"doses_per_day\":4.0") || text.contains("\"doses_per_day\":4"));
    let old = store.ok(&[
        "review",
        "show",
        "--review",
        &review.to_string(),
        "--version",
        "1",
    ]);
    assert_eq!(
        old["version"], 1,
        "earlier versions stay as they were saved"
    );

    let history = store.ok(&["review", "history", "--patient", &patient.to_string()]);
    assert_eq!(history.as_array().map(Vec::len), Some(1));
    assert_eq!(history[0]["total_ome_mg_per_day"], 240.0);
}

#[test]
fn a_leaflet_is_printed_from_a_stored_version_and_re_renders_to_its_hash() {
    let store = Store::new();
    let patient = store.with_patient();
    let input = store.write("review.json", &mst_review(patient, None, 2));
    let review = store.ok(&["review", "save", &input])["review_id"]
        .as_i64()
        .expect("review id")
        .to_string();
    let pdf = store.dir().join("leaflet.pdf");
    let pdf_arg = pdf.to_str().expect("utf-8 path");
    let before = store.audit_entries();
    let printed = store.ok(&[
        "review",
        "leaflet",
        "--review",
        &review,
        "--version",
        "1",
        "--out",
        pdf_arg,
        "--issue-date",
        "2026-12-07",
    ]);
    let bytes = std::fs::read(&pdf).expect("leaflet written");
    assert!(bytes.starts_with(b"%PDF-"));
    assert_eq!(printed["bytes"].as_u64(), Some(bytes.len() as u64));
    assert_eq!(printed["print"]["version"], 1);
    assert_eq!(store.audit_entries(), before + 1, "the print is audited");

    let print_id = printed["print"]["id"]
        .as_i64()
        .expect("print id")
        .to_string();
    let again = store.dir().join("again.pdf");
    let check = store.ok(&[
        "review",
        "reprint",
        "--print-id",
        &print_id,
        "--out",
        again.to_str().expect("utf-8 path"),
    ]);
    assert_eq!(check["matches"], true);
    assert_eq!(check["sha256"], printed["sha256"]);
    assert_eq!(std::fs::read(&again).expect("re-render written"), bytes);

    // The file is never overwritten without --overwrite, and nothing is recorded.
    let err = store.refused(&["review", "leaflet", "--review", &review, "--out", pdf_arg]);
    assert!(err.contains("already exists"), "{err}");
    assert_eq!(std::fs::read(&pdf).expect("still there"), bytes);
    let history = store.ok(&["review", "history", "--review", &review]);
    assert_eq!(history["leaflet_prints"].as_array().map(Vec::len), Some(1));
}

#[test]
fn the_summary_for_the_record_comes_from_the_stored_version_and_is_audited() {
    let store = Store::new();
    let patient = store.with_patient();
    let input = store.write("review.json", &mst_review(patient, None, 2));
    let review = store.ok(&["review", "save", &input])["review_id"]
        .as_i64()
        .expect("review id")
        .to_string();
    let before = store.audit_entries();
    let out = store.run(&["review", "summary", "--review", &review]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Jo Smith"), "{text}");
    assert!(text.contains("943 476 5919"), "{text}");
    assert!(text.contains("Total 120 mg OME/day"), "{text}");
    assert_eq!(store.audit_entries(), before + 1, "the copy is audited");
}

#[test]
fn bad_review_input_is_refused_by_field_and_nothing_is_saved() {
    let store = Store::new();
    let patient = store.with_patient();
    let good = mst_review(patient, None, 2);
    let before = store.audit_entries();

    let mut typo = good.clone();
    typo["items"][0] = json!({"drug": "morphine", "route": "oral", "strenght_mg": 60,
                              "units_per_dose": 1, "doses_per_day": 2});
    let err = store.refused(&["review", "save", &store.write("typo.json", &typo)]);
    assert!(
        err.starts_with("items[0]: unknown field `strenght_mg`"),
        "{err}"
    );

    let mut negative = good.clone();
    negative["items"][0]["strength_mg"] = json!(-60);
    let err = store.refused(&["review", "save", &store.write("neg.json", &negative)]);
    assert!(err.contains("items[0].strength_mg"), "{err}");

    let mut no_items = good.clone();
    no_items["items"] = json!([]);
    let err = store.refused(&["review", "save", &store.write("none.json", &no_items)]);
    assert!(err.contains("items"), "{err}");

    let mut age = good.clone();
    age["patient"]["age"] = json!("old");
    let err = store.refused(&["review", "save", &store.write("age.json", &age)]);
    assert!(err.starts_with("patient:"), "{err}");

    let path = store.dir().join("broken.json");
    std::fs::write(&path, "{\"patient_id\": 1,").expect("write");
    let err = store.refused(&["review", "save", path.to_str().expect("utf-8")]);
    assert!(err.contains("invalid JSON"), "{err}");

    assert_eq!(store.audit_entries(), before, "nothing was written");
    let history = store.ok(&["review", "history", "--patient", &patient.to_string()]);
    assert_eq!(history, json!([]));
}

#[test]
fn printing_a_review_without_a_plan_or_practice_details_is_refused() {
    let store = Store::new();
    let patient = store.ok(&["patient", "add", "--name", "Sam Lee"])["id"]
        .as_i64()
        .expect("patient id");
    let mut input = mst_review(patient, None, 2);
    let review = store.ok(&["review", "save", &store.write("r.json", &input)])["review_id"]
        .as_i64()
        .expect("review id")
        .to_string();
    let out = store.dir().join("l.pdf");
    let out = out.to_str().expect("utf-8");
    let err = store.refused(&["review", "leaflet", "--review", &review, "--out", out]);
    assert!(err.contains("practice name and phone"), "{err}");

    store.ok(&[
        "settings",
        "set",
        "--practice-name",
        "Riverside Surgery",
        "--practice-phone",
        "01234 567890",
    ]);
    input["taper"] = Value::Null;
    input["review_id"] = json!(review.parse::<i64>().expect("id"));
    input["base_version"] = json!(1);
    store.ok(&["review", "save", &store.write("r2.json", &input)]);
    let err = store.refused(&["review", "leaflet", "--review", &review, "--out", out]);
    assert!(err.contains("no taper plan"), "{err}");
    assert!(!Path::new(out).exists(), "no file for a refused print");

    let err = store.refused(&["settings", "set", "--high-dose-threshold", "lots"]);
    assert!(err.starts_with("--high-dose-threshold:"), "{err}");
}

/// Issue 20: "a mistyped --db creates folders and an empty store even when
/// the command fails". `patient add` and `settings set` refused their input
/// but left the new store and its folders behind; now nothing is created
/// unless the command succeeds, and an existing store is never removed.
#[test]
fn a_refused_command_creates_no_store_and_no_folders() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("typo").join("deeper").join("s.db");
    let db_s = db.to_string_lossy().to_string();
    let run = |args: &[&str]| {
        Command::new(BIN)
            .args(args)
            .args(["--db", &db_s])
            .output()
            .expect("run")
    };
    for args in [
        vec![
            "patient",
            "add",
            "--name",
            "Alex Example",
            "--nhs-number",
            "123",
        ],
        vec!["settings", "set", "--practice-phone", "1"],
    ] {
        let o = run(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(!db.exists(), "{args:?} left a store");
        assert!(!dir.path().join("typo").exists(), "{args:?} left folders");
    }
    let o = run(&["patient", "add", "--name", "Alex Example"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(db.exists());
    let o = run(&["settings", "set", "--practice-phone", "1"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(db.exists(), "an existing store is never removed");
}
