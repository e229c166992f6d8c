//! Follow-ups and outcomes (issue 18): the hand-worked synthetic practice
//! of tests/cases/outcomes_small.json (working in outcomes_small.md) through
//! the library and through the CLI, and a follow-up's rules end to end
//! (re-plan as a new version, stale version refused, audited).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{json, Value};
use stepdown::consult;
use stepdown::followup::FollowUpInput;
use stepdown::record::ReviewInput;
use stepdown::reference::reference;
use stepdown::store::{ManualClock, OpenOptions, PatientInput, Store};

use crate::common::cli::{cases_dir, BIN};

fn case() -> Value {
    let text = std::fs::read_to_string(cases_dir().join("outcomes_small.json")).expect("case");
    serde_json::from_str(&text).expect("case JSON")
}

fn at(action: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(action["at"].as_str().expect("at"))
        .expect("at is RFC 3339")
        .with_timezone(&Utc)
}

/// Fills in the ids the case leaves out: the patient's, and for a follow-up
/// the patient's review and its current version.
fn complete_action(
    action: &Value,
    patients: &BTreeMap<String, i64>,
    reviews: &BTreeMap<String, (i64, i64)>,
) -> (String, Value) {
    let who = action["patient"].as_str().expect("patient").to_string();
    if let Some(review) = action.get("review") {
        let mut r = review.clone();
        r["patient_id"] = json!(patients[&who]);
        (who, json!({"review": r}))
    } else {
        let mut f = action["follow_up"].clone();
        let (rid, version) = reviews[&who];
        f["review_id"] = json!(rid);
        f["version"] = json!(version);
        (who, json!({"follow_up": f}))
    }
}

fn check_patients(outcomes: &Value, patients: &BTreeMap<String, i64>, expected: &Value) {
    for (who, want) in expected.as_object().expect("expected_patients") {
        let id = patients[who];
        let got = outcomes["patients"]
            .as_array()
            .expect("patients")
            .iter()
            .find(|p| p["patient_id"] == json!(id))
            .unwrap_or_else(|| panic!("no outcome for {who}"));
        for (field, value) in want.as_object().expect("fields") {
            let g = &got[field];
            let same = match (g.as_f64(), value.as_f64()) {
                (Some(a), Some(b)) => (a - b).abs() < 1e-9,
                _ => g == value,
            };
            assert!(same, "{who}.{field}: got {g}, worked by hand {value}");
        }
    }
}

fn expected_csv(case: &Value) -> String {
    case["expected_months_csv"]
        .as_array()
        .expect("csv lines")
        .iter()
        .map(|l| format!("{}\n", l.as_str().expect("line")))
        .collect()
}

fn open_at(path: &Path, now: DateTime<Utc>) -> Store {
    Store::open_with(
        path,
        OpenOptions {
            clock: Arc::new(ManualClock::fixed(now)),
            ..OpenOptions::default()
        },
    )
    .expect("open store")
}

#[test]
fn the_hand_worked_practice_through_the_library() {
    let case = case();
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("stepdown.db");
    let mut patients = BTreeMap::new();
    {
        let mut store = open_at(&db, Utc::now());
        for name in case["patients"].as_array().expect("patients") {
            let name = name.as_str().expect("name");
            let p = store
                .create_patient(
                    &PatientInput {
                        name: format!("Synthetic {name}"),
                        ..Default::default()
                    },
                    "test",
                )
                .expect("patient");
            patients.insert(name.to_string(), p.id);
        }
    }
    let mut reviews: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for action in case["actions"].as_array().expect("actions") {
        let mut store = open_at(&db, at(action));
        let (who, filled) = complete_action(action, &patients, &reviews);
        if let Some(r) = filled.get("review") {
            let input = ReviewInput::from_json(&r.to_string()).expect("review input");
            let saved = consult::save_review(&mut store, &input, reference()).expect("saved");
            reviews.insert(who, (saved.review_id, saved.version));
        } else {
            let input =
                FollowUpInput::from_json(&filled["follow_up"].to_string()).expect("follow-up");
            let saved = consult::save_follow_up(&mut store, &input, reference()).expect("saved");
            if let Some(v) = saved.replan_version {
                reviews.insert(who, (saved.review_id, v));
            }
        }
    }
    let store = open_at(&db, Utc::now());
    let today = NaiveDate::parse_from_str(case["today"].as_str().expect("today"), "%Y-%m-%d")
        .expect("date");
    let o = consult::outcomes(&store, today, reference()).expect("outcomes");
    check_patients(
        &serde_json::to_value(&o).expect("json"),
        &patients,
        &case["expected_patients"],
    );
    assert_eq!(stepdown::outcomes::months_csv(&o), expected_csv(&case));
    // A's chart: two reviews, two follow-ups and the steps of both plans, by date.
    let a = o
        .patients
        .iter()
        .find(|p| p.patient_id == patients["A"])
        .expect("A");
    let kinds = |k: stepdown::outcomes::PointKind| a.series.iter().filter(|p| p.kind == k).count();
    assert_eq!(kinds(stepdown::outcomes::PointKind::Review), 2);
    assert_eq!(kinds(stepdown::outcomes::PointKind::FollowUp), 2);
    assert!(kinds(stepdown::outcomes::PointKind::PlanStep) > 4);
    assert!(a.series.windows(2).all(|w| w[0].date <= w[1].date));
    // A's re-plan is version 2 of the same review, its plan from the follow-up date.
    let (rid, version) = reviews["A"];
    assert_eq!(version, 2);
    let v2 = store.review_version(rid, 2).expect("version 2");
    assert_eq!(v2.plan.expect("plan").start_date.to_string(), "2026-03-20");
    assert!(store
        .review_version(rid, 1)
        .expect("version 1")
        .plan
        .is_some());
    assert!(store.verify_audit_chain().expect("verify").ok);
}

