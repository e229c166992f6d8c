//! Clinical reference tables embedded at compile time from `assets/reference/`.
//!
//! Every number the clinical modules use comes from here, and every row names
//! its source. Tables are parsed once and validated by tests (`cargo test`):
//! a row without a source, a non-positive number or a duplicate id fails the build's tests.

use std::collections::{BTreeMap, HashSet};
use std::sync::OnceLock;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::profile::Profile;
use crate::vocabulary::vocabulary;
use crate::vocabulary::{Form, Release, Route};

pub mod casefinding;
pub mod currency;
pub mod gaps;
pub mod limits;
pub mod risk;
pub mod scales;
pub mod snomed;
pub mod taper;
pub mod verhoeff;

pub use currency::{currency, PolicyKind, PolicyRow, StaleTable};

/// The embedded files, by the name the manifest uses.
const EMBEDDED: &[(&str, &str)] = &[
    (
        "thresholds.json",
        include_str!("../assets/reference/thresholds.json"),
    ),
    (
        "ome_factors.json",
        include_str!("../assets/reference/ome_factors.json"),
    ),
    (
        "patch_labels.json",
        include_str!("../assets/reference/patch_labels.json"),
    ),
    (
        "products_uk.json",
        include_str!("../assets/reference/products_uk.json"),
    ),
    (
        "limits.json",
        include_str!("../assets/reference/limits.json"),
    ),
    ("taper.json", include_str!("../assets/reference/taper.json")),
    // Risk assessment tables (`stepdown assess`), read by `risk::RiskTables`.
    (
        "drug_classes.json",
        include_str!("../assets/reference/drug_classes.json"),
    ),
    (
        "co_medications.json",
        include_str!("../assets/reference/co_medications.json"),
    ),
    (
        "renal_opioids.json",
        include_str!("../assets/reference/renal_opioids.json"),
    ),
    (
        "opioid_properties.json",
        include_str!("../assets/reference/opioid_properties.json"),
    ),
    (
        "risk_thresholds.json",
        include_str!("../assets/reference/risk_thresholds.json"),
    ),
    (
        "patient_limits.json",
        include_str!("../assets/reference/patient_limits.json"),
    ),
    ("flags.json", include_str!("../assets/reference/flags.json")),
    // Clinical safety policy numbers (see `currency`).
    (
        "policy.json",
        include_str!("../assets/reference/policy.json"),
    ),
    // Case-finding: dose wording, current-regimen window, figure thresholds.
    (
        "casefinding.json",
        include_str!("../assets/reference/casefinding.json"),
    ),
    // Routes and products deliberately not converted, and why (`gaps`).
    (
        "known_gaps.json",
        include_str!("../assets/reference/known_gaps.json"),
    ),
    // Licensed daily maxima per opioid and the age/renal rules (`limits`).
    (
        "dose_limits.json",
        include_str!("../assets/reference/dose_limits.json"),
    ),
    // Follow-up scales: PEG pain score, Short Opiate Withdrawal Scale (`scales`).
    (
        "scales.json",
        include_str!("../assets/reference/scales.json"),
    ),
    // SNOMED CT concepts of the coded summary (`snomed`).
    (
        "snomed_concepts.json",
        include_str!("../assets/reference/snomed_concepts.json"),
    ),
];

const MANIFEST: &str = include_str!("../assets/reference/manifest.json");

/// Problems found while loading or validating the reference tables.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ReferenceError {
    /// A file is not valid JSON for its table type.
    #[error("reference file {file}: {message}")]
    Parse {
        /// The file.
        file: String,
        /// The parser's message.
        message: String,
    },
    /// The manifest lists a file that is not embedded.
    #[error("reference manifest lists {0}, which is not embedded in this build")]
    NotEmbedded(String),
    /// A rule about the table contents is broken.
    #[error("reference table {table}, row {row}: {message}")]
    Invalid {
        /// Table id.
        table: String,
        /// Row id.
        row: String,
        /// What is wrong.
        message: String,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    manifest_version: String,
    #[allow(dead_code)]
    description: String,
    tables: Vec<String>,
}

/// Header every reference table carries.
#[derive(Debug, Clone, Deserialize)]
pub struct TableHeader {
    /// Stable table identifier.
    pub id: String,
    /// Human-readable title.
    pub title: String,
    /// Table version, bumped whenever a row changes.
    pub version: String,
    /// Date by which the table must be checked against its sources again.
    pub review_date: NaiveDate,
    /// The principal source(s) of the table.
    pub source: String,
}

/// A table: header plus rows.
#[derive(Debug, Clone, Deserialize)]
pub struct Table<R> {
    /// Provenance and version.
    #[serde(flatten)]
    pub header: TableHeader,
    /// The rows, each with its own source.
    pub rows: Vec<R>,
}

/// What a threshold row means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, TS)]
#[serde(rename_all = "kebab-case")]
#[ts(export)]
pub enum ThresholdKind {
    /// At or above this total a regimen is "high dose".
    HighDose,
    /// At or above this total, reassess benefit and risk (CDC).
    Caution,
    /// Above this total, consider specialist pain services.
    SpecialistReferral,
}

/// One dose threshold.
#[derive(Debug, Clone, Deserialize, Serialize, TS)]
#[serde(deny_unknown_fields)]
#[ts(export)]
pub struct ThresholdRow {
    /// Row id, unique within the table.
    pub id: String,
    /// The profile it belongs to.
    pub profile: Profile,
    /// Its meaning.
    pub kind: ThresholdKind,
    /// mg oral morphine equivalent a day.
    pub mg_per_day: f64,
    /// ISO date from which the guidance used this figure, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub effective_from: Option<String>,
    /// ISO date the figure was replaced; absent for the figure in force.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub effective_to: Option<String>,
    /// Where the number comes from.
    pub source: String,
}

/// Unit a conversion factor multiplies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FactorUnit {
    /// mg oral morphine a day per mg of the drug a day.
    Mg,
    /// mg oral morphine a day per microgram/hour of a patch.
    McgPerHour,
}

/// The routes a factor row covers: one route, or every route (`"any"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum RouteScope {
    /// Every route (e.g. methadone: not convertible however it is given).
    Any,
    /// One route.
    Only(Route),
}

impl TryFrom<String> for RouteScope {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        if s == "any" {
            return Ok(RouteScope::Any);
        }
        Route::parse(&s)
            .map(RouteScope::Only)
            .ok_or_else(|| format!("unknown route '{s}'"))
    }
}

/// One row of the OME conversion table: a factor, or an explicit refusal to convert.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FactorRow {
    /// Row id, unique within the table.
    pub id: String,
    /// Profile the row belongs to.
    pub profile: Profile,
    /// Lower-case generic drug name.
    pub drug: String,
    /// Route(s) covered.
    pub route: RouteScope,
    /// Form the factor is for, where it matters (patches).
    #[serde(default)]
    pub form: Option<Form>,
    /// What the factor multiplies (present with `factor`).
    #[serde(default)]
    pub unit: Option<FactorUnit>,
    /// mg oral morphine a day per unit; absent for "not convertible" rows.
    #[serde(default)]
    pub factor: Option<f64>,
    /// Why the profile does not convert this drug/route (shown to the user); absent for factor rows.
    #[serde(default)]
    pub not_convertible: Option<String>,
    /// The factor applies only to tablets of at most this strength (mg); stronger
    /// ones are refused with `above_max_strength` (sublingual buprenorphine: the
    /// 200 and 400 microgram tablets treat pain, 2 mg and more treat dependence).
    #[serde(default)]
    pub max_strength_mg: Option<f64>,
    /// Why a stronger item is not converted (required with `max_strength_mg`).
    #[serde(default)]
    pub above_max_strength: Option<String>,
    /// Where the row comes from.
    pub source: String,
}

