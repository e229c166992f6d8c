//! Maps a taper plan onto the leaflet's view-model ([`LeafletInput`]).
//!
//! Everything the patient reads comes from the plan's own facts (dates, whole
//! units, the brand-neutral box names of the products) put into everyday words
//! from the wording file; no clinical number is decided here. Patch change days
//! follow the plan's rule: a new strength goes on on the first day of its step,
//! then is changed at the product's wear time (from the product catalogue).
//!
//! Next review: the leaflet prints a date only when one is given. A date the
//! practice has not booked would send the patient to an appointment that does
//! not exist, so there is no silent default; without a date the leaflet says
//! "We will agree a date with you". [`suggested_next_review`] offers the clinician
//! a date (the last weekday of step 1, before the second change), for the shell
//! or the summary to show as a suggestion.

use std::collections::BTreeMap;

use chrono::{Datelike, Duration, NaiveDate, Weekday};
use serde::{Deserialize, Serialize};

use crate::reference::{ProductRow, Reference};
use crate::taper::text::{second_part, SecondPart};
use crate::taper::{self, DoseTime, ItemChange, Plan, StepItem, UnitAmount};
use crate::vocabulary::{Form, Release};

use super::{
    count_word, describe_units, fill, format_amount, input_err, join_list, wording, Labels,
    LeafletDose, LeafletError, LeafletInput, LeafletStep, PracticeDetails, StepKind, StepMedicine,
    Unit, UnitCount,
};

/// What the leaflet needs besides the plan: who it is for, who to contact, and
/// when it is given. The desktop shell fills this from the consultation and settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeafletDetails {
    /// The patient's name as they like it written; left off if `None`.
    #[serde(default)]
    pub patient_name: Option<String>,
    /// The practice's name, phone and address (from settings).
    pub practice: PracticeDetails,
    /// The agreed next review date. `None` prints "We will agree a date with you"
    /// (no default: see the module notes and [`suggested_next_review`]).
    #[serde(default)]
    pub next_review: Option<NaiveDate>,
    /// 18 pt large print instead of 14 pt clear print.
    #[serde(default)]
    pub large_print: bool,
    /// The day the leaflet is given (printed, and the PDF's date).
    pub issue_date: NaiveDate,
    /// Add the dose calendar page ([`CALENDAR_DAYS`] days from the day given).
    #[serde(default)]
    pub calendar: bool,
}

/// Days the dose calendar covers: four weeks, two or three steps of most
/// plans and the usual time to the next review; a layout choice, not a
/// clinical figure (the doses are the plan's).
pub const CALENDAR_DAYS: u32 = 28;

/// A next review date to suggest to the clinician: the last weekday of step 1,
/// so the first change can be checked before the second one starts. `None` for
/// a plan without steps.
pub fn suggested_next_review(plan: &Plan) -> Option<NaiveDate> {
    let first = plan.steps.first()?;
    let mut d = first.end_date;
    // Practices are closed at weekends; step back, but never before the step starts.
    while matches!(d.weekday(), Weekday::Sat | Weekday::Sun) && d > first.start_date {
        d -= Duration::days(1);
    }
    Some(d)
}

/// "morphine tablets" → "Morphine tablets".
fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next().map_or_else(String::new, |f| {
        f.to_uppercase().collect::<String>() + c.as_str()
    })
}

/// A whole number as a count, if it is one.
fn whole(x: f64) -> Option<u32> {
    (x.fract() == 0.0 && x >= 0.0 && x <= f64::from(u32::MAX)).then(|| {
        // Whole and in range, checked just above.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let n = x as u32;
        n
    })
}

/// The unit a solid dose is counted in, from the item's form and, for a
/// combination product, its second ingredient in each unit (the paracetamol of
/// co-codamol, the naloxone of oxycodone with naloxone).
fn solid_unit(form: Option<Form>, mg: f64, second: Option<SecondPart>) -> Unit {
    match (form, second.map(|p| p.mg_at(mg))) {
        (Some(Form::Capsule), Some(p)) => Unit::CombinationCapsule { mg, second_mg: p },
        (_, Some(p)) => Unit::CombinationTablet { mg, second_mg: p },
        (Some(Form::Capsule), None) => Unit::Capsule { mg },
        (Some(Form::Tablet), None) => Unit::Tablet { mg },
        _ => Unit::TabletOrCapsule { mg },
    }
}

/// One part of a dose in words. Planned steps always use whole units; an item
/// the plan holds unchanged shows its entry as it is, which may be a part unit.
fn amount_words(count: f64, unit: Unit) -> String {
    if let Some(n) = whole(count) {
        return describe_units(&[UnitCount { count: n, unit }]);
    }
    // "half a 10 mg tablet", "one and a half 10 mg tablets": how people say it.
    let one = describe_units(&[UnitCount { count: 1, unit }]);
    let single = one.strip_prefix("one ").unwrap_or(&one).to_string();
    let plural = describe_units(&[UnitCount { count: 2, unit }]);
    let several = plural.strip_prefix("two ").unwrap_or(&plural).to_string();
    let whole_part = count.trunc();
    if (count - whole_part - 0.5).abs() < 1e-9 {
        return match whole(whole_part) {
            Some(0) => format!("half a {single}"),
            Some(n) => format!("{} and a half {several}", count_word(n)),
            None => format!("{} {several}", format_amount(count)),
        };
    }
    format!("{} of a {single}", format_amount(count))
}

