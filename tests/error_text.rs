//! Issue 20: "error messages echo raw control and RTL characters and whole
//! 1 MB values". Every message the CLI prints that quotes what was typed (an
//! option's value, a path, clap's own usage errors) goes through the one
//! sanitiser (`stepdown::limits::sanitize`, then `sanitize_message` for the
//! whole message): hidden characters written as `\u{…}`, long values cut.

use std::path::Path;
use std::process::{Command, Output};

use stepdown::limits::{is_hidden, limits};

const BIN: &str = env!("CARGO_BIN_EXE_stepdown");

const PLAN: &str = r#"{"items": [{"drug": "morphine", "route": "oral", "release": "modified", "strength_mg": 30, "units_per_dose": 1, "doses_per_day": 2}],
  "start_date": "2026-12-01", "taper": {"interval_days": 14}}"#;

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("STEPDOWN_DB")
        .output()
        .expect("run stepdown")
}

fn p(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

/// An escape sequence that would turn the terminal red, a right-to-left
/// override that reverses what follows, a right-to-left mark, a bell, then
/// 100,000 characters (Linux takes at most 128 KiB in one argument).
fn hostile() -> String {
    format!(
        "\u{1b}[31mred\u{202e}reversed\u{200f}\u{7}{}",
        "x".repeat(100_000)
    )
}

/// What every refusal's standard error must be: a non-empty message with no
/// hidden character but line ends, each line within the line cap, the whole
/// a few kilobytes at most.
fn assert_clean(what: &str, o: &Output, quoted: bool) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_ne!(o.status.code(), Some(0), "{what}: accepted");
    assert!(!err.trim().is_empty(), "{what}: no message");
    if let Some(c) = err.chars().find(|c| is_hidden(*c) && *c != '\n') {
        panic!("{what}: raw U+{:04X} in the message: {err:?}", u32::from(c));
    }
    let line_cap = limits().max_error_line_chars;
    for line in err.lines() {
        assert!(
            line.chars().count() <= line_cap + 30,
            "{what}: a line of {} characters",
            line.chars().count()
        );
    }
    assert!(err.len() < 8_000, "{what}: {} bytes of message", err.len());
    if quoted {
        // The value is shown, escaped and cut, not dropped.
        assert!(
            err.contains("\\u{001b}[31mred\\u{202e}reversed\\u{200f}\\u{0007}"),
            "{what}: {err}"
        );
        assert!(err.contains("more characters)"), "{what}: {err}");
        let text_cap = limits().max_error_text_chars;
        let xs = err
            .split(|c: char| c != 'x')
            .map(str::len)
            .max()
            .unwrap_or(0);
        assert!(
            xs <= text_cap,
            "{what}: {xs} characters of the value echoed"
        );
    }
}

#[test]
fn every_message_quoting_an_option_or_path_is_sanitised_and_cut() {
    let dir = tempfile::tempdir().expect("dir");
    let plan = dir.path().join("plan.json");
    std::fs::write(&plan, PLAN).expect("write");
    let db = dir.path().join("store.db");
    let out = dir.path().join("out.pdf");
    let v = hostile();
    let (plan, db, out) = (p(&plan), p(&db), p(&out));
    let o = run(&["demo", "--db", db]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // A path cannot hold 100,000 characters; one name of 250 bytes can.
    let bad_name = format!("\u{202e}\u{1b}[31m{}", "y".repeat(230));
    let bad_path = dir.path().join(&bad_name);
    let bad_path = p(&bad_path);
    let bad_out = format!("{bad_path}/x.pdf");
    let bad_option = format!("--{v}");
    let cases: Vec<(&str, Vec<&str>, bool)> = vec![
        ("reference --today", vec!["reference", "--today", &v], true),
        (
            "leaflet --next-review",
            vec!["leaflet", "--out", out, "--next-review", &v, plan],
            true,
        ),
        (
            "leaflet --issue-date",
            vec!["leaflet", "--out", out, "--issue-date", &v, plan],
            true,
        ),
        (
            "summary --review-date",
            vec!["summary", "--review-date", &v, plan],
            true,
        ),
        (
            "worklist --marker",
            vec!["worklist", "--db", db, "--marker", &v],
            true,
        ),
        (
            "settings set --high-dose-threshold",
            vec!["settings", "set", "--db", db, "--high-dose-threshold", &v],
            true,
        ),
        // clap's own messages: a value not among the choices, an unknown option.
        ("plan --profile", vec!["plan", "--profile", &v, plan], true),
        (
            "summary --format",
            vec!["summary", "--format", &v, plan],
            true,
        ),
        ("unknown option", vec!["plan", &bad_option, plan], true),
        ("unknown command", vec![&v], true),
        // Paths quoted by the CLI and by the store.
        ("plan FILE", vec!["plan", bad_path], false),
        ("import FILE", vec!["import", bad_path, "--db", db], false),
        (
            "leaflet --out",
            vec!["leaflet", "--out", &bad_out, plan],
            false,
        ),
        ("check --db", vec!["check", "--db", bad_path], false),
        (
            "patient add --date-of-birth",
            vec![
                "patient",
                "add",
                "--db",
                db,
                "--name",
                "Ann Lee",
                "--date-of-birth",
                &v,
            ],
            false,
        ),
        (
            "patient add --nhs-number",
            vec![
                "patient",
                "add",
                "--db",
                db,
                "--name",
                "Ann Lee",
                "--nhs-number",
                &v,
            ],
            false,
        ),
        // The store's refusal of a text over its cap, as --actor.
        (
            "patient add",
            vec!["patient", "add", "--db", db, "--name", &v, "--actor", &v],
            false,
        ),
    ];
    for (what, args, quoted) in cases {
        let o = run(&args);
        assert_clean(what, &o, quoted);
    }
    // The unit the CLI uses: quoted text escaped and cut; plain text unchanged.
    let m = stepdown::limits::sanitize_message("plain\nlines stay as they are");
    assert_eq!(m, "plain\nlines stay as they are");
    let m = stepdown::limits::sanitize_message(&format!("a {v}\nb"));
    assert!(m.starts_with("a \\u{001b}[31mred\\u{202e}") && m.ends_with("more characters)\nb"));
}

/// The desktop's errors are made by `ApiError::new`: the same sanitiser.
#[test]
fn desktop_error_messages_are_sanitised_too() {
    let e = stepdown::ApiError::new(
        stepdown::ErrorCode::InvalidInput,
        format!("name: {}", hostile()),
    );
    assert!(!e.message.chars().any(|c| is_hidden(c) && c != '\n'));
    assert!(e.message.chars().count() <= limits().max_error_line_chars + 30);
}
