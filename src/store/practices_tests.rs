//! A seat of several practices (issue 19): it says which practice a new
//! patient or an extract belongs to, and each practice's worklist, figures
//! and cache stay its own. PostgreSQL tests run on the test cluster
//! (`tests/pg/with-cluster.sh`) and pass saying so without it; the SQLite
//! ones always run. What a seat of several practices does with extracts,
//! worklists and figures is tested beside `casefinding` (which uses the
//! store; the store never names it, not even in tests: tests/layering.rs),
//! with the helpers here.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};

use super::test_pg::{new_pg_store, on_pg, PgSchema};
use super::{ManualClock, OpenOptions, PatientInput, Practice, Store, StoreError};

pub(crate) fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 24).unwrap()
}

pub(crate) fn options() -> OpenOptions {
    let t0: DateTime<Utc> = DateTime::parse_from_rfc3339("2026-11-24T09:00:00Z")
        .unwrap()
        .with_timezone(&Utc);
    OpenOptions {
        clock: Arc::new(ManualClock::stepping(t0, Duration::from_secs(1))),
        ..OpenOptions::default()
    }
}

/// The owner's store, practices A81001 and B82002; alice works for both,
/// bob for B82002 only; seat_admin for none.
pub(crate) fn team() -> (PgSchema, Store) {
    let (schema, store) = new_pg_store(options());
    schema.owner_sql(
        "INSERT INTO seat_practices (role_name, practice_code)
         VALUES ('seat_alice', 'A81001'), ('seat_alice', 'B82002'), ('seat_bob', 'B82002')",
    );
    (schema, store)
}

pub(crate) fn seat(schema: &PgSchema, role: &str) -> Store {
    Store::open_with(schema.url_as(role), options()).unwrap()
}

fn patient(name: &str, nhs: Option<&str>, practice: Option<&str>) -> PatientInput {
    PatientInput {
        name: name.into(),
        nhs_number: nhs.map(str::to_string),
        local_id: None,
        date_of_birth: None,
        practice: practice.map(str::to_string),
    }
}

/// Adds a patient as the signed-in seat.
fn add(store: &mut Store, input: &PatientInput) -> Result<super::Patient, StoreError> {
    let actor = store.default_actor();
    store.create_patient(input, &actor)
}

fn update(store: &mut Store, id: i64, input: &PatientInput) -> Result<super::Patient, StoreError> {
    let actor = store.default_actor();
    store.update_patient(id, input, &actor)
}

pub(crate) fn field_error(e: StoreError) -> (String, String) {
    match e {
        StoreError::Invalid { field, message } => (field, message),
        other => panic!("expected a field error, got {other:?}"),
    }
}

fn practice_of(schema: &PgSchema, id: i64) -> String {
    schema.owner_strings(&format!(
        "SELECT practice_code FROM patients WHERE id = {id}"
    ))[0]
        .clone()
}

fn riverside() -> Practice {
    Practice {
        code: "A81001".into(),
        name: "Riverside Surgery".into(),
    }
}

fn hill_top() -> Practice {
    Practice {
        code: "B82002".into(),
        name: "Hill Top Practice".into(),
    }
}

