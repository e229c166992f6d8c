//! Concurrency that loses nothing (issue 19): version checks on review saves
//! with the drafts they keep, and worklist claims. Two seats are two
//! `Store`s open on one file, as two processes would be. Here, not beside
//! the store, because the reviews are computed by `consult` and the
//! worklist imported by `casefinding`, which sit above the store (the
//! store's own tests never name them: tests/layering.rs).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};

use stepdown::api_error::Conflict;
use stepdown::casefinding::{import_csv, worklist, ImportOptions, WorklistFilters};
use stepdown::import::csv::ColumnMap;
use stepdown::record::{ComputedReview, ReviewInput};
use stepdown::store::*;
use stepdown::ErrorCode;

use crate::store::test_pg::{self, on_both_backends};

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-12-07T09:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn seat(path: &Path) -> Store {
    Store::open_with(
        path,
        OpenOptions {
            clock: Arc::new(ManualClock::stepping(t0(), Duration::from_secs(60))),
            ..OpenOptions::default()
        },
    )
    .unwrap()
}

/// Where two seats open one store: a SQLite file in a temporary folder, or,
/// inside `on_both_backends!`'s PostgreSQL run, a team store in a schema of
/// its own (the seats sign in as its owner, who works for one practice).
fn shared_location(file: &str) -> (test_pg::TestHeld, std::path::PathBuf) {
    if test_pg::wants_pg() {
        let (schema, store) = test_pg::new_pg_store(OpenOptions::default());
        drop(store);
        let url = std::path::PathBuf::from(schema.url());
        return (test_pg::TestHeld::Schema(schema), url);
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(file);
    (test_pg::TestHeld::Dir(dir), path)
}

fn input(patient_id: i64, reviewer: &str, notes: &str, doses: f64) -> ReviewInput {
    ReviewInput {
        patient_id,
        reviewer: reviewer.into(),
        notes: notes.into(),
        items: vec![stepdown::regimen::RawItem {
            drug: Some("morphine".into()),
            route: Some("oral".into()),
            release: Some("modified".into()),
            strength_mg: Some(30.0),
            units_per_dose: Some(1.0),
            doses_per_day: Some(doses),
            ..Default::default()
        }],
        ..ReviewInput::default()
    }
}

fn compute(i: &ReviewInput) -> ComputedReview {
    stepdown::consult::compute_review(
        i,
        stepdown::Profile::Uk,
        None,
        stepdown::reference::reference(),
    )
    .unwrap()
}

/// Patient Jo, added by the clerk, and the first version of a review of
/// MST 30 mg twice a day saved by `reviewer`.
fn jo_with_a_review(s: &mut Store, reviewer: &str, notes: &str) -> (Patient, ReviewSummary) {
    let p = s
        .create_patient(
            &PatientInput {
                name: "Jo".into(),
                ..PatientInput::default()
            },
            "clerk",
        )
        .unwrap();
    let v1 = s
        .save_review(&compute(&input(p.id, reviewer, notes, 2.0)))
        .unwrap();
    (p, v1)
}

/// The audit log's summaries as the seat sees them, oldest first.
fn audit_summaries(s: &Store) -> Vec<String> {
    let mut newest_first = s
        .audit_log(&AuditQuery {
            limit: Some(10_000),
            ..AuditQuery::default()
        })
        .unwrap();
    newest_first.reverse();
    newest_first.into_iter().map(|e| e.summary).collect()
}

/// The store's tables beside the seats, as the store's owner: the SQLite
/// file, or the team store's schema on the test cluster.
enum Raw {
    Sqlite(rusqlite::Connection),
    Pg(Box<postgres::Client>),
}

impl Raw {
    fn open(db: &Path) -> Raw {
        let at = db.to_str().expect("utf-8 store location");
        if stepdown::store::db::is_pg_url(at) {
            Raw::Pg(Box::new(
                postgres::Client::connect(at, postgres::NoTls).expect("the test cluster"),
            ))
        } else {
            Raw::Sqlite(rusqlite::Connection::open(db).expect("the store file"))
        }
    }

    fn execute(&mut self, sql: &str) {
        match self {
            Raw::Sqlite(c) => c
                .execute_batch(sql)
                .unwrap_or_else(|e| panic!("{sql}: {e}")),
            Raw::Pg(c) => c
                .batch_execute(sql)
                .unwrap_or_else(|e| panic!("{sql}: {e}")),
        }
    }

    fn count(&mut self, table: &str) -> i64 {
        let sql = format!("SELECT count(*) FROM {table}");
        match self {
            Raw::Sqlite(c) => c.query_row(&sql, [], |r| r.get(0)).unwrap(),
            Raw::Pg(c) => c.query_one(sql.as_str(), &[]).unwrap().get(0),
        }
    }
}

fn count(db: &Path, table: &str) -> i64 {
    Raw::open(db).count(table)
}

// Two seats open version 1; A saves first; B's save is refused naming A,
// and B's entry is kept, then reapplied on top of A's version.
on_both_backends! {
#[test]
fn a_stale_save_is_refused_naming_who_saved_first_and_the_entry_is_kept_to_reapply() {
    let (_held, db) = shared_location("team.db");
    let mut a = seat(&db);
    let (p, v1) = jo_with_a_review(&mut a, "A. Pharmacist", "first");
    let mut b = seat(&db);

    let mut from_a = input(p.id, "A. Pharmacist", "A's change", 2.0);
    from_a.review_id = Some(v1.review_id);
    from_a.base_version = Some(1);
    let v2 = a.save_review(&compute(&from_a)).unwrap();
    assert_eq!(v2.version, 2);

    let mut from_b = input(p.id, "B. Pharmacist", "B's entry, typed meanwhile", 3.0);
    from_b.review_id = Some(v1.review_id);
    from_b.base_version = Some(1);
    let e = b.save_review(&compute(&from_b)).unwrap_err();
    let StoreError::Conflict(c) = &e else {
        panic!("expected a conflict, got {e}");
    };
    let Conflict::Review(rc) = c.as_ref().clone() else {
        panic!("expected a review conflict, got {c:?}");
    };
    assert_eq!(
        (
            rc.review_id,
            rc.patient_id,
            rc.base_version,
            rc.latest_version
        ),
        (v1.review_id, p.id, 1, 2)
    );
    assert_eq!(rc.saved_by, "A. Pharmacist");
    assert_eq!(rc.saved_at, v2.saved_at);
    let msg = e.to_string();
    assert!(
        msg.contains("saved as version 2 by A. Pharmacist")
            && msg.contains(&format!("kept as draft {}", rc.draft_id)),
        "{msg}"
    );
    // Nothing overwritten, nothing lost: still two versions, and the entry
    // is kept whole, its refusal audited.
    assert_eq!(b.review(v1.review_id).unwrap().notes, "A's change");
    let drafts = b.review_drafts(v1.review_id).unwrap();
    assert_eq!(drafts.len(), 1);
    assert_eq!(drafts[0].id, rc.draft_id);
    assert_eq!(drafts[0].input, from_b);
    assert_eq!(drafts[0].saved_by, "B. Pharmacist");
    assert!(audit_summaries(&b).iter().any(|s| s
        == &format!(
            "review {}: save from version 1 refused (version 2 was saved meanwhile); the entry kept as draft {}",
            v1.review_id, rc.draft_id
        )));
    // Across the boundary: code conflict with the details.
    let api: stepdown::ApiError = e.into();
    assert_eq!(api.code, ErrorCode::Conflict);
    assert!(matches!(api.conflict.as_deref(), Some(Conflict::Review(_))));

    // Reapplied: B's entry becomes version 3 on top of A's; the draft goes.
    let saved = stepdown::consult::reapply_draft(
        &mut b,
        rc.draft_id,
        "B. Pharmacist",
        stepdown::reference::reference(),
    )
    .unwrap();
    assert_eq!(saved.version, 3);
    let latest = b.review(v1.review_id).unwrap();
    assert_eq!(latest.notes, "B's entry, typed meanwhile");
    assert_eq!(latest.reviewer, "B. Pharmacist");
    assert_eq!(latest.total_ome_mg_per_day, Some(90.0));
    assert_eq!(
        b.review_version(v1.review_id, 2).unwrap().notes,
        "A's change"
    );
    assert!(b.review_drafts(v1.review_id).unwrap().is_empty());
    assert!(audit_summaries(&b)
        .last()
        .unwrap()
        .contains(&format!("draft {} reapplied as version 3", rc.draft_id)));
    assert!(b.verify_audit_chain().unwrap().ok);
    // Gone once reapplied.
    assert!(matches!(
        b.reapply_review_draft(rc.draft_id, &compute(&from_b), "B"),
        Err(StoreError::NotFound { .. })
    ));
}
}

on_both_backends! {
#[test]
fn a_draft_can_be_discarded_audited_and_the_base_version_is_required_and_checked() {
    let (_held, db) = shared_location("s.db");
    let mut s = seat(&db);
    let (p, v1) = jo_with_a_review(&mut s, "A", "one");
    let mut next = input(p.id, "A", "two", 2.0);
    next.review_id = Some(v1.review_id);
    // No base version: refused, naming the field; nothing kept.
    let e = s.save_review(&compute(&next)).unwrap_err().to_string();
    assert!(
        e.starts_with(&format!(
            "base_version: is required to save a new version of review {}",
            v1.review_id
        )),
        "{e}"
    );
    next.base_version = Some(5);
    let e = s.save_review(&compute(&next)).unwrap_err().to_string();
    assert_eq!(
        e,
        format!(
            "base_version: review {} has versions 1 to 1 (got 5)",
            v1.review_id
        )
    );
    // A base version on a new review: refused.
    let mut new = input(p.id, "A", "new", 2.0);
    new.base_version = Some(1);
    let e = s.save_review(&compute(&new)).unwrap_err().to_string();
    assert!(
        e.starts_with("base_version: must be absent for a new review"),
        "{e}"
    );
    assert_eq!(count(&db, "review_drafts"), 0);

    next.base_version = Some(1);
    s.save_review(&compute(&next)).unwrap();
    // The same base again (a second window on the same seat): kept, then discarded.
    let e = s.save_review(&compute(&next)).unwrap_err();
    let StoreError::Conflict(c) = e else {
        panic!("expected a conflict")
    };
    let Conflict::Review(rc) = *c else {
        panic!("expected a review conflict")
    };
    s.discard_review_draft(rc.draft_id, "A").unwrap();
    assert_eq!(count(&db, "review_drafts"), 0);
    assert_eq!(s.review(v1.review_id).unwrap().version, 2);
    assert!(audit_summaries(&s)
        .last()
        .unwrap()
        .ends_with(&format!("draft {} discarded", rc.draft_id)));
    assert!(matches!(
        s.discard_review_draft(rc.draft_id, "A"),
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        s.review_drafts(9999),
        Err(StoreError::NotFound { .. })
    ));
}
}

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 12, 7).unwrap()
}

