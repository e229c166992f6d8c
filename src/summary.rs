//! The clinician summary of a review: the note a GP files in the record.
//!
//! [`compose`] gathers, from an assessment and the plan made from the same
//! regimen: the regimen with the OME working, the total with its profile and
//! factor-table version, the risk flags with their actions, the plan step by
//! step with what to dispense, and the review dates. [`Summary::to_text`] gives
//! plain text to paste into the record (no column alignment, because clinical
//! systems show free text in proportional fonts); [`Summary::to_pdf`] gives a
//! page for the notes, through [`crate::pdf::summary`].
//!
//! Clinician wording: abbreviations a prescriber reads at a glance (MR, PRN,
//! OME) are fine here, unlike in the patient leaflet. Every number comes from
//! the assessment, the plan or the reference tables; none is decided here.

use chrono::NaiveDate;
use rustc_hash::{FxHashMap, FxHashSet};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::assess::{assess_value, AssessReport};
use crate::flags::Severity;
use crate::input::InputError;
use crate::leaflet::suggested_next_review;
use crate::nhs_number::NhsNumber;
use crate::ome::OmeOptions;
use crate::patient::{raw_patient_from_value, PatientContext};
use crate::pdf::summary::{SummaryPage, SummarySection};
use crate::pdf::{escape_markup, Column, PdfError, Rendered, RowLine, Span, Table, TableRow};
use crate::profile::Profile;
use crate::reference::Reference;
use crate::taper::input::{request_from_value, PlanRequest};
use crate::taper::text::{second_part, solid_strength, SecondPart};
use crate::taper::{
    DoseTime, ItemChange, Plan, PlanItem, StepItem, StepKind, StrengthUnit, SupplyLine, UnitAmount,
};
use crate::vocabulary::num;
use crate::vocabulary::{Form, Release};

/// What can go wrong composing or printing a summary.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SummaryError {
    /// A detail is not usable; `field` names it, e.g. `nhs_number`.
    #[error("{field}: {message}")]
    Input {
        /// Field path.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// The assessment and the plan are not of the same regimen and profile.
    #[error("the assessment and the plan do not match: {0}")]
    Mismatch(String),
    /// Writing the PDF failed.
    #[error(transparent)]
    Pdf(#[from] PdfError),
}

/// Who, where and when, for the summary's heading lines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SummaryDetails {
    /// The patient's name (left off if `None`).
    #[serde(default)]
    pub patient_name: Option<String>,
    /// NHS number as typed (checked: ten digits with a valid check digit).
    #[serde(default)]
    pub nhs_number: Option<String>,
    /// The reviewing clinician (from settings).
    #[serde(default)]
    pub reviewer: Option<String>,
    /// The practice name (from settings).
    #[serde(default)]
    pub practice: Option<String>,
    /// The date of this review.
    pub review_date: NaiveDate,
    /// The booked next review. `None` shows "not booked" with a suggested date
    /// (the last weekday of step 1: [`suggested_next_review`]).
    #[serde(default)]
    pub next_review: Option<NaiveDate>,
}

/// One medicine in one step of the summary's plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SummaryStepItem {
    /// The medicine's short label and dose, e.g. "morphine MR: 15 mg + 10 mg bd".
    pub take: String,
    /// What to dispense for the step, e.g. "28 × 15 mg, 28 × 10 mg" (empty if nothing).
    pub dispense: String,
}

/// One step of the plan in the summary's table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SummaryStep {
    /// Step number.
    pub number: u32,
    /// "pause", "stop", "increase", or empty for a reduction.
    pub kind: String,
    /// First day.
    pub start: NaiveDate,
    /// Last day (the stop day for a stop step).
    pub end: NaiveDate,
    /// Days in the step.
    pub days: u32,
    /// Total for the step in the profile's unit (mg OME or MME a day).
    pub total: f64,
    /// The clinician's reason, for a marked hold or increase.
    pub reason: Option<String>,
    /// Per medicine, in the plan's order.
    pub items: Vec<SummaryStepItem>,
}

/// A headed part of the summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SummaryPart {
    /// Heading, e.g. "Risk flags".
    pub heading: String,
    /// Paragraphs.
    pub paragraphs: Vec<String>,
    /// List items.
    pub bullets: Vec<String>,
    /// A shorter list for the printed page when it differs (the flags without
    /// their rationale, so the page stays one page); empty: the page uses `bullets`.
    pub page_bullets: Vec<String>,
    /// Paragraphs after the list and the steps (e.g. the total under the regimen).
    pub closing: Vec<String>,
    /// The plan's steps (only in the plan part).
    pub steps: Vec<SummaryStep>,
}

/// The composed clinician summary: the same content for text and PDF.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Title line.
    pub title: String,
    /// Label and value lines under the title (patient, review, next review).
    pub fields: Vec<(String, String)>,
    /// Parts in order: regimen, flags, plan, notes.
    pub parts: Vec<SummaryPart>,
    /// Closing line: what produced it, from which reference data, and where the
    /// taper rate comes from.
    pub footer: String,
    /// The printed page's footer (short: it sits beside the page number).
    pub page_footer: String,
    /// The practice (PDF author).
    pub practice: String,
    /// Total label of the profile: "mg OME/day" or "MME/day", for the plan table header.
    pub per_day: String,
    /// Text the clinician entered, by field, checked against the print policy
    /// before a PDF is made (the plain text takes any script).
    #[serde(skip)]
    pub entered: Vec<(String, String)>,
}

