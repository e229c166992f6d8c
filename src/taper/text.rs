//! The plan as a plain-text table, the way a pharmacist writes a reducing
//! schedule: one row per medicine per step, with dates, what to take at each
//! time, the daily amount and total, and what to dispense (`stepdown plan --format text`).

use chrono::NaiveDate;
use rustc_hash::FxHashMap;

use crate::vocabulary::num;

use super::output::{DoseTime, ItemChange, Plan, StepItem, StepKind, UnitAmount};
use super::schedule::per_day;

fn date(d: NaiveDate) -> String {
    d.format("%d/%m/%Y").to_string()
}

/// The second ingredient of a combination item, from the plan's own input,
/// so every strength reads as prescribed: paracetamol per unit ("30/500 mg";
/// co-codamol is reduced by whole tablets of its own strength), or naloxone in
/// proportion to the oxycodone, as every UK oxycodone with naloxone tablet is
/// ("20 mg/10 mg", then "10 mg/5 mg"), never "20 mg" alone.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum SecondPart {
    /// Paracetamol mg in each tablet or capsule.
    Paracetamol(f64),
    /// Naloxone mg per mg of the opioid (0.5 for 20 mg/10 mg).
    Naloxone {
        /// Naloxone per mg of opioid, from the entered tablet.
        per_mg: f64,
    },
}

impl SecondPart {
    /// mg of the second ingredient in a unit of `strength_mg` of the opioid.
    pub(crate) fn mg_at(self, strength_mg: f64) -> f64 {
        match self {
            SecondPart::Paracetamol(p) => p,
            SecondPart::Naloxone { per_mg } => strength_mg * per_mg,
        }
    }
}

/// The second ingredient of item `index` of the plan's input, if it has one.
pub(crate) fn second_part(plan: &Plan, index: u32) -> Option<SecondPart> {
    let raw = usize::try_from(index)
        .ok()
        .and_then(|i| plan.request.items.get(i))?;
    match (raw.paracetamol_mg, raw.naloxone_mg, raw.strength_mg) {
        (Some(p), _, _) if p > 0.0 => Some(SecondPart::Paracetamol(p)),
        (_, Some(n), Some(s)) if n > 0.0 && s > 0.0 => Some(SecondPart::Naloxone { per_mg: n / s }),
        _ => None,
    }
}

/// "30 mg", "30/500 mg" for co-codamol, "20 mg/10 mg" for oxycodone with naloxone.
pub(crate) fn solid_strength(mg: f64, second: Option<SecondPart>) -> String {
    match second {
        Some(SecondPart::Paracetamol(p)) => format!("{}/{} mg", num(mg), num(p)),
        Some(n @ SecondPart::Naloxone { .. }) => {
            format!("{} mg/{} mg", num(mg), num(n.mg_at(mg)))
        }
        None => format!("{} mg", num(mg)),
    }
}

fn units_text(units: &[UnitAmount], paracetamol: Option<SecondPart>) -> String {
    let parts: Vec<String> = units
        .iter()
        .map(|u| match u {
            UnitAmount::Solid(s) => format!(
                "{} × {}",
                num(s.count),
                solid_strength(s.strength_mg, paracetamol)
            ),
            UnitAmount::Patch(p) => format!(
                "{} × {} micrograms/hour",
                num(p.count),
                num(p.strength_mcg_per_hour)
            ),
            UnitAmount::Liquid(l) => {
                format!("{} mL ({} mg)", num(l.ml), num(l.ml * l.strength_mg_per_ml))
            }
        })
        .collect();
    parts.join(" + ")
}

fn dose_lines(doses: &[DoseTime], paracetamol: Option<SecondPart>) -> Vec<String> {
    doses
        .iter()
        .map(|d| format!("{}: {}", d.time, units_text(&d.units, paracetamol)))
        .collect()
}

