//! Clinician edits to a plan: change a step's dose or length, add a pause,
//! or choose a different reduction order. After every edit the whole plan is
//! worked out again from its doses and checked (`assemble`); a rise in the
//! total is refused unless the edit is marked as an intentional hold or
//! reversal with a reason, and is then warned about.
//!
//! Edits apply in order; step numbers refer to the plan as it stands when the
//! edit applies (after earlier edits). `set_order` and `accept_switch` rebuild
//! the plan from its request, so they may only come before any edit of the
//! steps (one may follow the other: a switch accepted, then a new order).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use ts_rs::TS;

use crate::input::{check_fields, parse_json, FieldError, InputError};
use crate::reference::Reference;
use crate::vocabulary::num;

use super::assemble::finish;
use super::input::{check_order, describe, order_entries, Fields, OrderEntry};
use super::output::{DoseTime, LiquidUnits, PatchUnits, Plan, SolidUnits, Step, UnitAmount};
use super::rules::{RangeField, TaperRules};
use super::{plan, PlanError};

/// Marks an edit that raises a total on purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "kebab-case")]
#[ts(export)]
pub enum EditIntent {
    /// An intentional hold or reversal (a reason is required).
    HoldOrReversal,
}

/// One clinician edit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
#[ts(export)]
pub enum Edit {
    /// Replace one item's doses in one step (an empty list stops it in that step).
    SetDose {
        /// Step number, from 1.
        step: u32,
        /// The item's position in the input `items`.
        item: u32,
        /// The new doses, in the item's own dose times and units.
        doses: Vec<DoseTime>,
        /// Required if the step's total rises.
        #[serde(default)]
        intent: Option<EditIntent>,
        /// Why (required with `intent`).
        #[serde(default)]
        reason: Option<String>,
    },
    /// Change how many days a step lasts.
    SetLength {
        /// Step number, from 1.
        step: u32,
        /// New length in days.
        days: u32,
    },
    /// Add a step at the same dose after a step.
    AddPause {
        /// Step number the pause follows.
        after_step: u32,
        /// Length in days.
        days: u32,
        /// Why, if the clinician wants it recorded.
        #[serde(default)]
        reason: Option<String>,
    },
    /// Rebuild the plan with a different reduction order (before any edit of the steps).
    SetOrder {
        /// Items or drugs, first reduced first.
        order: Vec<OrderEntry>,
    },
    /// Accept a switch the plan offers for an item (`items[].switch_offers`):
    /// the plan is rebuilt with the item on the new line, the equivalence and
    /// its source recorded (before any edit of the steps).
    AcceptSwitch {
        /// The item's position in the input `items`.
        item: u32,
        /// The switch rule's id (`switch_offers[].id`).
        switch: String,
    },
}

impl Edit {
    /// Whether the edit rebuilds the plan from its request (rather than
    /// changing the steps as they stand).
    pub fn rebuilds(&self) -> bool {
        matches!(self, Edit::SetOrder { .. } | Edit::AcceptSwitch { .. })
    }
}

fn field_errors(e: PlanError) -> Vec<FieldError> {
    match e {
        PlanError::Input(InputError::Invalid(v)) => v,
        PlanError::Input(other) => vec![FieldError::new("plan", other.to_string())],
        PlanError::Internal(m) => vec![FieldError::new("plan", m)],
    }
}

