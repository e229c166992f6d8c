//! Unit tests of the taper planner through its public API.

use super::*;
use crate::reference::reference;

fn make(json: &str) -> Plan {
    match plan_from_json(json, Profile::Uk, reference()) {
        Ok(p) => p,
        Err(e) => panic!("{e}"),
    }
}

fn make_in(profile: Profile, json: &str) -> Plan {
    match plan_from_json(json, profile, reference()) {
        Ok(p) => p,
        Err(e) => panic!("{e}"),
    }
}

fn totals(p: &Plan) -> Vec<f64> {
    p.steps.iter().map(|s| s.total_ome_mg_per_day).collect()
}

fn edit(p: &Plan, json: &str) -> Result<Plan, PlanError> {
    let edits = edits_from_json(json).map_err(PlanError::Input)?;
    apply_edits(p, &edits, reference())
}

const MST: &str = r#"{"items": [{"drug": "morphine", "route": "oral", "release": "modified", "strength_mg": 30, "doses_per_day": 2}],
    "start_date": "2026-12-01", "taper": {"reduction_percent": 10, "of": "original", "interval_days": 28}}"#;

#[test]
fn morphine_30_bd_ten_percent_of_original() {
    let p = make(MST);
    // Step 1 is the current regimen; then never more than the 6 asked for
    // while a makeable dose exists: 50 -> 45, not 40; 20 -> 15, not 10.
    assert_eq!(
        totals(&p),
        [60.0, 55.0, 50.0, 45.0, 40.0, 35.0, 30.0, 25.0, 20.0, 15.0, 10.0, 5.0, 0.0]
    );
    assert_eq!(p.steps[0].kind, StepKind::Start);
    assert_eq!(p.ome_start, 60.0);
    assert_eq!(p.ome_end, 0.0);
    assert!(p.target_reached);
    assert_eq!(
        p.options.requested_label,
        "Standard: 10% of the starting dose every 4 weeks"
    );
    // 60 mg over 12 steps of 4 weeks: 5 mg (8.3%) every 4 weeks, and the label says so.
    assert_eq!(p.options.actual_percent_per_interval, Some(8.3));
    assert_eq!(
        p.options.label,
        "Standard: 10% of the starting dose every 4 weeks (actual average: 8.3% of the starting dose every 4 weeks)"
    );
    assert_eq!(p.dose_placement, DOSE_PLACEMENT);
}

#[test]
fn the_later_dose_is_never_the_smaller() {
    let p = make(MST);
    for s in &p.steps {
        let item = &s.items[0];
        let amount = |time: &str| -> f64 {
            item.doses
                .iter()
                .filter(|d| d.time == time)
                .flat_map(|d| &d.units)
                .map(|u| match u {
                    UnitAmount::Solid(x) => x.strength_mg * x.count,
                    _ => 0.0,
                })
                .sum()
        };
        assert!(amount("evening") >= amount("morning"), "step {}", s.step);
        assert!(
            amount("evening") - amount("morning") <= 5.0,
            "step {}",
            s.step
        );
    }
}

