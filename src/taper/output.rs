//! The taper plan as returned to the CLI, the desktop UI (TypeScript bindings)
//! and the leaflet: steps with dates, doses by time of day in whole units of
//! real products, totals and the quantity to dispense for each step.
//!
//! Contract: `docs/cli.md`, `stepdown plan`. Field names there are
//! stable; the others are additions.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize, Serializer};
use ts_rs::TS;

use crate::ome::AmountUnit;
use crate::profile::Profile;
use crate::vocabulary::{Form, Release, Route};

use super::input::PlanRequest;
use super::rules::ReductionOf;

/// Writes whole numbers without a decimal point (`30`, not `30.0`), so that
/// units read as they are written on a prescription.
pub(crate) fn whole_or_decimal<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    if v.fract() == 0.0 && v.abs() < 9.0e15 {
        // Whole and well inside i64, checked just above.
        #[allow(clippy::cast_possible_truncation)]
        let n = *v as i64;
        s.serialize_i64(n)
    } else {
        s.serialize_f64(*v)
    }
}

/// Tablets or capsules of one strength taken at one time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
#[ts(export)]
pub struct SolidUnits {
    /// mg of opioid per tablet or capsule.
    #[serde(serialize_with = "whole_or_decimal")]
    pub strength_mg: f64,
    /// How many (always whole in a planned step; a held item shows its entry as it is).
    #[serde(serialize_with = "whole_or_decimal")]
    pub count: f64,
}

/// Patches of one strength worn at once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
#[ts(export)]
pub struct PatchUnits {
    /// Labelled micrograms an hour of one patch.
    #[serde(serialize_with = "whole_or_decimal")]
    pub strength_mcg_per_hour: f64,
    /// How many.
    #[serde(serialize_with = "whole_or_decimal")]
    pub count: f64,
}

/// A measured volume of an oral solution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
#[ts(export)]
pub struct LiquidUnits {
    /// mg of opioid per mL.
    #[serde(serialize_with = "whole_or_decimal")]
    pub strength_mg_per_ml: f64,
    /// mL a dose.
    #[serde(serialize_with = "whole_or_decimal")]
    pub ml: f64,
}

/// What is taken at one time: tablets or capsules, patches, or mL of liquid.
/// The JSON has no tag; the keys tell them apart (`strength_mg`,
/// `strength_mcg_per_hour`, `strength_mg_per_ml`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(untagged)]
#[ts(export)]
pub enum UnitAmount {
    /// Tablets or capsules.
    Solid(SolidUnits),
    /// Patches.
    Patch(PatchUnits),
    /// Oral solution.
    Liquid(LiquidUnits),
}

/// One dose time of an item in a step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct DoseTime {
    /// When, in everyday words: `"morning"`, `"evening"`, `"once a day"`,
    /// `"up to 4 times a day"` (as needed), `"every 72 hours"` (patches).
    pub time: String,
    /// What to take then, largest strength first.
    pub units: Vec<UnitAmount>,
    /// As-needed items: the most doses allowed a day (`null` otherwise).
    #[serde(default)]
    pub times_a_day: Option<u32>,
}

/// How an item's dose compares with the step before (or with the starting regimen).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "kebab-case")]
#[ts(export)]
pub enum ItemChange {
    /// Lower than before.
    Reduced,
    /// As before.
    Same,
    /// Stopped in this step (the item is left out of later steps).
    Stopped,
    /// Not tapered by Stepdown: kept exactly as entered (see the plan's `items[].held_reason`).
    Held,
    /// Higher than before: only after a clinician's edit marked as an intentional hold or reversal.
    Increased,
}

/// One medicine in one step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct StepItem {
    /// Position of the item in the input `items` (0-based).
    pub index: u32,
    /// Generic name of the opioid.
    pub drug: String,
    /// Route.
    pub route: Route,
    /// Release (`null` for patches).
    pub release: Option<Release>,
    /// Tablet, capsule, solution or patch (`null` only for a held item entered without a form).
    pub form: Option<Form>,
    /// Brand-neutral description of the product, as on the box
    /// (e.g. `"morphine 12-hourly slow-release tablets"`).
    pub product: String,
    /// Catalogue row of the product (`null` for a held item with no catalogue product).
    pub product_id: Option<String>,
    /// Taken only when needed (the doses are then a maximum a day).
    pub as_needed: bool,
    /// Dose times and units. Empty when the item stops in this step.
    pub doses: Vec<DoseTime>,
    /// Amount a day for people: `"55 mg"`, `"15 micrograms/hour"`.
    pub daily_amount: String,
    /// The daily amount's number.
    pub daily_amount_value: f64,
    /// Its unit.
    pub daily_amount_unit: AmountUnit,
    /// mg OME a day (`null` if the item cannot be converted).
    pub ome_mg_per_day: Option<f64>,
    /// Paracetamol a day from a combination product (`null` if none).
    pub paracetamol_mg_per_day: Option<f64>,
    /// Compared with the step before.
    pub change: ItemChange,
}