fn unit_from_value(v: &Value, path: &str, errors: &mut Vec<FieldError>) -> Option<UnitAmount> {
    let Some(obj) = v.as_object() else {
        errors.push(FieldError::new(
            path,
            format!(
                "must be an object such as {{\"strength_mg\": 10, \"count\": 1}} (got {})",
                describe(v)
            ),
        ));
        return None;
    };
    let f = Fields { obj, path };
    if obj.contains_key("strength_mg") {
        check_fields(obj, path, &["strength_mg", "count"], errors);
        let s = f.number("strength_mg", errors);
        let c = f.number("count", errors);
        if c.is_none() && !obj.contains_key("count") {
            errors.push(FieldError::new(f.at("count"), "required"));
        }
        Some(UnitAmount::Solid(SolidUnits {
            strength_mg: s?,
            count: c?,
        }))
    } else if obj.contains_key("strength_mcg_per_hour") {
        check_fields(obj, path, &["strength_mcg_per_hour", "count"], errors);
        let s = f.number("strength_mcg_per_hour", errors);
        let c = f.number("count", errors);
        if c.is_none() && !obj.contains_key("count") {
            errors.push(FieldError::new(f.at("count"), "required"));
        }
        Some(UnitAmount::Patch(PatchUnits {
            strength_mcg_per_hour: s?,
            count: c?,
        }))
    } else if obj.contains_key("strength_mg_per_ml") {
        check_fields(obj, path, &["strength_mg_per_ml", "ml"], errors);
        let s = f.number("strength_mg_per_ml", errors);
        let m = f.number("ml", errors);
        if m.is_none() && !obj.contains_key("ml") {
            errors.push(FieldError::new(f.at("ml"), "required"));
        }
        Some(UnitAmount::Liquid(LiquidUnits {
            strength_mg_per_ml: s?,
            ml: m?,
        }))
    } else {
        errors.push(FieldError::new(
            path,
            "needs strength_mg (tablets, capsules), strength_mcg_per_hour (patches) or strength_mg_per_ml (liquids)",
        ));
        None
    }
}

fn doses_from_value(values: &[Value], path: &str, errors: &mut Vec<FieldError>) -> Vec<DoseTime> {
    let mut out = Vec::new();
    for (i, v) in values.iter().enumerate() {
        let dp = format!("{path}[{i}]");
        let Some(obj) = v.as_object() else {
            errors.push(FieldError::new(
                &dp,
                format!(
                    "must be an object {{\"time\": ..., \"units\": [...]}} (got {})",
                    describe(v)
                ),
            ));
            continue;
        };
        check_fields(obj, &dp, &["time", "units", "times_a_day"], errors);
        let f = Fields { obj, path: &dp };
        let time = f.string("time", errors).unwrap_or_default();
        let times_a_day = f.whole("times_a_day", 1, errors);
        let mut units = Vec::new();
        match f.list("units", errors) {
            Some(list) => {
                for (u, uv) in list.iter().enumerate() {
                    if let Some(unit) = unit_from_value(uv, &format!("{dp}.units[{u}]"), errors) {
                        units.push(unit);
                    }
                }
            }
            None if !obj.contains_key("units") => {
                errors.push(FieldError::new(f.at("units"), "required"));
            }
            None => {}
        }
        out.push(DoseTime {
            time,
            units,
            times_a_day,
        });
    }
    out
}

fn required_whole(
    f: &Fields<'_>,
    key: &str,
    min: u32,
    errors: &mut Vec<FieldError>,
) -> Option<u32> {
    let v = f.whole(key, min, errors);
    if v.is_none() && !f.obj.contains_key(key) {
        errors.push(FieldError::new(f.at(key), "required"));
    }
    v
}