#[test]
fn contract_shapes_for_solids_patches_and_liquids() {
    let p = make(
        r#"{"items": [
            {"drug": "fentanyl", "route": "transdermal", "strength_mcg_per_hour": 25, "patches": 1},
            {"drug": "morphine", "route": "oral", "form": "solution", "strength_mg_per_ml": 2, "ml_per_dose": 5, "doses_per_day": 4, "as_needed": true}
        ], "start_date": "2026-12-01"}"#,
    );
    let v = serde_json::to_value(&p).unwrap();
    assert_eq!(v["steps"][0]["kind"], "start");
    assert_eq!(
        v["steps"][0]["items"][0]["doses"][0]["units"][0]["strength_mcg_per_hour"],
        25
    );
    let step = &v["steps"][1];
    for key in [
        "step",
        "start_date",
        "end_date",
        "total_ome_mg_per_day",
        "items",
        "supply",
        "is_pause",
    ] {
        assert!(step.get(key).is_some(), "steps[0].{key}");
    }
    let patch = &step["items"][0];
    assert_eq!(patch["drug"], "fentanyl");
    assert_eq!(patch["doses"][0]["time"], "every 72 hours");
    assert_eq!(patch["doses"][0]["units"][0]["strength_mcg_per_hour"], 12);
    assert_eq!(patch["doses"][0]["units"][0]["count"], 1);
    let liquid = &step["items"][1];
    assert_eq!(liquid["doses"][0]["time"], "up to 4 times a day");
    assert_eq!(
        liquid["doses"][0]["units"][0],
        serde_json::json!({"strength_mg_per_ml": 2, "ml": 5})
    );
    // The fentanyl "12" patch counts as 12.5 micrograms/hour: 30 mg OME, plus 40 from the liquid.
    assert_eq!(p.steps[1].total_ome_mg_per_day, 70.0);
    assert_eq!(p.steps[0].total_ome_mg_per_day, 100.0);
    assert_eq!(v["ome_start"], 100.0);
    // A 30 mg cut where 10 was asked: three intervals, in whole 3-day patch changes.
    assert_eq!(p.steps[1].days, 84);
}

#[test]
fn a_half_tablet_start_is_held_exactly_with_a_question() {
    let p = make(
        r#"{"items": [{"drug": "morphine", "route": "oral", "strength_mg": 10, "units_per_dose": 1.5, "doses_per_day": 2}],
            "start_date": "2026-12-01", "taper": {"reduction_percent": 10, "interval_days": 14}}"#,
    );
    assert_eq!(p.ome_start, 30.0);
    assert!(
        p.warnings
            .iter()
            .any(|w| w.contains("15 mg a dose cannot be made from whole units")),
        "{:?}",
        p.warnings
    );
    // Never rounded down, never stopped: kept exactly, and the prescriber asked.
    assert_eq!(p.steps[0].total_ome_mg_per_day, 30.0);
    assert!(p.steps.iter().all(|s| s.total_ome_mg_per_day == 30.0));
    assert!(!p.items[0].tapered);
    assert!(p.items[0]
        .prescriber_query
        .as_deref()
        .is_some_and(|q| q.starts_with("Ask the prescriber")));
    assert!(!p.target_reached);
    assert!(p.steps.iter().all(|s| s.kind != StepKind::Stop));
}

#[test]
fn buprenorphine_patches_are_held_in_the_cdc_profile() {
    let p = make_in(
        Profile::Cdc,
        r#"{"items": [
            {"drug": "buprenorphine", "route": "transdermal", "strength_mcg_per_hour": 10},
            {"drug": "oxycodone", "route": "oral", "release": "modified", "strength_mg": 10, "doses_per_day": 2}
        ], "start_date": "2026-12-01"}"#,
    );
    assert!(!p.items[0].tapered);
    assert!(p.items[0].held_reason.is_some());
    assert_eq!(p.reduction_order, [1]);
    assert!(p
        .steps
        .iter()
        .all(|s| s.items[0].change == ItemChange::Held));
    assert_eq!(p.ome_start, 30.0);
}

#[test]
fn a_target_step_is_the_highest_rung_at_or_below_it() {
    let p = make(
        r#"{"items": [{"drug": "morphine", "route": "oral", "release": "modified", "strength_mg": 60, "doses_per_day": 2}],
            "start_date": "2026-12-01", "taper": {"reduction_percent": 25, "interval_days": 14, "target_ome_mg_per_day": 33, "reason": "agreed with the patient"}}"#,
    );
    assert_eq!(totals(&p), [120.0, 90.0, 60.0, 30.0]);
    assert!(p.target_reached);
    assert_eq!(p.steps[3].kind, StepKind::Reduce);
    assert!(p.steps[3]
        .notes
        .iter()
        .any(|n| n.starts_with("Target reached")));
}

