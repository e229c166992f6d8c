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
    c.execute_batch(
        "DROP TRIGGER audit_log_chain_required;
         UPDATE audit_log SET id = id + 100 WHERE id > 2;
         INSERT INTO audit_log (id, at, actor, action, entity, summary)
             VALUES (3, '2026-11-24T09:00:02.500Z', 'Intruder', 'print', 'store', 'forged');",
    )
    .unwrap();
    let b = verify_audit_file(&path).unwrap().first_broken.unwrap();
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

#[test]
fn removing_the_newest_entries_changes_the_head_hash() {
    // The chain alone cannot show a cut-off tail; the head hash recorded
    // earlier (for example with a backup) can.
    let (_dir, path) = store_with_entries(3);
    let before = verify_audit_file(&path).unwrap();
    attacker(&path)
        .execute("DELETE FROM audit_log WHERE id = 6", [])
        .unwrap();
    let after = verify_audit_file(&path).unwrap();
    assert!(after.ok);
    assert_eq!(after.entries, 5);
    assert_ne!(before.head_hash, after.head_hash);
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