/// The core's messages name regimen entries by their JSON path ("items[0]
/// (oxycodone): …"), which the CLI's JSON needs; the summary is read by a
/// prescriber, so it names them by their place in the list ("Medicine 1
/// (oxycodone): …"), as the app does on screen.
fn readable_item_refs(text: &str) -> String {
    const PATH: &str = "items[";
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(PATH) {
        let (before, from) = rest.split_at(at);
        out.push_str(before);
        let after = &from[PATH.len()..];
        let digits = after.len() - after.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        let joined = before
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.');
        let closed = after[digits..].starts_with(']');
        match after[..digits].parse::<usize>() {
            Ok(n) if digits > 0 && closed && !joined => {
                let word = if out.trim_end().is_empty() || out.trim_end().ends_with(['.', ':']) {
                    "Medicine"
                } else {
                    "medicine"
                };
                out.push_str(&format!("{word} {}", n.saturating_add(1)));
                rest = &after[digits + 1..];
            }
            _ => {
                out.push_str(PATH);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn per_day(profile: Profile) -> &'static str {
    match profile {
        Profile::Uk => "mg OME/day",
        Profile::Cdc => "MME/day",
    }
}

fn profile_words(profile: Profile) -> &'static str {
    match profile {
        Profile::Uk => "UK profile (BNF / FPM Opioids Aware)",
        Profile::Cdc => "CDC profile (US CDC 2022)",
    }
}

fn severity_word(s: Severity) -> &'static str {
    match s {
        Severity::High => "HIGH",
        Severity::Caution => "CAUTION",
        Severity::Info => "INFO",
    }
}

fn date(d: NaiveDate) -> String {
    d.format("%d/%m/%Y").to_string()
}

/// The product as a prescriber writes it: "morphine 12-hourly MR tablets".
fn short_product(product: &str) -> String {
    product.replace("slow-release", "MR")
}

/// The second ingredient of a combination item (co-codamol's paracetamol,
/// oxycodone with naloxone's naloxone), from the plan's own input.
fn paracetamol_of(plan: &Plan, index: u32) -> Option<SecondPart> {
    second_part(plan, index)
}

/// "15 mg + 10 mg", "2 × 30/500 mg", "20 mg/10 mg", "5 mL (10 mg)", "25 micrograms/hour".
fn units_text(units: &[UnitAmount], paracetamol: Option<SecondPart>) -> String {
    units
        .iter()
        .map(|u| {
            let (count, strength) = match u {
                UnitAmount::Solid(s) => (s.count, solid_strength(s.strength_mg, paracetamol)),
                UnitAmount::Patch(p) => (
                    p.count,
                    format!("{} micrograms/hour", num(p.strength_mcg_per_hour)),
                ),
                UnitAmount::Liquid(l) => {
                    return format!("{} mL ({} mg)", num(l.ml), num(l.ml * l.strength_mg_per_ml))
                }
            };
            if count == 1.0 {
                strength
            } else {
                format!("{} × {strength}", num(count))
            }
        })
        .collect::<Vec<_>>()
        .join(" + ")
}

/// A day's doses as a prescriber writes them: "30 mg bd",
/// "10 mg morning, 15 mg evening", "5 mg PRN max 4/day", "25 micrograms/hour every 72 hours".
fn doses_text(doses: &[DoseTime], as_needed: bool, paracetamol: Option<SecondPart>) -> String {
    let parts: Vec<(String, &DoseTime)> = doses
        .iter()
        .map(|d| (units_text(&d.units, paracetamol), d))
        .collect();
    if as_needed {
        return parts
            .iter()
            .map(|(u, d)| match d.times_a_day {
                Some(n) => format!("{u} PRN max {n}/day"),
                None => format!("{u} {} PRN", d.time),
            })
            .collect::<Vec<_>>()
            .join(", ");
    }
    let regular_times = doses.iter().all(|d| !d.time.starts_with("every"));
    let all_same = parts.windows(2).all(|w| w[0].0 == w[1].0);
    // Latin abbreviations a prescriber reads at a glance; "od" is left out on
    // purpose (it is misread as "right eye").
    let frequency = match parts.len() {
        2 => Some("bd"),
        3 => Some("tds"),
        4 => Some("qds"),
        _ => None,
    };
    match (frequency, all_same && regular_times) {
        (Some(f), true) => format!("{} {f}", parts[0].0),
        _ => parts
            .iter()
            .map(|(u, d)| format!("{u} {}", d.time))
            .collect::<Vec<_>>()
            .join(", "),
    }
}

/// Short names for the plan table ("morphine MR", "co-codamol", "fentanyl patch"),
/// by input index; the full product name where two items would share one.
fn labels(plan: &Plan) -> Vec<(u32, String)> {
    let short = |p: &PlanItem| -> String {
        if p.product.starts_with("co-") {
            return p
                .product
                .split(' ')
                .next()
                .unwrap_or(&p.product)
                .to_string();
        }
        let mut l = p.drug.clone();
        // Oxycodone with naloxone is its own product, never read as plain oxycodone.
        if matches!(
            second_part(plan, p.index),
            Some(SecondPart::Naloxone { .. })
        ) {
            l.push_str(" with naloxone");
        }
        if p.release == Some(Release::Modified) {
            l.push_str(" MR");
        }
        match p.form {
            Some(Form::Patch) => l.push_str(" patch"),
            Some(Form::Solution) => l.push_str(" liquid"),
            _ => {}
        }
        l
    };
    let all: Vec<(u32, String, String)> = plan
        .items
        .iter()
        .map(|p| (p.index, short(p), short_product(&p.product)))
        .collect();
    // Counted once, not per item: near-linear in the items (issue 20).
    let mut uses: FxHashMap<&str, usize> = FxHashMap::default();
    for (_, l, _) in &all {
        *uses.entry(l.as_str()).or_default() += 1;
    }
    // Two items of one product are told apart by their strength or dose at the start.
    let names = crate::taper::text::item_names(plan);
    all.iter()
        .map(|(i, l, full)| {
            if uses.get(l.as_str()).copied().unwrap_or(0) > 1 {
                (
                    *i,
                    short_product(&crate::taper::text::name_of(&names, *i, full)),
                )
            } else {
                (*i, l.clone())
            }
        })
        .collect()
}

fn item_text(item: &StepItem, plan: &Plan, label: &str, day: NaiveDate) -> String {
    match item.change {
        ItemChange::Stopped => format!("{label}: {}", crate::taper::text::stop_words(item, day)),
        ItemChange::Reduced | ItemChange::Same | ItemChange::Increased
            if item.form == Some(Form::Patch) =>
        {
            // A planned patch is changed at its product's wear time, named in
            // the regimen and the reduction order; the table shows only the strength.
            let strengths: Vec<String> = item
                .doses
                .iter()
                .map(|d| units_text(&d.units, None))
                .collect();
            format!("{label}: {}", strengths.join(", "))
        }
        change => {
            let doses = doses_text(
                &item.doses,
                item.as_needed,
                paracetamol_of(plan, item.index),
            );
            let held = if change == ItemChange::Held {
                " (held, unchanged)"
            } else {
                ""
            };
            format!("{label}: {doses}{held}")
        }
    }
}

/// "28 × 15 mg", "98 × 30/500 mg", "560 mL of 10 mg/5 mL", "5 × 12 micrograms/hour
/// patches": the form of tablets and capsules is in the product's name.
fn supply_text(s: &SupplyLine, paracetamol: Option<SecondPart>) -> String {
    let text = match s.strength_unit {
        StrengthUnit::Mg => {
            let strength = match &s.strength_label {
                Some(label) => label.clone(),
                None => solid_strength(s.strength, paracetamol),
            };
            format!("{} × {strength}", num(s.quantity))
        }
        StrengthUnit::MgPerMl => format!(
            "{} mL of {}",
            num(s.quantity),
            s.strength_label
                .clone()
                .unwrap_or_else(|| format!("{} mg/mL", num(s.strength)))
        ),
        StrengthUnit::McgPerHour => format!(
            "{} × {} micrograms/hour {}",
            num(s.quantity),
            num(s.strength),
            s.quantity_unit
        ),
    };
    if s.as_needed_maximum {
        format!("{text} (PRN max)")
    } else {
        text
    }
}

fn steps_of(plan: &Plan) -> Vec<SummaryStep> {
    let mut label_map: FxHashMap<u32, String> = FxHashMap::default();
    for (i, l) in labels(plan) {
        label_map.entry(i).or_insert(l);
    }
    let label_of = |i: u32| label_map.get(&i).cloned().unwrap_or_default();
    let mut paracetamol_by_product: FxHashMap<&str, Option<SecondPart>> = FxHashMap::default();
    for i in &plan.items {
        if let Some(id) = i.product_id.as_deref() {
            paracetamol_by_product
                .entry(id)
                .or_insert_with(|| paracetamol_of(plan, i.index));
        }
    }
    plan.steps
        .iter()
        .map(|s| {
            let kind = match s.kind {
                StepKind::Reduce => "",
                StepKind::Start => "current",
                StepKind::Pause => "pause",
                StepKind::Stop => "stop",
                StepKind::Increase => "increase",
            };
            let mut items = Vec::new();
            let mut shown: FxHashSet<&str> = FxHashSet::default();
            let mut supply_of: FxHashMap<&str, Vec<&SupplyLine>> = FxHashMap::default();
            for l in &s.supply {
                supply_of.entry(l.product.as_str()).or_default().push(l);
            }
            for item in &s.items {
                // Supply is per product; two entries of one product share it.
                let dispense = if !shown.insert(item.product.as_str()) {
                    String::new()
                } else {
                    supply_of
                        .get(item.product.as_str())
                        .into_iter()
                        .flatten()
                        .map(|l| supply_text(l, paracetamol_of(plan, item.index)))
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                items.push(SummaryStepItem {
                    take: item_text(item, plan, &label_of(item.index), s.start_date),
                    dispense,
                });
            }
            // Controlled drugs are prescribed for at most 30 days at a time.
            if s.prescriptions.len() > 1 {
                let parts: Vec<String> = s
                    .prescriptions
                    .iter()
                    .map(|p| {
                        let lines: Vec<String> = p
                            .supply
                            .iter()
                            .map(|l| {
                                let para = paracetamol_by_product
                                    .get(l.product_id.as_str())
                                    .copied()
                                    .flatten();
                                supply_text(l, para)
                            })
                            .collect();
                        format!(
                            "{}–{} ({} days): {}",
                            date(p.start_date),
                            date(p.end_date),
                            p.days,
                            lines.join(", ")
                        )
                    })
                    .collect();
                items.push(SummaryStepItem {
                    take: format!(
                        "Controlled-drug prescriptions for this step: {}",
                        parts.join("; ")
                    ),
                    dispense: String::new(),
                });
            }
            SummaryStep {
                number: s.step,
                kind: kind.to_string(),
                start: s.start_date,
                end: s.end_date,
                days: s.days,
                total: s.total_ome_mg_per_day,
                reason: s.reason.clone(),
                items,
            }
        })
        .collect()
}

/// Reads a plan input (as `stepdown plan` takes it) that may also carry a
/// `patient` object (as `stepdown assess` takes it): the plan request, and the
/// assessment of the same items for that patient (nothing known about the
/// patient when there is no `patient`: only the regimen's own flags fire).
///
/// Every problem in the patient and in the plan input is reported together,
/// each with its path (`patient.age`, `items[1].strength_mg`, `taper.interval_days`).
pub fn review_from_value(
    value: &Value,
    profile: Profile,
    reference: &Reference,
    options: &OmeOptions,
) -> Result<(PlanRequest, AssessReport), InputError> {
    let (plan_value, patient) = match value.as_object() {
        Some(obj) => {
            let mut o = obj.clone();
            let patient = o.remove("patient").filter(|p| !p.is_null());
            (Value::Object(o), patient)
        }
        None => (value.clone(), None),
    };
    let mut errors = Vec::new();
    if let Some(p) = &patient {
        if let Some(raw) = raw_patient_from_value(p, "patient", &mut errors) {
            if let Err(mut e) = PatientContext::validate(&raw, "patient", reference) {
                errors.append(&mut e);
            }
        }
    }
    let request = match request_from_value(&plan_value, profile, reference) {
        Ok(r) => Some(r),
        Err(InputError::Invalid(mut e)) => {
            errors.append(&mut e);
            None
        }
        Err(e) => return Err(e),
    };
    match request {
        Some(request) if errors.is_empty() => {
            let input = json!({
                "patient": patient.unwrap_or(Value::Null),
                "items": plan_value.get("items").cloned().unwrap_or(Value::Null),
            });
            let report = assess_value(&input, profile, reference, options)?;
            Ok((request, report))
        }
        _ => Err(InputError::Invalid(errors)),
    }
}

fn check_match(assess: &AssessReport, plan: &Plan) -> Result<(), SummaryError> {
    if assess.ome.profile != plan.profile {
        return Err(SummaryError::Mismatch(format!(
            "the assessment uses the {} profile and the plan the {} profile",
            assess.ome.profile, plan.profile
        )));
    }
    let a: Vec<&str> = assess.ome.items.iter().map(|i| i.drug.as_str()).collect();
    let p: Vec<&str> = plan.items.iter().map(|i| i.drug.as_str()).collect();
    if a != p {
        return Err(SummaryError::Mismatch(format!(
            "the assessment has {} and the plan has {}",
            a.join(", "),
            p.join(", ")
        )));
    }
    Ok(())
}

fn clean(field: &str, value: Option<&str>) -> Result<Option<String>, SummaryError> {
    let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    if let Some(c) = v.chars().find(|c| c.is_control()) {
        return Err(SummaryError::Input {
            field: field.into(),
            message: format!("contains a control character (U+{:04X})", u32::from(c)),
        });
    }
    crate::limits::check_text_len(v).map_err(|message| SummaryError::Input {
        field: field.into(),
        message,
    })?;
    Ok(Some(v.to_string()))
}

/// Composes the summary from an assessment and the plan made from the same
/// regimen (with any clinician edits applied).
///
/// Errors: [`SummaryError::Input`] for a detail that cannot be used (an NHS
/// number that fails its check digit, a control character in a name);
/// [`SummaryError::Mismatch`] when the assessment and plan are of different
/// regimens or profiles.
pub fn compose(
    assess: &AssessReport,
    plan: &Plan,
    details: &SummaryDetails,
    reference: &Reference,
) -> Result<Summary, SummaryError> {
    check_match(assess, plan)?;
    let unit = per_day(plan.profile);
    let ome = &assess.ome;

    // Heading lines.
    let mut fields = Vec::new();
    let name = clean("patient_name", details.patient_name.as_deref())?;
    let nhs = match clean("nhs_number", details.nhs_number.as_deref())? {
        None => None,
        Some(n) => Some(
            NhsNumber::parse(&n)
                .map_err(|e| SummaryError::Input {
                    field: "nhs_number".into(),
                    message: e.to_string(),
                })?
                .formatted(),
        ),
    };
    let patient = match (name.clone(), nhs) {
        (Some(n), Some(x)) => Some(format!("{n}, NHS number {x}")),
        (Some(n), None) => Some(n),
        (None, Some(x)) => Some(format!("NHS number {x}")),
        (None, None) => None,
    };
    if let Some(p) = patient {
        fields.push(("Patient:".to_string(), p));
    }
    let reviewer = clean("reviewer", details.reviewer.as_deref())?;
    let practice = clean("practice", details.practice.as_deref())?;
    let mut entered: Vec<(String, String)> = [
        ("patient_name", &name),
        ("reviewer", &reviewer),
        ("practice", &practice),
    ]
    .into_iter()
    .filter_map(|(f, v)| v.clone().map(|v| (f.to_string(), v)))
    .collect();
    for s in &plan.steps {
        if let Some(r) = &s.reason {
            entered.push((format!("edits: the reason for step {}", s.step), r.clone()));
        }
    }
    let mut reviewed = date(details.review_date);
    let by: Vec<String> = [reviewer, practice.clone()].into_iter().flatten().collect();
    if !by.is_empty() {
        reviewed.push_str(&format!(" by {}", by.join(", ")));
    }
    fields.push(("Reviewed:".to_string(), reviewed));
    let next = match details.next_review {
        Some(d) => date(d),
        None => match suggested_next_review(plan) {
            Some(s) => format!(
                "not booked; suggest by {} ({}), before step 2",
                date(s),
                s.format("%A")
            ),
            None => "not booked".to_string(),
        },
    };
    fields.push(("Next review:".to_string(), next));

    // Regimen with the working.
    let mut regimen = SummaryPart {
        heading: "Current regimen".into(),
        paragraphs: Vec::new(),
        bullets: Vec::new(),
        page_bullets: Vec::new(),
        closing: Vec::new(),
        steps: Vec::new(),
    };
    let names = crate::taper::text::item_names(plan);
    for (item, o) in plan.starting_items.iter().zip(&ome.items) {
        let doses = doses_text(
            &item.doses,
            item.as_needed,
            paracetamol_of(plan, item.index),
        );
        regimen.bullets.push(format!(
            "{}: {doses}. {}",
            short_product(&crate::taper::text::name_of(
                &names,
                item.index,
                &item.product
            )),
            o.working
        ));
    }
    let mut total = format!("Total {} {unit}", num(ome.total_ome_mg_per_day));
    if ome.as_needed_ome_mg_per_day > 0.0 {
        total.push_str(&format!(
            " (regular {}, PRN at maximum {})",
            num(ome.regular_ome_mg_per_day),
            num(ome.as_needed_ome_mg_per_day)
        ));
    }
    if !ome.complete {
        total.push_str(", incomplete: an item could not be converted (see warnings)");
    }
    total.push_str(&format!(
        "; {}, conversion factor table {}, reference {}. {} the high-dose threshold of {} {unit}.",
        profile_words(plan.profile),
        reference.ome_factors.header.version,
        ome.reference_version,
        if ome.high_dose {
            "At or above"
        } else {
            "Below"
        },
        num(ome.high_dose_threshold_mg_per_day),
    ));
    // The threshold's versions, so a reader of an old print knows which figure applied.
    if !ome.high_dose_threshold_versions.is_empty() {
        total.push_str(&format!(
            " High-dose threshold versions: {}.",
            ome.high_dose_threshold_versions
        ));
    }
    regimen.closing.push(total);
    if ome.paracetamol_mg_per_day > 0.0 {
        regimen.closing.push(format!(
            "Paracetamol from combination products: {} mg/day at most.",
            num(ome.paracetamol_mg_per_day)
        ));
    }

    // Flags with actions, most severe first (the assessment's order).
    let flags = SummaryPart {
        heading: format!("Risk flags ({})", assess.flags.len()),
        paragraphs: if assess.flags.is_empty() {
            vec!["None.".into()]
        } else {
            Vec::new()
        },
        bullets: assess
            .flags
            .iter()
            .map(|f| {
                format!(
                    "{}: {}. {} Action: {}",
                    severity_word(f.severity),
                    f.title,
                    f.rationale,
                    f.action
                )
            })
            .collect(),
        page_bullets: assess
            .flags
            .iter()
            .map(|f| {
                format!(
                    "**{}: {}.** {}",
                    severity_word(f.severity),
                    f.title,
                    f.action
                )
            })
            .collect(),
        closing: Vec::new(),
        steps: Vec::new(),
    };

    // The plan.
    let target = if plan.target_ome_mg_per_day > 0.0 {
        format!(
            "reduce to {} {unit} and hold",
            num(plan.target_ome_mg_per_day)
        )
    } else {
        "stop".to_string()
    };
    let mut item_at: FxHashMap<u32, &PlanItem> = FxHashMap::default();
    for p in &plan.items {
        item_at.entry(p.index).or_insert(p);
    }
    let order: Vec<String> = plan
        .reduction_order
        .iter()
        .enumerate()
        .filter_map(|(n, i)| {
            item_at.get(i).map(|p| {
                format!(
                    "{}. {}",
                    n + 1,
                    short_product(&crate::taper::text::name_of(&names, p.index, &p.product))
                )
            })
        })
        .collect();
    let mut plan_part = SummaryPart {
        heading: "Reduction plan".into(),
        paragraphs: vec![format!(
            "{}. Target: {target}. {} to {}, {} steps, {} → {}. Reduction order: {}.",
            plan.options.label,
            date(plan.start_date),
            date(plan.end_date),
            plan.steps.len(),
            num(plan.ome_start),
            crate::taper::text::end_words(plan),
            if order.is_empty() {
                "none yet, every medicine is held (see the questions for the prescriber)"
                    .to_string()
            } else {
                order.join("; ")
            },
        )],
        bullets: Vec::new(),
        page_bullets: Vec::new(),
        closing: Vec::new(),
        steps: steps_of(plan),
    };
    if !plan.edits_applied.is_empty() {
        plan_part.paragraphs.push(readable_item_refs(&format!(
            "Clinician edits: {}",
            plan.edits_applied.join(" ")
        )));
    }

    // Things the prescriber must know: held items, unconverted items, patient input.
    let mut notes: Vec<String> = Vec::new();
    let mut noted: FxHashSet<&str> = FxHashSet::default();
    for w in ome
        .warnings
        .iter()
        .chain(&assess.warnings)
        .chain(&plan.warnings)
    {
        if noted.insert(w.as_str()) {
            notes.push(readable_item_refs(w));
        }
    }
    // Switches the plan offers (never applied until the clinician accepts one).
    for i in &plan.items {
        for o in &i.switch_offers {
            notes.push(format!(
                "Switch offered for {} (not applied unless accepted): {} -> {}. Equivalence: {}. Source: {}",
                i.product, o.label, o.becomes, o.equivalence, o.source
            ));
        }
    }
    let mut parts = vec![regimen, flags, plan_part];
    if !notes.is_empty() {
        parts.push(SummaryPart {
            heading: "Warnings".into(),
            paragraphs: Vec::new(),
            bullets: notes,
            page_bullets: Vec::new(),
            closing: Vec::new(),
            steps: Vec::new(),
        });
    }

    let footer = format!(
        "Stepdown; reference {} (conversion factors {}); rate source: {}",
        plan.reference_version, reference.ome_factors.header.version, plan.options.source
    );
    let page_footer = format!(
        "Stepdown, reference {}, conversion factors {}",
        plan.reference_version, reference.ome_factors.header.version
    );
    Ok(Summary {
        title: "Opioid reduction plan: clinician summary".into(),
        fields,
        parts,
        footer,
        page_footer,
        practice: practice.unwrap_or_default(),
        per_day: unit.to_string(),
        entered,
    })
}

/// "28 × 15 mg, 56 × 5 mg (PRN max)": a quantity's number, "×" and strength
/// kept on one line of the table (non-breaking spaces).
fn keep_together(list: &str) -> String {
    no_break_units(list)
}

/// A dose in the table breaks between phrases, never inside "5 mg", "2 × 10 mg"
/// or "PRN max 4/day".
fn no_break_units(take: &str) -> String {
    take.replace(" mg", "\u{a0}mg")
        .replace(" × ", "\u{a0}×\u{a0}")
        .replace("PRN max ", "PRN\u{a0}max\u{a0}")
}

impl Summary {
    /// Adds what was agreed with the patient (NICE NG215) after the plan:
    /// goals, agreement, support person, review schedule; "not recorded"
    /// where nothing was, so a reader knows it was not discussed or not written.
    pub fn add_shared_decision(&mut self, shared: Option<&crate::record::SharedDecision>) {
        let or_not = |s: &str| {
            if s.trim().is_empty() {
                "not recorded".to_string()
            } else {
                s.trim().to_string()
            }
        };
        let d = shared.cloned().unwrap_or_default();
        for (field, text) in [
            ("shared_decision.goals", &d.goals),
            ("shared_decision.support_person", &d.support_person),
            ("shared_decision.review_schedule", &d.review_schedule),
        ] {
            if !text.trim().is_empty() {
                self.entered
                    .push((field.to_string(), text.trim().to_string()));
            }
        }
        let part = SummaryPart {
            heading: "Shared decision (NICE NG215)".into(),
            paragraphs: Vec::new(),
            bullets: vec![
                format!("Patient's goals: {}", or_not(&d.goals)),
                format!("Agreement: {}", d.agreement.words()),
                format!("Support person: {}", or_not(&d.support_person)),
                format!("Review schedule: {}", or_not(&d.review_schedule)),
            ],
            page_bullets: Vec::new(),
            closing: Vec::new(),
            steps: Vec::new(),
        };
        let at = self
            .parts
            .iter()
            .position(|p| !p.steps.is_empty())
            .map_or(self.parts.len(), |i| i + 1);
        self.parts.insert(at, part);
    }

    /// Adds the follow-ups so far, oldest first, one line each (date, dose
    /// taken against the plan's, scores, decision, next review, goals), with
    /// the version a re-plan made.
    pub fn add_follow_ups(
        &mut self,
        follow_ups: &[(crate::followup::FollowUpRecord, Option<i64>)],
    ) {
        if follow_ups.is_empty() {
            return;
        }
        let unit = self.per_day.clone();
        let mut bullets = Vec::new();
        for (f, replan) in follow_ups {
            let day = f.date().map_or_else(|| f.input.date.clone(), date);
            let taking = match &f.input.actual {
                crate::followup::ActualDose::OnPlan => "on plan".to_string(),
                crate::followup::ActualDose::DifferentDose { .. } => "a different dose".to_string(),
                crate::followup::ActualDose::Stopped => "stopped".to_string(),
            };
            let mut line = format!(
                "{day}: {taking}, {} {unit}{}",
                num(f.current_ome_mg_per_day),
                if f.ome_complete { "" } else { " (incomplete)" }
            );
            if let (Some(e), false) = (
                &f.expected,
                f.input.actual == crate::followup::ActualDose::OnPlan,
            ) {
                line.push_str(&format!(" (plan {})", num(e.total_ome_mg_per_day)));
            }
            if let Some(p) = &f.peg {
                line.push_str(&format!("; PEG {}/10", num(p.score)));
            }
            if let Some(s) = &f.sows {
                line.push_str(&format!("; SOWS {}/{}", s.total, s.max_total));
            }
            line.push_str(&format!("; decision: {}", f.input.decision.as_str()));
            if let Some(v) = replan {
                line.push_str(&format!(" (new plan, version {v})"));
            }
            if let Some(n) = f
                .input
                .next_review
                .as_deref()
                .filter(|n| !n.trim().is_empty())
            {
                let shown = NaiveDate::parse_from_str(n.trim(), "%Y-%m-%d")
                    .map_or_else(|_| n.to_string(), date);
                line.push_str(&format!("; next review {shown}"));
            }
            if !f.input.goals.trim().is_empty() {
                self.entered.push((
                    "follow_up.goals".to_string(),
                    f.input.goals.trim().to_string(),
                ));
                line.push_str(&format!("; goals: {}", f.input.goals.trim()));
            }
            bullets.push(line);
        }
        self.parts.push(SummaryPart {
            heading: format!("Follow-ups ({})", follow_ups.len()),
            paragraphs: Vec::new(),
            bullets,
            page_bullets: Vec::new(),
            closing: Vec::new(),
            steps: Vec::new(),
        });
    }

    /// Plain text ready to paste into the GP record: one fact per line, no
    /// column alignment (record systems use proportional fonts).
    pub fn to_text(&self) -> String {
        let mut out = format!("{}\n", self.title);
        for (k, v) in &self.fields {
            out.push_str(&format!("{k} {v}\n"));
        }
        for p in &self.parts {
            out.push_str(&format!("\n{}\n", p.heading));
            for para in &p.paragraphs {
                out.push_str(&format!("{para}\n"));
            }
            for b in &p.bullets {
                out.push_str(&format!("- {b}\n"));
            }
            for s in &p.steps {
                let kind = if s.kind.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", s.kind)
                };
                let dates = if s.kind == "stop" {
                    format!("from {}", date(s.start))
                } else {
                    format!("{}–{} ({} days)", date(s.start), date(s.end), s.days)
                };
                let reason = s
                    .reason
                    .as_ref()
                    .map_or_else(String::new, |r| format!("; reason: {r}"));
                out.push_str(&format!(
                    "Step {}{kind}, {dates}: {} {}{reason}\n",
                    s.number,
                    num(s.total),
                    self.per_day
                ));
                for i in &s.items {
                    if i.dispense.is_empty() {
                        out.push_str(&format!("  {}\n", i.take));
                    } else {
                        out.push_str(&format!("  {}. Dispense {}\n", i.take, i.dispense));
                    }
                }
            }
            for para in &p.closing {
                out.push_str(&format!("{para}\n"));
            }
        }
        out.push_str(&format!("\n{}\n", self.footer));
        out
    }

    /// The summary as a page layout (one page for most plans).
    pub fn page(&self) -> SummaryPage {
        let mut sections = Vec::new();
        for p in &self.parts {
            let table = (!p.steps.is_empty()).then(|| self.plan_table(&p.steps));
            // The page reads `**bold**` markup; only the flags' page lines
            // (reference wording) carry it. Everything else may hold what a
            // person typed (goals, notes, a support person), which prints as
            // typed: "**" in a patient's goals is their words, not bold.
            let literal = |v: &[String]| v.iter().map(|t| escape_markup(t)).collect();
            sections.push(SummarySection {
                heading: p.heading.clone(),
                paragraphs: literal(&p.paragraphs),
                bullets: if p.page_bullets.is_empty() {
                    literal(&p.bullets)
                } else {
                    p.page_bullets.clone()
                },
                table,
                closing: literal(&p.closing),
            });
        }
        SummaryPage {
            title: self.title.clone(),
            fields: self.fields.clone(),
            sections,
            footer_note: Some(self.page_footer.clone()),
            author: self.practice.clone(),
        }
    }

    fn plan_table(&self, steps: &[SummaryStep]) -> Table {
        let cell = |s: &str| vec![Span::regular(s)];
        let rows = steps
            .iter()
            .map(|s| {
                // The step's number and dates are split over its first two lines, so
                // a step of two medicines takes two lines of print, not three.
                let number = [s.number.to_string(), s.kind.clone()];
                let dates = if s.kind == "stop" {
                    ["from".to_string(), date(s.start)]
                } else {
                    [format!("{} to", date(s.start)), date(s.end)]
                };
                let n = s.items.len().max(1);
                let spread = |parts: &[String; 2], i: usize| -> String {
                    match (n, i) {
                        (1, _) => parts
                            .iter()
                            .filter(|p| !p.is_empty())
                            .cloned()
                            .collect::<Vec<_>>()
                            .join("\n"),
                        (_, 0) => parts[0].clone(),
                        (_, 1) => parts[1].clone(),
                        _ => String::new(),
                    }
                };
                let mut total = num(s.total);
                if let Some(r) = &s.reason {
                    total.push_str(&format!("\n({r})"));
                }
                let lines = (0..n)
                    .map(|i| {
                        let item = s.items.get(i);
                        RowLine::cells(vec![
                            cell(&spread(&number, i)),
                            cell(&spread(&dates, i)),
                            cell(&item.map_or_else(String::new, |x| no_break_units(&x.take))),
                            if i == 0 { cell(&total) } else { vec![] },
                            cell(&item.map_or_else(String::new, |x| keep_together(&x.dispense))),
                        ])
                    })
                    .collect();
                TableRow { lines }
            })
            .collect();
        let col = |header: &str, width: f32| Column {
            header: header.into(),
            width,
        };
        Table {
            columns: vec![
                col("Step", 11.0),
                col("Dates", 17.0),
                col("Take", 37.0),
                // "OME" or "MME": the unit a day is in the paragraph above the table.
                col(
                    if self.per_day.contains("MME") {
                        "MME"
                    } else {
                        "OME"
                    },
                    8.0,
                ),
                col("Dispense", 27.0),
            ],
            rows,
        }
    }

    /// The summary as a PDF dated `date` (no clock is read). One page for most
    /// plans; a long plan flows onto a second page rather than losing anything.
    ///
    /// Errors: [`SummaryError::Input`] for text the PDF cannot print as written
    /// (the same policy as the leaflet's, [`crate::pdf::printable`]): an entered
    /// field by its name, anything else by the section it is in.
    pub fn to_pdf(&self, date: NaiveDate) -> Result<Rendered, SummaryError> {
        let fonts = crate::pdf::Fonts::get()?;
        for (field, text) in &self.entered {
            crate::pdf::printable::check(fonts, text).map_err(|problem| SummaryError::Input {
                field: field.clone(),
                message: problem.to_string(),
            })?;
        }
        self.page().render(date).map_err(|e| match e {
            PdfError::Unprintable { .. } => SummaryError::Input {
                field: "summary".into(),
                message: e.to_string(),
            },
            other => other.into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assess::assess_value;
    use crate::ome::OmeOptions;
    use crate::reference::reference;
    use crate::taper::request_from_json;
    use serde_json::json;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("valid date")
    }

    fn inputs(items: serde_json::Value) -> (AssessReport, Plan) {
        inputs_for(json!({"age": 70, "co_medications": ["diazepam"]}), items)
    }

    fn inputs_for(patient: serde_json::Value, items: serde_json::Value) -> (AssessReport, Plan) {
        inputs_with(patient, items, json!({"interval_days": 14}))
    }

    fn inputs_with(
        patient: serde_json::Value,
        items: serde_json::Value,
        taper: serde_json::Value,
    ) -> (AssessReport, Plan) {
        let a = assess_value(
            &json!({"patient": patient, "items": items.clone()}),
            Profile::Uk,
            reference(),
            &OmeOptions::default(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let r = request_from_json(
            &json!({"items": items, "start_date": "2026-12-01", "taper": taper}).to_string(),
            Profile::Uk,
            reference(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let p = crate::taper::plan(&r, reference()).unwrap_or_else(|e| panic!("{e}"));
        (a, p)
    }

    fn details() -> SummaryDetails {
        SummaryDetails {
            patient_name: Some("Margaret Jones".into()),
            nhs_number: Some("943 476 5919".into()),
            reviewer: Some("Dr A Patel".into()),
            practice: Some("Riverside Surgery".into()),
            review_date: d(2026, 11, 24),
            next_review: Some(d(2026, 12, 14)),
        }
    }

    #[test]
    fn a_patients_own_stars_print_as_typed_never_bold() {
        let (a, p) = inputs(json!([
            {"drug": "morphine", "route": "oral", "release": "modified", "strength_mg": 30, "units_per_dose": 1, "doses_per_day": 2}
        ]));
        let mut s = compose(&a, &p, &details(), reference()).unwrap_or_else(|e| panic!("{e}"));
        s.add_shared_decision(Some(&crate::record::SharedDecision {
            goals: "**walk** the dog".into(),
            ..Default::default()
        }));
        let doc = s.page().document();
        let goals: Vec<&Span> = doc
            .blocks
            .iter()
            .filter_map(|b| match b {
                crate::pdf::Block::Bullets(items) => Some(items),
                _ => None,
            })
            .flatten()
            .flatten()
            .filter(|span| span.text.contains("walk"))
            .collect();
        assert_eq!(goals.len(), 1, "{goals:?}");
        assert_eq!(goals[0].text, "Patient's goals: **walk** the dog");
        assert_eq!(goals[0].weight, crate::pdf::Weight::Regular);
        // The flags' page lines keep their reference wording's bold.
        assert!(doc.blocks.iter().any(|b| matches!(b,
            crate::pdf::Block::Bullets(items) if items.iter().flatten().any(|sp| sp.weight == crate::pdf::Weight::Bold))));
    }

    #[test]
    fn entries_are_named_by_their_place_in_the_list_not_their_json_path() {
        assert_eq!(
            readable_item_refs("From step 2, items[0] (oxycodone): smaller. items[11] too."),
            "From step 2, medicine 1 (oxycodone): smaller. Medicine 12 too."
        );
        assert_eq!(
            readable_item_refs("items[1].strength_mg: bad"),
            "Medicine 2.strength_mg: bad"
        );
        // Not a path: left as written.
        assert_eq!(
            readable_item_refs("myitems[2] and items[x] and items["),
            "myitems[2] and items[x] and items["
        );
    }

    #[test]
    fn doses_read_as_a_prescriber_writes_them() {
        let (_, p) = inputs(json!([
            {"drug": "morphine", "route": "oral", "release": "modified", "strength_mg": 30, "units_per_dose": 1, "doses_per_day": 2},
            {"drug": "oxycodone", "route": "oral", "release": "immediate", "strength_mg": 5, "units_per_dose": 1, "doses_per_day": 4, "as_needed": true}
        ]));
        let steps = steps_of(&p);
        // Step 1 is the current regimen, as the prescriber wrote it.
        assert_eq!(steps[0].items[0].take, "morphine MR: 30 mg bd");
        let s = &steps[0];
        assert_eq!(s.items[1].take, "oxycodone: 5 mg PRN max 4/day");
        assert_eq!(s.items[1].dispense, "56 × 5 mg (PRN max)");
        let unequal = steps
            .iter()
            .find_map(|s| {
                let t = s.items[0].take.clone();
                t.contains("morning").then_some(t)
            })
            .expect("an unequal step");
        assert!(
            unequal.contains(" morning, ") && unequal.ends_with(" evening"),
            "{unequal}"
        );
    }

    #[test]
    fn a_held_lowest_strength_shows_the_question_and_the_switch_offered() {
        let (a, p) = inputs_with(
            json!({"age": 58}),
            json!([
                {"drug": "morphine", "route": "oral", "release": "modified", "form": "capsule", "strength_mg": 30, "units_per_dose": 1, "doses_per_day": 1}
            ]),
            json!({"interval_days": 28}),
        );
        let t = compose(&a, &p, &details(), reference())
            .expect("composes")
            .to_text();
        assert!(t.contains("target not reached"), "{t}");
        assert!(t.contains("Ask the prescriber how to go on"), "{t}");
        assert!(
            t.contains("Switch offered for morphine 24-hourly slow-release capsules"),
            "{t}"
        );
    }

    #[test]
    fn co_codamol_shows_both_strengths() {
        let (a, p) = inputs(json!([
            {"drug": "codeine", "route": "oral", "strength_mg": 30, "units_per_dose": 2, "doses_per_day": 4, "paracetamol_mg": 500}
        ]));
        let t = compose(&a, &p, &details(), reference())
            .expect("composes")
            .to_text();
        assert!(t.contains("2 × 30/500 mg qds"), "{t}");
        assert!(t.contains("Step 1 (current)"), "{t}");
        assert!(t.contains("Dispense 112 × 30/500 mg"), "{t}");
        assert!(t.contains("Dispense 126 × 30/500 mg"), "{t}");
        assert!(
            t.contains("Paracetamol from combination products: 4000 mg/day"),
            "{t}"
        );
    }

    #[test]
    fn bad_nhs_number_and_mismatch_are_refused() {
        let (a, p) = inputs(json!([
            {"drug": "morphine", "route": "oral", "release": "modified", "strength_mg": 30, "units_per_dose": 1, "doses_per_day": 2}
        ]));
        let mut bad = details();
        bad.nhs_number = Some("943 476 5918".into());
        match compose(&a, &p, &bad, reference()) {
            Err(SummaryError::Input { field, .. }) => assert_eq!(field, "nhs_number"),
            other => panic!("expected an input error, got {other:?}"),
        }
        let (other, _) = inputs(json!([
            {"drug": "oxycodone", "route": "oral", "release": "modified", "strength_mg": 10, "units_per_dose": 1, "doses_per_day": 2}
        ]));
        assert!(matches!(
            compose(&other, &p, &details(), reference()),
            Err(SummaryError::Mismatch(_))
        ));
    }

    #[test]
    fn without_a_booked_review_a_date_is_suggested() {
        let (a, p) = inputs(json!([
            {"drug": "morphine", "route": "oral", "release": "modified", "strength_mg": 30, "units_per_dose": 1, "doses_per_day": 2}
        ]));
        let mut det = details();
        det.next_review = None;
        let t = compose(&a, &p, &det, reference())
            .expect("composes")
            .to_text();
        assert!(
            t.contains("Next review: not booked; suggest by 14/12/2026 (Monday), before step 2"),
            "{t}"
        );
    }

    #[test]
    fn the_pdf_is_one_page_for_a_usual_plan_and_flows_on_only_when_it_must() {
        // A usual plan: MST 30 mg twice a day reduced to 30 mg a day, 5 mg a month.
        let (a, p) = inputs_with(
            json!({"age": 58, "months_on_opioids": 24}),
            json!([
                {"drug": "morphine", "route": "oral", "release": "modified", "strength_mg": 30, "units_per_dose": 1, "doses_per_day": 2}
            ]),
            json!({"interval_days": 28, "target_ome_mg_per_day": 30}),
        );
        let r = compose(&a, &p, &details(), reference())
            .expect("composes")
            .to_pdf(d(2026, 11, 24))
            .expect("renders");
        assert!(r.bytes.starts_with(b"%PDF"));
        assert_eq!(r.pages, 1);
        // Two opioids, seven flags and ten steps need a second page, not a third.
        let (a, p) = inputs(json!([
            {"drug": "morphine", "route": "oral", "release": "modified", "strength_mg": 30, "units_per_dose": 1, "doses_per_day": 2},
            {"drug": "oxycodone", "route": "oral", "release": "immediate", "strength_mg": 5, "units_per_dose": 1, "doses_per_day": 4, "as_needed": true}
        ]));
        let r = compose(&a, &p, &details(), reference())
            .expect("composes")
            .to_pdf(d(2026, 11, 24))
            .expect("renders");
        assert_eq!(r.pages, 2);
    }
}
