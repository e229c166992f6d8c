//! Rounding to reality: which catalogue product line an item is given with,
//! which amounts one dose can be made of from whole units of that line, and
//! each item's ladder of ever-smaller daily doses.
//!
//! Amounts are fixed-point integers ([`SCALE`] per mg, or per microgram/hour)
//! so that strengths such as 1.3 mg or 37.5 micrograms/hour add up exactly and
//! "is this dose makeable?" never depends on floating-point luck.

use crate::item::{Dose, Item};
use crate::reference::{LimitKind, ProductRow, Reference};
use crate::vocabulary::{num, Form, Release};

use super::rules::{OrderClass, TieBreak};
use super::safety::{query_not_makeable, HoldWhy};

/// Fixed-point scale: amounts are integers of 1/1000 mg (or 1/1000 microgram/hour).
pub(crate) const SCALE: f64 = 1000.0;

/// `x` in fixed point (never negative).
pub(crate) fn to_fixed(x: f64) -> u64 {
    let v = (x * SCALE).round();
    if v.is_finite() && v > 0.0 && v < 1e15 {
        // In range and whole, checked just above.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let v = v as u64;
        v
    } else {
        0
    }
}

/// A fixed-point amount as a number of mg (or micrograms/hour).
pub(crate) fn from_fixed(v: u64) -> f64 {
    // Amounts stay far below 2^53, so the conversion is exact.
    #[allow(clippy::cast_precision_loss)]
    let v = v as f64;
    v / SCALE
}

/// The three dose shapes a line can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LineKind {
    /// Tablets or capsules.
    Solid,
    /// An oral solution measured in mL.
    Liquid,
    /// Patches.
    Patch,
}

/// One unit size of a line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct UnitSize {
    /// Strength as labelled: mg a tablet, micrograms/hour on the patch, or mL a measure.
    pub label: f64,
    /// Drug it delivers, fixed point: mg per tablet or per measure of liquid,
    /// or micrograms/hour per patch at the rate it counts as (the fentanyl "12" is 12.5).
    pub value: u64,
}

/// The catalogue product line an item is given with during the taper.
#[derive(Debug, Clone)]
pub(crate) struct Line<'r> {
    /// The catalogue row.
    pub row: &'r ProductRow,
    /// The form shown (the row's, or one of its `other_forms`).
    pub form: Form,
    /// Brand-neutral name for that form.
    pub box_name: &'r str,
    /// Solid, liquid or patch.
    pub kind: LineKind,
    /// Unit sizes the plan may use, ascending.
    pub units: Vec<UnitSize>,
    /// Liquids: mg per mL.
    pub mg_per_ml: Option<f64>,
    /// Most units in one dose (patches: worn at once).
    pub max_units: u32,
}

/// The dose times of an item, kept through the taper.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Shape {
    /// Regular doses at named times, earliest first.
    Times(Vec<String>),
    /// As needed: up to `max` doses a day.
    AsNeeded {
        /// Most doses a day at the start.
        max: u32,
    },
    /// Patches, changed as the label says.
    Patch(String),
}

/// Names of `n` regular dose times, earliest first.
///
/// Twice-daily (12-hourly) products are "morning" and "evening"; once-daily
/// ones "once a day". Beyond four a day the doses are numbered.
pub(crate) fn regular_times(n: u32) -> Vec<String> {
    let named: &[&str] = match n {
        1 => &["once a day"],
        2 => &["morning", "evening"],
        3 => &["morning", "midday", "evening"],
        4 => &["morning", "midday", "teatime", "bedtime"],
        _ => &[],
    };
    if named.is_empty() {
        (1..=n).map(|i| format!("dose {i} of {n}")).collect()
    } else {
        named.iter().map(|s| (*s).to_string()).collect()
    }
}

/// "up to 3 times a day".
pub(crate) fn as_needed_time(times: u32) -> String {
    match times {
        1 => "up to once a day".to_string(),
        2 => "up to twice a day".to_string(),
        n => format!("up to {n} times a day"),
    }
}

/// Days of one full patch-change cycle, from the catalogue's wear time: the
/// wear time itself (72 hours: 3 days; 7-day patches: 7), or for a patch worn
/// "3 or 4 days" (changed on the same two days each week) the two wear times
/// together. `None` if that is not a whole number of days.
pub(crate) fn patch_cycle_days(row: &ProductRow) -> Option<u32> {
    let w = row.wear_hours?;
    let hours = if close(w.min, w.max) {
        w.min
    } else {
        w.min + w.max
    };
    let days = hours / 24.0;
    (days.fract() == 0.0 && (1.0..=366.0).contains(&days)).then(|| {
        // Whole and small, checked just above.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let d = days as u32;
        d
    })
}

