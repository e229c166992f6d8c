//! Property tests of `assess` over generated regimens and patients, in both
//! profiles: flags are always sorted most severe first, unique and complete;
//! adding a benzodiazepine (or any other risk) never removes a flag; more
//! opioid never removes a dose flag; a lower eGFR never removes the renal flag;
//! the result is deterministic.

use proptest::prelude::*;
use stepdown::assess::{assess_raw, AssessReport, RawAssessInput};
use stepdown::flags::{FlagId, Severity};
use stepdown::ome::OmeOptions;
use stepdown::patient::RawPatient;
use stepdown::reference::reference;
use stepdown::regimen::RawItem;
use stepdown::Profile;

fn solid(drug: &str, mg: f64, doses: f64, release: &str) -> RawItem {
    RawItem {
        drug: Some(drug.into()),
        route: Some("oral".into()),
        release: Some(release.into()),
        strength_mg: Some(mg),
        units_per_dose: Some(1.0),
        doses_per_day: Some(doses),
        ..RawItem::default()
    }
}

fn item() -> impl Strategy<Value = RawItem> {
    let oral = prop::sample::select(vec![
        "morphine",
        "oxycodone",
        "codeine",
        "dihydrocodeine",
        "tramadol",
        "tapentadol",
        "methadone",
        "pethidine",
        "hydromorphone",
    ]);
    prop_oneof![
        (
            oral,
            1u32..=60,
            1u32..=4,
            prop::sample::select(vec!["immediate", "modified"]),
            any::<bool>(),
        )
            .prop_map(|(drug, mg, doses, release, paracetamol)| {
                let mut i = solid(drug, f64::from(mg), f64::from(doses), release);
                if paracetamol && drug == "codeine" && release == "immediate" {
                    i.paracetamol_mg = Some(500.0);
                    i.units_per_dose = Some(2.0);
                }
                i
            }),
        (
            prop::sample::select(vec!["fentanyl", "buprenorphine"]),
            prop::sample::select(vec![5.0, 10.0, 12.0, 25.0, 50.0]),
            1u32..=3,
        )
            .prop_map(|(drug, mcg, n)| RawItem {
                drug: Some(drug.into()),
                route: Some("transdermal".into()),
                strength_mcg_per_hour: Some(mcg),
                patches: Some(f64::from(n)),
                ..RawItem::default()
            }),
    ]
}

const CONDITIONS: [&str; 10] = [
    "copd",
    "asthma",
    "sleep-apnoea",
    "hepatic-impairment",
    "pregnancy",
    "breastfeeding",
    "depression",
    "falls",
    "dementia",
    "epilepsy",
];
const HISTORY: [&str; 4] = [
    "overdose",
    "substance-use-disorder",
    "alcohol-misuse",
    "mental-health-disorder",
];
const CO_MEDS: [&str; 14] = [
    "diazepam",
    "Zimovane",
    "gabapentin",
    "Lyrica",
    "sertraline",
    "Cymbalta",
    "amitriptyline",
    "sumatriptan",
    "lithium",
    "St John's wort",
    "paracetamol",
    "Prenoxad",
    "omeprazole",
    "Fluoxetin",
];

fn subset(words: &'static [&'static str]) -> impl Strategy<Value = Option<Vec<String>>> {
    prop::option::of(
        prop::sample::subsequence(words, 0..=words.len())
            .prop_map(|v| v.into_iter().map(str::to_string).collect()),
    )
}

fn patient() -> impl Strategy<Value = RawPatient> {
    (
        prop::option::of(0u32..=120),
        prop::option::of(0u32..=200),
        prop::option::of(2u32..=400),
        subset(&CONDITIONS),
        subset(&HISTORY),
        subset(&CO_MEDS),
        prop::option::of(0u32..=5000),
        prop::option::of(any::<bool>()),
        prop::option::of(0u32..=240),
    )
        .prop_map(
            |(
                age,
                egfr,
                weight,
                conditions,
                history,
                co_medications,
                paracetamol,
                naive,
                months,
            )| {
                RawPatient {
                    age: age.map(f64::from),
                    egfr: egfr.map(f64::from),
                    weight_kg: weight.map(f64::from),
                    conditions,
                    history,
                    co_medications,
                    co_medication_paracetamol_mg_per_day: paracetamol.map(f64::from),
                    opioid_naive: naive,
                    months_on_opioids: months.map(f64::from),
                    ..RawPatient::default()
                }
            },
        )
}

fn profile() -> impl Strategy<Value = Profile> {
    prop::sample::select(vec![Profile::Uk, Profile::Cdc])
}

fn try_run(profile: Profile, patient: &RawPatient, items: &[RawItem]) -> Option<AssessReport> {
    let input = RawAssessInput {
        patient: Some(patient.clone()),
        items: items.to_vec(),
    };
    assess_raw(&input, profile, reference(), &OmeOptions::default()).ok()
}

fn run(profile: Profile, patient: &RawPatient, items: &[RawItem]) -> AssessReport {
    match try_run(profile, patient, items) {
        Some(r) => r,
        None => panic!("generated input should be valid: {patient:?} {items:?}"),
    }
}