/// The strengths an item is taken in, largest first: "25 micrograms/hour",
/// "30/500 mg", "2 mg/mL".
fn strengths_text(item: &StepItem, paracetamol: Option<SecondPart>) -> String {
    let mut seen: Vec<String> = Vec::new();
    for u in item.doses.iter().flat_map(|d| d.units.iter()) {
        let s = match u {
            UnitAmount::Solid(s) => solid_strength(s.strength_mg, paracetamol),
            UnitAmount::Patch(p) => format!("{} micrograms/hour", num(p.strength_mcg_per_hour)),
            UnitAmount::Liquid(l) => format!("{} mg/mL", num(l.strength_mg_per_ml)),
        };
        if !seen.contains(&s) {
            seen.push(s);
        }
    }
    seen.join(" and ")
}

/// The name each item goes by in text, by input index. An item is named by
/// its product; where two items share a product ("1. fentanyl 72-hour patches;
/// 2. fentanyl 72-hour patches" cannot be acted on), each also says what it is
/// at the start of the plan: its strength, then its dose if the strengths are
/// the same too, then which entry it is if even the doses match.
pub fn item_names(plan: &Plan) -> Vec<(u32, String)> {
    // Grouped and counted with hashes, each strength and dose written once:
    // near-linear in the items (issue 20), however many share a product.
    let mut starting: FxHashMap<u32, &StepItem> = FxHashMap::default();
    for s in &plan.starting_items {
        starting.entry(s.index).or_insert(s);
    }
    let start = |index: u32| starting.get(&index).copied();
    let strength = |index: u32| {
        start(index).map_or_else(String::new, |s| strengths_text(s, second_part(plan, index)))
    };
    let dose = |index: u32| {
        start(index).map_or_else(String::new, |s| {
            dose_lines(&s.doses, second_part(plan, index)).join(", ")
        })
    };
    // The items of each product, by position in `plan.items`, in order.
    let mut by_product: FxHashMap<&str, Vec<usize>> = FxHashMap::default();
    for (k, p) in plan.items.iter().enumerate() {
        by_product.entry(p.product.as_str()).or_default().push(k);
    }
    let mut detail: Vec<Option<String>> = vec![None; plan.items.len()];
    for twins in by_product.values().filter(|t| t.len() >= 2) {
        let strengths: Vec<String> = twins
            .iter()
            .map(|k| strength(plan.items[*k].index))
            .collect();
        let mut per_strength: FxHashMap<&str, usize> = FxHashMap::default();
        for s in &strengths {
            *per_strength.entry(s.as_str()).or_default() += 1;
        }
        // Where the strength is shared too, the dose tells them apart.
        let doses: Vec<Option<String>> = twins
            .iter()
            .zip(&strengths)
            .map(|(k, mine)| {
                (per_strength.get(mine.as_str()).copied().unwrap_or(0) >= 2 && !mine.is_empty())
                    .then(|| dose(plan.items[*k].index))
            })
            .collect();
        let mut per_dose: FxHashMap<(&str, &str), usize> = FxHashMap::default();
        for (s, d) in strengths.iter().zip(&doses) {
            if let Some(d) = d {
                *per_dose.entry((s.as_str(), d.as_str())).or_default() += 1;
            }
        }
        let mut so_far: FxHashMap<(&str, &str), usize> = FxHashMap::default();
        for ((k, mine), my_dose) in twins.iter().zip(&strengths).zip(&doses) {
            detail[*k] = Some(match my_dose {
                None => mine.clone(),
                Some(my_dose) => {
                    let key = (mine.as_str(), my_dose.as_str());
                    let n = so_far.entry(key).or_default();
                    *n += 1;
                    let total = per_dose.get(&key).copied().unwrap_or(0);
                    let mut d = format!("{mine}, {my_dose}");
                    if total > 1 {
                        d.push_str(&format!("; entry {n} of {total}"));
                    }
                    d
                }
            });
        }
    }
    plan.items
        .iter()
        .zip(detail)
        .map(|(p, detail)| {
            let Some(detail) = detail else {
                return (p.index, p.product.clone());
            };
            // "co-codamol tablets (codeine with paracetamol)" already ends in brackets.
            let name = if p.product.ends_with(')') {
                format!("{}, {detail} at the start of the plan", p.product)
            } else {
                format!("{} ({detail} at the start of the plan)", p.product)
            };
            (p.index, name)
        })
        .collect()
}

