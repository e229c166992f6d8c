//! "Load demo patients": synthetic patients and reviews for training and
//! trying the app. Never real data: the names are invented and marked as
//! demo records, and every NHS number is from the 999 range, which the NHS
//! reserves for testing and never issues to a patient.

use chrono::{DateTime, Datelike, Days, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::audit::{self, AuditAction, AuditEntity};
use super::patients::{self, PatientInput};
use super::reviews::{self, Review};
use super::{clean_actor, followups, Store, StoreError, StoreResult};
use crate::followup::{ComputedFollowUp, Decision, FollowUpInput};
use crate::profile::Profile;
use crate::record::{ComputedReview, ReviewInput, TaperRequest};

/// Computes a review from its inputs with a profile: the store cannot, as it
/// sits below the clinical facade (`consult::compute_review` is passed in).
pub type ComputeFn<'a> = &'a dyn Fn(Profile, &ReviewInput) -> Result<ComputedReview, String>;

/// Computes a follow-up of a stored version (`consult::compute_follow_up_of`
/// is passed in, for the same reason).
pub type FollowUpFn<'a> = &'a dyn Fn(&Review, &FollowUpInput) -> Result<ComputedFollowUp, String>;

/// What was loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DemoReport {
    /// Patients created.
    pub patients: usize,
    /// Reviews created.
    pub reviews: usize,
    /// Review versions saved (some demo reviews have two; a re-plan adds one).
    pub review_versions: usize,
    /// Follow-ups saved (dated the day the demo is loaded).
    pub follow_ups: usize,
}

struct DemoReview {
    profile: Profile,
    context: Value,
    items: Value,
    notes: &'static str,
    /// A second version with these notes, as if the clinician edited and saved again.
    second_version_notes: Option<&'static str>,
    /// A taper (10% of the start every 28 days) that started this many days
    /// before the demo is loaded.
    taper_started_days_ago: Option<u64>,
    /// A follow-up dated the day the demo is loaded, written like a
    /// `stepdown followup save` entry without its review, version, date and reviewer.
    follow_up: Option<Value>,
}

struct DemoPatient {
    name: &'static str,
    nhs_number: &'static str,
    date_of_birth: &'static str,
    local_id: &'static str,
    reviews: Vec<DemoReview>,
}

const REVIEWER: &str = "Dr Demo Reviewer";
const DEMO_NOTE: &str = "Demo record: synthetic data for training, not a real patient.";

