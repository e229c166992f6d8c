//! The patient leaflet: a plan to reduce opioid pain medicine, printed to take home.
//!
//! Built from a small view-model ([`LeafletInput`]) that the plan code maps onto, and
//! from fixed wording in `assets/text/leaflet-en-GB.json` (every section names its
//! source, so a clinician can review the words without reading code). The same
//! [`Document`] gives the PDF ([`render_leaflet`]) and the plain text
//! ([`leaflet_text`]) that the readability and jargon tests read.
//!
//! [`from_plan`] maps a taper plan ([`crate::taper::Plan`]) onto the view-model:
//! every step with its dates and, per medicine and time of day, exactly which
//! tablets, capsules, patches or millilitres to take.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::pdf::layout::{Block, Column, Document, RowLine, Span, Style, Table, TableRow};
use crate::pdf::{escape_markup, parse_markup, render, Fonts, PdfError, Rendered};

mod from_plan;

pub use from_plan::{from_plan, suggested_next_review, LeafletDetails};

const WORDING_JSON: &str = include_str!("../../assets/text/leaflet-en-GB.json");

/// What can go wrong building a leaflet.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LeafletError {
    /// The input is not usable; `field` is its path, e.g. `steps[2].end`.
    #[error("{field}: {message}")]
    Input {
        /// Field path.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// The wording file is broken (caught by tests before release).
    #[error("leaflet wording: {0}")]
    Wording(String),
    /// Writing the PDF failed.
    #[error(transparent)]
    Pdf(#[from] PdfError),
}

/// The practice's contact details, printed on the leaflet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PracticeDetails {
    /// Practice name, e.g. "Riverside Surgery".
    pub name: String,
    /// Phone number as it should be dialled, e.g. "01632 960 123".
    pub phone: String,
    /// Postal address on one line, if it should be printed.
    #[serde(default)]
    pub address: Option<String>,
}

impl PracticeDetails {
    /// Blank lines to fill in by hand, for a leaflet printed before the
    /// practice's details are set: a leaflet must never leave out who to call.
    pub fn write_in() -> Self {
        const BLANK: &str = "____________________";
        PracticeDetails {
            name: BLANK.into(),
            phone: BLANK.into(),
            address: None,
        }
    }
}

/// What kind of step this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StepKind {
    /// A step at a new, lower dose (also used for the first step).
    Reduce,
    /// A pause: the dose stays as in the previous step.
    Pause,
    /// The day the medicine stops (dose 0). Its `end` date is not printed.
    Stop,
}

/// One dose time within a step: when, and exactly what to take.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeafletDose {
    /// Time of day in everyday words, e.g. "Morning", "Evening", "Every 3 days".
    pub when: String,
    /// Exactly what to take, e.g. "one 30 mg tablet and one 5 mg tablet"
    /// (see [`describe_units`]).
    pub what: String,
}

/// One medicine's doses within a step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepMedicine {
    /// The name the patient sees on the box, brand-neutral, e.g.
    /// "Morphine slow-release tablets".
    pub name: String,
    /// Dose times. Empty means this medicine has been stopped by this step.
    pub doses: Vec<LeafletDose>,
    /// Not part of the plan: kept exactly as before (e.g. a medicine with no
    /// safe conversion). The leaflet says to keep taking it as before.
    #[serde(default)]
    pub held: bool,
    /// Taken only when needed: the most doses a day (the calendar gives a box
    /// for each, never one a day as if it were regular).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_needed_most: Option<u32>,
    /// A patch: the days in this step a new patch goes on, from the plan
    /// (empty when they are not known, e.g. "the same days as now").
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub patch_change_days: Vec<NaiveDate>,
}

/// One step of the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeafletStep {
    /// Step number as the patient sees it, from 1.
    pub number: u32,
    /// First day of the step.
    pub start: NaiveDate,
    /// Last day of the step (inclusive).
    pub end: NaiveDate,
    /// Reduce, pause or stop.
    pub kind: StepKind,
    /// What to take during the step, per medicine. For a stop step, the medicines
    /// that stop (if empty, the leaflet's `medicines` are named).
    pub medicines: Vec<StepMedicine>,
}