fn edit_from_object(
    obj: &Map<String, Value>,
    path: &str,
    errors: &mut Vec<FieldError>,
) -> Option<Edit> {
    let f = Fields { obj, path };
    let action = match f.string("action", errors) {
        Some(a) => a,
        None => {
            if !obj.contains_key("action") {
                errors.push(FieldError::new(
                    f.at("action"),
                    "required: set_dose, set_length, add_pause, set_order or accept_switch",
                ));
            }
            return None;
        }
    };
    match action.as_str() {
        "set_dose" => {
            check_fields(
                obj,
                path,
                &["action", "step", "item", "doses", "intent", "reason"],
                errors,
            );
            let step = required_whole(&f, "step", 1, errors);
            let item = required_whole(&f, "item", 0, errors);
            let doses = match f.list("doses", errors) {
                Some(list) => doses_from_value(list, &f.at("doses"), errors),
                None => {
                    if !obj.contains_key("doses") {
                        errors.push(FieldError::new(
                            f.at("doses"),
                            "required: the new doses ([] stops the item in this step)",
                        ));
                    }
                    return None;
                }
            };
            let intent = match f.string("intent", errors) {
                None => None,
                Some(s) if s == "hold-or-reversal" => Some(EditIntent::HoldOrReversal),
                Some(s) => {
                    errors.push(FieldError::new(
                        f.at("intent"),
                        format!("must be \"hold-or-reversal\" (got \"{s}\")"),
                    ));
                    None
                }
            };
            let reason = f.string("reason", errors);
            Some(Edit::SetDose {
                step: step?,
                item: item?,
                doses,
                intent,
                reason,
            })
        }
        "set_length" => {
            check_fields(obj, path, &["action", "step", "days"], errors);
            let step = required_whole(&f, "step", 1, errors);
            let days = required_whole(&f, "days", 1, errors);
            Some(Edit::SetLength {
                step: step?,
                days: days?,
            })
        }
        "add_pause" => {
            check_fields(
                obj,
                path,
                &["action", "after_step", "days", "reason"],
                errors,
            );
            let after_step = required_whole(&f, "after_step", 1, errors);
            let days = required_whole(&f, "days", 1, errors);
            let reason = f.string("reason", errors);
            Some(Edit::AddPause {
                after_step: after_step?,
                days: days?,
                reason,
            })
        }
        "accept_switch" => {
            check_fields(obj, path, &["action", "item", "switch"], errors);
            let item = required_whole(&f, "item", 0, errors);
            let switch = f.string("switch", errors);
            if switch.is_none() && !obj.contains_key("switch") {
                errors.push(FieldError::new(
                    f.at("switch"),
                    "required: the id of a switch the plan offers (items[].switch_offers[].id)",
                ));
            }
            Some(Edit::AcceptSwitch {
                item: item?,
                switch: switch?,
            })
        }
        "set_order" => {
            check_fields(obj, path, &["action", "order"], errors);
            let order = match f.list("order", errors) {
                Some(list) => order_entries(list, &f.at("order"), errors),
                None => {
                    if !obj.contains_key("order") {
                        errors.push(FieldError::new(f.at("order"), "required"));
                    }
                    return None;
                }
            };
            Some(Edit::SetOrder { order })
        }
        other => {
            errors.push(FieldError::new(
                f.at("action"),
                format!(
                    "unknown action '{other}' (accepted: set_dose, set_length, add_pause, set_order, accept_switch)"
                ),
            ));
            None
        }
    }
}

/// Reads `{"edits": [...]}` from JSON text, naming the path of every problem.
pub fn edits_from_json(text: &str) -> Result<Vec<Edit>, InputError> {
    let value = parse_json(text)?;
    let mut errors = Vec::new();
    let Some(obj) = value.as_object() else {
        return Err(InputError::Invalid(vec![FieldError::new(
            "input",
            format!(
                "must be a JSON object with an \"edits\" list (got {})",
                describe(&value)
            ),
        )]));
    };
    check_fields(obj, "", &["edits"], &mut errors);
    let f = Fields { obj, path: "" };
    let mut edits = Vec::new();
    match f.list("edits", &mut errors) {
        Some(list) => {
            for (i, v) in list.iter().enumerate() {
                let path = format!("edits[{i}]");
                match v.as_object() {
                    Some(o) => {
                        if let Some(e) = edit_from_object(o, &path, &mut errors) {
                            edits.push(e);
                        }
                    }
                    None => errors.push(FieldError::new(
                        path,
                        format!("must be an object with an \"action\" (got {})", describe(v)),
                    )),
                }
            }
        }
        None if !obj.contains_key("edits") => {
            errors.push(FieldError::new("edits", "required: the list of edits"));
        }
        None => {}
    }
    if errors.is_empty() {
        Ok(edits)
    } else {
        Err(InputError::Invalid(errors))
    }
}

/// The step at number `step` (from 1), or an error naming `path`.
fn step_index(plan: &Plan, step: u32, path: &str) -> Result<usize, FieldError> {
    let n = plan.steps.len();
    if step == 0 || step as usize > n {
        return Err(FieldError::new(
            path,
            format!("no step {step}: the plan has steps 1 to {n}"),
        ));
    }
    Ok(step as usize - 1)
}

