//! Real plan inputs (as `stepdown plan` takes them, some with a `patient` as
//! `stepdown assess` takes it) and the library path from input to leaflet and
//! summary, shared by the sample generator and the benchmark.

#![allow(dead_code)]

use chrono::NaiveDate;
use stepdown::leaflet::{from_plan, LeafletDetails, LeafletInput, PracticeDetails};
use stepdown::ome::OmeOptions;
use stepdown::reference::reference;
use stepdown::summary::{compose, review_from_value, Summary, SummaryDetails};
use stepdown::taper::{plan, Plan};
use stepdown::Profile;

/// Morphine slow-release 30 mg twice a day with oxycodone 5 mg up to four times
/// a day as needed, for a 70-year-old who also takes diazepam; fortnightly steps.
pub const TWO_OPIOIDS: &str = r#"{"patient": {"age": 70, "co_medications": ["diazepam"]},
  "items": [{"drug": "morphine", "route": "oral", "release": "modified", "strength_mg": 30, "units_per_dose": 1, "doses_per_day": 2},
            {"drug": "oxycodone", "route": "oral", "release": "immediate", "strength_mg": 5, "units_per_dose": 1, "doses_per_day": 4, "as_needed": true}],
  "start_date": "2026-12-01", "taper": {"interval_days": 14}}"#;

/// A fentanyl 50 micrograms/hour patch, fortnightly steps with a pause.
pub const FENTANYL: &str = r#"{"patient": {"months_on_opioids": 30},
  "items": [{"drug": "fentanyl", "route": "transdermal", "strength_mcg_per_hour": 50, "patches": 1}],
  "start_date": "2026-12-01", "taper": {"interval_days": 14}, "pauses": [{"after_step": 2, "days": 14}]}"#;

/// A 14-step plan: morphine slow-release 60 mg twice a day, 8% of the start
/// every 2 weeks, with a 4-week pause (the benchmark's "12-step plan or more").
pub const LONG: &str = r#"{"items": [{"drug": "morphine", "route": "oral", "release": "modified", "strength_mg": 60, "units_per_dose": 1, "doses_per_day": 2}],
  "start_date": "2026-12-01", "taper": {"interval_days": 14, "reduction_percent": 8}, "pauses": [{"after_step": 4, "days": 28}]}"#;

/// Exactly 12 steps (the benchmark's plan): morphine slow-release 60 mg twice a
/// day, 9% of the start every 2 weeks, a 4-week pause after step 4, then the stop day.
pub const TWELVE_STEPS: &str = r#"{"items": [{"drug": "morphine", "route": "oral", "release": "modified", "strength_mg": 60, "units_per_dose": 1, "doses_per_day": 2}],
  "start_date": "2026-12-01", "taper": {"interval_days": 14, "reduction_percent": 9}, "pauses": [{"after_step": 4, "days": 28}]}"#;

pub fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
}

/// The plan and its assessment, from input JSON, as the CLI makes them.
pub fn plan_and_assessment(input: &str) -> (Plan, stepdown::assess::AssessReport) {
    let value: serde_json::Value = serde_json::from_str(input).expect("JSON");
    let (request, report) =
        review_from_value(&value, Profile::Uk, reference(), &OmeOptions::default())
            .unwrap_or_else(|e| panic!("{e}"));
    let plan = plan(&request, reference()).unwrap_or_else(|e| panic!("{e}"));
    (plan, report)
}

pub fn details(large_print: bool) -> LeafletDetails {
    LeafletDetails {
        patient_name: Some("Margaret Jones".into()),
        practice: PracticeDetails {
            name: "Riverside Surgery".into(),
            phone: "01632 960 123".into(),
            address: Some("12 Mill Lane, Newtown NT1 2AB".into()),
        },
        next_review: Some(date(2026, 12, 14)),
        large_print,
        issue_date: date(2026, 11, 24),
        calendar: false,
    }
}

/// The leaflet view-model for a plan input.
pub fn leaflet_input(input: &str, large_print: bool) -> LeafletInput {
    let (plan, _) = plan_and_assessment(input);
    from_plan(&plan, &details(large_print), reference()).unwrap_or_else(|e| panic!("{e}"))
}

/// The clinician summary for a plan input.
pub fn summary(input: &str) -> Summary {
    let (plan, report) = plan_and_assessment(input);
    compose(
        &report,
        &plan,
        &SummaryDetails {
            patient_name: Some("Margaret Jones".into()),
            nhs_number: Some("943 476 5919".into()),
            reviewer: Some("Dr A Patel".into()),
            practice: Some("Riverside Surgery".into()),
            review_date: date(2026, 11, 24),
            next_review: Some(date(2026, 12, 14)),
        },
        reference(),
    )
    .unwrap_or_else(|e| panic!("{e}"))
}
