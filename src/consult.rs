//! The consultation facade: typed requests from the desktop UI in, core
//! results or one `ApiError` out. Each function is what one Tauri command
//! calls, so the shell stays a one-line mapping and the CLI and app share
//! the same validation.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use serde_json::Value;

use crate::api_error::ApiError;
use crate::assess::{assess_raw, assess_value, AssessReport, RawAssessInput};
use crate::leaflet::{from_plan, render_leaflet, LeafletDetails, LeafletError, PracticeDetails};
use crate::ome::OmeOptions;
use crate::patient::RawPatient;
use crate::pdf::Rendered;
use crate::reference::Reference;
use crate::regimen::{num, FieldError, OmeMgPerDay, RawItem};
use crate::summary::{compose, SummaryDetails, SummaryError};
use crate::taper::{self, apply_edits, request_from_raw, Edit, Plan, RawPlanInput};
use crate::Profile;
use chrono::NaiveDate;

/// What the UI sends for a live assessment: the regimen, what is known about
/// the patient, and the settings that shape the figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
#[ts(export)]
pub struct AssessRequest {
    /// The regimen as entered.
    pub items: Vec<RawItem>,
    /// What is known about the patient.
    #[serde(default)]
    #[ts(optional)]
    pub patient: Option<RawPatient>,
    /// Conversion profile.
    #[serde(default)]
    pub profile: Profile,
    /// Replaces the profile's high-dose threshold (mg OME a day), from settings.
    #[serde(default)]
    #[ts(optional)]
    pub high_dose_threshold_mg_per_day: Option<f64>,
}

/// OME and risk flags for the consultation; every problem in the regimen or
/// the patient details comes back with its field path.
pub fn assess(request: &AssessRequest, reference: &Reference) -> Result<AssessReport, ApiError> {
    let threshold = threshold_option(
        request.high_dose_threshold_mg_per_day,
        "high_dose_threshold_mg_per_day",
    );
    let input = RawAssessInput {
        patient: request.patient.clone(),
        items: request.items.clone(),
    };
    let options = OmeOptions {
        high_dose_threshold: threshold.clone().ok().flatten(),
    };
    let report = assess_raw(&input, request.profile, reference, &options);
    match (threshold, report) {
        (Ok(_), Ok(report)) => Ok(report),
        (threshold, report) => {
            let mut fields = Vec::new();
            if let Err(e) = threshold {
                fields.push(e);
            }
            if let Err(e) = report {
                match e.field_errors() {
                    [] => return Err(e.into()),
                    errors => fields.extend_from_slice(errors),
                }
            }
            Err(ApiError::invalid_fields(fields))
        }
    }
}

/// The assessment document a saved review carries, for a stored
/// `{"patient": …, "items": …}` input; `None` when it does not validate.
/// The store's demo loader uses this, so demo reviews show real figures.
pub fn assessment_document(
    profile: Profile,
    input: &Value,
    reference: &Reference,
) -> Option<Value> {
    let report = assess_value(input, profile, reference, &OmeOptions::default()).ok()?;
    serde_json::to_value(report).ok()
}

/// Generic and brand names of the co-medications the risk tables recognise,
/// for the co-medication box's suggestions (as written, sorted, no repeats).
pub fn co_medication_names(reference: &Reference) -> Vec<String> {
    let mut names: Vec<String> = reference
        .risk
        .co_medications
        .rows
        .iter()
        .flat_map(|r| std::iter::once(r.name.clone()).chain(r.brands.iter().cloned()))
        .collect();
    names.sort_by_key(|n| n.to_lowercase());
    names.dedup_by(|a, b| a.eq_ignore_ascii_case(b));
    names
}

/// What the UI sends for a taper plan: the plan input as entered (regimen,
/// start date, taper options, pauses), the clinician's edits in order, and
/// the profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
#[ts(export)]
pub struct PlanRequestUi {
    /// The plan input as entered.
    pub input: RawPlanInput,
    /// Clinician edits, applied in order to the suggested plan.
    #[serde(default)]
    pub edits: Vec<Edit>,
    /// Conversion profile.
    #[serde(default)]
    pub profile: Profile,
}

/// The suggested plan with the clinician's edits applied; any problem (with
/// the input or an edit that would raise a dose without a reason) comes back
/// with its field path.
pub fn plan(request: &PlanRequestUi, reference: &Reference) -> Result<Plan, ApiError> {
    let plan_request = request_from_raw(&request.input, request.profile, reference)?;
    let suggested = taper::plan(&plan_request, reference)?;
    if request.edits.is_empty() {
        return Ok(suggested);
    }
    Ok(apply_edits(&suggested, &request.edits, reference)?)
}

