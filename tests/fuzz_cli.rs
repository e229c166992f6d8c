//! Fuzzing every command that reads JSON: `ome`, `assess`, `plan` (and its
//! `--edits` file), and the desktop's `consult::assess` request.
//!
//! Inputs are arbitrary JSON trees, mutations of the valid inputs in
//! tests/cases (wrong types, extreme numbers, unknown fields, deep nesting,
//! long strings, removed fields) and text-level damage (truncation, stray
//! bytes, NaN, Infinity and out-of-range literals).
//!
//! The properties, from the CLI contract (docs/cli.md):
//! - nothing panics;
//! - a rejected input is a user error with a non-empty message (exit 2,
//!   nothing on stdout), never an internal error (exit 1);
//! - an accepted input gives a well-formed result (finite, non-negative totals).
//!
//! Most cases go through the library functions the CLI calls (fast); a
//! smaller number run the built binary to prove the exit-status contract end
//! to end. Default case counts keep this file to a few seconds in a debug
//! build on two cores; `PROPTEST_CASES=N` raises every count for longer runs.

use crate::fuzz_json as json;

use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use json::{arb_input, arb_json, cases, seeds, Input};
use proptest::prelude::*;
use serde_json::Value;
use stepdown::assess::assess_from_json;
use stepdown::consult::{assess as consult_assess, AssessRequest};
use stepdown::ome::{calculate, OmeOptions, OmeReport};
use stepdown::reference::reference;
use stepdown::regimen::regimen_from_json;
use stepdown::taper::{apply_edits, edits_from_json, plan_from_json, plan_text, Plan, PlanError};
use stepdown::Profile;

const BIN: &str = env!("CARGO_BIN_EXE_stepdown");

fn ome_seeds() -> Vec<Value> {
    seeds("ome_cases.json", &["items"])
}

fn assess_seeds() -> Vec<Value> {
    seeds("assess_cases.json", &["patient", "items"])
}

fn plan_seeds() -> Vec<Value> {
    seeds(
        "plan_cases.json",
        &["items", "start_date", "taper", "pauses"],
    )
}

/// Valid edits for the first plan seed (from the plan CLI tests).
fn edit_seeds() -> Vec<Value> {
    [
        r#"{"edits": [{"action": "set_length", "step": 2, "days": 42}]}"#,
        r#"{"edits": [{"action": "add_pause", "after_step": 1, "days": 28}]}"#,
        r#"{"edits": [{"action": "set_dose", "step": 1, "item": 0, "doses": [{"time": "morning", "units": [{"strength_mg": 30, "count": 1}]}, {"time": "evening", "units": [{"strength_mg": 15, "count": 1}, {"strength_mg": 10, "count": 1}]}]}]}"#,
        r#"{"edits": [{"action": "set_length", "step": 3, "days": 7}, {"action": "add_pause", "after_step": 2, "days": 14}]}"#,
    ]
    .iter()
    .map(|s| serde_json::from_str(s).expect("seed edit is JSON"))
    .collect()
}

/// The plan the edits are applied to: the first plan seed.
fn base_plan() -> &'static Plan {
    static PLAN: OnceLock<Plan> = OnceLock::new();
    PLAN.get_or_init(|| {
        let text = plan_seeds()[0].to_string();
        plan_from_json(&text, Profile::Uk, reference()).expect("the first plan case is valid")
    })
}

fn profiles() -> impl Strategy<Value = Profile> {
    prop::sample::select(vec![Profile::Uk, Profile::Cdc])
}

fn check_ome_report(r: &OmeReport) -> Result<(), TestCaseError> {
    for (what, v) in [
        ("total", r.total_ome_mg_per_day),
        ("regular", r.regular_ome_mg_per_day),
        ("as needed", r.as_needed_ome_mg_per_day),
    ] {
        prop_assert!(v.is_finite() && v >= 0.0, "{what} OME is {v}");
    }
    prop_assert!(r.regular_ome_mg_per_day <= r.total_ome_mg_per_day + 1e-9);
    // The report must serialise (it is what the CLI prints).
    prop_assert!(serde_json::to_string(r).is_ok());
    Ok(())
}

fn user_message(m: String) -> Result<(), TestCaseError> {
    prop_assert!(!m.trim().is_empty(), "empty error message");
    Ok(())
}

