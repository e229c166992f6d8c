//! A reader that stops early (`stepdown export | head`) is not an error: each
//! command that prints ends quietly with its usual status, never a panic
//! with a backtrace or an "internal error".

use std::process::{Command, Stdio};

use crate::common::cli::{temp_file, BIN};

/// Runs `stepdown args` with its standard output closed before it writes.
/// Outputs larger than a pipe's buffer hit the closed pipe whatever the
/// timing; smaller ones would need the child to write within microseconds
/// of starting, before the read end below is dropped.
fn run_with_output_closed(args: &[&str]) -> (Option<i32>, String) {
    let mut child = Command::new(BIN)
        .args(args)
        .env_remove("STEPDOWN_DB")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn stepdown");
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("wait");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn output_cut_short_ends_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("store.db");
    let db = db.to_str().unwrap();
    let demo = Command::new(BIN)
        .args(["demo", "--db", db])
        .output()
        .expect("demo");
    assert!(
        demo.status.success(),
        "{}",
        String::from_utf8_lossy(&demo.stderr)
    );
    let plan = temp_file(
        r#"{"items": [{"drug": "morphine", "route": "oral", "release": "modified", "form": "tablet", "strength_mg": 30, "units_per_dose": 1, "doses_per_day": 2}], "start_date": "2026-12-07"}"#,
    );
    let plan = plan.path().to_str().unwrap();

    for args in [
        vec!["export", "--db", db],
        vec!["audit", "list", "--db", db],
        vec!["audit", "verify", "--db", db, "--format", "text"],
        vec!["check", "--db", db, "--format", "text"],
        vec!["reference", "--format", "text"],
        vec!["plan", "--format", "text", plan],
        vec!["plan", plan],
        vec!["worklist", "--db", db],
        vec!["--help"],
    ] {
        let (status, err) = run_with_output_closed(&args);
        assert_eq!(status, Some(0), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(!err.contains("internal error"), "{args:?}: {err}");
        assert!(!err.contains("Broken pipe"), "{args:?}: {err}");
    }
}