/// Exactly what to take at one time, e.g. "one 30 mg tablet and one 5 mg tablet".
fn dose_words(units: &[UnitAmount], form: Option<Form>, second: Option<SecondPart>) -> String {
    let parts: Vec<String> = units
        .iter()
        .map(|u| match u {
            UnitAmount::Solid(s) => amount_words(s.count, solid_unit(form, s.strength_mg, second)),
            UnitAmount::Patch(p) => amount_words(
                p.count,
                Unit::Patch {
                    micrograms_per_hour: p.strength_mcg_per_hour,
                },
            ),
            UnitAmount::Liquid(l) => describe_units(&[UnitCount {
                count: 1,
                unit: Unit::Liquid {
                    ml: l.ml,
                    mg: l.ml * l.strength_mg_per_ml,
                },
            }]),
        })
        .collect();
    join_list(&parts, "and")
}

/// How a patch is changed, from the catalogue's wear time.
#[derive(Debug, Clone, PartialEq)]
struct PatchCycle {
    /// "Every 3 days", "Twice a week".
    words: String,
    /// Days from one change to the next, repeated in turn (3 then 4 for a patch
    /// worn 3 or 4 days); empty when the wear time is not whole days.
    gaps: Vec<i64>,
}

fn patch_cycle(row: &ProductRow, l: &Labels) -> Result<Option<PatchCycle>, LeafletError> {
    let Some(w) = row.wear_hours else {
        return Ok(None);
    };
    let days = |h: f64| {
        // Whole days of at least one, so the date list always moves forward.
        (h % 24.0 == 0.0 && h >= 24.0).then(|| {
            // Whole and small (a wear time in days), checked just above.
            #[allow(clippy::cast_possible_truncation)]
            let d = (h / 24.0) as i64;
            d
        })
    };
    let cycle = match (days(w.min), days(w.max)) {
        (Some(a), Some(b)) if a == b => PatchCycle {
            words: fill(&l.patch_every_days, |n| {
                (n == "days").then(|| a.to_string())
            })?,
            gaps: vec![a],
        },
        // Worn 3 or 4 days: changed on the same two days each week.
        (Some(a), Some(b)) if a + b == 7 => PatchCycle {
            words: l.patch_twice_a_week.clone(),
            gaps: vec![a, b],
        },
        (Some(a), Some(b)) => PatchCycle {
            words: fill(&l.patch_every_days_range, |n| match n {
                "min" => Some(a.to_string()),
                "max" => Some(b.to_string()),
                _ => None,
            })?,
            gaps: vec![a, b],
        },
        _ => PatchCycle {
            words: fill(&l.patch_every_hours, |n| {
                (n == "hours").then(|| format_amount(w.min))
            })?,
            gaps: Vec::new(),
        },
    };
    Ok(Some(cycle))
}

/// "1, 4, 7 and 10 December, then 2 and 5 January": days grouped by month, so
/// the list stays short enough to read at a glance.
fn date_list(dates: &[NaiveDate], l: &Labels) -> String {
    let mut groups: Vec<(NaiveDate, Vec<String>)> = Vec::new();
    for d in dates {
        match groups.last_mut() {
            Some((first, days)) if first.month() == d.month() && first.year() == d.year() => {
                days.push(d.day().to_string());
            }
            _ => groups.push((*d, vec![d.day().to_string()])),
        }
    }
    groups
        .iter()
        .map(|(first, days)| format!("{} {}", join_list(days, &l.list_and), first.format("%B")))
        .collect::<Vec<_>>()
        .join(&format!(", {} ", l.list_then))
}

/// Where each patch item is in its cycle: the next change day, if known.
#[derive(Debug, Default)]
struct PatchState {
    next: BTreeMap<u32, (NaiveDate, usize)>,
}

/// Everything about one plan item the mapping needs from the plan and the request.
struct ItemFacts<'a> {
    second: Option<SecondPart>,
    row: Option<&'a ProductRow>,
}

fn item_facts<'a>(plan: &Plan, item: &StepItem, reference: &'a Reference) -> ItemFacts<'a> {
    let second = second_part(plan, item.index);
    let row = item
        .product_id
        .as_deref()
        .and_then(|id| reference.products.rows.iter().find(|r| r.id == id));
    ItemFacts { second, row }
}

