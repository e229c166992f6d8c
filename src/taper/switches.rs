//! Switches within the same drug (`taper.json` `switch` rows): offered on an
//! item whose product line cannot go on (a held item, or one held at the
//! lowest strength of its line), and applied only when the clinician accepts
//! one as an edit ([`super::Edit::AcceptSwitch`]). The equivalence and its
//! source are shown with the offer and recorded with the accepted edit.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::input::FieldError;
use crate::reference::{ProductRow, Reference};
use crate::regimen::RawItem;
use crate::vocabulary::num;

use super::input::PlanRequest;
use super::rules::{SwitchOffered, SwitchRow, TaperRules};

/// A switch the clinician may accept for one item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct SwitchOffer {
    /// Rule id, named by the `accept_switch` edit.
    pub id: String,
    /// In words.
    pub label: String,
    /// Catalogue row switched to.
    pub to_product: String,
    /// What stays the same (the equivalence), in words.
    pub equivalence: String,
    /// The new regimen entry for this item, in words (e.g. "MST 15 mg twice a day").
    pub becomes: String,
    /// Where the rule comes from.
    pub source: String,
}

fn row<'r>(reference: &'r Reference, id: &str) -> Option<&'r ProductRow> {
    reference.products.rows.iter().find(|r| r.id == id)
}