/// What the UI sends to print the patient leaflet: the plan as shown, and
/// who it is for. Practice details come from settings, passed separately.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
#[ts(export)]
pub struct LeafletRequestUi {
    /// The plan exactly as the consultation shows it.
    pub plan: PlanRequestUi,
    /// The patient's name as they like it written (left off when absent).
    #[serde(default)]
    #[ts(optional)]
    pub patient_name: Option<String>,
    /// 18 pt large print.
    #[serde(default)]
    pub large_print: bool,
    /// Agreed next review, `YYYY-MM-DD`.
    #[serde(default)]
    #[ts(optional)]
    pub next_review: Option<String>,
    /// The day the leaflet is given, `YYYY-MM-DD` (the UI's clock; the core reads none).
    pub issue_date: String,
}

/// What the UI sends for the clinician summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
#[ts(export)]
pub struct SummaryRequestUi {
    /// The assessment as shown (regimen and patient details).
    pub assess: AssessRequest,
    /// The plan as shown.
    pub plan: PlanRequestUi,
    /// Patient name.
    #[serde(default)]
    #[ts(optional)]
    pub patient_name: Option<String>,
    /// NHS number.
    #[serde(default)]
    #[ts(optional)]
    pub nhs_number: Option<String>,
    /// Reviewer.
    #[serde(default)]
    #[ts(optional)]
    pub reviewer: Option<String>,
    /// Date of this review, `YYYY-MM-DD`.
    pub review_date: String,
    /// Agreed next review, `YYYY-MM-DD`.
    #[serde(default)]
    #[ts(optional)]
    pub next_review: Option<String>,
}

fn date_field(value: &str, field: &str) -> Result<NaiveDate, ApiError> {
    NaiveDate::parse_from_str(value.trim(), "%Y-%m-%d").map_err(|_| {
        ApiError::invalid_fields(vec![FieldError::new(
            field,
            format!("must be a date written YYYY-MM-DD (got \"{value}\")"),
        )])
    })
}

fn optional_date(value: &Option<String>, field: &str) -> Result<Option<NaiveDate>, ApiError> {
    match value.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => date_field(v, field).map(Some),
    }
}

fn input_error(field: &str, message: &str) -> ApiError {
    ApiError::invalid_fields(vec![FieldError::new(field, message)])
}

impl From<LeafletError> for ApiError {
    fn from(e: LeafletError) -> Self {
        match e {
            LeafletError::Input { field, message } => input_error(&field, &message),
            other => ApiError::new(crate::ErrorCode::Internal, other.to_string()),
        }
    }
}

impl From<SummaryError> for ApiError {
    fn from(e: SummaryError) -> Self {
        match e {
            SummaryError::Input { field, message } => input_error(&field, &message),
            other => ApiError::new(crate::ErrorCode::Internal, other.to_string()),
        }
    }
}

/// The patient leaflet PDF for the plan as shown, with the practice's
/// details from settings. The practice name and phone are required: a
/// leaflet must say who to call.
pub fn leaflet_pdf(
    request: &LeafletRequestUi,
    practice: &PracticeDetails,
    reference: &Reference,
) -> Result<Rendered, ApiError> {
    if practice.name.trim().is_empty() || practice.phone.trim().is_empty() {
        return Err(input_error(
            "settings.practice",
            "add the practice name and phone number in Settings first: the leaflet must say who to contact",
        ));
    }
    let issue_date = date_field(&request.issue_date, "issue_date")?;
    let next_review = optional_date(&request.next_review, "next_review")?;
    let plan = plan(&request.plan, reference)?;
    let details = LeafletDetails {
        patient_name: request
            .patient_name
            .as_ref()
            .map(|n| n.trim().to_string())
            .filter(|n| !n.is_empty()),
        practice: practice.clone(),
        next_review,
        large_print: request.large_print,
        issue_date,
    };
    let input = from_plan(&plan, &details, reference)?;
    Ok(render_leaflet(&input)?)
}

/// The clinician summary for the record, as plain text ready to paste.
pub fn summary_text(
    request: &SummaryRequestUi,
    practice: Option<String>,
    reference: &Reference,
) -> Result<String, ApiError> {
    let review_date = date_field(&request.review_date, "review_date")?;
    let next_review = optional_date(&request.next_review, "next_review")?;
    let assessment = assess(&request.assess, reference)?;
    let plan = plan(&request.plan, reference)?;
    let clean = |v: &Option<String>| {
        v.as_ref()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    };
    let details = SummaryDetails {
        patient_name: clean(&request.patient_name),
        nhs_number: clean(&request.nhs_number),
        reviewer: clean(&request.reviewer),
        practice: clean(&practice),
        review_date,
        next_review,
    };
    Ok(compose(&assessment, &plan, &details, reference)?.to_text())
}

