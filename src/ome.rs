//! Oral morphine equivalent (OME; MME in the CDC profile): from a validated
//! regimen to per-item and total daily amounts, with the working shown.
//!
//! Rules (clinical reference section 1, contract `stepdown ome`):
//! - item OME = daily amount × the profile's factor for the drug and route;
//! - the total counts as-needed items at their maximum daily dose, and the
//!   regular total leaves them out;
//! - an item the profile has no factor for (or explicitly cannot convert) gets
//!   no OME, a warning with the reason, and makes the result incomplete. It is
//!   never guessed.
//!
//! Pure: no IO, no clock. Every number comes from the reference tables.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

pub mod strength;

pub use strength::StrengthCheck;

use crate::item::{Dose, Item, Regimen};
use crate::profile::Profile;
use crate::quantity::OmeMgPerDay;
use crate::reference::{Conversion, FactorUnit, Reference, ThresholdKind};
use crate::vocabulary::{num, Form, Release, Route};

/// Unit of an item's daily amount.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub enum AmountUnit {
    /// Milligrams of the drug a day (tablets, capsules, liquids).
    #[serde(rename = "mg")]
    MgPerDay,
    /// Micrograms an hour, delivered continuously (patches).
    #[serde(rename = "micrograms/hour")]
    McgPerHour,
}

impl AmountUnit {
    fn label(self) -> &'static str {
        match self {
            AmountUnit::MgPerDay => "mg",
            AmountUnit::McgPerHour => "micrograms/hour",
        }
    }
}

/// The amount of drug an item delivers in a day (or, for patches, per hour).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DailyAmount {
    /// The number, in `unit`.
    pub value: f64,
    /// mg a day or micrograms an hour.
    pub unit: AmountUnit,
}

impl std::fmt::Display for DailyAmount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", num(self.value), self.unit.label())
    }
}

/// How one item converts, with everything needed to show the working.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemOme {
    /// Daily amount of the drug.
    pub daily: DailyAmount,
    /// Factor applied, its unit and its reference row id; or why there is none.
    pub conversion: ItemConversion,
    /// Explanation `"30 mg × 2 a day = 60 mg × 1.5 = 90 mg OME"`.
    pub working: String,
    /// Extra notes from the reference (e.g. the fentanyl "12" patch).
    pub notes: Vec<String>,
    /// Paracetamol a day from a combination product.
    pub paracetamol_mg_per_day: Option<f64>,
}

/// The conversion of one item.
#[derive(Debug, Clone, PartialEq)]
pub enum ItemConversion {
    /// Converted with a reference factor.
    Converted {
        /// mg OME per unit of the daily amount.
        factor: f64,
        /// Reference row id of the factor.
        factor_id: String,
        /// Source of the factor.
        source: String,
        /// The result, rounded to 2 decimals.
        ome: OmeMgPerDay,
    },
    /// Not converted.
    NotConvertible {
        /// Why, for people.
        reason: String,
        /// Reference row id when the table says so explicitly.
        row_id: Option<String>,
        /// Source of the decision.
        source: String,
    },
}

impl ItemOme {
    /// The item's OME, if it was converted.
    pub fn ome(&self) -> Option<OmeMgPerDay> {
        match &self.conversion {
            ItemConversion::Converted { ome, .. } => Some(*ome),
            ItemConversion::NotConvertible { .. } => None,
        }
    }
}

/// Caller's choices for a calculation.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct OmeOptions {
    /// Replaces the profile's high-dose threshold (e.g. 120 for schemes using the older UK figure).
    pub high_dose_threshold: Option<OmeMgPerDay>,
}

/// One item of an [`OmeReport`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct OmeItem {
    /// Position in the input `items` list (0-based).
    pub index: u32,
    /// Generic name of the opioid.
    pub drug: String,
    /// Route.
    pub route: Route,
    /// Form, when stated or implied (always for liquids and patches).
    pub form: Option<Form>,
    /// Release (`null` for patches).
    pub release: Option<Release>,
    /// Taken only when needed (counted at its maximum in the total, left out of the regular total).
    pub as_needed: bool,
    /// Daily amount for people, e.g. `"60 mg"` or `"25 micrograms/hour"`.
    pub daily_amount: String,
    /// The daily amount's number.
    pub daily_amount_value: f64,
    /// The daily amount's unit: `"mg"` (a day) or `"micrograms/hour"`.
    pub daily_amount_unit: AmountUnit,
    /// mg OME a day per mg (or per microgram/hour for patches); `null` if not convertible.
    pub factor: Option<f64>,
    /// Reference row of the factor (or of the explicit "not convertible" entry).
    pub factor_id: Option<String>,
    /// mg OME a day, rounded to 2 decimals; `null` if not convertible.
    pub ome_mg_per_day: Option<f64>,
    /// Where the factor (or the refusal to convert) comes from.
    pub source: String,
    /// The arithmetic, for people.
    pub working: String,
    /// Why the item was not converted (`null` when it was).
    pub not_convertible_reason: Option<String>,
    /// Paracetamol a day from a combination product (`null` if none).
    pub paracetamol_mg_per_day: Option<f64>,
    /// Further notes from the reference data.
    pub notes: Vec<String>,
    /// Strength warnings (not a UK strength, combination parts swapped), each
    /// tied to its field; the same words are in the report's `warnings`.
    #[serde(default)]
    pub strength_checks: Vec<StrengthCheck>,
}

