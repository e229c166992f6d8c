//! Two items of the same product line are one line (issue 14, "product line
//! stability").
//!
//! A regimen entered as MST 30 mg in the morning and MST 60 mg in the evening,
//! as two items, is one 12-hourly product taken at two times; planned apart,
//! each looks like a once-a-day dose of a 12-hourly product and is held. So,
//! before planning, regular (not as-needed) tablet, capsule or liquid items of
//! the same drug, route, form, release and combination (and, for liquids, the
//! same strength) are joined into one item when
//!
//! - each names its times of day and no time is named twice (the times are
//!   joined, each keeping its own amount);
//! - the joined item matches a catalogue line, and every item that matches a
//!   line on its own matches that same line (two different products, such as
//!   a 24-hourly and a 12-hourly tramadol, are never joined).
//!
//! Nothing about the doses changes: each time keeps its amount, the daily
//! total is the same, and the plan says which items it joined. Step 1 shows
//! each time's dose in the patient's own units (MST 60 mg in the evening as one
//! 60 mg tablet, not two 30 mg: step 1 is the regimen as they take it; see
//! [`keep_own_units`]). Anything else (as-needed items, patches, items without named
//! times, the same time named twice) is planned as entered; two such items of a
//! 12-hourly product taken once a day each are held with a question, as before.

use rustc_hash::FxHashMap;

use crate::item::{Dose, Item, RawTimedDose, Regimen, TimeOfDay};
use crate::reference::Reference;
use crate::regimen::RawItem;
use crate::vocabulary::num;

use super::input::{OrderEntry, PlanRequest};
use super::output::{SolidUnits, StepItem, UnitAmount};
use super::products::{match_line, to_fixed};
use super::schedule::Prepared;

/// The request with same-line items joined, and what was joined, in words.
pub(crate) struct Joined {
    /// The request to plan (the input itself when nothing was joined).
    pub request: PlanRequest,
    /// One sentence per join, for the plan's warnings.
    pub notes: Vec<String>,
    /// Per joined item (its position in `request.items`): the patient's own
    /// strength and count at each time, in time order.
    pub own_units: Vec<(usize, Vec<(f64, f64)>)>,
}

/// Per time, in time order, the strength and count each member was entered
/// with (solids only: a liquid's measure is the same at every time).
fn own_units_of(items: &[&Item]) -> Option<Vec<(f64, f64)>> {
    let mut timed: Vec<(TimeOfDay, f64, f64)> = Vec::new();
    for item in items {
        let Dose::Solid {
            strength, times, ..
        } = &item.dose
        else {
            return None;
        };
        for d in times.as_ref()?.doses() {
            timed.push((d.time, strength.get(), d.amount()));
        }
    }
    timed.sort_by_key(|(t, _, _)| *t);
    Some(timed.into_iter().map(|(_, s, n)| (s, n)).collect())
}

/// The "before step 1" row of a joined item: each time in the patient's own
/// units (the evening's one 60 mg tablet), as [`keep_own_units`] does for step 1.
pub(crate) fn entered_as_taken(items: &mut [StepItem], own: &[(usize, Vec<(f64, f64)>)]) {
    for item in items {
        let Some((_, per_time)) = own.iter().find(|(i, _)| *i == item.index as usize) else {
            continue;
        };
        if item.doses.len() != per_time.len() {
            continue;
        }
        for (d, (strength, count)) in item.doses.iter_mut().zip(per_time) {
            if let [UnitAmount::Solid(_)] = d.units.as_slice() {
                d.units = vec![UnitAmount::Solid(SolidUnits {
                    strength_mg: *strength,
                    count: *count,
                })];
            }
        }
    }
}

/// A joined item's unchanged doses are shown in the patient's own units: the
/// joined item is entered in the smaller strength (it has one strength), so
/// without this its starting evening 60 mg would read "2 × 30 mg", which is
/// not what the patient takes. Only a time whose starting rung is exactly
/// the entered amount, in whole units of a strength of the line, is set; a
/// rung two times share keeps the first time's units.
pub(crate) fn keep_own_units(prepared: &mut Prepared<'_>, own: &[(usize, Vec<(f64, f64)>)]) {
    for t in &mut prepared.tapered {
        let Some((_, per_time)) = own.iter().find(|(i, _)| *i == t.index) else {
            continue;
        };
        let Some(first) = t.levels.first() else {
            continue;
        };
        let mut start_comp: Vec<(usize, Vec<u32>)> = Vec::new();
        for (k0, (strength, count)) in first.k.iter().zip(per_time) {
            let Some(u) = t
                .line
                .units
                .iter()
                .position(|u| (u.label - strength).abs() < 1e-9)
            else {
                continue;
            };
            if count.fract() != 0.0
                || *count < 1.0
                || *count > f64::from(t.line.max_units)
                || *k0 as u64 * t.menu.g != to_fixed(strength * count)
                || start_comp.iter().any(|(k, _)| k == k0)
            {
                continue;
            }
            let mut c = vec![0; t.line.units.len()];
            // A whole number from 1 to the line's most units (checked above).
            c[u] = *count as u32;
            start_comp.push((*k0, c));
        }
        if !start_comp.is_empty() {
            t.start_comp = start_comp;
        }
    }
}

