//! Benchmarks of the local store (goal ≤ 5 ms each):
//! - saving a review (one durable transaction: fsync'd WAL commit, audit entry);
//! - loading a patient's history of 50 reviews, as summaries and with documents;
//! - opening the store (read-only inspection with SQLite's quick check, then read-write).
//!
//! Run: `cargo bench --bench store -- --warm-up-time 1 --measurement-time 3`.
//! Figures depend on the disk's fsync latency: saves are durable by design.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use serde_json::{json, Value};
use stepdown::record::{ComputedReview, ReviewInput};
use stepdown::reference::reference;
use stepdown::store::{PatientInput, Store};
use stepdown::Profile;

/// A review of realistic size: five regimen items, a patient context with
/// co-medications, and a taper, computed by the core (as every save is).
fn review(patient_id: i64, review_id: Option<i64>, n: usize) -> ComputedReview {
    let items: Vec<Value> = [5, 10, 15, 30, 60]
        .iter()
        .map(|mg| {
            json!({"drug": "morphine", "route": "oral", "release": "modified",
                   "strength_mg": mg, "units_per_dose": 1, "doses_per_day": 2})
        })
        .collect();
    let input: ReviewInput = match serde_json::from_value(json!({
        "patient_id": patient_id,
        "review_id": review_id,
        "reviewer": "Dr Bench",
        "notes": format!("Benchmark review {n}. Discussed goals, side effects and a taper."),
        "patient": {"age": 67, "sex": "female", "egfr": 48,
                    "conditions": ["copd", "falls"], "co_medications": ["pregabalin"]},
        "items": items,
        "taper": {"start_date": "2026-12-01", "taper": {"preset": "standard"}},
    })) {
        Ok(i) => i,
        Err(e) => panic!("bench input: {e}"),
    };
    match stepdown::consult::compute_review(&input, Profile::Uk, None, reference()) {
        Ok(r) => r,
        Err(e) => panic!("bench review: {}", e.message),
    }
}

fn bench(c: &mut Criterion) {
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => panic!("temp dir: {e}"),
    };
    let path = dir.path().join("bench.db");
    let mut store = match Store::open(&path) {
        Ok(s) => s,
        Err(e) => panic!("open: {e}"),
    };
    let patient = |store: &mut Store, name: &str| match store.create_patient(
        &PatientInput {
            name: name.into(),
            ..PatientInput::default()
        },
        "bench",
    ) {
        Ok(p) => p.id,
        Err(e) => panic!("patient: {e}"),
    };
    // A patient with 50 reviews, among 200 other patients' reviews.
    let with_history = patient(&mut store, "History Fifty");
    for n in 0..50 {
        if let Err(e) = store.save_review(&review(with_history, None, n)) {
            panic!("save: {e}");
        }
        let other = patient(&mut store, &format!("Other {n}"));
        for m in 0..4 {
            if let Err(e) = store.save_review(&review(other, None, m)) {
                panic!("save: {e}");
            }
        }
    }
    drop(store);
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    eprintln!("store with 251 patients and 250 reviews: {size} bytes (plus WAL)");
    // Opening inspects the file read-only first, including SQLite's quick
    // check, which grows with the file: measured on this realistic size.
    c.bench_function("store_open_existing_250_reviews", |b| {
        b.iter(|| Store::open_existing(black_box(&path)))
    });
    let mut store = match Store::open(&path) {
        Ok(s) => s,
        Err(e) => panic!("open: {e}"),
    };
    let saver = patient(&mut store, "Saver");
    let first = match store.save_review(&review(saver, None, 0)) {
        Ok(r) => r.review_id,
        Err(e) => panic!("save: {e}"),
    };

    // Each save starts from the version the previous one made, as a seat
    // does (the same base twice would be refused and kept as a draft).
    let mut latest = 1;
    c.bench_function("store_save_review_new_version", |b| {
        let input = review(saver, Some(first), 1);
        let notes = input.input().notes.clone();
        b.iter(|| {
            let next = input
                .clone()
                .with_target(Some(first), Some(latest), notes.clone());
            if let Ok(saved) = store.save_review(black_box(&next)) {
                latest = saved.version;
            }
        })
    });
    c.bench_function("store_save_review_new_review", |b| {
        let input = review(saver, None, 1);
        b.iter(|| store.save_review(black_box(&input)))
    });
    // What Save costs the clinician: OME, flags and plan computed from the
    // inputs, then the durable write.
    c.bench_function("consult_save_review_from_inputs", |b| {
        let mut input = review(saver, Some(first), 2).input().clone();
        b.iter(|| {
            input.base_version = Some(latest);
            if let Ok(saved) =
                stepdown::consult::save_review(&mut store, black_box(&input), reference())
            {
                latest = saved.version;
            }
        })
    });
    c.bench_function("store_patient_history_50_summaries", |b| {
        b.iter(|| {
            let h = store.patient_history(black_box(with_history));
            assert_eq!(h.as_ref().map(Vec::len).unwrap_or(0), 50);
            h
        })
    });
    c.bench_function("store_patient_reviews_50_with_documents", |b| {
        b.iter(|| {
            let h = store.patient_reviews(black_box(with_history));
            assert_eq!(h.as_ref().map(Vec::len).unwrap_or(0), 50);
            h
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
