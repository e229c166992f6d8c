//! Invariants every generated taper plan must satisfy, checked independently
//! of the planner: totals and quantities are recomputed here from the doses
//! and the reference catalogue, not taken from the plan.
//!
//! Used by the CLI case tests, the property tests and the benchmark's sanity check.

#![allow(dead_code)]

use stepdown::reference::{Conversion, Reference};
use stepdown::taper::rules::RangeField;
use stepdown::taper::{ItemChange, Plan, ReductionOf, StepItem, StepKind, TaperRules, UnitAmount};
use stepdown::vocabulary::Form;

const EPS: f64 = 0.011;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

/// Strengths the catalogue lists for an item's product line in its form.
fn catalogue_strengths(reference: &Reference, product_id: &str, form: Option<Form>) -> Vec<f64> {
    let Some(row) = reference.products.rows.iter().find(|r| r.id == product_id) else {
        return Vec::new();
    };
    match row.form {
        Form::Patch => row.strengths_mcg_per_hour.clone().unwrap_or_default(),
        Form::Solution => row.strengths_mg_per_ml.clone().unwrap_or_default(),
        f if form.is_none() || form == Some(f) => row.strengths_mg.clone().unwrap_or_default(),
        _ => row
            .other_forms
            .iter()
            .find(|o| Some(o.form) == form)
            .map(|o| o.strengths_mg.clone())
            .unwrap_or_default(),
    }
}

/// mg OME a day of one tapered step item, from its doses.
fn item_ome(plan: &Plan, item: &StepItem, reference: &Reference) -> f64 {
    let factor = match reference.conversion(plan.profile, &item.drug, item.route) {
        Conversion::Factor { factor, .. } => factor,
        Conversion::NotConvertible { .. } => return 0.0,
    };
    let mut daily = 0.0;
    for d in &item.doses {
        let times = f64::from(d.times_a_day.unwrap_or(1));
        for u in &d.units {
            daily += match u {
                UnitAmount::Solid(s) => s.strength_mg * s.count * times,
                UnitAmount::Liquid(l) => l.strength_mg_per_ml * l.ml * times,
                UnitAmount::Patch(p) => {
                    let rate = reference
                        .patch_label(&item.drug, p.strength_mcg_per_hour)
                        .map_or(p.strength_mcg_per_hour, |l| l.counts_as_mcg_per_hour);
                    rate * p.count
                }
            };
        }
    }
    daily * factor
}

/// The most one rung can take off an item, from its doses in the step before
/// (independent of the planner): a regular dose loses at most the smallest
/// unit in its composition (removing that unit is always makeable); an
/// as-needed item loses at most one whole dose a day.
fn largest_rung(plan: &Plan, item: &StepItem, reference: &Reference) -> f64 {
    let factor = match reference.conversion(plan.profile, &item.drug, item.route) {
        Conversion::Factor { factor, .. } => factor,
        Conversion::NotConvertible { .. } => return 0.0,
    };
    let amount = |u: &UnitAmount| match u {
        UnitAmount::Solid(s) => s.strength_mg,
        UnitAmount::Liquid(l) => l.strength_mg_per_ml * l.ml,
        UnitAmount::Patch(p) => reference
            .patch_label(&item.drug, p.strength_mcg_per_hour)
            .map_or(p.strength_mcg_per_hour, |l| l.counts_as_mcg_per_hour),
    };
    let mut worst: f64 = 0.0;
    for d in &item.doses {
        let b = if item.as_needed {
            d.units
                .iter()
                .map(|u| {
                    amount(u)
                        * match u {
                            UnitAmount::Solid(s) => s.count,
                            UnitAmount::Patch(p) => p.count,
                            UnitAmount::Liquid(_) => 1.0,
                        }
                })
                .sum()
        } else {
            match d.units.first() {
                Some(UnitAmount::Liquid(l)) => {
                    l.strength_mg_per_ml * TaperRules::of(reference).liquid_measure().0
                }
                _ => d.units.iter().map(amount).fold(f64::INFINITY, f64::min),
            }
        };
        if b.is_finite() {
            worst = worst.max(b);
        }
    }
    worst * factor
}

/// Days of one patch-change cycle of a catalogue row (3 for 72-hour patches,
/// 7 for weekly ones and for patches changed twice a week).
pub fn patch_cycle(reference: &Reference, product_id: &str) -> Option<u32> {
    let row = reference
        .products
        .rows
        .iter()
        .find(|r| r.id == product_id)?;
    let w = row.wear_hours?;
    let hours = if w.min == w.max { w.min } else { w.min + w.max };
    Some((hours / 24.0) as u32)
}

