//! Reference table for case-finding (`assets/reference/casefinding.json`):
//! what dose abbreviations and phrases mean when a prescribing extract is
//! read, the current-regimen window, the length of each patient's trend, and
//! the extra threshold that practice figures count.
//!
//! The meanings of abbreviations ("bd" = twice a day) are clinical facts with
//! a source (the BNF's list of Latin abbreviations), so they live here, where
//! a clinician can review them, rather than in the parser. Plain English
//! number words and arithmetic ("every 6 hours" = 4 times a day) stay in code.

use std::collections::HashSet;

use serde::Deserialize;

use super::{invalid, positive, ReferenceError, Table};
use crate::vocabulary::vocabulary;

/// A time of day that an instruction names, so that "each night at bedtime"
/// counts once and "in the morning and at night" twice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DoseSlot {
    /// On waking, in the morning, with breakfast.
    Morning,
    /// Midday, lunchtime.
    Midday,
    /// Afternoon, teatime.
    Teatime,
    /// Evening, with the evening meal.
    Evening,
    /// Night, bedtime.
    Night,
}

vocabulary!(
    /// A number the case-finding rules need, with its unit.
    CaseFindingSetting, "case-finding setting" {
        /// Issues within this many days (up to and including today) make up the current regimen.
        CurrentWindowDays => "current-window-days",
        /// Months in each patient's OME trend (the current month included).
        TrendMonths => "trend-months",
        /// An extract's instruction read as more tablets or capsules a dose than
        /// this is left unread (and estimated from supply).
        ExtractMaxUnitsPerDose => "extract-max-units-per-dose",
        /// Instruction- and supply-based OME figures differ when they differ by
        /// more than this fraction of the larger.
        SupplyDifferFraction => "supply-differ-fraction",
        /// An issue of morphine oral solution above this many mL is an audit marker.
        LiquidIssueMaxMl => "liquid-issue-max-ml",
        /// A patient on the worklist with no Stepdown review saved within this
        /// many months (up to and including today) carries an audit marker.
        ReviewIntervalMonths => "review-interval-months",
    }
);

/// One row of the case-finding table.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum CaseFindingRow {
    /// A number the rules use.
    Setting {
        /// Row id.
        id: String,
        /// Which setting.
        setting: CaseFindingSetting,
        /// Its value.
        value: f64,
        /// Unit words.
        unit: String,
        /// Why this value.
        source: String,
    },
    /// A threshold that practice figures count people against, besides the
    /// profile's own high-dose threshold (which comes from `thresholds.json`).
    FigureThreshold {
        /// Row id.
        id: String,
        /// mg OME a day.
        mg_per_day: f64,
        /// Words for people, e.g. "the UK high-dose threshold before late 2025".
        label: String,
        /// Where it comes from.
        source: String,
    },
    /// Words meaning "so many times a day" (or "every so many hours").
    Frequency {
        /// Row id.
        id: String,
        /// The words, as written (matched case-insensitively, full stops ignored).
        terms: Vec<String>,
        /// Doses a day (absent when `interval_hours` is given).
        #[serde(default)]
        doses_per_day: Option<f64>,
        /// Hours between doses (absent when `doses_per_day` is given).
        #[serde(default)]
        interval_hours: Option<f64>,
        /// The time of day it names, if any ("mane" is the morning).
        #[serde(default)]
        slot: Option<DoseSlot>,
        /// The meaning in words.
        meaning: String,
        /// Where the meaning comes from.
        source: String,
    },
    /// Words meaning "only when needed".
    AsNeeded {
        /// Row id.
        id: String,
        /// The words.
        terms: Vec<String>,
        /// Where they come from.
        source: String,
    },
    /// Words that make an instruction unreadable as a daily dose.
    NotReadable {
        /// Row id.
        id: String,
        /// The words.
        terms: Vec<String>,
        /// Why such an instruction gives no daily dose (shown in reports).
        reason: String,
        /// True when the words make the instruction unreadable even if it
        /// also states a dose ("2 bd reducing by 1 weekly"); false when a
        /// stated dose wins ("one twice a day as directed").
        #[serde(default)]
        overrides_dose: bool,
        /// Where it comes from.
        source: String,
    },
    /// Co-medication classes that are dependence-forming: co-prescribed with
    /// an opioid, a worklist audit marker.
    DependenceForming {
        /// Row id.
        id: String,
        /// The classes.
        classes: Vec<crate::reference::risk::DrugClass>,
        /// Where it comes from.
        source: String,
    },
    /// Words about how the medicine is supplied ("dispense weekly", "dosette",
    /// "instalments"): the frequency words next to them are the supply
    /// interval, never the doses a day.
    Dispensing {
        /// Row id.
        id: String,
        /// The words.
        terms: Vec<String>,
        /// The meaning in words.
        meaning: String,
        /// Where it comes from.
        source: String,
    },
}

