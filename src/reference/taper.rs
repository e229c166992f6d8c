//! The taper reference table (`assets/reference/taper.json`): presets in plain
//! words, input ranges, the default reduction order, the "slow the last third"
//! rule and the liquid measuring step. Every row names its source; nothing in
//! the taper code types a clinical number of its own.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::reference::{Reference, ReferenceError, Table};
use crate::vocabulary::vocabulary;

vocabulary!(
    /// Whether each step's reduction is a share of the starting total or of the current one.
    #[derive(Default)]
    #[ts(export)]
    ReductionOf, "reduction" {
        /// A fixed amount: the percentage of the starting total (a straight-line taper).
        #[default]
        Original => "original",
        /// The percentage of the current total (each step smaller than the last).
        Current => "current",
    }
);

/// A class of item in the default reduction order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "kebab-case")]
#[ts(export)]
pub enum OrderClass {
    /// Modified-release tablets and capsules, and patches (other than tramadol).
    LongActing,
    /// Immediate-release tablets, capsules and liquids (other than tramadol).
    ImmediateRelease,
    /// Tramadol, whatever its release.
    Tramadol,
}

vocabulary!(
    /// Which input range a `range` row sets.
    RangeField, "range field" {
        /// `taper.reduction_percent`.
        ReductionPercent => "reduction_percent",
        /// `taper.interval_days`.
        IntervalDays => "interval_days",
        /// `pauses[].days`.
        PauseDays => "pause_days",
        /// `taper.target_ome_mg_per_day`.
        TargetOmeMgPerDay => "target_ome_mg_per_day",
        /// Number of steps in a plan.
        Steps => "steps",
    }
);

/// One row of the taper table.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum TaperRow {
    /// A named preset.
    Preset(PresetRow),
    /// Which preset applies when the input names none.
    DefaultPreset {
        /// Row id.
        id: String,
        /// Preset name.
        name: String,
        /// Why.
        source: String,
    },
    /// Accepted range of an input.
    Range {
        /// Row id.
        id: String,
        /// The input.
        field: RangeField,
        /// Smallest accepted value.
        min: f64,
        /// Largest accepted value.
        max: f64,
        /// Unit words for messages.
        unit: String,
        /// Where the range comes from.
        source: String,
    },
    /// "Slow the last third": longer steps once the total is low.
    SlowLastThird {
        /// Row id.
        id: String,
        /// At or below this share of the starting total the rule applies.
        fraction_of_start: f64,
        /// Steps then last this many intervals.
        interval_multiplier: f64,
        /// Where it comes from.
        source: String,
    },
    /// Default order in which items are reduced.
    ReductionOrder {
        /// Row id.
        id: String,
        /// Classes, first reduced first.
        classes: Vec<OrderClass>,
        /// Where it comes from.
        source: String,
    },
    /// Which dose of the day a reduction comes off when an item has several.
    DoseTimeOrder {
        /// Row id.
        id: String,
        /// Which dose is reduced first.
        reduce: DoseTimeReduce,
        /// Among equal doses, which is reduced first.
        ties: TieBreak,
        /// Where it comes from.
        source: String,
    },
    /// At or above this starting total, a note suggests specialist support.
    SpecialistSupport {
        /// Row id.
        id: String,
        /// mg OME a day.
        ome_mg_per_day: f64,
        /// The note, with `{total}` and `{threshold}` filled in.
        note: String,
        /// Where it comes from.
        source: String,
    },
    /// Controlled-drug supply: most days one prescription covers.
    CdSupply {
        /// Row id.
        id: String,
        /// Days.
        max_days: u32,
        /// Where it comes from.
        source: String,
    },
    /// The guidance range of one step: above `max_percent` of its reference
    /// dose, or shorter than `min_days`, warns.
    GuidanceStep {
        /// Row id.
        id: String,
        /// Percent of the reference dose.
        max_percent: f64,
        /// Days.
        min_days: u32,
        /// Where it comes from.
        source: String,
    },
    /// Faster than `percent_of_start` every `per_days` days needs a reason.
    RapidTaper {
        /// Row id.
        id: String,
        /// Percent of the starting total.
        percent_of_start: f64,
        /// Days.
        per_days: u32,
        /// Where it comes from.
        source: String,
    },
    /// A switch within the same drug, offered to the clinician when an item's
    /// line cannot go on (never applied without being accepted).
    Switch(SwitchRow),
    /// Smallest measured step of an oral liquid dose.
    LiquidMeasure {
        /// Row id.
        id: String,
        /// Millilitres.
        ml: f64,
        /// Where it comes from.
        source: String,
    },
}