/// Result of `stepdown ome` (contract fields first; the rest are additions).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct OmeReport {
    /// Profile used.
    pub profile: Profile,
    /// All converted items, as-needed ones at their maximum, mg/day (2 decimals).
    pub total_ome_mg_per_day: f64,
    /// Converted regular (not as-needed) items only, mg/day.
    pub regular_ome_mg_per_day: f64,
    /// False when any item could not be converted (the totals leave it out).
    pub complete: bool,
    /// Per item, in input order.
    pub items: Vec<OmeItem>,
    /// Things the reader must know, one sentence each (e.g. an item not converted).
    pub warnings: Vec<String>,
    /// Converted as-needed items at their maximum, mg/day.
    pub as_needed_ome_mg_per_day: f64,
    /// High-dose threshold used, mg/day.
    pub high_dose_threshold_mg_per_day: f64,
    /// Where the threshold comes from (reference row, or the caller's override).
    pub high_dose_threshold_source: String,
    /// `total_ome_mg_per_day` ≥ the threshold.
    pub high_dose: bool,
    /// The profile's high-dose threshold with its versions and effective dates
    /// ("120 mg OME/day from 2016-01-01 to 2025-10-31; 90 mg OME/day from
    /// 2025-11-01, in force"), printed with every summary.
    #[serde(default)]
    pub high_dose_threshold_versions: String,
    /// Paracetamol a day from combination products in the regimen (maximum, counting as-needed).
    pub paracetamol_mg_per_day: f64,
    /// General caveats about what the figure means.
    pub notes: Vec<String>,
    /// Version of the reference manifest the numbers come from.
    pub reference_version: String,
}

/// Rounds to 2 decimals: clean output, and binary noise such as
/// `0.1 × 240 = 24.000000000000004` never reaches a person.
fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn ome_label(profile: Profile) -> &'static str {
    match profile {
        Profile::Uk => "mg OME",
        Profile::Cdc => "MME",
    }
}

/// Converts one validated item under `profile`.
pub fn convert_item(item: &Item, profile: Profile, reference: &Reference) -> ItemOme {
    convert(item, profile, reference, Words::All)
}

/// Whether a calculation writes its words (the working, sources' notes,
/// warnings) or only its numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Words {
    All,
    NumbersOnly,
}

/// An item's daily amount (mg a day, or micrograms an hour for patches) and
/// the paracetamol a day in it (combination products).
fn daily_amount(item: &Item, reference: &Reference) -> (DailyAmount, Option<f64>) {
    let mg_per_day = |value: f64| DailyAmount {
        value,
        unit: AmountUnit::MgPerDay,
    };
    match &item.dose {
        Dose::Solid {
            strength,
            units_per_dose,
            doses_per_day,
            paracetamol_per_unit,
            times,
            ..
        } => {
            let units = match times {
                Some(t) => t.total(),
                None => units_per_dose.get() * doses_per_day.get(),
            };
            (
                mg_per_day(strength.get() * units),
                paracetamol_per_unit.map(|p| round2(p.get() * units)),
            )
        }
        Dose::Liquid {
            strength,
            times: Some(t),
            ..
        } => (mg_per_day(strength.get() * t.total()), None),
        Dose::Liquid {
            strength,
            ml_per_dose,
            doses_per_day,
            ..
        } => (
            mg_per_day(strength.get() * ml_per_dose.get() * doses_per_day.get()),
            None,
        ),
        Dose::Patch { strength, patches } => {
            let labelled = strength.get();
            let per_patch = reference
                .patch_label(item.drug.as_str(), labelled)
                .map_or(labelled, |l| l.counts_as_mcg_per_hour);
            (
                DailyAmount {
                    value: per_patch * f64::from(patches.get()),
                    unit: AmountUnit::McgPerHour,
                },
                None,
            )
        }
    }
}