/// The reference's answer for a drug and route under a profile.
#[derive(Debug, Clone, PartialEq)]
pub enum Conversion<'a> {
    /// Multiply the daily amount by `factor`.
    Factor {
        /// mg OME a day per unit.
        factor: f64,
        /// What it multiplies.
        unit: FactorUnit,
        /// The row (id, source).
        row: &'a FactorRow,
    },
    /// Do not convert; tell the user why.
    NotConvertible {
        /// Reason for people.
        reason: String,
        /// The explicit row, if the table has one (otherwise the profile simply has no factor).
        row: Option<&'a FactorRow>,
    },
}

/// A patch whose labelled strength is not the rate used to convert it
/// (the fentanyl "12" patch releases 12.5 micrograms/hour).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchLabelRow {
    /// Row id.
    pub id: String,
    /// Drug.
    pub drug: String,
    /// Strength printed on the patch.
    pub labelled_mcg_per_hour: f64,
    /// Rate to convert with.
    pub counts_as_mcg_per_hour: f64,
    /// Note shown with the item.
    pub note: String,
    /// Where it comes from.
    pub source: String,
}

/// Wear time of a patch product, in hours (3- and 4-day patches: 72 to 96).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WearHours {
    /// Shortest wear time.
    pub min: f64,
    /// Longest wear time.
    pub max: f64,
}

/// Paracetamol content of a combination product.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Combination {
    /// Approved combination name, e.g. `co-codamol`.
    pub name: String,
    /// Paracetamol per tablet or capsule.
    pub paracetamol_mg_per_unit: f64,
}

/// A second active ingredient that is neither the opioid nor paracetamol
/// (naloxone in oxycodone with naloxone). It never adds to the OME.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OtherIngredient {
    /// Generic name, lower case (`naloxone`).
    pub name: String,
    /// mg per tablet, one for each of the row's `strengths_mg`, in the same order.
    pub mg_per_unit: Vec<f64>,
    /// Whether it counts towards oral morphine equivalent: always false (checked),
    /// recorded so a reviewer sees the decision.
    pub adds_ome: bool,
    /// Where the contents and the "adds no OME" decision come from.
    pub source: String,
}

/// dm+d identifiers of one strength of a product line, each checked against
/// its Verhoeff check digit when the reference loads.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DmdCode {
    /// The strength (in the row's unit) the codes are for.
    pub strength: f64,
    /// Virtual medicinal product id, if confirmed.
    #[serde(default)]
    pub vmp: Option<String>,
    /// Actual medicinal product id (a brand), if confirmed.
    #[serde(default)]
    pub amp: Option<String>,
    /// The brand the AMP is, when there is one.
    #[serde(default)]
    pub brand: Option<String>,
    /// The public page the codes were read from (e.g. the NHSBSA dm+d browser).
    pub source: String,
}

/// One UK product line of the catalogue.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProductRow {
    /// Row id.
    pub id: String,
    /// Generic name of the opioid (the opioid component of a combination).
    pub drug: String,
    /// Product description.
    pub name: String,
    /// Route.
    pub route: Route,
    /// Form.
    pub form: Form,
    /// Immediate or modified release (absent for patches).
    #[serde(default)]
    pub release: Option<Release>,
    /// For modified release, the dosing interval when confirmed (12- or 24-hourly).
    #[serde(default)]
    pub dosing_interval_hours: Option<f64>,
    /// Tablet/capsule strengths (mg of opioid), ascending.
    #[serde(default)]
    pub strengths_mg: Option<Vec<f64>>,
    /// Liquid strengths (mg/mL), ascending.
    #[serde(default)]
    pub strengths_mg_per_ml: Option<Vec<f64>>,
    /// Patch strengths (micrograms/hour), ascending.
    #[serde(default)]
    pub strengths_mcg_per_hour: Option<Vec<f64>>,
    /// How long each patch is worn.
    #[serde(default)]
    pub wear_hours: Option<WearHours>,
    /// Most patches of this product worn at once, where the source says.
    #[serde(default)]
    pub max_patches_at_once: Option<u32>,
    /// Paracetamol content, for combination products.
    #[serde(default)]
    pub combination: Option<Combination>,
    /// A second, non-opioid active ingredient other than paracetamol (naloxone).
    #[serde(default)]
    pub other_ingredient: Option<OtherIngredient>,
    /// For lines where not every brand makes every strength: the strengths each
    /// brand makes (a brand absent here makes all of them).
    #[serde(default)]
    pub brand_strengths: BTreeMap<String, Vec<f64>>,
    /// dm+d codes confirmed from a public primary source (empty: not found).
    #[serde(default)]
    pub dmd: Vec<DmdCode>,
    /// For a liquid: the volume (mL) its label states the strength in, 5 for
    /// "10 mg/5 mL"; absent: per mL ("20 mg/mL"). Supply lines and flags write
    /// the strength as the bottle does, so 2 mg/mL is never read as 20 mg/mL.
    #[serde(default)]
    pub labelled_per_ml: Option<f64>,
    /// Brand names, for recognising them in input (may be empty).
    pub brand_examples: Vec<String>,
    /// Brand-neutral name as people see it on the box, in plain words
    /// (e.g. "morphine 12-hourly slow-release tablets"); used in taper plans.
    pub box_name: String,
    /// The same product line in another solid form (e.g. co-codamol capsules),
    /// with the strengths confirmed in that form.
    #[serde(default)]
    pub other_forms: Vec<OtherForm>,
    /// Where the row comes from (strengths not confirmed by a primary source are left out).
    pub source: String,
}

/// A product line also made in another solid form, at some of its strengths.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OtherForm {
    /// Tablet or capsule (not the row's own form).
    pub form: Form,
    /// Strengths made in this form (a subset of the row's), ascending.
    pub strengths_mg: Vec<f64>,
    /// Brand-neutral name on the box in this form.
    pub box_name: String,
    /// Where the strengths in this form come from.
    pub source: String,
}

impl ProductRow {
    /// The row's strengths in its form's unit (mg, mg/mL or micrograms/hour).
    pub fn strengths(&self) -> &[f64] {
        self.strengths_mg
            .as_deref()
            .or(self.strengths_mg_per_ml.as_deref())
            .or(self.strengths_mcg_per_hour.as_deref())
            .unwrap_or_default()
    }

