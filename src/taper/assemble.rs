//! Everything about a plan that follows from its doses: each item's daily
//! amount, OME and paracetamol; the step totals, kinds and changes; the dates;
//! the quantities to dispense. Generation and clinician edits both end here,
//! so a plan is always checked the same way, whoever wrote its doses:
//!
//! - every unit of a tapered item is a whole tablet, capsule or patch of a
//!   strength the catalogue lists for that product line, or whole measures of
//!   its liquid; patches within the number worn at once;
//! - dose times are the item's own (as-needed items and patches have one);
//! - dates are contiguous: each step starts the day after the one before ends;
//! - totals never rise, unless the step is marked as an intentional hold or
//!   reversal with a reason (kind `increase`);
//! - a final step with nothing left to take is the stop day, one day long.

use chrono::Days;
use rustc_hash::{FxHashMap, FxHashSet};

use crate::input::FieldError;
use crate::ome::AmountUnit;
use crate::reference::{Conversion, FactorUnit, LimitKind, ProductRow, Reference};
use crate::vocabulary::{num, Form, Route};

use super::output::{
    DoseTime, ItemChange, Plan, PlanItem, Prescription, StepItem, StepKind, StrengthUnit,
    SupplyLine, UnitAmount,
};
use super::products::{as_needed_time, patch_cycle_days, patch_time, to_fixed, LineKind};
use super::rules::TaperRules;
use super::schedule::{per_day, round2, EPS};

/// Warnings added for clinician-marked increases start with this.
pub(crate) const INCREASE_PREFIX: &str = "Intentional increase: ";
/// The warning for a plan that ends above its target starts with this.
pub(crate) const TARGET_PREFIX: &str = "Target not reached: ";
/// The warning for steps outside the guidance range starts with this.
pub(crate) const GUIDANCE_PREFIX: &str = "Outside guidance: ";

/// What checking one tapered item's doses needs.
struct ItemCtx<'r> {
    item: &'r PlanItem,
    row: &'r ProductRow,
    kind: LineKind,
    strengths: Vec<f64>,
    factor: f64,
    paracetamol: Option<f64>,
    max_units: f64,
    measure: f64,
    patch_time: String,
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

fn ctx<'r>(
    item: &'r PlanItem,
    plan: &Plan,
    reference: &'r Reference,
    path: &str,
) -> Result<ItemCtx<'r>, FieldError> {
    let bad = |m: String| FieldError::new(path, m);
    let id = item
        .product_id
        .as_deref()
        .ok_or_else(|| bad("a tapered item needs its product_id".into()))?;
    let row = reference
        .products
        .rows
        .iter()
        .find(|r| r.id == id)
        .ok_or_else(|| bad(format!("no product '{id}' in the UK product catalogue")))?;
    if row.drug != item.drug || row.route != item.route {
        return Err(bad(format!(
            "product '{id}' is not {} given by the {} route",
            item.drug, item.route
        )));
    }
    let kind = match row.form {
        Form::Tablet | Form::Capsule => LineKind::Solid,
        Form::Solution => LineKind::Liquid,
        Form::Patch => LineKind::Patch,
    };
    let form = item.form.unwrap_or(row.form);
    let strengths = match kind {
        LineKind::Solid if form == row.form => row.strengths_mg.clone().unwrap_or_default(),
        LineKind::Solid => row
            .other_forms
            .iter()
            .find(|o| o.form == form)
            .map(|o| o.strengths_mg.clone())
            .ok_or_else(|| bad(format!("{} is not made as a {form}", row.box_name)))?,
        LineKind::Liquid => row.strengths_mg_per_ml.clone().unwrap_or_default(),
        LineKind::Patch => row.strengths_mcg_per_hour.clone().unwrap_or_default(),
    };
    let (needed, what) = match kind {
        LineKind::Patch => (FactorUnit::McgPerHour, "patch"),
        _ => (FactorUnit::Mg, "oral"),
    };
    let factor = match reference.conversion(plan.profile, &item.drug, item.route) {
        Conversion::Factor { factor, unit, .. } if unit == needed => factor,
        _ => {
            return Err(bad(format!(
                "{} ({what}) has no conversion factor in the {} profile, so it cannot be tapered",
                item.drug, plan.profile
            )))
        }
    };
    let max_units = match kind {
        LineKind::Solid => reference.limit(LimitKind::UnitsPerDose).max,
        LineKind::Patch => row
            .max_patches_at_once
            .map_or(reference.limit(LimitKind::Patches).max, f64::from),
        LineKind::Liquid => f64::INFINITY,
    };
    Ok(ItemCtx {
        item,
        row,
        kind,
        strengths,
        factor,
        paracetamol: row.combination.as_ref().map(|c| c.paracetamol_mg_per_unit),
        max_units,
        measure: TaperRules::of(reference).liquid_measure().0,
        patch_time: patch_time(row),
    })
}