/// When a patch is changed, from the catalogue's wear time.
pub(crate) fn patch_time(row: &ProductRow) -> String {
    let Some(w) = row.wear_hours else {
        return "as directed".to_string();
    };
    let days = |h: f64| (h % 24.0 == 0.0).then(|| num(h / 24.0));
    if w.min == w.max {
        // A week reads better in days; 72 hours is how fentanyl patches are labelled.
        match days(w.min) {
            Some(d) if w.min >= 96.0 => format!("every {d} days"),
            _ => format!("every {} hours", num(w.min)),
        }
    } else {
        match (days(w.min), days(w.max)) {
            (Some(a), Some(b)) => format!("every {a} or {b} days"),
            _ => format!("every {} to {} hours", num(w.min), num(w.max)),
        }
    }
}

/// The amounts one dose can be made of: multiples of `g` (the greatest common
/// divisor of the unit sizes), each with its fewest-units composition if makeable.
#[derive(Debug, Clone)]
pub(crate) struct Menu {
    /// Step of the grid, fixed point.
    pub g: u64,
    /// `comps[k]`: units of each size (in `Line::units` order) making `k × g`.
    comps: Vec<Option<Vec<u32>>>,
    /// Grid weight of each unit size.
    weights: Vec<usize>,
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// True if composition `a` is preferred to `b` at the same unit count: more of
/// the larger strengths (fewer different tablets to prescribe over the plan).
fn prefer(a: &[u32], b: &[u32]) -> bool {
    for (x, y) in a.iter().rev().zip(b.iter().rev()) {
        if x != y {
            return x > y;
        }
    }
    false
}

impl Menu {
    /// Every amount up to `max_amount` (fixed point) makeable from at most
    /// `max_units` units of `units`, by dynamic programming over the grid.
    pub fn build(units: &[UnitSize], max_amount: u64, max_units: u32) -> Menu {
        let g = units.iter().fold(0, |acc, u| gcd(acc, u.value)).max(1);
        let max_k = usize::try_from(max_amount / g).unwrap_or(0);
        let mut comps: Vec<Option<Vec<u32>>> = vec![None; max_k + 1];
        comps[0] = Some(vec![0; units.len()]);
        let weights: Vec<usize> = units
            .iter()
            .map(|u| usize::try_from(u.value / g).unwrap_or(usize::MAX))
            .collect();
        for k in 1..=max_k {
            let mut best: Option<Vec<u32>> = None;
            for (i, w) in weights.iter().enumerate() {
                if *w == 0 || *w > k {
                    continue;
                }
                let Some(prev) = &comps[k - w] else { continue };
                let count: u32 = prev.iter().sum::<u32>() + 1;
                if count > max_units {
                    continue;
                }
                let mut c = prev.clone();
                c[i] += 1;
                let better = match &best {
                    None => true,
                    Some(b) => {
                        let bc: u32 = b.iter().sum();
                        count < bc || (count == bc && prefer(&c, b))
                    }
                };
                if better {
                    best = Some(c);
                }
            }
            comps[k] = best;
        }
        Menu { g, comps, weights }
    }

    /// Every composition of `k × g` with the fewest units (at most `limit` of them),
    /// largest strengths first.
    pub fn choices(&self, k: usize, limit: usize) -> Vec<Vec<u32>> {
        fn dfs(
            i: usize,
            left: usize,
            count_left: u32,
            weights: &[usize],
            cur: &mut Vec<u32>,
            out: &mut Vec<Vec<u32>>,
            limit: usize,
        ) {
            if out.len() >= limit {
                return;
            }
            if left == 0 {
                if count_left == 0 {
                    out.push(cur.clone());
                }
                return;
            }
            let Some(w) = i.checked_sub(1).map(|j| weights[j]) else {
                return;
            };
            // Units are tried largest first, so `w` is the largest left: if even
            // `count_left` of them cannot reach `left`, nothing below can.
            if (count_left as usize).saturating_mul(w) < left {
                return;
            }
            let j = i - 1;
            let most = left
                .checked_div(w)
                .map_or(0, |m| m.min(count_left as usize));
            for c in (0..=most).rev() {
                // `c` is at most `count_left`, a u32.
                let c32 = u32::try_from(c).unwrap_or(u32::MAX);
                cur[j] = c32;
                dfs(j, left - c * w, count_left - c32, weights, cur, out, limit);
            }
            cur[j] = 0;
        }
        let Some(best) = self.comp(k) else {
            return Vec::new();
        };
        let n: u32 = best.iter().sum();
        let mut out = Vec::new();
        let mut cur = vec![0; self.weights.len()];
        dfs(
            self.weights.len(),
            k,
            n,
            &self.weights,
            &mut cur,
            &mut out,
            limit,
        );
        if out.is_empty() {
            out.push(best.to_vec());
        }
        out
    }

