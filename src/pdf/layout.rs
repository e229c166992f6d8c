//! Document model and page layout: blocks in, positioned text and rules out.
//!
//! A small, predictable engine rather than an HTML renderer: A4 pages, left-aligned
//! text wrapped with the font's real advance widths, headings kept with what follows,
//! table rows that never split across pages (the header is repeated on the next page),
//! and a "Page 1 of 3" footer. Coordinates here run top-down from the page's top edge,
//! in points; the PDF writer flips them.

use unicode_normalization::UnicodeNormalization;

use super::font::{Fonts, Weight};
use super::PdfError;

/// A4 width in points (210 mm).
pub const A4_WIDTH: f32 = 595.276;
/// A4 height in points (297 mm).
pub const A4_HEIGHT: f32 = 841.89;
/// Points per millimetre.
pub const PT_PER_MM: f32 = 72.0 / 25.4;

/// A run of text in one weight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    /// The text. Spaces separate words; `\n` forces a line break.
    pub text: String,
    /// Regular or bold.
    pub weight: Weight,
}

impl Span {
    /// Regular text.
    pub fn regular(text: impl Into<String>) -> Self {
        Span {
            text: text.into(),
            weight: Weight::Regular,
        }
    }

    /// Bold text.
    pub fn bold(text: impl Into<String>) -> Self {
        Span {
            text: text.into(),
            weight: Weight::Bold,
        }
    }
}

/// Stands for a literal `*` inside text given to [`parse_markup`]: a private-use
/// character, which the print policy never lets a person type.
const LITERAL_STAR: char = '\u{E000}';

/// Text a person entered (a patient's goals, a name), made safe to place in a
/// template that [`parse_markup`] reads: its `*` print as `*`, never as bold.
pub fn escape_markup(text: &str) -> String {
    text.replace('*', &LITERAL_STAR.to_string())
}

/// Parses the one inline markup the wording files use: `**bold**`. Everything else
/// is literal, and so is text passed through [`escape_markup`]. An unclosed `**`
/// leaves the rest bold, which a test on the wording file catches.
pub fn parse_markup(text: &str) -> Vec<Span> {
    let mut spans = Vec::new();
    let mut bold = false;
    for (i, part) in text.split("**").enumerate() {
        if i > 0 {
            bold = !bold;
        }
        if !part.is_empty() {
            let part = part.replace(LITERAL_STAR, "*");
            spans.push(if bold {
                Span::bold(part)
            } else {
                Span::regular(part)
            });
        }
    }
    spans
}

/// Concatenates the text of spans (what a reader sees, without styling).
pub fn spans_text(spans: &[Span]) -> String {
    spans
        .iter()
        .map(|s| s.text.as_str())
        .collect::<String>()
        .replace('\u{a0}', " ")
}

/// A table column.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// Header text (bold, shaded; repeated at the top of each page the table spans).
    pub header: String,
    /// Relative width: columns share the text width in proportion to these.
    pub width: f32,
}

/// One line of a table row: a cell per column, or a single cell spanning all columns.
#[derive(Debug, Clone, PartialEq)]
pub struct RowLine {
    /// Either one cell (spanning the full width) or exactly one per column.
    pub cells: Vec<Vec<Span>>,
    /// Light grey background, e.g. for a row's title line.
    pub shaded: bool,
}

impl RowLine {
    /// A line with one cell per column.
    pub fn cells(cells: Vec<Vec<Span>>) -> Self {
        RowLine {
            cells,
            shaded: false,
        }
    }

    /// A line with one cell across the whole table.
    pub fn spanning(spans: Vec<Span>, shaded: bool) -> Self {
        RowLine {
            cells: vec![spans],
            shaded,
        }
    }
}

/// A table row: one or more lines that always stay together on one page.
#[derive(Debug, Clone, PartialEq)]
pub struct TableRow {
    /// The lines, top to bottom.
    pub lines: Vec<RowLine>,
}

/// A simple ruled table.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// Columns, left to right.
    pub columns: Vec<Column>,
    /// Rows; none is ever split across a page break.
    pub rows: Vec<TableRow>,
}

/// A block of content, laid out top to bottom.
#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    /// The document title (largest, bold).
    Title(String),
    /// A section heading (bold, larger than body text, kept with what follows).
    Heading(String),
    /// A paragraph of body text.
    Paragraph(Vec<Span>),
    /// A bulleted list; each item stays on one page.
    Bullets(Vec<Vec<Span>>),
    /// Paragraphs in a box with a heavy border, kept together: for the one message
    /// that must not be missed.
    Callout(Vec<Vec<Span>>),
    /// Label and value pairs, labels bold in a column of their own.
    KeyValues(Vec<(String, Vec<Span>)>),
    /// A table.
    Table(Table),
    /// Vertical space, in body lines.
    Space(f32),
}

/// A document ready for layout.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// Title for the PDF metadata.
    pub title: String,
    /// Author for the PDF metadata (e.g. the practice).
    pub author: String,
    /// Subject for the PDF metadata.
    pub subject: String,
    /// BCP 47 language tag written to the PDF catalog, e.g. `en-GB`.
    pub language: String,
    /// The content.
    pub blocks: Vec<Block>,
    /// Footer page label with `{page}` and `{pages}` placeholders, e.g. "Page {page} of {pages}".
    pub page_label: String,
    /// Optional text at the right of the footer on every page.
    pub footer_note: Option<String>,
}

/// Type sizes and page geometry.
#[derive(Debug, Clone, PartialEq)]
pub struct Style {
    /// Body text size in points (14 standard clear print, 18 large print).
    pub body_size: f32,
    /// Page width, points.
    pub page_width: f32,
    /// Page height, points.
    pub page_height: f32,
    /// Left margin, points.
    pub margin_left: f32,
    /// Right margin, points.
    pub margin_right: f32,
    /// Top margin, points.
    pub margin_top: f32,
    /// Bottom margin (below the footer), points.
    pub margin_bottom: f32,
    /// Line pitch as a multiple of the type size: 1.4 for patients (generous
    /// leading helps low-vision readers), tighter for the clinician summary.
    pub leading: f32,
}

