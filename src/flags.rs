//! Risk flags: why this patient is at risk and what to do, each with its source
//! (clinical reference sections 2 and 4; contract `stepdown assess`).
//!
//! The logic here decides *whether* a flag fires and with which figures; the
//! words (title, rationale template, action, source) and the severity live in
//! `assets/reference/flags.json` so that a clinician can review them. Every
//! number a flag compares against comes from the reference tables (profile
//! thresholds, `risk_thresholds.json`) or from the caller's override.
//!
//! Pure: no IO, no clock.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::item::{Dose, Regimen};
use crate::ome::{OmeOptions, OmeReport};
use crate::patient::{PatientCondition, PatientContext, PatientHistory};
use crate::profile::Profile;
use crate::reference::risk::{DrugClass, EgfrBand, OpioidProperty, RenalAdvice, RiskThresholdKind};
use crate::reference::{Reference, ThresholdKind};
use crate::vocabulary::{num, Release, Route};

// The flag vocabulary is shared with the reference tables (flags.json rows
// name a flag and a severity), so it lives at the bottom of the crate.
pub use crate::vocabulary::{FlagId, Severity};

impl FlagId {
    /// The wording variants the logic can select; `flags.json` has one row for each.
    pub fn variants(self) -> &'static [&'static str] {
        match self {
            FlagId::HighDose => &["profile", "override"],
            FlagId::RenalImpairment => &["severe", "avoid", "caution"],
            FlagId::Pregnancy => &["pregnancy", "breastfeeding"],
            FlagId::ParacetamolLimit => &["standard", "reduced"],
            FlagId::OlderAdult => &["default", "with-conditions"],
            FlagId::Driving => &["specified", "general"],
            _ => &["default"],
        }
    }

    /// The placeholders this flag fills in (any of its templates may use them).
    pub fn placeholders(self) -> &'static [&'static str] {
        match self {
            FlagId::HighDose => &["total", "unit", "threshold", "profile", "profile_threshold"],
            FlagId::VeryHighDose => &["total", "unit", "threshold"],
            FlagId::DoseCaution => &["total", "unit", "caution", "threshold"],
            FlagId::Benzodiazepine | FlagId::Gabapentinoid | FlagId::CnsDepressant => {
                &["medicines"]
            }
            FlagId::AboveLicensedMaximum => &["breaches"],
            FlagId::MorphineSolutionQuantity => &["items", "limit"],
            FlagId::MultipleOpioids => &["count", "drugs"],
            FlagId::RenalImpairment => &["egfr", "severe", "impaired", "drug_advice"],
            FlagId::Respiratory => &["conditions"],
            FlagId::OverdoseRisk => &["history"],
            FlagId::Serotonergic => &["opioids", "medicines"],
            FlagId::OlderAdult => &["age", "age_threshold", "conditions"],
            FlagId::ParacetamolLimit => &["total", "regimen", "other", "limit", "reasons"],
            FlagId::FentanylOpioidNaive => &["patches"],
            FlagId::Unconvertible => &["items", "measure", "measure_name"],
            FlagId::LongTermUse => &["months", "months_threshold"],
            FlagId::ImmediateAndModifiedRelease => &["long_acting", "immediate"],
            FlagId::SeveralPatches => &["count", "patches"],
            FlagId::SeizureRisk => &["opioids"],
            FlagId::MentalHealth => &["details"],
            FlagId::Driving => &["drugs"],
            FlagId::Naloxone => &["reasons"],
            FlagId::HepaticImpairment | FlagId::Alcohol | FlagId::Pregnancy => &[],
        }
    }
}

/// One risk flag, ready to show to a clinician without editing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Flag {
    /// Stable identifier.
    pub id: FlagId,
    /// How serious.
    pub severity: Severity,
    /// Short title.
    pub title: String,
    /// Why it fired, with this patient's figures.
    pub rationale: String,
    /// What to do.
    pub action: String,
    /// Where the advice comes from.
    pub source: String,
}

/// Everything the flags look at.
#[derive(Debug, Clone, Copy)]
pub struct FlagContext<'a> {
    /// The validated regimen.
    pub regimen: &'a Regimen,
    /// Its OME report (computed with the same profile and options).
    pub ome: &'a OmeReport,
    /// The patient.
    pub patient: &'a PatientContext,
    /// Profile in use.
    pub profile: Profile,
    /// Reference data.
    pub reference: &'a Reference,
    /// Caller's choices (the high-dose threshold override).
    pub options: &'a OmeOptions,
}