/// Found by this file's fuzzing: `"start_date": null` used to be refused
/// with an empty message.
#[test]
fn plan_with_a_null_start_date_names_the_field() {
    let text = r#"{"items": [{"drug": "codeine", "route": "oral", "strength_mg": 30,
                   "units_per_dose": 1, "doses_per_day": 4}], "start_date": null}"#;
    let e = plan_from_json(text, Profile::Uk, reference()).expect_err("no start date");
    assert!(e.to_string().contains("start_date"), "{e}");
}

// ----------------------------------------------------------- library paths

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(400), ..ProptestConfig::default() })]

    #[test]
    fn fuzz_ome_never_panics_and_rejects_with_a_message(input in arb_input(ome_seeds()), profile in profiles()) {
        match regimen_from_json(&input.text, profile, reference()) {
            Ok(regimen) => {
                let r = calculate(&regimen, profile, reference(), &OmeOptions::default());
                check_ome_report(&r)?;
            }
            Err(e) => user_message(e.to_string())?,
        }
    }

    #[test]
    fn fuzz_assess_never_panics_and_rejects_with_a_message(input in arb_input(assess_seeds()), profile in profiles()) {
        match assess_from_json(&input.text, profile, reference(), &OmeOptions::default()) {
            Ok(r) => {
                check_ome_report(&r.ome)?;
                prop_assert!(serde_json::to_string(&r).is_ok());
            }
            Err(e) => user_message(e.to_string())?,
        }
    }

    #[test]
    fn fuzz_consult_assess_request_never_panics(v in arb_json(), seed in prop::sample::select(assess_seeds()), use_seed in any::<bool>()) {
        // The desktop sends a typed request; whatever deserialises must
        // either assess or come back as an ApiError with a message.
        let v = if use_seed { seed } else { v };
        if let Ok(request) = serde_json::from_value::<AssessRequest>(v) {
            match consult_assess(&request, reference()) {
                Ok(r) => check_ome_report(&r.ome)?,
                Err(e) => user_message(e.to_string())?,
            }
        }
    }
}

proptest! {
    // Planning does more work per case than the calculators.
    #![proptest_config(ProptestConfig { cases: cases(200), ..ProptestConfig::default() })]

    #[test]
    fn fuzz_plan_never_panics_and_never_fails_internally(input in arb_input(plan_seeds()), profile in profiles()) {
        match plan_from_json(&input.text, profile, reference()) {
            Ok(plan) => {
                prop_assert!(serde_json::to_string(&plan).is_ok());
                prop_assert!(!plan_text(&plan).is_empty());
            }
            Err(PlanError::Input(e)) => user_message(e.to_string())?,
            Err(e) => prop_assert!(false, "internal error (exit 1) for user input: {e}\ninput: {}", input.text),
        }
    }

    #[test]
    fn fuzz_plan_edits_never_panic_and_never_fail_internally(input in arb_input(edit_seeds())) {
        match edits_from_json(&input.text) {
            Ok(edits) => match apply_edits(base_plan(), &edits, reference()) {
                Ok(plan) => prop_assert!(serde_json::to_string(&plan).is_ok()),
                Err(PlanError::Input(e)) => user_message(e.to_string())?,
                Err(e) => prop_assert!(false, "internal error (exit 1) for user edits: {e}\nedits: {}", input.text),
            },
            Err(e) => user_message(e.to_string())?,
        }
    }
}

// ------------------------------------------------------------ the binary

fn run_stdin(args: &[&str], input: &str) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run stepdown");
    if let Some(mut stdin) = child.stdin.take() {
        // The command may exit before reading everything (a bad option);
        // a broken pipe here is not the property under test.
        let _ = stdin.write_all(input.as_bytes());
    }
    child.wait_with_output().expect("wait for stepdown")
}

/// Exit 0 with JSON (or text) on stdout, or exit 2 with nothing on stdout and
/// a message on stderr. Never 1, never a panic or a signal.
fn check_contract(out: &Output, input: &Input, json_out: bool) -> Result<(), TestCaseError> {
    let stderr = String::from_utf8_lossy(&out.stderr);
    prop_assert!(
        !stderr.contains("panicked"),
        "panic: {stderr}\ninput: {}",
        input.text
    );
    match out.status.code() {
        Some(0) => {
            if json_out {
                prop_assert!(
                    serde_json::from_slice::<Value>(&out.stdout).is_ok(),
                    "exit 0 without JSON on stdout"
                );
            } else {
                prop_assert!(!out.stdout.is_empty());
            }
        }
        Some(2) => {
            prop_assert!(
                out.stdout.is_empty(),
                "exit 2 with output: {}",
                String::from_utf8_lossy(&out.stdout)
            );
            prop_assert!(!stderr.trim().is_empty(), "exit 2 without a message");
        }
        other => prop_assert!(
            false,
            "exit {other:?}; stderr: {stderr}\ninput: {}",
            input.text
        ),
    }
    Ok(())
}

