//! Benchmark: a taper plan for a three-opioid regimen (goal: median ≤ 1 ms).
//!
//! Run: `cargo bench --bench plan -- --warm-up-time 1 --measurement-time 5`.
//!
//! `plan_1000_items` / `plan_10000_items`: growth in the number of items (issue
//! 20), validated request to plan; near-linear since the item lookups and the
//! same-line joins are hashed (figures and profile: `docs/taper.md`).

#[path = "common/many_items.rs"]
mod many;

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use stepdown::reference::reference;
use stepdown::taper::input::request_from_value;
use stepdown::taper::{plan, plan_from_json, request_from_json};
use stepdown::Profile;

/// Three opioids: slow-release oxycodone with as-needed oxycodone capsules, a
/// fentanyl patch, and co-codamol four times a day. Four product lines, both
/// reduction classes, a pause and "slow the last third"; 11 steps.
const THREE_OPIOIDS: &str = r#"{"items": [
  {"drug": "oxycodone", "route": "oral", "release": "modified", "strength_mg": 40, "doses_per_day": 2},
  {"drug": "fentanyl", "route": "transdermal", "strength_mcg_per_hour": 25, "patches": 1},
  {"drug": "codeine", "route": "oral", "strength_mg": 30, "units_per_dose": 2, "doses_per_day": 4, "paracetamol_mg": 500},
  {"drug": "oxycodone", "route": "oral", "strength_mg": 5, "units_per_dose": 2, "doses_per_day": 4, "as_needed": true}
],
 "start_date": "2026-12-01",
 "taper": {"reduction_percent": 10, "of": "original", "interval_days": 14, "slow_last_third": true},
 "pauses": [{"after_step": 4, "days": 28}]}"#;

fn bench(c: &mut Criterion) {
    let reference = reference();
    let request = match request_from_json(THREE_OPIOIDS, Profile::Uk, reference) {
        Ok(r) => r,
        Err(e) => panic!("benchmark input is invalid: {e}"),
    };
    match plan(&request, reference) {
        Ok(p) => assert!(p.steps.len() > 10, "unexpectedly short plan"),
        Err(e) => panic!("benchmark plan failed: {e}"),
    }
    c.bench_function("plan_three_opioids", |b| {
        b.iter(|| plan(black_box(&request), reference))
    });
    c.bench_function("plan_parse_validate_plan_three_opioids", |b| {
        b.iter(|| plan_from_json(black_box(THREE_OPIOIDS), Profile::Uk, reference))
    });
    let mut group = c.benchmark_group("plan_items");
    group.sample_size(10);
    for n in [1_000, 10_000] {
        let request = request_from_value(&many::plan_input(n), Profile::Uk, reference)
            .unwrap_or_else(|e| panic!("{n} items: {e}"));
        group.bench_function(format!("plan_{n}_items"), |b| {
            b.iter(|| plan(black_box(&request), reference))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
