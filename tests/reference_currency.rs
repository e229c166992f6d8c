//! `stepdown reference` reports tables long past their review date, with
//! the date given by `--today` or the computer's clock, through the same
//! `stepdown::reference::currency` function the desktop shell calls.

use std::process::{Command, Output};

use chrono::NaiveDate;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_stepdown");

fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().expect("run stepdown")
}

fn json(out: &Output) -> Value {
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON on stdout")
}

#[test]
fn reference_in_the_present_has_no_stale_tables() {
    let v = json(&run(&["reference", "--today", "2026-11-24"]));
    assert_eq!(v["today"], "2026-11-24");
    assert_eq!(v["stale"], serde_json::json!([]));
    assert_eq!(v["warnings"], serde_json::json!([]));
    assert_eq!(v["stale_after_months"], 12.0);
    assert!(v["stale_policy_source"]
        .as_str()
        .unwrap()
        .contains("clinical risk management plan"));
    // The existing fields are unchanged.
    assert!(v["manifest_version"].is_string());
    assert!(v["tables"].as_array().unwrap().len() >= 14);
}

#[test]
fn reference_far_in_the_future_warns_for_every_table() {
    let v = json(&run(&["reference", "--today", "2099-06-30"]));
    let tables = v["tables"].as_array().unwrap();
    let stale = v["stale"].as_array().unwrap();
    assert_eq!(stale.len(), tables.len());
    for (s, t) in stale.iter().zip(tables) {
        assert_eq!(s["id"], t["id"]);
        assert_eq!(s["review_date"], t["review_date"]);
        assert!(s["days_past_review"].as_i64().unwrap() > 365);
    }
    let warnings = v["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), tables.len());
    assert!(warnings[0]
        .as_str()
        .unwrap()
        .contains("more than 12 months overdue"));

    let text = run(&["reference", "--today", "2099-06-30", "--format", "text"]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert_eq!(
        text.matches("WARNING: Reference table").count(),
        tables.len()
    );
}

#[test]
fn reference_at_the_boundary_counts_more_than_12_months_only() {
    let v = json(&run(&["reference", "--today", "2026-11-24"]));
    let t = v["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == "thresholds")
        .unwrap()
        .clone();
    let review = NaiveDate::parse_from_str(t["review_date"].as_str().unwrap(), "%Y-%m-%d").unwrap();
    let edge = review.checked_add_months(chrono::Months::new(12)).unwrap();
    let stale_ids = |d: NaiveDate| -> Vec<Value> {
        json(&run(&["reference", "--today", &d.to_string()]))["stale"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].clone())
            .collect()
    };
    assert!(!stale_ids(edge).contains(&t["id"]));
    assert!(stale_ids(edge.succ_opt().unwrap()).contains(&t["id"]));
}

#[test]
fn reference_without_today_uses_the_clock() {
    let v = json(&run(&["reference"]));
    let today = NaiveDate::parse_from_str(v["today"].as_str().unwrap(), "%Y-%m-%d").unwrap();
    let clock = chrono::Local::now().date_naive();
    assert!((today - clock).num_days().abs() <= 1, "{today} vs {clock}");
}

#[test]
fn reference_with_a_bad_date_is_bad_input() {
    for bad in ["2026-02-30", "24/11/2026", "", "tomorrow", "99999-01-01"] {
        let out = run(&["reference", "--today", bad]);
        assert_eq!(out.status.code(), Some(2), "{bad}");
        assert!(out.stdout.is_empty(), "{bad}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("--today"), "{bad}: {err}");
    }
}
