//! Outcomes (issue 18): per patient and per practice month by month, from
//! the reviews and follow-ups the store holds. Pure: the caller gathers the
//! points (`consult::outcomes`) and passes "today". The definitions, with
//! their sources, are in docs/outcomes.md; this module is their one
//! implementation.
//!
//! A total that leaves out an item that could not be converted is never
//! counted as reduced, reduced by half or stopped: the patient is counted
//! apart (`incomplete_ome`), so no figure rests on a total missing a medicine.

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::profile::Profile;
use crate::reference::{Reference, ThresholdKind};
use crate::taper::output::Plan;

/// A saved review version, as outcomes need it.
#[derive(Debug, Clone, PartialEq)]
pub struct VersionPoint {
    /// The review.
    pub review_id: i64,
    /// The version.
    pub version: i64,
    /// The day it was saved.
    pub date: NaiveDate,
    /// Its conversion profile (for the high-dose threshold).
    pub profile: Profile,
    /// Its total mg OME a day.
    pub ome_mg_per_day: f64,
    /// Whether the total covers every item.
    pub ome_complete: bool,
    /// Its plan, if one was made.
    pub plan: Option<Plan>,
}

/// A saved follow-up, as outcomes need it.
#[derive(Debug, Clone, PartialEq)]
pub struct FollowUpPoint {
    /// The review followed up.
    pub review_id: i64,
    /// The follow-up's id.
    pub follow_up_id: i64,
    /// Its date.
    pub date: NaiveDate,
    /// mg OME a day taken then.
    pub ome_mg_per_day: f64,
    /// Whether that total covers every item.
    pub ome_complete: bool,
    /// The patient had stopped.
    pub stopped: bool,
    /// The plan ended then (stopped, or the decision was to end it).
    pub ends_plan: bool,
}

/// One patient's points.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PatientPoints {
    /// The patient.
    pub patient_id: i64,
    /// Every review version.
    pub versions: Vec<VersionPoint>,
    /// Every follow-up.
    pub follow_ups: Vec<FollowUpPoint>,
}

/// What a point on the OME chart is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "kebab-case")]
#[ts(export)]
pub enum PointKind {
    /// A saved review version.
    Review,
    /// A follow-up.
    FollowUp,
    /// The first day of a planned step (what the plan meant, not what was taken).
    PlanStep,
}

/// One point of a patient's OME over time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct SeriesPoint {
    /// The day.
    #[ts(as = "String")]
    pub date: NaiveDate,
    /// mg OME a day.
    pub ome_mg_per_day: f64,
    /// Whether the total covers every item.
    pub complete: bool,
    /// Review, follow-up or planned step.
    pub kind: PointKind,
    /// The review.
    #[ts(type = "number")]
    pub review_id: i64,
    /// The review version (reviews and plan steps; null for follow-ups).
    #[ts(type = "number | null")]
    pub version: Option<i64>,
    /// For a planned step, its number.
    pub step: Option<u32>,
    /// For the chart's legend and labels.
    pub label: String,
}

/// One patient's outcome as of `today`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct PatientOutcome {
    /// The patient.
    #[ts(type = "number")]
    pub patient_id: i64,
    /// Day of the first review.
    #[ts(as = "String")]
    pub baseline_date: NaiveDate,
    /// mg OME a day at the first review.
    pub baseline_ome_mg_per_day: f64,
    /// Day of the latest review version or follow-up.
    #[ts(as = "String")]
    pub current_date: NaiveDate,
    /// mg OME a day then.
    pub current_ome_mg_per_day: f64,
    /// Whether the current figure comes from a review or a follow-up.
    pub current_from: PointKind,
    /// Both totals cover every item (false: the reduction columns are null).
    pub ome_complete: bool,
    /// Change from baseline as a percentage (negative is a reduction); null
    /// when incomplete or the baseline is 0.
    pub change_percent: Option<f64>,
    /// Current below baseline (null when incomplete).
    pub reduced: Option<bool>,
    /// Current at most half of baseline (null when incomplete).
    pub reduced_by_half: Option<bool>,
    /// The latest follow-up recorded that the patient had stopped.
    pub stopped: bool,
    /// A plan is running today.
    pub active_plan: bool,
    /// Whole weeks from the first plan's start to today, or to the day the
    /// plan ended (stopped or ended at a follow-up); null when no plan has started.
    #[ts(type = "number | null")]
    pub weeks_on_plan: Option<i64>,
    /// The high-dose threshold in force today for the baseline's profile.
    pub high_dose_threshold_mg_per_day: Option<f64>,
    /// Baseline at or above it (null when incomplete).
    pub high_dose_at_baseline: Option<bool>,
    /// Current below it (null when incomplete).
    pub below_high_dose_now: Option<bool>,
    /// Every review, follow-up and planned step, by date.
    pub series: Vec<SeriesPoint>,
}

