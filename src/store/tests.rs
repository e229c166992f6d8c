//! Unit tests of the store against real SQLite files in temporary folders.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::json;

use super::*;
use crate::store::test_pg;
use crate::ErrorCode;

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-24T09:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn options() -> OpenOptions {
    OpenOptions {
        clock: Arc::new(ManualClock::stepping(t0(), Duration::from_secs(1))),
        ..OpenOptions::default()
    }
}

fn open_at(path: &Path) -> Store {
    Store::open_with(path, options()).unwrap()
}

/// What keeps a test store alive: its folder, or its schema on the server.
#[allow(dead_code)]
enum Held {
    Dir(tempfile::TempDir),
    Schema(test_pg::PgSchema),
}

impl Held {
    /// The folder of a SQLite test store.
    fn path(&self) -> &Path {
        match self {
            Held::Dir(d) => d.path(),
            Held::Schema(_) => panic!("a SQLite-only test ran on PostgreSQL"),
        }
    }
}

/// A new store: a SQLite file in a temporary folder, or, inside
/// [`test_pg::on_pg`], a schema of its own on the test cluster.
fn new_store() -> (Held, Store) {
    if test_pg::wants_pg() {
        let (schema, store) = test_pg::new_pg_store(options());
        return (Held::Schema(schema), store);
    }
    let dir = tempfile::tempdir().unwrap();
    let store = open_at(&dir.path().join("stepdown.db"));
    (Held::Dir(dir), store)
}

// Tests in `on_both_backends!` run on SQLite and on PostgreSQL (with a test
// cluster). The others are SQLite-only on purpose: they test the file
// (damaged, truncated, foreign or newer files, WAL and pragmas, owner-only
// permissions, copies before migrating, the backup API and restore, a full
// disk, a held write lock) or write raw SQL through the SQLite connection.
// What only the team store has is in `postgres_only` at the end.
use crate::store::test_pg::on_both_backends;

fn patient(name: &str) -> PatientInput {
    PatientInput {
        name: name.into(),
        ..PatientInput::default()
    }
}

fn morphine_mr(strength_mg: f64) -> crate::regimen::RawItem {
    crate::regimen::RawItem {
        drug: Some("morphine".into()),
        route: Some("oral".into()),
        release: Some("modified".into()),
        strength_mg: Some(strength_mg),
        units_per_dose: Some(1.0),
        doses_per_day: Some(2.0),
        ..Default::default()
    }
}

/// A review of `items` for a 70-year-old with COPD, computed by the core.
fn computed(
    patient_id: i64,
    notes: &str,
    items: Vec<crate::regimen::RawItem>,
) -> crate::record::ComputedReview {
    let input = ReviewInput {
        patient_id,
        review_id: None,
        base_version: None,
        reviewer: "Dr A Reviewer".into(),
        notes: notes.into(),
        patient: crate::patient::RawPatient {
            age: Some(70.0),
            conditions: Some(vec!["copd".into()]),
            ..Default::default()
        },
        items,
        taper: None,
        shared_decision: None,
    };
    crate::consult::compute_review(
        &input,
        crate::Profile::Uk,
        None,
        crate::reference::reference(),
    )
    .unwrap()
}

/// MST 30 mg twice a day (60 mg OME), computed by the core.
fn review_input(patient_id: i64, notes: &str) -> crate::record::ComputedReview {
    computed(patient_id, notes, vec![morphine_mr(30.0)])
}

fn details() -> crate::leaflet::LeafletDetails {
    crate::leaflet::LeafletDetails {
        patient_name: None,
        practice: crate::leaflet::PracticeDetails {
            name: "Riverside Surgery".into(),
            phone: "01632 960 123".into(),
            address: None,
        },
        next_review: None,
        large_print: false,
        issue_date: chrono::NaiveDate::from_ymd_opt(2026, 11, 24).unwrap(),
        calendar: false,
    }
}

fn load_demo(s: &mut Store) -> Result<DemoReport, crate::ApiError> {
    crate::consult::load_demo_patients(s, "t", crate::reference::reference())
}

fn file_bytes(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap()
}

fn all_audit(store: &Store) -> Vec<AuditEntry> {
    store
        .audit_log(&AuditQuery {
            limit: Some(10_000),
            ..AuditQuery::default()
        })
        .unwrap()
}

// ---------------------------------------------------------------- opening

#[test]
fn a_new_store_is_at_the_latest_schema_in_wal_mode_with_foreign_keys() {
    let (_dir, store) = new_store();
    assert_eq!(store.schema_version().unwrap(), migrations::LATEST_VERSION);
    assert_eq!(store.opened_at_version(), 0);
    assert!(store.pre_migration_copy().is_none());
    let c = store.conn();
    let mode: String = c
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let fk: i64 = c
        .pragma_query_value(None, "foreign_keys", |r| r.get(0))
        .unwrap();
    assert_eq!(fk, 1);
    let sync: i64 = c
        .pragma_query_value(None, "synchronous", |r| r.get(0))
        .unwrap();
    assert_eq!(sync, 2, "synchronous = FULL");
    let app: i32 = c
        .pragma_query_value(None, "application_id", |r| r.get(0))
        .unwrap();
    assert_eq!(app, APPLICATION_ID);
}

#[test]
fn a_store_can_live_behind_a_mutex_in_app_state() {
    fn shareable<T: Send + Sync>() {}
    shareable::<std::sync::Mutex<Store>>();
}

#[cfg(unix)]
#[test]
fn the_database_and_its_copies_are_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let (dir, mut s) = new_store();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    s.create_patient(&patient("Jo"), "t").unwrap();
    assert_eq!(mode(s.path()), 0o600);
    assert_eq!(mode(&file::sibling(s.path(), "-wal")), 0o600);
    let out = dir.path().join("b.db");
    s.backup_to(&out, "t", false).unwrap();
    assert_eq!(mode(&out), 0o600);
}

#[test]
fn reopening_keeps_data_and_makes_no_copy() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let id = open_at(&path)
        .create_patient(&patient("Pat One"), "tester")
        .unwrap()
        .id;
    let store = open_at(&path);
    assert_eq!(store.patient(id).unwrap().name, "Pat One");
    assert_eq!(store.opened_at_version(), migrations::LATEST_VERSION);
    assert!(store.pre_migration_copy().is_none());
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    assert!(!names.iter().any(|n| n.contains(".bak-")), "{names:?}");
}

#[test]
fn the_folder_is_created_for_a_new_store() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a/b/stepdown.db");
    open_at(&path);
    assert!(path.exists());
}

#[test]
fn open_existing_refuses_a_missing_file_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("none.db");
    let e = Store::open_existing(&path).unwrap_err();
    assert!(matches!(e, StoreError::Missing { .. }), "{e}");
    assert!(e.to_string().contains("no such file"), "{e}");
    assert!(!path.exists());
}

#[test]
fn default_path_matches_tauri_app_data_dir() {
    let p = default_db_path().unwrap();
    assert!(
        p.ends_with("uk.nhs.stepdown/stepdown.db"),
        "{}",
        p.display()
    );
    let explicit = PathBuf::from("/tmp/x.db");
    assert_eq!(resolve_db_path(Some(&explicit)).unwrap(), explicit);
}

// ---------------------------------------------------------------- bad files

/// Asserts opening `path` fails with an error whose message contains
/// `expect`, and that the file's bytes are unchanged and no companions appear.
fn assert_refused_untouched(path: &Path, expect: &str) -> StoreError {
    let before = file_bytes(path);
    let e = Store::open_with(path, options()).unwrap_err();
    assert!(e.to_string().contains(expect), "{e}");
    assert!(
        e.to_string().contains("has not been changed"),
        "message should reassure: {e}"
    );
    assert_eq!(file_bytes(path), before, "file must not be modified");
    assert!(!file::sibling(path, "-wal").exists());
    let bak = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .contains(".bak-")
        })
        .count();
    assert_eq!(bak, 0, "no migration copy for a refused file");
    e
}

#[test]
fn a_text_file_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.db");
    std::fs::write(&path, "these are my notes, not a database\n".repeat(200)).unwrap();
    let e = assert_refused_untouched(&path, "not a Stepdown database");
    assert!(matches!(e, StoreError::NotADatabase { .. }));
    assert!(e.to_string().contains("text file"), "{e}");
}

#[test]
fn a_pdf_is_refused_and_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("leaflet.db");
    std::fs::write(&path, b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n").unwrap();
    let e = assert_refused_untouched(&path, "looks like a PDF");
    assert!(matches!(e, StoreError::NotADatabase { .. }));
}