#[test]
fn presets_and_option_labels() {
    let presets = presets(reference());
    assert_eq!(presets.len(), 3);
    assert!(presets.iter().all(|p| !p.source.is_empty()));
    let p = make(
        r#"{"items": [{"drug": "morphine", "route": "oral", "release": "modified", "strength_mg": 30, "doses_per_day": 2}],
            "start_date": "2026-12-01", "taper": {"preset": "gentle", "interval_days": 21}}"#,
    );
    assert_eq!(
        p.options.requested_label,
        "5% of the starting dose every 3 weeks (changed from the gentle preset)"
    );
    assert!(p.options.label.starts_with(&p.options.requested_label));
    assert!(p
        .options
        .source
        .starts_with("Set by the clinician, starting from"));
    let p = make(
        r#"{"items": [{"drug": "morphine", "route": "oral", "release": "modified", "strength_mg": 30, "doses_per_day": 2}],
            "start_date": "2026-12-01", "taper": {"reduction_percent": 15, "of": "current", "interval_days": 10, "reason": "agreed with the patient"}}"#,
    );
    assert_eq!(
        p.options.requested_label,
        "15% of the current dose every 10 days"
    );
}

#[test]
fn a_plan_survives_the_round_trip_through_the_ui_and_is_rechecked() {
    let p = make(MST);
    let json = serde_json::to_string(&p).unwrap();
    let back: Plan = serde_json::from_str(&json).unwrap();
    assert_eq!(back, p);
    let same = apply_edits(&back, &[], reference()).unwrap();
    assert_eq!(same, p);
    // A tampered plan (a strength that does not exist) is refused, with its path.
    let tampered = json.replacen("\"strength_mg\":15", "\"strength_mg\":20", 1);
    let back: Plan = serde_json::from_str(&tampered).unwrap();
    let e = apply_edits(&back, &[], reference())
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with(
            "plan.steps[1].items[0].doses[0].units[0].strength_mg: 20 mg is not a strength"
        ),
        "{e}"
    );
    // Totals are recomputed, never trusted.
    let mut wrong = p.clone();
    wrong.steps[0].total_ome_mg_per_day = 1.0;
    assert_eq!(apply_edits(&wrong, &[], reference()).unwrap(), p);
}

#[test]
fn edits_are_checked_against_the_plan() {
    let p = make(
        r#"{"items": [
            {"drug": "methadone", "route": "oral", "form": "solution", "strength_mg_per_ml": 1, "ml_per_dose": 30, "doses_per_day": 1},
            {"drug": "morphine", "route": "oral", "release": "modified", "strength_mg": 30, "doses_per_day": 2}
        ], "start_date": "2026-12-01"}"#,
    );
    let e = edit(
        &p,
        r#"{"edits": [{"action": "set_dose", "step": 1, "item": 0, "doses": []}]}"#,
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.starts_with("edits[0].item: item 0 (methadone) is held unchanged"),
        "{e}"
    );
    let n = p.steps.len();
    let e = edit(
        &p,
        &format!(r#"{{"edits": [{{"action": "add_pause", "after_step": {n}, "days": 7}}]}}"#),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("a pause can follow steps 1 to"), "{e}");
    // Stopping the item early is a reduction, and later steps may not then rise.
    let e = edit(
        &p,
        r#"{"edits": [{"action": "set_dose", "step": 2, "item": 1, "doses": []}]}"#,
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("edits[0]: steps[2]: step 3's total would rise from 0 to"),
        "{e}"
    );
}

#[test]
fn a_marked_hold_keeps_a_dose_and_is_recorded() {
    let p = make(MST);
    let q = edit(
        &p,
        r#"{"edits": [{"action": "set_dose", "step": 3, "item": 0, "intent": "hold-or-reversal", "reason": "waiting for physiotherapy",
            "doses": [{"time": "morning", "units": [{"strength_mg": 15, "count": 1}, {"strength_mg": 10, "count": 1}]},
                      {"time": "evening", "units": [{"strength_mg": 30, "count": 1}]}]}]}"#,
    )
    .unwrap();
    // Same total as step 2: a hold (pause), not an increase, with the reason kept.
    assert_eq!(q.steps[2].total_ome_mg_per_day, 55.0);
    assert_eq!(q.steps[2].kind, StepKind::Pause);
    assert_eq!(
        q.steps[2].reason.as_deref(),
        Some("waiting for physiotherapy")
    );
    assert!(!q
        .warnings
        .iter()
        .any(|w| w.starts_with("Intentional increase")));
    assert_eq!(q.edits_applied.len(), 1);
}