/// Which dose of the day a reduction comes off first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DoseTimeReduce {
    /// The largest dose, so uneven doses even out before any time is cut further.
    LargestFirst,
}

/// Among equal doses of the day, which is reduced first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TieBreak {
    /// The earliest (the night-time dose is kept longest).
    Earliest,
    /// The latest.
    Latest,
}

/// A switch rule: from one catalogue line to another of the same drug.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SwitchRow {
    /// Row id (the edit names it).
    pub id: String,
    /// Catalogue row switched from.
    pub from_product: String,
    /// Catalogue row switched to.
    pub to_product: String,
    /// Doses a day on the new line (tablets and capsules; the total a day is kept).
    #[serde(default)]
    pub doses_per_day: Option<u32>,
    /// In words.
    pub label: String,
    /// What stays the same, in words.
    pub equivalence: String,
    /// When it is offered: only where the line cannot go on (the default), or
    /// on every item of the line, as a choice for finer steps.
    #[serde(default)]
    pub offer: SwitchOffered,
    /// Combination products: the paracetamol goes on as separate tablets
    /// (shown with the switch; not part of the opioid taper).
    #[serde(default)]
    pub separate_paracetamol: bool,
    /// Where it comes from.
    pub source: String,
}

/// When a switch is offered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SwitchOffered {
    /// Only on an item whose line cannot go on (held, or held at its lowest strength).
    #[default]
    WhenHeld,
    /// On every item of the line (a clinician's choice, e.g. for finer steps).
    Always,
}

/// A named taper preset.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PresetRow {
    /// Row id.
    pub id: String,
    /// Name used in input (`"standard"`).
    pub name: String,
    /// Plain-words label shown to people.
    pub label: String,
    /// Percentage reduced each step.
    pub reduction_percent: f64,
    /// Of the starting or the current total.
    pub of: ReductionOf,
    /// Days between reductions.
    pub interval_days: u32,
    /// When the preset suits.
    pub use_when: String,
    /// Where it comes from.
    pub source: String,
}

impl TaperRow {
    /// Row id.
    pub fn id(&self) -> &str {
        match self {
            TaperRow::Preset(p) => &p.id,
            TaperRow::Switch(w) => &w.id,
            TaperRow::DefaultPreset { id, .. }
            | TaperRow::Range { id, .. }
            | TaperRow::SlowLastThird { id, .. }
            | TaperRow::ReductionOrder { id, .. }
            | TaperRow::DoseTimeOrder { id, .. }
            | TaperRow::SpecialistSupport { id, .. }
            | TaperRow::CdSupply { id, .. }
            | TaperRow::GuidanceStep { id, .. }
            | TaperRow::RapidTaper { id, .. }
            | TaperRow::LiquidMeasure { id, .. } => id,
        }
    }

    /// Row source.
    pub fn source(&self) -> &str {
        match self {
            TaperRow::Preset(p) => &p.source,
            TaperRow::Switch(w) => &w.source,
            TaperRow::DefaultPreset { source, .. }
            | TaperRow::Range { source, .. }
            | TaperRow::SlowLastThird { source, .. }
            | TaperRow::ReductionOrder { source, .. }
            | TaperRow::DoseTimeOrder { source, .. }
            | TaperRow::SpecialistSupport { source, .. }
            | TaperRow::CdSupply { source, .. }
            | TaperRow::GuidanceStep { source, .. }
            | TaperRow::RapidTaper { source, .. }
            | TaperRow::LiquidMeasure { source, .. } => source,
        }
    }
}

/// An accepted input range with its source.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Range<'a> {
    /// Smallest accepted.
    pub min: f64,
    /// Largest accepted.
    pub max: f64,
    /// Unit words.
    pub unit: &'a str,
    /// Where it comes from.
    pub source: &'a str,
}