/// A review corrected and saved again the same day is one medication review
/// in the GP record: its codes are entered once, from the day's last version.
#[test]
fn a_review_saved_again_the_same_day_is_coded_once() {
    let case = case();
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("stepdown.db");
    let morning = DateTime::parse_from_rfc3339("2026-01-05T10:00:00Z")
        .expect("time")
        .with_timezone(&Utc);
    let afternoon = morning + chrono::Duration::hours(5);
    let patient = open_at(&db, morning)
        .create_patient(
            &PatientInput {
                name: "Synthetic A".to_string(),
                ..Default::default()
            },
            "test",
        )
        .expect("patient");
    let first = case["actions"]
        .as_array()
        .expect("actions")
        .iter()
        .find_map(|a| a.get("review"))
        .expect("a review action");
    let mut review = first.clone();
    review["patient_id"] = json!(patient.id);
    let input = |r: &Value| ReviewInput::from_json(&r.to_string()).expect("review input");
    let v1 = consult::save_review(&mut open_at(&db, morning), &input(&review), reference())
        .expect("version 1");
    review["review_id"] = json!(v1.review_id);
    review["base_version"] = json!(1);
    let mut store = open_at(&db, afternoon);
    let v2 = consult::save_review(&mut store, &input(&review), reference()).expect("version 2");
    assert_eq!(v2.version, 2);
    let text = consult::coded_summary_for_record(&mut store, v1.review_id, 2, "test", reference())
        .expect("coded summary");
    let codes: Vec<&str> = text.lines().skip(1).take_while(|l| !l.is_empty()).collect();
    assert_eq!(
        codes,
        [
            "5 Jan 2026  182836005 |Review of medication|  review",
            "5 Jan 2026  287031000000100 |Review of opioid medication|  review",
            "5 Jan 2026  395067002 |Optimisation of drug dosage|  reduction plan from 5 Jan 2026",
        ],
        "{text}"
    );
    // A version saved on a later day is a review of its own.
    let next_day = afternoon + chrono::Duration::days(1);
    review["base_version"] = json!(2);
    let mut store = open_at(&db, next_day);
    consult::save_review(&mut store, &input(&review), reference()).expect("version 3");
    let text = consult::coded_summary_for_record(&mut store, v1.review_id, 3, "test", reference())
        .expect("coded summary");
    let reviews = text.lines().filter(|l| l.contains(" 182836005 ")).count();
    assert_eq!(reviews, 2, "{text}");
}

struct Cli {
    _dir: tempfile::TempDir,
    db: PathBuf,
}

impl Cli {
    fn run(&self, args: &[&str], now: Option<&str>) -> Output {
        let mut c = Command::new(BIN);
        c.args(args)
            .arg("--db")
            .arg(&self.db)
            .env_remove("STEPDOWN_DB");
        match now {
            Some(n) => c.env("STEPDOWN_TEST_NOW", n),
            None => c.env_remove("STEPDOWN_TEST_NOW"),
        };
        c.output().expect("run stepdown")
    }

