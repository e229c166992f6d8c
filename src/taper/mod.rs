//! Taper plans: a dated schedule a patient can follow with tablets, capsules,
//! patches and oral solutions that exist as UK products, reducing the total
//! oral morphine equivalent step by step (contract: `docs/cli.md`,
//! `stepdown plan`; facts: clinical reference sections 3 and 6).
//!
//! Pure: no IO and no clock (the start date is an input). Every clinical
//! number comes from the reference tables: product strengths and wear times
//! from `products_uk.json`, presets, ranges, the reduction order and the
//! rounding rules from `taper.json`, factors from `ome_factors.json`.
//!
//! How a plan is made:
//! 1. [`schedule::prepare`](self) validates the request and matches each item
//!    to a catalogue product line (same drug, route, release and combination;
//!    the strength and dosing interval decide between lines). Items that
//!    cannot be converted (methadone) or matched are *held*: kept exactly as
//!    entered in every step, with a warning saying why. Nothing is guessed.
//! 2. Each tapered item gets a ladder of rungs from its starting dose to none,
//!    every rung made of whole units of its line's strengths (fewest units,
//!    larger strengths preferred; never a split modified-release tablet or a
//!    cut patch). Regular doses keep their times; where a day's doses cannot
//!    be equal, the reduction comes off the largest dose, then the earliest, so the later
//!    doses are the larger (the evening dose of a twice-daily product).
//!    As-needed items allow one dose a day fewer at each rung, then stop.
//!    Combination products
//!    (co-codamol, co-dydramol) lose whole tablets of the patient's strength,
//!    so the paracetamol shown falls honestly with each step.
//! 3. The items' ladders are joined in reduction order (default: long-acting
//!    before immediate-release, tramadol last, from `taper.json`; or the
//!    clinician's order) and walked down, one step per interval.
//! 4. Pauses are inserted, then [`assemble`](self) works out everything that
//!    follows from the doses (totals, dates, quantities to dispense) and
//!    checks the plan; clinician edits ([`apply_edits`]) end the same way.

pub mod edits;
pub mod input;
pub mod output;
/// The taper rules table lives with the other reference tables.
pub use crate::reference::taper as rules;
pub mod text;

mod assemble;
mod merge;
mod products;
mod render;
mod safety;
mod schedule;
mod switches;

use crate::input::{FieldError, InputError};
use crate::profile::Profile;
use crate::reference::Reference;
use crate::vocabulary::num;

pub use edits::{apply_edits, edits_from_json, Edit, EditIntent};
pub use input::{
    request_from_json, request_from_raw, OrderEntry, Pause, PlanRequest, RawPlanInput, RawTaper,
    TaperOptions,
};
pub use output::{
    DoseTime, ItemChange, LiquidUnits, PatchUnits, Plan, PlanItem, PlanOptions, Prescription,
    SolidUnits, Step, StepItem, StepKind, StrengthUnit, SupplyLine, UnitAmount,
};
pub use rules::{PresetInfo, ReductionOf, TaperRules};
pub use switches::SwitchOffer;
pub use text::plan_text;

use output::Step as OutStep;
use rules::RangeField;

/// Why a plan could not be made or edited.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlanError {
    /// The input (or an edit) is not valid; every problem is listed with its
    /// field path. The CLI exits with status 2.
    #[error(transparent)]
    Input(#[from] InputError),
    /// The generated plan failed its own checks: a bug, never shown as a plan.
    #[error("the generated plan failed its own checks: {0}")]
    Internal(String),
}

impl From<PlanError> for crate::ApiError {
    fn from(e: PlanError) -> Self {
        match e {
            PlanError::Input(e) => e.into(),
            PlanError::Internal(m) => crate::ApiError::new(crate::ErrorCode::Internal, m),
        }
    }
}

fn invalid(errors: Vec<FieldError>) -> PlanError {
    PlanError::Input(InputError::Invalid(errors))
}

/// The specialist-support warning (a large starting total) starts with this.
pub const SPECIALIST_PREFIX: &str = "Specialist support: ";

