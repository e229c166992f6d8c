//! The consultation facade: typed requests from the desktop UI in, core
//! results or one `ApiError` out. Each function is what one Tauri command
//! calls, so the shell stays a one-line mapping and the CLI and app share
//! the same validation.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::api_error::ApiError;
use crate::assess::{assess_raw, AssessReport, RawAssessInput};
use crate::followup::{
    self, ActualDose, ComputedFollowUp, Decision, FollowUpInput, FollowUpRecord,
};
use crate::input::FieldError;
use crate::leaflet::{from_plan, render_leaflet, LeafletDetails, LeafletError, PracticeDetails};
use crate::ome::OmeOptions;
use crate::outcomes;
use crate::patient::RawPatient;
use crate::pdf::Rendered;
use crate::quantity::OmeMgPerDay;
use crate::record::{ComputedReview, ReviewInput, TaperRequest};
use crate::reference::Reference;
use crate::regimen::RawItem;
use crate::store::{
    DemoReport, FollowUp, LeafletPrint, Patient, PatientInput, PracticeContact, Review,
    ReviewSummary, Settings, Store,
};
use crate::summary::{compose, SummaryDetails, SummaryError};
use crate::taper::{self, apply_edits, request_from_raw, Edit, Plan, RawPlanInput};
use crate::vocabulary::num;
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

/// The caps of `assets/limits.json` (bytes, items, pauses, edits, list and
/// text lengths) on a request the desktop sent, which arrives parsed: the
/// CLI applies the same caps to its input files while reading them. Every
/// consult call that takes a request from the app checks it first, so the
/// shell stays a one-line mapping.
pub fn check_caps<T: Serialize>(request: &T) -> Result<(), ApiError> {
    crate::limits::check_parsed(request).map_err(|problems| {
        ApiError::invalid_fields(
            problems
                .into_iter()
                .map(|(path, message)| FieldError::new(path, message))
                .collect(),
        )
    })
}