/// Checks a threshold override, naming the field when it is wrong.
pub fn threshold_option(
    value: Option<f64>,
    field: &str,
) -> Result<Option<OmeMgPerDay>, FieldError> {
    match value {
        None => Ok(None),
        Some(v) => OmeMgPerDay::new(v)
            .filter(|t| t.get() > 0.0)
            .map(Some)
            .ok_or_else(|| {
                FieldError::new(field, format!("must be greater than 0 (got {})", num(v)))
            }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::reference;
    use crate::ErrorCode;

    fn morphine_mr(strength: f64) -> RawItem {
        RawItem {
            drug: Some("morphine".into()),
            route: Some("oral".into()),
            release: Some("modified".into()),
            strength_mg: Some(strength),
            units_per_dose: Some(1.0),
            doses_per_day: Some(2.0),
            ..RawItem::default()
        }
    }

    fn request(items: Vec<RawItem>, threshold: Option<f64>) -> AssessRequest {
        AssessRequest {
            items,
            patient: None,
            profile: Profile::Uk,
            high_dose_threshold_mg_per_day: threshold,
        }
    }

    #[test]
    fn calculates_like_the_cli() {
        let r = assess(&request(vec![morphine_mr(60.0)], None), reference()).unwrap();
        assert_eq!(r.ome.total_ome_mg_per_day, 120.0);
        assert!(r.ome.complete);
    }

    #[test]
    fn a_threshold_from_settings_replaces_the_profiles() {
        let r = assess(&request(vec![morphine_mr(50.0)], Some(120.0)), reference()).unwrap();
        assert_eq!(r.ome.total_ome_mg_per_day, 100.0);
        assert!(!r.ome.high_dose, "100 mg is below a 120 mg local threshold");
    }

    #[test]
    fn every_problem_comes_back_with_its_field() {
        let e = assess(
            &request(vec![morphine_mr(30.0), morphine_mr(-5.0)], Some(0.0)),
            reference(),
        )
        .unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidInput);
        let paths: Vec<&str> = e.fields.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(
            paths,
            ["high_dose_threshold_mg_per_day", "items[1].strength_mg"]
        );
        assert!(e
            .message
            .contains("items[1].strength_mg: must be greater than 0 (got -5)"));
    }

    #[test]
    fn assessment_flags_a_high_dose_with_a_benzodiazepine() {
        let r = assess(
            &AssessRequest {
                items: vec![morphine_mr(60.0)],
                patient: Some(RawPatient {
                    age: Some(70.0),
                    co_medications: Some(vec!["Valium".into()]),
                    ..RawPatient::default()
                }),
                profile: Profile::Uk,
                high_dose_threshold_mg_per_day: None,
            },
            reference(),
        )
        .unwrap();
        let ids: Vec<String> = r
            .flags
            .iter()
            .map(|f| {
                serde_json::to_value(f.id)
                    .unwrap()
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        for id in ["high-dose", "benzodiazepine", "older-adult"] {
            assert!(ids.contains(&id.to_string()), "{id} missing from {ids:?}");
        }
    }

    #[test]
    fn patient_and_regimen_problems_come_back_together() {
        let e = assess(
            &AssessRequest {
                items: vec![morphine_mr(-5.0)],
                patient: Some(RawPatient {
                    age: Some(130.0),
                    ..RawPatient::default()
                }),
                profile: Profile::Uk,
                high_dose_threshold_mg_per_day: None,
            },
            reference(),
        )
        .unwrap_err();
        let paths: Vec<&str> = e.fields.iter().map(|f| f.path.as_str()).collect();
        assert!(paths.contains(&"patient.age"), "{paths:?}");
        assert!(paths.contains(&"items[0].strength_mg"), "{paths:?}");
    }

    #[test]
    fn co_medication_suggestions_include_generics_and_brands_once() {
        let names = co_medication_names(reference());
        assert!(names.iter().any(|n| n == "diazepam"));
        assert!(names.iter().any(|n| n == "Valium"));
        let mut lower: Vec<String> = names.iter().map(|n| n.to_lowercase()).collect();
        let before = lower.len();
        lower.dedup();
        assert_eq!(lower.len(), before);
    }

    #[test]
    fn demo_documents_carry_ome_and_flags() {
        let doc = assessment_document(
            Profile::Uk,
            &serde_json::json!({"patient": {"age": 70}, "items": [{"drug": "morphine", "route": "oral", "release": "modified", "strength_mg": 60, "doses_per_day": 2}]}),
            reference(),
        )
        .unwrap();
        assert_eq!(doc["ome"]["total_ome_mg_per_day"], 120.0);
        assert!(doc["flags"].as_array().unwrap().len() >= 2);
    }

    #[test]
    fn a_plan_comes_back_with_edits_applied_and_an_increase_is_refused() {
        let input = RawPlanInput {
            items: vec![morphine_mr(30.0)],
            start_date: Some("2026-12-01".into()),
            ..RawPlanInput::default()
        };
        let base = plan(
            &PlanRequestUi {
                input: input.clone(),
                edits: vec![],
                profile: Profile::Uk,
            },
            reference(),
        )
        .unwrap();
        assert_eq!(base.ome_start, 60.0);
        assert_eq!(base.steps.last().unwrap().total_ome_mg_per_day, 0.0);
        let longer = plan(
            &PlanRequestUi {
                input: input.clone(),
                edits: vec![Edit::SetLength { step: 1, days: 35 }],
                profile: Profile::Uk,
            },
            reference(),
        )
        .unwrap();
        assert_eq!(longer.steps[0].days, 35);
        // Raising step 2 back above step 1 without a reason is refused, with a field path.
        let step1 = base.steps[0].items[0].doses.clone();
        let mut bigger = step1.clone();
        for d in &mut bigger {
            for u in &mut d.units {
                if let crate::taper::UnitAmount::Solid(s) = u {
                    s.count += 2.0;
                }
            }
        }
        let e = plan(
            &PlanRequestUi {
                input,
                edits: vec![Edit::SetDose {
                    step: 2,
                    item: 0,
                    doses: bigger,
                    intent: None,
                    reason: None,
                }],
                profile: Profile::Uk,
            },
            reference(),
        )
        .unwrap_err();
        assert_eq!(e.code, crate::ErrorCode::InvalidInput, "{}", e.message);
    }

    fn plan_ui() -> PlanRequestUi {
        PlanRequestUi {
            input: RawPlanInput {
                items: vec![morphine_mr(30.0)],
                start_date: Some("2026-12-01".into()),
                ..RawPlanInput::default()
            },
            edits: vec![],
            profile: Profile::Uk,
        }
    }

    fn practice() -> PracticeDetails {
        PracticeDetails {
            name: "Riverside Surgery".into(),
            phone: "01632 960 123".into(),
            address: None,
        }
    }

    #[test]
    fn the_leaflet_is_a_pdf_of_the_plan_as_shown() {
        let pdf = leaflet_pdf(
            &LeafletRequestUi {
                plan: plan_ui(),
                patient_name: Some("Alex".into()),
                large_print: false,
                next_review: Some("2026-12-24".into()),
                issue_date: "2026-11-24".into(),
            },
            &practice(),
            reference(),
        )
        .unwrap();
        assert!(pdf.bytes.starts_with(b"%PDF"));
        assert!(pdf.pages >= 2);
    }

    #[test]
    fn a_leaflet_without_practice_contact_details_is_refused_with_a_reason() {
        let e = leaflet_pdf(
            &LeafletRequestUi {
                plan: plan_ui(),
                patient_name: None,
                large_print: true,
                next_review: None,
                issue_date: "2026-11-24".into(),
            },
            &PracticeDetails {
                name: String::new(),
                phone: String::new(),
                address: None,
            },
            reference(),
        )
        .unwrap_err();
        assert_eq!(e.fields[0].path, "settings.practice");
        let e = leaflet_pdf(
            &LeafletRequestUi {
                plan: plan_ui(),
                patient_name: None,
                large_print: false,
                next_review: Some("24/12/2026".into()),
                issue_date: "2026-11-24".into(),
            },
            &practice(),
            reference(),
        )
        .unwrap_err();
        assert_eq!(e.fields[0].path, "next_review");
    }

    #[test]
    fn the_summary_text_carries_the_total_and_the_plan() {
        let text = summary_text(
            &SummaryRequestUi {
                assess: request(vec![morphine_mr(30.0)], None),
                plan: plan_ui(),
                patient_name: Some("Alex".into()),
                nhs_number: None,
                reviewer: Some("P. Harmacist".into()),
                review_date: "2026-11-24".into(),
                next_review: None,
            },
            Some("Riverside Surgery".into()),
            reference(),
        )
        .unwrap();
        assert!(text.contains("60"), "{text}");
        assert!(text.contains("P. Harmacist"), "{text}");
    }

    #[test]
    fn request_rejects_unknown_fields() {
        let err = serde_json::from_str::<AssessRequest>(r#"{"items": [], "profil": "uk"}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("profil"), "{err}");
    }
}