    /// Largest makeable grid index at or below `k` (0, nothing, is always makeable).
    pub fn floor(&self, k: usize) -> usize {
        let top = k.min(self.comps.len().saturating_sub(1));
        (0..=top)
            .rev()
            .find(|&j| self.comps[j].is_some())
            .unwrap_or(0)
    }

    /// Largest makeable grid index below `k`.
    pub fn next_below(&self, k: usize) -> usize {
        if k == 0 {
            0
        } else {
            self.floor(k - 1)
        }
    }

    /// Fewest-units composition of `k × g` (empty counts for 0 or an unmakeable amount).
    pub fn comp(&self, k: usize) -> Option<&[u32]> {
        self.comps.get(k).and_then(|c| c.as_deref())
    }
}

/// One rung of an item's ladder: the grid index of each dose, and for
/// as-needed items how many doses a day at most.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Level {
    /// Per dose time (one entry for as-needed items and patches), grid index.
    pub k: Vec<usize>,
    /// As-needed: most doses a day; 1 otherwise.
    pub times: u32,
}

impl Level {
    /// Nothing at all.
    pub fn is_zero(&self) -> bool {
        self.k.iter().all(|k| *k == 0)
    }
}

/// An item that the plan reduces.
#[derive(Debug, Clone)]
pub(crate) struct Tapered<'r> {
    /// Position in the input `items`.
    pub index: usize,
    /// The validated item.
    pub item: Item,
    /// Product line used.
    pub line: Line<'r>,
    /// Dose times.
    pub shape: Shape,
    /// Makeable dose amounts.
    pub menu: Menu,
    /// Rungs from the (rounded) starting dose down to nothing.
    pub levels: Vec<Level>,
    /// OME of each rung, unrounded.
    pub ome: Vec<f64>,
    /// Daily amount as entered, fixed point.
    pub entered_daily: u64,
    /// The patient's own units for one dose at the start, when they are
    /// catalogue units (so an unreduced dose is shown as the patient takes it).
    /// (One entry per distinct starting dose: doses by time of day may differ.)
    pub start_comp: Vec<(usize, Vec<u32>)>,
    /// Where it comes in the default reduction order.
    pub class: OrderClass,
}

impl Tapered<'_> {
    /// Daily amount of a rung, fixed point.
    pub fn daily(&self, level: &Level) -> u64 {
        let per: u64 = level.k.iter().map(|k| *k as u64 * self.menu.g).sum();
        per * u64::from(level.times)
    }

    /// Units making dose `k`: the patient's own at the starting amount;
    /// otherwise the fewest units, preferring strengths already in use
    /// (`in_use[i]` for unit size `i`) so that the plan needs as few
    /// different strengths as it can, then the larger strengths.
    pub fn comp(&self, k: usize, in_use: &[bool]) -> Vec<u32> {
        if let Some((_, c)) = self.start_comp.iter().find(|(start_k, _)| *start_k == k) {
            return c.clone();
        }
        let key = |c: &Vec<u32>| {
            let new = c
                .iter()
                .zip(in_use)
                .filter(|(n, used)| **n > 0 && !**used)
                .count();
            let distinct = c.iter().filter(|n| **n > 0).count();
            (new, distinct)
        };
        let mut best: Option<Vec<u32>> = None;
        for c in self.menu.choices(k, 64) {
            best = match best {
                Some(b) if key(&b) < key(&c) || (key(&b) == key(&c) && !prefer(&c, &b)) => Some(b),
                _ => Some(c),
            };
        }
        best.unwrap_or_else(|| vec![0; self.line.units.len()])
    }
}