#[test]
fn a_seat_of_two_practices_adds_a_patient_in_each() {
    on_pg(|| {
        let (schema, _owner) = team();
        let mut alice = seat(&schema, "seat_alice");
        assert_eq!(
            alice.seat_practices().unwrap(),
            vec![riverside(), hill_top()]
        );

        // No practice: the seat is told to choose, with both named.
        let (field, message) =
            field_error(add(&mut alice, &patient("Jo", Some("943 476 5919"), None)).unwrap_err());
        assert_eq!(field, "practice");
        assert!(message.contains("A81001 (Riverside Surgery)"), "{message}");
        assert!(message.contains("B82002 (Hill Top Practice)"), "{message}");

        // The same NHS number at each practice (a patient who moved).
        let a = add(
            &mut alice,
            &patient("Jo", Some("943 476 5919"), Some(" a81001")),
        )
        .unwrap();
        let b = add(
            &mut alice,
            &patient("Jo", Some("9434765919"), Some("B82002")),
        )
        .unwrap();
        assert_eq!(practice_of(&schema, a.id), "A81001");
        assert_eq!(practice_of(&schema, b.id), "B82002");

        // Twice within one practice: refused, naming the patient there.
        let (field, message) = field_error(
            add(
                &mut alice,
                &patient("Jo", Some("9434765919"), Some("B82002")),
            )
            .unwrap_err(),
        );
        assert_eq!(field, "nhs_number");
        assert!(message.contains(&format!("patient {}", b.id)), "{message}");

        // Editing keeps the practice, and its checks are the practice's own:
        // a local id used at A81001 is free at B82002.
        update(
            &mut alice,
            a.id,
            &PatientInput {
                local_id: Some("L1".into()),
                ..patient("Jo", Some("9434765919"), None)
            },
        )
        .unwrap();
        let edited = update(
            &mut alice,
            b.id,
            &PatientInput {
                local_id: Some("l1".into()),
                // Not a move: a practice given on update is not used.
                ..patient("Jo Moved", Some("9434765919"), Some("A81001"))
            },
        )
        .unwrap();
        assert_eq!(edited.name, "Jo Moved");
        assert_eq!(practice_of(&schema, b.id), "B82002");
    });
}

#[test]
fn each_patient_read_names_its_practice() {
    on_pg(|| {
        let (schema, _owner) = team();
        let mut alice = seat(&schema, "seat_alice");
        let a = add(
            &mut alice,
            &patient("Jo", Some("9434765919"), Some("A81001")),
        )
        .unwrap();
        let b = add(
            &mut alice,
            &patient("Jo", Some("9434765919"), Some("B82002")),
        )
        .unwrap();
        // The patient as created, as read and as listed: two same-named
        // patients told apart by their practice.
        assert_eq!(a.practice_code.as_deref(), Some("A81001"));
        assert_eq!(
            alice.patient(b.id).unwrap().practice_code.as_deref(),
            Some("B82002")
        );
        let listed: Vec<(i64, Option<String>)> = alice
            .search_patients("jo", 10)
            .unwrap()
            .into_iter()
            .map(|s| (s.patient.id, s.patient.practice_code))
            .collect();
        assert_eq!(
            listed,
            vec![(a.id, Some("A81001".into())), (b.id, Some("B82002".into()))]
        );
        // Bob sees only his practice's patient, with its code.
        let bob = seat(&schema, "seat_bob");
        let listed: Vec<Option<String>> = bob
            .search_patients("", 10)
            .unwrap()
            .into_iter()
            .map(|s| s.patient.practice_code)
            .collect();
        assert_eq!(listed, vec![Some("B82002".to_string())]);
    });
}

#[test]
fn a_practice_not_the_seats_is_refused_without_naming_others() {
    on_pg(|| {
        let (schema, _owner) = team();
        let mut bob = seat(&schema, "seat_bob");
        assert_eq!(bob.seat_practices().unwrap(), vec![hill_top()]);
        let (field, message) =
            field_error(add(&mut bob, &patient("Sam", None, Some("A81001"))).unwrap_err());
        assert_eq!(field, "practice");
        assert!(message.contains("B82002 (Hill Top Practice)"), "{message}");
        assert!(!message.contains("Riverside"), "{message}");
        // A seat of one practice needs none.
        let sam = add(&mut bob, &patient("Sam", None, None)).unwrap();
        assert_eq!(practice_of(&schema, sam.id), "B82002");
    });
}

