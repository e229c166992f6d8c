//! The follow-up scales (`assets/reference/scales.json`): the PEG three-item
//! pain score (Krebs 2009) and the Short Opiate Withdrawal Scale (Gossop
//! 1990). Items, ranges and wording are data with their sources; the
//! follow-up record (`followup`) checks answers against them.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::{invalid, ReferenceError, Table};

/// Which scale an item belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, TS)]
#[serde(rename_all = "lowercase")]
#[ts(export)]
pub enum Scale {
    /// PEG: pain, enjoyment of life, general activity; each 0-10.
    Peg,
    /// Short Opiate Withdrawal Scale: ten symptoms, each 0-3.
    Sows,
}

/// One item of a scale.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, TS)]
#[serde(deny_unknown_fields)]
#[ts(export)]
pub struct ScaleItemRow {
    /// Row id, e.g. `peg.pain`.
    pub id: String,
    /// The scale.
    pub scale: Scale,
    /// Position in the scale, from 1.
    pub item: u32,
    /// Lowest answer.
    pub min: u32,
    /// Highest answer.
    pub max: u32,
    /// The question or symptom as the scale words it.
    pub text: String,
    /// What the ends (PEG) or each answer (SOWS) mean.
    pub anchors: Vec<String>,
    /// Where it comes from.
    pub source: String,
}

/// The items of one scale, in order.
pub fn items(table: &Table<ScaleItemRow>, scale: Scale) -> Vec<&ScaleItemRow> {
    let mut rows: Vec<&ScaleItemRow> = table.rows.iter().filter(|r| r.scale == scale).collect();
    rows.sort_by_key(|r| r.item);
    rows
}

/// Each scale has items numbered 1, 2, 3… and a range with min < max.
pub(crate) fn check(table: &Table<ScaleItemRow>) -> Result<(), ReferenceError> {
    for scale in [Scale::Peg, Scale::Sows] {
        let rows = items(table, scale);
        if rows.is_empty() {
            return Err(invalid(
                &table.header.id,
                "-",
                format!("{scale:?} has no items"),
            ));
        }
        for (i, r) in rows.iter().enumerate() {
            if r.item as usize != i + 1 {
                return Err(invalid(
                    &table.header.id,
                    &r.id,
                    "items are numbered 1, 2, 3… without gaps",
                ));
            }
            if r.min >= r.max {
                return Err(invalid(&table.header.id, &r.id, "min must be below max"));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::reference;

    #[test]
    fn peg_has_three_items_of_0_to_10_and_sows_ten_of_0_to_3() {
        let r = reference();
        let peg = items(&r.scales, Scale::Peg);
        assert_eq!(peg.len(), 3);
        assert!(peg.iter().all(|i| i.min == 0 && i.max == 10));
        let sows = items(&r.scales, Scale::Sows);
        assert_eq!(sows.len(), 10);
        assert!(sows.iter().all(|i| i.min == 0 && i.max == 3));
    }
}
