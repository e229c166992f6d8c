//! The `stepdown plan` input: items, start date, taper options and pauses;
//! read from JSON with a field path on every problem (unknown fields
//! rejected), defaults and presets filled in from the reference table.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use ts_rs::TS;

use crate::input::{check_fields, parse_json, FieldError, InputError};
use crate::profile::Profile;
use crate::reference::Reference;
use crate::regimen::{raw_items_at, validate_slots, RawItem};
use crate::vocabulary::num;

use super::rules::{RangeField, ReductionOf, TaperRules};

/// Which item to reduce: by position in `items`, or every item of a drug.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(untagged)]
#[ts(export)]
pub enum OrderEntry {
    /// Position in the input `items` (0-based).
    Item(u32),
    /// Every item of this drug (modified-release ones first).
    Drug(String),
}

/// A pause: an extra step at the same dose after a given step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
#[ts(export)]
pub struct Pause {
    /// The pause follows this step, counting the steps of the plan as it
    /// would be without pauses (so pauses do not renumber each other).
    pub after_step: u32,
    /// Length of the pause in days.
    pub days: u32,
}

/// Taper options, with defaults and the preset applied.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
#[ts(export)]
pub struct TaperOptions {
    /// The preset named in the input (`standard`, `gentle`, `faster`), if any.
    pub preset: Option<String>,
    /// Percentage reduced each step (1–50).
    pub reduction_percent: f64,
    /// Of the starting (`original`) or the `current` total.
    pub of: ReductionOf,
    /// Days between reductions (7–84).
    pub interval_days: u32,
    /// Total to reach, mg OME a day: 0 stops; more holds at that dose.
    pub target_ome_mg_per_day: f64,
    /// Slow the last third: longer steps once the total is a third of the start or less.
    pub slow_last_third: bool,
    /// Where the smallest real reduction is bigger than asked (patches, tapentadol),
    /// lengthen that step so the average rate stays as asked.
    pub lengthen_interval: bool,
    /// Reduce these first, in this order; the rest follow in the default order
    /// (modified-release before immediate-release, tramadol last).
    pub order: Vec<OrderEntry>,
    /// Why the rate is faster than a rapid taper (`taper.json` `rapid-taper`):
    /// required then, and stored with the plan.
    #[serde(default)]
    pub reason: Option<String>,
}

/// A validated `stepdown plan` request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
#[ts(export)]
pub struct PlanRequest {
    /// Conversion profile.
    pub profile: Profile,
    /// The regimen, as entered.
    pub items: Vec<RawItem>,
    /// First day of step 1.
    #[ts(as = "String")]
    pub start_date: NaiveDate,
    /// Taper options.
    pub taper: TaperOptions,
    /// Pauses.
    pub pauses: Vec<Pause>,
}

/// The `taper` object as entered: every field optional (the desktop UI's form).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
#[ts(export, optional_fields)]
pub struct RawTaper {
    /// Preset name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preset: Option<String>,
    /// Percentage reduced each step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reduction_percent: Option<f64>,
    /// `original` or `current`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(as = "Option<ReductionOf>")]
    pub of: Option<String>,
    /// Days between reductions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval_days: Option<f64>,
    /// Target total, mg OME a day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_ome_mg_per_day: Option<f64>,
    /// Slow the last third.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slow_last_third: Option<bool>,
    /// Lengthen steps whose smallest real reduction is bigger than asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lengthen_interval: Option<bool>,
    /// Reduction order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<Vec<OrderEntry>>,
    /// Why a rate faster than a rapid taper is chosen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The `stepdown plan` input as entered (the desktop UI's form).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
#[ts(export, optional_fields)]
pub struct RawPlanInput {
    /// The regimen.
    pub items: Vec<RawItem>,
    /// First day, `YYYY-MM-DD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_date: Option<String>,
    /// Taper options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub taper: Option<RawTaper>,
    /// Pauses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pauses: Option<Vec<Pause>>,
}

const TOP_FIELDS: [&str; 4] = ["items", "start_date", "taper", "pauses"];
const TAPER_FIELDS: [&str; 9] = [
    "reason",
    "preset",
    "reduction_percent",
    "of",
    "interval_days",
    "target_ome_mg_per_day",
    "slow_last_third",
    "lengthen_interval",
    "order",
];
const PAUSE_FIELDS: [&str; 2] = ["after_step", "days"];

/// A short description of a JSON value for messages.
pub(crate) fn describe(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "an object".into(),
        Value::String(s) if s.chars().count() > 40 => {
            format!("\"{}…\"", s.chars().take(40).collect::<String>())
        }
        other => other.to_string(),
    }
}

