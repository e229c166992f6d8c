//! Tamper evidence of the audit log: a store is written through the library,
//! then altered behind Stepdown's back with a raw SQLite connection (the
//! append-only triggers dropped first, as an attacker with a SQLite tool
//! would), and `verify_audit_file` / `stepdown audit verify` must name the
//! first broken link.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::Connection;
use serde_json::Value;
use stepdown::store::{
    list_audit_file, verify_audit_file, ChainProblem, ManualClock, OpenOptions, PatientInput, Store,
};

const BIN: &str = env!("CARGO_BIN_EXE_stepdown");

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-24T09:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

/// A store with `n` patients created and then changed: 2n audit entries, ids 1..=2n.
fn store_with_entries(n: usize) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stepdown.db");
    let mut s = Store::open_with(
        &path,
        OpenOptions {
            clock: Arc::new(ManualClock::stepping(t0(), Duration::from_secs(1))),
            ..OpenOptions::default()
        },
    )
    .unwrap();
    for i in 0..n {
        let p = s
            .create_patient(
                &PatientInput {
                    name: format!("Patient {i}"),
                    ..PatientInput::default()
                },
                "Dr A Reviewer",
            )
            .unwrap();
        s.update_patient(
            p.id,
            &PatientInput {
                name: format!("Patient {i} renamed"),
                ..PatientInput::default()
            },
            "Dr A Reviewer",
        )
        .unwrap();
    }
    drop(s);
    (dir, path)
}

/// A raw connection with the append-only triggers removed.
fn attacker(path: &Path) -> Connection {
    let c = Connection::open(path).unwrap();
    c.execute_batch(
        "DROP TRIGGER audit_log_no_update;
         DROP TRIGGER audit_log_no_delete;",
    )
    .unwrap();
    c
}

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

fn stdout_json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[test]
fn an_untouched_log_verifies_with_its_count() {
    let (_dir, path) = store_with_entries(5);
    let r = verify_audit_file(&path).unwrap();
    assert!(r.ok, "{r:?}");
    assert_eq!((r.entries, r.verified, r.head_id), (10, 10, Some(10)));
    assert!(r.first_broken.is_none());
    assert_eq!(r.head_hash.as_deref().map(str::len), Some(64));
}

#[test]
fn an_altered_entry_is_named_as_the_first_broken_link() {
    let (_dir, path) = store_with_entries(5);
    attacker(&path)
        .execute(
            "UPDATE audit_log SET actor = 'Someone Else' WHERE id = ?1",
            [4],
        )
        .unwrap();
    let r = verify_audit_file(&path).unwrap();
    assert!(!r.ok);
    let b = r.first_broken.unwrap();
    assert_eq!((b.id, b.problem), (4, ChainProblem::Mismatch));
    assert_eq!(r.verified, 3);
    assert!(b.detail.contains("altered"), "{}", b.detail);
    assert_ne!(b.stored_hash.as_deref(), Some(b.computed_hash.as_str()));
}

#[test]
fn an_altered_timestamp_or_summary_in_the_first_entry_is_detected() {
    let (_dir, path) = store_with_entries(2);
    attacker(&path)
        .execute(
            "UPDATE audit_log SET at = '2020-01-01T00:00:00.000Z' WHERE id = 1",
            [],
        )
        .unwrap();
    let b = verify_audit_file(&path).unwrap().first_broken.unwrap();
    assert_eq!((b.id, b.problem), (1, ChainProblem::Mismatch));
}