/// The order class of an item (reference `reduction-order` row).
pub(crate) fn order_class(item: &Item) -> OrderClass {
    if item.drug.as_str() == "tramadol" {
        OrderClass::Tramadol
    } else if matches!(item.dose, Dose::Patch { .. })
        || item.dose.release() == Some(Release::Modified)
    {
        OrderClass::LongActing
    } else {
        OrderClass::ImmediateRelease
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

fn list_mg(s: &[f64]) -> String {
    let v: Vec<String> = s.iter().map(|x| num(*x)).collect();
    v.join(", ")
}

/// Chooses the catalogue line for `item`; `Err` says why none fits (the item is then held).
/// Warnings go to `warnings`, prefixed with `label` (e.g. `items[0] (morphine)`).
pub(crate) fn match_line<'r>(
    item: &Item,
    reference: &'r Reference,
    label: &str,
    warnings: &mut Vec<String>,
) -> Result<Line<'r>, HoldWhy> {
    let no_line = |why: String| {
        HoldWhy::new(
            why,
            "Ask the prescriber which product this is and how it should be reduced: Stepdown cannot round it to a product it knows, so it keeps the dose exactly as it is.",
        )
    };
    let drug = item.drug.as_str();
    // Not `products_of`, whose rows borrow as long as the drug name does.
    let rows: Vec<&'r ProductRow> = reference
        .products
        .rows
        .iter()
        .filter(|r| r.drug == drug && r.route == item.route)
        .collect();
    if rows.is_empty() {
        return Err(no_line(format!(
            "the UK product catalogue has no {drug} products given by the {} route, so its doses cannot be rounded to real products",
            item.route
        )));
    }
    match &item.dose {
        Dose::Solid {
            form,
            release,
            strength,
            units_per_dose: _,
            doses_per_day,
            paracetamol_per_unit,
            naloxone_per_unit,
            ..
        } => {
            let form = form.map(Form::from);
            let strength = strength.get();
            let mut best: Option<(i32, &ProductRow)> = None;
            for row in rows.iter().copied().filter(|r| {
                matches!(r.form, Form::Tablet | Form::Capsule) && r.release == Some(*release)
            }) {
                // The same second ingredient both ways, never a switch: plain
                // with plain, co-codamol with the same paracetamol, oxycodone
                // with naloxone with a line of the same oxycodone:naloxone
                // ratio (Targinact is always 2:1).
                let paracetamol_ok = match (paracetamol_per_unit, &row.combination) {
                    (None, None) => true,
                    (Some(p), Some(c)) => close(p.get(), c.paracetamol_mg_per_unit),
                    _ => false,
                };
                let naloxone_ok = match (naloxone_per_unit, &row.other_ingredient) {
                    (None, None) => true,
                    (Some(n), Some(o)) if o.name == "naloxone" => row
                        .strengths_mg
                        .iter()
                        .flatten()
                        .zip(&o.mg_per_unit)
                        .any(|(s, m)| close(n.get() * s, m * strength)),
                    _ => false,
                };
                if !(paracetamol_ok && naloxone_ok) {
                    continue;
                }
                let own = row.strengths_mg.as_deref().unwrap_or_default();
                let mut score = 0;
                if own.iter().any(|s| close(*s, strength)) {
                    score += 4;
                }
                if let Some(h) = row.dosing_interval_hours {
                    score += if close(h * doses_per_day.get(), 24.0) {
                        2
                    } else {
                        -1
                    };
                }
                if let Some(f) = form {
                    if f == row.form || row.other_forms.iter().any(|o| o.form == f) {
                        score += 1;
                    }
                }
                if best.is_none_or(|(b, _)| score > b) {
                    best = Some((score, row));
                }
            }
            let Some((_, row)) = best else {
                let what = match (paracetamol_per_unit, naloxone_per_unit) {
                    (Some(p), _) => format!(
                        "{} {drug} with {} mg paracetamol",
                        release.as_str(),
                        num(p.get())
                    ),
                    (None, Some(n)) => format!(
                        "{}-release {drug} with naloxone {} mg/{} mg",
                        release.as_str(),
                        num(strength),
                        num(n.get())
                    ),
                    (None, None) => {
                        format!("{}-release {drug} tablets or capsules", release.as_str())
                    }
                };
                return Err(no_line(format!(
                    "the UK product catalogue has no {what}, so its doses cannot be rounded to real products"
                )));
            };
            solid_line(item, row, form, strength, reference, label, warnings)
        }
        Dose::Liquid {
            release, strength, ..
        } => {
            let row = rows.iter().copied().find(|r| {
                r.form == Form::Solution
                    && r.release == Some(*release)
                    && r.strengths_mg_per_ml
                        .as_deref()
                        .unwrap_or_default()
                        .iter()
                        .any(|s| close(*s, strength.get()))
            });
            let Some(row) = row else {
                return Err(no_line(format!(
                    "the UK product catalogue has no {drug} oral solution of {} mg/mL, so its doses cannot be rounded to real products",
                    num(strength.get())
                )));
            };
            let (measure, _) = super::rules::TaperRules::of(reference).liquid_measure();
            Ok(Line {
                row,
                form: Form::Solution,
                box_name: &row.box_name,
                kind: LineKind::Liquid,
                units: vec![UnitSize {
                    label: measure,
                    value: to_fixed(strength.get() * measure),
                }],
                mg_per_ml: Some(strength.get()),
                max_units: u32::MAX,
            })
        }
        Dose::Patch { strength, .. } => {
            let patches: Vec<&ProductRow> = rows
                .iter()
                .copied()
                .filter(|r| r.form == Form::Patch)
                .collect();
            let has = |r: &ProductRow| {
                r.strengths_mcg_per_hour
                    .as_deref()
                    .unwrap_or_default()
                    .iter()
                    .any(|s| close(*s, strength.get()))
            };
            let row = match patches.iter().copied().find(|r| has(r)) {
                Some(r) => r,
                None if patches.len() == 1 => {
                    let r = patches[0];
                    warnings.push(format!(
                        "{label}: {} micrograms/hour is not a strength of {} ({} micrograms/hour); the plan uses those strengths.",
                        num(strength.get()),
                        r.box_name,
                        list_mg(r.strengths_mcg_per_hour.as_deref().unwrap_or_default())
                    ));
                    r
                }
                None => {
                    return Err(no_line(format!(
                        "{} micrograms/hour is not a strength of any {drug} patch in the UK product catalogue, so Stepdown cannot tell which patch it is",
                        num(strength.get())
                    )))
                }
            };
            let units = row
                .strengths_mcg_per_hour
                .as_deref()
                .unwrap_or_default()
                .iter()
                .map(|s| UnitSize {
                    label: *s,
                    value: to_fixed(
                        reference
                            .patch_label(drug, *s)
                            .map_or(*s, |l| l.counts_as_mcg_per_hour),
                    ),
                })
                .collect();
            let limit = reference.limit(LimitKind::Patches).max;
            Ok(Line {
                row,
                form: Form::Patch,
                box_name: &row.box_name,
                kind: LineKind::Patch,
                units,
                mg_per_ml: None,
                max_units: row
                    .max_patches_at_once
                    .unwrap_or_else(|| whole_limit(limit)),
            })
        }
    }
}

