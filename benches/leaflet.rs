//! Leaflet rendering. Goal: median ≤ 50 ms and PDF ≤ 300 KB for a 12-step plan.
//!
//! - `leaflet_12_steps` / `_large_print`: view-model to PDF bytes (layout, font
//!   subsetting, compression), on the synthetic 12-step leaflet.
//! - `plan_to_leaflet_pdf_12_steps` / `_large_print`: end to end as the CLI and the
//!   desktop app do it: plan input JSON → validated request → taper plan →
//!   `leaflet::from_plan` → PDF bytes, for a real 12-step morphine plan.
//! - `leaflet_1000_items` / `leaflet_10000_items`, `summary_pdf_1000_items` /
//!   `summary_pdf_10000_items`: growth in the number of items (issue 20), from
//!   the plan to the PDF (mapping or composing, layout, writing).

#[path = "common/many_items.rs"]
mod many;

#[path = "../tests/common/leaflet_plans.rs"]
mod plans;
#[path = "../tests/common/real_plans.rs"]
mod real;

use criterion::{criterion_group, criterion_main, Criterion};
use stepdown::leaflet::{from_plan, render_leaflet};
use stepdown::ome::OmeOptions;
use stepdown::pdf::Rendered;
use stepdown::reference::reference;
use stepdown::summary::{compose, review_from_value, SummaryDetails};
use stepdown::taper::{plan, request_from_json};
use stepdown::Profile;

/// The whole path from the plan input's JSON text to the PDF.
fn plan_to_pdf(input: &str, large_print: bool) -> Rendered {
    let request =
        request_from_json(input, Profile::Uk, reference()).unwrap_or_else(|e| panic!("{e}"));
    let p = plan(&request, reference()).unwrap_or_else(|e| panic!("{e}"));
    let leaflet =
        from_plan(&p, &real::details(large_print), reference()).unwrap_or_else(|e| panic!("{e}"));
    render_leaflet(&leaflet).unwrap_or_else(|e| panic!("{e}"))
}

fn bench(c: &mut Criterion) {
    let input = plans::plan(12, Some(5));
    let mut large = input.clone();
    large.large_print = true;
    // Sizes are reported once, outside the timing loop.
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
    let steps = request_from_json(real::TWELVE_STEPS, Profile::Uk, reference())
        .ok()
        .and_then(|r| plan(&r, reference()).ok())
        .map_or(0, |p| p.steps.len());
    // Named for the 12 steps it had; the taper rules since (never a bigger cut
    // than asked) give it more. Reported, not asserted, so the benchmark runs.
    println!("real plan: {steps} steps");
    for (name, lp) in [("standard", false), ("large print", true)] {
        let r = plan_to_pdf(real::TWELVE_STEPS, lp);
        println!(
            "plan → leaflet, real {steps}-step plan, {name}: {} pages, {} bytes",
            r.pages,
            r.bytes.len()
        );
    }

    c.bench_function("leaflet_12_steps", |b| {
        b.iter(|| render_leaflet(std::hint::black_box(&input)))
    });
    c.bench_function("leaflet_12_steps_large_print", |b| {
        b.iter(|| render_leaflet(std::hint::black_box(&large)))
    });
    c.bench_function("plan_to_leaflet_pdf_12_steps", |b| {
        b.iter(|| plan_to_pdf(std::hint::black_box(real::TWELVE_STEPS), false))
    });
    c.bench_function("plan_to_leaflet_pdf_12_steps_large_print", |b| {
        b.iter(|| plan_to_pdf(std::hint::black_box(real::TWELVE_STEPS), true))
    });

    let mut group = c.benchmark_group("items");
    group.sample_size(10);
    for n in [1_000, 10_000] {
        let input = many::plan_input(n);
        let (request, report) =
            review_from_value(&input, Profile::Uk, reference(), &OmeOptions::default())
                .unwrap_or_else(|e| panic!("{e}"));
        let p = plan(&request, reference()).unwrap_or_else(|e| panic!("{e}"));
        let details = SummaryDetails {
            patient_name: Some("Margaret Jones".into()),
            nhs_number: None,
            reviewer: None,
            practice: None,
            review_date: real::details(false).issue_date,
            next_review: None,
        };
        let leaflet = |p: &stepdown::taper::Plan| {
            let l =
                from_plan(p, &real::details(false), reference()).unwrap_or_else(|e| panic!("{e}"));
            render_leaflet(&l).unwrap_or_else(|e| panic!("{e}"))
        };
        let summary = |p: &stepdown::taper::Plan| {
            compose(&report, p, &details, reference())
                .and_then(|s| s.to_pdf(details.review_date))
                .unwrap_or_else(|e| panic!("{e}"))
        };
        let (l, s) = (leaflet(&p), summary(&p));
        println!(
            "{n} items: leaflet {} pages, {} bytes; summary {} pages, {} bytes",
            l.pages,
            l.bytes.len(),
            s.pages,
            s.bytes.len()
        );
        group.bench_function(format!("leaflet_{n}_items"), |b| {
            b.iter(|| leaflet(std::hint::black_box(&p)))
        });
        group.bench_function(format!("summary_pdf_{n}_items"), |b| {
            b.iter(|| summary(std::hint::black_box(&p)))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