fn ids(r: &AssessReport) -> Vec<FlagId> {
    r.flags.iter().map(|f| f.id).collect()
}

fn with_co_medication(p: &RawPatient, name: &str) -> RawPatient {
    let mut p = p.clone();
    p.co_medications
        .get_or_insert_with(Vec::new)
        .push(name.to_string());
    p
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn flags_are_sorted_unique_and_complete(
        profile in profile(), p in patient(), items in prop::collection::vec(item(), 1..=4)
    ) {
        let r = run(profile, &p, &items);
        prop_assert!(r.flags.windows(2).all(|w| w[0].severity <= w[1].severity));
        let mut seen = ids(&r);
        seen.sort();
        seen.dedup();
        prop_assert_eq!(seen.len(), r.flags.len());
        for f in &r.flags {
            prop_assert!(!f.title.trim().is_empty() && !f.rationale.trim().is_empty());
            prop_assert!(!f.action.trim().is_empty() && !f.source.trim().is_empty());
            prop_assert!(!f.rationale.contains('{') && !f.action.contains('{'), "{}", f.rationale);
        }
        // Driving advice accompanies every regimen under review.
        prop_assert!(ids(&r).contains(&FlagId::Driving));
        prop_assert_eq!(r.flags.last().map(|f| f.severity), Some(Severity::Info));
    }

    #[test]
    fn adding_a_benzodiazepine_never_removes_a_flag(
        profile in profile(), p in patient(), items in prop::collection::vec(item(), 1..=4),
        benzo in prop::sample::select(vec!["diazepam", "Valium", "temazepam", "zopiclone", "Stilnoct"])
    ) {
        let before = ids(&run(profile, &p, &items));
        let after = ids(&run(profile, &with_co_medication(&p, benzo), &items));
        for id in &before {
            prop_assert!(after.contains(id), "{} lost after adding {}", id, benzo);
        }
        prop_assert!(after.contains(&FlagId::Benzodiazepine));
    }

    #[test]
    fn adding_a_condition_or_history_never_removes_a_flag(
        profile in profile(), p in patient(), items in prop::collection::vec(item(), 1..=3),
        condition in prop::sample::select(CONDITIONS.to_vec()),
        history in prop::sample::select(HISTORY.to_vec())
    ) {
        let before = ids(&run(profile, &p, &items));
        let mut more = p.clone();
        more.conditions.get_or_insert_with(Vec::new).push(condition.to_string());
        more.history.get_or_insert_with(Vec::new).push(history.to_string());
        let after = ids(&run(profile, &more, &items));
        for id in &before {
            prop_assert!(after.contains(id), "{} lost after adding {} and {}", id, condition, history);
        }
    }

    #[test]
    fn doubling_every_dose_never_removes_a_dose_flag(
        profile in profile(), p in patient(), items in prop::collection::vec(item(), 1..=3)
    ) {
        let doubled: Vec<RawItem> = items
            .iter()
            .map(|i| {
                let mut d = i.clone();
                d.doses_per_day = d.doses_per_day.map(|x| x * 2.0);
                d.patches = d.patches.map(|x| x * 2.0);
                d
            })
            .collect();
        let before = ids(&run(profile, &p, &items));
        // Doubling may pass an implausibility limit (e.g. the per-item OME cap),
        // which is an input error, not a flag question.
        let after = try_run(profile, &p, &doubled);
        prop_assume!(after.is_some());
        let after = after.map(|r| ids(&r)).unwrap_or_default();
        for id in [FlagId::HighDose, FlagId::VeryHighDose, FlagId::SeveralPatches] {
            if before.contains(&id) {
                prop_assert!(after.contains(&id), "{} lost after doubling", id);
            }
        }
    }

    #[test]
    fn a_lower_egfr_never_removes_the_renal_flag(
        profile in profile(), p in patient(), items in prop::collection::vec(item(), 1..=3),
        drop in 1u32..=100
    ) {
        let before = run(profile, &p, &items);
        if let Some(egfr) = p.egfr {
            let mut lower = p.clone();
            lower.egfr = Some((egfr - f64::from(drop)).max(0.0));
            let after = run(profile, &lower, &items);
            if ids(&before).contains(&FlagId::RenalImpairment) {
                prop_assert!(ids(&after).contains(&FlagId::RenalImpairment));
            }
        }
    }

    #[test]
    fn assessment_is_deterministic_and_keeps_the_ome_report(
        profile in profile(), p in patient(), items in prop::collection::vec(item(), 1..=4)
    ) {
        let a = run(profile, &p, &items);
        let b = run(profile, &p, &items);
        prop_assert_eq!(&a, &b);
        let regimen = stepdown::item::Regimen::validate(&items, "items", profile, reference())
            .map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
        let ome = stepdown::ome::calculate(&regimen, profile, reference(), &OmeOptions::default());
        prop_assert_eq!(&a.ome, &ome);
    }
}