#[test]
fn an_altered_entry_with_a_recomputed_hash_breaks_the_next_link() {
    // Someone who knows the scheme rewrites entry 3 and its hash; entry 4
    // still links to the old hash.
    let (_dir, path) = store_with_entries(3);
    let c = attacker(&path);
    let (at, prev): (String, String) = c
        .query_row(
            "SELECT a.at, b.chain_hash FROM audit_log a, audit_log b WHERE a.id = 3 AND b.id = 2",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let (entity_id, patient_id): (Option<i64>, Option<i64>) = c
        .query_row(
            "SELECT entity_id, patient_id FROM audit_log WHERE id = 3",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let forged = stepdown::store::chain_hash(
        Some(&prev),
        &stepdown::store::ChainContent {
            id: 3,
            at: &at,
            actor: "Forger",
            action: "create",
            entity: "patient",
            entity_id,
            patient_id,
            summary: "nothing to see",
        },
    );
    c.execute(
        "UPDATE audit_log SET actor = 'Forger', action = 'create', entity = 'patient',
             summary = 'nothing to see', chain_hash = ?1 WHERE id = 3",
        [&forged],
    )
    .unwrap();
    let r = verify_audit_file(&path).unwrap();
    let b = r.first_broken.unwrap();
    assert_eq!((b.id, b.problem), (4, ChainProblem::Mismatch));
    assert!(b.detail.contains("entry 3"), "{}", b.detail);
}

#[test]
fn a_deleted_entry_is_named_as_missing() {
    let (_dir, path) = store_with_entries(4);
    attacker(&path)
        .execute("DELETE FROM audit_log WHERE id = 5", [])
        .unwrap();
    let r = verify_audit_file(&path).unwrap();
    let b = r.first_broken.unwrap();
    assert_eq!((b.id, b.problem), (6, ChainProblem::Missing));
    assert!(b.detail.contains("entry 5 is missing"), "{}", b.detail);
    assert_eq!((r.entries, r.verified), (7, 4));
}

#[test]
fn several_deleted_entries_and_a_deleted_first_entry_are_named() {
    let (_dir, path) = store_with_entries(4);
    attacker(&path)
        .execute("DELETE FROM audit_log WHERE id IN (3, 4, 5)", [])
        .unwrap();
    let b = verify_audit_file(&path).unwrap().first_broken.unwrap();
    assert_eq!((b.id, b.problem), (6, ChainProblem::Missing));
    assert!(b.detail.contains("entries 3 to 5"), "{}", b.detail);

    let (_dir2, path2) = store_with_entries(2);
    attacker(&path2)
        .execute("DELETE FROM audit_log WHERE id = 1", [])
        .unwrap();
    let b = verify_audit_file(&path2).unwrap().first_broken.unwrap();
    assert_eq!((b.id, b.problem), (2, ChainProblem::Missing));
    assert!(b.detail.contains("entry 1 is missing"), "{}", b.detail);
}

#[test]
fn reordered_entries_are_detected_at_the_first_moved_one() {
    // Swap the content of entries 3 and 4 (hashes travel with their rows'
    // content, as a careful attacker would move them).
    let (_dir, path) = store_with_entries(3);
    let c = attacker(&path);
    c.execute_batch(
        "UPDATE audit_log SET id = -3 WHERE id = 3;
         UPDATE audit_log SET id = 3 WHERE id = 4;
         UPDATE audit_log SET id = 4 WHERE id = -3;",
    )
    .unwrap();
    let r = verify_audit_file(&path).unwrap();
    let b = r.first_broken.unwrap();
    assert_eq!((b.id, b.problem), (3, ChainProblem::Mismatch));
    assert_eq!(r.verified, 2);
}

#[test]
fn an_inserted_entry_is_detected() {
    let (_dir, path) = store_with_entries(3);
    let c = attacker(&path);
    // The head (schema 5) refuses to move backwards, so the forger must
    // drop its trigger as well, which the schema check then reports.
    c.execute_batch(
        "DROP TRIGGER audit_log_chain_required;
         DROP TRIGGER audit_head_follows_log;
         UPDATE audit_log SET id = id + 100 WHERE id > 2;
         INSERT INTO audit_log (id, at, actor, action, entity, summary)
             VALUES (3, '2026-11-24T09:00:02.500Z', 'Intruder', 'print', 'store', 'forged');",
    )
    .unwrap();
    let r = verify_audit_file(&path).unwrap();
    assert!(
        r.problems
            .iter()
            .any(|p| p.contains("audit_head_follows_log")),
        "{:?}",
        r.problems
    );
    let b = r.first_broken.unwrap();
    assert_eq!((b.id, b.problem), (3, ChainProblem::Unchained));
    assert!(b.stored_hash.is_none());
}

#[test]
fn entries_written_after_tampering_do_not_hide_it() {
    let (_dir, path) = store_with_entries(3);
    attacker(&path)
        .execute("UPDATE audit_log SET summary = 'x' WHERE id = 2", [])
        .unwrap();
    let mut s = Store::open_existing(&path).unwrap();
    s.create_patient(
        &PatientInput {
            name: "Later".into(),
            ..PatientInput::default()
        },
        "Dr B",
    )
    .unwrap();
    let r = s.verify_audit_chain().unwrap();
    assert_eq!(r.first_broken.unwrap().id, 2);
    assert_eq!(r.entries, 7);
}

/// Issue 20: deleting the newest entries passed `audit verify` (the chain
/// that remains is consistent) and the next write reused the id. The head
/// kept apart from the log (migration 5) now shows it, and the next entry
/// follows the last one written, so the gap stays.
#[test]
fn removing_the_newest_entries_is_reported_and_ids_are_not_reused() {
    let (_dir, path) = store_with_entries(3);
    let before = verify_audit_file(&path).unwrap();
    assert!(before.ok, "{:?}", before.problems);
    assert_eq!(before.recorded_head.as_ref().unwrap().entries, 6);
    attacker(&path)
        .execute("DELETE FROM audit_log WHERE id = 6", [])
        .unwrap();
    let after = verify_audit_file(&path).unwrap();
    assert!(!after.ok);
    assert_eq!(after.entries, 5);
    assert!(
        after
            .problems
            .iter()
            .any(|p| p.contains("newest audit entries have been deleted") && p.contains("entry 6")),
        "{:?}",
        after.problems
    );
    assert_ne!(before.head_hash, after.head_hash);

    // The next write takes id 7, chained to the deleted entry 6: the gap shows.
    let mut s = Store::open_existing(&path).unwrap();
    s.create_patient(
        &PatientInput {
            name: "Later".into(),
            ..PatientInput::default()
        },
        "Dr B",
    )
    .unwrap();
    let r = s.verify_audit_chain().unwrap();
    let b = r.first_broken.unwrap();
    assert_eq!(
        (b.id, b.problem),
        (7, ChainProblem::Missing),
        "{}",
        b.detail
    );
    assert!(!r.ok);
}

/// Issue 20: after `DROP TRIGGER …; DELETE FROM audit_log` both `check` and
/// `audit verify` said OK, with 0 entries, on a store full of records.
#[test]
fn an_emptied_audit_log_is_reported_by_check_and_verify() {
    let (_dir, path) = store_with_entries(3);
    attacker(&path)
        .execute("DELETE FROM audit_log", [])
        .unwrap();
    let r = verify_audit_file(&path).unwrap();
    assert!(!r.ok);
    assert_eq!(r.entries, 0);
    assert!(
        r.problems.iter().any(|p| p.contains("emptied")),
        "{:?}",
        r.problems
    );
    let check = stepdown::store::check_file(&path).unwrap();
    assert!(!check.ok);
    assert!(
        check.problems.iter().any(|p| p.contains("emptied")),
        "{:?}",
        check.problems
    );
    assert!(
        check
            .problems
            .iter()
            .any(|p| p.contains("trigger audit_log_no_delete is missing")),
        "{:?}",
        check.problems
    );
    let out = run(&["audit", "verify", "--db", p(&path), "--format", "text"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("emptied"));
    let out = run(&["check", "--db", p(&path)]);
    assert_eq!(out.status.code(), Some(1));

    // With the head removed as well (its triggers dropped), an empty log
    // beside patient records is still reported.
    let c = Connection::open(&path).unwrap();
    c.execute_batch("DROP TRIGGER audit_head_no_delete; DELETE FROM audit_head;")
        .unwrap();
    let r = verify_audit_file(&path).unwrap();
    assert!(!r.ok);
    assert!(
        r.problems.iter().any(|p| p.contains("head record")),
        "{:?}",
        r.problems
    );
}

/// Issue 20: missing append-only triggers were not flagged, and a dropped
/// table passed `check` and then failed the worklist with a raw SQL error.
#[test]
fn check_compares_the_schema_with_the_migrations() {
    let (_dir, path) = store_with_entries(1);
    assert!(stepdown::store::check_file(&path).unwrap().ok);
    let c = Connection::open(&path).unwrap();
    c.execute_batch(
        "DROP TRIGGER review_versions_no_update;
         DROP TABLE cf_state;
         CREATE TABLE stash (x);",
    )
    .unwrap();
    drop(c);
    let report = stepdown::store::check_file(&path).unwrap();
    assert!(!report.ok);
    let all = report.problems.join("\n");
    assert!(
        all.contains("trigger review_versions_no_update is missing"),
        "{all}"
    );
    assert!(all.contains("table cf_state is missing"), "{all}");
    assert!(all.contains("unexpected table stash"), "{all}");
    let out = run(&["check", "--db", p(&path), "--format", "text"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("cf_state"));
}

/// Issue 20: a backup that hit "busy" left a full, unaudited copy of patient
/// data, and the retry then failed with "already exists".
#[test]
fn a_failed_backup_leaves_no_copy_and_a_retry_works() {
    let (dir, path) = store_with_entries(2);
    let mut s = Store::open_with(
        &path,
        OpenOptions {
            busy_timeout: Duration::from_millis(100),
            ..OpenOptions::default()
        },
    )
    .unwrap();
    let out = dir.path().join("backup.db");
    let other = Connection::open(&path).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    let e = s.backup_to(&out, "Dr A", false).unwrap_err();
    assert!(matches!(e, stepdown::StoreError::Busy), "{e:?}");
    other.execute_batch("COMMIT").unwrap();
    let left: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.starts_with("backup"))
        .collect();
    assert!(left.is_empty(), "a failed backup left {left:?}");
    let entries = s.verify_audit_chain().unwrap().entries;
    assert_eq!(entries, 4, "no entry for the failed backup");

    // The retry works, and the report and the log both carry the head.
    let report = s.backup_to(&out, "Dr A", false).unwrap();
    let head = report.audit_head.clone().unwrap();
    assert_eq!(head.entries, 4, "the copy's head: before its own entry");
    assert_eq!(
        head.chain_hash,
        verify_audit_file(&out).unwrap().head_hash,
        "the head in the report is the copy's"
    );
    let last = list_audit_file(&path, 1).unwrap();
    assert!(
        last[0]
            .entry
            .summary
            .contains(head.chain_hash.as_deref().unwrap()),
        "{}",
        last[0].entry.summary
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&out).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}

/// Issue 20: `export` audited first, then failed to write (a full disk),
/// leaving an entry that claimed an export; and it left out case-finding data.
#[test]
fn a_failed_export_leaves_no_entry_and_exports_carry_the_head_and_casefinding() {
    let (_dir, path) = store_with_entries(2);
    let mut s = Store::open_existing(&path).unwrap();
    let e = s
        .export_with("Dr A", |_| -> Result<(), stepdown::StoreError> {
            Err(stepdown::StoreError::DiskFull)
        })
        .unwrap_err();
    assert!(matches!(e, stepdown::StoreError::DiskFull));
    assert_eq!(s.verify_audit_chain().unwrap().entries, 4);
    let export = s.export_all("Dr A").unwrap();
    let head = export.audit_head.clone().unwrap();
    assert_eq!(head.entries, 5, "the export's own entry included");
    assert_eq!(head.last_id, export.audit_log.last().unwrap().id);
    for table in ["cf_imports", "cf_issues", "cf_patients", "cf_texts"] {
        assert!(export.casefinding.contains_key(table), "{table} missing");
    }
}

#[test]
fn cli_audit_verify_reports_ok_with_the_count() {
    let (_dir, path) = store_with_entries(2);
    let out = run(&["audit", "verify", "--db", p(&path)]);
    assert_eq!(out.status.code(), Some(0));
    let v = stdout_json(&out);
    assert_eq!(v["ok"], true);
    assert_eq!(v["entries"], 4);
    assert!(v["first_broken"].is_null());

    let out = run(&["audit", "verify", "--db", p(&path), "--format", "text"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("OK: audit chain intact (4 entries"),
        "{text}"
    );
}

#[test]
fn cli_audit_verify_names_the_first_broken_link_and_exits_1() {
    let (_dir, path) = store_with_entries(3);
    attacker(&path)
        .execute("UPDATE audit_log SET patient_id = 99 WHERE id = 5", [])
        .unwrap();
    let out = run(&["audit", "verify", "--db", p(&path)]);
    assert_eq!(out.status.code(), Some(1));
    let v = stdout_json(&out);
    assert_eq!(v["ok"], false);
    assert_eq!(v["first_broken"]["id"], 5);
    assert_eq!(v["first_broken"]["problem"], "mismatch");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("tampered with at entry 5"), "{err}");

    let out = run(&["audit", "verify", "--db", p(&path), "--format", "text"]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("BROKEN: audit chain fails at entry 5"),
        "{text}"
    );
}

#[test]
fn cli_audit_verify_does_not_change_the_file() {
    let (_dir, path) = store_with_entries(2);
    let before = std::fs::read(&path).unwrap();
    let out = run(&["audit", "verify", "--db", p(&path)]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

#[test]
fn cli_audit_list_prints_the_newest_entries_as_json() {
    let (_dir, path) = store_with_entries(3);
    let out = run(&["audit", "list", "--db", p(&path), "--limit", "2"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = stdout_json(&out);
    let list = v.as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["id"], 6);
    assert_eq!(list[1]["id"], 5);
    assert_eq!(list[0]["action"], "change");
    assert_eq!(list[0]["actor"], "Dr A Reviewer");
    assert_eq!(list[0]["chain_hash"].as_str().unwrap().len(), 64);
    // Same as the library.
    let lib = list_audit_file(&path, 2).unwrap();
    assert_eq!(serde_json::to_value(&lib).unwrap(), v);

    let all = stdout_json(&run(&["audit", "list", "--db", p(&path)]));
    assert_eq!(all.as_array().unwrap().len(), 6);
}

#[test]
fn cli_audit_bad_input_exits_2_with_nothing_on_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("none.db");
    let not_db = dir.path().join("notes.txt");
    std::fs::write(
        &not_db,
        "just some text, long enough to not be an empty file",
    )
    .unwrap();
    for args in [
        vec!["audit", "verify", "--db", p(&missing)],
        vec!["audit", "list", "--db", p(&missing)],
        vec!["audit", "verify", "--db", p(&not_db)],
        vec!["audit", "list", "--db", p(&not_db), "--limit", "0"],
        vec!["audit", "list", "--db", p(&not_db), "--limit", "-3"],
    ] {
        let out = run(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
        assert!(!out.stderr.is_empty(), "{args:?}");
    }
    assert!(!missing.exists(), "verify must not create a store");
}

#[test]
fn store_check_fails_and_restore_refuses_a_tampered_store() {
    let (dir, path) = store_with_entries(2);
    assert!(stepdown::store::check_file(&path).unwrap().ok);
    attacker(&path)
        .execute("UPDATE audit_log SET summary = 'edited' WHERE id = 3", [])
        .unwrap();
    let report = stepdown::store::check_file(&path).unwrap();
    assert!(!report.ok);
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.contains("hash chain breaks at entry 3")),
        "{:?}",
        report.problems
    );
    let out = run(&["check", "--db", p(&path)]);
    assert_eq!(out.status.code(), Some(1));

    let (_dir2, target) = store_with_entries(1);
    let e = stepdown::store::restore_file(&target, &path, OpenOptions::default(), "Dr A")
        .unwrap_err()
        .to_string();
    assert!(e.contains("tampered"), "{e}");
    drop(dir);
}
