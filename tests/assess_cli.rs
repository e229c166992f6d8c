//! Drives the built `stepdown` binary through `stepdown assess`, as the
//! acceptance tests do: every worked case in tests/cases/ (shared and own),
//! the shape of every flag, and every kind of bad patient input (exit 2,
//! nothing on stdout, a message naming the field).

use std::collections::{BTreeMap, BTreeSet};
use std::process::Output;

use serde_json::{json, Value};
use stepdown::flags::FlagId;

use crate::common::cli;

use cli::{cases_dir, run_stdin};

/// Runs `stepdown assess <args> -` with `input` on standard input.
fn assess_stdin(args: &[&str], input: &str) -> Output {
    run_stdin(&[&["assess"], args].concat(), input)
}

/// Runs `stepdown assess <args> FILE` with `input` written to a temporary file.
fn assess_file(args: &[&str], input: &str) -> Output {
    cli::run_file(&[&["assess"], args].concat(), input)
}

fn load_cases(name: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(cases_dir().join(name)).expect("case file");
    serde_json::from_str(&text).expect("case file is JSON")
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(str::to_string))
        .collect()
}

/// Problems with one flag object: every field present and non-empty, a known
/// id and severity.
fn flag_problems(flag: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for key in ["id", "severity", "title", "rationale", "action", "source"] {
        if flag[key].as_str().is_none_or(|s| s.trim().is_empty()) {
            out.push(format!("flag {} has empty {key}", flag["id"]));
        }
    }
    if !["high", "caution", "info"].contains(&flag["severity"].as_str().unwrap_or("")) {
        out.push(format!(
            "flag {} has severity {}",
            flag["id"], flag["severity"]
        ));
    }
    let rationale = flag["rationale"].as_str().unwrap_or("");
    let action = flag["action"].as_str().unwrap_or("");
    if rationale.contains('{') || action.contains('{') {
        out.push(format!("flag {} has an unfilled placeholder", flag["id"]));
    }
    out
}

fn severity_rank(s: &Value) -> u8 {
    match s.as_str() {
        Some("high") => 0,
        Some("caution") => 1,
        _ => 2,
    }
}

/// Checks every case of one file through the binary; returns how many ran.
fn check_case_file(name: &str) -> usize {
    let cases = load_cases(name);
    let mut failures = Vec::new();
    for (n, case) in cases.iter().enumerate() {
        let label = case["name"].as_str().unwrap_or("?");
        let profile = case["profile"].as_str().unwrap_or("uk");
        let input = json!({"patient": case["patient"], "items": case["items"]}).to_string();
        let threshold = case["high_dose_threshold"].as_f64().map(|t| t.to_string());
        let mut args = vec!["--profile", profile];
        if let Some(t) = &threshold {
            args.extend(["--high-dose-threshold", t.as_str()]);
        }
        // Alternate standard input and a file path so both ways stay covered.
        let out = if n % 2 == 0 {
            assess_stdin(&args, &input)
        } else {
            assess_file(&args, &input)
        };
        if !out.status.success() {
            failures.push(format!(
                "{label}: exit {:?}: {}",
                out.status.code(),
                String::from_utf8_lossy(&out.stderr)
            ));
            continue;
        }
        let v: Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
        let flags = v["flags"].as_array().cloned().unwrap_or_default();
        let got: BTreeSet<String> = flags
            .iter()
            .filter_map(|f| f["id"].as_str().map(str::to_string))
            .collect();
        for want in strings(&case["present"]) {
            if !got.contains(&want) {
                failures.push(format!("{label}: {want} missing (got {got:?})"));
            }
        }
        for unwanted in strings(&case["absent"]) {
            if got.contains(&unwanted) {
                failures.push(format!("{label}: {unwanted} present but should not be"));
            }
        }
        if case["exact"] == true {
            let want: BTreeSet<String> = strings(&case["present"]).into_iter().collect();
            if got != want {
                failures.push(format!("{label}: flags {got:?}, want exactly {want:?}"));
            }
        }
        if got.len() != flags.len() {
            failures.push(format!("{label}: a flag id appears twice"));
        }
        // `"text": {"flag-id": ["words", ...]}`: each must appear in that flag's
        // title, rationale or action (the hand-worked figures and names).
        if let Some(texts) = case["text"].as_object() {
            for (id, wants) in texts {
                let shown = flags
                    .iter()
                    .find(|f| f["id"] == id.as_str())
                    .map(|f| format!("{} {} {}", f["title"], f["rationale"], f["action"]));
                for want in strings(wants) {
                    match &shown {
                        Some(t) if t.contains(&want) => {}
                        Some(t) => failures.push(format!("{label}: {id} lacks {want:?}: {t}")),
                        None => failures.push(format!("{label}: no {id} flag to hold {want:?}")),
                    }
                }
            }
        }
        for f in &flags {
            failures.extend(
                flag_problems(f)
                    .into_iter()
                    .map(|p| format!("{label}: {p}")),
            );
        }
        if !flags
            .windows(2)
            .all(|w| severity_rank(&w[0]["severity"]) <= severity_rank(&w[1]["severity"]))
        {
            failures.push(format!("{label}: flags not ordered most severe first"));
        }
        if v["ome"]["profile"] != profile || !v["warnings"].is_array() {
            failures.push(format!("{label}: output shape"));
        }
    }
    assert!(failures.is_empty(), "{name}:\n{}", failures.join("\n"));
    cases.len()
}

