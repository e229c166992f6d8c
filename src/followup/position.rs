//! Where the patient should be on a plan on a given day: before it starts,
//! on step N (its dates, total and what to take, worded as the plan's own
//! table words it), or after its last day. Pure: the day is a parameter.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::taper::output::{Plan, Step, StepKind};
use crate::taper::text::{item_names, item_rows};

/// Where the day falls on the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "kebab-case")]
#[ts(export)]
pub enum Place {
    /// Before step 1: the patient should still take the regimen as entered (step 1's doses).
    BeforeStart,
    /// On one of the steps.
    OnStep,
    /// After the last day of the last step.
    AfterEnd,
}

/// One medicine of the step, as the plan's table words it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ItemDoseWords {
    /// Position of the item in the plan's input items.
    pub index: u32,
    /// The product, with "(held, unchanged)" for a held item.
    pub product: String,
    /// What to take at each time ("morning: 1 × 30 mg"), or "stop".
    pub doses: Vec<String>,
    /// Amount a day ("55 mg", "0" for a stopped item).
    pub daily_amount: String,
}

/// The step a day falls in (or the nearest one: step 1 before the start, the
/// last step after the end).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct StepAt {
    /// Step number, from 1.
    pub step: u32,
    /// How many steps the plan has.
    pub of_steps: u32,
    /// Reduce, pause, stop…
    pub kind: StepKind,
    /// First day.
    #[ts(as = "String")]
    pub start_date: NaiveDate,
    /// Last day, inclusive.
    #[ts(as = "String")]
    pub end_date: NaiveDate,
    /// The step's total mg OME a day.
    pub total_ome_mg_per_day: f64,
    /// The step's total as a percentage of the starting total.
    pub percent_of_start: f64,
    /// What to take, per medicine.
    pub items: Vec<ItemDoseWords>,
}

/// Where the patient should be on a plan on `date`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct PlanPosition {
    /// The day asked about.
    #[ts(as = "String")]
    pub date: NaiveDate,
    /// Before, on or after the plan.
    pub place: Place,
    /// First day of step 1.
    #[ts(as = "String")]
    pub plan_start_date: NaiveDate,
    /// Last day of the last step.
    #[ts(as = "String")]
    pub plan_end_date: NaiveDate,
    /// The step whose dose applies that day: the step the day falls in; step 1
    /// before the start (the current regimen); the last step after the end.
    pub step: Option<StepAt>,
    /// mg OME a day the plan means for that day (the starting total before the start).
    pub total_ome_mg_per_day: f64,
    /// False when an item cannot be converted, so the total leaves it out.
    pub ome_complete: bool,
    /// The position in one sentence.
    pub words: String,
}

fn step_at(plan: &Plan, step: &Step) -> StepAt {
    let names = item_names(plan);
    StepAt {
        step: step.step,
        of_steps: u32::try_from(plan.steps.len()).unwrap_or(u32::MAX),
        kind: step.kind,
        start_date: step.start_date,
        end_date: step.end_date,
        total_ome_mg_per_day: step.total_ome_mg_per_day,
        percent_of_start: step.percent_of_start,
        items: step
            .items
            .iter()
            .map(|item| {
                let (product, doses) = item_rows(plan, &names, item, step.start_date);
                ItemDoseWords {
                    index: item.index,
                    product,
                    doses,
                    daily_amount: if item.change == crate::taper::ItemChange::Stopped {
                        "0".into()
                    } else {
                        item.daily_amount.clone()
                    },
                }
            })
            .collect(),
    }
}

fn uk(d: NaiveDate) -> String {
    d.format("%d/%m/%Y").to_string()
}