fn with_worklist(path: &Path) -> Store {
    let mut s = seat(path);
    let csv = "patient_id,issue_date,drug,dose,quantity\n\
               P1,2026-11-01,Morphine 30mg modified-release tablets,1 bd,56\n\
               P2,2026-11-01,Morphine 60mg modified-release tablets,1 bd,56\n\
               P3,2026-11-01,Morphine 10mg modified-release tablets,1 bd,56\n";
    import_csv(
        &mut s,
        csv.as_bytes(),
        &ImportOptions {
            practice: None,
            file_name: "w.csv".into(),
            today: today(),
            list_size: None,
            column_map: ColumnMap::default(),
            window_days: None,
            actor: Some("importer".into()),
            exclusions: Vec::new(),
        },
        &mut |_| {},
    )
    .unwrap();
    s
}

fn ids(s: &mut Store, filters: WorklistFilters) -> Vec<String> {
    worklist(s, &filters, today())
        .unwrap()
        .patients
        .into_iter()
        .map(|p| p.patient_id)
        .collect()
}

on_both_backends! {
#[test]
fn a_claimed_patient_is_refused_to_another_seat_naming_the_holder_and_since_when() {
    let (_held, db) = shared_location("cf.db");
    let mut a = with_worklist(&db);
    let mut b = seat(&db);

    let claim = a.claim_worklist_patient("P2", None, "Alice").unwrap();
    assert_eq!(claim.holder.as_deref(), Some("Alice"));
    assert_eq!(claim.status, ClaimStatus::ToContact);
    let since = claim.claimed_at.unwrap();
    // Claiming again changes nothing (and writes no audit entry).
    let entries = count(&db, "audit_log");
    assert_eq!(a.claim_worklist_patient("P2", None, "Alice").unwrap(), claim);
    assert_eq!(count(&db, "audit_log"), entries);

    for refused in [
        b.claim_worklist_patient("P2", None, "Bob"),
        b.release_worklist_patient("P2", None, "Bob"),
        b.set_worklist_status("P2", None, ClaimStatus::Booked, "Bob"),
    ] {
        let e = refused.unwrap_err();
        let StoreError::Conflict(c) = &e else {
            panic!("expected a conflict, got {e}")
        };
        let Conflict::Claim(cc) = c.as_ref() else {
            panic!("expected a claim conflict")
        };
        assert_eq!(
            (cc.patient_id.as_str(), cc.holder.as_str(), cc.claimed_at),
            ("P2", "Alice", since)
        );
        assert!(e
            .to_string()
            .starts_with("worklist patient P2 is held by Alice since"));
    }
    assert_eq!(count(&db, "audit_log"), entries, "refusals change nothing");

    // The holder moves them on and lets them go; the status stays.
    let booked = a
        .set_worklist_status("P2", None, ClaimStatus::Booked, "Alice")
        .unwrap();
    assert_eq!(
        (booked.status, booked.holder.as_deref()),
        (ClaimStatus::Booked, Some("Alice"))
    );
    let released = a.release_worklist_patient("P2", None, "Alice").unwrap();
    assert_eq!(
        (released.status, released.holder, released.claimed_at),
        (ClaimStatus::Booked, None, None)
    );
    // Now Bob may take them.
    let bobs = b.claim_worklist_patient("P2", None, "Bob").unwrap();
    assert_eq!(
        (bobs.holder.as_deref(), bobs.status),
        (Some("Bob"), ClaimStatus::Booked)
    );
    let log = audit_summaries(&b);
    let tail: Vec<&str> = log[log.len() - 4..].iter().map(String::as_str).collect();
    assert_eq!(
        tail,
        [
            "worklist patient P2 claimed",
            "worklist patient P2 status to-contact -> booked",
            "worklist patient P2 released",
            "worklist patient P2 claimed"
        ]
    );
    assert!(b.verify_audit_chain().unwrap().ok);

    // Status on an unclaimed patient: allowed, stays unclaimed.
    let p3 = b
        .set_worklist_status("P3", None, ClaimStatus::Reviewed, "Bob")
        .unwrap();
    assert_eq!((p3.holder, p3.status), (None, ClaimStatus::Reviewed));

    // Unknown patients and nothing to release: refused by field.
    let e = b
        .claim_worklist_patient("P9", None, "Bob")
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "patient_id: there is no worklist patient \"P9\" in the imported extracts"
    );
    let e = b
        .release_worklist_patient("P1", None, "Bob")
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "patient_id: worklist patient \"P1\" is not claimed: there is nothing to release"
    );
    let e = b.claim_worklist_patient("P1", None, " ").unwrap_err().to_string();
    assert!(e.starts_with("actor: must not be empty"), "{e}");
}
}