#[test]
fn a_truncated_database_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.db");
    {
        let mut s = open_at(&good);
        for i in 0..30 {
            let p = s
                .create_patient(&patient(&format!("Patient {i}")), "t")
                .unwrap();
            s.save_review(&review_input(p.id, &"x".repeat(2000)))
                .unwrap();
        }
        // Fold the WAL into the main file so truncating the file loses real pages.
        s.conn()
            .pragma_update(None, "wal_checkpoint", "TRUNCATE")
            .unwrap();
    }
    let bytes = file_bytes(&good);
    assert!(bytes.len() > 8 * 4096);
    for cut in [50usize, 4096 + 100, bytes.len() / 2] {
        let path = dir.path().join(format!("cut-{cut}.db"));
        std::fs::write(&path, &bytes[..cut]).unwrap();
        let e = assert_refused_untouched(&path, "damaged");
        assert!(matches!(e, StoreError::Corrupt { .. }), "{cut}: {e}");
        assert!(e.to_string().contains("truncated"), "{cut}: {e}");
    }
}

#[test]
fn a_database_with_damaged_pages_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    {
        let mut s = open_at(&path);
        for i in 0..40 {
            let p = s
                .create_patient(&patient(&format!("Patient {i}")), "t")
                .unwrap();
            s.save_review(&review_input(p.id, &"y".repeat(3000)))
                .unwrap();
        }
        s.conn()
            .pragma_update(None, "wal_checkpoint", "TRUNCATE")
            .unwrap();
    }
    let mut bytes = file_bytes(&path);
    // Scribble over pages after the schema page (page 1 stays valid).
    for b in &mut bytes[4096 * 2..4096 * 6] {
        *b = 0xA5;
    }
    std::fs::write(&path, &bytes).unwrap();
    let e = assert_refused_untouched(&path, "damaged");
    assert!(matches!(e, StoreError::Corrupt { .. }), "{e}");
    // check reports it rather than failing.
    let report = check_file(&path).unwrap();
    assert!(!report.ok);
    assert_ne!(report.integrity, vec!["ok".to_string()]);
    assert_eq!(file_bytes(&path), bytes);
}

#[test]
fn a_database_from_a_newer_stepdown_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    {
        let mut s = open_at(&path);
        s.create_patient(&patient("Pat"), "t").unwrap();
        s.conn().pragma_update(None, "user_version", 99).unwrap();
        s.conn()
            .pragma_update(None, "wal_checkpoint", "TRUNCATE")
            .unwrap();
    }
    let e = assert_refused_untouched(&path, "newer version of Stepdown");
    assert!(
        matches!(e, StoreError::NewerVersion { found: 99, supported, .. } if supported == migrations::LATEST_VERSION)
    );
    assert_eq!(crate::ApiError::from(e).code, ErrorCode::Storage);
}

#[test]
fn another_programs_sqlite_database_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("other.db");
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch("CREATE TABLE things (x); INSERT INTO things VALUES (1);")
            .unwrap();
    }
    let e = assert_refused_untouched(&path, "not a Stepdown one");
    assert!(matches!(e, StoreError::Foreign { .. }));
}

#[test]
fn a_folder_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let e = Store::open_with(dir.path(), options()).unwrap_err();
    assert!(e.to_string().contains("is a folder"), "{e}");
}

#[test]
fn a_zero_byte_file_becomes_a_new_store() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.db");
    std::fs::write(&path, b"").unwrap();
    let s = open_at(&path);
    assert_eq!(s.schema_version().unwrap(), migrations::LATEST_VERSION);
}

// ---------------------------------------------------------------- migrations

const EXTRA_SQL: &str = "ALTER TABLE patients ADD COLUMN test_extra TEXT;";

/// Every real migration plus one test migration after them, so these tests
/// keep exercising "one version behind" as real migrations are added.
fn with_extra() -> Vec<migrations::Migration> {
    let mut list = migrations::MIGRATIONS.to_vec();
    list.push(migrations::Migration {
        version: migrations::LATEST_VERSION + 1,
        name: "test: add a column",
        sql: EXTRA_SQL,
    });
    list
}

#[test]
fn an_older_database_is_copied_before_migrating() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let id = {
        let mut s = open_at(&path);
        s.create_patient(&patient("Pat Older"), "t").unwrap().id
    };
    let latest = migrations::LATEST_VERSION;
    let list = with_extra();
    let s = Store::open_with_migrations(&path, options(), &list).unwrap();
    assert_eq!(s.opened_at_version(), latest);
    assert_eq!(s.schema_version().unwrap(), latest + 1);
    let copy = s.pre_migration_copy().unwrap().to_path_buf();
    let name = copy.file_name().unwrap().to_string_lossy().to_string();
    assert!(
        name.starts_with(&format!("s.db.bak-v{latest}-2026")) && name.ends_with('Z'),
        "{name}"
    );
    // The copy is a complete database at the old version with the data.
    let copy_store = open_at(&copy);
    assert_eq!(copy_store.opened_at_version(), latest);
    assert_eq!(copy_store.patient(id).unwrap().name, "Pat Older");
    drop(s);
    // The migrated file is now "from a newer Stepdown" for this build.
    let e = Store::open_with(&path, options()).unwrap_err();
    assert!(
        matches!(e, StoreError::NewerVersion { found, .. } if found == latest + 1),
        "{e}"
    );
}

#[test]
fn an_empty_database_is_migrated_without_a_copy() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let list = with_extra();
    let s = Store::open_with_migrations(&path, options(), &list).unwrap();
    assert_eq!(s.schema_version().unwrap(), migrations::LATEST_VERSION + 1);
    assert!(s.pre_migration_copy().is_none());
}

// ---------------------------------------------------------------- patients

on_both_backends! {
#[test]
fn patients_are_validated_with_field_names() {
    let (_dir, mut s) = new_store();
    let cases = [
        (patient("  "), "name: must not be empty"),
        (
            PatientInput {
                nhs_number: Some("943 476 5918".into()),
                ..patient("A")
            },
            "nhs_number: 9434765918 is not a valid NHS number: the check digit (last digit) \
             should be 9, not 8; check for a typing error",
        ),
        (
            PatientInput {
                nhs_number: Some("12345".into()),
                ..patient("A")
            },
            "nhs_number: must have 10 digits (got 5)",
        ),
        (
            PatientInput {
                date_of_birth: Some("14/03/1950".into()),
                ..patient("A")
            },
            "date_of_birth: must be a real date written YYYY-MM-DD (got \"14/03/1950\")",
        ),
        (
            PatientInput {
                date_of_birth: Some("2001-02-30".into()),
                ..patient("A")
            },
            "date_of_birth: must be a real date written YYYY-MM-DD (got \"2001-02-30\")",
        ),
        (
            PatientInput {
                date_of_birth: Some("2030-01-01".into()),
                ..patient("A")
            },
            "date_of_birth: is in the future (2030-01-01; today is 2026-11-24)",
        ),
    ];
    for (input, msg) in cases {
        let e = s.create_patient(&input, "t").unwrap_err();
        assert_eq!(e.to_string(), msg);
        assert_eq!(crate::ApiError::from(e).code, ErrorCode::InvalidInput);
    }
    assert_eq!(s.patient_count().unwrap(), 0);
    assert!(
        all_audit(&s).is_empty(),
        "failed creates leave no audit entry"
    );
}
}

on_both_backends! {
#[test]
fn patients_round_trip_and_blank_optionals_are_none() {
    let (_dir, mut s) = new_store();
    let p = s
        .create_patient(
            &PatientInput { practice: None,
                name: "  Jo Smith ".into(),
                nhs_number: Some("943-476-5919".into()),
                date_of_birth: Some("1950-03-14".into()),
                local_id: Some("  ".into()),
            },
            "tester",
        )
        .unwrap();
    assert_eq!(p.name, "Jo Smith");
    assert_eq!(p.nhs_number.as_ref().unwrap().as_str(), "9434765919");
    assert_eq!(p.date_of_birth.unwrap().to_string(), "1950-03-14");
    assert_eq!(p.local_id, None);
    assert_eq!(p.created_at, t0());
    assert_eq!(s.patient(p.id).unwrap(), p);
    assert_eq!(
        s.patient_by_nhs_number("943 476 5919", None).unwrap(),
        Some(p.clone())
    );
}
}

on_both_backends! {
#[test]
fn nhs_numbers_and_local_ids_are_unique() {
    let (_dir, mut s) = new_store();
    let a = s
        .create_patient(
            &PatientInput {
                nhs_number: Some("9434765919".into()),
                local_id: Some("EMIS-1".into()),
                ..patient("A")
            },
            "t",
        )
        .unwrap();
    let e = s
        .create_patient(
            &PatientInput {
                nhs_number: Some("943 476 5919".into()),
                ..patient("B")
            },
            "t",
        )
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "nhs_number: 943 476 5919 is already recorded for patient {}",
            a.id
        )
    );
    let e = s
        .create_patient(
            &PatientInput {
                local_id: Some("emis-1".into()),
                ..patient("B")
            },
            "t",
        )
        .unwrap_err();
    assert!(
        e.to_string()
            .starts_with("local_id: \"emis-1\" is already used by patient"),
        "{e}"
    );
    // Updating a patient with its own number is fine.
    s.update_patient(
        a.id,
        &PatientInput {
            nhs_number: Some("9434765919".into()),
            local_id: Some("EMIS-1".into()),
            ..patient("A Renamed")
        },
        "t",
    )
    .unwrap();
}
}

