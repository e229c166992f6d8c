//! Drives the built `stepdown` binary through `stepdown plan`, as the
//! acceptance tests do: every shared case and every worked plan in
//! tests/cases/ must satisfy the invariants they name (and the exact
//! expectations where given); bad input exits 2 with nothing on standard
//! output and a message naming the field; edits are applied and re-checked.

use crate::common::plan_checks as checks;

use std::process::{Command, Output};

use serde_json::{json, Value};
use stepdown::reference::reference;
use stepdown::taper::{Plan, UnitAmount};

use crate::common::cli;

use cli::{cases_dir, run_stdin, temp_file, BIN};

/// Runs `stepdown plan <args> FILE` with `input` in a temporary file.
fn run_file(args: &[&str], input: &str) -> Output {
    cli::run_file(&[&["plan"], args].concat(), input)
}

fn plan_input(case: &Value) -> String {
    let mut input = json!({"items": case["items"], "start_date": case["start_date"]});
    for key in ["taper", "pauses"] {
        if let Some(v) = case.get(key) {
            input[key] = v.clone();
        }
    }
    input.to_string()
}

/// "morning: 1 × 15 mg + 1 × 10 mg; evening: 1 × 30 mg".
fn doses_text(plan: &Plan, step: usize, item: u32) -> String {
    let Some(it) = plan.steps[step - 1].items.iter().find(|i| i.index == item) else {
        return "(absent)".into();
    };
    let doses: Vec<String> = it
        .doses
        .iter()
        .map(|d| {
            let units: Vec<String> = d
                .units
                .iter()
                .map(|u| match u {
                    UnitAmount::Solid(s) => format!("{} × {} mg", s.count, s.strength_mg),
                    UnitAmount::Patch(p) => {
                        format!("{} × {} micrograms/hour", p.count, p.strength_mcg_per_hour)
                    }
                    UnitAmount::Liquid(l) => format!("{} mL", l.ml),
                })
                .collect();
            format!("{}: {}", d.time, units.join(" + "))
        })
        .collect();
    if doses.is_empty() {
        "stop".into()
    } else {
        doses.join("; ")
    }
}

fn nums(v: &Value) -> Vec<f64> {
    v.as_array()
        .map(|a| a.iter().filter_map(Value::as_f64).collect())
        .unwrap_or_default()
}