/// One tapered item's amounts in a step, from its doses.
struct Amounts {
    /// mg a day, or micrograms/hour (counted rate) for patches.
    daily: f64,
    ome: f64,
    paracetamol: Option<f64>,
    /// Per unit strength (as labelled), largest first: units a day (solids),
    /// mL a day (liquids), or patches worn at once (patches).
    per_strength: Vec<(f64, f64)>,
    /// Any as-needed dose (supply is then a maximum).
    as_needed: bool,
}

fn add(per: &mut Vec<(f64, f64)>, strength: f64, n: f64) {
    match per.iter_mut().find(|(s, _)| close(*s, strength)) {
        Some((_, m)) => *m += n,
        None => per.push((strength, n)),
    }
}

/// Checks an item's doses in a step and works out its amounts. Normalises the
/// time words of as-needed items and patches (they follow from the numbers).
fn amounts(
    c: &ItemCtx<'_>,
    doses: &mut [DoseTime],
    reference: &Reference,
    path: &dyn Fn() -> String,
    errors: &mut Vec<FieldError>,
) -> Option<Amounts> {
    let before = errors.len();
    let mut err = |p: String, m: String| errors.push(FieldError::new(p, m));
    let mut daily = 0.0;
    let mut paracetamol = 0.0;
    let mut per_strength = Vec::new();
    let strengths = || {
        let v: Vec<String> = c.strengths.iter().map(|s| num(*s)).collect();
        v.join(", ")
    };
    let single = c.item.as_needed || c.kind == LineKind::Patch;
    if single && doses.len() > 1 {
        err(
            format!("{}.doses", path()),
            "an as-needed item or a patch has a single dose entry".to_string(),
        );
    }
    // Paths are written only for an error: this runs for every item of every
    // step, and formatting them each time made the plan allocation-bound.
    let dp = |d: usize| format!("{}.doses[{d}]", path());
    for d in 0..doses.len() {
        // An earlier entry at the same time (solid doses keep their times).
        let twice = doses[..d].iter().any(|e| e.time == doses[d].time);
        let dose = &mut doses[d];
        let times = if c.item.as_needed {
            match dose.times_a_day {
                Some(t) if t >= 1 => {
                    let time = as_needed_time(t);
                    if dose.time != time {
                        dose.time = time;
                    }
                    f64::from(t)
                }
                _ => {
                    err(
                        format!("{}.times_a_day", dp(d)),
                        "required for an as-needed item: the most doses allowed a day (1 or more)"
                            .to_string(),
                    );
                    1.0
                }
            }
        } else if c.kind == LineKind::Patch {
            if dose.time != c.patch_time {
                dose.time.clone_from(&c.patch_time);
            }
            dose.times_a_day = None;
            1.0
        } else {
            if !c.item.dose_times.contains(&dose.time) {
                err(
                    format!("{}.time", dp(d)),
                    format!(
                        "'{}' is not a dose time of this item (its times: {})",
                        dose.time,
                        c.item.dose_times.join(", ")
                    ),
                );
            } else if twice {
                err(
                    format!("{}.time", dp(d)),
                    format!("'{}' is given twice", dose.time),
                );
            }
            dose.times_a_day = None;
            1.0
        };
        if dose.units.is_empty() {
            err(
                format!("{}.units", dp(d)),
                "must list what to take (leave the dose time out to take nothing then)".to_string(),
            );
        }
        let mut count_here = 0.0;
        for (u, unit) in dose.units.iter().enumerate() {
            let up = || format!("{}.units[{u}]", dp(d));
            match (c.kind, unit) {
                (LineKind::Solid, UnitAmount::Solid(s)) => {
                    if !c.strengths.iter().any(|x| close(*x, s.strength_mg)) {
                        err(
                            format!("{}.strength_mg", up()),
                            format!(
                                "{} mg is not a strength of {} ({} mg)",
                                num(s.strength_mg),
                                c.item.product,
                                strengths()
                            ),
                        );
                    }
                    if s.count.fract() != 0.0 || s.count < 1.0 {
                        err(
                            format!("{}.count", up()),
                            format!(
                                "must be a whole number of tablets or capsules, at least 1 (got {}); tablets are never split in a plan",
                                num(s.count)
                            ),
                        );
                    }
                    count_here += s.count;
                    daily += s.strength_mg * s.count * times;
                    if let Some(p) = c.paracetamol {
                        paracetamol += p * s.count * times;
                    }
                    add(&mut per_strength, s.strength_mg, s.count * times);
                }
                (LineKind::Patch, UnitAmount::Patch(s)) => {
                    if !c
                        .strengths
                        .iter()
                        .any(|x| close(*x, s.strength_mcg_per_hour))
                    {
                        err(
                            format!("{}.strength_mcg_per_hour", up()),
                            format!(
                                "{} micrograms/hour is not a strength of {} ({} micrograms/hour)",
                                num(s.strength_mcg_per_hour),
                                c.item.product,
                                strengths()
                            ),
                        );
                    }
                    if s.count.fract() != 0.0 || s.count < 1.0 {
                        err(
                            format!("{}.count", up()),
                            format!("must be a whole number of patches, at least 1 (got {}); patches are never cut", num(s.count)),
                        );
                    }
                    count_here += s.count;
                    let rate = reference
                        .patch_label(&c.item.drug, s.strength_mcg_per_hour)
                        .map_or(s.strength_mcg_per_hour, |l| l.counts_as_mcg_per_hour);
                    daily += rate * s.count;
                    add(&mut per_strength, s.strength_mcg_per_hour, s.count);
                }
                (LineKind::Liquid, UnitAmount::Liquid(s)) => {
                    if !c.strengths.iter().any(|x| close(*x, s.strength_mg_per_ml)) {
                        err(
                            format!("{}.strength_mg_per_ml", up()),
                            format!(
                                "{} mg/mL is not the strength of {} ({} mg/mL)",
                                num(s.strength_mg_per_ml),
                                c.item.product,
                                strengths()
                            ),
                        );
                    }
                    let measures = s.ml / c.measure;
                    if s.ml.is_nan() || s.ml <= 0.0 || (measures - measures.round()).abs() > 1e-9 {
                        err(
                            format!("{}.ml", up()),
                            format!(
                                "must be a whole number of {} mL measures, more than 0 (got {})",
                                num(c.measure),
                                num(s.ml)
                            ),
                        );
                    }
                    daily += s.strength_mg_per_ml * s.ml * times;
                    add(&mut per_strength, s.strength_mg_per_ml, s.ml * times);
                }
                _ => err(
                    up(),
                    format!(
                        "{} is given as {}: use {}",
                        c.item.product,
                        match c.kind {
                            LineKind::Solid => "tablets or capsules",
                            LineKind::Liquid => "an oral solution",
                            LineKind::Patch => "patches",
                        },
                        match c.kind {
                            LineKind::Solid => "{\"strength_mg\": ..., \"count\": ...}",
                            LineKind::Liquid => "{\"strength_mg_per_ml\": ..., \"ml\": ...}",
                            LineKind::Patch => "{\"strength_mcg_per_hour\": ..., \"count\": ...}",
                        }
                    ),
                ),
            }
        }
        if count_here > c.max_units {
            err(
                format!("{}.units", dp(d)),
                format!(
                    "{} units at once is more than the {} allowed",
                    num(count_here),
                    num(c.max_units)
                ),
            );
        }
    }
    if errors.len() > before {
        return None;
    }
    // Largest strength first, as supply lines are listed.
    per_strength.sort_by(|x, y| y.0.total_cmp(&x.0));
    Some(Amounts {
        daily,
        ome: daily * c.factor,
        paracetamol: c.paracetamol.map(|_| paracetamol),
        per_strength,
        as_needed: c.item.as_needed,
    })
}

