//! Fuzzing the store's input paths: what the desktop shell passes in
//! (patients, review documents, settings, search text, as arbitrary JSON and
//! arbitrary strings) and the files the commands open (arbitrary bytes, and
//! valid stores with bytes flipped or cut off).
//!
//! Properties: nothing panics; a refused input is a user error (the kind the
//! CLI exits 2 for, with a message naming the field or the file), never a
//! database failure; refused writes change nothing; a damaged file that is
//! refused is left byte-for-byte as it was; and after every fuzzed write the
//! audit log's hash chain still verifies.
//!
//! Default case counts keep this file to a few seconds on two cores;
//! `PROPTEST_CASES=N` raises them.

use crate::fuzz_json as json;

use std::cell::RefCell;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use json::{arb_json, arb_string, cases};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::json;
use stepdown::store::{
    check_file, list_audit_file, restore_file, verify_audit_file, ManualClock, OpenOptions,
    PatientInput, ReviewInput, Settings, Store, StoreError,
};

fn options() -> OpenOptions {
    let t0: DateTime<Utc> = DateTime::parse_from_rfc3339("2026-11-24T09:00:00Z")
        .expect("valid time")
        .with_timezone(&Utc);
    OpenOptions {
        clock: Arc::new(ManualClock::stepping(t0, Duration::from_millis(10))),
        ..OpenOptions::default()
    }
}

fn runner(default_cases: u32) -> TestRunner {
    TestRunner::new(Config {
        cases: cases(default_cases),
        // These runners have no source file to keep regressions beside.
        failure_persistence: None,
        ..Config::default()
    })
}

/// A refusal must be about the input, with a message.
fn user_error(e: &StoreError) -> Result<(), TestCaseError> {
    prop_assert!(
        e.is_user_error(),
        "not a user error (the CLI would exit 1): {e:?}"
    );
    prop_assert!(!e.to_string().trim().is_empty());
    Ok(())
}

fn opt_string() -> impl Strategy<Value = Option<String>> {
    prop::option::of(prop_oneof![
        arb_string(),
        // Near-valid NHS numbers and dates.
        "[0-9 ]{8,13}",
        "(19|20)[0-9]{2}-[01][0-9]-[0-3][0-9]",
    ])
}

fn arb_patient() -> impl Strategy<Value = PatientInput> {
    (arb_string(), opt_string(), opt_string(), opt_string()).prop_map(
        |(name, nhs_number, date_of_birth, local_id)| PatientInput {
            practice: None,
            name,
            nhs_number,
            date_of_birth,
            local_id,
        },
    )
}

