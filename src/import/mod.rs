//! Reading practice prescribing extracts (issue 10, case-finding): CSV files
//! with one issued item per row, whose product descriptions and dose
//! instructions are free text.
//!
//! - [`product`]: "Morphine 30mg modified-release tablets" → drug, route,
//!   form, release, strength (or a co-medication, or "not understood" with the reason);
//! - [`dose`]: "1-2 qds prn" → amount a dose, doses a day, as needed
//!   (or "unreadable" with the reason);
//! - [`regimen_item`]: the two together → the regimen item the OME engine
//!   takes ([`RawItem`]);
//! - [`csv`]: bytes of a file (UTF-8 with or without BOM, UTF-16, Windows-1252)
//!   → rows with their line numbers, columns matched by name.
//!
//! All pure: no IO, no clock. The store side is `crate::casefinding`.

pub mod csv;
pub mod dose;
pub mod product;
mod text;

use crate::regimen::{num, Form, RawItem, Release};
use dose::{DoseReading, DoseUnit, Unreadable};
use product::{OpioidProduct, Strength};

/// The regimen item that an instruction makes of a product, ready for
/// validation and the OME engine; or why the two do not fit together
/// ("5ml" for a tablet, "half a patch").
///
/// A dose in mg is turned into tablets or mL with the product's strength; a
/// daily maximum in mg caps the tablets a day the same way.
pub fn regimen_item(product: &OpioidProduct, dose: &DoseReading) -> Result<RawItem, Unreadable> {
    let mut item = RawItem {
        drug: Some(product.drug.clone()),
        route: Some(product.route.as_str().to_string()),
        ..RawItem::default()
    };
    let pick = |wanted: &[DoseUnit]| -> Option<(DoseUnit, f64)> {
        if wanted.contains(&dose.unit) {
            Some((dose.unit, dose.per_dose))
        } else {
            dose.alt.filter(|(u, _)| wanted.contains(u))
        }
    };
    let doses = || {
        dose.doses_per_day.ok_or_else(|| {
            Unreadable(if dose.as_needed {
                "as needed, but with no maximum number of doses a day".into()
            } else {
                "no frequency (how many times a day)".into()
            })
        })
    };
    match product.strength {
        Strength::McgPerHour(rate) => {
            let Some((_, n)) = pick(&[DoseUnit::Patch, DoseUnit::Count]) else {
                return Err(Unreadable(
                    "a patch dose must be a number of patches (e.g. \"apply one patch\")".into(),
                ));
            };
            if n.fract() != 0.0 || n < 1.0 {
                return Err(Unreadable(format!(
                    "{} of a patch: patches are never cut",
                    num(n)
                )));
            }
            item.strength_mcg_per_hour = Some(rate);
            item.patches = Some(n);
        }
        Strength::Mg(strength) => {
            let (units, per_dose) = match pick(&[DoseUnit::Count, DoseUnit::Mg]) {
                Some((DoseUnit::Mg, mg)) => {
                    let units = mg / strength;
                    // Quarters at most: anything finer is not a dose of this product.
                    if ((units * 4.0) - (units * 4.0).round()).abs() > 1e-9 {
                        return Err(Unreadable(format!(
                            "{} mg a dose is not a whole number of {} mg units",
                            num(mg),
                            num(strength)
                        )));
                    }
                    (units, units)
                }
                Some((_, n)) => (n, n),
                None => {
                    return Err(Unreadable(format!(
                        "a dose {} for a tablet or capsule",
                        unit_words(dose.unit)
                    )))
                }
            };
            let mut doses = doses()?;
            if let Some(cap) = dose.cap {
                if cap.unit == DoseUnit::Mg {
                    doses = doses.min(cap.amount / strength / per_dose);
                }
            }
            item.form = product.form.map(|f| f.as_str().to_string());
            item.release = Some(product.release.unwrap_or_default().as_str().to_string());
            item.strength_mg = Some(strength);
            item.units_per_dose = Some(units);
            item.doses_per_day = Some(doses);
            item.paracetamol_mg = product.paracetamol_mg;
            item.as_needed = dose.as_needed.then_some(true);
        }
        Strength::MgPerMl(strength) => {
            let ml = match pick(&[DoseUnit::Ml, DoseUnit::Mg]) {
                Some((DoseUnit::Mg, mg)) => mg / strength,
                Some((_, ml)) => ml,
                None => {
                    return Err(Unreadable(format!(
                        "a dose {} for a liquid (it needs mL or mg)",
                        unit_words(dose.unit)
                    )))
                }
            };
            let mut doses = doses()?;
            if let Some(cap) = dose.cap {
                let cap_ml = match cap.unit {
                    DoseUnit::Mg => Some(cap.amount / strength),
                    DoseUnit::Ml => Some(cap.amount),
                    _ => None,
                };
                if let Some(c) = cap_ml {
                    doses = doses.min(c / ml);
                }
            }
            item.form = Some(Form::Solution.as_str().to_string());
            item.release = Some(
                product
                    .release
                    .unwrap_or(Release::Immediate)
                    .as_str()
                    .to_string(),
            );
            item.strength_mg_per_ml = Some(strength);
            item.ml_per_dose = Some(ml);
            item.doses_per_day = Some(doses);
            item.as_needed = dose.as_needed.then_some(true);
        }
    }
    Ok(item)
}

fn unit_words(u: DoseUnit) -> &'static str {
    match u {
        DoseUnit::Count => "as a count of units",
        DoseUnit::Ml => "in mL",
        DoseUnit::Mg => "in mg",
        DoseUnit::Patch => "in patches",
    }
}
