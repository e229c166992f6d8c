//! Drives the built `stepdown` binary through `stepdown ome`, as the
//! acceptance tests do: every worked case in tests/cases/, and every kind of
//! bad input (exit 2, nothing on stdout, a message naming the field).

use std::process::{Command, Output};

use serde_json::{json, Value};

use crate::common::cli;

use cli::{cases_dir, run_stdin, BIN};

/// Runs `stepdown ome <args> FILE` with `input` written to a temporary file.
fn run_file(args: &[&str], input: &str) -> Output {
    cli::run_file(&[&["ome"], args].concat(), input)
}

fn ome(profile: &str, input: &str) -> Output {
    run_stdin(&["ome", "--profile", profile], input)
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 0.005
}

/// Checks every case of one file; returns how many ran.
fn check_case_file(name: &str) -> usize {
    let text = std::fs::read_to_string(cases_dir().join(name)).expect("case file");
    let cases: Vec<Value> = serde_json::from_str(&text).expect("case file is JSON");
    let mut failures = Vec::new();
    for (n, case) in cases.iter().enumerate() {
        let label = case["name"].as_str().unwrap_or("?");
        let profile = case["profile"].as_str().unwrap_or("uk");
        let input = json!({"items": case["items"]}).to_string();
        // Alternate standard input and a file path so both ways stay covered.
        let out = if n % 2 == 0 {
            ome(profile, &input)
        } else {
            run_file(&["--profile", profile], &input)
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
        let total = v["total_ome_mg_per_day"].as_f64().unwrap_or(f64::NAN);
        let regular = v["regular_ome_mg_per_day"].as_f64().unwrap_or(f64::NAN);
        let want_total = case["total"].as_f64().unwrap_or(f64::NAN);
        let want_regular = case["regular"].as_f64().unwrap_or(f64::NAN);
        if !close(total, want_total) || !close(regular, want_regular) {
            failures.push(format!(
                "{label}: total {total} (want {want_total}), regular {regular} (want {want_regular})"
            ));
        }
        if v["complete"] != case["complete"] {
            failures.push(format!(
                "{label}: complete {} (want {})",
                v["complete"], case["complete"]
            ));
        }
        if v["profile"] != profile {
            failures.push(format!("{label}: profile {}", v["profile"]));
        }
        if let Some(want) = case.get("item_ome").and_then(Value::as_array) {
            for (i, w) in want.iter().enumerate() {
                let got = &v["items"][i]["ome_mg_per_day"];
                let ok = match (w.as_f64(), got.as_f64()) {
                    (Some(a), Some(b)) => close(a, b),
                    (None, None) => w.is_null() && got.is_null(),
                    _ => false,
                };
                if !ok {
                    failures.push(format!("{label}: items[{i}] OME {got} (want {w})"));
                }
            }
        }
        // `"reason_contains": ["words", ...]` per item: the item's own reason
        // (a known gap's or the factor table's), and `"source_contains"` and
        // `"working_contains"` (the arithmetic shown) likewise.
        for (key, field) in [
            ("reason_contains", "not_convertible_reason"),
            ("source_contains", "source"),
            ("working_contains", "working"),
        ] {
            if let Some(want) = case.get(key).and_then(Value::as_array) {
                for (i, w) in want.iter().enumerate() {
                    let got = v["items"][i][field].as_str().unwrap_or("");
                    if let Some(w) = w.as_str() {
                        if !got.contains(w) {
                            failures
                                .push(format!("{label}: items[{i}].{field} lacks {w:?}: {got}"));
                        }
                    }
                }
            }
        }
        // `"strength_check": ["words" | null, ...]` per item: the strength
        // sanity check names the problem and the nearest real strengths (null:
        // a real UK strength, so no check at all).
        if let Some(want) = case.get("strength_check").and_then(Value::as_array) {
            for (i, w) in want.iter().enumerate() {
                let checks = v["items"][i]["strength_checks"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                let text: Vec<&str> = checks
                    .iter()
                    .filter_map(|c| c["message"].as_str())
                    .collect();
                match w.as_str() {
                    None if !checks.is_empty() => {
                        failures.push(format!("{label}: items[{i}] has strength checks {text:?}"))
                    }
                    Some(w) if !text.iter().any(|t| t.contains(w)) => failures.push(format!(
                        "{label}: items[{i}] strength checks {text:?} lack {w:?}"
                    )),
                    _ => {}
                }
                // Each check is also a warning of the report.
                for t in &text {
                    let warned = v["warnings"].as_array().is_some_and(|ws| {
                        ws.iter().any(|x| x.as_str().is_some_and(|x| x.contains(t)))
                    });
                    if !warned {
                        failures.push(format!(
                            "{label}: strength check {t:?} is not among the warnings"
                        ));
                    }
                }
            }
        }
        // Unconvertible items: null OME, a warning, never a number.
        let items = v["items"].as_array().cloned().unwrap_or_default();
        let nulls = items
            .iter()
            .filter(|i| i["ome_mg_per_day"].is_null())
            .count();
        let warnings = v["warnings"].as_array().map_or(0, Vec::len);
        if nulls > 0 && warnings < nulls {
            failures.push(format!(
                "{label}: {nulls} unconverted items but {warnings} warnings"
            ));
        }
        for item in &items {
            for key in [
                "index",
                "drug",
                "daily_amount",
                "factor",
                "ome_mg_per_day",
                "source",
            ] {
                if item.get(key).is_none() {
                    failures.push(format!("{label}: item lacks {key}"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{name}:\n{}", failures.join("\n"));
    cases.len()
}

#[test]
fn shared_cases_pass() {
    assert!(check_case_file("shared_ome.json") >= 9);
}

#[test]
fn own_worked_cases_pass() {
    assert!(check_case_file("ome_cases.json") >= 45);
}

/// Issue 15's products (tramadol 24-hourly, Tramacet, Targinact, tapentadol
/// immediate-release and solution, oxycodone concentrate, methadone, Temgesic)
/// and known gaps, worked by hand in both profiles where they differ.
#[test]
fn reference_product_cases_pass() {
    assert!(check_case_file("ome_cases_reference.json") >= 25);
}

#[test]
fn own_cases_are_documented_and_cover_every_table_drug_and_route() {
    let text = std::fs::read_to_string(cases_dir().join("ome_cases.json")).expect("cases");
    let cases: Vec<Value> = serde_json::from_str(&text).expect("json");
    let mut seen = std::collections::BTreeSet::new();
    for c in &cases {
        let note = c["note"].as_str().unwrap_or("");
        assert!(note.len() > 5, "case {} has no working note", c["name"]);
        for item in c["items"].as_array().into_iter().flatten() {
            seen.insert((
                c["profile"].as_str().unwrap_or("").to_string(),
                item["drug"].as_str().unwrap_or("").to_string(),
                item["route"].as_str().unwrap_or("").to_string(),
            ));
        }
    }
    // Every factor row's (profile, drug, route) appears in a worked case.
    let reference = stepdown::reference::reference();
    for row in &reference.ome_factors.rows {
        let route = match row.route {
            stepdown::reference::RouteScope::Any => None,
            stepdown::reference::RouteScope::Only(r) => Some(r.as_str().to_string()),
        };
        let covered = seen.iter().any(|(p, d, r)| {
            p == row.profile.as_str() && *d == row.drug && route.as_ref().is_none_or(|x| x == r)
        });
        // CDC any-route rows for UK-only drugs are covered by representatives.
        let representative = row.profile.as_str() == "cdc"
            && ["meptazinol", "pentazocine", "diamorphine"].contains(&row.drug.as_str());
        assert!(
            covered || representative,
            "no case for factor row {}",
            row.id
        );
    }
}

#[test]
fn working_and_daily_amount_are_shown() {
    let out = ome(
        "uk",
        r#"{"items": [{"drug": "oxycodone", "route": "oral", "release": "modified", "strength_mg": 30, "units_per_dose": 1, "doses_per_day": 2},
                      {"drug": "fentanyl", "route": "transdermal", "strength_mcg_per_hour": 25, "patches": 1}]}"#,
    );
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["items"][0]["daily_amount"], "60 mg");
    assert_eq!(
        v["items"][0]["working"],
        "30 mg × 2 a day = 60 mg × 1.5 = 90 mg OME"
    );
    assert_eq!(v["items"][1]["daily_amount"], "25 micrograms/hour");
    assert_eq!(v["total_ome_mg_per_day"], 150.0);
    assert_eq!(v["high_dose"], true);
}

#[test]
fn high_dose_threshold_override() {
    let input = r#"{"items": [{"drug": "morphine", "route": "oral", "strength_mg": 50, "doses_per_day": 2}]}"#;
    let v: Value = serde_json::from_slice(&ome("uk", input).stdout).expect("json");
    assert_eq!(v["high_dose"], true);
    assert_eq!(v["high_dose_threshold_mg_per_day"], 90.0);
    let out = run_stdin(&["ome", "--high-dose-threshold", "120"], input);
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["high_dose"], false);
    assert_eq!(v["high_dose_threshold_mg_per_day"], 120.0);
}

#[test]
fn default_profile_is_uk() {
    let out = run_stdin(
        &["ome"],
        r#"{"items": [{"drug": "codeine", "route": "oral", "strength_mg": 30, "doses_per_day": 4}]}"#,
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["profile"], "uk");
    assert_eq!(v["total_ome_mg_per_day"], 12.0);
}

#[test]
fn reference_command_lists_the_new_tables() {
    let out = Command::new(BIN).arg("reference").output().expect("run");
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    let ids: Vec<&str> = v["tables"]
        .as_array()
        .expect("tables")
        .iter()
        .filter_map(|t| t["id"].as_str())
        .collect();
    for id in [
        "ome-factors",
        "patch-labels",
        "uk-products",
        "regimen-limits",
    ] {
        assert!(ids.contains(&id), "{id} not in {ids:?}");
    }
    for t in v["tables"].as_array().expect("tables") {
        assert!(!t["version"].as_str().unwrap_or("").is_empty());
        assert!(!t["source"].as_str().unwrap_or("").is_empty());
    }
}

// ---------------------------------------------------------------------------
// Bad input: one test per rule. Exit 2, empty stdout, stderr names the field.
// ---------------------------------------------------------------------------

fn assert_rejected(out: &Output, expected: &[&str]) {
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

fn rejects_item(item: &str, expected: &[&str]) {
    rejects(&format!(r#"{{"items": [{item}]}}"#), expected);
}

fn rejects(input: &str, expected: &[&str]) {
    assert_rejected(&ome("uk", input), expected);
}

const GOOD: &str =
    r#"{"drug": "morphine", "route": "oral", "strength_mg": 10, "doses_per_day": 2}"#;

#[test]
fn bad_json_syntax_gives_line_and_column() {
    rejects(
        "{\n  \"items\": [\n    {\"drug\": \"morphine\",}\n  ]\n}",
        &["input: invalid JSON at line 3, column"],
    );
    rejects("", &["input: invalid JSON at line 1"]);
}

#[test]
fn bad_top_level_shape() {
    rejects("[1, 2]", &["input: must be a JSON object"]);
    rejects("{}", &["items: required"]);
    rejects(
        r#"{"items": {"drug": "morphine"}}"#,
        &["items: must be a list"],
    );
    rejects(
        r#"{"items": []}"#,
        &["items: must list at least one medicine"],
    );
    rejects(
        &format!(r#"{{"items": [{GOOD}], "profile": "uk"}}"#),
        &["profile: unknown field"],
    );
}

#[test]
fn item_that_is_not_an_object() {
    rejects(
        &format!(r#"{{"items": [{GOOD}, "morphine 10 mg bd"]}}"#),
        &["items[1]: must be an object (got \"morphine 10 mg bd\")"],
    );
}

#[test]
fn unknown_item_field_is_named_with_a_suggestion() {
    rejects_item(
        r#"{"drug": "morphine", "route": "oral", "strength_mg": 10, "doses_per_day": 2, "dose_per_day": 2}"#,
        &["items[0].dose_per_day: unknown field (did you mean doses_per_day?)"],
    );
}

#[test]
fn negative_strength_contract_example() {
    rejects(
        &format!(
            r#"{{"items": [{GOOD}, {{"drug": "morphine", "route": "oral", "strength_mg": -5, "doses_per_day": 2}}]}}"#
        ),
        &["items[1].strength_mg: must be greater than 0 (got -5)"],
    );
}

#[test]
fn drug_missing_or_wrong_type() {
    rejects_item(
        r#"{"route": "oral", "strength_mg": 10, "doses_per_day": 2}"#,
        &["items[0].drug: required"],
    );
    rejects_item(
        r#"{"drug": 7, "route": "oral", "strength_mg": 10, "doses_per_day": 2}"#,
        &["items[0].drug: must be a string (got 7)"],
    );
}

#[test]
fn misspelt_drug_gets_the_nearest_names() {
    rejects_item(
        r#"{"drug": "oxycodon", "route": "oral", "strength_mg": 10, "doses_per_day": 2}"#,
        &["items[0].drug: unknown drug 'oxycodon' (did you mean oxycodone?)"],
    );
}

#[test]
fn drug_in_neither_profile_lists_accepted_names() {
    rejects_item(
        r#"{"drug": "gabapentin", "route": "oral", "strength_mg": 300, "doses_per_day": 3}"#,
        &[
            "items[0].drug: unknown drug 'gabapentin' (accepted: ",
            "morphine",
            "oxymorphone",
        ],
    );
}

#[test]
fn combination_and_brand_names_point_to_the_opioid() {
    rejects_item(
        r#"{"drug": "co-dydramol", "route": "oral", "strength_mg": 10, "doses_per_day": 4}"#,
        &[
            "items[0].drug: 'co-dydramol' is a combination product",
            "\"dihydrocodeine\"",
        ],
    );
    rejects_item(
        r#"{"drug": "MST Continus", "route": "oral", "strength_mg": 10, "doses_per_day": 2}"#,
        &["items[0].drug: 'MST Continus' is a brand of morphine"],
    );
}

#[test]
fn route_missing_or_unknown() {
    rejects_item(
        r#"{"drug": "morphine", "strength_mg": 10, "doses_per_day": 2}"#,
        &["items[0].route: required (accepted: oral, transdermal"],
    );
    rejects_item(
        r#"{"drug": "morphine", "route": "by mouth", "strength_mg": 10, "doses_per_day": 2}"#,
        &["items[0].route: unknown route 'by mouth' (accepted: oral"],
    );
}

#[test]
fn release_and_form_unknown() {
    rejects_item(
        r#"{"drug": "morphine", "route": "oral", "release": "slow", "strength_mg": 10, "doses_per_day": 2}"#,
        &["items[0].release: unknown release 'slow' (accepted: immediate, modified)"],
    );
    rejects_item(
        r#"{"drug": "morphine", "route": "oral", "form": "tablets", "strength_mg": 10, "doses_per_day": 2}"#,
        &["items[0].form: unknown form 'tablets' (did you mean tablet?"],
    );
}

#[test]
fn patch_form_and_route_must_agree() {
    rejects_item(
        r#"{"drug": "fentanyl", "route": "oral", "form": "patch", "strength_mcg_per_hour": 25}"#,
        &["items[0].form: a patch is transdermal, but route is oral"],
    );
    rejects_item(
        r#"{"drug": "fentanyl", "route": "transdermal", "form": "tablet", "strength_mcg_per_hour": 25}"#,
        &["items[0].form: transdermal items are patches (got tablet)"],
    );
}

#[test]
fn missing_strength_for_each_form() {
    rejects_item(
        r#"{"drug": "morphine", "route": "oral", "form": "capsule", "doses_per_day": 2}"#,
        &["items[0].strength_mg: required: mg of opioid per capsule"],
    );
    rejects_item(
        r#"{"drug": "morphine", "route": "oral", "form": "solution", "ml_per_dose": 5, "doses_per_day": 4}"#,
        &["items[0].strength_mg_per_ml: required"],
    );
    rejects_item(
        r#"{"drug": "morphine", "route": "oral", "form": "solution", "strength_mg_per_ml": 2, "doses_per_day": 4}"#,
        &["items[0].ml_per_dose: required"],
    );
    rejects_item(
        r#"{"drug": "buprenorphine", "route": "transdermal", "patches": 1}"#,
        &["items[0].strength_mcg_per_hour: required"],
    );
}

#[test]
fn doses_per_day_missing_or_not_positive() {
    rejects_item(
        r#"{"drug": "morphine", "route": "oral", "strength_mg": 10}"#,
        &["items[0].doses_per_day: required"],
    );
    rejects_item(
        r#"{"drug": "morphine", "route": "oral", "strength_mg": 10, "doses_per_day": 0}"#,
        &["items[0].doses_per_day: must be greater than 0 (got 0)"],
    );
}

#[test]
fn every_amount_must_be_positive() {
    rejects_item(
        r#"{"drug": "morphine", "route": "oral", "strength_mg": 10, "units_per_dose": -1, "doses_per_day": 2}"#,
        &["items[0].units_per_dose: must be greater than 0 (got -1)"],
    );
    rejects_item(
        r#"{"drug": "morphine", "route": "oral", "form": "solution", "strength_mg_per_ml": 0, "ml_per_dose": -5, "doses_per_day": 4}"#,
        &[
            "items[0].strength_mg_per_ml: must be greater than 0 (got 0)",
            "items[0].ml_per_dose: must be greater than 0 (got -5)",
        ],
    );
    rejects_item(
        r#"{"drug": "fentanyl", "route": "transdermal", "strength_mcg_per_hour": -25, "patches": 0}"#,
        &[
            "items[0].strength_mcg_per_hour: must be greater than 0 (got -25)",
            "items[0].patches: must be greater than 0 (got 0)",
        ],
    );
    rejects_item(
        r#"{"drug": "codeine", "route": "oral", "strength_mg": 30, "doses_per_day": 4, "paracetamol_mg": -500}"#,
        &["items[0].paracetamol_mg: must be greater than 0 (got -500)"],
    );
}

#[test]
fn implausible_amounts_are_rejected() {
    rejects_item(
        r#"{"drug": "morphine", "route": "oral", "strength_mg": 10, "doses_per_day": 13}"#,
        &["items[0].doses_per_day: more than 12 doses a day is implausible (got 13)"],
    );
    rejects_item(
        r#"{"drug": "codeine", "route": "oral", "strength_mg": 30, "units_per_dose": 21, "doses_per_day": 1}"#,
        &["items[0].units_per_dose: more than 20 tablets or capsules a dose is implausible (got 21)"],
    );
    rejects_item(
        r#"{"drug": "buprenorphine", "route": "transdermal", "strength_mcg_per_hour": 5, "patches": 9}"#,
        &["items[0].patches: more than 8 patches worn at once is implausible (got 9)"],
    );
    rejects_item(
        r#"{"drug": "morphine", "route": "oral", "form": "solution", "strength_mg_per_ml": 2, "ml_per_dose": 500, "doses_per_day": 1}"#,
        &["items[0].ml_per_dose: more than 100 mL a dose is implausible (got 500)"],
    );
    rejects_item(
        r#"{"drug": "morphine", "route": "oral", "strength_mg": 3000, "doses_per_day": 1}"#,
        &["items[0].strength_mg: more than 1000 mg a tablet or capsule is implausible (got 3000)"],
    );
    rejects_item(
        r#"{"drug": "morphine", "route": "oral", "form": "solution", "strength_mg_per_ml": 200, "ml_per_dose": 1, "doses_per_day": 1}"#,
        &["items[0].strength_mg_per_ml: more than 100 mg/mL is implausible (got 200)"],
    );
    rejects_item(
        r#"{"drug": "fentanyl", "route": "transdermal", "strength_mcg_per_hour": 250}"#,
        &["items[0].strength_mcg_per_hour: more than 200 micrograms/hour a patch is implausible (got 250)"],
    );
}

#[test]
fn a_single_item_above_2000_mg_ome_is_rejected() {
    // 8 × 100 micrograms/hour = 800 × 2.4 = 1,920: accepted. One more strength step is not.
    let ok = ome(
        "uk",
        r#"{"items": [{"drug": "fentanyl", "route": "transdermal", "strength_mcg_per_hour": 100, "patches": 8}]}"#,
    );
    assert!(ok.status.success());
    rejects_item(
        r#"{"drug": "oxycodone", "route": "oral", "strength_mg": 120, "units_per_dose": 2, "doses_per_day": 6}"#,
        &["items[0]: 2160 mg oral morphine equivalent a day from one item is implausible (more than 2000"],
    );
}

#[test]
fn patch_fields_on_an_oral_item() {
    rejects_item(
        r#"{"drug": "morphine", "route": "oral", "strength_mg": 10, "doses_per_day": 2, "strength_mcg_per_hour": 25, "patches": 1}"#,
        &[
            "items[0].strength_mcg_per_hour: not used here: only for patches",
            "items[0].patches: not used here: only for patches",
        ],
    );
}

#[test]
fn oral_fields_on_a_patch() {
    rejects_item(
        r#"{"drug": "fentanyl", "route": "transdermal", "strength_mcg_per_hour": 25, "strength_mg": 25, "units_per_dose": 1, "doses_per_day": 1, "release": "modified"}"#,
        &[
            "items[0].strength_mg: not used here",
            "items[0].units_per_dose: not used here",
            "items[0].doses_per_day: not used here: a patch is worn continuously",
            "items[0].release: not used here",
        ],
    );
}

#[test]
fn patch_cannot_be_as_needed_or_fractional() {
    rejects_item(
        r#"{"drug": "fentanyl", "route": "transdermal", "strength_mcg_per_hour": 25, "as_needed": true}"#,
        &["items[0].as_needed: a patch is worn continuously"],
    );
    rejects_item(
        r#"{"drug": "fentanyl", "route": "transdermal", "strength_mcg_per_hour": 25, "patches": 1.5}"#,
        &["items[0].patches: must be a whole number of patches (got 1.5)"],
    );
}

#[test]
fn paracetamol_only_on_tablets_and_capsules() {
    rejects_item(
        r#"{"drug": "fentanyl", "route": "transdermal", "strength_mcg_per_hour": 25, "paracetamol_mg": 500}"#,
        &["items[0].paracetamol_mg: not used here"],
    );
    rejects_item(
        r#"{"drug": "codeine", "route": "oral", "form": "solution", "strength_mg_per_ml": 5, "ml_per_dose": 5, "doses_per_day": 4, "paracetamol_mg": 500}"#,
        &["items[0].paracetamol_mg: not used here"],
    );
}

#[test]
fn liquid_fields_on_a_tablet_and_tablet_fields_on_a_liquid() {
    rejects_item(
        r#"{"drug": "morphine", "route": "oral", "form": "tablet", "strength_mg": 10, "doses_per_day": 2, "ml_per_dose": 5}"#,
        &["items[0].ml_per_dose: not used here: only for liquids"],
    );
    rejects_item(
        r#"{"drug": "morphine", "route": "oral", "form": "solution", "strength_mg_per_ml": 2, "ml_per_dose": 5, "doses_per_day": 4, "strength_mg": 10}"#,
        &["items[0].strength_mg: not used here: a liquid"],
    );
}

#[test]
fn wrong_value_types() {
    rejects_item(
        r#"{"drug": "morphine", "route": "oral", "strength_mg": "10mg", "doses_per_day": 2}"#,
        &["items[0].strength_mg: must be a number (got \"10mg\")"],
    );
    rejects_item(
        r#"{"drug": "morphine", "route": "oral", "strength_mg": 10, "doses_per_day": 2, "as_needed": "yes"}"#,
        &["items[0].as_needed: must be true or false (got \"yes\")"],
    );
    rejects_item(
        r#"{"drug": "morphine", "route": ["oral"], "strength_mg": 10, "doses_per_day": 2}"#,
        &["items[0].route: must be a string (got a list)"],
    );
}

#[test]
fn every_problem_in_one_message() {
    rejects(
        r#"{"items": [
            {"drug": "morphine", "route": "oral", "strength_mg": -5, "doses_per_day": 2},
            {"drug": "tramadoll", "route": "oral", "strength_mg": 50, "doses_per_day": 20},
            {"drug": "fentanyl", "route": "transdermal", "strength_mcg_per_hour": 25, "colour": "beige"}
        ]}"#,
        &[
            "items[0].strength_mg: must be greater than 0 (got -5)",
            "items[1].drug: unknown drug 'tramadoll' (did you mean tramadol?)",
            "items[1].doses_per_day: more than 12 doses a day",
            "items[2].colour: unknown field",
        ],
    );
}

#[test]
fn bad_options() {
    let input = format!(r#"{{"items": [{GOOD}]}}"#);
    assert_rejected(
        &run_stdin(&["ome", "--high-dose-threshold", "-5"], &input),
        &["--high-dose-threshold: must be greater than 0 (got -5)"],
    );
    assert_rejected(
        &run_stdin(&["ome", "--high-dose-threshold", "0"], &input),
        &["--high-dose-threshold: must be greater than 0 (got 0)"],
    );
    assert_rejected(
        &run_stdin(&["ome", "--profile", "us"], &input),
        &["--profile", "unknown profile 'us' (accepted: uk, cdc)"],
    );
}

#[test]
fn missing_input_file() {
    let out = Command::new(BIN)
        .args(["ome", "/nonexistent/regimen.json"])
        .output()
        .expect("run");
    assert_rejected(
        &out,
        &["/nonexistent/regimen.json: could not read input file"],
    );
}
