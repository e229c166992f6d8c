//! What the PDFs can print: one policy for the patient leaflet and the clinician
//! summary, applied to every field that reaches either (issue 20: the summary
//! printed a Chinese, Devanagari or emoji name as empty boxes while the leaflet
//! refused it).
//!
//! The PDFs embed DejaVu Sans and place one glyph per character, left to right:
//! printpdf does no text shaping and no bidirectional reordering. So a text is
//! printable only if, after NFC (so "e" + U+0301 is the one letter "é"):
//! - it has no control or invisible formatting character;
//! - no character belongs to a script that needs shaping or runs right to left
//!   (Arabic and Urdu, Hebrew, Syriac, Thaana, Devanagari and the other Indic
//!   scripts, Thai, Tibetan, Myanmar, Khmer, Mongolian): DejaVu Sans has Arabic
//!   and Hebrew glyphs, but printed unjoined and left to right they would spell
//!   the name wrongly, which is worse than refusing;
//! - no combining accent is left over (one that has no single-letter form would
//!   be placed by guesswork);
//! - both faces (regular and bold) have a glyph for every character.
//!
//! That covers Latin (with every precomposed accent, Vietnamese included), Greek,
//! Cyrillic, Armenian and Georgian. Anything else is refused with the characters
//! named and what to do. Pure.

use std::fmt;

use unicode_normalization::UnicodeNormalization;

use super::font::Fonts;
use super::PdfError;

/// Most characters an error lists.
const LISTED: usize = 6;

/// Why a text cannot be printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unprintable {
    /// A control character (tab, escape, a line break in a one-line field).
    Control(char),
    /// Characters that do not show but change the text (zero-width space,
    /// direction marks).
    Invisible(Vec<char>),
    /// Characters of a script that needs shaping or right-to-left ordering.
    NeedsShaping {
        /// The script, e.g. "Arabic".
        script: &'static str,
        /// The characters found (distinct, in order, at most a few).
        chars: Vec<char>,
    },
    /// Combining accents left over after NFC.
    LooseAccent(Vec<char>),
    /// Characters the embedded font has no glyph for (CJK, emoji, ...).
    NotInFont(Vec<char>),
}

/// What to do, for every refusal: the PDF's scripts, and where a name's
/// Latin spelling is found.
const ADVICE: &str = "the PDF prints Latin, Greek and Cyrillic letters: enter it in those letters (a patient's name as it appears in their NHS record)";

fn list(chars: &[char]) -> String {
    chars
        .iter()
        .map(|c| {
            // Right-to-left letters and marks are shown as code points only, so
            // the message itself is never reordered on screen.
            if is_rtl(*c) || crate::limits::is_hidden(*c) || is_combining(*c) {
                format!("U+{:04X}", u32::from(*c))
            } else {
                format!("'{c}' (U+{:04X})", u32::from(*c))
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

impl fmt::Display for Unprintable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unprintable::Control(c) => {
                write!(f, "contains a control character (U+{:04X})", u32::from(*c))
            }
            Unprintable::Invisible(chars) => write!(
                f,
                "contains invisible formatting characters ({}); type it again without them",
                list(chars)
            ),
            Unprintable::NeedsShaping { script, chars } => write!(
                f,
                "is written in {script} script ({}), which the PDF cannot print correctly (it does not join letters or set text right to left); {ADVICE}",
                list(chars)
            ),
            Unprintable::LooseAccent(chars) => write!(
                f,
                "has accents that are not part of a single letter ({}), which the PDF cannot place correctly; {ADVICE}",
                list(chars)
            ),
            Unprintable::NotInFont(chars) => write!(
                f,
                "has characters the PDF's font does not have ({}), which would print as empty boxes; {ADVICE}",
                list(chars)
            ),
        }
    }
}

/// Scripts that need shaping (joined or reordered letters, vowel signs placed
/// around consonants) or run right to left, by Unicode block.
const SHAPED: &[(u32, u32, &str)] = &[
    (0x0590, 0x05FF, "Hebrew"),
    (0x0600, 0x06FF, "Arabic"),
    (0x0700, 0x074F, "Syriac"),
    (0x0750, 0x077F, "Arabic"),
    (0x0780, 0x07BF, "Thaana"),
    (0x07C0, 0x07FF, "N'Ko"),
    (0x0800, 0x083F, "Samaritan"),
    (0x0840, 0x085F, "Mandaic"),
    (0x0860, 0x086F, "Syriac"),
    (0x0870, 0x08FF, "Arabic"),
    (0x0900, 0x097F, "Devanagari"),
    (0x0980, 0x09FF, "Bengali"),
    (0x0A00, 0x0A7F, "Gurmukhi"),
    (0x0A80, 0x0AFF, "Gujarati"),
    (0x0B00, 0x0B7F, "Odia"),
    (0x0B80, 0x0BFF, "Tamil"),
    (0x0C00, 0x0C7F, "Telugu"),
    (0x0C80, 0x0CFF, "Kannada"),
    (0x0D00, 0x0D7F, "Malayalam"),
    (0x0D80, 0x0DFF, "Sinhala"),
    (0x0E00, 0x0E7F, "Thai"),
    (0x0E80, 0x0EFF, "Lao"),
    (0x0F00, 0x0FFF, "Tibetan"),
    (0x1000, 0x109F, "Myanmar"),
    (0x1780, 0x17FF, "Khmer"),
    (0x1800, 0x18AF, "Mongolian"),
    (0x19E0, 0x19FF, "Khmer"),
    (0xA8E0, 0xA8FF, "Devanagari"),
    (0xA9E0, 0xA9FF, "Myanmar"),
    (0xAA60, 0xAA7F, "Myanmar"),
    (0xFB1D, 0xFB4F, "Hebrew"),
    (0xFB50, 0xFDFF, "Arabic"),
    (0xFE70, 0xFEFF, "Arabic"),
    (0x10800, 0x10FFF, "a right-to-left"),
    (0x1E800, 0x1EFFF, "a right-to-left"),
];

fn shaped_script(c: char) -> Option<&'static str> {
    let u = u32::from(c);
    // The block list is short and sorted; U+FEFF (in Arabic Presentation
    // Forms-B) is the byte-order mark, reported as invisible before this runs.
    SHAPED
        .iter()
        .find(|(lo, hi, _)| (*lo..=*hi).contains(&u))
        .map(|(_, _, s)| *s)
}

