//! From ladder rungs to what a person takes: dose times with whole units,
//! largest strength first; and the regimen as entered, for held items and the
//! "before step 1" row.

use crate::item::{Dose, Item};
use crate::ome::{convert_item, AmountUnit};
use crate::profile::Profile;
use crate::reference::Reference;
use crate::vocabulary::{num, Form, Release, Route};
use rustc_hash::FxHashMap;

use super::output::{
    DoseTime, ItemChange, LiquidUnits, PatchUnits, PlanItem, SolidUnits, StepItem, UnitAmount,
};
use super::products::{as_needed_time, patch_time, regular_times, Level, LineKind, Shape, Tapered};
use super::schedule::{round2, Prepared};

/// The units making grid amount `k` of an item, largest strength first;
/// marks the strengths used in `in_use`.
pub(crate) fn units_of(t: &Tapered<'_>, k: usize, in_use: &mut [bool]) -> Vec<UnitAmount> {
    let comp = t.comp(k, in_use);
    for (used, n) in in_use.iter_mut().zip(&comp) {
        *used |= *n > 0;
    }
    let mut out = Vec::new();
    for (i, count) in comp.iter().enumerate().rev() {
        if *count == 0 {
            continue;
        }
        let u = &t.line.units[i];
        let n = f64::from(*count);
        out.push(match t.line.kind {
            LineKind::Solid => UnitAmount::Solid(SolidUnits {
                strength_mg: u.label,
                count: n,
            }),
            LineKind::Patch => UnitAmount::Patch(PatchUnits {
                strength_mcg_per_hour: u.label,
                count: n,
            }),
            LineKind::Liquid => UnitAmount::Liquid(LiquidUnits {
                strength_mg_per_ml: t.line.mg_per_ml.unwrap_or(0.0),
                ml: n * u.label,
            }),
        });
    }
    out
}

/// Dose times of an item at a rung (empty when the rung is zero).
///
/// `in_use` carries the strengths of the item's previous step, so that each
/// step prefers the tablets of the one before.
pub(crate) fn doses_of(t: &Tapered<'_>, level: &Level, in_use: &mut Vec<bool>) -> Vec<DoseTime> {
    let mut now = in_use.clone();
    let labels: Vec<(String, Option<u32>)> = match &t.shape {
        Shape::Times(labels) => labels.iter().map(|l| (l.clone(), None)).collect(),
        Shape::AsNeeded { .. } => vec![(as_needed_time(level.times), Some(level.times))],
        Shape::Patch(label) => vec![(label.clone(), None)],
    };
    let doses: Vec<DoseTime> = level
        .k
        .iter()
        .zip(labels)
        .filter(|(k, _)| **k > 0)
        .map(|(k, (time, times_a_day))| DoseTime {
            time,
            units: units_of(t, *k, &mut now),
            times_a_day,
        })
        .collect();
    if !doses.is_empty() {
        // Only this step's strengths count as "in use" for the next one.
        let mut used = vec![false; now.len()];
        for d in &doses {
            for u in &d.units {
                let label = match u {
                    UnitAmount::Solid(s) => s.strength_mg,
                    UnitAmount::Patch(p) => p.strength_mcg_per_hour,
                    UnitAmount::Liquid(_) => t.line.units[0].label,
                };
                if let Some(i) = t.line.units.iter().position(|x| x.label == label) {
                    used[i] = true;
                }
            }
        }
        *in_use = used;
    }
    doses
}

/// Words for an item that has no catalogue product, from its entry.
fn describe_entered(item: &Item) -> String {
    let drug = item.drug.as_str();
    match &item.dose {
        Dose::Solid {
            form,
            release,
            strength,
            ..
        } => {
            let slow = if *release == Release::Modified {
                "slow-release "
            } else {
                ""
            };
            // A held item outside the catalogue is named by its route when that
            // says more than "tablets or capsules" (a suppository is neither).
            let form = match (item.route, form) {
                (Route::Rectal, _) => "suppositories".to_string(),
                (Route::Subcutaneous | Route::Intramuscular | Route::Intravenous, _) => {
                    format!("{} injections", item.route)
                }
                (Route::Sublingual | Route::Buccal, f) => format!(
                    "{} {}",
                    item.route,
                    f.map_or("tablets".to_string(), |f| format!("{}s", Form::from(f)))
                ),
                (_, f) => f.map_or("tablets or capsules".to_string(), |f| {
                    format!("{}s", Form::from(f))
                }),
            };
            format!("{drug} {} mg {slow}{form}", num(strength.get()))
        }
        Dose::Liquid { strength, .. } => match item.route {
            Route::Oral => format!("{drug} oral solution {} mg/mL", num(strength.get())),
            route => format!("{drug} {route} solution {} mg/mL", num(strength.get())),
        },
        Dose::Patch { strength, .. } => {
            format!("{drug} {} micrograms/hour patches", num(strength.get()))
        }
    }
}

