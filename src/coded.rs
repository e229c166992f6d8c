//! The coded summary for the GP record (issue 18, "fit the GP record"): the
//! SNOMED CT concepts for the medication review, the reduction plan and each
//! follow-up, one line each with its date, then the clinician summary as
//! free text, ready to paste into EMIS Web or SystmOne.
//!
//! The concepts are reference data (`assets/reference/snomed_concepts.json`),
//! each with the public source of its id and term; which concept codes what
//! is decided here, from the stored version's plan and its follow-ups.

use chrono::NaiveDate;
use serde::Serialize;

use crate::followup::FollowUpRecord;
use crate::reference::snomed::{of_use, ConceptUse};
use crate::reference::Reference;
use crate::taper::Plan;

/// One coded entry for the record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CodedEntry {
    /// The SNOMED CT concept id.
    pub concept_id: String,
    /// Its term, as its source gives it.
    pub term: String,
    /// The date to record it against.
    pub date: NaiveDate,
    /// What it records, in words ("this review", "follow-up").
    pub what: String,
}

/// Whether the plan takes any dose down (a plan that holds everything is not
/// a dose change, so it is not coded as one).
fn reduces(plan: &Plan) -> bool {
    plan.steps.iter().any(|s| s.change_ome_mg_per_day < 0.0)
}

fn entries_of(
    reference: &Reference,
    uses: &[ConceptUse],
    date: NaiveDate,
    what: &str,
    out: &mut Vec<CodedEntry>,
) {
    for u in uses {
        for r in of_use(&reference.snomed, *u) {
            out.push(CodedEntry {
                concept_id: r.concept_id.clone(),
                term: r.term.clone(),
                date,
                what: what.to_string(),
            });
        }
    }
}

/// Something that happened on a review, to be coded.
#[derive(Debug, Clone, Copy)]
pub enum Event<'a> {
    /// A review saved (a first version, or a new version saved as a review),
    /// with its plan if it has one.
    Review {
        /// The day it was saved.
        date: NaiveDate,
        /// Its plan.
        plan: Option<&'a Plan>,
    },
    /// A follow-up, and the version its re-plan made, if any.
    FollowUp {
        /// The follow-up.
        record: &'a FollowUpRecord,
        /// The new version a re-plan made.
        replan: Option<i64>,
    },
}

/// The coded entries of a review's events, in the order given: a review
/// codes both review concepts and, when its plan reduces a dose, the
/// reduction plan; a follow-up codes a review of opioid medication on its
/// date, and a re-plan the new reduction plan.
pub fn entries(reference: &Reference, events: &[Event<'_>]) -> Vec<CodedEntry> {
    let mut out = Vec::new();
    for e in events {
        match e {
            Event::Review { date, plan } => {
                entries_of(
                    reference,
                    &[ConceptUse::Review, ConceptUse::ReviewAndFollowUp],
                    *date,
                    "review",
                    &mut out,
                );
                if let Some(p) = plan.filter(|p| reduces(p)) {
                    entries_of(
                        reference,
                        &[ConceptUse::ReductionPlan],
                        *date,
                        &format!("reduction plan from {}", p.start_date.format("%-d %b %Y")),
                        &mut out,
                    );
                }
            }
            Event::FollowUp { record, replan } => {
                // A follow-up is stored only with a valid date; an unreadable
                // one is left uncoded rather than coded against a guessed day.
                let Some(day) = record.date() else { continue };
                entries_of(
                    reference,
                    &[ConceptUse::ReviewAndFollowUp],
                    day,
                    "follow-up",
                    &mut out,
                );
                if let Some(v) = replan {
                    entries_of(
                        reference,
                        &[ConceptUse::ReductionPlan],
                        day,
                        &format!("new reduction plan (version {v})"),
                        &mut out,
                    );
                }
            }
        }
    }
    out
}

/// The coded summary: a heading, one line per entry ("7 Dec 2026  182836005
/// |Review of medication| this review"), a blank line, then `summary_text`.
pub fn coded_text(entries: &[CodedEntry], summary_text: &str) -> String {
    let mut out =
        String::from("SNOMED CT codes (enter each in the clinical system against its date):\n");
    for e in entries {
        out.push_str(&format!(
            "{}  {} |{}|  {}\n",
            e.date.format("%-d %b %Y"),
            e.concept_id,
            e.term,
            e.what
        ));
    }
    out.push('\n');
    out.push_str(summary_text);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::reference;
    use crate::reference::verhoeff;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("date")
    }

    #[test]
    fn a_review_without_a_plan_codes_the_review_only() {
        let e = entries(
            reference(),
            &[Event::Review {
                date: d(2026, 12, 7),
                plan: None,
            }],
        );
        let ids: Vec<&str> = e.iter().map(|x| x.concept_id.as_str()).collect();
        assert_eq!(ids, ["182836005", "287031000000100"]);
        assert!(e.iter().all(|x| verhoeff::is_valid(&x.concept_id)));
        let text = coded_text(&e, "Summary.\n");
        assert_eq!(
            text,
            "SNOMED CT codes (enter each in the clinical system against its date):\n\
             7 Dec 2026  182836005 |Review of medication|  review\n\
             7 Dec 2026  287031000000100 |Review of opioid medication|  review\n\
             \nSummary.\n"
        );
    }
}