/// Checks one case against its invariants and expectations.
fn check_case(case: &Value, plan: &Plan, failures: &mut Vec<String>) {
    let label = case["name"].as_str().unwrap_or("?");
    let mut fail = |m: String| failures.push(format!("{label}: {m}"));
    for v in checks::violations(plan, reference()) {
        fail(v);
    }
    let n = plan.steps.len() as f64;
    if let [lo, hi] = nums(&case["steps_range"])[..] {
        if n < lo || n > hi {
            fail(format!("{n} steps, outside {lo}..{hi}"));
        }
    }
    if let Some(allowed) = case.get("allowed_strengths") {
        let allowed = nums(allowed);
        for s in &plan.steps {
            for it in s.items.iter().filter(|i| i.product_id.is_some()) {
                for d in &it.doses {
                    for u in &d.units {
                        let strength = match u {
                            UnitAmount::Solid(x) => x.strength_mg,
                            UnitAmount::Patch(x) => x.strength_mcg_per_hour,
                            UnitAmount::Liquid(x) => x.strength_mg_per_ml,
                        };
                        if !allowed.contains(&strength) {
                            fail(format!("step {}: strength {strength} not allowed", s.step));
                        }
                    }
                }
            }
        }
    }
    if let Some(max) = case["max_step_drop"].as_f64() {
        let mut prev = plan.ome_start;
        for s in &plan.steps {
            if prev - s.total_ome_mg_per_day > max + 1e-9 {
                fail(format!(
                    "step {} drops {} (max {max})",
                    s.step,
                    prev - s.total_ome_mg_per_day
                ));
            }
            prev = s.total_ome_mg_per_day;
        }
    }
    let Some(expect) = case.get("expect") else {
        return;
    };
    if let Some(want) = expect.get("totals") {
        let got: Vec<f64> = plan.steps.iter().map(|s| s.total_ome_mg_per_day).collect();
        if got != nums(want) {
            fail(format!("totals {got:?}, want {:?}", nums(want)));
        }
    }
    if let Some(want) = expect.get("days") {
        let got: Vec<f64> = plan.steps.iter().map(|s| f64::from(s.days)).collect();
        if got != nums(want) {
            fail(format!("days {got:?}, want {:?}", nums(want)));
        }
    }
    if let Some(want) = expect["end_date"].as_str() {
        if plan.end_date.to_string() != want {
            fail(format!("end date {}, want {want}", plan.end_date));
        }
    }
    if let Some(want) = expect["target_reached"].as_bool() {
        if plan.target_reached != want {
            fail(format!("target_reached {}", plan.target_reached));
        }
    }
    if let Some(want) = expect.get("held") {
        let got: Vec<f64> = plan
            .items
            .iter()
            .filter(|i| !i.tapered)
            .map(|i| f64::from(i.index))
            .collect();
        if got != nums(want) {
            fail(format!("held {got:?}, want {:?}", nums(want)));
        }
    }
    if let Some(want) = expect.get("query") {
        let got: Vec<f64> = plan
            .items
            .iter()
            .filter(|i| {
                i.prescriber_query
                    .as_deref()
                    .is_some_and(|q| q.starts_with("Ask the prescriber"))
            })
            .map(|i| f64::from(i.index))
            .collect();
        if got != nums(want) {
            fail(format!(
                "prescriber queries on {got:?}, want {:?}",
                nums(want)
            ));
        }
    }
    // The switches offered per item (ids), never applied without an edit.
    if let Some(want) = expect["offers"].as_object() {
        for (index, ids) in want {
            let got: Vec<String> = plan
                .items
                .iter()
                .find(|i| i.index.to_string() == *index)
                .map(|i| i.switch_offers.iter().map(|o| o.id.clone()).collect())
                .unwrap_or_default();
            let want: Vec<String> = ids
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str().map(String::from))
                .collect();
            if got != want {
                fail(format!("items[{index}] offers {got:?}, want {want:?}"));
            }
        }
    }
    for w in expect["edits_applied_contain"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let w = w.as_str().unwrap_or_default();
        if !plan.edits_applied.iter().any(|e| e.contains(w)) {
            fail(format!(
                "no edit recorded with {w:?}: {:?}",
                plan.edits_applied
            ));
        }
    }
    if let Some(want) = expect["label_contains"].as_str() {
        if !plan.options.label.contains(want) {
            fail(format!("label {:?} lacks {want:?}", plan.options.label));
        }
    }
    if let Some(want) = expect["complete"].as_bool() {
        if plan.ome_end_complete != want {
            fail(format!("ome_end_complete {}", plan.ome_end_complete));
        }
    }
    if let Some(want) = expect["reason"].as_str() {
        if plan.options.reason.as_deref() != Some(want) {
            fail(format!("reason {:?}", plan.options.reason));
        }
    }
    if let Some(want) = expect["prescription_days"].as_object() {
        for (step, days) in want {
            let n: usize = step.parse().unwrap_or(0);
            let got: Vec<f64> = plan
                .steps
                .get(n.wrapping_sub(1))
                .map(|s| s.prescriptions.iter().map(|p| f64::from(p.days)).collect())
                .unwrap_or_default();
            if got != nums(days) {
                fail(format!("step {n} prescriptions {got:?}, want {days}"));
            }
        }
    }
    if let Some(not) = expect["product_not"].as_object() {
        for (index, id) in not {
            let got = plan
                .items
                .iter()
                .find(|i| i.index.to_string() == *index)
                .and_then(|i| i.product_id.clone());
            if got.as_deref() == id.as_str() {
                fail(format!("items[{index}] product is {id}"));
            }
        }
    }
    if let Some(want) = expect.get("order") {
        let got: Vec<f64> = plan.reduction_order.iter().map(|i| f64::from(*i)).collect();
        if got != nums(want) {
            fail(format!("order {got:?}, want {:?}", nums(want)));
        }
    }
    if let Some(want) = expect["products"].as_object() {
        for (index, id) in want {
            let got = plan
                .items
                .iter()
                .find(|i| i.index.to_string() == *index)
                .and_then(|i| i.product_id.clone());
            if got.as_deref() != id.as_str() {
                fail(format!("items[{index}] product {got:?}, want {id}"));
            }
        }
    }
    if let Some(want) = expect["forms"].as_object() {
        for (index, form) in want {
            let got = plan
                .items
                .iter()
                .find(|i| i.index.to_string() == *index)
                .and_then(|i| i.form)
                .map(|f| f.to_string());
            if got.as_deref() != form.as_str() {
                fail(format!("items[{index}] form {got:?}, want {form}"));
            }
        }
    }
    for d in expect["doses"].as_array().into_iter().flatten() {
        let step = d["step"].as_u64().unwrap_or(0) as usize;
        let item = d["item"].as_u64().unwrap_or(0) as u32;
        if step == 0 || step > plan.steps.len() {
            fail(format!("no step {step}"));
            continue;
        }
        let got = doses_text(plan, step, item);
        if Some(got.as_str()) != d["text"].as_str() {
            fail(format!(
                "step {step} item {item}: doses '{got}', want '{}'",
                d["text"]
            ));
        }
    }
    for s in expect["supply"].as_array().into_iter().flatten() {
        let step = s["step"].as_u64().unwrap_or(0) as usize;
        if step == 0 || step > plan.steps.len() {
            fail(format!("no step {step}"));
            continue;
        }
        let got: Vec<String> = plan.steps[step - 1]
            .supply
            .iter()
            .map(|l| l.description.clone())
            .collect();
        let want: Vec<String> = s["lines"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|l| l.as_str().map(str::to_string))
            .collect();
        if got != want {
            fail(format!("step {step} supply {got:?}, want {want:?}"));
        }
    }
    if let Some(want) = expect.get("paracetamol") {
        let got: Vec<f64> = plan
            .steps
            .iter()
            .map(|s| s.paracetamol_mg_per_day.unwrap_or(0.0))
            .collect();
        if got != nums(want) {
            fail(format!("paracetamol {got:?}, want {:?}", nums(want)));
        }
    }
    for w in expect["warnings_contain"].as_array().into_iter().flatten() {
        let w = w.as_str().unwrap_or("");
        if !plan.warnings.iter().any(|x| x.contains(w)) {
            fail(format!(
                "no warning containing {w:?} in {:?}",
                plan.warnings
            ));
        }
    }
    if let Some(want) = expect["warnings"].as_u64() {
        if plan.warnings.len() as u64 != want {
            fail(format!(
                "{} warnings, want {want}: {:?}",
                plan.warnings.len(),
                plan.warnings
            ));
        }
    }
    if let Some(want) = expect["kinds"].as_array() {
        let got: Vec<String> = plan
            .steps
            .iter()
            .map(|s| {
                serde_json::to_value(s.kind)
                    .unwrap_or_default()
                    .as_str()
                    .unwrap_or("")
                    .to_string()
            })
            .collect();
        let want: Vec<String> = want
            .iter()
            .filter_map(|k| k.as_str().map(str::to_string))
            .collect();
        if got != want {
            fail(format!("kinds {got:?}, want {want:?}"));
        }
    }
}

