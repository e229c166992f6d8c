//! Drives the built `stepdown` binary through the store commands: `demo`,
//! `check`, `backup`, `restore`, `export`, with good and bad files, the
//! `STEPDOWN_DB` override, and read-only files and folders.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_stepdown");

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

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Exit 2, nothing on stdout, one message on stderr containing `expect`.
fn assert_bad_input(out: &Output, expect: &str) {
    assert_eq!(out.status.code(), Some(2), "stderr: {}", stderr(out));
    assert!(
        out.stdout.is_empty(),
        "stdout: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let err = stderr(out);
    assert!(
        err.contains(expect),
        "stderr should contain {expect:?}: {err}"
    );
    assert_eq!(err.trim_end().lines().count(), 1, "one message: {err}");
}

fn demo_db(dir: &Path) -> PathBuf {
    let db = dir.join("stepdown.db");
    let out = run(&["demo", "--db", p(&db)]);
    assert!(out.status.success(), "{}", stderr(&out));
    db
}

#[test]
fn demo_check_backup_export_restore_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("stepdown.db");
    let out = run(&["demo", "--db", p(&db), "--actor", "Trainer"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout_json(&out)["loaded"]["patients"], 6);

    let out = run(&["check", "--db", p(&db)]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report = stdout_json(&out);
    assert_eq!(report["ok"], true);
    assert_eq!(report["integrity"], serde_json::json!(["ok"]));
    assert_eq!(report["counts"]["patients"], 6);
    assert_eq!(report["counts"]["review_versions"], 8);

    let out = run(&["check", "--db", p(&db), "--format", "text"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Result: OK"), "{text}");

    let backup = dir.path().join("backup.db");
    let out = run(&["backup", "--db", p(&db), "--out", p(&backup)]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout_json(&out)["counts"]["patients"], 6);
    let out = run(&["check", "--db", p(&backup)]);
    assert!(out.status.success(), "{}", stderr(&out));

    let out = run(&["export", "--db", p(&db), "--format", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let export = stdout_json(&out);
    assert_eq!(export["format"], "stepdown-export");
    assert_eq!(export["patients"].as_array().unwrap().len(), 6);
    let reviews = export["patients"][0]["reviews"].as_array().unwrap();
    assert_eq!(reviews[0]["versions"].as_array().unwrap().len(), 2);
    // The demo reviews carry OME computed by the engine.
    assert!(reviews[0]["versions"][0]["total_ome_mg_per_day"].is_number());
    let actions: Vec<&str> = export["audit_log"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions.last(), Some(&"export"));
    assert!(actions.contains(&"create"));

    let file = dir.path().join("export.json");
    let out = run(&["export", "--db", p(&db), "--out", p(&file)]);
    assert!(out.status.success(), "{}", stderr(&out));
    let written: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(written["counts"]["patients"], 6);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "exports hold patient data: owner-only");
    }
    let out = run(&["export", "--db", p(&db), "--out", p(&file)]);
    assert_bad_input(&out, "already exists");

    let out = run(&["restore", "--db", p(&db), "--from", p(&backup)]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report = stdout_json(&out);
    let kept = report["previous_copy"].as_str().unwrap();
    assert!(Path::new(kept).exists());
    assert_eq!(report["counts"]["patients"], 6);
    let out = run(&["check", "--db", p(&db)]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn the_db_can_come_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("from-env.db");
    let out = Command::new(BIN)
        .args(["demo"])
        .env("STEPDOWN_DB", &db)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(db.exists());
    // --db wins over the environment.
    let other = dir.path().join("other.db");
    let out = Command::new(BIN)
        .args(["demo", "--db", p(&other)])
        .env("STEPDOWN_DB", &db)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(other.exists());
}

#[test]
fn bad_files_and_arguments_exit_2_with_a_clear_message_and_are_not_touched() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_db(dir.path());

    let missing = dir.path().join("missing.db");
    for cmd in ["check", "backup", "export"] {
        let mut args = vec![cmd, "--db", p(&missing)];
        if cmd == "backup" {
            args.extend(["--out", "x.db"]);
        }
        assert_bad_input(&run(&args), "no such file");
    }
    assert!(!missing.exists(), "read commands never create a store");

    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "Dear Dr ...\n").unwrap();
    for args in [
        vec!["check", "--db", p(&text)],
        vec!["demo", "--db", p(&text)],
        vec!["export", "--db", p(&text)],
    ] {
        assert_bad_input(&run(&args), "not a Stepdown database");
    }
    assert_eq!(std::fs::read_to_string(&text).unwrap(), "Dear Dr ...\n");

    let out = run(&["restore", "--db", p(&db), "--from", p(&text)]);
    assert_bad_input(&out, "cannot restore from this file");
    let out = run(&["demo", "--db", p(&db)]);
    assert_bad_input(&out, "only be loaded into an empty store");
    let out = run(&["backup", "--db", p(&db), "--out", p(&text)]);
    assert_bad_input(&out, "already exists");
    let out = run(&["backup", "--db", p(&db), "--out", p(&db), "--overwrite"]);
    assert_bad_input(&out, "is the database itself");
    let out = run(&["export", "--db", p(&db), "--format", "xml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
}

#[test]
fn a_truncated_database_is_refused_untouched_and_check_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_db(dir.path());
    let bytes = std::fs::read(&db).unwrap();
    let cut = dir.path().join("cut.db");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let out = run(&["check", "--db", p(&cut)]);
    assert_bad_input(&out, "truncated");
    let out = run(&["demo", "--db", p(&cut)]);
    assert_bad_input(&out, "The file has not been changed");
    assert_eq!(std::fs::read(&cut).unwrap(), &bytes[..bytes.len() / 2]);
    // Restoring over it from a good backup keeps it aside.
    let backup = dir.path().join("b.db");
    assert!(run(&["backup", "--db", p(&db), "--out", p(&backup)])
        .status
        .success());
    let out = run(&["restore", "--db", p(&cut), "--from", p(&backup)]);
    assert!(out.status.success(), "{}", stderr(&out));
    let kept = stdout_json(&out)["previous_copy"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(std::fs::read(kept).unwrap(), &bytes[..bytes.len() / 2]);
    assert!(run(&["check", "--db", p(&cut)]).status.success());
}

#[test]
fn check_reports_damage_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_db(dir.path());
    let mut bytes = std::fs::read(&db).unwrap();
    assert!(bytes.len() >= 4096 * 8, "{}", bytes.len());
    // Damage a table page, keeping the header and schema page intact.
    for b in &mut bytes[4096 * 5 + 200..4096 * 6] {
        *b ^= 0x5A;
    }
    std::fs::write(&db, &bytes).unwrap();
    let out = run(&["check", "--db", p(&db)]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report = stdout_json(&out);
    assert_eq!(report["ok"], false);
    assert!(!report["problems"].as_array().unwrap().is_empty());
    assert!(stderr(&out).contains("problem(s) found"));
    let out = run(&["demo", "--db", p(&db)]);
    assert_bad_input(&out, "damaged");
    assert_eq!(std::fs::read(&db).unwrap(), bytes);
}

#[test]
fn a_database_from_a_newer_version_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_db(dir.path());
    {
        let c = rusqlite::Connection::open(&db).unwrap();
        c.pragma_update(None, "user_version", 42).unwrap();
    }
    let before = std::fs::read(&db).unwrap();
    let out = run(&["export", "--db", p(&db)]);
    assert_bad_input(
        &out,
        "written by a newer version of Stepdown (database schema version 42",
    );
    let out = run(&["check", "--db", p(&db)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout_json(&out)["problems"][0]
        .as_str()
        .unwrap()
        .contains("newer than this Stepdown"));
    assert_eq!(std::fs::read(&db).unwrap(), before);
}

/// Makes a file or folder read-only for the duration of a test. Root ignores
/// permission bits, so when chmod has no effect the immutable attribute
/// (`chattr +i`) is used instead; `None` if neither works here.
struct ReadOnly {
    path: PathBuf,
    chattr: bool,
}

impl ReadOnly {
    fn make(path: &Path) -> Option<ReadOnly> {
        use std::os::unix::fs::PermissionsExt;
        let is_dir = path.is_dir();
        let mode = if is_dir { 0o555 } else { 0o444 };
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).ok()?;
        if !writable(path) {
            return Some(ReadOnly {
                path: path.to_path_buf(),
                chattr: false,
            });
        }
        let restore = if is_dir { 0o755 } else { 0o644 };
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(restore)).ok()?;
        let ok = Command::new("chattr")
            .arg("+i")
            .arg(path)
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        if ok && !writable(path) {
            return Some(ReadOnly {
                path: path.to_path_buf(),
                chattr: true,
            });
        }
        if ok {
            let _ = Command::new("chattr").arg("-i").arg(path).status();
        }
        None
    }
}

fn writable(path: &Path) -> bool {
    if path.is_dir() {
        let probe = path.join(".write-probe");
        let ok = std::fs::write(&probe, b"x").is_ok();
        let _ = std::fs::remove_file(&probe);
        ok
    } else {
        std::fs::OpenOptions::new().append(true).open(path).is_ok()
    }
}

impl Drop for ReadOnly {
    fn drop(&mut self) {
        use std::os::unix::fs::PermissionsExt;
        if self.chattr {
            let _ = Command::new("chattr").arg("-i").arg(&self.path).status();
        }
        let mode = if self.path.is_dir() { 0o755 } else { 0o644 };
        let _ = std::fs::set_permissions(&self.path, std::fs::Permissions::from_mode(mode));
    }
}

#[test]
fn a_read_only_file_gets_a_clear_message_and_can_still_be_checked() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_db(dir.path());
    let before = std::fs::read(&db).unwrap();
    let Some(_guard) = ReadOnly::make(&db) else {
        eprintln!("skipped: cannot make a file read-only here");
        return;
    };
    let out = run(&["export", "--db", p(&db)]);
    assert_bad_input(&out, "read-only");
    assert!(
        stderr(&out).contains("Nothing has been changed"),
        "{}",
        stderr(&out)
    );
    let out = run(&["check", "--db", p(&db)]);
    assert!(out.status.success(), "check reads only: {}", stderr(&out));
    assert_eq!(std::fs::read(&db).unwrap(), before);
}

#[test]
fn a_read_only_folder_gets_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("locked");
    std::fs::create_dir(&folder).unwrap();
    let existing = demo_db(&folder);
    let Some(_guard) = ReadOnly::make(&folder) else {
        eprintln!("skipped: cannot make a folder read-only here");
        return;
    };
    let out = run(&["demo", "--db", p(&folder.join("new.db"))]);
    assert_bad_input(&out, "read-only");
    assert!(
        stderr(&out).contains("locked"),
        "names the folder: {}",
        stderr(&out)
    );
    // An existing store in a read-only folder cannot keep its journal beside it.
    let out = run(&["export", "--db", p(&existing)]);
    assert_bad_input(&out, "read-only");
    let out = run(&["check", "--db", p(&existing)]);
    assert!(out.status.success(), "check reads only: {}", stderr(&out));
}