/// Every invariant the issue names, for a plan generated without edits.
/// Returns the violations (empty when the plan is sound).
pub fn violations(plan: &Plan, reference: &Reference) -> Vec<String> {
    let mut v = Vec::new();
    if plan.steps.is_empty() {
        return vec!["no steps".into()];
    }
    // Step 1 is the current regimen exactly: never rounded down, never a stop.
    let first = &plan.steps[0];
    if (first.total_ome_mg_per_day - plan.ome_start).abs() > EPS || first.kind != StepKind::Start {
        v.push(format!(
            "step 1 is {} ({:?}), not the current regimen at {}",
            first.total_ome_mg_per_day, first.kind, plan.ome_start
        ));
    }
    for s in &plan.steps {
        // The product line never changes: every step item keeps its plan item's product.
        for it in &s.items {
            let Some(pi) = plan.items.iter().find(|p| p.index == it.index) else {
                v.push(format!("step {}: unknown item {}", s.step, it.index));
                continue;
            };
            if pi.tapered && (it.product_id != pi.product_id || it.form != pi.form) {
                v.push(format!(
                    "step {}: item {} changes product line from {:?} to {:?}",
                    s.step, it.index, pi.product_id, it.product_id
                ));
            }
        }
        // Steps with a patch on last whole patch changes.
        if s.kind != StepKind::Stop {
            for it in s.items.iter().filter(|i| {
                i.form == Some(Form::Patch) && i.change != ItemChange::Held && !i.doses.is_empty()
            }) {
                if let Some(c) = it
                    .product_id
                    .as_deref()
                    .and_then(|p| patch_cycle(reference, p))
                {
                    if !s.days.is_multiple_of(c) {
                        v.push(format!(
                            "step {}: {} days is not whole {c}-day patch changes",
                            s.step, s.days
                        ));
                    }
                }
            }
        }
    }
    // Dates contiguous, from the start date.
    let mut expect_start = plan.start_date;
    for s in &plan.steps {
        if s.start_date != expect_start {
            v.push(format!(
                "step {} starts {} (expected {expect_start})",
                s.step, s.start_date
            ));
        }
        if s.days == 0 || (s.end_date - s.start_date).num_days() + 1 != i64::from(s.days) {
            v.push(format!(
                "step {}: {} days but {}..{}",
                s.step, s.days, s.start_date, s.end_date
            ));
        }
        expect_start = s.end_date.succ_opt().unwrap_or(s.end_date);
    }
    let pct = plan.options.reduction_percent / 100.0;
    let mut prev_total = plan.ome_start;
    let mut prev_items: Vec<StepItem> = plan.starting_items.clone();
    for s in &plan.steps {
        // Totals recomputed from the doses.
        let held: f64 = s
            .items
            .iter()
            .filter(|i| i.change == ItemChange::Held)
            .filter_map(|i| i.ome_mg_per_day)
            .sum();
        let tapered: f64 = s
            .items
            .iter()
            .filter(|i| i.change != ItemChange::Held)
            .map(|i| item_ome(plan, i, reference))
            .sum();
        let total = held + tapered;
        if (total - s.total_ome_mg_per_day).abs() > EPS {
            v.push(format!(
                "step {}: total {} but the doses give {total}",
                s.step, s.total_ome_mg_per_day
            ));
        }
        // Totals never rise.
        if s.total_ome_mg_per_day > prev_total + 1e-9 {
            v.push(format!(
                "step {}: total rises from {prev_total} to {}",
                s.step, s.total_ome_mg_per_day
            ));
        }
        if s.kind == StepKind::Increase {
            v.push(format!("step {}: an increase in a generated plan", s.step));
        }
        // No step drops more than the requested reduction plus one smallest decrement.
        let drop = prev_total - s.total_ome_mg_per_day;
        let requested = match plan.options.of {
            ReductionOf::Original => pct * plan.ome_start,
            ReductionOf::Current => pct * prev_total,
        };
        if let Some(r) = s.requested_reduction_ome_mg_per_day {
            if (r - requested).abs() > EPS {
                v.push(format!(
                    "step {}: requested {r}, expected {requested}",
                    s.step
                ));
            }
        }
        let reduced: Vec<&StepItem> = prev_items
            .iter()
            .filter(|p| p.change != ItemChange::Held)
            .filter(|p| {
                let now = s.items.iter().find(|i| i.index == p.index);
                now.is_none_or(|i| {
                    item_ome(plan, i, reference) < item_ome(plan, p, reference) - 1e-9
                })
            })
            .collect();
        let bound = reduced
            .iter()
            .map(|p| largest_rung(plan, p, reference))
            .fold(0.0, f64::max);
        // Never more than asked, unless one smallest real cut is itself bigger:
        // then the drop is exactly that smallest cut (the step's
        // `smallest_decrement`), and that is no more than taking one smallest
        // unit off (always makeable; `largest_rung`, worked out from the doses).
        if drop > requested + EPS {
            match s.smallest_decrement_ome_mg_per_day {
                Some(smallest) if (drop - smallest).abs() <= 0.011 => {
                    if smallest > bound + 0.011 {
                        v.push(format!(
                            "step {}: smallest decrement {smallest} claimed, but taking one unit off cuts only {bound}",
                            s.step
                        ));
                    }
                }
                other => v.push(format!(
                    "step {}: drops {drop}, more than the {requested} requested, and not exactly the smallest makeable decrement ({other:?})",
                    s.step
                )),
            }
        }
        // A cut bigger than asked is given proportionally longer (to the cap):
        // the step itself, or for the stop day the step before it.
        if plan.options.lengthen_interval && drop > requested + EPS && requested > 0.0 {
            let cap = TaperRules::of(reference)
                .range(RangeField::IntervalDays)
                .max
                .max(f64::from(plan.options.interval_days));
            let want = (f64::from(plan.options.interval_days) * drop / requested).min(cap);
            let idx = (s.step - 1) as usize;
            // For the stop day: the time at the last dose (the step before, and any pause after it).
            let days = if s.kind == StepKind::Stop && idx > 0 {
                let last_total = plan.steps[idx - 1].total_ome_mg_per_day;
                plan.steps[..idx]
                    .iter()
                    .rev()
                    .take_while(|x| (x.total_ome_mg_per_day - last_total).abs() < 1e-9)
                    .map(|x| x.days)
                    .sum()
            } else {
                s.days
            };
            // Slack: rounding to whole days and to whole patch changes.
            if f64::from(days) + 7.0 < want {
                v.push(format!(
                    "step {}: a cut of {drop} where {requested} was asked lasts {days} days, not about {want}",
                    s.step
                ));
            }
        }
        // Controlled-drug supply: prescriptions of at most the reference days,
        // covering the step, adding up to its supply.
        let max_days = TaperRules::of(reference).cd_supply().0;
        if !s.supply.is_empty() {
            let days: u32 = s.prescriptions.iter().map(|p| p.days).sum();
            if days != s.days || s.prescriptions.iter().any(|p| p.days > max_days) {
                v.push(format!(
                    "step {}: prescriptions of {:?} days for a {}-day step",
                    s.step,
                    s.prescriptions.iter().map(|p| p.days).collect::<Vec<_>>(),
                    s.days
                ));
            }
            for line in &s.supply {
                let split: f64 = s
                    .prescriptions
                    .iter()
                    .flat_map(|p| &p.supply)
                    .filter(|l| l.product_id == line.product_id && l.strength == line.strength)
                    .map(|l| l.quantity)
                    .sum();
                // Patches are counted per change, so a split can only add a part-worn one.
                let ok = if line.form == Form::Patch {
                    split >= line.quantity - 1e-9
                } else {
                    (split - line.quantity).abs() < 1e-6
                };
                if !ok {
                    v.push(format!(
                        "step {}: prescriptions dispense {split} of {}, the step {}",
                        s.step, line.description, line.quantity
                    ));
                }
            }
        }
        if s.is_pause != (s.kind == StepKind::Pause) {
            v.push(format!("step {}: is_pause disagrees with kind", s.step));
        }
        // Units whole and real; dose times kept; supply = doses x days.
        let mut expected_supply: Vec<(String, u64, f64)> = Vec::new();
        for item in &s.items {
            if item.change == ItemChange::Held {
                continue;
            }
            let Some(pid) = item.product_id.as_deref() else {
                v.push(format!("step {}: tapered item without product", s.step));
                continue;
            };
            let strengths = catalogue_strengths(reference, pid, item.form);
            let pi = plan.items.iter().find(|p| p.index == item.index);
            let row = reference.products.rows.iter().find(|r| r.id == pid);
            for d in &item.doses {
                if let Some(pi) = pi {
                    let ok = if item.as_needed {
                        d.times_a_day.is_some() && d.time.starts_with("up to ")
                    } else if item.form == Some(Form::Patch) {
                        d.time.starts_with("every ")
                    } else {
                        pi.dose_times.contains(&d.time)
                    };
                    if !ok {
                        v.push(format!("step {}: dose time '{}' not kept", s.step, d.time));
                    }
                }
                let times = f64::from(d.times_a_day.unwrap_or(1));
                for u in &d.units {
                    let (strength, n) = match u {
                        UnitAmount::Solid(x) => (x.strength_mg, x.count),
                        UnitAmount::Patch(x) => (x.strength_mcg_per_hour, x.count),
                        UnitAmount::Liquid(x) => (x.strength_mg_per_ml, x.ml),
                    };
                    if !strengths.iter().any(|c| close(*c, strength)) {
                        v.push(format!(
                            "step {}: {} strength {strength} is not in the catalogue ({strengths:?})",
                            s.step, item.product
                        ));
                    }
                    if n.fract() != 0.0 || n < 1.0 {
                        v.push(format!("step {}: {n} units is not whole", s.step));
                    }
                    let qty = match u {
                        UnitAmount::Patch(_) => {
                            // Twice-weekly patches (3 or 4 days) change on average every 84 hours.
                            let wear = row
                                .and_then(|r| r.wear_hours)
                                .map_or(24.0, |w| (w.min + w.max) / 2.0);
                            (f64::from(s.days) * 24.0 / wear).ceil() * n
                        }
                        _ => n * times * f64::from(s.days),
                    };
                    let key = (pid.to_string(), (strength * 1000.0).round() as u64);
                    match expected_supply
                        .iter_mut()
                        .find(|(p, st, _)| *p == key.0 && *st == key.1)
                    {
                        Some(e) => e.2 += qty,
                        None => expected_supply.push((key.0, key.1, qty)),
                    }
                }
            }
        }
        let mut got: Vec<(String, u64, f64)> = s
            .supply
            .iter()
            .map(|l| {
                (
                    l.product_id.clone(),
                    (l.strength * 1000.0).round() as u64,
                    l.quantity,
                )
            })
            .collect();
        got.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
        expected_supply.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
        let same = got.len() == expected_supply.len()
            && got
                .iter()
                .zip(&expected_supply)
                .all(|(a, b)| a.0 == b.0 && a.1 == b.1 && (a.2 - b.2).abs() < 1e-6);
        if !same {
            v.push(format!(
                "step {}: supply {got:?} but doses x days give {expected_supply:?}",
                s.step
            ));
        }
        prev_total = s.total_ome_mg_per_day;
        // Items left out of a step have stopped.
        let mut next = s.items.clone();
        for p in &prev_items {
            if !next.iter().any(|i| i.index == p.index) {
                let mut z = p.clone();
                z.doses.clear();
                next.push(z);
            }
        }
        prev_items = next;
    }
    // The last step reaches the target (unless held items keep the total above
    // it: items held from the start, or at the lowest dose of their line).
    let last = &plan.steps[plan.steps.len() - 1];
    let held_floor: f64 = plan
        .items
        .iter()
        .filter(|i| !i.tapered)
        .filter_map(|i| i.ome_start)
        .sum::<f64>()
        + last
            .items
            .iter()
            .filter(|i| {
                plan.items
                    .iter()
                    .any(|p| p.index == i.index && p.tapered && p.prescriber_query.is_some())
            })
            .filter_map(|i| i.ome_mg_per_day)
            .sum::<f64>();
    let queried = plan.items.iter().any(|i| i.prescriber_query.is_some());
    if (queried || plan.items.iter().any(|i| !i.tapered)) && plan.target_reached {
        v.push("target_reached with an item held".into());
    }
    let target = plan.target_ome_mg_per_day.max(held_floor);
    if last.total_ome_mg_per_day > target + EPS {
        v.push(format!(
            "last step total {} above the target {}",
            last.total_ome_mg_per_day, plan.target_ome_mg_per_day
        ));
    }
    if plan.target_ome_mg_per_day == 0.0 && !queried && plan.items.iter().any(|i| i.tapered) {
        let tapered_left = last
            .items
            .iter()
            .any(|i| i.change != ItemChange::Held && !i.doses.is_empty());
        if tapered_left || last.kind != StepKind::Stop || last.days != 1 {
            v.push("a plan to stop must end with a one-day stop step".into());
        }
    }
    if plan.ome_end != last.total_ome_mg_per_day || plan.end_date != last.end_date {
        v.push("ome_end or end_date disagree with the last step".into());
    }
    v
}