/// Typed reads of one JSON object's fields, recording problems with their paths.
pub(crate) struct Fields<'a> {
    pub obj: &'a Map<String, Value>,
    pub path: &'a str,
}

impl Fields<'_> {
    pub fn at(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    fn present(&self, key: &str) -> Option<&Value> {
        self.obj.get(key).filter(|v| !v.is_null())
    }

    pub fn number(&self, key: &str, errors: &mut Vec<FieldError>) -> Option<f64> {
        match self.present(key)? {
            Value::Number(n) => n.as_f64(),
            other => {
                errors.push(FieldError::new(
                    self.at(key),
                    format!("must be a number (got {})", describe(other)),
                ));
                None
            }
        }
    }

    /// A whole number of at least `min`.
    pub fn whole(&self, key: &str, min: u32, errors: &mut Vec<FieldError>) -> Option<u32> {
        let v = self.number(key, errors)?;
        if v.fract() != 0.0 || v < f64::from(min) || v > f64::from(u32::MAX) {
            errors.push(FieldError::new(
                self.at(key),
                format!("must be a whole number, at least {min} (got {})", num(v)),
            ));
            return None;
        }
        // Whole and in range, checked just above.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let n = v as u32;
        Some(n)
    }

    pub fn string(&self, key: &str, errors: &mut Vec<FieldError>) -> Option<String> {
        match self.present(key)? {
            Value::String(s) => Some(s.clone()),
            other => {
                errors.push(FieldError::new(
                    self.at(key),
                    format!("must be a string (got {})", describe(other)),
                ));
                None
            }
        }
    }

    pub fn boolean(&self, key: &str, errors: &mut Vec<FieldError>) -> Option<bool> {
        match self.present(key)? {
            Value::Bool(b) => Some(*b),
            other => {
                errors.push(FieldError::new(
                    self.at(key),
                    format!("must be true or false (got {})", describe(other)),
                ));
                None
            }
        }
    }

    pub fn list(&self, key: &str, errors: &mut Vec<FieldError>) -> Option<&Vec<Value>> {
        match self.present(key)? {
            Value::Array(a) => Some(a),
            other => {
                errors.push(FieldError::new(
                    self.at(key),
                    format!("must be a list (got {})", describe(other)),
                ));
                None
            }
        }
    }

    pub fn object(&self, key: &str, errors: &mut Vec<FieldError>) -> Option<&Map<String, Value>> {
        match self.present(key)? {
            Value::Object(o) => Some(o),
            other => {
                errors.push(FieldError::new(
                    self.at(key),
                    format!("must be an object (got {})", describe(other)),
                ));
                None
            }
        }
    }
}

/// Reads an order list: item positions (numbers) or drug names (strings).
pub(crate) fn order_entries(
    values: &[Value],
    path: &str,
    errors: &mut Vec<FieldError>,
) -> Vec<OrderEntry> {
    let mut out = Vec::new();
    for (i, v) in values.iter().enumerate() {
        let at = format!("{path}[{i}]");
        match v {
            Value::Number(n) => match n.as_u64().and_then(|x| u32::try_from(x).ok()) {
                Some(x) => out.push(OrderEntry::Item(x)),
                None => errors.push(FieldError::new(
                    at,
                    format!("must be an item position (0, 1, ...) or a drug name (got {n})"),
                )),
            },
            Value::String(s) => out.push(OrderEntry::Drug(s.trim().to_lowercase())),
            other => errors.push(FieldError::new(
                at,
                format!(
                    "must be an item position (0, 1, ...) or a drug name (got {})",
                    describe(other)
                ),
            )),
        }
    }
    out
}