proptest! {
    // Each case starts a process (~10 ms in a debug build).
    #![proptest_config(ProptestConfig { cases: cases(40), ..ProptestConfig::default() })]

    #[test]
    fn fuzz_binary_ome_keeps_the_exit_status_contract(input in arb_input(ome_seeds()), cdc in any::<bool>()) {
        let profile = if cdc { "cdc" } else { "uk" };
        let out = run_stdin(&["ome", "--profile", profile, "-"], &input.text);
        check_contract(&out, &input, true)?;
    }

    #[test]
    fn fuzz_binary_assess_keeps_the_exit_status_contract(input in arb_input(assess_seeds())) {
        let out = run_stdin(&["assess", "-"], &input.text);
        check_contract(&out, &input, true)?;
    }

    #[test]
    fn fuzz_binary_plan_keeps_the_exit_status_contract(input in arb_input(plan_seeds()), text in any::<bool>()) {
        let format = if text { "text" } else { "json" };
        let out = run_stdin(&["plan", "--format", format, "-"], &input.text);
        check_contract(&out, &input, !text)?;
    }

    #[test]
    fn fuzz_binary_plan_edits_keep_the_exit_status_contract(input in arb_input(edit_seeds())) {
        let dir = tempfile::tempdir().expect("temp dir");
        let edits = dir.path().join("edits.json");
        std::fs::write(&edits, &input.text).expect("write edits");
        let plan = plan_seeds()[0].to_string();
        let out = run_stdin(&["plan", "--edits", edits.to_str().expect("utf-8 path"), "-"], &plan);
        check_contract(&out, &input, true)?;
    }
}

/// Bytes that are not UTF-8 at all, and the empty input, for every command.
#[test]
fn binary_commands_reject_non_text_and_empty_input_with_exit_2() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cases: [&[u8]; 5] = [
        b"",
        b"\xff\xfe\x00{",
        b"{\"items\": [\xc3\x28]}",
        b"\x00\x00\x00\x00",
        b"\xef\xbb\xbf{\"items\": []}",
    ];
    for (i, bytes) in cases.iter().enumerate() {
        let file = dir.path().join(format!("in{i}.json"));
        std::fs::write(&file, bytes).expect("write input");
        let f = file.to_str().expect("utf-8 path");
        for args in [vec!["ome", f], vec!["assess", f], vec!["plan", f]] {
            let out = Command::new(BIN).args(&args).output().expect("run");
            let input = Input {
                text: String::from_utf8_lossy(bytes).into_owned(),
            };
            if let Err(e) = check_contract(&out, &input, true) {
                panic!("{args:?} on {bytes:?}: {e}");
            }
            // An empty list of items is a valid regimen for `ome`; the rest
            // of these are not JSON.
            if i != 4 {
                assert_eq!(out.status.code(), Some(2), "{args:?} on {bytes:?}");
            }
        }
    }
}

/// A document nested far beyond the parser's limit is refused, not a stack overflow.
#[test]
fn binary_commands_reject_very_deep_nesting_with_exit_2() {
    let deep = format!("{}{}", "[".repeat(200_000), "]".repeat(200_000));
    let deep_obj = format!("{}1{}", "{\"items\":".repeat(50_000), "}".repeat(50_000));
    for doc in [&deep, &deep_obj] {
        for cmd in ["ome", "assess", "plan"] {
            let out = run_stdin(&[cmd, "-"], doc);
            assert_eq!(out.status.code(), Some(2), "{cmd}");
            assert!(out.stdout.is_empty());
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(
                err.contains("recursion limit") || err.contains("line 1"),
                "{cmd}: {err}"
            );
        }
    }
}

// ------------------------------------------------------------ caps (issue 20)

