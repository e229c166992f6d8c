//! Regimen items: the shared input model of every command (`docs/cli.md`,
//! "Regimen items"), and its validation.
//!
//! Input arrives as JSON and is read in two stages:
//!
//! 1. [`RawItem`]: every field optional and loosely typed (strings for the
//!    vocabulary), so that one pass can report *every* problem with its field
//!    path instead of stopping at the first, as serde alone would.
//! 2. [`Item`]: the validated, typed form. Quantities are positive newtypes
//!    ([`Mg`], [`McgPerHour`], [`MgPerMl`], ...) and the dose shape is an enum
//!    ([`Dose`]), so an oral item cannot carry patch fields, a patch cannot be
//!    "as needed", and no amount is zero, negative or NaN.
//!
//! Validation needs the reference data (accepted drug names, implausibility
//! limits, conversion factors for the per-item OME limit) and the profile.
//! Nothing here does IO.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use ts_rs::TS;

use crate::profile::Profile;
use crate::reference::{LimitKind, Reference};

mod doses;
pub use doses::{DoseTimes, RawTimedDose, TimeOfDay, TimedAmount};

// ---------------------------------------------------------------------------
// Vocabulary
// ---------------------------------------------------------------------------

/// How a medicine is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
#[ts(export)]
pub enum Route {
    /// Swallowed (tablets, capsules, oral solutions).
    Oral,
    /// Through the skin (patches).
    Transdermal,
    /// Under the tongue.
    Sublingual,
    /// Against the inside of the cheek.
    Buccal,
    /// Injected under the skin.
    Subcutaneous,
    /// Injected into a muscle.
    Intramuscular,
    /// Injected into a vein.
    Intravenous,
    /// Suppositories.
    Rectal,
}

impl Route {
    /// Every route, in the order error messages list them.
    pub const ALL: [Route; 8] = [
        Route::Oral,
        Route::Transdermal,
        Route::Sublingual,
        Route::Buccal,
        Route::Subcutaneous,
        Route::Intramuscular,
        Route::Intravenous,
        Route::Rectal,
    ];

    /// Lower-case name as used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Route::Oral => "oral",
            Route::Transdermal => "transdermal",
            Route::Sublingual => "sublingual",
            Route::Buccal => "buccal",
            Route::Subcutaneous => "subcutaneous",
            Route::Intramuscular => "intramuscular",
            Route::Intravenous => "intravenous",
            Route::Rectal => "rectal",
        }
    }

    /// Parses the JSON name (case-insensitive, surrounding spaces ignored).
    pub fn parse(s: &str) -> Option<Route> {
        let s = s.trim().to_ascii_lowercase();
        Route::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How quickly a tablet, capsule or liquid releases the drug.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
#[ts(export)]
pub enum Release {
    /// Immediate release (the default).
    #[default]
    Immediate,
    /// Modified (prolonged, sustained) release, 12- or 24-hourly.
    Modified,
}

impl Release {
    /// Every release type.
    pub const ALL: [Release; 2] = [Release::Immediate, Release::Modified];

    /// Lower-case name as used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Release::Immediate => "immediate",
            Release::Modified => "modified",
        }
    }

    /// Parses the JSON name (case-insensitive).
    pub fn parse(s: &str) -> Option<Release> {
        let s = s.trim().to_ascii_lowercase();
        Release::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

impl fmt::Display for Release {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Pharmaceutical form. It decides which amount fields an item needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
#[ts(export)]
pub enum Form {
    /// Tablet (including soluble and modified-release tablets).
    Tablet,
    /// Capsule.
    Capsule,
    /// Oral solution or other liquid measured in mL.
    Solution,
    /// Transdermal patch.
    Patch,
}

impl Form {
    /// Every form.
    pub const ALL: [Form; 4] = [Form::Tablet, Form::Capsule, Form::Solution, Form::Patch];

    /// Lower-case name as used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Form::Tablet => "tablet",
            Form::Capsule => "capsule",
            Form::Solution => "solution",
            Form::Patch => "patch",
        }
    }

    /// Parses the JSON name (case-insensitive).
    pub fn parse(s: &str) -> Option<Form> {
        let s = s.trim().to_ascii_lowercase();
        Form::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

impl fmt::Display for Form {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The two solid oral forms; a solid item may also leave its form unstated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SolidForm {
    /// Tablet.
    Tablet,
    /// Capsule.
    Capsule,
}

impl From<SolidForm> for Form {
    fn from(f: SolidForm) -> Form {
        match f {
            SolidForm::Tablet => Form::Tablet,
            SolidForm::Capsule => Form::Capsule,
        }
    }
}

// ---------------------------------------------------------------------------
// Quantities
// ---------------------------------------------------------------------------

macro_rules! positive_quantity {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        ///
        /// Always finite and greater than zero: the only constructor checks.
        #[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize)]
        #[serde(transparent)]
        pub struct $name(f64);

        impl $name {
            /// The quantity, or `None` unless `value` is finite and greater than zero.
            pub fn new(value: f64) -> Option<Self> {
                (value.is_finite() && value > 0.0).then_some(Self(value))
            }

            /// The number.
            pub fn get(self) -> f64 {
                self.0
            }
        }
    };
}

positive_quantity!(
    /// Milligrams of drug (per tablet, per capsule, per dose or per day, as named).
    Mg
);
positive_quantity!(
    /// Micrograms an hour delivered by a patch.
    McgPerHour
);
positive_quantity!(
    /// Milligrams per millilitre of a liquid.
    MgPerMl
);
positive_quantity!(
    /// Millilitres of a liquid.
    Ml
);
positive_quantity!(
    /// Tablets or capsules taken at each dose (may be a fraction of an immediate-release tablet).
    UnitsPerDose
);
positive_quantity!(
    /// Doses a day (for as-needed items, the most allowed in a day).
    DosesPerDay
);
positive_quantity!(
    /// How much is supplied at one prescription issue, in the item's own unit:
    /// tablets or capsules, mL of a liquid, or patches.
    QuantityPerIssue
);

/// Patches worn at the same time: a whole number, at least one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct PatchCount(u32);

impl PatchCount {
    /// The count, or `None` for zero.
    pub fn new(count: u32) -> Option<Self> {
        (count > 0).then_some(Self(count))
    }

    /// The number of patches.
    pub fn get(self) -> u32 {
        self.0
    }
}

/// Milligrams of oral morphine equivalent a day (MME in the CDC profile).
///
/// Finite and never negative (zero is allowed: a regimen whose items are all
/// unconvertible totals zero).
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize)]
#[serde(transparent)]
pub struct OmeMgPerDay(f64);

impl OmeMgPerDay {
    /// The amount, or `None` unless `value` is finite and not negative.
    pub fn new(value: f64) -> Option<Self> {
        (value.is_finite() && value >= 0.0).then_some(Self(value))
    }

    /// The number.
    pub fn get(self) -> f64 {
        self.0
    }
}

// ---------------------------------------------------------------------------
// Typed regimen
// ---------------------------------------------------------------------------

/// A generic drug name that the reference data knows (in at least one profile).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Drug(String);

impl Drug {
    /// The drug, if `name` (case-insensitive) is in the reference conversion table of any profile.
    pub fn new(name: &str, reference: &Reference) -> Option<Drug> {
        let name = name.trim().to_lowercase();
        reference
            .known_drugs()
            .contains(&name)
            .then_some(Drug(name))
    }

