//! The CSV side of an extract: decoding the bytes, finding the columns by
//! name, and reading each row's fields with its line number.
//!
//! - Encodings: UTF-8 with or without a byte-order mark, UTF-16 with a mark
//!   (Excel's "Unicode text"), and otherwise Windows-1252 (older exports with
//!   "£" or "½" as single bytes). Text with NUL bytes is not a CSV file.
//! - Delimiter: comma, unless the header line has more semicolons, tabs or bars.
//! - Columns are matched by name, case-insensitively, with spaces and
//!   punctuation read as underscores ("Patient ID" is `patient_id`);
//!   `--map 'patient_id=Patient No,issue_date=Date'` names other headers.
//! - Dates: ISO `2026-03-14` or UK `14/03/2026` (also `14-03-2026`,
//!   `14.03.2026`, `14-Mar-2026`, `14 Mar 2026`; a time after the date is
//!   ignored). Day first always: UK exports never put the month first.
//!
//! Every data row comes out either as a [`Row`] or as a [`RowProblem`]
//! naming its line and what is wrong; nothing is dropped. Pure.

use std::borrow::Cow;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::nhs_number::NhsNumber;
use crate::patient::Sex;
use crate::vocabulary::vocabulary;

vocabulary!(
    /// A column of an extract.
    #[ts(export)]
    Column, "column" {
        /// The practice's identifier for the patient (required).
        PatientId => "patient_id",
        /// When the item was issued (required).
        IssueDate => "issue_date",
        /// Product description, dm+d style (required).
        Drug => "drug",
        /// Dose instruction as written (required; may be blank in a row).
        Dose => "dose",
        /// Quantity issued, in tablets, capsules, mL or patches (required; may be blank in a row).
        Quantity => "quantity",
        /// Age in years (optional).
        Age => "age",
        /// Sex (optional).
        Sex => "sex",
        /// NHS number (optional).
        NhsNumber => "nhs_number",
        /// Marks a record deleted in the clinical system (optional; `1` or
        /// `true`): such a row is reported, not imported. SystmOne Strategic
        /// Reporting files carry it as `RemovedData` (issue 16).
        Removed => "removed",
    }
);

impl Column {
    /// Whether every extract must have it.
    pub fn required(self) -> bool {
        matches!(
            self,
            Column::PatientId | Column::IssueDate | Column::Drug | Column::Dose | Column::Quantity
        )
    }

    /// The column a header or `--map` key names (spaces, case and
    /// punctuation as [`header_key`] folds them).
    pub(crate) fn from_header(s: &str) -> Option<Column> {
        let s = header_key(s);
        Column::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// Header names for columns whose header is not the standard name, as given by `--map`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ColumnMap {
    /// (column, header name in the file), in the order given.
    pub pairs: Vec<(Column, String)>,
}

impl ColumnMap {
    /// Parses `patient_id=Patient ID,issue_date=Date,...`: comma-separated
    /// `column=header` pairs (header names may not contain commas).
    pub fn parse(spec: &str) -> Result<ColumnMap, CsvError> {
        let mut pairs: Vec<(Column, String)> = Vec::new();
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let Some((key, header)) = part.split_once('=') else {
                return Err(CsvError::BadMap(format!(
                    "'{part}' is not column=header (e.g. patient_id=Patient ID)"
                )));
            };
            let Some(column) = Column::from_header(key) else {
                return Err(CsvError::BadMap(format!(
                    "'{}' is not a column (accepted: {})",
                    key.trim(),
                    Column::ALL.map(Column::as_str).join(", ")
                )));
            };
            let header = header.trim();
            if header.is_empty() {
                return Err(CsvError::BadMap(format!(
                    "{column}: the header name is empty"
                )));
            }
            if pairs.iter().any(|(c, _)| *c == column) {
                return Err(CsvError::BadMap(format!("{column} is mapped twice")));
            }
            pairs.push((column, header.to_string()));
        }
        Ok(ColumnMap { pairs })
    }

    fn header_for(&self, column: Column) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(c, _)| *c == column)
            .map(|(_, h)| h.as_str())
    }
}

/// How the file's bytes were decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub enum TextEncoding {
    /// UTF-8 without a byte-order mark.
    #[serde(rename = "utf-8")]
    Utf8,
    /// UTF-8 with a byte-order mark (Excel's "CSV UTF-8").
    #[serde(rename = "utf-8 with BOM")]
    Utf8Bom,
    /// UTF-16, little-endian, with a byte-order mark.
    #[serde(rename = "utf-16le")]
    Utf16Le,
    /// UTF-16, big-endian, with a byte-order mark.
    #[serde(rename = "utf-16be")]
    Utf16Be,
    /// Windows-1252 (bytes that are not valid UTF-8).
    #[serde(rename = "windows-1252")]
    Windows1252,
}

/// Problems that make a whole file unreadable (nothing is imported).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CsvError {
    /// The file has no header line.
    #[error("the file is empty")]
    Empty,
    /// The file is binary (e.g. a spreadsheet saved as .xlsx).
    #[error("the file is not text (it contains NUL bytes); export the search as CSV")]
    NotText,
    /// Required columns are missing.
    #[error("{0}")]
    MissingColumns(String),
    /// Two headers match the same column.
    #[error("{0}")]
    AmbiguousColumn(String),
    /// `--map` is malformed.
    #[error("--map: {0}")]
    BadMap(String),
    /// `--preset` names no preset.
    #[error("--preset: {0}")]
    BadPreset(String),
    /// The header line itself cannot be read (the message names its line).
    #[error("{0}")]
    BadHeader(String),
    /// The file is over `max_extract_bytes` (assets/limits.json): refused
    /// before any of it is read, from the CLI and the desktop alike.
    #[error("the file is {size} bytes, larger than {cap} (the cap in limits.json); export a shorter period")]
    TooLarge {
        /// The file's size in bytes.
        size: u64,
        /// The cap in bytes.
        cap: u64,
    },
    /// Reading the file failed part-way (a disk or network error).
    #[error("the file could not be read: {0}")]
    Unreadable(String),
}