/// Where the patient should be on `plan` on `date`.
pub fn position_on(plan: &Plan, date: NaiveDate) -> PlanPosition {
    let n = plan.steps.len();
    let found = plan
        .steps
        .iter()
        .find(|s| s.start_date <= date && date <= s.end_date);
    let (place, step) = match found {
        Some(s) => (Place::OnStep, Some(s)),
        None if date < plan.start_date => (Place::BeforeStart, plan.steps.first()),
        None => (Place::AfterEnd, plan.steps.last()),
    };
    let total = match (place, step) {
        (Place::OnStep, Some(s)) => s.total_ome_mg_per_day,
        (Place::AfterEnd, _) => plan.ome_end,
        _ => plan.ome_start,
    };
    let num = crate::vocabulary::num;
    let words = match (place, step) {
        (Place::BeforeStart, _) => format!(
            "The plan starts on {}; until then the dose is the regimen as entered ({} mg OME a day).",
            uk(plan.start_date),
            num(total)
        ),
        (Place::OnStep, Some(s)) => format!(
            "Step {} of {n} ({} to {}): {} mg OME a day, {}% of the starting dose.",
            s.step,
            uk(s.start_date),
            uk(s.end_date),
            num(s.total_ome_mg_per_day),
            num(s.percent_of_start)
        ),
        (_, Some(s)) if s.kind == StepKind::Stop => format!(
            "The plan ended on {}: the medicines were due to stop that day.",
            uk(plan.end_date)
        ),
        _ => format!(
            "The plan ended on {} at {} mg OME a day.",
            uk(plan.end_date),
            num(total)
        ),
    };
    PlanPosition {
        date,
        place,
        plan_start_date: plan.start_date,
        plan_end_date: plan.end_date,
        step: step.map(|s| step_at(plan, s)),
        total_ome_mg_per_day: total,
        ome_complete: plan.ome_end_complete,
        words,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::reference;
    use crate::taper::plan_from_json;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    /// Morphine MR 30 mg twice a day, 10% of the start every 28 days, from 2026-01-05.
    fn morphine_plan() -> Plan {
        plan_from_json(
            r#"{"items": [{"drug": "morphine", "route": "oral", "release": "modified",
                 "form": "tablet", "strength_mg": 30, "units_per_dose": 1, "doses_per_day": 2}],
                "start_date": "2026-01-05",
                "taper": {"reduction_percent": 10, "interval_days": 28}}"#,
            crate::Profile::Uk,
            reference(),
        )
        .unwrap()
    }

    #[test]
    fn before_the_start_the_dose_is_the_regimen_as_entered() {
        let plan = morphine_plan();
        let p = position_on(&plan, d("2026-01-04"));
        assert_eq!(p.place, Place::BeforeStart);
        assert_eq!(p.total_ome_mg_per_day, 60.0);
        assert_eq!(p.step.as_ref().unwrap().step, 1);
        assert!(p.words.contains("05/01/2026"), "{}", p.words);
    }

    #[test]
    fn each_day_of_a_step_is_on_that_step_with_its_doses_in_words() {
        let plan = morphine_plan();
        for s in &plan.steps {
            for day in [s.start_date, s.end_date] {
                let p = position_on(&plan, day);
                assert_eq!(p.place, Place::OnStep);
                let at = p.step.unwrap();
                assert_eq!(at.step, s.step);
                assert_eq!(p.total_ome_mg_per_day, s.total_ome_mg_per_day);
                assert_eq!(at.items.len(), s.items.len());
            }
        }
        let second = &plan.steps[1];
        let at = position_on(&plan, second.start_date).step.unwrap();
        assert!(second.total_ome_mg_per_day < 60.0);
        assert!(
            at.items[0].doses.iter().any(|d| d.contains("mg")),
            "{:?}",
            at.items
        );
        assert!(at.items[0].product.contains("morphine"));
    }

    #[test]
    fn after_the_end_of_a_plan_that_stops_the_dose_is_nothing() {
        let plan = morphine_plan();
        assert_eq!(plan.steps.last().unwrap().kind, StepKind::Stop);
        let p = position_on(&plan, plan.end_date.succ_opt().unwrap());
        assert_eq!(p.place, Place::AfterEnd);
        assert_eq!(p.total_ome_mg_per_day, 0.0);
        assert!(p.words.contains("stop"), "{}", p.words);
    }
}