on_both_backends! {
#[test]
fn worklist_rows_carry_holder_and_status_and_filter_mine_and_unclaimed() {
    let (_held, db) = shared_location("cf.db");
    let mut s = with_worklist(&db);
    s.claim_worklist_patient("P1", None, "Alice").unwrap();
    s.claim_worklist_patient("P3", None, "Bob").unwrap();
    s.set_worklist_status("P3", None, ClaimStatus::Booked, "Bob")
        .unwrap();
    let list = worklist(&mut s, &WorklistFilters::default(), today()).unwrap();
    let claim_of = |id: &str| {
        list.patients
            .iter()
            .find(|p| p.patient_id == id)
            .unwrap()
            .claim
            .clone()
    };
    assert_eq!(claim_of("P1").unwrap().holder.as_deref(), Some("Alice"));
    let p3 = claim_of("P3").unwrap();
    assert_eq!(
        (p3.holder.as_deref(), p3.status),
        (Some("Bob"), ClaimStatus::Booked)
    );
    assert_eq!(claim_of("P2"), None);

    let mine = WorklistFilters {
        held_by: Some("Alice".into()),
        ..WorklistFilters::default()
    };
    assert_eq!(ids(&mut s, mine.clone()), ["P1"]);
    assert_eq!(
        worklist(&mut s, &mine, today()).unwrap().metrics.matching,
        1
    );
    let unclaimed = WorklistFilters {
        unclaimed: true,
        ..WorklistFilters::default()
    };
    assert_eq!(ids(&mut s, unclaimed.clone()), ["P2"]);
    s.release_worklist_patient("P1", None, "Alice").unwrap();
    let mut left = ids(&mut s, unclaimed);
    left.sort();
    assert_eq!(left, ["P1", "P2"]);
    assert!(ids(&mut s, mine).is_empty());
    let both = WorklistFilters {
        held_by: Some("Alice".into()),
        unclaimed: true,
        ..WorklistFilters::default()
    };
    assert!(worklist(&mut s, &both, today()).is_err());
}
}

