//! Unit tests of the taper planner through its public API.

use super::*;
use crate::reference::reference;

fn make(json: &str) -> Plan {
    match plan_from_json(json, Profile::Uk, reference()) {
        Ok(p) => p,
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn morphine_30_bd_ten_percent_of_original() {
    let p = make(
        r#"{"items": [{"drug": "morphine", "route": "oral", "release": "modified", "strength_mg": 30, "doses_per_day": 2}],
            "start_date": "2026-12-01", "taper": {"reduction_percent": 10, "of": "original", "interval_days": 28}}"#,
    );
    let totals: Vec<f64> = p.steps.iter().map(|s| s.total_ome_mg_per_day).collect();
    assert_eq!(
        totals,
        [55.0, 50.0, 40.0, 35.0, 30.0, 25.0, 20.0, 10.0, 5.0, 0.0]
    );
}
