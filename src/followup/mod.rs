//! Follow-up reviews (issue 18): a later look at a review's current version.
//! Where the patient should be on the plan that day (`position`), where they
//! actually are (on plan, a different dose, stopped), how they are (the PEG
//! pain score and the Short Opiate Withdrawal Scale, items and ranges from
//! `assets/reference/scales.json`), their goals, the decision and the next
//! review date. Pure: the types, the checks and the figures; the store keeps
//! them (`store::followups`) and `consult::save_follow_up` joins the two.

pub mod position;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::api_error::ApiError;
use crate::input::FieldError;
use crate::input::{list, part, read_json};
use crate::record::TaperRequest;
use crate::reference::scales::{items, Scale};
use crate::reference::Reference;
use crate::regimen::RawItem;
use crate::vocabulary::vocabulary;

pub use position::{position_on, Place, PlanPosition};

/// Where the patient actually is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "status", rename_all = "kebab-case", deny_unknown_fields)]
#[ts(export)]
pub enum ActualDose {
    /// Taking what the plan says for the day.
    OnPlan,
    /// Taking another dose: the regimen as they take it (OME computed by the core).
    DifferentDose {
        /// The regimen as taken, entered like a review's items.
        items: Vec<RawItem>,
    },
    /// No longer taking any opioid.
    Stopped,
}

impl ActualDose {
    /// `on-plan`, `different-dose` or `stopped`.
    pub fn as_str(&self) -> &'static str {
        match self {
            ActualDose::OnPlan => "on-plan",
            ActualDose::DifferentDose { .. } => "different-dose",
            ActualDose::Stopped => "stopped",
        }
    }
}

vocabulary!(
    /// What was decided at the follow-up.
    #[ts(export)]
    Decision, "decision" {
        /// Carry on with the plan as it is.
        Continue => "continue",
        /// Stay at the current dose for now.
        Pause => "pause",
        /// Take the next steps more slowly.
        SlowDown => "slow-down",
        /// Make a new plan from the current dose, starting on the follow-up date
        /// (saved as a new version of the review; earlier versions stay).
        Replan => "replan",
        /// End the plan (stopped, or reduction no longer pursued).
        EndPlan => "end-plan",
    }
);

/// PEG answers as entered (Krebs 2009), each 0-10.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
#[ts(export)]
pub struct PegAnswers {
    /// Pain on average in the past week.
    #[ts(type = "number")]
    pub pain: i64,
    /// Interference with enjoyment of life.
    #[ts(type = "number")]
    pub enjoyment: i64,
    /// Interference with general activity.
    #[ts(type = "number")]
    pub activity: i64,
}

/// What a follow-up is saved from: the clinician's entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
#[ts(export)]
pub struct FollowUpInput {
    /// The review followed up.
    #[ts(type = "number")]
    pub review_id: i64,
    /// Its version the follow-up was made against: must be the current one.
    #[ts(type = "number")]
    pub version: i64,
    /// Day of the follow-up, `YYYY-MM-DD`.
    pub date: String,
    /// Who carried it out (also the actor in the audit log).
    pub reviewer: String,
    /// Where the patient actually is.
    pub actual: ActualDose,
    /// PEG answers, if asked.
    #[serde(default)]
    #[ts(optional)]
    pub peg: Option<PegAnswers>,
    /// Short Opiate Withdrawal Scale answers in the scale's order, each 0-3, if asked.
    #[serde(default)]
    #[ts(optional, type = "Array<number> | null")]
    pub sows: Option<Vec<i64>>,
    /// The patient's own goals, in their words.
    #[serde(default)]
    pub goals: String,
    /// What was decided.
    pub decision: Decision,
    /// The next review, `YYYY-MM-DD`.
    #[serde(default)]
    #[ts(optional)]
    pub next_review: Option<String>,
    /// Free-text notes.
    #[serde(default)]
    pub notes: String,
    /// For `replan`: the taper options of the new plan (default: the current
    /// version's options without its edits); its start is the follow-up date.
    #[serde(default)]
    #[ts(optional)]
    pub replan: Option<TaperRequest>,
}