    /// The lower-case generic name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Drug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How much of the medicine is taken: the shape depends on the form.
#[derive(Debug, Clone, PartialEq)]
pub enum Dose {
    /// Tablets or capsules (also suppositories or injections given in mg per dose):
    /// `strength × units_per_dose × doses_per_day`.
    Solid {
        /// Tablet or capsule, if stated.
        form: Option<SolidForm>,
        /// Immediate or modified release.
        release: Release,
        /// Opioid per tablet or capsule.
        strength: Mg,
        /// Tablets or capsules a dose.
        units_per_dose: UnitsPerDose,
        /// Doses a day (the maximum, if as needed).
        doses_per_day: DosesPerDay,
        /// Taken only when needed.
        as_needed: bool,
        /// Paracetamol per tablet or capsule in a combination product (co-codamol, co-dydramol).
        paracetamol_per_unit: Option<Mg>,
        /// Units at each named time, when entered by time of day; `units_per_dose`
        /// is then their mean and `doses_per_day` their count.
        times: Option<DoseTimes>,
    },
    /// A liquid: `strength × ml_per_dose × doses_per_day`.
    Liquid {
        /// Immediate or modified release.
        release: Release,
        /// Opioid per mL.
        strength: MgPerMl,
        /// mL a dose.
        ml_per_dose: Ml,
        /// Doses a day (the maximum, if as needed).
        doses_per_day: DosesPerDay,
        /// Taken only when needed.
        as_needed: bool,
        /// mL at each named time, when entered by time of day; `ml_per_dose`
        /// is then their mean and `doses_per_day` their count.
        times: Option<DoseTimes>,
    },
    /// Patches worn continuously: `strength × patches`.
    Patch {
        /// Labelled rate of one patch.
        strength: McgPerHour,
        /// Patches of this strength worn at once.
        patches: PatchCount,
    },
}

impl Dose {
    /// The form: stated, or implied by the shape.
    pub fn form(&self) -> Option<Form> {
        match self {
            Dose::Solid { form, .. } => form.map(Form::from),
            Dose::Liquid { .. } => Some(Form::Solution),
            Dose::Patch { .. } => Some(Form::Patch),
        }
    }

    /// Release type (`None` for patches, where it does not apply).
    pub fn release(&self) -> Option<Release> {
        match self {
            Dose::Solid { release, .. } | Dose::Liquid { release, .. } => Some(*release),
            Dose::Patch { .. } => None,
        }
    }

    /// Whether the item is taken only when needed (never for patches).
    pub fn as_needed(&self) -> bool {
        match self {
            Dose::Solid { as_needed, .. } | Dose::Liquid { as_needed, .. } => *as_needed,
            Dose::Patch { .. } => false,
        }
    }

    /// The doses by time of day, when the item was entered that way.
    pub fn times(&self) -> Option<&DoseTimes> {
        match self {
            Dose::Solid { times, .. } | Dose::Liquid { times, .. } => times.as_ref(),
            Dose::Patch { .. } => None,
        }
    }

    /// Returns the same dose with every amount taken `factor` times as often
    /// or in `factor` times the quantity; `None` if the result is not a valid dose.
    ///
    /// Scales doses a day for tablets and liquids and the patch count for
    /// patches (which must stay a whole number). Doses by time of day keep
    /// their times: the amount at each time is scaled instead.
    pub fn scaled(&self, factor: f64) -> Option<Dose> {
        Some(match self {
            Dose::Solid {
                form,
                release,
                strength,
                units_per_dose,
                doses_per_day,
                as_needed,
                paracetamol_per_unit,
                times,
            } => match times {
                Some(t) => {
                    let t = t.scaled(factor)?;
                    Dose::Solid {
                        form: *form,
                        release: *release,
                        strength: *strength,
                        units_per_dose: UnitsPerDose::new(t.mean())?,
                        doses_per_day: *doses_per_day,
                        as_needed: *as_needed,
                        paracetamol_per_unit: *paracetamol_per_unit,
                        times: Some(t),
                    }
                }
                None => Dose::Solid {
                    form: *form,
                    release: *release,
                    strength: *strength,
                    units_per_dose: *units_per_dose,
                    doses_per_day: DosesPerDay::new(doses_per_day.get() * factor)?,
                    as_needed: *as_needed,
                    paracetamol_per_unit: *paracetamol_per_unit,
                    times: None,
                },
            },
            Dose::Liquid {
                release,
                strength,
                ml_per_dose,
                doses_per_day,
                as_needed,
                times,
            } => match times {
                Some(t) => {
                    let t = t.scaled(factor)?;
                    Dose::Liquid {
                        release: *release,
                        strength: *strength,
                        ml_per_dose: Ml::new(t.mean())?,
                        doses_per_day: *doses_per_day,
                        as_needed: *as_needed,
                        times: Some(t),
                    }
                }
                None => Dose::Liquid {
                    release: *release,
                    strength: *strength,
                    ml_per_dose: *ml_per_dose,
                    doses_per_day: DosesPerDay::new(doses_per_day.get() * factor)?,
                    as_needed: *as_needed,
                    times: None,
                },
            },
            Dose::Patch { strength, patches } => {
                let n = f64::from(patches.get()) * factor;
                if n.fract() != 0.0 || n < 1.0 || n > f64::from(u32::MAX) {
                    return None;
                }
                // In range and whole, checked just above.
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                let n = n as u32;
                Dose::Patch {
                    strength: *strength,
                    patches: PatchCount::new(n)?,
                }
            }
        })
    }
}

/// One validated regimen item.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// The opioid (for a combination product, its opioid component).
    pub drug: Drug,
    /// How it is given.
    pub route: Route,
    /// How much, how often.
    pub dose: Dose,
    /// How much is supplied at each prescription issue, if given (tablets or
    /// capsules, mL, or patches); only flags read it.
    pub quantity_per_issue: Option<QuantityPerIssue>,
}

/// A validated regimen: at least one item.
#[derive(Debug, Clone, PartialEq)]
pub struct Regimen {
    /// The items, in input order (output indexes refer to this order).
    pub items: Vec<Item>,
}

// ---------------------------------------------------------------------------
// Raw input
// ---------------------------------------------------------------------------

/// One regimen item as entered, before validation (the contract's item object).
///
/// Every field is optional here so that validation can name each missing one;
/// vocabulary fields are strings so that an unknown value gets a helpful message.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
#[ts(export, optional_fields)]
pub struct RawItem {
    /// Lower-case generic name of the opioid (required).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drug: Option<String>,
    /// Route (required).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(as = "Option<Route>")]
    pub route: Option<String>,
    /// `immediate` (default) or `modified`; not for patches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(as = "Option<Release>")]
    pub release: Option<String>,
    /// Form; implied for patches (transdermal) and liquids (strength_mg_per_ml).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(as = "Option<Form>")]
    pub form: Option<String>,
    /// Tablets and capsules: mg of opioid per unit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strength_mg: Option<f64>,
    /// Tablets and capsules: units a dose (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub units_per_dose: Option<f64>,
    /// Tablets, capsules and liquids: doses a day (the maximum if as needed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub doses_per_day: Option<f64>,
    /// Liquids: mg of opioid per mL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strength_mg_per_ml: Option<f64>,
    /// Liquids: mL a dose.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ml_per_dose: Option<f64>,
    /// Patches: labelled micrograms an hour of one patch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strength_mcg_per_hour: Option<f64>,
    /// Patches: how many of this strength are worn at once (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patches: Option<f64>,
    /// Taken only when needed; `doses_per_day` is then the most allowed a day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_needed: Option<bool>,
    /// Combination products: paracetamol mg per tablet or capsule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paracetamol_mg: Option<f64>,
    /// Tablets, capsules and liquids taken at named times with a dose per time
    /// (`[{"time": "morning", "units": 1}, {"time": "night", "units": 2}]`),
    /// instead of `units_per_dose` / `ml_per_dose` and `doses_per_day`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub doses: Option<Vec<RawTimedDose>>,
    /// Optional: how much is supplied at each prescription issue, in the
    /// item's unit (tablets or capsules; mL for liquids; patches).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity_per_issue: Option<f64>,
}

impl RawItem {
    /// The accepted field names, in contract order.
    pub const FIELDS: [&'static str; 15] = [
        "drug",
        "route",
        "release",
        "form",
        "strength_mg",
        "units_per_dose",
        "doses_per_day",
        "strength_mg_per_ml",
        "ml_per_dose",
        "strength_mcg_per_hour",
        "patches",
        "as_needed",
        "paracetamol_mg",
        "doses",
        "quantity_per_issue",
    ];
}

/// The `{"items": [...]}` input of `stepdown ome`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
#[ts(export)]
pub struct RawRegimen {
    /// The items.
    pub items: Vec<RawItem>,
}

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/// One problem with the input, at a field path such as `items[1].strength_mg`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct FieldError {
    /// Where: `items[1].strength_mg`, `items[0]`, `items`.
    pub path: String,
    /// What is wrong, e.g. `must be greater than 0 (got -5)`.
    pub message: String,
}

