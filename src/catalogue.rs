//! Product search for the regimen builder: every UK product line in the
//! reference catalogue, one choice per strength, with a prefilled regimen item.
//!
//! Typing "oxy" lists oxycodone products by form and strength; "mst 30" finds
//! the 30 mg MST Continus strength by brand. Pure: no IO.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::reference::{ProductRow, Reference, WearHours};
use crate::regimen::RawItem;
use crate::vocabulary::{num, Form, Release, Route};

/// One pickable product strength.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ProductChoice {
    /// Stable id: catalogue row id and strength, e.g. `morphine-mr-12h-tablet@30`.
    pub id: String,
    /// Catalogue row id.
    pub product_id: String,
    /// Generic opioid name.
    pub drug: String,
    /// What the clinician sees: "Morphine 12-hourly modified-release tablets 30 mg".
    pub label: String,
    /// Strength as written on the box: "30 mg", "30/500 mg", "25 micrograms/hour", "10 mg/5 mL".
    pub strength: String,
    /// Form.
    pub form: Form,
    /// Route.
    pub route: Route,
    /// Release, absent for patches.
    pub release: Option<Release>,
    /// Modified-release dosing interval in hours, where the catalogue confirms it.
    pub dosing_interval_hours: Option<f64>,
    /// Patch wear time in words ("every 72 hours", "every 7 days").
    pub wear: Option<String>,
    /// Brand examples.
    pub brands: Vec<String>,
    /// Combination name (e.g. co-codamol) with its paracetamol content.
    pub combination: Option<String>,
    /// A regimen item with the product's fields filled in; the clinician sets the dose.
    pub item: RawItem,
}

/// Wear time in words, from the catalogue's hours.
pub fn wear_words(w: &WearHours) -> String {
    let days = |h: f64| h / 24.0;
    if (w.min - w.max).abs() < f64::EPSILON {
        if w.max >= 96.0 && (w.max % 24.0).abs() < f64::EPSILON {
            format!("every {} days", num(days(w.max)))
        } else {
            format!("every {} hours", num(w.max))
        }
    } else {
        format!("every {} to {} days", num(days(w.min)), num(days(w.max)))
    }
}

/// What the clinician sees. A liquid line's name already states its one
/// strength as it is prescribed ("10 mg/5 mL"), so its label is the name alone:
/// adding the per-mL figure ("10 mg/5 mL 2 mg/mL") reads as two strengths.
fn label(row: &ProductRow, strength: &str) -> String {
    match &row.strengths_mg_per_ml {
        Some(list) if list.len() == 1 => row.name.clone(),
        _ => format!("{} {}", row.name, strength),
    }
}

/// Naloxone per tablet of an oxycodone with naloxone line at `strength`.
fn naloxone(row: &ProductRow, strength: f64) -> Option<f64> {
    match (&row.combination, row.second_part(strength)) {
        (None, Some((name, mg))) if name == "naloxone" => Some(mg),
        _ => None,
    }
}

fn choices_of(row: &ProductRow) -> Vec<ProductChoice> {
    let base = RawItem {
        drug: Some(row.drug.clone()),
        route: Some(row.route.as_str().to_string()),
        ..RawItem::default()
    };
    let mut out = Vec::new();
    let mut push = |strength_value: f64, strength: String, item: RawItem| {
        out.push(ProductChoice {
            id: format!("{}@{}", row.id, num(strength_value)),
            product_id: row.id.clone(),
            drug: row.drug.clone(),
            label: label(row, &strength),
            strength,
            form: row.form,
            route: row.route,
            release: row.release,
            dosing_interval_hours: row.dosing_interval_hours,
            wear: row.wear_hours.as_ref().map(wear_words),
            // Only the brands that make this strength (no Durogesic 37.5).
            brands: row.brands_for(strength_value),
            combination: match (&row.combination, row.second_part(strength_value)) {
                (Some(c), _) => Some(format!(
                    "{} (with {} mg paracetamol)",
                    c.name,
                    num(c.paracetamol_mg_per_unit)
                )),
                (None, Some((name, mg))) => Some(format!(
                    "with {} mg {name}, which adds nothing to the oral morphine equivalent",
                    num(mg)
                )),
                (None, None) => None,
            },
            item,
        });
    };
    // A 12-hourly product is taken twice a day: the interval is data, the count follows.
    let doses_per_day = row
        .dosing_interval_hours
        .filter(|h| *h > 0.0)
        .map(|h| (24.0 / h).round());
    for s in row.strengths_mg.iter().flatten() {
        push(
            *s,
            // Combinations show both parts ("30/500 mg"), never the opioid alone.
            row.strength_label(*s),
            RawItem {
                form: Some(row.form.as_str().to_string()),
                release: row.release.map(|r| r.as_str().to_string()),
                strength_mg: Some(*s),
                units_per_dose: Some(1.0),
                doses_per_day,
                paracetamol_mg: row.combination.as_ref().map(|c| c.paracetamol_mg_per_unit),
                naloxone_mg: naloxone(row, *s),
                ..base.clone()
            },
        );
    }
    for s in row.strengths_mg_per_ml.iter().flatten() {
        push(
            *s,
            // As the bottle states it: "10 mg/5 mL", "20 mg/mL".
            row.strength_label(*s),
            RawItem {
                form: Some(row.form.as_str().to_string()),
                release: row.release.map(|r| r.as_str().to_string()),
                strength_mg_per_ml: Some(*s),
                ..base.clone()
            },
        );
    }
    for s in row.strengths_mcg_per_hour.iter().flatten() {
        push(
            *s,
            format!("{} micrograms/hour", num(*s)),
            RawItem {
                strength_mcg_per_hour: Some(*s),
                patches: Some(1.0),
                ..base.clone()
            },
        );
    }
    out
}

