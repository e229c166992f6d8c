//! UK dose instructions as written on prescriptions ("ONE to be taken TWICE a
//! day", "1-2 qds prn", "5ml up to four times a day when required", "apply one
//! patch every 72 hours") → amount a dose, doses a day and whether the dose is
//! taken only when needed.
//!
//! Reading rules (each tested in the table below):
//! - a range of amounts or of doses a day counts at its upper end ("1-2 qds"
//!   is 2 × 4), which is the most the instruction allows; a stated maximum
//!   ("max 8 in 24 hours") caps it;
//! - "every 4-6 hours" allows at most 24 ÷ 4 = 6 doses a day; "weekly" is 1/7;
//! - several parts add up ("one in the morning and two at night" is 3 a day)
//!   and named times of day count once each ("each night at bedtime" is once);
//! - when a count ("twice a day") and an interval ("every 12 hours") are both
//!   given for the same dose, the smaller number of doses a day is used;
//! - "prn", "when required", "up to" make the dose as-needed; with no
//!   maximum number of doses a day the instruction cannot be read;
//! - a missing amount is one unit ("twice daily" is one tablet twice a day);
//! - abbreviations ("bd", "nocte") and the phrases that make an instruction
//!   unreadable ("as directed", "reducing") come from the reference table
//!   `casefinding.json` with their sources. Number words and arithmetic are here.
//!
//! An instruction that cannot be read returns [`Unreadable`] with the reason;
//! the importer then estimates the dose from quantities and intervals.
//! Pure, no IO.

use serde::Serialize;

use super::text::{tokenise, Tok};
use crate::reference::casefinding::{CaseFindingRow, DoseSlot};
use crate::reference::Reference;
use crate::vocabulary::num;

/// What a dose is measured in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DoseUnit {
    /// Tablets, capsules or other whole units (also an amount with no unit: "one twice a day").
    Count,
    /// Millilitres of a liquid.
    Ml,
    /// Milligrams of the drug.
    Mg,
    /// Patches.
    Patch,
}

/// A daily maximum stated in the instruction that could not be applied here
/// because it is in another unit than the dose ("1-2 tablets, max 240mg a day").
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DailyCap {
    /// Its unit.
    pub unit: DoseUnit,
    /// The most a day.
    pub amount: f64,
}

/// An instruction as read.
#[derive(Debug, Clone, PartialEq)]
pub struct DoseReading {
    /// Unit of `per_dose`.
    pub unit: DoseUnit,
    /// Amount a dose (the upper end of a range).
    pub per_dose: f64,
    /// Lower end of a range of amounts (equal to `per_dose` otherwise).
    pub per_dose_min: f64,
    /// Doses a day (the most allowed); `None` only for patches with no change interval.
    pub doses_per_day: Option<f64>,
    /// Fewest doses a day the instruction allows (equal to `doses_per_day` otherwise).
    pub doses_per_day_min: Option<f64>,
    /// Taken only when needed ("prn", "when required", "up to").
    pub as_needed: bool,
    /// The same dose in another unit, e.g. the 5 mL of "10mg (5ml)".
    pub alt: Option<(DoseUnit, f64)>,
    /// A daily maximum in another unit, for the caller to apply.
    pub cap: Option<DailyCap>,
    /// Hours between doses when the instruction gives an interval (patches: the change interval).
    pub interval_hours: Option<f64>,
    /// Why the reading may not be what the prescriber meant ("1/2" read as
    /// "one or two", counted at two): shown to the clinician, never silent.
    pub ambiguous: Option<String>,
}

impl DoseReading {
    /// Whether the instruction gave a range (of amounts or of doses a day).
    pub fn is_range(&self) -> bool {
        self.per_dose_min < self.per_dose || self.doses_per_day_min < self.doses_per_day
    }
}

/// Why an instruction gives no daily dose.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Unreadable(pub String);

#[derive(Debug, Clone)]
enum TermKind {
    Freq {
        doses: Option<f64>,
        interval: Option<f64>,
        slot: Option<DoseSlot>,
    },
    AsNeeded,
    NotReadable {
        reason: String,
        overrides: bool,
    },
    /// How often it is supplied ("dispense", "dosette"): nearby frequency words are not doses.
    Dispensing,
}

/// Reads dose instructions with the vocabulary of the reference tables.
/// Build once and reuse.
#[derive(Debug, Clone)]
pub struct DoseReader {
    /// (term as tokens, meaning), longest first.
    terms: Vec<(Vec<Tok>, TermKind)>,
}

// ---------------------------------------------------------------------------
// Words (language, not clinical facts)
// ---------------------------------------------------------------------------

const COUNT_UNITS: &[&str] = &[
    "tablet",
    "tablets",
    "tab",
    "tabs",
    "caplet",
    "caplets",
    "capsule",
    "capsules",
    "cap",
    "caps",
    "pill",
    "pills",
    "sachet",
    "sachets",
    "lozenge",
    "lozenges",
    "suppository",
    "suppositories",
    "dose",
    "doses",
    "measure",
    "measures",
];
const ML_UNITS: &[&str] = &[
    "ml",
    "mls",
    "millilitre",
    "millilitres",
    "milliliter",
    "milliliters",
    "mil",
];
const MG_UNITS: &[&str] = &["mg", "mgs", "milligram", "milligrams"];
const MCG_UNITS: &[&str] = &["mcg", "mcgs", "microgram", "micrograms", "ug"];
const PATCH_UNITS: &[&str] = &["patch", "patches"];
/// A measure of liquid that a count before it multiplies ("two 5ml spoonfuls", "2 x 5ml doses").
const SPOON: &[&str] = &[
    "spoon",
    "spoons",
    "spoonful",
    "spoonfuls",
    "spoonsful",
    "teaspoon",
    "teaspoons",
    "teaspoonful",
    "teaspoonfuls",
    "measure",
    "measures",
    "measureful",
    "measurefuls",
    "dose",
    "doses",
    "syringe",
    "syringes",
    "syringeful",
    "syringefuls",
];
/// Words that name how often something is supplied, next to a dispensing term
/// ("dispense weekly", "weekly dosette").
const SUPPLY_PERIODS: &[&str] = &[
    "weekly",
    "wkly",
    "wkley",
    "weekley",
    "daily",
    "fortnightly",
    "monthly",
    "twice-weekly",
];
/// Words that may sit between a dispensing term and its period ("dispensed by the pharmacy weekly").
const SUPPLY_FILLERS: &[&str] = &[
    "in",
    "at",
    "a",
    "by",
    "from",
    "the",
    "pharmacy",
    "chemist",
    "box",
    "boxes",
    "pack",
    "packs",
    "tray",
    "trays",
    "consumption",
    "on",
    "as",
    "to",
    "be",
    "every",
    "each",
    "for",
    "x",
    "into",
    "via",
    "please",
    "only",
];
/// "3 nights a week": days or nights counted per week.
const DAY_COUNT_WORDS: &[&str] = &[
    "nights",
    "night",
    "days",
    "day",
    "mornings",
    "evenings",
    "occasions",
];
const HOUR_WORDS: &[&str] = &[
    "hour", "hours", "hr", "hrs", "h", "hrly", "hourly", "hly", "hourlys",
];
const INTERVAL_WORDS: &[&str] = &["hourly", "hrly", "hly"];
const DAY_WORDS: &[&str] = &["day", "daily", "days"];
const WEEK_WORDS: &[&str] = &["week", "weeks", "weekly", "wk", "wks", "wkly"];
const PER_WORDS: &[&str] = &["a", "per", "each", "every", "in", "an"];
const DURATION_UNITS: &[&str] = &[
    "day", "days", "week", "weeks", "month", "months", "wk", "wks", "hour", "hours", "hrs", "hr",
    "nights",
];
const WEEKDAYS: &[(&str, u8)] = &[
    ("monday", 0),
    ("mon", 0),
    ("tuesday", 1),
    ("tues", 1),
    ("tue", 1),
    ("wednesday", 2),
    ("wed", 2),
    ("thursday", 3),
    ("thurs", 3),
    ("thur", 3),
    ("thu", 3),
    ("friday", 4),
    ("fri", 4),
    ("saturday", 5),
    ("sat", 5),
    ("sunday", 6),
    ("sun", 6),
];