/// What two items must share to be one line.
#[derive(PartialEq, Eq, Hash)]
struct Key {
    drug: String,
    route: String,
    form: Option<&'static str>,
    release: Option<&'static str>,
    paracetamol: Option<String>,
    /// Naloxone per mg of opioid (oxycodone with naloxone is never joined
    /// with plain oxycodone: they are different products).
    naloxone: Option<String>,
    /// mg per mL for liquids (a concentrate and a 10 mg in 5 mL solution differ).
    liquid: Option<String>,
}

fn key(item: &Item) -> Option<Key> {
    let (paracetamol, naloxone, liquid) = match &item.dose {
        Dose::Solid {
            as_needed: false,
            paracetamol_per_unit,
            naloxone_per_unit,
            strength,
            ..
        } => (
            paracetamol_per_unit.map(|p| num(p.get())),
            naloxone_per_unit.map(|n| num(n.get() / strength.get())),
            None,
        ),
        Dose::Liquid {
            as_needed: false,
            strength,
            ..
        } => (None, None, Some(num(strength.get()))),
        _ => return None,
    };
    Some(Key {
        drug: item.drug.as_str().to_string(),
        route: item.route.as_str().to_string(),
        form: item.dose.form().map(|f| f.as_str()),
        release: item.dose.release().map(|r| r.as_str()),
        paracetamol,
        naloxone,
        liquid,
    })
}

/// The amounts of one item entered by time of day: mg (solids, with the
/// strength) or mL (liquids) at each time; `None` without named times.
type Timed = (Vec<(TimeOfDay, f64)>, Option<f64>);

fn amounts(item: &Item) -> Option<Timed> {
    match &item.dose {
        Dose::Solid {
            strength, times, ..
        } => {
            let s = strength.get();
            let t = times.as_ref()?;
            Some((
                t.doses().iter().map(|d| (d.time, d.amount() * s)).collect(),
                Some(s),
            ))
        }
        Dose::Liquid { times, .. } => Some((
            times
                .as_ref()?
                .doses()
                .iter()
                .map(|d| (d.time, d.amount()))
                .collect(),
            None,
        )),
        Dose::Patch { .. } => None,
    }
}

/// The raw item for the members joined, or `None` if they cannot be one item.
fn joined_raw(raws: &[&RawItem], items: &[&Item]) -> Option<RawItem> {
    let mut timed: Vec<(TimeOfDay, f64)> = Vec::new();
    let mut strength: Option<f64> = None;
    for item in items {
        let (t, s) = amounts(item)?;
        if let Some(s) = s {
            strength = Some(strength.map_or(s, |m: f64| m.min(s)));
        }
        if t.iter()
            .any(|(time, _)| timed.iter().any(|(u, _)| u == time))
        {
            return None;
        }
        timed.extend(t);
    }
    let mut raw = raws[0].clone();
    // Naloxone goes with the oxycodone strength (the key holds their ratio):
    // 20 mg/10 mg and 10 mg/5 mg join as 10 mg/5 mg tablets.
    if let (Some(n), Some(s0), Some(s)) = (raw.naloxone_mg, raw.strength_mg, strength) {
        raw.naloxone_mg = Some(n / s0 * s);
    }
    raw.units_per_dose = None;
    raw.ml_per_dose = None;
    raw.doses_per_day = None;
    raw.doses = None;
    raw.strength_mg = strength;
    let liquid = strength.is_none();
    timed.sort_by_key(|(t, _)| *t);
    raw.doses = Some(
        timed
            .iter()
            .map(|(t, a)| RawTimedDose {
                time: Some(t.as_str().to_string()),
                // 3 x 0.2 mg / 0.2 mg is 3, not 3.0000000000000004.
                units: strength.map(|s| (a / s * 1e6).round() / 1e6),
                ml: liquid.then_some(*a),
                mg: None,
            })
            .collect(),
    );
    Some(raw)
}

fn line_id(item: &Item, reference: &Reference) -> Option<String> {
    match_line(item, reference, "", &mut Vec::new())
        .ok()
        .map(|l| l.row.id.clone())
}