/// The doses of one medicine in one step, in the leaflet's words.
fn medicine_doses(
    item: &StepItem,
    step: &taper::Step,
    facts: &ItemFacts<'_>,
    patches: &mut PatchState,
    l: &Labels,
) -> Result<(Vec<LeafletDose>, Vec<NaiveDate>), LeafletError> {
    let mut out = Vec::new();
    if item.form == Some(Form::Patch) {
        let cycle = match facts.row {
            Some(row) => patch_cycle(row, l)?,
            None => None,
        };
        for d in &item.doses {
            out.push(LeafletDose {
                when: cycle
                    .as_ref()
                    .map_or_else(|| capitalise(&d.time), |c| c.words.clone()),
                what: dose_words(&d.units, item.form, None),
            });
        }
        if item.doses.is_empty() {
            patches.next.remove(&item.index);
            return Ok((out, Vec::new()));
        }
        // A new strength goes on on the first day of its step (the plan's rule);
        // an unchanged patch carries on from its last change.
        let start = match item.change {
            ItemChange::Reduced | ItemChange::Increased => Some((step.start_date, 0)),
            ItemChange::Same => patches.next.get(&item.index).copied(),
            ItemChange::Held | ItemChange::Stopped => None,
        };
        let (days, dated) = match (start, cycle.as_ref().filter(|c| !c.gaps.is_empty())) {
            (Some((mut day, mut turn)), Some(c)) => {
                let mut days = Vec::new();
                while day <= step.end_date {
                    days.push(day);
                    day += Duration::days(c.gaps[turn % c.gaps.len()]);
                    turn += 1;
                }
                patches.next.insert(item.index, (day, turn));
                if days.is_empty() {
                    // No change falls in this step: nothing to add.
                    return Ok((out, Vec::new()));
                }
                (date_list(&days, l), days)
            }
            _ => {
                patches.next.remove(&item.index);
                (l.patch_same_days.clone(), Vec::new())
            }
        };
        out.push(LeafletDose {
            when: l.patch_new_on.clone(),
            what: days,
        });
        return Ok((out, dated));
    }
    for d in &item.doses {
        out.push(dose_line(d, item, facts, l)?);
    }
    Ok((out, Vec::new()))
}

fn dose_line(
    d: &DoseTime,
    item: &StepItem,
    facts: &ItemFacts<'_>,
    l: &Labels,
) -> Result<LeafletDose, LeafletError> {
    let units = dose_words(&d.units, item.form, facts.second);
    if item.as_needed {
        // "If you need it: one 5 mg capsule, up to 4 times a day": the short
        // phrase goes in the narrow column.
        return Ok(LeafletDose {
            when: l.as_needed_when.clone(),
            what: fill(&l.as_needed_what, |n| match n {
                "units" => Some(units.clone()),
                "times" => Some(d.time.clone()),
                _ => None,
            })?,
        });
    }
    Ok(LeafletDose {
        when: capitalise(&d.time),
        what: units,
    })
}