on_both_backends! {
#[test]
fn updates_are_audited_with_the_changed_fields_only() {
    let (_dir, mut s) = new_store();
    let p = s.create_patient(&patient("Jo Smith"), "clerk").unwrap();
    let same = s
        .update_patient(p.id, &patient("Jo Smith"), "clerk")
        .unwrap();
    assert_eq!(same, p, "no change, no write");
    let changed = s
        .update_patient(
            p.id,
            &PatientInput {
                date_of_birth: Some("1960-01-01".into()),
                ..patient("Jo Smyth")
            },
            "Dr B",
        )
        .unwrap();
    assert_eq!(changed.name, "Jo Smyth");
    assert!(changed.updated_at > p.updated_at);
    let log = all_audit(&s);
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].action, AuditAction::Change);
    assert_eq!(log[0].actor, "Dr B");
    assert_eq!(
        log[0].summary,
        format!("patient {} changed: name, date_of_birth", p.id)
    );
    assert!(
        !log[0].summary.contains("Smyth"),
        "no names in the audit log"
    );
}
}

on_both_backends! {
#[test]
fn deleting_a_patient_removes_their_records_and_keeps_the_audit_trail() {
    let (_dir, mut s) = new_store();
    let p = s.create_patient(&patient("Jo"), "t").unwrap();
    let r = s.save_review(&review_input(p.id, "first")).unwrap();
    s.record_leaflet_print(r.review_id, 1, "Dr A", b"%PDF", &details())
        .unwrap();
    s.delete_patient(p.id, "Dr A").unwrap();
    assert!(matches!(s.patient(p.id), Err(StoreError::NotFound { .. })));
    let counts = s.counts().unwrap();
    assert_eq!(
        (
            counts.patients,
            counts.reviews,
            counts.review_versions,
            counts.leaflet_prints
        ),
        (0, 0, 0, 0)
    );
    let trail = s
        .audit_log(&AuditQuery {
            patient_id: Some(p.id),
            ..AuditQuery::default()
        })
        .unwrap();
    let actions: Vec<_> = trail.iter().map(|e| e.action).collect();
    assert_eq!(
        actions,
        [
            AuditAction::Delete,
            AuditAction::Print,
            AuditAction::Create,
            AuditAction::Create
        ]
    );
    assert!(trail[0]
        .summary
        .contains("1 review(s) (1 saved version(s))"));
    let e = s.delete_patient(p.id, "Dr A").unwrap_err();
    assert_eq!(e.to_string(), format!("patient {} not found", p.id));
    assert_eq!(crate::ApiError::from(e).code, ErrorCode::NotFound);
}
}

on_both_backends! {
#[test]
fn search_finds_by_name_words_nhs_number_and_local_id() {
    let (_dir, mut s) = new_store();
    let jo = s
        .create_patient(
            &PatientInput {
                nhs_number: Some("9434765919".into()),
                local_id: Some("EMIS-100".into()),
                ..patient("Jo Smith")
            },
            "t",
        )
        .unwrap();
    let ann = s
        .create_patient(
            &PatientInput {
                nhs_number: Some("4010232137".into()),
                local_id: Some("EMIS-200".into()),
                ..patient("Ann Smithson")
            },
            "t",
        )
        .unwrap();
    let odd = s
        .create_patient(&patient("Percy 100% Real_Name"), "t")
        .unwrap();
    let ids = |q: &str| -> Vec<i64> {
        s.search_patients(q, 50)
            .unwrap()
            .into_iter()
            .map(|p| p.patient.id)
            .collect()
    };
    assert_eq!(ids("smith"), [ann.id, jo.id], "sorted by name");
    assert_eq!(ids("SMITH jo"), [jo.id]);
    assert_eq!(ids("943 476"), [jo.id]);
    assert_eq!(ids("943-476-5919"), [jo.id]);
    assert_eq!(ids("4010232137"), [ann.id]);
    assert_eq!(ids("emis-2"), [ann.id]);
    assert_eq!(ids("100%"), [odd.id], "wildcards match literally");
    assert_eq!(ids("cy_100"), [] as [i64; 0], "_ is not a wildcard");
    assert_eq!(ids("real_name"), [odd.id]);
    assert_eq!(ids(""), [ann.id, jo.id, odd.id]);
    assert_eq!(ids("nobody"), [] as [i64; 0]);
    assert_eq!(s.search_patients("", 1).unwrap().len(), 1);
    // Robert'); DROP TABLE patients;-- is just a name.
    assert_eq!(ids("'); DROP TABLE patients;--"), [] as [i64; 0]);
    assert_eq!(s.patient_count().unwrap(), 3);
}
}

on_both_backends! {
#[test]
fn search_results_carry_review_activity() {
    let (_dir, mut s) = new_store();
    let p = s.create_patient(&patient("Jo"), "t").unwrap();
    let none = s.search_patients("jo", 10).unwrap();
    assert_eq!((none[0].review_count, none[0].last_saved_at), (0, None));
    s.save_review(&review_input(p.id, "a")).unwrap();
    let r = s.save_review(&review_input(p.id, "b")).unwrap();
    let found = s.search_patients("jo", 10).unwrap();
    assert_eq!(found[0].review_count, 2);
    assert_eq!(found[0].last_saved_at, Some(r.saved_at));
    let json = serde_json::to_value(&found[0]).unwrap();
    assert_eq!(json["name"], "Jo", "patient fields are flattened");
    assert_eq!(json["review_count"], 2);
}
}

// ---------------------------------------------------------------- reviews

on_both_backends! {
#[test]
fn saving_the_same_review_twice_makes_two_versions_both_audited() {
    let (_dir, mut s) = new_store();
    let p = s.create_patient(&patient("Jo"), "clerk").unwrap();
    let v1 = s
        .save_review(&review_input(p.id, "first thoughts"))
        .unwrap();
    assert_eq!((v1.version, v1.version_count), (1, 1));
    let again = computed(p.id, "", vec![morphine_mr(20.0)]).with_target(
        Some(v1.review_id),
        Some(1),
        "after discussion".into(),
    );
    let v2 = s.save_review(&again).unwrap();
    assert_eq!(v2.review_id, v1.review_id);
    assert_eq!((v2.version, v2.version_count), (2, 2));
    assert_ne!(v2.version_id, v1.version_id);

    // Both versions are readable, each with its own content.
    let old = s.review_version(v1.review_id, 1).unwrap();
    assert_eq!(old.notes, "first thoughts");
    assert_eq!(old.total_ome_mg_per_day, Some(60.0));
    assert_eq!(old.record_format, crate::record::RECORD_FORMAT);
    let expected_flags: Vec<&str> = review_input(p.id, "")
        .assessment()
        .flags
        .iter()
        .map(|f| f.id.as_str())
        .collect();
    assert!(!expected_flags.is_empty());
    assert_eq!(old.flag_ids, expected_flags);
    assert_eq!(
        old.assessment.as_ref().unwrap().ome.total_ome_mg_per_day,
        60.0
    );
    assert!(old.unreadable.is_empty(), "{:?}", old.unreadable);
    assert_eq!(old.version_count, 2);
    let latest = s.review(v1.review_id).unwrap();
    assert_eq!(latest.version, 2);
    assert_eq!(latest.notes, "after discussion");
    assert_eq!(latest.total_ome_mg_per_day, Some(40.0));
    assert_eq!(latest.items, vec![morphine_mr(20.0)]);
    assert_eq!(old.items, vec![morphine_mr(30.0)]);
    assert_eq!(old.patient.age, Some(70.0));
    assert_eq!(latest.created_at, old.created_at);
    assert!(latest.saved_at > old.saved_at);
    assert_eq!(s.review_versions(v1.review_id).unwrap().len(), 2);

    // The audit log shows both saves.
    let trail = s
        .audit_log(&AuditQuery {
            entity: Some(AuditEntity::Review),
            entity_id: Some(v1.review_id),
            ..AuditQuery::default()
        })
        .unwrap();
    assert_eq!(trail.len(), 2);
    assert_eq!(trail[1].action, AuditAction::Create);
    assert_eq!(
        trail[1].summary,
        format!("review {} created: version 1", v1.review_id)
    );
    assert_eq!(trail[0].action, AuditAction::Change);
    assert_eq!(
        trail[0].summary,
        format!("review {} saved as a new version: version 2", v1.review_id)
    );
    assert_eq!(trail[0].actor, "Dr A Reviewer");
    assert_eq!(trail[0].patient_id, Some(p.id));
}
}

on_both_backends! {
#[test]
fn an_incomplete_total_is_marked_in_listings() {
    let (_dir, mut s) = new_store();
    let p = s.create_patient(&patient("Jo"), "t").unwrap();
    let methadone = crate::regimen::RawItem {
        drug: Some("methadone".into()),
        route: Some("oral".into()),
        release: Some("immediate".into()),
        strength_mg: Some(5.0),
        units_per_dose: Some(1.0),
        doses_per_day: Some(2.0),
        ..Default::default()
    };
    let input = computed(
        p.id,
        "methadone could not be converted",
        vec![morphine_mr(30.0), methadone],
    );
    let r = s.save_review(&input).unwrap();
    assert_eq!(
        (r.total_ome_mg_per_day, r.ome_complete),
        (Some(60.0), Some(false))
    );
    let h = &s.patient_history(p.id).unwrap()[0];
    assert_eq!(h.ome_complete, Some(false));
}
}