/// Decodes the file: a BOM decides; else UTF-8 if valid; else Windows-1252.
pub fn decode(bytes: &[u8]) -> Result<(Cow<'_, str>, TextEncoding), CsvError> {
    let (text, encoding) = if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        (
            encoding_rs::UTF_8.decode_without_bom_handling(rest).0,
            TextEncoding::Utf8Bom,
        )
    } else if bytes.starts_with(b"\xFF\xFE") {
        (
            encoding_rs::UTF_16LE.decode_with_bom_removal(bytes).0,
            TextEncoding::Utf16Le,
        )
    } else if bytes.starts_with(b"\xFE\xFF") {
        (
            encoding_rs::UTF_16BE.decode_with_bom_removal(bytes).0,
            TextEncoding::Utf16Be,
        )
    } else {
        match std::str::from_utf8(bytes) {
            Ok(s) => (Cow::Borrowed(s), TextEncoding::Utf8),
            Err(_) => (
                encoding_rs::WINDOWS_1252
                    .decode_without_bom_handling(bytes)
                    .0,
                TextEncoding::Windows1252,
            ),
        }
    };
    if text.contains('\0') {
        return Err(CsvError::NotText);
    }
    if text.trim().is_empty() {
        return Err(CsvError::Empty);
    }
    Ok((text, encoding))
}

/// A header as a column key: lower case, runs of anything but letters and
/// digits as one underscore, none at the ends ("Patient ID" → `patient_id`).
fn header_key(h: &str) -> String {
    let mut out = String::with_capacity(h.len());
    let mut gap = false;
    for c in h.trim().trim_start_matches('\u{feff}').chars() {
        if c.is_alphanumeric() {
            if gap && !out.is_empty() {
                out.push('_');
            }
            gap = false;
            out.extend(c.to_lowercase());
        } else {
            gap = true;
        }
    }
    out
}

/// One data row, fields trimmed and checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Row<'a> {
    /// Line in the file where the row starts (the header is line 1).
    pub line: u64,
    /// The practice's patient identifier.
    pub patient_id: &'a str,
    /// Issue date.
    pub issue_date: NaiveDate,
    /// Product description.
    pub drug: &'a str,
    /// Dose instruction (may be empty).
    pub dose: &'a str,
    /// Quantity issued (`None` when blank).
    pub quantity: Option<f64>,
    /// Age in years.
    pub age: Option<f64>,
    /// Sex.
    pub sex: Option<Sex>,
    /// NHS number, checked.
    pub nhs_number: Option<NhsNumber>,
    /// Optional fields that were present but not usable, and so left out (one sentence each).
    pub warnings: Vec<String>,
}

/// A row that cannot be imported, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct RowProblem {
    /// Line in the file (the header is line 1).
    #[ts(type = "number")]
    pub line: u64,
    /// The column at fault, if one is (standard name).
    pub column: Option<String>,
    /// What is wrong, in words.
    pub reason: String,
}

/// What reading a row gave.
#[derive(Debug, Clone, PartialEq)]
pub enum RowOutcome<'a> {
    /// A usable row.
    Row(Row<'a>),
    /// A row that is not understood.
    Problem(RowProblem),
}

/// An extract with its header read and its columns found.
#[derive(Debug)]
pub struct Extract<'a> {
    text: Cow<'a, str>,
    /// How the bytes were decoded.
    pub encoding: TextEncoding,
    /// The field delimiter.
    pub delimiter: u8,
    /// The header names as written.
    pub headers: Vec<String>,
    /// Index of each column's field, in [`Column::ALL`] order (`None`: absent, optional).
    columns: [Option<usize>; 9],
    /// Byte offset of the first data row.
    data_start: usize,
    /// Line number at `data_start`.
    data_line: u64,
    /// Lines above the header that were skipped: not column headings (a
    /// report's title or run date), found before the line that names every
    /// required column. Empty when the header is the first line.
    pub title_lines: Vec<u64>,
}

/// How many non-empty lines above the header may be skipped as a title (a
/// clinical system's report name, run date or population count): the header
/// is the first line that names every required column.
pub const MAX_TITLE_LINES: usize = 10;

/// The columns `line` names as a header: its delimiter, the headers as
/// written and each column's field; or why it is not the extract's header.
#[allow(clippy::type_complexity)]
fn read_header(
    line: &str,
    line_no: u64,
    map: &ColumnMap,
) -> Result<(u8, Vec<String>, [Option<usize>; 9]), (usize, CsvError)> {
    let delimiter = sniff_delimiter(line);
    let mut record = ::csv::StringRecord::new();
    let mut scratch = String::new();
    let required = Column::ALL.into_iter().filter(|c| c.required()).count();
    if let Err(e) = split_line(line, delimiter, &mut record, &mut scratch) {
        return Err((
            required,
            CsvError::BadHeader(format!(
                "line {line_no} (header): field {}: {}",
                e.field + 1,
                e.reason()
            )),
        ));
    }
    let headers: Vec<String> = record.iter().map(|h| h.trim().to_string()).collect();
    let keys: Vec<String> = headers.iter().map(|h| header_key(h)).collect();
    let mut columns = [None; 9];
    let mut missing = Vec::new();
    for (slot, column) in columns.iter_mut().zip(Column::ALL) {
        let wanted = map
            .header_for(column)
            .map_or_else(|| column.as_str().to_string(), header_key);
        let found: Vec<usize> = keys
            .iter()
            .enumerate()
            .filter(|(_, k)| **k == wanted)
            .map(|(i, _)| i)
            .collect();
        match found.as_slice() {
            [] if column.required() => missing.push(match map.header_for(column) {
                Some(h) => format!("{column} (mapped to '{h}')"),
                None => column.to_string(),
            }),
            [] => {}
            [i] => *slot = Some(*i),
            _ => {
                return Err((
                    0,
                    CsvError::AmbiguousColumn(format!(
                        "line {line_no} (header): {} columns match {column}; name one with --map {column}=<header>",
                        found.len()
                    )),
                ))
            }
        }
    }
    if !missing.is_empty() {
        let shown: Vec<&str> = headers.iter().map(String::as_str).collect();
        return Err((
            missing.len(),
            CsvError::MissingColumns(format!(
                "line {line_no} (header): missing column{} {}; the header has: {}. Use --map to name other headers, e.g. --map 'patient_id=Patient ID,issue_date=Date'",
                if missing.len() == 1 { "" } else { "s" },
                missing.join(", "),
                if shown.is_empty() { "(nothing)".to_string() } else { shown.join(", ") }
            )),
        ));
    }
    Ok((delimiter, headers, columns))
}