impl FieldError {
    /// Builds a field error.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Why a regimen could not be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RegimenError {
    /// The text is not JSON.
    #[error("input: invalid JSON at line {line}, column {column}: {message}")]
    Syntax {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What the parser expected.
        message: String,
    },
    /// The JSON does not describe a valid regimen; every problem is listed.
    #[error("{}", join_lines(.0))]
    Invalid(Vec<FieldError>),
}

impl RegimenError {
    /// The field problems (empty for a syntax error).
    pub fn field_errors(&self) -> &[FieldError] {
        match self {
            RegimenError::Invalid(errors) => errors,
            RegimenError::Syntax { .. } => &[],
        }
    }
}

impl From<RegimenError> for crate::ApiError {
    fn from(e: RegimenError) -> Self {
        match e {
            RegimenError::Invalid(fields) => crate::ApiError::invalid_fields(fields),
            syntax @ RegimenError::Syntax { .. } => {
                crate::ApiError::new(crate::ErrorCode::InvalidInput, syntax.to_string())
            }
        }
    }
}

fn join_lines(errors: &[FieldError]) -> String {
    // Sanitised, cut and counted: an input can hold 100,000 mistakes.
    crate::limits::report_errors(errors.iter().map(|e| (e.path.as_str(), e.message.as_str())))
}

// ---------------------------------------------------------------------------
// Parsing JSON with field paths
// ---------------------------------------------------------------------------

/// Parses JSON text, reporting a syntax error with its line and column.
///
/// Every command's input goes through here so that all of them describe
/// broken JSON the same way.
pub fn parse_json(text: &str) -> Result<Value, RegimenError> {
    // Issue 20: a BOM was refused without a hint, duplicate keys were
    // accepted (last wins), and size was unbounded. Caps: assets/limits.json.
    if text.starts_with('\u{feff}') {
        return Err(RegimenError::Syntax {
            line: 1,
            column: 1,
            message: "the file starts with a byte-order mark (BOM); save it as UTF-8 without a BOM"
                .into(),
        });
    }
    let cap = crate::limits::limits().max_input_bytes;
    if text.len() as u64 > cap {
        return Err(RegimenError::Invalid(vec![FieldError::new(
            "input",
            format!("is {} bytes; at most {cap} are accepted", text.len()),
        )]));
    }
    let syntax = |e: serde_json::Error| {
        let (line, column) = (e.line(), e.column());
        let full = e.to_string();
        let suffix = format!(" at line {line} column {column}");
        let message = full.strip_suffix(&suffix).unwrap_or(&full).to_string();
        RegimenError::Syntax {
            line,
            column,
            message,
        }
    };
    let value: Value = parse_json_unchecked(text)?;
    crate::limits::check_no_duplicate_keys(text).map_err(syntax)?;
    crate::limits::check_value(&value).map_err(|problems| {
        RegimenError::Invalid(
            problems
                .into_iter()
                .map(|(path, message)| FieldError::new(path, message))
                .collect(),
        )
    })?;
    Ok(value)
}

fn parse_json_unchecked(text: &str) -> Result<Value, RegimenError> {
    serde_json::from_str(text).map_err(|e| {
        let (line, column) = (e.line(), e.column());
        let full = e.to_string();
        // serde_json appends " at line L column C"; we state the position ourselves.
        let suffix = format!(" at line {line} column {column}");
        let message = full.strip_suffix(&suffix).unwrap_or(&full).to_string();
        RegimenError::Syntax {
            line,
            column,
            message,
        }
    })
}

/// Reads and validates the `stepdown ome` input `{"items": [...]}` from JSON text.
pub fn regimen_from_json(
    text: &str,
    profile: Profile,
    reference: &Reference,
) -> Result<Regimen, RegimenError> {
    let value = parse_json(text)?;
    let mut errors = Vec::new();
    let Some(obj) = value.as_object() else {
        return Err(RegimenError::Invalid(vec![FieldError::new(
            "input",
            format!(
                "must be a JSON object with an \"items\" list (got {})",
                describe(&value)
            ),
        )]));
    };
    check_fields(obj, "", &["items"], &mut errors);
    // Without a readable list there is nothing more to check.
    let Some(slots) = raw_items_at(obj, "items", &mut errors) else {
        return Err(RegimenError::Invalid(errors));
    };
    match validate_slots(&slots, "items", profile, reference) {
        Ok(regimen) if errors.is_empty() => Ok(regimen),
        Ok(_) => Err(RegimenError::Invalid(errors)),
        Err(mut more) => {
            errors.append(&mut more);
            Err(RegimenError::Invalid(errors))
        }
    }
}

/// Reports every key of `obj` that is not in `allowed` as an unknown field at
/// `prefix` (e.g. `items[2]`), suggesting the closest accepted name.
///
/// Public so that other commands (assess, plan) reject unknown top-level fields
/// the same way.
pub fn check_fields(
    obj: &Map<String, Value>,
    prefix: &str,
    allowed: &[&str],
    errors: &mut Vec<FieldError>,
) {
    for key in obj.keys() {
        if !allowed.contains(&key.as_str()) {
            let hint = match nearest(key, allowed.iter().copied()).as_slice() {
                [] => format!("accepted: {}", allowed.join(", ")),
                close => format!("did you mean {}?", close.join(" or ")),
            };
            errors.push(FieldError::new(
                join_path(prefix, key),
                format!("unknown field ({hint})"),
            ));
        }
    }
}

/// Reads the list of raw items at `obj[key]`, reporting a missing or
/// malformed list (then `None`) and every malformed item with its path.
/// An item that is not even an object is `None` in its slot, so that the
/// others keep their indexes; its problem is already in `errors`.
pub fn raw_items_at(
    obj: &Map<String, Value>,
    key: &str,
    errors: &mut Vec<FieldError>,
) -> Option<Vec<Option<RawItem>>> {
    match obj.get(key) {
        None => {
            errors.push(FieldError::new(key, "required: the list of medicines"));
            None
        }
        Some(Value::Array(values)) => Some(
            values
                .iter()
                .enumerate()
                .map(|(i, v)| raw_item_from_value(v, &format!("{key}[{i}]"), errors))
                .collect(),
        ),
        Some(other) => {
            errors.push(FieldError::new(
                key,
                format!("must be a list of medicines (got {})", describe(other)),
            ));
            None
        }
    }
}

/// Reads one raw item, recording unknown fields and wrongly typed values.
/// A field with a wrong type is left unset (and so may also be reported as
/// missing later, which is true).
/// `None` if the value is not an object at all.
pub fn raw_item_from_value(
    value: &Value,
    path: &str,
    errors: &mut Vec<FieldError>,
) -> Option<RawItem> {
    let mut raw = RawItem::default();
    let Some(obj) = value.as_object() else {
        errors.push(FieldError::new(
            path,
            format!("must be an object (got {})", describe(value)),
        ));
        return None;
    };
    check_fields(obj, path, &RawItem::FIELDS, errors);
    let string = |key: &str, errors: &mut Vec<FieldError>| -> Option<String> {
        match obj.get(key) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => {
                errors.push(FieldError::new(
                    join_path(path, key),
                    format!("must be a string (got {})", describe(other)),
                ));
                None
            }
        }
    };
    let number = |key: &str, errors: &mut Vec<FieldError>| -> Option<f64> {
        match obj.get(key) {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) => n.as_f64(),
            Some(other) => {
                errors.push(FieldError::new(
                    join_path(path, key),
                    format!("must be a number (got {})", describe(other)),
                ));
                None
            }
        }
    };
    raw.drug = string("drug", errors);
    raw.route = string("route", errors);
    raw.release = string("release", errors);
    raw.form = string("form", errors);
    raw.strength_mg = number("strength_mg", errors);
    raw.units_per_dose = number("units_per_dose", errors);
    raw.doses_per_day = number("doses_per_day", errors);
    raw.strength_mg_per_ml = number("strength_mg_per_ml", errors);
    raw.ml_per_dose = number("ml_per_dose", errors);
    raw.strength_mcg_per_hour = number("strength_mcg_per_hour", errors);
    raw.patches = number("patches", errors);
    raw.paracetamol_mg = number("paracetamol_mg", errors);
    raw.quantity_per_issue = number("quantity_per_issue", errors);
    raw.doses = match obj.get("doses") {
        None | Some(Value::Null) => None,
        Some(v) => doses::raw_doses_from_value(v, &join_path(path, "doses"), errors),
    };
    raw.as_needed = match obj.get("as_needed") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(other) => {
            errors.push(FieldError::new(
                join_path(path, "as_needed"),
                format!("must be true or false (got {})", describe(other)),
            ));
            None
        }
    };
    Some(raw)
}