/// The practice's figures at the end of one month (or today, for this month).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct MonthOutcome {
    /// `YYYY-MM`.
    pub month: String,
    /// The day the figures are taken: the month's last day, or today.
    #[ts(as = "String")]
    pub as_of: NaiveDate,
    /// People with a review saved or a follow-up in the month.
    pub reviewed: u32,
    /// People with a first review by `as_of` (the denominator of the rest).
    pub people: u32,
    /// People with a plan running on `as_of`.
    pub active_plan: u32,
    /// People whose current total is below their baseline.
    pub reduced: u32,
    /// People whose current total is at most half their baseline.
    pub reduced_by_half: u32,
    /// People whose latest follow-up recorded that they had stopped.
    pub stopped: u32,
    /// People at or above the high-dose threshold at baseline.
    pub high_dose_at_baseline: u32,
    /// Of those, people below it now.
    pub high_dose_now_below: u32,
    /// People whose baseline or current total leaves out an item that could
    /// not be converted: counted here and in no column above but `people`,
    /// `reviewed` and `active_plan`.
    pub incomplete_ome: u32,
}

/// Outcomes for the practice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Outcomes {
    /// The day the figures are worked to.
    #[ts(as = "String")]
    pub today: NaiveDate,
    /// Per patient, by patient id.
    pub patients: Vec<PatientOutcome>,
    /// Month by month, from the first review's month to today's.
    pub months: Vec<MonthOutcome>,
    /// Where the definitions are written down.
    pub definitions: String,
}

/// The high-dose threshold of `profile` in force on `date` (the versioned rows of thresholds.json).
pub fn high_dose_threshold_on(
    reference: &Reference,
    profile: Profile,
    date: NaiveDate,
) -> Option<f64> {
    let day = |s: &Option<String>| {
        s.as_deref()
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
    };
    reference
        .threshold_history(profile, ThresholdKind::HighDose)
        .into_iter()
        .find(|r| {
            day(&r.effective_from).is_none_or(|f| f <= date)
                && day(&r.effective_to).is_none_or(|t| date <= t)
        })
        .map(|r| r.mg_per_day)
}

/// A dated figure: a review version or a follow-up.
#[derive(Debug, Clone, Copy)]
struct Event {
    date: NaiveDate,
    ome: f64,
    complete: bool,
    kind: PointKind,
    stopped: bool,
}

/// Where one patient stands on a day.
struct State<'a> {
    baseline: &'a VersionPoint,
    current: Event,
    active_plan: bool,
}

fn events(p: &PatientPoints) -> Vec<Event> {
    let mut out: Vec<(Event, u8, i64, i64)> = p
        .versions
        .iter()
        .map(|v| {
            (
                Event {
                    date: v.date,
                    ome: v.ome_mg_per_day,
                    complete: v.ome_complete,
                    kind: PointKind::Review,
                    stopped: false,
                },
                0,
                v.review_id,
                v.version,
            )
        })
        .chain(p.follow_ups.iter().map(|f| {
            (
                Event {
                    date: f.date,
                    ome: f.ome_mg_per_day,
                    complete: f.ome_complete,
                    kind: PointKind::FollowUp,
                    stopped: f.stopped,
                },
                1,
                f.review_id,
                f.follow_up_id,
            )
        }))
        .collect();
    // Same day: a follow-up comes after a version saved that day (it looks at it).
    out.sort_by_key(|(e, rank, r, id)| (e.date, *rank, *r, *id));
    out.into_iter().map(|(e, ..)| e).collect()
}

fn sorted_versions(p: &PatientPoints) -> Vec<&VersionPoint> {
    let mut v: Vec<&VersionPoint> = p.versions.iter().collect();
    v.sort_by_key(|v| (v.date, v.review_id, v.version));
    v
}

