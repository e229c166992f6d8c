//! The practice's one-page outcomes report (issue 18): the latest month's
//! headline figures, the last twelve months as a table, and what each column
//! means (docs/outcomes.md). No patient is named: the report is the
//! practice's figures, to be shared with the PCN or ICB.

use chrono::NaiveDate;

use super::layout::{Column, RowLine, Span, Table, TableRow};
use super::summary::{SummaryPage, SummarySection};
use super::{PdfError, Rendered};
use crate::outcomes::{MonthOutcome, Outcomes};

/// Months the table shows, newest last: a year keeps the report on one page.
pub const REPORT_MONTHS: usize = 12;

fn people(n: u32) -> String {
    format!("{n} {}", if n == 1 { "person" } else { "people" })
}

/// The report's content.
pub fn outcomes_page(o: &Outcomes, practice: &str) -> SummaryPage {
    let mut fields = vec![(
        "Practice".to_string(),
        if practice.trim().is_empty() {
            "not set (Settings)".to_string()
        } else {
            practice.trim().to_string()
        },
    )];
    fields.push(("As of".into(), o.today.format("%d/%m/%Y").to_string()));
    let mut sections = Vec::new();
    match o.months.last() {
        None => sections.push(SummarySection {
            heading: "No reviews yet".into(),
            paragraphs: vec![
                "No review has been saved, so there are no outcomes to report.".into(),
            ],
            bullets: vec![],
            table: None,
            closing: vec![],
        }),
        Some(m) => {
            sections.push(SummarySection {
                heading: format!("Now ({})", m.month),
                paragraphs: vec![format!(
                    "Of **{}** reviewed with Stepdown so far:",
                    people(m.people)
                )],
                bullets: headline(m),
                table: None,
                closing: vec![],
            });
            let shown: Vec<&MonthOutcome> = o
                .months
                .iter()
                .skip(o.months.len().saturating_sub(REPORT_MONTHS))
                .collect();
            let cell = |s: String| vec![Span::regular(s)];
            let rows = shown
                .iter()
                .rev()
                .map(|m| TableRow {
                    lines: vec![RowLine::cells(vec![
                        cell(m.month.clone()),
                        cell(m.reviewed.to_string()),
                        cell(m.people.to_string()),
                        cell(m.active_plan.to_string()),
                        cell(m.reduced.to_string()),
                        cell(m.reduced_by_half.to_string()),
                        cell(m.stopped.to_string()),
                        cell(format!(
                            "{} of {}",
                            m.high_dose_now_below, m.high_dose_at_baseline
                        )),
                    ])],
                })
                .collect();
            let col = |header: &str, width: f32| Column {
                header: header.into(),
                width,
            };
            sections.push(SummarySection {
                heading: if o.months.len() > shown.len() {
                    format!(
                        "Month by month (the last {} of {} months, newest first)",
                        shown.len(),
                        o.months.len()
                    )
                } else {
                    "Month by month (newest first)".into()
                },
                paragraphs: vec![
                    "Each month's figures are taken on its last day (today for this month). People whose total is incomplete are in no reduction column (see below).".into(),
                ],
                bullets: vec![],
                table: Some(Table {
                    columns: vec![
                        col("Month", 11.0),
                        col("Reviewed", 13.5),
                        col("People", 10.0),
                        col("Active", 10.0),
                        col("Reduced", 12.0),
                        col("Half or more", 11.0),
                        col("Stopped", 12.0),
                        col("High dose now below", 20.5),
                    ],
                    rows,
                }),
                closing: vec![],
            });
        }
    }
    sections.push(SummarySection {
        heading: "What the figures mean".into(),
        paragraphs: vec![],
        bullets: vec![
            "**Reviewed**: a review or follow-up in the month. **People**: everyone reviewed by then. **Active**: on a plan that has started and not ended.".into(),
            "**Reduced**: total daily OME below the first review's; **half or more**: at most half of it (the I-WOTCH trial's outcome); **stopped**: the latest follow-up records no opioid (also counted as reduced).".into(),
            "**High dose now below**: at or above the high-dose threshold at the first review (90 mg OME a day in current UK guidance), now below it.".into(),
            "**Incomplete**: a total that leaves out a medicine that cannot be converted safely (such as methadone) is never counted as reduced. Definitions and sources: docs/outcomes.md.".into(),
        ],
        table: None,
        closing: vec![],
    });
    SummaryPage {
        title: "Opioid reduction outcomes".into(),
        fields,
        sections,
        footer_note: Some("Stepdown outcomes report".into()),
        author: practice.trim().to_string(),
    }
}

fn headline(m: &MonthOutcome) -> Vec<String> {
    vec![
        format!("**{}** on an active reduction plan", people(m.active_plan)),
        format!(
            "**{}** reduced, **{}** by at least half, **{}** stopped",
            people(m.reduced),
            people(m.reduced_by_half),
            people(m.stopped)
        ),
        format!(
            "**{}** of the {} at or above the high-dose threshold at their first review now below it",
            people(m.high_dose_now_below),
            m.high_dose_at_baseline
        ),
        format!(
            "**{}** with a total that leaves out a medicine (counted apart)",
            people(m.incomplete_ome)
        ),
    ]
}

/// The report as a PDF dated `date` (the clock is never read), through the
/// same print policy as every PDF (text the font cannot print is refused).
pub fn render_outcomes_report(
    o: &Outcomes,
    practice: &str,
    date: NaiveDate,
) -> Result<Rendered, PdfError> {
    outcomes_page(o, practice).render(date)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn month(month: &str, people: u32, reduced: u32) -> MonthOutcome {
        MonthOutcome {
            month: month.into(),
            as_of: NaiveDate::from_ymd_opt(2026, 12, 7).unwrap(),
            reviewed: 1,
            people,
            active_plan: 1,
            reduced,
            reduced_by_half: 0,
            stopped: 0,
            high_dose_at_baseline: 1,
            high_dose_now_below: 0,
            incomplete_ome: 0,
        }
    }

    #[test]
    fn two_years_of_months_still_print_on_one_page_with_the_newest_first() {
        let months: Vec<MonthOutcome> = (0..24)
            .map(|i| month(&format!("{}-{:02}", 2025 + i / 12, i % 12 + 1), 10 + i, i))
            .collect();
        let o = Outcomes {
            today: NaiveDate::from_ymd_opt(2026, 12, 7).unwrap(),
            patients: vec![],
            months,
            definitions: "docs/outcomes.md".into(),
        };
        let page = outcomes_page(&o, "Riverside Surgery");
        let table = page.sections[1].table.as_ref().unwrap();
        assert_eq!(table.rows.len(), REPORT_MONTHS);
        assert!(page.sections[1].heading.contains("last 12 of 24"));
        let pdf = render_outcomes_report(&o, "Riverside Surgery", o.today).unwrap();
        assert_eq!(pdf.pages, 1);
        let text = page.document().blocks.len();
        assert!(text > 3);
        assert!(page.sections[0].bullets[1].contains("**23 people** reduced"));
    }

    #[test]
    fn an_empty_store_says_there_is_nothing_to_report() {
        let o = Outcomes {
            today: NaiveDate::from_ymd_opt(2026, 12, 7).unwrap(),
            patients: vec![],
            months: vec![],
            definitions: "docs/outcomes.md".into(),
        };
        let page = outcomes_page(&o, "");
        assert_eq!(page.sections[0].heading, "No reviews yet");
        assert_eq!(page.fields[0].1, "not set (Settings)");
    }
}