impl Style {
    /// A4 with the given body size. Side margins of 18 mm give about 65 characters
    /// a line at 14 pt in DejaVu Sans, inside the 60 to 70 that clear-print guidance asks for.
    pub fn a4(body_size: f32) -> Self {
        Style {
            body_size,
            page_width: A4_WIDTH,
            page_height: A4_HEIGHT,
            margin_left: 18.0 * PT_PER_MM,
            margin_right: 18.0 * PT_PER_MM,
            margin_top: 16.0 * PT_PER_MM,
            margin_bottom: 12.0 * PT_PER_MM,
            leading: 1.4,
        }
    }

    /// Standard clear print: 14 pt body (RNIB recommendation).
    pub fn standard() -> Self {
        Style::a4(14.0)
    }

    /// Large print: 18 pt body (RNIB: at least 16, preferably 18).
    pub fn large_print() -> Self {
        Style::a4(18.0)
    }

    /// Width available for text, points.
    pub fn text_width(&self) -> f32 {
        self.page_width - self.margin_left - self.margin_right
    }

    /// Title size: headings grow in proportion to the body.
    pub fn title_size(&self) -> f32 {
        self.body_size * 1.5
    }

    /// Section heading size.
    pub fn heading_size(&self) -> f32 {
        self.body_size * 1.25
    }

    /// Footer size: a little smaller than the body, but not under 12 pt unless the
    /// body itself is (as in the clinician summary).
    pub fn footer_size(&self) -> f32 {
        (self.body_size * 0.85).max(self.body_size.min(12.0))
    }

    /// Line pitch for text at `size` (see [`Style::leading`]).
    pub fn line_height(&self, size: f32) -> f32 {
        size * self.leading
    }

    fn body_lh(&self) -> f32 {
        self.line_height(self.body_size)
    }
}

/// Something drawn on a page. `y` runs down from the top edge of the page.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    /// Text with its baseline at (`x`, `y`).
    Text {
        /// Left edge.
        x: f32,
        /// Baseline.
        y: f32,
        /// Size in points.
        size: f32,
        /// Face.
        weight: Weight,
        /// The text (one line, no breaks).
        text: String,
    },
    /// A straight black line.
    Rule {
        /// Start x.
        x1: f32,
        /// Start y.
        y1: f32,
        /// End x.
        x2: f32,
        /// End y.
        y2: f32,
        /// Stroke width, points.
        width: f32,
    },
    /// A filled grey rectangle, drawn beneath text and rules.
    Fill {
        /// Left edge.
        x: f32,
        /// Top edge.
        y: f32,
        /// Width.
        w: f32,
        /// Height.
        h: f32,
        /// Grey level, 0 black to 1 white.
        grey: f32,
    },
}

/// One laid-out page.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Page {
    /// Everything on the page, in drawing order within each kind.
    pub items: Vec<Item>,
}

/// The result of layout.
#[derive(Debug, Clone, PartialEq)]
pub struct LaidOut {
    /// Pages, first to last.
    pub pages: Vec<Page>,
    /// Page width, points.
    pub page_width: f32,
    /// Page height, points.
    pub page_height: f32,
}

// ---------------------------------------------------------------------------
// Line breaking

#[derive(Debug, Clone)]
struct Run {
    x: f32,
    weight: Weight,
    text: String,
}

#[derive(Debug, Clone, Default)]
struct Line {
    runs: Vec<Run>,
    width: f32,
}

#[derive(Debug, Clone)]
enum Token {
    Word(Vec<(Weight, String)>),
    Break,
}

fn is_number(pieces: &[(Weight, String)]) -> bool {
    let text: String = pieces.iter().map(|(_, s)| s.as_str()).collect();
    text.chars().any(|c| c.is_ascii_digit())
        && text
            .chars()
            .all(|c| c.is_ascii_digit() || c == '.' || c == ',')
}

/// Splits spans into words. A number is glued to the word after it ("15 mg",
/// "1 December"), so a line never ends on a bare number; U+00A0 also joins words
/// (drawn as an ordinary space).
fn tokenize(spans: &[Span]) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut word: Vec<(Weight, String)> = Vec::new();
    let flush = |word: &mut Vec<(Weight, String)>, tokens: &mut Vec<Token>| {
        if word.is_empty() {
            return;
        }
        let w = std::mem::take(word);
        if let Some(Token::Word(prev)) = tokens.last_mut() {
            if is_number(prev) {
                let weight = prev.last().map_or(Weight::Regular, |p| p.0);
                prev.push((weight, "\u{a0}".to_string()));
                prev.extend(w);
                return;
            }
        }
        tokens.push(Token::Word(w));
    };
    for span in spans {
        // NFC: a letter typed as base + combining accent is drawn as the one
        // precomposed glyph the print policy checked (pdf::printable).
        for c in span.text.nfc() {
            if c == '\n' {
                flush(&mut word, &mut tokens);
                tokens.push(Token::Break);
            } else if c.is_whitespace() && c != '\u{a0}' {
                flush(&mut word, &mut tokens);
            } else {
                match word.last_mut() {
                    Some((w, s)) if *w == span.weight => s.push(c),
                    _ => word.push((span.weight, c.to_string())),
                }
            }
        }
    }
    flush(&mut word, &mut tokens);
    tokens
}

