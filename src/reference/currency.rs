//! Reference data currency: which tables are overdue for review.
//!
//! Every table carries a `review_date` by which it must be checked against
//! its sources again. A table a little past that date is still the best data
//! the build has; one long past it may no longer match UK guidance (a factor
//! or threshold may have changed, as the UK high-dose threshold did in 2025).
//! How long is "long" is a clinical safety policy decision, so the number
//! lives in the `safety-policy` table with its source, not here.
//!
//! Pure: "today" is an argument. The CLI and the desktop shell read the clock
//! and pass the date in, so the rule is testable at any date.

use chrono::{Months, NaiveDate};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::{invalid, Reference, ReferenceError, Table};

/// What a policy row sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PolicyKind {
    /// A reference table more than this many months past its review date is
    /// reported as stale.
    ReferenceOverdueMonths,
}

/// One clinical safety policy number.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyRow {
    /// Row id, unique within the table.
    pub id: String,
    /// What it sets.
    pub kind: PolicyKind,
    /// The number.
    pub value: f64,
    /// Its unit, in words.
    pub unit: String,
    /// Where the number comes from (the risk management plan section).
    pub source: String,
}

/// The kinds every policy table must define, so a build cannot lose one.
const REQUIRED: &[PolicyKind] = &[PolicyKind::ReferenceOverdueMonths];

/// Checks the policy table's values (ids and sources are checked with every table).
pub(crate) fn check_policy(table: &Table<PolicyRow>) -> Result<(), ReferenceError> {
    let t = &table.header.id;
    for kind in REQUIRED {
        let n = table.rows.iter().filter(|r| r.kind == *kind).count();
        if n != 1 {
            return Err(invalid(
                t,
                &format!("{kind:?}"),
                format!("must be defined exactly once (found {n})"),
            ));
        }
    }
    for r in &table.rows {
        match r.kind {
            PolicyKind::ReferenceOverdueMonths => {
                // Whole months from 1 to 10 years: anything else is a typing error.
                if !(r.value.fract() == 0.0 && (1.0..=120.0).contains(&r.value)) {
                    return Err(invalid(
                        t,
                        &r.id,
                        format!(
                            "must be a whole number of months from 1 to 120 (got {})",
                            r.value
                        ),
                    ));
                }
            }
        }
    }
    Ok(())
}

/// A reference table that is more than the policy's number of months past
/// its review date on the given day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct StaleTable {
    /// Table identifier.
    pub id: String,
    /// Table title.
    pub title: String,
    /// Table version.
    pub version: String,
    /// ISO date by which it should have been reviewed.
    pub review_date: String,
    /// ISO date after which it counts as stale (review date plus the policy months).
    pub stale_after: String,
    /// Whole days past the review date.
    #[ts(type = "number")]
    pub days_past_review: i64,
    /// What to tell the clinician, in words.
    pub warning: String,
}

impl Reference {
    /// Months past its review date after which a table is stale (the
    /// `reference-overdue-months` policy row; `load` checks it is there).
    pub fn overdue_months(&self) -> Option<&PolicyRow> {
        self.policy
            .rows
            .iter()
            .find(|r| r.kind == PolicyKind::ReferenceOverdueMonths)
    }
}

/// Every table more than the policy's number of months (12) past its review
/// date on `today`, in the order `Reference::info` lists them. Empty when
/// all tables are current. A table exactly that many months past is not yet
/// stale ("more than").
pub fn currency(reference: &Reference, today: NaiveDate) -> Vec<StaleTable> {
    // check_policy guarantees a whole number from 1 to 120. Were the row
    // ever missing, 0 months flags every table past its review date: the
    // cautious reading, and no number of our own in code.
    let months = reference.overdue_months().map_or(0, |p| p.value as u32);
    reference
        .headers()
        .into_iter()
        .filter_map(|(h, _)| {
            // Beyond chrono's calendar only if a review date is absurd; such
            // a table is certainly not current.
            let stale_after = h
                .review_date
                .checked_add_months(Months::new(months))
                .unwrap_or(NaiveDate::MAX);
            (today > stale_after).then(|| {
                let days = (today - h.review_date).num_days();
                StaleTable {
                    id: h.id.clone(),
                    title: h.title.clone(),
                    version: h.version.clone(),
                    review_date: h.review_date.to_string(),
                    stale_after: stale_after.to_string(),
                    days_past_review: days,
                    warning: format!(
                        "Reference table \"{}\" (version {}) was due for review on {} and is \
                         more than {months} months overdue: its figures may no longer match \
                         current guidance. Check results that depend on it against the \
                         current sources, and update Stepdown.",
                        h.title, h.version, h.review_date
                    ),
                }
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::reference;

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn the_overdue_period_is_12_months_from_the_risk_management_plan() {
        let p = reference().overdue_months().unwrap();
        assert_eq!(p.value, 12.0);
        assert!(
            p.source.contains("clinical risk management plan"),
            "{}",
            p.source
        );
    }

    #[test]
    fn no_table_is_stale_today() {
        // The build date of this change; every table's review date is later.
        assert_eq!(currency(reference(), date("2026-11-24")), vec![]);
    }

    #[test]
    fn every_table_is_stale_far_in_the_future() {
        let r = reference();
        let stale = currency(r, date("2040-01-01"));
        let ids: Vec<String> = r.info().tables.into_iter().map(|t| t.id).collect();
        let stale_ids: Vec<String> = stale.iter().map(|s| s.id.clone()).collect();
        assert_eq!(stale_ids, ids, "every table, in info() order");
        for s in &stale {
            assert!(s.days_past_review > 365, "{s:?}");
            assert!(s.warning.contains(&s.version) && s.warning.contains("12 months"));
        }
    }

    #[test]
    fn stale_means_more_than_12_months_past_the_review_date() {
        let r = reference();
        let t = &r.thresholds.header;
        let after = t.review_date.checked_add_months(Months::new(12)).unwrap();
        let is_stale = |d: NaiveDate| currency(r, d).iter().any(|s| s.id == t.id);
        assert!(!is_stale(t.review_date), "due, not stale");
        assert!(
            !is_stale(after),
            "exactly 12 months past is not more than 12"
        );
        assert!(is_stale(after.succ_opt().unwrap()));
        let s = currency(r, after.succ_opt().unwrap())
            .into_iter()
            .find(|s| s.id == t.id)
            .unwrap();
        assert_eq!(s.stale_after, after.to_string());
        assert_eq!(s.review_date, t.review_date.to_string());
    }

    #[test]
    fn the_policy_table_is_checked() {
        let table = |rows: &str| -> Table<PolicyRow> {
            serde_json::from_str(&format!(
                r#"{{"id": "p", "title": "t", "version": "1", "review_date": "2027-01-01", "source": "s", "rows": [{rows}]}}"#
            ))
            .unwrap()
        };
        let row = |v: &str| {
            format!(
                r#"{{"id": "o", "kind": "reference-overdue-months", "value": {v}, "unit": "months", "source": "s"}}"#
            )
        };
        assert!(check_policy(&table(&row("12"))).is_ok());
        for bad in ["0", "12.5", "-1", "121"] {
            let e = check_policy(&table(&row(bad))).unwrap_err().to_string();
            assert!(e.contains("whole number of months"), "{bad}: {e}");
        }
        let e = check_policy(&table("")).unwrap_err().to_string();
        assert!(e.contains("exactly once (found 0)"), "{e}");
        let two = format!("{}, {}", row("12"), row("6").replace("\"o\"", "\"o2\""));
        assert!(check_policy(&table(&two)).is_err());
    }
}