/// Runs every case of one file through the CLI; returns how many ran.
fn check_case_file(name: &str) -> usize {
    let text = std::fs::read_to_string(cases_dir().join(name)).expect("case file");
    let cases: Vec<Value> = serde_json::from_str(&text).expect("case file is JSON");
    let mut failures = Vec::new();
    for (n, case) in cases.iter().enumerate() {
        let label = case["name"].as_str().unwrap_or("?");
        let profile = case["profile"].as_str().unwrap_or("uk");
        let input = plan_input(case);
        // Clinician edits (an accepted switch) go in through `--edits FILE`.
        let edits = case
            .get("edits")
            .map(|e| cli::temp_file(&json!({ "edits": e }).to_string()));
        let out = if let Some(edits) = &edits {
            let path = edits.path().to_string_lossy().into_owned();
            run_file(&["--profile", profile, "--edits", &path], &input)
        } else if n % 2 == 0 {
            // Alternate standard input and a file path so both stay covered.
            run_stdin(&["plan", "--profile", profile], &input)
        } else {
            run_file(&["--profile", profile], &input)
        };
        if let Some(want) = case["expect_error"].as_str() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            if out.status.code() != Some(2) || !out.stdout.is_empty() || !stderr.contains(want) {
                failures.push(format!(
                    "{label}: expected exit 2 with {want:?}, got {:?}: {stderr}",
                    out.status.code()
                ));
            }
            continue;
        }
        if !out.status.success() {
            failures.push(format!(
                "{label}: exit {:?}: {}",
                out.status.code(),
                String::from_utf8_lossy(&out.stderr)
            ));
            continue;
        }
        let plan: Plan = match serde_json::from_slice(&out.stdout) {
            Ok(p) => p,
            Err(e) => {
                failures.push(format!("{label}: output is not a plan: {e}"));
                continue;
            }
        };
        // The contract's field names are present.
        let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        for key in ["steps", "warnings", "ome_start", "ome_end"] {
            if v.get(key).is_none() {
                failures.push(format!("{label}: no {key}"));
            }
        }
        for key in [
            "step",
            "start_date",
            "end_date",
            "total_ome_mg_per_day",
            "items",
            "supply",
            "is_pause",
        ] {
            if v["steps"][0].get(key).is_none() {
                failures.push(format!("{label}: steps[0] has no {key}"));
            }
        }
        check_case(case, &plan, &mut failures);
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    cases.len()
}