#[test]
fn an_admin_with_no_assignment_chooses_among_every_practice() {
    on_pg(|| {
        let (schema, _owner) = team();
        let mut admin = seat(&schema, "seat_admin");
        assert_eq!(
            admin.seat_practices().unwrap(),
            vec![riverside(), hill_top()]
        );
        let (field, _) = field_error(add(&mut admin, &patient("Ann", None, None)).unwrap_err());
        assert_eq!(field, "practice");
        let ann = add(&mut admin, &patient("Ann", None, Some("b82002"))).unwrap();
        assert_eq!(practice_of(&schema, ann.id), "B82002");
    });
}

#[test]
fn a_store_on_this_computer_refuses_a_practice() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open_with(dir.path().join("one.db"), options()).unwrap();
    assert!(s.seat_practices().unwrap().is_empty());
    let (field, message) =
        field_error(add(&mut s, &patient("Jo", None, Some("A81001"))).unwrap_err());
    assert_eq!(field, "practice");
    assert!(message.contains("holds one practice"), "{message}");
    // Blank is not given, and a file's patients have no practice code.
    let jo = add(&mut s, &patient("Jo", None, Some("  "))).unwrap();
    assert_eq!(jo.practice_code, None);
    assert_eq!(s.patient(jo.id).unwrap().practice_code, None);
    assert_eq!(
        s.search_patients("", 10).unwrap()[0].patient.practice_code,
        None
    );
    // Its extracts, worklist and figures refuse one too:
    // casefinding::practices_tests.
}

/// Patient lookups in a SQLite file: unique in the file, no practice.
#[test]
fn a_store_on_this_computer_looks_a_patient_up_without_a_practice() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open_with(dir.path().join("one.db"), options()).unwrap();
    let jo = add(
        &mut s,
        &PatientInput {
            local_id: Some("L1".into()),
            ..patient("Jo", Some("9434765919"), None)
        },
    )
    .unwrap();
    assert_eq!(
        s.patient_by_nhs_number("943 476 5919", None).unwrap(),
        Some(jo.clone())
    );
    assert_eq!(s.patient_by_local_id("l1", Some(" ")).unwrap(), Some(jo));
    let (field, message) = field_error(s.patient_by_local_id("L1", Some("A81001")).unwrap_err());
    assert_eq!(field, "practice");
    assert!(message.contains("holds one practice"), "{message}");
}

/// The same NHS number and local id at both of alice's practices: a
/// lookup without a practice refuses naming both, never picking one.
#[test]
fn a_number_held_at_two_of_the_seats_practices_is_never_picked_silently() {
    on_pg(|| {
        let (schema, _owner) = team();
        let mut alice = seat(&schema, "seat_alice");
        let at = |code: &str| PatientInput {
            local_id: Some("L1".into()),
            ..patient("Jo", Some("9434765919"), Some(code))
        };
        let in_a = add(&mut alice, &at("A81001")).unwrap();
        let in_b = add(&mut alice, &at("B82002")).unwrap();
        assert_ne!(in_a.id, in_b.id);

        for e in [
            alice
                .patient_by_nhs_number("943 476 5919", None)
                .unwrap_err(),
            alice.patient_by_local_id("l1", None).unwrap_err(),
        ] {
            let (field, message) = field_error(e);
            assert_eq!(field, "practice");
            assert!(message.contains("A81001 (Riverside Surgery)"), "{message}");
            assert!(message.contains("B82002 (Hill Top Practice)"), "{message}");
            assert!(message.contains("--practice"), "{message}");
            // The message may be logged: not the number itself.
            assert!(!message.contains("9434765919"), "{message}");
        }

        // A practice narrows it (any case, spaces ignored).
        assert_eq!(
            alice
                .patient_by_nhs_number("9434765919", Some("b82 002"))
                .unwrap(),
            Some(in_b.clone())
        );
        assert_eq!(
            alice.patient_by_local_id("L1", Some("A81001")).unwrap(),
            Some(in_a.clone())
        );
        // One not the seat's is refused as elsewhere.
        let (field, message) =
            field_error(alice.patient_by_local_id("L1", Some("C99999")).unwrap_err());
        assert_eq!(field, "practice");
        assert!(
            message.contains("not a practice this seat works for"),
            "{message}"
        );

        // bob works for B82002 only and sees only its patient.
        let bob = seat(&schema, "seat_bob");
        assert_eq!(
            bob.patient_by_nhs_number("9434765919", None).unwrap(),
            Some(in_b.clone())
        );
        assert_eq!(bob.patient_by_local_id("L1", None).unwrap(), Some(in_b));
        assert_eq!(bob.patient_by_local_id("L2", None).unwrap(), None);
    });
}

