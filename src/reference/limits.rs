//! Licensed daily maxima per opioid, and the age and renal rules that lower
//! them or lengthen the dosing interval (`assets/reference/dose_limits.json`).
//!
//! These are clinical limits from SmPCs and the BNF, unlike the implausibility
//! limits of `limits.json` (which only catch typing errors). The flag logic
//! (`flags::above_licensed_maximum`) picks the rows that apply to a patient;
//! the numbers and their sources live here.

use serde::{Deserialize, Serialize};

use super::{invalid, positive, ReferenceError, Table};
use crate::vocabulary::Release;

/// One limit: a maximum a day, a shortest dosing interval, or both, for one
/// opioid, optionally only for one release type, above an age or below an eGFR.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DoseLimitRow {
    /// Row id.
    pub id: String,
    /// Lower-case generic opioid name (a known drug).
    pub drug: String,
    /// Only items of this release count (tapentadol: immediate 600, modified 500).
    #[serde(default)]
    pub release: Option<Release>,
    /// Applies only when the patient's age is above this (years).
    #[serde(default)]
    pub age_above: Option<f64>,
    /// Applies only when the patient's eGFR is below this (mL/min/1.73 m²).
    #[serde(default)]
    pub egfr_below: Option<f64>,
    /// Most mg of the drug a day (as-needed doses counted at their maximum).
    #[serde(default)]
    pub max_mg_per_day: Option<f64>,
    /// Shortest interval between doses, hours (more doses a day than 24 / this breaks it).
    #[serde(default)]
    pub min_interval_hours: Option<f64>,
    /// The rule in words, shown in the flag ("400 mg a day", "over 75: 300 mg a day").
    pub rule: String,
    /// Where it comes from.
    pub source: String,
}

impl DoseLimitRow {
    /// Whether the row applies to a patient of this age and eGFR (unknown
    /// values never trigger an age or renal row: nothing is assumed).
    pub fn applies(&self, age: Option<f64>, egfr: Option<f64>) -> bool {
        let age_ok = match self.age_above {
            None => true,
            Some(a) => age.is_some_and(|x| x > a),
        };
        let egfr_ok = match self.egfr_below {
            None => true,
            Some(e) => egfr.is_some_and(|x| x < e),
        };
        age_ok && egfr_ok
    }
}

/// Every row names a known opioid, a rule and at least one positive limit.
pub(crate) fn check(
    table: &Table<DoseLimitRow>,
    known_drugs: &[String],
) -> Result<(), ReferenceError> {
    let t = table.header.id.as_str();
    for r in &table.rows {
        let bad = |m: &str| invalid(t, &r.id, m);
        if !known_drugs.contains(&r.drug) {
            return Err(bad("drug is not an opioid of the OME tables"));
        }
        if r.rule.trim().is_empty() {
            return Err(bad("row has no rule words"));
        }
        if r.max_mg_per_day.is_none() && r.min_interval_hours.is_none() {
            return Err(bad("a limit needs max_mg_per_day or min_interval_hours"));
        }
        for x in [
            r.max_mg_per_day,
            r.min_interval_hours,
            r.age_above,
            r.egfr_below,
        ]
        .into_iter()
        .flatten()
        {
            if !positive(x) {
                return Err(bad("numbers must be positive"));
            }
        }
        if r.min_interval_hours.is_some_and(|h| h > 24.0) {
            return Err(bad("a dosing interval above 24 hours is not a daily rule"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::reference::reference;

    #[test]
    fn tramadol_codeine_dihydrocodeine_and_tapentadol_have_maxima() {
        let rows = &reference().dose_limits.rows;
        let base = |drug: &str| {
            rows.iter()
                .filter(|r| r.drug == drug && r.age_above.is_none() && r.egfr_below.is_none())
                .filter_map(|r| r.max_mg_per_day)
                .fold(0.0_f64, f64::max)
        };
        assert_eq!(base("tramadol"), 400.0);
        assert_eq!(base("codeine"), 240.0);
        assert_eq!(base("dihydrocodeine"), 240.0);
        assert!(base("tapentadol") > 0.0);
        assert!(rows
            .iter()
            .any(|r| r.drug == "tramadol" && r.age_above.is_some()));
        assert!(rows.iter().any(|r| r.drug == "tramadol"
            && r.egfr_below.is_some()
            && r.min_interval_hours.is_some()));
    }

    #[test]
    fn unknown_age_or_egfr_never_triggers_a_conditional_row() {
        for r in &reference().dose_limits.rows {
            if r.age_above.is_some() || r.egfr_below.is_some() {
                assert!(!r.applies(None, None), "{}", r.id);
            } else {
                assert!(r.applies(None, None), "{}", r.id);
            }
        }
    }
}