pub(crate) fn join_path(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

/// A short description of a JSON value for error messages.
pub(crate) fn describe(v: &Value) -> String {
    let text = match v {
        Value::Null => return "null".into(),
        Value::Array(_) => return "a list".into(),
        Value::Object(_) => return "an object".into(),
        other => other.to_string(),
    };
    // Long strings would swamp the message; the start is enough to recognise it.
    const MAX: usize = 40;
    if text.chars().count() > MAX {
        let cut: String = text.chars().take(MAX).collect();
        format!("{cut}…")
    } else {
        text
    }
}

// ---------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------

impl Regimen {
    /// Validates raw items (from `{"items": [...]}` or from the desktop UI),
    /// reporting every problem with its path under `prefix` (normally `items`).
    pub fn validate(
        raw: &[RawItem],
        prefix: &str,
        profile: Profile,
        reference: &Reference,
    ) -> Result<Regimen, Vec<FieldError>> {
        let slots: Vec<Option<RawItem>> = raw.iter().cloned().map(Some).collect();
        validate_slots(&slots, prefix, profile, reference)
    }

    /// Validates a typed raw regimen (the desktop UI's input).
    pub fn from_raw(
        raw: &RawRegimen,
        profile: Profile,
        reference: &Reference,
    ) -> Result<Regimen, RegimenError> {
        Regimen::validate(&raw.items, "items", profile, reference).map_err(RegimenError::Invalid)
    }
}

/// Validates items read by [`raw_items_at`]; `None` slots (not objects) were
/// already reported and are skipped without shifting the others' indexes.
pub fn validate_slots(
    slots: &[Option<RawItem>],
    prefix: &str,
    profile: Profile,
    reference: &Reference,
) -> Result<Regimen, Vec<FieldError>> {
    let mut errors = Vec::new();
    if slots.is_empty() {
        errors.push(FieldError::new(prefix, "must list at least one medicine"));
    }
    let mut items = Vec::with_capacity(slots.len());
    for (i, slot) in slots.iter().enumerate() {
        let Some(raw) = slot else { continue };
        let path = format!("{prefix}[{i}]");
        if let Some(item) = validate_item(raw, &path, profile, reference, &mut errors) {
            items.push(item);
        }
    }
    // A skipped slot means the input was invalid even if nothing else was.
    if errors.is_empty() && items.len() == slots.len() {
        Ok(Regimen { items })
    } else {
        Err(errors)
    }
}

/// Checks one number: present (if `required`), finite, greater than zero and
/// not above its implausibility limit. Returns it only if all hold.
struct Checker<'a> {
    path: &'a str,
    reference: &'a Reference,
    errors: &'a mut Vec<FieldError>,
}

impl Checker<'_> {
    fn err(&mut self, field: &str, message: impl Into<String>) {
        self.errors
            .push(FieldError::new(join_path(self.path, field), message));
    }

    fn positive(&mut self, field: &str, value: Option<f64>, what: &str) -> Option<f64> {
        let Some(v) = value else {
            self.err(field, format!("required: {what}"));
            return None;
        };
        if !v.is_finite() || v <= 0.0 {
            self.err(field, format!("must be greater than 0 (got {})", num(v)));
            return None;
        }
        let floor = crate::limits::limits().min_amount;
        if v < floor {
            // Issue 20: 5e-324 mg passed as "greater than 0".
            self.err(
                field,
                format!("is too small to be an amount (got {v:e}; the smallest accepted is {floor}); check the entry"),
            );
            return None;
        }
        Some(v)
    }

    /// Applies the reference limit of `kind` to a value already known to be positive.
    fn within(&mut self, field: &str, value: f64, kind: LimitKind) -> Option<f64> {
        let limit = self.reference.limit(kind);
        if value > limit.max {
            self.err(
                field,
                format!(
                    "more than {} {} is implausible (got {}); check the entry",
                    num(limit.max),
                    limit.unit,
                    num(value)
                ),
            );
            return None;
        }
        Some(value)
    }

    fn forbid(&mut self, field: &str, present: bool, why: &str) {
        if present {
            self.err(field, format!("not used here: {why}"));
        }
    }
}