/// A reference limit as a whole count.
fn whole_limit(x: f64) -> u32 {
    if x.is_finite() && x >= 1.0 && x < f64::from(u32::MAX) {
        // Whole, positive and in range, checked just above.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let n = x.floor() as u32;
        n
    } else {
        1
    }
}

fn solid_line<'r>(
    item: &Item,
    row: &'r ProductRow,
    form: Option<Form>,
    strength: f64,
    reference: &'r Reference,
    label: &str,
    warnings: &mut Vec<String>,
) -> Result<Line<'r>, HoldWhy> {
    let own = row.strengths_mg.as_deref().unwrap_or_default();
    // The form shown: the patient's, if the line is made in it.
    let other = form.and_then(|f| {
        row.other_forms
            .iter()
            .find(|o| o.form == f && f != row.form)
    });
    let (mut shown_form, strengths, mut box_name) = match other {
        Some(o) => (o.form, o.strengths_mg.clone(), o.box_name.as_str()),
        None => (row.form, own.to_vec(), row.box_name.as_str()),
    };
    if let Some(f) = form {
        if f != shown_form {
            // Another form is another product line: never switched without the prescriber.
            return Err(HoldWhy::new(
                format!("the UK product catalogue has no {f}s in the nearest product line ({box_name})"),
                format!("Ask the prescriber which product this is: Stepdown will not move the patient from {f}s to {box_name} on its own, so it keeps the dose exactly as it is."),
            ));
        }
    }
    let units: Vec<f64> = match &row.combination {
        // Combination products are reduced by whole tablets of the patient's own
        // strength, so the paracetamol taken falls with each step and is shown
        // honestly (mixing strengths would hide how much paracetamol is taken).
        Some(c) => {
            if !strengths.iter().any(|s| close(*s, strength)) {
                if own.iter().any(|s| close(*s, strength)) {
                    warnings.push(format!(
                        "{label}: {}/{} is not confirmed as a {shown_form} in the catalogue; the plan uses {}.",
                        num(strength),
                        num(c.paracetamol_mg_per_unit),
                        row.box_name
                    ));
                    shown_form = row.form;
                    box_name = &row.box_name;
                } else {
                    return Err(HoldWhy::new(
                        format!(
                            "{} {}/{} is not a strength in the UK product catalogue ({}), so its doses cannot be rounded to real products",
                            c.name,
                            num(strength),
                            num(c.paracetamol_mg_per_unit),
                            list_mg(&strengths)
                        ),
                        query_not_makeable(&row.box_name),
                    ));
                }
            }
            vec![strength]
        }
        None => {
            if !strengths.iter().any(|s| close(*s, strength)) {
                // Oxycodone with naloxone names both parts ("30 mg/15 mg";
                // "5 mg/2.5 mg, 10 mg/5 mg, ..."), never the oxycodone alone.
                let (entered, made) = match (&item.dose, row.other_ingredient.is_some()) {
                    (
                        Dose::Solid {
                            naloxone_per_unit: Some(n),
                            ..
                        },
                        true,
                    ) => (
                        format!("{} mg/{} mg", num(strength), num(n.get())),
                        strengths
                            .iter()
                            .map(|s| row.strength_label(*s))
                            .collect::<Vec<_>>()
                            .join(", "),
                    ),
                    _ => (
                        format!("{} mg", num(strength)),
                        format!("{} mg", list_mg(&strengths)),
                    ),
                };
                warnings.push(format!(
                    "{label}: {entered} is not a strength of {box_name} ({made}); the plan gives each dose with those strengths."
                ));
            }
            strengths.clone()
        }
    };
    if let (Some(h), Dose::Solid { doses_per_day, .. }) = (row.dosing_interval_hours, &item.dose) {
        if !close(h * doses_per_day.get(), 24.0) {
            // A 24-hourly product is not a 12-hourly one taken once a day: the
            // nearest line has another dosing interval, so it is not this product.
            return Err(HoldWhy::new(
                format!(
                    "the nearest product line, {box_name}, is {}-hourly but the item is taken {} times a day",
                    num(h),
                    num(doses_per_day.get())
                ),
                format!(
                    "Ask the prescriber which product this is (a {}-hourly product taken {} times a day, or a product Stepdown does not list): Stepdown will not change how often it is taken, so it keeps the dose exactly as it is.",
                    num(h),
                    num(doses_per_day.get())
                ),
            ));
        }
    }
    Ok(Line {
        row,
        form: shown_form,
        box_name,
        kind: LineKind::Solid,
        units: units
            .iter()
            .map(|s| UnitSize {
                label: *s,
                value: to_fixed(*s),
            })
            .collect(),
        mg_per_ml: None,
        max_units: whole_limit(reference.limit(LimitKind::UnitsPerDose).max),
    })
}