/// The presets, for the UI's choice list.
pub fn presets(reference: &Reference) -> Vec<PresetInfo> {
    TaperRules::of(reference).preset_infos()
}

/// Where unequal doses go, in words (also in every plan as `dose_placement`).
pub const DOSE_PLACEMENT: &str = "Each reduction comes off the largest dose of the day, and of equal doses the earliest (the morning dose of a twice-daily product): uneven doses even out first, every dose time is kept until the last steps, and the evening dose, which covers the night, is kept longest.";

/// "10% of the starting dose every 4 weeks".
fn rate_words(percent: f64, of: ReductionOf, days: u32) -> String {
    let of = match of {
        ReductionOf::Original => "of the starting dose",
        ReductionOf::Current => "of the current dose",
    };
    let every = match days {
        7 => "every week".to_string(),
        d if d % 7 == 0 => format!("every {} weeks", d / 7),
        d => format!("every {d} days"),
    };
    format!("{}% {of} {every}", num(percent))
}

fn options_of(request: &PlanRequest, reference: &Reference) -> PlanOptions {
    let rules = TaperRules::of(reference);
    let t = &request.taper;
    let preset = t.preset.as_deref().and_then(|p| rules.preset(p));
    let same_as = |p: &rules::PresetRow| {
        p.reduction_percent == t.reduction_percent
            && p.of == t.of
            && p.interval_days == t.interval_days
    };
    let (label, source) = match preset {
        Some(p) if same_as(p) => (p.label.clone(), p.source.clone()),
        Some(p) => (
            format!(
                "{} (changed from the {} preset)",
                schedule::capitalise(&rate_words(t.reduction_percent, t.of, t.interval_days)),
                p.name
            ),
            format!("Set by the clinician, starting from: {}", p.source),
        ),
        None => match rules.presets().find(|p| same_as(p)) {
            Some(p) => (p.label.clone(), p.source.clone()),
            None => (
                schedule::capitalise(&rate_words(t.reduction_percent, t.of, t.interval_days)),
                format!(
                    "Set by the clinician. For comparison: {}",
                    rules.default_preset().source
                ),
            ),
        },
    };
    PlanOptions {
        preset: t.preset.clone(),
        requested_label: label.clone(),
        actual_percent_per_interval: None,
        label,
        reduction_percent: t.reduction_percent,
        of: t.of,
        interval_days: t.interval_days,
        target_ome_mg_per_day: t.target_ome_mg_per_day,
        slow_last_third: t.slow_last_third,
        lengthen_interval: t.lengthen_interval,
        reason: t.reason.clone(),
        source: source.clone(),
    }
}