    /// The unit words of the row's strengths.
    pub fn strength_unit(&self) -> &'static str {
        match self.form {
            Form::Tablet | Form::Capsule => "mg",
            Form::Solution => "mg/mL",
            Form::Patch => "micrograms/hour",
        }
    }

    /// The second ingredient's mg per unit at opioid strength `strength`, if
    /// this line has one (paracetamol, or another ingredient such as naloxone).
    pub fn second_part(&self, strength: f64) -> Option<(String, f64)> {
        if let Some(c) = &self.combination {
            return Some(("paracetamol".to_string(), c.paracetamol_mg_per_unit));
        }
        let o = self.other_ingredient.as_ref()?;
        let i = self
            .strengths_mg
            .as_deref()?
            .iter()
            .position(|s| (s - strength).abs() < 1e-9)?;
        o.mg_per_unit.get(i).map(|mg| (o.name.clone(), *mg))
    }

    /// How a strength is written on the box and in supply lines: both parts of
    /// a combination ("30/500 mg"), a liquid as its label states it ("10 mg/5
    /// mL"), otherwise the strength with its unit.
    pub fn strength_label(&self, strength: f64) -> String {
        if let (Form::Solution, Some(ml)) = (self.form, self.labelled_per_ml) {
            return format!(
                "{} mg/{} mL",
                crate::vocabulary::num(strength * ml),
                crate::vocabulary::num(ml)
            );
        }
        match self.second_part(strength) {
            // Oxycodone with naloxone as its box writes it ("20 mg/10 mg"), so
            // it never reads like a co-codamol-style "20/10".
            Some((_, second)) if self.combination.is_none() => format!(
                "{} mg/{} mg",
                crate::vocabulary::num(strength),
                crate::vocabulary::num(second)
            ),
            Some((_, second)) => format!(
                "{}/{} mg",
                crate::vocabulary::num(strength),
                crate::vocabulary::num(second)
            ),
            None => format!(
                "{} {}",
                crate::vocabulary::num(strength),
                self.strength_unit()
            ),
        }
    }

    /// The brands that make `strength` (all the row's brands unless
    /// `brand_strengths` says otherwise).
    pub fn brands_for(&self, strength: f64) -> Vec<String> {
        self.brand_examples
            .iter()
            .filter(|b| {
                self.brand_strengths
                    .get(*b)
                    .is_none_or(|list| list.iter().any(|s| (s - strength).abs() < 1e-9))
            })
            .cloned()
            .collect()
    }
}

vocabulary!(
    /// What an implausibility limit applies to.
    LimitKind, "limit" {
        /// `doses_per_day`.
        DosesPerDay => "doses-per-day",
        /// `units_per_dose`.
        UnitsPerDose => "units-per-dose",
        /// `patches`.
        Patches => "patches",
        /// OME of one item, mg/day.
        ItemOmeMgPerDay => "item-ome-mg-per-day",
        /// `ml_per_dose`.
        MlPerDose => "ml-per-dose",
        /// `strength_mg`.
        StrengthMg => "strength-mg",
        /// `strength_mg_per_ml`.
        StrengthMgPerMl => "strength-mg-per-ml",
        /// `strength_mcg_per_hour`.
        StrengthMcgPerHour => "strength-mcg-per-hour",
        /// `quantity_per_issue` (tablets, capsules, patches or mL supplied at one issue).
        QuantityPerIssue => "quantity-per-issue",
    }
);

/// An implausibility limit: input above `max` is rejected as an entry error.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitRow {
    /// Row id.
    pub id: String,
    /// What it limits.
    pub kind: LimitKind,
    /// Largest accepted value.
    pub max: f64,
    /// Unit words for messages ("doses a day").
    pub unit: String,
    /// Where the limit comes from.
    pub source: String,
}

/// All reference tables, loaded and validated.
#[derive(Debug, Clone)]
pub struct Reference {
    /// Version of the manifest as a whole.
    pub manifest_version: String,
    /// Dose thresholds per profile.
    pub thresholds: Table<ThresholdRow>,
    /// OME conversion factors per profile.
    pub ome_factors: Table<FactorRow>,
    /// Patch label adjustments.
    pub patch_labels: Table<PatchLabelRow>,
    /// UK product catalogue.
    pub products: Table<ProductRow>,
    /// Implausibility limits for regimen input.
    pub limits: Table<LimitRow>,
    /// Taper presets, input ranges and rounding rules (see `reference::taper`).
    pub taper: Table<taper::TaperRow>,
    /// Risk assessment tables: co-medications, renal advice, flag wording.
    pub risk: risk::RiskTables,
    /// Clinical safety policy numbers (e.g. when a table counts as stale).
    pub policy: Table<PolicyRow>,
    /// Case-finding: dose wording, current-regimen window, figure thresholds.
    pub casefinding: Table<casefinding::CaseFindingRow>,
    /// Routes and products deliberately not converted, and why.
    pub known_gaps: Table<gaps::KnownGapRow>,
    /// Licensed daily maxima per opioid, with age and renal rules.
    pub dose_limits: Table<limits::DoseLimitRow>,
    /// Follow-up scales (PEG, SOWS): items, ranges and wording.
    pub scales: Table<scales::ScaleItemRow>,
    /// SNOMED CT concepts of the coded summary, each with its public source.
    pub snomed: Table<snomed::ConceptRow>,
    /// Every drug in any profile's factor table, sorted (accepted drug names).
    known_drugs: Vec<String>,
}

/// Summary of one loaded table, for `stepdown reference` and the About panel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct TableInfo {
    /// Stable table identifier.
    pub id: String,
    /// Human-readable title.
    pub title: String,
    /// Table version.
    pub version: String,
    /// ISO date by which the table must be reviewed.
    pub review_date: String,
    /// Principal source.
    pub source: String,
    /// Number of rows.
    pub rows: u32,
}

/// Summary of the reference data that this build carries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ReferenceInfo {
    /// Version of the reference manifest.
    pub manifest_version: String,
    /// Every loaded table.
    pub tables: Vec<TableInfo>,
}

fn embedded(file: &str) -> Result<&'static str, ReferenceError> {
    EMBEDDED
        .iter()
        .find(|(name, _)| *name == file)
        .map(|(_, text)| *text)
        .ok_or_else(|| ReferenceError::NotEmbedded(file.to_string()))
}

fn parse<T: serde::de::DeserializeOwned>(file: &str) -> Result<T, ReferenceError> {
    serde_json::from_str(embedded(file)?).map_err(|e| ReferenceError::Parse {
        file: file.to_string(),
        message: e.to_string(),
    })
}

fn invalid(table: &str, row: &str, message: impl Into<String>) -> ReferenceError {
    ReferenceError::Invalid {
        table: table.to_string(),
        row: row.to_string(),
        message: message.into(),
    }
}

fn positive(x: f64) -> bool {
    x.is_finite() && x > 0.0
}

/// Rules of the OME factor table: each row is exactly one of a positive
/// factor with its unit, or a non-empty reason not to convert; patch factors
/// (per microgram/hour) go with the transdermal route and patch form; each
/// (profile, drug, route) appears once.
fn check_factors(table: &Table<FactorRow>) -> Result<(), ReferenceError> {
    let t = table.header.id.as_str();
    let mut keys = HashSet::new();
    for r in &table.rows {
        let bad = |m: &str| invalid(t, &r.id, m);
        if r.drug.trim().is_empty() || r.drug != r.drug.to_lowercase() {
            return Err(bad("drug must be a lower-case generic name"));
        }
        if !keys.insert((r.profile, r.drug.as_str(), format!("{:?}", r.route))) {
            return Err(bad("duplicate (profile, drug, route)"));
        }
        match (r.factor, r.unit, &r.not_convertible) {
            (Some(f), Some(unit), None) => {
                if !positive(f) {
                    return Err(bad("factor must be positive"));
                }
                let transdermal = r.route == RouteScope::Only(Route::Transdermal);
                let patch = r.form == Some(Form::Patch);
                if (unit == FactorUnit::McgPerHour) != transdermal || transdermal != patch {
                    return Err(bad(
                        "per-microgram/hour factors go with route transdermal and form patch, and only they",
                    ));
                }
                match (r.max_strength_mg, &r.above_max_strength) {
                    (None, None) => {}
                    (Some(m), Some(why))
                        if positive(m) && !why.trim().is_empty() && unit == FactorUnit::Mg => {}
                    _ => {
                        return Err(bad(
                            "max_strength_mg (positive, per mg factors) and above_max_strength go together",
                        ))
                    }
                }
            }
            (None, None, Some(reason)) => {
                if reason.trim().is_empty() {
                    return Err(bad("not-convertible row has no reason"));
                }
                if r.max_strength_mg.is_some() || r.above_max_strength.is_some() {
                    return Err(bad("a strength cap goes only with a factor"));
                }
            }
            _ => {
                return Err(bad(
                    "row must have either factor and unit, or not_convertible",
                ))
            }
        }
    }
    Ok(())
}

