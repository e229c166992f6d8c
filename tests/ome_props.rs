//! Property tests of the OME engine over generated valid regimens, in both profiles:
//! the total is the sum of the items; doubling every dose doubles the total;
//! nothing is negative; as-needed items never count in the regular total;
//! an unconvertible item is null and makes the result incomplete.

use proptest::prelude::*;
use stepdown::item::{Item, Regimen};
use stepdown::ome::{calculate, OmeOptions, OmeReport};
use stepdown::reference::reference;
use stepdown::regimen::RawItem;
use stepdown::Profile;

/// Oral drugs from both profiles' tables, including some a profile cannot convert.
const ORAL: [&str; 13] = [
    "morphine",
    "codeine",
    "dihydrocodeine",
    "tramadol",
    "tapentadol",
    "oxycodone",
    "hydromorphone",
    "pethidine",
    "methadone",
    "hydrocodone",
    "oxymorphone",
    "diamorphine",
    "meptazinol",
];

fn solid() -> impl Strategy<Value = RawItem> {
    (
        prop::sample::select(&ORAL[..]),
        prop::sample::select(vec!["oral", "oral", "oral", "sublingual", "subcutaneous"]),
        1u32..=30,
        prop::sample::select(vec![0.5, 1.0, 2.0]),
        1u32..=6,
        any::<bool>(),
        prop::option::of(prop::sample::select(vec![500.0])),
        prop::option::of(prop::sample::select(vec!["immediate", "modified"])),
    )
        .prop_map(
            |(drug, route, strength, units, doses, as_needed, paracetamol, release)| RawItem {
                drug: Some(drug.into()),
                route: Some(route.into()),
                release: release.map(Into::into),
                strength_mg: Some(f64::from(strength)),
                units_per_dose: Some(units),
                doses_per_day: Some(f64::from(doses)),
                as_needed: Some(as_needed),
                paracetamol_mg: paracetamol,
                ..RawItem::default()
            },
        )
}

fn liquid() -> impl Strategy<Value = RawItem> {
    (
        prop::sample::select(vec!["morphine", "oxycodone", "dihydrocodeine", "methadone"]),
        prop::sample::select(vec![1.0, 2.0, 20.0]),
        1u32..=10,
        1u32..=6,
        any::<bool>(),
    )
        .prop_map(|(drug, strength, ml, doses, as_needed)| RawItem {
            drug: Some(drug.into()),
            route: Some("oral".into()),
            form: Some("solution".into()),
            strength_mg_per_ml: Some(strength),
            ml_per_dose: Some(f64::from(ml)),
            doses_per_day: Some(f64::from(doses)),
            as_needed: Some(as_needed),
            ..RawItem::default()
        })
}

fn patch() -> impl Strategy<Value = RawItem> {
    (
        prop::sample::select(vec!["fentanyl", "buprenorphine"]),
        prop::sample::select(vec![5.0, 10.0, 12.0, 20.0, 25.0, 37.5, 52.5, 75.0]),
        1u32..=3,
    )
        .prop_map(|(drug, strength, patches)| RawItem {
            drug: Some(drug.into()),
            route: Some("transdermal".into()),
            strength_mcg_per_hour: Some(strength),
            patches: Some(f64::from(patches)),
            ..RawItem::default()
        })
}

fn profile() -> impl Strategy<Value = Profile> {
    prop::sample::select(Profile::ALL.to_vec())
}

/// A valid regimen of 1 to 6 items (inputs that trip an implausibility limit are filtered out).
fn regimen() -> impl Strategy<Value = (Profile, Regimen)> {
    (
        profile(),
        prop::collection::vec(
            prop_oneof![3 => solid(), 2 => liquid(), 2 => patch()],
            1..=6,
        ),
    )
        .prop_filter_map("implausible generated amounts", |(p, raw)| {
            Regimen::validate(&raw, "items", p, reference())
                .ok()
                .map(|r| (p, r))
        })
}

fn report(profile: Profile, regimen: &Regimen) -> OmeReport {
    calculate(regimen, profile, reference(), &OmeOptions::default())
}

