//! Quantities of a regimen as newtypes: positive amounts (mg, micrograms an
//! hour, mg/mL, mL, units a dose, doses a day, supply at one issue), a whole
//! patch count, and mg of oral morphine equivalent a day. Each constructor
//! checks, so no amount in a typed regimen is zero, negative or NaN.

use serde::Serialize;

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