/// Everything the leaflet shows. The plan code maps a taper plan onto this.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeafletInput {
    /// The patient's name as they like it written; left off the leaflet if `None`.
    #[serde(default)]
    pub patient_name: Option<String>,
    /// Who to contact.
    pub practice: PracticeDetails,
    /// Date of the next review, from settings or the plan.
    #[serde(default)]
    pub next_review: Option<NaiveDate>,
    /// The medicines being reduced, in plain words, e.g. "morphine slow-release tablets".
    pub medicines: Vec<String>,
    /// Whether any step uses patches (adds the patch advice).
    #[serde(default)]
    pub has_patches: bool,
    /// Whether any medicine is slow-release (adds "swallow whole" advice).
    #[serde(default)]
    pub has_slow_release: bool,
    /// Whether any medicine is taken only when needed (adds advice on those lines).
    #[serde(default)]
    pub has_as_needed: bool,
    /// Medicines the plan keeps unchanged, in plain words (adds "keep taking it as
    /// before; we will talk about it at your review").
    #[serde(default)]
    pub held_medicines: Vec<String>,
    /// The steps, in order.
    pub steps: Vec<LeafletStep>,
    /// Large print (18 pt body) instead of standard clear print (14 pt).
    #[serde(default)]
    pub large_print: bool,
    /// Version of the clinical reference tables the plan used.
    pub reference_version: String,
    /// The date the leaflet is given (printed, and the PDF's date: no clock is read).
    pub issue_date: NaiveDate,
    /// Days of the dose calendar page (0: no calendar): a row a day from the
    /// issue date (or the plan's start, if later) with each dose and a tick box.
    #[serde(default)]
    pub calendar_days: u32,
}

/// A tick box the patient marks when a dose is taken (DejaVu Sans has it).
const TICK_BOX: char = '\u{2610}';

/// The calendar page: a row a day with exactly what to take at each time and a
/// box to tick, from the steps (never computed afresh: the same doses as the
/// step table). A regular dose has one box; a medicine taken only when needed
/// says so with one box per dose allowed that day ("tick one each time"), never
/// one box as if it were a daily dose; a patch has a box on the days a new one
/// goes on (the plan's change days, as the step table prints them) and a
/// reminder, without a box, on the others; where the change days are not known
/// (an unchanged patch: "the same days as now") every day says so.
fn calendar_table(input: &LeafletInput, labels: &Labels) -> Result<Table, LeafletError> {
    let first_day = input.steps.first().map(|s| s.start);
    let mut day = match first_day {
        Some(s) if s > input.issue_date => s,
        _ => input.issue_date,
    };
    let mut rows = Vec::new();
    for _ in 0..input.calendar_days {
        let Some(step) = input
            .steps
            .iter()
            .find(|s| s.start <= day && (day <= s.end || s.kind == StepKind::Stop))
        else {
            break;
        };
        let mut date_lines = vec![day.format("%a %-d %b").to_string()];
        if step.start == day {
            date_lines.push(fill(&labels.calendar_step_starts, |n| {
                (n == "number").then(|| step.number.to_string())
            })?);
        }
        let mut takes: Vec<String> = Vec::new();
        if step.kind == StepKind::Stop {
            let names: Vec<String> = step
                .medicines
                .iter()
                .filter(|m| !m.held && m.doses.is_empty())
                .map(|m| lower_first(&m.name))
                .collect();
            let names = if names.is_empty() {
                input.medicines.clone()
            } else {
                names
            };
            takes.push(fill(&labels.calendar_stop, |n| {
                (n == "medicine").then(|| join_list(&names, &labels.list_and))
            })?);
        }
        let several = step
            .medicines
            .iter()
            .filter(|m| !m.doses.is_empty())
            .count()
            > 1;
        for m in &step.medicines {
            // With several medicines each line names its own, in brackets.
            let whose = if several {
                format!(" ({})", lower_first(&m.name))
            } else {
                String::new()
            };
            if m.doses.is_empty() {
                continue;
            }
            if input.has_patches && is_patch_medicine(m, labels) {
                // The first dose line says which patch; the change days are the plan's.
                let what = m.doses.first().map_or(String::new(), |d| d.what.clone());
                let (template, tick) = if m.patch_change_days.contains(&day) {
                    (&labels.calendar_patch_change, true)
                } else if m.patch_change_days.is_empty() {
                    (&labels.calendar_patch_usual, false)
                } else {
                    (&labels.calendar_patch_keep, false)
                };
                let line = fill(template, |n| match n {
                    "patch" => Some(what.clone()),
                    "medicine" => Some(whose.clone()),
                    _ => None,
                })?;
                takes.push(if tick {
                    format!("{TICK_BOX} {line}")
                } else {
                    line
                });
                continue;
            }
            for d in &m.doses {
                takes.push(match m.as_needed_most {
                    Some(most) => {
                        let boxes = vec![TICK_BOX.to_string(); most as usize].join(" ");
                        let line = fill(&labels.calendar_as_needed, |n| match n {
                            "what" => Some(d.what.clone()),
                            "medicine" => Some(whose.clone()),
                            _ => None,
                        })?;
                        format!("{line} {boxes}")
                    }
                    None => format!("{TICK_BOX} {}: {}{whose}", d.when, d.what),
                });
            }
        }
        let n = takes.len().max(date_lines.len());
        let lines = (0..n)
            .map(|i| {
                RowLine::cells(vec![
                    date_lines
                        .get(i)
                        .map(|t| {
                            if i == 0 {
                                vec![Span::bold(t.clone())]
                            } else {
                                vec![Span::regular(t.clone())]
                            }
                        })
                        .unwrap_or_default(),
                    takes
                        .get(i)
                        .map(|t| vec![Span::regular(t.clone())])
                        .unwrap_or_default(),
                ])
            })
            .collect();
        rows.push(TableRow { lines });
        if step.kind == StepKind::Stop {
            break;
        }
        day = match day.succ_opt() {
            Some(d) => d,
            None => break,
        };
    }
    Ok(Table {
        columns: vec![
            Column {
                header: labels.calendar_date.clone(),
                width: 28.0,
            },
            Column {
                header: labels.calendar_take.clone(),
                width: 72.0,
            },
        ],
        rows,
    })
}

