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
use stepdown::store::{PatientInput, ReviewInput, Store};
use stepdown::Profile;

/// A review of realistic size: five regimen items, an `assess`-shaped result
/// with per-item working and flags, and a twelve-step plan.
fn review(patient_id: i64, review_id: Option<i64>, n: usize) -> ReviewInput {
    let items: Vec<Value> = (0..5)
        .map(|k| {
            json!({"drug": "morphine", "route": "oral", "release": "modified",
                   "strength_mg": 10 * (k + 1), "units_per_dose": 1, "doses_per_day": 2})
        })
        .collect();
    let working: Vec<Value> = (0..5)
        .map(|k| {
            json!({"index": k, "drug": "morphine", "daily_amount": format!("{} mg", 20 * (k + 1)),
                   "factor": 1.0, "ome_mg_per_day": 20.0 * (k + 1) as f64,
                   "source": "BNF: Prescribing in palliative care; FPM Opioids Aware (2025)"})
        })
        .collect();
    let steps: Vec<Value> = (0..12)
        .map(|s| {
            json!({"step": s + 1, "start_date": "2026-12-01", "end_date": "2026-12-14",
                   "total_ome_mg_per_day": 300.0 - 20.0 * s as f64,
                   "items": [{"drug": "morphine", "release": "modified",
                              "doses": [{"time": "morning", "units": [{"strength_mg": 30, "count": 1}]},
                                        {"time": "evening", "units": [{"strength_mg": 20, "count": 1}]}]}],
                   "supply": [{"product": "morphine 30 mg MR tablets", "quantity": 14}]})
        })
        .collect();
    ReviewInput {
        patient_id,
        review_id,
        reviewer: "Dr Bench".into(),
        profile: Profile::Uk,
        reference_version: None,
        notes: format!("Benchmark review {n}. Discussed goals, side effects and a taper."),
        patient_context: json!({"age": 67, "sex": "female", "egfr": 48,
                                "conditions": ["copd", "falls"], "co_medications": ["pregabalin"],
                                "months_on_opioids": 36}),
        regimen: json!({"items": items}),
        result: json!({"ome": {"profile": "uk", "total_ome_mg_per_day": 300.0,
                               "regular_ome_mg_per_day": 300.0, "complete": true,
                               "items": working, "warnings": []},
                       "flags": [{"id": "high-dose", "severity": "high", "title": "High dose",
                                  "rationale": "Total OME at or above the threshold.",
                                  "action": "Consider a taper.", "source": "Opioids Aware"},
                                 {"id": "gabapentinoid", "severity": "high", "title": "Gabapentinoid",
                                  "rationale": "Pregabalin with an opioid.", "action": "Review.",
                                  "source": "MHRA 2017"}]}),
        plan: json!({"steps": steps, "warnings": [], "ome_start": 300.0, "ome_end": 0.0,
                     "edits": [{"step": 3, "note": "pause for holiday"}]}),
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

    c.bench_function("store_save_review_new_version", |b| {
        let input = review(saver, Some(first), 1);
        b.iter(|| store.save_review(black_box(&input)))
    });
    c.bench_function("store_save_review_new_review", |b| {
        let input = review(saver, None, 1);
        b.iter(|| store.save_review(black_box(&input)))
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