/// A preset as the UI lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct PresetInfo {
    /// Name used in input (`"standard"`).
    pub name: String,
    /// Plain-words label.
    pub label: String,
    /// Percentage reduced each step.
    pub reduction_percent: f64,
    /// Of the starting or the current total.
    pub of: ReductionOf,
    /// Days between reductions.
    pub interval_days: u32,
    /// When it suits.
    pub use_when: String,
    /// Where it comes from.
    pub source: String,
    /// Whether it applies when no preset or amounts are given.
    pub is_default: bool,
}

/// Typed access to the taper table. Lookups cannot fail for the embedded data:
/// [`check`] runs when the reference loads and requires every row kind.
#[derive(Debug, Clone, Copy)]
pub struct TaperRules<'a> {
    table: &'a Table<TaperRow>,
}

impl<'a> TaperRules<'a> {
    /// The rules of a loaded reference.
    pub fn of(reference: &'a Reference) -> Self {
        TaperRules {
            table: &reference.taper,
        }
    }

    /// The one row `pick` selects. Loading checks every row kind is there
    /// ([`check`]), so a missing one is a build defect, not an input error.
    fn the<T>(&self, what: &str, pick: impl Fn(&'a TaperRow) -> Option<T>) -> T {
        match self.table.rows.iter().find_map(pick) {
            Some(found) => found,
            None => panic!("taper table has no {what} (a build defect)"),
        }
    }

    /// Every preset, in table order.
    pub fn presets(&self) -> impl Iterator<Item = &'a PresetRow> + 'a {
        self.table.rows.iter().filter_map(|r| match r {
            TaperRow::Preset(p) => Some(p),
            _ => None,
        })
    }

    /// The preset called `name`.
    pub fn preset(&self, name: &str) -> Option<&'a PresetRow> {
        self.presets().find(|p| p.name == name)
    }