/// Whether a step's medicine is a patch (its dose lines are the patch's,
/// with "New patch on" for the change days).
fn is_patch_medicine(m: &StepMedicine, labels: &Labels) -> bool {
    !m.patch_change_days.is_empty() || m.doses.iter().any(|d| d.when == labels.patch_new_on)
}

// ---------------------------------------------------------------------------
// Wording file

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Condition {
    #[default]
    Always,
    HasPatches,
    HasSlowRelease,
    HasAsNeeded,
    HasHeld,
    HasNextReview,
    NoNextReview,
    HasAddress,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyValue {
    key: String,
    value: String,
    #[serde(default)]
    when: Condition,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "snake_case")]
enum WordingBlockKind {
    Paragraph(String),
    Bullets(Vec<String>),
    Callout(Vec<String>),
    KeyValues(Vec<KeyValue>),
    /// Marks where the step table goes; the value (`true`) carries nothing.
    StepTable(#[allow(dead_code)] bool),
}

#[derive(Debug, Clone, Deserialize)]
struct WordingBlock {
    #[serde(flatten)]
    kind: WordingBlockKind,
    #[serde(default)]
    when: Condition,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Section {
    id: String,
    #[serde(default)]
    heading: Option<String>,
    #[serde(default)]
    when: Condition,
    source: String,
    blocks: Vec<WordingBlock>,
}

/// A word or abbreviation the leaflet must not use.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForbiddenTerm {
    /// The term, matched as a whole word.
    pub term: String,
    /// Whether case matters (so "MR" is caught but the title "Mr" is not).
    pub case_sensitive: bool,
    /// Why it is not allowed, and what to say instead.
    pub why: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Labels {
    document_title: String,
    patient_label: String,
    practice_label: String,
    date_label: String,
    page: String,
    footer: String,
    column_when: String,
    column_what: String,
    step_banner: String,
    pause_banner: String,
    stop_banner: String,
    pause_note: String,
    pause_note_first: String,
    stop_note: String,
    medicine_stopped: String,
    held_note: String,
    as_needed_when: String,
    as_needed_what: String,
    patch_every_days: String,
    patch_every_hours: String,
    patch_every_days_range: String,
    patch_twice_a_week: String,
    patch_new_on: String,
    patch_same_days: String,
    patch_off_when: String,
    patch_off_what: String,
    list_and: String,
    list_then: String,
    it_one: String,
    it_many: String,
    calendar_heading: String,
    calendar_intro: String,
    calendar_date: String,
    calendar_take: String,
    calendar_step_starts: String,
    calendar_stop: String,
    calendar_as_needed: String,
    calendar_patch_change: String,
    calendar_patch_keep: String,
    calendar_patch_usual: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct WordingFile {
    #[allow(dead_code)]
    id: String,
    #[allow(dead_code)]
    title: String,
    version: String,
    #[allow(dead_code)]
    review_date: NaiveDate,
    #[allow(dead_code)]
    source: String,
    #[allow(dead_code)]
    notes: String,
    labels: Labels,
    forbidden_terms: Vec<ForbiddenTerm>,
    sections: Vec<Section>,
}

fn wording() -> Result<&'static WordingFile, LeafletError> {
    static WORDING: OnceLock<Result<WordingFile, LeafletError>> = OnceLock::new();
    WORDING
        .get_or_init(|| {
            let w: WordingFile = serde_json::from_str(WORDING_JSON)
                .map_err(|e| LeafletError::Wording(e.to_string()))?;
            for s in &w.sections {
                if s.source.trim().is_empty() {
                    return Err(LeafletError::Wording(format!(
                        "section {} has no source",
                        s.id
                    )));
                }
            }
            Ok(w)
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// Version of the leaflet wording file (printed at the end of the leaflet).
pub fn wording_version() -> Result<&'static str, LeafletError> {
    Ok(wording()?.version.as_str())
}

/// The terms the leaflet must never contain (from the wording file).
pub fn forbidden_terms() -> Result<&'static [ForbiddenTerm], LeafletError> {
    Ok(wording()?.forbidden_terms.as_slice())
}

/// Every forbidden term found in `text`, as whole words, in order of the list.
pub fn jargon_in(text: &str) -> Result<Vec<String>, LeafletError> {
    let terms = forbidden_terms()?;
    // Split into words keeping inner dots and hyphens ("b.d.", "opioid-naive").
    let words: Vec<&str> = text
        .split(|c: char| !(c.is_alphanumeric() || c == '.' || c == '-' || c == '/'))
        .map(|w| w.trim_matches(|c: char| c == '.' || c == '-' || c == '/'))
        .filter(|w| !w.is_empty())
        .collect();
    let mut found = Vec::new();
    for t in terms {
        let target = t.term.trim_matches('.');
        let hit = words.iter().any(|w| {
            if t.case_sensitive {
                *w == target
            } else {
                w.eq_ignore_ascii_case(target)
            }
        });
        if hit {
            found.push(t.term.clone());
        }
    }
    Ok(found)
}

// ---------------------------------------------------------------------------
// Plain-English helpers for the plan mapping

/// A dose unit the patient handles.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// A tablet of this many milligrams.
    Tablet {
        /// Strength, mg.
        mg: f64,
    },
    /// A capsule of this many milligrams.
    Capsule {
        /// Strength, mg.
        mg: f64,
    },
    /// A tablet or capsule (the form was not recorded), of this many milligrams.
    TabletOrCapsule {
        /// Strength, mg.
        mg: f64,
    },
    /// A combination tablet (co-codamol, co-dydramol, oxycodone with
    /// naloxone), named as on the box: "30 mg/500 mg", "20 mg/10 mg".
    CombinationTablet {
        /// Opioid, mg.
        mg: f64,
        /// The second ingredient (paracetamol or naloxone), mg.
        second_mg: f64,
    },
    /// A combination capsule, named as on the box.
    CombinationCapsule {
        /// Opioid, mg.
        mg: f64,
        /// The second ingredient (paracetamol), mg.
        second_mg: f64,
    },
    /// A patch releasing this many micrograms an hour.
    Patch {
        /// Strength, micrograms per hour.
        micrograms_per_hour: f64,
    },
    /// A measured amount of liquid medicine (the count is ignored).
    Liquid {
        /// Volume, ml.
        ml: f64,
        /// Opioid in that volume, mg.
        mg: f64,
    },
}

/// How many of a unit to take at one time.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct UnitCount {
    /// How many.
    pub count: u32,
    /// Of what.
    pub unit: Unit,
}

/// Everyday words for small counts; people read "two" more easily than "2".
fn count_word(n: u32) -> String {
    const WORDS: [&str; 21] = [
        "no",
        "one",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "ten",
        "eleven",
        "twelve",
        "thirteen",
        "fourteen",
        "fifteen",
        "sixteen",
        "seventeen",
        "eighteen",
        "nineteen",
        "twenty",
    ];
    WORDS
        .get(n as usize)
        .map_or_else(|| n.to_string(), |w| (*w).to_string())
}

/// A strength without a needless ".0": 30 → "30", 52.5 → "52.5", 1.25 → "1.25".
pub fn format_amount(x: f64) -> String {
    let s = format!("{:.2}", x);
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Joins items as people write lists: "a", "a and b", "a, b and c".
pub fn join_list(items: &[String], and: &str) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} {and} {last}", init.join(", ")),
    }
}

