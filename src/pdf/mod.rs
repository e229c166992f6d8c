//! PDF output: a small layout engine ([`layout`]) and a deterministic writer on printpdf.
//!
//! The patient leaflet ([`crate::leaflet`]) and the clinician summary ([`summary`]) are
//! built as a [`Document`] of blocks, laid out on A4 with real font metrics, and written
//! with DejaVu Sans embedded as a subset. The same input always gives the same bytes:
//! the document date is a parameter (never the clock), and the PDF's `/ID` is derived
//! from the content.

pub mod font;
pub mod layout;
pub mod outcomes;
pub mod printable;
pub mod summary;

use std::collections::BTreeSet;

use chrono::{Datelike, NaiveDate};
use printpdf::{
    Color, FontId, Greyscale, Line, LinePoint, Mm, Op, PaintMode, ParsedFont, PdfDocument, PdfFont,
    PdfFontHandle, PdfPage, PdfSaveOptions, Point, Pt, Rect, TextItem, TextMatrix,
};

pub use font::{Fonts, Weight};
pub use layout::{
    escape_markup, layout, parse_markup, Block, Column, Document, Item, LaidOut, Page, RowLine,
    Span, Style, Table, TableRow,
};

/// What can go wrong making a PDF.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PdfError {
    /// The embedded font could not be read or subset.
    #[error("font: {0}")]
    Font(String),
    /// The document cannot be laid out as given (a programming error in the caller).
    #[error("layout: {0}")]
    Layout(String),
    /// The PDF could not be written.
    #[error("writing the PDF: {0}")]
    Write(String),
    /// A text the embedded font cannot print as written ([`printable`]).
    #[error("in \"{section}\", the text \"{text}\" {problem}")]
    Unprintable {
        /// The heading of the part of the document it is in.
        section: String,
        /// The start of the text, sanitised.
        text: String,
        /// What is wrong.
        problem: printable::Unprintable,
    },
}

/// A rendered PDF.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    /// The PDF file.
    pub bytes: Vec<u8>,
    /// Number of pages.
    pub pages: usize,
}

/// Lays out and writes `doc`. `date` becomes the PDF's creation and modification date
/// (midnight UTC), so output depends only on the arguments.
pub fn render(doc: &Document, style: &Style, date: NaiveDate) -> Result<Rendered, PdfError> {
    printable::check_document(doc)?;
    let laid = layout(doc, style)?;
    let bytes = write_pdf(doc, &laid, date)?;
    Ok(Rendered {
        bytes,
        pages: laid.pages.len(),
    })
}

/// Resource names for the two faces. Fixed, not printpdf's random ids, for determinism.
const REGULAR_ID: &str = "F1";
const BOLD_ID: &str = "F2";