fn scaled(regimen: &Regimen, factor: f64) -> Regimen {
    Regimen {
        items: regimen
            .items
            .iter()
            .map(|i| Item {
                drug: i.drug.clone(),
                route: i.route,
                dose: i
                    .dose
                    .scaled(factor)
                    .expect("doubling a valid dose stays valid"),
                quantity_per_issue: i.quantity_per_issue,
            })
            .collect(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn total_is_the_sum_of_the_items((p, r) in regimen()) {
        let rep = report(p, &r);
        let sum: f64 = rep.items.iter().filter_map(|i| i.ome_mg_per_day).sum();
        prop_assert!((rep.total_ome_mg_per_day - sum).abs() < 1e-6, "{} vs {}", rep.total_ome_mg_per_day, sum);
        let split = rep.regular_ome_mg_per_day + rep.as_needed_ome_mg_per_day;
        prop_assert!((rep.total_ome_mg_per_day - split).abs() < 1e-6);
    }

    #[test]
    fn doubling_every_dose_doubles_the_total((p, r) in regimen()) {
        let once = report(p, &r);
        let twice = report(p, &scaled(&r, 2.0));
        // Each item is rounded to 0.01 mg, so allow that much per item.
        let tolerance = 0.01 * r.items.len() as f64 + 1e-9;
        prop_assert!((twice.total_ome_mg_per_day - 2.0 * once.total_ome_mg_per_day).abs() <= tolerance,
            "{} vs 2 × {}", twice.total_ome_mg_per_day, once.total_ome_mg_per_day);
        prop_assert!((twice.regular_ome_mg_per_day - 2.0 * once.regular_ome_mg_per_day).abs() <= tolerance);
        prop_assert_eq!(twice.complete, once.complete);
    }

    #[test]
    fn nothing_is_ever_negative((p, r) in regimen()) {
        let rep = report(p, &r);
        prop_assert!(rep.total_ome_mg_per_day >= 0.0);
        prop_assert!(rep.regular_ome_mg_per_day >= 0.0);
        prop_assert!(rep.as_needed_ome_mg_per_day >= 0.0);
        prop_assert!(rep.paracetamol_mg_per_day >= 0.0);
        for i in &rep.items {
            if let Some(x) = i.ome_mg_per_day { prop_assert!(x >= 0.0); }
            if let Some(f) = i.factor { prop_assert!(f > 0.0); }
            prop_assert!(i.daily_amount_value > 0.0);
        }
        prop_assert!(rep.regular_ome_mg_per_day <= rep.total_ome_mg_per_day + 1e-9);
    }

    #[test]
    fn as_needed_never_counts_in_the_regular_total((p, r) in regimen()) {
        let rep = report(p, &r);
        let regular: f64 = rep.items.iter()
            .filter(|i| !i.as_needed)
            .filter_map(|i| i.ome_mg_per_day)
            .sum();
        prop_assert!((rep.regular_ome_mg_per_day - regular).abs() < 1e-6);
        // Removing every as-needed item leaves the regular total unchanged.
        let only_regular = Regimen {
            items: r.items.iter().filter(|i| !i.dose.as_needed()).cloned().collect(),
        };
        if !only_regular.items.is_empty() {
            let rep2 = report(p, &only_regular);
            prop_assert!((rep2.regular_ome_mg_per_day - rep.regular_ome_mg_per_day).abs() < 1e-6);
            prop_assert!((rep2.total_ome_mg_per_day - rep.regular_ome_mg_per_day).abs() < 1e-6);
        }
    }

    #[test]
    fn unconvertible_items_are_null_and_incomplete((p, r) in regimen()) {
        let rep = report(p, &r);
        let nulls = rep.items.iter().filter(|i| i.ome_mg_per_day.is_none()).count();
        prop_assert_eq!(rep.complete, nulls == 0);
        prop_assert!(rep.warnings.len() >= nulls);
        for i in rep.items.iter().filter(|i| i.ome_mg_per_day.is_none()) {
            prop_assert!(i.factor.is_none());
            prop_assert!(i.not_convertible_reason.is_some());
        }
    }
}