/// Maps a taper plan (with any clinician edits already applied) onto the leaflet.
///
/// Every step becomes a leaflet step with its dates; each medicine is named as on
/// its box (brand-neutral) and each dose time says exactly which tablets,
/// capsules, patches or millilitres to take. As-needed medicines say "only if you
/// need it"; patches say how often to change them and on which days; a medicine
/// that stops says so; medicines the plan holds unchanged say "keep taking this as
/// before", in every step and after the stop day.
///
/// Errors: [`LeafletError::Input`] when the plan has no steps or reduces nothing
/// (every medicine held), or when the details cannot be printed (the same checks
/// as [`super::render_leaflet`], with the field named).
pub fn from_plan(
    plan: &Plan,
    details: &LeafletDetails,
    reference: &Reference,
) -> Result<LeafletInput, LeafletError> {
    let l = &wording()?.labels;
    if plan.steps.is_empty() {
        return Err(input_err("steps", "the plan has no steps"));
    }
    // A medicine is in the patient's reducing plan only if some step lowers or
    // stops it. One the planner keeps at its current dose throughout (held from
    // step 1 with a question for the prescriber, e.g. MXL 30 mg once a day) is
    // printed as held, so the leaflet never implies a reduction nobody planned.
    // Collected once, not searched per item and step: near-linear in the
    // items (issue 20).
    let reduced_items: rustc_hash::FxHashSet<u32> = plan
        .steps
        .iter()
        .flat_map(|s| &s.items)
        .filter(|i| matches!(i.change, ItemChange::Reduced | ItemChange::Stopped))
        .map(|i| i.index)
        .collect();
    let reduced = |index: u32| reduced_items.contains(&index);
    // Two items of one product are told apart by what they are at the start,
    // so "does not change your fentanyl patches" cannot mean both.
    let names = taper::text::item_names(plan);
    let mut medicines = Vec::new();
    let mut held_medicines = Vec::new();
    let mut seen: rustc_hash::FxHashSet<(bool, String)> = rustc_hash::FxHashSet::default();
    for item in &plan.items {
        let name = taper::text::name_of(&names, item.index, &item.product);
        let in_plan = item.tapered && reduced(item.index);
        if seen.insert((in_plan, name.clone())) {
            if in_plan {
                medicines.push(name);
            } else {
                held_medicines.push(name);
            }
        }
    }
    if medicines.is_empty() {
        return Err(input_err(
            "items",
            "nothing in this plan is reduced (every medicine stays at its current dose until the prescriber's questions are answered), so there is no reducing plan to print",
        ));
    }

    let mut patches = PatchState::default();
    let mut steps = Vec::with_capacity(plan.steps.len());
    for step in &plan.steps {
        let kind = match step.kind {
            // Step 1 is the current regimen: the leaflet shows it as the first
            // step, with what to take, like any other.
            taper::StepKind::Start | taper::StepKind::Reduce | taper::StepKind::Increase => {
                StepKind::Reduce
            }
            taper::StepKind::Pause => StepKind::Pause,
            taper::StepKind::Stop => StepKind::Stop,
        };
        let mut step_medicines = Vec::with_capacity(step.items.len());
        for item in &step.items {
            let facts = item_facts(plan, item, reference);
            let held = item.change == ItemChange::Held || !reduced(item.index);
            let mut change_days = Vec::new();
            let doses = if item.change == ItemChange::Stopped {
                patches.next.remove(&item.index);
                if item.form == Some(Form::Patch) {
                    // The stop day is a change day: the last patch comes off and
                    // no new one goes on.
                    vec![LeafletDose {
                        when: l.patch_off_when.clone(),
                        what: fill(&l.patch_off_what, |n| {
                            (n == "date").then(|| super::long_date(step.start_date))
                        })?,
                    }]
                } else {
                    Vec::new()
                }
            } else {
                let (doses, days) = medicine_doses(item, step, &facts, &mut patches, l)?;
                change_days = days;
                doses
            };
            // As needed: the most doses a day, for the calendar's boxes.
            let as_needed_most = if item.as_needed {
                item.doses.iter().find_map(|d| d.times_a_day)
            } else {
                None
            };
            step_medicines.push(StepMedicine {
                name: capitalise(&taper::text::name_of(&names, item.index, &item.product)),
                doses,
                held,
                as_needed_most,
                patch_change_days: change_days,
            });
        }
        steps.push(LeafletStep {
            number: step.step,
            start: step.start_date,
            end: step.end_date,
            kind,
            medicines: step_medicines,
        });
    }

    let input = LeafletInput {
        patient_name: details
            .patient_name
            .as_ref()
            .map(|n| n.trim().to_string())
            .filter(|n| !n.is_empty()),
        practice: details.practice.clone(),
        next_review: details.next_review,
        medicines,
        has_patches: plan.items.iter().any(|i| i.form == Some(Form::Patch)),
        has_slow_release: plan
            .items
            .iter()
            .any(|i| i.release == Some(Release::Modified)),
        has_as_needed: plan.items.iter().any(|i| i.as_needed),
        held_medicines,
        steps,
        large_print: details.large_print,
        reference_version: plan.reference_version.clone(),
        issue_date: details.issue_date,
        calendar_days: if details.calendar { CALENDAR_DAYS } else { 0 },
    };
    // The same checks the renderer makes, now, so the shell hears of a bad
    // name or phone number before it tries to print.
    super::leaflet_document(&input)?;
    Ok(input)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::leaflet::{jargon_in, leaflet_text};
    use crate::readability::flesch_reading_ease;
    use crate::reference::reference;
    use crate::taper::request_from_json;
    use crate::Profile;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
    }

    fn plan_of(json: &str) -> Plan {
        let r = request_from_json(json, Profile::Uk, reference()).unwrap_or_else(|e| panic!("{e}"));
        taper::plan(&r, reference()).unwrap_or_else(|e| panic!("{e}"))
    }

    fn details() -> LeafletDetails {
        LeafletDetails {
            patient_name: Some("Margaret Jones".into()),
            practice: PracticeDetails {
                name: "Riverside Surgery".into(),
                phone: "01632 960 123".into(),
                address: None,
            },
            next_review: Some(date(2026, 12, 14)),
            large_print: false,
            issue_date: date(2026, 11, 24),
            calendar: false,
        }
    }

    fn map(json: &str) -> (Plan, LeafletInput) {
        let plan = plan_of(json);
        let input = from_plan(&plan, &details(), reference()).unwrap_or_else(|e| panic!("{e}"));
        (plan, input)
    }

    /// The leaflet text must read easily and carry no jargon, whatever the plan.
    fn assert_plain(input: &LeafletInput) {
        let text = leaflet_text(input).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(jargon_in(&text).expect("wording"), Vec::<String>::new());
        let score = flesch_reading_ease(&text).expect("words");
        assert!(score >= 60.0, "Flesch {score:.1}");
    }

    const MORPHINE_OXY: &str = r#"{"items": [
        {"drug": "morphine", "route": "oral", "release": "modified", "strength_mg": 30, "units_per_dose": 1, "doses_per_day": 2},
        {"drug": "oxycodone", "route": "oral", "release": "immediate", "strength_mg": 5, "units_per_dose": 1, "doses_per_day": 4, "as_needed": true}],
        "start_date": "2026-12-01", "taper": {"interval_days": 14}}"#;

    /// The dose calendar: four weeks from the plan's start (the issue date is
    /// earlier), a row a day with each dose of that day's step and a tick box,
    /// the step changes marked; the same doses as the step table. Patches refused.
    #[test]
    fn the_calendar_has_a_row_a_day_with_that_days_doses_to_tick() {
        let plan = plan_of(MORPHINE_OXY);
        let input = from_plan(
            &plan,
            &LeafletDetails {
                calendar: true,
                ..details()
            },
            reference(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(input.calendar_days, CALENDAR_DAYS);
        let text = leaflet_text(&input).unwrap_or_else(|e| panic!("{e}"));
        let cal = &text[text.find("Your dose calendar").expect("the calendar page")..];
        let days: Vec<&str> = cal
            .lines()
            .filter(|l| {
                l.starts_with("Tue ")
                    || l.starts_with("Wed ")
                    || l.starts_with("Thu ")
                    || l.starts_with("Fri ")
                    || l.starts_with("Sat ")
                    || l.starts_with("Sun ")
                    || l.starts_with("Mon ")
            })
            .collect();
        assert_eq!(days.len(), 28, "{cal}");
        assert!(
            days[0].starts_with("Tue 1 Dec"),
            "from the plan's start: {days:?}"
        );
        assert!(days[27].starts_with("Mon 28 Dec"), "{days:?}");
        let step2 = plan.steps[1].start_date.format("%a %-d %b").to_string();
        assert!(
            cal.contains(&format!("{step2}\nStep 2 starts")) || cal.contains("Step 2 starts"),
            "{cal}"
        );
        // Each day's doses are the step table's, each with a box to tick.
        let first = &input.steps[0].medicines[0].doses[0];
        assert!(
            cal.contains(&format!("\u{2610} {}: {}", first.when, first.what)),
            "{cal}"
        );
        assert_plain(&input);
        // Without the option there is no calendar.
        let (_, plain) = map(MORPHINE_OXY);
        assert!(!leaflet_text(&plain).unwrap().contains("Your dose calendar"));
    }

    /// Patches: a box on each day a new patch goes on (the plan's change days,
    /// the same as the step table's), a reminder without a box on the others,
    /// and "the same days as now" where the plan does not date the changes.
    /// Hand-worked: fentanyl 25 from Tue 1 Dec, standard preset; step 1 is
    /// the current patch (changes not dated); from step 2 the new strength
    /// goes on on its first day and is changed every 3 days.
    #[test]
    fn the_calendar_of_a_patch_ticks_its_change_days() {
        let patch = plan_of(
            r#"{"items": [{"drug": "fentanyl", "route": "transdermal", "strength_mcg_per_hour": 25}], "start_date": "2026-12-01"}"#,
        );
        let input = from_plan(
            &patch,
            &LeafletDetails {
                calendar: true,
                issue_date: patch.steps[1].start_date,
                ..details()
            },
            reference(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let m = &input.steps[1].medicines[0];
        let start = input.steps[1].start;
        assert_eq!(m.patch_change_days.first(), Some(&start), "{m:?}");
        assert_eq!(
            m.patch_change_days.get(1),
            Some(&(start + Duration::days(3))),
            "every 3 days: {m:?}"
        );
        assert!(input.steps[0].medicines[0].patch_change_days.is_empty());
        let text = leaflet_text(&input).unwrap_or_else(|e| panic!("{e}"));
        let cal = &text[text.find("Your dose calendar").expect("the calendar page")..];
        let day = |d: NaiveDate| d.format("%a %-d %b").to_string();
        let row = |d: NaiveDate| {
            let at = cal
                .find(&day(d))
                .unwrap_or_else(|| panic!("{} in {cal}", day(d)));
            cal[at..].lines().next().unwrap_or("").to_string()
        };
        assert!(
            row(start).contains("\u{2610} New patch today"),
            "{}\n{cal}",
            row(start)
        );
        assert!(
            row(start + Duration::days(1)).contains("Keep your patch on"),
            "{}",
            row(start + Duration::days(1))
        );
        assert!(
            !row(start + Duration::days(1)).contains('\u{2610}'),
            "no box on a day with nothing to do"
        );
        assert!(row(start + Duration::days(3)).contains("\u{2610} New patch today"));
    }

    /// As needed: "only if you need it" with a box for each dose allowed that
    /// day (OxyNorm 5 mg up to 4 a day: four boxes), never one box a day.
    #[test]
    fn the_calendar_of_an_as_needed_medicine_has_a_box_per_dose_allowed() {
        let plan = plan_of(
            r#"{"items": [{"drug": "oxycodone", "route": "oral", "release": "immediate", "form": "capsule", "strength_mg": 5, "units_per_dose": 1, "doses_per_day": 4, "as_needed": true}], "start_date": "2026-12-01"}"#,
        );
        let input = from_plan(
            &plan,
            &LeafletDetails {
                calendar: true,
                ..details()
            },
            reference(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(input.steps[0].medicines[0].as_needed_most, Some(4));
        let text = leaflet_text(&input).unwrap_or_else(|e| panic!("{e}"));
        let cal = &text[text.find("Your dose calendar").expect("the calendar page")..];
        assert!(
            cal.contains("Only if you need it: one 5 mg capsule, up to 4 times a day. Tick one box each time you take a dose: \u{2610} \u{2610} \u{2610} \u{2610}"),
            "{cal}"
        );
    }

    /// Two items of one product carry their starting strength in every step,
    /// so the patient can tell which box each line means (issue 15).
    #[test]
    fn two_items_of_one_product_are_told_apart() {
        let (_, input) = map(r#"{"items": [
            {"drug": "fentanyl", "route": "transdermal", "strength_mcg_per_hour": 25},
            {"drug": "fentanyl", "route": "transdermal", "strength_mcg_per_hour": 12}],
            "start_date": "2026-12-07"}"#);
        let text = leaflet_text(&input).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            !text.contains("does not change your fentanyl 72-hour patches."),
            "{text}"
        );
        for step in &input.steps {
            let names: Vec<&str> = step.medicines.iter().map(|m| m.name.as_str()).collect();
            if names.len() == 2 {
                assert_eq!(
                    names,
                    [
                        "Fentanyl 72-hour patches (25 micrograms/hour at the start of the plan)",
                        "Fentanyl 72-hour patches (12 micrograms/hour at the start of the plan)"
                    ]
                );
            }
        }
        assert_plain(&input);
    }

    #[test]
    fn every_step_is_mapped_with_its_dates_and_exact_doses() {
        let (plan, input) = map(MORPHINE_OXY);
        assert_eq!(input.steps.len(), plan.steps.len());
        for (s, p) in input.steps.iter().zip(&plan.steps) {
            assert_eq!(
                (s.number, s.start, s.end),
                (p.step, p.start_date, p.end_date)
            );
        }
        // Step 1 is the current regimen; step 2 the first reduction.
        assert_eq!(
            input.steps[0].medicines[0].doses[0].what,
            "one 30 mg tablet"
        );
        let first = &input.steps[1];
        assert_eq!(first.kind, StepKind::Reduce);
        assert_eq!(
            first.medicines[0].name,
            "Morphine 12-hourly slow-release tablets"
        );
        assert_eq!(
            first.medicines[0].doses,
            vec![
                LeafletDose {
                    when: "Morning".into(),
                    what: "one 15 mg tablet and one 10 mg tablet".into()
                },
                LeafletDose {
                    when: "Evening".into(),
                    what: "one 30 mg tablet".into()
                }
            ]
        );
        assert_eq!(first.medicines[1].name, "Oxycodone capsules");
        assert_eq!(
            first.medicines[1].doses,
            vec![LeafletDose {
                when: "If you need\u{a0}it".into(),
                what: "one 5 mg capsule, up to 4 times a day".into()
            }]
        );
        assert_eq!(
            input.medicines,
            [
                "morphine 12-hourly slow-release tablets",
                "oxycodone capsules"
            ]
        );
        assert!(input.has_slow_release && input.has_as_needed && !input.has_patches);
        assert!(input.held_medicines.is_empty());
        assert_eq!(input.reference_version, plan.reference_version);
        // Morphine stops part-way (oxycodone carries on), then the stop step.
        let morphine_stops = input
            .steps
            .iter()
            .position(|s| {
                s.medicines
                    .iter()
                    .any(|m| m.name.starts_with("Morphine") && m.doses.is_empty())
            })
            .expect("morphine stops");
        assert_eq!(input.steps[morphine_stops].kind, StepKind::Reduce);
        let last = input.steps.last().expect("steps");
        assert_eq!(last.kind, StepKind::Stop);
        assert_eq!(last.medicines.len(), 1);
        assert_eq!(last.medicines[0].name, "Oxycodone capsules");
        let text = leaflet_text(&input).expect("text");
        assert!(
            text.contains("Stop your oxycodone capsules from this day."),
            "{text}"
        );
        assert!(text.contains("If you need it"), "{text}");
        assert_plain(&input);
    }

    #[test]
    fn patches_say_how_often_and_on_which_days() {
        let (_, input) = map(
            r#"{"items": [{"drug": "fentanyl", "route": "transdermal", "strength_mcg_per_hour": 25, "patches": 1}],
                "start_date": "2026-12-01", "taper": {"interval_days": 14}}"#,
        );
        assert!(input.has_patches && !input.has_slow_release);
        let m = &input.steps[1].medicines[0];
        assert_eq!(m.name, "Fentanyl 72-hour patches");
        assert_eq!(
            m.doses,
            vec![
                LeafletDose {
                    when: "Every 3 days".into(),
                    what: "one 12 micrograms/hour patch".into()
                },
                LeafletDose {
                    when: "New patch on".into(),
                    // Step 1 (25) lasts 14 days rounded up to whole 3-day changes: 15 days.
                    // The 12 patch, a cut 5 times the one asked for, lasts 70 days
                    // rounded to whole changes: 72 days from 16 December.
                    what: "16, 19, 22, 25, 28 and 31 December, then 3, 6, 9, 12, 15, 18, 21, 24, 27 and 30 January, then 2, 5, 8, 11, 14, 17, 20 and 23 February".into()
                }
            ]
        );
        assert_eq!(input.steps.last().map(|s| s.kind), Some(StepKind::Stop));
        // The stop day: the last patch comes off, and no new one goes on.
        let text = leaflet_text(&input).expect("text");
        assert!(
            text.contains("Take your last patch off on")
                && text.contains("Do not put on a new one."),
            "{text}"
        );
        assert_plain(&input);
    }

    #[test]
    fn twice_weekly_patches_keep_their_days_across_unchanged_steps() {
        let (plan, input) = map(
            r#"{"items": [{"drug": "buprenorphine", "route": "transdermal", "strength_mcg_per_hour": 70, "patches": 1}],
                "start_date": "2026-12-01", "taper": {"interval_days": 14}, "pauses": [{"after_step": 2, "days": 14}]}"#,
        );
        assert_eq!(plan.steps[2].kind, taper::StepKind::Pause);
        let doses = |i: usize| input.steps[i].medicines[0].doses.clone();
        assert_eq!(doses(1)[0].when, "Twice a week");
        // Tuesday 15 December, then every 3 then 4 days: Tuesdays and Fridays.
        // 70 to 52.5 is a cut 2.5 times the one asked for: 35 days, whole weeks.
        assert_eq!(
            doses(1)[1].what,
            "15, 18, 22, 25 and 29 December, then 1, 5, 8, 12 and 15 January"
        );
        assert_eq!(input.steps[2].kind, StepKind::Pause);
        assert_eq!(doses(2)[1].what, "19, 22, 26 and 29 January");
    }

    #[test]
    fn weekly_patches_crossing_a_month() {
        let (_, input) = map(
            r#"{"items": [{"drug": "buprenorphine", "route": "transdermal", "strength_mcg_per_hour": 20, "patches": 1}],
                "start_date": "2026-12-22", "taper": {"interval_days": 28}}"#,
        );
        let d = &input.steps[1].medicines[0].doses;
        assert_eq!(d[0].when, "Every 7 days");
        // Step 1 (28 days at 20) from 22 December; then 15, a cut 2.5 times the
        // one asked for, for 70 days (10 whole weeks).
        assert_eq!(
            d[1].what,
            "19 and 26 January, then 2, 9, 16 and 23 February, then 2, 9, 16 and 23 March"
        );
    }

    #[test]
    fn combination_tablets_are_named_as_on_the_box() {
        let (_, input) = map(
            r#"{"items": [{"drug": "codeine", "route": "oral", "strength_mg": 30, "units_per_dose": 2, "doses_per_day": 4, "paracetamol_mg": 500}],
                "start_date": "2026-12-01"}"#,
        );
        let m = &input.steps[1].medicines[0];
        assert_eq!(m.name, "Co-codamol tablets (codeine with paracetamol)");
        assert_eq!(m.doses[0].when, "Morning");
        assert_eq!(m.doses[0].what, "one 30 mg/500 mg tablet");
        assert_eq!(m.doses[3].when, "Bedtime");
        assert_eq!(m.doses[3].what, "two 30 mg/500 mg tablets");
        assert_plain(&input);
    }

    #[test]
    fn oxycodone_with_naloxone_names_both_parts_at_every_strength() {
        let (plan, input) = map(
            r#"{"items": [{"drug": "oxycodone", "route": "oral", "release": "modified", "strength_mg": 20, "naloxone_mg": 10, "doses_per_day": 2}],
                "start_date": "2026-12-01"}"#,
        );
        assert_eq!(
            plan.items[0].product_id.as_deref(),
            Some("oxycodone-naloxone-mr-12h-tablet")
        );
        let words: Vec<String> = input
            .steps
            .iter()
            .flat_map(|s| s.medicines.iter())
            .flat_map(|m| m.doses.iter().map(|d| d.what.clone()))
            .collect();
        assert!(
            words.contains(&"one 20 mg/10 mg tablet".to_string()),
            "{words:?}"
        );
        // Step 2: 35 mg = 10 mg/5 mg + 5 mg/2.5 mg in the morning.
        assert_eq!(
            input.steps[1].medicines[0].doses[0].what,
            "one 10 mg/5 mg tablet and one 5 mg/2.5 mg tablet"
        );
        // Never the oxycodone alone: every tablet named with its naloxone.
        for w in &words {
            for (i, _) in w.match_indices(" mg tablet") {
                assert!(w[..i].contains('/'), "{w}");
            }
        }
        assert_plain(&input);
    }

    #[test]
    fn held_items_are_kept_as_before_in_every_step_and_after_the_stop() {
        let (plan, input) = map(r#"{"items": [
                {"drug": "methadone", "route": "oral", "form": "solution", "strength_mg_per_ml": 1, "ml_per_dose": 10, "doses_per_day": 1},
                {"drug": "morphine", "route": "oral", "form": "solution", "strength_mg_per_ml": 2, "ml_per_dose": 5, "doses_per_day": 4, "as_needed": true}],
                "start_date": "2026-12-01"}"#);
        assert!(plan.items[0].held_reason.is_some());
        assert_eq!(input.held_medicines, ["methadone oral solution 1 mg/mL"]);
        assert_eq!(input.medicines, ["morphine oral solution 10 mg in 5 mL"]);
        for s in &input.steps {
            let held: Vec<&StepMedicine> = s.medicines.iter().filter(|m| m.held).collect();
            assert_eq!(held.len(), 1, "step {}", s.number);
            assert_eq!(
                held[0].doses,
                vec![LeafletDose {
                    when: "Once a day".into(),
                    what: "10 ml of liquid (10 mg)".into()
                }]
            );
        }
        let text = leaflet_text(&input).expect("text");
        assert!(text.contains("Keep taking this as before."), "{text}");
        assert!(
            text.contains("This plan does not change your methadone oral solution 1 mg/mL. Keep taking it as before. We will talk about it at your review."),
            "{text}"
        );
        // The stop step names only what stops.
        assert!(
            text.contains("Stop your morphine oral solution 10 mg in 5 mL from this day."),
            "{text}"
        );
        let liquid = &input.steps[0].medicines[1].doses[0];
        assert_eq!(liquid.when, "If you need\u{a0}it");
        assert!(
            liquid.what.starts_with("5 ml of liquid (10 mg), up to "),
            "{liquid:?}"
        );
        assert_plain(&input);
    }

    #[test]
    fn a_plan_that_reduces_nothing_is_refused() {
        // The planner itself refuses a regimen it cannot reduce at all; a plan
        // whose items were all held (e.g. after edits) must not print either.
        let mut plan = plan_of(MORPHINE_OXY);
        for i in &mut plan.items {
            i.tapered = false;
        }
        match from_plan(&plan, &details(), reference()) {
            Err(LeafletError::Input { field, .. }) => assert_eq!(field, "items"),
            other => panic!("expected an input error, got {other:?}"),
        }
    }

    #[test]
    fn a_plan_whose_only_item_is_kept_at_its_dose_is_refused() {
        // MXL 30 mg once a day: the lowest capsule, so the planner keeps it at
        // step 1 with a question for the prescriber. The item counts as tapered
        // but no step lowers it: a "plan to reduce" leaflet would promise a
        // reduction nobody planned, so none is printed.
        let plan = plan_of(
            r#"{"items": [{"drug": "morphine", "route": "oral", "release": "modified", "form": "capsule",
                "strength_mg": 30, "doses_per_day": 1}], "start_date": "2026-12-01"}"#,
        );
        assert!(
            plan.items[0].prescriber_query.is_some(),
            "{:?}",
            plan.items[0]
        );
        match from_plan(&plan, &details(), reference()) {
            Err(LeafletError::Input { field, message }) => {
                assert_eq!(field, "items");
                assert!(
                    message.contains("nothing in this plan is reduced"),
                    "{message}"
                );
            }
            other => panic!("expected an input error, got {other:?}"),
        }
    }

    #[test]
    fn an_item_kept_at_its_dose_beside_a_reduced_one_reads_as_held() {
        // MST is reduced; morphine concentrate 0.5 mL cannot be measured in
        // whole mL and is kept exactly, with a question: the leaflet tells the
        // patient to keep taking it as before, in every step, never that it is
        // part of the reductions.
        let (plan, input) = map(r#"{"items": [
                {"drug": "morphine", "route": "oral", "release": "modified", "strength_mg": 30, "units_per_dose": 1, "doses_per_day": 2},
                {"drug": "morphine", "route": "oral", "form": "solution", "strength_mg_per_ml": 20, "ml_per_dose": 0.5, "doses_per_day": 4}],
                "start_date": "2026-12-01"}"#);
        assert!(plan.items[1].prescriber_query.is_some());
        assert_eq!(input.medicines, ["morphine 12-hourly slow-release tablets"]);
        assert_eq!(input.held_medicines.len(), 1, "{:?}", input.held_medicines);
        for s in &input.steps {
            let kept: Vec<&StepMedicine> = s.medicines.iter().filter(|m| m.held).collect();
            assert_eq!(kept.len(), 1, "step {}", s.number);
        }
        assert_plain(&input);
    }

    #[test]
    fn bad_details_are_named() {
        let plan = plan_of(MORPHINE_OXY);
        let mut d = details();
        d.practice.phone = "  ".into();
        match from_plan(&plan, &d, reference()) {
            Err(LeafletError::Input { field, .. }) => assert_eq!(field, "practice.phone"),
            other => panic!("expected an input error, got {other:?}"),
        }
    }

    #[test]
    fn part_units_of_held_items_read_naturally() {
        let t = Unit::Tablet { mg: 10.0 };
        assert_eq!(amount_words(0.5, t), "half a 10 mg tablet");
        assert_eq!(amount_words(1.5, t), "one and a half 10 mg tablets");
        assert_eq!(amount_words(2.0, t), "two 10 mg tablets");
        assert_eq!(amount_words(0.25, t), "0.25 of a 10 mg tablet");
    }

    #[test]
    fn the_suggested_review_is_a_weekday_in_step_one() {
        let plan = plan_of(MORPHINE_OXY);
        // Step 1 ends Monday 14 December 2026.
        assert_eq!(suggested_next_review(&plan), Some(date(2026, 12, 14)));
        let plan = plan_of(
            r#"{"items": [{"drug": "morphine", "route": "oral", "release": "modified", "strength_mg": 30, "units_per_dose": 1, "doses_per_day": 2}],
                "start_date": "2026-12-03", "taper": {"interval_days": 14}}"#,
        );
        // Step 1 ends Wednesday 16 December; a start on Thursday 3 December.
        assert_eq!(suggested_next_review(&plan), Some(date(2026, 12, 16)));
        let plan = plan_of(
            r#"{"items": [{"drug": "morphine", "route": "oral", "release": "modified", "strength_mg": 30, "units_per_dose": 1, "doses_per_day": 2}],
                "start_date": "2026-12-07", "taper": {"interval_days": 14}}"#,
        );
        // Step 1 ends Sunday 20 December: suggest Friday 18 December.
        assert_eq!(suggested_next_review(&plan), Some(date(2026, 12, 18)));
    }
}