/// OME and risk flags for the consultation; every problem in the regimen or
/// the patient details comes back with its field path.
pub fn assess(request: &AssessRequest, reference: &Reference) -> Result<AssessReport, ApiError> {
    check_caps(request)?;
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

/// The product each entered item is a dose of (for showing a saved, imported
/// or hand-entered regimen with product names), within the item cap.
pub fn describe_items(
    items: &[RawItem],
    reference: &Reference,
) -> Result<Vec<crate::catalogue::ProductChoice>, ApiError> {
    check_caps(&serde_json::json!({ "items": items }))?;
    Ok(items
        .iter()
        .map(|raw| crate::catalogue::choice_for_item(reference, raw))
        .collect())
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
    check_caps(request)?;
    let plan_request = request_from_raw(&request.input, request.profile, reference)?;
    let suggested = taper::plan(&plan_request, reference)?;
    if request.edits.is_empty() {
        return Ok(suggested);
    }
    Ok(apply_edits(&suggested, &request.edits, reference)?)
}

fn date_field(value: &str, field: &str) -> Result<NaiveDate, ApiError> {
    let d = NaiveDate::parse_from_str(value.trim(), "%Y-%m-%d").map_err(|_| {
        ApiError::invalid_fields(vec![FieldError::new(
            field,
            format!("must be a date written YYYY-MM-DD (got \"{value}\")"),
        )])
    })?;
    crate::limits::check_year(d)
        .map_err(|why| ApiError::invalid_fields(vec![FieldError::new(field, why)]))?;
    Ok(d)
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

/// Computes a review from its inputs: OME and flags, and the plan with the
/// clinician's edits when a taper was asked for. Every problem in any input
/// comes back together, each with its field path; nothing is computed from
/// an entry that has one, so nothing can be saved from it.
pub fn compute_review(
    input: &ReviewInput,
    profile: Profile,
    high_dose_threshold_mg_per_day: Option<f64>,
    reference: &Reference,
) -> Result<ComputedReview, ApiError> {
    check_caps(input)?;
    if input.items.is_empty() {
        return Err(input_error(
            "items",
            "add at least one medicine: a review is saved with the regimen it is about",
        ));
    }
    let assessed = assess(
        &AssessRequest {
            items: input.items.clone(),
            patient: Some(input.patient.clone()),
            profile,
            high_dose_threshold_mg_per_day,
        },
        reference,
    );
    let planned = input.taper.as_ref().map(|t| {
        plan(
            &PlanRequestUi {
                input: t.plan_input(&input.items),
                edits: t.edits.clone(),
                profile,
            },
            reference,
        )
    });
    let mut fields: Vec<FieldError> = Vec::new();
    let assessment = match assessed {
        Ok(a) => Some(a),
        Err(e) if e.fields.is_empty() => return Err(e),
        Err(e) => {
            fields.extend(e.fields);
            None
        }
    };
    let plan = match planned {
        None => None,
        Some(Ok(p)) => Some(p),
        Some(Err(e)) if e.fields.is_empty() => return Err(e),
        Some(Err(e)) => {
            // The plan re-reads the regimen: its item problems are the assessment's.
            for f in e.fields {
                if !fields.iter().any(|g| g.path == f.path) {
                    fields.push(f);
                }
            }
            None
        }
    };
    match assessment {
        Some(assessment) if fields.is_empty() => Ok(ComputedReview::new(
            input.clone(),
            profile,
            reference.manifest_version.clone(),
            high_dose_threshold_mg_per_day,
            assessment,
            plan,
        )),
        _ => Err(ApiError::invalid_fields(fields)),
    }
}

/// Saves a review from its inputs: the profile and high-dose threshold come
/// from the store's settings, the core computes OME, flags and plan, and the
/// store keeps inputs and results together as a new version. An entry with
/// any error is refused with its fields, and nothing is written.
pub fn save_review(
    store: &mut Store,
    input: &ReviewInput,
    reference: &Reference,
) -> Result<ReviewSummary, ApiError> {
    // On a team store the version names the role that signed in.
    let input = &ReviewInput {
        reviewer: store.seat_reviewer(&input.reviewer)?,
        ..input.clone()
    };
    let settings = store.settings()?;
    let computed = compute_review(
        input,
        settings.profile,
        settings.high_dose_threshold_mg_per_day,
        reference,
    )?;
    Ok(store.save_review(&computed)?)
}

/// Saves a kept draft (an entry refused because the review had moved on)
/// as the review's newest version, on top of whatever is latest now, and
/// deletes the draft, in one transaction. The entry is computed again like
/// any save (the store's current profile and threshold); the versions saved
/// meanwhile stay in the history. `actor` is recorded for the draft's removal.
pub fn reapply_draft(
    store: &mut Store,
    draft_id: i64,
    actor: &str,
    reference: &Reference,
) -> Result<ReviewSummary, ApiError> {
    let draft = store.review_draft(draft_id)?;
    let input = ReviewInput {
        review_id: Some(draft.review_id),
        // The store saves a draft on top of the latest, whatever it is.
        base_version: None,
        ..draft.input
    };
    let settings = store.settings()?;
    let computed = compute_review(
        &input,
        settings.profile,
        settings.high_dose_threshold_mg_per_day,
        reference,
    )?;
    Ok(store.reapply_review_draft(draft_id, &computed, actor)?)
}

/// Re-writes the paths of problems in a follow-up's regimen (`items[0]`)
/// under the part of the entry they came from (`actual.items[0]`).
fn under(prefix: &str, fields: Vec<FieldError>) -> Vec<FieldError> {
    fields
        .into_iter()
        .map(|f| {
            if f.path.starts_with("items") {
                FieldError::new(format!("{prefix}.{}", f.path), f.message)
            } else if f.path.starts_with("taper") {
                FieldError::new(f.path.replacen("taper", "replan", 1), f.message)
            } else {
                f
            }
        })
        .collect()
}

fn with_fields(e: ApiError, prefix: &str) -> ApiError {
    if e.fields.is_empty() {
        e
    } else {
        ApiError::invalid_fields(under(prefix, e.fields))
    }
}

/// Works out a follow-up of a stored version: where the plan says the
/// patient should be that day, the total actually taken (the plan's for the
/// day, the core's total of the items taken, or 0 when stopped), the scores,
/// and for a re-plan the review's next version, computed through
/// [`compute_review`] from the dose taken, starting on the follow-up date.
pub fn compute_follow_up(
    store: &Store,
    input: &FollowUpInput,
    reference: &Reference,
) -> Result<ComputedFollowUp, ApiError> {
    let review = stored_version(store, input.review_id, input.version)?;
    compute_follow_up_of(&review, &store.settings()?, input, reference)
}

/// [`compute_follow_up`] of a version already read, with the store's
/// settings (the demo data computes its follow-ups inside its transaction).
pub fn compute_follow_up_of(
    review: &Review,
    settings: &Settings,
    input: &FollowUpInput,
    reference: &Reference,
) -> Result<ComputedFollowUp, ApiError> {
    let checked = followup::check(input, review.plan.is_some(), reference)
        .map_err(ApiError::invalid_fields)?;
    // Outcomes order points by date: a follow-up before the review it looks
    // at would make it the baseline's past.
    let created = review.created_at.date_naive();
    if checked.date < created {
        return Err(input_error(
            "date",
            &format!("must not be before the review was first saved ({created})"),
        ));
    }
    let expected = review
        .plan
        .as_ref()
        .map(|p| followup::position_on(p, checked.date));
    let (current, complete) = match (&input.actual, &expected) {
        (ActualDose::OnPlan, Some(pos)) => (pos.total_ome_mg_per_day, pos.ome_complete),
        (ActualDose::OnPlan, None) => {
            return Err(input_error(
                "actual.status",
                "the review has no plan to be on",
            ))
        }
        (ActualDose::Stopped, _) => (0.0, true),
        (ActualDose::DifferentDose { items }, _) => {
            let report = assess(
                &AssessRequest {
                    items: items.clone(),
                    patient: Some(review.patient.clone()),
                    profile: review.profile,
                    high_dose_threshold_mg_per_day: settings.high_dose_threshold_mg_per_day,
                },
                reference,
            )
            .map_err(|e| with_fields(e, "actual"))?;
            (report.ome.total_ome_mg_per_day, report.ome.complete)
        }
    };
    let replan = match (&input.decision, &input.actual) {
        (Decision::Replan, ActualDose::DifferentDose { items }) => {
            let mut taper = input.replan.clone().unwrap_or_else(|| TaperRequest {
                // The earlier plan's edits name its steps, so they do not carry over.
                edits: Vec::new(),
                ..review.taper.clone().unwrap_or_default()
            });
            taper.start_date = Some(checked.date.to_string());
            let notes = format!(
                "Re-planned at the follow-up of {} from the dose taken then.{}",
                checked.date,
                if input.notes.trim().is_empty() {
                    String::new()
                } else {
                    format!("\n{}", input.notes.trim())
                }
            );
            let next = ReviewInput {
                patient_id: review.patient_id,
                review_id: Some(review.review_id),
                // The version followed up, checked above to be the current one.
                base_version: Some(review.version),
                reviewer: input.reviewer.clone(),
                notes,
                patient: review.patient.clone(),
                items: items.clone(),
                taper: Some(taper),
                // Goals, support and schedule carry over; agreement to the new
                // plan is the clinician's to record when it is discussed.
                shared_decision: review.shared_decision.clone().map(|d| {
                    crate::record::SharedDecision {
                        agreement: crate::record::Agreement::NotRecorded,
                        ..d
                    }
                }),
            };
            Some(
                compute_review(
                    &next,
                    settings.profile,
                    settings.high_dose_threshold_mg_per_day,
                    reference,
                )
                .map_err(|e| with_fields(e, "actual"))?,
            )
        }
        _ => None,
    };
    let record = FollowUpRecord {
        input: input.clone(),
        expected,
        current_ome_mg_per_day: current,
        ome_complete: complete,
        peg: checked.peg,
        sows: checked.sows,
    };
    Ok(ComputedFollowUp::new(record, replan))
}

/// Saves a follow-up from its entry: computed by the core, refused with its
/// fields if anything is wrong (nothing is written), a re-plan saved as the
/// review's next version in the same transaction, audited.
pub fn save_follow_up(
    store: &mut Store,
    input: &FollowUpInput,
    reference: &Reference,
) -> Result<FollowUp, ApiError> {
    // On a team store the follow-up (and a re-plan's version) names the
    // role that signed in.
    let input = &FollowUpInput {
        reviewer: store.seat_reviewer(&input.reviewer)?,
        ..input.clone()
    };
    let computed = compute_follow_up(store, input, reference)?;
    Ok(store.save_follow_up(&computed)?)
}

/// What a follow-up of a review opens with: its current version, where the
/// plan says the patient should be on `date`, the follow-ups so far and the
/// next review agreed at the latest one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct FollowUpDue {
    /// The review.
    #[ts(type = "number")]
    pub review_id: i64,
    /// Its current version (the one to follow up).
    #[ts(type = "number")]
    pub version: i64,
    /// The patient.
    #[ts(type = "number")]
    pub patient_id: i64,
    /// The day asked about.
    #[ts(as = "String")]
    pub date: NaiveDate,
    /// Where the plan says the patient should be (null when the version has no plan).
    pub position: Option<followup::PlanPosition>,
    /// The next review agreed at the latest follow-up, if any.
    #[ts(as = "Option<String>")]
    pub next_review: Option<NaiveDate>,
    /// That next review is before `date`.
    pub overdue: bool,
    /// The follow-ups so far, oldest first.
    pub follow_ups: Vec<FollowUp>,
}

/// Where a review's patient should be on `date`, and its follow-ups so far.
pub fn follow_up_due(
    store: &Store,
    review_id: i64,
    date: NaiveDate,
) -> Result<FollowUpDue, ApiError> {
    let latest = store.review(review_id)?;
    let review = stored_version(store, review_id, latest.version)?;
    let follow_ups = store.follow_ups(review_id)?;
    let next_review = follow_ups
        .last()
        .and_then(|f| f.record.input.next_review.as_deref())
        .and_then(|d| NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d").ok());
    Ok(FollowUpDue {
        review_id,
        version: review.version,
        patient_id: review.patient_id,
        date,
        position: review.plan.as_ref().map(|p| followup::position_on(p, date)),
        next_review,
        overdue: next_review.is_some_and(|n| n < date),
        follow_ups,
    })
}

/// The points outcomes are worked from: every review version and follow-up
/// in the store, by patient.
pub fn outcome_points(store: &Store) -> Result<Vec<outcomes::PatientPoints>, ApiError> {
    let mut by_patient: std::collections::BTreeMap<i64, outcomes::PatientPoints> =
        std::collections::BTreeMap::new();
    for review in store.all_review_versions()? {
        let Some(total) = review.total_ome_mg_per_day else {
            continue;
        };
        let entry =
            by_patient
                .entry(review.patient_id)
                .or_insert_with(|| outcomes::PatientPoints {
                    patient_id: review.patient_id,
                    ..Default::default()
                });
        entry.versions.push(outcomes::VersionPoint {
            review_id: review.review_id,
            version: review.version,
            date: review.saved_at.date_naive(),
            profile: review.profile,
            ome_mg_per_day: total,
            // A version that does not say is not known to be complete.
            ome_complete: review.ome_complete.unwrap_or(false),
            plan: review.plan,
        });
    }
    for f in store.all_follow_ups()? {
        let Some(date) = f.record.date() else {
            continue;
        };
        let entry = by_patient
            .entry(f.patient_id)
            .or_insert_with(|| outcomes::PatientPoints {
                patient_id: f.patient_id,
                ..Default::default()
            });
        let stopped = f.record.input.actual == ActualDose::Stopped;
        entry.follow_ups.push(outcomes::FollowUpPoint {
            review_id: f.review_id,
            follow_up_id: f.id,
            date,
            ome_mg_per_day: f.record.current_ome_mg_per_day,
            ome_complete: f.record.ome_complete,
            stopped,
            ends_plan: stopped || f.record.input.decision == Decision::EndPlan,
        });
    }
    Ok(by_patient.into_values().collect())
}

/// Outcomes per patient and month by month as of `today` (docs/outcomes.md).
pub fn outcomes(
    store: &Store,
    today: NaiveDate,
    reference: &Reference,
) -> Result<outcomes::Outcomes, ApiError> {
    Ok(outcomes::outcomes(
        &outcome_points(store)?,
        today,
        reference,
    ))
}

/// The outcomes as CSV as of `today`: the month-by-month table, or with
/// `patients` the per-patient one (docs/cli.md, `stepdown outcomes --csv`).
pub fn outcomes_csv(
    store: &Store,
    today: NaiveDate,
    patients: bool,
    reference: &Reference,
) -> Result<String, ApiError> {
    let o = outcomes(store, today, reference)?;
    Ok(if patients {
        outcomes::patients_csv(&o)
    } else {
        outcomes::months_csv(&o)
    })
}

/// The practice's one-page outcomes report as of `today`, as a PDF dated
/// `today` (no patient named), headed with the practices it covers
/// ([`outcomes_practices`]).
pub fn outcomes_report(
    store: &Store,
    today: NaiveDate,
    reference: &Reference,
) -> Result<Rendered, ApiError> {
    let o = outcomes(store, today, reference)?;
    let practice = outcomes_practices(store)?;
    crate::pdf::outcomes::render_outcomes_report(&o, &practice, today)
        .map_err(|e| ApiError::new(crate::ErrorCode::Internal, e.to_string()))
}

/// Whom the outcomes are for, as the report prints it: a SQLite file's
/// practice name from settings; on a team store every practice whose
/// records the seat sees, by name and code (the figures pool the seat's
/// practices, so naming one, or the store-wide settings, would misstate
/// them).
pub fn outcomes_practices(store: &Store) -> Result<String, ApiError> {
    if store.backend() == crate::store::db::Backend::Sqlite {
        return Ok(store.settings()?.practice_name);
    }
    Ok(store
        .seat_practices()?
        .iter()
        .map(|p| format!("{} ({})", p.name, p.code))
        .collect::<Vec<_>>()
        .join(", "))
}

/// A medication list pasted from the clinical system, read line by line with
/// the extract reader (`import::paste`); nothing is used until the clinician
/// confirms it. At most the notes' length of text and the list limit of lines.
pub fn read_medication_list(
    text: &str,
    reference: &Reference,
) -> Result<crate::import::paste::PastedList, ApiError> {
    let limits = crate::limits::limits();
    let chars = text.chars().count();
    if chars > limits.max_notes_chars {
        return Err(input_error(
            "text",
            &format!(
                "is {chars} characters; paste at most {} at a time",
                limits.max_notes_chars
            ),
        ));
    }
    let lines = text.lines().filter(|l| !l.trim().is_empty()).count();
    if lines > limits.max_items {
        return Err(input_error(
            "text",
            &format!(
                "has {lines} lines; paste at most {} medicines at a time",
                limits.max_items
            ),
        ));
    }
    Ok(crate::import::paste::read_pasted_list(text, reference))
}

/// The follow-up scales' items in order, PEG then SOWS, with their wording
/// and ranges (`assets/reference/scales.json`), for the follow-up form.
pub fn scale_items(reference: &Reference) -> Vec<crate::reference::scales::ScaleItemRow> {
    use crate::reference::scales::{items, Scale};
    [Scale::Peg, Scale::Sows]
        .into_iter()
        .flat_map(|s| items(&reference.scales, s).into_iter().cloned())
        .collect()
}

/// Fills an empty store with the synthetic demo patients, their reviews
/// computed by the core like any other.
pub fn load_demo_patients(
    store: &mut Store,
    actor: &str,
    reference: &Reference,
) -> Result<DemoReport, ApiError> {
    let compute = |profile: Profile, input: &ReviewInput| {
        compute_review(input, profile, None, reference).map_err(|e| e.message)
    };
    let settings = store.settings()?;
    let follow_up = |review: &Review, input: &FollowUpInput| {
        compute_follow_up_of(review, &settings, input, reference).map_err(|e| e.message)
    };
    Ok(store.load_demo_patients(actor, &compute, &follow_up)?)
}

/// A practice's contact details as the leaflet prints them (the address on
/// one line): on a team store the patient's practice's, on a SQLite file
/// the settings' (`Store::patient_practice_contact`).
pub fn practice_details(contact: &PracticeContact) -> PracticeDetails {
    PracticeDetails {
        name: contact.name.trim().to_string(),
        phone: contact.phone.trim().to_string(),
        address: Some(
            contact
                .address
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect::<Vec<_>>()
                .join(", "),
        )
        .filter(|a| !a.is_empty()),
    }
}

/// The practice a patient's leaflet prints, refused when it lacks what a
/// leaflet needs (the name and phone number: the leaflet must say who to
/// contact). On a team store the refusal names the patient's practice and
/// how an administrator sets it; nothing falls back to the settings or to
/// another practice.
pub fn leaflet_practice(store: &Store, patient: &Patient) -> Result<PracticeDetails, ApiError> {
    let contact = store.patient_practice_contact(patient)?;
    let practice = practice_details(&contact);
    let mut missing = Vec::new();
    if practice.name.is_empty() {
        missing.push("name");
    }
    if practice.phone.is_empty() {
        missing.push("phone number");
    }
    if missing.is_empty() {
        return Ok(practice);
    }
    let missing = missing.join(" and ");
    Err(match &contact.code {
        None => input_error(
            "settings.practice",
            &format!(
                "add the practice {missing} in Settings first: the leaflet must say who to contact"
            ),
        ),
        Some(code) => input_error(
            "practice",
            &format!(
                "the patient's practice, {} ({code}), has no {missing} for its leaflets: the \
                 leaflet must say who to contact. A store administrator sets it in Settings, or \
                 with `stepdown settings set --practice {code} --practice-phone NUMBER`",
                practice.name
            ),
        ),
    })
}

/// What the clinician chooses when printing the leaflet of a saved version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
#[ts(export)]
pub struct LeafletPrintRequest {
    /// The review.
    #[ts(type = "number")]
    pub review_id: i64,
    /// Its saved version the leaflet is printed from.
    #[ts(type = "number")]
    pub version: i64,
    /// 18 pt large print.
    #[serde(default)]
    pub large_print: bool,
    /// Agreed next review, `YYYY-MM-DD`.
    #[serde(default)]
    #[ts(optional)]
    pub next_review: Option<String>,
    /// Add the dose calendar page (a row a day for four weeks, a box to tick at each dose).
    #[serde(default)]
    pub calendar: bool,
}

/// A stored version, refusing one whose plan or assessment cannot be used.
fn stored_version(store: &Store, review_id: i64, version: i64) -> Result<Review, ApiError> {
    let review = store.review_version(review_id, version)?;
    if !review.unreadable.is_empty() {
        return Err(ApiError::new(
            crate::ErrorCode::InvalidInput,
            format!(
                "review {review_id} version {version} was saved by an older Stepdown and part of it cannot be read ({}); open it and save it again",
                review.unreadable.join("; ")
            ),
        ));
    }
    Ok(review)
}

fn stored_plan(review: &Review) -> Result<&Plan, ApiError> {
    review.plan.as_ref().ok_or_else(|| {
        input_error(
            "plan",
            &format!(
                "review {} version {} has no taper plan: make a plan and save the review first",
                review.review_id, review.version
            ),
        )
    })
}

/// The details a leaflet of a stored version is printed with: the patient's
/// name from the store, the patient's practice's details (a team store's
/// practice row, a SQLite file's settings), the day it is given.
pub fn leaflet_details(
    store: &Store,
    request: &LeafletPrintRequest,
    issue_date: NaiveDate,
) -> Result<LeafletDetails, ApiError> {
    let review = store.review_version(request.review_id, request.version)?;
    let patient = store.patient(review.patient_id)?;
    let practice = leaflet_practice(store, &patient)?;
    Ok(LeafletDetails {
        patient_name: Some(patient.name.trim().to_string()).filter(|n| !n.is_empty()),
        practice,
        next_review: optional_date(&request.next_review, "next_review")?,
        large_print: request.large_print,
        issue_date,
        calendar: request.calendar,
    })
}

/// The leaflet PDF of a stored version, from its stored plan (never from
/// what a screen shows), with the given details.
pub fn render_stored_leaflet(
    store: &Store,
    review_id: i64,
    version: i64,
    details: &LeafletDetails,
    reference: &Reference,
) -> Result<Rendered, ApiError> {
    let review = stored_version(store, review_id, version)?;
    let input = from_plan(stored_plan(&review)?, details, reference)?;
    Ok(render_leaflet(&input)?)
}

/// Prints the leaflet of a stored version: renders it from the stored plan,
/// hands the bytes to `write` (the caller's file), and records the print
/// against exactly that version with the PDF's hash and the details used.
/// Nothing is recorded if writing fails.
pub fn print_leaflet(
    store: &mut Store,
    request: &LeafletPrintRequest,
    issue_date: NaiveDate,
    actor: &str,
    write: &mut dyn FnMut(&[u8]) -> Result<(), ApiError>,
    reference: &Reference,
) -> Result<(LeafletPrint, Rendered), ApiError> {
    check_caps(request)?;
    let details = leaflet_details(store, request, issue_date)?;
    let pdf = render_stored_leaflet(
        store,
        request.review_id,
        request.version,
        &details,
        reference,
    )?;
    write(&pdf.bytes)?;
    let print = store.record_leaflet_print(
        request.review_id,
        request.version,
        actor,
        &pdf.bytes,
        &details,
    )?;
    Ok((print, pdf))
}

/// A printed leaflet rendered again from its stored version with the details
/// recorded with the print.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ReprintCheck {
    /// The print record.
    pub print: LeafletPrint,
    /// SHA-256 of the PDF rendered again now.
    pub sha256: String,
    /// Whether it is the same as the hash recorded when it was printed.
    pub matches: bool,
}

/// Renders a recorded print again from its stored version and compares the
/// hash with the one recorded, returning the PDF as well.
pub fn reprint(
    store: &Store,
    print_id: i64,
    reference: &Reference,
) -> Result<(ReprintCheck, Rendered), ApiError> {
    let (print, details) = store.leaflet_print(print_id)?;
    let details = details.ok_or_else(|| {
        input_error(
            "print_id",
            &format!("leaflet print {print_id} was recorded before render details were kept, so it cannot be rendered again exactly"),
        )
    })?;
    let pdf = render_stored_leaflet(store, print.review_id, print.version, &details, reference)?;
    let sha256 = crate::store::sha256_hex(&pdf.bytes);
    let matches = sha256 == print.pdf_sha256;
    Ok((
        ReprintCheck {
            print,
            sha256,
            matches,
        },
        pdf,
    ))
}

/// The clinician summary of a stored version: its stored assessment and
/// plan, the patient's name and NHS number from the store, the version's
/// reviewer, the patient's practice (on a team store its own, never the
/// store-wide settings), dated the day it was saved.
pub fn stored_summary(
    store: &Store,
    review_id: i64,
    version: i64,
    reference: &Reference,
) -> Result<crate::summary::Summary, ApiError> {
    let review = stored_version(store, review_id, version)?;
    let assessment = review.assessment.as_ref().ok_or_else(|| {
        input_error(
            "assessment",
            &format!("review {review_id} version {version} has no assessment"),
        )
    })?;
    let plan = stored_plan(&review)?;
    let patient = store.patient(review.patient_id)?;
    let practice = store.patient_practice_contact(&patient)?;
    let details = SummaryDetails {
        patient_name: Some(patient.name.clone()).filter(|n| !n.trim().is_empty()),
        nhs_number: patient.nhs_number.map(|n| n.formatted()),
        reviewer: Some(review.reviewer.clone()),
        practice: Some(practice.name.trim().to_string()).filter(|n| !n.is_empty()),
        review_date: review.saved_at.date_naive(),
        next_review: None,
    };
    let mut summary = compose(assessment, plan, &details, reference)?;
    summary.add_shared_decision(review.shared_decision.as_ref());
    // The follow-ups up to this version: those of earlier versions (one of
    // which may have made this version by re-planning) and of this one.
    let follow_ups: Vec<(crate::followup::FollowUpRecord, Option<i64>)> = store
        .follow_ups(review_id)?
        .into_iter()
        .filter(|f| f.review_version <= version)
        .map(|f| (f.record, f.replan_version))
        .collect();
    summary.add_follow_ups(&follow_ups);
    Ok(summary)
}

/// The clinician summary of a stored version as a PDF dated the day the
/// version was saved (the same content as the text for the record).
pub fn stored_summary_pdf(
    store: &Store,
    review_id: i64,
    version: i64,
    reference: &Reference,
) -> Result<Rendered, ApiError> {
    let review = store.review_version(review_id, version)?;
    let summary = stored_summary(store, review_id, version, reference)?;
    Ok(summary.to_pdf(review.saved_at.date_naive())?)
}

/// The summary text of a stored version for the GP record; the copy is
/// recorded in the audit log with the text's hash.
pub fn summary_for_record(
    store: &mut Store,
    review_id: i64,
    version: i64,
    actor: &str,
    reference: &Reference,
) -> Result<String, ApiError> {
    let text = stored_summary(store, review_id, version, reference)?.to_text();
    store.record_summary_copy(review_id, version, actor, &text)?;
    Ok(text)
}

/// The coded summary of a stored version for the GP record: the SNOMED CT
/// codes of the review, its reduction plan and the follow-ups up to the
/// version, one line each, then the summary text (`coded`). The copy is
/// recorded in the audit log with the text's hash, as the plain summary is.
pub fn coded_summary_for_record(
    store: &mut Store,
    review_id: i64,
    version: i64,
    actor: &str,
    reference: &Reference,
) -> Result<String, ApiError> {
    let summary = stored_summary(store, review_id, version, reference)?;
    // The review's history up to this version: each day's last version saved
    // as a review (not made by a follow-up's re-plan, which its follow-up
    // codes), then the follow-ups, in date order.
    let follow_ups = store.follow_ups(review_id)?;
    let mut versions: Vec<crate::store::Review> = Vec::new();
    for v in 1..=version {
        if follow_ups.iter().any(|f| f.replan_version == Some(v)) {
            continue;
        }
        let review = store.review_version(review_id, v)?;
        // A version saved again the same day (a correction) is the same
        // review in the record: the day's last version is coded, once.
        if versions
            .last()
            .is_some_and(|prev| prev.saved_at.date_naive() == review.saved_at.date_naive())
        {
            versions.pop();
        }
        versions.push(review);
    }
    let mut events: Vec<(chrono::NaiveDate, crate::coded::Event<'_>)> = versions
        .iter()
        .map(|r| {
            let date = r.saved_at.date_naive();
            (
                date,
                crate::coded::Event::Review {
                    date,
                    plan: r.plan.as_ref(),
                },
            )
        })
        .collect();
    for f in follow_ups.iter().filter(|f| f.review_version <= version) {
        if let Some(day) = f.record.date() {
            events.push((
                day,
                crate::coded::Event::FollowUp {
                    record: &f.record,
                    replan: f.replan_version,
                },
            ));
        }
    }
    // Stable: a review and a follow-up on the same day keep their order.
    events.sort_by_key(|(d, _)| *d);
    let events: Vec<crate::coded::Event<'_>> = events.into_iter().map(|(_, e)| e).collect();
    let entries = crate::coded::entries(reference, &events);
    let text = crate::coded::coded_text(&entries, &summary.to_text());
    store.record_summary_copy(review_id, version, actor, &text)?;
    Ok(text)
}

/// The store's patient for a case-finding worklist entry: matched by NHS
/// number, then by the extract's identifier as the practice identifier, and
/// created (audited) if there is none, so a consultation can start from it.
/// On a team store `practice` is the entry's (`WorklistPatient::practice_code`):
/// the match is made among that practice's patients only (the same NHS
/// number may be at two practices) and a new patient is made there; a seat
/// of one practice may leave it out. `None` on a SQLite file.
pub fn patient_for_extract(
    store: &mut Store,
    extract_patient_id: &str,
    nhs_number: Option<&str>,
    practice: Option<&str>,
    actor: &str,
) -> Result<Patient, ApiError> {
    check_caps(&(extract_patient_id, nhs_number, practice))?;
    let nhs_number = nhs_number.map(str::trim).filter(|n| !n.is_empty());
    let practice = store.practice_for(practice)?;
    store.in_practice(practice.as_deref(), |store| {
        if let Some(n) = nhs_number {
            if let Some(p) = store.patient_by_nhs_number(n, practice.as_deref())? {
                return Ok(p);
            }
        }
        if let Some(p) = store.patient_by_local_id(extract_patient_id, practice.as_deref())? {
            return Ok(p);
        }
        Ok(store.create_patient(
            &PatientInput {
                name: format!("Extract patient {extract_patient_id}"),
                nhs_number: nhs_number.map(str::to_string),
                date_of_birth: None,
                local_id: Some(extract_patient_id.to_string()),
                practice: practice.clone(),
            },
            actor,
        )?)
    })
}

/// What the desktop import was given: the files chosen in its open dialog
/// and the export format.
#[derive(Debug, Clone, Copy)]
pub struct ExtractChoice<'a> {
    /// The extract (CSV).
    pub extract: &'a std::path::Path,
    /// A list of patients to leave off (one a line, `patient_id[,reason]`:
    /// the palliative-care register, opioid dependence treatment).
    pub exclusions: Option<&'a std::path::Path>,
    /// The column map of a clinical-system export (`emis-web`,
    /// `systmone-sr`; `None`: Stepdown's own headers).
    pub preset: Option<&'a str>,
    /// On a team store, the practice whose extract it is (ODS code; see
    /// `ImportOptions::practice`); refused on a SQLite file.
    pub practice: Option<&'a str>,
}

/// Imports the practice extract `choice.extract` (read as the import goes,
/// in bounded memory), all or nothing, leaving off the patients listed in
/// `choice.exclusions`, with the headers of `choice.preset`, reporting
/// progress. The desktop app's import, with the files the user chose in its
/// open dialog.
///
/// It runs on a connection of its own (`open` makes it, as the app opened
/// its store: the file, or the team store signed in as the seat), not the
/// app's shared one: the import stores in short transactions (issue 16),
/// and between them the app's saves go ahead instead of waiting for the
/// whole import behind one lock.
pub fn import_extract_file(
    open: impl FnOnce() -> Result<Store, ApiError>,
    choice: ExtractChoice<'_>,
    list_size: Option<u32>,
    today: NaiveDate,
    actor: &str,
    progress: &mut dyn FnMut(crate::casefinding::ImportProgress),
) -> Result<crate::casefinding::ImportReport, ApiError> {
    let ExtractChoice {
        extract,
        exclusions,
        preset,
        practice,
    } = choice;
    use crate::casefinding::{import_from, Exclusion, ImportOptions};
    let could_not = |path: &std::path::Path, e: std::io::Error| {
        ApiError::new(
            crate::api_error::ErrorCode::InvalidInput,
            format!("{}: could not be read ({e})", shown_name(path)),
        )
    };
    let exclusions = match exclusions {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| could_not(path, e))?;
            Exclusion::parse_list(&text).map_err(ApiError::from)?
        }
        None => Vec::new(),
    };
    // A preset names the headers of a clinical-system export (issue 16).
    let column_map = match preset.map(str::trim).filter(|p| !p.is_empty()) {
        Some(name) => crate::import::presets::preset_map(name, &Default::default())
            .map_err(|e| ApiError::from(crate::casefinding::CaseFindingError::from(e)))?,
        None => Default::default(),
    };
    let file = std::fs::File::open(extract).map_err(|e| could_not(extract, e))?;
    let options = ImportOptions {
        practice: practice.map(str::to_string),
        file_name: shown_name(extract),
        today,
        list_size,
        column_map,
        window_days: None,
        actor: Some(actor.to_string()),
        exclusions,
    };
    let mut store = open()?;
    import_from(&mut store, file, &options, progress).map_err(ApiError::from)
}

