//! Sample leaflet inputs shared by the leaflet tests, the benchmark and the
//! sample generator. A realistic morphine plan: slow-release tablets twice a day,
//! 5 mg less each fortnight, whole tablets of UK strengths only, ending with a stop step.

#![allow(dead_code)]

use chrono::{Duration, NaiveDate};
use stepdown::leaflet::{
    describe_units, LeafletDose, LeafletInput, LeafletStep, PracticeDetails, StepKind,
    StepMedicine, Unit, UnitCount,
};

/// Whole tablets making `mg`, largest strengths first (morphine slow-release tablets:
/// 5, 10, 15, 30, 60 mg).
fn tablets(mut mg: u32) -> Vec<UnitCount> {
    let mut out = Vec::new();
    for s in [60u32, 30, 15, 10, 5] {
        let n = mg / s;
        if n > 0 {
            out.push(UnitCount {
                count: n,
                unit: Unit::Tablet { mg: f64::from(s) },
            });
            mg -= n * s;
        }
    }
    out
}

pub fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
}

/// A plan of `n` steps (n ≥ 2): n − 1 dose steps, each 5 mg a day lower, then a stop
/// step. With `pause_after = Some(k)`, step k + 1 is a pause at step k's dose.
pub fn plan(n: usize, pause_after: Option<usize>) -> LeafletInput {
    assert!(n >= 2);
    let mut steps = Vec::new();
    let mut start = date(2026, 12, 1);
    let mut total = 5 * (n as u32 - 1) + 5;
    for i in 1..=n {
        let number = i as u32;
        let end = start + Duration::days(13);
        let is_pause = pause_after.is_some_and(|k| i == k + 1);
        if i == n {
            steps.push(LeafletStep {
                number,
                start,
                end: start,
                kind: StepKind::Stop,
                medicines: vec![],
            });
            break;
        }
        if !is_pause && i > 1 {
            total -= 5;
        }
        // Evening takes the smaller half, so the larger dose covers the day.
        let evening = (total / 2) / 5 * 5;
        let morning = total - evening;
        let mut doses = Vec::new();
        if morning > 0 {
            doses.push(LeafletDose {
                when: "Morning".into(),
                what: describe_units(&tablets(morning)),
            });
        }
        if evening > 0 {
            doses.push(LeafletDose {
                when: "Evening".into(),
                what: describe_units(&tablets(evening)),
            });
        }
        steps.push(LeafletStep {
            number,
            start,
            end,
            kind: if is_pause {
                StepKind::Pause
            } else {
                StepKind::Reduce
            },
            medicines: vec![StepMedicine {
                name: "Morphine slow-release tablets".into(),
                doses,
                held: false,
                as_needed_most: None,
                patch_change_days: Vec::new(),
            }],
        });
        start = end + Duration::days(1);
    }
    LeafletInput {
        patient_name: Some("Margaret Jones".into()),
        practice: PracticeDetails {
            name: "Riverside Surgery".into(),
            phone: "01632 960 123".into(),
            address: Some("12 Mill Lane, Newtown NT1 2AB".into()),
        },
        next_review: Some(date(2026, 12, 29)),
        medicines: vec!["morphine slow-release tablets".into()],
        has_patches: false,
        has_slow_release: true,
        has_as_needed: false,
        held_medicines: vec![],
        steps,
        large_print: false,
        reference_version: "2026.11.0".into(),
        issue_date: date(2026, 11, 24),
        calendar_days: 0,
    }
}

/// A short plan with a buprenorphine patch (exercises the patch advice).
pub fn patch_plan() -> LeafletInput {
    let mut p = plan(3, None);
    p.medicines = vec!["buprenorphine 7-day patches".into()];
    p.has_patches = true;
    p.has_slow_release = false;
    for (i, mcg) in [(0usize, 10.0), (1, 5.0)] {
        p.steps[i].medicines = vec![StepMedicine {
            name: "Buprenorphine 7-day patches".into(),
            doses: vec![LeafletDose {
                when: "Every 7 days, on a Tuesday".into(),
                what: describe_units(&[UnitCount {
                    count: 1,
                    unit: Unit::Patch {
                        micrograms_per_hour: mcg,
                    },
                }]),
            }],
            held: false,
            as_needed_most: None,
            patch_change_days: Vec::new(),
        }];
    }
    p
}