/// A stretch of the data rows that can be read on its own: it starts at the
/// beginning of a row (never inside a quoted field).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
    /// Line number at `start`.
    pub first_line: u64,
}

/// Limits on optional patient fields, from the reference tables.
#[derive(Debug, Clone, Copy)]
pub struct FieldLimits {
    /// Accepted ages (inclusive).
    pub age: (f64, f64),
}

fn sniff_delimiter(text: &str) -> u8 {
    let first = text.lines().next().unwrap_or("");
    let mut best = (b',', first.matches(',').count());
    for d in [b';', b'\t', b'|'] {
        let n = first.bytes().filter(|b| *b == d).count();
        if n > best.1 {
            best = (d, n);
        }
    }
    best.0
}

impl<'a> Extract<'a> {
    /// Decodes `bytes`, reads the header and finds the columns (`map` names
    /// headers that differ from the standard names).
    pub fn open(bytes: &'a [u8], map: &ColumnMap) -> Result<Extract<'a>, CsvError> {
        let (text, encoding) = decode(bytes)?;
        Extract::open_text(text, encoding, map)
    }

    /// [`Extract::open`] for text already decoded: the whole file, or (when a
    /// file is read in chunks) its first chunk, whose rows after the header
    /// are then read with [`Extract::rows_text`] like every later chunk.
    pub fn open_text(
        text: Cow<'a, str>,
        encoding: TextEncoding,
        map: &ColumnMap,
    ) -> Result<Extract<'a>, CsvError> {
        // The header is the first line that is not empty, unless it does not
        // name every required column and one of the next few lines does: then
        // the lines above that one are a title (a report's name, its run date),
        // skipped and named in `title_lines`. Each candidate is read with the
        // same one-line tokeniser as the rows, so a stray quote in it cannot
        // swallow the file.
        let tb = text.as_bytes();
        let mut pos = 0usize;
        let mut line_no = 1u64;
        // When no line is the header, the problem named is that of the line
        // nearest to being one (the fewest required columns missing; the
        // first such), so a title above a header with a misspelt heading
        // does not hide the misspelling.
        let mut nearest: Option<(usize, CsvError)> = None;
        let mut title_lines: Vec<u64> = Vec::new();
        let found = loop {
            if pos >= tb.len() || title_lines.len() > MAX_TITLE_LINES {
                return Err(nearest.map_or(CsvError::Empty, |(_, e)| e));
            }
            let (end, next) = line_end(tb, pos);
            let content = text.get(pos..end).unwrap_or("");
            let this_line = line_no;
            pos = next;
            line_no += 1;
            if content.is_empty() {
                continue;
            }
            match read_header(content, this_line, map) {
                Ok(found) => break found,
                Err((missing, e)) => {
                    if nearest.as_ref().is_none_or(|(m, _)| missing < *m) {
                        nearest = Some((missing, e));
                    }
                    title_lines.push(this_line);
                }
            }
        };
        let (delimiter, headers, columns) = found;
        let data_start = pos;
        let data_line = line_no;
        Ok(Extract {
            text,
            encoding,
            delimiter,
            headers,
            columns,
            data_start,
            data_line,
            title_lines,
        })
    }

    /// Size of the decoded text in bytes (for progress).
    pub fn len(&self) -> usize {
        self.text.len()
    }

    /// Whether the decoded text is empty (never, once opened).
    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    /// All the data rows as one span.
    pub fn all(&self) -> Span {
        Span {
            start: self.data_start,
            end: self.text.len(),
            first_line: self.data_line,
        }
    }

    /// The data rows cut into about `parts` spans of similar size, each
    /// starting at a row (a cut is never inside a quoted field), for reading in parallel.
    pub fn split(&self, parts: usize) -> Vec<Span> {
        split_span(self.text.as_bytes(), self.all(), parts)
    }

    /// The text after the header (its first data line is [`Extract::all`]'s `first_line`).
    pub fn data(&self) -> &str {
        self.text.get(self.data_start..).unwrap_or("")
    }