    /// The preset used when the input names none.
    ///
    /// # Panics
    /// Never for a loaded [`Reference`]: loading fails unless [`check`] finds the row.
    pub fn default_preset(&self) -> &'a PresetRow {
        let name = self.table.rows.iter().find_map(|r| match r {
            TaperRow::DefaultPreset { name, .. } => Some(name.as_str()),
            _ => None,
        });
        match name.and_then(|n| self.preset(n)).or(self.presets().next()) {
            Some(p) => p,
            None => panic!("taper table has no preset (a build defect caught by reference tests)"),
        }
    }

    /// The accepted range of `field`.
    ///
    /// # Panics
    /// Never for a loaded [`Reference`]: loading fails unless [`check`] finds the row.
    pub fn range(&self, field: RangeField) -> Range<'a> {
        let found = self.table.rows.iter().find_map(|r| match r {
            TaperRow::Range {
                field: f,
                min,
                max,
                unit,
                source,
                ..
            } if *f == field => Some(Range {
                min: *min,
                max: *max,
                unit,
                source,
            }),
            _ => None,
        });
        match found {
            Some(r) => r,
            None => panic!("taper table has no {field:?} range (a build defect)"),
        }
    }

    /// `(fraction of the starting total, interval multiplier, source)` of "slow the last third".
    ///
    /// # Panics
    /// Never for a loaded [`Reference`]: loading fails unless [`check`] finds the row.
    pub fn slow_last_third(&self) -> (f64, f64, &'a str) {
        self.the("slow-last-third row", |r| match r {
            TaperRow::SlowLastThird {
                fraction_of_start,
                interval_multiplier,
                source,
                ..
            } => Some((*fraction_of_start, *interval_multiplier, source.as_str())),
            _ => None,
        })
    }

    /// Default reduction order (classes, first reduced first) and its source.
    ///
    /// # Panics
    /// Never for a loaded [`Reference`]: loading fails unless [`check`] finds the row.
    pub fn reduction_order(&self) -> (&'a [OrderClass], &'a str) {
        self.the("reduction-order row", |r| match r {
            TaperRow::ReductionOrder {
                classes, source, ..
            } => Some((classes.as_slice(), source.as_str())),
            _ => None,
        })
    }

    /// Among an item's equal doses of the day, which is reduced first, and the
    /// rule's source (the largest dose is always reduced first).
    ///
    /// # Panics
    /// Never for a loaded [`Reference`]: loading fails unless [`check`] finds the row.
    pub fn dose_time_order(&self) -> (TieBreak, &'a str) {
        self.the("dose-time-order row", |r| match r {
            TaperRow::DoseTimeOrder {
                reduce: DoseTimeReduce::LargestFirst,
                ties,
                source,
                ..
            } => Some((*ties, source.as_str())),
            _ => None,
        })
    }

    /// Smallest measured step of an oral liquid dose (mL) and its source.
    ///
    /// # Panics
    /// Never for a loaded [`Reference`]: loading fails unless [`check`] finds the row.
    pub fn liquid_measure(&self) -> (f64, &'a str) {
        self.the("liquid-measure row", |r| match r {
            TaperRow::LiquidMeasure { ml, source, .. } => Some((*ml, source.as_str())),
            _ => None,
        })
    }

    /// `(threshold mg OME a day, note template, source)` of the specialist-support note.
    ///
    /// # Panics
    /// Never for a loaded [`Reference`]: loading fails unless [`check`] finds the row.
    pub fn specialist_support(&self) -> (f64, &'a str, &'a str) {
        self.the("specialist-support row", |r| match r {
            TaperRow::SpecialistSupport {
                ome_mg_per_day,
                note,
                source,
                ..
            } => Some((*ome_mg_per_day, note.as_str(), source.as_str())),
            _ => None,
        })
    }

    /// `(most days on one controlled-drug prescription, source)`.
    ///
    /// # Panics
    /// Never for a loaded [`Reference`]: loading fails unless [`check`] finds the row.
    pub fn cd_supply(&self) -> (u32, &'a str) {
        self.the("cd-supply row", |r| match r {
            TaperRow::CdSupply {
                max_days, source, ..
            } => Some((*max_days, source.as_str())),
            _ => None,
        })
    }

    /// `(max percent of the reference dose, min days, source)` of one guidance step.
    ///
    /// # Panics
    /// Never for a loaded [`Reference`]: loading fails unless [`check`] finds the row.
    pub fn guidance_step(&self) -> (f64, u32, &'a str) {
        self.the("guidance-step row", |r| match r {
            TaperRow::GuidanceStep {
                max_percent,
                min_days,
                source,
                ..
            } => Some((*max_percent, *min_days, source.as_str())),
            _ => None,
        })
    }

    /// `(percent of the starting total, per days, source)`: faster needs a reason.
    ///
    /// # Panics
    /// Never for a loaded [`Reference`]: loading fails unless [`check`] finds the row.
    pub fn rapid_taper(&self) -> (f64, u32, &'a str) {
        self.the("rapid-taper row", |r| match r {
            TaperRow::RapidTaper {
                percent_of_start,
                per_days,
                source,
                ..
            } => Some((*percent_of_start, *per_days, source.as_str())),
            _ => None,
        })
    }

    /// The switch rules.
    pub fn switches(&self) -> impl Iterator<Item = &'a SwitchRow> + 'a {
        self.table.rows.iter().filter_map(|r| match r {
            TaperRow::Switch(w) => Some(w),
            _ => None,
        })
    }

    /// Presets for the UI, default first marked.
    pub fn preset_infos(&self) -> Vec<PresetInfo> {
        let default = self.default_preset().name.clone();
        self.presets()
            .map(|p| PresetInfo {
                name: p.name.clone(),
                label: p.label.clone(),
                reduction_percent: p.reduction_percent,
                of: p.of,
                interval_days: p.interval_days,
                use_when: p.use_when.clone(),
                source: p.source.clone(),
                is_default: p.name == default,
            })
            .collect()
    }
}

fn invalid(table: &str, row: &str, message: &str) -> ReferenceError {
    ReferenceError::Invalid {
        table: table.to_string(),
        row: row.to_string(),
        message: message.to_string(),
    }
}