#[test]
fn text_table_lists_warnings_and_edits() {
    let p = make(
        r#"{"items": [{"drug": "tapentadol", "route": "oral", "release": "modified", "strength_mg": 50, "doses_per_day": 2}],
            "start_date": "2026-12-01"}"#,
    );
    let q = edit(
        &p,
        r#"{"edits": [{"action": "set_length", "step": 1, "days": 35}]}"#,
    )
    .unwrap();
    let t = plan_text(&q);
    assert!(t.contains("Warnings:\n- From step 2"), "{t}");
    // Tapentadol's lowest strength: held there with a question, never stopped at once.
    assert!(t.contains("Questions for the prescriber:"), "{t}");
    assert!(
        t.contains("Clinician edits:\n- Step 1 length set to 35 days"),
        "{t}"
    );
    assert!(t.contains("1 now  01/12/2026  04/01/2027"), "{t}");
}

#[test]
fn errors_cross_ipc_as_invalid_input() {
    let e = plan_from_json(r#"{"items": []}"#, Profile::Uk, reference()).unwrap_err();
    let api: crate::ApiError = e.into();
    assert_eq!(api.code, crate::ErrorCode::InvalidInput);
    assert!(
        api.message
            .contains("items: must list at least one medicine"),
        "{}",
        api.message
    );
}

#[test]
fn a_large_starting_total_suggests_specialist_support() {
    // Oxycodone 120 mg twice a day: 240 mg x 1.5 = 360 mg OME, above 300 (FPM).
    let p = make(
        r#"{"items": [{"drug": "oxycodone", "route": "oral", "release": "modified", "strength_mg": 120, "doses_per_day": 2}],
            "start_date": "2026-12-01"}"#,
    );
    assert_eq!(p.ome_start, 360.0);
    assert!(
        p.warnings[0].starts_with(SPECIALIST_PREFIX) && p.warnings[0].contains("360"),
        "{:?}",
        p.warnings
    );
    // Below the threshold: no note.
    assert!(!make(MST)
        .warnings
        .iter()
        .any(|w| w.starts_with(SPECIALIST_PREFIX)));
}

#[test]
fn controlled_drug_supply_is_split_into_prescriptions_of_at_most_30_days() {
    // MXL 120 mg once a day: each 30 mg cut is 2.5 times the 12 asked for, so
    // the step lasts 70 days: three prescriptions of 24, 23 and 23 days.
    let p = make(
        r#"{"items": [{"drug": "morphine", "route": "oral", "release": "modified", "strength_mg": 120, "doses_per_day": 1, "form": "capsule"}],
            "start_date": "2026-12-01"}"#,
    );
    let s = &p.steps[1];
    assert_eq!(s.days, 70);
    let days: Vec<u32> = s.prescriptions.iter().map(|r| r.days).collect();
    assert_eq!(days, [24, 23, 23]);
    let total: f64 = s
        .prescriptions
        .iter()
        .flat_map(|r| &r.supply)
        .map(|l| l.quantity)
        .sum();
    assert_eq!(total, s.supply.iter().map(|l| l.quantity).sum::<f64>());
    assert_eq!(s.prescriptions[1].start_date.to_string(), "2027-01-22");
    for s in &p.steps {
        assert!(
            s.prescriptions.iter().all(|r| r.days <= 30),
            "step {}",
            s.step
        );
    }
    let t = plan_text(&p);
    assert!(t.contains("as 3 prescriptions:"), "{t}");
    // Patches: whole changes on each prescription (Transtec: whole weeks).
    let p = make(
        r#"{"items": [{"drug": "buprenorphine", "route": "transdermal", "strength_mcg_per_hour": 70}],
            "start_date": "2026-12-01", "taper": {"interval_days": 28}}"#,
    );
    for s in &p.steps {
        for r in &s.prescriptions {
            assert!(
                r.days <= 30 && r.days % 7 == 0,
                "step {}: {}",
                s.step,
                r.days
            );
        }
    }
}