/// The first half of an item's working (how its daily amount comes about)
/// and the reference's notes on it.
fn daily_working(item: &Item, reference: &Reference, daily: DailyAmount) -> (String, Vec<String>) {
    let drug = item.drug.as_str();
    let mut notes = Vec::new();
    let working = match &item.dose {
        Dose::Solid {
            strength,
            units_per_dose,
            doses_per_day,
            paracetamol_per_unit,
            naloxone_per_unit,
            times,
            ..
        } => {
            let mg = daily.value;
            // A combination shows both parts, as on the box ("30/500 mg"), so
            // the opioid strength is never read as the whole tablet.
            // Oxycodone with naloxone likewise shows both parts ("20/10 mg"),
            // and the working says the naloxone was considered and adds nothing.
            let second = paracetamol_per_unit.or(*naloxone_per_unit);
            let (strength_words, of_drug) = match (paracetamol_per_unit, naloxone_per_unit) {
                (Some(p), _) => (
                    format!("{}/{} mg", num(strength.get()), num(p.get())),
                    format!(" of {drug}"),
                ),
                // As the box writes it: Targinact 20 mg/10 mg.
                (None, Some(n)) => (
                    format!("{} mg/{} mg", num(strength.get()), num(n.get())),
                    format!(" of {drug}"),
                ),
                (None, None) => (format!("{} mg", num(strength.get())), String::new()),
            };
            if let Some(n) = naloxone_per_unit {
                let units = mg / strength.get();
                notes.push(format!(
                    "naloxone {} mg a tablet ({} mg a day) adds no OME: only the {drug} part is converted ({})",
                    num(n.get()),
                    num(round2(n.get() * units)),
                    naloxone_source(reference)
                ));
            }
            match times {
                // Doses by time of day: each time's own amount.
                Some(t) => {
                    let each: Vec<String> = t
                        .doses()
                        .iter()
                        .map(|d| {
                            let at = strength.get() * d.amount();
                            if d.amount() == 1.0 && second.is_none() {
                                format!("{} mg {}", num(at), d.time)
                            } else {
                                format!(
                                    "{} mg{of_drug} ({} × {strength_words}) {}",
                                    num(at),
                                    num(d.amount()),
                                    d.time
                                )
                            }
                        })
                        .collect();
                    format!("{} = {} mg{of_drug}", each.join(" + "), num(mg))
                }
                None => {
                    let per_dose = if units_per_dose.get() == 1.0 {
                        strength_words
                    } else {
                        format!("{} × {strength_words}", num(units_per_dose.get()))
                    };
                    format!(
                        "{per_dose} × {} a day = {} mg{of_drug}",
                        num(doses_per_day.get()),
                        num(mg)
                    )
                }
            }
        }
        Dose::Liquid {
            strength,
            times: Some(t),
            ..
        } => {
            let each: Vec<String> = t
                .doses()
                .iter()
                .map(|d| format!("{} mL {}", num(d.amount()), d.time))
                .collect();
            format!(
                "{} = {} mL × {} mg/mL = {} mg",
                each.join(" + "),
                num(t.total()),
                num(strength.get()),
                num(daily.value)
            )
        }
        Dose::Liquid {
            strength,
            ml_per_dose,
            doses_per_day,
            ..
        } => format!(
            "{} mg/mL × {} mL × {} a day = {} mg",
            num(strength.get()),
            num(ml_per_dose.get()),
            num(doses_per_day.get()),
            num(daily.value)
        ),
        Dose::Patch { strength, patches } => {
            let labelled = strength.get();
            let label = reference.patch_label(drug, labelled);
            let n = patches.get();
            let plural = if n == 1 { "patch" } else { "patches" };
            let mut w = format!("{n} × {} micrograms/hour {plural}", num(labelled));
            if let Some(l) = label {
                w.push_str(&format!(
                    " (each counts as {} micrograms/hour)",
                    num(l.counts_as_mcg_per_hour)
                ));
                notes.push(l.note.clone());
            }
            w.push_str(&format!(" = {} micrograms/hour", num(daily.value)));
            w
        }
    };
    (working, notes)
}

/// [`convert_item`], with or without its words.
fn convert(item: &Item, profile: Profile, reference: &Reference, words: Words) -> ItemOme {
    let drug = item.drug.as_str();
    let (daily, paracetamol_mg_per_day) = daily_amount(item, reference);
    let (mut working, notes) = match words {
        Words::All => daily_working(item, reference, daily),
        Words::NumbersOnly => (String::new(), Vec::new()),
    };

    let needed_unit = match item.dose {
        Dose::Patch { .. } => FactorUnit::McgPerHour,
        Dose::Solid { .. } | Dose::Liquid { .. } => FactorUnit::Mg,
    };
    // A factor may hold only up to a strength (sublingual buprenorphine: the
    // pain tablets, not the dependence ones); above it the row says why not.
    let above_cap = |row: &crate::reference::FactorRow| -> Option<String> {
        let max = row.max_strength_mg?;
        let over = match &item.dose {
            Dose::Solid { strength, .. } => strength.get() > max * (1.0 + 1e-9),
            Dose::Liquid { .. } | Dose::Patch { .. } => true,
        };
        over.then(|| row.above_max_strength.clone().unwrap_or_default())
    };
    let conversion = match reference.conversion(profile, drug, item.route) {
        Conversion::Factor { row, .. } if above_cap(row).is_some() => {
            ItemConversion::NotConvertible {
                reason: above_cap(row).unwrap_or_default(),
                row_id: Some(row.id.clone()),
                source: row.source.clone(),
            }
        }
        Conversion::Factor { factor, unit, row } if unit == needed_unit => {
            let ome = round2(daily.value * factor);
            if words == Words::All {
                working.push_str(&format!(
                    " × {} = {} {}",
                    num(factor),
                    num(ome),
                    ome_label(profile)
                ));
            }
            match OmeMgPerDay::new(ome) {
                Some(ome) => ItemConversion::Converted {
                    factor,
                    factor_id: row.id.clone(),
                    source: row.source.clone(),
                    ome,
                },
                // Cannot happen with validated positive inputs and factors; refuse rather than guess.
                None => ItemConversion::NotConvertible {
                    reason: format!("the conversion of {drug} gave no usable number"),
                    row_id: Some(row.id.clone()),
                    source: row.source.clone(),
                },
            }
        }
        Conversion::Factor { row, .. } => ItemConversion::NotConvertible {
            // A factor per mg cannot apply to a patch rate, nor the reverse.
            reason: format!(
                "the {} factor for {drug} ({}) does not apply to this form",
                profile.as_str().to_uppercase(),
                row.id
            ),
            row_id: Some(row.id.clone()),
            source: row.source.clone(),
        },
        Conversion::NotConvertible { reason, row } => ItemConversion::NotConvertible {
            reason,
            row_id: row.map(|r| r.id.clone()),
            // A listed gap names its own source; otherwise say which table has no row.
            source: match (row, reference.known_gap(drug, item.route)) {
                (Some(r), _) => r.source.clone(),
                (None, Some(gap)) => format!(
                    "{} v{} ({}): {}",
                    reference.known_gaps.header.id,
                    reference.known_gaps.header.version,
                    gap.id,
                    gap.source
                ),
                (None, None) => format!(
                    "{} v{}: no row for {drug} ({}) in the {profile} profile",
                    reference.ome_factors.header.id,
                    reference.ome_factors.header.version,
                    item.route
                ),
            },
        },
    };
    if words == Words::NumbersOnly {
        return ItemOme {
            daily,
            conversion,
            working,
            notes,
            paracetamol_mg_per_day,
        };
    }
    if let ItemConversion::NotConvertible { reason, .. } = &conversion {
        working.push_str(&format!("; not converted: {reason}"));
    }
    if let Dose::Solid {
        naloxone_per_unit: Some(_),
        ..
    } = &item.dose
    {
        working.push_str(&format!(" ({drug} part only: naloxone adds no OME)"));
    }
    if item.dose.as_needed() {
        if let Dose::Solid { doses_per_day, .. } | Dose::Liquid { doses_per_day, .. } = &item.dose {
            working.push_str(&format!(
                " (as needed: counted at the most allowed, {} doses a day; left out of the regular total)",
                num(doses_per_day.get())
            ));
        }
    }

    ItemOme {
        daily,
        conversion,
        working,
        notes,
        paracetamol_mg_per_day,
    }
}