    fn ok(&self, args: &[&str], now: Option<&str>) -> Value {
        let out = self.run(args, now);
        assert!(
            out.status.success(),
            "stepdown {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("JSON")
    }

    fn write(&self, name: &str, v: &Value) -> String {
        let p = self.db.parent().expect("dir").join(name);
        std::fs::write(&p, v.to_string()).expect("write");
        p.to_str().expect("utf-8").to_string()
    }
}

fn cli() -> Cli {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("stepdown.db");
    Cli { _dir: dir, db }
}

#[test]
fn the_hand_worked_practice_through_the_cli() {
    let case = case();
    let s = cli();
    let mut patients = BTreeMap::new();
    for name in case["patients"].as_array().expect("patients") {
        let name = name.as_str().expect("name");
        let p = s.ok(
            &["patient", "add", "--name", &format!("Synthetic {name}")],
            None,
        );
        patients.insert(name.to_string(), p["id"].as_i64().expect("id"));
    }
    let mut reviews: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for (i, action) in case["actions"]
        .as_array()
        .expect("actions")
        .iter()
        .enumerate()
    {
        let now = action["at"].as_str().expect("at");
        let (who, filled) = complete_action(action, &patients, &reviews);
        if let Some(r) = filled.get("review") {
            let file = s.write(&format!("review{i}.json"), r);
            let saved = s.ok(&["review", "save", &file], Some(now));
            reviews.insert(
                who,
                (
                    saved["review_id"].as_i64().expect("id"),
                    saved["version"].as_i64().expect("v"),
                ),
            );
        } else {
            let file = s.write(&format!("followup{i}.json"), &filled["follow_up"]);
            let saved = s.ok(&["followup", "save", &file], Some(now));
            if let Some(v) = saved["replan_version"].as_i64() {
                reviews.insert(who, (saved["review_id"].as_i64().expect("id"), v));
            }
        }
    }
    let today = case["today"].as_str().expect("today");
    let o = s.ok(&["outcomes", "--today", today], None);
    check_patients(&o, &patients, &case["expected_patients"]);
    let out = s.run(&["outcomes", "--today", today, "--csv"], None);
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), expected_csv(&case));
    let out = s.run(&["outcomes", "--today", today, "--csv", "--patients"], None);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(text.lines().count(), 5, "{text}");
    // Where A should be on the re-made plan the day after the re-plan.
    let (rid, _) = reviews["A"];
    let due = s.ok(
        &[
            "followup",
            "due",
            "--review",
            &rid.to_string(),
            "--today",
            "2026-03-21",
        ],
        None,
    );
    assert_eq!(due["version"], json!(2));
    assert_eq!(due["position"]["place"], json!("on-step"));
    assert_eq!(due["position"]["step"]["step"], json!(1));
    assert_eq!(due["position"]["total_ome_mg_per_day"], json!(30.0));
    assert_eq!(due["next_review"], json!("2026-04-17"));
    assert_eq!(due["follow_ups"].as_array().expect("list").len(), 2);
    // The leaflet is printed again for the new plan: from version 2.
    s.ok(
        &[
            "settings",
            "set",
            "--practice-name",
            "Riverside Surgery",
            "--practice-phone",
            "01234 567890",
        ],
        None,
    );
    let pdf = s.db.parent().expect("dir").join("a-v2.pdf");
    let printed = s.ok(
        &[
            "review",
            "leaflet",
            "--review",
            &rid.to_string(),
            "--out",
            pdf.to_str().expect("utf-8"),
            "--issue-date",
            "2026-03-20",
        ],
        None,
    );
    assert_eq!(printed["print"]["version"], json!(2));
    // The coded summary of version 2 for the record: A's review and its
    // plan, both follow-ups, and the re-plan (hand-worked from the case).
    let out = s.run(
        &["review", "summary", "--review", &rid.to_string(), "--coded"],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let codes: Vec<&str> = text.lines().skip(1).take_while(|l| !l.is_empty()).collect();
    assert_eq!(
        codes,
        [
            "5 Jan 2026  182836005 |Review of medication|  review",
            "5 Jan 2026  287031000000100 |Review of opioid medication|  review",
            "5 Jan 2026  395067002 |Optimisation of drug dosage|  reduction plan from 5 Jan 2026",
            "20 Feb 2026  287031000000100 |Review of opioid medication|  follow-up",
            "20 Mar 2026  287031000000100 |Review of opioid medication|  follow-up",
            "20 Mar 2026  395067002 |Optimisation of drug dosage|  new reduction plan (version 2)",
        ],
        "{text}"
    );
    assert!(
        text.contains("Follow-ups (2)"),
        "the summary text follows: {text}"
    );
    let pdf_coded = s.run(
        &[
            "review",
            "summary",
            "--review",
            &rid.to_string(),
            "--coded",
            "--format",
            "pdf",
            "--out",
            "x.pdf",
        ],
        None,
    );
    assert_eq!(pdf_coded.status.code(), Some(2), "--coded is text only");
    // The one-page report: the practice's figures, no patient named.
    let report = s.db.parent().expect("dir").join("report.pdf");
    let r = s.ok(
        &[
            "outcomes",
            "--today",
            today,
            "--out",
            report.to_str().expect("utf-8"),
        ],
        None,
    );
    assert_eq!(r["pages"], json!(1), "{r}");
    let text = Command::new("pdftotext")
        .arg("-layout")
        .arg(&report)
        .arg("-")
        .output()
        .expect("pdftotext");
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("Riverside Surgery"), "{text}");
    assert!(text.contains("Opioid reduction outcomes"), "{text}");
    assert!(!text.contains("Synthetic"), "no patient is named: {text}");
    let again = s.run(
        &["outcomes", "--out", report.to_str().expect("utf-8")],
        None,
    );
    assert_eq!(again.status.code(), Some(2), "an existing file is kept");
    let verify = s.ok(&["audit", "verify"], None);
    assert_eq!(verify["ok"], json!(true), "{verify}");
}