on_both_backends! {
#[test]
fn identical_saves_still_make_new_versions() {
    let (_dir, mut s) = new_store();
    let p = s.create_patient(&patient("Jo"), "t").unwrap();
    let first = s.save_review(&review_input(p.id, "same")).unwrap();
    let input = review_input(p.id, "").with_target(Some(first.review_id), Some(1), "same".into());
    s.save_review(&input).unwrap();
    let second = s
        .save_review(&input.with_target(Some(first.review_id), Some(2), "same".into()))
        .unwrap();
    assert_eq!(second.version, 3);
}
}

#[test]
fn saved_versions_cannot_be_rewritten_or_removed_one_by_one() {
    let (_dir, mut s) = new_store();
    let p = s.create_patient(&patient("Jo"), "t").unwrap();
    s.save_review(&review_input(p.id, "x")).unwrap();
    let c = s.conn();
    let e = c
        .execute("UPDATE review_versions SET notes = 'tampered'", [])
        .unwrap_err();
    assert!(e.to_string().contains("append-only"), "{e}");
    let e = c.execute("DELETE FROM review_versions", []).unwrap_err();
    assert!(e.to_string().contains("delete the whole review"), "{e}");
    let e = c
        .execute("UPDATE reviews SET patient_id = 99", [])
        .unwrap_err();
    assert!(e.to_string().contains("cannot be altered"), "{e}");
    let e = c.execute("DELETE FROM audit_log", []).unwrap_err();
    assert!(e.to_string().contains("append-only"), "{e}");
    let e = c
        .execute("UPDATE audit_log SET actor = 'x'", [])
        .unwrap_err();
    assert!(e.to_string().contains("append-only"), "{e}");
}

on_both_backends! {
#[test]
fn reviews_are_validated_with_field_names() {
    let (_dir, mut s) = new_store();
    let p = s.create_patient(&patient("Jo"), "t").unwrap();
    let other = s.create_patient(&patient("Other"), "t").unwrap();
    let theirs = s.save_review(&review_input(other.id, "theirs")).unwrap();
    let base = review_input(p.id, "n");
    let with = |f: &dyn Fn(&mut ReviewInput)| {
        let mut r = base.clone();
        f(r.input_mut());
        r
    };
    let cases: Vec<(crate::record::ComputedReview, String)> = vec![
        (
            with(&|i| i.patient_id = 999),
            "patient_id: there is no patient 999".into(),
        ),
        (
            with(&|i| i.review_id = Some(12345)),
            "review_id: there is no review 12345".into(),
        ),
        (
            with(&|i| i.review_id = Some(theirs.review_id)),
            format!(
                "review_id: review {} belongs to patient {}, not patient {}",
                theirs.review_id, other.id, p.id
            ),
        ),
        (
            with(&|i| i.reviewer = " ".into()),
            "reviewer: must not be empty (it is recorded in the audit log)".into(),
        ),
        (
            with(&|i| i.notes = "a\u{0}b".into()),
            "notes: must not contain control characters (found '\\0')".into(),
        ),
        (
            with(&|i| i.items[0].drug = Some("x".repeat(reviews::MAX_DOCUMENT_BYTES))),
            format!(
                "items: is too large ({} bytes; at most {})",
                reviews::MAX_DOCUMENT_BYTES + 119,
                reviews::MAX_DOCUMENT_BYTES
            ),
        ),
    ];
    let before = s.counts().unwrap();
    for (input, msg) in cases {
        assert_eq!(s.save_review(&input).unwrap_err().to_string(), msg);
    }
    assert_eq!(s.counts().unwrap(), before, "failed saves write nothing");
}
}

#[test]
fn review_input_json_rejects_unknown_fields_and_defaults_the_rest() {
    let input: ReviewInput = serde_json::from_value(json!({
        "patient_id": 1, "reviewer": "Dr A", "items": []
    }))
    .unwrap();
    assert_eq!(input.patient, crate::patient::RawPatient::default());
    assert_eq!(input.taper, None);
    assert_eq!(input.notes, "");
    // The UI cannot send results: the core computes them.
    let e = serde_json::from_value::<ReviewInput>(json!({
        "patient_id": 1, "reviewer": "Dr A", "items": [], "result": {"ome": {}}
    }))
    .unwrap_err();
    assert!(e.to_string().contains("unknown field `result`"), "{e}");
    let e = serde_json::from_value::<ReviewInput>(json!({
        "patient_id": 1, "reviewer": "Dr A", "items": [], "colour": "red"
    }))
    .unwrap_err();
    assert!(e.to_string().contains("unknown field `colour`"), "{e}");
}

on_both_backends! {
#[test]
fn the_reference_version_defaults_to_the_embedded_tables() {
    let (_dir, mut s) = new_store();
    let p = s.create_patient(&patient("Jo"), "t").unwrap();
    let input = review_input(p.id, "");
    let r = s.save_review(&input).unwrap();
    assert_eq!(
        r.reference_version,
        crate::reference::reference().manifest_version
    );
}
}

on_both_backends! {
#[test]
fn history_lists_each_review_once_at_its_latest_version_newest_first() {
    let (_dir, mut s) = new_store();
    let p = s.create_patient(&patient("Jo"), "t").unwrap();
    let a = s.save_review(&review_input(p.id, "a1")).unwrap();
    let b = s.save_review(&review_input(p.id, "b1")).unwrap();
    let a2 = review_input(p.id, "").with_target(Some(a.review_id), Some(1), "a2".into());
    s.save_review(&a2).unwrap();
    let h = s.patient_history(p.id).unwrap();
    let got: Vec<_> = h
        .iter()
        .map(|r| (r.review_id, r.version, r.notes_excerpt.as_str()))
        .collect();
    assert_eq!(got, [(b.review_id, 1, "b1"), (a.review_id, 2, "a2")]);
    let full = s.patient_reviews(p.id).unwrap();
    assert_eq!(full.len(), 2);
    assert_eq!(full[1].notes, "a2");
    assert!(matches!(
        s.patient_history(999),
        Err(StoreError::NotFound { .. })
    ));
    let e = s.review_version(a.review_id, 7).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("review {} version 7 not found", a.review_id)
    );
    let e = s.review(4242).unwrap_err();
    assert_eq!(e.to_string(), "review 4242 not found");
}
}

on_both_backends! {
#[test]
fn deleting_a_review_removes_all_its_versions() {
    let (_dir, mut s) = new_store();
    let p = s.create_patient(&patient("Jo"), "t").unwrap();
    let a = s.save_review(&review_input(p.id, "a1")).unwrap();
    let a2 = review_input(p.id, "").with_target(Some(a.review_id), Some(1), "a2".into());
    s.save_review(&a2).unwrap();
    s.delete_review(a.review_id, "Dr A").unwrap();
    assert_eq!(s.counts().unwrap().review_versions, 0);
    let log = all_audit(&s);
    assert_eq!(log[0].action, AuditAction::Delete);
    assert_eq!(
        log[0].summary,
        format!("review {} deleted with its 2 version(s)", a.review_id)
    );
}
}

// ---------------------------------------------------------------- leaflets

on_both_backends! {
#[test]
fn leaflet_prints_record_the_pdf_hash_and_are_audited() {
    let (_dir, mut s) = new_store();
    let p = s.create_patient(&patient("Jo"), "t").unwrap();
    let r = s.save_review(&review_input(p.id, "a")).unwrap();
    let pdf = b"%PDF-1.7 pretend leaflet";
    let lp = s
        .record_leaflet_print(r.review_id, 1, "Dr Print", pdf, &details())
        .unwrap();
    assert_eq!(lp.pdf_sha256, sha256_hex(pdf));
    assert_eq!(lp.pdf_size_bytes, pdf.len() as i64);
    assert_eq!((lp.review_id, lp.version), (r.review_id, 1));
    assert_eq!(
        s.leaflet_prints(r.review_id).unwrap(),
        std::slice::from_ref(&lp)
    );
    assert_eq!(
        s.find_leaflet_by_hash(&lp.pdf_sha256.to_uppercase())
            .unwrap(),
        std::slice::from_ref(&lp)
    );
    assert!(s.find_leaflet_by_hash("abc").is_err());
    assert_eq!(s.patient_history(p.id).unwrap()[0].leaflet_count, 1);
    let log = all_audit(&s);
    assert_eq!(log[0].action, AuditAction::Print);
    assert_eq!(log[0].entity, AuditEntity::Leaflet);
    assert_eq!(log[0].actor, "Dr Print");
    let e = s
        .record_leaflet_print(r.review_id, 5, "Dr Print", pdf, &details())
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("review {} version 5 not found", r.review_id)
    );
}
}