#[test]
fn the_stop_day_of_a_patch_says_take_it_off_and_put_on_no_new_one() {
    let p = make(
        r#"{"items": [{"drug": "fentanyl", "route": "transdermal", "strength_mcg_per_hour": 50}],
            "start_date": "2026-12-01", "taper": {"interval_days": 14}}"#,
    );
    let last = p.steps.last().expect("steps");
    assert_eq!(last.kind, StepKind::Stop);
    // Steps are whole 3-day changes, so the stop day is a change day.
    let before: u32 = p.steps[..p.steps.len() - 1].iter().map(|s| s.days).sum();
    assert_eq!(before % 3, 0);
    let t = plan_text(&p);
    assert!(
        t.contains("stop: take the last patch off on ")
            && t.contains("and do not put on a new one"),
        "{t}"
    );
}

#[test]
fn faster_than_a_rapid_taper_needs_a_reason_which_is_kept() {
    let e = plan_from_json(
        r#"{"items": [{"drug": "morphine", "route": "oral", "release": "modified", "strength_mg": 30, "doses_per_day": 2}],
            "start_date": "2026-12-01", "taper": {"reduction_percent": 50, "interval_days": 7}}"#,
        Profile::Uk,
        reference(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("taper.reason: required: 50% every 7 days is faster than a rapid taper"),
        "{e}"
    );
    let p = make(
        r#"{"items": [{"drug": "morphine", "route": "oral", "release": "modified", "strength_mg": 30, "doses_per_day": 2}],
            "start_date": "2026-12-01", "taper": {"reduction_percent": 50, "interval_days": 7, "reason": "overdose warning signs"}}"#,
    );
    assert_eq!(p.options.reason.as_deref(), Some("overdose warning signs"));
    assert_eq!(
        p.request.taper.reason.as_deref(),
        Some("overdose warning signs")
    );
    // Outside FPM's 5-10% every 2-6 weeks: warned, naming the steps.
    assert!(
        p.warnings
            .iter()
            .any(|w| w.starts_with("Outside guidance: ") && w.contains("less than 14 days")),
        "{:?}",
        p.warnings
    );
    // 10% a week is a rapid taper's limit: allowed without a reason, but warned.
    let p = make(
        r#"{"items": [{"drug": "morphine", "route": "oral", "release": "modified", "strength_mg": 30, "doses_per_day": 2}],
            "start_date": "2026-12-01", "taper": {"reduction_percent": 10, "interval_days": 7}}"#,
    );
    assert!(p
        .warnings
        .iter()
        .any(|w| w.starts_with("Outside guidance: ")));
    assert!(!make(MST)
        .warnings
        .iter()
        .any(|w| w.starts_with("Outside guidance: ")));
}