/// Describes exactly what to take at one time, in plain words:
/// `one 30 mg tablet and two 5 mg tablets`, `one 25 micrograms/hour patch`, `5 ml of liquid (10 mg)`.
pub fn describe_units(units: &[UnitCount]) -> String {
    let parts: Vec<String> = units
        .iter()
        .map(|u| {
            let n = u.count;
            let plural = n != 1;
            match u.unit {
                Unit::Tablet { mg } => format!(
                    "{} {} mg tablet{}",
                    count_word(n),
                    format_amount(mg),
                    if plural { "s" } else { "" }
                ),
                Unit::Capsule { mg } => format!(
                    "{} {} mg capsule{}",
                    count_word(n),
                    format_amount(mg),
                    if plural { "s" } else { "" }
                ),
                Unit::TabletOrCapsule { mg } => format!(
                    "{} {} mg tablet{s} or capsule{s}",
                    count_word(n),
                    format_amount(mg),
                    s = if plural { "s" } else { "" },
                ),
                Unit::CombinationTablet { mg, second_mg } => format!(
                    "{} {} mg/{} mg tablet{}",
                    count_word(n),
                    format_amount(mg),
                    format_amount(second_mg),
                    if plural { "s" } else { "" }
                ),
                Unit::CombinationCapsule { mg, second_mg } => format!(
                    "{} {} mg/{} mg capsule{}",
                    count_word(n),
                    format_amount(mg),
                    format_amount(second_mg),
                    if plural { "s" } else { "" }
                ),
                Unit::Patch {
                    micrograms_per_hour,
                } => format!(
                    "{} {} micrograms/hour patch{}",
                    count_word(n),
                    format_amount(micrograms_per_hour),
                    if plural { "es" } else { "" }
                ),
                Unit::Liquid { ml, mg } => format!(
                    "{} ml of liquid ({} mg)",
                    format_amount(ml),
                    format_amount(mg)
                ),
            }
        })
        .collect();
    join_list(&parts, "and")
}