/// A flag that fired, before its words are filled in.
struct Fired {
    id: FlagId,
    variant: &'static str,
    values: Vec<(&'static str, String)>,
}

impl Fired {
    fn new(id: FlagId, variant: &'static str) -> Self {
        Fired {
            id,
            variant,
            values: Vec::new(),
        }
    }

    fn with(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.values.push((name, value.into()));
        self
    }
}

/// Evaluates every flag and returns those that fire, most severe first; flags
/// of equal severity keep the order of `flags.json` (a stable, reviewed order).
pub fn evaluate(ctx: &FlagContext<'_>) -> Vec<Flag> {
    let fired = fire(ctx);
    let mut flags: Vec<(usize, Flag)> = fired.iter().filter_map(|f| render(ctx, f)).collect();
    if let Some(naloxone) = naloxone_flag(ctx, &flags) {
        if let Some(rendered) = render(ctx, &naloxone) {
            flags.push(rendered);
        }
    }
    flags.sort_by_key(|(order, f)| (f.severity, *order));
    flags.into_iter().map(|(_, f)| f).collect()
}

/// The flags [`evaluate`] returns, in the same order, as (id, severity)
/// only: the same rules, without writing their words. For computing a whole
/// practice's patients at once (case-finding keeps which flags fired, not
/// their text); a debug assertion there checks it against [`evaluate`].
pub fn evaluate_ids(ctx: &FlagContext<'_>) -> Vec<(FlagId, Severity)> {
    let fired = fire(ctx);
    let mut flags: Vec<(usize, FlagId, Severity)> = fired
        .iter()
        .filter_map(|f| {
            let (order, text) = ctx.reference.risk.flag_text(f.id, f.variant)?;
            Some((order, f.id, text.severity))
        })
        .collect();
    if naloxone_advised(ctx, flags.iter().map(|(_, id, _)| *id)) {
        if let Some((order, text)) = ctx.reference.risk.flag_text(FlagId::Naloxone, "default") {
            flags.push((order, FlagId::Naloxone, text.severity));
        }
    }
    flags.sort_by_key(|(order, _, severity)| (*severity, *order));
    flags.into_iter().map(|(_, id, s)| (id, s)).collect()
}

/// Every flag whose rule fires, before wording.
fn fire(ctx: &FlagContext<'_>) -> Vec<Fired> {
    let mut fired = Vec::new();
    dose_flags(ctx, &mut fired);
    co_medication_flags(ctx, &mut fired);
    regimen_flags(ctx, &mut fired);
    patient_flags(ctx, &mut fired);
    renal_flag(ctx, &mut fired);
    paracetamol_flag(ctx, &mut fired);
    licensed_maximum_flag(ctx, &mut fired);
    driving_flag(ctx, &mut fired);
    fired
}

/// The flags that make naloxone advice fire.
const NALOXONE_TRIGGERS: [FlagId; 5] = [
    FlagId::HighDose,
    FlagId::Benzodiazepine,
    FlagId::Gabapentinoid,
    FlagId::CnsDepressant,
    FlagId::OverdoseRisk,
];

/// Whether naloxone advice fires, given the other flags that fired.
fn naloxone_advised(ctx: &FlagContext<'_>, mut fired: impl Iterator<Item = FlagId>) -> bool {
    ctx.patient
        .co_medications_of(DrugClass::Naloxone)
        .next()
        .is_none()
        && fired.any(|id| NALOXONE_TRIGGERS.contains(&id))
}

/// Fills in a fired flag's wording; `None` only if the wording is missing,
/// which the reference tests rule out for the embedded data.
fn render(ctx: &FlagContext<'_>, f: &Fired) -> Option<(usize, Flag)> {
    let (order, text) = ctx.reference.risk.flag_text(f.id, f.variant)?;
    let fill = |template: &str| fill_template(template, &f.values);
    Some((
        order,
        Flag {
            id: f.id,
            severity: text.severity,
            title: fill(&text.title),
            rationale: capitalise(&fill(&text.rationale)),
            action: fill(&text.action),
            source: text.source.clone(),
        },
    ))
}

/// Replaces each `{name}` with its value; unknown names are left as written
/// (the reference checks rule them out for the embedded wording).
pub fn fill_template(template: &str, values: &[(&str, String)]) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) => {
                let name = &after[..close];
                match values.iter().find(|(n, _)| *n == name) {
                    Some((_, v)) => out.push_str(v),
                    None => out.push_str(&rest[open..open + close + 2]),
                }
                rest = &after[close + 1..];
            }
            None => {
                out.push_str(&rest[open..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// Capitalises the first letter of a sentence, unless its first word is
/// already written with capitals inside it (eGFR, mL) and must stay as it is.
fn capitalise(s: &str) -> String {
    let first_word = s.split_whitespace().next().unwrap_or("");
    if first_word.chars().skip(1).any(char::is_uppercase) {
        return s.to_string();
    }
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// "a", "a and b", "a, b and c".
fn and_list<S: AsRef<str>>(items: &[S]) -> String {
    match items {
        [] => String::new(),
        [one] => one.as_ref().to_string(),
        [init @ .., last] => format!(
            "{} and {}",
            init.iter()
                .map(AsRef::as_ref)
                .collect::<Vec<_>>()
                .join(", "),
            last.as_ref()
        ),
    }
}

fn ome_unit(profile: Profile) -> &'static str {
    match profile {
        Profile::Uk => "mg OME/day",
        Profile::Cdc => "MME/day",
    }
}

/// The regimen's distinct drugs, in input order.
fn regimen_drugs(regimen: &Regimen) -> Vec<&str> {
    let mut drugs: Vec<&str> = Vec::new();
    for item in &regimen.items {
        if !drugs.contains(&item.drug.as_str()) {
            drugs.push(item.drug.as_str());
        }
    }
    drugs
}

fn threshold(ctx: &FlagContext<'_>, kind: RiskThresholdKind) -> f64 {
    ctx.reference.risk.threshold(kind).value
}

fn dose_flags(ctx: &FlagContext<'_>, fired: &mut Vec<Fired>) {
    let total = ctx.ome.total_ome_mg_per_day;
    let unit = ome_unit(ctx.profile);
    if ctx.ome.high_dose {
        let profile_threshold = ctx
            .reference
            .threshold(ctx.profile, ThresholdKind::HighDose)
            .map_or_else(|| "not set".to_string(), |r| num(r.mg_per_day));
        let variant = if ctx.options.high_dose_threshold.is_some() {
            "override"
        } else {
            "profile"
        };
        fired.push(
            Fired::new(FlagId::HighDose, variant)
                .with("total", num(total))
                .with("unit", unit)
                .with("threshold", num(ctx.ome.high_dose_threshold_mg_per_day))
                .with("profile", ctx.profile.as_str().to_uppercase())
                .with("profile_threshold", profile_threshold),
        );
    }
    // Only profiles with a specialist-referral row (UK) have this flag.
    if let Some(row) = ctx
        .reference
        .threshold(ctx.profile, ThresholdKind::SpecialistReferral)
    {
        if total >= row.mg_per_day {
            fired.push(
                Fired::new(FlagId::VeryHighDose, "default")
                    .with("total", num(total))
                    .with("unit", unit)
                    .with("threshold", num(row.mg_per_day)),
            );
        }
    }
    // Only profiles with a caution row (CDC) have this flag.
    if let Some(row) = ctx.reference.threshold(ctx.profile, ThresholdKind::Caution) {
        let high = ctx.ome.high_dose_threshold_mg_per_day;
        if total >= row.mg_per_day && total < high {
            fired.push(
                Fired::new(FlagId::DoseCaution, "default")
                    .with("total", num(total))
                    .with("unit", unit)
                    .with("caution", format!("{} {unit}", num(row.mg_per_day)))
                    .with("threshold", format!("{} {unit}", num(high))),
            );
        }
    }
}

fn co_medication_flags(ctx: &FlagContext<'_>, fired: &mut Vec<Fired>) {
    let p = ctx.patient;
    let names = |classes: &[DrugClass]| -> Vec<String> {
        p.co_medications
            .iter()
            .filter(|m| classes.iter().any(|c| m.is(*c)))
            .map(crate::patient::CoMedication::describe)
            .collect()
    };
    let sedatives = names(&[DrugClass::Benzodiazepine, DrugClass::ZDrug]);
    if !sedatives.is_empty() {
        fired.push(
            Fired::new(FlagId::Benzodiazepine, "default").with("medicines", and_list(&sedatives)),
        );
    }
    let gabapentinoids = names(&[DrugClass::Gabapentinoid]);
    if !gabapentinoids.is_empty() {
        fired.push(
            Fired::new(FlagId::Gabapentinoid, "default")
                .with("medicines", and_list(&gabapentinoids)),
        );
    }
    let depressants = names(&[DrugClass::Antipsychotic, DrugClass::SedatingAntihistamine]);
    if !depressants.is_empty() {
        fired.push(
            Fired::new(FlagId::CnsDepressant, "default").with("medicines", and_list(&depressants)),
        );
    }

    let risk = &ctx.reference.risk;
    let opioids: Vec<&str> = regimen_drugs(ctx.regimen)
        .into_iter()
        .filter(|d| {
            risk.opioid_property(d, OpioidProperty::Serotonergic)
                .is_some()
        })
        .collect();
    let serotonergic: Vec<String> = p
        .co_medications
        .iter()
        .filter(|m| {
            m.classes
                .iter()
                .any(|c| risk.drug_class(*c).is_some_and(|row| row.serotonergic))
        })
        .map(crate::patient::CoMedication::describe)
        .collect();
    if !opioids.is_empty() && !serotonergic.is_empty() {
        fired.push(
            Fired::new(FlagId::Serotonergic, "default")
                .with("opioids", and_list(&opioids))
                .with("medicines", and_list(&serotonergic)),
        );
    }
}

fn regimen_flags(ctx: &FlagContext<'_>, fired: &mut Vec<Fired>) {
    let drugs = regimen_drugs(ctx.regimen);
    if drugs.len() >= 2 {
        fired.push(
            Fired::new(FlagId::MultipleOpioids, "default")
                .with("count", drugs.len().to_string())
                .with("drugs", and_list(&drugs)),
        );
    }

    // Each item with its own reason (a known gap's, or the factor table's), so a
    // rectal item is not told that methadone needs specialist advice.
    let unconverted: Vec<String> = ctx
        .ome
        .items
        .iter()
        .filter(|i| i.ome_mg_per_day.is_none())
        .map(|i| {
            let reason = i
                .not_convertible_reason
                .as_deref()
                .unwrap_or("no reason recorded");
            format!("{} ({}): {}", i.drug, i.route, reason.trim_end_matches('.'))
        })
        .collect();
    if !unconverted.is_empty() {
        let (measure, measure_name) = match ctx.profile {
            Profile::Uk => ("OME", "oral morphine equivalent"),
            Profile::Cdc => ("MME", "morphine milligram equivalent"),
        };
        fired.push(
            Fired::new(FlagId::Unconvertible, "default")
                .with("items", unconverted.join("; "))
                .with("measure", measure)
                .with("measure_name", measure_name),
        );
    }

    // Long-acting: modified-release tablets, capsules or liquids, and patches.
    let mut long_acting = Vec::new();
    let mut immediate = Vec::new();
    let mut patches = Vec::new();
    let mut patch_count = 0u32;
    let mut fentanyl_patches = Vec::new();
    for item in &ctx.regimen.items {
        let drug = item.drug.as_str();
        match &item.dose {
            Dose::Patch {
                strength,
                patches: n,
            } => {
                let described = format!(
                    "{} × {drug} {} micrograms/hour",
                    n.get(),
                    num(strength.get())
                );
                long_acting.push(format!("{drug} patch"));
                patch_count = patch_count.saturating_add(n.get());
                // The contract names fentanyl patches specifically (MHRA DSU Sept 2020).
                // One entry per strength, counted ("2 × fentanyl 25 micrograms/hour"),
                // never the same words twice for a product entered twice.
                if drug == "fentanyl" {
                    match fentanyl_patches
                        .iter_mut()
                        .find(|(s, _): &&mut (f64, u32)| (*s - strength.get()).abs() < 1e-9)
                    {
                        Some((_, count)) => *count = count.saturating_add(n.get()),
                        None => fentanyl_patches.push((strength.get(), n.get())),
                    }
                }
                patches.push(described);
            }
            Dose::Solid { release, .. } | Dose::Liquid { release, .. } => match release {
                Release::Modified => long_acting.push(format!("modified-release {drug}")),
                Release::Immediate => immediate.push(drug.to_string()),
            },
        }
    }
    dedup(&mut long_acting);
    dedup(&mut immediate);
    if !long_acting.is_empty() && !immediate.is_empty() {
        fired.push(
            Fired::new(FlagId::ImmediateAndModifiedRelease, "default")
                .with("long_acting", and_list(&long_acting))
                .with("immediate", and_list(&immediate)),
        );
    }
    if f64::from(patch_count) >= threshold(ctx, RiskThresholdKind::SeveralPatchesAtOnce) {
        fired.push(
            Fired::new(FlagId::SeveralPatches, "default")
                .with("count", patch_count.to_string())
                .with("patches", and_list(&patches)),
        );
    }
    if ctx.patient.opioid_naive == Some(true) && !fentanyl_patches.is_empty() {
        fired.push(
            Fired::new(FlagId::FentanylOpioidNaive, "default").with(
                "patches",
                and_list(
                    &fentanyl_patches
                        .iter()
                        .map(|(s, n)| format!("{n} × fentanyl {} micrograms/hour", num(*s)))
                        .collect::<Vec<_>>(),
                ),
            ),
        );
    }

    morphine_solution_flag(ctx, fired);

    if ctx.patient.has(PatientCondition::Epilepsy) {
        let risk = &ctx.reference.risk;
        let opioids: Vec<&str> = drugs
            .iter()
            .copied()
            .filter(|d| {
                risk.opioid_property(d, OpioidProperty::LowersSeizureThreshold)
                    .is_some()
            })
            .collect();
        if !opioids.is_empty() {
            fired.push(
                Fired::new(FlagId::SeizureRisk, "default").with("opioids", and_list(&opioids)),
            );
        }
    }
}

/// Morphine oral solution issued in more than the audit quantity at one issue
/// (HSSIB; OpenPrescribing's measure). The number is case-finding's
/// `liquid-issue-max-ml`, so the worklist marker and this flag always agree.
fn morphine_solution_flag(ctx: &FlagContext<'_>, fired: &mut Vec<Fired>) {
    let limit = ctx
        .reference
        .casefinding
        .setting(crate::reference::casefinding::CaseFindingSetting::LiquidIssueMaxMl);
    let large: Vec<String> = ctx
        .regimen
        .items
        .iter()
        .filter_map(|item| {
            let Dose::Liquid { strength, .. } = &item.dose else {
                return None;
            };
            let ml = item.quantity_per_issue?.get();
            (item.drug.as_str() == "morphine" && item.route == Route::Oral && ml > limit).then(
                || {
                    format!(
                        "morphine oral solution {}, {} mL at each issue ({} mg of morphine)",
                        ctx.reference
                            .liquid_strength_words("morphine", item.route, strength.get()),
                        num(ml),
                        num(ml * strength.get())
                    )
                },
            )
        })
        .collect();
    if !large.is_empty() {
        fired.push(
            Fired::new(FlagId::MorphineSolutionQuantity, "default")
                .with("items", and_list(&large))
                .with("limit", num(limit)),
        );
    }
}

fn dedup(v: &mut Vec<String>) {
    let mut seen = Vec::with_capacity(v.len());
    v.retain(|x| {
        if seen.contains(x) {
            false
        } else {
            seen.push(x.clone());
            true
        }
    });
}

fn labels_of(conditions: &[PatientCondition]) -> Vec<&'static str> {
    conditions.iter().map(|c| c.label()).collect()
}

fn patient_flags(ctx: &FlagContext<'_>, fired: &mut Vec<Fired>) {
    let p = ctx.patient;
    let present = |wanted: &[PatientCondition]| -> Vec<PatientCondition> {
        p.conditions
            .iter()
            .copied()
            .filter(|c| wanted.contains(c))
            .collect()
    };

    if p.has(PatientCondition::HepaticImpairment) {
        fired.push(Fired::new(FlagId::HepaticImpairment, "default"));
    }
    let respiratory = present(&[
        PatientCondition::Copd,
        PatientCondition::Asthma,
        PatientCondition::SleepApnoea,
    ]);
    if !respiratory.is_empty() {
        fired.push(
            Fired::new(FlagId::Respiratory, "default")
                .with("conditions", and_list(&labels_of(&respiratory))),
        );
    }
    let overdose: Vec<&str> = p
        .history
        .iter()
        .filter(|h| {
            matches!(
                h,
                PatientHistory::Overdose | PatientHistory::SubstanceUseDisorder
            )
        })
        .map(|h| h.label())
        .collect();
    if !overdose.is_empty() {
        fired
            .push(Fired::new(FlagId::OverdoseRisk, "default").with("history", and_list(&overdose)));
    }
    if p.had(PatientHistory::AlcoholMisuse) {
        fired.push(Fired::new(FlagId::Alcohol, "default"));
    }
    if let Some(age) = p.age {
        let at = threshold(ctx, RiskThresholdKind::OlderAdultAge);
        if age >= at {
            let frailty = present(&[PatientCondition::Falls, PatientCondition::Dementia]);
            let variant = if frailty.is_empty() {
                "default"
            } else {
                "with-conditions"
            };
            fired.push(
                Fired::new(FlagId::OlderAdult, variant)
                    .with("age", num(age))
                    .with("age_threshold", num(at))
                    .with("conditions", and_list(&labels_of(&frailty))),
            );
        }
    }
    if p.has(PatientCondition::Pregnancy) {
        fired.push(Fired::new(FlagId::Pregnancy, "pregnancy"));
    } else if p.has(PatientCondition::Breastfeeding) {
        fired.push(Fired::new(FlagId::Pregnancy, "breastfeeding"));
    }
    if let Some(months) = p.months_on_opioids {
        let at = threshold(ctx, RiskThresholdKind::LongTermMonths);
        if months >= at {
            fired.push(
                Fired::new(FlagId::LongTermUse, "default")
                    .with("months", num(months))
                    .with("months_threshold", num(at)),
            );
        }
    }
    let mut mental: Vec<&str> = labels_of(&present(&[PatientCondition::Depression]));
    if p.had(PatientHistory::MentalHealthDisorder) {
        mental.push(PatientHistory::MentalHealthDisorder.label());
    }
    if !mental.is_empty() {
        fired.push(
            Fired::new(FlagId::MentalHealth, "default")
                .with("details", capitalise(&and_list(&mental))),
        );
    }
}

fn renal_flag(ctx: &FlagContext<'_>, fired: &mut Vec<Fired>) {
    let Some(egfr) = ctx.patient.egfr else { return };
    let severe = threshold(ctx, RiskThresholdKind::EgfrSevereBelow);
    let impaired = threshold(ctx, RiskThresholdKind::EgfrImpairedBelow);
    let risk = &ctx.reference.risk;
    let drugs = regimen_drugs(ctx.regimen);
    let (variant, advice): (&'static str, Vec<String>) = if egfr < severe {
        // Severe: every opioid matters, including those the SPS Q&A does not cover.
        let advice = drugs
            .iter()
            .map(|d| match risk.renal(d) {
                Some(row) => row.note.clone(),
                None => format!("{d}: no SPS renal advice in the reference data; check its SmPC"),
            })
            .collect();
        ("severe", advice)
    } else if egfr < impaired {
        let named: Vec<_> = drugs
            .iter()
            .filter_map(|d| risk.renal(d))
            .filter(|row| row.flag_from == EgfrBand::Impaired)
            .collect();
        if named.is_empty() {
            return;
        }
        let variant = if named.iter().any(|r| r.advice == RenalAdvice::Avoid) {
            "avoid"
        } else {
            "caution"
        };
        (variant, named.iter().map(|r| r.note.clone()).collect())
    } else {
        return;
    };
    fired.push(
        Fired::new(FlagId::RenalImpairment, variant)
            .with("egfr", num(egfr))
            .with("severe", num(severe))
            .with("impaired", num(impaired))
            .with(
                "drug_advice",
                format!("{}.", capitalise(&advice.join("; "))),
            ),
    );
}

fn paracetamol_flag(ctx: &FlagContext<'_>, fired: &mut Vec<Fired>) {
    let p = ctx.patient;
    let regimen = ctx.ome.paracetamol_mg_per_day;
    let other = p.co_medication_paracetamol_mg_per_day.unwrap_or(0.0);
    let total = regimen + other;
    let low_weight = threshold(ctx, RiskThresholdKind::ParacetamolLowWeightKg);
    let reduced = threshold(ctx, RiskThresholdKind::ParacetamolReducedMaxMgPerDay);
    let mut reasons = Vec::new();
    // Under the low-weight threshold the maximum is weight-based, and never
    // above the reduced maximum (38 kg x 60 mg/kg = 2,280 mg, not 3,000).
    let mut by_weight = None;
    if let Some(w) = p.weight_kg.filter(|w| *w < low_weight) {
        let per_kg = threshold(ctx, RiskThresholdKind::ParacetamolLowWeightMgPerKgPerDay);
        let limit = (w * per_kg).floor();
        reasons.push(format!(
            "weight {} kg (under {} kg: at most {} mg per kg a day, {} mg)",
            num(w),
            num(low_weight),
            num(per_kg),
            num(limit)
        ));
        by_weight = Some(limit);
    }
    if p.had(PatientHistory::AlcoholMisuse) {
        reasons.push(PatientHistory::AlcoholMisuse.label().to_string());
    }
    if p.has(PatientCondition::HepaticImpairment) {
        reasons.push(PatientCondition::HepaticImpairment.label().to_string());
    }
    let (variant, limit) = if reasons.is_empty() {
        (
            "standard",
            threshold(ctx, RiskThresholdKind::ParacetamolMaxMgPerDay),
        )
    } else {
        ("reduced", by_weight.map_or(reduced, |w| w.min(reduced)))
    };
    if total > limit {
        fired.push(
            Fired::new(FlagId::ParacetamolLimit, variant)
                .with("total", num(total))
                .with("regimen", num(regimen))
                .with("other", num(other))
                .with("limit", num(limit))
                .with("reasons", and_list(&reasons)),
        );
    }
}

/// mg of `drug` a day from tablets, capsules and liquids of the given release
/// (all releases when `None`), as-needed doses at their maximum.
fn daily_mg(regimen: &Regimen, drug: &str, release: Option<Release>) -> f64 {
    regimen
        .items
        .iter()
        .filter(|i| i.drug.as_str() == drug)
        .filter_map(|i| match &i.dose {
            Dose::Solid {
                strength,
                units_per_dose,
                doses_per_day,
                release: r,
                ..
            } => Some((
                *r,
                strength.get() * units_per_dose.get() * doses_per_day.get(),
            )),
            Dose::Liquid {
                strength,
                ml_per_dose,
                doses_per_day,
                release: r,
                ..
            } => Some((*r, strength.get() * ml_per_dose.get() * doses_per_day.get())),
            Dose::Patch { .. } => None,
        })
        .filter(|(r, _)| release.is_none_or(|want| want == *r))
        .map(|(_, mg)| mg)
        .sum()
}

/// The first clause of a source, to name it in a sentence.
fn short_source(source: &str) -> &str {
    source.split("; ").next().unwrap_or(source)
}

/// Licensed maxima and dosing intervals (`dose_limits.json`): for each drug
/// and release scope, the most restrictive limit that applies to this patient
/// and is broken is named with its rule and source.
fn licensed_maximum_flag(ctx: &FlagContext<'_>, fired: &mut Vec<Fired>) {
    let p = ctx.patient;
    let mut breaches: Vec<String> = Vec::new();
    for drug in regimen_drugs(ctx.regimen) {
        let rows: Vec<_> = ctx
            .reference
            .dose_limits
            .rows
            .iter()
            .filter(|r| r.drug == drug && r.applies(p.age, p.egfr))
            .collect();
        let mut scopes: Vec<Option<Release>> = Vec::new();
        for r in &rows {
            if !scopes.contains(&r.release) {
                scopes.push(r.release);
            }
        }
        for scope in scopes {
            let total = (daily_mg(ctx.regimen, drug, scope) * 100.0).round() / 100.0;
            let broken = rows
                .iter()
                .filter(|r| r.release == scope)
                .filter_map(|r| r.max_mg_per_day.map(|m| (m, r)))
                .filter(|(m, _)| total > *m)
                .min_by(|a, b| a.0.total_cmp(&b.0));
            if let Some((_, row)) = broken {
                breaches.push(format!(
                    "{drug} {} mg a day is above the licensed maximum ({}; {})",
                    num(total),
                    row.rule,
                    short_source(&row.source)
                ));
            }
        }
        for row in rows.iter().filter(|r| r.min_interval_hours.is_some()) {
            let Some(hours) = row.min_interval_hours else {
                continue;
            };
            let most = 24.0 / hours;
            let too_often = ctx.regimen.items.iter().any(|i| {
                i.drug.as_str() == drug
                    && match &i.dose {
                        Dose::Solid {
                            doses_per_day,
                            release,
                            ..
                        }
                        | Dose::Liquid {
                            doses_per_day,
                            release,
                            ..
                        } => {
                            row.release.is_none_or(|r| r == *release)
                                && doses_per_day.get() > most + 1e-9
                        }
                        Dose::Patch { .. } => false,
                    }
            });
            if too_often {
                breaches.push(format!(
                    "{drug} is taken more often than every {} hours ({}; {})",
                    num(hours),
                    row.rule,
                    short_source(&row.source)
                ));
            }
        }
    }
    if !breaches.is_empty() {
        fired.push(
            Fired::new(FlagId::AboveLicensedMaximum, "default")
                .with("breaches", capitalise(&breaches.join(". "))),
        );
    }
}

/// Every regimen under review gets driving advice: a taper changes the dose,
/// and impairment is most likely after a change (FPM "Opioids and driving").
fn driving_flag(ctx: &FlagContext<'_>, fired: &mut Vec<Fired>) {
    let risk = &ctx.reference.risk;
    let mut named: Vec<String> = Vec::new();
    for d in regimen_drugs(ctx.regimen) {
        if risk
            .opioid_property(d, OpioidProperty::DrugDrivingSpecified)
            .is_some()
        {
            named.push(format!("{d} (a specified drug)"));
        } else if risk
            .opioid_property(d, OpioidProperty::MetabolisedToSpecified)
            .is_some()
        {
            named.push(format!("{d} (metabolised to morphine, a specified drug)"));
        }
    }
    // Co-prescribed benzodiazepines named in the law are specified drugs themselves.
    for m in &ctx.patient.co_medications {
        let specified = m
            .generic
            .as_deref()
            .and_then(|g| risk.co_medication(g))
            .is_some_and(|row| row.drug_driving_specified);
        if specified {
            named.push(format!(
                "{} (a co-prescribed benzodiazepine that is itself a specified drug)",
                m.describe()
            ));
        }
    }
    dedup(&mut named);
    if named.is_empty() {
        fired.push(Fired::new(FlagId::Driving, "general"));
    } else {
        fired.push(Fired::new(FlagId::Driving, "specified").with("drugs", and_list(&named)));
    }
}

/// Naloxone is suggested when another flag shows an overdose risk factor that
/// CDC 2022 names (higher dose, benzodiazepines and other CNS depressants,
/// history of overdose or substance use disorder) and none is listed already.
/// UK guidance for chronic pain is "consider", hence severity info.
fn naloxone_flag(ctx: &FlagContext<'_>, flags: &[(usize, Flag)]) -> Option<Fired> {
    if !naloxone_advised(ctx, flags.iter().map(|(_, f)| f.id)) {
        return None;
    }
    let reasons: Vec<String> = flags
        .iter()
        .filter(|(_, f)| NALOXONE_TRIGGERS.contains(&f.id))
        .map(|(_, f)| lower_first(&f.title))
        .collect();
    Some(Fired::new(FlagId::Naloxone, "default").with("reasons", and_list(&reasons)))
}

fn lower_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::reference;

    #[test]
    fn every_flag_variant_has_wording_and_fills_its_placeholders() {
        let risk = &reference().risk;
        for flag in FlagId::ALL {
            for variant in flag.variants() {
                let (_, text) = risk
                    .flag_text(flag, variant)
                    .unwrap_or_else(|| panic!("{flag}.{variant} has no wording"));
                let values: Vec<(&str, String)> = flag
                    .placeholders()
                    .iter()
                    .map(|p| (*p, "X".to_string()))
                    .collect();
                for t in [&text.title, &text.rationale, &text.action] {
                    let filled = fill_template(t, &values);
                    assert!(
                        !filled.contains('{') && !filled.contains('}'),
                        "{flag}.{variant}: {filled}"
                    );
                }
                assert!(!text.source.trim().is_empty());
            }
        }
    }

    #[test]
    fn ids_serialise_as_the_contract_spells_them() {
        for flag in FlagId::ALL {
            let v = serde_json::to_value(flag).unwrap();
            assert_eq!(v, flag.as_str());
        }
        assert_eq!(serde_json::to_value(Severity::Caution).unwrap(), "caution");
        assert!(Severity::High < Severity::Caution && Severity::Caution < Severity::Info);
    }

    #[test]
    fn templates_fill_known_names_and_keep_unknown_ones() {
        let v = [("a", "1".to_string())];
        assert_eq!(fill_template("x {a} y {b} z", &v), "x 1 y {b} z");
        assert_eq!(fill_template("open {a", &v), "open {a");
        assert_eq!(fill_template("", &v), "");
    }

    #[test]
    fn sentences_are_capitalised_but_mixed_case_words_kept() {
        assert_eq!(capitalise("tramadol taken"), "Tramadol taken");
        assert_eq!(capitalise("eGFR 25"), "eGFR 25");
        assert_eq!(capitalise(""), "");
    }

    #[test]
    fn lists_read_naturally() {
        assert_eq!(and_list(&["a"]), "a");
        assert_eq!(and_list(&["a", "b"]), "a and b");
        assert_eq!(and_list(&["a", "b", "c"]), "a, b and c");
        assert_eq!(and_list::<&str>(&[]), "");
    }
}