/// What a step is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
#[ts(export)]
pub enum StepKind {
    /// Step 1: the patient's current regimen, exactly as taken now.
    Start,
    /// A lower total than the step before.
    Reduce,
    /// The same total as the step before (a pause or hold).
    Pause,
    /// The final step at 0: the day the medicines stop (start and end are that day).
    Stop,
    /// A higher total than the step before: only from a clinician's edit marked
    /// as an intentional hold or reversal, with its reason.
    Increase,
}

/// Unit of a product strength.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub enum StrengthUnit {
    /// mg per tablet or capsule.
    #[serde(rename = "mg")]
    Mg,
    /// mg per mL of liquid.
    #[serde(rename = "mg/mL")]
    MgPerMl,
    /// Micrograms an hour per patch.
    #[serde(rename = "micrograms/hour")]
    McgPerHour,
}

/// Quantity of one product strength to dispense for a step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct SupplyLine {
    /// Brand-neutral product description.
    pub product: String,
    /// Catalogue row.
    pub product_id: String,
    /// Form.
    pub form: Form,
    /// Strength of one unit (per tablet, per mL or per patch).
    #[serde(serialize_with = "whole_or_decimal")]
    pub strength: f64,
    /// Unit of `strength`.
    pub strength_unit: StrengthUnit,
    /// How many tablets, capsules or patches, or how many mL.
    #[serde(serialize_with = "whole_or_decimal")]
    pub quantity: f64,
    /// `"tablets"`, `"capsules"`, `"patches"` or `"mL"`.
    pub quantity_unit: String,
    /// Counts an as-needed item at its most allowed a day.
    pub as_needed_maximum: bool,
    /// For people: `"28 × 10 mg tablets"`, `"224 × 30/500 mg tablets"`.
    pub description: String,
    /// The strength as prescribed where the number alone could mislead: a
    /// combination with both parts (`"30/500 mg"`), a liquid as its bottle
    /// states it (`"10 mg/5 mL"`); absent for single-ingredient solids and patches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub strength_label: Option<String>,
}

/// One prescription within a step: controlled drugs are prescribed for at
/// most the reference number of days at a time (`taper.json` `cd-supply`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Prescription {
    /// Number within the step, from 1.
    pub number: u32,
    /// First day it covers.
    #[ts(as = "String")]
    pub start_date: NaiveDate,
    /// Last day it covers.
    #[ts(as = "String")]
    pub end_date: NaiveDate,
    /// Days it covers.
    pub days: u32,
    /// What to dispense on it.
    pub supply: Vec<SupplyLine>,
}

/// One step of the plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Step {
    /// Step number, from 1.
    pub step: u32,
    /// Reduce, pause, stop or (clinician-marked) increase.
    pub kind: StepKind,
    /// True for a pause or hold at the dose of the step before.
    pub is_pause: bool,
    /// First day (ISO date).
    #[ts(as = "String")]
    pub start_date: NaiveDate,
    /// Last day, inclusive (the stop step starts and ends on the same day).
    #[ts(as = "String")]
    pub end_date: NaiveDate,
    /// Days from start to end, inclusive.
    pub days: u32,
    /// Total mg OME a day in this step (as-needed items at their maximum; held
    /// items that convert included, unconvertible ones left out).
    pub total_ome_mg_per_day: f64,
    /// Change from the step before (or from the start), mg OME a day; negative is a reduction.
    pub change_ome_mg_per_day: f64,
    /// This step's total as a percentage of the starting total.
    pub percent_of_start: f64,
    /// The reduction asked for at this step (mg OME a day), as generated.
    pub requested_reduction_ome_mg_per_day: Option<f64>,
    /// The smallest real reduction available at this step (mg OME a day), as generated.
    pub smallest_decrement_ome_mg_per_day: Option<f64>,
    /// What to take, per medicine. Medicines that stopped in an earlier step are left out.
    pub items: Vec<StepItem>,
    /// What to dispense for this step.
    pub supply: Vec<SupplyLine>,
    /// The step's supply split into prescriptions of at most the controlled-drug
    /// limit of days each (one when the step is short enough; none on the stop day).
    #[serde(default)]
    pub prescriptions: Vec<Prescription>,
    /// Paracetamol a day from combination products (`null` if none).
    pub paracetamol_mg_per_day: Option<f64>,
    /// For a clinician-marked hold or reversal: the reason given.
    pub reason: Option<String>,
    /// Notes about this step, one sentence each.
    pub notes: Vec<String>,
}