impl FollowUpInput {
    /// Reads a follow-up from JSON text, naming the part that is wrong.
    pub fn from_json(text: &str) -> Result<FollowUpInput, ApiError> {
        Ok(read_json(
            text,
            "follow_up",
            "must be a JSON object {\"review_id\", \"version\", \"date\", \"reviewer\", \"actual\", \"decision\", ...}",
            |obj| {
                let actual = obj.get("actual");
                list::<RawItem>(actual.and_then(|a| a.get("items")), "actual.items")
                    .or_else(|| part::<ActualDose>(actual, "actual"))
                    .or_else(|| part::<Option<PegAnswers>>(obj.get("peg"), "peg"))
                    .or_else(|| part::<Option<Vec<i64>>>(obj.get("sows"), "sows"))
                    .or_else(|| part::<Decision>(obj.get("decision"), "decision"))
                    .or_else(|| part::<Option<TaperRequest>>(obj.get("replan"), "replan"))
            },
        )?)
    }
}

/// The PEG answers with their score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct PegResult {
    /// The answers.
    pub answers: PegAnswers,
    /// The mean of the three answers (Krebs 2009), to one decimal place.
    pub score: f64,
}

/// The SOWS answers with their total.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct SowsResult {
    /// The answers, in the scale's order.
    #[ts(type = "Array<number>")]
    pub answers: Vec<i64>,
    /// Their sum.
    #[ts(type = "number")]
    pub total: i64,
    /// The highest possible total.
    #[ts(type = "number")]
    pub max_total: i64,
}

/// A follow-up entry whose values have been checked (dates read, scores in
/// range and scored); the dose figures are added by the core's computation.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckedFollowUp {
    /// Day of the follow-up.
    pub date: NaiveDate,
    /// Next review.
    pub next_review: Option<NaiveDate>,
    /// PEG with score.
    pub peg: Option<PegResult>,
    /// SOWS with total.
    pub sows: Option<SowsResult>,
}

fn read_date(value: &str, field: &str, errors: &mut Vec<FieldError>) -> Option<NaiveDate> {
    match NaiveDate::parse_from_str(value.trim(), "%Y-%m-%d") {
        Ok(d) => match crate::limits::check_year(d) {
            Ok(()) => Some(d),
            Err(why) => {
                errors.push(FieldError::new(field, why));
                None
            }
        },
        Err(_) => {
            errors.push(FieldError::new(
                field,
                format!(
                    "must be a date written YYYY-MM-DD (got \"{}\")",
                    value.trim()
                ),
            ));
            None
        }
    }
}