fn validate_item(
    raw: &RawItem,
    path: &str,
    profile: Profile,
    reference: &Reference,
    errors: &mut Vec<FieldError>,
) -> Option<Item> {
    let before = errors.len();
    let mut c = Checker {
        path,
        reference,
        errors,
    };

    let drug = match raw.drug.as_deref() {
        None => {
            c.err(
                "drug",
                "required: the generic name of the opioid, e.g. \"morphine\"",
            );
            None
        }
        Some(name) => match Drug::new(name, reference) {
            Some(d) => Some(d),
            None => {
                c.err("drug", unknown_drug_message(name, reference));
                None
            }
        },
    };

    let route = match raw.route.as_deref() {
        None => {
            c.err(
                "route",
                format!(
                    "required (accepted: {})",
                    list(Route::ALL.map(Route::as_str))
                ),
            );
            None
        }
        Some(s) => match Route::parse(s) {
            Some(r) => Some(r),
            None => {
                c.err(
                    "route",
                    unknown_word("route", s, Route::ALL.map(Route::as_str)),
                );
                None
            }
        },
    };

    let release = match raw.release.as_deref() {
        None => None,
        Some(s) => match Release::parse(s) {
            Some(r) => Some(r),
            None => {
                c.err(
                    "release",
                    unknown_word("release", s, Release::ALL.map(Release::as_str)),
                );
                None
            }
        },
    };

    let form = match raw.form.as_deref() {
        None => None,
        Some(s) => match Form::parse(s) {
            Some(f) => Some(f),
            None => {
                c.err("form", unknown_word("form", s, Form::ALL.map(Form::as_str)));
                // Unknown form: keep checking the amounts as if it were not given.
                None
            }
        },
    };

    // Which shape of dose? A patch if either the route or the form says so;
    // a liquid if the form says so or only liquid amounts are given.
    let is_patch = route == Some(Route::Transdermal) || form == Some(Form::Patch);
    if let (Some(Form::Patch), Some(r)) = (form, route) {
        if r != Route::Transdermal {
            c.err(
                "form",
                format!("a patch is transdermal, but route is {r} (use route \"transdermal\")"),
            );
        }
    }
    if route == Some(Route::Transdermal) {
        if let Some(f) = form.filter(|f| *f != Form::Patch) {
            c.err(
                "form",
                format!(
                    "transdermal items are patches (got {f}); use form \"patch\" or leave it out"
                ),
            );
        }
    }
    let is_liquid = !is_patch
        && (form == Some(Form::Solution)
            || (form.is_none() && raw.strength_mg_per_ml.is_some() && raw.strength_mg.is_none()));

    let as_needed = raw.as_needed.unwrap_or(false);
    let dose = if is_patch {
        let why = "a patch is described by strength_mcg_per_hour and patches";
        c.forbid("strength_mg", raw.strength_mg.is_some(), why);
        c.forbid("units_per_dose", raw.units_per_dose.is_some(), why);
        c.forbid(
            "doses_per_day",
            raw.doses_per_day.is_some(),
            "a patch is worn continuously; give patches (worn at once) instead",
        );
        c.forbid("strength_mg_per_ml", raw.strength_mg_per_ml.is_some(), why);
        c.forbid("ml_per_dose", raw.ml_per_dose.is_some(), why);
        c.forbid(
            "release",
            raw.release.is_some(),
            "release applies to tablets, capsules and liquids, not patches",
        );
        c.forbid(
            "paracetamol_mg",
            raw.paracetamol_mg.is_some(),
            "only combination tablets or capsules contain paracetamol",
        );
        c.forbid(
            "doses",
            raw.doses.is_some(),
            "a patch is worn continuously; give patches (worn at once) instead",
        );
        if as_needed {
            c.err(
                "as_needed",
                "a patch is worn continuously and cannot be taken as needed",
            );
        }
        let strength = c
            .positive(
                "strength_mcg_per_hour",
                raw.strength_mcg_per_hour,
                "micrograms/hour of one patch",
            )
            .and_then(|v| c.within("strength_mcg_per_hour", v, LimitKind::StrengthMcgPerHour))
            .and_then(McgPerHour::new);
        let patches = match raw.patches {
            None => PatchCount::new(1),
            Some(n) => c
                .positive("patches", Some(n), "patches worn at once")
                .and_then(|n| {
                    if n.fract() == 0.0 {
                        Some(n)
                    } else {
                        c.err(
                            "patches",
                            format!("must be a whole number of patches (got {})", num(n)),
                        );
                        None
                    }
                })
                .and_then(|n| c.within("patches", n, LimitKind::Patches))
                .and_then(|n| {
                    // Whole, positive and at most the limit, checked above.
                    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                    let n = n as u32;
                    PatchCount::new(n)
                }),
        };
        match (strength, patches) {
            (Some(strength), Some(patches)) => Some(Dose::Patch { strength, patches }),
            _ => None,
        }
    } else if is_liquid {
        let why = "a liquid is described by strength_mg_per_ml and ml_per_dose";
        c.forbid("strength_mg", raw.strength_mg.is_some(), why);
        c.forbid("units_per_dose", raw.units_per_dose.is_some(), why);
        let patch_why = "only for patches (route \"transdermal\")";
        c.forbid(
            "strength_mcg_per_hour",
            raw.strength_mcg_per_hour.is_some(),
            patch_why,
        );
        c.forbid("patches", raw.patches.is_some(), patch_why);
        c.forbid(
            "paracetamol_mg",
            raw.paracetamol_mg.is_some(),
            "paracetamol_mg is per tablet or capsule of a combination product",
        );
        let strength = c
            .positive(
                "strength_mg_per_ml",
                raw.strength_mg_per_ml,
                "mg per mL of the liquid",
            )
            .and_then(|v| c.within("strength_mg_per_ml", v, LimitKind::StrengthMgPerMl))
            .and_then(MgPerMl::new);
        let (ml, doses, times) = match &raw.doses {
            Some(entries) => {
                let kind = doses::AmountKind::Ml {
                    strength_mg_per_ml: strength.map(MgPerMl::get),
                    max: reference.limit(LimitKind::MlPerDose).max,
                };
                let times = timed(&mut c, raw, entries, kind, as_needed);
                let ml = times.as_ref().and_then(|t| Ml::new(t.mean()));
                let n = times.as_ref().and_then(count_per_day);
                (ml, n, times.map(Some))
            }
            None => {
                let ml = c
                    .positive("ml_per_dose", raw.ml_per_dose, "mL a dose")
                    .and_then(|v| c.within("ml_per_dose", v, LimitKind::MlPerDose))
                    .and_then(Ml::new);
                let n = doses_per_day(&mut c, raw.doses_per_day, as_needed);
                (ml, n, Some(None))
            }
        };
        match (strength, ml, doses, times) {
            (Some(strength), Some(ml_per_dose), Some(doses_per_day), Some(times)) => {
                Some(Dose::Liquid {
                    release: release.unwrap_or_default(),
                    strength,
                    ml_per_dose,
                    doses_per_day,
                    as_needed,
                    times,
                })
            }
            _ => None,
        }
    } else {
        let patch_why = "only for patches (route \"transdermal\")";
        c.forbid(
            "strength_mcg_per_hour",
            raw.strength_mcg_per_hour.is_some(),
            patch_why,
        );
        c.forbid("patches", raw.patches.is_some(), patch_why);
        let liquid_why = "only for liquids (form \"solution\"); tablets and capsules use strength_mg and units_per_dose";
        c.forbid(
            "strength_mg_per_ml",
            raw.strength_mg_per_ml.is_some(),
            liquid_why,
        );
        c.forbid("ml_per_dose", raw.ml_per_dose.is_some(), liquid_why);
        let what = match form {
            Some(Form::Capsule) => "mg of opioid per capsule",
            _ => "mg of opioid per tablet",
        };
        let strength = c
            .positive("strength_mg", raw.strength_mg, what)
            .and_then(|v| c.within("strength_mg", v, LimitKind::StrengthMg))
            .and_then(Mg::new);
        let (units, doses, times) = match &raw.doses {
            Some(entries) => {
                let kind = doses::AmountKind::Units {
                    strength_mg: strength.map(Mg::get),
                    max: reference.limit(LimitKind::UnitsPerDose).max,
                };
                let times = timed(&mut c, raw, entries, kind, as_needed);
                let units = times.as_ref().and_then(|t| UnitsPerDose::new(t.mean()));
                let n = times.as_ref().and_then(count_per_day);
                (units, n, times.map(Some))
            }
            None => {
                let units = match raw.units_per_dose {
                    None => UnitsPerDose::new(1.0),
                    Some(u) => c
                        .positive("units_per_dose", Some(u), "tablets or capsules a dose")
                        .and_then(|v| c.within("units_per_dose", v, LimitKind::UnitsPerDose))
                        .and_then(UnitsPerDose::new),
                };
                let n = doses_per_day(&mut c, raw.doses_per_day, as_needed);
                (units, n, Some(None))
            }
        };
        let paracetamol = match raw.paracetamol_mg {
            None => Some(None),
            Some(p) => c
                .positive("paracetamol_mg", Some(p), "paracetamol mg per tablet")
                .and_then(Mg::new)
                .map(Some),
        };
        let solid_form = match form {
            Some(Form::Tablet) => Some(SolidForm::Tablet),
            Some(Form::Capsule) => Some(SolidForm::Capsule),
            _ => None,
        };
        match (strength, units, doses, paracetamol, times) {
            (
                Some(strength),
                Some(units_per_dose),
                Some(doses_per_day),
                Some(paracetamol),
                Some(times),
            ) => Some(Dose::Solid {
                form: solid_form,
                release: release.unwrap_or_default(),
                strength,
                units_per_dose,
                doses_per_day,
                as_needed,
                paracetamol_per_unit: paracetamol,
                times,
            }),
            _ => None,
        }
    };

    let what = match (is_patch, is_liquid) {
        (true, _) => "patches supplied at each issue",
        (_, true) => "mL supplied at each issue",
        _ => "tablets or capsules supplied at each issue",
    };
    let quantity_per_issue = match raw.quantity_per_issue {
        None => Some(None),
        Some(q) => c
            .positive("quantity_per_issue", Some(q), what)
            .and_then(|v| c.within("quantity_per_issue", v, LimitKind::QuantityPerIssue))
            .and_then(QuantityPerIssue::new)
            .map(Some),
    };

    if errors.len() > before {
        return None;
    }
    let item = Item {
        drug: drug?,
        route: route?,
        dose: dose?,
        quantity_per_issue: quantity_per_issue?,
    };

    // The per-item OME limit needs the profile's factor; unconvertible items
    // have no OME and are bounded by the amount limits above instead.
    if let Some(ome) = crate::ome::convert_item(&item, profile, reference).ome() {
        let limit = reference.limit(LimitKind::ItemOmeMgPerDay);
        if ome.get() > limit.max {
            errors.push(FieldError::new(
                path,
                format!(
                    "{} mg oral morphine equivalent a day from one item is implausible (more than {} {}); check the strength and the amounts",
                    num(ome.get()),
                    num(limit.max),
                    limit.unit
                ),
            ));
            return None;
        }
    }
    Some(item)
}