// ------------------------------------------------ each practice's leaflet details

fn details(name: &str, phone: &str, address: &str) -> super::PracticeContactInput {
    super::PracticeContactInput {
        practice_name: name.into(),
        practice_phone: phone.into(),
        practice_address: address.into(),
    }
}

#[test]
fn an_admin_sets_a_practices_details_audited_and_a_pharmacist_may_only_read_them() {
    on_pg(|| {
        let (schema, mut owner) = team();
        // Not set yet: the name from the practice list, no phone or address.
        assert_eq!(
            owner.practice_contact("b82002").unwrap(),
            super::PracticeContact {
                code: Some("B82002".into()),
                name: "Hill Top Practice".into(),
                phone: String::new(),
                address: String::new(),
            }
        );
        let set = owner
            .set_practice_contact(
                " b82 002",
                &details(
                    " Hillside Practice ",
                    "01632 960 456",
                    "2 Hill Road\nUpton\n",
                ),
                "Admin A",
            )
            .unwrap();
        assert_eq!(
            set,
            super::PracticeContact {
                code: Some("B82002".into()),
                name: "Hillside Practice".into(),
                phone: "01632 960 456".into(),
                address: "2 Hill Road\nUpton".into(),
            }
        );
        // Audited by the server in B82002's part of the log, naming the
        // fields, not their values, and the actor given.
        let entry = schema.owner_strings(
            "SELECT actor || '|' || entity || '|' || practice_code || '|' || summary
             FROM audit_log ORDER BY id DESC LIMIT 1",
        );
        assert_eq!(
            entry,
            [
                "Admin A|settings|B82002|practice B82002 settings changed: practice_name, \
              practice_phone, practice_address"
            ]
        );
        // The same details again: nothing changed, nothing logged.
        let entries = schema.owner_strings("SELECT count(*)::text FROM audit_log");
        owner
            .set_practice_contact(
                "B82002",
                &details("Hillside Practice", "01632 960 456", "2 Hill Road\nUpton"),
                "Admin A",
            )
            .unwrap();
        assert_eq!(
            schema.owner_strings("SELECT count(*)::text FROM audit_log"),
            entries
        );
        assert!(owner.verify_audit_chain().unwrap().ok);

        // A pharmacist reads its practices' details but may not change them.
        let mut alice = seat(&schema, "seat_alice");
        assert_eq!(alice.practice_contact("B82002").unwrap(), set);
        let seen = alice.practice_contacts().unwrap();
        assert!(!seen.may_edit);
        assert!(owner.practice_contacts().unwrap().may_edit);
        assert_eq!(
            seen.practices
                .iter()
                .map(|p| p.code.clone().unwrap())
                .collect::<Vec<_>>(),
            ["A81001", "B82002"]
        );
        match alice.set_practice_contact("B82002", &details("X", "01632 960 999", ""), "seat_alice")
        {
            Err(StoreError::PermissionDenied(d)) => {
                assert_eq!(d.kind, super::DeniedKind::AdminOnly);
                assert_eq!(d.record, "the details of practice B82002");
                let text = d.to_string();
                assert!(text.contains("signed in as seat_alice"), "{text}");
                assert!(text.contains("only the store's administrator"), "{text}");
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        assert_eq!(owner.practice_contact("B82002").unwrap(), set);
        // Bob works for B82002 only: A81001 is not named to him.
        let bob = seat(&schema, "seat_bob");
        let (field, message) = field_error(bob.practice_contact("A81001").unwrap_err());
        assert_eq!(field, "practice");
        assert!(
            message.contains("A81001 is not a practice this seat works for"),
            "{message}"
        );
        assert!(!message.contains("Riverside"), "{message}");
        assert_eq!(bob.practice_contacts().unwrap().practices.len(), 1);
    });
}

#[test]
fn a_practices_details_are_checked_as_the_settings_are_by_the_store_and_the_server() {
    on_pg(|| {
        let (schema, mut owner) = team();
        let cases = [
            (
                details("Hillside", "call us", ""),
                "practice_phone",
                "may contain only digits, spaces, +, -, ( and ) (found 'c')",
            ),
            (
                details("Hillside", "123", ""),
                "practice_phone",
                "must have 7 to 15 digits (got 3)",
            ),
            (
                details("  ", "01632 960 456", ""),
                "practice_name",
                "must not be empty: every practice of a team store has a name",
            ),
            (
                details("Hill\nside", "01632 960 456", ""),
                "practice_name",
                "must be a single line without control characters (found '\\n')",
            ),
        ];
        for (input, want_field, want_message) in cases {
            let (field, message) = field_error(
                owner
                    .set_practice_contact("B82002", &input, "a")
                    .unwrap_err(),
            );
            assert_eq!(
                (field.as_str(), message.as_str()),
                (want_field, want_message)
            );
        }
        assert_eq!(owner.practice_contact("B82002").unwrap().phone, "");
        // Written around the application, the server's CHECKs hold the same rules.
        for bad in [
            "phone = 'call us'",
            "phone = '123'",
            "phone = ' 01632 960 456'",
            "phone = '0163296045612345678'",
            "address = E'2 Hill Road\\x01'",
        ] {
            let e = schema
                .owner_try_sql(&format!("UPDATE practices SET {bad} WHERE code = 'B82002'"))
                .unwrap_err();
            assert!(e.contains("violates check constraint"), "{bad}: {e}");
        }
        schema.owner_sql(
            "UPDATE practices SET phone = '+44 (0)1632-960456', address = E'2 Hill Road\\nUpton'
             WHERE code = 'B82002'",
        );
        // A change by hand is audited too, with the role as the actor.
        let entry = schema.owner_strings(
            "SELECT actor || '|' || summary FROM audit_log ORDER BY id DESC LIMIT 1",
        );
        assert_eq!(
            entry,
            ["stepdown_test_owner|practice B82002 settings changed: practice_phone, practice_address"]
        );
    });
}

#[test]
fn a_file_has_no_practice_codes_its_details_are_the_settings() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path().join("s.db")).unwrap();
    let mut settings = store.settings().unwrap();
    settings.practice_name = "Riverside Surgery".into();
    settings.practice_phone = "01632 960 123".into();
    store.update_settings(&settings, "t").unwrap();
    assert_eq!(
        store.practice_contacts().unwrap(),
        super::PracticeContacts {
            may_edit: true,
            practices: vec![super::PracticeContact {
                code: None,
                name: "Riverside Surgery".into(),
                phone: "01632 960 123".into(),
                address: String::new(),
            }],
        }
    );
    let p = add(&mut store, &patient("Jo", None, None)).unwrap();
    assert_eq!(
        store.patient_practice_contact(&p).unwrap(),
        store.practice_contacts().unwrap().practices[0]
    );
    let (field, message) = field_error(store.practice_contact("A81001").unwrap_err());
    assert_eq!(field, "practice");
    assert!(message.contains("holds one practice"), "{message}");
    let (field, _) = field_error(
        store
            .set_practice_contact("A81001", &details("X", "01632 960 999", ""), "t")
            .unwrap_err(),
    );
    assert_eq!(field, "practice");
    assert_eq!(store.settings().unwrap(), settings.validated().unwrap());
}