on_both_backends! {
#[test]
fn summary_copies_are_audited_with_the_text_hash() {
    let (_dir, mut s) = new_store();
    let p = s.create_patient(&patient("Jo"), "t").unwrap();
    let r = s.save_review(&review_input(p.id, "a")).unwrap();
    s.record_summary_copy(r.review_id, 1, "Dr Copy", "Total OME 120 mg/day")
        .unwrap();
    let log = all_audit(&s);
    assert_eq!(log[0].action, AuditAction::Export);
    assert_eq!(log[0].entity, AuditEntity::Review);
    assert_eq!(log[0].actor, "Dr Copy");
    assert!(log[0]
        .summary
        .contains(&sha256_hex(b"Total OME 120 mg/day")[..16]));
    assert!(s
        .record_summary_copy(r.review_id, 9, "Dr Copy", "x")
        .is_err());
}
}

// ---------------------------------------------------------------- settings

on_both_backends! {
#[test]
fn settings_default_then_save_only_changes_with_audit() {
    let (_dir, mut s) = new_store();
    assert_eq!(s.settings().unwrap(), Settings::default());
    let new = Settings {
        profile: crate::Profile::Cdc,
        high_dose_threshold_mg_per_day: Some(120.0),
        practice_name: "Example Surgery".into(),
        practice_phone: "01234 567890".into(),
        practice_address: "1 High Street\nTown".into(),
        reviewer_name: "Dr A Example".into(),
    };
    assert_eq!(s.update_settings(&new, "Dr A").unwrap(), new);
    assert_eq!(s.settings().unwrap(), new);
    // A file's default name is the settings' reviewer; a team store's is the
    // role that signed in (settings are shared by every seat there).
    let expected = s
        .signed_in_role()
        .unwrap()
        .unwrap_or_else(|| "Dr A Example".into());
    assert_eq!(s.default_actor(), expected);
    // Same settings again: nothing written, nothing audited.
    s.update_settings(&new, "Dr A").unwrap();
    let changed = Settings {
        high_dose_threshold_mg_per_day: None,
        ..new.clone()
    };
    s.update_settings(&changed, "Dr A").unwrap();
    let log = all_audit(&s);
    assert_eq!(log.len(), 2);
    assert_eq!(
        log[0].summary,
        "settings changed: high_dose_threshold_mg_per_day"
    );
    assert_eq!(
        log[1].summary,
        "settings changed: profile, high_dose_threshold_mg_per_day, practice_name, \
         practice_phone, practice_address, reviewer_name"
    );
    let bad = Settings {
        practice_phone: "ring me".into(),
        ..new
    };
    assert!(s.update_settings(&bad, "Dr A").is_err());
    assert_eq!(s.settings().unwrap(), changed);
}
}

#[test]
fn a_damaged_stored_setting_is_reported_and_can_be_overwritten() {
    let (_dir, mut s) = new_store();
    s.conn()
        .execute(
            "INSERT INTO settings VALUES ('profile', '\"martian\"', 'x', 'x')",
            [],
        )
        .unwrap();
    let e = s.settings().unwrap_err();
    assert!(
        e.to_string().starts_with("stored settings is damaged"),
        "{e}"
    );
    s.update_settings(&Settings::default(), "Dr A").unwrap();
    assert_eq!(s.settings().unwrap().profile, crate::Profile::Uk);
}

// ---------------------------------------------------------------- audit, clock

on_both_backends! {
#[test]
fn audit_entries_use_the_injected_clock_and_page_backwards() {
    let (_dir, mut s) = new_store();
    for i in 0..5 {
        s.create_patient(&patient(&format!("P{i}")), "t").unwrap();
    }
    let log = all_audit(&s);
    assert_eq!(log.len(), 5);
    assert!(log
        .windows(2)
        .all(|w| w[0].id > w[1].id && w[0].at > w[1].at));
    assert_eq!(log[4].at, t0());
    let page = s
        .audit_log(&AuditQuery {
            before_id: Some(log[1].id),
            limit: Some(2),
            ..AuditQuery::default()
        })
        .unwrap();
    assert_eq!(
        page.iter().map(|e| e.id).collect::<Vec<_>>(),
        [log[2].id, log[3].id]
    );
    let json = serde_json::to_value(&log[0]).unwrap();
    assert_eq!(json["action"], "create");
    assert_eq!(json["entity"], "patient");
}
}

on_both_backends! {
#[test]
fn actors_are_required() {
    let (_dir, mut s) = new_store();
    let e = s.create_patient(&patient("Jo"), "  ").unwrap_err();
    assert_eq!(e.to_string(), "actor: must not be empty");
}
}

// ---------------------------------------------------------------- demo

on_both_backends! {
#[test]
fn demo_patients_fill_an_empty_store_once() {
    let (_dir, mut s) = new_store();
    let report =
        crate::consult::load_demo_patients(&mut s, "trainer", crate::reference::reference())
            .unwrap();
    assert_eq!(report.patients, 6);
    assert_eq!(report.reviews, 6);
    // Bernard's follow-up re-plans: an eighth version.
    assert_eq!((report.review_versions, report.follow_ups), (8, 2));
    let c = s.counts().unwrap();
    assert_eq!((c.patients, c.reviews, c.review_versions), (6, 6, 8));
    // The outcomes show them: Bernard re-planned from a lower dose, Cora on her plan.
    let o = crate::consult::outcomes(&s, t0().date_naive(), crate::reference::reference()).unwrap();
    assert_eq!(o.patients.len(), 5);
    let month = o.months.last().unwrap();
    assert!(month.reduced >= 2 && month.active_plan >= 2, "{month:?}");
    for p in s.search_patients("", 100).unwrap() {
        assert!(p.patient.name.ends_with("(demo)"));
        assert!(p.patient.nhs_number.unwrap().is_test_range());
        for r in s.patient_history(p.patient.id).unwrap() {
            // Computed by the core, like every saved review.
            assert!(r.total_ome_mg_per_day.is_some() && r.ome_complete.is_some());
            assert_eq!(r.record_format, crate::record::RECORD_FORMAT);
            let full = s.review(r.review_id).unwrap();
            assert!(full.assessment.is_some() && full.unreadable.is_empty());
        }
    }
    let e = load_demo(&mut s).unwrap_err();
    assert_eq!(
        e.message,
        "demo patients can only be loaded into an empty store; this one already has 6 patient(s)"
    );
    assert_eq!(s.counts().unwrap(), c, "refusal changes nothing");
}
}

on_both_backends! {
#[test]
fn demo_patients_are_refused_if_any_real_patient_exists() {
    let (_dir, mut s) = new_store();
    s.create_patient(&patient("Real Person"), "t").unwrap();
    assert!(load_demo(&mut s)
        .unwrap_err()
        .message
        .contains("already has 1 patient"));
    assert_eq!(s.patient_count().unwrap(), 1);
}
}

// ---------------------------------------------------------------- export, backup, restore

on_both_backends! {
#[test]
fn export_contains_everything_and_is_audited() {
    let (_dir, mut s) = new_store();
    load_demo(&mut s).unwrap();
    let first = s.search_patients("ada", 1).unwrap()[0].patient.id;
    let review = s.patient_history(first).unwrap()[1].review_id;
    s.record_leaflet_print(review, 2, "Dr A", b"pdf", &details())
        .unwrap();
    let export = s.export_all("Dr Export").unwrap();
    assert_eq!(export.format, EXPORT_FORMAT);
    assert_eq!(export.patients.len(), 6);
    let versions: usize = export
        .patients
        .iter()
        .flat_map(|p| &p.reviews)
        .map(|r| r.versions.len())
        .sum();
    assert_eq!(versions as i64, export.counts.review_versions);
    let ada = export
        .patients
        .iter()
        .find(|p| p.patient.id == first)
        .unwrap();
    assert_eq!(ada.reviews[0].versions.len(), 2);
    assert_eq!(ada.reviews[0].leaflet_prints.len(), 1);
    let last = export.audit_log.last().unwrap();
    assert_eq!(
        (last.action, last.actor.as_str()),
        (AuditAction::Export, "Dr Export")
    );
    assert_eq!(export.counts.audit_entries as usize, export.audit_log.len());
    let text = serde_json::to_string(&export).unwrap();
    let back: Export = serde_json::from_str(&text).unwrap();
    assert_eq!(back, export);
}
}

#[test]
fn backup_writes_a_checked_single_file_copy() {
    let (dir, mut s) = new_store();
    load_demo(&mut s).unwrap();
    let out = dir.path().join("backup.db");
    let report = s.backup_to(&out, "Dr B", false).unwrap();
    assert_eq!(report.counts.patients, 6);
    assert_eq!(report.sha256, sha256_hex(&file_bytes(&out)));
    assert!(!file::sibling(&out, "-wal").exists());
    let check = check_file(&out).unwrap();
    assert!(check.ok, "{:?}", check.problems);
    assert_eq!(check.journal_mode, "delete");
    // Not over an existing file unless asked.
    let e = s.backup_to(&out, "Dr B", false).unwrap_err();
    assert!(e.to_string().contains("already exists"), "{e}");
    s.backup_to(&out, "Dr B", true).unwrap();
    let e = s
        .backup_to(&dir.path().join("stepdown.db"), "Dr B", true)
        .unwrap_err();
    assert!(e.to_string().contains("is the database itself"), "{e}");
    assert_eq!(all_audit(&s)[0].action, AuditAction::Export);
}