/// Greedy first-fit line breaking with real glyph widths. Words longer than a line
/// (a long web address) are broken between characters rather than overflowing.
fn wrap(fonts: &Fonts, spans: &[Span], size: f32, max_width: f32) -> Vec<Line> {
    let mut lines = Vec::new();
    let mut line = Line::default();
    let word_width = |pieces: &[(Weight, String)]| -> f32 {
        pieces
            .iter()
            .map(|(w, s)| fonts.face(*w).width(s, size))
            .sum()
    };
    for token in tokenize(spans) {
        let pieces = match token {
            Token::Break => {
                lines.push(std::mem::take(&mut line));
                continue;
            }
            Token::Word(p) => p,
        };
        let w = word_width(&pieces);
        if !line.runs.is_empty() {
            let last_weight = line.runs.last().map_or(Weight::Regular, |r| r.weight);
            let space = fonts.face(last_weight).width(" ", size);
            if line.width + space + w <= max_width {
                if let Some(r) = line.runs.last_mut() {
                    r.text.push(' ');
                }
                line.width += space;
                push_pieces(fonts, &mut line, pieces, size);
                continue;
            }
            lines.push(std::mem::take(&mut line));
        }
        if w <= max_width {
            push_pieces(fonts, &mut line, pieces, size);
        } else {
            // Break an over-long word between characters.
            for (weight, text) in pieces {
                for c in text.chars() {
                    let cw = fonts.face(weight).width(&c.to_string(), size);
                    if line.width + cw > max_width && !line.runs.is_empty() {
                        lines.push(std::mem::take(&mut line));
                    }
                    push_pieces(fonts, &mut line, vec![(weight, c.to_string())], size);
                }
            }
        }
    }
    if !line.runs.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

fn push_pieces(fonts: &Fonts, line: &mut Line, pieces: Vec<(Weight, String)>, size: f32) {
    for (weight, text) in pieces {
        let w = fonts.face(weight).width(&text, size);
        match line.runs.last_mut() {
            Some(r) if r.weight == weight => r.text.push_str(&text),
            _ => line.runs.push(Run {
                x: line.width,
                weight,
                text,
            }),
        }
        line.width += w;
    }
}

// ---------------------------------------------------------------------------
// Page building

/// Lines of text measured for one width and size, ready to place.
#[derive(Debug, Clone)]
struct TextBox {
    lines: Vec<Line>,
    size: f32,
    lh: f32,
}

impl TextBox {
    fn new(fonts: &Fonts, style: &Style, spans: &[Span], size: f32, width: f32) -> Self {
        TextBox {
            lines: wrap(fonts, spans, size, width),
            size,
            lh: style.line_height(size),
        }
    }

    fn height(&self) -> f32 {
        self.lines.len() as f32 * self.lh
    }

    /// Draws lines `from..to` with the first line box's top at `top`.
    fn draw(&self, fonts: &Fonts, page: &mut Page, x: f32, top: f32, from: usize, to: usize) {
        // Centre the font's ascent-to-descent box within each line box.
        let asc = fonts.regular.ascent(self.size);
        let desc = fonts.regular.descent(self.size);
        let baseline_offset = (self.lh - (asc + desc)) / 2.0 + asc;
        for (i, line) in self.lines[from..to].iter().enumerate() {
            let y = top + i as f32 * self.lh + baseline_offset;
            for run in &line.runs {
                let text = run.text.trim_end().replace('\u{a0}', " ");
                if text.is_empty() {
                    continue;
                }
                page.items.push(Item::Text {
                    x: x + run.x,
                    y,
                    size: self.size,
                    weight: run.weight,
                    text,
                });
            }
        }
    }
}

struct Pager<'a> {
    fonts: &'a Fonts,
    style: &'a Style,
    pages: Vec<Page>,
    page: Page,
    y: f32,
    bottom: f32,
}

impl<'a> Pager<'a> {
    fn at_top(&self) -> bool {
        self.page.items.is_empty()
    }

    fn remaining(&self) -> f32 {
        self.bottom - self.y
    }

    fn new_page(&mut self) {
        let page = std::mem::take(&mut self.page);
        self.pages.push(page);
        self.y = self.style.margin_top;
    }

    /// Starts a new page unless `h` fits on this one (or this page is still empty,
    /// where moving would not help).
    fn ensure(&mut self, h: f32) {
        if h > self.remaining() + 0.01 && !self.at_top() {
            self.new_page();
        }
    }

    fn gap(&mut self, h: f32) {
        if !self.at_top() {
            self.y += h;
        }
    }

    fn x0(&self) -> f32 {
        self.style.margin_left
    }

    /// Height of a whole page's text area: anything taller is split across pages.
    fn capacity(&self) -> f32 {
        self.bottom - self.style.margin_top
    }

    fn width(&self) -> f32 {
        self.style.text_width()
    }
}

