//! Leaflet rendering: a 12-step plan from view-model to PDF bytes (layout, font
//! subsetting, compression). Goal: median ≤ 50 ms, PDF ≤ 300 KB.

#[path = "../tests/common/leaflet_plans.rs"]
mod plans;

use criterion::{criterion_group, criterion_main, Criterion};
use stepdown::leaflet::render_leaflet;

fn bench(c: &mut Criterion) {
    let input = plans::plan(12, Some(5));
    let mut large = input.clone();
    large.large_print = true;
    // Size is reported once, outside the timing loop.
    for (name, i) in [("standard", &input), ("large print", &large)] {
        match render_leaflet(i) {
            Ok(r) => println!(
                "leaflet 12 steps, {name}: {} pages, {} bytes",
                r.pages,
                r.bytes.len()
            ),
            Err(e) => panic!("leaflet failed: {e}"),
        }
    }
    c.bench_function("leaflet_12_steps", |b| {
        b.iter(|| render_leaflet(std::hint::black_box(&input)))
    });
    c.bench_function("leaflet_12_steps_large_print", |b| {
        b.iter(|| render_leaflet(std::hint::black_box(&large)))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