/// One input item as the plan treats it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct PlanItem {
    /// Position in the input `items`.
    pub index: u32,
    /// Generic name.
    pub drug: String,
    /// Route.
    pub route: Route,
    /// Release (`null` for patches).
    pub release: Option<Release>,
    /// Form used in the plan (`null` only for a held item entered without one).
    pub form: Option<Form>,
    /// Taken only when needed.
    pub as_needed: bool,
    /// Reduced by the plan (false: held unchanged; see `held_reason`).
    pub tapered: bool,
    /// Why it is held unchanged, if it is.
    pub held_reason: Option<String>,
    /// Brand-neutral product description.
    pub product: String,
    /// Catalogue row used (`null` if none matched).
    pub product_id: Option<String>,
    /// Regular dose times, earliest first (empty for as-needed items and patches).
    pub dose_times: Vec<String>,
    /// Position in the reduction order, from 1 (`null` for held items).
    pub order: Option<u32>,
    /// mg OME a day as entered (`null` if not convertible).
    pub ome_start: Option<f64>,
    /// What to ask the prescriber, when the item is held at its current dose
    /// (from step 1) or at the lowest dose its product line can make.
    pub prescriber_query: Option<String>,
    /// Switches within the same drug the clinician may accept (edit
    /// `accept_switch`), each with its equivalence and source.
    #[serde(default)]
    pub switch_offers: Vec<super::switches::SwitchOffer>,
}

/// The taper options the plan used, after defaults and the preset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct PlanOptions {
    /// The preset named in the input, if any.
    pub preset: Option<String>,
    /// In plain words, e.g. "Standard: 10% of the starting dose every 4 weeks".
    pub label: String,
    /// Percentage reduced each step.
    pub reduction_percent: f64,
    /// Of the starting or the current total.
    pub of: ReductionOf,
    /// Days between reductions.
    pub interval_days: u32,
    /// Total to reach, mg OME a day (0 = stop).
    pub target_ome_mg_per_day: f64,
    /// Longer steps once the total is low.
    pub slow_last_third: bool,
    /// Longer steps where the smallest real reduction is bigger than asked.
    pub lengthen_interval: bool,
    /// Why the clinician chose a rate faster than a rapid taper (required then).
    pub reason: Option<String>,
    /// Where the rate comes from (the preset's source, or "set by the clinician").
    pub source: String,
    /// The rate asked for, in words (the label without the actual rate).
    pub requested_label: String,
    /// The plan's actual average reduction, as a percentage of the starting
    /// total per interval, from the start to the last reduction (`null` if
    /// nothing is reduced).
    pub actual_percent_per_interval: Option<f64>,
}

/// A suggested taper plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Plan {
    /// Profile whose factors give the totals.
    pub profile: Profile,
    /// The steps, in order; the first starts on `start_date`.
    pub steps: Vec<Step>,
    /// Things the prescriber must know, one sentence each.
    pub warnings: Vec<String>,
    /// Total mg OME a day before the plan (as `stepdown ome` gives it).
    pub ome_start: f64,
    /// Total mg OME a day in the last step.
    pub ome_end: f64,
    /// Target total, mg OME a day (0 = stop).
    pub target_ome_mg_per_day: f64,
    /// Whether the last step is at or below the target with nothing held:
    /// false whenever an item is held (its dose is not reduced) or cannot be
    /// converted (the end total then leaves it out).
    pub target_reached: bool,
    /// False when an item cannot be converted, so the totals (and `ome_end`)
    /// leave it out and are incomplete.
    pub ome_end_complete: bool,
    /// First day of step 1.
    #[ts(as = "String")]
    pub start_date: NaiveDate,
    /// Last day of the last step (the stop day when the plan stops).
    #[ts(as = "String")]
    pub end_date: NaiveDate,
    /// The options used.
    pub options: PlanOptions,
    /// Every input item: tapered or held, its product and place in the order.
    pub items: Vec<PlanItem>,
    /// Input indexes of the tapered items, first reduced first.
    pub reduction_order: Vec<u32>,
    /// Why this order (the reference rule, or the clinician's choice).
    pub reduction_order_source: String,
    /// Where unequal doses go, in words (shown with the plan).
    pub dose_placement: String,
    /// The regimen before step 1, as entered.
    pub starting_items: Vec<StepItem>,
    /// General notes.
    pub notes: Vec<String>,
    /// The request the plan was made from (re-planning, e.g. a new reduction order, starts from it).
    pub request: PlanRequest,
    /// Clinician edits applied since the plan was generated, in words.
    pub edits_applied: Vec<String>,
    /// Version of the reference manifest.
    pub reference_version: String,
}