#[test]
fn shared_plan_cases_pass_every_invariant() {
    assert!(check_case_file("shared_plan.json") >= 2);
}

#[test]
fn own_worked_plans_pass() {
    let n = check_case_file("plan_cases.json");
    assert!(n >= 30, "only {n} worked plans");
}

/// Issue 14: real UK regimens a specialist pain pharmacist would try, each
/// worked by hand from the reference (the `note` says why), including every
/// regimen the issue names.
#[test]
fn issue_14_worked_plans_pass() {
    let n = check_case_file("plan_issue14_cases.json");
    assert!(n >= 25, "only {n} issue 14 cases");
}

#[test]
fn every_catalogue_drug_has_a_worked_plan() {
    let text = std::fs::read_to_string(cases_dir().join("plan_cases.json")).expect("cases");
    let cases: Vec<Value> = serde_json::from_str(&text).expect("json");
    let drugs: Vec<String> = cases
        .iter()
        .flat_map(|c| c["items"].as_array().cloned().unwrap_or_default())
        .filter_map(|i| i["drug"].as_str().map(str::to_string))
        .collect();
    for row in &reference().products.rows {
        assert!(
            drugs.contains(&row.drug),
            "no worked plan with {}",
            row.drug
        );
    }
}

fn expect_input_error(args: &[&str], input: &str, want: &str) {
    let out = run_stdin(args, input);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{input}\n{stderr}");
    assert!(out.stdout.is_empty(), "stdout must be empty on bad input");
    assert!(stderr.contains(want), "{want:?} not in:\n{stderr}");
}

const MST: &str = r#"{"drug": "morphine", "route": "oral", "release": "modified", "strength_mg": 30, "doses_per_day": 2}"#;