/// Rules of the taper table: each singleton row kind exactly once, every range
/// field once with `min <= max`, presets within the ranges, the default preset
/// exists, the order names each class once, positive measures and multipliers.
pub fn check(table: &Table<TaperRow>) -> Result<(), ReferenceError> {
    let t = table.header.id.as_str();
    let count = |pred: &dyn Fn(&TaperRow) -> bool| table.rows.iter().filter(|r| pred(r)).count();
    let singletons: [(&str, usize); 9] = [
        (
            "specialist-support",
            count(&|r| matches!(r, TaperRow::SpecialistSupport { .. })),
        ),
        (
            "cd-supply",
            count(&|r| matches!(r, TaperRow::CdSupply { .. })),
        ),
        (
            "guidance-step",
            count(&|r| matches!(r, TaperRow::GuidanceStep { .. })),
        ),
        (
            "rapid-taper",
            count(&|r| matches!(r, TaperRow::RapidTaper { .. })),
        ),
        (
            "dose-time-order",
            count(&|r| matches!(r, TaperRow::DoseTimeOrder { .. })),
        ),
        (
            "default-preset",
            count(&|r| matches!(r, TaperRow::DefaultPreset { .. })),
        ),
        (
            "slow-last-third",
            count(&|r| matches!(r, TaperRow::SlowLastThird { .. })),
        ),
        (
            "reduction-order",
            count(&|r| matches!(r, TaperRow::ReductionOrder { .. })),
        ),
        (
            "liquid-measure",
            count(&|r| matches!(r, TaperRow::LiquidMeasure { .. })),
        ),
    ];
    for (kind, n) in singletons {
        if n != 1 {
            return Err(invalid(t, kind, "expected exactly one row of this kind"));
        }
    }
    for field in RangeField::ALL {
        let n = count(&|r| matches!(r, TaperRow::Range { field: f, .. } if *f == field));
        if n != 1 {
            return Err(invalid(
                t,
                &format!("{field:?}"),
                "expected exactly one range for this field",
            ));
        }
    }
    let range_of = |field: RangeField| {
        table.rows.iter().find_map(|r| match r {
            TaperRow::Range {
                field: f, min, max, ..
            } if *f == field => Some((*min, *max)),
            _ => None,
        })
    };
    let mut names = std::collections::HashSet::new();
    for r in &table.rows {
        match r {
            TaperRow::Range { id, min, max, .. } => {
                if !(min.is_finite() && max.is_finite() && *min >= 0.0 && min <= max) {
                    return Err(invalid(t, id, "range needs 0 <= min <= max"));
                }
            }
            TaperRow::Preset(p) => {
                if !names.insert(p.name.as_str()) {
                    return Err(invalid(t, &p.id, "duplicate preset name"));
                }
                if p.label.trim().is_empty() || p.use_when.trim().is_empty() {
                    return Err(invalid(t, &p.id, "preset needs a label and use_when"));
                }
                let within =
                    |field, v: f64| range_of(field).is_some_and(|(lo, hi)| v >= lo && v <= hi);
                if !within(RangeField::ReductionPercent, p.reduction_percent)
                    || !within(RangeField::IntervalDays, f64::from(p.interval_days))
                {
                    return Err(invalid(t, &p.id, "preset outside the accepted ranges"));
                }
            }
            TaperRow::SlowLastThird {
                id,
                fraction_of_start,
                interval_multiplier,
                ..
            } => {
                let fraction_ok = *fraction_of_start > 0.0 && *fraction_of_start < 1.0;
                let multiplier_ok = interval_multiplier.is_finite() && *interval_multiplier >= 1.0;
                if !(fraction_ok && multiplier_ok) {
                    return Err(invalid(
                        t,
                        id,
                        "fraction must be between 0 and 1 and the multiplier at least 1",
                    ));
                }
            }
            TaperRow::ReductionOrder { id, classes, .. } => {
                let all = [
                    OrderClass::LongActing,
                    OrderClass::ImmediateRelease,
                    OrderClass::Tramadol,
                ];
                if classes.len() != all.len() || !all.iter().all(|c| classes.contains(c)) {
                    return Err(invalid(t, id, "order must name each class exactly once"));
                }
            }
            TaperRow::LiquidMeasure { id, ml, .. } => {
                if !(ml.is_finite() && *ml > 0.0) {
                    return Err(invalid(t, id, "measure must be positive"));
                }
            }
            TaperRow::SpecialistSupport {
                id,
                ome_mg_per_day,
                note,
                ..
            } => {
                if !(ome_mg_per_day.is_finite() && *ome_mg_per_day > 0.0) || note.trim().is_empty()
                {
                    return Err(invalid(t, id, "threshold must be positive, with a note"));
                }
            }
            TaperRow::CdSupply { id, max_days, .. } => {
                if *max_days == 0 {
                    return Err(invalid(t, id, "max_days must be at least 1"));
                }
            }
            TaperRow::GuidanceStep {
                id,
                max_percent,
                min_days,
                ..
            } => {
                if !(max_percent.is_finite() && *max_percent > 0.0) || *min_days == 0 {
                    return Err(invalid(t, id, "percent and days must be positive"));
                }
            }
            TaperRow::RapidTaper {
                id,
                percent_of_start,
                per_days,
                ..
            } => {
                if !(percent_of_start.is_finite() && *percent_of_start > 0.0) || *per_days == 0 {
                    return Err(invalid(t, id, "percent and days must be positive"));
                }
            }
            TaperRow::Switch(w) => {
                if w.from_product == w.to_product || w.equivalence.trim().is_empty() {
                    return Err(invalid(
                        t,
                        &w.id,
                        "a switch goes to another line and says what stays the same",
                    ));
                }
            }
            TaperRow::DefaultPreset { .. } | TaperRow::DoseTimeOrder { .. } => {}
        }
    }
    for r in &table.rows {
        if let TaperRow::DefaultPreset { id, name, .. } = r {
            if !names.contains(name.as_str()) {
                return Err(invalid(t, id, "default preset does not exist"));
            }
        }
    }
    if names.is_empty() {
        return Err(invalid(t, "(presets)", "no presets"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::reference;

    #[test]
    fn presets_are_the_three_plain_word_ones_with_sources() {
        let rules = TaperRules::of(reference());
        let infos = rules.preset_infos();
        let names: Vec<&str> = infos.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["standard", "gentle", "faster"]);
        assert!(infos[0].is_default);
        assert_eq!(
            infos[0].label,
            "Standard: 10% of the starting dose every 4 weeks"
        );
        assert_eq!(
            (infos[1].reduction_percent, infos[1].interval_days),
            (5.0, 28)
        );
        assert_eq!(
            (infos[2].reduction_percent, infos[2].interval_days),
            (10.0, 14)
        );
        for p in &infos {
            assert!(p.source.len() > 40, "{}", p.name);
        }
    }

    #[test]
    fn ranges_match_the_issue() {
        let rules = TaperRules::of(reference());
        let r = rules.range(RangeField::ReductionPercent);
        assert_eq!((r.min, r.max), (1.0, 50.0));
        let r = rules.range(RangeField::IntervalDays);
        assert_eq!((r.min, r.max), (7.0, 84.0));
        assert_eq!(rules.liquid_measure().0, 1.0);
        let (fraction, multiplier, _) = rules.slow_last_third();
        assert!((fraction - 1.0 / 3.0).abs() < 1e-6 && multiplier == 2.0);
        assert_eq!(
            rules.reduction_order().0,
            [
                OrderClass::LongActing,
                OrderClass::ImmediateRelease,
                OrderClass::Tramadol
            ]
        );
    }

    #[test]
    fn broken_tables_are_rejected() {
        let base: serde_json::Value =
            serde_json::from_str(include_str!("../../assets/reference/taper.json")).unwrap();
        let load = |v: &serde_json::Value| -> Result<(), ReferenceError> {
            let t: Table<TaperRow> = serde_json::from_value(v.clone()).unwrap();
            check(&t)
        };
        assert!(load(&base).is_ok());
        let mut v = base.clone();
        v["rows"][0]["reduction_percent"] = 80.into();
        assert!(load(&v).unwrap_err().to_string().contains("outside"));
        let mut v = base.clone();
        let rows = v["rows"].as_array_mut().unwrap();
        rows.retain(|r| r["kind"] != "liquid-measure");
        assert!(load(&v).unwrap_err().to_string().contains("liquid-measure"));
        let mut v = base;
        v["rows"][3]["name"] = "brisk".into();
        assert!(load(&v).unwrap_err().to_string().contains("default preset"));
    }
}