impl CaseFindingRow {
    /// The row id.
    pub fn id(&self) -> &str {
        match self {
            CaseFindingRow::Setting { id, .. }
            | CaseFindingRow::FigureThreshold { id, .. }
            | CaseFindingRow::Frequency { id, .. }
            | CaseFindingRow::AsNeeded { id, .. }
            | CaseFindingRow::NotReadable { id, .. }
            | CaseFindingRow::Dispensing { id, .. }
            | CaseFindingRow::DependenceForming { id, .. } => id,
        }
    }

    /// The row's source.
    pub fn source(&self) -> &str {
        match self {
            CaseFindingRow::Setting { source, .. }
            | CaseFindingRow::FigureThreshold { source, .. }
            | CaseFindingRow::Frequency { source, .. }
            | CaseFindingRow::AsNeeded { source, .. }
            | CaseFindingRow::NotReadable { source, .. }
            | CaseFindingRow::Dispensing { source, .. }
            | CaseFindingRow::DependenceForming { source, .. } => source,
        }
    }

    fn terms(&self) -> &[String] {
        match self {
            CaseFindingRow::Frequency { terms, .. }
            | CaseFindingRow::AsNeeded { terms, .. }
            | CaseFindingRow::NotReadable { terms, .. }
            | CaseFindingRow::Dispensing { terms, .. } => terms,
            CaseFindingRow::Setting { .. }
            | CaseFindingRow::FigureThreshold { .. }
            | CaseFindingRow::DependenceForming { .. } => &[],
        }
    }
}