/// Every limit kind appears exactly once, with a positive maximum.
fn check_limits(table: &Table<LimitRow>) -> Result<(), ReferenceError> {
    let t = table.header.id.as_str();
    for r in &table.rows {
        if !positive(r.max) {
            return Err(invalid(t, &r.id, "limit must be positive"));
        }
        if r.unit.trim().is_empty() {
            return Err(invalid(t, &r.id, "limit has no unit words"));
        }
    }
    for kind in LimitKind::ALL {
        let n = table.rows.iter().filter(|r| r.kind == kind).count();
        if n != 1 {
            return Err(invalid(
                t,
                &format!("{kind:?}"),
                format!("expected exactly one limit of this kind, found {n}"),
            ));
        }
    }
    Ok(())
}

/// Checks a table's header and the rules every row must follow.
fn check_rows<'a>(
    header: &TableHeader,
    rows: impl Iterator<Item = (&'a str, &'a str)>,
) -> Result<(), ReferenceError> {
    let t = header.id.as_str();
    if header.source.trim().is_empty() {
        return Err(invalid(t, "(header)", "table has no source"));
    }
    if header.version.trim().is_empty() {
        return Err(invalid(t, "(header)", "table has no version"));
    }
    let mut seen = HashSet::new();
    for (id, source) in rows {
        if id.trim().is_empty() {
            return Err(invalid(t, "(blank)", "row has no id"));
        }
        if !seen.insert(id) {
            return Err(invalid(t, id, "duplicate row id"));
        }
        if source.trim().is_empty() {
            return Err(invalid(t, id, "row has no source"));
        }
    }
    Ok(())
}

impl Reference {
    /// Parses and validates every embedded table.
    pub fn load() -> Result<Reference, ReferenceError> {
        let manifest: Manifest =
            serde_json::from_str(MANIFEST).map_err(|e| ReferenceError::Parse {
                file: "manifest.json".into(),
                message: e.to_string(),
            })?;
        for file in &manifest.tables {
            embedded(file)?;
        }
        let thresholds: Table<ThresholdRow> = parse("thresholds.json")?;
        check_rows(
            &thresholds.header,
            thresholds
                .rows
                .iter()
                .map(|r| (r.id.as_str(), r.source.as_str())),
        )?;
        for r in &thresholds.rows {
            if !(r.mg_per_day.is_finite() && r.mg_per_day > 0.0) {
                return Err(invalid(
                    &thresholds.header.id,
                    &r.id,
                    "threshold must be positive",
                ));
            }
        }
        for r in &thresholds.rows {
            for d in [&r.effective_from, &r.effective_to].into_iter().flatten() {
                if NaiveDate::parse_from_str(d, "%Y-%m-%d").is_err() {
                    return Err(invalid(
                        &thresholds.header.id,
                        &r.id,
                        "dates are YYYY-MM-DD",
                    ));
                }
            }
            // One figure in force for each profile and kind, so the lookup is unambiguous.
            let current = thresholds
                .rows
                .iter()
                .filter(|x| x.profile == r.profile && x.kind == r.kind && x.effective_to.is_none())
                .count();
            if current != 1 {
                return Err(invalid(
                    &thresholds.header.id,
                    &r.id,
                    "exactly one row of a profile and kind has no effective_to",
                ));
            }
        }
        for p in Profile::ALL {
            if !thresholds
                .rows
                .iter()
                .any(|r| r.profile == p && r.kind == ThresholdKind::HighDose)
            {
                return Err(invalid(
                    &thresholds.header.id,
                    p.as_str(),
                    "profile has no high-dose threshold",
                ));
            }
        }
        let ome_factors: Table<FactorRow> = parse("ome_factors.json")?;
        check_rows(
            &ome_factors.header,
            ome_factors
                .rows
                .iter()
                .map(|r| (r.id.as_str(), r.source.as_str())),
        )?;
        check_factors(&ome_factors)?;
        let patch_labels: Table<PatchLabelRow> = parse("patch_labels.json")?;
        check_rows(
            &patch_labels.header,
            patch_labels
                .rows
                .iter()
                .map(|r| (r.id.as_str(), r.source.as_str())),
        )?;
        let products: Table<ProductRow> = parse("products_uk.json")?;
        check_rows(
            &products.header,
            products
                .rows
                .iter()
                .map(|r| (r.id.as_str(), r.source.as_str())),
        )?;
        let limits: Table<LimitRow> = parse("limits.json")?;
        check_rows(
            &limits.header,
            limits
                .rows
                .iter()
                .map(|r| (r.id.as_str(), r.source.as_str())),
        )?;
        check_limits(&limits)?;
        let taper: Table<taper::TaperRow> = parse("taper.json")?;
        check_rows(
            &taper.header,
            taper.rows.iter().map(|r| (r.id(), r.source())),
        )?;
        taper::check(&taper)?;

        let mut known_drugs: Vec<String> =
            ome_factors.rows.iter().map(|r| r.drug.clone()).collect();
        known_drugs.sort();
        known_drugs.dedup();
        let risk = risk::RiskTables::load(&known_drugs)?;
        let policy: Table<PolicyRow> = parse("policy.json")?;
        check_rows(
            &policy.header,
            policy
                .rows
                .iter()
                .map(|r| (r.id.as_str(), r.source.as_str())),
        )?;
        currency::check_policy(&policy)?;
        let casefinding: Table<casefinding::CaseFindingRow> = parse("casefinding.json")?;
        check_rows(
            &casefinding.header,
            casefinding.rows.iter().map(|r| (r.id(), r.source())),
        )?;
        casefinding::check(&casefinding)?;
        let known_gaps: Table<gaps::KnownGapRow> = parse("known_gaps.json")?;
        check_rows(
            &known_gaps.header,
            known_gaps
                .rows
                .iter()
                .map(|r| (r.id.as_str(), r.source.as_str())),
        )?;
        gaps::check(&known_gaps)?;
        let dose_limits: Table<limits::DoseLimitRow> = parse("dose_limits.json")?;
        check_rows(
            &dose_limits.header,
            dose_limits
                .rows
                .iter()
                .map(|r| (r.id.as_str(), r.source.as_str())),
        )?;
        limits::check(&dose_limits, &known_drugs)?;
        let scales: Table<scales::ScaleItemRow> = parse("scales.json")?;
        check_rows(
            &scales.header,
            scales
                .rows
                .iter()
                .map(|r| (r.id.as_str(), r.source.as_str())),
        )?;
        scales::check(&scales)?;
        let snomed: Table<snomed::ConceptRow> = parse("snomed_concepts.json")?;
        check_rows(
            &snomed.header,
            snomed
                .rows
                .iter()
                .map(|r| (r.id.as_str(), r.source.as_str())),
        )?;
        snomed::check(&snomed)?;
        let reference = Reference {
            manifest_version: manifest.manifest_version,
            thresholds,
            ome_factors,
            patch_labels,
            products,
            limits,
            taper,
            risk,
            policy,
            casefinding,
            known_gaps,
            dose_limits,
            scales,
            snomed,
            known_drugs,
        };
        // These checks need lookups across tables, so they run on the assembled reference.
        reference.check_patch_labels()?;
        reference.check_products()?;
        Ok(reference)
    }

