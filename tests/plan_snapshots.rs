//! Whole plans pinned as insta snapshots, so that any change to a plan a
//! patient would follow is seen and reviewed (`cargo insta review`).

use stepdown::reference::reference;
use stepdown::taper::{plan_from_json, plan_text, Plan};
use stepdown::Profile;

fn make(json: &str) -> Plan {
    match plan_from_json(json, Profile::Uk, reference()) {
        Ok(p) => p,
        Err(e) => panic!("{e}"),
    }
}

const MST_30_BD: &str = r#"{"items": [{"drug": "morphine", "route": "oral", "release": "modified", "strength_mg": 30, "units_per_dose": 1, "doses_per_day": 2}],
  "start_date": "2026-12-01", "taper": {"preset": "standard"}}"#;

const THREE_OPIOIDS: &str = r#"{"items": [
    {"drug": "oxycodone", "route": "oral", "release": "modified", "strength_mg": 20, "doses_per_day": 2},
    {"drug": "morphine", "route": "oral", "form": "solution", "strength_mg_per_ml": 2, "ml_per_dose": 5, "doses_per_day": 3, "as_needed": true},
    {"drug": "codeine", "route": "oral", "strength_mg": 30, "units_per_dose": 2, "doses_per_day": 4, "paracetamol_mg": 500},
    {"drug": "methadone", "route": "oral", "form": "solution", "strength_mg_per_ml": 1, "ml_per_dose": 10, "doses_per_day": 1}
  ],
  "start_date": "2026-12-01",
  "taper": {"preset": "faster", "slow_last_third": true},
  "pauses": [{"after_step": 3, "days": 28}]}"#;

const PATCH: &str = r#"{"items": [{"drug": "buprenorphine", "route": "transdermal", "strength_mcg_per_hour": 20, "patches": 1}],
  "start_date": "2026-12-01", "taper": {"reduction_percent": 10, "interval_days": 14, "lengthen_interval": true}}"#;

const FENTANYL_TO_TARGET: &str = r#"{"items": [{"drug": "fentanyl", "route": "transdermal", "strength_mcg_per_hour": 75, "patches": 1},
    {"drug": "oxycodone", "route": "oral", "strength_mg": 5, "doses_per_day": 4, "as_needed": true}],
  "start_date": "2027-01-04", "taper": {"reduction_percent": 10, "of": "current", "interval_days": 21, "target_ome_mg_per_day": 60}}"#;

/// Targinact with oxycodone capsules as needed: the plan keeps each on its own
/// product, and every oxycodone with naloxone strength reads with both parts.
const TARGINACT_WITH_CAPSULES: &str = r#"{"items": [
    {"drug": "oxycodone", "route": "oral", "release": "modified", "form": "tablet", "strength_mg": 20, "naloxone_mg": 10, "doses_per_day": 2},
    {"drug": "oxycodone", "route": "oral", "form": "capsule", "strength_mg": 5, "doses_per_day": 4, "as_needed": true}
  ],
  "start_date": "2026-12-07", "taper": {"preset": "standard"}}"#;

#[test]
fn targinact_keeps_its_naloxone_in_the_text_table() {
    let text = plan_text(&make(TARGINACT_WITH_CAPSULES));
    assert!(text.contains("oxycodone with naloxone 12-hourly slow-release tablets"));
    assert!(!text.contains("oxycodone 12-hourly slow-release tablets"));
    assert!(text.contains("56 × 20 mg/10 mg tablets"), "{text}");
    insta::assert_snapshot!("targinact_text", text);
}

#[test]
fn morphine_standard_plan() {
    insta::assert_json_snapshot!("morphine_standard", make(MST_30_BD));
}

#[test]
fn three_opioids_with_pause_and_held_methadone() {
    insta::assert_json_snapshot!("three_opioids", make(THREE_OPIOIDS));
}

#[test]
fn buprenorphine_patch_lengthened() {
    insta::assert_json_snapshot!("buprenorphine_patch", make(PATCH));
}

#[test]
fn fentanyl_to_a_target_of_current() {
    insta::assert_json_snapshot!("fentanyl_target", make(FENTANYL_TO_TARGET));
}

#[test]
fn text_tables() {
    insta::assert_snapshot!("morphine_standard_text", plan_text(&make(MST_30_BD)));
    insta::assert_snapshot!("three_opioids_text", plan_text(&make(THREE_OPIOIDS)));
}

/// Issue 14: whole plans a specialist pharmacist checked by hand, pinned.
const MXL_30_OD: &str = r#"{"items": [{"drug": "morphine", "route": "oral", "release": "modified", "form": "capsule", "strength_mg": 30, "doses_per_day": 1}],
  "start_date": "2026-12-01"}"#;

const OXYCODONE_120_BD: &str = r#"{"items": [{"drug": "oxycodone", "route": "oral", "release": "modified", "strength_mg": 120, "doses_per_day": 2}],
  "start_date": "2026-12-01"}"#;

const FENTANYL_25: &str = r#"{"items": [{"drug": "fentanyl", "route": "transdermal", "strength_mcg_per_hour": 25}],
  "start_date": "2026-12-01"}"#;

const HALF_SEVREDOL_WITH_MST: &str = r#"{"items": [
    {"drug": "morphine", "route": "oral", "release": "immediate", "form": "tablet", "strength_mg": 10, "units_per_dose": 0.5, "doses_per_day": 4},
    {"drug": "morphine", "route": "oral", "release": "modified", "strength_mg": 30, "doses_per_day": 2}],
  "start_date": "2026-12-01", "taper": {"preset": "faster"}}"#;

#[test]
fn issue_14_whole_plans() {
    insta::assert_json_snapshot!("mxl_30_od_held_at_lowest", make(MXL_30_OD));
    insta::assert_snapshot!("oxycodone_120_bd_text", plan_text(&make(OXYCODONE_120_BD)));
    insta::assert_snapshot!("fentanyl_25_text", plan_text(&make(FENTANYL_25)));
    insta::assert_snapshot!(
        "half_sevredol_held_with_mst_text",
        plan_text(&make(HALF_SEVREDOL_WITH_MST))
    );
}