/// Normalises dose wording for matching: lower case, full stops dropped
/// (except in decimal numbers, so "p.r.n." is "prn" but "2.5" stays),
/// spaces collapsed. Used for both the table's terms and the instructions.
pub fn normalise_term(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    for (i, c) in chars.iter().enumerate() {
        if *c == '.' {
            let digit_before = i > 0 && chars[i - 1].is_ascii_digit();
            let digit_after = chars.get(i + 1).is_some_and(|c| c.is_ascii_digit());
            if digit_before && digit_after {
                out.push('.');
            }
            continue;
        }
        out.extend(c.to_lowercase());
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Checks the case-finding rows: every setting once with a positive value;
/// positive thresholds; each frequency row has exactly one of doses a day or
/// an interval, positive; terms non-empty and unique across the table once normalised.
pub(crate) fn check(table: &Table<CaseFindingRow>) -> Result<(), ReferenceError> {
    let t = table.header.id.as_str();
    let mut terms = HashSet::new();
    for r in &table.rows {
        let bad = |m: &str| invalid(t, r.id(), m);
        match r {
            CaseFindingRow::Setting { value, unit, .. } => {
                if !positive(*value) || unit.trim().is_empty() {
                    return Err(bad("a setting needs a positive value and a unit"));
                }
            }
            CaseFindingRow::FigureThreshold {
                mg_per_day, label, ..
            } => {
                if !positive(*mg_per_day) || label.trim().is_empty() {
                    return Err(bad("a threshold needs a positive mg_per_day and a label"));
                }
            }
            CaseFindingRow::Frequency {
                doses_per_day,
                interval_hours,
                meaning,
                ..
            } => {
                match (doses_per_day, interval_hours) {
                    (Some(x), None) | (None, Some(x)) if positive(*x) => {}
                    _ => {
                        return Err(bad(
                            "give exactly one of doses_per_day and interval_hours, positive",
                        ))
                    }
                }
                if meaning.trim().is_empty() {
                    return Err(bad("a frequency needs its meaning in words"));
                }
            }
            CaseFindingRow::AsNeeded { .. } => {}
            CaseFindingRow::DependenceForming { classes, .. } => {
                if classes.is_empty() {
                    return Err(bad("a dependence-forming row needs classes"));
                }
            }
            CaseFindingRow::Dispensing { meaning, .. } => {
                if meaning.trim().is_empty() {
                    return Err(bad("a dispensing row needs its meaning in words"));
                }
            }
            CaseFindingRow::NotReadable { reason, .. } => {
                if reason.trim().is_empty() {
                    return Err(bad("a not-readable row needs a reason"));
                }
            }
        }
        let own = r.terms();
        if matches!(
            r,
            CaseFindingRow::Frequency { .. }
                | CaseFindingRow::AsNeeded { .. }
                | CaseFindingRow::NotReadable { .. }
                | CaseFindingRow::Dispensing { .. }
        ) && own.is_empty()
        {
            return Err(bad_terms(t, r.id(), "the row has no terms"));
        }
        // "o.d." and "od" are the same term once normalised: both may be
        // listed in one row for readability, but no term may be in two rows.
        let mut own_terms = HashSet::new();
        for term in own {
            let n = normalise_term(term);
            if n.is_empty() {
                return Err(bad_terms(t, r.id(), "empty term"));
            }
            if own_terms.insert(n.clone()) && !terms.insert(n.clone()) {
                return Err(bad_terms(
                    t,
                    r.id(),
                    &format!("term '{n}' appears more than once in the table"),
                ));
            }
        }
    }
    for s in CaseFindingSetting::ALL {
        let n = table
            .rows
            .iter()
            .filter(|r| matches!(r, CaseFindingRow::Setting { setting, .. } if *setting == s))
            .count();
        if n != 1 {
            return Err(invalid(
                t,
                &format!("{s:?}"),
                format!("expected exactly one row for this setting, found {n}"),
            ));
        }
    }
    Ok(())
}

fn bad_terms(t: &str, id: &str, m: &str) -> ReferenceError {
    invalid(t, id, m)
}

/// Lookups over the case-finding table.
impl Table<CaseFindingRow> {
    /// The value of a setting.
    ///
    /// # Panics
    /// Never for embedded data: `check` requires every setting exactly once.
    pub fn setting(&self, which: CaseFindingSetting) -> f64 {
        self.rows
            .iter()
            .find_map(|r| match r {
                CaseFindingRow::Setting { setting, value, .. } if *setting == which => Some(*value),
                _ => None,
            })
            .unwrap_or_else(|| panic!("case-finding table has no {which:?} row (a build defect)"))
    }

    /// The co-medication classes that count as dependence-forming.
    pub fn dependence_forming(
        &self,
    ) -> impl Iterator<Item = crate::reference::risk::DrugClass> + '_ {
        self.rows
            .iter()
            .filter_map(|r| match r {
                CaseFindingRow::DependenceForming { classes, .. } => Some(classes.iter().copied()),
                _ => None,
            })
            .flatten()
    }

    /// The extra thresholds that practice figures count, with labels and sources.
    pub fn figure_thresholds(&self) -> impl Iterator<Item = (f64, &str, &str)> {
        self.rows.iter().filter_map(|r| match r {
            CaseFindingRow::FigureThreshold {
                mg_per_day,
                label,
                source,
                ..
            } => Some((*mg_per_day, label.as_str(), source.as_str())),
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::reference;

    #[test]
    fn the_table_loads_with_sources_and_settings() {
        let t = &reference().casefinding;
        assert_eq!(t.setting(CaseFindingSetting::CurrentWindowDays), 90.0);
        assert_eq!(t.setting(CaseFindingSetting::TrendMonths), 12.0);
        assert_eq!(t.setting(CaseFindingSetting::ExtractMaxUnitsPerDose), 8.0);
        assert_eq!(t.setting(CaseFindingSetting::SupplyDifferFraction), 0.25);
        for r in &t.rows {
            assert!(r.source().trim().len() > 20, "thin source on {}", r.id());
        }
        let thresholds: Vec<f64> = t.figure_thresholds().map(|(mg, _, _)| mg).collect();
        assert_eq!(thresholds, [120.0]);
    }

    #[test]
    fn terms_are_normalised_without_full_stops_except_in_numbers() {
        assert_eq!(normalise_term("P.R.N."), "prn");
        assert_eq!(normalise_term(" Take  2.5 ml  q.d.s. "), "take 2.5 ml qds");
        assert_eq!(normalise_term("1. tablet"), "1 tablet");
    }

    #[test]
    fn bad_rows_are_rejected() {
        let table = |rows: &str| -> Table<CaseFindingRow> {
            serde_json::from_str(&format!(
                r#"{{"id": "t", "title": "t", "version": "1", "review_date": "2027-01-01", "source": "s", "rows": [{rows}]}}"#
            ))
            .unwrap()
        };
        let settings = r#"{"id": "w", "kind": "setting", "setting": "current-window-days", "value": 90, "unit": "days", "source": "s"},
            {"id": "m", "kind": "setting", "setting": "trend-months", "value": 12, "unit": "months", "source": "s"},
            {"id": "u", "kind": "setting", "setting": "extract-max-units-per-dose", "value": 8, "unit": "tablets", "source": "s"},
            {"id": "d", "kind": "setting", "setting": "supply-differ-fraction", "value": 0.25, "unit": "fraction", "source": "s"},
            {"id": "l", "kind": "setting", "setting": "liquid-issue-max-ml", "value": 300, "unit": "mL", "source": "s"},
            {"id": "r", "kind": "setting", "setting": "review-interval-months", "value": 3, "unit": "months", "source": "s"}"#;
        assert!(check(&table(settings)).is_ok());
        let both = format!(
            r#"{settings}, {{"id": "f", "kind": "frequency", "terms": ["bd"], "doses_per_day": 2, "interval_hours": 12, "meaning": "m", "source": "s"}}"#
        );
        assert!(check(&table(&both)).is_err());
        let same_row = format!(
            r#"{settings}, {{"id": "f", "kind": "frequency", "terms": ["bd", "b.d."], "doses_per_day": 2, "meaning": "m", "source": "s"}}"#
        );
        assert!(check(&table(&same_row)).is_ok());
        let dup = format!(
            r#"{settings}, {{"id": "f", "kind": "frequency", "terms": ["b.d."], "doses_per_day": 2, "meaning": "m", "source": "s"}},
               {{"id": "g", "kind": "as-needed", "terms": ["BD"], "source": "s"}}"#
        );
        let e = check(&table(&dup)).unwrap_err().to_string();
        assert!(e.contains("more than once"), "{e}");
        let missing = r#"{"id": "w", "kind": "setting", "setting": "current-window-days", "value": 90, "unit": "days", "source": "s"}"#;
        assert!(check(&table(missing)).is_err());
    }
}
