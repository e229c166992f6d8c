//! Doses that differ by time of day: one regimen item with a dose per
//! administration time ("30 mg in the morning and 60 mg at night"; "one tablet
//! in the morning, two at night").
//!
//! In the input an item may give `doses`, a list of `{"time", "units" | "ml" | "mg"}`,
//! instead of `units_per_dose` (tablets, capsules) or `ml_per_dose` (liquids) and
//! `doses_per_day`. The old fields keep working unchanged.
//!
//! The typed item keeps the per-time amounts ([`DoseTimes`]) and, so that every
//! reader of the daily total stays correct without knowing about times, its
//! `units_per_dose` / `ml_per_dose` is their mean and `doses_per_day` their count
//! (mean × count = the exact daily amount).

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use ts_rs::TS;

use crate::input::{describe, join_path, FieldError};
use crate::vocabulary::{nearest, num};

/// A named time of day at which a dose is taken, earliest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
#[ts(export)]
pub enum TimeOfDay {
    /// On waking, in the morning, with breakfast ("mane").
    Morning,
    /// Midday, lunchtime.
    Midday,
    /// Teatime, late afternoon.
    Teatime,
    /// Evening, with the evening meal.
    Evening,
    /// Night, bedtime ("nocte").
    Night,
}

impl TimeOfDay {
    /// Every time, earliest first.
    pub const ALL: [TimeOfDay; 5] = [
        TimeOfDay::Morning,
        TimeOfDay::Midday,
        TimeOfDay::Teatime,
        TimeOfDay::Evening,
        TimeOfDay::Night,
    ];

    /// Lower-case name as used in JSON and shown to people.
    pub fn as_str(self) -> &'static str {
        match self {
            TimeOfDay::Morning => "morning",
            TimeOfDay::Midday => "midday",
            TimeOfDay::Teatime => "teatime",
            TimeOfDay::Evening => "evening",
            TimeOfDay::Night => "night",
        }
    }

    /// Parses the JSON name (case-insensitive); "bedtime" and "lunchtime" are
    /// accepted for night and midday because the plan and UK labels use them.
    pub fn parse(s: &str) -> Option<TimeOfDay> {
        let s = s.trim().to_ascii_lowercase();
        match s.as_str() {
            "bedtime" => Some(TimeOfDay::Night),
            "lunchtime" => Some(TimeOfDay::Midday),
            _ => TimeOfDay::ALL.into_iter().find(|t| t.as_str() == s),
        }
    }
}

