//! Strength sanity: is an entered strength one the UK actually makes for that
//! drug, route, release and form, and does a combination read the right way
//! round (co-codamol 30/500, not 500/30)?
//!
//! A mistyped strength (a buprenorphine patch of 0.02 micrograms/hour, codeine
//! and paracetamol swapped) still converts arithmetically, so the number alone
//! cannot be trusted: the check names the nearest real strengths beside the
//! field. It warns and never refuses: a product outside the catalogue may be
//! real. The strengths come from the catalogue (`products_uk.json`).

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::item::{Dose, Item};
use crate::reference::{ProductRow, Reference};
use crate::vocabulary::{num, Form, Release};

/// One strength warning, tied to the field it is about so the UI can show it
/// beside that field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct StrengthCheck {
    /// The item field: `strength_mg`, `strength_mg_per_ml`,
    /// `strength_mcg_per_hour`, `paracetamol_mg`, `naloxone_mg` or `release`.
    pub field: String,
    /// What looks wrong, naming the nearest real strengths.
    pub message: String,
    /// The nearest UK strengths, in the field's unit (empty when none apply).
    pub nearest: Vec<f64>,
}

fn same(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

/// Up to two catalogue strengths closest to `value` by ratio, ascending.
fn nearest(value: f64, strengths: &[f64]) -> Vec<f64> {
    let mut all: Vec<f64> = strengths.to_vec();
    all.sort_by(|a, b| a.total_cmp(b));
    all.dedup_by(|a, b| same(*a, *b));
    let distance = |s: f64| (s / value).ln().abs();
    all.sort_by(|a, b| distance(*a).total_cmp(&distance(*b)));
    let mut out: Vec<f64> = all.into_iter().take(2).collect();
    out.sort_by(|a, b| a.total_cmp(b));
    out
}

/// "the nearest is 30 mg" or "the nearest are 15 or 30 mg".
fn nearest_words(values: &[f64], unit: &str) -> String {
    let verb = if values.len() == 1 { "is" } else { "are" };
    format!("the nearest {verb} {}", list(values, unit))
}

fn list(values: &[f64], unit: &str) -> String {
    let words: Vec<String> = values.iter().map(|v| num(*v)).collect();
    match words.as_slice() {
        [] => String::new(),
        [one] => format!("{one} {unit}"),
        [init @ .., last] => format!("{} or {last} {unit}", init.join(", ")),
    }
}

/// The strengths of `row` in `form` (its other solid form when that is stated).
fn solid_strengths(row: &ProductRow, form: Option<Form>) -> Vec<f64> {
    match form {
        Some(f) if f != row.form => row
            .other_forms
            .iter()
            .filter(|o| o.form == f)
            .flat_map(|o| o.strengths_mg.clone())
            .collect(),
        _ => row.strengths_mg.clone().unwrap_or_default(),
    }
}

/// The strength warnings for one validated item (empty when the strength is a
/// UK strength, or when the catalogue has no product of that drug and route
/// to compare with).
pub fn check(item: &Item, reference: &Reference) -> Vec<StrengthCheck> {
    let drug = item.drug.as_str();
    let rows: Vec<&ProductRow> = reference
        .products
        .rows
        .iter()
        .filter(|r| r.drug == drug && r.route == item.route)
        .collect();
    if rows.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    match &item.dose {
        Dose::Solid {
            form,
            release,
            strength,
            paracetamol_per_unit,
            naloxone_per_unit,
            ..
        } => {
            let form = form.map(Form::from);
            let candidates: Vec<&ProductRow> = rows
                .iter()
                .copied()
                .filter(|r| matches!(r.form, Form::Tablet | Form::Capsule))
                .filter(|r| r.release == Some(*release))
                .collect();
            let form_words = match form {
                Some(Form::Capsule) => "capsules",
                Some(Form::Tablet) => "tablets",
                _ => "tablets or capsules",
            };
            if candidates.is_empty() {
                let other = match release {
                    Release::Immediate => "modified-release",
                    Release::Modified => "immediate-release",
                };
                out.push(StrengthCheck {
                    field: "release".into(),
                    message: format!(
                        "the UK catalogue has no {}-release {drug} {form_words} (only {other}); check the release",
                        release.as_str()
                    ),
                    nearest: Vec::new(),
                });
                return out;
            }
            let s = strength.get();
            let combos: Vec<&ProductRow> = candidates
                .iter()
                .copied()
                .filter(|r| r.combination.is_some())
                .collect();
            let with_naloxone: Vec<&ProductRow> = candidates
                .iter()
                .copied()
                .filter(|r| {
                    r.other_ingredient
                        .as_ref()
                        .is_some_and(|o| o.name == "naloxone")
                })
                .collect();
            match (paracetamol_per_unit, naloxone_per_unit) {
                (Some(p), _) => check_combination(drug, s, p.get(), form, &combos, &mut out),
                (None, Some(n)) => {
                    check_naloxone(drug, *release, s, n.get(), &with_naloxone, &mut out);
                }
                (None, None) => {
                    // Plain lines only: oxycodone with naloxone shares strengths
                    // with plain oxycodone but is another product.
                    let plain: Vec<f64> = candidates
                        .iter()
                        .filter(|r| r.combination.is_none() && r.other_ingredient.is_none())
                        .flat_map(|r| solid_strengths(r, form))
                        .collect();
                    if !plain.iter().any(|x| same(*x, s)) {
                        let combo_with = combos
                            .iter()
                            .find(|r| solid_strengths(r, form).iter().any(|x| same(*x, s)));
                        let mut message = format!(
                            "{} mg is not a UK strength of {}-release {drug} {form_words}",
                            num(s),
                            release.as_str()
                        );
                        if !plain.is_empty() {
                            message.push_str(&format!(
                                "; {}",
                                nearest_words(&nearest(s, &plain), "mg")
                            ));
                        }
                        if let Some(c) = combo_with.and_then(|r| r.combination.as_ref()) {
                            message.push_str(&format!(
                                ". {} mg is a strength of {} ({}/{}): if this is {}, enter its paracetamol ({} mg a tablet) so it is counted",
                                num(s),
                                c.name,
                                num(s),
                                num(c.paracetamol_mg_per_unit),
                                c.name,
                                num(c.paracetamol_mg_per_unit)
                            ));
                        }
                        out.push(StrengthCheck {
                            field: "strength_mg".into(),
                            message,
                            nearest: nearest(s, &plain),
                        });
                    }
                }
            }
        }
        Dose::Liquid {
            release, strength, ..
        } => {
            let strengths: Vec<f64> = rows
                .iter()
                .filter(|r| r.form == Form::Solution && r.release == Some(*release))
                .flat_map(|r| r.strengths_mg_per_ml.clone().unwrap_or_default())
                .collect();
            let s = strength.get();
            if !strengths.is_empty() && !strengths.iter().any(|x| same(*x, s)) {
                out.push(StrengthCheck {
                    field: "strength_mg_per_ml".into(),
                    message: format!(
                        "{} mg/mL is not a UK strength of {drug} oral solution; {} (5 mg in 5 mL is 1 mg/mL)",
                        num(s),
                        nearest_words(&nearest(s, &strengths), "mg/mL")
                    ),
                    nearest: nearest(s, &strengths),
                });
            }
        }
        Dose::Patch { strength, .. } => {
            let strengths: Vec<f64> = rows
                .iter()
                .filter(|r| r.form == Form::Patch)
                .flat_map(|r| r.strengths_mcg_per_hour.clone().unwrap_or_default())
                .collect();
            let s = strength.get();
            if !strengths.is_empty() && !strengths.iter().any(|x| same(*x, s)) {
                out.push(StrengthCheck {
                    field: "strength_mcg_per_hour".into(),
                    message: format!(
                        "{} micrograms/hour is not a UK strength of {drug} patches; {}",
                        num(s),
                        nearest_words(&nearest(s, &strengths), "micrograms/hour")
                    ),
                    nearest: nearest(s, &strengths),
                });
            }
        }
    }
    out
}

/// Oxycodone with naloxone (opioid `s`, naloxone `n` per tablet): the pair
/// must be one the UK makes (Targinact 20 mg/10 mg); parts written the wrong
/// way round (10/20) are named as swapped, like co-codamol 500/30.
fn check_naloxone(
    drug: &str,
    release: Release,
    s: f64,
    n: f64,
    rows: &[&ProductRow],
    out: &mut Vec<StrengthCheck>,
) {
    let pairs: Vec<(f64, f64)> = rows
        .iter()
        .flat_map(|r| {
            let strengths = r.strengths_mg.clone().unwrap_or_default();
            strengths
                .into_iter()
                .filter_map(|x| r.second_part(x).map(|(_, mg)| (x, mg)))
                .collect::<Vec<_>>()
        })
        .collect();
    if pairs.is_empty() {
        out.push(StrengthCheck {
            field: "naloxone_mg".into(),
            message: format!(
                "the UK catalogue has no {}-release {drug} product with naloxone (oxycodone with naloxone is modified-release oxycodone, Targinact); check the naloxone_mg and the product",
                release.as_str()
            ),
            nearest: Vec::new(),
        });
        return;
    }
    let opioid: Vec<f64> = pairs.iter().map(|(o, _)| *o).collect();
    let pair_words = |o: f64, m: f64| format!("{} mg/{} mg", num(o), num(m));
    if pairs.iter().any(|(o, m)| same(*o, s) && same(*m, n)) {
        return;
    }
    // Written the wrong way round (10/20 for 20/10): naloxone is always the
    // smaller part of a UK tablet.
    if let Some((o, m)) = pairs.iter().find(|(o, m)| same(*o, n) && same(*m, s)) {
        out.push(StrengthCheck {
            field: "strength_mg".into(),
            message: format!(
                "{}/{} looks swapped: {drug} with naloxone is written {drug} first, then naloxone ({}); strength_mg is the {drug} in one tablet and naloxone_mg the naloxone",
                num(s),
                num(n),
                pair_words(*o, *m)
            ),
            nearest: vec![*o],
        });
        return;
    }
    match pairs.iter().find(|(o, _)| same(*o, s)) {
        Some((o, m)) => out.push(StrengthCheck {
            field: "naloxone_mg".into(),
            message: format!(
                "{} mg of naloxone does not go with {} mg of {drug}: the UK tablet is {} (naloxone is half the {drug}); check the naloxone_mg",
                num(n),
                num(s),
                pair_words(*o, *m)
            ),
            nearest: vec![*m],
        }),
        None => {
            let near = nearest(s, &opioid);
            let words: Vec<String> = pairs
                .iter()
                .filter(|(o, _)| near.iter().any(|x| same(*x, *o)))
                .map(|(o, m)| pair_words(*o, *m))
                .collect();
            out.push(StrengthCheck {
                field: "strength_mg".into(),
                message: format!(
                    "{}/{} is not a UK strength of {drug} with naloxone; the nearest are {}",
                    num(s),
                    num(n),
                    words.join(" or ")
                ),
                nearest: near,
            });
        }
    }
}

/// A combination (opioid strength `s`, paracetamol `p` per tablet): swapped
/// parts first, then each part against the catalogue.
fn check_combination(
    drug: &str,
    s: f64,
    p: f64,
    form: Option<Form>,
    combos: &[&ProductRow],
    out: &mut Vec<StrengthCheck>,
) {
    if combos.is_empty() {
        out.push(StrengthCheck {
            field: "paracetamol_mg".into(),
            message: format!(
                "the UK catalogue has no {drug} product with paracetamol; check the paracetamol_mg and the product"
            ),
            nearest: Vec::new(),
        });
        return;
    }
    let opioid: Vec<f64> = combos
        .iter()
        .flat_map(|r| solid_strengths(r, form))
        .collect();
    let paracetamol: Vec<f64> = combos
        .iter()
        .filter_map(|r| r.combination.as_ref().map(|c| c.paracetamol_mg_per_unit))
        .collect();
    let name = combos
        .first()
        .and_then(|r| r.combination.as_ref())
        .map_or_else(|| format!("{drug} with paracetamol"), |c| c.name.clone());
    let is_opioid = |x: f64| opioid.iter().any(|o| same(*o, x));
    let is_para = |x: f64| paracetamol.iter().any(|o| same(*o, x));
    // Written the wrong way round: the opioid part looks like the paracetamol
    // and the paracetamol part like an opioid strength (500/30), or the opioid
    // part is simply the larger.
    if (is_para(s) && is_opioid(p)) || (s > p && !is_opioid(s)) {
        out.push(StrengthCheck {
            field: "strength_mg".into(),
            message: format!(
                "{}/{} looks swapped: {name} is written {drug} first, then paracetamol (for example {}/{}); strength_mg is the {drug} in one tablet and paracetamol_mg the paracetamol",
                num(s),
                num(p),
                num(p),
                num(s)
            ),
            nearest: if is_opioid(p) { vec![p] } else { nearest(p, &opioid) },
        });
        return;
    }
    if !is_opioid(s) {
        out.push(StrengthCheck {
            field: "strength_mg".into(),
            message: format!(
                "{}/{} is not a UK strength of {name}; {}",
                num(s),
                num(p),
                nearest_words(&nearest(s, &opioid), "mg of the opioid")
            ),
            nearest: nearest(s, &opioid),
        });
    }
    if !is_para(p) {
        out.push(StrengthCheck {
            field: "paracetamol_mg".into(),
            message: format!(
                "{} mg of paracetamol is not in any UK {name} tablet; {}",
                num(p),
                nearest_words(&nearest(p, &paracetamol), "mg")
            ),
            nearest: nearest(p, &paracetamol),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::reference;
    use crate::regimen::regimen_from_json;
    use crate::Profile;

    fn checks(item: &str) -> Vec<StrengthCheck> {
        let json = format!(r#"{{"items": [{item}]}}"#);
        let regimen = regimen_from_json(&json, Profile::Uk, reference()).unwrap();
        check(&regimen.items[0], reference())
    }

    #[test]
    fn a_buprenorphine_patch_of_0_02_names_the_nearest_real_strengths() {
        let c = checks(
            r#"{"drug": "buprenorphine", "route": "transdermal", "strength_mcg_per_hour": 0.02}"#,
        );
        assert_eq!(c.len(), 1, "{c:?}");
        assert_eq!(c[0].field, "strength_mcg_per_hour");
        assert_eq!(c[0].nearest, vec![5.0, 10.0]);
        assert!(
            c[0].message.contains("5 or 10 micrograms/hour"),
            "{}",
            c[0].message
        );
    }

    #[test]
    fn co_codamol_500_30_is_swapped() {
        let c = checks(
            r#"{"drug": "codeine", "route": "oral", "strength_mg": 500, "paracetamol_mg": 30, "units_per_dose": 2, "doses_per_day": 4}"#,
        );
        assert_eq!(c.len(), 1, "{c:?}");
        assert!(c[0].message.contains("looks swapped"), "{}", c[0].message);
        assert!(c[0].message.contains("30/500"), "{}", c[0].message);
        assert_eq!(c[0].nearest, vec![30.0]);
    }

    #[test]
    fn real_strengths_give_no_warning() {
        for item in [
            r#"{"drug": "codeine", "route": "oral", "strength_mg": 30, "paracetamol_mg": 500, "doses_per_day": 4}"#,
            r#"{"drug": "buprenorphine", "route": "transdermal", "strength_mcg_per_hour": 52.5}"#,
            r#"{"drug": "morphine", "route": "oral", "form": "solution", "strength_mg_per_ml": 2, "ml_per_dose": 5, "doses_per_day": 4}"#,
            r#"{"drug": "tramadol", "route": "oral", "release": "modified", "form": "capsule", "strength_mg": 150, "doses_per_day": 2}"#,
            r#"{"drug": "tramadol", "route": "oral", "strength_mg": 37.5, "paracetamol_mg": 325, "doses_per_day": 4}"#,
            r#"{"drug": "pethidine", "route": "oral", "strength_mg": 50, "doses_per_day": 4}"#,
        ] {
            assert!(checks(item).is_empty(), "{item}: {:?}", checks(item));
        }
    }

    #[test]
    fn co_dydramol_20_500_and_dihydrocodeine_40_are_flagged_as_not_uk_strengths() {
        let c = checks(
            r#"{"drug": "dihydrocodeine", "route": "oral", "strength_mg": 20, "paracetamol_mg": 500, "doses_per_day": 4}"#,
        );
        assert_eq!(c[0].field, "strength_mg");
        assert_eq!(c[0].nearest, vec![10.0, 30.0]);
        let c = checks(
            r#"{"drug": "dihydrocodeine", "route": "oral", "strength_mg": 40, "doses_per_day": 3}"#,
        );
        assert_eq!(c[0].nearest, vec![30.0]);
    }

    #[test]
    fn codeine_8_without_paracetamol_points_to_co_codamol() {
        let c =
            checks(r#"{"drug": "codeine", "route": "oral", "strength_mg": 8, "doses_per_day": 4}"#);
        assert_eq!(c.len(), 1);
        assert!(
            c[0].message.contains("co-codamol (8/500)"),
            "{}",
            c[0].message
        );
    }

    #[test]
    fn a_liquid_typed_as_mg_per_5_ml_is_caught() {
        let c = checks(
            r#"{"drug": "morphine", "route": "oral", "form": "solution", "strength_mg_per_ml": 10, "ml_per_dose": 5, "doses_per_day": 4}"#,
        );
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].field, "strength_mg_per_ml");
    }

    #[test]
    fn targinact_pairs_are_checked_both_parts() {
        let ok = r#"{"drug": "oxycodone", "route": "oral", "release": "modified", "strength_mg": 20, "naloxone_mg": 10, "doses_per_day": 2}"#;
        assert!(checks(ok).is_empty(), "{:?}", checks(ok));
        let swapped = checks(
            r#"{"drug": "oxycodone", "route": "oral", "release": "modified", "strength_mg": 10, "naloxone_mg": 20, "doses_per_day": 2}"#,
        );
        assert_eq!(swapped.len(), 1, "{swapped:?}");
        assert_eq!(swapped[0].field, "strength_mg");
        assert!(
            swapped[0].message.contains("looks swapped"),
            "{}",
            swapped[0].message
        );
        assert!(
            swapped[0].message.contains("20 mg/10 mg"),
            "{}",
            swapped[0].message
        );
        let mismatched = checks(
            r#"{"drug": "oxycodone", "route": "oral", "release": "modified", "strength_mg": 20, "naloxone_mg": 5, "doses_per_day": 2}"#,
        );
        assert_eq!(mismatched[0].field, "naloxone_mg");
        assert_eq!(mismatched[0].nearest, vec![10.0]);
        let unknown = checks(
            r#"{"drug": "oxycodone", "route": "oral", "release": "modified", "strength_mg": 30, "naloxone_mg": 15, "doses_per_day": 2}"#,
        );
        assert_eq!(unknown[0].field, "strength_mg");
        assert_eq!(unknown[0].nearest, vec![20.0, 40.0]);
        assert!(
            unknown[0].message.contains("20 mg/10 mg or 40 mg/20 mg"),
            "{}",
            unknown[0].message
        );
        let immediate = checks(
            r#"{"drug": "oxycodone", "route": "oral", "strength_mg": 10, "naloxone_mg": 5, "doses_per_day": 2}"#,
        );
        assert_eq!(immediate[0].field, "naloxone_mg");
    }

    #[test]
    fn modified_release_codeine_does_not_exist() {
        let c = checks(
            r#"{"drug": "codeine", "route": "oral", "release": "modified", "strength_mg": 30, "doses_per_day": 2}"#,
        );
        assert_eq!(c[0].field, "release");
    }
}