/// The regimen as entered, one dose list per item.
fn entered_doses(item: &Item, patch_label: Option<String>) -> Vec<DoseTime> {
    let whole = |x: f64| (x.fract() == 0.0 && (1.0..=24.0).contains(&x)).then_some(x);
    {
        {
            let unit = match &item.dose {
                Dose::Solid {
                    strength,
                    units_per_dose,
                    ..
                } => UnitAmount::Solid(SolidUnits {
                    strength_mg: strength.get(),
                    count: units_per_dose.get(),
                }),
                Dose::Liquid {
                    strength,
                    ml_per_dose,
                    ..
                } => UnitAmount::Liquid(LiquidUnits {
                    strength_mg_per_ml: strength.get(),
                    ml: ml_per_dose.get(),
                }),
                Dose::Patch { strength, patches } => UnitAmount::Patch(PatchUnits {
                    strength_mcg_per_hour: strength.get(),
                    count: f64::from(patches.get()),
                }),
            };
            if let Some(t) = item.dose.times() {
                // Entered by time of day: each time with its own amount.
                return t
                    .doses()
                    .iter()
                    .map(|d| DoseTime {
                        time: d.time.to_string(),
                        units: vec![match &unit {
                            UnitAmount::Solid(s) => UnitAmount::Solid(SolidUnits {
                                strength_mg: s.strength_mg,
                                count: d.amount(),
                            }),
                            UnitAmount::Liquid(l) => UnitAmount::Liquid(LiquidUnits {
                                strength_mg_per_ml: l.strength_mg_per_ml,
                                ml: d.amount(),
                            }),
                            other => other.clone(),
                        }],
                        times_a_day: None,
                    })
                    .collect();
            }
            match &item.dose {
                Dose::Patch { .. } => vec![DoseTime {
                    time: patch_label.unwrap_or_else(|| "worn continuously".to_string()),
                    units: vec![unit],
                    times_a_day: None,
                }],
                Dose::Solid {
                    doses_per_day,
                    as_needed,
                    ..
                }
                | Dose::Liquid {
                    doses_per_day,
                    as_needed,
                    ..
                } => {
                    let n = doses_per_day.get();
                    match (whole(n), *as_needed) {
                        (Some(n), true) => {
                            // Whole and at most 24, checked by `whole`.
                            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                            let n = n as u32;
                            vec![DoseTime {
                                time: as_needed_time(n),
                                units: vec![unit],
                                times_a_day: Some(n),
                            }]
                        }
                        (Some(n), false) => {
                            // Whole and at most 24, checked by `whole`.
                            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                            let n = n as u32;
                            regular_times(n)
                                .into_iter()
                                .map(|time| DoseTime {
                                    time,
                                    units: vec![unit.clone()],
                                    times_a_day: None,
                                })
                                .collect()
                        }
                        (None, as_needed) => vec![DoseTime {
                            time: format!(
                                "{}{} times a day",
                                if as_needed { "up to " } else { "" },
                                num(n)
                            ),
                            units: vec![unit],
                            times_a_day: None,
                        }],
                    }
                }
            }
        }
    }
}

/// One row per input item: tapered or held, product, dose times, order.
pub(crate) fn plan_items(
    p: &Prepared<'_>,
    raw_items: &[crate::regimen::RawItem],
    profile: Profile,
    reference: &Reference,
) -> Vec<PlanItem> {
    let fallback = crate::regimen::RawItem::default();
    let raw = |i: usize| raw_items.get(i).unwrap_or(&fallback);
    let mut out = Vec::with_capacity(p.regimen.items.len());
    // First match of each, hashed: near-linear in the items (issue 20).
    let mut tapered_at: FxHashMap<usize, usize> = FxHashMap::default();
    for (ti, t) in p.tapered.iter().enumerate() {
        tapered_at.entry(t.index).or_insert(ti);
    }
    let mut order_of: FxHashMap<usize, usize> = FxHashMap::default();
    for (n, o) in p.order.iter().enumerate() {
        order_of.entry(*o).or_insert(n);
    }
    let mut lowest_of = FxHashMap::default();
    for h in &p.lowest {
        lowest_of.entry(h.tapered).or_insert(h);
    }
    let mut held_of = FxHashMap::default();
    for h in &p.held {
        held_of.entry(h.index).or_insert(h);
    }
    for (i, item) in p.regimen.items.iter().enumerate() {
        let index = u32::try_from(i).unwrap_or(u32::MAX);
        let ome = convert_item(item, profile, reference)
            .ome()
            .map(|o| o.get());
        if let Some((ti, t)) = tapered_at.get(&i).map(|ti| (*ti, &p.tapered[*ti])) {
            let order = order_of.get(&ti).and_then(|n| u32::try_from(n + 1).ok());
            out.push(PlanItem {
                index,
                drug: item.drug.to_string(),
                route: item.route,
                release: item.dose.release(),
                form: Some(t.line.form),
                as_needed: item.dose.as_needed(),
                tapered: true,
                held_reason: None,
                product: t.line.box_name.to_string(),
                product_id: Some(t.line.row.id.clone()),
                dose_times: match &t.shape {
                    Shape::Times(labels) => labels.clone(),
                    Shape::AsNeeded { .. } | Shape::Patch(_) => Vec::new(),
                },
                order,
                ome_start: ome,
                prescriber_query: lowest_of.get(&ti).map(|h| h.query.clone()),
                switch_offers: super::switches::offers(
                    raw(i),
                    &t.line.row.id,
                    lowest_of.contains_key(&ti),
                    reference,
                ),
            });
        } else {
            let held = held_of.get(&i);
            let reason = held.map(|h| h.reason.clone());
            out.push(PlanItem {
                index,
                drug: item.drug.to_string(),
                route: item.route,
                release: item.dose.release(),
                form: item.dose.form(),
                as_needed: item.dose.as_needed(),
                tapered: false,
                held_reason: reason,
                product: describe_entered(item),
                product_id: None,
                dose_times: Vec::new(),
                order: None,
                ome_start: ome,
                prescriber_query: held.and_then(|h| h.query.clone()),
                switch_offers: held
                    .and_then(|h| h.line.as_deref())
                    .map(|line| super::switches::offers(raw(i), line, true, reference))
                    .unwrap_or_default(),
            });
        }
    }
    out
}