fn slot_word(w: &str) -> Option<DoseSlot> {
    Some(match w {
        "morning" | "mornings" | "breakfast" | "waking" | "breakfasttime" => DoseSlot::Morning,
        "midday" | "noon" | "lunchtime" | "lunch" | "midday meal" => DoseSlot::Midday,
        "teatime" | "tea" | "afternoon" | "afternoons" => DoseSlot::Teatime,
        "evening" | "evenings" | "dinner" | "supper" | "dinnertime" | "teatimes" => {
            DoseSlot::Evening
        }
        "night" | "nights" | "bedtime" | "nightly" => DoseSlot::Night,
        _ => return None,
    })
}

fn small_number(w: &str) -> Option<f64> {
    Some(match w {
        "one" => 1.0,
        "two" | "ii" => 2.0,
        "three" | "iii" => 3.0,
        "four" => 4.0,
        "five" => 5.0,
        "six" => 6.0,
        "seven" => 7.0,
        "eight" => 8.0,
        "nine" => 9.0,
        "ten" => 10.0,
        "eleven" => 11.0,
        "twelve" => 12.0,
        "fifteen" => 15.0,
        "twenty" => 20.0,
        "thirty" => 30.0,
        "forty" => 40.0,
        "fifty" => 50.0,
        "sixty" => 60.0,
        "seventy" => 70.0,
        "eighty" => 80.0,
        "ninety" => 90.0,
        "half" => 0.5,
        _ => return None,
    })
}

// ---------------------------------------------------------------------------
// Pieces found while scanning
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq)]
struct Amount {
    min: f64,
    max: f64,
    unit: DoseUnit,
    /// "5ml spoonful": a measure to multiply by a count before it ("two 5ml spoonfuls").
    measure: bool,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Freq {
    /// Fewest and most doses a day.
    min: f64,
    max: f64,
    /// Hours between doses, when given as an interval (shortest).
    interval: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum When {
    Slot(DoseSlot),
    /// Hour of the day, 0-23.
    Clock(u8),
    Weekday(u8),
}

#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Amount(Amount),
    /// A strength written in the instruction ("one 30mg tablet", "10mg/5ml"): not a dose.
    StrengthUnit,
    /// A unit named with no number ("change patch every 3 days"): one, if no amount came before.
    BareUnit(DoseUnit),
    Freq(Freq),
    When(When),
    AsNeeded,
    UpTo,
    CapDoses(f64),
    CapAmount(Amount),
    /// "max 1 or 2 caps" with no period, "max 2 at a time": the most a dose.
    DoseMax(Amount),
    /// "with meals", "after meals": breakfast, lunch and evening meal.
    Meals,
    /// "repeat after 2 hours": a second dose allowed, no daily count by itself.
    Repeat(f64),
    /// "3 nights a week", "5 days a week": the fraction of days a dose is taken on.
    DaysAWeek(f64),
    /// A frequency that says how often it is supplied ("dispense weekly"), with its words.
    Supply(String),
    NotReadable(String, bool),
}

#[derive(Debug, Default)]
struct Event {
    amount: Option<Amount>,
    alt: Option<Amount>,
    freqs: Vec<Freq>,
    whens: Vec<When>,
}

impl Event {
    fn has_frequency(&self) -> bool {
        !self.freqs.is_empty() || !self.whens.is_empty()
    }

    /// Fewest and most doses a day, and the interval if one was given.
    fn doses(&self) -> Option<(f64, f64, Option<f64>)> {
        if !self.freqs.is_empty() {
            // Count and interval both given: the stricter (fewer doses) wins.
            let max = self
                .freqs
                .iter()
                .map(|f| f.max)
                .fold(f64::INFINITY, f64::min);
            let min = self
                .freqs
                .iter()
                .map(|f| f.min)
                .fold(f64::INFINITY, f64::min)
                .min(max);
            let interval = self.freqs.iter().find_map(|f| f.interval);
            return Some((min, max, interval));
        }
        let clocks: std::collections::BTreeSet<u8> = self
            .whens
            .iter()
            .filter_map(|w| match w {
                When::Clock(h) => Some(*h),
                _ => None,
            })
            .collect();
        let slots: std::collections::BTreeSet<u8> = self
            .whens
            .iter()
            .filter_map(|w| match w {
                When::Slot(s) => Some(*s as u8),
                _ => None,
            })
            .collect();
        let days: std::collections::BTreeSet<u8> = self
            .whens
            .iter()
            .filter_map(|w| match w {
                When::Weekday(d) => Some(*d),
                _ => None,
            })
            .collect();
        // Clock times are more precise than "morning" (so "in the morning (8am)" is once).
        let per_day = if !clocks.is_empty() {
            clocks.len() as f64
        } else {
            slots.len() as f64
        };
        let n = if !days.is_empty() {
            days.len() as f64 / 7.0 * per_day.max(1.0)
        } else {
            per_day
        };
        (n > 0.0).then_some((n, n, None))
    }
}

// ---------------------------------------------------------------------------
// The reader
// ---------------------------------------------------------------------------

impl DoseReader {
    /// A reader using the vocabulary in `reference.casefinding`.
    pub fn new(reference: &Reference) -> DoseReader {
        let mut terms = Vec::new();
        for row in &reference.casefinding.rows {
            let (list, kind) = match row {
                CaseFindingRow::Frequency {
                    terms,
                    doses_per_day,
                    interval_hours,
                    slot,
                    ..
                } => (
                    terms,
                    TermKind::Freq {
                        doses: *doses_per_day,
                        interval: *interval_hours,
                        slot: *slot,
                    },
                ),
                CaseFindingRow::AsNeeded { terms, .. } => (terms, TermKind::AsNeeded),
                CaseFindingRow::NotReadable {
                    terms,
                    reason,
                    overrides_dose,
                    ..
                } => (
                    terms,
                    TermKind::NotReadable {
                        reason: reason.clone(),
                        overrides: *overrides_dose,
                    },
                ),
                CaseFindingRow::Dispensing { terms, .. } => (terms, TermKind::Dispensing),
                CaseFindingRow::Setting { .. }
                | CaseFindingRow::FigureThreshold { .. }
                | CaseFindingRow::DependenceForming { .. } => continue,
            };
            for t in list {
                let toks = tokenise(t);
                if !toks.is_empty() {
                    terms.push((toks, kind.clone()));
                }
            }
        }
        terms.sort_by_key(|(t, _)| std::cmp::Reverse(t.len()));
        DoseReader { terms }
    }

    /// Reads one instruction.
    pub fn read(&self, text: &str) -> Result<DoseReading, Unreadable> {
        let toks = tokenise(text);
        if !toks.iter().any(|t| matches!(t, Tok::Word(_) | Tok::Num(_))) {
            return Err(Unreadable("the instruction is empty".into()));
        }
        let scanner = Scanner {
            t: &toks,
            reader: self,
            ambiguous: std::cell::Cell::new(None),
        };
        let pieces = scanner.scan();
        let mut reading = assemble(&pieces)?;
        reading.ambiguous = scanner.ambiguous.get().map(str::to_string);
        Ok(reading)
    }
}

struct Scanner<'a> {
    t: &'a [Tok],
    reader: &'a DoseReader,
    /// Set when a form that prescribers use in two ways was read at its upper meaning.
    ambiguous: std::cell::Cell<Option<&'static str>>,
}