    /// A liquid's strength as its UK bottle states it ("10 mg/5 mL" for
    /// morphine 2 mg/mL), from the catalogue line of that drug, route and
    /// strength; "N mg/mL" when the catalogue has no such liquid.
    pub fn liquid_strength_words(&self, drug: &str, route: Route, mg_per_ml: f64) -> String {
        self.products
            .rows
            .iter()
            .find(|p| {
                p.drug == drug
                    && p.route == route
                    && p.form == Form::Solution
                    && p.strengths().iter().any(|s| (s - mg_per_ml).abs() < 1e-9)
            })
            .map_or_else(
                || format!("{} mg/mL", crate::vocabulary::num(mg_per_ml)),
                |p| p.strength_label(mg_per_ml),
            )
    }

    /// Every drug name accepted in input: the drugs of every profile's factor table, sorted.
    pub fn known_drugs(&self) -> &[String] {
        &self.known_drugs
    }

    /// How `profile` converts `drug` given by `route`: the row for that exact
    /// route, else the drug's any-route row, else "no factor in this profile".
    pub fn conversion(&self, profile: Profile, drug: &str, route: Route) -> Conversion<'_> {
        let rows = || {
            self.ome_factors
                .rows
                .iter()
                .filter(move |r| r.profile == profile && r.drug == drug)
        };
        let row = rows()
            .find(|r| r.route == RouteScope::Only(route))
            .or_else(|| rows().find(|r| r.route == RouteScope::Any));
        match row {
            Some(r) => match (r.factor, r.unit, &r.not_convertible) {
                (Some(factor), Some(unit), None) => Conversion::Factor {
                    factor,
                    unit,
                    row: r,
                },
                (_, _, Some(reason)) => Conversion::NotConvertible {
                    reason: reason.clone(),
                    row: Some(r),
                },
                // Ruled out by `check_factors`; answer safely all the same.
                _ => Conversion::NotConvertible {
                    reason: format!("the {profile} conversion row {} is incomplete", r.id),
                    row: Some(r),
                },
            },
            None => Conversion::NotConvertible {
                // "UK" and "CDC" as people write them, not the JSON names.
                reason: match self.known_gap(drug, route) {
                    Some(gap) => format!(
                        "The {} profile has no conversion factor for {drug} given by the {route} route, so it is not converted: {}",
                        profile.as_str().to_uppercase(),
                        gap.reason
                    ),
                    None => format!(
                        "The {} profile has no conversion factor for {drug} given by the {route} route, so it is not converted.",
                        profile.as_str().to_uppercase()
                    ),
                },
                row: None,
            },
        }
    }

    /// The known gap that explains why `drug` by `route` is not converted, if
    /// the reference lists one (a drug-specific row before a route-wide one).
    pub fn known_gap(&self, drug: &str, route: Route) -> Option<&gaps::KnownGapRow> {
        let rows = || {
            self.known_gaps
                .rows
                .iter()
                .filter(move |g| g.route == Some(route))
        };
        rows()
            .find(|g| g.drug.as_deref() == Some(drug))
            .or_else(|| rows().find(|g| g.drug.is_none()))
    }

    /// The patch-label adjustment for `drug` at a labelled strength, if any.
    pub fn patch_label(&self, drug: &str, labelled_mcg_per_hour: f64) -> Option<&PatchLabelRow> {
        self.patch_labels
            .rows
            .iter()
            .find(|r| r.drug == drug && r.labelled_mcg_per_hour == labelled_mcg_per_hour)
    }

    /// The implausibility limit of `kind`.
    ///
    /// # Panics
    /// Never for embedded data: `load` fails unless every kind has a row
    /// (checked by `check_limits` and the reference tests).
    pub fn limit(&self, kind: LimitKind) -> &LimitRow {
        match self.limits.rows.iter().find(|r| r.kind == kind) {
            Some(r) => r,
            None => panic!("reference limits table has no {kind:?} row (a build defect)"),
        }
    }

    /// UK products of `drug` (empty for drugs with no UK product).
    pub fn products_of<'a>(&'a self, drug: &'a str) -> impl Iterator<Item = &'a ProductRow> + 'a {
        self.products.rows.iter().filter(move |p| p.drug == drug)
    }

    fn check_patch_labels(&self) -> Result<(), ReferenceError> {
        let t = &self.patch_labels.header.id;
        for r in &self.patch_labels.rows {
            if !(positive(r.labelled_mcg_per_hour) && positive(r.counts_as_mcg_per_hour)) {
                return Err(invalid(t, &r.id, "strengths must be positive"));
            }
            if r.note.trim().is_empty() {
                return Err(invalid(t, &r.id, "row has no note"));
            }
            let patch_factor = self
                .ome_factors
                .rows
                .iter()
                .any(|f| f.drug == r.drug && f.unit == Some(FactorUnit::McgPerHour));
            if !patch_factor {
                return Err(invalid(t, &r.id, "drug has no patch conversion factor"));
            }
        }
        Ok(())
    }

    fn check_products(&self) -> Result<(), ReferenceError> {
        let t = &self.products.header.id;
        for p in &self.products.rows {
            let bad = |m: &str| invalid(t, &p.id, m);
            if p.drug != p.drug.to_lowercase() || p.drug.trim().is_empty() {
                return Err(bad("drug must be a lower-case generic name"));
            }
            // Every UK product must either convert or say explicitly why not.
            match self.conversion(Profile::Uk, &p.drug, p.route) {
                Conversion::Factor { .. } | Conversion::NotConvertible { row: Some(_), .. } => {}
                Conversion::NotConvertible { row: None, .. } => {
                    return Err(bad("no UK factor and no explicit not-convertible row"));
                }
            }
            let strengths = match (
                p.form,
                &p.strengths_mg,
                &p.strengths_mg_per_ml,
                &p.strengths_mcg_per_hour,
            ) {
                (Form::Tablet | Form::Capsule, Some(s), None, None) => s,
                (Form::Solution, None, Some(s), None) => s,
                (Form::Patch, None, None, Some(s)) => s,
                _ => {
                    return Err(bad(
                        "strengths do not match the form (one list, in the form's unit)",
                    ))
                }
            };
            if strengths.is_empty()
                || !strengths.iter().all(|s| positive(*s))
                || !strengths.windows(2).all(|w| w[0] < w[1])
            {
                return Err(bad("strengths must be positive and strictly ascending"));
            }
            if let Some(ml) = p.labelled_per_ml {
                if p.form != Form::Solution || !positive(ml) {
                    return Err(bad(
                        "labelled_per_ml is the volume a liquid's label states its strength in",
                    ));
                }
            }
            let is_patch = p.form == Form::Patch;
            if is_patch != (p.route == Route::Transdermal) {
                return Err(bad("patches, and only patches, are transdermal"));
            }
            if is_patch {
                match p.wear_hours {
                    Some(w) if positive(w.min) && w.min <= w.max => {}
                    _ => return Err(bad("a patch needs wear_hours with 0 < min <= max")),
                }
                if p.release.is_some() || p.dosing_interval_hours.is_some() {
                    return Err(bad("release does not apply to patches"));
                }
            } else {
                if p.wear_hours.is_some() || p.max_patches_at_once.is_some() {
                    return Err(bad("wear time applies only to patches"));
                }
                match (p.release, p.dosing_interval_hours) {
                    (None, _) => return Err(bad("release is required")),
                    (Some(Release::Immediate), Some(_)) => {
                        return Err(bad(
                            "a dosing interval is recorded only for modified release",
                        ))
                    }
                    (_, Some(h)) if !positive(h) => {
                        return Err(bad("dosing interval must be positive"))
                    }
                    _ => {}
                }
            }
            if p.box_name.trim().is_empty() {
                return Err(bad("box_name is empty"));
            }
            for o in &p.other_forms {
                let own = p.strengths_mg.as_deref().unwrap_or_default();
                if !matches!(p.form, Form::Tablet | Form::Capsule)
                    || !matches!(o.form, Form::Tablet | Form::Capsule)
                    || o.form == p.form
                {
                    return Err(bad(
                        "other_forms are the other solid form of a tablet or capsule line",
                    ));
                }
                if o.strengths_mg.is_empty()
                    || !o.strengths_mg.windows(2).all(|w| w[0] < w[1])
                    || !o.strengths_mg.iter().all(|s| own.contains(s))
                {
                    return Err(bad(
                        "other_forms strengths must be ascending and among the row's strengths",
                    ));
                }
                if o.box_name.trim().is_empty() || o.source.trim().is_empty() {
                    return Err(bad("other_forms need a box_name and a source"));
                }
            }
            if let Some(o) = &p.other_ingredient {
                let own = p.strengths_mg.as_deref().unwrap_or_default();
                if o.name.trim().is_empty()
                    || o.name != o.name.to_lowercase()
                    || o.mg_per_unit.len() != own.len()
                    || !o.mg_per_unit.iter().all(|x| positive(*x))
                    || o.source.trim().is_empty()
                {
                    return Err(bad(
                        "other_ingredient needs a lower-case name, a source and one positive mg per tablet strength",
                    ));
                }
                if o.adds_ome {
                    return Err(bad(
                        "a second ingredient never adds to the OME (only the opioid is converted)",
                    ));
                }
                if p.combination.is_some() {
                    return Err(bad(
                        "a line has paracetamol or another second ingredient, not both",
                    ));
                }
            }
            for d in &p.dmd {
                let codes = [&d.vmp, &d.amp];
                if d.source.trim().is_empty()
                    || !strengths.contains(&d.strength)
                    || codes.iter().all(|c| c.is_none())
                    || !codes
                        .iter()
                        .copied()
                        .flatten()
                        .all(|c| verhoeff::is_valid(c))
                {
                    return Err(bad(
                        "a dm+d entry needs a catalogue strength, a source and codes that pass the Verhoeff check",
                    ));
                }
            }
            for (brand, list) in &p.brand_strengths {
                if !p.brand_examples.contains(brand) {
                    return Err(bad("brand_strengths names a brand not in brand_examples"));
                }
                if list.is_empty() || !list.iter().all(|s| strengths.contains(s)) {
                    return Err(bad(
                        "brand_strengths lists must be non-empty and among the row's strengths",
                    ));
                }
            }
            if let Some(c) = &p.combination {
                if !positive(c.paracetamol_mg_per_unit) || c.name.trim().is_empty() {
                    return Err(bad(
                        "combination needs a name and positive paracetamol content",
                    ));
                }
                if !matches!(p.form, Form::Tablet | Form::Capsule) {
                    return Err(bad("combination contents are per tablet or capsule"));
                }
            }
        }
        Ok(())
    }

    /// The threshold of `kind` for `profile` in force (the row without an end
    /// date), with its row (and so its source).
    pub fn threshold(&self, profile: Profile, kind: ThresholdKind) -> Option<&ThresholdRow> {
        self.thresholds
            .rows
            .iter()
            .find(|r| r.profile == profile && r.kind == kind && r.effective_to.is_none())
    }

    /// Every version of a threshold, oldest first, for printing its history
    /// ("90 mg OME/day from 2025-11-01; 120 before").
    pub fn threshold_history(&self, profile: Profile, kind: ThresholdKind) -> Vec<&ThresholdRow> {
        let mut rows: Vec<&ThresholdRow> = self
            .thresholds
            .rows
            .iter()
            .filter(|r| r.profile == profile && r.kind == kind)
            .collect();
        rows.sort_by(|a, b| a.effective_from.cmp(&b.effective_from));
        rows
    }

    fn headers(&self) -> Vec<(&TableHeader, usize)> {
        let mut headers = vec![
            (&self.thresholds.header, self.thresholds.rows.len()),
            (&self.ome_factors.header, self.ome_factors.rows.len()),
            (&self.patch_labels.header, self.patch_labels.rows.len()),
            (&self.products.header, self.products.rows.len()),
            (&self.limits.header, self.limits.rows.len()),
            (&self.taper.header, self.taper.rows.len()),
        ];
        headers.extend(self.risk.headers());
        headers.push((&self.policy.header, self.policy.rows.len()));
        headers.push((&self.casefinding.header, self.casefinding.rows.len()));
        headers.push((&self.known_gaps.header, self.known_gaps.rows.len()));
        headers.push((&self.dose_limits.header, self.dose_limits.rows.len()));
        headers.push((&self.scales.header, self.scales.rows.len()));
        headers.push((&self.snomed.header, self.snomed.rows.len()));
        headers
    }

    /// Versions, review dates and sources of every table.
    pub fn info(&self) -> ReferenceInfo {
        ReferenceInfo {
            manifest_version: self.manifest_version.clone(),
            tables: self
                .headers()
                .into_iter()
                .map(|(h, rows)| TableInfo {
                    id: h.id.clone(),
                    title: h.title.clone(),
                    version: h.version.clone(),
                    review_date: h.review_date.to_string(),
                    source: h.source.clone(),
                    rows: u32::try_from(rows).unwrap_or(u32::MAX),
                })
                .collect(),
        }
    }
}

