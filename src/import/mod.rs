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
pub mod paste;
pub mod presets;
pub mod product;
pub mod stream;
mod text;

use crate::item::{RawTimedDose, TimeOfDay};
use crate::reference::casefinding::DoseSlot;
use crate::regimen::RawItem;
use crate::vocabulary::{num, Form, Release};
use dose::{DoseReading, DoseUnit, TimedReading, Unreadable};
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
            item.naloxone_mg = product.naloxone_mg;
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

/// The item with its doses per time of day, when the instruction gave a
/// different dose at named times ([`dose::DoseReader::read_times`]); otherwise
/// (as needed, patches, amounts that are not whole quarters of a unit) the
/// item unchanged. The daily total is the same either way.
pub fn with_dose_times(item: RawItem, product: &OpioidProduct, timed: &TimedReading) -> RawItem {
    if item.as_needed == Some(true) {
        return item;
    }
    let per_unit = match product.strength {
        Strength::Mg(mg) => mg,
        Strength::MgPerMl(mg) => mg,
        Strength::McgPerHour(_) => return item,
    };
    let liquid = matches!(product.strength, Strength::MgPerMl(_));
    let mut doses = Vec::with_capacity(timed.parts.len());
    for (slot, amount) in &timed.parts {
        let amount = match (timed.unit, liquid) {
            (DoseUnit::Mg, _) => amount / per_unit,
            (DoseUnit::Count, false) | (DoseUnit::Ml, true) => *amount,
            _ => return item,
        };
        // Quarters at most, as for one dose a time: anything finer is not a dose of this product.
        if !liquid && ((amount * 4.0) - (amount * 4.0).round()).abs() > 1e-9 {
            return item;
        }
        doses.push(RawTimedDose {
            time: Some(time_of(*slot).as_str().to_string()),
            units: (!liquid).then_some(amount),
            ml: liquid.then_some(amount),
            mg: None,
        });
    }
    RawItem {
        units_per_dose: None,
        ml_per_dose: None,
        doses_per_day: None,
        doses: Some(doses),
        ..item
    }
}

fn time_of(slot: DoseSlot) -> TimeOfDay {
    match slot {
        DoseSlot::Morning => TimeOfDay::Morning,
        DoseSlot::Midday => TimeOfDay::Midday,
        DoseSlot::Teatime => TimeOfDay::Teatime,
        DoseSlot::Evening => TimeOfDay::Evening,
        DoseSlot::Night => TimeOfDay::Night,
    }
}

fn unit_words(u: DoseUnit) -> &'static str {
    match u {
        DoseUnit::Count => "as a count of units",
        DoseUnit::Ml => "in mL",
        DoseUnit::Mg => "in mg",
        DoseUnit::Patch => "in patches",
    }
}

#[cfg(test)]
mod timed_tests {
    use super::dose::DoseReader;
    use super::product::{Product, ProductReader};
    use super::*;
    use crate::item::{Dose, Regimen};
    use crate::profile::Profile;
    use crate::reference::reference;

    /// The item an extract row makes, with doses per time when the instruction has them.
    fn item(drug: &str, dose: &str) -> RawItem {
        let products = ProductReader::new(reference());
        let Ok(Product::Opioid(p)) = products.read(drug) else {
            panic!("{drug}")
        };
        let doses = DoseReader::new(reference());
        // An instruction the daily reader cannot read makes no item at all.
        let Some(raw) = doses
            .read(dose)
            .ok()
            .and_then(|r| regimen_item(&p, &r).ok())
        else {
            return RawItem::default();
        };
        match doses.read_times(dose) {
            Some(t) => with_dose_times(raw, &p, &t),
            None => raw,
        }
    }

    fn times(raw: &RawItem) -> Vec<(String, f64)> {
        raw.doses
            .iter()
            .flatten()
            .map(|d| {
                (
                    d.time.clone().unwrap_or_default(),
                    d.units.or(d.ml).unwrap_or(0.0),
                )
            })
            .collect()
    }

    #[test]
    fn uneven_doses_by_time_of_day_are_read_per_time() {
        let mst = "Morphine sulfate 30mg modified-release tablets";
        for text in [
            "30mg in the morning and 60mg at night",
            "1 mane 2 nocte",
            "one in the morning and two at night",
            "Take ONE tablet in the morning and TWO tablets at night",
        ] {
            let raw = item(mst, text);
            assert_eq!(
                times(&raw),
                [("morning".to_string(), 1.0), ("night".to_string(), 2.0)],
                "{text}"
            );
            assert_eq!(
                (raw.units_per_dose, raw.doses_per_day),
                (None, None),
                "{text}"
            );
            let r = Regimen::validate(&[raw], "items", Profile::Uk, reference()).unwrap();
            assert!(
                matches!(&r.items[0].dose, Dose::Solid { doses_per_day, .. } if doses_per_day.get() == 2.0),
                "{text}"
            );
        }
        let liquid = item(
            "Morphine sulfate 10mg/5ml oral solution",
            "2.5ml in the morning and 5ml at night",
        );
        assert_eq!(
            times(&liquid),
            [("morning".to_string(), 2.5), ("night".to_string(), 5.0)]
        );
    }

    #[test]
    fn even_ranged_or_as_needed_instructions_keep_the_daily_reading() {
        let mst = "Morphine sulfate 30mg modified-release tablets";
        for text in [
            "one in the morning and one at night",
            "1-2 mane 2 nocte",
            "1 mane 2 nocte prn",
            "in the morning 1 and at night 2",
            "one twice a day",
            "30mg at 8am and 60mg at 8pm",
        ] {
            assert!(item(mst, text).doses.is_none(), "{text}");
        }
    }
}
