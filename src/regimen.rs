//! Regimen items as entered ([`RawItem`], the shared input model of every
//! command: `docs/cli.md`, "Regimen items") and their validation into the
//! typed regimen of [`crate::item`]. The vocabulary (route, release, form)
//! is [`crate::vocabulary`]'s, the quantities [`crate::quantity`]'s, the
//! field errors [`crate::input`]'s.
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

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use ts_rs::TS;

use crate::input::{check_fields, describe, join_path, parse_json, FieldError, InputError};
use crate::item::doses;
use crate::item::{Dose, DoseTimes, Drug, Item, RawTimedDose, Regimen};
use crate::profile::Profile;
use crate::quantity::{
    DosesPerDay, McgPerHour, Mg, MgPerMl, Ml, PatchCount, QuantityPerIssue, UnitsPerDose,
};
use crate::reference::{LimitKind, Reference};
use crate::vocabulary::{nearest, num, Form, Release, Route, SolidForm};

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
    /// Oxycodone with naloxone (Targinact and generics): naloxone mg per
    /// tablet (10 in 20 mg/10 mg). Adds no OME; keeps the product in the plan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub naloxone_mg: Option<f64>,
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
    pub const FIELDS: [&'static str; 16] = [
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
        "naloxone_mg",
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
// Parsing JSON with field paths
// ---------------------------------------------------------------------------

/// Reads and validates the `stepdown ome` input `{"items": [...]}` from JSON text.
pub fn regimen_from_json(
    text: &str,
    profile: Profile,
    reference: &Reference,
) -> Result<Regimen, InputError> {
    let value = parse_json(text)?;
    let mut errors = Vec::new();
    let Some(obj) = value.as_object() else {
        return Err(InputError::Invalid(vec![FieldError::new(
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
        return Err(InputError::Invalid(errors));
    };
    match validate_slots(&slots, "items", profile, reference) {
        Ok(regimen) if errors.is_empty() => Ok(regimen),
        Ok(_) => Err(InputError::Invalid(errors)),
        Err(mut more) => {
            errors.append(&mut more);
            Err(InputError::Invalid(errors))
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
    raw.naloxone_mg = number("naloxone_mg", errors);
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
    ) -> Result<Regimen, InputError> {
        Regimen::validate(&raw.items, "items", profile, reference).map_err(InputError::Invalid)
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
                    Route::ALL.map(Route::as_str).join(", ")
                ),
            );
            None
        }
        Some(s) => match Route::parse(s) {
            Some(r) => Some(r),
            None => {
                c.err("route", Route::unknown(s));
                None
            }
        },
    };

    let release = match raw.release.as_deref() {
        None => None,
        Some(s) => match Release::parse(s) {
            Some(r) => Some(r),
            None => {
                c.err("release", Release::unknown(s));
                None
            }
        },
    };

    let form = match raw.form.as_deref() {
        None => None,
        Some(s) => match Form::parse(s) {
            Some(f) => Some(f),
            None => {
                c.err("form", Form::unknown(s));
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
            "naloxone_mg",
            raw.naloxone_mg.is_some(),
            "naloxone_mg is per tablet of oxycodone with naloxone (Targinact); no patch contains it",
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
        c.forbid(
            "naloxone_mg",
            raw.naloxone_mg.is_some(),
            "naloxone_mg is per tablet of oxycodone with naloxone (Targinact); no UK liquid contains it",
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
        let naloxone = match raw.naloxone_mg {
            None => Some(None),
            Some(_) if raw.paracetamol_mg.is_some() => {
                c.err(
                    "naloxone_mg",
                    "no UK product has both paracetamol and naloxone; give paracetamol_mg for a combination with paracetamol (co-codamol) or naloxone_mg for oxycodone with naloxone (Targinact), not both",
                );
                None
            }
            Some(n) => c
                .positive("naloxone_mg", Some(n), "naloxone mg per tablet")
                .and_then(|v| c.within("naloxone_mg", v, LimitKind::StrengthMg))
                .and_then(Mg::new)
                .map(Some),
        };
        let solid_form = match form {
            Some(Form::Tablet) => Some(SolidForm::Tablet),
            Some(Form::Capsule) => Some(SolidForm::Capsule),
            _ => None,
        };
        match (strength, units, doses, (paracetamol, naloxone), times) {
            (
                Some(strength),
                Some(units_per_dose),
                Some(doses_per_day),
                (Some(paracetamol), Some(naloxone)),
                Some(times),
            ) => Some(Dose::Solid {
                form: solid_form,
                release: release.unwrap_or_default(),
                strength,
                units_per_dose,
                doses_per_day,
                as_needed,
                paracetamol_per_unit: paracetamol,
                naloxone_per_unit: naloxone,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::item::TimeOfDay;
    use crate::quantity::OmeMgPerDay;
    use crate::reference::reference;

    fn validate(json: &str) -> Result<Regimen, InputError> {
        regimen_from_json(json, Profile::Uk, reference())
    }

    fn messages(json: &str) -> Vec<String> {
        match validate(json) {
            Ok(_) => panic!("expected errors for {json}"),
            Err(e) => e.to_string().lines().map(str::to_string).collect(),
        }
    }

    #[test]
    fn naloxone_is_kept_per_tablet_and_refused_where_it_cannot_be() {
        let r = validate(
            r#"{"items": [{"drug": "oxycodone", "route": "oral", "release": "modified", "strength_mg": 20, "naloxone_mg": 10, "doses_per_day": 2}]}"#,
        )
        .unwrap();
        assert!(matches!(
            r.items[0].dose,
            Dose::Solid { naloxone_per_unit: Some(n), paracetamol_per_unit: None, .. } if n.get() == 10.0
        ));
        let cases = [
            (
                r#"{"drug": "oxycodone", "route": "oral", "release": "modified", "strength_mg": 20, "naloxone_mg": -10, "doses_per_day": 2}"#,
                "items[0].naloxone_mg: must be greater than 0 (got -10)",
            ),
            (
                r#"{"drug": "oxycodone", "route": "oral", "release": "modified", "strength_mg": 20, "naloxone_mg": "10", "doses_per_day": 2}"#,
                "items[0].naloxone_mg: must be a number (got \"10\")",
            ),
            (
                r#"{"drug": "codeine", "route": "oral", "strength_mg": 30, "paracetamol_mg": 500, "naloxone_mg": 10, "doses_per_day": 2}"#,
                "items[0].naloxone_mg: no UK product has both paracetamol and naloxone",
            ),
            (
                r#"{"drug": "fentanyl", "route": "transdermal", "strength_mcg_per_hour": 25, "naloxone_mg": 10}"#,
                "items[0].naloxone_mg: not used here",
            ),
            (
                r#"{"drug": "oxycodone", "route": "oral", "form": "solution", "strength_mg_per_ml": 1, "ml_per_dose": 5, "doses_per_day": 4, "naloxone_mg": 5}"#,
                "items[0].naloxone_mg: not used here",
            ),
        ];
        for (item, want) in cases {
            let m = messages(&format!(r#"{{"items": [{item}]}}"#));
            assert!(m.iter().any(|l| l.starts_with(want)), "{item}: {m:?}");
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
            InputError::Syntax { line, column, .. } => assert_eq!((line, column), (2, 13)),
            other => panic!("{other:?}"),
        }
        assert!(validate("{")
            .unwrap_err()
            .to_string()
            .starts_with("input: invalid JSON at line 1, column 1"));
    }

    #[test]
    fn nearest_names_a_likely_typo() {
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