/// The items an accepted switch puts in place of `item`, or why it cannot apply.
fn switched(
    item: &RawItem,
    rule: &SwitchRow,
    reference: &Reference,
) -> Result<Vec<RawItem>, String> {
    let to = row(reference, &rule.to_product)
        .ok_or_else(|| format!("the catalogue has no product '{}'", rule.to_product))?;
    let mut base = item.clone();
    if rule.separate_paracetamol {
        // The opioid alone goes on; the paracetamol is not part of the taper.
        base.paracetamol_mg = None;
    }
    if let (Some(strengths), Some(mg), Some(doses)) = (
        to.strengths_mg.as_deref(),
        item.strength_mg,
        item.doses_per_day,
    ) {
        // Tablets or capsules: the same total a day over the new number of
        // doses (the item's own, unless the rule says). Doses by time of day
        // do not carry over to another number of doses: not offered.
        if item.doses.is_some() {
            return Err(format!("{} applies to equal doses only", rule.label));
        }
        let daily = mg * item.units_per_dose.unwrap_or(1.0) * doses;
        let n = rule.doses_per_day.map_or(doses, f64::from);
        let per = daily / n;
        let g = strengths.iter().fold(0.0_f64, |a, s| gcd(a, *s));
        if g <= 0.0 || ((per / g) - (per / g).round()).abs() > 1e-9 {
            return Err(format!(
                "{} mg a dose cannot be made from {} ({} mg)",
                num(per),
                to.box_name,
                strengths
                    .iter()
                    .map(|s| num(*s))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        base.form = Some(to.form.as_str().to_string());
        base.release = to.release.map(|r| r.as_str().to_string());
        // One tablet a dose where the line makes the dose in one, else the
        // dose in units of the largest strength that divides it.
        let unit = strengths
            .iter()
            .copied()
            .filter(|s| *s > 0.0 && ((per / s) - (per / s).round()).abs() < 1e-9)
            .fold(g, f64::max);
        base.strength_mg = Some(unit);
        base.units_per_dose = Some(per / unit);
        base.doses_per_day = Some(n);
        return Ok(vec![base]);
    }
    if let (Some(to_ml), Some(from_ml), Some(ml)) = (
        to.strengths_mg_per_ml
            .as_deref()
            .and_then(|s| s.first().copied()),
        item.strength_mg_per_ml,
        item.ml_per_dose,
    ) {
        // Liquids: the same mg a dose in the new strength's volume.
        base.strength_mg_per_ml = Some(to_ml);
        base.ml_per_dose = Some(ml * from_ml / to_ml);
        return Ok(vec![base]);
    }
    if let (Some(strengths), Some(rate)) = (
        to.strengths_mcg_per_hour.as_deref(),
        item.strength_mcg_per_hour,
    ) {
        // Patches: the same rate, from the fewest patches of the new line.
        let total = rate * item.patches.unwrap_or(1.0);
        let most = to.max_patches_at_once.unwrap_or(1);
        let mut sorted: Vec<f64> = strengths.to_vec();
        sorted.sort_by(|a, b| b.total_cmp(a));
        let mut best: Option<Vec<f64>> = None;
        let mut stack: Vec<(Vec<f64>, f64)> = vec![(Vec::new(), total)];
        while let Some((used, left)) = stack.pop() {
            if left.abs() < 1e-9 {
                if best.as_ref().is_none_or(|b| used.len() < b.len()) {
                    best = Some(used);
                }
                continue;
            }
            if used.len() as u32 >= most {
                continue;
            }
            for s in &sorted {
                if *s <= left + 1e-9 && used.last().is_none_or(|l| s <= l) {
                    let mut u = used.clone();
                    u.push(*s);
                    stack.push((u, left - s));
                }
            }
        }
        let patches = best.ok_or_else(|| {
            format!(
                "{} micrograms/hour cannot be made from at most {most} of {}",
                num(total),
                to.box_name
            )
        })?;
        return Ok(patches
            .iter()
            .map(|s| RawItem {
                strength_mcg_per_hour: Some(*s),
                patches: Some(1.0),
                ..item.clone()
            })
            .collect());
    }
    Err(format!("{} does not fit this item", rule.label))
}

fn gcd(a: f64, b: f64) -> f64 {
    // Catalogue strengths are multiples of 0.1 mg; work in tenths.
    let (mut x, mut y) = ((a * 10.0).round() as i64, (b * 10.0).round() as i64);
    while y != 0 {
        (x, y) = (y, x % y);
    }
    x as f64 / 10.0
}

/// What the paracetamol of a combination becomes, in words (`None` otherwise).
fn paracetamol_words(item: &RawItem, rule: &SwitchRow) -> Option<String> {
    if !rule.separate_paracetamol {
        return None;
    }
    let p = item.paracetamol_mg?;
    let units = item.units_per_dose.unwrap_or(1.0);
    Some(format!(
        "with paracetamol {} mg a dose ({} x {} mg) as separate tablets, not reduced by this plan",
        num(p * units),
        num(units),
        num(p)
    ))
}

fn words(items: &[RawItem], reference: &Reference, to: &str) -> String {
    let name = row(reference, to).map_or(to.to_string(), |r| r.box_name.clone());
    let parts: Vec<String> = items
        .iter()
        .map(|i| {
            if let Some(s) = i.strength_mcg_per_hour {
                format!("{} micrograms/hour", num(s))
            } else if let (Some(s), Some(ml)) = (i.strength_mg_per_ml, i.ml_per_dose) {
                format!("{} mL ({} mg)", num(ml), num(ml * s))
            } else {
                format!(
                    "{} mg",
                    num(i.strength_mg.unwrap_or(0.0) * i.units_per_dose.unwrap_or(1.0))
                )
            }
        })
        .collect();
    let as_needed = items.first().and_then(|i| i.as_needed) == Some(true);
    let times = items
        .first()
        .and_then(|i| i.doses_per_day)
        .map_or(String::new(), |n| {
            if as_needed {
                format!(", when needed, up to {} times a day", num(n))
            } else {
                format!(", {} times a day", num(n))
            }
        });
    format!("{name}: {}{times}", parts.join(" + "))
}

fn becomes(item: &RawItem, new: &[RawItem], rule: &SwitchRow, reference: &Reference) -> String {
    let w = words(new, reference, &rule.to_product);
    match paracetamol_words(item, rule) {
        Some(p) => format!("{w}, {p}"),
        None => w,
    }
}

/// The switches offered for `item` on line `product_id` (those that fit it):
/// every fitting one when the line cannot go on (`held`), otherwise only those
/// offered on every item of the line.
pub(crate) fn offers(
    item: &RawItem,
    product_id: &str,
    held: bool,
    reference: &Reference,
) -> Vec<SwitchOffer> {
    TaperRules::of(reference)
        .switches()
        .filter(|w| w.from_product == product_id)
        .filter(|w| held || w.offer == SwitchOffered::Always)
        .filter_map(|w| {
            let new = switched(item, w, reference).ok()?;
            Some(SwitchOffer {
                id: w.id.clone(),
                label: w.label.clone(),
                to_product: w.to_product.clone(),
                equivalence: w.equivalence.clone(),
                becomes: becomes(item, &new, w, reference),
                source: w.source.clone(),
            })
        })
        .collect()
}

/// The request with item `index` replaced as switch `id` says; the new items
/// take its place (a patch rate may need two patches: two items).
pub(crate) fn apply(
    request: &PlanRequest,
    index: u32,
    id: &str,
    reference: &Reference,
    path: &str,
) -> Result<(PlanRequest, String), FieldError> {
    let rule = TaperRules::of(reference)
        .switches()
        .find(|w| w.id == id)
        .ok_or_else(|| {
            let known: Vec<&str> = TaperRules::of(reference)
                .switches()
                .map(|w| w.id.as_str())
                .collect();
            FieldError::new(
                format!("{path}.switch"),
                format!("unknown switch '{id}' (known: {})", known.join(", ")),
            )
        })?;
    let Some(item) = request.items.get(index as usize) else {
        return Err(FieldError::new(
            format!("{path}.item"),
            format!(
                "no item {index}: the plan has {} items",
                request.items.len()
            ),
        ));
    };
    let new = switched(item, rule, reference)
        .map_err(|why| FieldError::new(format!("{path}.switch"), why))?;
    let said = format!(
        "Switch accepted for items[{index}]: {} (now {}; {}). Source: {}",
        rule.label,
        becomes(item, &new, rule, reference),
        rule.equivalence,
        rule.source
    );
    let mut out = request.clone();
    let i = index as usize;
    out.items.splice(i..=i, new);
    // Positions after the switched item move if it became two; a reduction
    // order by position is then cleared rather than guessed.
    if out.items.len() != request.items.len() {
        out.taper
            .order
            .retain(|e| !matches!(e, super::OrderEntry::Item(_)));
    }
    Ok((out, said))
}