fn is_rtl(c: char) -> bool {
    matches!(
        shaped_script(c),
        Some("Hebrew" | "Arabic" | "Syriac" | "Thaana" | "N'Ko" | "Samaritan" | "Mandaic")
            | Some("a right-to-left")
    )
}

fn is_combining(c: char) -> bool {
    unicode_normalization::char::is_combining_mark(c)
}

fn push_distinct(v: &mut Vec<char>, c: char) {
    if v.len() < LISTED && !v.contains(&c) {
        v.push(c);
    }
}

/// Checks that `text` prints as written: `Ok` or the first kind of problem, with
/// the characters concerned. Line breaks are refused too (fields are one line);
/// [`check_document`] checks multi-line document text line by line.
pub fn check(fonts: &Fonts, text: &str) -> Result<(), Unprintable> {
    if let Some(c) = text.chars().find(|c| c.is_control()) {
        return Err(Unprintable::Control(c));
    }
    let mut invisible = Vec::new();
    for c in text.chars().filter(|c| crate::limits::is_hidden(*c)) {
        push_distinct(&mut invisible, c);
    }
    if !invisible.is_empty() {
        return Err(Unprintable::Invisible(invisible));
    }
    let nfc: Vec<char> = text.nfc().collect();
    if let Some(script) = nfc.iter().find_map(|c| shaped_script(*c)) {
        let mut chars = Vec::new();
        for c in nfc.iter().filter(|c| shaped_script(**c) == Some(script)) {
            push_distinct(&mut chars, *c);
        }
        return Err(Unprintable::NeedsShaping { script, chars });
    }
    let mut missing = Vec::new();
    let mut loose = Vec::new();
    for c in &nfc {
        if !(fonts.regular.has_char(*c) && fonts.bold.has_char(*c)) {
            push_distinct(&mut missing, *c);
        } else if is_combining(*c) {
            push_distinct(&mut loose, *c);
        }
    }
    if !missing.is_empty() {
        return Err(Unprintable::NotInFont(missing));
    }
    if !loose.is_empty() {
        return Err(Unprintable::LooseAccent(loose));
    }
    Ok(())
}

/// The last line of defence in [`super::render`]: every text a document would
/// draw (body, tables, footer) is checked, so no document, whatever built it,
/// prints a box or a wrongly shaped word. Callers check their fields first to
/// name them; this names the section and shows the start of the text.
pub fn check_document(doc: &super::Document) -> Result<(), PdfError> {
    use super::layout::Block;
    let fonts = Fonts::get()?;
    let mut section = doc.title.clone();
    let mut texts: Vec<(String, String)> = Vec::new();
    let spans = |s: &[super::Span]| super::layout::spans_text(s);
    for block in &doc.blocks {
        match block {
            Block::Title(t) => texts.push((section.clone(), t.clone())),
            Block::Heading(t) => {
                section = t.clone();
                texts.push((section.clone(), t.clone()));
            }
            Block::Paragraph(s) => texts.push((section.clone(), spans(s))),
            Block::Bullets(items) | Block::Callout(items) => {
                texts.extend(items.iter().map(|s| (section.clone(), spans(s))));
            }
            Block::KeyValues(pairs) => {
                for (k, v) in pairs {
                    texts.push((section.clone(), k.clone()));
                    texts.push((section.clone(), spans(v)));
                }
            }
            Block::Table(t) => {
                texts.extend(
                    t.columns
                        .iter()
                        .map(|c| (section.clone(), c.header.clone())),
                );
                for row in &t.rows {
                    for line in &row.lines {
                        texts.extend(line.cells.iter().map(|c| (section.clone(), spans(c))));
                    }
                }
            }
            Block::Space(_) => {}
        }
    }
    texts.push(("footer".into(), doc.page_label.clone()));
    if let Some(n) = &doc.footer_note {
        texts.push(("footer".into(), n.clone()));
    }
    for (section, text) in &texts {
        for line in text.split('\n') {
            if let Err(problem) = check(fonts, line) {
                return Err(PdfError::Unprintable {
                    section: crate::limits::sanitize(section),
                    text: excerpt(line),
                    problem,
                });
            }
        }
    }
    Ok(())
}