/// The name of the item at `index` (see [`item_names`]).
pub(crate) fn name_of(names: &[(u32, String)], index: u32, fallback: &str) -> String {
    // `item_names` lists items in input order, so index i is usually at i:
    // looked up there first, so naming every item of every step stays linear.
    usize::try_from(index)
        .ok()
        .and_then(|i| names.get(i))
        .filter(|(i, _)| *i == index)
        .or_else(|| names.iter().find(|(i, _)| *i == index))
        .map_or_else(|| fallback.to_string(), |(_, n)| n.clone())
}

/// What a stopped item's row says: for a patch, to take the last one off on
/// the stop day and not put on a new one.
pub(crate) fn stop_words(item: &StepItem, day: NaiveDate) -> String {
    if item.form == Some(crate::vocabulary::Form::Patch) {
        format!(
            "stop: take the last patch off on {} and do not put on a new one",
            date(day)
        )
    } else {
        "stop".to_string()
    }
}

pub(crate) fn item_rows(
    plan: &Plan,
    names: &[(u32, String)],
    item: &StepItem,
    day: NaiveDate,
) -> (String, Vec<String>) {
    let mut name = name_of(names, item.index, &item.product);
    let paracetamol = second_part(plan, item.index);
    let doses = match item.change {
        ItemChange::Stopped => vec![stop_words(item, day)],
        ItemChange::Held => {
            name.push_str(" (held, unchanged)");
            dose_lines(&item.doses, paracetamol)
        }
        _ => dose_lines(&item.doses, paracetamol),
    };
    (name, doses)
}

/// The amount a day, with the paracetamol of a combination product under it.
fn day_cell(item: &StepItem) -> Vec<String> {
    if item.change == ItemChange::Stopped {
        return vec!["0".into()];
    }
    let mut cell = vec![item.daily_amount.clone()];
    if let Some(p) = item.paracetamol_mg_per_day.filter(|p| *p > 0.0) {
        cell.push(format!("+ paracetamol {} mg", num(p)));
    }
    cell
}

/// A row of the table: cells of one or more lines.
type Row = Vec<Vec<String>>;

fn render(header: &[&str], rows: &[Row]) -> String {
    let cols = header.len();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (c, cell) in r.iter().enumerate().take(cols) {
            for line in cell {
                widths[c] = widths[c].max(line.chars().count());
            }
        }
    }
    let mut out = String::new();
    let line = |cells: Vec<&str>, out: &mut String| {
        let mut s = String::new();
        for (c, text) in cells.iter().enumerate() {
            if c + 1 == cols {
                s.push_str(text);
            } else {
                s.push_str(text);
                s.push_str(&" ".repeat(widths[c] - text.chars().count() + 2));
            }
        }
        out.push_str(s.trim_end());
        out.push('\n');
    };
    line(header.to_vec(), &mut out);
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    line(rule.iter().map(String::as_str).collect(), &mut out);
    for r in rows {
        let height = r.iter().map(Vec::len).max().unwrap_or(1).max(1);
        for i in 0..height {
            let cells: Vec<&str> = (0..cols)
                .map(|c| {
                    r.get(c)
                        .and_then(|cell| cell.get(i))
                        .map_or("", String::as_str)
                })
                .collect();
            line(cells, &mut out);
        }
    }
    out
}

