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
//! each time's dose in units of the smaller strength (MST 60 mg in the evening
//! as 2 x 30 mg). Anything else (as-needed items, patches, items without named
//! times, the same time named twice) is planned as entered; two such items of a
//! 12-hourly product taken once a day each are held with a question, as before.

use crate::reference::Reference;
use crate::regimen::{num, Dose, Item, RawItem, RawTimedDose, Regimen, TimeOfDay};

use super::input::{OrderEntry, PlanRequest};
use super::products::match_line;

/// The request with same-line items joined, and what was joined, in words.
pub(crate) struct Joined {
    /// The request to plan (the input itself when nothing was joined).
    pub request: PlanRequest,
    /// One sentence per join, for the plan's warnings.
    pub notes: Vec<String>,
}

/// What two items must share to be one line.
#[derive(PartialEq)]
struct Key {
    drug: String,
    route: String,
    form: Option<&'static str>,
    release: Option<&'static str>,
    paracetamol: Option<String>,
    /// mg per mL for liquids (a concentrate and a 10 mg in 5 mL solution differ).
    liquid: Option<String>,
}

fn key(item: &Item) -> Option<Key> {
    let (paracetamol, liquid) = match &item.dose {
        Dose::Solid {
            as_needed: false,
            paracetamol_per_unit,
            ..
        } => (paracetamol_per_unit.map(|p| num(p.get())), None),
        Dose::Liquid {
            as_needed: false,
            strength,
            ..
        } => (None, Some(num(strength.get()))),
        _ => return None,
    };
    Some(Key {
        drug: item.drug.as_str().to_string(),
        route: item.route.as_str().to_string(),
        form: item.dose.form().map(|f| f.as_str()),
        release: item.dose.release().map(|r| r.as_str()),
        paracetamol,
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
    };
    let profile = request.profile;
    let Ok(regimen) = Regimen::validate(&request.items, "items", profile, reference) else {
        return unchanged();
    };
    let keys: Vec<Option<Key>> = regimen.items.iter().map(key).collect();
    let own: Vec<Option<String>> = regimen
        .items
        .iter()
        .map(|i| line_id(i, reference))
        .collect();
    let n = regimen.items.len();
    let mut taken = vec![false; n];
    // (members, joined raw, line box name) for each join made.
    let mut groups: Vec<(Vec<usize>, RawItem, String)> = Vec::new();
    for i in 0..n {
        if taken[i] || keys[i].is_none() {
            continue;
        }
        let mut members = vec![i];
        let mut best: Option<(RawItem, String)> = None;
        for j in (i + 1)..n {
            if taken[j] || keys[j] != keys[i] {
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
    for (i, raw) in request.items.iter().enumerate() {
        match groups.iter().find(|g| g.0.contains(&i)) {
            Some((members, joined, name)) if members[0] == i => {
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
    }
}