/// The start of a text for an error: a few words, sanitised.
fn excerpt(text: &str) -> String {
    let short: String = text.chars().take(40).collect();
    let more = if text.chars().count() > 40 { "…" } else { "" };
    format!("{}{more}", crate::limits::sanitize(&short))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str) -> Result<(), Unprintable> {
        super::check(Fonts::get().expect("fonts"), text)
    }

    #[test]
    fn latin_greek_cyrillic_armenian_georgian_and_vietnamese_print() {
        for name in [
            "Siobhán O'Ceallaigh-Núñez",
            "Zoë Brontë-Çelik",
            "Łukasz Żółć",
            "Ελένη Παπαδοπούλου",
            "Дмитрий Иванов",
            "Աննա Սարգսյան",
            "ნინო ბერიძე",
            "Nguyễn Thị Minh Khai",
            // Decomposed accents become single letters under NFC.
            "Rene\u{301}e",
        ] {
            check(name).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }

    #[test]
    fn scripts_that_need_shaping_are_refused_by_name() {
        for (name, script) in [
            ("محمد علي", "Arabic"),
            ("عمران خان", "Arabic"),
            ("דוד כהן", "Hebrew"),
            ("प्रिया शर्मा", "Devanagari"),
            ("ਗੁਰਪ੍ਰੀਤ", "Gurmukhi"),
            ("সুমন", "Bengali"),
            ("தமிழ்", "Tamil"),
            ("สมชาย", "Thai"),
        ] {
            match check(name) {
                Err(Unprintable::NeedsShaping { script: s, chars }) => {
                    assert_eq!(s, script, "{name}");
                    assert!(!chars.is_empty());
                }
                other => panic!("{name}: {other:?}"),
            }
        }
    }

    #[test]
    fn characters_the_font_lacks_are_named() {
        let e = check("山田 太郎").unwrap_err();
        assert_eq!(e, Unprintable::NotInFont(vec!['山', '田', '太', '郎']));
        let m = e.to_string();
        assert!(
            m.contains("'山' (U+5C71)") && m.contains("NHS record"),
            "{m}"
        );
        // DejaVu Sans draws the 1F600 emoticons in black and white, not later emoji.
        assert!(matches!(check("Ann 🧑"), Err(Unprintable::NotInFont(_))));
        assert!(matches!(check("김민준"), Err(Unprintable::NotInFont(_))));
    }

    #[test]
    fn controls_invisible_characters_and_loose_accents_are_refused() {
        assert_eq!(check("Ann\tLee"), Err(Unprintable::Control('\t')));
        assert_eq!(check("Ann\nLee"), Err(Unprintable::Control('\n')));
        assert_eq!(
            check("Ann\u{200b}Lee\u{200f}"),
            Err(Unprintable::Invisible(vec!['\u{200b}', '\u{200f}']))
        );
        // Q with a combining acute has no single-letter form.
        assert_eq!(
            check("Q\u{301}uinn"),
            Err(Unprintable::LooseAccent(vec!['\u{301}']))
        );
    }

    #[test]
    fn every_text_of_a_document_is_checked_and_its_section_named() {
        use crate::pdf::{Block, Document, Span};
        let doc = |blocks| Document {
            title: "T".into(),
            author: String::new(),
            subject: String::new(),
            language: "en-GB".into(),
            blocks,
            page_label: "Page {page} of {pages}".into(),
            footer_note: None,
        };
        check_document(&doc(vec![
            Block::Heading("Warnings".into()),
            Block::Paragraph(vec![Span::regular("line one\nline two: 15 mg → 10 mg")]),
        ]))
        .unwrap();
        let e = check_document(&doc(vec![
            Block::Heading("Warnings".into()),
            Block::Bullets(vec![vec![Span::regular("unknown co-medication 李")]]),
        ]))
        .unwrap_err();
        match e {
            PdfError::Unprintable { section, text, .. } => {
                assert_eq!(section, "Warnings");
                assert!(text.starts_with("unknown co-medication"), "{text}");
            }
            other => panic!("{other:?}"),
        }
    }
}