/// A date written in full, as patients read it: "Tuesday 1 December 2026".
pub fn long_date(d: NaiveDate) -> String {
    d.format("%A %-d %B %Y").to_string()
}

// ---------------------------------------------------------------------------
// Building the document

struct Ctx<'a> {
    input: &'a LeafletInput,
    vars: BTreeMap<&'static str, String>,
}

impl Ctx<'_> {
    fn holds(&self, c: Condition) -> bool {
        let i = self.input;
        match c {
            Condition::Always => true,
            Condition::HasPatches => i.has_patches,
            Condition::HasSlowRelease => i.has_slow_release,
            Condition::HasAsNeeded => i.has_as_needed,
            Condition::HasHeld => !i.held_medicines.is_empty(),
            Condition::HasNextReview => i.next_review.is_some(),
            Condition::NoNextReview => i.next_review.is_none(),
            Condition::HasAddress => i
                .practice
                .address
                .as_deref()
                .is_some_and(|a| !a.trim().is_empty()),
        }
    }

    fn fill(&self, template: &str) -> Result<String, LeafletError> {
        fill(template, |name| self.vars.get(name).cloned())
    }

    /// The wording's `**bold**` markup read, with the values filled in printed
    /// as they are (a name or practice with `*` in it is never made bold).
    fn markup(&self, template: &str) -> Result<Vec<Span>, LeafletError> {
        let filled = fill(template, |name| {
            self.vars.get(name).map(|v| escape_markup(v))
        })?;
        Ok(parse_markup(&filled))
    }
}