/// Applies one edit to `plan` in place; errors carry the edit's paths.
fn apply_one(
    plan: &mut Plan,
    edit: &Edit,
    index: usize,
    rebuild_ok: bool,
    reference: &Reference,
) -> Result<(), Vec<FieldError>> {
    let path = format!("edits[{index}]");
    let rules = TaperRules::of(reference);
    match edit {
        Edit::SetOrder { order } => {
            if !rebuild_ok {
                return Err(vec![FieldError::new(
                    format!("{path}.action"),
                    "set_order rebuilds the plan from its request, so it must come before any edit of the steps",
                )]);
            }
            let errors = check_order(order, &plan.request.items, &format!("{path}.order"));
            if !errors.is_empty() {
                return Err(errors);
            }
            let mut request = plan.request.clone();
            request.taper.order = order.clone();
            let mut rebuilt = plan_again(&request, reference, &path)?;
            // Named as the clinician sees them: the product, with its input position.
            let named: Vec<String> = order
                .iter()
                .map(|e| match e {
                    OrderEntry::Item(i) => plan.items.iter().find(|p| p.index == *i).map_or_else(
                        || format!("items[{i}]"),
                        |p| format!("{} (items[{i}])", p.product),
                    ),
                    OrderEntry::Drug(d) => d.clone(),
                })
                .collect();
            rebuilt.edits_applied = plan.edits_applied.clone();
            rebuilt.edits_applied.push(format!(
                "Reduction order set: {} first",
                named.join(", then ")
            ));
            *plan = rebuilt;
            Ok(())
        }
        Edit::AcceptSwitch { item, switch } => {
            if !rebuild_ok {
                return Err(vec![FieldError::new(
                    format!("{path}.action"),
                    "accept_switch rebuilds the plan from its request, so it must come before any edit of the steps",
                )]);
            }
            let offered = plan
                .items
                .iter()
                .find(|i| i.index == *item)
                .is_some_and(|i| i.switch_offers.iter().any(|o| o.id == *switch));
            if !offered {
                return Err(vec![FieldError::new(
                    format!("{path}.switch"),
                    format!("the plan offers no switch '{switch}' for item {item}: a switch is offered only where the item's product line cannot go on"),
                )]);
            }
            let (request, said) =
                super::switches::apply(&plan.request, *item, switch, reference, &path)
                    .map_err(|e| vec![e])?;
            let mut rebuilt = plan_again(&request, reference, &path)?;
            rebuilt.edits_applied = plan.edits_applied.clone();
            rebuilt.edits_applied.push(said);
            *plan = rebuilt;
            Ok(())
        }
        Edit::SetLength { step, days } => {
            let s = step_index(plan, *step, &format!("{path}.step")).map_err(|e| vec![e])?;
            let max = rules.range(RangeField::IntervalDays).max;
            if f64::from(*days) > max {
                return Err(vec![FieldError::new(
                    format!("{path}.days"),
                    format!("must be from 1 to {} days (got {days})", num(max)),
                )]);
            }
            if s + 1 == plan.steps.len() && plan.steps[s].kind == super::StepKind::Stop {
                return Err(vec![FieldError::new(
                    format!("{path}.step"),
                    "the stop step marks the day the medicines stop; lengthen the step before it instead",
                )]);
            }
            plan.steps[s].days = *days;
            plan.steps[s]
                .notes
                .push(format!("Length set to {days} days by the clinician."));
            plan.edits_applied
                .push(format!("Step {step} length set to {days} days"));
            Ok(())
        }
        Edit::AddPause {
            after_step,
            days,
            reason,
        } => {
            let n = plan.steps.len();
            if *after_step == 0 || *after_step as usize >= n {
                return Err(vec![FieldError::new(
                    format!("{path}.after_step"),
                    format!(
                        "a pause can follow steps 1 to {} (the plan has {n} steps; got {after_step})",
                        n.saturating_sub(1)
                    ),
                )]);
            }
            let range = rules.range(RangeField::PauseDays);
            let d = f64::from(*days);
            if d < range.min || d > range.max {
                return Err(vec![FieldError::new(
                    format!("{path}.days"),
                    format!(
                        "must be from {} to {} {} (got {days})",
                        num(range.min),
                        num(range.max),
                        range.unit
                    ),
                )]);
            }
            let before = &plan.steps[*after_step as usize - 1];
            let pause = Step {
                days: *days,
                requested_reduction_ome_mg_per_day: None,
                smallest_decrement_ome_mg_per_day: None,
                reason: reason.clone(),
                notes: vec![format!(
                    "Pause added by the clinician: the dose stays the same for {days} days."
                )],
                ..before.clone()
            };
            plan.steps.insert(*after_step as usize, pause);
            plan.edits_applied.push(format!(
                "Pause of {days} days added after step {after_step}{}",
                reason
                    .as_deref()
                    .map_or_else(String::new, |r| format!(" ({r})"))
            ));
            Ok(())
        }
        Edit::SetDose {
            step,
            item,
            doses,
            intent,
            reason,
        } => {
            let s = step_index(plan, *step, &format!("{path}.step")).map_err(|e| vec![e])?;
            let Some(pi) = plan.items.iter().find(|p| p.index == *item) else {
                return Err(vec![FieldError::new(
                    format!("{path}.item"),
                    format!(
                        "no item {item}: the plan has items 0 to {}",
                        plan.items.len().saturating_sub(1)
                    ),
                )]);
            };
            if !pi.tapered {
                return Err(vec![FieldError::new(
                    format!("{path}.item"),
                    format!(
                        "item {item} ({}) is held unchanged, not tapered: {}",
                        pi.drug,
                        pi.held_reason.as_deref().unwrap_or("")
                    ),
                )]);
            }
            let reason = reason.as_deref().map(str::trim).filter(|r| !r.is_empty());
            if intent.is_some() && reason.is_none() {
                return Err(vec![FieldError::new(
                    format!("{path}.reason"),
                    "required with \"intent\": \"hold-or-reversal\": say why the dose is held or raised",
                )]);
            }
            let drug = pi.drug.clone();
            let target = &mut plan.steps[s];
            match target.items.iter_mut().find(|x| x.index == *item) {
                Some(x) => x.doses = doses.clone(),
                None => {
                    // The item had stopped by this step: bring it back (an increase).
                    let Some(mut x) = plan
                        .starting_items
                        .iter()
                        .find(|x| x.index == *item)
                        .cloned()
                    else {
                        return Err(vec![FieldError::new(
                            format!("{path}.item"),
                            format!("item {item} is missing from the plan's starting items"),
                        )]);
                    };
                    x.doses = doses.clone();
                    target.items.push(x);
                }
            }
            if intent.is_some() {
                target.reason = reason.map(str::to_string);
            }
            target
                .notes
                .push(format!("{drug} dose set by the clinician."));
            plan.edits_applied.push(format!(
                "Step {step}: {drug} dose set by the clinician{}",
                match (intent, reason) {
                    (Some(_), Some(r)) => format!(" (intentional hold or reversal: {r})"),
                    _ => String::new(),
                }
            ));
            Ok(())
        }
    }
}

