//! Layout helper for the one-page clinician summary: a title, label and value lines,
//! then headed sections of text, lists or tables. The composer that fills it from a
//! plan and its flags lives with those types; this only fixes how it looks.

use chrono::NaiveDate;

use super::layout::{Block, Document, Span, Style, Table};
use super::{render, PdfError, Rendered};

/// Body size for the clinician summary: it is read by professionals at a desk, and
/// must fit one page, so it is smaller than the patient leaflet's clear print.
pub const SUMMARY_BODY_SIZE: f32 = 10.5;

/// Line pitch of the clinician summary, as a multiple of the type size.
pub const SUMMARY_LEADING: f32 = 1.25;

/// Side margins of the clinician summary, mm: narrower than the leaflet's (it is
/// not clear print for patients), so a plan step fits on one line of the table.
pub const SUMMARY_SIDE_MARGIN_MM: f32 = 14.0;

/// The page style of the clinician summary.
pub fn summary_style() -> Style {
    let mut style = Style::a4(SUMMARY_BODY_SIZE);
    style.margin_left = SUMMARY_SIDE_MARGIN_MM * super::layout::PT_PER_MM;
    style.margin_right = style.margin_left;
    // Professionals at a desk, not clear print: ordinary leading keeps a usual
    // plan on one page.
    style.leading = SUMMARY_LEADING;
    style
}

/// One headed part of the summary.
#[derive(Debug, Clone, PartialEq)]
pub struct SummarySection {
    /// Section heading, e.g. "Risk flags".
    pub heading: String,
    /// Paragraphs shown before the table or list.
    pub paragraphs: Vec<String>,
    /// A bulleted list (e.g. flags with actions).
    pub bullets: Vec<String>,
    /// An optional table (e.g. the plan with dispensing quantities).
    pub table: Option<Table>,
    /// Paragraphs after the list and table (e.g. the total under the regimen).
    pub closing: Vec<String>,
}

/// The clinician summary's content.
#[derive(Debug, Clone, PartialEq)]
pub struct SummaryPage {
    /// Title, e.g. "Opioid reduction plan: clinician summary".
    pub title: String,
    /// Label and value lines under the title (patient, regimen, total OME, profile,
    /// factor-table version, review dates). Labels are printed as given.
    pub fields: Vec<(String, String)>,
    /// Sections in order.
    pub sections: Vec<SummarySection>,
    /// Footer text on the right, e.g. "Stepdown, reference 2026.11.0".
    pub footer_note: Option<String>,
    /// Author for the PDF metadata (the practice).
    pub author: String,
}

impl SummaryPage {
    /// The summary as a layout document.
    pub fn document(&self) -> Document {
        let mut blocks = vec![Block::Title(self.title.clone())];
        if !self.fields.is_empty() {
            blocks.push(Block::KeyValues(
                self.fields
                    .iter()
                    .map(|(k, v)| (k.clone(), vec![Span::regular(v.clone())]))
                    .collect(),
            ));
        }
        for s in &self.sections {
            blocks.push(Block::Heading(s.heading.clone()));
            for p in &s.paragraphs {
                blocks.push(Block::Paragraph(super::parse_markup(p)));
            }
            if !s.bullets.is_empty() {
                blocks.push(Block::Bullets(
                    s.bullets.iter().map(|b| super::parse_markup(b)).collect(),
                ));
            }
            if let Some(t) = &s.table {
                blocks.push(Block::Table(t.clone()));
            }
            for p in &s.closing {
                blocks.push(Block::Paragraph(super::parse_markup(p)));
            }
        }
        Document {
            title: self.title.clone(),
            author: self.author.clone(),
            subject: "Clinician summary".into(),
            language: "en-GB".into(),
            blocks,
            page_label: "Page {page} of {pages}".into(),
            footer_note: self.footer_note.clone(),
        }
    }

    /// Renders the summary at [`SUMMARY_BODY_SIZE`]. It is designed for one page;
    /// if the content is longer it flows onto more (check [`Rendered::pages`]) rather
    /// than dropping anything.
    pub fn render(&self, date: NaiveDate) -> Result<Rendered, PdfError> {
        render(&self.document(), &summary_style(), date)
    }
}