/// Checks a follow-up entry against the scales' ranges and its own rules,
/// naming every problem with its field. `has_plan`: whether the version
/// followed up has a plan (`on-plan` needs one).
pub fn check(
    input: &FollowUpInput,
    has_plan: bool,
    reference: &Reference,
) -> Result<CheckedFollowUp, Vec<FieldError>> {
    let mut errors = Vec::new();
    if input.reviewer.trim().is_empty() {
        errors.push(FieldError::new(
            "reviewer",
            "must not be empty (it is recorded in the audit log)",
        ));
    }
    let date = read_date(&input.date, "date", &mut errors);
    let next_review = match input.next_review.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(v) => read_date(v, "next_review", &mut errors),
    };
    if let (Some(d), Some(n)) = (date, next_review) {
        if n <= d {
            errors.push(FieldError::new(
                "next_review",
                format!("must be after the follow-up date ({d})"),
            ));
        }
    }
    let peg = input.peg.map(|answers| {
        let rows = items(&reference.scales, Scale::Peg);
        let values = [
            ("peg.pain", answers.pain),
            ("peg.enjoyment", answers.enjoyment),
            ("peg.activity", answers.activity),
        ];
        for (id, v) in values {
            match rows.iter().find(|r| r.id == id) {
                Some(r) if v < i64::from(r.min) || v > i64::from(r.max) => {
                    errors.push(FieldError::new(
                        id,
                        format!(
                            "must be a whole number from {} to {} (got {v})",
                            r.min, r.max
                        ),
                    ));
                }
                Some(_) => {}
                None => errors.push(FieldError::new(id, "is not in the scales table")),
            }
        }
        let sum = answers.pain + answers.enjoyment + answers.activity;
        // Mean of the three items, one decimal place (Krebs 2009 reports the mean).
        #[allow(clippy::cast_precision_loss)]
        let score = (sum as f64 / 3.0 * 10.0).round() / 10.0;
        PegResult { answers, score }
    });
    let sows = input.sows.as_ref().map(|answers| {
        let rows = items(&reference.scales, Scale::Sows);
        if answers.len() != rows.len() {
            errors.push(FieldError::new(
                "sows",
                format!(
                    "must have {} answers, one per symptom in the scale's order (got {})",
                    rows.len(),
                    answers.len()
                ),
            ));
        }
        for (i, (v, r)) in answers.iter().zip(&rows).enumerate() {
            if *v < i64::from(r.min) || *v > i64::from(r.max) {
                errors.push(FieldError::new(
                    format!("sows[{i}]"),
                    format!(
                        "{}: must be a whole number from {} to {} (got {v})",
                        r.text, r.min, r.max
                    ),
                ));
            }
        }
        SowsResult {
            answers: answers.clone(),
            total: answers.iter().sum(),
            max_total: rows.iter().map(|r| i64::from(r.max)).sum(),
        }
    });
    match &input.actual {
        ActualDose::OnPlan if !has_plan => errors.push(FieldError::new(
            "actual.status",
            "the review has no plan to be on: record the dose taken (different-dose) or stopped",
        )),
        ActualDose::DifferentDose { items } if items.is_empty() => errors.push(FieldError::new(
            "actual.items",
            "add the medicines as the patient takes them now",
        )),
        _ => {}
    }
    if input.decision == Decision::Replan {
        if !matches!(input.actual, ActualDose::DifferentDose { .. }) {
            errors.push(FieldError::new(
                "decision",
                "a re-plan starts from the dose taken now: record it under actual (status different-dose, items)",
            ));
        }
        if let Some(start) = input
            .replan
            .as_ref()
            .and_then(|r| r.start_date.as_deref())
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            if Some(start) != Some(input.date.trim()) {
                errors.push(FieldError::new(
                    "replan.start_date",
                    "a re-plan starts on the follow-up date: leave start_date out or give the same date",
                ));
            }
        }
    } else if input.replan.is_some() {
        errors.push(FieldError::new(
            "replan",
            "taper options for a new plan are only used with the decision replan",
        ));
    }
    match (errors.is_empty(), date) {
        (true, Some(date)) => Ok(CheckedFollowUp {
            date,
            next_review,
            peg,
            sows,
        }),
        _ => Err(errors),
    }
}

/// A follow-up as stored: the entry and what the core worked out from it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct FollowUpRecord {
    /// The entry as made.
    pub input: FollowUpInput,
    /// Where the plan said the patient should be that day (null when the version has no plan).
    pub expected: Option<PlanPosition>,
    /// mg OME a day actually taken: the plan's for the day when on plan, the
    /// core's total of the items for a different dose, 0 when stopped.
    pub current_ome_mg_per_day: f64,
    /// False when an item could not be converted, so the total leaves it out.
    pub ome_complete: bool,
    /// PEG with its score.
    pub peg: Option<PegResult>,
    /// SOWS with its total.
    pub sows: Option<SowsResult>,
}

impl FollowUpRecord {
    /// Day of the follow-up.
    pub fn date(&self) -> Option<NaiveDate> {
        NaiveDate::parse_from_str(self.input.date.trim(), "%Y-%m-%d").ok()
    }
}