fn demo_patients() -> Vec<DemoPatient> {
    vec![
        DemoPatient {
            name: "Ada Example (demo)",
            nhs_number: "999 000 0379",
            date_of_birth: "1950-03-14",
            local_id: "DEMO-001",
            reviews: vec![
                DemoReview {
                    profile: Profile::Uk,
                    context: json!({"sex": "female", "weight_kg": 61, "egfr": 55,
                                    "conditions": ["falls"], "co_medications": ["pregabalin"],
                                    "months_on_opioids": 30}),
                    items: json!([
                        {"drug": "morphine", "route": "oral", "release": "modified",
                         "strength_mg": 30, "units_per_dose": 1, "doses_per_day": 2},
                        {"drug": "oxycodone", "route": "oral", "release": "immediate",
                         "strength_mg": 5, "units_per_dose": 1, "doses_per_day": 4,
                         "as_needed": true}
                    ]),
                    notes: "Long-standing back pain; two falls this year. Discussed tapering.",
                    taper_started_days_ago: None,
                    follow_up: None,
                    second_version_notes: Some(
                        "Long-standing back pain; two falls this year. Agreed to start a slow \
                         taper of the modified-release morphine; review in four weeks.",
                    ),
                },
                DemoReview {
                    profile: Profile::Uk,
                    context: json!({"sex": "female", "weight_kg": 60, "egfr": 52,
                                    "conditions": ["falls"], "co_medications": ["pregabalin"],
                                    "months_on_opioids": 31}),
                    items: json!([
                        {"drug": "morphine", "route": "oral", "release": "modified",
                         "strength_mg": 20, "units_per_dose": 1, "doses_per_day": 2}
                    ]),
                    notes: "Four-week review: managing well on the lower dose.",
                    second_version_notes: None,
                    taper_started_days_ago: None,
                    follow_up: None,
                },
            ],
        },
        DemoPatient {
            name: "Bernard Sample (demo)",
            nhs_number: "999 000 0743",
            date_of_birth: "1968-11-02",
            local_id: "DEMO-002",
            reviews: vec![DemoReview {
                profile: Profile::Uk,
                context: json!({"sex": "male", "weight_kg": 84,
                                "co_medication_paracetamol_mg_per_day": 1000,
                                "months_on_opioids": 24}),
                items: json!([
                    {"drug": "codeine", "route": "oral", "strength_mg": 30, "units_per_dose": 2,
                     "doses_per_day": 4, "paracetamol_mg": 500}
                ]),
                notes: "Co-codamol 30/500 for knee pain, also buying paracetamol.",
                second_version_notes: None,
                taper_started_days_ago: None,
                follow_up: Some(json!({
                    "actual": {"status": "different-dose", "items": [
                        {"drug": "codeine", "route": "oral", "strength_mg": 30,
                         "units_per_dose": 1, "doses_per_day": 4, "paracetamol_mg": 500}]},
                    "peg": {"pain": 5, "enjoyment": 4, "activity": 5},
                    "sows": [0, 0, 1, 0, 0, 1, 1, 1, 0, 1],
                    "goals": "Keep walking to the allotment; stop buying extra paracetamol.",
                    "decision": "replan",
                    "notes": "Halved the co-codamol himself; re-planned from that dose."
                })),
            }],
        },
        DemoPatient {
            name: "Cora Testwell (demo)",
            nhs_number: "999 000 1111",
            date_of_birth: "1981-06-30",
            local_id: "DEMO-003",
            reviews: vec![DemoReview {
                profile: Profile::Uk,
                context: json!({"sex": "female", "weight_kg": 70,
                                "conditions": ["depression"], "co_medications": ["sertraline"],
                                "months_on_opioids": 8}),
                items: json!([
                    {"drug": "tramadol", "route": "oral", "release": "immediate",
                     "strength_mg": 50, "units_per_dose": 2, "doses_per_day": 4}
                ]),
                notes: "Tramadol with sertraline; discussed serotonin syndrome symptoms.",
                second_version_notes: None,
                taper_started_days_ago: Some(28),
                follow_up: Some(json!({
                    "actual": {"status": "on-plan"},
                    "peg": {"pain": 4, "enjoyment": 3, "activity": 3},
                    "sows": [0, 0, 0, 1, 0, 0, 1, 0, 0, 0],
                    "goals": "Fewer tablets before her daughter's wedding in the spring.",
                    "decision": "continue",
                    "notes": "Coping well with the first reduction."
                })),
            }],
        },
        DemoPatient {
            name: "Dev Placeholder (demo)",
            nhs_number: "999 000 1480",
            date_of_birth: "1959-01-21",
            local_id: "DEMO-004",
            reviews: vec![DemoReview {
                profile: Profile::Uk,
                context: json!({"sex": "male", "weight_kg": 77, "conditions": ["copd"],
                                "co_medications": ["zopiclone"], "months_on_opioids": 60}),
                items: json!([
                    {"drug": "fentanyl", "route": "transdermal", "strength_mcg_per_hour": 25,
                     "patches": 1}
                ]),
                notes: "Fentanyl patch for osteoarthritis; COPD; takes zopiclone at night.",
                second_version_notes: None,
                taper_started_days_ago: None,
                follow_up: None,
            }],
        },
        DemoPatient {
            name: "Edith Fictional (demo)",
            nhs_number: "999 000 1855",
            date_of_birth: "1944-08-09",
            local_id: "DEMO-005",
            reviews: vec![DemoReview {
                profile: Profile::Cdc,
                context: json!({"sex": "female", "weight_kg": 48, "egfr": 25,
                                "months_on_opioids": 14}),
                items: json!([
                    {"drug": "buprenorphine", "route": "transdermal",
                     "strength_mcg_per_hour": 10, "patches": 1}
                ]),
                notes: "Low weight, severe renal impairment. Example using the CDC profile.",
                second_version_notes: None,
                taper_started_days_ago: None,
                follow_up: None,
            }],
        },
        DemoPatient {
            name: "Frank Demo (demo)",
            nhs_number: "999 000 2223",
            date_of_birth: "1990-04-17",
            local_id: "DEMO-006",
            reviews: Vec::new(),
        },
    ]
}

fn age_on(dob: NaiveDate, today: NaiveDate) -> i32 {
    let mut age = today.year() - dob.year();
    if (today.month(), today.day()) < (dob.month(), dob.day()) {
        age -= 1;
    }
    age
}