#[test]
fn a_follow_up_of_an_old_version_or_with_bad_fields_is_refused_and_saves_nothing() {
    let s = cli();
    let now = Some("2026-05-01T09:00:00Z");
    let pid = s.ok(&["patient", "add", "--name", "Synthetic E"], None)["id"]
        .as_i64()
        .expect("id");
    let review = json!({"patient_id": pid, "reviewer": "Ann Pharmacist",
        "items": [{"drug": "morphine", "route": "oral", "release": "modified", "form": "tablet",
                   "strength_mg": 30, "units_per_dose": 1, "doses_per_day": 2}],
        "taper": {"start_date": "2026-05-04"}});
    let file = s.write("r.json", &review);
    let rid = s.ok(&["review", "save", &file], now)["review_id"]
        .as_i64()
        .expect("id");
    let entries = |s: &Cli| s.ok(&["audit", "verify"], None)["entries"].as_u64();
    let before = entries(&s);
    let bad = json!({"review_id": rid, "version": 1, "date": "2026-06-01", "reviewer": "Ann Pharmacist",
        "actual": {"status": "different-dose", "items": [{"drug": "morphine", "route": "oral",
            "release": "modified", "form": "tablet", "strength_mg": -30, "units_per_dose": 1, "doses_per_day": 2}]},
        "peg": {"pain": 12, "enjoyment": 1, "activity": 1},
        "decision": "replan"});
    let file = s.write("bad.json", &bad);
    let out = s.run(&["followup", "save", &file], now);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("peg.pain"), "{err}");
    // Fix the score: the dose problem is named under actual.items.
    let mut fixed = bad.clone();
    fixed["peg"]["pain"] = json!(6);
    let file = s.write("bad2.json", &fixed);
    let out = s.run(&["followup", "save", &file], now);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("actual.items[0].strength_mg"), "{err}");
    // On plan: saved; then the review gets version 2, and a follow-up of version 1 is refused.
    let good = json!({"review_id": rid, "version": 1, "date": "2026-06-01", "reviewer": "Ann Pharmacist",
        "actual": {"status": "on-plan"}, "decision": "continue", "sows": [0,0,0,0,0,0,0,0,0,0]});
    // Not before the review was saved.
    let mut early = good.clone();
    early["date"] = json!("2026-04-30");
    let file = s.write("early.json", &early);
    let out = s.run(&["followup", "save", &file], now);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("date"));
    // Not after today: a follow-up records what has happened (the store's clock says 1 May).
    let file = s.write("good.json", &good);
    let out = s.run(&["followup", "save", &file], now);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("date") && err.contains("after today"), "{err}");
    let now = Some("2026-06-01T09:00:00Z");
    let saved = s.ok(&["followup", "save", &file], now);
    assert_eq!(saved["record"]["expected"]["place"], json!("on-step"));
    assert_eq!(entries(&s), before.map(|n| n + 1));
    let mut v2 = review.clone();
    v2["review_id"] = json!(rid);
    v2["base_version"] = json!(1);
    let file = s.write("r2.json", &v2);
    s.ok(&["review", "save", &file], now);
    let file = s.write("good2.json", &good);
    let out = s.run(&["followup", "save", &file], now);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("version"));
    let list = s.ok(&["followup", "list", "--review", &rid.to_string()], None);
    assert_eq!(list.as_array().expect("list").len(), 1);
}
