//! Benchmark: OME plus risk flags for a 5-item regimen with a full patient
//! context (goal ≤ 100 µs).
//!
//! Run: `cargo bench --bench assess -- --warm-up-time 1 --measurement-time 3`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use stepdown::assess::{assess, assess_from_json};
use stepdown::ome::OmeOptions;
use stepdown::patient::{raw_patient_from_value, PatientContext};
use stepdown::reference::reference;
use stepdown::regimen::regimen_from_json;
use stepdown::Profile;

/// Five items (MR morphine, as-needed oral solution, co-codamol, a fentanyl
/// patch, tramadol) and every patient field, with brand-name co-medications
/// and one the lists do not know: most flags fire.
const INPUT: &str = r#"{
  "patient": {"age": 78, "sex": "female", "weight_kg": 48, "egfr": 42,
              "conditions": ["copd", "falls", "depression"], "history": ["alcohol-misuse"],
              "co_medications": ["Valium", "Lyrica", "sertraline 50mg", "Gaviscon"],
              "co_medication_paracetamol_mg_per_day": 1000, "opioid_naive": false, "months_on_opioids": 36},
  "items": [
    {"drug": "morphine", "route": "oral", "release": "modified", "strength_mg": 30, "units_per_dose": 1, "doses_per_day": 2},
    {"drug": "morphine", "route": "oral", "form": "solution", "strength_mg_per_ml": 2, "ml_per_dose": 5, "doses_per_day": 4, "as_needed": true},
    {"drug": "codeine", "route": "oral", "strength_mg": 30, "units_per_dose": 2, "doses_per_day": 4, "paracetamol_mg": 500},
    {"drug": "fentanyl", "route": "transdermal", "strength_mcg_per_hour": 25, "patches": 1},
    {"drug": "tramadol", "route": "oral", "strength_mg": 50, "units_per_dose": 1, "doses_per_day": 2}
  ]
}"#;

fn bench(c: &mut Criterion) {
    let reference = reference();
    let options = OmeOptions::default();
    let value: serde_json::Value = match serde_json::from_str(INPUT) {
        Ok(v) => v,
        Err(e) => panic!("benchmark input is not JSON: {e}"),
    };
    let items = serde_json::json!({"items": value["items"]}).to_string();
    let regimen = match regimen_from_json(&items, Profile::Uk, reference) {
        Ok(r) => r,
        Err(e) => panic!("benchmark regimen is invalid: {e}"),
    };
    let mut errors = Vec::new();
    let patient = raw_patient_from_value(&value["patient"], "patient", &mut errors)
        .and_then(|raw| PatientContext::validate(&raw, "patient", reference).ok());
    let Some(patient) = patient else {
        panic!("benchmark patient is invalid: {errors:?}")
    };

    c.bench_function("assess_5_items_full_patient", |b| {
        b.iter(|| {
            assess(
                black_box(&regimen),
                black_box(&patient),
                Profile::Uk,
                reference,
                &options,
            )
        })
    });
    c.bench_function("assess_parse_validate_assess_5_items", |b| {
        b.iter(|| assess_from_json(black_box(INPUT), Profile::Uk, reference, &options))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