/// Where "naloxone adds no OME" comes from: the catalogue's oxycodone with
/// naloxone row, which records the decision with its source.
fn naloxone_source(reference: &Reference) -> String {
    reference
        .products
        .rows
        .iter()
        .filter_map(|r| r.other_ingredient.as_ref())
        .find(|o| o.name == "naloxone" && !o.adds_ome)
        .map_or_else(
            || "products_uk.json: no naloxone row".to_string(),
            |o| o.source.clone(),
        )
}

/// Sum of OMEs, rounded the same way as each item so that the total equals
/// the sum of the items shown.
fn sum(values: impl Iterator<Item = f64>) -> f64 {
    // Fold from +0.0: `Iterator::sum` of nothing is -0.0, which would print as "-0.0".
    round2(values.fold(0.0, |a, b| a + b))
}

/// Calculates the OME report for a validated regimen.
pub fn calculate(
    regimen: &Regimen,
    profile: Profile,
    reference: &Reference,
    options: &OmeOptions,
) -> OmeReport {
    calculate_with(regimen, profile, reference, options, Words::All)
}

/// The numbers of [`calculate`] without its words, for callers that keep
/// only the numbers of many regimens (the case-finding worklist cache,
/// a hundred thousand patients an import): the totals, completeness,
/// threshold and paracetamol, and each item's daily amount, factor, OME and
/// reason for not converting are the same; each item's `working`,
/// `daily_amount`, notes and strength checks, and the report's warnings,
/// notes and threshold versions are left empty.
pub fn calculate_numbers(
    regimen: &Regimen,
    profile: Profile,
    reference: &Reference,
    options: &OmeOptions,
) -> OmeReport {
    calculate_with(regimen, profile, reference, options, Words::NumbersOnly)
}

/// True when two reports carry the same numbers (what [`calculate_numbers`]
/// keeps): for the debug assertion that compares it with [`calculate`].
pub(crate) fn same_numbers(a: &OmeReport, b: &OmeReport) -> bool {
    let item = |x: &OmeItem, y: &OmeItem| {
        (x.index, &x.drug, x.route, x.form, x.release, x.as_needed)
            == (y.index, &y.drug, y.route, y.form, y.release, y.as_needed)
            && (
                x.daily_amount_value,
                x.daily_amount_unit,
                x.factor,
                &x.factor_id,
            ) == (
                y.daily_amount_value,
                y.daily_amount_unit,
                y.factor,
                &y.factor_id,
            )
            && (
                x.ome_mg_per_day,
                &x.not_convertible_reason,
                x.paracetamol_mg_per_day,
            ) == (
                y.ome_mg_per_day,
                &y.not_convertible_reason,
                y.paracetamol_mg_per_day,
            )
    };
    (a.profile, a.complete, a.high_dose, &a.reference_version)
        == (b.profile, b.complete, b.high_dose, &b.reference_version)
        && (
            a.total_ome_mg_per_day,
            a.regular_ome_mg_per_day,
            a.as_needed_ome_mg_per_day,
        ) == (
            b.total_ome_mg_per_day,
            b.regular_ome_mg_per_day,
            b.as_needed_ome_mg_per_day,
        )
        && (a.high_dose_threshold_mg_per_day, a.paracetamol_mg_per_day)
            == (b.high_dose_threshold_mg_per_day, b.paracetamol_mg_per_day)
        && a.items.len() == b.items.len()
        && a.items.iter().zip(&b.items).all(|(x, y)| item(x, y))
}

