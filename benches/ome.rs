//! Benchmark: validating and converting a typical 5-item regimen (goal ≤ 20 µs).
//!
//! Run: `cargo bench --bench ome -- --warm-up-time 1 --measurement-time 3`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use stepdown::ome::{calculate, OmeOptions};
use stepdown::reference::reference;
use stepdown::regimen::regimen_from_json;
use stepdown::Profile;

/// MR morphine, as-needed oral solution, co-codamol, a fentanyl patch and
/// methadone (unconvertible in the UK): every dose shape and both outcomes.
const FIVE_ITEMS: &str = r#"{"items": [
  {"drug": "morphine", "route": "oral", "release": "modified", "strength_mg": 30, "units_per_dose": 1, "doses_per_day": 2},
  {"drug": "morphine", "route": "oral", "form": "solution", "strength_mg_per_ml": 2, "ml_per_dose": 5, "doses_per_day": 4, "as_needed": true},
  {"drug": "codeine", "route": "oral", "strength_mg": 30, "units_per_dose": 2, "doses_per_day": 4, "paracetamol_mg": 500},
  {"drug": "fentanyl", "route": "transdermal", "strength_mcg_per_hour": 25, "patches": 1},
  {"drug": "methadone", "route": "oral", "form": "solution", "strength_mg_per_ml": 1, "ml_per_dose": 10, "doses_per_day": 1}
]}"#;

fn bench(c: &mut Criterion) {
    let reference = reference();
    let options = OmeOptions::default();
    let regimen = match regimen_from_json(FIVE_ITEMS, Profile::Uk, reference) {
        Ok(r) => r,
        Err(e) => panic!("benchmark regimen is invalid: {e}"),
    };
    c.bench_function("ome_calculate_5_items", |b| {
        b.iter(|| calculate(black_box(&regimen), Profile::Uk, reference, &options))
    });
    c.bench_function("ome_parse_validate_calculate_5_items", |b| {
        b.iter(|| {
            let r = regimen_from_json(black_box(FIVE_ITEMS), Profile::Uk, reference);
            r.map(|r| calculate(&r, Profile::Uk, reference, &options))
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