/// Re-plans from a request, attributing its errors to the edit at `path`.
fn plan_again(
    request: &super::PlanRequest,
    reference: &Reference,
    path: &str,
) -> Result<Plan, Vec<FieldError>> {
    plan(request, reference).map_err(|e| {
        field_errors(e)
            .into_iter()
            .map(|f| FieldError::new(path, format!("{}: {}", f.path, f.message)))
            .collect()
    })
}

/// Applies clinician edits to a plan and re-validates the whole plan.
///
/// The plan given is checked first (it may have come back from the UI): its
/// derived fields are recomputed from its doses, never trusted. Errors name
/// the edit (`edits[1].days`) or, for a problem the edit causes elsewhere,
/// the edit and the step (`edits[0]: steps[4]: ...`).
pub fn apply_edits(plan: &Plan, edits: &[Edit], reference: &Reference) -> Result<Plan, PlanError> {
    let invalid = |v: Vec<FieldError>| PlanError::Input(InputError::Invalid(v));
    let mut current = plan.clone();
    finish(&mut current, reference).map_err(|errors| {
        invalid(
            errors
                .into_iter()
                .map(|e| FieldError::new(format!("plan.{}", e.path), e.message))
                .collect(),
        )
    })?;
    for (i, edit) in edits.iter().enumerate() {
        // Edits that rebuild the plan from its request (an accepted switch, a
        // new order) may follow each other, but never an edit of the steps,
        // which the rebuild would silently undo.
        let rebuild_ok = edits[..i].iter().all(Edit::rebuilds);
        apply_one(&mut current, edit, i, rebuild_ok, reference).map_err(invalid)?;
        finish(&mut current, reference).map_err(|errors| {
            invalid(
                errors
                    .into_iter()
                    .map(|e| FieldError::new(format!("edits[{i}]"), e.to_string()))
                    .collect(),
            )
        })?;
    }
    Ok(current)
}