#[test]
fn an_unconvertible_item_makes_the_end_total_incomplete() {
    let p = make(
        r#"{"items": [
            {"drug": "methadone", "route": "oral", "form": "solution", "strength_mg_per_ml": 1, "ml_per_dose": 30, "doses_per_day": 1},
            {"drug": "morphine", "route": "oral", "release": "modified", "strength_mg": 30, "doses_per_day": 2}
        ], "start_date": "2026-12-01"}"#,
    );
    assert_eq!(p.ome_end, 0.0);
    assert!(!p.target_reached && !p.ome_end_complete);
    let t = plan_text(&p);
    assert!(t.contains("End: 0 mg OME a day, incomplete"), "{t}");
    assert!(!t.contains("target reached"), "{t}");
}

#[test]
fn mxl_30_once_a_day_is_offered_mst_15_twice_a_day_and_the_switch_is_an_edit() {
    let p = make(
        r#"{"items": [{"drug": "morphine", "route": "oral", "release": "modified", "form": "capsule", "strength_mg": 30, "doses_per_day": 1}],
            "start_date": "2026-12-01"}"#,
    );
    // Held at the lowest strength, never stopped, and a switch offered with its equivalence.
    assert_eq!(totals(&p), [30.0]);
    let offer = &p.items[0].switch_offers[0];
    assert_eq!(offer.id, "switch-mxl-to-mst");
    assert_eq!(
        offer.becomes,
        "morphine 12-hourly slow-release tablets: 15 mg, 2 times a day"
    );
    assert!(offer
        .equivalence
        .contains("MXL 30 mg once a day = MST 15 mg twice a day"));
    assert!(offer.source.contains("SmPC"));
    assert!(plan_text(&p).contains("accept_switch \"switch-mxl-to-mst\""));
    // Nothing changes until the clinician accepts it.
    assert_eq!(
        p.items[0].product_id.as_deref(),
        Some("morphine-mr-24h-capsule")
    );
    let q = edit(
        &p,
        r#"{"edits": [{"action": "accept_switch", "item": 0, "switch": "switch-mxl-to-mst"}]}"#,
    )
    .unwrap();
    assert_eq!(
        q.items[0].product_id.as_deref(),
        Some("morphine-mr-12h-tablet")
    );
    // The same 30 mg a day; then 5 mg steps (1.7 times the 3 asked: 47 days) to the stop day.
    assert_eq!(totals(&q), [30.0, 25.0, 20.0, 15.0, 10.0, 5.0, 0.0]);
    assert_eq!(q.steps[0].items[0].doses.len(), 2);
    assert!(q.edits_applied[0]
        .starts_with("Switch accepted for items[0]: MXL 24-hourly capsules to MST"));
    assert!(q.edits_applied[0].contains("Source: MXL capsules SmPC"));
    // A switch not offered is refused with its field.
    let e = edit(
        &p,
        r#"{"edits": [{"action": "accept_switch", "item": 0, "switch": "switch-transtec-to-butrans"}]}"#,
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.starts_with("edits[0].switch: the plan offers no switch"),
        "{e}"
    );
}

#[test]
fn transtec_35_switches_to_butrans_20_and_15_at_the_same_rate() {
    let p = make(
        r#"{"items": [{"drug": "buprenorphine", "route": "transdermal", "strength_mcg_per_hour": 35}],
            "start_date": "2026-12-01"}"#,
    );
    assert_eq!(totals(&p), [84.0]);
    let offer = &p.items[0].switch_offers[0];
    assert_eq!(
        offer.becomes,
        "buprenorphine 7-day patches: 20 micrograms/hour + 15 micrograms/hour"
    );
    let q = edit(
        &p,
        r#"{"edits": [{"action": "accept_switch", "item": 0, "switch": "switch-transtec-to-butrans"}]}"#,
    )
    .unwrap();
    assert_eq!(q.ome_start, 84.0);
    assert_eq!(q.steps[0].total_ome_mg_per_day, 84.0);
    assert_eq!(totals(&q), [84.0, 72.0, 60.0, 48.0, 36.0, 24.0, 12.0, 0.0]);
    assert!(q
        .steps
        .iter()
        .all(|s| s.kind == StepKind::Stop || s.days % 7 == 0));
}