impl fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One dose at one time of day, as entered (the contract's `doses[]` object).
///
/// Exactly one amount: `units` (tablets or capsules of the item's `strength_mg`),
/// `ml` (of a liquid item), or `mg` (converted with the item's strength).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
#[ts(export, optional_fields)]
pub struct RawTimedDose {
    /// `morning`, `midday`, `teatime`, `evening` or `night` (required).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(as = "Option<TimeOfDay>")]
    pub time: Option<String>,
    /// Tablets or capsules at this time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub units: Option<f64>,
    /// mL of a liquid at this time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ml: Option<f64>,
    /// mg of opioid at this time (instead of `units` or `ml`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mg: Option<f64>,
}

impl RawTimedDose {
    /// The accepted field names.
    pub const FIELDS: [&'static str; 4] = ["time", "units", "ml", "mg"];
}

/// The amount at one time: tablets or capsules (solids) or mL (liquids).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TimedAmount {
    /// When.
    pub time: TimeOfDay,
    /// Units (solids) or mL (liquids); finite and greater than zero.
    amount: f64,
}

impl TimedAmount {
    /// The amount, or `None` unless it is finite and greater than zero.
    pub fn new(time: TimeOfDay, amount: f64) -> Option<TimedAmount> {
        (amount.is_finite() && amount > 0.0).then_some(TimedAmount { time, amount })
    }

    /// Units (solids) or mL (liquids).
    pub fn amount(self) -> f64 {
        self.amount
    }
}

/// The doses of one item by time of day: at least one, each time once, earliest first.
#[derive(Debug, Clone, PartialEq)]
pub struct DoseTimes(Vec<TimedAmount>);

impl DoseTimes {
    /// The doses in time order, or `None` if there are none or a time repeats.
    pub fn new(mut doses: Vec<TimedAmount>) -> Option<DoseTimes> {
        doses.sort_by_key(|d| d.time);
        let repeated = doses.windows(2).any(|w| w[0].time == w[1].time);
        (!doses.is_empty() && !repeated).then_some(DoseTimes(doses))
    }

    /// The doses, earliest first.
    pub fn doses(&self) -> &[TimedAmount] {
        &self.0
    }

    /// How many times a day.
    pub fn count(&self) -> usize {
        self.0.len()
    }

    /// Sum of the amounts (units or mL a day).
    pub fn total(&self) -> f64 {
        self.0.iter().map(|d| d.amount).sum()
    }

    /// Mean amount a dose (what `units_per_dose` / `ml_per_dose` hold).
    pub fn mean(&self) -> f64 {
        // At most a handful of doses: the conversion is exact.
        #[allow(clippy::cast_precision_loss)]
        let n = self.0.len() as f64;
        self.total() / n
    }

    /// Whether the doses differ between times (otherwise the times only name when).
    pub fn uneven(&self) -> bool {
        self.0.windows(2).any(|w| w[0].amount != w[1].amount)
    }

    /// Every amount multiplied by `factor`, or `None` if one stops being positive.
    pub fn scaled(&self, factor: f64) -> Option<DoseTimes> {
        self.0
            .iter()
            .map(|d| TimedAmount::new(d.time, d.amount * factor))
            .collect::<Option<Vec<_>>>()
            .map(DoseTimes)
    }

    /// The raw form that reads back to these doses (`units` or `ml`).
    pub fn to_raw(&self, liquid: bool) -> Vec<RawTimedDose> {
        self.0
            .iter()
            .map(|d| RawTimedDose {
                time: Some(d.time.as_str().to_string()),
                units: (!liquid).then_some(d.amount),
                ml: liquid.then_some(d.amount),
                mg: None,
            })
            .collect()
    }
}

/// Reads the `doses` list of a raw item, recording unknown fields and wrong types
/// at `items[i].doses[j].<field>`. An entry that is not an object is reported and
/// kept as an empty entry so that the others keep their indexes.
pub(crate) fn raw_doses_from_value(
    value: &Value,
    path: &str,
    errors: &mut Vec<FieldError>,
) -> Option<Vec<RawTimedDose>> {
    let Value::Array(entries) = value else {
        errors.push(FieldError::new(
            path,
            format!(
                "must be a list of {{\"time\", \"units\" | \"ml\" | \"mg\"}} (got {})",
                describe(value)
            ),
        ));
        return None;
    };
    let mut out = Vec::with_capacity(entries.len());
    for (j, entry) in entries.iter().enumerate() {
        let here = format!("{path}[{j}]");
        let Some(obj) = entry.as_object() else {
            errors.push(FieldError::new(
                &here,
                format!("must be an object (got {})", describe(entry)),
            ));
            out.push(RawTimedDose::default());
            continue;
        };
        crate::input::check_fields(obj, &here, &RawTimedDose::FIELDS, errors);
        let mut raw = RawTimedDose::default();
        match obj.get("time") {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) => raw.time = Some(s.clone()),
            Some(other) => errors.push(FieldError::new(
                join_path(&here, "time"),
                format!("must be a string (got {})", describe(other)),
            )),
        }
        for (key, slot) in [
            ("units", &mut raw.units),
            ("ml", &mut raw.ml),
            ("mg", &mut raw.mg),
        ] {
            match obj.get(key) {
                None | Some(Value::Null) => {}
                Some(Value::Number(n)) => *slot = n.as_f64(),
                Some(other) => errors.push(FieldError::new(
                    join_path(&here, key),
                    format!("must be a number (got {})", describe(other)),
                )),
            }
        }
        out.push(raw);
    }
    Some(out)
}

/// What the per-time amounts are counted in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum AmountKind {
    /// Tablets or capsules of `strength_mg` (if the strength is valid).
    Units {
        /// mg per unit, when known.
        strength_mg: Option<f64>,
        /// Most units a dose (reference limit).
        max: f64,
    },
    /// mL of a liquid of `strength_mg_per_ml` (if valid).
    Ml {
        /// mg per mL, when known.
        strength_mg_per_ml: Option<f64>,
        /// Most mL a dose (reference limit).
        max: f64,
    },
}

/// Validates the entries of `doses` at `path` (e.g. `items[0].doses`): a known
/// time, each time once, exactly one positive amount within its limit.
/// Returns the typed doses only if every entry is valid; `max_times` is the
/// most doses a day (reference limit).
pub(crate) fn validate_doses(
    raw: &[RawTimedDose],
    path: &str,
    kind: AmountKind,
    max_times: f64,
    errors: &mut Vec<FieldError>,
) -> Option<DoseTimes> {
    let before = errors.len();
    if raw.is_empty() {
        errors.push(FieldError::new(
            path,
            "must list at least one time, e.g. [{\"time\": \"morning\", \"units\": 1}]",
        ));
        return None;
    }
    // At most a handful of entries: the conversion is exact.
    #[allow(clippy::cast_precision_loss)]
    if raw.len() as f64 > max_times {
        errors.push(FieldError::new(
            path,
            format!(
                "more than {} doses a day is implausible (got {}); check the entry",
                num(max_times),
                raw.len()
            ),
        ));
    }
    let mut typed = Vec::with_capacity(raw.len());
    let mut seen: Vec<(TimeOfDay, usize)> = Vec::new();
    for (j, d) in raw.iter().enumerate() {
        let here = format!("{path}[{j}]");
        let time = match d.time.as_deref() {
            None => {
                errors.push(FieldError::new(
                    join_path(&here, "time"),
                    format!("required (accepted: {})", accepted_times()),
                ));
                None
            }
            Some(s) => match TimeOfDay::parse(s) {
                Some(t) => {
                    if let Some((_, first)) = seen.iter().find(|(u, _)| *u == t) {
                        errors.push(FieldError::new(
                            join_path(&here, "time"),
                            format!(
                                "{t} is already given at {path}[{first}]; give one entry per time with the whole dose"
                            ),
                        ));
                    } else {
                        seen.push((t, j));
                    }
                    Some(t)
                }
                None => {
                    let close = nearest(
                        &s.trim().to_lowercase(),
                        TimeOfDay::ALL.iter().map(|t| t.as_str()),
                    );
                    let hint = if close.is_empty() {
                        String::new()
                    } else {
                        format!("did you mean {}? ", close.join(" or "))
                    };
                    errors.push(FieldError::new(
                        join_path(&here, "time"),
                        format!(
                            "unknown time of day '{s}' ({hint}accepted: {})",
                            accepted_times()
                        ),
                    ));
                    None
                }
            },
        };
        let amount = amount_of(d, &here, kind, errors);
        if let (Some(time), Some(amount)) = (time, amount) {
            typed.extend(TimedAmount::new(time, amount));
        }
    }
    if errors.len() > before {
        return None;
    }
    DoseTimes::new(typed)
}