/// A chosen file's name, as the import report and messages show it.
fn shown_name(path: &std::path::Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
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

    /// Issue 20: the desktop's requests arrive parsed, past the CLI's reader,
    /// so they had no caps. Each consult call the shell makes now applies the
    /// same caps (items, pauses, text, bytes) with the field named.
    #[test]
    fn requests_from_the_app_are_held_to_the_cli_caps() {
        let l = crate::limits::limits();
        let e = assess(
            &request(vec![morphine_mr(30.0); l.max_items + 1], None),
            reference(),
        )
        .unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidInput);
        assert_eq!(e.fields[0].path, "items");
        let long = RawItem {
            drug: Some("m".repeat(l.max_string_chars + 1)),
            ..morphine_mr(30.0)
        };
        let e = assess(&request(vec![long], None), reference()).unwrap_err();
        assert_eq!(e.fields[0].path, "items[0].drug");
        // Over a megabyte in all, though every list and text is within its cap.
        let big = AssessRequest {
            patient: Some(RawPatient {
                conditions: Some(vec!["c".repeat(l.max_string_chars); l.max_array_len]),
                history: Some(vec!["h".repeat(l.max_string_chars); l.max_array_len]),
                ..RawPatient::default()
            }),
            ..request(vec![morphine_mr(30.0)], None)
        };
        let e = assess(&big, reference()).unwrap_err();
        assert_eq!(e.fields[0].path, "input");
        assert!(e.fields[0].message.contains("bytes"), "{e:?}");
        let pauses = PlanRequestUi {
            input: RawPlanInput {
                items: vec![morphine_mr(30.0)],
                start_date: Some("2026-12-01".into()),
                taper: None,
                pauses: Some(vec![
                    crate::taper::Pause {
                        after_step: 1,
                        days: 7
                    };
                    l.max_pauses + 1
                ]),
            },
            edits: Vec::new(),
            profile: Profile::Uk,
        };
        let e = plan(&pauses, reference()).unwrap_err();
        assert_eq!(e.fields[0].path, "input.pauses");
        let e = describe_items(&vec![morphine_mr(30.0); l.max_items + 1], reference()).unwrap_err();
        assert_eq!(e.fields[0].path, "items");
        assert_eq!(
            describe_items(&[morphine_mr(30.0)], reference())
                .unwrap()
                .len(),
            1
        );
        let e = patient_for_extract(
            &mut store_with_patient().1,
            &"p".repeat(l.max_string_chars + 1),
            None,
            None,
            "t",
        )
        .unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidInput);
        // A 1 MB product search matches nothing, quickly.
        assert!(crate::catalogue::search(reference(), &"morphine ".repeat(100_000), 40).is_empty());
        // Clinical notes have their own, longer cap, in the app and the store alike.
        let (_dir, mut store, pid) = store_with_patient();
        let mut long_notes = inputs(pid, 2.0);
        long_notes.notes = "n".repeat(l.max_string_chars * 2);
        save_review(&mut store, &long_notes, reference()).unwrap();
        long_notes.notes = "n".repeat(l.max_notes_chars + 1);
        let e = save_review(&mut store, &long_notes, reference()).unwrap_err();
        assert_eq!(e.fields[0].path, "notes");
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

    #[test]
    fn request_rejects_unknown_fields() {
        let err = serde_json::from_str::<AssessRequest>(r#"{"items": [], "profil": "uk"}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("profil"), "{err}");
    }

    // ------------------------------------------------------------ the record

    /// A leaflet request with no options (standard print, no calendar).
    fn plain_request(review_id: i64, version: i64) -> LeafletPrintRequest {
        LeafletPrintRequest {
            review_id,
            version,
            large_print: false,
            next_review: None,
            calendar: false,
        }
    }

    fn store_with_patient() -> (tempfile::TempDir, Store, i64) {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path().join("s.db")).unwrap();
        let p = store
            .create_patient(
                &PatientInput {
                    name: "Alex Example".into(),
                    ..PatientInput::default()
                },
                "t",
            )
            .unwrap();
        let mut settings = store.settings().unwrap();
        settings.practice_name = "Riverside Surgery".into();
        settings.practice_phone = "01632 960 123".into();
        settings.practice_address = "1 River Lane\nExampletown".into();
        store.update_settings(&settings, "t").unwrap();
        (dir, store, p.id)
    }

    fn inputs(patient_id: i64, doses_per_day: f64) -> ReviewInput {
        ReviewInput {
            patient_id,
            review_id: None,
            base_version: None,
            reviewer: "P. Harmacist".into(),
            notes: "Agreed to reduce".into(),
            patient: RawPatient {
                age: Some(70.0),
                ..RawPatient::default()
            },
            items: vec![RawItem {
                doses_per_day: Some(doses_per_day),
                ..morphine_mr(60.0)
            }],
            taper: Some(crate::record::TaperRequest {
                start_date: Some("2026-12-01".into()),
                ..Default::default()
            }),
            shared_decision: None,
        }
    }

    #[test]
    fn the_shared_decision_is_kept_with_the_version_and_the_summary_prints_it_and_the_follow_ups() {
        let (_dir, mut store, pid) = store_with_patient();
        let shared = crate::record::SharedDecision {
            goals: "Walk to the shops without stopping".into(),
            agreement: crate::record::Agreement::Agreed,
            support_person: "Sam (daughter)".into(),
            review_schedule: "Phone every 2 weeks".into(),
        };
        let first = save_review(
            &mut store,
            &ReviewInput {
                shared_decision: Some(shared.clone()),
                ..inputs(pid, 2.0)
            },
            reference(),
        )
        .unwrap();
        let stored = store.review(first.review_id).unwrap();
        assert_eq!(stored.shared_decision.as_ref(), Some(&shared));
        let text = stored_summary(&store, first.review_id, 1, reference())
            .unwrap()
            .to_text();
        assert!(text.contains("Shared decision (NICE NG215)\n- Patient's goals: Walk to the shops without stopping\n- Agreement: agreed to the plan\n- Support person: Sam (daughter)\n- Review schedule: Phone every 2 weeks"), "{text}");
        assert!(!text.contains("Follow-ups"), "none yet: {text}");
        // A follow-up today at a different dose, re-planned: the new version keeps
        // goals, support and schedule, but agreement to the new plan is not recorded.
        let today = chrono::Local::now().date_naive().to_string();
        let f = save_follow_up(
            &mut store,
            &FollowUpInput {
                review_id: first.review_id,
                version: 1,
                date: today.clone(),
                reviewer: "P. Harmacist".into(),
                actual: ActualDose::DifferentDose {
                    items: vec![RawItem {
                        doses_per_day: Some(1.0),
                        ..morphine_mr(60.0)
                    }],
                },
                peg: Some(crate::followup::PegAnswers {
                    pain: 6,
                    enjoyment: 5,
                    activity: 5,
                }),
                sows: None,
                goals: "Sleep through".into(),
                decision: Decision::Replan,
                next_review: None,
                notes: String::new(),
                replan: None,
            },
            reference(),
        )
        .unwrap();
        assert_eq!(f.replan_version, Some(2));
        let v2 = store.review(first.review_id).unwrap();
        let carried = v2.shared_decision.unwrap();
        assert_eq!(carried.agreement, crate::record::Agreement::NotRecorded);
        assert_eq!(carried.support_person, "Sam (daughter)");
        let text = stored_summary(&store, first.review_id, 2, reference())
            .unwrap()
            .to_text();
        assert!(text.contains("Agreement: not recorded"), "{text}");
        assert!(text.contains("Follow-ups (1)\n- "), "{text}");
        assert!(
            text.contains(": a different dose, 60 mg OME/day (plan "),
            "{text}"
        );
        assert!(
            text.contains(
                "; PEG 5.3/10; decision: replan (new plan, version 2); goals: Sleep through"
            ),
            "{text}"
        );
        // Version 1's summary lists the follow-up made against it too.
        assert!(stored_summary(&store, first.review_id, 1, reference())
            .unwrap()
            .to_text()
            .contains("Follow-ups (1)"));
        let pdf = stored_summary_pdf(&store, first.review_id, 2, reference()).unwrap();
        assert!(pdf.pages >= 1);
        // A version saved without one says so, and stores nothing.
        let second = save_review(&mut store, &inputs(pid, 2.0), reference()).unwrap();
        assert!(store
            .review(second.review_id)
            .unwrap()
            .shared_decision
            .is_none());
        assert!(stored_summary(&store, second.review_id, 1, reference())
            .unwrap()
            .to_text()
            .contains("- Patient's goals: not recorded"));
    }

    #[test]
    fn a_review_is_saved_with_the_figures_of_its_own_regimen() {
        // MST 60 mg twice a day is 120 mg OME; the doses changed to four a
        // day just before Save: the stored total is the new regimen's, 240.
        let (_dir, mut store, pid) = store_with_patient();
        let first = save_review(&mut store, &inputs(pid, 2.0), reference()).unwrap();
        assert_eq!(first.total_ome_mg_per_day, Some(120.0));
        let changed = ReviewInput {
            review_id: Some(first.review_id),
            base_version: Some(1),
            ..inputs(pid, 4.0)
        };
        let second = save_review(&mut store, &changed, reference()).unwrap();
        assert_eq!(second.total_ome_mg_per_day, Some(240.0));
        let stored = store.review_version(first.review_id, 2).unwrap();
        assert_eq!(stored.items, changed.items);
        assert_eq!(
            stored.assessment.as_ref().unwrap().ome.total_ome_mg_per_day,
            240.0
        );
        assert_eq!(stored.plan.as_ref().unwrap().ome_start, 240.0);
        let flags: Vec<&str> = stored
            .assessment
            .as_ref()
            .unwrap()
            .flags
            .iter()
            .map(|f| f.id.as_str())
            .collect();
        assert_eq!(stored.flag_ids, flags);
        assert!(flags.contains(&"high-dose"), "{flags:?}");
        assert_eq!(stored.record_format, crate::record::RECORD_FORMAT);
    }

    #[test]
    fn an_entry_with_errors_is_refused_with_its_fields_and_nothing_is_written() {
        let (_dir, mut store, pid) = store_with_patient();
        let before = store.counts().unwrap();
        let mut bad = inputs(pid, 0.0);
        bad.taper.as_mut().unwrap().start_date = Some("1/12/2026".into());
        let e = save_review(&mut store, &bad, reference()).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidInput);
        let paths: Vec<&str> = e.fields.iter().map(|f| f.path.as_str()).collect();
        assert!(paths.contains(&"items[0].doses_per_day"), "{paths:?}");
        assert!(paths.contains(&"start_date"), "{paths:?}");
        assert_eq!(
            paths.iter().filter(|p| p.starts_with("items[0]")).count(),
            1,
            "an item problem is named once: {paths:?}"
        );
        let empty = ReviewInput {
            items: vec![],
            ..inputs(pid, 2.0)
        };
        let e = save_review(&mut store, &empty, reference()).unwrap_err();
        assert_eq!(e.fields[0].path, "items");
        assert_eq!(store.counts().unwrap(), before, "nothing written");
    }

    #[test]
    fn the_threshold_and_profile_come_from_settings() {
        let (_dir, mut store, pid) = store_with_patient();
        let mut settings = store.settings().unwrap();
        settings.high_dose_threshold_mg_per_day = Some(300.0);
        store.update_settings(&settings, "t").unwrap();
        let saved = save_review(&mut store, &inputs(pid, 2.0), reference()).unwrap();
        assert!(!saved.flag_ids.iter().any(|f| f == "high-dose"));
        let r = store.review(saved.review_id).unwrap();
        assert_eq!(
            r.assessment.unwrap().ome.high_dose_threshold_mg_per_day,
            300.0
        );
    }

    #[test]
    fn a_printed_leaflet_is_its_stored_version_rendered_again() {
        let (_dir, mut store, pid) = store_with_patient();
        let saved = save_review(&mut store, &inputs(pid, 2.0), reference()).unwrap();
        let request = LeafletPrintRequest {
            review_id: saved.review_id,
            version: saved.version,
            large_print: true,
            next_review: Some("2027-01-05".into()),
            calendar: false,
        };
        let day = NaiveDate::from_ymd_opt(2026, 11, 24).unwrap();
        let mut written = Vec::new();
        let (print, pdf) = print_leaflet(
            &mut store,
            &request,
            day,
            "P. Harmacist",
            &mut |b| {
                written = b.to_vec();
                Ok(())
            },
            reference(),
        )
        .unwrap();
        assert_eq!(written, pdf.bytes);
        assert_eq!(print.pdf_sha256, crate::store::sha256_hex(&written));
        let (check, again) = reprint(&store, print.id, reference()).unwrap();
        assert!(check.matches, "{check:?}");
        assert_eq!(again.bytes, written);
        let (_, details) = store.leaflet_print(print.id).unwrap();
        let details = details.unwrap();
        assert_eq!(details.patient_name.as_deref(), Some("Alex Example"));
        assert_eq!(
            details.practice.address.as_deref(),
            Some("1 River Lane, Exampletown")
        );
        assert!(details.large_print);
        // A later version does not change what the print is matched against.
        let changed = ReviewInput {
            review_id: Some(saved.review_id),
            base_version: Some(1),
            ..inputs(pid, 4.0)
        };
        save_review(&mut store, &changed, reference()).unwrap();
        assert!(reprint(&store, print.id, reference()).unwrap().0.matches);
        // Writing failed: nothing is recorded.
        let e = print_leaflet(
            &mut store,
            &request,
            day,
            "P. Harmacist",
            &mut |_| Err(ApiError::new(ErrorCode::Storage, "disk full")),
            reference(),
        )
        .unwrap_err();
        assert_eq!(e.message, "disk full");
        assert_eq!(store.leaflet_prints(saved.review_id).unwrap().len(), 1);
    }

    /// Issue 20: the desktop prints the stored patient's name; one the PDF
    /// cannot print as written (here Urdu in Arabic script, which DejaVu Sans
    /// has glyphs for but printpdf would print unjoined, left to right) is
    /// refused at `patient_name` with what to do, and nothing is written or
    /// recorded.
    #[test]
    fn a_stored_name_the_pdf_cannot_print_is_refused_by_field() {
        let (_dir, mut store, pid) = store_with_patient();
        store
            .update_patient(
                pid,
                &PatientInput {
                    name: "عمران خان".into(),
                    ..PatientInput::default()
                },
                "t",
            )
            .unwrap();
        let saved = save_review(&mut store, &inputs(pid, 2.0), reference()).unwrap();
        let request = plain_request(saved.review_id, saved.version);
        let mut written = false;
        let e = print_leaflet(
            &mut store,
            &request,
            NaiveDate::from_ymd_opt(2026, 11, 24).unwrap(),
            "t",
            &mut |_| {
                written = true;
                Ok(())
            },
            reference(),
        )
        .unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidInput);
        assert_eq!(e.fields[0].path, "patient_name");
        assert!(
            e.fields[0].message.contains("Arabic script")
                && e.fields[0].message.contains("NHS record"),
            "{e:?}"
        );
        assert!(!written);
        assert!(store.leaflet_prints(saved.review_id).unwrap().is_empty());
        // The summary for the record is text, which takes any script.
        let text = summary_for_record(&mut store, saved.review_id, 1, "t", reference()).unwrap();
        assert!(text.contains("عمران خان"));
    }

    #[test]
    fn a_version_without_a_plan_prints_nothing_and_says_why() {
        let (_dir, mut store, pid) = store_with_patient();
        let saved = save_review(
            &mut store,
            &ReviewInput {
                taper: None,
                ..inputs(pid, 2.0)
            },
            reference(),
        )
        .unwrap();
        let e = summary_for_record(&mut store, saved.review_id, 1, "t", reference()).unwrap_err();
        assert_eq!(e.fields[0].path, "plan");
        let request = plain_request(saved.review_id, 1);
        let day = NaiveDate::from_ymd_opt(2026, 11, 24).unwrap();
        let e = print_leaflet(&mut store, &request, day, "t", &mut |_| Ok(()), reference())
            .unwrap_err();
        assert_eq!(e.fields[0].path, "plan");
    }

    #[test]
    fn the_summary_comes_from_the_stored_version() {
        let (_dir, mut store, pid) = store_with_patient();
        let saved = save_review(&mut store, &inputs(pid, 2.0), reference()).unwrap();
        let text = summary_for_record(&mut store, saved.review_id, 1, "t", reference()).unwrap();
        assert!(text.contains("120"), "{text}");
        assert!(text.contains("Alex Example"), "{text}");
        assert!(text.contains("P. Harmacist"), "{text}");
    }

    // ------------------------------- a team store: the patient's own practice

    /// A team store of A81001 and B82002, each with its own leaflet details
    /// (B82002's phone left out when `b_phone` is empty), store-wide
    /// settings that are neither's, and a review of a B82002 patient.
    fn team_review(b_phone: &str) -> (crate::store::test_pg::PgSchema, Store, ReviewSummary) {
        use crate::store::PracticeContactInput;
        let (schema, mut store) =
            crate::store::test_pg::new_pg_store(crate::store::OpenOptions::default());
        let mut settings = store.settings().unwrap();
        settings.practice_name = "Store Wide Settings Surgery".into();
        settings.practice_phone = "01000 000 000".into();
        store.update_settings(&settings, "t").unwrap();
        let actor = store.default_actor();
        store
            .set_practice_contact(
                "A81001",
                &PracticeContactInput {
                    practice_name: "Riverside Surgery".into(),
                    practice_phone: "01632 960 123".into(),
                    practice_address: "1 River Lane".into(),
                },
                &actor,
            )
            .unwrap();
        store
            .set_practice_contact(
                "B82002",
                &PracticeContactInput {
                    practice_name: "Hillside Practice".into(),
                    practice_phone: b_phone.into(),
                    practice_address: "2 Hill Road\nUpton".into(),
                },
                &actor,
            )
            .unwrap();
        let p = store
            .create_patient(
                &PatientInput {
                    name: "Sam Hillside".into(),
                    practice: Some("B82002".into()),
                    ..PatientInput::default()
                },
                &actor,
            )
            .unwrap();
        let saved = save_review(
            &mut store,
            &ReviewInput {
                reviewer: actor,
                ..inputs(p.id, 2.0)
            },
            reference(),
        )
        .unwrap();
        (schema, store, saved)
    }

    /// The lines of the leaflet's text that name a practice or a number.
    fn practice_block(text: &str) -> Vec<&str> {
        text.lines()
            .filter(|l| {
                [
                    "Surgery",
                    "Practice",
                    "Hill Road",
                    "River Lane",
                    "01632",
                    "01000",
                ]
                .iter()
                .any(|w| l.contains(w))
            })
            .collect()
    }

    #[test]
    fn a_team_store_leaflet_and_summary_print_the_patients_own_practice() {
        crate::store::test_pg::on_pg(|| {
            let (_schema, mut store, saved) = team_review("01632 960 456");
            let request = plain_request(saved.review_id, saved.version);
            let day = NaiveDate::from_ymd_opt(2026, 11, 24).unwrap();
            let details = leaflet_details(&store, &request, day).unwrap();
            assert_eq!(
                details.practice,
                PracticeDetails {
                    name: "Hillside Practice".into(),
                    phone: "01632 960 456".into(),
                    address: Some("2 Hill Road, Upton".into()),
                }
            );
            let review = stored_version(&store, saved.review_id, saved.version).unwrap();
            let input = from_plan(stored_plan(&review).unwrap(), &details, reference()).unwrap();
            let text = crate::leaflet::leaflet_text(&input).unwrap();
            let block = practice_block(&text);
            assert!(!block.is_empty(), "{text}");
            for line in &block {
                assert!(!line.contains("Riverside"), "{line}");
                assert!(!line.contains("River Lane"), "{line}");
                assert!(!line.contains("01632 960 123"), "{line}");
                assert!(!line.contains("Store Wide"), "{line}");
                assert!(!line.contains("01000"), "{line}");
            }
            let joined = block.join("\n");
            assert!(joined.contains("Hillside Practice"), "{joined}");
            assert!(joined.contains("01632 960 456"), "{joined}");
            insta::assert_snapshot!("team_store_leaflet_practice_block", joined);

            // Printed and recorded with B82002's details; the reprint matches.
            let actor = store.default_actor();
            let (print, _) = print_leaflet(
                &mut store,
                &request,
                day,
                &actor,
                &mut |_| Ok(()),
                reference(),
            )
            .unwrap();
            let (_, recorded) = store.leaflet_print(print.id).unwrap();
            assert_eq!(recorded.unwrap().practice, details.practice);

            let summary = stored_summary(&store, saved.review_id, saved.version, reference())
                .unwrap()
                .to_text();
            assert!(summary.contains("Hillside Practice"), "{summary}");
            assert!(!summary.contains("Riverside"), "{summary}");
            assert!(!summary.contains("Store Wide"), "{summary}");
            // The outcomes pool the seat's practices (here an admin's: all),
            // and the report names them all, not the settings' practice.
            assert_eq!(
                outcomes_practices(&store).unwrap(),
                "Riverside Surgery (A81001), Hillside Practice (B82002)"
            );
        });
    }

    #[test]
    fn a_team_store_practice_without_a_phone_refuses_the_leaflet_naming_it() {
        crate::store::test_pg::on_pg(|| {
            let (_schema, mut store, saved) = team_review("");
            let request = plain_request(saved.review_id, saved.version);
            let day = NaiveDate::from_ymd_opt(2026, 11, 24).unwrap();
            let actor = store.default_actor();
            let e = print_leaflet(
                &mut store,
                &request,
                day,
                &actor,
                &mut |_| panic!("nothing is written"),
                reference(),
            )
            .unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidInput);
            assert_eq!(e.fields[0].path, "practice", "{e:?}");
            assert_eq!(
                e.message,
                "practice: the patient's practice, Hillside Practice (B82002), has no phone \
                 number for its leaflets: the leaflet must say who to contact. A store \
                 administrator sets it in Settings, or with `stepdown settings set --practice \
                 B82002 --practice-phone NUMBER`"
            );
            assert!(store.leaflet_prints(saved.review_id).unwrap().is_empty());
            // The summary needs no phone: it names the practice.
            let summary = stored_summary(&store, saved.review_id, saved.version, reference())
                .unwrap()
                .to_text();
            assert!(summary.contains("Hillside Practice"), "{summary}");
        });
    }

    #[test]
    fn a_file_without_a_practice_phone_refuses_the_leaflet_at_the_settings() {
        let (_dir, mut store, pid) = store_with_patient();
        let saved = save_review(&mut store, &inputs(pid, 2.0), reference()).unwrap();
        let mut settings = store.settings().unwrap();
        settings.practice_phone = String::new();
        store.update_settings(&settings, "t").unwrap();
        let request = plain_request(saved.review_id, saved.version);
        let day = NaiveDate::from_ymd_opt(2026, 11, 24).unwrap();
        let e = leaflet_details(&store, &request, day).unwrap_err();
        assert_eq!(e.fields[0].path, "settings.practice", "{e:?}");
        assert!(
            e.message
                .contains("add the practice phone number in Settings first"),
            "{e:?}"
        );
    }

    #[test]
    fn versions_saved_by_the_older_ui_stay_readable() {
        let (_dir, mut store, pid) = store_with_patient();
        let saved = save_review(&mut store, &inputs(pid, 2.0), reference()).unwrap();
        let current = store.review(saved.review_id).unwrap();
        // What the desktop UI sent before format 2: its own form state
        // beside the plan input, edits and plan.
        let legacy_plan = serde_json::json!({
            "taper": {"preset": "standard", "reductionPercent": "", "startDate": "2026-12-01"},
            "edits": [],
            "input": {"items": current.items, "start_date": "2026-12-01"},
            "plan": current.plan,
        });
        store
            .conn()
            .execute(
                "INSERT INTO review_versions
                   (review_id, version, saved_at, reviewer, profile, reference_version,
                    total_ome_mg_per_day, ome_complete, flag_ids, notes, patient_context,
                    regimen, result, plan)
                 VALUES (?1, 2, '2026-11-25T09:00:00Z', 'Dr Old', 'uk', 'old', 120.0, 1,
                         '[\"high-dose\"]', 'old', '{\"age\": 70}', ?2, ?3, ?4),
                        (?1, 3, '2026-11-26T09:00:00Z', 'Dr Old', 'uk', 'old', 90.0, NULL,
                         '[]', 'odd', '{\"age\": \"seventy\"}', '{\"tag\": 1}', 'null', 'null')",
                rusqlite::params![
                    saved.review_id,
                    serde_json::json!({"items": current.items}).to_string(),
                    serde_json::to_string(&current.assessment).unwrap(),
                    legacy_plan.to_string(),
                ],
            )
            .unwrap();
        let v2 = store.review_version(saved.review_id, 2).unwrap();
        assert_eq!(v2.record_format, 1);
        assert!(v2.unreadable.is_empty(), "{:?}", v2.unreadable);
        assert_eq!(v2.items, current.items);
        assert_eq!(v2.plan, current.plan);
        assert_eq!(
            v2.taper.as_ref().unwrap().start_date.as_deref(),
            Some("2026-12-01")
        );
        // Printable from its stored plan.
        let text = summary_for_record(&mut store, saved.review_id, 2, "t", reference()).unwrap();
        assert!(text.contains("120"), "{text}");
        // What cannot be read is named, not guessed, and the summary columns stay.
        let v3 = store.review_version(saved.review_id, 3).unwrap();
        assert_eq!(v3.total_ome_mg_per_day, Some(90.0));
        assert!(v3.items.is_empty() && v3.assessment.is_none() && v3.plan.is_none());
        assert_eq!(v3.unreadable.len(), 2, "{:?}", v3.unreadable);
        assert!(v3.unreadable[0].starts_with("patient_context:"));
        assert!(v3.unreadable[1].starts_with("regimen:"));
        let e = summary_for_record(&mut store, saved.review_id, 3, "t", reference()).unwrap_err();
        assert!(e.message.contains("older Stepdown"), "{}", e.message);
        let h = store.patient_history(pid).unwrap();
        assert_eq!((h[0].version, h[0].record_format), (3, 1));
    }

    #[test]
    fn a_worklist_patient_is_matched_by_nhs_number_then_local_id_else_created() {
        let (_dir, mut store, _) = store_with_patient();
        let made =
            patient_for_extract(&mut store, "P123", Some("943 476 5919"), None, "t").unwrap();
        assert_eq!(made.local_id.as_deref(), Some("P123"));
        let again =
            patient_for_extract(&mut store, "other", Some("9434765919"), None, "t").unwrap();
        assert_eq!(again.id, made.id);
        let by_local = patient_for_extract(&mut store, "P123", None, None, "t").unwrap();
        assert_eq!(by_local.id, made.id);
        assert_eq!(store.patient_count().unwrap(), 2);
    }
}