/// Writes laid-out pages as a PDF with subset, embedded fonts.
pub fn write_pdf(doc: &Document, laid: &LaidOut, date: NaiveDate) -> Result<Vec<u8>, PdfError> {
    let fonts = Fonts::get()?;

    // Which characters each face draws: only those glyphs are embedded.
    let mut used: [BTreeSet<char>; 2] = [BTreeSet::new(), BTreeSet::new()];
    for page in &laid.pages {
        for item in &page.items {
            if let Item::Text { weight, text, .. } = item {
                used[weight_index(*weight)].extend(text.chars());
            }
        }
    }

    let mut pdf = PdfDocument::new(&doc.title);
    let pdf_date = pdf_datetime(date);
    let info = &mut pdf.metadata.info;
    info.creation_date = pdf_date;
    info.modification_date = pdf_date;
    info.metadata_date = pdf_date;
    info.author = doc.author.clone();
    info.subject = doc.subject.clone();
    info.creator = "Stepdown".into();
    info.producer = "Stepdown (printpdf)".into();

    for (weight, id) in [(Weight::Regular, REGULAR_ID), (Weight::Bold, BOLD_ID)] {
        let chars = &used[weight_index(weight)];
        if chars.is_empty() {
            continue;
        }
        let face = fonts.face(weight);
        let subset = face.subset(chars)?;
        let mut warnings = Vec::new();
        let mut parsed = ParsedFont::from_bytes(&subset, 0, &mut warnings)
            .ok_or_else(|| PdfError::Font(format!("{}: subset font unreadable", face.name)))?;
        // ISO 32000-1 9.6.4: a subset font's name carries a six-letter tag.
        parsed.font_name = Some(format!("{}+{}", subset_tag(face.name, chars), face.name));
        pdf.resources
            .fonts
            .map
            .insert(FontId(id.to_string()), PdfFont::new(parsed));
    }

    let page_h = laid.page_height;
    for page in &laid.pages {
        pdf.pages.push(PdfPage::new(
            Mm(laid.page_width / layout::PT_PER_MM),
            Mm(page_h / layout::PT_PER_MM),
            page_ops(page, page_h),
        ));
    }

    let mut warnings = Vec::new();
    let opts = PdfSaveOptions {
        optimize: true,
        // Our fonts are already subset; printpdf's own subsetter needs a feature we do not build.
        subset_fonts: false,
        secure: true,
        image_optimization: None,
    };
    let mut lo = printpdf::to_lopdf_doc(&pdf, &opts, &mut warnings);
    if let Some(w) = warnings
        .iter()
        .find(|w| matches!(w.severity, printpdf::PdfParseErrorSeverity::Error))
    {
        return Err(PdfError::Write(w.msg.clone()));
    }

    // printpdf writes a random /ID; derive it from the content instead.
    let fingerprint = format!("{:?}|{:?}|{}", doc, laid.pages, date);
    let id = fnv1a_128(fingerprint.as_bytes()).to_be_bytes().to_vec();
    lo.trailer.set(
        "ID",
        lopdf::Object::Array(vec![
            lopdf::Object::String(id.clone(), lopdf::StringFormat::Hexadecimal),
            lopdf::Object::String(id, lopdf::StringFormat::Hexadecimal),
        ]),
    );
    // Document language (a PDF 1.4 key), for screen readers and text-to-speech.
    lo.version = "1.4".into();
    if let Ok(root) = lo
        .trailer
        .get(b"Root")
        .and_then(lopdf::Object::as_reference)
    {
        if let Ok(catalog) = lo.get_dictionary_mut(root) {
            catalog.set("Lang", lopdf::Object::string_literal(doc.language.as_str()));
        }
    }
    // printpdf always writes a GTS_PDFXVersion key, which makes readers report the
    // file as PDF/X (a print-industry standard it does not claim to meet). Drop it.
    if let Ok(info) = lo
        .trailer
        .get(b"Info")
        .and_then(lopdf::Object::as_reference)
    {
        if let Ok(dict) = lo.get_dictionary_mut(info) {
            dict.remove(b"GTS_PDFXVersion");
        }
    }
    lo.compress();
    let mut bytes = Vec::new();
    lo.save_to(&mut bytes)
        .map_err(|e| PdfError::Write(e.to_string()))?;
    Ok(bytes)
}

fn weight_index(w: Weight) -> usize {
    match w {
        Weight::Regular => 0,
        Weight::Bold => 1,
    }
}

fn handle(w: Weight) -> PdfFontHandle {
    PdfFontHandle::External(FontId(
        match w {
            Weight::Regular => REGULAR_ID,
            Weight::Bold => BOLD_ID,
        }
        .to_string(),
    ))
}

fn pdf_datetime(date: NaiveDate) -> printpdf::OffsetDateTime {
    printpdf::OffsetDateTime::new_in_offset(
        printpdf::Date {
            year: date.year(),
            month: u8::try_from(date.month()).unwrap_or(1),
            day: u8::try_from(date.day()).unwrap_or(1),
        },
        printpdf::Time {
            hour: 0,
            minute: 0,
            second: 0,
            millisecond: 0,
        },
        printpdf::Offset {
            hours: 0,
            minutes: 0,
            seconds: 0,
            milliseconds: 0,
        },
    )
}