/// Every product strength in the catalogue, in catalogue order.
pub fn all_choices(reference: &Reference) -> Vec<ProductChoice> {
    reference
        .products
        .rows
        .iter()
        .flat_map(choices_of)
        .collect()
}

/// The catalogue choice that an entered item is a dose of (same drug, route,
/// form, release and strength), so a saved or imported regimen shows the
/// product names the clinician picked from. An item with no catalogue
/// product (methadone, a strength the catalogue lacks, a manual entry) gets
/// a choice described from its own fields, with `product_id` `"manual"`.
pub fn choice_for_item(reference: &Reference, raw: &RawItem) -> ProductChoice {
    let same = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(x), Some(y)) => (x - y).abs() < 1e-9,
        (None, None) => true,
        _ => false,
    };
    let release = |r: &Option<String>| {
        r.clone()
            .unwrap_or_else(|| Release::Immediate.as_str().to_string())
    };
    let found = all_choices(reference).into_iter().find(|c| {
        let i = &c.item;
        i.drug == raw.drug
            && i.route == raw.route
            && (raw.form.is_none() || i.form.is_none() || i.form == raw.form)
            && (i.strength_mcg_per_hour.is_some() || release(&i.release) == release(&raw.release))
            && same(i.strength_mg, raw.strength_mg)
            && same(i.strength_mg_per_ml, raw.strength_mg_per_ml)
            && same(i.strength_mcg_per_hour, raw.strength_mcg_per_hour)
            && same(i.paracetamol_mg, raw.paracetamol_mg)
            && same(i.naloxone_mg, raw.naloxone_mg)
    });
    let mut choice = match found {
        Some(c) => c,
        None => manual_choice(raw),
    };
    // The entered dose replaces the catalogue's default one.
    choice.item = raw.clone();
    choice
}

fn manual_choice(raw: &RawItem) -> ProductChoice {
    let drug = raw.drug.clone().unwrap_or_default();
    let route = raw
        .route
        .as_deref()
        .and_then(Route::parse)
        .unwrap_or(Route::Oral);
    let form = if raw.strength_mcg_per_hour.is_some() {
        Form::Patch
    } else if raw.strength_mg_per_ml.is_some() {
        Form::Solution
    } else {
        raw.form
            .as_deref()
            .and_then(Form::parse)
            .unwrap_or(Form::Tablet)
    };
    let release = raw.release.as_deref().and_then(Release::parse);
    let strength = match (
        raw.strength_mg,
        raw.strength_mg_per_ml,
        raw.strength_mcg_per_hour,
    ) {
        (_, _, Some(p)) => format!("{} micrograms/hour", num(p)),
        (_, Some(l), _) => format!("{} mg/mL", num(l)),
        (Some(m), _, _) => match raw.naloxone_mg {
            Some(n) => format!("{} mg/{} mg", num(m), num(n)),
            None => format!("{} mg", num(m)),
        },
        _ => String::new(),
    };
    let mut name = drug.clone();
    if let Some(first) = name.get_mut(0..1) {
        first.make_ascii_uppercase();
    }
    let release_words = match release {
        Some(Release::Modified) => " modified-release",
        _ => "",
    };
    let label = format!(
        "{name} {}{release_words} {} {strength} (entered by hand)",
        route.as_str(),
        form.as_str()
    )
    .replace("  ", " ");
    ProductChoice {
        id: format!("manual:{drug}:{}:{}", route.as_str(), strength),
        product_id: "manual".into(),
        drug,
        label,
        strength,
        form,
        route,
        release: if form == Form::Patch { None } else { release },
        dosing_interval_hours: None,
        wear: None,
        brands: Vec::new(),
        combination: match (raw.paracetamol_mg, raw.naloxone_mg) {
            (Some(p), _) => Some(format!("with {} mg paracetamol", num(p))),
            (None, Some(n)) => Some(format!(
                "with {} mg naloxone, which adds nothing to the oral morphine equivalent",
                num(n)
            )),
            (None, None) => None,
        },
        item: raw.clone(),
    }
}