/// Reads and checks a `stepdown plan` request from JSON text.
///
/// Every problem is reported with its field path. The items are validated as
/// `stepdown ome` validates them; taper ranges come from the reference table.
pub fn request_from_json(
    text: &str,
    profile: Profile,
    reference: &Reference,
) -> Result<PlanRequest, InputError> {
    let value = parse_json(text)?;
    request_from_value(&value, profile, reference)
}

/// Reads and checks a request from the desktop UI's form.
pub fn request_from_raw(
    raw: &RawPlanInput,
    profile: Profile,
    reference: &Reference,
) -> Result<PlanRequest, InputError> {
    let value = serde_json::to_value(raw).map_err(|e| {
        InputError::Invalid(vec![FieldError::new("input", format!("unreadable: {e}"))])
    })?;
    request_from_value(&value, profile, reference)
}

/// Reads and checks a request from parsed JSON.
pub fn request_from_value(
    value: &Value,
    profile: Profile,
    reference: &Reference,
) -> Result<PlanRequest, InputError> {
    let rules = TaperRules::of(reference);
    let mut errors = Vec::new();
    let Some(obj) = value.as_object() else {
        return Err(InputError::Invalid(vec![FieldError::new(
            "input",
            format!(
                "must be a JSON object with \"items\", \"start_date\" and optionally \"taper\" and \"pauses\" (got {})",
                describe(value)
            ),
        )]));
    };
    check_fields(obj, "", &TOP_FIELDS, &mut errors);
    let top = Fields { obj, path: "" };

    let slots = raw_items_at(obj, "items", &mut errors);
    let mut items = Vec::new();
    if let Some(slots) = &slots {
        if let Err(mut e) = validate_slots(slots, "items", profile, reference) {
            errors.append(&mut e);
        }
        items = slots.iter().flatten().cloned().collect();
    }

    let start_date = match top.string("start_date", &mut errors) {
        // A null date is as missing as an absent one, and must say so.
        None if obj.get("start_date").is_none_or(Value::is_null) => {
            errors.push(FieldError::new(
                "start_date",
                "required: the first day of the plan, e.g. \"2026-12-01\"",
            ));
            None
        }
        None => None,
        Some(s) => match NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d") {
            Ok(d) => match crate::limits::check_year(d) {
                Ok(()) => Some(d),
                Err(why) => {
                    errors.push(FieldError::new("start_date", why));
                    None
                }
            },
            Err(_) => {
                errors.push(FieldError::new(
                    "start_date",
                    format!("must be a date written YYYY-MM-DD, e.g. \"2026-12-01\" (got \"{s}\")"),
                ));
                None
            }
        },
    };

    let default = rules.default_preset();
    let mut taper = TaperOptions {
        preset: None,
        reduction_percent: default.reduction_percent,
        of: default.of,
        interval_days: default.interval_days,
        target_ome_mg_per_day: 0.0,
        slow_last_third: false,
        lengthen_interval: true,
        order: Vec::new(),
        reason: None,
    };
    if let Some(t) = top.object("taper", &mut errors) {
        check_fields(t, "taper", &TAPER_FIELDS, &mut errors);
        let f = Fields {
            obj: t,
            path: "taper",
        };
        if let Some(name) = f.string("preset", &mut errors) {
            let wanted = name.trim().to_lowercase();
            match rules.preset(&wanted) {
                Some(p) => {
                    taper.preset = Some(p.name.clone());
                    taper.reduction_percent = p.reduction_percent;
                    taper.of = p.of;
                    taper.interval_days = p.interval_days;
                }
                None => {
                    let names: Vec<String> = rules
                        .presets()
                        .map(|p| format!("{} ({})", p.name, p.label))
                        .collect();
                    errors.push(FieldError::new(
                        "taper.preset",
                        format!("unknown preset '{name}' (accepted: {})", names.join("; ")),
                    ));
                }
            }
        }
        if let Some(v) = f.number("reduction_percent", &mut errors) {
            taper.reduction_percent = v;
        }
        if let Some(s) = f.string("of", &mut errors) {
            match s.trim().to_lowercase().as_str() {
                "original" => taper.of = ReductionOf::Original,
                "current" => taper.of = ReductionOf::Current,
                _ => errors.push(FieldError::new(
                    "taper.of",
                    format!(
                        "must be \"original\" (a share of the starting total) or \"current\" (a share of the current total) (got \"{s}\")"
                    ),
                )),
            }
        }
        if let Some(v) = f.whole("interval_days", 0, &mut errors) {
            taper.interval_days = v;
        }
        if let Some(v) = f.number("target_ome_mg_per_day", &mut errors) {
            taper.target_ome_mg_per_day = v;
        }
        if let Some(v) = f.boolean("slow_last_third", &mut errors) {
            taper.slow_last_third = v;
        }
        if let Some(v) = f.boolean("lengthen_interval", &mut errors) {
            taper.lengthen_interval = v;
        }
        if let Some(list) = f.list("order", &mut errors) {
            taper.order = order_entries(list, "taper.order", &mut errors);
        }
        if let Some(r) = f.string("reason", &mut errors) {
            let r = r.trim();
            taper.reason = (!r.is_empty()).then(|| r.to_string());
        }
    }

    let mut pauses = Vec::new();
    if let Some(list) = top.list("pauses", &mut errors) {
        let path = "pauses";
        for (i, v) in list.iter().enumerate() {
            let at = format!("{path}[{i}]");
            let Some(p) = v.as_object() else {
                errors.push(FieldError::new(
                    at,
                    format!(
                        "must be an object {{\"after_step\": 3, \"days\": 28}} (got {})",
                        describe(v)
                    ),
                ));
                continue;
            };
            check_fields(p, &at, &PAUSE_FIELDS, &mut errors);
            let f = Fields { obj: p, path: &at };
            let after = f.whole("after_step", 1, &mut errors);
            let days = f.whole("days", 1, &mut errors);
            for (key, v) in [("after_step", after), ("days", days)] {
                if v.is_none() && !p.contains_key(key) {
                    errors.push(FieldError::new(f.at(key), "required"));
                }
            }
            if let (Some(after_step), Some(days)) = (after, days) {
                pauses.push(Pause { after_step, days });
            }
        }
    }

    let Some(start_date) = start_date else {
        return Err(InputError::Invalid(errors));
    };
    let request = PlanRequest {
        profile,
        items,
        start_date,
        taper,
        pauses,
    };
    // Range problems of fields that already failed to read are not repeated.
    for e in check_request(&request, reference) {
        if !errors.iter().any(|x| x.path == e.path) {
            errors.push(e);
        }
    }
    if errors.is_empty() {
        Ok(request)
    } else {
        Err(InputError::Invalid(errors))
    }
}