/// Page content: fills first, then rules, then all text in one text object, so
/// shading never covers a line or a word.
fn page_ops(page: &Page, page_h: f32) -> Vec<Op> {
    let mut ops = Vec::new();
    for item in &page.items {
        if let Item::Fill { x, y, w, h, grey } = item {
            ops.push(Op::SaveGraphicsState);
            ops.push(Op::SetFillColor {
                col: grey_color(*grey),
            });
            ops.push(Op::DrawRectangle {
                rectangle: Rect {
                    x: Pt(*x),
                    y: Pt(page_h - y - h),
                    width: Pt(*w),
                    height: Pt(*h),
                    mode: Some(PaintMode::Fill),
                    winding_order: None,
                },
            });
            ops.push(Op::RestoreGraphicsState);
        }
    }
    ops.push(Op::SetOutlineColor {
        col: grey_color(0.0),
    });
    let mut current_width = None;
    for item in &page.items {
        if let Item::Rule {
            x1,
            y1,
            x2,
            y2,
            width,
        } = item
        {
            if current_width != Some(*width) {
                ops.push(Op::SetOutlineThickness { pt: Pt(*width) });
                current_width = Some(*width);
            }
            ops.push(Op::DrawLine {
                line: Line {
                    points: vec![
                        LinePoint {
                            p: Point {
                                x: Pt(*x1),
                                y: Pt(page_h - y1),
                            },
                            bezier: false,
                        },
                        LinePoint {
                            p: Point {
                                x: Pt(*x2),
                                y: Pt(page_h - y2),
                            },
                            bezier: false,
                        },
                    ],
                    is_closed: false,
                },
            });
        }
    }
    ops.push(Op::SetFillColor {
        col: grey_color(0.0),
    });
    ops.push(Op::StartTextSection);
    let mut current: Option<(Weight, f32)> = None;
    for item in &page.items {
        if let Item::Text {
            x,
            y,
            size,
            weight,
            text,
        } = item
        {
            if current != Some((*weight, *size)) {
                ops.push(Op::SetFont {
                    font: handle(*weight),
                    size: Pt(*size),
                });
                current = Some((*weight, *size));
            }
            // Tm sets an absolute position (Td, printpdf's SetTextCursor, is relative).
            ops.push(Op::SetTextMatrix {
                matrix: TextMatrix::Translate(Pt(*x), Pt(page_h - y)),
            });
            ops.push(Op::ShowText {
                items: vec![TextItem::Text(text.clone())],
            });
        }
    }
    ops.push(Op::EndTextSection);
    ops
}

fn grey_color(level: f32) -> Color {
    Color::Greyscale(Greyscale {
        percent: level,
        icc_profile: None,
    })
}

/// Six capital letters derived from the face and the glyphs in the subset.
fn subset_tag(name: &str, chars: &BTreeSet<char>) -> String {
    let mut key = name.as_bytes().to_vec();
    for c in chars {
        key.extend_from_slice(&u32::from(*c).to_le_bytes());
    }
    let mut h = fnv1a_128(&key);
    (0..6)
        .map(|_| {
            let c = char::from(b'A' + (h % 26) as u8);
            h /= 26;
            c
        })
        .collect()
}

/// FNV-1a, 128-bit: a stable content hash for the PDF `/ID` and subset tags (not
/// for security; it only has to be the same for the same document).
fn fnv1a_128(data: &[u8]) -> u128 {
    const OFFSET: u128 = 0x6c62272e07bb014262b821756295c58d;
    const PRIME: u128 = 0x0000000001000000000000000000013B;
    data.iter()
        .fold(OFFSET, |h, b| (h ^ u128::from(*b)).wrapping_mul(PRIME))
}