// ------------------------------------------ claims keyed by practice (team store)
//
// Two practices' extracts share patient identifiers: each practice's P1 is a
// patient of its own, with a claim of its own. Skipped (with a note) without
// a test cluster.

/// A team store where alice (A81001) and bob (B82002) each imported the same
/// three identifiers into their own practice; seat_admin sees both.
fn two_practices() -> (test_pg::PgSchema, Store, Store, Store) {
    let (schema, owner) = test_pg::new_pg_store(OpenOptions::default());
    drop(owner);
    schema.owner_sql(
        "INSERT INTO seat_practices (role_name, practice_code)
         VALUES ('seat_alice', 'A81001'), ('seat_bob', 'B82002')",
    );
    let alice = with_worklist(&std::path::PathBuf::from(schema.url_as("seat_alice")));
    let bob = with_worklist(&std::path::PathBuf::from(schema.url_as("seat_bob")));
    let admin = seat(&std::path::PathBuf::from(schema.url_as("seat_admin")));
    (schema, alice, bob, admin)
}

#[test]
fn claims_on_the_same_identifier_in_two_practices_are_two_claims() {
    test_pg::on_pg(|| {
        let (schema, mut alice, mut bob, mut admin) = two_practices();
        let a1 = alice
            .claim_worklist_patient("P1", None, "seat_alice")
            .unwrap();
        assert_eq!(a1.practice_code.as_deref(), Some("A81001"));
        // Bob's P1 is another patient: his claim is not refused by alice's.
        let b1 = bob.claim_worklist_patient("P1", None, "seat_bob").unwrap();
        assert_eq!(
            (b1.practice_code.as_deref(), b1.holder.as_deref()),
            (Some("B82002"), Some("seat_bob"))
        );
        bob.set_worklist_status("P1", None, ClaimStatus::Booked, "seat_bob")
            .unwrap();

        // The admin sees both, as two claims, and must say which it means.
        let e = admin.worklist_claim("P1", None).unwrap_err();
        assert_eq!(
            e.to_string(),
            "practice: worklist patient \"P1\" is in the extracts of several practices \
             (A81001, B82002): say which practice"
        );
        let of = |s: &Store, practice| s.worklist_claim("P1", Some(practice)).unwrap().unwrap();
        let (in_a, in_b) = (of(&admin, "A81001"), of(&admin, "b82002"));
        assert_eq!(
            (in_a.holder.as_deref(), in_a.status),
            (Some("seat_alice"), ClaimStatus::ToContact)
        );
        assert_eq!(
            (in_b.holder.as_deref(), in_b.status),
            (Some("seat_bob"), ClaimStatus::Booked)
        );
        // A change by the admin must name the practice too, and then touches
        // only that practice's patient.
        let e = admin
            .claim_worklist_patient("P2", None, "seat_admin")
            .unwrap_err();
        assert!(
            e.to_string().starts_with(
                "practice: worklist patient \"P2\" is in the extracts of several practices"
            ),
            "{e}"
        );
        let took = admin
            .claim_worklist_patient("P2", Some("B82002"), "seat_admin")
            .unwrap();
        assert_eq!(took.practice_code.as_deref(), Some("B82002"));
        let e = admin
            .claim_worklist_patient("P1", Some("B82002"), "seat_admin")
            .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("worklist patient P1 is held by seat_bob since"),
            "{e}"
        );
        let e = admin
            .claim_worklist_patient("P1", Some("C83003"), "seat_admin")
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "patient_id: there is no worklist patient \"P1\" in the imported extracts of \
             practice C83003"
        );
        let e = admin
            .claim_worklist_patient("P1", Some("A8-1001"), "seat_admin")
            .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("practice: \"A8-1001\" is not a practice's ODS code"),
            "{e}"
        );

        // A pharmacist sees only their practice's claims, without naming it.
        assert_eq!(of(&alice, "A81001"), in_a);
        assert_eq!(
            alice.worklist_claim("P1", None).unwrap(),
            Some(in_a.clone())
        );
        assert_eq!(alice.worklist_claim("P2", None).unwrap(), None);
        assert_eq!(alice.worklist_claim("P1", Some("B82002")).unwrap(), None);
        assert_eq!(bob.worklist_claim("P2", None).unwrap(), Some(took));
        // Naming another practice does not reach it.
        let e = alice
            .claim_worklist_patient("P1", Some("B82002"), "seat_alice")
            .unwrap_err();
        assert!(e.to_string().contains("of practice B82002"), "{e}");

        // Worklists: each row carries its practice and that practice's claim.
        let list = worklist(&mut alice, &WorklistFilters::default(), today()).unwrap();
        let p1 = list.patients.iter().find(|p| p.patient_id == "P1").unwrap();
        assert_eq!(p1.practice_code.as_deref(), Some("A81001"));
        assert_eq!(p1.claim.as_ref(), Some(&in_a));
        let list = worklist(&mut bob, &WorklistFilters::default(), today()).unwrap();
        let claims: Vec<_> = list
            .patients
            .iter()
            .map(|p| {
                (
                    p.patient_id.as_str(),
                    p.claim.as_ref().and_then(|c| c.holder.as_deref()),
                )
            })
            .collect();
        let mut claims = claims;
        claims.sort();
        assert_eq!(
            claims,
            [
                ("P1", Some("seat_bob")),
                ("P2", Some("seat_admin")),
                ("P3", None)
            ]
        );
        // "Mine" and "unclaimed" join a claim to its own practice's patient.
        let mine = WorklistFilters {
            held_by: Some("seat_bob".into()),
            ..WorklistFilters::default()
        };
        assert_eq!(ids(&mut bob, mine.clone()), ["P1"]);
        assert!(ids(&mut alice, mine).is_empty());
        let unclaimed = WorklistFilters {
            unclaimed: true,
            ..WorklistFilters::default()
        };
        let mut left = ids(&mut alice, unclaimed);
        left.sort();
        assert_eq!(left, ["P2", "P3"]);

        // Each claim's audit entries are in its practice's part of the log.
        let claim_entries = |s: &Store| -> Vec<String> {
            s.audit_log(&AuditQuery {
                entity: Some(AuditEntity::Claim),
                ..AuditQuery::default()
            })
            .unwrap()
            .into_iter()
            .map(|e| e.summary)
            .collect()
        };
        assert_eq!(claim_entries(&alice), ["worklist patient P1 claimed"]);
        assert_eq!(claim_entries(&bob).len(), 3, "{:?}", claim_entries(&bob));
        assert_eq!(claim_entries(&admin).len(), 4);
        assert_eq!(
            schema.owner_strings(
                "SELECT DISTINCT coalesce(practice_code, 'none') FROM audit_log
                 WHERE entity = 'worklist-claim' ORDER BY 1"
            ),
            ["A81001", "B82002"]
        );
        assert!(admin.verify_audit_chain().unwrap().ok);
    });
}