    /// Reads every data row in order, calling `each` with the row (or its
    /// problem) and the byte offset reached. Rows dated after `today` are problems.
    pub fn rows(
        &self,
        today: NaiveDate,
        limits: FieldLimits,
        each: impl FnMut(RowOutcome<'_>, u64),
    ) {
        self.rows_in(self.all(), today, limits, each);
    }

    /// [`Extract::rows`] for one span.
    pub fn rows_in(
        &self,
        span: Span,
        today: NaiveDate,
        limits: FieldLimits,
        each: impl FnMut(RowOutcome<'_>, u64),
    ) {
        let text = self.text.get(span.start..span.end).unwrap_or("");
        self.rows_text(
            text,
            span.first_line,
            span.start as u64,
            today,
            limits,
            each,
        );
    }

    /// Reads the data rows of `text` (whole lines of this extract's data,
    /// from any part of the file), the first being line `first_line`; offsets
    /// given to `each` are counted from `base`.
    pub fn rows_text(
        &self,
        text: &str,
        first_line: u64,
        base: u64,
        today: NaiveDate,
        limits: FieldLimits,
        mut each: impl FnMut(RowOutcome<'_>, u64),
    ) {
        let bytes = text.as_bytes();
        let mut record = ::csv::StringRecord::new();
        let mut scratch = String::new();
        let width = self.headers.len();
        let byte_of = |b: usize| base + b as u64;
        // One record per physical line: every line is a row, a problem, or
        // blank, and a problem in one line never reaches the next.
        let (mut pos, mut line) = (0usize, first_line);
        while pos < bytes.len() {
            let (end, next) = line_end(bytes, pos);
            let content = text.get(pos..end).unwrap_or("");
            let this_line = line;
            line += 1;
            pos = next;
            let offset = byte_of(next);
            if content.is_empty() {
                continue;
            }
            if let Err(e) = split_line(content, self.delimiter, &mut record, &mut scratch) {
                let column = self.column_of_field(e.field);
                each(
                    RowOutcome::Problem(RowProblem {
                        line: this_line,
                        column: column.map(|c| c.to_string()),
                        reason: format!(
                            "{}: {}; the row is left out and reading goes on at the next line",
                            column.map_or_else(
                                || format!("field {}", e.field + 1),
                                |c| c.to_string()
                            ),
                            e.reason()
                        ),
                    }),
                    offset,
                );
                continue;
            }
            // A line of empty fields (a trailing ",,,," from a spreadsheet) is not a row.
            if record.iter().all(|f| f.trim().is_empty()) {
                continue;
            }
            if record.len() != width {
                each(
                    RowOutcome::Problem(RowProblem {
                        line: this_line,
                        column: None,
                        reason: format!(
                            "the row has {} fields but the header has {width}",
                            record.len()
                        ),
                    }),
                    offset,
                );
                continue;
            }
            each(
                read_row(&record, this_line, &self.columns, today, limits),
                offset,
            );
        }
    }

    /// The column read from field `index`, if it is one of ours.
    fn column_of_field(&self, index: usize) -> Option<Column> {
        Column::ALL
            .into_iter()
            .find(|c| self.columns[*c as usize] == Some(index))
    }
}

/// `whole` cut into about `parts` spans of similar size, each starting at a
/// row (a cut is never inside a quoted field), for reading in parallel.
pub fn split_span(bytes: &[u8], whole: Span, parts: usize) -> Vec<Span> {
    let len = whole.end - whole.start;
    if parts <= 1 || len < parts * 4096 {
        return vec![whole];
    }
    let mut spans = Vec::with_capacity(parts);
    let (mut start, mut first_line) = (whole.start, whole.first_line);
    let mut lines = 0u64;
    let mut i = whole.start;
    for k in 1..parts {
        let target = whole.start + len * k / parts;
        // Every record is one physical line (a quoted field never runs
        // over a line end, see `split_line`), so any line break past the
        // target is a cut: a stray quote cannot stop the file being split.
        let mut cut = None;
        while i < whole.end {
            let b = bytes[i];
            i += 1;
            let ends_line = b == b'\n' || (b == b'\r' && bytes.get(i) != Some(&b'\n'));
            if ends_line {
                lines += 1;
                if i > target {
                    cut = Some(i);
                    break;
                }
            }
        }
        let Some(cut) = cut.filter(|c| *c < whole.end) else {
            break;
        };
        spans.push(Span {
            start,
            end: cut,
            first_line,
        });
        start = cut;
        first_line = whole.first_line + lines;
    }
    spans.push(Span {
        start,
        end: whole.end,
        first_line,
    });
    spans
}

/// The end of the line starting at `pos` (exclusive) and where the next line
/// starts: a line ends at `\n`, `\r\n` or a lone `\r` (old Mac exports), or at
/// the end of the text.
fn line_end(bytes: &[u8], pos: usize) -> (usize, usize) {
    match bytes[pos..].iter().position(|b| *b == b'\n' || *b == b'\r') {
        None => (bytes.len(), bytes.len()),
        Some(k) => {
            let end = pos + k;
            if bytes[end] == b'\r' && bytes.get(end + 1) == Some(&b'\n') {
                (end, end + 2)
            } else {
                (end, end + 1)
            }
        }
    }
}

/// A line that cannot be split into fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct LineError {
    /// The field (from 0) whose opening quote is not closed.
    field: usize,
}

impl LineError {
    fn reason(self) -> &'static str {
        "an opening quote (\") is not closed on this line (a stray quote, or a field that runs over a line end, which extracts never have)"
    }
}

/// Splits one physical line into fields, as RFC 4180 with one difference: a
/// quoted field must close on its own line. A quote that opens a field and is
/// not closed is reported at its line, so it cannot absorb the rest of the
/// file (as it did with a streaming CSV reader: one stray quote on line 2 hid
/// every later row). Inside a quoted field `""` is a quote and the delimiter
/// is text; after the closing quote, text up to the delimiter is kept; a
/// quote inside an unquoted field is text (as Excel and the csv crate read them).
fn split_line(
    line: &str,
    delimiter: u8,
    record: &mut ::csv::StringRecord,
    scratch: &mut String,
) -> Result<(), LineError> {
    record.clear();
    let bytes = line.as_bytes();
    let mut field = 0usize;
    let mut i = 0usize;
    loop {
        if bytes.get(i) == Some(&b'"') {
            // Quoted field. Positions are at ASCII bytes, so slices are on
            // character boundaries.
            scratch.clear();
            i += 1;
            let mut run = i;
            loop {
                match bytes[i..].iter().position(|b| *b == b'"') {
                    None => return Err(LineError { field }),
                    Some(k) => {
                        let q = i + k;
                        scratch.push_str(&line[run..q]);
                        if bytes.get(q + 1) == Some(&b'"') {
                            scratch.push('"');
                            i = q + 2;
                            run = i;
                        } else {
                            i = q + 1;
                            break;
                        }
                    }
                }
            }
            let rest = bytes[i..]
                .iter()
                .position(|b| *b == delimiter)
                .map_or(bytes.len(), |k| i + k);
            scratch.push_str(&line[i..rest]);
            record.push_field(scratch);
            i = rest;
        } else {
            let end = bytes[i..]
                .iter()
                .position(|b| *b == delimiter)
                .map_or(bytes.len(), |k| i + k);
            record.push_field(&line[i..end]);
            i = end;
        }
        if i >= bytes.len() {
            return Ok(());
        }
        // At a delimiter: the next field starts after it (a trailing
        // delimiter makes a last, empty field).
        i += 1;
        field += 1;
        if i == bytes.len() {
            record.push_field("");
            return Ok(());
        }
    }
}

fn problem(line: u64, column: Column, reason: String) -> RowOutcome<'static> {
    RowOutcome::Problem(RowProblem {
        line,
        column: Some(column.to_string()),
        reason: format!("{column}: {reason}"),
    })
}