fn state_on<'a>(p: &'a PatientPoints, events: &[Event], day: NaiveDate) -> Option<State<'a>> {
    let versions = sorted_versions(p);
    let baseline = *versions.iter().find(|v| v.date <= day)?;
    let current = *events.iter().rev().find(|e| e.date <= day)?;
    let plan_version = versions.iter().rev().find(|v| v.date <= day);
    let active_plan = plan_version
        .and_then(|v| v.plan.as_ref())
        .is_some_and(|plan| {
            plan.start_date <= day
                && day <= plan.end_date
                && !p
                    .follow_ups
                    .iter()
                    .any(|f| f.ends_plan && plan.start_date <= f.date && f.date <= day)
        });
    Some(State {
        baseline,
        current,
        active_plan,
    })
}

struct Judged {
    complete: bool,
    reduced: bool,
    by_half: bool,
    stopped: bool,
    high_at_baseline: bool,
    below_now: bool,
    threshold: Option<f64>,
}

fn judge(s: &State<'_>, day: NaiveDate, reference: &Reference) -> Judged {
    let base = s.baseline.ome_mg_per_day;
    let cur = s.current.ome;
    let complete = s.baseline.ome_complete && s.current.complete;
    let threshold = high_dose_threshold_on(reference, s.baseline.profile, day);
    let high = threshold.is_some_and(|t| base >= t);
    Judged {
        complete,
        reduced: complete && cur < base,
        by_half: complete && base > 0.0 && cur <= base / 2.0,
        stopped: complete && s.current.stopped,
        high_at_baseline: complete && high,
        below_now: complete && high && threshold.is_some_and(|t| cur < t),
        threshold,
    }
}

fn weeks_on_plan(p: &PatientPoints, today: NaiveDate) -> Option<i64> {
    let start = p
        .versions
        .iter()
        .filter_map(|v| v.plan.as_ref())
        .map(|plan| plan.start_date)
        .filter(|d| *d <= today)
        .min()?;
    let end = p
        .follow_ups
        .iter()
        .filter(|f| f.ends_plan && f.date >= start && f.date <= today)
        .map(|f| f.date)
        .min()
        .unwrap_or(today);
    Some((end - start).num_days() / 7)
}

fn series(p: &PatientPoints) -> Vec<SeriesPoint> {
    let num = crate::vocabulary::num;
    let mut out = Vec::new();
    for v in &p.versions {
        out.push(SeriesPoint {
            date: v.date,
            ome_mg_per_day: v.ome_mg_per_day,
            complete: v.ome_complete,
            kind: PointKind::Review,
            review_id: v.review_id,
            version: Some(v.version),
            step: None,
            label: format!(
                "Review {} version {}: {} mg OME a day",
                v.review_id,
                v.version,
                num(v.ome_mg_per_day)
            ),
        });
        for s in v.plan.iter().flat_map(|plan| &plan.steps) {
            out.push(SeriesPoint {
                date: s.start_date,
                ome_mg_per_day: s.total_ome_mg_per_day,
                complete: v.plan.as_ref().is_some_and(|p| p.ome_end_complete),
                kind: PointKind::PlanStep,
                review_id: v.review_id,
                version: Some(v.version),
                step: Some(s.step),
                label: format!(
                    "Plan of version {}, step {}: {} mg OME a day",
                    v.version,
                    s.step,
                    num(s.total_ome_mg_per_day)
                ),
            });
        }
    }
    for f in &p.follow_ups {
        out.push(SeriesPoint {
            date: f.date,
            ome_mg_per_day: f.ome_mg_per_day,
            complete: f.ome_complete,
            kind: PointKind::FollowUp,
            review_id: f.review_id,
            version: None,
            step: None,
            label: format!(
                "Follow-up: {} mg OME a day{}",
                num(f.ome_mg_per_day),
                if f.stopped { ", stopped" } else { "" }
            ),
        });
    }
    out.sort_by(|a, b| {
        (a.date, a.kind as u8, a.version, a.step).cmp(&(b.date, b.kind as u8, b.version, b.step))
    });
    out
}

fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

