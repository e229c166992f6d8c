//! Writes the sample leaflets in docs/samples/ (standard and large print, and a patch
//! plan) and a sample clinician summary layout. Run from the repository root:
//! `cargo run -p stepdown --example leaflet_samples`, then
//! `pdftoppm -png -r 60 docs/samples/X.pdf docs/samples/X` to look at them.

#[path = "../tests/common/leaflet_plans.rs"]
mod plans;

use std::path::Path;

use stepdown::leaflet::render_leaflet;
use stepdown::pdf::summary::{SummaryPage, SummarySection};
use stepdown::pdf::{Column, RowLine, Span, Table, TableRow};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = Path::new("docs/samples");
    std::fs::create_dir_all(dir)?;

    let mut standard = plans::plan(12, Some(5));
    let r = render_leaflet(&standard)?;
    std::fs::write(dir.join("leaflet-standard.pdf"), &r.bytes)?;
    println!(
        "leaflet-standard.pdf: {} pages, {} bytes",
        r.pages,
        r.bytes.len()
    );

    standard.large_print = true;
    let r = render_leaflet(&standard)?;
    std::fs::write(dir.join("leaflet-large-print.pdf"), &r.bytes)?;
    println!(
        "leaflet-large-print.pdf: {} pages, {} bytes",
        r.pages,
        r.bytes.len()
    );

    let r = render_leaflet(&plans::patch_plan())?;
    std::fs::write(dir.join("leaflet-patches.pdf"), &r.bytes)?;
    println!(
        "leaflet-patches.pdf: {} pages, {} bytes",
        r.pages,
        r.bytes.len()
    );

    let r = sample_summary().render(plans::date(2026, 11, 24))?;
    std::fs::write(dir.join("summary-layout.pdf"), &r.bytes)?;
    println!(
        "summary-layout.pdf: {} pages, {} bytes",
        r.pages,
        r.bytes.len()
    );
    Ok(())
}

/// Placeholder content showing the summary layout until the plan and flag types land.
fn sample_summary() -> SummaryPage {
    let cell = |s: &str| vec![Span::regular(s)];
    let rows = (1..=8)
        .map(|i| TableRow {
            lines: vec![RowLine::cells(vec![
                cell(&i.to_string()),
                cell(&format!("{} Dec 2026 – {} Dec 2026", i, i + 13)),
                cell(&format!("morphine MR {} mg bd", 30 - i)),
                cell(&format!("{}", 60 - 5 * i)),
                cell("28 × 5 mg, 28 × 10 mg"),
            ])],
        })
        .collect();
    SummaryPage {
        title: "Opioid reduction plan: clinician summary".into(),
        fields: vec![
            ("Patient:".into(), "Margaret Jones, NHS number 943 476 5919".into()),
            ("Regimen:".into(), "Morphine MR 30 mg bd".into()),
            ("Total OME:".into(), "60 mg/day (UK profile, factors v2026.11.0)".into()),
            ("Review dates:".into(), "29 Dec 2026; then every 4 weeks".into()),
        ],
        sections: vec![
            SummarySection {
                heading: "Flags".into(),
                paragraphs: vec![],
                bullets: vec![
                    "**Long-term use** (caution): dependence likely. Action: taper slowly, review monthly.".into(),
                    "**Older adult** (info): age 72. Action: check falls risk at each review.".into(),
                ],
                table: None,
            },
            SummarySection {
                heading: "Plan".into(),
                paragraphs: vec![],
                bullets: vec![],
                table: Some(Table {
                    columns: vec![
                        Column { header: "Step".into(), width: 8.0 },
                        Column { header: "Dates".into(), width: 30.0 },
                        Column { header: "Regimen".into(), width: 26.0 },
                        Column { header: "OME".into(), width: 10.0 },
                        Column { header: "Supply".into(), width: 26.0 },
                    ],
                    rows,
                }),
            },
        ],
        footer_note: Some("Stepdown, reference 2026.11.0".into()),
        author: "Riverside Surgery".into(),
    }
}