fn read_row<'r>(
    record: &'r ::csv::StringRecord,
    line: u64,
    columns: &[Option<usize>; 9],
    today: NaiveDate,
    limits: FieldLimits,
) -> RowOutcome<'r> {
    let field = |c: Column| -> &'r str {
        columns[c as usize]
            .and_then(|i| record.get(i))
            .map_or("", str::trim)
    };
    // A record deleted in the clinical system was never (or is no longer)
    // an issue: reported, whatever else the row holds.
    let removed = field(Column::Removed);
    match removed.to_ascii_lowercase().as_str() {
        "" | "0" | "false" => {}
        "1" | "true" => {
            return problem(
                line,
                Column::Removed,
                "the record is marked deleted in the clinical system; not imported".into(),
            )
        }
        _ => {
            return problem(
                line,
                Column::Removed,
                format!("'{removed}' is not 0 or 1 (1 marks a deleted record)"),
            )
        }
    }
    let patient_id = field(Column::PatientId);
    if patient_id.is_empty() {
        return problem(line, Column::PatientId, "empty".into());
    }
    let date_text = field(Column::IssueDate);
    let issue_date = match parse_date(date_text) {
        Ok(d) => d,
        Err(e) => return problem(line, Column::IssueDate, e),
    };
    if issue_date > today {
        return problem(
            line,
            Column::IssueDate,
            format!("{issue_date} is after today ({today})"),
        );
    }
    let drug = field(Column::Drug);
    if drug.is_empty() {
        return problem(line, Column::Drug, "empty".into());
    }
    let quantity = match parse_quantity(field(Column::Quantity)) {
        Ok(q) => q,
        Err(e) => return problem(line, Column::Quantity, e),
    };
    let mut warnings = Vec::new();
    let age = match field(Column::Age) {
        "" => None,
        a => match a.parse::<f64>() {
            Ok(x) if x.is_finite() && x >= limits.age.0 && x <= limits.age.1 => Some(x),
            _ => {
                warnings.push(format!(
                    "age '{a}' is not an age in years ({} to {}); left out",
                    crate::vocabulary::num(limits.age.0),
                    crate::vocabulary::num(limits.age.1)
                ));
                None
            }
        },
    };
    let sex = match field(Column::Sex) {
        "" => None,
        s => match parse_sex(s) {
            Some(x) => Some(x),
            None => {
                warnings.push(format!(
                    "sex '{s}' is not recognised (use F, M, female, male, other or unknown); left out"
                ));
                None
            }
        },
    };
    let nhs_number = match field(Column::NhsNumber) {
        "" => None,
        n => match NhsNumber::parse(n) {
            Ok(x) => Some(x),
            Err(e) => {
                warnings.push(format!("NHS number left out: {e}"));
                None
            }
        },
    };
    RowOutcome::Row(Row {
        line,
        patient_id,
        issue_date,
        drug,
        dose: field(Column::Dose),
        quantity,
        age,
        sex,
        nhs_number,
        warnings,
    })
}

fn parse_sex(s: &str) -> Option<Sex> {
    match s.trim().to_ascii_lowercase().as_str() {
        "f" | "female" | "woman" => Some(Sex::Female),
        "m" | "male" | "man" => Some(Sex::Male),
        "o" | "other" | "i" | "indeterminate" => Some(Sex::Other),
        "u" | "unknown" | "not known" | "not stated" | "x" => Some(Sex::Unknown),
        _ => None,
    }
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];