fn range_error(field: &str, v: f64, lo: f64, hi: f64, unit: &str) -> FieldError {
    FieldError::new(
        field,
        format!(
            "must be from {} to {} {unit} (got {})",
            num(lo),
            num(hi),
            num(v)
        ),
    )
}

/// Checks the options against the reference ranges and the items (a request
/// built by the UI goes through here as well as one read from JSON).
pub fn check_request(request: &PlanRequest, reference: &Reference) -> Vec<FieldError> {
    let rules = TaperRules::of(reference);
    let mut errors = Vec::new();
    let t = &request.taper;
    let r = rules.range(RangeField::ReductionPercent);
    if !(t.reduction_percent >= r.min && t.reduction_percent <= r.max) {
        errors.push(range_error(
            "taper.reduction_percent",
            t.reduction_percent,
            r.min,
            r.max,
            r.unit,
        ));
    }
    let r = rules.range(RangeField::IntervalDays);
    let interval = f64::from(t.interval_days);
    if !(interval >= r.min && interval <= r.max) {
        errors.push(range_error(
            "taper.interval_days",
            interval,
            r.min,
            r.max,
            r.unit,
        ));
    }
    let r = rules.range(RangeField::TargetOmeMgPerDay);
    if !(t.target_ome_mg_per_day >= r.min && t.target_ome_mg_per_day <= r.max) {
        errors.push(range_error(
            "taper.target_ome_mg_per_day",
            t.target_ome_mg_per_day,
            r.min,
            r.max,
            r.unit,
        ));
    }
    if let Some(p) = &t.preset {
        if rules.preset(p).is_none() {
            errors.push(FieldError::new(
                "taper.preset",
                format!("unknown preset '{p}'"),
            ));
        }
    }
    let r = rules.range(RangeField::PauseDays);
    let mut seen = std::collections::HashSet::new();
    for (i, p) in request.pauses.iter().enumerate() {
        let days = f64::from(p.days);
        if !(days >= r.min && days <= r.max) {
            errors.push(range_error(
                &format!("pauses[{i}].days"),
                days,
                r.min,
                r.max,
                r.unit,
            ));
        }
        if p.after_step == 0 {
            errors.push(FieldError::new(
                format!("pauses[{i}].after_step"),
                "must be at least 1 (a pause follows a step)",
            ));
        }
        if !seen.insert(p.after_step) {
            errors.push(FieldError::new(
                format!("pauses[{i}].after_step"),
                format!(
                    "step {} already has a pause; give one pause with the total days",
                    p.after_step
                ),
            ));
        }
    }
    // Faster than a rapid taper (HHS 2019) only with a reason, stored with the plan.
    let (pct, per_days, _) = rules.rapid_taper();
    if t.interval_days > 0 {
        let rate = t.reduction_percent * f64::from(per_days) / f64::from(t.interval_days);
        let no_reason = t.reason.as_deref().is_none_or(|r| r.trim().is_empty());
        if rate > pct + 1e-9 && no_reason {
            errors.push(FieldError::new(
                "taper.reason",
                format!(
                    "required: {}% every {} days is faster than a rapid taper ({}% of the starting dose every {} days, US HHS 2019); say why this plan needs it",
                    num(t.reduction_percent),
                    t.interval_days,
                    num(pct),
                    per_days
                ),
            ));
        }
    }
    errors.extend(check_order(&t.order, &request.items, "taper.order"));
    errors
}

