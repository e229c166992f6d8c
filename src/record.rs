//! The clinical record of one review: what the clinician entered (the
//! inputs) and what the core computed from exactly those inputs.
//!
//! Types only, no IO. A [`ComputedReview`] can only be made inside the crate
//! (`consult::compute_review`), so the store can never be handed figures
//! beside a regimen they were not computed from: before this, the desktop UI
//! sent its last good result with the regimen, and a dose changed just
//! before Save was stored beside the old total.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::api_error::ApiError;

use crate::assess::AssessReport;
use crate::input::{list, part, read_json};
use crate::patient::RawPatient;
use crate::profile::Profile;
use crate::regimen::RawItem;
use crate::taper::{Edit, Pause, Plan, RawPlanInput, RawTaper};

/// Format of versions saved from inputs, with the result and plan computed
/// by the core. Format 1 is a version saved before that (the desktop UI
/// sent the result and plan); it stays readable as it was stored.
pub const RECORD_FORMAT: u32 = 2;

/// Whether the patient agreed to the plan (NICE NG215, shared decision making).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "kebab-case")]
#[ts(export)]
pub enum Agreement {
    /// Not recorded (a re-plan made at a follow-up starts here).
    #[default]
    NotRecorded,
    /// The patient agreed to the plan.
    Agreed,
    /// The patient wants time to think before agreeing.
    WantsTime,
    /// The patient did not agree to reduce now.
    Declined,
}

impl Agreement {
    /// The words the summary prints.
    pub fn words(self) -> &'static str {
        match self {
            Agreement::NotRecorded => "not recorded",
            Agreement::Agreed => "agreed to the plan",
            Agreement::WantsTime => "wants time to think before agreeing",
            Agreement::Declined => "did not agree to reduce now",
        }
    }
}

/// What was agreed with the patient (NICE NG215 1.3, 1.4: shared decision
/// making, agreeing a plan, support and a review schedule). Recorded with
/// the review version and printed in the clinician summary.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
#[ts(export)]
pub struct SharedDecision {
    /// What matters to the patient, in their words.
    #[serde(default)]
    pub goals: String,
    /// Their agreement to the plan.
    #[serde(default)]
    pub agreement: Agreement,
    /// Someone who will support them (name and relationship), if any.
    #[serde(default)]
    pub support_person: String,
    /// How often the plan will be reviewed, and how (e.g. "phone every 2 weeks, face to face before each step").
    #[serde(default)]
    pub review_schedule: String,
}

impl SharedDecision {
    /// Nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.goals.trim().is_empty()
            && self.agreement == Agreement::NotRecorded
            && self.support_person.trim().is_empty()
            && self.review_schedule.trim().is_empty()
    }
}

/// What a review is saved from: the clinician's inputs only.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
#[ts(export)]
pub struct ReviewInput {
    /// The patient reviewed.
    #[ts(type = "number")]
    pub patient_id: i64,
    /// Absent for a new review; the review's id to save a new version of it.
    #[serde(default)]
    #[ts(optional, type = "number | null")]
    pub review_id: Option<i64>,
    /// With `review_id`: the version the entry started from (the review's
    /// latest when it was opened). Required then: if the review has a newer
    /// version, the save is refused as a conflict and the entry kept as a
    /// draft, so two seats never overwrite each other. Absent for a new
    /// review, which has no version to start from.
    #[serde(default)]
    #[ts(optional, type = "number | null")]
    pub base_version: Option<i64>,
    /// Who carried out the review (also the actor in the audit log).
    pub reviewer: String,
    /// Free-text notes.
    #[serde(default)]
    pub notes: String,
    /// What is known about the patient (age, eGFR, conditions, co-medications).
    #[serde(default)]
    pub patient: RawPatient,
    /// The regimen as entered.
    pub items: Vec<RawItem>,
    /// The taper asked for, with the clinician's edits; absent when no plan was made.
    #[serde(default)]
    #[ts(optional)]
    pub taper: Option<TaperRequest>,
    /// What was agreed with the patient (NICE NG215), if recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub shared_decision: Option<SharedDecision>,
}