#[test]
fn bad_input_names_the_field() {
    let with = |rest: &str| format!(r#"{{"items": [{MST}], "start_date": "2026-12-01"{rest}}}"#);
    let cases = [
        (with(r#", "taper": {"reduction_percent": 60}"#), "taper.reduction_percent: must be from 1 to 50 % (got 60)"),
        (with(r#", "taper": {"reduction_percent": 0.5}"#), "taper.reduction_percent: must be from 1 to 50"),
        (with(r#", "taper": {"interval_days": 100}"#), "taper.interval_days: must be from 7 to 84 days (got 100)"),
        (with(r#", "taper": {"interval_days": 14.5}"#), "taper.interval_days: must be a whole number"),
        (with(r#", "taper": {"of": "starting"}"#), "taper.of: must be \"original\""),
        (with(r#", "taper": {"target_ome_mg_per_day": -1}"#), "taper.target_ome_mg_per_day: must be from 0"),
        (with(r#", "taper": {"target_ome_mg_per_day": 60}"#), "taper.target_ome_mg_per_day: must be below the starting total of 60 mg OME a day (got 60)"),
        (with(r#", "taper": {"preset": "quick"}"#), "taper.preset: unknown preset 'quick'"),
        (with(r#", "taper": {"speed": 2}"#), "taper.speed: unknown field"),
        (with(r#", "taper": {"order": [3]}"#), "taper.order[0]: no item 3"),
        (with(r#", "taper": {"order": ["codeine"]}"#), "taper.order[0]: codeine is not in the regimen"),
        (with(r#", "taper": {"slow_last_third": "yes"}"#), "taper.slow_last_third: must be true or false"),
        (with(r#", "pauses": [{"after_step": 30, "days": 14}]"#), "pauses[0].after_step: the plan has 13 steps, so a pause can follow steps 1 to 12 (got 30)"),
        (with(r#", "pauses": [{"after_step": 2, "days": 100}]"#), "pauses[0].days: must be from 1 to 84 days (got 100)"),
        (with(r#", "pauses": [{"after_step": 2}]"#), "pauses[0].days: required"),
        (with(r#", "pauses": [{"after_step": 2, "days": 7, "why": "x"}]"#), "pauses[0].why: unknown field"),
        (with(r#", "extra": true"#), "extra: unknown field"),
        (format!(r#"{{"items": [{MST}], "start_date": "01/12/2026"}}"#), "start_date: must be a date written YYYY-MM-DD"),
        (format!(r#"{{"items": [{MST}]}}"#), "start_date: required"),
        (r#"{"items": [{"drug": "morphine", "route": "oral", "strength_mg": -5, "doses_per_day": 2}], "start_date": "2026-12-01"}"#.to_string(), "items[0].strength_mg: must be greater than 0 (got -5)"),
        (r#"{"items": [{"drug": "methadone", "route": "oral", "strength_mg": 10, "doses_per_day": 1}], "start_date": "2026-12-01"}"#.to_string(), "items: nothing here can be tapered by Stepdown"),
        ("[]".to_string(), "input: must be a JSON object"),
        ("{".to_string(), "input: invalid JSON at line 1"),
    ];
    for (input, want) in cases {
        expect_input_error(&["plan"], &input, want);
    }
}

#[test]
fn methadone_alone_is_refused_with_the_reason() {
    let input = r#"{"items": [{"drug": "methadone", "route": "oral", "form": "solution", "strength_mg_per_ml": 1, "ml_per_dose": 30, "doses_per_day": 1}], "start_date": "2026-12-01"}"#;
    expect_input_error(&["plan"], input, "specialist advice");
}

#[test]
fn text_format_prints_a_table() {
    let input = format!(r#"{{"items": [{MST}], "start_date": "2026-12-01"}}"#);
    let out = run_stdin(&["plan", "--format", "text"], &input);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Step"), "{text}");
    assert!(text.contains("01/12/2026  28/12/2026"), "{text}");
    assert!(text.contains("morning: 1 × 15 mg + 1 × 10 mg"), "{text}");
    assert!(text.contains("1 now"), "{text}");
    assert!(text.contains("13 stop"), "{text}");
    assert!(text.contains("28 × 15 mg tablets"), "{text}");
}

/// Issue 15: two items of one product are told apart in the plan text and the
/// clinician summary (never "1. fentanyl patches; 2. fentanyl patches"), and a
/// combination product reads with both strengths wherever it is dispensed.
#[test]
fn two_items_of_one_product_are_told_apart() {
    let fentanyl = r#"{"items": [
        {"drug": "fentanyl", "route": "transdermal", "strength_mcg_per_hour": 25},
        {"drug": "fentanyl", "route": "transdermal", "strength_mcg_per_hour": 12}],
        "start_date": "2026-12-07"}"#;
    let out = run_stdin(&["plan", "--format", "text"], fentanyl);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Reduce in this order: 1. fentanyl 72-hour patches (25 micrograms/hour at the start of the plan); 2. fentanyl 72-hour patches (12 micrograms/hour at the start of the plan)."),
        "{text}"
    );
    let out = run_stdin(&["summary"], fentanyl);
    assert!(out.status.success());
    let summary = String::from_utf8_lossy(&out.stdout);
    assert!(
        summary.contains("- fentanyl 72-hour patches (12 micrograms/hour at the start of the plan): 12 micrograms/hour every 72 hours."),
        "{summary}"
    );
    assert!(
        !summary.contains("1. fentanyl 72-hour patches; 2."),
        "{summary}"
    );

    // Same strength, different doses: the dose tells them apart; the very same
    // dose twice says which entry each is.
    let oramorph = |ml: u32, n: u32| {
        format!(
            r#"{{"drug": "morphine", "route": "oral", "form": "solution", "strength_mg_per_ml": 2, "ml_per_dose": {ml}, "doses_per_day": {n}}}"#
        )
    };
    let input = format!(
        r#"{{"items": [{}, {}, {}], "start_date": "2026-12-07"}}"#,
        oramorph(5, 4),
        oramorph(10, 2),
        oramorph(10, 2)
    );
    let out = run_stdin(&["plan", "--format", "text"], &input);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let order = text
        .lines()
        .find(|l| l.starts_with("Reduce in this order"))
        .unwrap_or("");
    assert!(order.contains("2 mg/mL, "), "{order}");
    assert!(order.contains("entry 1 of 2"), "{order}");
    assert!(order.contains("entry 2 of 2"), "{order}");

    // Co-codamol is dispensed as 30/500, never "30 mg tablets".
    let input = r#"{"items": [{"drug": "codeine", "route": "oral", "form": "tablet", "strength_mg": 30, "paracetamol_mg": 500, "units_per_dose": 2, "doses_per_day": 4}], "start_date": "2026-12-07"}"#;
    let out = run_stdin(&["plan", "--format", "text"], input);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("morning: 2 × 30/500 mg"), "{text}");
    assert!(text.contains("224 × 30/500 mg tablets"), "{text}");
    assert!(!text.contains("30 mg tablets"), "{text}");
}

fn plan_with_edits(input: &str, edits: &str) -> Output {
    let plan_file = temp_file(input);
    let edits_file = temp_file(edits);
    Command::new(BIN)
        .arg("plan")
        .arg("--edits")
        .arg(edits_file.path())
        .arg(plan_file.path())
        .output()
        .expect("run stepdown")
}

#[test]
fn edits_are_applied_and_the_plan_rechecked() {
    let input = format!(r#"{{"items": [{MST}], "start_date": "2026-12-01"}}"#);
    let edits = r#"{"edits": [
        {"action": "set_length", "step": 2, "days": 42},
        {"action": "add_pause", "after_step": 3, "days": 14, "reason": "house move"},
        {"action": "set_dose", "step": 1, "item": 0, "doses": [{"time": "morning", "units": [{"strength_mg": 30, "count": 1}]}, {"time": "evening", "units": [{"strength_mg": 15, "count": 1}, {"strength_mg": 10, "count": 1}]}]}
    ]}"#;
    let out = plan_with_edits(&input, edits);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plan: Plan = serde_json::from_slice(&out.stdout).expect("plan");
    assert_eq!(plan.steps[1].days, 42);
    assert!(plan.steps[3].is_pause);
    assert_eq!(
        plan.steps[3].total_ome_mg_per_day,
        plan.steps[2].total_ome_mg_per_day
    );
    assert_eq!(plan.steps[0].total_ome_mg_per_day, 55.0);
    assert_eq!(plan.steps.len(), 14);
    assert_eq!(plan.edits_applied.len(), 3);
    // Dates follow the new lengths.
    assert_eq!(plan.steps[2].start_date.to_string(), "2027-02-09");
}

#[test]
fn an_increase_is_refused_unless_marked_and_then_warned() {
    let input = format!(r#"{{"items": [{MST}], "start_date": "2026-12-01"}}"#);
    let up = r#"{"action": "set_dose", "step": 3, "item": 0, "doses": [{"time": "morning", "units": [{"strength_mg": 30, "count": 1}]}, {"time": "evening", "units": [{"strength_mg": 30, "count": 1}]}]"#;
    let out = plan_with_edits(&input, &format!(r#"{{"edits": [{up}}}]}}"#));
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("edits[0]: steps[2]: step 3's total would rise from 55 to 60 mg OME a day"),
        "{stderr}"
    );
    let out = plan_with_edits(
        &input,
        &format!(r#"{{"edits": [{up}, "intent": "hold-or-reversal"}}]}}"#),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("edits[0].reason: required"));
    // Marked with a reason: allowed, warned, and the later step must not rise either.
    let out = plan_with_edits(
        &input,
        &format!(
            r#"{{"edits": [{up}, "intent": "hold-or-reversal", "reason": "pain flare after a fall"}}]}}"#
        ),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plan: Plan = serde_json::from_slice(&out.stdout).expect("plan");
    assert_eq!(plan.steps[2].total_ome_mg_per_day, 60.0);
    assert_eq!(
        serde_json::to_value(plan.steps[2].kind).unwrap(),
        "increase"
    );
    assert!(plan
        .warnings
        .iter()
        .any(|w| w.contains("step 3 goes up from 55 to 60") && w.contains("pain flare")));
}

#[test]
fn bad_edits_name_the_edit_field() {
    let input = format!(r#"{{"items": [{MST}], "start_date": "2026-12-01"}}"#);
    let cases = [
        (
            r#"{"edits": [{"action": "set_length", "step": 99, "days": 14}]}"#,
            "edits[0].step: no step 99: the plan has steps 1 to 13",
        ),
        (
            r#"{"edits": [{"action": "set_length", "step": 13, "days": 14}]}"#,
            "edits[0].step: the stop step marks the day",
        ),
        (
            r#"{"edits": [{"action": "shorten"}]}"#,
            "edits[0].action: unknown action 'shorten'",
        ),
        (
            r#"{"edits": [{"action": "add_pause", "after_step": 2}]}"#,
            "edits[0].days: required",
        ),
        (
            r#"{"edits": [{"action": "set_dose", "step": 2, "item": 0, "doses": [{"time": "morning", "units": [{"strength_mg": 20, "count": 1}]}]}]}"#,
            "strength_mg: 20 mg is not a strength of morphine 12-hourly slow-release tablets",
        ),
        (
            r#"{"edits": [{"action": "set_dose", "step": 2, "item": 0, "doses": [{"time": "morning", "units": [{"strength_mg": 10, "count": 0.5}]}]}]}"#,
            "count: must be a whole number of tablets",
        ),
        (
            r#"{"edits": [{"action": "set_dose", "step": 2, "item": 0, "doses": [{"time": "lunchtime", "units": [{"strength_mg": 10, "count": 1}]}]}]}"#,
            "'lunchtime' is not a dose time of this item",
        ),
        (
            r#"{"edits": [{"action": "set_length", "step": 1, "days": 7}, {"action": "set_order", "order": [0]}]}"#,
            "edits[1].action: set_order rebuilds the plan",
        ),
        (r#"{"changes": []}"#, "changes: unknown field"),
    ];
    for (edits, want) in cases {
        let out = plan_with_edits(&input, edits);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{edits}\n{stderr}");
        assert!(out.stdout.is_empty());
        assert!(stderr.contains(want), "{want:?} not in:\n{stderr}");
    }
}

#[test]
fn set_order_rebuilds_the_plan() {
    let input = r#"{"items": [
        {"drug": "morphine", "route": "oral", "release": "modified", "strength_mg": 10, "doses_per_day": 2},
        {"drug": "oxycodone", "route": "oral", "strength_mg": 5, "doses_per_day": 2}
    ], "start_date": "2026-12-01"}"#;
    let out = plan_with_edits(
        input,
        r#"{"edits": [{"action": "set_order", "order": ["oxycodone"]}]}"#,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plan: Plan = serde_json::from_slice(&out.stdout).expect("plan");
    assert_eq!(plan.reduction_order, [1, 0]);
    assert!(plan.edits_applied[0].contains("oxycodone"));
}