/// Checks that an order names existing items, each once.
pub(crate) fn check_order(order: &[OrderEntry], items: &[RawItem], path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (i, e) in order.iter().enumerate() {
        let at = format!("{path}[{i}]");
        match e {
            OrderEntry::Item(n) => {
                if *n as usize >= items.len() {
                    errors.push(FieldError::new(
                        at,
                        format!(
                            "no item {n}: items has {} (positions start at 0)",
                            items.len()
                        ),
                    ));
                } else if !seen.insert(*n as usize) {
                    errors.push(FieldError::new(at, format!("item {n} is named twice")));
                }
            }
            OrderEntry::Drug(d) => {
                let matching: Vec<usize> = items
                    .iter()
                    .enumerate()
                    .filter(|(_, it)| {
                        it.drug
                            .as_deref()
                            .is_some_and(|x| x.trim().eq_ignore_ascii_case(d))
                    })
                    .map(|(j, _)| j)
                    .collect();
                if matching.is_empty() {
                    let drugs: Vec<String> = items
                        .iter()
                        .filter_map(|it| it.drug.as_deref().map(|x| x.trim().to_lowercase()))
                        .collect();
                    errors.push(FieldError::new(
                        at,
                        format!(
                            "{d} is not in the regimen (items: {})",
                            if drugs.is_empty() {
                                "none".to_string()
                            } else {
                                drugs.join(", ")
                            }
                        ),
                    ));
                } else if !matching.iter().all(|j| seen.insert(*j)) {
                    errors.push(FieldError::new(
                        at,
                        format!("{d} is already named earlier in the order"),
                    ));
                }
            }
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::reference;

    fn read(json: &str) -> Result<PlanRequest, Vec<String>> {
        request_from_json(json, Profile::Uk, reference())
            .map_err(|e| e.to_string().lines().map(str::to_string).collect())
    }

    const ITEM: &str = r#"{"drug": "morphine", "route": "oral", "release": "modified", "strength_mg": 30, "doses_per_day": 2}"#;

    #[test]
    fn defaults_come_from_the_standard_preset() {
        let r = read(&format!(
            r#"{{"items": [{ITEM}], "start_date": "2026-12-01"}}"#
        ))
        .unwrap();
        assert_eq!(r.taper.reduction_percent, 10.0);
        assert_eq!(r.taper.interval_days, 28);
        assert_eq!(r.taper.of, ReductionOf::Original);
        assert_eq!(r.taper.target_ome_mg_per_day, 0.0);
        assert!(r.pauses.is_empty());
    }

    #[test]
    fn a_preset_fills_fields_and_explicit_fields_win() {
        let r = read(&format!(
            r#"{{"items": [{ITEM}], "start_date": "2026-12-01", "taper": {{"preset": "faster", "reduction_percent": 5}}}}"#
        ))
        .unwrap();
        assert_eq!(r.taper.preset.as_deref(), Some("faster"));
        assert_eq!(
            (r.taper.reduction_percent, r.taper.interval_days),
            (5.0, 14)
        );
    }

    #[test]
    fn every_problem_is_named_with_its_path() {
        let e = read(&format!(
            r#"{{"items": [{ITEM}], "start_date": "1/12/2026", "taper": {{"reduction_percent": 80, "interval_days": 3.5, "of": "start", "speed": 1, "order": [4, true]}}, "pauses": [{{"after_step": 0, "days": 200}}], "extra": 1}}"#
        ))
        .unwrap_err();
        let all = e.join("\n");
        for want in [
            "extra: unknown field",
            "start_date: must be a date written YYYY-MM-DD",
            "taper.speed: unknown field",
            "taper.interval_days: must be a whole number",
            "taper.of: must be \"original\"",
            "taper.order[1]: must be an item position",
            "pauses[0].after_step: must be a whole number, at least 1 (got 0)",
        ] {
            assert!(all.contains(want), "missing {want:?} in\n{all}");
        }
    }

    #[test]
    fn ranges_are_checked_once_the_fields_read() {
        let e = read(&format!(
            r#"{{"items": [{ITEM}], "start_date": "2026-12-01", "taper": {{"reduction_percent": 80, "interval_days": 3, "order": [3, "codeine"]}}, "pauses": [{{"after_step": 2, "days": 200}}]}}"#
        ))
        .unwrap_err();
        let all = e.join("\n");
        for want in [
            "taper.reduction_percent: must be from 1 to 50 % (got 80)",
            "taper.interval_days: must be from 7 to 84 days (got 3)",
            "pauses[0].days: must be from 1 to 84 days (got 200)",
            "taper.order[0]: no item 3: items has 1",
            "taper.order[1]: codeine is not in the regimen (items: morphine)",
        ] {
            assert!(all.contains(want), "missing {want:?} in\n{all}");
        }
    }

    #[test]
    fn item_errors_use_the_ome_messages() {
        let e = read(
            r#"{"items": [{"drug": "morphine", "route": "oral", "strength_mg": -5, "doses_per_day": 2}], "start_date": "2026-12-01"}"#,
        )
        .unwrap_err();
        assert_eq!(e, ["items[0].strength_mg: must be greater than 0 (got -5)"]);
        let e = read(r#"{"start_date": "2026-12-01"}"#).unwrap_err();
        assert_eq!(e, ["items: required: the list of medicines"]);
        let e = read(&format!(r#"{{"items": [{ITEM}]}}"#)).unwrap_err();
        assert!(e[0].starts_with("start_date: required"), "{e:?}");
        let e = read(&format!(
            r#"{{"items": [{ITEM}], "start_date": "2026-12-01", "taper": {{"preset": "brisk"}}}}"#
        ))
        .unwrap_err();
        assert!(
            e[0].starts_with(
                "taper.preset: unknown preset 'brisk' (accepted: standard (Standard: 10%"
            ),
            "{e:?}"
        );
    }

    #[test]
    fn duplicate_pauses_are_refused() {
        let e = read(&format!(
            r#"{{"items": [{ITEM}], "start_date": "2026-12-01", "pauses": [{{"after_step": 2, "days": 7}}, {{"after_step": 2, "days": 7}}]}}"#
        ))
        .unwrap_err();
        assert!(e[0].contains("step 2 already has a pause"), "{e:?}");
    }

    #[test]
    fn the_raw_form_reads_the_same_way() {
        let raw = RawPlanInput {
            items: vec![serde_json::from_str(ITEM).unwrap()],
            start_date: Some("2026-12-01".into()),
            taper: Some(RawTaper {
                preset: Some("gentle".into()),
                ..RawTaper::default()
            }),
            pauses: None,
        };
        let r = request_from_raw(&raw, Profile::Uk, reference()).unwrap();
        assert_eq!(r.taper.reduction_percent, 5.0);
    }
}