#[test]
fn concentrate_half_a_millilitre_switches_to_five_millilitres_of_10_mg_in_5() {
    let p = make(
        r#"{"items": [{"drug": "morphine", "route": "oral", "form": "solution", "strength_mg_per_ml": 20, "ml_per_dose": 0.5, "doses_per_day": 4}],
            "start_date": "2026-12-01"}"#,
    );
    assert!(!p.items[0].tapered);
    assert_eq!(
        p.items[0].switch_offers[0].id,
        "switch-concentrate-to-oral-solution"
    );
    let q = edit(
        &p,
        r#"{"edits": [{"action": "accept_switch", "item": 0, "switch": "switch-concentrate-to-oral-solution"}]}"#,
    )
    .unwrap();
    assert!(q.items[0].tapered);
    // 10 mg a dose as 5 mL; steps of 2 mL (4 mg, within the 4 asked) a day.
    assert_eq!(q.steps[0].total_ome_mg_per_day, 40.0);
    assert_eq!(q.steps[1].total_ome_mg_per_day, 36.0);
    assert_eq!(q.steps.last().map(|s| s.kind), Some(StepKind::Stop));
}

#[test]
fn a_plan_with_every_medicine_held_says_nothing_is_reduced_yet() {
    // Three BuTrans 20 patches: more than the licensed number, so held.
    let p = make(
        r#"{"items":[{"drug":"buprenorphine","route":"transdermal","strength_mcg_per_hour":20,"patches":3}],
            "start_date":"2026-12-07"}"#,
    );
    assert!(p.reduction_order.is_empty(), "{:?}", p.reduction_order);
    let text = text::plan_text(&p);
    assert!(
        text.contains("Reduce in this order: nothing is reduced yet"),
        "{text}"
    );
    assert!(!text.contains("Reduce in this order: ."), "{text}");
}

#[test]
fn a_new_order_may_follow_an_accepted_switch_but_not_an_edit_of_the_steps() {
    // MST 30 mg morning + 60 mg evening beside morphine concentrate 0.5 mL four
    // times a day: the concentrate is held until its switch is accepted, and
    // only then can it be put first (an order naming a held item is refused).
    let p = make(
        r#"{"items": [
            {"drug": "morphine", "route": "oral", "release": "modified", "form": "tablet", "strength_mg": 30,
             "doses": [{"time": "morning", "units": 1}, {"time": "evening", "units": 2}]},
            {"drug": "morphine", "route": "oral", "release": "immediate", "form": "solution", "strength_mg_per_ml": 20,
             "ml_per_dose": 0.5, "doses_per_day": 4}],
            "start_date": "2026-12-01"}"#,
    );
    let q = edit(
        &p,
        r#"{"edits": [{"action": "accept_switch", "item": 1, "switch": "switch-concentrate-to-oral-solution"},
                      {"action": "set_order", "order": [1]}]}"#,
    )
    .unwrap();
    assert_eq!(q.reduction_order, [1, 0]);
    assert_eq!(q.edits_applied.len(), 2);
    assert!(q.edits_applied[0].starts_with("Switch accepted for items[1]"));
    assert_eq!(
        q.edits_applied[1],
        "Reduction order set: morphine oral solution 10 mg in 5 mL (items[1]) first"
    );
    // Step 2 takes 2 mL of the solution off (13 asked: six 1 mL cuts are 12) and leaves the MST.
    assert_eq!(totals(&q)[..2], [130.0, 118.0]);
    assert_eq!(q.steps[1].items[0].doses, q.steps[0].items[0].doses);
    // The other way round: a new order, then the switch.
    let r = edit(
        &p,
        r#"{"edits": [{"action": "set_order", "order": [0]},
                      {"action": "accept_switch", "item": 1, "switch": "switch-concentrate-to-oral-solution"}]}"#,
    )
    .unwrap();
    assert_eq!(r.reduction_order, [0, 1]);
    // After an edit of the steps a rebuild would undo it silently: refused, named.
    let e = edit(
        &q,
        r#"{"edits": [{"action": "set_length", "step": 2, "days": 35},
                      {"action": "set_order", "order": [0]}]}"#,
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("edits[1].action: set_order rebuilds the plan from its request, so it must come before any edit of the steps"),
        "{e}"
    );
}