/// The regimen before step 1, as entered (held items appear like this in every step).
pub(crate) fn starting_items(
    p: &Prepared<'_>,
    items: &[PlanItem],
    profile: Profile,
    reference: &Reference,
) -> Vec<StepItem> {
    // Each item's tapered entry (the first), hashed: a search per item was
    // quadratic in the items (issue 20).
    let mut tapered_at: FxHashMap<usize, &Tapered<'_>> = FxHashMap::default();
    for t in &p.tapered {
        tapered_at.entry(t.index).or_insert(t);
    }
    p.regimen
        .items
        .iter()
        .zip(items)
        .map(|(item, pi)| {
            let c = convert_item(item, profile, reference);
            let patch_label = tapered_at
                .get(&(pi.index as usize))
                .map(|t| patch_time(t.line.row))
                .or_else(|| {
                    reference
                        .products_of(item.drug.as_str())
                        .find(|r| r.form == Form::Patch)
                        .map(patch_time)
                });
            StepItem {
                index: pi.index,
                drug: pi.drug.clone(),
                route: pi.route,
                release: pi.release,
                form: item.dose.form().or(pi.form),
                product: pi.product.clone(),
                product_id: pi.product_id.clone(),
                as_needed: pi.as_needed,
                doses: entered_doses(item, patch_label),
                daily_amount: c.daily.to_string(),
                daily_amount_value: round2(c.daily.value),
                daily_amount_unit: c.daily.unit,
                ome_mg_per_day: c.ome().map(|o| o.get()),
                paracetamol_mg_per_day: c.paracetamol_mg_per_day,
                change: if pi.tapered {
                    ItemChange::Same
                } else {
                    ItemChange::Held
                },
            }
        })
        .collect()
}

/// Strengths in use at the start, per tapered item (threaded through [`step_items`]).
pub(crate) fn initial_in_use(p: &Prepared<'_>) -> Vec<Vec<bool>> {
    p.tapered
        .iter()
        .map(|t| {
            let mut used = vec![false; t.line.units.len()];
            for (_, c) in &t.start_comp {
                for (u, n) in used.iter_mut().zip(c) {
                    *u |= *n > 0;
                }
            }
            used
        })
        .collect()
}

/// The tapered items of a step at the given rungs: index and doses only.
/// `assemble::finish` writes every other field from the plan's items (here
/// they would be copies made for every item of every step, only to be
/// replaced: issue 20, the plan was allocation-bound in its items).
pub(crate) fn step_items(
    p: &Prepared<'_>,
    items: &ItemsByIndex<'_>,
    levels: &[usize],
    in_use: &mut [Vec<bool>],
) -> Vec<StepItem> {
    p.tapered
        .iter()
        .zip(levels)
        .zip(in_use.iter_mut())
        .filter_map(|((t, l), in_use)| {
            let pi = *items.get(&t.index)?;
            Some(StepItem {
                index: pi.index,
                drug: String::new(),
                route: pi.route,
                release: pi.release,
                form: pi.form,
                product: String::new(),
                product_id: None,
                as_needed: pi.as_needed,
                doses: doses_of(t, &t.levels[*l], in_use),
                daily_amount: String::new(),
                daily_amount_value: 0.0,
                daily_amount_unit: AmountUnit::MgPerDay,
                ome_mg_per_day: None,
                paracetamol_mg_per_day: None,
                change: ItemChange::Same,
            })
        })
        .collect()
}

/// The plan's items by index (the first of each), made once for all steps.
pub(crate) type ItemsByIndex<'a> = FxHashMap<usize, &'a PlanItem>;

/// [`ItemsByIndex`] of `items`.
pub(crate) fn items_by_index(items: &[PlanItem]) -> ItemsByIndex<'_> {
    let mut by_index = ItemsByIndex::default();
    for pi in items {
        by_index.entry(pi.index as usize).or_insert(pi);
    }
    by_index
}