/// Lays a document out on pages. Errors only if the fonts cannot be loaded.
pub fn layout(doc: &Document, style: &Style) -> Result<LaidOut, PdfError> {
    let fonts = Fonts::get()?;
    let footer_lh = style.line_height(style.footer_size());
    // The footer band: a rule, a little space, one line of footer text.
    let footer_band = footer_lh + style.body_size * 0.6;
    let mut p = Pager {
        fonts,
        style,
        pages: Vec::new(),
        page: Page::default(),
        y: style.margin_top,
        bottom: style.page_height - style.margin_bottom - footer_band,
    };
    let lh = style.body_lh();
    for (i, block) in doc.blocks.iter().enumerate() {
        match block {
            Block::Title(text) => {
                let tb = TextBox::new(
                    fonts,
                    style,
                    &[Span::bold(text.clone())],
                    style.title_size(),
                    p.width(),
                );
                place_whole_or_flowing(&mut p, &tb, 0.0);
                p.y += lh * 0.4;
            }
            Block::Heading(text) => {
                let tb = TextBox::new(
                    fonts,
                    style,
                    &[Span::bold(text.clone())],
                    style.heading_size(),
                    p.width(),
                );
                let before = lh * 0.7;
                let after = lh * 0.2;
                // Keep the heading with the start of what follows it.
                let next = doc
                    .blocks
                    .get(i + 1)
                    .map_or(0.0, |b| first_unit_height(fonts, style, b));
                p.ensure(before + tb.height() + after + next);
                p.gap(before);
                place_whole_or_flowing(&mut p, &tb, 0.0);
                p.y += after;
            }
            Block::Paragraph(spans) => {
                let tb = TextBox::new(fonts, style, spans, style.body_size, p.width());
                place_flowing(&mut p, &tb, 0.0);
                p.y += lh * 0.5;
            }
            Block::Bullets(items) => {
                let indent = style.body_size * 1.4;
                for item in items {
                    let tb = TextBox::new(fonts, style, item, style.body_size, p.width() - indent);
                    if tb.height() <= p.capacity() {
                        p.ensure(tb.height());
                    } else {
                        p.ensure(2.0 * tb.lh);
                    }
                    let (x, y) = (p.x0(), p.y);
                    // The bullet sits on the first line's baseline.
                    let bullet = TextBox {
                        lines: wrap(fonts, &[Span::regular("\u{2022}")], style.body_size, indent),
                        size: style.body_size,
                        lh: tb.lh,
                    };
                    bullet.draw(fonts, &mut p.page, x + style.body_size * 0.3, y, 0, 1);
                    if tb.height() <= p.remaining() + 0.01 {
                        tb.draw(fonts, &mut p.page, x + indent, y, 0, tb.lines.len());
                        p.y += tb.height();
                    } else {
                        // Taller than what is left: it carries on over the page.
                        place_lines(&mut p, &tb, indent);
                    }
                    p.y += lh * 0.2;
                }
                p.y += lh * 0.3;
            }
            Block::Callout(paras) => {
                let border = 2.5;
                let pad = style.body_size * 0.7;
                let inner = p.width() - 2.0 * (pad + border);
                let boxes: Vec<TextBox> = paras
                    .iter()
                    .map(|s| TextBox::new(fonts, style, s, style.body_size, inner))
                    .collect();
                let para_gap = lh * 0.35;
                let content: f32 = boxes.iter().map(TextBox::height).sum::<f32>()
                    + para_gap * boxes.len().saturating_sub(1) as f32;
                let h = content + 2.0 * (pad + border);
                p.gap(lh * 0.2);
                if h > p.capacity() {
                    // Longer than a page (only with very long entered text): the
                    // paragraphs flow between heavy rules rather than a box that
                    // would run off the page.
                    let (x, w) = (p.x0(), p.width());
                    p.ensure(border + 2.0 * lh);
                    let y = p.y;
                    p.page.items.push(Item::Rule {
                        x1: x,
                        y1: y,
                        x2: x + w,
                        y2: y,
                        width: border,
                    });
                    p.y += pad;
                    for tb in &boxes {
                        place_lines(&mut p, tb, 0.0);
                        p.y += para_gap;
                    }
                    p.ensure(border);
                    let y = p.y;
                    p.page.items.push(Item::Rule {
                        x1: x,
                        y1: y,
                        x2: x + w,
                        y2: y,
                        width: border,
                    });
                    p.y += lh * 0.6;
                    continue;
                }
                p.ensure(h);
                let (x, top) = (p.x0(), p.y);
                let w = p.width();
                p.page.items.push(Item::Fill {
                    x,
                    y: top,
                    w,
                    h,
                    grey: 0.94,
                });
                rect(
                    &mut p.page,
                    x + border / 2.0,
                    top + border / 2.0,
                    w - border,
                    h - border,
                    border,
                );
                let mut y = top + border + pad;
                for tb in &boxes {
                    tb.draw(fonts, &mut p.page, x + border + pad, y, 0, tb.lines.len());
                    y += tb.height() + para_gap;
                }
                p.y = top + h + lh * 0.6;
            }
            Block::KeyValues(pairs) => {
                let key_w = pairs
                    .iter()
                    .map(|(k, _)| fonts.bold.width(k, style.body_size))
                    .fold(0.0f32, f32::max)
                    .min(p.width() * 0.4);
                let gap = style.body_size * 0.8;
                for (k, v) in pairs {
                    let kb = TextBox::new(
                        fonts,
                        style,
                        &[Span::bold(k.clone())],
                        style.body_size,
                        key_w,
                    );
                    let vb =
                        TextBox::new(fonts, style, v, style.body_size, p.width() - key_w - gap);
                    let h = kb.height().max(vb.height());
                    if h <= p.capacity() {
                        p.ensure(h);
                        let (x, y) = (p.x0(), p.y);
                        kb.draw(fonts, &mut p.page, x, y, 0, kb.lines.len());
                        vb.draw(fonts, &mut p.page, x + key_w + gap, y, 0, vb.lines.len());
                        p.y += h;
                    } else {
                        // A value longer than a page (a very long name or address)
                        // carries on over the page, line by line, never clipped.
                        let n = kb.lines.len().max(vb.lines.len());
                        for i in 0..n {
                            p.ensure(kb.lh);
                            let (x, y) = (p.x0(), p.y);
                            if i < kb.lines.len() {
                                kb.draw(fonts, &mut p.page, x, y, i, i + 1);
                            }
                            if i < vb.lines.len() {
                                vb.draw(fonts, &mut p.page, x + key_w + gap, y, i, i + 1);
                            }
                            p.y += kb.lh;
                        }
                    }
                    p.y += lh * 0.1;
                }
                p.y += lh * 0.4;
            }
            Block::Table(table) => {
                place_table(&mut p, table)?;
                p.y += lh * 0.6;
            }
            Block::Space(lines) => p.gap(lh * lines),
        }
    }
    let last = std::mem::take(&mut p.page);
    p.pages.push(last);
    let mut pages = p.pages;
    // A trailing empty page can only come from a page break with nothing after it.
    if pages.len() > 1 && pages.last().is_some_and(|pg| pg.items.is_empty()) {
        pages.pop();
    }
    draw_footers(fonts, style, doc, &mut pages);
    Ok(LaidOut {
        pages,
        page_width: style.page_width,
        page_height: style.page_height,
    })
}

/// Places a text box whole when it fits on a page (moving to the next page if
/// needed), else flowing over pages (a title or heading made very long by
/// entered text).
fn place_whole_or_flowing(p: &mut Pager<'_>, tb: &TextBox, dx: f32) {
    if tb.height() <= p.capacity() {
        p.ensure(tb.height());
        let (x, y) = (p.x0() + dx, p.y);
        tb.draw(p.fonts, &mut p.page, x, y, 0, tb.lines.len());
        p.y += tb.height();
    } else {
        place_flowing(p, tb, dx);
    }
}