#[test]
fn co_codamol_is_offered_codeine_with_separate_paracetamol_as_a_choice_keeping_when_needed() {
    let p = make(
        r#"{"items": [{"drug": "codeine", "route": "oral", "form": "tablet", "strength_mg": 30, "paracetamol_mg": 500,
            "units_per_dose": 2, "doses_per_day": 4, "as_needed": true}], "start_date": "2026-12-01"}"#,
    );
    // Reduced as it is (no question), the switch offered beside it.
    assert!(p.items[0].tapered && p.items[0].prescriber_query.is_none());
    let offer = &p.items[0].switch_offers[0];
    assert_eq!(offer.id, "switch-co-codamol-to-codeine");
    assert_eq!(
        offer.becomes,
        "codeine tablets: 60 mg, when needed, up to 4 times a day, with paracetamol 1000 mg a dose (2 x 500 mg) as separate tablets, not reduced by this plan"
    );
    assert!(plan_text(&p).contains("Choices for the clinician"));
    // Accepted, the codeine stays as needed, at the same most a day.
    let q = edit(
        &p,
        r#"{"edits": [{"action": "accept_switch", "item": 0, "switch": "switch-co-codamol-to-codeine"}]}"#,
    )
    .unwrap();
    assert_eq!(q.items[0].product_id.as_deref(), Some("codeine-tablet"));
    assert!(q.items[0].as_needed);
    assert_eq!(
        q.steps[0].total_ome_mg_per_day,
        p.steps[0].total_ome_mg_per_day
    );
}

#[test]
fn same_line_items_join_in_input_order_skipping_other_lines_and_taken_times() {
    // Items 0 and 2 are both MST in the morning (never one item: a time named
    // twice); 3 and 4 are MST in the evening; 1 is another line, no times.
    // Each item joins the first later one it can, in input order: 0 with 3,
    // then 2 with 4.
    let mst = |strength: u32, time: &str| {
        format!(
            r#"{{"drug": "morphine", "route": "oral", "release": "modified", "form": "tablet", "strength_mg": {strength}, "doses": [{{"time": "{time}", "units": 1}}]}}"#
        )
    };
    let json = format!(
        r#"{{"items": [{}, {}, {}, {}, {}], "start_date": "2026-12-01"}}"#,
        mst(30, "morning"),
        r#"{"drug": "oxycodone", "route": "oral", "release": "modified", "strength_mg": 10, "doses_per_day": 2}"#,
        mst(10, "morning"),
        mst(60, "evening"),
        mst(10, "evening"),
    );
    let p = make(&json);
    let joins: Vec<&String> = p
        .warnings
        .iter()
        .filter(|w| w.contains("planned as one item"))
        .collect();
    assert_eq!(joins.len(), 2, "{joins:?}");
    assert!(joins[0].starts_with("items[0] and items[3] are the same product"));
    assert!(joins[0].contains("planned as one item, items[0]"));
    assert!(joins[1].starts_with("items[2] and items[4] are the same product"));
    assert!(joins[1].contains("planned as one item, items[2]"));
    assert_eq!(p.items.len(), 3);
    assert_eq!(p.items[1].drug, "oxycodone");
    // Nothing about the doses changes: morphine 30 + 10 + 60 + 10 mg and
    // oxycodone 20 mg (x 1.5) a day.
    assert!((p.ome_start - 140.0).abs() < 1e-9, "{}", p.ome_start);
}