fn unit_words(form: Form, n: f64) -> &'static str {
    let one = close(n, 1.0);
    match (form, one) {
        (Form::Tablet, true) => "tablet",
        (Form::Tablet, false) => "tablets",
        (Form::Capsule, true) => "capsule",
        (Form::Capsule, false) => "capsules",
        (Form::Patch, true) => "patch",
        (Form::Patch, false) => "patches",
        (Form::Solution, _) => "mL",
    }
}

/// "28 × 10 mg tablets", "140 mL (10 mg/5 mL)", "5 × 25 micrograms/hour patches".
fn describe_supply(s: &SupplyLine) -> String {
    let text = match s.strength_unit {
        // A combination is dispensed by both strengths (30/500), never "30 mg".
        StrengthUnit::Mg => format!(
            "{} × {} {}",
            num(s.quantity),
            s.strength_label
                .clone()
                .unwrap_or_else(|| format!("{} mg", num(s.strength))),
            unit_words(s.form, s.quantity)
        ),
        StrengthUnit::MgPerMl => format!(
            "{} mL ({})",
            num(s.quantity),
            s.strength_label
                .clone()
                .unwrap_or_else(|| format!("{} mg/mL", num(s.strength)))
        ),
        StrengthUnit::McgPerHour => format!(
            "{} × {} micrograms/hour {}",
            num(s.quantity),
            num(s.strength),
            unit_words(s.form, s.quantity)
        ),
    };
    if s.as_needed_maximum {
        format!("{text} (enough for the most allowed)")
    } else {
        text
    }
}