/// Checks an item's `doses` (a dose per time of day) and the fields it replaces.
fn timed(
    c: &mut Checker<'_>,
    raw: &RawItem,
    entries: &[RawTimedDose],
    kind: doses::AmountKind,
    as_needed: bool,
) -> Option<DoseTimes> {
    let (per_dose, present) = match kind {
        doses::AmountKind::Units { .. } => ("units_per_dose", raw.units_per_dose.is_some()),
        doses::AmountKind::Ml { .. } => ("ml_per_dose", raw.ml_per_dose.is_some()),
    };
    c.forbid(per_dose, present, "doses gives the amount at each time");
    if as_needed {
        c.err(
            "doses",
            format!(
                "as-needed doses have no fixed times; give {per_dose} and doses_per_day (the most a day) instead"
            ),
        );
        return None;
    }
    let max_times = c.reference.limit(LimitKind::DosesPerDay).max;
    let path = join_path(c.path, "doses");
    let times = doses::validate_doses(entries, &path, kind, max_times, c.errors)?;
    if let Some(n) = raw.doses_per_day {
        // Count of a short list: exact.
        #[allow(clippy::cast_precision_loss)]
        let count = times.count() as f64;
        if n != count {
            c.err(
                "doses_per_day",
                format!(
                    "doses gives {} a day, but doses_per_day is {}; leave doses_per_day out",
                    times.count(),
                    num(n)
                ),
            );
            return None;
        }
    }
    Some(times)
}

/// Doses a day of timed doses: their count.
fn count_per_day(times: &DoseTimes) -> Option<DosesPerDay> {
    // Count of a short list: exact.
    #[allow(clippy::cast_precision_loss)]
    let n = times.count() as f64;
    DosesPerDay::new(n)
}

fn doses_per_day(c: &mut Checker<'_>, value: Option<f64>, as_needed: bool) -> Option<DosesPerDay> {
    let what = if as_needed {
        "the most doses allowed a day"
    } else {
        "doses a day"
    };
    c.positive("doses_per_day", value, what)
        .and_then(|v| c.within("doses_per_day", v, LimitKind::DosesPerDay))
        .and_then(DosesPerDay::new)
}

/// Message for an unknown drug: a combination or brand name points to its
/// opioid; otherwise the nearest accepted names, or all of them.
fn unknown_drug_message(name: &str, reference: &Reference) -> String {
    let wanted = name.trim().to_lowercase();
    for p in &reference.products.rows {
        if let Some(c) = &p.combination {
            if c.name.to_lowercase() == wanted {
                return format!(
                    "'{name}' is a combination product: enter its opioid, drug \"{}\", with paracetamol_mg per tablet",
                    p.drug
                );
            }
        }
        if p.brand_examples.iter().any(|b| b.to_lowercase() == wanted) {
            return format!(
                "'{name}' is a brand of {drug}: enter drug \"{drug}\"",
                drug = p.drug
            );
        }
    }
    let known = reference.known_drugs();
    match nearest(&wanted, known.iter().map(String::as_str)).as_slice() {
        [] => format!("unknown drug '{name}' (accepted: {})", known.join(", ")),
        close => format!(
            "unknown drug '{name}' (did you mean {}?)",
            close.join(" or ")
        ),
    }
}

fn unknown_word<const N: usize>(what: &str, got: &str, accepted: [&str; N]) -> String {
    match nearest(&got.trim().to_lowercase(), accepted.iter().copied()).as_slice() {
        [] => format!("unknown {what} '{got}' (accepted: {})", list(accepted)),
        close => format!(
            "unknown {what} '{got}' (did you mean {}? accepted: {})",
            close.join(" or "),
            list(accepted)
        ),
    }
}

fn list<const N: usize>(words: [&str; N]) -> String {
    words.join(", ")
}