/// How the plan ends, honestly: the target reached, or not and why; an end
/// total that leaves out an item that cannot be converted is marked incomplete.
pub fn end_words(plan: &Plan) -> String {
    let unit = per_day(plan.profile);
    let total = format!("{} {unit}", num(plan.ome_end));
    if !plan.ome_end_complete {
        format!("{total}, incomplete (an item that cannot be converted is not counted, and is not reduced); target not reached")
    } else if plan.target_reached {
        format!("{total}, target reached")
    } else if plan
        .items
        .iter()
        .any(|i| !i.tapered || i.prescriber_query.is_some())
    {
        format!("{total}, target not reached: held items stay at their dose (see the questions for the prescriber)")
    } else {
        format!("{total}, target not reached")
    }
}

/// The plan as a text table with a short header and the warnings after it.
pub fn plan_text(plan: &Plan) -> String {
    let unit = per_day(plan.profile);
    let mut out = String::new();
    out.push_str(&format!(
        "Opioid reduction plan ({} profile, reference {})\n",
        plan.profile.as_str().to_uppercase(),
        plan.reference_version
    ));
    let target = if plan.target_ome_mg_per_day > 0.0 {
        format!(
            "reduce to {} {unit} and hold",
            num(plan.target_ome_mg_per_day)
        )
    } else {
        "stop".to_string()
    };
    out.push_str(&format!(
        "Start {} at {} {unit}; target: {target}; last step ends {}.\n",
        date(plan.start_date),
        num(plan.ome_start),
        date(plan.end_date)
    ));
    out.push_str(&format!("End: {}.\n", end_words(plan)));
    out.push_str(&format!("Rate: {}.\n", plan.options.label));
    let names = item_names(plan);
    let order: Vec<String> = plan
        .reduction_order
        .iter()
        .enumerate()
        .filter_map(|(n, i)| {
            plan.items
                .iter()
                .find(|p| p.index == *i)
                .map(|p| format!("{}. {}", n + 1, name_of(&names, p.index, &p.product)))
        })
        .collect();
    if order.is_empty() {
        // Every item is held: there is nothing to reduce until the prescriber answers.
        out.push_str("Reduce in this order: nothing is reduced yet (every medicine is held; see the questions for the prescriber).\n");
    } else {
        out.push_str(&format!("Reduce in this order: {}.\n", order.join("; ")));
    }
    out.push_str(&format!("{}\n\n", plan.dose_placement));

    let header = [
        "Step",
        "From",
        "To",
        "Medicine",
        "Dose",
        "A day",
        unit_short(plan),
        "Supply for the step",
    ];
    let mut rows: Vec<Row> = Vec::new();
    let start_total: f64 = plan.ome_start;
    for (n, item) in plan.starting_items.iter().enumerate() {
        let (name, doses) = item_rows(plan, &names, item, plan.start_date);
        rows.push(vec![
            vec![if n == 0 { "Now".into() } else { String::new() }],
            vec![],
            vec![],
            vec![name],
            doses,
            day_cell(item),
            vec![if n == 0 {
                num(start_total)
            } else {
                String::new()
            }],
            vec![],
        ]);
    }
    for step in &plan.steps {
        let label = match step.kind {
            StepKind::Reduce => step.step.to_string(),
            StepKind::Start => format!("{} now", step.step),
            StepKind::Pause => format!("{} pause", step.step),
            StepKind::Stop => format!("{} stop", step.step),
            StepKind::Increase => format!("{} up", step.step),
        };
        // Each supply line goes on the row of the first item of its product.
        let mut shown = vec![false; step.supply.len()];
        for (n, item) in step.items.iter().enumerate() {
            let mut supply = Vec::new();
            for (line, done) in step.supply.iter().zip(shown.iter_mut()) {
                if !*done && item.product_id.as_deref() == Some(line.product_id.as_str()) {
                    *done = true;
                    supply.push(line.description.clone());
                }
            }
            // Controlled drugs: the step's supply on prescriptions of at most 30 days.
            if n + 1 == step.items.len() && step.prescriptions.len() > 1 {
                supply.push(format!("as {} prescriptions:", step.prescriptions.len()));
                for p in &step.prescriptions {
                    let lines: Vec<String> =
                        p.supply.iter().map(|l| l.description.clone()).collect();
                    supply.push(format!(
                        "{}) {} to {} ({} days): {}",
                        p.number,
                        date(p.start_date),
                        date(p.end_date),
                        p.days,
                        lines.join(", ")
                    ));
                }
            }
            let (name, doses) = item_rows(plan, &names, item, step.start_date);
            let first = n == 0;
            rows.push(vec![
                vec![if first { label.clone() } else { String::new() }],
                vec![if first {
                    date(step.start_date)
                } else {
                    String::new()
                }],
                vec![if first {
                    date(step.end_date)
                } else {
                    String::new()
                }],
                vec![name],
                doses,
                day_cell(item),
                vec![if first {
                    num(step.total_ome_mg_per_day)
                } else {
                    String::new()
                }],
                supply,
            ]);
        }
    }
    out.push_str(&render(&header, &rows));

    let step_notes: Vec<String> = plan
        .steps
        .iter()
        .flat_map(|s| {
            let reason = s
                .reason
                .as_ref()
                .map(|r| format!("Step {}: reason: {r}", s.step));
            reason
                .into_iter()
                .chain(s.notes.iter().map(move |n| format!("Step {}: {n}", s.step)))
        })
        .collect();
    if !step_notes.is_empty() {
        out.push_str("\nStep notes:\n");
        for n in step_notes {
            out.push_str(&format!("- {n}\n"));
        }
    }
    if !plan.warnings.is_empty() {
        out.push_str("\nWarnings:\n");
        for w in &plan.warnings {
            out.push_str(&format!("- {w}\n"));
        }
    }
    let queries: Vec<String> = plan
        .items
        .iter()
        .filter_map(|i| {
            i.prescriber_query.as_ref().map(|q| {
                format!(
                    "- {} (items[{}]): {q}",
                    name_of(&names, i.index, &i.product),
                    i.index
                )
            })
        })
        .collect();
    if !queries.is_empty() {
        out.push_str("\nQuestions for the prescriber:\n");
        for q in queries {
            out.push_str(&q);
            out.push('\n');
        }
        for i in plan.items.iter().filter(|i| i.prescriber_query.is_some()) {
            for o in &i.switch_offers {
                out.push_str(&format!(
                    "  Switch offered for items[{}] (edit accept_switch \"{}\"): {} -> {}. Equivalence: {}. Source: {}\n",
                    i.index, o.id, o.label, o.becomes, o.equivalence, o.source
                ));
            }
        }
    }
    // Switches offered on items reduced as they are (finer steps): a choice.
    let names = &names;
    let choices: Vec<String> = plan
        .items
        .iter()
        .filter(|i| i.prescriber_query.is_none())
        .flat_map(|i| {
            i.switch_offers.iter().map(move |o| {
                format!(
                    "- {} (items[{}], edit accept_switch \"{}\"): {} -> {}. Equivalence: {}. Source: {}\n",
                    name_of(names, i.index, &i.product),
                    i.index,
                    o.id,
                    o.label,
                    o.becomes,
                    o.equivalence,
                    o.source
                )
            })
        })
        .collect();
    if !choices.is_empty() {
        out.push_str("\nChoices for the clinician (offered, never applied on their own):\n");
        for c in choices {
            out.push_str(&c);
        }
    }
    if !plan.edits_applied.is_empty() {
        out.push_str("\nClinician edits:\n");
        for e in &plan.edits_applied {
            out.push_str(&format!("- {e}\n"));
        }
    }
    out
}

fn unit_short(plan: &Plan) -> &'static str {
    match plan.profile {
        crate::profile::Profile::Uk => "OME/day",
        crate::profile::Profile::Cdc => "MME/day",
    }
}