/// Joins same-line items of `request` (see the module documentation).
pub(crate) fn same_line(request: &PlanRequest, reference: &Reference) -> Joined {
    let unchanged = || Joined {
        request: request.clone(),
        notes: Vec::new(),
        own_units: Vec::new(),
    };
    let profile = request.profile;
    let Ok(regimen) = Regimen::validate(&request.items, "items", profile, reference) else {
        return unchanged();
    };
    // Only items entered by time of day can join (`joined_raw` refuses any
    // other), so only they are keyed. Candidates are looked up by key, not
    // searched: comparing every item with every later one made the plan
    // quadratic in its items (issue 20: 10,000 items took 17 times as long
    // as 1,000).
    let keys: Vec<Option<Key>> = regimen
        .items
        .iter()
        .map(|i| i.dose.times().and_then(|_| key(i)))
        .collect();
    let n = regimen.items.len();
    let mut same_key: FxHashMap<&Key, Vec<usize>> = FxHashMap::default();
    for (i, k) in keys.iter().enumerate() {
        if let Some(k) = k {
            same_key.entry(k).or_default().push(i);
        }
    }
    // The times each candidate names, one bit per time of day (a join never
    // names a time twice: checked here before anything is built).
    let mask = |i: usize| -> u32 {
        regimen.items[i].dose.times().map_or(0, |t| {
            t.doses()
                .iter()
                .map(|d| 1u32 << (d.time as u32))
                .fold(0, |a, b| a | b)
        })
    };
    let masks: Vec<u32> = (0..n).map(mask).collect();
    // The line each candidate matches on its own (others never join).
    let own: Vec<Option<String>> = (0..n)
        .map(|i| {
            keys[i]
                .as_ref()
                .and_then(|_| line_id(&regimen.items[i], reference))
        })
        .collect();
    let mut taken = vec![false; n];
    // (members, joined raw, line box name) for each join made.
    let mut groups: Vec<(Vec<usize>, RawItem, String)> = Vec::new();
    for i in 0..n {
        let Some(k) = keys[i].as_ref() else { continue };
        if taken[i] {
            continue;
        }
        let mut members = vec![i];
        let mut used = masks[i];
        let mut best: Option<(RawItem, String)> = None;
        // Same-key items after `i`, in input order.
        let later = same_key.get(k).map_or(&[][..], |v| v.as_slice());
        let from = later.partition_point(|j| *j <= i);
        for &j in &later[from..] {
            if taken[j] || masks[j] & used != 0 {
                continue;
            }
            let mut trial = members.clone();
            trial.push(j);
            let raws: Vec<&RawItem> = trial.iter().map(|k| &request.items[*k]).collect();
            let items: Vec<&Item> = trial.iter().map(|k| &regimen.items[*k]).collect();
            let Some(raw) = joined_raw(&raws, &items) else {
                continue;
            };
            let Ok(one) =
                Regimen::validate(std::slice::from_ref(&raw), "items", profile, reference)
            else {
                continue;
            };
            let Ok(line) = match_line(&one.items[0], reference, "", &mut Vec::new()) else {
                continue;
            };
            if trial
                .iter()
                .any(|k| own[*k].as_ref().is_some_and(|id| *id != line.row.id))
            {
                continue;
            }
            members = trial;
            used |= masks[j];
            best = Some((raw, line.row.box_name.clone()));
        }
        if let Some((raw, name)) = best {
            for m in &members {
                taken[*m] = true;
            }
            groups.push((members, raw, name));
        }
    }
    if groups.is_empty() {
        return unchanged();
    }
    // New positions: each group's item at its first member's place.
    let mut items = Vec::new();
    let mut new_index: Vec<Option<usize>> = vec![None; n];
    let mut notes = Vec::new();
    let mut own_units = Vec::new();
    let mut group_of: Vec<Option<usize>> = vec![None; n];
    for (g, (members, _, _)) in groups.iter().enumerate() {
        for m in members {
            group_of[*m] = Some(g);
        }
    }
    for (i, raw) in request.items.iter().enumerate() {
        match group_of.get(i).copied().flatten().map(|g| &groups[g]) {
            Some((members, joined, name)) if members[0] == i => {
                let member_items: Vec<&Item> = members.iter().map(|m| &regimen.items[*m]).collect();
                if let Some(own) = own_units_of(&member_items) {
                    own_units.push((items.len(), own));
                }
                for m in members {
                    new_index[*m] = Some(items.len());
                }
                let listed: Vec<String> = members.iter().map(|m| format!("items[{m}]")).collect();
                notes.push(format!(
                    "{} are the same product ({name}) taken at different times, so they are planned as one item, items[{}]: the same dose at each time, the same total a day.",
                    listed.join(" and "),
                    items.len()
                ));
                items.push(joined.clone());
            }
            Some(_) => {}
            None => {
                new_index[i] = Some(items.len());
                items.push(raw.clone());
            }
        }
    }
    let mut out = request.clone();
    out.items = items;
    let mut order = Vec::new();
    for e in &request.taper.order {
        let e = match e {
            OrderEntry::Item(p) => match new_index.get(*p as usize).copied().flatten() {
                Some(q) => OrderEntry::Item(u32::try_from(q).unwrap_or(u32::MAX)),
                None => continue,
            },
            other => other.clone(),
        };
        if !order.contains(&e) {
            order.push(e);
        }
    }
    out.taper.order = order;
    Joined {
        request: out,
        notes,
        own_units,
    }
}