#[test]
fn restore_validates_keeps_a_copy_and_replaces_contents() {
    let (dir, mut s) = new_store();
    load_demo(&mut s).unwrap();
    let out = dir.path().join("backup.db");
    s.backup_to(&out, "Dr B", false).unwrap();
    let backup_bytes = file_bytes(&out);
    // Change the live store after the backup.
    s.create_patient(&patient("Added Later"), "t").unwrap();
    assert_eq!(s.patient_count().unwrap(), 7);

    // A bad backup is refused and nothing changes.
    let junk = dir.path().join("junk.db");
    std::fs::write(&junk, "not a backup").unwrap();
    let e = s.restore_from(&junk, "Dr R").unwrap_err();
    assert!(
        e.to_string().contains("cannot restore from this file"),
        "{e}"
    );
    assert_eq!(s.patient_count().unwrap(), 7);

    let report = s.restore_from(&out, "Dr R").unwrap();
    assert_eq!(s.patient_count().unwrap(), 6);
    assert_eq!(report.counts.patients, 6);
    assert_eq!(
        file_bytes(&out),
        backup_bytes,
        "the backup is never modified"
    );
    let kept = PathBuf::from(report.previous_copy.unwrap());
    assert!(kept.to_string_lossy().contains(".pre-restore-"));
    assert_eq!(open_at(&kept).patient_count().unwrap(), 7);
    // The store still works and is still in WAL mode.
    s.create_patient(&patient("After Restore"), "t").unwrap();
    let mode: String = s
        .conn()
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    assert!(s.check().ok);
    assert_eq!(all_audit(&s)[1].action, AuditAction::Restore);
}

#[test]
fn restore_file_moves_a_damaged_database_aside_instead_of_deleting_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("stepdown.db");
    let out = dir.path().join("backup.db");
    {
        let mut s = open_at(&db);
        load_demo(&mut s).unwrap();
        s.backup_to(&out, "t", false).unwrap();
    }
    std::fs::write(&db, "garbage that replaced the database").unwrap();
    let report = restore_file(&db, &out, options(), "Dr R").unwrap();
    let kept = PathBuf::from(report.previous_copy.unwrap());
    assert_eq!(
        std::fs::read_to_string(&kept).unwrap(),
        "garbage that replaced the database"
    );
    assert_eq!(open_at(&db).patient_count().unwrap(), 6);
}

#[test]
fn restore_file_creates_a_missing_database() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("backup.db");
    {
        let mut s = open_at(&dir.path().join("old.db"));
        load_demo(&mut s).unwrap();
        s.backup_to(&out, "t", false).unwrap();
    }
    let db = dir.path().join("new/stepdown.db");
    let report = restore_file(&db, &out, options(), "Dr R").unwrap();
    assert_eq!(report.previous_copy, None);
    assert_eq!(report.counts.patients, 6);
}

// ---------------------------------------------------------------- failures while open

#[test]
fn a_full_disk_is_reported_and_loses_nothing() {
    let (_dir, mut s) = new_store();
    let p = s.create_patient(&patient("Jo"), "t").unwrap();
    let saved = s.save_review(&review_input(p.id, "kept")).unwrap();
    // SQLite reports a full disk and a reached size limit the same way
    // (SQLITE_FULL); the size limit lets a test produce it without root.
    let pages: i64 = s
        .conn()
        .pragma_query_value(None, "page_count", |r| r.get(0))
        .unwrap();
    s.conn()
        .pragma_update(None, "max_page_count", pages)
        .unwrap();
    let mut big = review_input(p.id, "too big");
    big.input_mut().items[0].drug = Some("z".repeat(200_000));
    let e = s.save_review(&big).unwrap_err();
    assert!(matches!(e, StoreError::DiskFull), "{e:?}");
    assert!(e
        .to_string()
        .starts_with("the disk is full: the change was not saved"));
    assert_eq!(crate::ApiError::from(e).code, ErrorCode::Storage);
    assert_eq!(s.review(saved.review_id).unwrap().notes, "kept");
    assert_eq!(s.counts().unwrap().review_versions, 1);
}

/// Issue 20: a full disk read "internal error … disk I/O error 4874"
/// (SQLITE_IOERR_SHMSIZE: the WAL index could not grow). It, and any other
/// disk I/O failure, is now a plain sentence and a storage error, never
/// "internal". (A real full disk needs root and a small filesystem; the
/// error SQLite returns is made here as rusqlite hands it over.)
#[test]
fn disk_io_errors_are_plain_sentences_not_internal_errors() {
    let sqlite = |extended_code: i32| {
        rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(extended_code),
            Some("disk I/O error".into()),
        )
    };
    let shm = StoreError::from(sqlite(rusqlite::ffi::SQLITE_IOERR_SHMSIZE));
    assert!(matches!(shm, StoreError::DiskFull), "{shm:?}");
    assert!(shm.to_string().starts_with("the disk is full"), "{shm}");
    let write = StoreError::from(sqlite(rusqlite::ffi::SQLITE_IOERR_WRITE));
    assert!(matches!(write, StoreError::DiskIo(_)), "{write:?}");
    assert!(
        write
            .to_string()
            .starts_with("the database file could not be read or written"),
        "{write}"
    );
    let full = StoreError::from(sqlite(rusqlite::ffi::SQLITE_FULL));
    assert!(matches!(full, StoreError::DiskFull), "{full:?}");
    for e in [shm, write, full] {
        assert!(!e.is_user_error());
        let api = crate::ApiError::from(e);
        assert_eq!(api.code, ErrorCode::Storage, "{}", api.message);
        assert!(!api.message.contains("internal"), "{}", api.message);
    }
}

#[test]
fn a_held_write_lock_gives_a_clear_busy_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let mut s = Store::open_with(
        &path,
        OpenOptions {
            busy_timeout: Duration::from_millis(100),
            ..options()
        },
    )
    .unwrap();
    let p = s.create_patient(&patient("Jo"), "t").unwrap();
    let other = rusqlite::Connection::open(&path).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    let e = s.save_review(&review_input(p.id, "x")).unwrap_err();
    assert!(matches!(e, StoreError::Busy), "{e:?}");
    assert!(e
        .to_string()
        .contains("another Stepdown window or process is saving"));
    other.execute_batch("COMMIT").unwrap();
    s.save_review(&review_input(p.id, "x")).unwrap();
}

#[test]
fn check_reports_counts_and_versions() {
    let (_dir, mut s) = new_store();
    load_demo(&mut s).unwrap();
    let r = s.check();
    assert!(r.ok, "{:?}", r.problems);
    assert_eq!(r.integrity, ["ok"]);
    assert_eq!(r.schema_version, migrations::LATEST_VERSION);
    assert_eq!(r.counts.unwrap().patients, 6);
    let text = r.to_text();
    assert!(text.contains("Result: OK"), "{text}");
    assert!(
        text.contains("6 patient(s), 6 review(s) (8 saved version(s))"),
        "{text}"
    );
}

#[test]
fn api_error_codes() {
    let e: crate::ApiError = StoreError::NotFound {
        entity: "patient".into(),
        id: 7,
    }
    .into();
    assert_eq!(
        serde_json::to_value(&e).unwrap(),
        json!({"code": "not-found", "message": "patient 7 not found"})
    );
    let e: crate::ApiError = StoreError::invalid("name", "must not be empty").into();
    assert_eq!(
        serde_json::to_value(&e).unwrap(),
        json!({"code": "invalid-input", "message": "name: must not be empty",
               "fields": [{"path": "name", "message": "must not be empty"}]})
    );
    let e: crate::ApiError = StoreError::Busy.into();
    assert_eq!(e.code, ErrorCode::Storage);
}

// ------------------------------------------------- what only the team store has
//
// Seats on one PostgreSQL store: skipped (with a note) without a test cluster.