/// Places lines from the current position, starting a new page whenever the
/// next line does not fit.
fn place_lines(p: &mut Pager<'_>, tb: &TextBox, dx: f32) {
    for i in 0..tb.lines.len() {
        if tb.lh > p.remaining() + 0.01 && !p.at_top() {
            p.new_page();
        }
        let (x, y) = (p.x0() + dx, p.y);
        tb.draw(p.fonts, &mut p.page, x, y, i, i + 1);
        p.y += tb.lh;
    }
}

/// Places a paragraph, splitting it across pages if needed but never leaving
/// a single line alone at the foot or head of a page.
fn place_flowing(p: &mut Pager<'_>, tb: &TextBox, dx: f32) {
    let n = tb.lines.len();
    let mut from = 0;
    while from < n {
        let fit = ((p.remaining() + 0.01) / tb.lh).floor().max(0.0) as usize;
        let left = n - from;
        let take = if fit >= left {
            left
        } else if left <= 3 || fit < 2 {
            0
        } else {
            fit.min(left - 2)
        };
        if take == 0 {
            if p.at_top() {
                // A page cannot hold even this much: place what fits and move on.
                let take = fit.max(1).min(left);
                let (x, y) = (p.x0() + dx, p.y);
                tb.draw(p.fonts, &mut p.page, x, y, from, from + take);
                p.y += take as f32 * tb.lh;
                from += take;
                if from < n {
                    p.new_page();
                }
                continue;
            }
            p.new_page();
            continue;
        }
        let (x, y) = (p.x0() + dx, p.y);
        tb.draw(p.fonts, &mut p.page, x, y, from, from + take);
        p.y += take as f32 * tb.lh;
        from += take;
        if from < n {
            p.new_page();
        }
    }
}

/// Height of the smallest piece of a block that may start a page (used to keep
/// headings with what follows them).
fn first_unit_height(fonts: &Fonts, style: &Style, block: &Block) -> f32 {
    let w = style.text_width();
    let lh = style.body_lh();
    match block {
        Block::Paragraph(spans) => {
            let n = wrap(fonts, spans, style.body_size, w).len();
            // A paragraph of up to 3 lines moves as a whole; longer ones need 2 lines.
            (if n <= 3 { n } else { 2 }) as f32 * lh
        }
        Block::Bullets(items) => items.first().map_or(0.0, |item| {
            wrap(fonts, item, style.body_size, w - style.body_size * 1.4).len() as f32 * lh
        }),
        Block::Callout(paras) => {
            paras
                .iter()
                .map(|s| {
                    wrap(fonts, s, style.body_size, w - 4.0 * style.body_size).len() as f32 * lh
                })
                .sum::<f32>()
                + 2.0 * style.body_size
        }
        Block::KeyValues(pairs) => {
            if pairs.is_empty() {
                0.0
            } else {
                lh
            }
        }
        Block::Table(t) => {
            let geo = TableGeometry::new(fonts, style, t);
            geo.header_h + geo.rows.first().map_or(0.0, |r| r.height)
        }
        Block::Title(_) | Block::Heading(_) => 2.0 * lh,
        Block::Space(_) => 0.0,
    }
}

fn rect(page: &mut Page, x: f32, y: f32, w: f32, h: f32, width: f32) {
    let pts = [(x, y), (x + w, y), (x + w, y + h), (x, y + h), (x, y)];
    for pair in pts.windows(2) {
        page.items.push(Item::Rule {
            x1: pair[0].0,
            y1: pair[0].1,
            x2: pair[1].0,
            y2: pair[1].1,
            width,
        });
    }
}

// ---------------------------------------------------------------------------
// Tables

struct MeasuredLine {
    /// (x offset of the cell, text box) per cell.
    cells: Vec<(f32, TextBox)>,
    shaded: bool,
    height: f32,
    /// Whether this line has a cell per column (and so needs column separators).
    columned: bool,
}

struct MeasuredRow {
    lines: Vec<MeasuredLine>,
    height: f32,
}

struct TableGeometry {
    /// Column left edges relative to the table's left edge, plus the right edge.
    edges: Vec<f32>,
    header: MeasuredLine,
    header_h: f32,
    rows: Vec<MeasuredRow>,
    pad_x: f32,
    pad_y: f32,
}

impl TableGeometry {
    fn new(fonts: &Fonts, style: &Style, table: &Table) -> Self {
        let width = style.text_width();
        let total: f32 = table.columns.iter().map(|c| c.width.max(0.0)).sum();
        let n = table.columns.len().max(1);
        let mut edges = vec![0.0];
        let mut acc = 0.0;
        for c in &table.columns {
            acc += if total > 0.0 {
                c.width.max(0.0) / total * width
            } else {
                width / n as f32
            };
            edges.push(acc);
        }
        if edges.len() == 1 {
            edges.push(width);
        }
        let pad_x = style.body_size * 0.45;
        let pad_y = style.body_size * 0.3;
        let measure = |cells: &[Vec<Span>], shaded: bool, bold: bool| -> MeasuredLine {
            let columned = cells.len() > 1;
            let boxes: Vec<(f32, TextBox)> = cells
                .iter()
                .enumerate()
                .map(|(i, spans)| {
                    let (left, right) = if columned {
                        let l = edges.get(i).copied().unwrap_or(0.0);
                        let r = edges.get(i + 1).copied().unwrap_or(width);
                        (l, r)
                    } else {
                        (0.0, width)
                    };
                    let spans: Vec<Span> = if bold {
                        spans.iter().map(|s| Span::bold(s.text.clone())).collect()
                    } else {
                        spans.clone()
                    };
                    let tb = TextBox::new(
                        fonts,
                        style,
                        &spans,
                        style.body_size,
                        (right - left - 2.0 * pad_x).max(style.body_size),
                    );
                    (left, tb)
                })
                .collect();
            let height = boxes
                .iter()
                .map(|(_, tb)| tb.height())
                .fold(0.0f32, f32::max)
                + 2.0 * pad_y;
            MeasuredLine {
                cells: boxes,
                shaded,
                height,
                columned,
            }
        };
        let header_cells: Vec<Vec<Span>> = table
            .columns
            .iter()
            .map(|c| vec![Span::bold(c.header.clone())])
            .collect();
        let header = measure(&header_cells, true, true);
        let header_h = header.height;
        let rows = table
            .rows
            .iter()
            .map(|r| {
                let lines: Vec<MeasuredLine> = r
                    .lines
                    .iter()
                    .map(|l| measure(&l.cells, l.shaded, false))
                    .collect();
                let height = lines.iter().map(|l| l.height).sum();
                MeasuredRow { lines, height }
            })
            .collect();
        TableGeometry {
            edges,
            header,
            header_h,
            rows,
            pad_x,
            pad_y,
        }
    }
}