/// The reference data embedded in this build.
///
/// The tables are compile-time constants checked by `reference::tests`, so a
/// failure here is a build defect, not a user error.
pub fn reference() -> &'static Reference {
    static REF: OnceLock<Reference> = OnceLock::new();
    REF.get_or_init(|| match Reference::load() {
        Ok(r) => r,
        Err(e) => panic!("embedded reference data is invalid: {e}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_reference_loads_and_validates() {
        let r = Reference::load().expect("reference data must validate");
        assert!(!r.manifest_version.is_empty());
    }

    #[test]
    fn manifest_lists_exactly_the_embedded_files() {
        let m: Manifest = serde_json::from_str(MANIFEST).unwrap();
        let mut listed: Vec<_> = m.tables.iter().map(String::as_str).collect();
        let mut embedded: Vec<_> = EMBEDDED.iter().map(|(n, _)| *n).collect();
        listed.sort();
        embedded.sort();
        assert_eq!(listed, embedded);
    }

    #[test]
    fn uk_high_dose_threshold_is_90_from_opioids_aware() {
        let t = reference()
            .threshold(Profile::Uk, ThresholdKind::HighDose)
            .unwrap();
        assert_eq!(t.mg_per_day, 90.0);
        assert!(t.source.contains("Opioids Aware"));
    }

    #[test]
    fn row_without_source_is_rejected() {
        let h = TableHeader {
            id: "t".into(),
            title: "t".into(),
            version: "1".into(),
            review_date: NaiveDate::from_ymd_opt(2027, 1, 1).unwrap(),
            source: "s".into(),
        };
        let err = check_rows(&h, [("a", "src"), ("b", " ")].into_iter()).unwrap_err();
        assert!(
            err.to_string().contains("row b: row has no source"),
            "{err}"
        );
        let err = check_rows(&h, [("a", "src"), ("a", "src")].into_iter()).unwrap_err();
        assert!(err.to_string().contains("duplicate row id"), "{err}");
    }

    #[test]
    fn info_lists_every_table_with_version_and_review_date() {
        let info = reference().info();
        assert_eq!(info.tables.len(), EMBEDDED.len());
        for t in &info.tables {
            assert!(!t.version.is_empty() && !t.source.is_empty() && t.rows > 0);
            assert!(NaiveDate::parse_from_str(&t.review_date, "%Y-%m-%d").is_ok());
        }
    }

    fn factor_table(rows: &str) -> Table<FactorRow> {
        serde_json::from_str(&format!(
            r#"{{"id": "t", "title": "t", "version": "1", "review_date": "2027-01-01", "source": "s", "rows": [{rows}]}}"#
        ))
        .unwrap()
    }

    #[test]
    fn info_lists_the_ome_tables() {
        let ids: Vec<String> = reference()
            .info()
            .tables
            .into_iter()
            .map(|t| t.id)
            .collect();
        for id in [
            "thresholds",
            "ome-factors",
            "patch-labels",
            "uk-products",
            "regimen-limits",
            "taper-rules",
        ] {
            assert!(ids.contains(&id.to_string()), "{id} missing from {ids:?}");
        }
    }

    #[test]
    fn every_row_of_every_table_has_a_source() {
        let r = reference();
        let sources = r
            .thresholds
            .rows
            .iter()
            .map(|x| &x.source)
            .chain(r.ome_factors.rows.iter().map(|x| &x.source))
            .chain(r.patch_labels.rows.iter().map(|x| &x.source))
            .chain(r.products.rows.iter().map(|x| &x.source))
            .chain(r.limits.rows.iter().map(|x| &x.source))
            .chain(r.known_gaps.rows.iter().map(|x| &x.source))
            .chain(r.dose_limits.rows.iter().map(|x| &x.source))
            .chain(
                r.products
                    .rows
                    .iter()
                    .filter_map(|p| p.other_ingredient.as_ref().map(|o| &o.source)),
            );
        let taper = r.taper.rows.iter().map(|x| x.source());
        let other_forms = r
            .products
            .rows
            .iter()
            .flat_map(|p| p.other_forms.iter().map(|o| o.source.as_str()));
        for s in sources.map(String::as_str).chain(taper).chain(other_forms) {
            assert!(s.trim().len() > 10, "thin source: {s:?}");
        }
    }

    #[test]
    fn every_factor_is_positive_and_ids_are_unique() {
        let r = reference();
        let mut ids = HashSet::new();
        for f in &r.ome_factors.rows {
            assert!(ids.insert(&f.id), "duplicate {}", f.id);
            if let Some(x) = f.factor {
                assert!(x.is_finite() && x > 0.0, "{}", f.id);
            }
        }
    }

    #[test]
    fn uk_and_cdc_factors_match_the_clinical_reference() {
        let r = reference();
        let f = |p, d: &str, route| match r.conversion(p, d, route) {
            Conversion::Factor { factor, .. } => Some(factor),
            Conversion::NotConvertible { .. } => None,
        };
        use Route::{Oral, Sublingual, Transdermal};
        let uk = [
            ("morphine", 1.0),
            ("codeine", 0.1),
            ("dihydrocodeine", 0.1),
            ("tramadol", 0.1),
            ("tapentadol", 0.4),
            ("oxycodone", 1.5),
            ("hydromorphone", 5.0),
            ("pethidine", 0.1),
            ("meptazinol", 0.03),
            ("pentazocine", 0.37),
            ("diamorphine", 1.0),
        ];
        for (d, x) in uk {
            assert_eq!(f(Profile::Uk, d, Oral), Some(x), "uk {d}");
        }
        assert_eq!(f(Profile::Uk, "fentanyl", Transdermal), Some(2.4));
        assert_eq!(f(Profile::Uk, "buprenorphine", Transdermal), Some(2.4));
        assert_eq!(f(Profile::Uk, "methadone", Oral), None);
        // Temgesic for pain: 60 per mg (secondary source), capped at 0.4 mg tablets.
        assert_eq!(f(Profile::Uk, "buprenorphine", Sublingual), Some(60.0));
        let cdc = [
            ("codeine", 0.15),
            ("hydrocodone", 1.0),
            ("hydromorphone", 5.0),
            ("methadone", 4.7),
            ("morphine", 1.0),
            ("oxycodone", 1.5),
            ("oxymorphone", 3.0),
            ("tapentadol", 0.4),
            ("tramadol", 0.2),
        ];
        for (d, x) in cdc {
            assert_eq!(f(Profile::Cdc, d, Oral), Some(x), "cdc {d}");
        }
        assert_eq!(f(Profile::Cdc, "fentanyl", Transdermal), Some(2.4));
        assert_eq!(f(Profile::Cdc, "buprenorphine", Transdermal), None);
        assert_eq!(f(Profile::Cdc, "dihydrocodeine", Oral), None);
    }

    #[test]
    fn explicit_not_convertible_rows_give_reasons() {
        let r = reference();
        for (p, d, route, id) in [
            (Profile::Uk, "methadone", Route::Oral, "uk.methadone.any"),
            (
                Profile::Cdc,
                "buprenorphine",
                Route::Transdermal,
                "cdc.buprenorphine.any",
            ),
        ] {
            match r.conversion(p, d, route) {
                Conversion::NotConvertible {
                    reason,
                    row: Some(row),
                } => {
                    assert_eq!(row.id, id);
                    assert!(reason.len() > 20);
                }
                other => panic!("{p} {d} {route}: {other:?}"),
            }
        }
        // No row at all: still refused, with the known gap's reason.
        match r.conversion(Profile::Uk, "morphine", Route::Subcutaneous) {
            Conversion::NotConvertible { row: None, reason } => {
                assert!(
                    reason.contains("no conversion factor for morphine"),
                    "{reason}"
                );
                assert!(reason.contains("palliative"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn every_catalogue_drug_converts_in_the_uk_or_says_why_not() {
        let r = reference();
        for p in &r.products.rows {
            assert!(
                !matches!(
                    r.conversion(Profile::Uk, &p.drug, p.route),
                    Conversion::NotConvertible { row: None, .. }
                ),
                "{}",
                p.id
            );
        }
    }

    #[test]
    fn patch_catalogue_strengths_give_the_published_equivalents() {
        // Opioids Aware's table: fentanyl 12 -> 30 ... 100 -> 240; buprenorphine 5 -> 12 ... 70 -> 168.
        let r = reference();
        let expected = [
            ("fentanyl", vec![30.0, 60.0, 90.0, 120.0, 180.0, 240.0]),
            (
                "buprenorphine",
                vec![12.0, 24.0, 36.0, 48.0, 84.0, 126.0, 168.0],
            ),
        ];
        for (drug, mg) in expected {
            let Conversion::Factor { factor, .. } =
                r.conversion(Profile::Uk, drug, Route::Transdermal)
            else {
                panic!("{drug}")
            };
            let got: Vec<f64> = r
                .products_of(drug)
                .flat_map(|p| p.strengths_mcg_per_hour.clone().unwrap_or_default())
                .map(|s| {
                    let rate = r
                        .patch_label(drug, s)
                        .map_or(s, |l| l.counts_as_mcg_per_hour);
                    (rate * factor * 100.0).round() / 100.0
                })
                .collect();
            assert_eq!(got, mg, "{drug}");
        }
    }

    #[test]
    fn known_drugs_include_cdc_only_names() {
        let known = reference().known_drugs();
        for d in [
            "hydrocodone",
            "oxymorphone",
            "methadone",
            "meptazinol",
            "fentanyl",
        ] {
            assert!(known.iter().any(|k| k == d), "{d}");
        }
        assert!(known.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn every_limit_kind_is_present() {
        for kind in LimitKind::ALL {
            assert!(reference().limit(kind).max > 0.0);
        }
        assert_eq!(reference().limit(LimitKind::DosesPerDay).max, 12.0);
        assert_eq!(reference().limit(LimitKind::ItemOmeMgPerDay).max, 2000.0);
    }

    #[test]
    fn factor_rules_reject_bad_rows() {
        let ok = r#"{"id": "a", "profile": "uk", "drug": "x", "route": "oral", "unit": "mg", "factor": 1, "source": "s"}"#;
        assert!(check_factors(&factor_table(ok)).is_ok());
        let zero = r#"{"id": "a", "profile": "uk", "drug": "x", "route": "oral", "unit": "mg", "factor": 0, "source": "s"}"#;
        assert!(check_factors(&factor_table(zero))
            .unwrap_err()
            .to_string()
            .contains("positive"));
        let both = r#"{"id": "a", "profile": "uk", "drug": "x", "route": "oral", "unit": "mg", "factor": 1, "not_convertible": "r", "source": "s"}"#;
        assert!(check_factors(&factor_table(both)).is_err());
        let dup = format!("{ok}, {}", ok.replace(r#""id": "a""#, r#""id": "b""#));
        assert!(check_factors(&factor_table(&dup))
            .unwrap_err()
            .to_string()
            .contains("duplicate"));
        let patch_oral = r#"{"id": "a", "profile": "uk", "drug": "x", "route": "oral", "unit": "mcg-per-hour", "factor": 2.4, "source": "s"}"#;
        assert!(check_factors(&factor_table(patch_oral)).is_err());
        let no_reason = r#"{"id": "a", "profile": "uk", "drug": "x", "route": "any", "not_convertible": " ", "source": "s"}"#;
        assert!(check_factors(&factor_table(no_reason)).is_err());
    }

    #[test]
    fn every_dmd_code_passes_its_verhoeff_check_digit() {
        // Codes are carried only with a public source that states them for exactly
        // that product (known_gaps.json, product.dmd-codes); every one is checked.
        let r = reference();
        let mut checked = Vec::new();
        for p in &r.products.rows {
            for d in &p.dmd {
                for code in [&d.vmp, &d.amp].into_iter().flatten() {
                    assert!(verhoeff::is_valid(code), "{}: dm+d code {code}", p.id);
                    assert!(
                        code.len() >= 6 && code.bytes().all(|b| b.is_ascii_digit()),
                        "{}: dm+d code {code}",
                        p.id
                    );
                    checked.push(code.clone());
                }
                assert!(
                    d.source.contains("https://"),
                    "{}: dm+d code without a source address",
                    p.id
                );
            }
        }
        // The five confirmed VMPs; losing one (or its check) fails here.
        for code in [
            "36127511000001108",
            "36126511000001106",
            "36126411000001107",
            "36131011000001107",
            "36129511000001101",
        ] {
            assert!(checked.iter().any(|c| c == code), "{code} missing");
        }
        let mut unique = checked.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), checked.len(), "a dm+d code on two strengths");
        // The same check refuses a code one digit off at load time.
        assert!(!verhoeff::is_valid("36126511000001107"));
        assert!(r
            .known_gaps
            .rows
            .iter()
            .any(|g| g.product.as_deref().is_some_and(|p| p.contains("dm+d"))));
    }

    #[test]
    fn a_dmd_code_with_a_wrong_check_digit_or_no_source_is_refused_at_load() {
        let mut r = reference().clone();
        assert!(r.check_products().is_ok());
        let row = r
            .products
            .rows
            .iter_mut()
            .find(|p| p.id == "morphine-mr-12h-tablet")
            .expect("row");
        row.dmd[1].vmp = Some("36126511000001107".into());
        assert!(r.check_products().is_err());
        let mut r = reference().clone();
        let row = r
            .products
            .rows
            .iter_mut()
            .find(|p| p.id == "morphine-mr-12h-tablet")
            .expect("row");
        row.dmd[1].source = " ".into();
        assert!(r.check_products().is_err());
    }

    #[test]
    fn issue_15_products_are_in_the_catalogue() {
        let r = reference();
        let has = |id: &str| r.products.rows.iter().any(|p| p.id == id);
        for id in [
            "tramadol-mr-24h-tablet",
            "tramadol-paracetamol-tablet",
            "oxycodone-naloxone-mr-12h-tablet",
            "oxycodone-oral-concentrate",
            "tapentadol-ir-tablet",
            "tapentadol-oral-solution",
            "methadone-tablet",
            "methadone-oral-solution",
            "buprenorphine-sublingual-tablet",
        ] {
            assert!(has(id), "{id}");
        }
        let brands: Vec<&str> = r
            .products
            .rows
            .iter()
            .flat_map(|p| p.brand_examples.iter().map(String::as_str))
            .collect();
        for b in [
            "Shortec",
            "Zamadol",
            "Zydol",
            "Tradorec XL",
            "Mezolar Matrix",
            "Zydol XL",
            "Zamadol 24hr",
            "Tramacet",
            "Zamadol Melt",
            "Targinact",
            "Temgesic",
        ] {
            assert!(brands.contains(&b), "{b}");
        }
        let tap = r
            .products
            .rows
            .iter()
            .find(|p| p.id == "tapentadol-mr-tablet")
            .unwrap();
        assert_eq!(tap.dosing_interval_hours, Some(12.0));
    }

    #[test]
    fn combination_labels_show_both_strengths_and_naloxone_adds_no_ome() {
        let r = reference();
        let row = |id: &str| r.products.rows.iter().find(|p| p.id == id).unwrap();
        assert_eq!(row("co-codamol").strength_label(30.0), "30/500 mg");
        assert_eq!(
            row("tramadol-paracetamol-tablet").strength_label(37.5),
            "37.5/325 mg"
        );
        let targinact = row("oxycodone-naloxone-mr-12h-tablet");
        assert_eq!(targinact.strength_label(10.0), "10 mg/5 mg");
        assert!(!targinact.other_ingredient.as_ref().unwrap().adds_ome);
        assert_eq!(
            row("morphine-oral-solution").strength_label(2.0),
            "10 mg/5 mL"
        );
        assert_eq!(
            row("morphine-oral-concentrate").strength_label(20.0),
            "20 mg/mL"
        );
    }

    #[test]
    fn only_mezolar_makes_fentanyl_37_5() {
        let fentanyl = reference()
            .products
            .rows
            .iter()
            .find(|p| p.id == "fentanyl-72h-patch")
            .unwrap();
        assert_eq!(
            fentanyl.brands_for(37.5),
            vec!["Mezolar Matrix".to_string()]
        );
        assert_eq!(fentanyl.brands_for(25.0).len(), 3);
    }
}