/// A whole number of doses a day, if `x` is one.
fn whole(x: f64) -> Option<u32> {
    (x.fract() == 0.0 && x >= 1.0 && x <= f64::from(u32::MAX)).then(|| {
        // Whole and in range, checked just above.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let n = x as u32;
        n
    })
}

/// The patient's own units at one dose time: (strength as labelled, how many), if known.
type OwnUnits = Option<(f64, f64)>;

/// Builds the ladder of an item matched to `line`; `Err` says why it cannot be laid out.
pub(crate) fn build<'r>(
    index: usize,
    item: &Item,
    line: Line<'r>,
    factor: f64,
    tie: TieBreak,
) -> Result<Tapered<'r>, HoldWhy> {
    let not_whole = |n: f64| {
        HoldWhy::new(
            format!("{} doses a day cannot be laid out as dose times", num(n)),
            "Ask the prescriber how many doses a day are taken (a whole number), so the doses can be planned; until then it is kept exactly as it is.",
        )
    };
    // Entered amount of each dose time (fixed point; one entry for as-needed
    // items and patches), the dose shape, and the patient's own units at each.
    let (per_time, shape, own): (Vec<u64>, Shape, Vec<OwnUnits>) = match &item.dose {
        Dose::Solid {
            strength,
            times: Some(t),
            ..
        } => (
            t.doses()
                .iter()
                .map(|d| to_fixed(strength.get() * d.amount()))
                .collect(),
            Shape::Times(t.doses().iter().map(|d| d.time.to_string()).collect()),
            t.doses()
                .iter()
                .map(|d| Some((strength.get(), d.amount())))
                .collect(),
        ),
        Dose::Liquid {
            strength,
            times: Some(t),
            ..
        } => (
            t.doses()
                .iter()
                .map(|d| to_fixed(strength.get() * d.amount()))
                .collect(),
            Shape::Times(t.doses().iter().map(|d| d.time.to_string()).collect()),
            vec![None; t.count()],
        ),
        Dose::Solid {
            strength,
            units_per_dose,
            doses_per_day,
            as_needed,
            ..
        } => {
            let n = whole(doses_per_day.get()).ok_or_else(|| not_whole(doses_per_day.get()))?;
            let shape = if *as_needed {
                Shape::AsNeeded { max: n }
            } else {
                Shape::Times(regular_times(n))
            };
            let slots = match &shape {
                Shape::Times(t) => t.len(),
                _ => 1,
            };
            (
                vec![to_fixed(strength.get() * units_per_dose.get()); slots],
                shape,
                vec![Some((strength.get(), units_per_dose.get())); slots],
            )
        }
        Dose::Liquid {
            strength,
            ml_per_dose,
            doses_per_day,
            as_needed,
            ..
        } => {
            let n = whole(doses_per_day.get()).ok_or_else(|| not_whole(doses_per_day.get()))?;
            let shape = if *as_needed {
                Shape::AsNeeded { max: n }
            } else {
                Shape::Times(regular_times(n))
            };
            let slots = match &shape {
                Shape::Times(t) => t.len(),
                _ => 1,
            };
            (
                vec![to_fixed(strength.get() * ml_per_dose.get()); slots],
                shape,
                vec![None; slots],
            )
        }
        Dose::Patch { strength, patches } => {
            let rate = line
                .units
                .iter()
                .find(|u| close(u.label, strength.get()))
                .map_or(to_fixed(strength.get()), |u| u.value);
            (
                vec![rate * u64::from(patches.get())],
                Shape::Patch(patch_time(line.row)),
                vec![Some((strength.get(), f64::from(patches.get())))],
            )
        }
    };
    if let Dose::Patch { patches, .. } = &item.dose {
        if patches.get() > line.max_units {
            return Err(HoldWhy::new(
                format!(
                    "{} patches worn at once is more than the {} the product licence allows for {}",
                    patches.get(),
                    line.max_units,
                    line.box_name
                ),
                format!(
                    "Ask the prescriber to confirm this dose: {} patches at once is more than the licensed {}. Stepdown keeps it exactly as it is and does not cut it to fit.",
                    patches.get(),
                    line.max_units
                ),
            ));
        }
    }
    let largest = per_time.iter().copied().max().unwrap_or(0);
    let menu = Menu::build(&line.units, largest, line.max_units);
    let k_start: Vec<usize> = per_time
        .iter()
        .map(|a| menu.floor(usize::try_from(a / menu.g).unwrap_or(0)))
        .collect();
    for (i, (per_dose, k0)) in per_time.iter().zip(&k_start).enumerate() {
        if *k0 as u64 * menu.g == *per_dose && *per_dose != 0 {
            continue;
        }
        // Never rounded down: the current dose is kept and the prescriber asked.
        let what = match line.kind {
            LineKind::Patch => format!("{} micrograms/hour", num(from_fixed(*per_dose))),
            _ => format!("{} mg a dose", num(from_fixed(*per_dose))),
        };
        // Doses by time of day name the time whose amount cannot be made.
        let at = match (&shape, item.dose.times()) {
            (Shape::Times(names), Some(_)) => {
                names.get(i).map(|n| format!(" ({n})")).unwrap_or_default()
            }
            _ => String::new(),
        };
        let how = match line.kind {
            LineKind::Liquid => format!(
                "whole {} mL measures of {}",
                num(line.units.first().map_or(0.0, |u| u.label)),
                line.box_name
            ),
            LineKind::Patch => {
                format!("whole patches of {} (patches are never cut)", line.box_name)
            }
            LineKind::Solid => format!(
                "whole units of {} (modified-release tablets are never split)",
                line.box_name
            ),
        };
        return Err(HoldWhy::new(
            format!("{what}{at} cannot be made from {how}"),
            query_not_makeable(line.box_name),
        ));
    }

    // The patient's own units, shown while a dose is unchanged.
    let mut start_comp: Vec<(usize, Vec<u32>)> = Vec::new();
    for ((k0, own), per_dose) in k_start.iter().zip(&own).zip(&per_time) {
        let Some((s, n)) = own else { continue };
        let Some(i) = line.units.iter().position(|u| close(u.label, *s)) else {
            continue;
        };
        let Some(count) = whole(*n) else { continue };
        if *k0 as u64 * menu.g != *per_dose
            || count > line.max_units
            || start_comp.iter().any(|(k, _)| k == k0)
        {
            continue;
        }
        let mut c = vec![0; line.units.len()];
        c[i] = count;
        start_comp.push((*k0, c));
    }
    let k0 = k_start.first().copied().unwrap_or(0);

    let mut levels = Vec::new();
    match &shape {
        Shape::Times(_) => {
            let mut k = k_start.clone();
            levels.push(Level {
                k: k.clone(),
                times: 1,
            });
            // The dose-time rule (taper.json `dose-time-order`): the next
            // reduction comes off the largest dose of the day, so uneven doses
            // even out before any time is cut further; among equal doses off
            // the earliest, so where a day's doses cannot be equal the later
            // ones are the larger (the evening dose for twice-daily products):
            // the night-time dose, which covers sleep, is kept longest.
            while let Some(max) = k.iter().copied().max().filter(|m| *m > 0) {
                let found = if tie == TieBreak::Latest {
                    k.iter().rposition(|x| *x == max)
                } else {
                    k.iter().position(|x| *x == max)
                };
                let Some(i) = found else {
                    break;
                };
                k[i] = menu.next_below(max);
                levels.push(Level {
                    k: k.clone(),
                    times: 1,
                });
            }
        }
        Shape::AsNeeded { max } => {
            // As-needed items allow one dose a day fewer at each rung, down to
            // once a day, and then stop: each dose stays the size that helps
            // (a smaller as-needed dose is not a meaningful step).
            let mut t = *max;
            levels.push(Level {
                k: vec![k0],
                times: t,
            });
            while t > 1 && k0 > 0 {
                t -= 1;
                levels.push(Level {
                    k: vec![k0],
                    times: t,
                });
            }
            if k0 > 0 {
                levels.push(Level {
                    k: vec![0],
                    times: 1,
                });
            }
        }
        Shape::Patch(_) => {
            let mut k = k0;
            levels.push(Level {
                k: vec![k],
                times: 1,
            });
            while k > 0 {
                k = menu.next_below(k);
                levels.push(Level {
                    k: vec![k],
                    times: 1,
                });
            }
        }
    }
    let mut t = Tapered {
        index,
        item: item.clone(),
        line,
        shape,
        menu,
        levels: Vec::new(),
        ome: Vec::new(),
        entered_daily: 0,
        start_comp,
        class: order_class(item),
    };
    t.entered_daily = match (&item.dose, &t.shape) {
        // Each time's own amount (equal ones for doses entered per day).
        (_, Shape::Times(_)) | (Dose::Patch { .. }, _) => per_time.iter().sum(),
        (Dose::Solid { doses_per_day, .. } | Dose::Liquid { doses_per_day, .. }, _) => {
            to_fixed(from_fixed(per_time.first().copied().unwrap_or(0)) * doses_per_day.get())
        }
    };
    t.ome = levels
        .iter()
        .map(|l| from_fixed(t.daily(l)) * factor)
        .collect();
    t.levels = levels;
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn units(s: &[f64]) -> Vec<UnitSize> {
        s.iter()
            .map(|x| UnitSize {
                label: *x,
                value: to_fixed(*x),
            })
            .collect()
    }

    #[test]
    fn menu_makes_fewest_units_preferring_large_strengths() {
        let m = Menu::build(&units(&[5.0, 10.0, 15.0, 30.0, 60.0]), to_fixed(60.0), 20);
        assert_eq!(m.g, to_fixed(5.0));
        assert_eq!(m.comp(5), Some(&[0, 1, 1, 0, 0][..])); // 25 = 15 + 10
        assert_eq!(m.comp(10), Some(&[1, 0, 1, 1, 0][..])); // 50 = 30 + 15 + 5
        assert_eq!(m.comp(12), Some(&[0, 0, 0, 0, 1][..]));
    }

    #[test]
    fn menu_skips_amounts_that_cannot_be_made() {
        // Morphine 24-hourly capsules 30 ... 150 and 200: the grid is 10 mg,
        // but only multiples of 30 (and 200) can be made below 210.
        let m = Menu::build(
            &units(&[30.0, 60.0, 90.0, 120.0, 150.0, 200.0]),
            to_fixed(200.0),
            20,
        );
        assert_eq!(from_fixed(m.g), 10.0);
        assert_eq!(m.floor(5), 3);
        assert_eq!(m.next_below(20), 18);
        assert_eq!(m.next_below(3), 0);
        // Dihydrocodeine slow-release: 60, 90, 120 — 30 mg is not makeable.
        let m = Menu::build(&units(&[60.0, 90.0, 120.0]), to_fixed(120.0), 20);
        assert_eq!(from_fixed(m.g), 30.0);
        assert_eq!(m.next_below(2), 0);
        assert_eq!(m.next_below(3), 2);
    }

    #[test]
    fn unit_caps_limit_what_is_makeable() {
        // Buprenorphine 7-day patches, at most two at once: 45 cannot be made.
        let m = Menu::build(&units(&[5.0, 10.0, 15.0, 20.0]), to_fixed(45.0), 2);
        assert_eq!(m.floor(9), 8);
    }

    #[test]
    fn fixed_point_is_exact_for_catalogue_strengths() {
        assert_eq!(to_fixed(1.3) * 2, to_fixed(2.6));
        assert_eq!(to_fixed(12.5) * 3, to_fixed(37.5));
        assert_eq!(from_fixed(to_fixed(52.5)), 52.5);
        assert_eq!(to_fixed(-1.0), 0);
    }

    #[test]
    fn dose_time_names() {
        assert_eq!(regular_times(2), ["morning", "evening"]);
        assert_eq!(regular_times(1), ["once a day"]);
        assert_eq!(regular_times(6)[5], "dose 6 of 6");
        assert_eq!(as_needed_time(4), "up to 4 times a day");
        assert_eq!(as_needed_time(1), "up to once a day");
    }
}