fn accepted_times() -> String {
    TimeOfDay::ALL
        .iter()
        .map(|t| t.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The one amount of an entry, in units or mL.
fn amount_of(
    d: &RawTimedDose,
    here: &str,
    kind: AmountKind,
    errors: &mut Vec<FieldError>,
) -> Option<f64> {
    let (own, own_name, other, other_name, per_mg, max, unit) = match kind {
        AmountKind::Units { strength_mg, max } => (
            d.units,
            "units",
            d.ml,
            "ml",
            strength_mg,
            max,
            "tablets or capsules",
        ),
        AmountKind::Ml {
            strength_mg_per_ml,
            max,
        } => (d.ml, "ml", d.units, "units", strength_mg_per_ml, max, "mL"),
    };
    if other.is_some() {
        let why = match kind {
            AmountKind::Units { .. } => {
                "mL is only for liquids (form \"solution\"); give units or mg"
            }
            AmountKind::Ml { .. } => "units are for tablets and capsules; give ml or mg",
        };
        errors.push(FieldError::new(
            join_path(here, other_name),
            format!("not used here: {why}"),
        ));
        return None;
    }
    let positive = |field: &str, v: f64, errors: &mut Vec<FieldError>| -> Option<f64> {
        if v.is_finite() && v > 0.0 {
            Some(v)
        } else {
            errors.push(FieldError::new(
                join_path(here, field),
                format!("must be greater than 0 (got {})", num(v)),
            ));
            None
        }
    };
    let amount = match (own, d.mg) {
        (Some(_), Some(_)) => {
            errors.push(FieldError::new(
                join_path(here, "mg"),
                format!("give either {own_name} or mg at one time, not both"),
            ));
            return None;
        }
        (None, None) => {
            errors.push(FieldError::new(
                here,
                format!("required: the amount at this time ({own_name} or mg)"),
            ));
            return None;
        }
        (Some(v), None) => positive(own_name, v, errors)?,
        (None, Some(mg)) => {
            let mg = positive("mg", mg, errors)?;
            // Without a valid strength the strength field's own error says why.
            let per = per_mg?;
            mg / per
        }
    };
    if amount > max {
        let field = if own.is_some() { own_name } else { "mg" };
        errors.push(FieldError::new(
            join_path(here, field),
            format!(
                "more than {} {unit} at one time is implausible (got {}); check the entry",
                num(max),
                num(amount)
            ),
        ));
        return None;
    }
    Some(amount)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_with_aliases_and_sort() {
        assert_eq!(TimeOfDay::parse(" Night "), Some(TimeOfDay::Night));
        assert_eq!(TimeOfDay::parse("bedtime"), Some(TimeOfDay::Night));
        assert_eq!(TimeOfDay::parse("lunchtime"), Some(TimeOfDay::Midday));
        assert_eq!(TimeOfDay::parse("dinner"), None);
        let d = DoseTimes::new(vec![
            TimedAmount::new(TimeOfDay::Night, 2.0).unwrap(),
            TimedAmount::new(TimeOfDay::Morning, 1.0).unwrap(),
        ])
        .unwrap();
        assert_eq!(d.doses()[0].time, TimeOfDay::Morning);
        assert_eq!((d.count(), d.total(), d.mean()), (2, 3.0, 1.5));
        assert!(d.uneven());
        assert!(DoseTimes::new(vec![]).is_none());
        assert!(DoseTimes::new(vec![
            TimedAmount::new(TimeOfDay::Night, 2.0).unwrap(),
            TimedAmount::new(TimeOfDay::Night, 1.0).unwrap(),
        ])
        .is_none());
        assert!(TimedAmount::new(TimeOfDay::Night, 0.0).is_none());
    }
}