/// The candidates closest to `word` by edit distance, if close enough to be a
/// plausible typo (at most a third of the word's length, and at least 2 edits allowed).
pub(crate) fn nearest<'a>(word: &str, candidates: impl Iterator<Item = &'a str>) -> Vec<String> {
    let allowed = (word.chars().count() / 3).max(2);
    let mut scored: Vec<(usize, &str)> = candidates
        .map(|c| (levenshtein(word, c), c))
        .filter(|(d, _)| *d <= allowed)
        .collect();
    let Some(best) = scored.iter().map(|(d, _)| *d).min() else {
        return Vec::new();
    };
    scored.retain(|(d, _)| *d == best);
    scored
        .into_iter()
        .map(|(_, c)| c.to_string())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// Levenshtein edit distance over characters (strsim, already built in for clap).
pub(crate) fn levenshtein(a: &str, b: &str) -> usize {
    strsim::levenshtein(a, b)
}

/// Formats a number for people: no trailing zeros, at most 3 decimals.
pub fn num(v: f64) -> String {
    if !v.is_finite() {
        return v.to_string();
    }
    // Nearly every number shown has at most three decimals (60, 2.5, 0.125):
    // written from integers, without exact float formatting (a tenth of a
    // case-finding import's CPU time went there, issue 16). When v × 1000 is
    // a whole number, v is within 1e-13 of that many thousandths, far from
    // any rounding boundary, so this gives exactly what `{:.3}` gives;
    // `num_fast_path_matches_the_general_one` checks it.
    let thousandths = v * 1000.0;
    if thousandths.abs() < 1e15 && thousandths == thousandths.trunc() {
        let n = thousandths as i64;
        let (int, frac) = (n.unsigned_abs() / 1000, n.unsigned_abs() % 1000);
        let mut out = String::with_capacity(12);
        if n < 0 {
            out.push('-');
        }
        out.push_str(&int.to_string());
        if frac != 0 {
            let digits = format!("{frac:03}");
            out.push('.');
            out.push_str(digits.trim_end_matches('0'));
        }
        return out;
    }
    num_general(v)
}

/// [`num`] for any finite number: three decimals, trailing zeros dropped.
fn num_general(v: f64) -> String {
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".to_string()
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn num_fast_path_matches_the_general_one() {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut values: Vec<f64> = vec![
            0.0,
            -0.0,
            1.0,
            -1.0,
            0.5,
            0.125,
            0.1,
            0.2,
            0.3,
            2.5,
            60.0,
            90.0,
            120.0,
            0.001,
            -0.001,
            0.0005,
            0.0015,
            1e-7,
            999.9995,
            123_456.789,
            1e14,
            -2.75,
            7.0 / 3.0,
        ];
        for _ in 0..200_000 {
            let r = next();
            values.push(match r % 4 {
                // Thousandths, as doses and totals mostly are.
                0 => (r >> 8) as f64 % 10_000_000.0 / 1000.0,
                1 => ((r >> 8) as f64 % 100_000.0) / 8.0,
                2 => f64::from_bits(r) % 1e6,
                _ => (r >> 11) as f64 / (1u64 << 53) as f64 * 1000.0 - 500.0,
            });
        }
        for v in values.into_iter().filter(|v| v.is_finite()) {
            let general = num_general(v);
            let general = if general == "-0" {
                "0".to_string()
            } else {
                general
            };
            assert_eq!(num(v), general, "{v:e}");
        }
    }
    use crate::reference::reference;

    fn validate(json: &str) -> Result<Regimen, RegimenError> {
        regimen_from_json(json, Profile::Uk, reference())
    }

    fn messages(json: &str) -> Vec<String> {
        match validate(json) {
            Ok(_) => panic!("expected errors for {json}"),
            Err(e) => e.to_string().lines().map(str::to_string).collect(),
        }
    }

    #[test]
    fn contract_examples_validate() {
        let json = r#"{"items": [
            {"drug": "morphine", "route": "oral", "release": "modified", "strength_mg": 30, "units_per_dose": 1, "doses_per_day": 2},
            {"drug": "oxycodone", "route": "oral", "release": "immediate", "strength_mg": 5, "units_per_dose": 1, "doses_per_day": 4, "as_needed": true},
            {"drug": "codeine", "route": "oral", "strength_mg": 30, "units_per_dose": 2, "doses_per_day": 4, "paracetamol_mg": 500},
            {"drug": "morphine", "route": "oral", "form": "solution", "strength_mg_per_ml": 2, "ml_per_dose": 5, "doses_per_day": 4, "as_needed": true},
            {"drug": "fentanyl", "route": "transdermal", "strength_mcg_per_hour": 25, "patches": 1},
            {"drug": "buprenorphine", "route": "transdermal", "strength_mcg_per_hour": 10, "patches": 1}
        ]}"#;
        let r = validate(json).unwrap();
        assert_eq!(r.items.len(), 6);
        assert!(matches!(
            r.items[3].dose,
            Dose::Liquid {
                as_needed: true,
                ..
            }
        ));
        assert!(matches!(r.items[4].dose, Dose::Patch { .. }));
        assert_eq!(r.items[0].dose.release(), Some(Release::Modified));
        assert_eq!(r.items[2].dose.release(), Some(Release::Immediate));
    }

    #[test]
    fn negative_strength_is_named_with_its_path() {
        let m = messages(
            r#"{"items": [{"drug": "morphine", "route": "oral", "strength_mg": 10, "doses_per_day": 2},
                           {"drug": "morphine", "route": "oral", "strength_mg": -5, "doses_per_day": 2}]}"#,
        );
        assert_eq!(m, ["items[1].strength_mg: must be greater than 0 (got -5)"]);
    }

    #[test]
    fn every_problem_is_reported() {
        let m = messages(
            r#"{"items": [{"drug": "morphin", "route": "orl", "strength_mg": 0, "doses_per_day": 40, "colour": "red"}]}"#,
        );
        let all = m.join("\n");
        assert!(all.contains("items[0].colour: unknown field"), "{all}");
        assert!(
            all.contains("items[0].drug: unknown drug 'morphin' (did you mean morphine?)"),
            "{all}"
        );
        assert!(
            all.contains("items[0].route: unknown route 'orl' (did you mean oral?"),
            "{all}"
        );
        assert!(
            all.contains("items[0].strength_mg: must be greater than 0 (got 0)"),
            "{all}"
        );
        assert!(
            all.contains(
                "items[0].doses_per_day: more than 12 doses a day is implausible (got 40)"
            ),
            "{all}"
        );
    }

    #[test]
    fn unknown_field_suggests_the_nearest_name() {
        let m = messages(
            r#"{"items": [{"drug": "morphine", "route": "oral", "strenght_mg": 10, "strength_mg": 10, "doses_per_day": 2}]}"#,
        );
        assert_eq!(
            m,
            ["items[0].strenght_mg: unknown field (did you mean strength_mg?)"]
        );
    }

    #[test]
    fn combination_and_brand_names_point_to_the_opioid() {
        let m = messages(
            r#"{"items": [{"drug": "co-codamol", "route": "oral", "strength_mg": 30, "doses_per_day": 4}]}"#,
        );
        assert!(
            m[0].contains("combination product") && m[0].contains("\"codeine\""),
            "{m:?}"
        );
        let m = messages(
            r#"{"items": [{"drug": "Zomorph", "route": "oral", "strength_mg": 30, "doses_per_day": 2}]}"#,
        );
        assert!(m[0].contains("brand of morphine"), "{m:?}");
    }

    #[test]
    fn a_drug_in_neither_profile_lists_accepted_names() {
        let m = messages(
            r#"{"items": [{"drug": "paracetamol", "route": "oral", "strength_mg": 500, "doses_per_day": 4}]}"#,
        );
        assert!(
            m[0].starts_with("items[0].drug: unknown drug 'paracetamol' (accepted: "),
            "{m:?}"
        );
        assert!(
            m[0].contains("morphine") && m[0].contains("hydrocodone"),
            "{m:?}"
        );
    }

    #[test]
    fn cdc_only_drugs_are_accepted_in_both_profiles() {
        let json = r#"{"items": [{"drug": "hydrocodone", "route": "oral", "strength_mg": 10, "doses_per_day": 4}]}"#;
        assert!(regimen_from_json(json, Profile::Cdc, reference()).is_ok());
        assert!(regimen_from_json(json, Profile::Uk, reference()).is_ok());
    }

    #[test]
    fn patch_fields_on_an_oral_item_are_rejected() {
        let m = messages(
            r#"{"items": [{"drug": "morphine", "route": "oral", "strength_mg": 10, "doses_per_day": 2, "patches": 1}]}"#,
        );
        assert_eq!(m.len(), 1);
        assert!(m[0].starts_with("items[0].patches: not used here"), "{m:?}");
    }

    #[test]
    fn oral_fields_on_a_patch_are_rejected() {
        let m = messages(
            r#"{"items": [{"drug": "fentanyl", "route": "transdermal", "strength_mcg_per_hour": 25, "doses_per_day": 1, "release": "modified", "as_needed": true}]}"#,
        );
        let all = m.join("\n");
        assert!(
            all.contains("items[0].doses_per_day: not used here"),
            "{all}"
        );
        assert!(all.contains("items[0].release: not used here"), "{all}");
        assert!(all.contains("items[0].as_needed: a patch"), "{all}");
    }

    #[test]
    fn missing_strength_is_named_for_the_form() {
        let m = messages(
            r#"{"items": [{"drug": "morphine", "route": "oral", "form": "solution", "ml_per_dose": 5, "doses_per_day": 4}]}"#,
        );
        assert_eq!(
            m,
            ["items[0].strength_mg_per_ml: required: mg per mL of the liquid"]
        );
        let m = messages(r#"{"items": [{"drug": "fentanyl", "route": "transdermal"}]}"#);
        assert_eq!(
            m,
            ["items[0].strength_mcg_per_hour: required: micrograms/hour of one patch"]
        );
        let m =
            messages(r#"{"items": [{"drug": "morphine", "route": "oral", "doses_per_day": 2}]}"#);
        assert_eq!(
            m,
            ["items[0].strength_mg: required: mg of opioid per tablet"]
        );
    }

    #[test]
    fn implausible_item_ome_is_rejected() {
        // 200 mg x 4 x 4 = 3,200 mg morphine a day: above the per-item limit.
        let m = messages(
            r#"{"items": [{"drug": "morphine", "route": "oral", "strength_mg": 200, "units_per_dose": 4, "doses_per_day": 4}]}"#,
        );
        assert_eq!(m.len(), 1);
        assert!(
            m[0].starts_with(
                "items[0]: 3200 mg oral morphine equivalent a day from one item is implausible"
            ),
            "{m:?}"
        );
    }

    #[test]
    fn fractional_patch_counts_are_rejected() {
        let m = messages(
            r#"{"items": [{"drug": "fentanyl", "route": "transdermal", "strength_mcg_per_hour": 25, "patches": 1.5}]}"#,
        );
        assert_eq!(
            m,
            ["items[0].patches: must be a whole number of patches (got 1.5)"]
        );
    }

    #[test]
    fn wrong_types_are_reported() {
        let m = messages(
            r#"{"items": [{"drug": 5, "route": "oral", "strength_mg": "30", "doses_per_day": 2, "as_needed": "yes"}]}"#,
        );
        let all = m.join("\n");
        assert!(
            all.contains("items[0].drug: must be a string (got 5)"),
            "{all}"
        );
        assert!(
            all.contains("items[0].strength_mg: must be a number (got \"30\")"),
            "{all}"
        );
        assert!(
            all.contains("items[0].as_needed: must be true or false (got \"yes\")"),
            "{all}"
        );
    }

    #[test]
    fn top_level_shape_is_checked() {
        assert_eq!(
            messages("[]"),
            ["input: must be a JSON object with an \"items\" list (got a list)"]
        );
        assert_eq!(messages("{}"), ["items: required: the list of medicines"]);
        assert_eq!(
            messages(r#"{"items": []}"#),
            ["items: must list at least one medicine"]
        );
        assert_eq!(
            messages(r#"{"items": 3}"#),
            ["items: must be a list of medicines (got 3)"]
        );
        let m = messages(r#"{"items": [], "itemz": 1}"#);
        assert!(
            m.contains(&"itemz: unknown field (did you mean items?)".to_string()),
            "{m:?}"
        );
    }

    #[test]
    fn syntax_errors_give_line_and_column() {
        let e = validate("{\n  \"items\": [,]\n}").unwrap_err();
        match e {
            RegimenError::Syntax { line, column, .. } => assert_eq!((line, column), (2, 13)),
            other => panic!("{other:?}"),
        }
        assert!(validate("{")
            .unwrap_err()
            .to_string()
            .starts_with("input: invalid JSON at line 1, column 1"));
    }

    #[test]
    fn levenshtein_and_nearest() {
        assert_eq!(levenshtein("kitten", "sitting"), 3);
        assert_eq!(levenshtein("", "abc"), 3);
        assert_eq!(
            nearest("oxycodon", ["oxycodone", "codeine"].into_iter()),
            ["oxycodone"]
        );
        assert!(nearest("zzzzzz", ["oxycodone"].into_iter()).is_empty());
    }

    #[test]
    fn numbers_are_formatted_without_trailing_zeros() {
        assert_eq!(num(60.0), "60");
        assert_eq!(num(12.5), "12.5");
        assert_eq!(num(0.1), "0.1");
        assert_eq!(num(-5.0), "-5");
        assert_eq!(num(24.000000000000004), "24");
    }

    #[test]
    fn quantities_reject_non_positive_and_nan() {
        assert!(Mg::new(0.0).is_none());
        assert!(Mg::new(-1.0).is_none());
        assert!(Mg::new(f64::NAN).is_none());
        assert!(McgPerHour::new(f64::INFINITY).is_none());
        assert_eq!(MgPerMl::new(2.0).map(MgPerMl::get), Some(2.0));
        assert!(PatchCount::new(0).is_none());
        assert!(OmeMgPerDay::new(0.0).is_some());
        assert!(OmeMgPerDay::new(-0.1).is_none());
    }

    #[test]
    fn scaled_doubles_doses_and_patches() {
        let d = Dose::Patch {
            strength: McgPerHour::new(25.0).unwrap(),
            patches: PatchCount::new(1).unwrap(),
        };
        assert!(matches!(d.scaled(2.0), Some(Dose::Patch { patches, .. }) if patches.get() == 2));
        assert!(d.scaled(1.5).is_none());
    }

    #[test]
    fn doses_by_time_of_day_make_one_item() {
        let r = validate(
            r#"{"items": [{"drug": "morphine", "route": "oral", "release": "modified", "strength_mg": 30,
                "doses": [{"time": "night", "units": 2}, {"time": "morning", "units": 1}]}]}"#,
        )
        .unwrap();
        let Dose::Solid {
            units_per_dose,
            doses_per_day,
            times: Some(t),
            ..
        } = &r.items[0].dose
        else {
            panic!("{:?}", r.items[0].dose)
        };
        // Mean and count keep every daily-total reader exact: 1.5 x 2 = 3 tablets.
        assert_eq!((units_per_dose.get(), doses_per_day.get()), (1.5, 2.0));
        let got: Vec<(TimeOfDay, f64)> = t.doses().iter().map(|d| (d.time, d.amount())).collect();
        assert_eq!(got, [(TimeOfDay::Morning, 1.0), (TimeOfDay::Night, 2.0)]);
    }

    #[test]
    fn doses_in_mg_are_converted_with_the_strength() {
        let r = validate(
            r#"{"items": [{"drug": "morphine", "route": "oral", "form": "solution", "strength_mg_per_ml": 2,
                "doses": [{"time": "morning", "mg": 5}, {"time": "evening", "ml": 5}]}]}"#,
        )
        .unwrap();
        let t = r.items[0].dose.times().unwrap();
        assert_eq!(t.total(), 7.5);
        assert!(
            matches!(r.items[0].dose, Dose::Liquid { ml_per_dose, .. } if ml_per_dose.get() == 3.75)
        );
    }

    #[test]
    fn dose_time_problems_name_the_entry() {
        let m = messages(
            r#"{"items": [{"drug": "morphine", "route": "oral", "strength_mg": 30, "units_per_dose": 1, "doses_per_day": 3,
                "doses": [{"time": "morning", "units": 1}, {"time": "evnening", "units": 2}, {"time": "morning", "units": 0},
                          {"time": "night"}, {"time": "midday", "units": 1, "mg": 30, "colour": 1}]}]}"#,
        );
        let all = m.join("\n");
        for want in [
            "items[0].doses[4].colour: unknown field",
            "items[0].units_per_dose: not used here: doses gives the amount at each time",
            "items[0].doses[1].time: unknown time of day 'evnening' (did you mean evening?",
            "items[0].doses[2].time: morning is already given at items[0].doses[0]",
            "items[0].doses[2].units: must be greater than 0 (got 0)",
            "items[0].doses[3]: required: the amount at this time (units or mg)",
            "items[0].doses[4].mg: give either units or mg at one time, not both",
        ] {
            assert!(all.contains(want), "{want}\n{all}");
        }
        let m = messages(
            r#"{"items": [{"drug": "morphine", "route": "oral", "strength_mg": 30, "doses_per_day": 3,
                "doses": [{"time": "morning", "units": 1}, {"time": "night", "units": 2}]}]}"#,
        );
        assert_eq!(
            m,
            ["items[0].doses_per_day: doses gives 2 a day, but doses_per_day is 3; leave doses_per_day out"]
        );
        let m = messages(
            r#"{"items": [{"drug": "morphine", "route": "oral", "strength_mg": 10, "doses_per_day": 4, "as_needed": true,
                "doses": [{"time": "morning", "units": 1}]}]}"#,
        );
        assert!(
            m[0].starts_with("items[0].doses: as-needed doses have no fixed times"),
            "{m:?}"
        );
        let m = messages(
            r#"{"items": [{"drug": "fentanyl", "route": "transdermal", "strength_mcg_per_hour": 25, "doses": []}]}"#,
        );
        assert!(m[0].starts_with("items[0].doses: not used here"), "{m:?}");
        let m = messages(
            r#"{"items": [{"drug": "morphine", "route": "oral", "form": "solution", "strength_mg_per_ml": 2,
                "doses": [{"time": 8, "units": 1}], "ml_per_dose": 5}]}"#,
        );
        let all = m.join("\n");
        assert!(
            all.contains("items[0].doses[0].time: must be a string (got 8)"),
            "{all}"
        );
        assert!(
            all.contains("items[0].doses[0].units: not used here: units are for tablets"),
            "{all}"
        );
        assert!(all.contains("items[0].ml_per_dose: not used here"), "{all}");
        assert_eq!(
            messages(r#"{"items": [{"drug": "morphine", "route": "oral", "strength_mg": 30, "doses": []}]}"#),
            ["items[0].doses: must list at least one time, e.g. [{\"time\": \"morning\", \"units\": 1}]"]
        );
        let m = messages(
            r#"{"items": [{"drug": "morphine", "route": "oral", "strength_mg": 30, "doses": [{"time": "night", "units": 40}]}]}"#,
        );
        assert!(
            m[0].starts_with("items[0].doses[0].units: more than"),
            "{m:?}"
        );
    }

    #[test]
    fn timed_doses_round_trip_and_scale_by_amount() {
        let raw: RawRegimen = serde_json::from_str(
            r#"{"items": [{"drug": "morphine", "route": "oral", "strength_mg": 30, "doses": [{"time": "morning", "units": 1}, {"time": "night", "units": 2}]}]}"#,
        )
        .unwrap();
        let back = serde_json::to_string(&raw).unwrap();
        assert_eq!(
            back,
            r#"{"items":[{"drug":"morphine","route":"oral","strength_mg":30.0,"doses":[{"time":"morning","units":1.0},{"time":"night","units":2.0}]}]}"#
        );
        let r = Regimen::from_raw(&raw, Profile::Uk, reference()).unwrap();
        let d = r.items[0].dose.scaled(2.0).unwrap();
        let t = d.times().unwrap();
        assert_eq!(t.total(), 6.0);
        assert!(
            matches!(d, Dose::Solid { doses_per_day, units_per_dose, .. } if doses_per_day.get() == 2.0 && units_per_dose.get() == 3.0)
        );
    }

    #[test]
    fn raw_regimen_round_trips_and_rejects_unknown_fields() {
        let raw: RawRegimen = serde_json::from_str(
            r#"{"items": [{"drug": "morphine", "route": "oral", "strength_mg": 10, "doses_per_day": 2}]}"#,
        )
        .unwrap();
        assert!(Regimen::from_raw(&raw, Profile::Uk, reference()).is_ok());
        assert!(serde_json::from_str::<RawRegimen>(r#"{"items": [{"drgu": "x"}]}"#).is_err());
        let back = serde_json::to_string(&raw).unwrap();
        assert_eq!(
            back,
            r#"{"items":[{"drug":"morphine","route":"oral","strength_mg":10.0,"doses_per_day":2.0}]}"#
        );
    }
}