// What seats leave behind is part of the store: review drafts go into the
// export with their review, claims with the other case-finding tables, and
// `check` counts both and checks them against what they hang off.
on_both_backends! {
#[test]
fn drafts_and_claims_are_exported_counted_and_checked() {
    let (_held, db) = shared_location("seats.db");
    let mut a = with_worklist(&db);
    let mut b = seat(&db);
    let (p, v1) = jo_with_a_review(&mut a, "A. Pharmacist", "first");
    let mut from_a = input(p.id, "A. Pharmacist", "A's change", 2.0);
    from_a.review_id = Some(v1.review_id);
    from_a.base_version = Some(1);
    a.save_review(&compute(&from_a)).unwrap();
    let mut from_b = input(p.id, "B. Pharmacist", "B's entry, kept", 3.0);
    from_b.review_id = Some(v1.review_id);
    from_b.base_version = Some(1);
    assert!(matches!(
        b.save_review(&compute(&from_b)),
        Err(StoreError::Conflict(_))
    ));
    a.claim_worklist_patient("P1", None, "Alice").unwrap();
    a.claim_worklist_patient("P2", None, "Alice").unwrap();
    a.set_worklist_status("P2", None, ClaimStatus::Booked, "Alice")
        .unwrap();
    a.release_worklist_patient("P2", None, "Alice").unwrap();
    b.set_worklist_status("P3", None, ClaimStatus::Reviewed, "Bob")
        .unwrap();

    let report = a.check();
    assert!(report.ok, "{:?}", report.problems);
    let counts = report.counts.unwrap();
    assert_eq!(
        (
            counts.review_drafts,
            counts.worklist_claims,
            counts.worklist_claims_held
        ),
        (1, 3, 1)
    );
    assert!(
        report.to_text().contains("1 review draft(s), 3 worklist claim(s) (1 held)"),
        "{}",
        report.to_text()
    );

    let export = a.export_all("admin").unwrap();
    let review = &export.patients[0].reviews[0];
    assert_eq!(review.drafts.len(), 1);
    assert_eq!(review.drafts[0].input, from_b);
    assert_eq!(review.drafts[0].saved_by, "B. Pharmacist");
    assert_eq!((export.counts.review_drafts, export.counts.worklist_claims), (1, 3));
    let claims = &export.casefinding["cf_claims"];
    assert_eq!(claims.rows.len(), 3);
    for column in ["extract_id", "holder", "claimed_at", "status", "changed_at", "changed_by"] {
        assert!(claims.columns.iter().any(|c| c == column), "{column}");
    }
    // An export written before drafts and their counts were exported still reads.
    let mut old = serde_json::to_value(&export).unwrap();
    old["patients"][0]["reviews"][0]
        .as_object_mut()
        .unwrap()
        .remove("drafts");
    for c in ["review_drafts", "worklist_claims", "worklist_claims_held"] {
        old["counts"].as_object_mut().unwrap().remove(c);
    }
    let back: Export = serde_json::from_value(old).unwrap();
    assert!(back.patients[0].reviews[0].drafts.is_empty());
    assert_eq!(back.counts.review_drafts, 0);

    // Changed outside Stepdown: a draft that met a version the review never
    // had, a claim whose holder the audit log does not give, a claim no
    // entry made.
    let mut raw = Raw::open(&db);
    raw.execute("UPDATE review_drafts SET latest_version = 9");
    raw.execute("UPDATE cf_claims SET holder = 'Mallory' WHERE extract_id = 'P1'");
    raw.execute("UPDATE cf_claims SET status = 'booked' WHERE extract_id = 'P3'");
    raw.execute(
        "INSERT INTO cf_claims (extract_id, status, changed_at, changed_by)
         VALUES ('P9', 'to-contact', '2026-12-07T09:00:00Z', 'nobody')",
    );
    let report = a.check();
    assert!(!report.ok);
    let found = report.problems.join("\n");
    for said in [
        "met version 9 of review",
        "which has only 2 version(s)",
        "(P1): held by Mallory, but the audit log replayed says Alice",
        "(P3): status booked, but the audit log replayed says reviewed",
        "(P9): the audit log has no entry of it",
    ] {
        assert!(found.contains(said), "{said:?} in\n{found}");
    }

    // What only a file lets a test do without the server's superuser: a
    // draft whose review is gone, a status the schema would refuse.
    if let Raw::Sqlite(c) = &raw {
        c.execute_batch(
            "PRAGMA foreign_keys = OFF; UPDATE review_drafts SET review_id = 999;
             PRAGMA ignore_check_constraints = ON;
             UPDATE cf_claims SET status = 'phoned' WHERE extract_id = 'P2';",
        )
        .unwrap();
        let found = a.check().problems.join("\n");
        for said in ["its review 999 does not exist", "(P2): unknown worklist status 'phoned'"] {
            assert!(found.contains(said), "{said:?} in\n{found}");
        }
    }
}
}