#[test]
fn fuzz_store_patients_are_saved_or_refused_as_user_errors() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("s.db");
    let store = RefCell::new(Store::open_with(&path, options()).expect("open"));
    let strategy = prop_oneof![
        3 => arb_patient(),
        // What the shell would deserialise from arbitrary JSON.
        1 => arb_json().prop_filter_map("not a PatientInput", |v| {
            serde_json::from_value::<PatientInput>(v).ok()
        }),
    ];
    runner(300)
        .run(&(strategy, arb_string()), |(input, actor)| {
            let mut s = store.borrow_mut();
            let before = s.counts().expect("counts");
            match s.create_patient(&input, &actor) {
                Ok(p) => {
                    prop_assert_eq!(&s.patient(p.id).expect("read back"), &p);
                    prop_assert!(!p.name.trim().is_empty());
                }
                Err(e) => {
                    user_error(&e)?;
                    prop_assert_eq!(s.counts().expect("counts"), before, "a refused save wrote");
                }
            }
            // Search with the same text: any characters; a refusal (too long)
            // is a user error.
            if let Err(e) = s.search_patients(&input.name, 50) {
                user_error(&e)?;
            }
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
    let report = store.borrow().verify_audit_chain().expect("verify");
    assert!(report.ok, "{report:?}");
}

#[test]
fn fuzz_store_reviews_are_saved_or_refused_as_user_errors() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("s.db");
    let mut s = Store::open_with(&path, options()).expect("open");
    let p = s
        .create_patient(
            &PatientInput {
                name: "Fuzz Patient".into(),
                ..PatientInput::default()
            },
            "t",
        )
        .expect("patient");
    let store = RefCell::new(s);
    let valid = json!({
        "patient_id": p.id,
        "reviewer": "Dr A",
        "items": [{"drug": "morphine", "route": "oral", "strength_mg": 10,
                   "units_per_dose": 1, "doses_per_day": 2}],
        "taper": {"start_date": "2026-12-01", "taper": {"preset": "standard"}},
    });
    let field = prop::sample::select(vec![
        "patient_id",
        "review_id",
        "reviewer",
        "notes",
        "patient",
        "items",
        "taper",
        "unknown",
    ]);
    let strategy = prop::collection::vec((field, arb_json()), 0..4);
    runner(300)
        .run(&strategy, |changes| {
            let mut doc = valid.clone();
            for (k, v) in changes {
                doc[k] = v;
            }
            let Ok(input) = serde_json::from_value::<ReviewInput>(doc) else {
                return Ok(());
            };
            let mut s = store.borrow_mut();
            let before = s.counts().expect("counts");
            // Saved from inputs: the core computes the figures, or refuses.
            match stepdown::consult::save_review(&mut s, &input, stepdown::reference::reference()) {
                Ok(r) => {
                    let stored = s.review(r.review_id).expect("saved review reads back");
                    prop_assert_eq!(stored.items, input.items);
                    prop_assert!(stored.assessment.is_some());
                }
                Err(e) => {
                    prop_assert!(
                        matches!(
                            e.code,
                            stepdown::ErrorCode::InvalidInput | stepdown::ErrorCode::NotFound
                        ),
                        "not a user error: {e:?}"
                    );
                    prop_assert!(!e.message.trim().is_empty());
                    prop_assert_eq!(s.counts().expect("counts"), before, "a refused save wrote");
                }
            }
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
    let report = store.borrow().verify_audit_chain().expect("verify");
    assert!(report.ok, "{report:?}");
}

#[test]
fn fuzz_store_settings_are_saved_or_refused_as_user_errors() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = RefCell::new(Store::open_with(dir.path().join("s.db"), options()).expect("open"));
    let typed = (
        prop::option::of(json::arb_number()),
        arb_string(),
        arb_string(),
        arb_string(),
        arb_string(),
    )
        .prop_map(|(threshold, name, phone, address, reviewer)| {
            json!({
                "high_dose_threshold_mg_per_day": threshold,
                "practice_name": name,
                "practice_phone": phone,
                "practice_address": address,
                "reviewer_name": reviewer,
            })
        });
    let strategy = prop_oneof![3 => typed, 1 => arb_json()];
    runner(200)
        .run(&strategy, |v| {
            let Ok(settings) = serde_json::from_value::<Settings>(v) else {
                return Ok(());
            };
            let mut s = store.borrow_mut();
            let before = s.settings().expect("settings");
            match s.update_settings(&settings, "t") {
                Ok(saved) => prop_assert_eq!(s.settings().expect("settings"), saved),
                Err(e) => {
                    user_error(&e)?;
                    prop_assert_eq!(s.settings().expect("settings"), before);
                }
            }
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(store.borrow().verify_audit_chain().expect("verify").ok);
}

/// A small valid store, closed, as bytes.
fn valid_store_bytes(dir: &Path) -> Vec<u8> {
    let path = dir.join("valid.db");
    {
        let mut s = Store::open_with(&path, options()).expect("open");
        for i in 0..3 {
            let p = s
                .create_patient(
                    &PatientInput {
                        name: format!("Patient {i}"),
                        ..PatientInput::default()
                    },
                    "t",
                )
                .expect("patient");
            let input: ReviewInput = serde_json::from_value(json!({
                "patient_id": p.id, "reviewer": "Dr A", "notes": "n",
                "items": [{"drug": "morphine", "route": "oral", "release": "modified",
                           "strength_mg": 10, "units_per_dose": 1, "doses_per_day": 2}]
            }))
            .expect("input");
            stepdown::consult::save_review(&mut s, &input, stepdown::reference::reference())
                .expect("review");
        }
    }
    std::fs::read(&path).expect("read store")
}

#[derive(Debug, Clone)]
enum FileDamage {
    Random(Vec<u8>),
    Flip(Vec<(usize, u8)>),
    Truncate(usize),
}

#[test]
fn fuzz_store_files_with_arbitrary_or_damaged_bytes_are_refused_safely() {
    let dir = tempfile::tempdir().expect("temp dir");
    let valid = valid_store_bytes(dir.path());
    let strategy = prop_oneof![
        1 => prop::collection::vec(any::<u8>(), 0..2048).prop_map(FileDamage::Random),
        // The SQLite header with garbage after it gets past the first checks.
        1 => prop::collection::vec(any::<u8>(), 0..4096).prop_map(|mut v| {
            let mut b = b"SQLite format 3\0".to_vec();
            b.append(&mut v);
            FileDamage::Random(b)
        }),
        4 => prop::collection::vec((any::<usize>(), 1u8..=255), 1..16).prop_map(FileDamage::Flip),
        1 => any::<usize>().prop_map(FileDamage::Truncate),
    ];
    let n = std::cell::Cell::new(0u32);
    runner(200)
        .run(&strategy, |d| {
            let bytes = match d {
                FileDamage::Random(b) => b,
                FileDamage::Flip(flips) => {
                    let mut b = valid.clone();
                    for (at, x) in flips {
                        let i = at % b.len();
                        b[i] ^= x;
                    }
                    b
                }
                FileDamage::Truncate(at) => valid[..at % valid.len()].to_vec(),
            };
            n.set(n.get() + 1);
            let case = dir.path().join(format!("case{}", n.get()));
            std::fs::create_dir(&case).expect("case dir");
            let path = case.join("s.db");
            std::fs::write(&path, &bytes).expect("write case");

            // Read-only paths: a report or an error, never a panic.
            let _ = check_file(&path);
            if let Err(e) = verify_audit_file(&path) {
                prop_assert!(!e.to_string().is_empty());
            }
            let _ = list_audit_file(&path, 10);
            prop_assert_eq!(
                &std::fs::read(&path).expect("read"),
                &bytes,
                "an inspection changed the file"
            );

            // Restoring from it: refused with a reason, or a sound store.
            let target = case.join("target.db");
            match restore_file(&target, &path, options(), "t") {
                Ok(_) => prop_assert!(check_file(&target).expect("check").ok),
                Err(e) => prop_assert!(!e.to_string().is_empty()),
            }

            // Opening it for use: refused files are left exactly as they were.
            match Store::open_with(
                &path,
                OpenOptions {
                    create: false,
                    ..options()
                },
            ) {
                Ok(s) => {
                    let _ = s.check();
                    let _ = s.verify_audit_chain();
                }
                Err(e) => {
                    prop_assert!(!e.to_string().is_empty());
                    prop_assert_eq!(
                        &std::fs::read(&path).expect("read"),
                        &bytes,
                        "a refused file was changed"
                    );
                }
            }
            std::fs::remove_dir_all(&case).expect("clean up");
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
}
