//! Known gaps: routes and products the reference deliberately does not convert
//! or list, each with the reason and its source (`assets/reference/known_gaps.json`).
//!
//! A gap is data, not silence: when an item falls into one, the OME report
//! gives the gap's reason instead of a bare "no factor", and the table is
//! listed with the other reference tables so a reviewer sees every omission.

use serde::{Deserialize, Serialize};

use super::{invalid, ReferenceError, Table};
use crate::vocabulary::Route;

/// One deliberate gap in the reference.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct KnownGapRow {
    /// Row id.
    pub id: String,
    /// The route not converted (for route gaps).
    #[serde(default)]
    pub route: Option<Route>,
    /// The drug, when the gap is one drug by that route (otherwise every drug).
    #[serde(default)]
    pub drug: Option<String>,
    /// The product not in the catalogue (for product gaps), in the words people use.
    #[serde(default)]
    pub product: Option<String>,
    /// Why, and what to do instead, for people.
    pub reason: String,
    /// Where the decision comes from.
    pub source: String,
}

/// Each row is a route gap (optionally for one drug) or a product gap, never
/// both, with a reason; a (route, drug) pair appears once.
pub(crate) fn check(table: &Table<KnownGapRow>) -> Result<(), ReferenceError> {
    let t = table.header.id.as_str();
    let mut seen = std::collections::HashSet::new();
    for r in &table.rows {
        let bad = |m: &str| invalid(t, &r.id, m);
        if r.reason.trim().is_empty() {
            return Err(bad("gap has no reason"));
        }
        match (&r.route, &r.product) {
            (Some(route), None) => {
                if !seen.insert((*route, r.drug.clone())) {
                    return Err(bad("duplicate (route, drug) gap"));
                }
            }
            (None, Some(p)) if !p.trim().is_empty() && r.drug.is_none() => {}
            _ => return Err(bad("a gap names a route (and maybe a drug) or a product")),
        }
        if let Some(d) = &r.drug {
            if d.trim().is_empty() || *d != d.to_lowercase() {
                return Err(bad("drug must be a lower-case generic name"));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::reference::{reference, Conversion};
    use crate::vocabulary::Route;
    use crate::Profile;

    #[test]
    fn subcutaneous_and_rectal_are_listed_gaps_with_reasons() {
        let r = reference();
        for route in [Route::Subcutaneous, Route::Rectal, Route::Intravenous] {
            let gap = r.known_gap("morphine", route).expect("route gap");
            assert!(gap.reason.len() > 20, "{}", gap.id);
        }
        match r.conversion(Profile::Uk, "morphine", Route::Rectal) {
            Conversion::NotConvertible { reason, row: None } => {
                assert!(reason.contains("suppositor"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn product_gaps_name_the_missing_products() {
        let products: Vec<String> = reference()
            .known_gaps
            .rows
            .iter()
            .filter_map(|g| g.product.clone())
            .collect();
        assert!(
            products.iter().any(|p| p.contains("MST Continus")),
            "{products:?}"
        );
    }

    #[test]
    fn the_reference_docs_list_every_known_gap() {
        let docs = include_str!("../../docs/reference.md");
        for g in &reference().known_gaps.rows {
            assert!(
                docs.contains(&format!("`{}`", g.id)),
                "docs/reference.md lacks {}",
                g.id
            );
        }
    }
}
