//! The typed regimen that validation (`crate::regimen`) produces and
//! everything else reads: a known [`Drug`], the [`Dose`] whose shape depends
//! on the form (an oral item cannot carry patch fields, a patch cannot be "as
//! needed"), the [`Item`] and the [`Regimen`]. `doses` holds doses that differ
//! by time of day. Below `ome` in the module graph: OME is computed from
//! these types, and the OME plausibility check of validation sits above it.

use std::fmt;

use serde::Serialize;

use crate::quantity::*;
use crate::reference::Reference;
use crate::vocabulary::{Form, Release, Route, SolidForm};

pub(crate) mod doses;
pub use doses::{DoseTimes, RawTimedDose, TimeOfDay, TimedAmount};

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
        /// Naloxone per tablet in oxycodone with naloxone (Targinact 20 mg/10 mg):
        /// it adds no OME, but it is a different product from plain oxycodone,
        /// so the plan must keep it and every label must show it.
        naloxone_per_unit: Option<Mg>,
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
                naloxone_per_unit,
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
                        naloxone_per_unit: *naloxone_per_unit,
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
                    naloxone_per_unit: *naloxone_per_unit,
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