#[test]
fn shared_cases_pass() {
    assert!(check_case_file("shared_assess.json") >= 4);
}

#[test]
fn own_worked_cases_pass() {
    assert!(check_case_file("assess_cases.json") >= 100);
}

/// Issue 15's flags: the benzodiazepines, serotonergic antidepressants and
/// other CNS depressants added to the co-medication table, the paracetamol
/// maximum with alcohol misuse and low body weight, licensed maxima with age
/// and renal rules, and the new products, worked by hand.
#[test]
fn reference_flag_cases_pass() {
    assert!(check_case_file("assess_cases_reference.json") >= 30);
}

/// Driving advice says codeine is metabolised to morphine and that a
/// co-prescribed diazepam is itself a specified drug.
#[test]
fn driving_names_metabolised_opioids_and_specified_benzodiazepines() {
    let input = r#"{"patient": {"co_medications": ["Valium"]}, "items": [{"drug": "codeine", "route": "oral", "strength_mg": 30, "doses_per_day": 4}]}"#;
    let out = assess_stdin(&[], input);
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    let driving = v["flags"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|f| f["id"] == "driving")
        .expect("driving");
    let text = driving["rationale"].as_str().unwrap_or("");
    assert!(
        text.contains("codeine (metabolised to morphine, a specified drug)"),
        "{text}"
    );
    assert!(
        text.contains("diazepam (entered as Valium) (a co-prescribed benzodiazepine that is itself a specified drug)"),
        "{text}"
    );
}

/// A CDC total names MME, never "mg", in every dose flag.
#[test]
fn cdc_dose_flags_say_mme() {
    let input = r#"{"patient": {}, "items": [{"drug": "morphine", "route": "oral", "strength_mg": 50, "doses_per_day": 2}]}"#;
    let out = assess_stdin(&["--profile", "cdc"], input);
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    let high = v["flags"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|f| f["id"] == "high-dose")
        .expect("high-dose");
    let text = high["rationale"].as_str().unwrap_or("");
    assert_eq!(
        text,
        "Total 100 MME/day is at or above the 90 MME/day high-dose threshold."
    );
}