/// One patient's outcome as of `today` (None before their first review).
pub fn patient_outcome(
    p: &PatientPoints,
    today: NaiveDate,
    reference: &Reference,
) -> Option<PatientOutcome> {
    let events = events(p);
    let s = state_on(p, &events, today)?;
    let j = judge(&s, today, reference);
    let base = s.baseline.ome_mg_per_day;
    let known = |b: bool| j.complete.then_some(b);
    Some(PatientOutcome {
        patient_id: p.patient_id,
        baseline_date: s.baseline.date,
        baseline_ome_mg_per_day: base,
        current_date: s.current.date,
        current_ome_mg_per_day: s.current.ome,
        current_from: s.current.kind,
        ome_complete: j.complete,
        change_percent: (j.complete && base > 0.0)
            .then(|| round1((s.current.ome - base) / base * 100.0)),
        reduced: known(j.reduced),
        reduced_by_half: known(j.by_half),
        stopped: s.current.stopped,
        active_plan: s.active_plan,
        weeks_on_plan: weeks_on_plan(p, today),
        high_dose_threshold_mg_per_day: j.threshold,
        high_dose_at_baseline: known(j.high_at_baseline),
        below_high_dose_now: j.high_at_baseline.then_some(j.below_now),
        series: series(p),
    })
}

fn month_end(year: i32, month: u32) -> Option<NaiveDate> {
    let (y, m) = if month == 12 {
        (year + 1, 1)
    } else {
        (year, month + 1)
    };
    NaiveDate::from_ymd_opt(y, m, 1)?.pred_opt()
}

/// Outcomes per patient and month by month, as of `today`. Points dated
/// after today are left out.
pub fn outcomes(patients: &[PatientPoints], today: NaiveDate, reference: &Reference) -> Outcomes {
    let mut per_patient: Vec<PatientOutcome> = patients
        .iter()
        .filter_map(|p| patient_outcome(p, today, reference))
        .collect();
    per_patient.sort_by_key(|o| o.patient_id);
    let all_events: Vec<Vec<Event>> = patients.iter().map(events).collect();
    let first = patients
        .iter()
        .flat_map(|p| p.versions.iter().map(|v| v.date))
        .filter(|d| *d <= today)
        .min();
    let mut months = Vec::new();
    if let Some(first) = first {
        let (mut y, mut m) = (first.year(), first.month());
        while (y, m) <= (today.year(), today.month()) {
            let Some(end) = month_end(y, m) else { break };
            let as_of = end.min(today);
            let in_month = |d: NaiveDate| d.year() == y && d.month() == m && d <= today;
            let mut row = MonthOutcome {
                month: format!("{y:04}-{m:02}"),
                as_of,
                reviewed: 0,
                people: 0,
                active_plan: 0,
                reduced: 0,
                reduced_by_half: 0,
                stopped: 0,
                high_dose_at_baseline: 0,
                high_dose_now_below: 0,
                incomplete_ome: 0,
            };
            for (p, ev) in patients.iter().zip(&all_events) {
                if ev.iter().any(|e| in_month(e.date)) {
                    row.reviewed += 1;
                }
                let Some(s) = state_on(p, ev, as_of) else {
                    continue;
                };
                let j = judge(&s, as_of, reference);
                row.people += 1;
                row.active_plan += u32::from(s.active_plan);
                row.incomplete_ome += u32::from(!j.complete);
                row.reduced += u32::from(j.reduced);
                row.reduced_by_half += u32::from(j.by_half);
                row.stopped += u32::from(j.stopped);
                row.high_dose_at_baseline += u32::from(j.high_at_baseline);
                row.high_dose_now_below += u32::from(j.below_now);
            }
            months.push(row);
            (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
        }
    }
    Outcomes {
        today,
        patients: per_patient,
        months,
        definitions: "docs/outcomes.md".into(),
    }
}

/// The month-by-month figures as CSV (a header row, then one row a month).
pub fn months_csv(o: &Outcomes) -> String {
    let mut out = String::from(
        "month,as_of,reviewed,people,active_plan,reduced,reduced_by_half,stopped,high_dose_at_baseline,high_dose_now_below,incomplete_ome\n",
    );
    for r in &o.months {
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{},{}\n",
            r.month,
            r.as_of,
            r.reviewed,
            r.people,
            r.active_plan,
            r.reduced,
            r.reduced_by_half,
            r.stopped,
            r.high_dose_at_baseline,
            r.high_dose_now_below,
            r.incomplete_ome
        ));
    }
    out
}