on_both_backends! {
    #[test]
    fn a_unique_key_refusing_a_second_record_is_a_duplicate_in_words() {
        let (_held, mut s) = new_store();
        s.create_patient(
            &PatientInput {
                nhs_number: Some("9434765919".into()),
                ..patient("Jo Smith")
            },
            "t",
        )
        .unwrap();
        // Past the store's own check (which reads first), as a second seat's
        // insert racing the first would reach the key.
        let e: StoreError = s
            .db()
            .execute(
                "INSERT INTO patients (nhs_number, name, created_at, updated_at)
                 VALUES ('9434765919', 'Again', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')",
                (),
            )
            .unwrap_err()
            .into();
        assert!(matches!(e, StoreError::Duplicate { .. }), "{e}");
        let api = crate::ApiError::from(e);
        assert_eq!(api.code, ErrorCode::Duplicate);
        assert!(
            api.message
                .starts_with("a patient with this NHS number is already in the store"),
            "{}",
            api.message
        );
        for unsaid in ["UNIQUE", "patients", "9434765919", "Key ("] {
            assert!(!api.message.contains(unsaid), "{unsaid:?} in {}", api.message);
        }
    }
}

mod postgres_only {
    use super::*;
    use crate::store::test_pg::{new_pg_store, on_pg, PgSchema};

    /// Practices A81001 (alice) and B82002 (bob) and the owner's store.
    fn team() -> (PgSchema, Store) {
        let (schema, store) = new_pg_store(options());
        schema.owner_sql(
            "INSERT INTO seat_practices (role_name, practice_code)
             VALUES ('seat_alice', 'A81001'), ('seat_bob', 'B82002')",
        );
        (schema, store)
    }

    fn seat(schema: &PgSchema, role: &str) -> Store {
        Store::open_with(schema.url_as(role), options()).unwrap()
    }

    #[test]
    fn appends_from_concurrent_seats_extend_one_gap_free_chain() {
        on_pg(|| {
            let (schema, owner) = team();
            let threads: Vec<_> = ["seat_alice", "seat_alice", "seat_bob", "seat_bob"]
                .into_iter()
                .enumerate()
                .map(|(i, role)| {
                    let url = schema.url_as(role);
                    std::thread::spawn(move || {
                        let mut s = Store::open_with(url, options()).unwrap();
                        for n in 0..15 {
                            s.create_patient(&patient(&format!("P{i}-{n}")), role)
                                .unwrap();
                        }
                    })
                })
                .collect();
            for t in threads {
                t.join().unwrap();
            }
            let report = owner.verify_audit_chain().unwrap();
            assert!(report.ok, "{report:?}");
            // Two assignments and sixty patients, ids 1..=62 without a gap.
            assert_eq!(report.entries, 62);
            assert_eq!(report.head_id, Some(62));
            assert_eq!(
                schema.owner_strings(
                    "SELECT (count(*) = max(id) AND min(id) = 1)::text FROM audit_log"
                ),
                ["true"]
            );
            let head = report.recorded_head.unwrap();
            assert_eq!((head.entries, head.last_id), (62, 62));
            assert_eq!(head.chain_hash, report.head_hash);
        });
    }

    #[test]
    fn the_servers_verification_agrees_with_rusts_and_seats_see_a_break() {
        on_pg(|| {
            let (schema, owner) = team();
            let mut alice = seat(&schema, "seat_alice");
            for n in 0..3 {
                alice
                    .create_patient(&patient(&format!("A{n}")), "alice")
                    .unwrap();
            }
            let clean = owner.verify_audit_chain().unwrap();
            assert!(clean.ok && clean.entries == 5, "{clean:?}");
            // The owner alters entry 4 behind the triggers' back.
            schema.owner_sql(
                "ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update;
                 UPDATE audit_log SET summary = 'rewritten' WHERE id = 4;
                 ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_update;",
            );
            // The owner sees every entry: Rust walks the chain and names the
            // entry, and the server's check found the same one.
            let r = owner.verify_audit_chain().unwrap();
            assert!(!r.ok);
            let broken = r.first_broken.as_ref().unwrap();
            assert_eq!((broken.id, broken.problem), (4, ChainProblem::Mismatch));
            assert!(
                !r.problems.iter().any(|p| p.contains("disagree")),
                "{:?}",
                r.problems
            );
            // Bob sees none of alice's entries, yet the server's check tells him.
            let bob = seat(&schema, "seat_bob");
            let r = bob.verify_audit_chain().unwrap();
            assert!(!r.ok);
            assert_eq!(r.entries, 5);
            assert_eq!(r.first_broken.unwrap().id, 4);
            // stepdown check says so too.
            let check = bob.check();
            assert!(!check.ok);
            assert!(
                check
                    .problems
                    .iter()
                    .any(|p| p.contains("breaks at entry 4")),
                "{:?}",
                check.problems
            );
        });
    }

    #[test]
    fn a_seat_knows_the_role_it_signed_in_as_and_a_file_has_none() {
        on_pg(|| {
            let (schema, owner) = team();
            assert_eq!(
                seat(&schema, "seat_bob")
                    .signed_in_role()
                    .unwrap()
                    .as_deref(),
                Some("seat_bob")
            );
            assert_eq!(
                owner.signed_in_role().unwrap().as_deref(),
                Some("stepdown_test_owner")
            );
        });
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            open_at(&dir.path().join("stepdown.db"))
                .signed_in_role()
                .unwrap(),
            None
        );
    }

    #[test]
    fn every_entry_carries_the_role_that_signed_in() {
        on_pg(|| {
            let (schema, mut owner) = team();
            let mut alice = seat(&schema, "seat_alice");
            let mut bob = seat(&schema, "seat_bob");
            alice
                .create_patient(&patient("A"), "A. Pharmacist")
                .unwrap();
            // The actor is what the seat says; the role is what signed in.
            bob.create_patient(&patient("B"), "A. Pharmacist").unwrap();
            owner.create_patient(&patient("C"), "admin").unwrap();
            assert_eq!(
                schema.owner_strings(
                    "SELECT db_role || ' ' || actor FROM audit_log
                     WHERE entity = 'patient' ORDER BY id"
                ),
                [
                    "seat_alice A. Pharmacist",
                    "seat_bob A. Pharmacist",
                    "stepdown_test_owner admin"
                ]
            );
        });
    }

    #[test]
    fn a_seat_cannot_reach_another_practices_records_through_the_store() {
        on_pg(|| {
            let (schema, _owner) = team();
            let mut alice = seat(&schema, "seat_alice");
            let mut bob = seat(&schema, "seat_bob");
            let p = alice
                .create_patient(
                    &PatientInput {
                        nhs_number: Some("9434765919".into()),
                        local_id: Some("EMIS-1".into()),
                        ..patient("Jo Smith")
                    },
                    "alice",
                )
                .unwrap();
            let r = alice.save_review(&review_input(p.id, "alice's")).unwrap();
            assert!(matches!(
                bob.patient(p.id),
                Err(StoreError::NotFound { .. })
            ));
            assert!(matches!(
                bob.review(r.review_id),
                Err(StoreError::NotFound { .. })
            ));
            assert!(bob.search_patients("Smith", 50).unwrap().is_empty());
            assert!(bob.search_patients("", 50).unwrap().is_empty());
            assert_eq!(bob.patient_by_nhs_number("9434765919", None).unwrap(), None);
            assert!(matches!(
                bob.delete_patient(p.id, "bob"),
                Err(StoreError::NotFound { .. })
            ));
            assert!(bob.save_review(&review_input(p.id, "bob's")).is_err());
            let seen = bob
                .audit_log(&AuditQuery {
                    patient_id: Some(p.id),
                    ..AuditQuery::default()
                })
                .unwrap();
            assert!(seen.is_empty(), "{seen:?}");
            // Uniqueness is per practice: bob's own patient may share the
            // number, and learns nothing of alice's.
            bob.create_patient(
                &PatientInput {
                    nhs_number: Some("9434765919".into()),
                    local_id: Some("emis-1".into()),
                    ..patient("Jo Smith")
                },
                "bob",
            )
            .unwrap();
            // Alice's record is intact.
            assert_eq!(alice.patient(p.id).unwrap(), p);
            assert_eq!(alice.review(r.review_id).unwrap().version, 1);
        });
    }

    #[test]
    fn the_migrations_run_once_record_their_version_and_leave_a_clean_schema() {
        on_pg(|| {
            let (schema, store) = new_pg_store(options());
            assert_eq!(store.opened_at_version(), 0);
            assert_eq!(
                store.schema_version().unwrap(),
                migrations_pg::PG_LATEST_VERSION
            );
            drop(store);
            let again = Store::open_with(schema.url(), options()).unwrap();
            assert_eq!(again.opened_at_version(), migrations_pg::PG_LATEST_VERSION);
            let check = again.check();
            assert!(check.ok, "{:?}", check.problems);
            assert_eq!(
                schema.owner_strings(
                    "SELECT version || ' ' || sha256 FROM stepdown_schema_version ORDER BY 1"
                ),
                migrations_pg::PG_MIGRATIONS
                    .iter()
                    .map(|m| format!("{} {}", m.version, leaflets::sha256_hex(m.sql.as_bytes())))
                    .collect::<Vec<_>>()
            );
            // check through the address, as `stepdown check --db postgres://…`.
            let by_address = check_file(Path::new(&schema.url())).unwrap();
            assert!(by_address.ok, "{:?}", by_address.problems);
            // A dropped safeguard is named.
            schema.owner_sql("DROP TRIGGER review_versions_no_update ON review_versions");
            let check = again.check();
            assert!(
                check
                    .problems
                    .iter()
                    .any(|p| p.contains("review_versions_no_update")),
                "{:?}",
                check.problems
            );
            // So is the audit of a practice's leaflet details (migration 8):
            // without it a phone could change unrecorded.
            schema.owner_sql("ALTER TABLE practices DISABLE TRIGGER practices_audit");
            let check = again.check();
            assert!(
                check.problems.iter().any(|p| p
                    == "the safeguard trigger practices_audit on practices is disabled (outside \
                        Stepdown): what it protects may have been changed"),
                "{:?}",
                check.problems
            );
        });
    }

    #[test]
    fn a_newer_schema_an_unreachable_server_and_a_refused_sign_in_are_named() {
        on_pg(|| {
            let (schema, store) = new_pg_store(options());
            drop(store);
            schema.owner_sql(
                "INSERT INTO stepdown_schema_version (version, name, sha256, applied_at)
                 VALUES (99, 'future', repeat('0', 64), 'x')",
            );
            let e = Store::open_with(schema.url(), options()).unwrap_err();
            assert!(
                matches!(e, StoreError::NewerVersion { found: 99, .. }),
                "{e}"
            );
            assert!(e.to_string().contains("newer version of Stepdown"), "{e}");

            let e = Store::open(
                "postgresql://seat:sekr3t@/stepdown_test?host=/nonexistent-dir&connect_timeout=2",
            )
            .unwrap_err();
            assert!(matches!(e, StoreError::ServerUnreachable { .. }), "{e}");
            assert!(!e.to_string().contains("sekr3t"), "{e}");
            assert!(e.to_string().contains("seat:***@"), "{e}");

            let e = Store::open_with(schema.url_as("no_such_role"), options()).unwrap_err();
            assert!(matches!(e, StoreError::AuthenticationFailed { .. }), "{e}");
            assert!(e.to_string().contains("refused the sign-in"), "{e}");
        });
    }

    #[test]
    fn a_unique_key_refused_by_the_server_is_named() {
        on_pg(|| {
            let (_schema, s) = new_pg_store(options());
            let e: StoreError = s
                .db()
                .execute(
                    "INSERT INTO practices (code, name) VALUES ('A81001', 'Again')",
                    (),
                )
                .unwrap_err()
                .into();
            assert!(
                matches!(&e, StoreError::Duplicate { key, .. } if key == "practices_pkey"),
                "{e}"
            );
            assert_eq!(
                e.to_string(),
                "a practice with this ODS code is already in the store (another seat or window \
                 may have saved it first). Nothing was changed; open the existing record instead"
            );
            assert_eq!(crate::ApiError::from(e).code, ErrorCode::Duplicate);
        });
    }

    #[test]
    fn a_seat_cannot_write_what_only_admins_write() {
        on_pg(|| {
            let (schema, _owner) = team();
            let mut alice = seat(&schema, "seat_alice");
            let new = Settings {
                practice_name: "Riverside".into(),
                ..Settings::default()
            };
            let e = alice.update_settings(&new, "alice").unwrap_err();
            let StoreError::PermissionDenied(denied) = &e else {
                panic!("{e}")
            };
            assert_eq!(denied.kind, DeniedKind::AdminOnly);
            assert_eq!(
                e.to_string(),
                "this seat (signed in as seat_alice) may not change the shared settings: only \
                 the store's administrator may. Nothing was changed; ask your administrator to \
                 make the change"
            );
            let api = crate::ApiError::from(e);
            assert_eq!(api.code, ErrorCode::PermissionDenied);
            assert!(
                !api.message.contains("permission denied for table"),
                "{}",
                api.message
            );
        });
    }

    #[test]
    fn on_a_team_store_changes_are_recorded_under_the_signed_in_role_only() {
        on_pg(|| {
            let (schema, mut owner) = team();
            owner
                .update_settings(
                    &Settings {
                        reviewer_name: "Dr Shared Name".into(),
                        ..Settings::default()
                    },
                    "admin",
                )
                .unwrap();
            let mut alice = seat(&schema, "seat_alice");
            // Not the shared settings' reviewer name: the role.
            assert_eq!(alice.default_actor(), "seat_alice");
            assert_eq!(alice.seat_name(None, "--actor").unwrap(), "seat_alice");
            assert_eq!(alice.seat_name(Some(" "), "--actor").unwrap(), "seat_alice");
            assert_eq!(
                alice.seat_name(Some("seat_alice"), "--actor").unwrap(),
                "seat_alice"
            );
            let e = alice
                .seat_name(Some("A. Pharmacist"), "--actor")
                .unwrap_err();
            assert!(matches!(&e, StoreError::Invalid { field, .. } if field == "--actor"));
            assert_eq!(
                e.to_string(),
                "--actor: \"A. Pharmacist\" is not the role this seat signed in as \
                 (seat_alice): on a team store every change is recorded under the role that \
                 signed in. Leave it out, give seat_alice, or sign in as that person's own role"
            );
            // A review entry naming someone else is refused by its field...
            let p = alice.create_patient(&patient("Jo"), "seat_alice").unwrap();
            let mut input = review_input(p.id, "typed").input().clone();
            input.reviewer = "A. Pharmacist".into();
            let e = crate::consult::save_review(&mut alice, &input, crate::reference::reference())
                .unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidInput);
            assert_eq!(e.fields[0].path, "reviewer");
            assert!(e.message.contains("seat_alice"), "{}", e.message);
            // ...and one left blank is saved under the role.
            input.reviewer = String::new();
            let saved =
                crate::consult::save_review(&mut alice, &input, crate::reference::reference())
                    .unwrap();
            assert_eq!(
                alice.review(saved.review_id).unwrap().reviewer,
                "seat_alice"
            );
        });
        // A file has no sign-in: the name as typed, as before.
        let dir = tempfile::tempdir().unwrap();
        let s = open_at(&dir.path().join("stepdown.db"));
        assert_eq!(
            s.seat_name(Some("A. Pharmacist"), "--actor").unwrap(),
            "A. Pharmacist"
        );
        assert_eq!(s.seat_name(None, "--actor").unwrap(), s.default_actor());
        assert_eq!(s.seat_reviewer("").unwrap(), "");
    }

    #[test]
    fn a_seat_writing_for_a_practice_it_is_not_assigned_to_is_told_so_in_words() {
        on_pg(|| {
            let (schema, _owner) = team();
            let mut alice = seat(&schema, "seat_alice");
            let mut bob = seat(&schema, "seat_bob");
            let p = alice.create_patient(&patient("Jo Smith"), "alice").unwrap();
            // Through the Store API bob cannot even find alice's patient...
            assert!(matches!(
                bob.save_review(&review_input(p.id, "bob's")),
                Err(StoreError::Invalid { .. } | StoreError::NotFound { .. })
            ));
            // ...and a write that reaches the server anyway (a review on her
            // patient, a patient placed in her practice) is refused by it.
            let e = bob
                .write(|tx, _| {
                    tx.execute(
                        "INSERT INTO reviews (patient_id, created_at, created_by)
                         VALUES (?1, '2026-01-01T00:00:00Z', 'bob')",
                        crate::store::db::params![p.id],
                    )?;
                    Ok(())
                })
                .unwrap_err();
            let StoreError::PermissionDenied(denied) = &e else {
                panic!("{e}")
            };
            assert_eq!(denied.kind, DeniedKind::OtherPractice, "{e}");
            assert_eq!(denied.role.as_deref(), Some("seat_bob"));
            assert_eq!(
                denied.practices.as_deref(),
                Some(&["B82002".to_string()][..])
            );
            let api = crate::ApiError::from(e);
            assert_eq!(api.code, ErrorCode::PermissionDenied);
            for said in [
                "signed in as seat_bob",
                "a review",
                "works for B82002",
                "ask the store's administrator to assign this seat",
            ] {
                assert!(api.message.contains(said), "{said:?} in {}", api.message);
            }
            // No SQL, table names or the other practice's code.
            for unsaid in ["reviews:", "row-level", "A81001", "practice_code"] {
                assert!(
                    !api.message.contains(unsaid),
                    "{unsaid:?} in {}",
                    api.message
                );
            }
            let e = bob
                .write(|tx, _| {
                    tx.execute(
                        "INSERT INTO patients (practice_code, name, created_at, updated_at)
                         VALUES ('A81001', 'Placed', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')",
                        (),
                    )?;
                    Ok(())
                })
                .unwrap_err();
            let StoreError::PermissionDenied(denied) = &e else {
                panic!("{e}")
            };
            assert_eq!(
                (&denied.kind, denied.record.as_str()),
                (&DeniedKind::OtherPractice, "a patient record"),
                "{e}"
            );
            // A seat assigned to no practice is told to ask for one.
            schema.owner_sql("DELETE FROM seat_practices WHERE role_name = 'seat_bob'");
            let mut bob = seat(&schema, "seat_bob");
            let e = bob.create_patient(&patient("New"), "bob").unwrap_err();
            let StoreError::PermissionDenied(denied) = &e else {
                panic!("{e}")
            };
            assert_eq!(denied.kind, DeniedKind::NoPractice, "{e}");
            assert!(
                e.to_string()
                    .contains("is not assigned to any practice yet"),
                "{e}"
            );
        });
    }
}