/// A follow-up ready to store: the record the core worked out, and for a
/// re-plan the new version of the review, computed through the same path as
/// any review (`consult::compute_review`). Only the core makes one, so the
/// store is never handed a dose figure it did not compute.
#[derive(Debug, Clone, PartialEq)]
pub struct ComputedFollowUp {
    record: FollowUpRecord,
    replan: Option<crate::record::ComputedReview>,
}

impl ComputedFollowUp {
    /// Only the core's computation makes one (see `consult::compute_follow_up`).
    pub(crate) fn new(
        record: FollowUpRecord,
        replan: Option<crate::record::ComputedReview>,
    ) -> ComputedFollowUp {
        ComputedFollowUp { record, replan }
    }

    /// The record.
    pub fn record(&self) -> &FollowUpRecord {
        &self.record
    }

    /// The new version of the review, for a re-plan.
    pub fn replan(&self) -> Option<&crate::record::ComputedReview> {
        self.replan.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::reference;

    fn input(json: &str) -> FollowUpInput {
        FollowUpInput::from_json(json).unwrap()
    }

    const BASE: &str = r#"{"review_id": 1, "version": 1, "date": "2026-02-02", "reviewer": "A Pharmacist",
        "actual": {"status": "on-plan"}, "decision": "continue"#;

    #[test]
    fn scores_peg_as_the_mean_and_sows_as_the_sum() {
        let f = input(&format!(
            r#"{BASE}", "peg": {{"pain": 6, "enjoyment": 5, "activity": 5}},
               "sows": [1, 0, 0, 2, 0, 1, 1, 0, 0, 3], "next_review": "2026-03-02"}}"#
        ));
        let c = check(&f, true, reference()).unwrap();
        assert_eq!(c.peg.unwrap().score, 5.3);
        let sows = c.sows.unwrap();
        assert_eq!((sows.total, sows.max_total), (8, 30));
        assert_eq!(c.next_review.unwrap().to_string(), "2026-03-02");
    }

    #[test]
    fn names_each_bad_field() {
        let f = input(&format!(
            r#"{BASE}", "peg": {{"pain": 11, "enjoyment": -1, "activity": 5}},
               "sows": [1, 0, 4], "next_review": "2026-01-01", "replan": {{}}}}"#
        ));
        let errors = check(&f, true, reference()).unwrap_err();
        let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "next_review",
                "peg.pain",
                "peg.enjoyment",
                "sows",
                "sows[2]",
                "replan"
            ]
        );
    }

    #[test]
    fn a_replan_needs_the_dose_taken_now_and_on_plan_needs_a_plan() {
        let f = input(&format!("{}\"}}", BASE.replace("continue", "replan")));
        let errors = check(&f, false, reference()).unwrap_err();
        let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, ["actual.status", "decision"]);
    }

    #[test]
    fn shape_errors_name_the_part() {
        let e = FollowUpInput::from_json(&format!(
            r#"{BASE}", "actual": {{"status": "different-dose", "items": [{{"drug": "morphine", "strenght_mg": 5}}]}}}}"#
        ))
        .unwrap_err();
        // Duplicate "actual" keys are refused before the shape is read.
        assert!(!e.fields.is_empty() || !e.message.is_empty());
        let e = FollowUpInput::from_json(
            r#"{"review_id": 1, "version": 1, "date": "2026-02-02", "reviewer": "x",
                "actual": {"status": "different-dose", "items": [{"drug": "morphine", "strenght_mg": 5}]},
                "decision": "continue"}"#,
        )
        .unwrap_err();
        assert_eq!(e.fields[0].path, "actual.items[0]", "{e:?}");
        let e = FollowUpInput::from_json(
            r#"{"review_id": 1, "version": 1, "date": "2026-02-02", "reviewer": "x",
                "actual": {"status": "on-plan"}, "decision": "carry-on"}"#,
        )
        .unwrap_err();
        assert_eq!(e.fields[0].path, "decision", "{e:?}");
    }
}