/// Every flag has at least three worked cases, at least one where it fires
/// and one where it must not. Driving advice is given for every regimen under
/// review (a taper changes the dose), so it has no "does not fire" case; its
/// cases cover both wordings and a regimen with nothing converted instead.
#[test]
fn every_flag_has_fire_absent_and_boundary_cases() {
    let mut cases = load_cases("assess_cases.json");
    cases.extend(load_cases("assess_cases_reference.json"));
    let mut present: BTreeMap<String, usize> = BTreeMap::new();
    let mut absent: BTreeMap<String, usize> = BTreeMap::new();
    let mut names = BTreeSet::new();
    for c in &cases {
        let name = c["name"].as_str().unwrap_or("");
        assert!(names.insert(name.to_string()), "duplicate case name {name}");
        assert!(
            c["note"].as_str().is_some_and(|n| n.len() > 5),
            "case {name} has no working note"
        );
        for id in strings(&c["present"]) {
            *present.entry(id).or_default() += 1;
        }
        for id in strings(&c["absent"]) {
            *absent.entry(id).or_default() += 1;
        }
    }
    for flag in FlagId::ALL {
        let id = flag.as_str();
        let fires = present.get(id).copied().unwrap_or(0);
        let not = absent.get(id).copied().unwrap_or(0);
        assert!(fires >= 1, "{id}: no case where it fires");
        if flag != FlagId::Driving {
            assert!(not >= 1, "{id}: no case where it must not fire");
        }
        assert!(fires + not >= 3, "{id}: fewer than three cases");
        let boundary = cases.iter().any(|c| {
            c["name"].as_str().unwrap_or("").contains("boundary")
                && (strings(&c["present"]).contains(&id.to_string())
                    || strings(&c["absent"]).contains(&id.to_string()))
        });
        assert!(boundary, "{id}: no boundary case (name one 'boundary')");
    }
}

fn run_json(args: &[&str], input: Value) -> Value {
    let out = assess_stdin(args, &input.to_string());
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("stdout is JSON")
}

fn flag<'a>(v: &'a Value, id: &str) -> &'a Value {
    v["flags"]
        .as_array()
        .and_then(|fs| fs.iter().find(|f| f["id"] == id))
        .unwrap_or_else(|| panic!("no flag {id} in {}", v["flags"]))
}

#[test]
fn output_has_the_contract_shape() {
    let v = run_json(
        &[],
        json!({"patient": {"age": 70}, "items": [{"drug": "morphine", "route": "oral", "release": "modified", "strength_mg": 60, "units_per_dose": 1, "doses_per_day": 2}]}),
    );
    for key in [
        "profile",
        "total_ome_mg_per_day",
        "regular_ome_mg_per_day",
        "complete",
        "items",
        "warnings",
    ] {
        assert!(v["ome"].get(key).is_some(), "ome.{key} missing");
    }
    assert!(v["flags"].is_array() && v["warnings"].is_array());
    assert_eq!(v["ome"]["profile"], "uk");
    assert_eq!(v["ome"]["total_ome_mg_per_day"], 120.0);
}

#[test]
fn rationales_use_the_patients_figures() {
    let v = run_json(
        &[],
        json!({"patient": {"age": 72, "egfr": 25, "months_on_opioids": 18, "weight_kg": 45,
                           "co_medications": ["Valium", "Cipramil"], "co_medication_paracetamol_mg_per_day": 1000},
               "items": [{"drug": "morphine", "route": "oral", "release": "modified", "strength_mg": 60, "units_per_dose": 1, "doses_per_day": 2},
                         {"drug": "tramadol", "route": "oral", "strength_mg": 50, "units_per_dose": 1, "doses_per_day": 2},
                         {"drug": "codeine", "route": "oral", "strength_mg": 30, "units_per_dose": 2, "doses_per_day": 4, "paracetamol_mg": 500}]}),
    );
    // 120 + 10 + 24 = 154 mg OME.
    assert_eq!(
        flag(&v, "high-dose")["rationale"],
        "Total 154 mg OME/day is at or above the 90 mg OME/day high-dose threshold."
    );
    let benzo = flag(&v, "benzodiazepine")["rationale"]
        .as_str()
        .unwrap_or("");
    assert!(
        benzo.starts_with("Takes diazepam (entered as Valium) with opioids."),
        "{benzo}"
    );
    let sero = flag(&v, "serotonergic")["rationale"].as_str().unwrap_or("");
    assert!(
        sero.starts_with("Tramadol taken with citalopram (entered as Cipramil)."),
        "{sero}"
    );
    let renal = flag(&v, "renal-impairment");
    assert_eq!(renal["severity"], "high");
    let renal_text = renal["rationale"].as_str().unwrap_or("");
    assert!(
        renal_text.starts_with("eGFR 25 mL/min/1.73 m² is below 30"),
        "{renal_text}"
    );
    assert!(
        renal_text.contains("codeine: use cautiously"),
        "{renal_text}"
    );
    let para = flag(&v, "paracetamol-limit")["rationale"]
        .as_str()
        .unwrap_or("");
    assert!(
        para.contains("Paracetamol totals 5000 mg/day (4000 mg from combination products in the regimen and 1000 mg from other medicines), above the reduced 2700 mg/day maximum that applies because of weight 45 kg (under 50 kg: at most 60 mg per kg a day, 2700 mg)"),
        "{para}"
    );
    assert!(flag(&v, "long-term-use")["rationale"]
        .as_str()
        .unwrap_or("")
        .starts_with("On opioids for 18 months"));
}