/// Adds one item's supply for a step of `days` days (largest strength first,
/// as `amounts` sorts them)
/// to `supply`, dispensing two items of the same product and strength
/// together. A line is made (its texts written) only for a product and
/// strength not yet in `supply`: this runs for every item of every step and
/// prescription, and making a line per item to merge it away made the plan
/// allocation-bound (issue 20).
fn add_supply(supply: &mut Vec<SupplyLine>, c: &ItemCtx<'_>, a: &Amounts, days: u32) {
    let form = c.item.form.unwrap_or(c.row.form);
    let days_f = f64::from(days);
    for &(strength, n) in &a.per_strength {
        let (quantity, strength_unit) = match c.kind {
            LineKind::Solid => (n * days_f, StrengthUnit::Mg),
            LineKind::Liquid => (n * days_f, StrengthUnit::MgPerMl),
            LineKind::Patch => {
                // A new patch at each change over the step's days (a
                // part-worn last patch still counts). Patches worn 3 or 4
                // days are changed twice a week: on average every
                // (min + max) / 2 hours.
                let wear = c.row.wear_hours.map_or(24.0, |w| (w.min + w.max) / 2.0);
                ((days_f * 24.0 / wear).ceil() * n, StrengthUnit::McgPerHour)
            }
        };
        let same = supply.iter_mut().find(|s| {
            s.product_id == c.row.id && s.form == form && to_fixed(s.strength) == to_fixed(strength)
        });
        match same {
            Some(s) => {
                s.quantity += quantity;
                s.as_needed_maximum |= a.as_needed;
                // Described by `describe_all` once every line is merged.
            }
            None => supply.push(SupplyLine {
                product: c.item.product.clone(),
                product_id: c.row.id.clone(),
                form,
                strength,
                strength_unit,
                quantity,
                quantity_unit: unit_words(form, 2.0).to_string(),
                as_needed_maximum: a.as_needed,
                description: String::new(),
                // Both parts of a combination (30/500), and a liquid as its
                // bottle says it (10 mg/5 mL, never 2 mg/mL beside 20 mg/mL).
                strength_label: (c.row.second_part(strength).is_some()
                    || matches!(c.kind, LineKind::Liquid))
                .then(|| c.row.strength_label(strength)),
            }),
        }
    }
}

/// Writes each line's description, once its quantity is final (describing at
/// every merge formatted numbers per item: quadratic in a step's items).
fn describe_all(lines: &mut [SupplyLine]) {
    for l in lines {
        l.description = describe_supply(l);
    }
}

/// Splits a step of `days` into prescriptions of at most `max` days, as even
/// as they can be; when patches are worn, each prescription covers whole patch
/// changes (`cycles`: days of each worn patch's change cycle).
pub(crate) fn prescription_days(
    days: u32,
    cycles: impl Iterator<Item = u32>,
    max: u32,
) -> Vec<u32> {
    let mut unit = cycles.fold(1, |acc, c| if c == 0 { acc } else { acc / gcd(acc, c) * c });
    if unit == 0 || !days.is_multiple_of(unit) || unit > max {
        unit = 1;
    }
    if days <= max {
        return vec![days];
    }
    let total = days / unit;
    let per = (max / unit).max(1);
    let n = total.div_ceil(per);
    let (base, extra) = (total / n, total % n);
    (0..n)
        .map(|i| (base + u32::from(i < extra)) * unit)
        .collect()
}