fn draw_table_line(
    p: &mut Pager<'_>,
    geo: &TableGeometry,
    line: &MeasuredLine,
    top: f32,
    rule: f32,
) {
    draw_table_line_part(p, geo, line, top, rule, 0, usize::MAX, line.height);
}

/// Draws text lines `from..to` of each cell of a table line, in a band of
/// height `height` (the whole line, or the part of one taller than a page).
#[allow(clippy::too_many_arguments)]
fn draw_table_line_part(
    p: &mut Pager<'_>,
    geo: &TableGeometry,
    line: &MeasuredLine,
    top: f32,
    rule: f32,
    from: usize,
    to: usize,
    height: f32,
) {
    let is_header = std::ptr::eq(line, &geo.header);
    let x0 = p.x0();
    let w = p.width();
    if line.shaded {
        p.page.items.push(Item::Fill {
            x: x0,
            y: top,
            w,
            h: height,
            grey: if is_header { 0.86 } else { 0.93 },
        });
    }
    // Rule along the top of the line.
    p.page.items.push(Item::Rule {
        x1: x0,
        y1: top,
        x2: x0 + w,
        y2: top,
        width: rule,
    });
    if line.columned {
        for e in &geo.edges[1..geo.edges.len() - 1] {
            p.page.items.push(Item::Rule {
                x1: x0 + e,
                y1: top,
                x2: x0 + e,
                y2: top + height,
                width: 0.75,
            });
        }
    }
    for (left, tb) in &line.cells {
        let (a, b) = (from.min(tb.lines.len()), to.min(tb.lines.len()));
        tb.draw(
            p.fonts,
            &mut p.page,
            x0 + left + geo.pad_x,
            top + geo.pad_y,
            a,
            b,
        );
    }
}

/// Places a table line taller than a page (only very long entered text): its
/// cells' lines are split over pages, each part under the repeated header.
fn place_tall_table_line(
    p: &mut Pager<'_>,
    geo: &TableGeometry,
    line: &MeasuredLine,
    rule: f32,
    seg_top: &mut f32,
) {
    let lh = line.cells.first().map_or(1.0, |(_, tb)| tb.lh);
    let n = line
        .cells
        .iter()
        .map(|(_, tb)| tb.lines.len())
        .max()
        .unwrap_or(0);
    let mut from = 0;
    while from < n {
        let fit = ((p.remaining() - 2.0 * geo.pad_y + 0.01) / lh).floor();
        if fit < 1.0 {
            close_table_segment(p, *seg_top);
            p.new_page();
            *seg_top = p.y;
            draw_table_line(p, geo, &geo.header, p.y, 1.5);
            p.y += geo.header_h;
            continue;
        }
        let to = n.min(from + fit as usize);
        let height = (to - from) as f32 * lh + 2.0 * geo.pad_y;
        let top = p.y;
        draw_table_line_part(p, geo, line, top, rule, from, to, height);
        p.y += height;
        from = to;
    }
}

/// Outer frame of the part of a table on the current page.
fn close_table_segment(p: &mut Pager<'_>, seg_top: f32) {
    let x0 = p.x0();
    let w = p.width();
    let bottom = p.y;
    for x in [x0, x0 + w] {
        p.page.items.push(Item::Rule {
            x1: x,
            y1: seg_top,
            x2: x,
            y2: bottom,
            width: 1.0,
        });
    }
    p.page.items.push(Item::Rule {
        x1: x0,
        y1: bottom,
        x2: x0 + w,
        y2: bottom,
        width: 1.0,
    });
}

fn place_table(p: &mut Pager<'_>, table: &Table) -> Result<(), PdfError> {
    if table.columns.is_empty() {
        return Err(PdfError::Layout("a table needs at least one column".into()));
    }
    for (ri, row) in table.rows.iter().enumerate() {
        for (li, line) in row.lines.iter().enumerate() {
            if line.cells.len() != 1 && line.cells.len() != table.columns.len() {
                return Err(PdfError::Layout(format!(
                    "table row {ri}, line {li}: {} cells for {} columns (use 1 to span, or one per column)",
                    line.cells.len(),
                    table.columns.len()
                )));
            }
        }
    }
    let geo = TableGeometry::new(p.fonts, p.style, table);
    let first = geo.rows.first().map_or(0.0, |r| r.height);
    p.ensure(geo.header_h + first);
    let mut seg_top = p.y;
    draw_table_line(p, &geo, &geo.header, p.y, 1.5);
    p.y += geo.header_h;
    for row in &geo.rows {
        if row.height > p.remaining() + 0.01 {
            let page_capacity = p.bottom - p.style.margin_top - geo.header_h;
            if row.height <= page_capacity {
                // The row moves whole to the next page, under a repeated header.
                close_table_segment(p, seg_top);
                p.new_page();
                seg_top = p.y;
                draw_table_line(p, &geo, &geo.header, p.y, 1.5);
                p.y += geo.header_h;
            }
        }
        for (li, line) in row.lines.iter().enumerate() {
            // A heavy rule between rows, a light one between the lines of a row,
            // so each row (a step of a plan) reads as one group.
            let rule = if li == 0 { 2.0 } else { 0.5 };
            if line.height > p.capacity() - geo.header_h {
                place_tall_table_line(p, &geo, line, rule, &mut seg_top);
                continue;
            }
            if line.height > p.remaining() + 0.01 {
                // Only reached for a row taller than a whole page: it has to split
                // between its lines (never within one).
                close_table_segment(p, seg_top);
                p.new_page();
                seg_top = p.y;
                draw_table_line(p, &geo, &geo.header, p.y, 1.5);
                p.y += geo.header_h;
            }
            let top = p.y;
            draw_table_line(p, &geo, line, top, rule);
            p.y += line.height;
        }
    }
    close_table_segment(p, seg_top);
    Ok(())
}