/// Ways to abuse an input: lists and strings past their caps, a key twice,
/// a byte-order mark.
#[derive(Debug, Clone)]
enum Abuse {
    Items(usize),
    Pauses(usize),
    LongDrug(usize),
    DuplicateKey,
    Bom,
}

fn arb_abuse() -> impl Strategy<Value = Abuse> {
    let l = stepdown::limits::limits();
    prop_oneof![
        (l.max_items + 1..l.max_items * 40).prop_map(Abuse::Items),
        (l.max_pauses + 1..l.max_pauses * 40).prop_map(Abuse::Pauses),
        (l.max_string_chars + 1..200_000usize).prop_map(Abuse::LongDrug),
        Just(Abuse::DuplicateKey),
        Just(Abuse::Bom),
    ]
}

fn abused(seed: &Value, abuse: &Abuse) -> String {
    let mut v = seed.clone();
    match abuse {
        Abuse::Items(n) => {
            let item = v["items"][0].clone();
            v["items"] = Value::Array(vec![item; *n]);
        }
        Abuse::Pauses(n) => {
            v["pauses"] = Value::Array(vec![serde_json::json!({"after_step": 1, "days": 14}); *n]);
        }
        Abuse::LongDrug(n) => v["items"][0]["drug"] = Value::String("m".repeat(*n)),
        Abuse::DuplicateKey => {
            let text = v.to_string();
            return text.replacen('{', "{\"start_date\": \"2026-12-01\", ", 1);
        }
        Abuse::Bom => return format!("\u{feff}{v}"),
    }
    v.to_string()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(60), ..ProptestConfig::default() })]

    /// Huge lists, long strings, duplicate keys and BOMs are refused as user
    /// errors naming the cap or the fault, and the message is bounded:
    /// at most `max_errors_reported` problems plus a count, each cut.
    #[test]
    fn fuzz_caps_refuse_oversized_duplicate_and_bom_inputs_with_bounded_messages(
        abuse in arb_abuse(),
        seed in prop::sample::select(plan_seeds()),
    ) {
        let l = stepdown::limits::limits();
        let text = abused(&seed, &abuse);
        let message = match plan_from_json(&text, Profile::Uk, reference()) {
            Ok(_) => {
                // A seed without start_date cannot show the duplicate.
                prop_assert!(matches!(abuse, Abuse::DuplicateKey) && seed.get("start_date").is_none(), "{abuse:?} accepted");
                return Ok(());
            }
            Err(PlanError::Input(e)) => e.to_string(),
            Err(e) => return Err(TestCaseError::fail(format!("internal error for {abuse:?}: {e}"))),
        };
        let expected = match abuse {
            Abuse::Items(_) => "items",
            Abuse::Pauses(_) => "pauses",
            Abuse::LongDrug(_) => "characters long",
            Abuse::DuplicateKey => "appears twice",
            Abuse::Bom => "byte-order mark",
        };
        prop_assert!(message.contains(expected), "{abuse:?}: {}", &message[..message.len().min(500)]);
        prop_assert!(message.lines().count() <= l.max_errors_reported + 1, "{} lines", message.lines().count());
        for line in message.lines() {
            prop_assert!(line.chars().count() <= 2 * l.max_error_text_chars + 80, "a line of {} characters", line.chars().count());
        }
    }
}

/// Issue 20: `/dev/zero` as input grew to 8.4 GB, and 100,000 pauses printed
/// 100,001 error lines. The binary reads at most the cap and says so.
#[test]
fn binary_inputs_over_the_cap_are_refused_without_reading_them_all() {
    let l = stepdown::limits::limits();
    let big = format!(
        "{{\"items\": [], \"pad\": \"{}\"}}",
        "x".repeat(usize::try_from(l.max_input_bytes).expect("cap fits") + 10)
    );
    for cmd in ["ome", "assess", "plan"] {
        let out = run_stdin(&[cmd, "-"], &big);
        assert_eq!(out.status.code(), Some(2), "{cmd}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("larger than"), "{cmd}: {err}");
    }
    let seed = &plan_seeds()[0];
    let mut v = seed.clone();
    v["pauses"] = Value::Array(vec![
        serde_json::json!({"after_step": 1, "days": 14});
        100_000
    ]);
    let out = run_stdin(&["plan", "-"], &v.to_string());
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.lines().count() <= l.max_errors_reported + 1,
        "{} lines",
        err.lines().count()
    );
}