/// The most days one prescription may cover so that no issue of oral morphine
/// solution is over the audit quantity (HSSIB; OpenPrescribing's measure;
/// case-finding's `liquid-issue-max-ml`, the number the `morphine-solution-quantity`
/// flag reads): a step's 560 mL becomes two issues of at most 300 mL.
/// `u32::MAX` when the step has no such liquid.
fn morphine_solution_days(supply: &[SupplyLine], days: u32, reference: &Reference) -> u32 {
    let limit = reference
        .casefinding
        .setting(crate::reference::casefinding::CaseFindingSetting::LiquidIssueMaxMl);
    supply
        .iter()
        .filter(|l| l.strength_unit == StrengthUnit::MgPerMl && l.quantity > 0.0)
        .filter(|l| {
            reference.products.rows.iter().any(|r| {
                r.id == l.product_id
                    && r.drug == "morphine"
                    && r.route == Route::Oral
                    && r.form == Form::Solution
            })
        })
        .map(|l| {
            let per_day = l.quantity / f64::from(days.max(1));
            // At least a day's supply, whatever the volume; never more days than the step.
            let most = (limit / per_day).floor().clamp(1.0, f64::from(days.max(1)));
            // Safe: a whole number between 1 and the step's days.
            most as u32
        })
        .min()
        .unwrap_or(u32::MAX)
}

fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// Recomputes every derived field of `plan` from its doses and lengths, and
/// checks the rules in the module comment. Problems are reported with their
/// paths (`steps[3].items[0].doses[1].units[0].strength_mg`).
pub(crate) fn finish(plan: &mut Plan, reference: &Reference) -> Result<(), Vec<FieldError>> {
    let mut errors = Vec::new();
    let items = plan.items.clone();
    let contexts: Vec<Option<ItemCtx<'_>>> = items
        .iter()
        .map(|pi| {
            if !pi.tapered {
                return None;
            }
            match ctx(pi, plan, reference, &format!("items[{}]", pi.index)) {
                Ok(c) => Some(c),
                Err(e) => {
                    errors.push(e);
                    None
                }
            }
        })
        .collect();
    if !errors.is_empty() {
        return Err(errors);
    }
    if plan.steps.is_empty() {
        return Err(vec![FieldError::new(
            "steps",
            "a plan has at least one step",
        )]);
    }
    let unit = per_day(plan.profile);
    // Lookups by item index are hashed, not searched, so a plan is near-linear
    // in its items (issue 20: 30,000 items took 14 s).
    let mut starting: FxHashMap<u32, &StepItem> = FxHashMap::default();
    for s in &plan.starting_items {
        starting.entry(s.index).or_insert(s);
    }
    let mut prev_amount: Vec<f64> = items
        .iter()
        .map(|pi| {
            starting
                .get(&pi.index)
                .map_or(0.0, |s| s.daily_amount_value)
        })
        .collect();
    let starting: FxHashMap<u32, StepItem> =
        starting.into_iter().map(|(i, s)| (i, s.clone())).collect();
    let known: FxHashSet<u32> = items.iter().map(|pi| pi.index).collect();
    let mut prev_total = plan.ome_start;
    let mut date = plan.start_date;
    let n_steps = plan.steps.len();
    for (si, step) in plan.steps.iter_mut().enumerate() {
        let sp = format!("steps[{si}]");
        step.step = u32::try_from(si + 1).unwrap_or(u32::MAX);
        if step.days == 0 {
            errors.push(FieldError::new(format!("{sp}.days"), "must be at least 1"));
            continue;
        }
        step.start_date = date;
        let Some(end) = date.checked_add_days(Days::new(u64::from(step.days) - 1)) else {
            errors.push(FieldError::new(
                format!("{sp}.days"),
                "the plan would run past the end of the calendar",
            ));
            break;
        };
        step.end_date = end;
        date = end.checked_add_days(Days::new(1)).unwrap_or(end);

        let mut new_items = Vec::with_capacity(items.len());
        let mut total = 0.0;
        let mut paracetamol: Option<f64> = None;
        let mut supply: Vec<SupplyLine> = Vec::new();
        let mut dispensed: Vec<(usize, Amounts)> = Vec::new();
        let mut tapered_left = false;
        // Each item's first entry in the step, and the items given doses in it.
        let mut pos_of: FxHashMap<u32, usize> = FxHashMap::default();
        let mut dosed: FxHashSet<u32> = FxHashSet::default();
        for (p, s) in step.items.iter().enumerate() {
            pos_of.entry(s.index).or_insert(p);
            if !s.doses.is_empty() {
                dosed.insert(s.index);
            }
        }
        for (ii, pi) in items.iter().enumerate() {
            let Some(c) = &contexts[ii] else {
                // Held: exactly as entered, in every step.
                if let Some(s) = starting.get(&pi.index) {
                    let mut s = s.clone();
                    s.change = ItemChange::Held;
                    total += s.ome_mg_per_day.unwrap_or(0.0);
                    if let Some(p) = s.paracetamol_mg_per_day {
                        *paracetamol.get_or_insert(0.0) += p;
                    }
                    new_items.push(s);
                }
                continue;
            };
            let pos = pos_of.get(&pi.index).copied();
            // Taken, not cloned: the step's items are replaced by `new_items`.
            let mut doses = pos
                .map(|p| std::mem::take(&mut step.items[p].doses))
                .unwrap_or_default();
            let ip = || format!("{sp}.items[{}]", pos.unwrap_or(0));
            let Some(a) = amounts(c, &mut doses, reference, &ip, &mut errors) else {
                continue;
            };
            let prev = prev_amount[ii];
            prev_amount[ii] = a.daily;
            if a.daily <= 0.0 && prev <= 0.0 {
                // Stopped in an earlier step: left out.
                continue;
            }
            let change = if a.daily <= 0.0 {
                ItemChange::Stopped
            } else if to_fixed(a.daily) < to_fixed(prev) {
                ItemChange::Reduced
            } else if to_fixed(a.daily) > to_fixed(prev) {
                ItemChange::Increased
            } else {
                ItemChange::Same
            };
            tapered_left |= a.daily > 0.0;
            total += a.ome;
            if let Some(p) = a.paracetamol {
                *paracetamol.get_or_insert(0.0) += p;
            }
            add_supply(&mut supply, c, &a, step.days);
            let daily_unit = if c.kind == LineKind::Patch {
                AmountUnit::McgPerHour
            } else {
                AmountUnit::MgPerDay
            };
            new_items.push(StepItem {
                index: pi.index,
                drug: pi.drug.clone(),
                route: pi.route,
                release: pi.release,
                form: pi.form,
                product: pi.product.clone(),
                product_id: pi.product_id.clone(),
                as_needed: pi.as_needed,
                doses,
                daily_amount: format!(
                    "{} {}",
                    num(a.daily),
                    if c.kind == LineKind::Patch {
                        "micrograms/hour"
                    } else {
                        "mg"
                    }
                ),
                daily_amount_value: round2(a.daily),
                daily_amount_unit: daily_unit,
                ome_mg_per_day: Some(round2(a.ome)),
                paracetamol_mg_per_day: a.paracetamol.map(round2),
                change,
            });
            dispensed.push((ii, a));
        }
        // Unknown item indexes in the step are an error, not silently dropped.
        for (j, s) in step.items.iter().enumerate() {
            if !known.contains(&s.index) {
                errors.push(FieldError::new(
                    format!("{sp}.items[{j}].index"),
                    format!("no item {} in the plan", s.index),
                ));
            }
        }
        let total = round2(total);
        let last = si + 1 == n_steps;
        // Never a stop on day one: step 1 is at most a (clinician-edited) reduction.
        step.kind = if last && !tapered_left && si > 0 {
            StepKind::Stop
        } else if si == 0 && (total - prev_total).abs() <= EPS {
            StepKind::Start
        } else if total > prev_total + EPS {
            StepKind::Increase
        } else if (total - prev_total).abs() <= EPS {
            StepKind::Pause
        } else {
            StepKind::Reduce
        };
        if total > prev_total + EPS && step.reason.as_deref().is_none_or(|r| r.trim().is_empty()) {
            errors.push(FieldError::new(
                sp.clone(),
                format!(
                    "step {}'s total would rise from {} to {} {unit}; totals never rise unless the change is marked as an intentional hold or reversal with a reason",
                    si + 1,
                    num(prev_total),
                    num(total)
                ),
            ));
        }
        if step.kind == StepKind::Stop && step.days != 1 {
            errors.push(FieldError::new(
                format!("{sp}.days"),
                format!(
                    "the stop step marks the day the medicines stop, so it lasts 1 day (got {})",
                    step.days
                ),
            ));
        }
        if step.kind != StepKind::Stop {
            // Whole patch changes: no patch wasted, change days never drift.
            let cycle = items
                .iter()
                .zip(&contexts)
                .filter_map(|(pi, c)| c.as_ref().map(|c| (pi, c)))
                .filter(|(pi, c)| c.kind == LineKind::Patch && dosed.contains(&pi.index))
                .filter_map(|(_, c)| patch_cycle_days(c.row))
                .find(|c| !step.days.is_multiple_of(*c));
            if let Some(cycle) = cycle {
                errors.push(FieldError::new(
                    format!("{sp}.days"),
                    format!(
                        "a step with a patch lasts whole patch changes: a multiple of {cycle} days (got {})",
                        step.days
                    ),
                ));
            }
        }
        step.is_pause = step.kind == StepKind::Pause;
        step.change_ome_mg_per_day = round2(total - prev_total);
        step.percent_of_start = if plan.ome_start > 0.0 {
            round2(total / plan.ome_start * 100.0)
        } else {
            0.0
        };
        step.total_ome_mg_per_day = total;
        step.items = new_items;
        step.prescriptions = if supply.is_empty() {
            Vec::new()
        } else {
            let parts = prescription_days(
                step.days,
                dispensed
                    .iter()
                    .filter_map(|(ii, a)| contexts[*ii].as_ref().map(|c| (c, a)))
                    .filter(|(c, a)| c.kind == LineKind::Patch && a.daily > 0.0)
                    .filter_map(|(c, _)| patch_cycle_days(c.row)),
                TaperRules::of(reference)
                    .cd_supply()
                    .0
                    .min(morphine_solution_days(&supply, step.days, reference)),
            );
            let mut start = step.start_date;
            parts
                .iter()
                .enumerate()
                .map(|(n, days)| {
                    let mut lines = Vec::new();
                    for (ii, a) in &dispensed {
                        if let Some(c) = &contexts[*ii] {
                            add_supply(&mut lines, c, a, *days);
                        }
                    }
                    describe_all(&mut lines);
                    let end = start
                        .checked_add_days(Days::new(u64::from(*days).saturating_sub(1)))
                        .unwrap_or(start);
                    let p = Prescription {
                        number: u32::try_from(n + 1).unwrap_or(u32::MAX),
                        start_date: start,
                        end_date: end,
                        days: *days,
                        supply: lines,
                    };
                    start = end.checked_add_days(Days::new(1)).unwrap_or(end);
                    p
                })
                .collect()
        };
        describe_all(&mut supply);
        step.supply = supply;
        step.paracetamol_mg_per_day = paracetamol.map(round2);
        prev_total = total;
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    if let Some(last) = plan.steps.last() {
        plan.ome_end = last.total_ome_mg_per_day;
        plan.end_date = last.end_date;
    }
    let held = plan.items.iter().any(|i| !i.tapered);
    let queried = plan.items.iter().any(|i| i.prescriber_query.is_some());
    plan.ome_end_complete = plan.items.iter().all(|i| i.ome_start.is_some());
    // A held or unconvertible item is never "target reached": its dose is not
    // reduced, or the end total leaves it out.
    plan.target_reached = plan.ome_end <= plan.target_ome_mg_per_day + EPS && !held && !queried;
    actual_rate(plan);

    // Warnings that follow from the steps are rebuilt each time.
    plan.warnings.retain(|w| {
        !w.starts_with(INCREASE_PREFIX)
            && !w.starts_with(TARGET_PREFIX)
            && !w.starts_with(GUIDANCE_PREFIX)
    });
    let mut prev = plan.ome_start;
    let mut extra = Vec::new();
    for s in &plan.steps {
        if s.kind == StepKind::Increase {
            extra.push(format!(
                "{INCREASE_PREFIX}step {} goes up from {} to {} {unit} ({}). Tolerance falls during a taper, so going back to an earlier dose can cause an overdose: check the dose and tell the patient.",
                s.step,
                num(prev),
                num(s.total_ome_mg_per_day),
                s.reason.as_deref().unwrap_or("no reason given")
            ));
        }
        prev = s.total_ome_mg_per_day;
    }
    if !plan.target_reached {
        let why = if !plan.ome_end_complete {
            " (incomplete: items that cannot be converted are left out of the total, and are not reduced)"
        } else if held || queried {
            ", because held items stay at their current dose (see the questions for the prescriber)"
        } else {
            ""
        };
        extra.push(format!(
            "{TARGET_PREFIX}the plan ends at {} {unit}, not the target of {}{why}.",
            num(plan.ome_end),
            num(plan.target_ome_mg_per_day),
        ));
    }
    if let Some(w) = guidance_warning(plan, reference) {
        extra.push(w);
    }
    plan.warnings.extend(extra);
    let problems = super::safety::check(plan, plan.edits_applied.is_empty());
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

/// "steps 2, 4 and 6" / "step 3".
fn step_list(steps: &[u32]) -> String {
    let words: Vec<String> = steps.iter().map(ToString::to_string).collect();
    match words.as_slice() {
        [one] => format!("step {one}"),
        [rest @ .., last] => format!("steps {} and {last}", rest.join(", ")),
        [] => String::new(),
    }
}

/// One warning naming the reductions outside the guidance range
/// (`taper.json` `guidance-step`: a cut above the share of its reference dose,
/// or a reduced dose kept for less than the shortest step).
fn guidance_warning(plan: &Plan, reference: &Reference) -> Option<String> {
    let (max_percent, min_days, source) = TaperRules::of(reference).guidance_step();
    let mut big = Vec::new();
    let mut short = Vec::new();
    let mut prev = plan.ome_start;
    for s in &plan.steps {
        let reference_dose = match plan.options.of {
            super::ReductionOf::Original => plan.ome_start,
            super::ReductionOf::Current => prev,
        };
        let drop = prev - s.total_ome_mg_per_day;
        if (s.kind == StepKind::Reduce || s.kind == StepKind::Stop)
            && reference_dose > 0.0
            && drop / reference_dose * 100.0 > max_percent + 1e-6
        {
            big.push(s.step);
        }
        if s.kind == StepKind::Reduce && s.days < min_days {
            short.push(s.step);
        }
        prev = s.total_ome_mg_per_day;
    }
    if big.is_empty() && short.is_empty() {
        return None;
    }
    let mut parts = Vec::new();
    if !big.is_empty() {
        parts.push(format!(
            "{} cut{} more than {}% of the reference dose",
            capitalise_first(&step_list(&big)),
            if big.len() == 1 { "s" } else { "" },
            num(max_percent)
        ));
    }
    if !short.is_empty() {
        parts.push(format!(
            "{} last{} less than {min_days} days",
            capitalise_first(&step_list(&short)),
            if short.len() == 1 { "s" } else { "" },
        ));
    }
    Some(format!(
        "{GUIDANCE_PREFIX}{}. Check the patient can manage it and review often. ({source}.)",
        parts.join("; ")
    ))
}

fn capitalise_first(s: &str) -> String {
    super::schedule::capitalise(s)
}

/// The plan's actual average rate, from the start to its last reduction, as
/// a share of the starting total per interval; the label says it when it
/// differs from the rate asked for (real strengths force other steps).
fn actual_rate(plan: &mut Plan) {
    let o = &mut plan.options;
    o.actual_percent_per_interval = None;
    o.label = o.requested_label.clone();
    let Some(last) = plan
        .steps
        .iter()
        .rposition(|s| matches!(s.kind, StepKind::Reduce | StepKind::Stop))
    else {
        return;
    };
    // Time from the start to the last reduction, and, when the plan ends on a
    // dose rather than a stop, the time spent at that dose too.
    let upto = if plan.steps[last].kind == StepKind::Stop {
        last
    } else {
        last + 1
    };
    let days: u32 = plan.steps[..upto].iter().map(|s| s.days).sum();
    let cut = plan.ome_start - plan.steps[last].total_ome_mg_per_day;
    if days == 0 || cut <= 0.0 || plan.ome_start <= 0.0 {
        return;
    }
    let pct = cut / plan.ome_start * 100.0 * f64::from(o.interval_days) / f64::from(days);
    let pct = (pct * 10.0).round() / 10.0;
    o.actual_percent_per_interval = Some(pct);
    if (pct - o.reduction_percent).abs() >= 0.05 {
        o.label = format!(
            "{} (actual average: {})",
            o.requested_label,
            super::rate_words(pct, super::ReductionOf::Original, o.interval_days)
        );
    }
}