fn haystack(c: &ProductChoice) -> String {
    let mut s = format!("{} {} {}", c.drug, c.label, c.brands.join(" "));
    if let Some(comb) = &c.combination {
        s.push(' ');
        s.push_str(comb);
    }
    s.to_lowercase()
}

/// Choices matching every word of `query` (case-insensitive; a number matches
/// the strength exactly), drugs whose name starts with the query first.
/// At most `limit` results; an empty query returns none.
pub fn search(reference: &Reference, query: &str, limit: usize) -> Vec<ProductChoice> {
    // Bounded work for any query (issue 20): longer than any text input may
    // be, it matches nothing.
    if query.chars().count() > crate::limits::limits().max_string_chars {
        return Vec::new();
    }
    let words: Vec<String> = query.split_whitespace().map(|w| w.to_lowercase()).collect();
    if words.is_empty() {
        return Vec::new();
    }
    let first = words[0].clone();
    let mut hits: Vec<(bool, ProductChoice)> = all_choices(reference)
        .into_iter()
        .filter(|c| {
            let hay = haystack(c);
            // The opioid's number: "30" of "30/500 mg" or of "30 mg".
            let strength_number = c
                .strength
                .split(|ch: char| ch == '/' || ch.is_whitespace())
                .next()
                .unwrap_or_default();
            // A liquid is found by its label ("oramorph 10", of 10 mg/5 mL) and per mL ("2").
            let per_ml = c.item.strength_mg_per_ml.map(num);
            words.iter().all(|w| {
                if w.parse::<f64>().is_ok() {
                    strength_number == w.as_str() || per_ml.as_deref() == Some(w.as_str())
                } else {
                    hay.contains(w.as_str())
                }
            })
        })
        .map(|c| (!c.drug.starts_with(first.as_str()), c))
        .collect();
    // Stable sort keeps catalogue order (by form, then ascending strength) within each group.
    hits.sort_by_key(|(later, _)| *later);
    hits.into_iter().take(limit).map(|(_, c)| c).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::item::Regimen;
    use crate::ome::{calculate, OmeOptions};
    use crate::reference::reference;
    use crate::regimen::RawItem;
    use crate::Profile;

    #[test]
    fn oxy_lists_oxycodone_products_by_form_and_strength() {
        let hits = search(reference(), "oxy", 100);
        assert!(!hits.is_empty());
        assert!(hits.iter().all(|c| c.drug == "oxycodone"));
        let forms: Vec<Form> = hits.iter().map(|c| c.form).collect();
        assert!(forms.contains(&Form::Tablet) && forms.contains(&Form::Capsule));
        assert!(hits.iter().any(|c| c.label.contains("30 mg")));
    }

    #[test]
    fn brand_and_strength_narrow_the_search() {
        let hits = search(reference(), "MST 30", 10);
        assert_eq!(hits.len(), 1, "{hits:?}");
        assert_eq!(hits[0].id, "morphine-mr-12h-tablet@30");
        assert_eq!(hits[0].item.doses_per_day, Some(2.0));
    }

    #[test]
    fn empty_and_unknown_queries_return_nothing() {
        assert!(search(reference(), "   ", 10).is_empty());
        assert!(search(reference(), "paracetamolzzz", 10).is_empty());
    }

    #[test]
    fn limit_is_respected() {
        assert_eq!(search(reference(), "morphine", 3).len(), 3);
    }

    #[test]
    fn patches_carry_wear_time_and_one_patch() {
        let hits = search(reference(), "fentanyl 25", 10);
        let patch = hits
            .iter()
            .find(|c| c.form == Form::Patch)
            .expect("a fentanyl 25 patch");
        assert_eq!(patch.wear.as_deref(), Some("every 72 hours"));
        assert_eq!(patch.item.patches, Some(1.0));
        assert_eq!(patch.item.strength_mcg_per_hour, Some(25.0));
    }

    #[test]
    fn co_codamol_keeps_its_paracetamol() {
        let hits = search(reference(), "co-codamol 30", 10);
        assert!(!hits.is_empty());
        assert!(hits.iter().all(|c| c.item.paracetamol_mg == Some(500.0)));
    }

    #[test]
    fn a_saved_item_finds_its_catalogue_product_with_the_entered_dose() {
        let raw = RawItem {
            drug: Some("morphine".into()),
            route: Some("oral".into()),
            release: Some("modified".into()),
            form: Some("tablet".into()),
            strength_mg: Some(30.0),
            units_per_dose: Some(2.0),
            doses_per_day: Some(2.0),
            ..RawItem::default()
        };
        let c = choice_for_item(reference(), &raw);
        assert_eq!(c.product_id, "morphine-mr-12h-tablet");
        assert_eq!(c.item.units_per_dose, Some(2.0));
        // Without a form the first matching product line is used.
        let c = choice_for_item(reference(), &RawItem { form: None, ..raw });
        assert_eq!(c.drug, "morphine");
        assert_ne!(c.product_id, "manual");
    }

    #[test]
    fn an_item_outside_the_catalogue_is_described_from_its_fields() {
        let raw = RawItem {
            drug: Some("morphine".into()),
            route: Some("oral".into()),
            strength_mg_per_ml: Some(5.0),
            ml_per_dose: Some(5.0),
            doses_per_day: Some(1.0),
            ..RawItem::default()
        };
        let c = choice_for_item(reference(), &raw);
        assert_eq!(c.product_id, "manual");
        assert_eq!(c.form, Form::Solution);
        assert_eq!(c.label, "Morphine oral solution 5 mg/mL (entered by hand)");
        assert_eq!(c.item, raw);
    }

    /// A liquid reads as one strength, the way it is prescribed: "Morphine oral
    /// solution 10 mg/5 mL", never "10 mg/5 mL 2 mg/mL"; and the strength the
    /// name states is the one the item is converted with.
    #[test]
    fn liquids_are_labelled_with_one_strength() {
        let liquids: Vec<ProductChoice> = all_choices(reference())
            .into_iter()
            .filter(|c| c.item.strength_mg_per_ml.is_some())
            .collect();
        assert!(liquids.len() >= 7, "{liquids:?}");
        for c in &liquids {
            let per_ml = c.item.strength_mg_per_ml.unwrap_or_default();
            let stated = [
                format!("{} mg/5 mL", num(per_ml * 5.0)),
                format!("{} mg/mL", num(per_ml)),
            ];
            let count: usize = stated
                .iter()
                .map(|s| c.label.matches(s.as_str()).count())
                .sum();
            assert_eq!(count, 1, "{}: {}", c.id, c.label);
            assert_eq!(c.label.matches("mg/").count(), 1, "{}: {}", c.id, c.label);
            // The strength field says it as the name does, as the bottle is labelled.
            assert!(c.label.ends_with(&c.strength), "{}: {}", c.id, c.strength);
        }
    }

    /// A label names one strength, the chosen one: a line's name that also lists
    /// its range ("8/500, 15/500, 30/500 30/500 mg", "Methadone 5 mg tablets 5 mg")
    /// is a picking error waiting to happen.
    #[test]
    fn every_label_states_its_strength_once_and_no_other() {
        for c in all_choices(reference()) {
            let numbers = label_numbers(&c.label);
            let own = label_numbers(&c.strength);
            assert_eq!(
                numbers, own,
                "{}: '{}' (strength '{}')",
                c.id, c.label, c.strength
            );
        }
    }

    /// The numbers a label states, in order ("Co-codamol … 30/500 mg" → [30, 500]),
    /// ignoring those that are part of a word ("12-hourly", "3- and 4-day").
    fn label_numbers(s: &str) -> Vec<String> {
        s.split(|c: char| c.is_whitespace() || c == '/' || c == '(' || c == ')' || c == ',')
            .filter(|w| !w.is_empty() && w.chars().all(|c| c.is_ascii_digit() || c == '.'))
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn oramorph_is_found_by_its_strength() {
        let hits = search(reference(), "oramorph 10", 10);
        assert_eq!(hits.len(), 1, "{hits:?}");
        assert_eq!(hits[0].label, "Morphine oral solution 10 mg/5 mL");
        assert_eq!(hits[0].strength, "10 mg/5 mL");
    }

    #[test]
    fn wear_words_reads_naturally() {
        let w = |min, max| wear_words(&WearHours { min, max });
        assert_eq!(w(72.0, 72.0), "every 72 hours");
        assert_eq!(w(168.0, 168.0), "every 7 days");
        assert_eq!(w(72.0, 96.0), "every 3 to 4 days");
    }

    /// Every prefilled item (with a dose filled in where the catalogue leaves
    /// it to the clinician) is a valid regimen item that converts in the UK profile.
    #[test]
    fn every_choice_is_a_valid_item() {
        for c in all_choices(reference()) {
            let mut item: RawItem = c.item.clone();
            if item.strength_mg.is_some() && item.doses_per_day.is_none() {
                item.doses_per_day = Some(1.0);
            }
            if item.strength_mg_per_ml.is_some() {
                item.ml_per_dose = Some(5.0);
                item.doses_per_day = Some(1.0);
            }
            let regimen = Regimen::validate(&[item], "items", Profile::Uk, reference())
                .unwrap_or_else(|e| panic!("{}: {e:?}", c.id));
            let report = calculate(&regimen, Profile::Uk, reference(), &OmeOptions::default());
            assert_eq!(report.items.len(), 1, "{}", c.id);
        }
    }

    #[test]
    fn combinations_are_labelled_with_both_strengths() {
        let hits = search(reference(), "co-codamol 30", 10);
        assert!(hits.iter().all(|c| c.strength == "30/500 mg"), "{hits:?}");
        assert!(hits.iter().all(|c| c.label.ends_with("30/500 mg")));
        let hits = search(reference(), "targinact 10", 10);
        assert_eq!(hits.len(), 1, "{hits:?}");
        assert_eq!(hits[0].strength, "10 mg/5 mg");
        // Choosing it fills both parts.
        assert_eq!(hits[0].item.strength_mg, Some(10.0));
        assert_eq!(hits[0].item.naloxone_mg, Some(5.0));
        assert_eq!(hits[0].item.paracetamol_mg, None);
        assert!(hits[0]
            .combination
            .as_deref()
            .is_some_and(|c| c.contains("naloxone")));
        let hits = search(reference(), "tramacet", 10);
        assert_eq!(hits[0].strength, "37.5/325 mg");
        assert_eq!(hits[0].item.paracetamol_mg, Some(325.0));
    }

    #[test]
    fn a_strength_lists_only_the_brands_that_make_it() {
        let hits = search(reference(), "fentanyl 37.5", 10);
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].brands, vec!["Mezolar Matrix".to_string()]);
        assert!(search(reference(), "durogesic 37.5", 10).is_empty());
    }

    #[test]
    fn every_catalogue_product_is_reachable_from_search_by_drug_and_brand() {
        for row in &reference().products.rows {
            for s in row.strengths() {
                let id = format!("{}@{}", row.id, num(*s));
                let by_drug = search(reference(), &format!("{} {}", row.drug, num(*s)), 500);
                assert!(by_drug.iter().any(|c| c.id == id), "{id} by drug");
                for brand in row.brands_for(*s) {
                    let hits = search(reference(), &format!("{brand} {}", num(*s)), 500);
                    assert!(hits.iter().any(|c| c.id == id), "{id} by {brand}");
                }
            }
        }
    }

    #[test]
    fn issue_15_products_are_offered() {
        for (query, id) in [
            ("zydol xl 400", "tramadol-mr-24h-tablet@400"),
            ("tradorec 100", "tramadol-mr-24h-tablet@100"),
            ("zamadol 24hr 150", "tramadol-mr-24h-tablet@150"),
            ("temgesic 0.2", "buprenorphine-sublingual-tablet@0.2"),
            ("palexia 50", "tapentadol-ir-tablet@50"),
            ("oxycodone 10", "oxycodone-oral-concentrate@10"),
            ("methadone 5", "methadone-tablet@5"),
            ("shortec 5", "oxycodone-ir-capsule@5"),
            ("mezolar 12", "fentanyl-72h-patch@12"),
        ] {
            let hits = search(reference(), query, 100);
            assert!(hits.iter().any(|c| c.id == id), "{query}: {hits:?}");
        }
    }
}