/// The per-patient figures as CSV (an empty cell where a figure is not known).
pub fn patients_csv(o: &Outcomes) -> String {
    let opt = |v: Option<String>| v.unwrap_or_default();
    let num = crate::vocabulary::num;
    let mut out = String::from(
        "patient_id,baseline_date,baseline_ome_mg_per_day,current_date,current_ome_mg_per_day,ome_complete,change_percent,reduced,reduced_by_half,stopped,active_plan,weeks_on_plan,high_dose_at_baseline,below_high_dose_now\n",
    );
    for p in &o.patients {
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n",
            p.patient_id,
            p.baseline_date,
            num(p.baseline_ome_mg_per_day),
            p.current_date,
            num(p.current_ome_mg_per_day),
            p.ome_complete,
            opt(p.change_percent.map(num)),
            opt(p.reduced.map(|b| b.to_string())),
            opt(p.reduced_by_half.map(|b| b.to_string())),
            p.stopped,
            p.active_plan,
            opt(p.weeks_on_plan.map(|w| w.to_string())),
            opt(p.high_dose_at_baseline.map(|b| b.to_string())),
            opt(p.below_high_dose_now.map(|b| b.to_string())),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::reference;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn version(date: &str, ome: f64, complete: bool) -> VersionPoint {
        VersionPoint {
            review_id: 1,
            version: 1,
            date: d(date),
            profile: Profile::Uk,
            ome_mg_per_day: ome,
            ome_complete: complete,
            plan: None,
        }
    }

    fn follow_up(date: &str, ome: f64, complete: bool, stopped: bool) -> FollowUpPoint {
        FollowUpPoint {
            review_id: 1,
            follow_up_id: 1,
            date: d(date),
            ome_mg_per_day: ome,
            ome_complete: complete,
            stopped,
            ends_plan: stopped,
        }
    }

    fn person(id: i64, v: VersionPoint, f: Vec<FollowUpPoint>) -> PatientPoints {
        PatientPoints {
            patient_id: id,
            versions: vec![v],
            follow_ups: f,
        }
    }

    #[test]
    fn an_incomplete_total_is_counted_apart_never_as_reduced_or_stopped() {
        let people = [
            // Stopped, but the baseline left a medicine out.
            person(
                1,
                version("2026-01-05", 120.0, false),
                vec![follow_up("2026-01-20", 0.0, true, true)],
            ),
            // Complete and reduced by half.
            person(
                2,
                version("2026-01-05", 100.0, true),
                vec![follow_up("2026-01-20", 50.0, true, false)],
            ),
            // The dose taken now could not be fully converted.
            person(
                3,
                version("2026-01-05", 100.0, true),
                vec![follow_up("2026-01-20", 10.0, false, false)],
            ),
        ];
        let o = outcomes(&people, d("2026-01-31"), reference());
        let m = &o.months[0];
        assert_eq!(
            (
                m.people,
                m.reduced,
                m.reduced_by_half,
                m.stopped,
                m.incomplete_ome
            ),
            (3, 1, 1, 0, 2)
        );
        let first = &o.patients[0];
        assert!(first.stopped && !first.ome_complete);
        assert_eq!((first.reduced, first.change_percent), (None, None));
        assert_eq!(o.patients[1].change_percent, Some(-50.0));
    }

    #[test]
    fn the_high_dose_threshold_is_the_one_in_force_on_the_day() {
        let r = reference();
        assert_eq!(
            high_dose_threshold_on(r, Profile::Uk, d("2025-06-01")),
            Some(120.0)
        );
        assert_eq!(
            high_dose_threshold_on(r, Profile::Uk, d("2026-06-01")),
            Some(90.0)
        );
        // 100 mg: high dose under the 2025 threshold, not under the one before.
        let p = [person(1, version("2025-06-01", 100.0, true), vec![])];
        let before = outcomes(&p, d("2025-06-30"), r);
        assert_eq!(before.months[0].high_dose_at_baseline, 0);
        let after = outcomes(&p, d("2026-01-31"), r);
        assert_eq!(after.months.last().unwrap().high_dose_at_baseline, 1);
    }

    #[test]
    fn points_after_today_are_left_out() {
        let p = [person(
            1,
            version("2026-01-05", 100.0, true),
            vec![follow_up("2026-03-01", 0.0, true, true)],
        )];
        let o = outcomes(&p, d("2026-02-15"), reference());
        assert_eq!(o.months.len(), 2);
        assert!(!o.patients[0].stopped);
        assert_eq!(o.months[1].stopped, 0);
    }
}