fn load_in(
    tx: &super::db::Conn,
    actor: &str,
    compute: ComputeFn<'_>,
    compute_follow_up: FollowUpFn<'_>,
    now: DateTime<Utc>,
) -> StoreResult<DemoReport> {
    let today = now.date_naive();
    let existing: i64 = tx.query_row("SELECT count(*) FROM patients", (), |r| r.get(0))?;
    if existing > 0 {
        return Err(StoreError::NotEmpty { patients: existing });
    }
    let mut report = DemoReport {
        patients: 0,
        reviews: 0,
        review_versions: 0,
        follow_ups: 0,
    };
    for d in demo_patients() {
        let patient = patients::create_in(
            tx,
            &PatientInput {
                practice: None,
                name: d.name.into(),
                nhs_number: Some(d.nhs_number.into()),
                date_of_birth: Some(d.date_of_birth.into()),
                local_id: Some(d.local_id.into()),
            },
            actor,
            now,
        )?;
        report.patients += 1;
        for r in d.reviews {
            let mut context = r.context;
            if let (Some(dob), Value::Object(map)) = (patient.date_of_birth, &mut context) {
                map.insert("age".into(), json!(age_on(dob, now.date_naive())));
            }
            let demo_error = |detail: String| StoreError::BadRecord {
                what: format!("demo review of {}", d.name),
                detail,
            };
            let input = ReviewInput {
                patient_id: patient.id,
                review_id: None,
                base_version: None,
                reviewer: REVIEWER.into(),
                notes: format!("{}\n\n{DEMO_NOTE}", r.notes),
                patient: serde_json::from_value(context)
                    .map_err(|e| demo_error(format!("patient: {e}")))?,
                items: serde_json::from_value(r.items)
                    .map_err(|e| demo_error(format!("items: {e}")))?,
                taper: r
                    .taper_started_days_ago
                    .map(|days| -> StoreResult<TaperRequest> {
                        let start = today
                            .checked_sub_days(Days::new(days))
                            .ok_or_else(|| demo_error("taper start before the calendar".into()))?;
                        serde_json::from_value(json!({
                            "start_date": start.to_string(),
                            "taper": {"reduction_percent": 10, "interval_days": 28}
                        }))
                        .map_err(|e| demo_error(format!("taper: {e}")))
                    })
                    .transpose()?,
                shared_decision: None,
            };
            let computed = compute(r.profile, &input).map_err(demo_error)?;
            let saved = reviews::save_in(tx, &computed, now)?;
            report.reviews += 1;
            report.review_versions += 1;
            if let Some(notes) = r.second_version_notes {
                let again = computed.clone().with_target(
                    Some(saved.review_id),
                    Some(saved.version),
                    format!("{notes}\n\n{DEMO_NOTE}"),
                );
                reviews::save_in(tx, &again, now)?;
                report.review_versions += 1;
            }
            if let Some(Value::Object(mut entry)) = r.follow_up {
                let review = reviews::full(tx, saved.review_id, None)?;
                entry.insert("review_id".into(), json!(review.review_id));
                entry.insert("version".into(), json!(review.version));
                entry.insert("date".into(), json!(today.to_string()));
                entry.insert("reviewer".into(), json!(REVIEWER));
                if let Some(next) = today.checked_add_days(Days::new(28)) {
                    entry.insert("next_review".into(), json!(next.to_string()));
                }
                let input: FollowUpInput = serde_json::from_value(Value::Object(entry))
                    .map_err(|e| demo_error(format!("follow-up: {e}")))?;
                let computed = compute_follow_up(&review, &input).map_err(demo_error)?;
                followups::save_in(tx, &computed, now)?;
                report.follow_ups += 1;
                if input.decision == Decision::Replan {
                    report.review_versions += 1;
                }
            }
        }
    }
    audit::append(
        tx,
        now,
        actor,
        AuditAction::Create,
        AuditEntity::Store,
        None,
        None,
        &format!(
            "demo data loaded: {} synthetic patient(s), {} review(s), {} follow-up(s)",
            report.patients, report.reviews, report.follow_ups
        ),
    )?;
    Ok(report)
}

impl Store {
    /// Fills an empty store with synthetic demo patients and a few reviews,
    /// all in one transaction. Refused if the store has any patient, so demo
    /// records can never mix with real ones. `compute` computes each review
    /// from its inputs and `compute_follow_up` each follow-up
    /// (`consult::load_demo_patients` passes the core's).
    pub fn load_demo_patients(
        &mut self,
        actor: &str,
        compute: ComputeFn<'_>,
        compute_follow_up: FollowUpFn<'_>,
    ) -> StoreResult<DemoReport> {
        let actor = clean_actor(actor)?;
        self.write(|tx, now| load_in(tx, &actor, compute, compute_follow_up, now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nhs_number::NhsNumber;

    #[test]
    fn demo_nhs_numbers_are_valid_test_range_numbers() {
        let mut seen = std::collections::HashSet::new();
        for d in demo_patients() {
            let n = NhsNumber::parse(d.nhs_number).unwrap();
            assert!(
                n.is_test_range(),
                "{} must be in the 999 test range",
                d.name
            );
            assert!(seen.insert(n), "duplicate NHS number {}", d.nhs_number);
            assert!(
                d.name.ends_with("(demo)"),
                "{} must be marked as demo",
                d.name
            );
            assert!(d.local_id.starts_with("DEMO-"));
        }
    }

    #[test]
    fn age_counts_birthdays() {
        let dob = NaiveDate::from_ymd_opt(1950, 3, 14).unwrap();
        assert_eq!(
            age_on(dob, NaiveDate::from_ymd_opt(2026, 3, 13).unwrap()),
            75
        );
        assert_eq!(
            age_on(dob, NaiveDate::from_ymd_opt(2026, 3, 14).unwrap()),
            76
        );
    }
}