#[test]
fn an_import_is_audited_in_its_practice_and_seen_only_there() {
    test_pg::on_pg(|| {
        let (schema, alice, bob, admin) = two_practices();
        let imports = |s: &Store| -> Vec<String> {
            s.audit_log(&AuditQuery {
                entity: Some(AuditEntity::Import),
                ..AuditQuery::default()
            })
            .unwrap()
            .into_iter()
            .map(|e| e.summary)
            .collect()
        };
        // Each seat imported one extract: it sees its own entry only; the
        // admin sees both. (Written as `store` with no practice, every seat
        // saw both.)
        assert_eq!(imports(&alice).len(), 1, "{:?}", imports(&alice));
        assert_eq!(imports(&bob).len(), 1, "{:?}", imports(&bob));
        assert_eq!(imports(&admin).len(), 2);
        assert_eq!(
            schema.owner_strings(
                "SELECT coalesce(practice_code, 'none') FROM audit_log
                 WHERE entity = 'casefinding-import' ORDER BY id"
            ),
            ["A81001", "B82002"]
        );
        assert!(schema
            .owner_strings("SELECT entity FROM audit_log WHERE practice_code IS NULL")
            .iter()
            .all(|e| e != "casefinding-import"));
        assert!(admin.verify_audit_chain().unwrap().ok);
    });
}