#[test]
fn renal_severity_depends_on_the_band_and_the_drug() {
    let items = |drug: &str| json!([{"drug": drug, "route": "oral", "strength_mg": 30, "units_per_dose": 1, "doses_per_day": 4}]);
    let v = run_json(
        &[],
        json!({"patient": {"egfr": 45}, "items": items("morphine")}),
    );
    assert_eq!(flag(&v, "renal-impairment")["severity"], "caution");
    let v = run_json(
        &[],
        json!({"patient": {"egfr": 45}, "items": items("dihydrocodeine")}),
    );
    assert_eq!(flag(&v, "renal-impairment")["severity"], "high");
    assert_eq!(
        flag(&v, "renal-impairment")["title"],
        "Opioid to avoid in renal impairment"
    );
}

#[test]
fn threshold_override_is_named_in_the_rationale() {
    let v = run_json(
        &["--high-dose-threshold", "120"],
        json!({"items": [{"drug": "morphine", "route": "oral", "strength_mg": 65, "doses_per_day": 2}]}),
    );
    let r = flag(&v, "high-dose")["rationale"]
        .as_str()
        .unwrap_or("")
        .to_string();
    assert!(
        r.contains("locally set high-dose threshold of 120 mg OME/day"),
        "{r}"
    );
    assert!(
        r.contains("the UK profile's own threshold is 90 mg OME/day"),
        "{r}"
    );
    assert_eq!(v["ome"]["high_dose_threshold_mg_per_day"], 120.0);
}

#[test]
fn unrecognised_co_medication_is_kept_with_a_warning() {
    let v = run_json(
        &[],
        json!({"patient": {"co_medications": ["Gaviscon", "Sertralin"]},
               "items": [{"drug": "tramadol", "route": "oral", "strength_mg": 50, "doses_per_day": 4}]}),
    );
    let warnings = strings(&v["warnings"]);
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(warnings[0].starts_with("patient.co_medications[0]: 'Gaviscon' is not recognised"));
    assert!(
        warnings[1].contains("did you mean sertraline?"),
        "{warnings:?}"
    );
    assert_eq!(v["patient"]["co_medications"][0]["entered"], "Gaviscon");
    assert!(v["patient"]["co_medications"][0]["generic"].is_null());
}

// ---------------------------------------------------------------------------
// Bad input: exit 2, empty stdout, stderr names the field.
// ---------------------------------------------------------------------------

const ITEM: &str =
    r#"{"drug": "morphine", "route": "oral", "strength_mg": 10, "doses_per_day": 2}"#;