fn calculate_with(
    regimen: &Regimen,
    profile: Profile,
    reference: &Reference,
    options: &OmeOptions,
    words: Words,
) -> OmeReport {
    let all = words == Words::All;
    let mut items = Vec::with_capacity(regimen.items.len());
    let mut warnings = Vec::new();
    for (i, item) in regimen.items.iter().enumerate() {
        let c = convert(item, profile, reference, words);
        let (factor, factor_id, ome, source, reason) = match &c.conversion {
            ItemConversion::Converted {
                factor,
                factor_id,
                source,
                ome,
            } => (
                Some(*factor),
                Some(factor_id.clone()),
                Some(ome.get()),
                source.clone(),
                None,
            ),
            ItemConversion::NotConvertible {
                reason,
                row_id,
                source,
            } => {
                if all {
                    warnings.push(format!(
                        "items[{i}] ({} {}): not converted, so the totals leave it out and are incomplete. {reason}",
                        item.drug, item.route
                    ));
                }
                (
                    None,
                    row_id.clone(),
                    None,
                    source.clone(),
                    Some(reason.clone()),
                )
            }
        };
        // A warning, so only with the words.
        if let (
            true,
            Dose::Solid {
                release: Release::Modified,
                units_per_dose,
                times,
                ..
            },
        ) = (all, &item.dose)
        {
            // Clinical reference section 3: modified-release tablets are never split.
            match times {
                // units_per_dose is then a mean: only each time's own amount matters.
                Some(t) => {
                    for d in t.doses() {
                        if d.amount().fract() != 0.0 {
                            warnings.push(format!(
                                "items[{i}] ({}): {} of a modified-release tablet or capsule in the {} dose; modified-release products must not be split, so check its doses.",
                                item.drug,
                                num(d.amount()),
                                d.time
                            ));
                        }
                    }
                }
                None if units_per_dose.get().fract() != 0.0 => {
                    warnings.push(format!(
                        "items[{i}] ({}): {} of a modified-release tablet or capsule a dose; modified-release products must not be split, so check units_per_dose.",
                        item.drug,
                        num(units_per_dose.get())
                    ));
                }
                None => {}
            }
        }
        let strength_checks = if all {
            strength::check(item, reference)
        } else {
            Vec::new()
        };
        for c in &strength_checks {
            warnings.push(format!("items[{i}] ({}): {}", item.drug, c.message));
        }
        items.push(OmeItem {
            index: u32::try_from(i).unwrap_or(u32::MAX),
            drug: item.drug.to_string(),
            route: item.route,
            form: item.dose.form(),
            release: item.dose.release(),
            as_needed: item.dose.as_needed(),
            daily_amount: if all {
                c.daily.to_string()
            } else {
                String::new()
            },
            daily_amount_value: round2(c.daily.value),
            daily_amount_unit: c.daily.unit,
            factor,
            factor_id,
            ome_mg_per_day: ome,
            source,
            working: c.working,
            not_convertible_reason: reason,
            paracetamol_mg_per_day: c.paracetamol_mg_per_day,
            notes: c.notes,
            strength_checks,
        });
    }

    // The same medicine at the same dose twice is more often a double entry
    // than two prescriptions: say which items, and that both are counted.
    // Only words: the numbers leave it out.
    if all {
        for (j, later) in regimen.items.iter().enumerate() {
            if let Some(i) = regimen.items[..j].iter().position(|e| {
                e.drug == later.drug && e.route == later.route && e.dose == later.dose
            }) {
                // A patch's amount is a rate (25 micrograms/hour), not an amount a day.
                let per_day = if matches!(later.dose, Dose::Patch { .. }) {
                    ""
                } else {
                    " a day"
                };
                warnings.push(format!(
                    "items[{i}] and items[{j}] are the same medicine at the same dose ({} {}, {}{per_day}): check it has not been entered twice; both are counted in the totals.",
                    later.drug,
                    later.route,
                    items[j].daily_amount
                ));
            }
        }
    }

    let total = sum(items.iter().filter_map(|i| i.ome_mg_per_day));
    let regular = sum(items
        .iter()
        .filter(|i| !i.as_needed)
        .filter_map(|i| i.ome_mg_per_day));
    let as_needed = sum(items
        .iter()
        .filter(|i| i.as_needed)
        .filter_map(|i| i.ome_mg_per_day));
    let (threshold, threshold_source) = match options.high_dose_threshold {
        Some(t) => (
            t.get(),
            "set by the user (overrides the profile's threshold)".to_string(),
        ),
        None => match reference.threshold(profile, ThresholdKind::HighDose) {
            Some(row) => (row.mg_per_day, row.source.clone()),
            // The reference tests guarantee every profile has one; without it
            // nothing can be called high dose, and the source says so.
            None => (
                f64::INFINITY,
                "no high-dose threshold in the reference data".to_string(),
            ),
        },
    };
    let paracetamol = sum(items.iter().filter_map(|i| i.paracetamol_mg_per_day));
    let complete = items.iter().all(|i| i.ome_mg_per_day.is_some());
    let unit = match profile {
        Profile::Uk => "mg OME/day",
        Profile::Cdc => "MME/day",
    };
    let versions = if !all {
        String::new()
    } else {
        reference
            .threshold_history(profile, ThresholdKind::HighDose)
            .iter()
            .map(|r| match (&r.effective_from, &r.effective_to) {
                (Some(from), Some(to)) => {
                    format!("{} {unit} from {from} to {to}", num(r.mg_per_day))
                }
                (Some(from), None) => format!("{} {unit} from {from}, in force", num(r.mg_per_day)),
                (None, Some(to)) => format!("{} {unit} until {to}", num(r.mg_per_day)),
                (None, None) => format!("{} {unit}, in force", num(r.mg_per_day)),
            })
            .collect::<Vec<_>>()
            .join("; ")
    };
    let notes = if !all {
        Vec::new()
    } else {
        vec![format!(
            "{} compares total opioid exposure. It is not a ratio for switching \
             from one opioid to another: a new opioid is started lower because cross-tolerance is \
             incomplete, and Stepdown never switches opioids.",
            match profile {
                Profile::Uk => "Oral morphine equivalent",
                Profile::Cdc => "Morphine milligram equivalent (MME)",
            }
        )]
    };

    OmeReport {
        profile,
        total_ome_mg_per_day: total,
        regular_ome_mg_per_day: regular,
        complete,
        items,
        warnings,
        as_needed_ome_mg_per_day: as_needed,
        high_dose_threshold_mg_per_day: threshold,
        high_dose_threshold_source: threshold_source,
        high_dose: total >= threshold,
        high_dose_threshold_versions: versions,
        paracetamol_mg_per_day: paracetamol,
        notes,
        reference_version: reference.manifest_version.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::reference;
    use crate::regimen::regimen_from_json;

    fn report(profile: Profile, items: &str) -> OmeReport {
        let json = format!(r#"{{"items": [{items}]}}"#);
        let regimen = regimen_from_json(&json, profile, reference()).unwrap();
        let full = calculate(&regimen, profile, reference(), &OmeOptions::default());
        // Every case here also checks that the numbers-only calculation agrees.
        let numbers = calculate_numbers(&regimen, profile, reference(), &OmeOptions::default());
        assert!(same_numbers(&full, &numbers), "{full:?}\n{numbers:?}");
        assert!(numbers.warnings.is_empty() && numbers.items.iter().all(|i| i.working.is_empty()));
        full
    }

    #[test]
    fn doses_by_time_show_each_time_in_the_working() {
        let r = report(
            Profile::Uk,
            r#"{"drug": "morphine", "route": "oral", "release": "modified", "strength_mg": 30,
                "doses": [{"time": "morning", "units": 1}, {"time": "evening", "units": 2}]}"#,
        );
        assert_eq!(r.total_ome_mg_per_day, 90.0);
        assert_eq!(
            r.items[0].working,
            "30 mg morning + 60 mg (2 × 30 mg) evening = 90 mg × 1 = 90 mg OME"
        );
        // Whole tablets at each time: no split warning although the mean is 1.5.
        assert!(r.warnings.is_empty(), "{:?}", r.warnings);
        let r = report(
            Profile::Uk,
            r#"{"drug": "oxycodone", "route": "oral", "release": "modified", "strength_mg": 10,
                "doses": [{"time": "morning", "units": 1.5}, {"time": "night", "units": 2}]}"#,
        );
        assert_eq!(r.warnings.len(), 1, "{:?}", r.warnings);
        assert!(
            r.warnings[0].contains("in the morning dose"),
            "{:?}",
            r.warnings
        );
        let r = report(
            Profile::Uk,
            r#"{"drug": "morphine", "route": "oral", "form": "solution", "strength_mg_per_ml": 2,
                "doses": [{"time": "morning", "ml": 2.5}, {"time": "night", "ml": 5}]}"#,
        );
        assert_eq!(
            r.items[0].working,
            "2.5 mL morning + 5 mL night = 7.5 mL × 2 mg/mL = 15 mg × 1 = 15 mg OME"
        );
    }

    #[test]
    fn morphine_and_oxycodone_with_working() {
        let r = report(
            Profile::Uk,
            r#"{"drug": "oxycodone", "route": "oral", "release": "modified", "strength_mg": 30, "doses_per_day": 2}"#,
        );
        assert_eq!(r.total_ome_mg_per_day, 90.0);
        let i = &r.items[0];
        assert_eq!(i.daily_amount, "60 mg");
        assert_eq!(i.factor, Some(1.5));
        assert_eq!(i.working, "30 mg × 2 a day = 60 mg × 1.5 = 90 mg OME");
        assert_eq!(i.factor_id.as_deref(), Some("uk.oxycodone.oral"));
        assert!(i.source.contains("Opioids Aware"));
        assert!(r.high_dose, "90 is at the UK threshold");
    }

    #[test]
    fn fentanyl_12_counts_as_12_5_with_the_mhra_note() {
        let r = report(
            Profile::Uk,
            r#"{"drug": "fentanyl", "route": "transdermal", "strength_mcg_per_hour": 12}"#,
        );
        assert_eq!(r.total_ome_mg_per_day, 30.0);
        assert_eq!(r.items[0].daily_amount, "12.5 micrograms/hour");
        assert!(r.items[0].notes[0].contains("up to 45"));
        assert!(
            r.items[0].working.contains("each counts as 12.5"),
            "{}",
            r.items[0].working
        );
    }

    #[test]
    fn methadone_is_not_converted_in_the_uk() {
        let r = report(
            Profile::Uk,
            r#"{"drug": "methadone", "route": "oral", "form": "solution", "strength_mg_per_ml": 1, "ml_per_dose": 60, "doses_per_day": 1},
               {"drug": "morphine", "route": "oral", "strength_mg": 10, "doses_per_day": 2}"#,
        );
        assert!(!r.complete);
        assert_eq!(r.total_ome_mg_per_day, 20.0);
        assert_eq!(r.items[0].ome_mg_per_day, None);
        assert_eq!(r.items[0].factor, None);
        assert_eq!(r.items[0].factor_id.as_deref(), Some("uk.methadone.any"));
        assert!(
            r.warnings[0].starts_with("items[0] (methadone oral): not converted"),
            "{:?}",
            r.warnings
        );
        assert!(r.items[0]
            .not_convertible_reason
            .as_deref()
            .unwrap_or("")
            .contains("specialist"));
        // CDC converts methadone at 4.7.
        let r = report(
            Profile::Cdc,
            r#"{"drug": "methadone", "route": "oral", "form": "solution", "strength_mg_per_ml": 1, "ml_per_dose": 60, "doses_per_day": 1}"#,
        );
        assert_eq!(r.total_ome_mg_per_day, 282.0);
        assert!(r.complete);
    }

    #[test]
    fn a_route_without_a_factor_is_reported_not_guessed() {
        let r = report(
            Profile::Uk,
            r#"{"drug": "morphine", "route": "subcutaneous", "strength_mg": 10, "doses_per_day": 2}"#,
        );
        assert!(!r.complete);
        assert_eq!(r.items[0].factor_id, None);
        // A listed gap: its own reason and source, never the methadone advice.
        assert!(r.items[0]
            .source
            .contains("(route.subcutaneous): FPM Opioids Aware"));
        let reason = r.items[0].not_convertible_reason.as_deref().unwrap_or("");
        assert!(reason.contains("The UK profile has no conversion factor for morphine given by the subcutaneous route"), "{reason}");
        assert!(reason.contains("palliative"), "{reason}");
        // No gap listed (oral fentanyl): the source says which table has no row.
        let r = report(
            Profile::Uk,
            r#"{"drug": "fentanyl", "route": "oral", "strength_mg": 1, "doses_per_day": 1}"#,
        );
        assert!(r.items[0].source.contains("no row for fentanyl (oral)"));
    }

    #[test]
    fn the_same_medicine_at_the_same_dose_twice_is_pointed_out() {
        let mst = r#"{"drug": "morphine", "route": "oral", "release": "modified", "strength_mg": 30, "doses_per_day": 2}"#;
        let r = report(Profile::Uk, &format!("{mst}, {mst}"));
        assert_eq!(r.total_ome_mg_per_day, 120.0, "both are counted");
        assert!(
            r.warnings.iter().any(|w| w.starts_with(
                "items[0] and items[1] are the same medicine at the same dose (morphine oral, 60 mg a day)"
            )),
            "{:?}",
            r.warnings
        );
        // A patch is a rate, never "25 micrograms/hour a day".
        let patch = r#"{"drug": "fentanyl", "route": "transdermal", "strength_mcg_per_hour": 25, "patches": 1}"#;
        let r2 = report(Profile::Uk, &format!("{patch}, {patch}"));
        assert!(
            r2.warnings.iter().any(|w| w.starts_with(
                "items[0] and items[1] are the same medicine at the same dose (fentanyl transdermal, 25 micrograms/hour):"
            )),
            "{:?}",
            r2.warnings
        );
        // Different strengths of one product are two prescriptions, not a double entry.
        let other = mst.replace("30", "10");
        let r = report(Profile::Uk, &format!("{mst}, {other}"));
        assert!(r.warnings.iter().all(|w| !w.contains("same medicine")));
    }

    #[test]
    fn as_needed_counts_in_total_not_regular() {
        let r = report(
            Profile::Uk,
            r#"{"drug": "morphine", "route": "oral", "form": "solution", "strength_mg_per_ml": 2, "ml_per_dose": 5, "doses_per_day": 4, "as_needed": true}"#,
        );
        assert_eq!(
            (r.total_ome_mg_per_day, r.regular_ome_mg_per_day),
            (40.0, 0.0)
        );
        assert_eq!(r.as_needed_ome_mg_per_day, 40.0);
        assert!(r.items[0].working.contains("as needed"));
    }

    #[test]
    fn paracetamol_is_totalled_from_combinations() {
        let r = report(
            Profile::Uk,
            r#"{"drug": "codeine", "route": "oral", "strength_mg": 30, "units_per_dose": 2, "doses_per_day": 4, "paracetamol_mg": 500}"#,
        );
        assert_eq!(r.paracetamol_mg_per_day, 4000.0);
        assert_eq!(r.total_ome_mg_per_day, 24.0);
        assert_eq!(
            r.items[0].working,
            "2 × 30/500 mg × 4 a day = 240 mg of codeine × 0.1 = 24 mg OME"
        );
    }

    #[test]
    fn split_modified_release_tablets_are_flagged() {
        let r = report(
            Profile::Uk,
            r#"{"drug": "morphine", "route": "oral", "release": "modified", "strength_mg": 10, "units_per_dose": 0.5, "doses_per_day": 2}"#,
        );
        assert_eq!(r.total_ome_mg_per_day, 10.0);
        assert!(r.complete);
        assert!(
            r.warnings[0].contains("must not be split"),
            "{:?}",
            r.warnings
        );
        let r = report(
            Profile::Uk,
            r#"{"drug": "morphine", "route": "oral", "strength_mg": 10, "units_per_dose": 0.5, "doses_per_day": 2}"#,
        );
        assert!(r.warnings.is_empty());
    }

    #[test]
    fn threshold_override_is_used() {
        let regimen = regimen_from_json(
            r#"{"items": [{"drug": "morphine", "route": "oral", "strength_mg": 50, "doses_per_day": 2}]}"#,
            Profile::Uk,
            reference(),
        )
        .unwrap();
        let r = calculate(&regimen, Profile::Uk, reference(), &OmeOptions::default());
        assert!(r.high_dose);
        let opts = OmeOptions {
            high_dose_threshold: OmeMgPerDay::new(120.0),
        };
        let r = calculate(&regimen, Profile::Uk, reference(), &opts);
        assert!(!r.high_dose);
        assert_eq!(r.high_dose_threshold_mg_per_day, 120.0);
    }

    #[test]
    fn cdc_output_says_mme() {
        let r = report(
            Profile::Cdc,
            r#"{"drug": "tramadol", "route": "oral", "strength_mg": 50, "doses_per_day": 4}"#,
        );
        assert_eq!(r.total_ome_mg_per_day, 40.0);
        assert!(
            r.items[0].working.ends_with("= 40 MME"),
            "{}",
            r.items[0].working
        );
    }

    #[test]
    fn contract_field_names_are_stable() {
        let r = report(
            Profile::Uk,
            r#"{"drug": "morphine", "route": "oral", "strength_mg": 30, "doses_per_day": 2}"#,
        );
        let v = serde_json::to_value(&r).unwrap();
        for key in [
            "profile",
            "total_ome_mg_per_day",
            "regular_ome_mg_per_day",
            "complete",
            "items",
            "warnings",
        ] {
            assert!(v.get(key).is_some(), "missing {key}");
        }
        for key in [
            "index",
            "drug",
            "daily_amount",
            "factor",
            "ome_mg_per_day",
            "source",
        ] {
            assert!(v["items"][0].get(key).is_some(), "missing items[0].{key}");
        }
        assert_eq!(v["profile"], "uk");
    }

    #[test]
    fn temgesic_for_pain_converts_and_dependence_strengths_do_not() {
        let r = report(
            Profile::Uk,
            r#"{"drug": "buprenorphine", "route": "sublingual", "form": "tablet", "strength_mg": 0.4, "doses_per_day": 4}"#,
        );
        assert!(r.complete, "{:?}", r.warnings);
        assert_eq!(r.total_ome_mg_per_day, 96.0);
        assert_eq!(
            r.items[0].factor_id.as_deref(),
            Some("uk.buprenorphine.sublingual")
        );
        let r = report(
            Profile::Uk,
            r#"{"drug": "buprenorphine", "route": "sublingual", "form": "tablet", "strength_mg": 8, "doses_per_day": 1}"#,
        );
        assert!(!r.complete);
        let reason = r.items[0]
            .not_convertible_reason
            .clone()
            .unwrap_or_default();
        assert!(reason.contains("opioid dependence"), "{reason}");
        // CDC leaves buprenorphine out altogether, and says so in its own words.
        let r = report(
            Profile::Cdc,
            r#"{"drug": "buprenorphine", "route": "sublingual", "form": "tablet", "strength_mg": 0.2, "doses_per_day": 3}"#,
        );
        let reason = r.items[0]
            .not_convertible_reason
            .clone()
            .unwrap_or_default();
        assert!(reason.contains("CDC 2022"), "{reason}");
        assert!(!reason.contains("dependence"), "{reason}");
    }

    #[test]
    fn naloxone_in_targinact_adds_nothing() {
        // Targinact 20/10 twice a day: only the 40 mg of oxycodone counts.
        let r = report(
            Profile::Uk,
            r#"{"drug": "oxycodone", "route": "oral", "release": "modified", "form": "tablet", "strength_mg": 20, "naloxone_mg": 10, "doses_per_day": 2}"#,
        );
        assert_eq!(r.total_ome_mg_per_day, 60.0);
        let item = &r.items[0];
        assert_eq!(
            item.working,
            "20 mg/10 mg × 2 a day = 40 mg of oxycodone × 1.5 = 60 mg OME (oxycodone part only: naloxone adds no OME)"
        );
        assert!(
            item.notes
                .iter()
                .any(|n| n.starts_with("naloxone 10 mg a tablet (20 mg a day) adds no OME")),
            "{:?}",
            item.notes
        );
        assert!(
            item.strength_checks.is_empty(),
            "{:?}",
            item.strength_checks
        );
    }

    #[test]
    fn a_rectal_item_gives_the_known_gap_reason() {
        let r = report(
            Profile::Uk,
            r#"{"drug": "morphine", "route": "rectal", "strength_mg": 10, "doses_per_day": 2}"#,
        );
        assert!(!r.complete);
        let reason = r.items[0]
            .not_convertible_reason
            .clone()
            .unwrap_or_default();
        assert!(reason.contains("suppositor"), "{reason}");
    }

    #[test]
    fn the_uk_threshold_carries_its_versions() {
        let r = report(
            Profile::Uk,
            r#"{"drug": "morphine", "route": "oral", "strength_mg": 10, "doses_per_day": 2}"#,
        );
        assert_eq!(
            r.high_dose_threshold_versions,
            "120 mg OME/day from 2016-01-01 to 2025-10-31; 90 mg OME/day from 2025-11-01, in force"
        );
        assert_eq!(r.high_dose_threshold_mg_per_day, 90.0);
        let r = report(
            Profile::Cdc,
            r#"{"drug": "morphine", "route": "oral", "strength_mg": 10, "doses_per_day": 2}"#,
        );
        assert_eq!(r.high_dose_threshold_versions, "90 MME/day, in force");
    }
}
