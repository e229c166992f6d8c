//! The practice's monthly figures: the thresholds they count against, the
//! document kept with the cache, and its CSV form.

use super::cache::ensure_fresh;
use super::compute::{self, Settings};
use super::{CaseFindingError, FigureMonth, FigureThreshold, Figures};
use crate::reference::{reference, Reference};
use crate::store::casefinding as db;
use crate::store::Store;
use crate::vocabulary::num;
use chrono::NaiveDate;

pub(super) fn per_1000(n: u64, list: Option<u32>) -> Option<f64> {
    list.filter(|l| *l > 0)
        .map(|l| (n as f64 / f64::from(l) * 1000.0 * 100.0).round() / 100.0)
}

/// The thresholds figures count against: the profile's high-dose threshold
/// and the case-finding table's others, ascending.
pub(super) fn figure_thresholds(reference: &Reference) -> Vec<FigureThreshold> {
    let mut out: Vec<FigureThreshold> = Vec::new();
    if let Some(t) =
        reference.threshold(compute::PROFILE, crate::reference::ThresholdKind::HighDose)
    {
        out.push(FigureThreshold {
            mg_per_day: t.mg_per_day,
            label: format!(
                "the high-dose threshold ({} profile)",
                compute::PROFILE.as_str().to_uppercase()
            ),
            source: t.source.clone(),
            high_dose: true,
        });
    }
    for (mg, label, source) in reference.casefinding.figure_thresholds() {
        if out.iter().all(|t| t.mg_per_day != mg) {
            out.push(FigureThreshold {
                mg_per_day: mg,
                label: label.to_string(),
                source: source.to_string(),
                high_dose: false,
            });
        }
    }
    out.sort_by(|a, b| a.mg_per_day.total_cmp(&b.mg_per_day));
    out
}

/// The figures document: the months counted, with the thresholds and notes.
pub(super) fn figures_document(
    settings: &Settings,
    reference: &Reference,
    list: Option<(u32, String)>,
    months: Vec<FigureMonth>,
) -> Figures {
    let thresholds = figure_thresholds(reference);
    let list_size = list.as_ref().map(|(n, _)| *n);
    let mut notes = vec![
        "People prescribed opioids: patients with at least one opioid item issued in the month.".to_string(),
        format!(
            "A person's total is their current regimen at the month's end: for each product, its latest issue within the previous {} days, with as-needed items at their maximum (OME from the {} profile).",
            settings.window_days, compute::PROFILE.as_str().to_uppercase()
        ),
        "People at or above a threshold: people prescribed opioids in the month whose total at the month's end is at or above it; their items are the opioid items issued to them in the month. High dose is judged per person from the dose instructions, not per item from the product strength (as OpenPrescribing's measures do).".to_string(),
        "Doses that could not be read are estimated from quantities and intervals between issues.".to_string(),
    ];
    match &list {
        Some((n, on)) => notes.push(format!(
            "Per 1,000: per 1,000 registered patients, list size {n} (given with the import of {on})."
        )),
        None => notes.push(
            "Per 1,000 figures need the practice list size: import with --list-size N.".to_string(),
        ),
    }
    Figures {
        as_of: settings.today.to_string(),
        list_size,
        thresholds,
        months,
        notes,
    }
}

/// The practice's figures as of `today` (recomputed first if the cache is
/// for another day or reference version). On a team store `practice` says
/// whose (see `Store::practice_for`: needed when the seat works for several;
/// two practices' figures are never pooled); refused on a SQLite file.
pub fn figures(
    store: &mut Store,
    today: NaiveDate,
    practice: Option<&str>,
) -> Result<Figures, CaseFindingError> {
    let practice = store.practice_for(practice)?;
    let json = store.in_practice(practice.as_deref(), |store| {
        ensure_fresh(store, today, None)?;
        store
            .casefinding_read(|c| db::get_state(c, "figures"))
            .map_err(CaseFindingError::from)
    })?;
    let figures = json
        .as_deref()
        .and_then(|j| serde_json::from_str::<Figures>(j).ok())
        .unwrap_or_else(|| Figures {
            as_of: today.to_string(),
            list_size: None,
            thresholds: figure_thresholds(reference()),
            months: Vec::new(),
            notes: vec!["No extract has been imported yet.".into()],
        });
    Ok(figures)
}

/// The figures as CSV: one row per month; for each threshold, people and
/// items at or above it and both per 1,000 (empty without a list size).
pub fn figures_csv(f: &Figures) -> String {
    let mut header = vec![
        "month".to_string(),
        "as_of".into(),
        "people_prescribed_opioids".into(),
        "opioid_items".into(),
        "people_prescribed_opioids_per_1000".into(),
    ];
    for t in &f.thresholds {
        let mg = num(t.mg_per_day);
        header.push(format!("people_ome_ge_{mg}"));
        header.push(format!("items_ome_ge_{mg}"));
        header.push(format!("people_ome_ge_{mg}_per_1000"));
        header.push(format!("items_ome_ge_{mg}_per_1000"));
    }
    let opt = |x: Option<f64>| x.map(num).unwrap_or_default();
    let mut out = header.join(",");
    out.push('\n');
    for m in &f.months {
        let mut row = vec![
            m.month.clone(),
            m.as_of.clone(),
            m.people_prescribed_opioids.to_string(),
            m.opioid_items.to_string(),
            opt(m.people_per_1000),
        ];
        for a in &m.at_or_above {
            row.push(a.people.to_string());
            row.push(a.items.to_string());
            row.push(opt(a.people_per_1000));
            row.push(opt(a.items_per_1000));
        }
        out.push_str(&row.join(","));
        out.push('\n');
    }
    out
}