/// Replaces `{name}` placeholders; an unknown name is an error, so a typo in the
/// wording file never prints a raw placeholder.
fn fill(template: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<String, LeafletError> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let close = after.find('}').ok_or_else(|| {
            LeafletError::Wording(format!("unclosed placeholder in {template:?}"))
        })?;
        let name = &after[..close];
        let value = lookup(name).ok_or_else(|| {
            LeafletError::Wording(format!("unknown placeholder {{{name}}} in {template:?}"))
        })?;
        out.push_str(&value);
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn input_err(field: impl Into<String>, message: impl Into<String>) -> LeafletError {
    LeafletError::Input {
        field: field.into(),
        message: message.into(),
    }
}

/// Checks the input, naming the first bad field.
fn validate(input: &LeafletInput, fonts: &Fonts) -> Result<(), LeafletError> {
    let mut texts: Vec<(String, &str, bool)> = Vec::new();
    if let Some(n) = &input.patient_name {
        texts.push(("patient_name".into(), n, false));
    }
    texts.push(("practice.name".into(), &input.practice.name, false));
    texts.push(("practice.phone".into(), &input.practice.phone, false));
    if let Some(a) = &input.practice.address {
        texts.push(("practice.address".into(), a, false));
    }
    texts.push(("reference_version".into(), &input.reference_version, false));
    if input.medicines.is_empty() {
        return Err(input_err("medicines", "must name at least one medicine"));
    }
    for (i, m) in input.medicines.iter().enumerate() {
        texts.push((format!("medicines[{i}]"), m, true));
    }
    for (i, m) in input.held_medicines.iter().enumerate() {
        texts.push((format!("held_medicines[{i}]"), m, true));
    }
    if input.steps.is_empty() {
        return Err(input_err("steps", "must have at least one step"));
    }
    for (si, s) in input.steps.iter().enumerate() {
        if s.end < s.start {
            return Err(input_err(
                format!("steps[{si}].end"),
                format!("must not be before start ({} is before {})", s.end, s.start),
            ));
        }
        if s.kind != StepKind::Stop && s.medicines.iter().all(|m| m.held) {
            return Err(input_err(
                format!("steps[{si}].medicines"),
                "must list what to take (only a stop step may be empty)",
            ));
        }
        for (mi, m) in s.medicines.iter().enumerate() {
            texts.push((format!("steps[{si}].medicines[{mi}].name"), &m.name, true));
            for (di, d) in m.doses.iter().enumerate() {
                let base = format!("steps[{si}].medicines[{mi}].doses[{di}]");
                texts.push((format!("{base}.when"), &d.when, true));
                texts.push((format!("{base}.what"), &d.what, true));
            }
        }
    }
    for (field, text, check_jargon) in texts {
        let field = field.as_str();
        if text.trim().is_empty() {
            return Err(input_err(field, "must not be empty"));
        }
        crate::limits::check_text_len(text.trim()).map_err(|m| input_err(field, m))?;
        // The one print policy of both PDFs (crate::pdf::printable).
        if let Err(problem) = crate::pdf::printable::check(fonts, text.trim()) {
            return Err(input_err(field, problem.to_string()));
        }
        if check_jargon {
            if let Some(term) = jargon_in(text)?.into_iter().next() {
                return Err(input_err(
                    field,
                    format!("uses {term:?}, which patients may not understand: write it out in plain words"),
                ));
            }
        }
    }
    Ok(())
}

fn step_table(ctx: &Ctx<'_>, labels: &Labels) -> Result<Table, LeafletError> {
    let input = ctx.input;
    let mut rows = Vec::new();
    for (i, step) in input.steps.iter().enumerate() {
        let vars = |name: &str| -> Option<String> {
            match name {
                "number" => Some(step.number.to_string()),
                // Non-breaking spaces: a date is never split across lines.
                "start" => Some(long_date(step.start).replace(' ', "\u{a0}")),
                "end" => Some(long_date(step.end).replace(' ', "\u{a0}")),
                "previous" => Some(step.number.saturating_sub(1).to_string()),
                "medicine" => Some(join_list(
                    &if step.medicines.iter().all(|m| m.held) {
                        input.medicines.clone()
                    } else {
                        step.medicines
                            .iter()
                            .filter(|m| !m.held)
                            .map(|m| lower_first(&m.name))
                            .collect()
                    },
                    &labels.list_and,
                )),
                other => ctx.vars.get(other).cloned(),
            }
        };
        let banner = match step.kind {
            StepKind::Reduce => &labels.step_banner,
            StepKind::Pause => &labels.pause_banner,
            StepKind::Stop => &labels.stop_banner,
        };
        let mut lines = vec![RowLine::spanning(parse_markup(&fill(banner, vars)?), true)];
        match step.kind {
            StepKind::Stop => {
                lines.push(RowLine::spanning(
                    parse_markup(&fill(&labels.stop_note, vars)?),
                    false,
                ));
                // Medicines the plan does not change carry on past the stop day;
                // a patch that stops says to take the last one off.
                for m in step
                    .medicines
                    .iter()
                    .filter(|m| m.held || !m.doses.is_empty())
                {
                    medicine_lines(m, labels, &mut lines);
                }
            }
            StepKind::Pause | StepKind::Reduce => {
                if step.kind == StepKind::Pause {
                    let note = if i == 0 {
                        &labels.pause_note_first
                    } else {
                        &labels.pause_note
                    };
                    lines.push(RowLine::spanning(parse_markup(&fill(note, vars)?), false));
                }
                for m in &step.medicines {
                    medicine_lines(m, labels, &mut lines);
                }
            }
        }
        rows.push(TableRow { lines });
    }
    Ok(Table {
        columns: vec![
            Column {
                header: labels.column_when.clone(),
                width: 30.0,
            },
            Column {
                header: labels.column_what.clone(),
                width: 70.0,
            },
        ],
        rows,
    })
}

/// A medicine's lines in a step: its name, a note if it stops or is unchanged by
/// the plan, then one line per dose time.
fn medicine_lines(m: &StepMedicine, labels: &Labels, lines: &mut Vec<RowLine>) {
    lines.push(RowLine::spanning(vec![Span::bold(m.name.clone())], false));
    if m.held {
        lines.push(RowLine::spanning(parse_markup(&labels.held_note), false));
    } else if m.doses.is_empty() {
        lines.push(RowLine::spanning(
            parse_markup(&labels.medicine_stopped),
            false,
        ));
    }
    for d in &m.doses {
        lines.push(RowLine::cells(vec![
            // "Up to 4 times / a day", never "Up to 4 times a / day".
            vec![Span::regular(d.when.replace(" a day", " a\u{a0}day"))],
            vec![Span::regular(
                keep_phrases_together(&d.what).replace(" a day", " a\u{a0}day"),
            )],
        ]));
    }
}

/// Joins the words of each short phrase in a dose ("one 15 mg tablet") with
/// non-breaking spaces, so lines break only between phrases ("... and", ", ").
/// Phrases longer than four words are left to wrap normally.
fn keep_phrases_together(what: &str) -> String {
    what.split(" and ")
        .map(|part| {
            part.split(", ")
                .map(|p| {
                    if p.split(' ').count() <= 4 {
                        p.replace(' ', "\u{a0}")
                    } else {
                        p.to_string()
                    }
                })
                .collect::<Vec<_>>()
                .join(", ")
        })
        .collect::<Vec<_>>()
        .join(" and ")
}

/// "Morphine slow-release tablets" → "morphine slow-release tablets", for use mid-sentence.
fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

/// Builds the leaflet as a layout document (validating the input first).
pub fn leaflet_document(input: &LeafletInput) -> Result<Document, LeafletError> {
    let w = wording()?;
    let fonts = Fonts::get()?;
    validate(input, fonts)?;
    let l = &w.labels;

    let mut vars: BTreeMap<&'static str, String> = BTreeMap::new();
    vars.insert("practice_name", input.practice.name.trim().to_string());
    vars.insert("practice_phone", input.practice.phone.trim().to_string());
    vars.insert(
        "practice_address",
        input
            .practice
            .address
            .as_deref()
            .unwrap_or("")
            .trim()
            .to_string(),
    );
    vars.insert(
        "next_review",
        input.next_review.map(long_date).unwrap_or_default(),
    );
    vars.insert("issue_date", long_date(input.issue_date));
    let meds: Vec<String> = input
        .medicines
        .iter()
        .map(|m| m.trim().to_string())
        .collect();
    vars.insert("medicines", join_list(&meds, &l.list_and));
    let held: Vec<String> = input
        .held_medicines
        .iter()
        .map(|m| m.trim().to_string())
        .collect();
    vars.insert("held_medicines", join_list(&held, &l.list_and));
    vars.insert(
        "held_it",
        if held.len() > 1 {
            l.it_many.clone()
        } else {
            l.it_one.clone()
        },
    );
    vars.insert("wording_version", w.version.clone());
    vars.insert(
        "reference_version",
        input.reference_version.trim().to_string(),
    );
    let ctx = Ctx { input, vars };

    let mut blocks = vec![Block::Title(l.document_title.clone())];
    let mut who = Vec::new();
    if let Some(name) = &input.patient_name {
        who.push((l.patient_label.clone(), vec![Span::bold(name.trim())]));
    }
    who.push((
        l.practice_label.clone(),
        vec![Span::regular(ctx.fill("{practice_name}")?)],
    ));
    who.push((
        l.date_label.clone(),
        vec![Span::regular(ctx.fill("{issue_date}")?)],
    ));
    blocks.push(Block::KeyValues(who));

    for section in &w.sections {
        if !ctx.holds(section.when) {
            continue;
        }
        if let Some(h) = &section.heading {
            blocks.push(Block::Heading(ctx.fill(h)?));
        }
        for b in &section.blocks {
            if !ctx.holds(b.when) {
                continue;
            }
            blocks.push(match &b.kind {
                WordingBlockKind::Paragraph(t) => Block::Paragraph(ctx.markup(t)?),
                WordingBlockKind::Bullets(items) => Block::Bullets(
                    items
                        .iter()
                        .map(|t| ctx.markup(t))
                        .collect::<Result<_, _>>()?,
                ),
                WordingBlockKind::Callout(items) => Block::Callout(
                    items
                        .iter()
                        .map(|t| ctx.markup(t))
                        .collect::<Result<_, _>>()?,
                ),
                WordingBlockKind::KeyValues(pairs) => {
                    let mut out = Vec::new();
                    for kv in pairs {
                        if ctx.holds(kv.when) {
                            out.push((kv.key.clone(), ctx.markup(&kv.value)?));
                        }
                    }
                    Block::KeyValues(out)
                }
                WordingBlockKind::StepTable(_) => Block::Table(step_table(&ctx, l)?),
            });
        }
    }

    if input.calendar_days > 0 {
        let table = calendar_table(input, l)?;
        blocks.push(Block::Heading(l.calendar_heading.clone()));
        blocks.push(Block::Paragraph(parse_markup(&l.calendar_intro)));
        blocks.push(Block::Table(table));
    }

    Ok(Document {
        title: l.document_title.clone(),
        author: input.practice.name.trim().to_string(),
        subject: l.document_title.clone(),
        language: "en-GB".into(),
        blocks,
        page_label: l.page.clone(),
        footer_note: Some(ctx.fill(&l.footer)?),
    })
}

/// The leaflet's text, exactly as printed (without page numbers and footer), one
/// line per paragraph, list item, heading or table line.
pub fn leaflet_text(input: &LeafletInput) -> Result<String, LeafletError> {
    Ok(leaflet_document(input)?.plain_text())
}

/// The layout style the leaflet uses: 14 pt clear print, or 18 pt large print.
pub fn leaflet_style(large_print: bool) -> Style {
    if large_print {
        Style::large_print()
    } else {
        Style::standard()
    }
}

/// Renders the leaflet to PDF bytes. Deterministic: the same input gives the same bytes.
pub fn render_leaflet(input: &LeafletInput) -> Result<Rendered, LeafletError> {
    let doc = leaflet_document(input)?;
    render(&doc, &leaflet_style(input.large_print), input.issue_date).map_err(|e| match e {
        // Only reachable for text that `validate` does not see by field.
        PdfError::Unprintable { .. } => input_err("leaflet", e.to_string()),
        other => other.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wording_file_parses_and_every_placeholder_is_known() {
        let w = wording().expect("wording parses");
        let known = [
            "practice_name",
            "practice_phone",
            "practice_address",
            "next_review",
            "issue_date",
            "medicines",
            "held_medicines",
            "held_it",
            "wording_version",
            "reference_version",
        ];
        let check = |t: &str| {
            fill(t, |n| known.contains(&n).then(|| "x".to_string()))
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(t.matches("**").count() % 2, 0, "unbalanced ** in {t:?}");
        };
        for s in &w.sections {
            assert!(
                !s.source.trim().is_empty(),
                "section {} has no source",
                s.id
            );
            if let Some(h) = &s.heading {
                check(h);
            }
            for b in &s.blocks {
                match &b.kind {
                    WordingBlockKind::Paragraph(t) => check(t),
                    WordingBlockKind::Bullets(v) | WordingBlockKind::Callout(v) => {
                        v.iter().for_each(|t| check(t))
                    }
                    WordingBlockKind::KeyValues(kv) => kv.iter().for_each(|p| {
                        check(&p.key);
                        check(&p.value)
                    }),
                    WordingBlockKind::StepTable(_) => {}
                }
            }
        }
    }

    #[test]
    fn describes_units_in_plain_words() {
        let t = |mg| Unit::Tablet { mg };
        assert_eq!(
            describe_units(&[
                UnitCount {
                    count: 1,
                    unit: t(30.0)
                },
                UnitCount {
                    count: 2,
                    unit: t(5.0)
                }
            ]),
            "one 30 mg tablet and two 5 mg tablets"
        );
        assert_eq!(
            describe_units(&[UnitCount {
                count: 1,
                unit: Unit::Patch {
                    micrograms_per_hour: 52.5
                }
            }]),
            "one 52.5 micrograms/hour patch"
        );
        assert_eq!(
            describe_units(&[UnitCount {
                count: 12,
                unit: Unit::Capsule { mg: 10.0 }
            }]),
            "twelve 10 mg capsules"
        );
        assert_eq!(
            describe_units(&[UnitCount {
                count: 1,
                unit: Unit::Liquid { ml: 2.5, mg: 5.0 }
            }]),
            "2.5 ml of liquid (5 mg)"
        );
    }

    #[test]
    fn long_dates_and_lists() {
        let d = NaiveDate::from_ymd_opt(2026, 12, 1).expect("valid date");
        assert_eq!(long_date(d), "Tuesday 1 December 2026");
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(join_list(&v(&["a"]), "and"), "a");
        assert_eq!(join_list(&v(&["a", "b", "c"]), "and"), "a, b and c");
    }

    #[test]
    fn jargon_is_found_as_whole_words_only() {
        let found =
            jargon_in("Take 1 MR tablet bd and b.d. prn. Mr Smith is odd.").expect("wording");
        assert_eq!(found, vec!["bd", "b.d.", "prn", "MR"]);
        assert!(jargon_in("Tuesday 1 December: one 30 mg tablet")
            .expect("wording")
            .is_empty());
    }
}