// ---------------------------------------------------------------------------
// Footer

fn draw_footers(fonts: &Fonts, style: &Style, doc: &Document, pages: &mut [Page]) {
    let n = pages.len();
    let size = style.footer_size();
    let lh = style.line_height(size);
    let x0 = style.margin_left;
    let w = style.text_width();
    let rule_y = style.page_height - style.margin_bottom - lh - style.body_size * 0.3;
    let asc = fonts.regular.ascent(size);
    let desc = fonts.regular.descent(size);
    let baseline = style.page_height - style.margin_bottom - lh + (lh - (asc + desc)) / 2.0 + asc;
    for (i, page) in pages.iter_mut().enumerate() {
        page.items.push(Item::Rule {
            x1: x0,
            y1: rule_y,
            x2: x0 + w,
            y2: rule_y,
            width: 0.5,
        });
        let label = doc
            .page_label
            .replace("{page}", &(i + 1).to_string())
            .replace("{pages}", &n.to_string());
        let label_w = fonts.bold.width(&label, size);
        page.items.push(Item::Text {
            x: x0,
            y: baseline,
            size,
            weight: Weight::Bold,
            text: label,
        });
        if let Some(note) = &doc.footer_note {
            let note_w = fonts.regular.width(note, size);
            // Right-aligned when it fits beside the page number; otherwise it is
            // left out of the footer rather than overprinting it.
            if label_w + size * 2.0 + note_w <= w {
                page.items.push(Item::Text {
                    x: x0 + w - note_w,
                    y: baseline,
                    size,
                    weight: Weight::Regular,
                    text: note.clone(),
                });
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Plain text

impl Document {
    /// The document's text as a reader meets it, one line per paragraph, list item,
    /// heading or table line (cells separated by a tab). Page furniture (footer,
    /// page numbers) is left out. Built from the same blocks as the PDF, so tests on
    /// this text (readability, jargon, snapshots) test what is printed.
    pub fn plain_text(&self) -> String {
        let mut out = String::new();
        for block in &self.blocks {
            match block {
                Block::Title(t) => {
                    out.push_str(t);
                    out.push('\n');
                }
                Block::Heading(t) => {
                    out.push('\n');
                    out.push_str(t);
                    out.push('\n');
                }
                Block::Paragraph(s) => {
                    out.push_str(&spans_text(s));
                    out.push('\n');
                }
                Block::Bullets(items) => {
                    for item in items {
                        out.push_str("\u{2022} ");
                        out.push_str(&spans_text(item));
                        out.push('\n');
                    }
                }
                Block::Callout(paras) => {
                    for s in paras {
                        out.push_str(&spans_text(s));
                        out.push('\n');
                    }
                }
                Block::KeyValues(pairs) => {
                    for (k, v) in pairs {
                        out.push_str(k);
                        out.push(' ');
                        out.push_str(&spans_text(v));
                        out.push('\n');
                    }
                }
                Block::Table(t) => {
                    let header: Vec<&str> = t.columns.iter().map(|c| c.header.as_str()).collect();
                    out.push_str(&header.join("\t"));
                    out.push('\n');
                    for row in &t.rows {
                        for line in &row.lines {
                            let cells: Vec<String> =
                                line.cells.iter().map(|c| spans_text(c)).collect();
                            out.push_str(&cells.join("\t"));
                            out.push('\n');
                        }
                    }
                }
                Block::Space(_) => {}
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(blocks: Vec<Block>) -> Document {
        Document {
            title: "t".into(),
            author: "a".into(),
            subject: "s".into(),
            language: "en-GB".into(),
            blocks,
            page_label: "Page {page} of {pages}".into(),
            footer_note: None,
        }
    }

    fn texts(page: &Page) -> Vec<&str> {
        page.items
            .iter()
            .filter_map(|i| match i {
                Item::Text { text, .. } => Some(text.as_str()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn standard_print_has_60_to_70_characters_a_line() {
        let para =
            "We will lower your dose slowly, in small steps. This gives your body time to get \
                    used to each new dose. The table shows the dates of each step. It shows which \
                    tablets, capsules or patches to take, and when. Start each step on the date \
                    shown. Keep taking your medicine at the same times of day. Many people find \
                    that their pain is no worse on a lower dose. Often they feel more alert.";
        let laid = layout(
            &doc(vec![Block::Paragraph(vec![Span::regular(para)])]),
            &Style::standard(),
        )
        .expect("layout");
        let lines: Vec<&str> = texts(&laid.pages[0])
            .into_iter()
            .filter(|t| !t.starts_with("Page "))
            .collect();
        assert!(lines.len() >= 5);
        // All but the last line are full lines.
        let full = &lines[..lines.len() - 1];
        let avg = full.iter().map(|l| l.chars().count()).sum::<usize>() as f32 / full.len() as f32;
        assert!(
            (60.0..=70.0).contains(&avg),
            "average {avg} characters a line: {full:?}"
        );
        let width = Style::standard().text_width();
        let fonts = Fonts::get().expect("fonts");
        for l in full {
            assert!(
                fonts.regular.width(l, 14.0) <= width + 0.01,
                "overflows: {l}"
            );
        }
    }

    #[test]
    fn table_rows_never_split_and_header_repeats() {
        let rows: Vec<TableRow> = (0..40)
            .map(|r| TableRow {
                lines: (0..(1 + r % 4))
                    .map(|l| {
                        RowLine::cells(vec![
                            vec![Span::regular(format!("r{r}l{l}"))],
                            vec![Span::regular(
                                "some text that may wrap onto a second line in a narrow column",
                            )],
                        ])
                    })
                    .collect(),
            })
            .collect();
        let table = Table {
            columns: vec![
                Column {
                    header: "Head A".into(),
                    width: 1.0,
                },
                Column {
                    header: "Head B".into(),
                    width: 2.0,
                },
            ],
            rows,
        };
        let laid = layout(
            &doc(vec![
                Block::Title("Title".into()),
                Block::Paragraph(vec![Span::regular("Intro.")]),
                Block::Table(table),
            ]),
            &Style::large_print(),
        )
        .expect("layout");
        assert!(laid.pages.len() > 2);
        let mut row_page = std::collections::HashMap::new();
        for (pi, page) in laid.pages.iter().enumerate() {
            let t = texts(page);
            // Each page of the table starts with the header.
            let first_cell = t.iter().position(|s| s.starts_with('r'));
            let header = t.iter().position(|s| *s == "Head A");
            if let Some(fc) = first_cell {
                assert!(
                    header.is_some_and(|h| h < fc),
                    "page {pi} has no header first"
                );
            }
            for s in t {
                if let Some(rest) = s.strip_prefix('r') {
                    if let Some((r, _)) = rest.split_once('l') {
                        let prev = row_page.insert(r.to_string(), pi);
                        assert!(prev.is_none_or(|p| p == pi), "row {r} split across pages");
                    }
                }
            }
            // Nothing below the footer rule but the footer.
            let limit = laid.page_height - Style::large_print().margin_bottom;
            for item in &page.items {
                if let Item::Text { y, .. } = item {
                    assert!(*y <= limit, "text below the bottom margin on page {pi}");
                }
            }
        }
        assert_eq!(row_page.len(), 40);
        let n = laid.pages.len();
        assert!(texts(&laid.pages[n - 1]).contains(&format!("Page {n} of {n}").as_str()));
    }

    #[test]
    fn headings_stay_with_what_follows() {
        let filler = "Words ".repeat(60);
        let mut blocks = Vec::new();
        for i in 0..12 {
            blocks.push(Block::Heading(format!("Heading {i}")));
            blocks.push(Block::Paragraph(vec![Span::regular(filler.clone())]));
        }
        let laid = layout(&doc(blocks), &Style::standard()).expect("layout");
        for page in &laid.pages {
            let t = texts(page);
            let body: Vec<&&str> = t.iter().filter(|s| !s.starts_with("Page ")).collect();
            assert!(
                !body.last().is_some_and(|s| s.starts_with("Heading")),
                "a heading ends a page"
            );
        }
    }

    /// Issue 20: text longer than a page (a very long entered name, address or
    /// drug text) in any block, table cell included, carries on over the
    /// pages: every word is drawn, and none below the text area.
    #[test]
    fn text_longer_than_a_page_is_never_clipped_in_any_block() {
        let words = |tag: &str| -> String {
            (0..700)
                .map(|i| format!("{tag}{i:03}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let long = |tag: &str| vec![Span::regular(words(tag))];
        let table = Table {
            columns: vec![
                Column {
                    header: "When".into(),
                    width: 1.0,
                },
                Column {
                    header: "What".into(),
                    width: 2.0,
                },
            ],
            rows: vec![TableRow {
                lines: vec![
                    RowLine::cells(vec![long("ta"), long("tb")]),
                    RowLine::spanning(long("ts"), true),
                ],
            }],
        };
        let blocks = vec![
            Block::Title(words("ti")),
            Block::KeyValues(vec![("For:".into(), long("kv"))]),
            Block::Heading(words("he")),
            Block::Bullets(vec![long("bu")]),
            Block::Callout(vec![long("ca")]),
            Block::Table(table),
        ];
        for style in [Style::standard(), Style::large_print()] {
            let laid = layout(&doc(blocks.clone()), &style).expect("layout");
            let limit = style.page_height - style.margin_bottom;
            let mut drawn = String::new();
            for page in &laid.pages {
                for item in &page.items {
                    match item {
                        Item::Text { y, text, .. } => {
                            assert!(*y <= limit, "{text:?} at {y}, below {limit}");
                            drawn.push_str(text);
                            drawn.push(' ');
                        }
                        Item::Rule { y1, y2, .. } => assert!(y1.max(*y2) <= limit),
                        Item::Fill { y, h, .. } => assert!(y + h <= limit + 0.01),
                    }
                }
            }
            for tag in ["ti", "kv", "he", "bu", "ca", "ta", "tb", "ts"] {
                for w in words(tag).split(' ') {
                    assert!(drawn.contains(w), "{w} missing");
                }
            }
        }
    }

    #[test]
    fn numbers_stay_with_the_next_word() {
        let fonts = Fonts::get().expect("fonts");
        let spans = [Span::regular("aaaa bbbb cccc 15 mg")];
        // Width that fits "aaaa bbbb cccc 15" but not "... 15 mg".
        let w = fonts.regular.width("aaaa bbbb cccc 15 m", 14.0);
        let lines = wrap(fonts, &spans, 14.0, w);
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[1].runs[0].text.replace('\u{a0}', " "), "15 mg");
    }

    #[test]
    fn markup_and_plain_text() {
        assert_eq!(
            parse_markup("a **b** c"),
            vec![Span::regular("a "), Span::bold("b"), Span::regular(" c")]
        );
        let d = doc(vec![
            Block::Heading("H".into()),
            Block::Bullets(vec![vec![Span::regular("x")]]),
        ]);
        assert_eq!(d.plain_text(), "\nH\n\u{2022} x\n");
    }

    #[test]
    fn escaped_text_prints_its_stars_literally() {
        let goals = escape_markup("walk **every** day *");
        let spans = parse_markup(&format!("**Goals:** {goals}"));
        assert_eq!(
            spans,
            vec![Span::bold("Goals:"), Span::regular(" walk **every** day *"),]
        );
    }
}
