//! The embedded typeface (DejaVu Sans, regular and bold) and its metrics.
//!
//! Word wrapping uses the real advance widths from the font's `hmtx` table, so what
//! the layout measures is exactly what a PDF viewer draws: printpdf places glyphs by
//! the same widths (it writes them to the `/W` array) and applies no kerning.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use allsorts::binary::read::ReadScope;
use allsorts::font_data::FontData;
use allsorts::subset::{subset, CmapTarget, SubsetProfile};
use printpdf::ParsedFont;

use super::PdfError;

/// DejaVu Sans Book. Licence: assets/fonts/LICENSE-DejaVu.txt (Bitstream Vera licence;
/// DejaVu changes are public domain).
const REGULAR_TTF: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
/// DejaVu Sans Bold, same licence.
const BOLD_TTF: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans-Bold.ttf");

/// Which face of the typeface a run of text uses. There is deliberately no italic:
/// clear-print guidance (RNIB) advises against it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Weight {
    /// DejaVu Sans Book.
    Regular,
    /// DejaVu Sans Bold.
    Bold,
}

/// One parsed face: glyph lookup and advance widths.
#[derive(Debug)]
pub struct Face {
    /// PostScript-style name used in the PDF.
    pub name: &'static str,
    bytes: &'static [u8],
    glyphs: BTreeMap<u32, u16>,
    widths: BTreeMap<u16, u16>,
    units_per_em: f32,
    ascent: f32,
    descent: f32,
}

impl Face {
    fn parse(name: &'static str, bytes: &'static [u8]) -> Result<Self, PdfError> {
        let mut warnings = Vec::new();
        let parsed = ParsedFont::from_bytes(bytes, 0, &mut warnings)
            .ok_or_else(|| PdfError::Font(format!("{name}: not a readable TrueType font")))?;
        if parsed.units_per_em == 0 {
            return Err(PdfError::Font(format!("{name}: units per em is 0")));
        }
        Ok(Face {
            name,
            bytes,
            glyphs: parsed.codepoint_to_glyph,
            widths: parsed.glyph_widths,
            units_per_em: f32::from(parsed.units_per_em),
            ascent: f32::from(parsed.font_metrics.ascent),
            descent: f32::from(parsed.font_metrics.descent),
        })
    }

    /// The glyph for a character, if the font has one.
    pub fn glyph(&self, c: char) -> Option<u16> {
        self.glyphs.get(&u32::from(c)).copied()
    }

    /// Whether the font can draw this character.
    pub fn has_char(&self, c: char) -> bool {
        // Controls other than the ordinary space are never printable.
        !c.is_control() && self.glyph(c).is_some()
    }

    /// Advance width of `text` at `size` points. Characters the font lacks are
    /// measured as the missing-glyph box (glyph 0), which is what a viewer draws.
    pub fn width(&self, text: &str, size: f32) -> f32 {
        let units: u32 = text
            .chars()
            .map(|c| {
                let gid = self.glyph(c).unwrap_or(0);
                u32::from(self.widths.get(&gid).copied().unwrap_or(0))
            })
            .sum();
        units as f32 / self.units_per_em * size
    }

    /// Height above the baseline, in points, at `size`.
    pub fn ascent(&self, size: f32) -> f32 {
        self.ascent / self.units_per_em * size
    }

    /// Depth below the baseline (a positive number), in points, at `size`.
    pub fn descent(&self, size: f32) -> f32 {
        -self.descent / self.units_per_em * size
    }

    /// A subset of this face holding only the glyphs for `chars`, as a TrueType
    /// font whose cmap maps those characters to the renumbered glyphs.
    ///
    /// Why: the full DejaVu Sans is about 740 KB; a leaflet uses ~80 glyphs.
    /// printpdf 0.12 only subsets with its `text_layout` feature (the whole azul
    /// text stack), so we subset with allsorts, which printpdf already depends on.
    pub fn subset(&self, chars: &BTreeSet<char>) -> Result<Vec<u8>, PdfError> {
        // Glyph 0 (.notdef) must come first, without duplicates (allsorts requirement).
        let gids: BTreeSet<u16> = chars.iter().filter_map(|c| self.glyph(*c)).collect();
        let ids: Vec<u16> = std::iter::once(0)
            .chain(gids.into_iter().filter(|g| *g != 0))
            .collect();
        let scope = ReadScope::new(self.bytes);
        let data = scope
            .read::<FontData<'_>>()
            .map_err(|e| PdfError::Font(format!("{}: {e}", self.name)))?;
        let provider = data
            .table_provider(0)
            .map_err(|e| PdfError::Font(format!("{}: {e}", self.name)))?;
        subset(&provider, &ids, &SubsetProfile::Pdf, CmapTarget::Unicode)
            .map_err(|e| PdfError::Font(format!("{}: subsetting failed: {e}", self.name)))
    }
}

/// Both faces, parsed once per process.
#[derive(Debug)]
pub struct Fonts {
    /// DejaVu Sans Book.
    pub regular: Face,
    /// DejaVu Sans Bold.
    pub bold: Face,
}

impl Fonts {
    /// The embedded fonts, parsed on first use (a few milliseconds) and then shared.
    pub fn get() -> Result<&'static Fonts, PdfError> {
        static FONTS: OnceLock<Result<Fonts, PdfError>> = OnceLock::new();
        FONTS
            .get_or_init(|| {
                Ok(Fonts {
                    regular: Face::parse("DejaVuSans", REGULAR_TTF)?,
                    bold: Face::parse("DejaVuSans-Bold", BOLD_TTF)?,
                })
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    /// The face for a weight.
    pub fn face(&self, weight: Weight) -> &Face {
        match weight {
            Weight::Regular => &self.regular,
            Weight::Bold => &self.bold,
        }
    }
}