/// Reads an issue date: ISO (`2026-03-14`) or UK day-first (`14/03/2026`,
/// `14-03-2026`, `14.03.2026`, `14-Mar-2026`, `14 March 2026`); a time after
/// the date is ignored. Four-digit years only: "14/03/26" could be 1926.
pub fn parse_date(text: &str) -> Result<NaiveDate, String> {
    let t = text.trim();
    if t.is_empty() {
        return Err("empty".into());
    }
    let bad = || format!("'{t}' is not a date (use YYYY-MM-DD or DD/MM/YYYY)");
    // Drop a time: "2026-03-14T09:30:00", "14/03/2026 00:00".
    let date_part = match t.find(':') {
        Some(colon) => {
            let head = &t[..colon];
            t[..head.rfind(['T', ' ']).unwrap_or(head.len())].trim()
        }
        None => t,
    };
    let mut parts = date_part
        .split(['-', '/', '.', ' '])
        .filter(|p| !p.is_empty());
    let (Some(a), Some(b), Some(c), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    let number = |s: &str| s.parse::<u32>().ok();
    let month = |s: &str| -> Option<u32> {
        number(s).or_else(|| {
            let l = s.to_ascii_lowercase();
            MONTHS
                .iter()
                .position(|m| l.len() >= 3 && l.starts_with(m))
                .map(|i| i as u32 + 1)
        })
    };
    let (y, m, d) = if a.len() == 4 {
        (number(a), month(b), number(c))
    } else {
        if c.len() != 4 {
            return Err(format!(
                "'{t}' has a two-digit year; give the year in full (DD/MM/YYYY)"
            ));
        }
        (number(c), month(b), number(a))
    };
    let (Some(y), Some(m), Some(d)) = (y, m, d) else {
        return Err(bad());
    };
    let date = NaiveDate::from_ymd_opt(y as i32, m, d)
        .ok_or_else(|| format!("'{t}' is not a real date (day {d}, month {m}, year {y})"))?;
    if date.year() < 1900 {
        return Err(format!("'{t}' is before 1900"));
    }
    Ok(date)
}

/// Reads a quantity: a positive number, perhaps with a unit ("56", "56.0",
/// "300 ml", "1,000"); blank is `None`.
pub fn parse_quantity(text: &str) -> Result<Option<f64>, String> {
    let t = text.trim();
    if t.is_empty() {
        return Ok(None);
    }
    // Most quantities are plain numbers.
    if t.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        if let Ok(q) = t.parse::<f64>() {
            return if q.is_finite() && q > 0.0 {
                Ok(Some(q))
            } else {
                Err(format!("must be greater than 0 (got {t})"))
            };
        }
    }
    let digits: String = t
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == ',')
        .filter(|c| *c != ',')
        .collect();
    let rest = t[t
        .char_indices()
        .find(|(_, c)| !(c.is_ascii_digit() || *c == '.' || *c == ','))
        .map_or(t.len(), |(i, _)| i)..]
        .trim();
    let unit_ok = rest.is_empty() || rest.chars().all(|c| c.is_alphabetic() || c == ' ');
    match digits.parse::<f64>() {
        Ok(q) if unit_ok && q.is_finite() && q > 0.0 => Ok(Some(q)),
        Ok(q) if unit_ok && q <= 0.0 => Err(format!("must be greater than 0 (got {t})")),
        _ => Err(format!("'{t}' is not a number")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    const LIMITS: FieldLimits = FieldLimits { age: (0.0, 120.0) };

    fn today() -> NaiveDate {
        d(2026, 11, 24)
    }

    fn collect(bytes: &[u8], map: &ColumnMap) -> (Vec<String>, Vec<RowProblem>, TextEncoding) {
        let e = Extract::open(bytes, map).unwrap();
        let mut rows = Vec::new();
        let mut problems = Vec::new();
        e.rows(today(), LIMITS, |r, _| match r {
            RowOutcome::Row(r) => rows.push(format!(
                "{}|{}|{}|{}|{}|{:?}",
                r.line, r.patient_id, r.issue_date, r.drug, r.dose, r.quantity
            )),
            RowOutcome::Problem(p) => problems.push(p),
        });
        (rows, problems, e.encoding)
    }

    #[test]
    fn dates_iso_and_uk() {
        for (text, want) in [
            ("2026-03-14", d(2026, 3, 14)),
            ("14/03/2026", d(2026, 3, 14)),
            ("4/3/2026", d(2026, 3, 4)),
            ("14-03-2026", d(2026, 3, 14)),
            ("14.03.2026", d(2026, 3, 14)),
            ("14-Mar-2026", d(2026, 3, 14)),
            ("14 March 2026", d(2026, 3, 14)),
            ("2026-03-14T09:30:00", d(2026, 3, 14)),
            ("14/03/2026 00:00", d(2026, 3, 14)),
            (" 2026-3-4 ", d(2026, 3, 4)),
        ] {
            assert_eq!(parse_date(text), Ok(want), "{text}");
        }
        for (text, why) in [
            ("", "empty"),
            ("31/02/2026", "not a real date"),
            ("2026-13-01", "not a real date"),
            ("14/03/26", "two-digit year"),
            ("yesterday", "not a date"),
            ("03/14/2026", "not a real date"),
            ("1800-01-01", "before 1900"),
        ] {
            let e = parse_date(text).unwrap_err();
            assert!(e.contains(why), "{text}: {e}");
        }
    }

    #[test]
    fn a_row_marked_deleted_is_reported_not_imported() {
        let csv = "Pat,When,What,How,Qty,RemovedData\n\
                   1,14 Mar 2026 10:23:00,Morphine 10mg tablets,1 bd,56 tablet,0\n\
                   2,14 Mar 2026 10:23:00,Morphine 10mg tablets,1 bd,56 tablet,1\n\
                   3,14 Mar 2026 10:23:00,Morphine 10mg tablets,1 bd,56 tablet,\n\
                   4,14 Mar 2026 10:23:00,Morphine 10mg tablets,1 bd,56 tablet,maybe\n";
        let map = ColumnMap::parse(
            "patient_id=Pat,issue_date=When,drug=What,dose=How,quantity=Qty,removed=RemovedData",
        )
        .unwrap();
        let e = Extract::open(csv.as_bytes(), &map).unwrap();
        let today = d(2026, 11, 24);
        let limits = FieldLimits { age: (0.0, 130.0) };
        let mut rows = Vec::new();
        let mut problems = Vec::new();
        e.rows(today, limits, |o, _| match o {
            RowOutcome::Row(r) => rows.push((r.patient_id.to_string(), r.issue_date, r.quantity)),
            RowOutcome::Problem(p) => problems.push((p.line, p.column, p.reason)),
        });
        assert_eq!(
            rows,
            vec![
                ("1".to_string(), d(2026, 3, 14), Some(56.0)),
                ("3".to_string(), d(2026, 3, 14), Some(56.0))
            ]
        );
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert_eq!(problems[0].0, 3);
        assert_eq!(problems[0].1.as_deref(), Some("removed"));
        assert!(problems[0].2.contains("deleted"), "{problems:?}");
        assert_eq!(problems[1].0, 5);
        assert!(
            problems[1].2.contains("'maybe' is not 0 or 1"),
            "{problems:?}"
        );
    }

    #[test]
    fn quantities() {
        assert_eq!(parse_quantity("56"), Ok(Some(56.0)));
        assert_eq!(parse_quantity(" 56.0 "), Ok(Some(56.0)));
        assert_eq!(parse_quantity("300 ml"), Ok(Some(300.0)));
        assert_eq!(parse_quantity("1,000"), Ok(Some(1000.0)));
        assert_eq!(parse_quantity(""), Ok(None));
        assert!(parse_quantity("0").unwrap_err().contains("greater than 0"));
        assert!(parse_quantity("abc").unwrap_err().contains("not a number"));
        assert!(parse_quantity("5-10").unwrap_err().contains("not a number"));
    }

    #[test]
    fn headers_match_case_insensitively_and_by_map() {
        let csv = "Patient ID,Issue Date,DRUG,Dose,Quantity\nP1,2026-01-02,Morphine 10mg tablets,1 bd,56\n";
        let (rows, problems, enc) = collect(csv.as_bytes(), &ColumnMap::default());
        assert_eq!(
            rows,
            ["2|P1|2026-01-02|Morphine 10mg tablets|1 bd|Some(56.0)"]
        );
        assert!(problems.is_empty());
        assert_eq!(enc, TextEncoding::Utf8);

        let other = "Patient No;Date;Medication;Directions;Qty\nP1;02/01/2026;Morphine 10mg tablets;1 bd;56\n";
        let map = ColumnMap::parse(
            "patient_id=Patient No, issue_date=date,drug=Medication,dose=Directions,quantity=QTY",
        )
        .unwrap();
        let (rows, _, _) = collect(other.as_bytes(), &map);
        assert_eq!(
            rows,
            ["2|P1|2026-01-02|Morphine 10mg tablets|1 bd|Some(56.0)"]
        );

        let e = Extract::open(other.as_bytes(), &ColumnMap::default()).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("missing columns patient_id, issue_date, drug, dose, quantity"),
            "{msg}"
        );
        assert!(msg.contains("Patient No, Date"), "{msg}");
        assert!(msg.contains("--map"), "{msg}");
    }

    #[test]
    fn bad_maps_are_refused() {
        assert!(ColumnMap::parse("patient=Patient")
            .unwrap_err()
            .to_string()
            .contains("accepted: patient_id"));
        assert!(ColumnMap::parse("patient_id").is_err());
        assert!(ColumnMap::parse("patient_id=").is_err());
        assert!(ColumnMap::parse("drug=A,drug=B")
            .unwrap_err()
            .to_string()
            .contains("twice"));
        assert_eq!(ColumnMap::parse("").unwrap(), ColumnMap::default());
    }

    #[test]
    fn encodings_bom_utf16_and_windows_1252() {
        let body = "patient_id,issue_date,drug,dose,quantity\nP1,2026-01-02,Fentanyl 25µg/h patches,½ patch,5\n";
        let mut bom = b"\xEF\xBB\xBF".to_vec();
        bom.extend_from_slice(body.as_bytes());
        let (rows, _, enc) = collect(&bom, &ColumnMap::default());
        assert_eq!(enc, TextEncoding::Utf8Bom);
        assert!(rows[0].contains("25µg/h"), "{rows:?}");

        let cp1252 = encoding_rs::WINDOWS_1252.encode(body).0.into_owned();
        assert!(std::str::from_utf8(&cp1252).is_err());
        let (rows, _, enc) = collect(&cp1252, &ColumnMap::default());
        assert_eq!(enc, TextEncoding::Windows1252);
        assert!(
            rows[0].contains("25µg/h") && rows[0].contains("½ patch"),
            "{rows:?}"
        );

        let mut utf16: Vec<u8> = vec![0xFF, 0xFE];
        for u in body.encode_utf16() {
            utf16.extend_from_slice(&u.to_le_bytes());
        }
        let (rows, _, enc) = collect(&utf16, &ColumnMap::default());
        assert_eq!(enc, TextEncoding::Utf16Le);
        assert_eq!(rows.len(), 1);

        assert_eq!(decode(b"a,b\0c").unwrap_err(), CsvError::NotText);
        assert_eq!(decode(b"  \n").unwrap_err(), CsvError::Empty);
    }

    #[test]
    fn every_row_is_a_row_or_a_problem_with_its_line() {
        let csv = "patient_id,issue_date,drug,dose,quantity,age,sex,nhs_number\n\
                   P1,2026-01-02,Morphine 10mg tablets,1 bd,56,70,F,943 476 5919\n\
                   ,2026-01-02,Morphine 10mg tablets,1 bd,56,,,\n\
                   P2,2027-01-02,Morphine 10mg tablets,1 bd,56,,,\n\
                   P3,2026-01-02,,1 bd,56,,,\n\
                   P4,2026-01-02,Morphine 10mg tablets,1 bd,lots,,,\n\
                   P5,2026-01-02,Morphine 10mg tablets\n\
                   \"P6\",\"2026-01-02\",\"Co-codamol 30mg/500mg tablets\",\"1-2, qds\",\"100\",200,Q,123\n\
                   ,,,,,,,\n\
                   P7,not a date,x,y,1,,,\n";
        let (rows, problems, _) = collect(csv.as_bytes(), &ColumnMap::default());
        assert_eq!(rows.len(), 2, "{rows:?}");
        assert!(rows[1].starts_with("8|P6|2026-01-02|Co-codamol 30mg/500mg tablets|1-2, qds"));
        let lines: Vec<(u64, Option<&str>)> = problems
            .iter()
            .map(|p| (p.line, p.column.as_deref()))
            .collect();
        assert_eq!(
            lines,
            [
                (3, Some("patient_id")),
                (4, Some("issue_date")),
                (5, Some("drug")),
                (6, Some("quantity")),
                (7, None),
                (10, Some("issue_date")),
            ]
        );
        assert!(problems[1].reason.contains("after today"), "{problems:?}");
        assert!(problems[4].reason.contains("3 fields but the header has 8"));
    }

    #[test]
    fn optional_fields_that_are_unusable_are_left_out_with_a_warning() {
        let csv = "patient_id,issue_date,drug,dose,quantity,age,sex,nhs_number\n\
                   P6,2026-01-02,Morphine 10mg tablets,1 bd,56,200,Q,123\n\
                   P7,2026-01-02,Morphine 10mg tablets,1 bd,56,71,male,9434765919\n";
        let e = Extract::open(csv.as_bytes(), &ColumnMap::default()).unwrap();
        let mut rows = Vec::new();
        e.rows(today(), LIMITS, |r, _| {
            if let RowOutcome::Row(r) = r {
                rows.push((
                    r.age,
                    r.sex,
                    r.nhs_number.map(|n| n.as_str().to_string()),
                    r.warnings,
                ));
            }
        });
        assert_eq!(rows[0].0, None);
        assert_eq!(rows[0].1, None);
        assert_eq!(rows[0].2, None);
        assert_eq!(rows[0].3.len(), 3, "{:?}", rows[0].3);
        assert_eq!(
            rows[1],
            (
                Some(71.0),
                Some(Sex::Male),
                Some("9434765919".into()),
                vec![]
            )
        );
    }

    #[test]
    fn line_numbers_count_crlf_and_blank_lines() {
        let csv = "\u{feff}patient_id,issue_date,drug,dose,quantity\r\n\
                   P1,2026-01-02,Morphine 10mg tablets,1 bd,56\r\n\
                   \r\n\
                   P2,bad,Morphine 10mg tablets,1 bd,56\r\n";
        let (rows, problems, _) = collect(csv.as_bytes(), &ColumnMap::default());
        assert!(rows[0].starts_with("2|P1"), "{rows:?}");
        assert_eq!(problems[0].line, 4, "{problems:?} {rows:?}");
        // Old Mac exports end lines with a lone CR.
        let cr = csv.replace("\r\n", "\r");
        let (rows, problems, _) = collect(cr.as_bytes(), &ColumnMap::default());
        assert!(rows[0].starts_with("2|P1"), "{rows:?}");
        assert_eq!(problems[0].line, 4, "{problems:?} {rows:?}");
    }

    /// Issue 20: one unterminated quote on line 2 of a 1,001-line extract
    /// swallowed the other 999 rows into one field ("rows_read 1"). Each
    /// line is now its own record: the bad line is reported and reading
    /// goes on at the next line.
    #[test]
    fn a_stray_quote_is_reported_at_its_line_and_reading_resumes() {
        let mut csv = String::from("patient_id,issue_date,drug,dose,quantity\n");
        csv.push_str("P0,2026-01-02,Morphine 10mg tablets,\"1 bd,56\n");
        for i in 1..1000 {
            csv.push_str(&format!("P{i},2026-01-02,Morphine 10mg tablets,1 bd,56\n"));
        }
        let (rows, problems, _) = collect(csv.as_bytes(), &ColumnMap::default());
        assert_eq!(rows.len(), 999);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].line, 2);
        assert_eq!(problems[0].column.as_deref(), Some("dose"));
        assert!(
            problems[0].reason.contains("quote") && problems[0].reason.contains("next line"),
            "{problems:?}"
        );
        assert!(rows[0].starts_with("3|P1|"), "{rows:?}");
        assert!(rows[998].starts_with("1001|P999|"));

        // The same file cut for parallel reading: the quote does not stop the cuts.
        let e = Extract::open(csv.as_bytes(), &ColumnMap::default()).unwrap();
        assert!(e.split(4).len() > 1);

        // A stray quote on the last line, with no line end.
        let last = "patient_id,issue_date,drug,dose,quantity\nP1,2026-01-02,\"Morphine,1 bd,56";
        let (rows, problems, _) = collect(last.as_bytes(), &ColumnMap::default());
        assert!(rows.is_empty());
        assert_eq!(
            (problems[0].line, problems[0].column.as_deref()),
            (2, Some("drug"))
        );
    }

    #[test]
    fn quoted_fields_keep_delimiters_and_doubled_quotes_on_one_line() {
        let mut r = ::csv::StringRecord::new();
        let mut s = String::new();
        split_line(r#"a,"b,c","say ""hi""",,"x"y,"#, b',', &mut r, &mut s).unwrap();
        assert_eq!(
            r.iter().collect::<Vec<_>>(),
            ["a", "b,c", "say \"hi\"", "", "xy", ""]
        );
        split_line("10\"mg,b", b',', &mut r, &mut s).unwrap();
        assert_eq!(r.iter().collect::<Vec<_>>(), ["10\"mg", "b"]);
        split_line("a;\"b", b';', &mut r, &mut s).unwrap_err();
        assert_eq!(
            split_line("a;\"b\";\"c", b';', &mut r, &mut s),
            Err(LineError { field: 2 })
        );
        split_line("", b',', &mut r, &mut s).unwrap();
        assert_eq!(r.len(), 1);
    }

    #[test]
    fn a_stray_quote_in_the_header_refuses_the_file_at_line_1() {
        let csv = "patient_id,\"issue_date,drug,dose,quantity\nP1,2026-01-02,M,1,1\n";
        let e = Extract::open(csv.as_bytes(), &ColumnMap::default()).unwrap_err();
        assert!(matches!(e, CsvError::BadHeader(_)), "{e:?}");
        assert!(
            e.to_string().contains("line 1") && e.to_string().contains("quote"),
            "{e}"
        );
    }

    /// Lines above the header (a report's title, its run date, a blank line)
    /// are skipped and named: the header is the first line that names every
    /// required column, within the first few lines (issue 16).
    #[test]
    fn title_lines_above_the_header_are_skipped_and_named() {
        let csv = "Opioid issues, run on 14/03/2026\n\n\"Population: 2\";x\npatient_id;issue_date;drug;dose;quantity\nP1;02/01/2026;Morphine 10mg modified-release tablets;1 bd;56\n";
        let e = Extract::open(csv.as_bytes(), &ColumnMap::default()).unwrap();
        assert_eq!(e.title_lines, vec![1, 3]);
        assert_eq!(e.delimiter, b';');
        assert_eq!(e.all().first_line, 5);
        let mut lines = Vec::new();
        e.rows(
            NaiveDate::from_ymd_opt(2026, 3, 14).unwrap(),
            FieldLimits { age: (0.0, 120.0) },
            |o, _| {
                if let RowOutcome::Row(r) = o {
                    lines.push((r.line, r.patient_id.to_string()));
                }
            },
        );
        assert_eq!(lines, vec![(5, "P1".to_string())]);
        // A header on line 1 has no title lines.
        let plain = "patient_id,issue_date,drug,dose,quantity\nP1,02/01/2026,M,1,1\n";
        let e = Extract::open(plain.as_bytes(), &ColumnMap::default()).unwrap();
        assert!(e.title_lines.is_empty());
        assert_eq!(e.all().first_line, 2);
        // No header within the first lines: the first line's problem is named.
        let mut none = String::new();
        for i in 0..=MAX_TITLE_LINES {
            none.push_str(&format!("title {i}\n"));
        }
        none.push_str("patient_id,issue_date,drug,dose,quantity\n");
        let e = Extract::open(none.as_bytes(), &ColumnMap::default()).unwrap_err();
        assert!(
            e.to_string().contains("line 1 (header): missing columns")
                && e.to_string().contains("title 0"),
            "{e}"
        );
        // A title above a header with a misspelt heading: the header's problem is named.
        let misspelt =
            "Opioid issues\npatient_id,issue_date,drug,dsoe,quantity\nP1,02/01/2026,M,1,1\n";
        let e = Extract::open(misspelt.as_bytes(), &ColumnMap::default()).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("line 2 (header): missing column dose;"),
            "{e}"
        );
    }

    #[test]
    fn header_keys() {
        assert_eq!(header_key(" Patient ID "), "patient_id");
        assert_eq!(header_key("\u{feff}NHS-Number"), "nhs_number");
        assert_eq!(
            header_key("Issue  Date (dd/mm/yyyy)"),
            "issue_date_dd_mm_yyyy"
        );
        assert_eq!(sniff_delimiter("a\tb\tc\n"), b'\t');
        assert_eq!(sniff_delimiter("a,b;c\n"), b',');
    }
}