/// Makes the suggested taper plan for a validated request.
///
/// Errors: [`PlanError::Input`] for anything wrong with the request (paths as
/// in the input, e.g. `taper.target_ome_mg_per_day`, `pauses[0].after_step`);
/// [`PlanError::Internal`] if the plan fails its own checks (a bug).
pub fn plan(request: &PlanRequest, reference: &Reference) -> Result<Plan, PlanError> {
    // Same-line items at different times are one line (issue 14): the plan,
    // and its stored request, work on the joined items.
    let joined = merge::same_line(request, reference);
    let request = &joined.request;
    let profile = request.profile;
    let mut prepared = schedule::prepare(request, reference).map_err(invalid)?;
    merge::keep_own_units(&mut prepared, &joined.own_units);
    let walk = schedule::walk(&mut prepared, request, reference).map_err(invalid)?;
    let walk = schedule::add_pauses(walk, request, &prepared, reference).map_err(invalid)?;
    let max_steps = TaperRules::of(reference).range(RangeField::Steps).max;
    if walk.len() as f64 > max_steps {
        return Err(invalid(vec![FieldError::new(
            "pauses",
            format!("the plan would have more than {} steps", num(max_steps)),
        )]));
    }
    let items = render::plan_items(&prepared, &request.items, profile, reference);
    let mut starting_items = render::starting_items(&prepared, &items, profile, reference);
    merge::entered_as_taken(&mut starting_items, &joined.own_units);
    let mut in_use = render::initial_in_use(&prepared);
    let by_index = render::items_by_index(&items);
    let steps: Vec<OutStep> = walk
        .iter()
        .map(|w| OutStep {
            step: 0,
            kind: StepKind::Reduce,
            is_pause: false,
            start_date: request.start_date,
            end_date: request.start_date,
            days: w.days,
            total_ome_mg_per_day: 0.0,
            change_ome_mg_per_day: 0.0,
            percent_of_start: 0.0,
            requested_reduction_ome_mg_per_day: w.requested,
            smallest_decrement_ome_mg_per_day: w.smallest,
            items: render::step_items(&prepared, &by_index, &w.levels, &mut in_use),
            supply: Vec::new(),
            prescriptions: Vec::new(),
            paracetamol_mg_per_day: None,
            reason: None,
            notes: w.notes.clone(),
        })
        .collect();
    let (_, order_rule) = TaperRules::of(reference).reduction_order();
    let reduction_order: Vec<u32> = prepared
        .order
        .iter()
        .filter_map(|t| u32::try_from(prepared.tapered[*t].index).ok())
        .collect();
    let mut notes = vec![
        format!(
            "{} compares total opioid exposure; it is not a ratio for switching opioids, and Stepdown never switches them.",
            match profile {
                Profile::Uk => "Oral morphine equivalent",
                Profile::Cdc => "Morphine milligram equivalent (MME)",
            }
        ),
        "As-needed items count at their most allowed a day, in the totals and in the quantities to dispense.".to_string(),
        "Tolerance falls as the dose comes down: going back to an earlier, higher dose can cause an overdose (CDC 2022; FPM Opioids Aware).".to_string(),
    ];
    if items
        .iter()
        .any(|i| i.form == Some(crate::vocabulary::Form::Patch) && i.tapered)
    {
        notes.push(
            "Patches: apply each new strength on the first day of its step (when a step ends part-way through a patch's wear time, that patch is replaced early) and never cut a patch; quantities count a new patch at each change."
                .to_string(),
        );
    }
    let mut warnings = joined.notes.clone();
    warnings.extend(prepared.warnings.iter().cloned());
    let (threshold, note, source) = TaperRules::of(reference).specialist_support();
    if prepared.start + schedule::EPS >= threshold {
        warnings.insert(
            0,
            format!(
                "{SPECIALIST_PREFIX}{} (Source: {source}.)",
                note.replace("{total}", &num(prepared.start))
                    .replace("{threshold}", &num(threshold))
            ),
        );
    }
    let mut plan = Plan {
        profile,
        steps,
        warnings,
        ome_start: prepared.start,
        ome_end: 0.0,
        target_ome_mg_per_day: request.taper.target_ome_mg_per_day,
        target_reached: false,
        ome_end_complete: true,
        start_date: request.start_date,
        end_date: request.start_date,
        options: options_of(request, reference),
        items,
        reduction_order,
        reduction_order_source: if request.taper.order.is_empty() {
            order_rule.to_string()
        } else {
            format!("Set by the clinician; items not named follow the default order. Default: {order_rule}")
        },
        dose_placement: DOSE_PLACEMENT.to_string(),
        starting_items,
        notes,
        request: request.clone(),
        edits_applied: Vec::new(),
        reference_version: reference.manifest_version.clone(),
    };
    assemble::finish(&mut plan, reference).map_err(|e| {
        PlanError::Internal(
            e.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "),
        )
    })?;
    Ok(plan)
}

/// Reads a `stepdown plan` input from JSON text and makes the plan.
pub fn plan_from_json(
    text: &str,
    profile: Profile,
    reference: &Reference,
) -> Result<Plan, PlanError> {
    let request = request_from_json(text, profile, reference)?;
    plan(&request, reference)
}

#[cfg(test)]
mod tests;
