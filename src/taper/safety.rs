//! The safety rule of every taper plan, in one place (issue 14).
//!
//! 1. **Step 1 is the patient's current regimen, exactly.** A plan never
//!    rounds the starting dose down, never starts at zero and never stops on
//!    day one. When an item's current dose cannot be made from whole units of
//!    its own product line (half a tablet, a liquid volume the measure cannot
//!    give, more patches at once than the licence allows, a product whose
//!    dosing interval does not fit the doses entered), the item is *held*:
//!    kept exactly as it is in every step, with a plain question for the
//!    prescriber. Nothing is cut silently.
//! 2. **No step cuts more than asked** while a makeable dose at or above
//!    (current total − requested reduction) exists ([`choose`]).
//! 3. **Where the smallest real cut is bigger than asked**, that step is
//!    lengthened in proportion, up to the longest step the reference allows
//!    ([`lengthened_days`]); the plan's label states the actual average rate.
//!    When even the longest step cannot bring a *stop* of an item down to the
//!    asked rate (the lowest strength of a line reached: MXL 30 mg once a
//!    day, a Transtec 35 patch), the item is held at that dose with a question
//!    for the prescriber ([`must_hold_at_lowest`]) rather than stopped.
//! 4. **A product line never changes** without an accepted switch: an item
//!    keeps the line it was matched to in every step (`assemble` checks it).
//!
//! [`check`] runs on every plan, generated or edited, after its derived fields
//! are worked out; a generated plan that breaks the rule is a bug and is
//! never shown.

use crate::input::FieldError;
use crate::vocabulary::num;

use super::output::{Plan, StepKind};
use super::schedule::EPS;

/// Why an item is held at its current dose, and what to ask the prescriber.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HoldWhy {
    /// What is wrong, in a sentence for the prescriber.
    pub reason: String,
    /// The question to put to the prescriber.
    pub query: String,
}

impl HoldWhy {
    /// A hold with a reason and a question.
    pub fn new(reason: impl Into<String>, query: impl Into<String>) -> HoldWhy {
        HoldWhy {
            reason: reason.into(),
            query: query.into(),
        }
    }
}

/// The question for an item whose current dose is not makeable from its line.
pub(crate) fn query_not_makeable(product: &str) -> String {
    format!(
        "Ask the prescriber how this dose is given now and how it should be reduced: it cannot be made from whole units of {product}, so Stepdown keeps it exactly as it is rather than rounding it down."
    )
}

/// Picks the rung of the next step.
///
/// `totals[q]` is the total at rung `q` (falling strictly), `cur` the current
/// rung, `requested` the reduction asked for and `target` the total to reach.
/// The step takes the lowest rung whose cut is at most `requested`; if none
/// (the smallest real cut is bigger than asked), the next rung down. A rung
/// at or below the target is taken as soon as it is allowed (the highest one).
pub(crate) fn choose(totals: &[f64], cur: usize, requested: f64, target: f64) -> usize {
    let c = totals[cur];
    let first = cur + 1;
    let floor = c - requested - EPS;
    let mut chosen = first;
    for (q, t) in totals.iter().enumerate().skip(first) {
        if *t < floor {
            break;
        }
        chosen = q;
        if *t <= target + EPS {
            break;
        }
    }
    chosen
}

/// Days of a step whose cut `drop` is bigger than `requested`: the interval
/// lengthened in proportion, so the average rate stays as asked, at most `cap`.
pub(crate) fn lengthened_days(interval: f64, drop: f64, requested: f64, cap: f64) -> f64 {
    if requested <= 0.0 || drop <= requested + EPS {
        return interval;
    }
    (interval * drop / requested).min(cap.max(interval))
}

/// True if stopping an item with a cut of `drop` would be faster than asked
/// even when its step is lengthened to the longest allowed (`cap` days): the
/// lowest strength of the line is reached, so the item is held there and the
/// prescriber asked (a switch to a finer line, or a longer last step).
pub(crate) fn must_hold_at_lowest(interval: f64, drop: f64, requested: f64, cap: f64) -> bool {
    requested > 0.0 && interval * drop / requested > cap.max(interval) + EPS
}

/// The question for an item held at the lowest dose its line can make.
pub(crate) fn query_lowest(
    product: &str,
    dose: &str,
    drop: f64,
    requested: f64,
    unit: &str,
) -> String {
    format!(
        "Ask the prescriber how to go on: {dose} is the lowest dose {product} can give, and stopping it would cut {} {unit} at once, more than the {} {unit} asked for even over the longest step. Options: a switch to a product of the same drug with smaller strengths (the prescriber's decision), or a longer final step agreed with the patient.",
        num(drop),
        num(requested)
    )
}

/// Checks the safety rule on a plan whose derived fields are worked out.
/// `generated`: no clinician edit has been applied, so step 1 must be the
/// starting regimen exactly.
pub(crate) fn check(plan: &Plan, generated: bool) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let Some(first) = plan.steps.first() else {
        return errors;
    };
    if generated {
        if (first.total_ome_mg_per_day - plan.ome_start).abs() > 0.011 {
            errors.push(FieldError::new(
                "steps[0]",
                format!(
                    "step 1 must be the current regimen ({} a day), not {}",
                    num(plan.ome_start),
                    num(first.total_ome_mg_per_day)
                ),
            ));
        }
        if first.kind == StepKind::Stop {
            errors.push(FieldError::new("steps[0]", "a plan never stops on day one"));
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_more_than_asked_while_a_smaller_cut_exists() {
        // MST 30 mg twice a day at 10% of 60: 50 -> 45, not 40.
        let totals = [60.0, 55.0, 50.0, 45.0, 40.0, 35.0];
        assert_eq!(choose(&totals, 2, 6.0, 0.0), 3);
        // 20 -> 15, not 10.
        let totals = [20.0, 15.0, 10.0, 5.0, 0.0];
        assert_eq!(choose(&totals, 0, 6.0, 0.0), 1);
        // Only a bigger cut exists: the next rung.
        let totals = [30.0, 0.0];
        assert_eq!(choose(&totals, 0, 3.0, 0.0), 1);
        // A target within reach is taken at its highest rung.
        let totals = [30.0, 25.0, 20.0, 15.0];
        assert_eq!(choose(&totals, 0, 12.0, 25.0), 1);
    }

    #[test]
    fn big_cuts_lengthen_the_step_up_to_the_cap() {
        assert_eq!(lengthened_days(28.0, 6.0, 6.0, 84.0), 28.0);
        assert_eq!(lengthened_days(28.0, 12.0, 6.0, 84.0), 56.0);
        assert_eq!(lengthened_days(28.0, 60.0, 6.0, 84.0), 84.0);
        assert!(must_hold_at_lowest(28.0, 30.0, 3.0, 84.0));
        assert!(!must_hold_at_lowest(28.0, 5.0, 3.0, 84.0));
    }
}