impl ReviewInput {
    /// Reads a review input from JSON text (the CLI's `review save`), naming
    /// the part that is wrong: `items[1]: unknown field "strenght_mg"`,
    /// `patient.age: invalid type`. The values themselves are checked when
    /// the review is computed.
    pub fn from_json(text: &str) -> Result<ReviewInput, ApiError> {
        Ok(read_json(
            text,
            "review",
            "must be a JSON object {\"patient_id\", \"reviewer\", \"items\", ...}",
            |obj| {
                list::<RawItem>(obj.get("items"), "items")
                    .or_else(|| part::<RawPatient>(obj.get("patient"), "patient"))
                    .or_else(|| part::<Option<TaperRequest>>(obj.get("taper"), "taper"))
                    .or_else(|| {
                        part::<Option<SharedDecision>>(
                            obj.get("shared_decision"),
                            "shared_decision",
                        )
                    })
            },
        )?)
    }
}

/// The taper as asked for: options, start, pauses and the clinician's edits
/// in order. The regimen is the review's own `items`, so a plan can never be
/// made from another regimen.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
#[ts(export, optional_fields)]
pub struct TaperRequest {
    /// First day of step 1, `YYYY-MM-DD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_date: Option<String>,
    /// Taper options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub taper: Option<RawTaper>,
    /// Pauses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pauses: Option<Vec<Pause>>,
    /// Clinician edits, applied in order to the suggested plan.
    #[serde(default)]
    #[ts(optional = false)]
    pub edits: Vec<Edit>,
}

impl TaperRequest {
    /// The `stepdown plan` input for these options and a regimen.
    pub fn plan_input(&self, items: &[RawItem]) -> RawPlanInput {
        RawPlanInput {
            items: items.to_vec(),
            start_date: self.start_date.clone(),
            taper: self.taper.clone(),
            pauses: self.pauses.clone(),
        }
    }

    /// The taper part of a `stepdown plan` input (its items are the review's).
    pub fn from_plan_input(input: &RawPlanInput, edits: Vec<Edit>) -> TaperRequest {
        TaperRequest {
            start_date: input.start_date.clone(),
            taper: input.taper.clone(),
            pauses: input.pauses.clone(),
            edits,
        }
    }
}

/// A review ready to store: its inputs and what the core computed from them.
#[derive(Debug, Clone, PartialEq)]
pub struct ComputedReview {
    input: ReviewInput,
    profile: Profile,
    reference_version: String,
    high_dose_threshold_mg_per_day: Option<f64>,
    assessment: AssessReport,
    plan: Option<Plan>,
}

impl ComputedReview {
    /// Only the core's computation makes one (see `consult::compute_review`).
    pub(crate) fn new(
        input: ReviewInput,
        profile: Profile,
        reference_version: String,
        high_dose_threshold_mg_per_day: Option<f64>,
        assessment: AssessReport,
        plan: Option<Plan>,
    ) -> ComputedReview {
        ComputedReview {
            input,
            profile,
            reference_version,
            high_dose_threshold_mg_per_day,
            assessment,
            plan,
        }
    }

    /// The inputs.
    pub fn input(&self) -> &ReviewInput {
        &self.input
    }

    /// For the store's tests of what it refuses whatever the figures.
    #[cfg(test)]
    pub(crate) fn input_mut(&mut self) -> &mut ReviewInput {
        &mut self.input
    }

    /// The same computed review saved as a new version of `review_id`,
    /// started from `base_version` (or as a new review: both `None`), with
    /// other notes: nothing clinical changes.
    pub fn with_target(
        mut self,
        review_id: Option<i64>,
        base_version: Option<i64>,
        notes: String,
    ) -> ComputedReview {
        self.input.review_id = review_id;
        self.input.base_version = base_version;
        self.input.notes = notes;
        self
    }

    /// Conversion profile the figures used.
    pub fn profile(&self) -> Profile {
        self.profile
    }

    /// Reference manifest version the figures came from.
    pub fn reference_version(&self) -> &str {
        &self.reference_version
    }

    /// The high-dose threshold that replaced the profile's, if any.
    pub fn high_dose_threshold_mg_per_day(&self) -> Option<f64> {
        self.high_dose_threshold_mg_per_day
    }

    /// OME and flags, computed from the inputs.
    pub fn assessment(&self) -> &AssessReport {
        &self.assessment
    }

    /// The plan with the clinician's edits applied, when a taper was asked for.
    pub fn plan(&self) -> Option<&Plan> {
        self.plan.as_ref()
    }
}

/// The plan document of a stored version: the plan input, the edits and
/// the plan. Versions saved by the desktop UI before format 2 carry the same
/// keys plus the UI's own form state, which is ignored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct StoredPlan {
    pub input: RawPlanInput,
    #[serde(default)]
    pub edits: Vec<Edit>,
    #[serde(default)]
    pub plan: Option<Plan>,
}