impl Scanner<'_> {
    fn word(&self, i: usize) -> Option<&str> {
        self.t.get(i).and_then(Tok::word)
    }

    fn is(&self, i: usize, set: &[&str]) -> bool {
        self.t.get(i).is_some_and(|t| t.is_any(set))
    }

    fn scan(&self) -> Vec<Piece> {
        let mut out = Vec::new();
        let supply = self.supply_mask();
        let mut i = 0;
        while i < self.t.len() {
            if supply[i] {
                // How often it is supplied: never the doses a day.
                let start = i;
                while i < self.t.len() && supply[i] {
                    i += 1;
                }
                out.push(Piece::Supply(self.words(start, i)));
                continue;
            }
            if let Some((len, p)) = self.repeat_at(i) {
                out.push(p);
                i += len;
                continue;
            }
            if let Some((len, p)) = self.term_at(i) {
                let (more, p) = self.alternative(i + len, p, &supply);
                out.push(p);
                i += len + more;
                continue;
            }
            if let Some(len) = self.duration_at(i) {
                i += len;
                continue;
            }
            if let Some((len, mut caps)) = self.cap_at(i) {
                out.append(&mut caps);
                i += len;
                continue;
            }
            if self.is(i, &["up"]) && self.is(i + 1, &["to"]) {
                out.push(Piece::UpTo);
                i += 2;
                continue;
            }
            if let Some((len, p)) = self.freq_at(i) {
                let (more, p) = self.alternative(i + len, p, &supply);
                out.push(p);
                i += len + more;
                continue;
            }
            if let Some((len, p)) = self.amount_at(i) {
                out.push(p);
                i += len;
                continue;
            }
            if let Some(w) = self.word(i) {
                if PATCH_UNITS.contains(&w) {
                    // "change patch every 3 days": a patch with no number is one patch.
                    out.push(Piece::BareUnit(DoseUnit::Patch));
                }
            }
            i += 1;
        }
        out
    }

    /// The words of tokens `from..to`, for messages.
    fn words(&self, from: usize, to: usize) -> String {
        self.t[from..to]
            .iter()
            .map(|t| match t {
                Tok::Num(n) => num(*n),
                Tok::Word(w) => w.clone(),
                Tok::Dash => "-".into(),
                Tok::Slash => "/".into(),
                Tok::Colon => ":".into(),
                Tok::Sep => ",".into(),
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// "od or bd", "bd-tds", "twice daily or three times daily": alternatives
    /// count at the upper end (a range of doses a day), never the first alone.
    fn alternative(&self, j: usize, p: Piece, supply: &[bool]) -> (usize, Piece) {
        let Piece::Freq(f) = p else {
            return (0, p);
        };
        // "every 72 hours - daily instalments": the supply is no alternative.
        if supply.get(j + 1).copied().unwrap_or(false) {
            return (0, p);
        }
        let joins = self.is(j, &["or", "to"])
            || matches!(self.t.get(j), Some(Tok::Dash) | Some(Tok::Slash));
        if !joins {
            return (0, p);
        }
        match self.term_at(j + 1).or_else(|| self.freq_at(j + 1)) {
            Some((len, Piece::Freq(g))) => (
                1 + len,
                Piece::Freq(Freq {
                    min: f.min.min(g.min),
                    max: f.max.max(g.max),
                    interval: f.interval.zip(g.interval).map(|(a, b)| a.min(b)),
                }),
            ),
            _ => (0, p),
        }
    }

    /// "repeat after 2 hours", "may repeat at 2hrs", "repeat dose in 4 hours":
    /// one more dose allowed, which gives no number of doses a day by itself
    /// (unlike "repeat every 4 hours", an interval, read as such).
    fn repeat_at(&self, i: usize) -> Option<(usize, Piece)> {
        if !self.is(i, &["repeat", "repeated", "repeating", "rpt"]) {
            return None;
        }
        let mut j = i + 1;
        while j < i + 5
            && self.is(
                j,
                &[
                    "dose", "once", "after", "at", "in", "the", "not", "sooner", "than", "no",
                    "earlier", "within", "only", "a", "second", "if", "after",
                ],
            )
        {
            j += 1;
        }
        let (len, a, _) = self.range_at(j)?;
        let mut k = j + len;
        if matches!(self.t.get(k), Some(Tok::Dash)) {
            k += 1;
        }
        if !self.is(k, HOUR_WORDS) || a <= 0.0 {
            return None;
        }
        let mut end = k + 1;
        if self.is(end, &["later", "apart"]) {
            end += 1;
        }
        Some((end - i, Piece::Repeat(a)))
    }

    /// A dispensing term (from the reference table) starting at `i`, its length.
    fn dispensing_term_at(&self, i: usize) -> Option<usize> {
        self.reader.terms.iter().find_map(|(term, kind)| {
            (matches!(kind, TermKind::Dispensing)
                && self.t.len() >= i + term.len()
                && self.t[i..i + term.len()] == term[..])
                .then_some(term.len())
        })
    }

    /// Which tokens say how often the medicine is supplied: each dispensing
    /// term and the period next to it ("dispense weekly", "7 day supply",
    /// "weekly dosette", "dispensed by the pharmacy every 7 days").
    fn supply_mask(&self) -> Vec<bool> {
        let n = self.t.len();
        let mut mask = vec![false; n];
        let mut i = 0;
        while i < n {
            let Some(len) = self.dispensing_term_at(i) else {
                i += 1;
                continue;
            };
            mask[i..i + len].iter_mut().for_each(|m| *m = true);
            // After the term.
            let mut j = i + len;
            let mut fill = 0;
            while fill < 3 && self.is(j, SUPPLY_FILLERS) && self.supply_period_at(j).is_none() {
                j += 1;
                fill += 1;
            }
            if let Some(plen) = self.supply_period_at(j) {
                mask[i..j + plen].iter_mut().for_each(|m| *m = true);
            }
            // Before it. "1 daily in a dosette" is a daily dose put in a
            // compliance aid, so "daily" before an aid stays a dose frequency.
            let aid = self.is(
                i,
                &[
                    "dosette",
                    "dosset",
                    "nomad",
                    "blister",
                    "mds",
                    "compliance",
                    "monitored",
                ],
            );
            let mut k = i;
            let mut fill = 0;
            while fill < 2 && k > 0 && self.is(k - 1, &["in", "a", "by", "via", "into", "as"]) {
                k -= 1;
                fill += 1;
            }
            if let Some(start) = self.supply_period_before(k, !aid) {
                mask[start..i].iter_mut().for_each(|m| *m = true);
            }
            i += len;
        }
        mask
    }

    /// A supply period starting at `j` ("weekly", "twice weekly", "7 days",
    /// "7/7", "mon and thurs"), its length.
    fn supply_period_at(&self, j: usize) -> Option<usize> {
        let mut k = j;
        if self.is(k, &["once", "twice", "thrice"]) {
            k += 1;
        } else if self.t.get(k).and_then(Tok::num).is_some() && self.is(k + 1, &["x", "times"]) {
            k += 2;
        }
        if self.is(k, SUPPLY_PERIODS) {
            return Some(k + 1 - j);
        }
        if k > j {
            return (self.is(k, PER_WORDS)
                && self.is(k + 1, &["week", "day", "fortnight", "month"]))
            .then_some(k + 2 - j);
        }
        if self.t.get(j).and_then(Tok::num).is_some() {
            let mut m = j + 1;
            if matches!(self.t.get(m), Some(Tok::Dash)) {
                m += 1;
            }
            if self.is(
                m,
                &[
                    "day", "days", "week", "weeks", "wk", "wks", "month", "months", "dy", "dys",
                ],
            ) {
                return Some(m + 1 - j);
            }
            if matches!(self.t.get(j + 1), Some(Tok::Slash))
                && self
                    .t
                    .get(j + 2)
                    .and_then(Tok::num)
                    .is_some_and(|d| [7.0, 52.0, 12.0].contains(&d))
            {
                return Some(3);
            }
        }
        if self.word(j).and_then(weekday).is_some() {
            let mut m = j + 1;
            loop {
                if self.word(m).and_then(weekday).is_some() {
                    m += 1;
                } else if (self.is(m, &["and"])
                    || matches!(self.t.get(m), Some(Tok::Sep | Tok::Slash | Tok::Dash)))
                    && self.word(m + 1).and_then(weekday).is_some()
                {
                    m += 2;
                } else {
                    break;
                }
            }
            return Some(m - j);
        }
        None
    }

    /// A supply period ending just before `k` ("weekly", "twice weekly",
    /// "7 day", "in 7 daily"), where it starts.
    fn supply_period_before(&self, k: usize, daily: bool) -> Option<usize> {
        let w = k.checked_sub(1)?;
        let mut start = None;
        if self.is(w, SUPPLY_PERIODS) && (daily || !self.is(w, &["daily"])) {
            let mut s = w;
            if s > 0 && self.is(s - 1, &["once", "twice", "thrice"]) {
                s -= 1;
            } else if s > 1
                && self.is(s - 1, &["x", "times"])
                && self.t.get(s - 2).and_then(Tok::num).is_some()
            {
                s -= 2;
            }
            start = Some(s);
        } else if self.is(
            w,
            &[
                "day", "days", "week", "weeks", "wk", "wks", "month", "months",
            ],
        ) {
            let mut s = w;
            if s > 0 && matches!(self.t.get(s - 1), Some(Tok::Dash)) {
                s -= 1;
            }
            if s > 0 && self.t.get(s - 1).and_then(Tok::num).is_some() {
                start = Some(s - 1);
            }
        }
        // "in 7 daily instalments": the number of instalments too.
        let s = start?;
        if s > 1
            && self.t.get(s - 1).and_then(Tok::num).is_some()
            && self.is(s - 2, &["in", "as", "x", "into"])
        {
            return Some(s - 2);
        }
        Some(s)
    }

    /// A reference term (abbreviation or phrase) starting at `i`.
    fn term_at(&self, i: usize) -> Option<(usize, Piece)> {
        for (term, kind) in &self.reader.terms {
            if self.t.len() >= i + term.len() && self.t[i..i + term.len()] == term[..] {
                let p = match kind {
                    TermKind::Freq {
                        doses,
                        interval,
                        slot,
                    } => match (doses, interval, slot) {
                        (_, _, Some(s)) => Piece::When(When::Slot(*s)),
                        (Some(d), _, None) => Piece::Freq(Freq {
                            min: *d,
                            max: *d,
                            interval: None,
                        }),
                        (None, Some(h), None) => Piece::Freq(Freq {
                            min: 24.0 / h,
                            max: 24.0 / h,
                            interval: Some(*h),
                        }),
                        (None, None, None) => continue,
                    },
                    TermKind::AsNeeded => Piece::AsNeeded,
                    TermKind::NotReadable { reason, overrides } => {
                        Piece::NotReadable(reason.clone(), *overrides)
                    }
                    // Found by `supply_mask` before the scan reaches here.
                    TermKind::Dispensing => continue,
                };
                return Some((term.len(), p));
            }
        }
        None
    }

    /// A number (digits or words: "two", "twenty four", "one and a half") at `i`.
    fn number_at(&self, i: usize) -> Option<(usize, f64)> {
        let (mut len, mut n) = match self.t.get(i)? {
            Tok::Num(n) => (1, *n),
            Tok::Word(w) => (1, small_number(w)?),
            _ => return None,
        };
        // "twenty four"
        if n >= 20.0 && n.fract() == 0.0 && n % 10.0 == 0.0 {
            if let Some(u) = self.word(i + 1).and_then(small_number) {
                if (1.0..10.0).contains(&u) {
                    n += u;
                    len += 1;
                }
            }
        }
        // "one and a half", "1 and a half", "one and half"
        if self.is(i + len, &["and"]) {
            if self.is(i + len + 1, &["a"]) && self.is(i + len + 2, &["half"]) {
                return Some((len + 3, n + 0.5));
            }
            if self.is(i + len + 1, &["half"]) {
                return Some((len + 2, n + 0.5));
            }
        }
        // "1/2" as a fraction (but "8/24" is a maximum and "2/52" a duration).
        if matches!(self.t.get(i + len), Some(Tok::Slash)) {
            if let Some(d) = self.t.get(i + len + 1).and_then(Tok::num) {
                if (2.0..=4.0).contains(&d) && n < d {
                    return Some((len + 2, n / d));
                }
            }
        }
        Some((len, n))
    }

    /// A number or a range ("1-2", "one or two", "4 to 6") at `i`.
    fn range_at(&self, i: usize) -> Option<(usize, f64, f64)> {
        // "1/2": in UK prescribing as often "one or two" as "half"; counted at
        // the upper reading (two) and marked so the clinician checks it.
        if self.t.get(i).and_then(Tok::num) == Some(1.0)
            && matches!(self.t.get(i + 1), Some(Tok::Slash))
            && self.t.get(i + 2).and_then(Tok::num) == Some(2.0)
            && !matches!(self.t.get(i + 3), Some(Tok::Slash))
        {
            self.ambiguous.set(Some(
                "'1/2' may mean half or 'one or two'; counted as two (the upper reading): check the dose",
            ));
            return Some((3, 1.0, 2.0));
        }
        let (len, a) = self.number_at(i)?;
        let j = i + len;
        let joins = matches!(self.t.get(j), Some(Tok::Dash)) || self.is(j, &["to", "or"]);
        if joins {
            if let Some((len2, b)) = self.number_at(j + 1) {
                if b >= a {
                    return Some((len + 1 + len2, a, b));
                }
            }
        }
        Some((len, a, a))
    }

    /// "for 5 days", "for pain", "x 2/52": words that do not change the daily dose.
    fn duration_at(&self, i: usize) -> Option<usize> {
        if self.is(i, &["for", "over", "within"]) {
            if let Some((len, _, _)) = self.range_at(i + 1) {
                if self.is(i + 1 + len, DURATION_UNITS) {
                    return Some(2 + len);
                }
                if matches!(self.t.get(i + 1 + len), Some(Tok::Slash)) {
                    return Some(3 + len);
                }
            }
            return Some(1);
        }
        // "2/52", "1/7", "3/12": UK shorthand for weeks, days and months.
        if let (Some(_), Some(Tok::Slash), Some(d)) = (
            self.t.get(i).and_then(Tok::num),
            self.t.get(i + 1),
            self.t.get(i + 2).and_then(Tok::num),
        ) {
            if [7.0, 52.0, 12.0].contains(&d) {
                return Some(3);
            }
        }
        None
    }

    /// A unit word at `i`, with how many tokens it takes.
    fn unit_at(&self, i: usize) -> Option<(usize, UnitWord)> {
        let w = self.word(i)?;
        let u = if COUNT_UNITS.contains(&w) {
            UnitWord::Count
        } else if ML_UNITS.contains(&w) {
            UnitWord::Ml
        } else if MG_UNITS.contains(&w) {
            UnitWord::Mg
        } else if w == "g" || w == "gram" || w == "grams" {
            UnitWord::Gram
        } else if MCG_UNITS.contains(&w) {
            UnitWord::Mcg
        } else if PATCH_UNITS.contains(&w) {
            UnitWord::Patch
        } else {
            return None;
        };
        Some((1, u))
    }

    /// An amount a dose ("2 tablets", "5ml", "1-2", "10mg", "half a tablet", "a patch").
    fn amount_at(&self, i: usize) -> Option<(usize, Piece)> {
        // "a patch", "an oral syringe"? only with a unit word.
        if self.is(i, &["a", "an"]) {
            if let Some((ulen, u)) = self.unit_at(i + 1) {
                if let Some(unit) = u.amount_unit() {
                    return Some((1 + ulen, amount(1.0, 1.0, unit)));
                }
            }
            return None;
        }
        // "one half tablet" is a half.
        if self.is(i, &["one", "a"]) && self.is(i + 1, &["half"]) {
            return self.amount_at(i + 1).map(|(len, p)| (len + 1, p));
        }
        // "half a tablet"
        if self.is(i, &["half"]) {
            let mut len = 1;
            if self.is(i + 1, &["a", "an"]) {
                len += 1;
            }
            let unit = match self.unit_at(i + len) {
                Some((ulen, u)) if u.amount_unit().is_some() => {
                    len += ulen;
                    u.amount_unit()
                }
                _ => Some(DoseUnit::Count),
            };
            return unit.map(|u| (len, amount(0.5, 0.5, u)));
        }
        let (len, a, b) = self.range_at(i)?;
        let mut j = i + len;
        // A number that starts a frequency or a time is not an amount.
        if self.is(j, &["times", "time", "am", "pm"])
            || self.is(j, HOUR_WORDS)
            || matches!(self.t.get(j), Some(Tok::Colon))
            || (matches!(self.t.get(j), Some(Tok::Dash)) && self.is(j + 1, INTERVAL_WORDS))
        {
            return None;
        }
        if self.is(j, &["x"]) {
            let k = j + 1 + usize::from(self.is(j + 1, &["a", "per"]));
            if self.is(k, DAY_WORDS)
                || self.is(k, WEEK_WORDS)
                || matches!(self.t.get(k), Some(Tok::Slash))
            {
                return None;
            }
        }
        // Strength written as "10mg/5ml" or "30mg/500mg": part of the product name, skipped.
        if let Some((ulen, UnitWord::Mg)) = self.unit_at(j) {
            if matches!(self.t.get(j + ulen), Some(Tok::Slash)) {
                let mut k = j + ulen + 1;
                if self.t.get(k).and_then(Tok::num).is_some() {
                    k += 1;
                }
                if self.unit_at(k).is_some() {
                    return Some((k + 1 - i, Piece::StrengthUnit));
                }
            }
        }
        // "8/500" (a combination's strengths) is part of the product name.
        if matches!(self.t.get(j), Some(Tok::Slash))
            && self.t.get(j + 1).and_then(Tok::num).is_some()
        {
            return Some((j + 2 - i, Piece::StrengthUnit));
        }
        let Some((ulen, u)) = self.unit_at(j) else {
            return Some((len, amount(a, b, DoseUnit::Count)));
        };
        j += ulen;
        match u {
            UnitWord::Mcg => {
                // "25 microgram patch", "25 micrograms/hour": the product's strength.
                if matches!(self.t.get(j), Some(Tok::Slash)) || self.is(j, &["per", "an"]) {
                    j += 1;
                }
                if self.is(j, HOUR_WORDS) {
                    j += 1;
                }
                Some((j - i, Piece::StrengthUnit))
            }
            UnitWord::Mg if self.unit_at(j).is_some_and(|(_, u)| u == UnitWord::Count) => {
                // "one 30mg tablet": the strength of the tablet, not the dose.
                Some((j + 1 - i, Piece::StrengthUnit))
            }
            _ => {
                let Some(mut unit) = u.amount_unit() else {
                    return Some((j - i, Piece::StrengthUnit));
                };
                let scale = if u == UnitWord::Gram { 1000.0 } else { 1.0 };
                let (lo, mut hi) = (a * scale, b * scale);
                // "2.5ml-5ml", "5ml to 10ml": a range with the unit on both ends.
                if (matches!(self.t.get(j), Some(Tok::Dash)) || self.is(j, &["to", "or"]))
                    && lo == hi
                {
                    if let Some((len2, c, _)) = self.range_at(j + 1) {
                        if self.unit_at(j + 1 + len2).map(|(_, v)| v) == Some(u) && c * scale > hi {
                            hi = c * scale;
                            j += 1 + len2 + 1;
                        }
                    }
                }
                let mut measure = false;
                if unit == DoseUnit::Ml && self.is(j, SPOON) {
                    measure = true;
                    j += 1;
                }
                if unit == DoseUnit::Count && self.is(j, &["of"]) && self.is(j + 1, PATCH_UNITS) {
                    unit = DoseUnit::Patch;
                    j += 2;
                }
                Some((
                    j - i,
                    Piece::Amount(Amount {
                        min: lo,
                        max: hi,
                        unit,
                        measure,
                    }),
                ))
            }
        }
    }

    /// A frequency or time of day at `i`.
    fn freq_at(&self, i: usize) -> Option<(usize, Piece)> {
        let w = self.word(i);
        let per_day = |n_min: f64, n_max: f64| {
            Piece::Freq(Freq {
                min: n_min,
                max: n_max,
                interval: None,
            })
        };
        // once / twice / thrice [a|per|each|every|in] [day|daily|week|24 hours]
        if let Some(n) = w.and_then(|w| -> Option<f64> {
            match w {
                "once" => Some(1.0),
                "twice" => Some(2.0),
                "thrice" => Some(3.0),
                _ => None,
            }
        }) {
            let mut j = i + 1;
            // "twice times daily": the extra word changes nothing.
            if self.is(j, &["times", "time", "x"]) {
                j += 1;
            }
            // "once or twice a day": the period comes after the second.
            if self.is(j, &["or", "to"]) || matches!(self.t.get(j), Some(Tok::Dash)) {
                let second: Option<f64> = self.word(j + 1).and_then(|w| match w {
                    "once" => Some(1.0),
                    "twice" => Some(2.0),
                    "thrice" => Some(3.0),
                    _ => None,
                });
                if let Some(m) = second {
                    let mut k = j + 2;
                    if self.is(k, &["times", "time"]) {
                        k += 1;
                    }
                    let (len, period) = self.period_after(k);
                    return Some((k + len - i, per_day(n.min(m) / period, n.max(m) / period)));
                }
            }
            let (len, period) = self.period_after(j);
            return Some((j + len - i, per_day(n / period, n / period)));
        }
        // "x 2 daily", "x3 a day"
        if self.is(i, &["x"]) {
            if let Some((len, a, b)) = self.range_at(i + 1) {
                let (plen, period) = self.period_after(i + 1 + len);
                if plen > 0 {
                    return Some((1 + len + plen, per_day(a / period, b / period)));
                }
            }
        }
        // every / each …
        if self.is(i, &["every", "each", "q", "qq"]) {
            let q = self.is(i, &["q", "qq"]);
            let j = i + 1;
            if !q {
                if self.is(j, &["other", "second", "alternate"]) && self.is(j + 1, DAY_WORDS) {
                    return Some((3, per_day(0.5, 0.5)));
                }
                if self.is(j, &["meal", "meals", "mealtime", "mealtimes"]) {
                    return Some((2, Piece::Meals));
                }
                if let Some(s) = self.word(j).and_then(slot_word) {
                    return Some((2, Piece::When(When::Slot(s))));
                }
                if let Some(d) = self.word(j).and_then(weekday) {
                    return Some((2, Piece::When(When::Weekday(d))));
                }
                if self.is(j, DAY_WORDS) {
                    return Some((2, per_day(1.0, 1.0)));
                }
                if self.is(j, WEEK_WORDS) {
                    return Some((2, per_day(1.0 / 7.0, 1.0 / 7.0)));
                }
                if self.is(j, &["fortnight"]) {
                    return Some((2, per_day(1.0 / 14.0, 1.0 / 14.0)));
                }
                if self.is(j, HOUR_WORDS) {
                    return Some((2, interval(1.0, 1.0)));
                }
            }
            if let Some((len, a, b)) = self.range_at(j) {
                let mut k = j + len;
                if matches!(self.t.get(k), Some(Tok::Dash)) {
                    k += 1;
                }
                if self.is(k, HOUR_WORDS) && a > 0.0 {
                    return Some((k + 1 - i, interval(a, b)));
                }
                if q && a > 0.0 {
                    // "q4" with the "h" left off.
                    return Some((k - i, interval(a, b)));
                }
                if self.is(k, &["day", "days"]) && a > 0.0 {
                    return Some((k + 1 - i, per_day(1.0 / b, 1.0 / a)));
                }
                if self.is(k, &["week", "weeks", "wk", "wks"]) && a > 0.0 {
                    return Some((k + 1 - i, per_day(1.0 / (7.0 * b), 1.0 / (7.0 * a))));
                }
            }
            return None;
        }
        // "4-6 hourly", "12-hourly", "6 hrly", "4-6 hrs", "N times a day", "3 x daily"
        if let Some((len, a, b)) = self.range_at(i) {
            let mut k = i + len;
            if matches!(self.t.get(k), Some(Tok::Dash)) && self.is(k + 1, INTERVAL_WORDS) {
                k += 1;
            }
            if self.is(k, HOUR_WORDS) && a > 0.0 && !self.is(i.wrapping_sub(1), &["in", "per"]) {
                return Some((k + 1 - i, interval(a, b)));
            }
            if self.is(k, &["times", "time", "x"]) {
                let (plen, period) = self.period_after(k + 1);
                if self.is(k, &["x"]) && plen == 0 {
                    return None;
                }
                return Some((k + 1 + plen - i, per_day(a / period, b / period)));
            }
            if self.is(k, &["am", "pm"]) || matches!(self.t.get(k), Some(Tok::Colon)) {
                // "8am", "8 pm", "08:00", "8:00pm"
                let mut end = k;
                if matches!(self.t.get(k), Some(Tok::Colon)) {
                    end += 2;
                }
                let suffix = self.word(end).filter(|w| *w == "am" || *w == "pm");
                if suffix.is_some() {
                    end += 1;
                }
                let hour = (a.max(0.0) as u32) % 24;
                let hour = match suffix {
                    Some("pm") if hour < 12 => hour + 12,
                    Some("am") if hour == 12 => 0,
                    _ => hour,
                };
                return Some((end - i, Piece::When(When::Clock(hour as u8))));
            }
            // "3 nights a week", "2 days a week": on so many days, as often as
            // the rest says ("1 bd 3 days a week" is 2 × 3/7).
            if self.is(k, DAY_COUNT_WORDS) && a > 0.0 {
                let (plen, period) = self.period_after(k + 1);
                if plen > 0 && period >= 7.0 && b <= period {
                    return Some((k + 1 + plen - i, Piece::DaysAWeek(b / period)));
                }
            }
            return None;
        }
        let w = w?;
        // "with meals", "after meals", "at mealtimes": breakfast, lunch and the evening meal.
        if matches!(w, "meals" | "mealtimes") {
            return Some((1, Piece::Meals));
        }
        if w == "meal" && self.is(i + 1, &["times"]) {
            return Some((2, Piece::Meals));
        }
        if w == "daily" {
            return Some((1, per_day(1.0, 1.0)));
        }
        if self.is(i, &["a", "per", "each"]) && self.is(i + 1, &["day"]) {
            return Some((2, per_day(1.0, 1.0)));
        }
        if self.is(i, &["a", "per", "each", "once", "every"]) && self.is(i + 1, &["week"]) {
            return Some((2, per_day(1.0 / 7.0, 1.0 / 7.0)));
        }
        if w == "weekly" {
            return Some((1, per_day(1.0 / 7.0, 1.0 / 7.0)));
        }
        if w == "fortnightly" {
            return Some((1, per_day(1.0 / 14.0, 1.0 / 14.0)));
        }
        if w == "alternate" && self.is(i + 1, &["days", "day"]) {
            return Some((2, per_day(0.5, 0.5)));
        }
        if w == "hourly" {
            return Some((1, interval(1.0, 1.0)));
        }
        if let Some(s) = slot_word(w) {
            return Some((1, Piece::When(When::Slot(s))));
        }
        if self.is(i, &["evening"]) && self.is(i + 1, &["meal"]) {
            return Some((2, Piece::When(When::Slot(DoseSlot::Evening))));
        }
        if let Some(d) = weekday(w) {
            return Some((1, Piece::When(When::Weekday(d))));
        }
        None
    }

    /// After a count of doses ("twice", "3 times"): the period it is per, in
    /// days, and how many tokens name it ("a day" = 1 day, "weekly" = 7).
    /// No period named means a day.
    fn period_after(&self, i: usize) -> (usize, f64) {
        let mut j = i;
        if self.is(j, PER_WORDS) || matches!(self.t.get(j), Some(Tok::Slash)) {
            j += 1;
        }
        if self.is(j, &["day", "daily", "days"]) {
            return (j + 1 - i, 1.0);
        }
        if self.is(j, &["24"]) || self.t.get(j).and_then(Tok::num) == Some(24.0) {
            let k = j + 1 + usize::from(self.is(j + 1, HOUR_WORDS));
            return (k - i, 1.0);
        }
        if self.is(j, &["twenty"]) && self.is(j + 1, &["four"]) {
            let k = j + 2 + usize::from(self.is(j + 2, HOUR_WORDS));
            return (k - i, 1.0);
        }
        if self.is(j, &["week", "weekly", "wk"]) {
            return (j + 1 - i, 7.0);
        }
        if self.is(j, &["fortnight", "fortnightly"]) {
            return (j + 1 - i, 14.0);
        }
        (0, 1.0)
    }

    /// "max 8 in 24 hours", "maximum four times a day", "not more than 8/24",
    /// "(max 6 doses a day)": the most allowed a day.
    fn cap_at(&self, i: usize) -> Option<(usize, Vec<Piece>)> {
        let mut j = i;
        if self.is(j, &["up"]) && self.is(j + 1, &["to"]) && self.is(j + 2, &["a"]) {
            j += 3;
        }
        // "do not take more than", "do not exceed", "not to exceed"
        if self.is(j, &["do"]) && self.is(j + 1, &["not"]) {
            j += 1;
        }
        if self.is(j, &["max", "maximum", "maxim", "mx"]) {
            j += 1;
        } else if self.is(j, &["not", "no"])
            && self.is(j + 1, &["more"])
            && self.is(j + 2, &["than"])
        {
            j += 3;
        } else if self.is(j, &["not"])
            && self.is(j + 1, &["take", "use", "give", "have"])
            && self.is(j + 2, &["more"])
            && self.is(j + 3, &["than"])
        {
            j += 4;
        } else if self.is(j, &["not"]) && self.is(j + 1, &["exceed"]) {
            j += 2;
        } else if self.is(j, &["not"]) && self.is(j + 1, &["to"]) && self.is(j + 2, &["exceed"]) {
            j += 3;
        } else {
            return None;
        }
        if self.is(j, &["of", "dose", "daily"]) {
            j += 1;
        }
        // "max qds", "max four times a day"
        if let Some((len, Piece::Freq(f))) = self.term_at(j).or_else(|| self.freq_at(j)) {
            return Some((j + len - i, vec![Piece::CapDoses(f.max)]));
        }
        let (len, lo, n) = self.range_at(j)?;
        let mut k = j + len;
        let mut unit = DoseUnit::Count;
        let mut doses = false;
        // "max 3 nights a week": a count of days (checked against the period below).
        let day_count = self.is(k, DAY_COUNT_WORDS);
        if self.is(k, &["doses", "dose", "times"]) || day_count {
            doses = true;
            k += 1;
        } else if let Some((ulen, u)) = self.unit_at(k) {
            unit = u.amount_unit().unwrap_or(DoseUnit::Count);
            k += ulen;
        }
        let scale = if self.is(j + len, &["g", "gram", "grams"]) {
            1000.0
        } else {
            1.0
        };
        // "max 2 at a time", "max 2 per dose", "max 2 at once": the most a dose.
        let per_dose_len =
            if self.is(k, &["at"]) && self.is(k + 1, &["a"]) && self.is(k + 2, &["time"]) {
                3
            } else if (self.is(k, &["at"]) && self.is(k + 1, &["once"]))
                || (self.is(k, &["per", "a", "each", "every"]) && self.is(k + 1, &["dose", "time"]))
            {
                2
            } else {
                0
            };
        let most_a_dose = |end: usize| {
            Some((
                end - i,
                vec![Piece::DoseMax(Amount {
                    min: lo * scale,
                    max: n * scale,
                    unit,
                    measure: false,
                })],
            ))
        };
        if !doses && per_dose_len > 0 {
            return most_a_dose(k + per_dose_len);
        }
        // The period: "in 24 hours", "/24", "a day", "daily", "per day"; none said means a day.
        let mut m = k;
        if self.is(m, &["in", "per", "a", "every", "each", "within", "over"])
            || matches!(self.t.get(m), Some(Tok::Slash))
        {
            m += 1;
        }
        let (plen, period) = self.period_after(m);
        if day_count && !(plen > 0 && period >= 7.0) {
            return None;
        }
        // "4 times daily max 1 or 2 caps": a range with no period is the most a dose.
        if plen == 0 && !doses && lo < n {
            return most_a_dose(k);
        }
        let end = if plen > 0 { m + plen } else { k };
        let n = n * scale / if plen > 0 { period } else { 1.0 };
        if day_count {
            return Some(((m + plen) - i, vec![Piece::DaysAWeek(n.min(1.0))]));
        }
        let piece = if doses {
            Piece::CapDoses(n)
        } else {
            Piece::CapAmount(Amount {
                min: n,
                max: n,
                unit,
                measure: false,
            })
        };
        Some((end - i, vec![piece]))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum UnitWord {
    Count,
    Ml,
    Mg,
    Gram,
    Mcg,
    Patch,
}

impl UnitWord {
    fn amount_unit(self) -> Option<DoseUnit> {
        match self {
            UnitWord::Count => Some(DoseUnit::Count),
            UnitWord::Ml => Some(DoseUnit::Ml),
            UnitWord::Mg | UnitWord::Gram => Some(DoseUnit::Mg),
            UnitWord::Patch => Some(DoseUnit::Patch),
            UnitWord::Mcg => None,
        }
    }
}

fn amount(min: f64, max: f64, unit: DoseUnit) -> Piece {
    Piece::Amount(Amount {
        min,
        max,
        unit,
        measure: false,
    })
}

fn one(unit: DoseUnit) -> Amount {
    Amount {
        min: 1.0,
        max: 1.0,
        unit,
        measure: false,
    }
}

fn interval(shortest: f64, longest: f64) -> Piece {
    Piece::Freq(Freq {
        min: 24.0 / longest,
        max: 24.0 / shortest,
        interval: Some(shortest),
    })
}

fn weekday(w: &str) -> Option<u8> {
    WEEKDAYS.iter().find(|(n, _)| *n == w).map(|(_, d)| *d)
}

/// Greatest common divisor of amounts, in quarters of a unit (so 1 and 2 give
/// 1, 0.5 and 1 give 0.5); `None` for amounts that are not whole quarters.
fn gcd_quarters(values: &[f64]) -> Option<f64> {
    fn gcd(a: u64, b: u64) -> u64 {
        if b == 0 {
            a
        } else {
            gcd(b, a % b)
        }
    }
    let mut g = 0u64;
    for v in values {
        let q = v * 4.0;
        if (q - q.round()).abs() > 1e-9 || q <= 0.0 {
            return None;
        }
        g = gcd(g, q.round() as u64);
    }
    (g > 0).then(|| g as f64 / 4.0)
}

/// Turns the pieces into one reading, or says why there is none.
fn assemble(pieces: &[Piece]) -> Result<DoseReading, Unreadable> {
    let mut events: Vec<Event> = Vec::new();
    let mut as_needed = false;
    let mut not_readable: Option<(String, bool)> = None;
    let mut cap_doses: Option<f64> = None;
    let mut cap_amount: Option<Amount> = None;
    let mut repeat: Option<f64> = None;
    let mut days_a_week: Option<f64> = None;
    let mut supply: Option<&str> = None;
    for p in pieces {
        match p {
            Piece::Amount(a) => {
                let cur = events.last_mut();
                match cur {
                    Some(e) if e.amount.is_none() => e.amount = Some(*a),
                    Some(e)
                        if !e.has_frequency()
                            && e.amount.is_some_and(|x| x.unit == DoseUnit::Count)
                            && a.unit == DoseUnit::Ml
                            && a.measure =>
                    {
                        // "two 5ml spoonfuls"
                        let count = e.amount.map_or(1.0, |x| x.max);
                        let lo = e.amount.map_or(1.0, |x| x.min);
                        e.amount = Some(Amount {
                            min: lo * a.min,
                            max: count * a.max,
                            unit: DoseUnit::Ml,
                            measure: false,
                        });
                    }
                    Some(e)
                        if !e.has_frequency()
                            && e.alt.is_none()
                            && e.amount.is_some_and(|x| x.unit != a.unit) =>
                    {
                        // "10mg (5ml)": the same dose in another unit.
                        e.alt = Some(*a);
                    }
                    _ => events.push(Event {
                        amount: Some(*a),
                        ..Event::default()
                    }),
                }
            }
            Piece::StrengthUnit => {}
            Piece::BareUnit(u) => match events.last_mut() {
                Some(e) if e.amount.is_none() => e.amount = Some(one(*u)),
                // "apply one … patch": the number came first; "remove old patch": already counted.
                Some(e) => {
                    if let Some(a) = e.amount.as_mut().filter(|a| a.unit == DoseUnit::Count) {
                        a.unit = *u;
                    }
                }
                None => events.push(Event {
                    amount: Some(one(*u)),
                    ..Event::default()
                }),
            },
            Piece::Freq(f) => {
                if events.is_empty() {
                    events.push(Event::default());
                }
                if let Some(e) = events.last_mut() {
                    e.freqs.push(*f);
                }
            }
            Piece::When(w) => {
                if events.is_empty() {
                    events.push(Event::default());
                }
                if let Some(e) = events.last_mut() {
                    if !e.whens.contains(w) {
                        e.whens.push(*w);
                    }
                }
            }
            Piece::DoseMax(a) => match events.last_mut() {
                Some(e) if e.amount.is_none() => e.amount = Some(*a),
                Some(e) => {
                    if let Some(x) = e.amount.as_mut().filter(|x| x.unit == a.unit) {
                        x.max = x.max.min(a.max);
                        x.min = x.min.min(x.max);
                    }
                }
                None => events.push(Event {
                    amount: Some(*a),
                    ..Event::default()
                }),
            },
            Piece::Meals => {
                if events.is_empty() {
                    events.push(Event::default());
                }
                if let Some(e) = events.last_mut() {
                    for s in [DoseSlot::Morning, DoseSlot::Midday, DoseSlot::Evening] {
                        if !e.whens.contains(&When::Slot(s)) {
                            e.whens.push(When::Slot(s));
                        }
                    }
                }
            }
            Piece::Repeat(h) => repeat = Some(*h),
            Piece::DaysAWeek(f) => days_a_week = Some(days_a_week.map_or(*f, |d: f64| d.min(*f))),
            Piece::Supply(words) => supply = supply.or(Some(words.as_str())),
            Piece::AsNeeded | Piece::UpTo => as_needed = true,
            Piece::CapDoses(n) => cap_doses = Some(cap_doses.map_or(*n, |c: f64| c.min(*n))),
            Piece::CapAmount(a) => cap_amount = Some(*a),
            Piece::NotReadable(reason, overrides) => {
                if not_readable.as_ref().is_none_or(|(_, o)| !o) {
                    not_readable = Some((reason.clone(), *overrides));
                }
            }
        }
    }
    if let Some((reason, true)) = &not_readable {
        return Err(Unreadable(reason.clone()));
    }
    // "repeat after 2 hours" allows another dose but says nothing of a day's
    // most: without a stated maximum a day, reading it as "every 2 hours" would
    // invent a daily dose.
    if let Some(h) = repeat {
        if cap_doses.is_none() && cap_amount.is_none() {
            return Err(Unreadable(format!(
                "a dose that may be repeated after {} hours, with no maximum a day",
                num(h)
            )));
        }
    }
    let supply_reason = supply.map(|w| {
        format!(
            "the only frequency given is how often it is supplied ('{w}'), not how often it is taken"
        )
    });
    let no_dose = |fallback: &str| {
        Unreadable(not_readable.as_ref().map_or_else(
            || {
                supply_reason
                    .clone()
                    .unwrap_or_else(|| fallback.to_string())
            },
            |(r, _)| r.clone(),
        ))
    };
    if events.is_empty() {
        if as_needed {
            return Err(no_dose(
                "as needed, but with no amount or maximum number of doses a day",
            ));
        }
        return Err(no_dose("no dose or frequency found"));
    }

    // Units: every part that states an amount in the same unit; a part with
    // no amount ("and at night") takes it from the others.
    let unit = events
        .iter()
        .find_map(|e| e.amount.map(|a| a.unit))
        .unwrap_or(DoseUnit::Count);
    if events
        .iter()
        .any(|e| e.amount.is_some_and(|a| a.unit != unit))
    {
        return Err(Unreadable(
            "the parts of the instruction give doses in different units".into(),
        ));
    }
    let amounts: Vec<Amount> = events
        .iter()
        .map(|e| {
            e.amount.unwrap_or(Amount {
                min: 1.0,
                max: 1.0,
                unit,
                measure: false,
            })
        })
        .collect();
    let doses: Vec<Option<(f64, f64, Option<f64>)>> = events.iter().map(Event::doses).collect();

    let (per_dose, per_dose_min, mut doses_max, mut doses_min, interval) =
        match doses.iter().filter(|d| d.is_none()).count() {
            n if n == doses.len() => {
                // No frequency anywhere: fine for a patch (it is worn all the time),
                // or when a stated maximum gives the doses a day.
                let a = amounts[0];
                if events.len() > 1 {
                    return Err(no_dose("several amounts but no frequency"));
                }
                (a.max, a.min, None, None, None)
            }
            0 => {
                if events.len() == 1 {
                    let (lo, hi, iv) = doses[0].unwrap_or((1.0, 1.0, None));
                    (amounts[0].max, amounts[0].min, Some(hi), Some(lo), iv)
                } else {
                    // Several parts: total a day, in the largest equal dose that
                    // makes it up ("one in the morning and two at night" = 1 × 3).
                    let total_max: f64 = amounts
                        .iter()
                        .zip(&doses)
                        .map(|(a, d)| a.max * d.map_or(0.0, |d| d.1))
                        .sum();
                    let total_min: f64 = amounts
                        .iter()
                        .zip(&doses)
                        .map(|(a, d)| a.min * d.map_or(0.0, |d| d.0))
                        .sum();
                    let count: f64 = doses.iter().map(|d| d.map_or(0.0, |d| d.1)).sum();
                    let maxes: Vec<f64> = amounts.iter().map(|a| a.max).collect();
                    let per = if maxes.windows(2).all(|w| w[0] == w[1]) {
                        maxes[0]
                    } else {
                        gcd_quarters(&maxes).unwrap_or(total_max / count)
                    };
                    (per, per, Some(total_max / per), Some(total_min / per), None)
                }
            }
            _ => {
                return Err(no_dose(
                    "part of the instruction has no frequency (how many times a day)",
                ))
            }
        };

    // "3 nights a week": the doses of a day on so many days of the week.
    if let Some(f) = days_a_week {
        doses_max = doses_max.map(|d| d * f);
        doses_min = doses_min.map(|d| d * f);
    }
    // A stated maximum caps the most allowed (or supplies the frequency).
    let mut cap = None;
    if let Some(n) = cap_doses {
        doses_max = Some(doses_max.map_or(n, |d| d.min(n)));
        doses_min = Some(doses_min.map_or(n, |d| d.min(n)));
    }
    if let Some(c) = cap_amount {
        let same = c.unit == unit || (c.unit == DoseUnit::Count && unit == DoseUnit::Patch);
        if same && per_dose > 0.0 {
            let most = c.max / per_dose;
            doses_max = Some(doses_max.map_or(most, |d| d.min(most)));
            doses_min = Some(doses_min.map_or(most, |d| d.min(most)));
        } else {
            cap = Some(DailyCap {
                unit: c.unit,
                amount: c.max,
            });
        }
    }
    if doses_max.is_none() && unit != DoseUnit::Patch && cap.is_none() {
        if as_needed {
            return Err(no_dose(
                "as needed, but with no maximum number of doses a day",
            ));
        }
        return Err(no_dose("no frequency (how many times a day)"));
    }
    if !(per_dose.is_finite() && per_dose > 0.0) {
        return Err(Unreadable("the amount a dose is zero".into()));
    }
    let alt = if events.len() == 1 {
        events[0].alt.map(|a| (a.unit, a.max))
    } else {
        None
    };
    let interval =
        interval.or_else(|| doses_max.filter(|d| *d > 0.0 && *d < 1.0).map(|d| 24.0 / d));
    Ok(DoseReading {
        unit,
        per_dose,
        per_dose_min,
        doses_per_day: doses_max,
        doses_per_day_min: doses_min,
        as_needed,
        alt,
        cap,
        interval_hours: interval,
        ambiguous: None,
    })
}

// ---------------------------------------------------------------------------
// Doses that differ by time of day (issue 14)
// ---------------------------------------------------------------------------

/// An instruction that gives a different dose at named times of day
/// ("30mg in the morning and 60mg at night", "1 mane 2 nocte"), in one unit,
/// each time once, earliest first.
#[derive(Debug, Clone, PartialEq)]
pub struct TimedReading {
    /// Unit of every amount.
    pub unit: DoseUnit,
    /// (time, amount) per time of day.
    pub parts: Vec<(DoseSlot, f64)>,
}

impl DoseReader {
    /// Reads an instruction as a dose per time of day, only when it is plainly
    /// one ("<amount> <time> [and] <amount> <time>") and the amounts differ;
    /// anything else (ranges, as needed, frequencies, clock times, time before
    /// amount) is `None` and left to [`DoseReader::read`], whose daily total is the same.
    pub fn read_times(&self, text: &str) -> Option<TimedReading> {
        let toks = tokenise(text);
        let scanner = Scanner {
            t: &toks,
            reader: self,
            ambiguous: std::cell::Cell::new(None),
        };
        let pieces = scanner.scan();
        // A form read at one of two meanings is never made more specific here.
        if scanner.ambiguous.get().is_some() {
            return None;
        }
        timed_parts(&pieces)
    }
}

fn timed_parts(pieces: &[Piece]) -> Option<TimedReading> {
    // Each part: an amount, then the times it is taken at.
    let mut parts: Vec<(Amount, Vec<DoseSlot>)> = Vec::new();
    for p in pieces {
        match p {
            Piece::Amount(a) => {
                if a.min != a.max || a.measure {
                    return None;
                }
                // An amount before the previous one has a time is not this shape ("10mg (5ml)").
                if parts.last().is_some_and(|(_, slots)| slots.is_empty()) {
                    return None;
                }
                parts.push((*a, Vec::new()));
            }
            Piece::When(When::Slot(slot)) => {
                let (_, slots) = parts.last_mut()?;
                slots.push(*slot);
            }
            Piece::StrengthUnit => {}
            _ => return None,
        }
    }
    let unit = parts.first()?.0.unit;
    let mut out: Vec<(DoseSlot, f64)> = Vec::new();
    for (a, slots) in &parts {
        if a.unit != unit || slots.is_empty() {
            return None;
        }
        for s in slots {
            if out.iter().any(|(t, _)| t == s) {
                return None;
            }
            out.push((*s, a.max));
        }
    }
    out.sort_by_key(|(s, _)| *s as u8);
    let uneven = out.windows(2).any(|w| w[0].1 != w[1].1);
    uneven.then_some(TimedReading { unit, parts: out })
}

#[cfg(test)]
#[path = "dose_tests.rs"]
mod tests;
