//! A plan input with many items, for the scaling benchmarks (issue 20: plan,
//! leaflet and summary were quadratic in items; 30,000 items took 14 s). The
//! input caps (assets/limits.json, 50 items) apply to what the CLI and the app
//! read; these benchmarks call the library past them to measure the growth.

use serde_json::{json, Value};

/// `n` items cycling through five kinds: morphine and oxycodone slow-release,
/// co-codamol, a fentanyl patch and as-needed oxycodone.
pub fn plan_input(n: usize) -> Value {
    let kinds = [
        json!({"drug": "morphine", "route": "oral", "release": "modified", "strength_mg": 30, "units_per_dose": 1, "doses_per_day": 2}),
        json!({"drug": "oxycodone", "route": "oral", "release": "modified", "strength_mg": 10, "units_per_dose": 1, "doses_per_day": 2}),
        json!({"drug": "codeine", "route": "oral", "strength_mg": 30, "units_per_dose": 2, "doses_per_day": 4, "paracetamol_mg": 500}),
        json!({"drug": "fentanyl", "route": "transdermal", "strength_mcg_per_hour": 25, "patches": 1}),
        json!({"drug": "oxycodone", "route": "oral", "strength_mg": 5, "units_per_dose": 1, "doses_per_day": 4, "as_needed": true}),
    ];
    json!({
        "items": (0..n).map(|i| kinds[i % kinds.len()].clone()).collect::<Vec<_>>(),
        "start_date": "2026-12-01",
        "taper": {"interval_days": 14}
    })
}