fn rejects_patient(patient: &str, expected: &[&str]) {
    rejects(
        &format!(r#"{{"patient": {patient}, "items": [{ITEM}]}}"#),
        expected,
    );
}

fn rejects(input: &str, expected: &[&str]) {
    let out = assess_stdin(&[], input);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    assert!(
        out.stdout.is_empty(),
        "stdout: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    for e in expected {
        assert!(stderr.contains(e), "expected {e:?} in stderr:\n{stderr}");
    }
}

#[test]
fn age_out_of_range() {
    rejects_patient(
        r#"{"age": 130}"#,
        &["patient.age: must be between 0 and 120 years (got 130)"],
    );
    rejects_patient(
        r#"{"age": -1}"#,
        &["patient.age: must be between 0 and 120 years (got -1)"],
    );
}

#[test]
fn egfr_out_of_range() {
    rejects_patient(
        r#"{"egfr": 250}"#,
        &["patient.egfr: must be between 0 and 200 mL/min/1.73 m² (got 250)"],
    );
}

#[test]
fn weight_out_of_range() {
    rejects_patient(
        r#"{"weight_kg": 1.5}"#,
        &["patient.weight_kg: must be between 2 and 400 kg (got 1.5)"],
    );
    rejects_patient(
        r#"{"weight_kg": 401}"#,
        &["patient.weight_kg: must be between 2 and 400 kg (got 401)"],
    );
}

#[test]
fn months_and_paracetamol_out_of_range() {
    rejects_patient(
        r#"{"months_on_opioids": -2}"#,
        &["patient.months_on_opioids: must be between 0 and 1200 months (got -2)"],
    );
    rejects_patient(
        r#"{"co_medication_paracetamol_mg_per_day": 50000}"#,
        &["patient.co_medication_paracetamol_mg_per_day: must be between 0 and 20000 mg a day"],
    );
}

#[test]
fn unknown_patient_field_suggests_the_nearest_name() {
    rejects_patient(
        r#"{"egrf": 50}"#,
        &["patient.egrf: unknown field (did you mean egfr?)"],
    );
    rejects_patient(r#"{"weight": 70}"#, &["patient.weight: unknown field"]);
}

#[test]
fn unknown_condition_lists_accepted_values() {
    rejects_patient(
        r#"{"conditions": ["copd", "heart failure"]}"#,
        &[
            "patient.conditions[1]: unknown condition 'heart failure' (accepted: copd, asthma, sleep-apnoea, hepatic-impairment, pregnancy, breastfeeding, depression, falls, dementia, epilepsy)",
        ],
    );
    rejects_patient(
        r#"{"conditions": ["sleep apnea"]}"#,
        &["patient.conditions[0]: unknown condition 'sleep apnea' (did you mean sleep-apnoea?"],
    );
}

#[test]
fn unknown_history_lists_accepted_values() {
    rejects_patient(
        r#"{"history": ["drug misuse"]}"#,
        &[
            "patient.history[0]: unknown history 'drug misuse'",
            "accepted: overdose, substance-use-disorder, alcohol-misuse, mental-health-disorder",
        ],
    );
}

#[test]
fn wrongly_typed_patient_fields() {
    rejects_patient(
        r#"{"age": "seventy"}"#,
        &["patient.age: must be a number (got \"seventy\")"],
    );
    rejects_patient(
        r#"{"opioid_naive": "no"}"#,
        &["patient.opioid_naive: must be true or false (got \"no\")"],
    );
    rejects_patient(
        r#"{"co_medications": "diazepam"}"#,
        &["patient.co_medications: must be a list of strings (got \"diazepam\")"],
    );
    rejects_patient(
        r#"{"co_medications": ["diazepam", 5]}"#,
        &["patient.co_medications[1]: must be a string (got 5)"],
    );
    rejects_patient(r#"{"sex": "F"}"#, &["patient.sex: unknown sex 'F'"]);
    rejects_patient(
        r#""70 year old""#,
        &["patient: must be an object of patient details"],
    );
}

#[test]
fn patient_and_item_errors_are_all_reported() {
    rejects(
        r#"{"patient": {"age": 130, "egfr": 300}, "items": [{"drug": "morphine", "route": "oral", "strength_mg": -5, "doses_per_day": 2}]}"#,
        &[
            "patient.age: must be between 0 and 120",
            "patient.egfr: must be between 0 and 200",
            "items[0].strength_mg: must be greater than 0 (got -5)",
        ],
    );
}

#[test]
fn bad_top_level_input() {
    rejects("[1]", &["input: must be a JSON object"]);
    rejects(r#"{"patient": {}}"#, &["items: required"]);
    rejects(
        &format!(r#"{{"patiant": {{}}, "items": [{ITEM}]}}"#),
        &["patiant: unknown field (did you mean patient?)"],
    );
    rejects("{\n  \"items\": [,]\n}", &["input: invalid JSON at line 2"]);
}

#[test]
fn bad_threshold_option() {
    let out = assess_stdin(
        &["--high-dose-threshold", "-5"],
        &format!(r#"{{"items": [{ITEM}]}}"#),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("--high-dose-threshold: must be greater than 0 (got -5)"));
}
