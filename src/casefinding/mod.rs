//! Case-finding (issue 10): import a practice prescribing extract, then list
//! the people on opioids ranked by risk, and count the practice's figures
//! month by month. The desktop shell and the CLI both call the three
//! functions here:
//!
//! - [`import_from`] / [`import_csv`]: reads a CSV extract (see `crate::import`)
//!   in bounded memory, stores every understood row in short transactions
//!   but shows them only once the import is published (all or nothing, see
//!   `batched`), refuses nothing
//!   silently (each row not understood is reported with its line and reason),
//!   recognises a file or rows it has seen before, audits the import, and
//!   recomputes every patient;
//! - [`worklist`]: patients with an opioid issued in the current window,
//!   highest risk first, with filters and paging;
//! - [`figures`]: people prescribed opioids, people at or above each
//!   threshold, and high-dose people and items per 1,000 registered patients,
//!   per month (CSV with [`figures_csv`]).
//!
//! Ranking (highest risk first), in order:
//! 1. dose band from the reference thresholds: at or above the profile's
//!    specialist-referral threshold, then at or above its high-dose threshold, then below;
//! 2. more high-severity flags first (e.g. a benzodiazepine or gabapentinoid co-prescribed);
//! 3. higher total OME a day;
//! 4. more caution flags;
//! 5. the practice's patient identifier, so the order is stable.
//!
//! "Today" is always a parameter: nothing here reads the clock.

mod batched;
pub(crate) mod compute;
/// Test tooling (the ground-truth extract generator): compiled for unit tests
/// and with the `synthetic` feature only, never into the shipped binaries.
#[cfg(any(test, feature = "synthetic"))]
pub mod synthetic;

use std::collections::HashMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::flags::FlagId;
use crate::import::csv::{ColumnMap, CsvError, RowOutcome, RowProblem, TextEncoding};
use crate::patient::{RawPatient, Sex};
use crate::reference::casefinding::CaseFindingSetting;
use crate::reference::{reference, Reference};
use crate::regimen::{num, RawItem};
use crate::store::casefinding as db;
use crate::store::{Store, StoreError};
use compute::{Interpreted, PatientRec, PatientResult, RowKind, Settings};

/// Everything that can stop a case-finding operation.
#[derive(Debug, thiserror::Error)]
pub enum CaseFindingError {
    /// The file as a whole cannot be imported (nothing was imported).
    #[error("{0}")]
    BadFile(#[from] CsvError),
    /// An option is out of range (e.g. `window_days` 0).
    #[error("{field}: {message}")]
    BadOption {
        /// The option.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// The store failed (nothing was imported).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Another import is under way, or took this one for stopped (nothing
    /// was imported; try again).
    #[error("{0}")]
    Busy(String),
    /// The import's temporary file could not be written or read (nothing was imported).
    #[error("{0}")]
    TemporaryFile(String),
}

impl CaseFindingError {
    /// True when the problem is in what the user gave (exit status 2 in the CLI).
    pub fn is_user_error(&self) -> bool {
        match self {
            CaseFindingError::BadFile(_) | CaseFindingError::BadOption { .. } => true,
            CaseFindingError::Store(e) => e.is_user_error(),
            CaseFindingError::Busy(_) | CaseFindingError::TemporaryFile(_) => false,
        }
    }
}

impl From<CaseFindingError> for crate::ApiError {
    fn from(e: CaseFindingError) -> Self {
        match e {
            CaseFindingError::Store(s) => s.into(),
            CaseFindingError::Busy(m) | CaseFindingError::TemporaryFile(m) => {
                crate::ApiError::new(crate::ErrorCode::Storage, m)
            }
            CaseFindingError::BadOption { field, message } => crate::ApiError::invalid_fields(
                vec![crate::regimen::FieldError::new(field, message)],
            ),
            other => crate::ApiError::new(crate::ErrorCode::InvalidInput, other.to_string()),
        }
    }
}

/// How to import a file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ImportOptions {
    /// The file's name, for the report and the audit log (no path needed).
    pub file_name: String,
    /// Today (`YYYY-MM-DD`); rows issued after it are not understood.
    #[ts(as = "String")]
    pub today: NaiveDate,
    /// Registered patients, for figures per 1,000 (kept with the import).
    pub list_size: Option<u32>,
    /// Header names for columns that are not named the standard way.
    #[serde(default)]
    pub column_map: ColumnMap,
    /// Days of issues that make the current regimen (default from the reference table, 90).
    pub window_days: Option<u32>,
    /// Name for the audit log (default: the store's reviewer or login name).
    pub actor: Option<String>,
    /// Patients to leave off the worklist (palliative-care register, treatment
    /// for opioid dependence), by the extract's identifier; kept with the
    /// patient for later imports.
    #[serde(default)]
    pub exclusions: Vec<Exclusion>,
}

/// A patient left off the worklist, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Exclusion {
    /// The practice's identifier, as in the extract.
    pub patient_id: String,
    /// Why, in a few words ("palliative care register", "opioid dependence treatment").
    pub reason: String,
}

impl Exclusion {
    /// Reads an exclusion list: one patient a line, `patient_id[,reason]`
    /// (reason default "on the exclusion list"); blank lines, `#` comments and
    /// a `patient_id` header line are skipped.
    pub fn parse_list(text: &str) -> Result<Vec<Exclusion>, CaseFindingError> {
        let mut out = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim().trim_start_matches('\u{feff}');
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (id, reason) = line.split_once([',', '\t']).unwrap_or((line, ""));
            let (id, reason) = (id.trim().trim_matches('"'), reason.trim().trim_matches('"'));
            if n == 0 && id.eq_ignore_ascii_case("patient_id") {
                continue;
            }
            let bad = |message: String| CaseFindingError::BadOption {
                field: "exclusions".into(),
                message: format!("line {}: {message}", n + 1),
            };
            if id.is_empty() {
                return Err(bad("no patient identifier".into()));
            }
            if reason.chars().count() > 200 || reason.chars().any(char::is_control) {
                return Err(bad(
                    "the reason must be one line of at most 200 characters".into()
                ));
            }
            out.push(Exclusion {
                patient_id: id.to_string(),
                reason: if reason.is_empty() {
                    "on the exclusion list".into()
                } else {
                    reason.to_string()
                },
            });
        }
        Ok(out)
    }
}

/// Patients left off the worklist for one reason.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ExcludedCount {
    /// The reason.
    pub reason: String,
    /// Patients with a current opioid left off for it.
    #[ts(type = "number")]
    pub patients: u64,
}

/// Stages of an import, for progress bars.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum ImportPhase {
    /// Reading and understanding rows (`done`/`total` in bytes of the file).
    Reading,
    /// Storing rows (`done`/`total` in rows).
    Saving,
    /// Computing every patient's regimen, OME, flags and trend (in patients).
    Computing,
    /// Finished.
    Done,
}

/// Progress of an import.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ImportProgress {
    /// Stage.
    pub phase: ImportPhase,
    /// How far.
    #[ts(type = "number")]
    pub done: u64,
    /// Out of.
    #[ts(type = "number")]
    pub total: u64,
}

/// What an import did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ImportReport {
    /// The file.
    pub file_name: String,
    /// Its SHA-256 (the same file is never imported twice).
    pub file_sha256: String,
    /// Id of the import in the store.
    #[ts(type = "number")]
    pub import_id: i64,
    /// True when this exact file had been imported before: nothing changed.
    pub already_imported: bool,
    /// How the file was decoded.
    pub encoding: TextEncoding,
    /// The date used as today.
    pub today: String,
    /// Registered patients given with the import.
    pub list_size: Option<u32>,
    /// Data rows in the file (the header and blank lines not counted).
    #[ts(type = "number")]
    pub rows_read: u64,
    /// Rows stored now.
    #[ts(type = "number")]
    pub imported: u64,
    /// Rows understood but already in the store from an earlier import.
    #[ts(type = "number")]
    pub duplicates: u64,
    /// How many rows were not understood.
    #[ts(type = "number")]
    pub not_understood_count: u64,
    /// Every row not understood, with its line and the reason.
    pub not_understood: Vec<RowProblem>,
    /// Understood rows that are opioids.
    #[ts(type = "number")]
    pub opioid_rows: u64,
    /// Understood rows that are co-medications (used for flags).
    #[ts(type = "number")]
    pub co_medication_rows: u64,
    /// Opioid rows whose instruction could not be read (their dose is estimated from quantities and intervals).
    #[ts(type = "number")]
    pub instructions_not_read: u64,
    /// Optional fields left out of imported rows (e.g. an invalid NHS number), by line.
    pub warnings: Vec<RowProblem>,
    /// Different patients in the file.
    #[ts(type = "number")]
    pub patients_in_file: u64,
    /// Patients on the worklist after the import (an opioid in the current window).
    #[ts(type = "number")]
    pub patients_on_worklist: u64,
    /// Of those, patients whose total includes an estimated dose.
    #[ts(type = "number")]
    pub patients_estimated: u64,
    /// Of those, patients whose total is incomplete (a dose unknown or not convertible).
    #[ts(type = "number")]
    pub patients_incomplete: u64,
    /// Days of issues that make the current regimen.
    pub window_days: u32,
}

/// One item of a patient's current regimen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct WorklistItem {
    /// Product as the catalogue names it (or described from its fields).
    pub label: String,
    /// Generic name of the opioid.
    pub drug: String,
    /// Catalogue product line, if the product is in it.
    pub product_id: Option<String>,
    /// The description as written in the extract.
    pub description: String,
    /// The instruction as written.
    pub instruction: String,
    /// When it was last issued (`YYYY-MM-DD`).
    pub last_issued: String,
    /// Quantity last issued.
    pub quantity: Option<f64>,
    /// The regimen item for a consultation (absent when the dose is unknown).
    pub item: Option<RawItem>,
    /// mg OME a day (absent when the dose is unknown or the drug is not converted).
    pub ome_mg_per_day: Option<f64>,
    /// Taken only when needed (counted at its maximum).
    pub as_needed: bool,
    /// The dose was estimated from quantities and intervals.
    pub estimated: bool,
    /// How it was estimated, in words.
    pub estimate: Option<String>,
    /// Why the instruction as read may not be what was meant ("1/2" counted
    /// as two): the clinician should check it.
    pub dose_note: Option<String>,
    /// Why there is no dose, when there is none.
    pub dose_problem: Option<String>,
}

/// OME at one month's end.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct TrendPoint {
    /// `YYYY-MM`.
    pub month: String,
    /// The date the OME is for (the month's last day, or today).
    pub as_of: String,
    /// mg OME a day then.
    pub ome_mg_per_day: f64,
}

/// One patient on the worklist.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct WorklistPatient {
    /// Position in the ranking (1 = highest risk).
    pub rank: u32,
    /// The practice's identifier, as in the extract.
    pub patient_id: String,
    /// NHS number, if the extract had a valid one.
    pub nhs_number: Option<String>,
    /// Age in years (from the latest row that gave one).
    pub age: Option<f64>,
    /// Sex.
    pub sex: Option<Sex>,
    /// Total mg OME a day (as-needed items at their maximum), from `assess`.
    pub ome_mg_per_day: f64,
    /// Regular items only.
    pub regular_ome_mg_per_day: f64,
    /// False when an item's dose is unknown or the drug is not converted.
    pub complete: bool,
    /// True when the total includes an estimated dose.
    pub estimated: bool,
    /// The second figure, from supply: for each current product, the quantity
    /// issued before its latest issue divided by the days between the two,
    /// as mg OME a day, summed. Absent when no current product has two issues.
    pub supply_ome_mg_per_day: Option<f64>,
    /// False when a current product could not be measured from supply (one
    /// issue only, or an unusable quantity), so the supply figure leaves it out.
    pub supply_complete: bool,
    /// The instruction and supply figures differ by more than the fraction in
    /// `casefinding.json` (`supply-differ-fraction`) of the larger.
    pub figures_differ: bool,
    /// Risk flag ids, most severe first (information-only flags such as
    /// driving and naloxone advice are in `info_flags`, not here).
    pub flags: Vec<FlagId>,
    /// Information-only flags, for the patient view (not worklist risk).
    pub info_flags: Vec<FlagId>,
    /// Audit markers.
    pub markers: Vec<Marker>,
    /// The current regimen.
    pub items: Vec<WorklistItem>,
    /// Co-medications issued in the window (generic names).
    pub co_medications: Vec<String>,
    /// Whole months since the first opioid issue in the store.
    pub months_on_opioids: Option<f64>,
    /// Latest opioid issue.
    pub last_issued: String,
    /// OME at each month's end, oldest first (12 months by default).
    pub trend: Vec<TrendPoint>,
    /// The patient details for a consultation (age, sex, co-medications, months on opioids).
    pub patient: RawPatient,
    /// Things to know about this patient's figures, one sentence each.
    pub warnings: Vec<String>,
}

/// An audit marker on the worklist (published UK high-dose opioid audit
/// criteria and NHS case-finding searches, issue 16). Markers are findings
/// for review; they do not change the OME.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, TS)]
#[serde(rename_all = "kebab-case")]
#[ts(export)]
pub enum Marker {
    /// A current instruction gives no usable dose ("as directed", as needed
    /// with no maximum, a changing dose): an audit finding that raises the patient.
    UnclearDirections,
    /// Only immediate-release opioids are current (no modified-release or patch).
    ImmediateReleaseOnly,
    /// A combination product is current (co-codamol, co-dydramol).
    Combination,
    /// Morphine oral solution issued in a quantity above `liquid-issue-max-ml`
    /// (300 mL, `casefinding.json`) within the window.
    LargeLiquidIssue,
    /// A dependence-forming medicine (`casefinding.json`) co-prescribed in the window.
    DependenceForming,
    /// No Stepdown review saved for the patient (matched by NHS number, else
    /// by the practice identifier as the store patient's local id) within
    /// `review-interval-months` (3, `casefinding.json`) up to today.
    NoRecentReview,
}

impl Marker {
    /// Every marker, in the order of their bits.
    pub const ALL: [Marker; 6] = [
        Marker::UnclearDirections,
        Marker::ImmediateReleaseOnly,
        Marker::Combination,
        Marker::LargeLiquidIssue,
        Marker::DependenceForming,
        Marker::NoRecentReview,
    ];

    /// Its bit in the worklist cache (`cf_summaries.markers`, migration 6).
    pub fn bit(self) -> u32 {
        1 << (self as u32)
    }

    /// The markers set in `bits`.
    pub fn from_bits(bits: u32) -> Vec<Marker> {
        Marker::ALL
            .into_iter()
            .filter(|m| bits & m.bit() != 0)
            .collect()
    }
}

/// Which patients to list.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[serde(default)]
#[ts(export)]
pub struct WorklistFilters {
    /// Only patients at or above this many mg OME a day (e.g. 90 or 120).
    pub min_ome: Option<f64>,
    /// Only patients with a benzodiazepine or Z-drug flag.
    pub benzodiazepine: bool,
    /// Only patients with a gabapentinoid flag.
    pub gabapentinoid: bool,
    /// Only patients whose total includes an estimated dose.
    pub estimates_only: bool,
    /// Only patients with every one of these audit markers.
    pub markers: Vec<Marker>,
    /// At most this many patients (default: all).
    pub limit: Option<u32>,
    /// Skip this many (for paging).
    pub offset: Option<u32>,
    /// Days of issues that make the current regimen (default: as last used, else 90).
    pub window_days: Option<u32>,
}

/// Counts over the worklist.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct WorklistMetrics {
    /// The date the list is for.
    pub as_of: String,
    /// Days of issues that make the current regimen.
    pub window_days: u32,
    /// Patients with an opioid in the window.
    #[ts(type = "number")]
    pub patients: u64,
    /// Patients matching the filters.
    #[ts(type = "number")]
    pub matching: u64,
    /// Patients shown (after paging).
    #[ts(type = "number")]
    pub shown: u64,
    /// Patients at or above each threshold (profile high dose, then the others).
    pub at_or_above: Vec<ThresholdCount>,
    /// With a benzodiazepine or Z-drug flag.
    #[ts(type = "number")]
    pub benzodiazepine: u64,
    /// With a gabapentinoid flag.
    #[ts(type = "number")]
    pub gabapentinoid: u64,
    /// Whose total includes an estimate.
    #[ts(type = "number")]
    pub estimated: u64,
    /// Whose total is incomplete.
    #[ts(type = "number")]
    pub incomplete: u64,
    /// Patients with a current opioid left off the list (exclusions), by reason.
    pub excluded: Vec<ExcludedCount>,
    /// How the list is ordered, in words.
    pub ranking: String,
    /// Version of the reference tables used.
    pub reference_version: String,
}

/// A count at or above a threshold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ThresholdCount {
    /// mg OME a day.
    pub mg_per_day: f64,
    /// People.
    #[ts(type = "number")]
    pub patients: u64,
}

/// The worklist.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Worklist {
    /// Patients, highest risk first.
    pub patients: Vec<WorklistPatient>,
    /// Counts.
    pub metrics: WorklistMetrics,
}

/// A threshold the figures count against.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct FigureThreshold {
    /// mg OME a day.
    pub mg_per_day: f64,
    /// What it is, in words.
    pub label: String,
    /// Where it comes from.
    pub source: String,
    /// True for the profile's own high-dose threshold (the "high dose" of the per-1,000 figures).
    pub high_dose: bool,
}

/// People and items at or above one threshold in a month.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct FigureAtThreshold {
    /// mg OME a day.
    pub mg_per_day: f64,
    /// People prescribed an opioid in the month whose total at the month's end is at or above it.
    #[ts(type = "number")]
    pub people: u64,
    /// Opioid items issued in the month to those people.
    #[ts(type = "number")]
    pub items: u64,
    /// People per 1,000 registered patients (needs a list size).
    pub people_per_1000: Option<f64>,
    /// Items per 1,000 registered patients (needs a list size).
    pub items_per_1000: Option<f64>,
}

/// One month of practice figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct FigureMonth {
    /// `YYYY-MM`.
    pub month: String,
    /// The date totals are taken at (the month's last day, or today).
    pub as_of: String,
    /// People with an opioid issued in the month.
    #[ts(type = "number")]
    pub people_prescribed_opioids: u64,
    /// Opioid items issued in the month.
    #[ts(type = "number")]
    pub opioid_items: u64,
    /// People prescribed opioids per 1,000 registered patients.
    pub people_per_1000: Option<f64>,
    /// At or above each threshold, in the order of [`Figures::thresholds`].
    pub at_or_above: Vec<FigureAtThreshold>,
}

/// The practice's figures, month by month.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Figures {
    /// The date they are for.
    pub as_of: String,
    /// Registered patients (from the latest import that gave it).
    pub list_size: Option<u32>,
    /// Thresholds, ascending.
    pub thresholds: Vec<FigureThreshold>,
    /// Months, oldest first.
    pub months: Vec<FigureMonth>,
    /// How the figures are counted, in words.
    pub notes: Vec<String>,
}

/// What the cache was computed for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct CacheState {
    /// What the cache rows hold ([`CACHE_FORMAT`]); absent in caches written
    /// before audit markers (issue 16), which are rebuilt.
    #[serde(default)]
    format: u32,
    as_of: NaiveDate,
    window_days: u32,
    reference_version: String,
    patients: u64,
    estimated: u64,
    incomplete: u64,
    benzodiazepine: u64,
    gabapentinoid: u64,
    /// (threshold, patients at or above it), for the figure thresholds.
    at_or_above: Vec<(f64, u64)>,
    /// (reason, patients with a current opioid excluded for it).
    #[serde(default)]
    excluded: Vec<(String, u64)>,
    /// The Stepdown reviews the no-recent-review marker was set from
    /// (`db::reviews_fingerprint`): a review saved since makes the cache stale.
    #[serde(default)]
    reviews: String,
}

/// The cache's format: 2 since the rows carry audit markers (migration 6).
const CACHE_FORMAT: u32 = 2;

const RANKING: &str = "Highest risk first: dose band (at or above the specialist-referral threshold, then at or above the high-dose threshold, then below), then more high-severity flags (unclear directions count as one), then higher total OME, then more caution flags, then patient identifier";

fn window_or_default(window: Option<u32>, reference: &Reference) -> Result<u32, CaseFindingError> {
    let w = window.unwrap_or_else(|| {
        reference
            .casefinding
            .setting(CaseFindingSetting::CurrentWindowDays) as u32
    });
    if w == 0 {
        return Err(CaseFindingError::BadOption {
            field: "window_days".into(),
            message: "must be at least 1 day".into(),
        });
    }
    Ok(w)
}

/// A fast, non-cryptographic hasher for the importer's own tables (rustc-hash's
/// FxHash, already in the dependency tree): a million rows mean three million
/// lookups, and the keys come from a local file, so flooding is not a concern.
pub(crate) use rustc_hash::FxHasher;

/// A hash map with [`FxHasher`].
pub(crate) type FastMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<FxHasher>>;

/// When each Stepdown patient was last reviewed, for the no-recent-review
/// marker: a worklist patient is matched by NHS number, else by the
/// practice identifier as the Stepdown patient's local id (case-insensitive).
pub(crate) struct Reviews {
    by_nhs: FastMap<String, NaiveDate>,
    by_local: FastMap<String, NaiveDate>,
    /// Reviews on or after this day count as recent.
    since: NaiveDate,
    /// What they were read from (`db::reviews_fingerprint`).
    fingerprint: String,
}

impl Reviews {
    /// The reviews saved up to `today`.
    pub(crate) fn load(
        store: &Store,
        today: NaiveDate,
        reference: &Reference,
    ) -> Result<Reviews, StoreError> {
        let months = reference
            .casefinding
            .setting(CaseFindingSetting::ReviewIntervalMonths)
            .max(0.0) as u32;
        let fingerprint = store.casefinding_read(db::reviews_fingerprint)?;
        let rows = store.casefinding_read(|c| db::last_reviews(c, today))?;
        let mut by_nhs = FastMap::default();
        let mut by_local = FastMap::default();
        for (nhs, local, date) in rows {
            if let Some(n) = nhs {
                by_nhs.insert(n, date);
            }
            if let Some(l) = local {
                by_local.insert(l.to_lowercase(), date);
            }
        }
        Ok(Reviews {
            by_nhs,
            by_local,
            since: today - chrono::Months::new(months),
            fingerprint,
        })
    }

    /// True when the patient has no review on or after `since`.
    pub(crate) fn missing(&self, nhs_number: Option<&str>, extract_id: &str) -> bool {
        let last = nhs_number
            .and_then(|n| self.by_nhs.get(n))
            .or_else(|| self.by_local.get(&extract_id.to_lowercase()));
        last.is_none_or(|d| *d < self.since)
    }
}

/// Intern table for the strings of one file. Each string is held once: the
/// index maps its hash to its position (a million patients' identifiers
/// would otherwise be held twice); the rare strings whose hash another
/// string already has are kept apart, whole.
#[derive(Default)]
struct Interner {
    index: FastMap<u64, u32>,
    collided: FastMap<String, u32>,
    texts: Vec<String>,
}

impl Interner {
    fn get(&mut self, s: &str) -> (u32, bool) {
        use std::hash::{Hash, Hasher};
        let mut h = FxHasher::default();
        s.hash(&mut h);
        let h = h.finish();
        let i = self.texts.len() as u32;
        match self.index.entry(h) {
            std::collections::hash_map::Entry::Occupied(e) => {
                let at = *e.get();
                if self.texts[at as usize] == s {
                    return (at, false);
                }
                if let Some(&at) = self.collided.get(s) {
                    return (at, false);
                }
                self.collided.insert(s.to_string(), i);
            }
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(i);
            }
        }
        self.texts.push(s.to_string());
        (i, true)
    }

    fn clear(&mut self) {
        self.index.clear();
        self.collided.clear();
        self.texts.clear();
    }
}

/// A row to store.
#[derive(Debug, Clone, Copy)]
struct Pending {
    patient: u32,
    date: NaiveDate,
    drug: u32,
    dose: u32,
    quantity: f64,
    line: u64,
}

/// Patient details from the file, newest first.
#[derive(Debug, Clone, Default)]
struct Facts {
    nhs_number: Option<String>,
    nhs_on: Option<NaiveDate>,
    age: Option<f64>,
    age_on: Option<NaiveDate>,
    sex: Option<Sex>,
    sex_on: Option<NaiveDate>,
}

/// What reading (part of) a file gathered: its own tables of texts and
/// patients, the rows to store, and the rows not understood.
struct ReadState<'r> {
    texts: Interner,
    patients: Interner,
    facts: Vec<Facts>,
    interp: Interpreted<'r>,
    pending: Vec<Pending>,
    not_understood: Vec<RowProblem>,
    warnings: Vec<RowProblem>,
    rows_read: u64,
    opioid_rows: u64,
    comed_rows: u64,
    not_read: u64,
}

impl Facts {
    /// Takes what `other` says where it is newer (later issue date).
    fn update(&mut self, other: &Facts) {
        let newer = |mine: Option<NaiveDate>, theirs: Option<NaiveDate>| match (mine, theirs) {
            (_, None) => false,
            (None, Some(_)) => true,
            (Some(a), Some(b)) => b >= a,
        };
        if other.nhs_number.is_some() && newer(self.nhs_on, other.nhs_on) {
            self.nhs_number.clone_from(&other.nhs_number);
            self.nhs_on = other.nhs_on;
        }
        if other.age.is_some() && newer(self.age_on, other.age_on) {
            self.age = other.age;
            self.age_on = other.age_on;
        }
        if other.sex.is_some() && newer(self.sex_on, other.sex_on) {
            self.sex = other.sex;
            self.sex_on = other.sex_on;
        }
    }
}

impl<'r> ReadState<'r> {
    fn new(reference: &'r Reference) -> ReadState<'r> {
        ReadState {
            texts: Interner::default(),
            patients: Interner::default(),
            facts: Vec::new(),
            interp: Interpreted::new(reference),
            pending: Vec::new(),
            not_understood: Vec::new(),
            warnings: Vec::new(),
            rows_read: 0,
            opioid_rows: 0,
            comed_rows: 0,
            not_read: 0,
        }
    }

    /// Understands one row: stored for import, or reported with its reason.
    fn take(&mut self, outcome: RowOutcome<'_>) {
        self.rows_read += 1;
        let row = match outcome {
            RowOutcome::Problem(p) => {
                self.not_understood.push(p);
                return;
            }
            RowOutcome::Row(r) => r,
        };
        let (drug, new_drug) = self.texts.get(row.drug);
        let (dose, new_dose) = self.texts.get(row.dose);
        if new_drug || new_dose {
            self.interp.grow(&self.texts.texts);
        }
        match self.interp.classify(drug, dose, &self.texts.texts) {
            Ok(RowKind::OpioidRead) => self.opioid_rows += 1,
            Ok(RowKind::OpioidNotRead) => {
                self.opioid_rows += 1;
                self.not_read += 1;
            }
            Ok(RowKind::CoMedication) => self.comed_rows += 1,
            Err((column, reason)) => {
                self.not_understood.push(RowProblem {
                    line: row.line,
                    column: Some(column.to_string()),
                    reason: format!("{column}: {reason}"),
                });
                return;
            }
        }
        for w in &row.warnings {
            self.warnings.push(RowProblem {
                line: row.line,
                column: None,
                reason: w.clone(),
            });
        }
        let (patient, new_patient) = self.patients.get(row.patient_id);
        if new_patient {
            self.facts.push(Facts::default());
        }
        let on = Some(row.issue_date);
        self.facts[patient as usize].update(&Facts {
            nhs_number: row.nhs_number.as_ref().map(|n| n.as_str().to_string()),
            nhs_on: row.nhs_number.as_ref().and(on),
            age: row.age,
            age_on: row.age.and(on),
            sex: row.sex,
            sex_on: row.sex.and(on),
        });
        self.pending.push(Pending {
            patient,
            date: row.issue_date,
            drug,
            dose,
            quantity: row.quantity.unwrap_or(0.0),
            line: row.line,
        });
    }

    /// Takes what a reading thread gathered from one chunk: its rows and
    /// problems, mapped to this state's indexes. The thread keeps its texts
    /// and patients (`text_map` and `patient_map` map them here) for the next
    /// chunk, so each is looked up here once, until it knows more than
    /// `max_patients`: then its patients' details are passed on and it starts
    /// afresh, which bounds its memory.
    fn absorb(
        &mut self,
        w: &mut ReadState<'_>,
        text_map: &mut Vec<u32>,
        patient_map: &mut Vec<u32>,
        max_patients: usize,
    ) {
        for t in &w.texts.texts[text_map.len()..] {
            text_map.push(self.texts.get(t).0);
        }
        for p in &w.patients.texts[patient_map.len()..] {
            let (i, new) = self.patients.get(p);
            if new {
                self.facts.push(Facts::default());
            }
            patient_map.push(i);
        }
        self.pending.extend(w.pending.drain(..).map(|p| Pending {
            patient: patient_map[p.patient as usize],
            drug: text_map[p.drug as usize],
            dose: text_map[p.dose as usize],
            ..p
        }));
        self.not_understood.append(&mut w.not_understood);
        self.warnings.append(&mut w.warnings);
        self.rows_read += std::mem::take(&mut w.rows_read);
        self.opioid_rows += std::mem::take(&mut w.opioid_rows);
        self.comed_rows += std::mem::take(&mut w.comed_rows);
        self.not_read += std::mem::take(&mut w.not_read);
        if w.patients.texts.len() > max_patients {
            self.absorb_facts(w, patient_map);
        }
    }

    /// Takes a reading thread's patient details and makes it forget its patients.
    fn absorb_facts(&mut self, w: &mut ReadState<'_>, patient_map: &mut Vec<u32>) {
        for (k, f) in w.facts.iter().enumerate() {
            self.facts[patient_map[k] as usize].update(f);
        }
        w.facts.clear();
        w.patients.clear();
        patient_map.clear();
    }
}

/// Imports a CSV extract held in memory; see [`import_from`].
pub fn import_csv(
    store: &mut Store,
    bytes: &[u8],
    options: &ImportOptions,
    progress: &mut dyn FnMut(ImportProgress),
) -> Result<ImportReport, CaseFindingError> {
    import_from(store, std::io::Cursor::new(bytes), options, progress)
}

/// Imports a CSV extract from a file (or any seekable source) in bounded
/// memory: every understood row is stored, rows already in the store are not
/// added again, the same file is recognised by its SHA-256, the import is
/// audited, and every patient is recomputed as of `options.today`.
///
/// Rows are stored in short transactions (other writers wait for one batch
/// at most) but shown only when the import is published at the end, in one
/// transaction: an import that fails or is stopped part-way shows nothing.
/// `progress` is called from this thread, between transactions.
pub fn import_from<R: std::io::Read + std::io::Seek>(
    store: &mut Store,
    source: R,
    options: &ImportOptions,
    progress: &mut dyn FnMut(ImportProgress),
) -> Result<ImportReport, CaseFindingError> {
    let cache: i64 =
        store.casefinding_read(|c| Ok(c.pragma_query_value(None, "cache_size", |r| r.get(0))?))?;
    // A bigger page cache for the length of the import (rows otherwise
    // spill pages to the WAL one at a time); put back afterwards.
    store.casefinding_read(|c| Ok(c.pragma_update(None, "cache_size", IMPORT_CACHE_KIB)?))?;
    let result = batched::import(store, source, options, progress, batched::Tuning::default());
    let _ = store.casefinding_read(|c| Ok(c.pragma_update(None, "cache_size", cache)?));
    result
}

/// Page cache during an import, in KiB (SQLite's negative `cache_size`): 64 MiB.
const IMPORT_CACHE_KIB: i64 = -65_536;

fn already_imported(prev: db::PreviousImport, sha: &str, options: &ImportOptions) -> ImportReport {
    let earlier: Option<ImportReport> = serde_json::from_str(&prev.report).ok();
    let mut r = earlier.unwrap_or_else(|| ImportReport {
        file_name: options.file_name.clone(),
        file_sha256: sha.to_string(),
        import_id: prev.id,
        already_imported: true,
        encoding: TextEncoding::Utf8,
        today: options.today.to_string(),
        list_size: options.list_size,
        rows_read: 0,
        imported: 0,
        duplicates: 0,
        not_understood_count: 0,
        not_understood: Vec::new(),
        opioid_rows: 0,
        co_medication_rows: 0,
        instructions_not_read: 0,
        warnings: Vec::new(),
        patients_in_file: 0,
        patients_on_worklist: 0,
        patients_estimated: 0,
        patients_incomplete: 0,
        window_days: 0,
    });
    r.already_imported = true;
    r.import_id = prev.id;
    r.file_name = options.file_name.clone();
    r.duplicates += r.imported;
    r.imported = 0;
    r.warnings.insert(
        0,
        RowProblem {
            line: 1,
            column: None,
            reason: format!(
                "this file was already imported ({}); nothing was changed",
                prev.imported_at
            ),
        },
    );
    r
}

/// `["high-dose","benzodiazepine"]`: flag ids as a JSON array (written by
/// hand: ids are plain kebab-case words, and this runs for every patient).
fn flag_json(flags: &[FlagId]) -> String {
    let mut s = String::with_capacity(16 * flags.len() + 2);
    s.push('[');
    for (i, f) in flags.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push('"');
        s.push_str(f.as_str());
        s.push('"');
    }
    s.push(']');
    s
}

/// JSON for the cache; these types always serialise.
fn to_json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "{}".into())
}

/// Patients cut into chunks that any thread may take, so that the import's
/// storing thread can join in as soon as it has finished with SQLite.
struct WorkQueue<'a> {
    patients: &'a [PatientRec],
    next: std::sync::atomic::AtomicUsize,
    finished: std::sync::atomic::AtomicUsize,
    done: std::sync::Mutex<Vec<(usize, Vec<PatientResult>)>>,
}

/// Patients per chunk of the work queue.
const CHUNK: usize = 1_000;

impl<'a> WorkQueue<'a> {
    fn new(patients: &'a [PatientRec]) -> WorkQueue<'a> {
        WorkQueue {
            patients,
            next: std::sync::atomic::AtomicUsize::new(0),
            finished: std::sync::atomic::AtomicUsize::new(0),
            done: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// Takes chunks until none are left; `each` hears how many patients are done.
    fn work(
        &self,
        interp: &Interpreted<'_>,
        settings: &Settings,
        texts: &[String],
        detail: bool,
        each: &mut dyn FnMut(u64),
    ) {
        use std::sync::atomic::Ordering;
        let mut cache = compute::EstimateCache::default();
        loop {
            let c = self.next.fetch_add(1, Ordering::Relaxed);
            let start = c * CHUNK;
            if start >= self.patients.len() {
                break;
            }
            let end = (start + CHUNK).min(self.patients.len());
            let results: Vec<PatientResult> = self.patients[start..end]
                .iter()
                .map(|p| compute::patient(p, interp, settings, &mut cache, texts, detail))
                .collect();
            self.done
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push((c, results));
            let n = self.finished.fetch_add(end - start, Ordering::Relaxed) + (end - start);
            each(n as u64);
        }
    }

    /// The results in patient order.
    fn finish(self) -> Vec<PatientResult> {
        let mut parts = self
            .done
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        parts.sort_by_key(|(c, _)| *c);
        parts.into_iter().flat_map(|(_, r)| r).collect()
    }
}

/// Computes every patient on `threads` threads (this one included), reporting
/// progress from this thread.
fn compute_all(
    patients: &[PatientRec],
    interp: &Interpreted<'_>,
    settings: &Settings,
    texts: &[String],
    detail: bool,
    threads: usize,
    progress: &mut dyn FnMut(ImportProgress),
) -> Vec<PatientResult> {
    let queue = WorkQueue::new(patients);
    let total = patients.len() as u64;
    std::thread::scope(|s| {
        let helpers: Vec<_> = (1..threads.clamp(1, 8))
            .map(|_| s.spawn(|| queue.work(interp, settings, texts, detail, &mut |_| {})))
            .collect();
        queue.work(interp, settings, texts, detail, &mut |done| {
            progress(ImportProgress {
                phase: ImportPhase::Computing,
                done,
                total,
            })
        });
        for h in helpers {
            // A panic in a helper is a bug: pass it on rather than lose patients.
            h.join().unwrap_or_else(|e| std::panic::resume_unwind(e));
        }
    });
    queue.finish()
}

fn per_1000(n: u64, list: Option<u32>) -> Option<f64> {
    list.filter(|l| *l > 0)
        .map(|l| (n as f64 / f64::from(l) * 1000.0 * 100.0).round() / 100.0)
}

/// The thresholds figures count against: the profile's high-dose threshold
/// and the case-finding table's others, ascending.
fn figure_thresholds(reference: &Reference) -> Vec<FigureThreshold> {
    let mut out: Vec<FigureThreshold> = Vec::new();
    if let Some(t) =
        reference.threshold(compute::PROFILE, crate::reference::ThresholdKind::HighDose)
    {
        out.push(FigureThreshold {
            mg_per_day: t.mg_per_day,
            label: format!(
                "the high-dose threshold ({} profile)",
                compute::PROFILE.as_str().to_uppercase()
            ),
            source: t.source.clone(),
            high_dose: true,
        });
    }
    for (mg, label, source) in reference.casefinding.figure_thresholds() {
        if out.iter().all(|t| t.mg_per_day != mg) {
            out.push(FigureThreshold {
                mg_per_day: mg,
                label: label.to_string(),
                source: source.to_string(),
                high_dose: false,
            });
        }
    }
    out.sort_by(|a, b| a.mg_per_day.total_cmp(&b.mg_per_day));
    out
}

/// The figures document: the months counted, with the thresholds and notes.
fn figures_document(
    settings: &Settings,
    reference: &Reference,
    list: Option<(u32, String)>,
    months: Vec<FigureMonth>,
) -> Figures {
    let thresholds = figure_thresholds(reference);
    let list_size = list.as_ref().map(|(n, _)| *n);
    let mut notes = vec![
        "People prescribed opioids: patients with at least one opioid item issued in the month.".to_string(),
        format!(
            "A person's total is their current regimen at the month's end: for each product, its latest issue within the previous {} days, with as-needed items at their maximum (OME from the {} profile).",
            settings.window_days, compute::PROFILE.as_str().to_uppercase()
        ),
        "People at or above a threshold: people prescribed opioids in the month whose total at the month's end is at or above it; their items are the opioid items issued to them in the month. High dose is judged per person from the dose instructions, not per item from the product strength (as OpenPrescribing's measures do).".to_string(),
        "Doses that could not be read are estimated from quantities and intervals between issues.".to_string(),
    ];
    match &list {
        Some((n, on)) => notes.push(format!(
            "Per 1,000: per 1,000 registered patients, list size {n} (given with the import of {on})."
        )),
        None => notes.push(
            "Per 1,000 figures need the practice list size: import with --list-size N.".to_string(),
        ),
    }
    Figures {
        as_of: settings.today.to_string(),
        list_size,
        thresholds,
        months,
        notes,
    }
}

/// Makes sure the cache is for `today`, `window` and this build's reference
/// data; recomputes everything if not (in batches, published in one short
/// transaction, see `batched`).
fn ensure_fresh(
    store: &mut Store,
    today: NaiveDate,
    window: Option<u32>,
) -> Result<(u32, CacheState), CaseFindingError> {
    let reference = reference();
    batched::remove_stale_staging(store)?;
    let stored: Option<CacheState> = store
        .casefinding_read(|c| db::get_state(c, "summaries"))?
        .and_then(|s| serde_json::from_str(&s).ok());
    let window = match (window, &stored) {
        (Some(w), _) => window_or_default(Some(w), reference)?,
        (None, Some(s)) => s.window_days,
        (None, None) => window_or_default(None, reference)?,
    };
    if let Some(s) = stored {
        if s.format == CACHE_FORMAT
            && s.as_of == today
            && s.window_days == window
            && s.reference_version == reference.manifest_version
            && s.reviews == store.casefinding_read(db::reviews_fingerprint)?
        {
            return Ok((window, s));
        }
    }
    let state = batched::refresh(store, today, window, reference)?;
    Ok((window, state))
}

/// The worklist as of `today`: patients with an opioid issued in the current
/// window, highest risk first (see the module documentation for the order),
/// filtered and paged. Recomputes the cache first if it is for another day,
/// window or reference version.
pub fn worklist(
    store: &mut Store,
    filters: &WorklistFilters,
    today: NaiveDate,
) -> Result<Worklist, CaseFindingError> {
    let reference = reference();
    if let Some(m) = filters.min_ome {
        if !m.is_finite() || m < 0.0 {
            return Err(CaseFindingError::BadOption {
                field: "min_ome".into(),
                message: format!("must be 0 or more (got {})", num(m)),
            });
        }
    }
    let (window, state) = ensure_fresh(store, today, filters.window_days)?;
    let query = db::PageQuery {
        min_ome: filters.min_ome.unwrap_or(0.0),
        benzodiazepine: filters.benzodiazepine,
        gabapentinoid: filters.gabapentinoid,
        estimated_only: filters.estimates_only,
        markers: filters.markers.iter().fold(0, |m, x| m | x.bit()),
        limit: filters.limit,
        offset: filters.offset.unwrap_or(0),
    };
    // Counts that do not depend on the filters were taken when the cache was
    // computed; only the number matching a filter is counted now.
    let (page, matching, (texts, recs)) = store.casefinding_read(|c| {
        let page = db::page(c, &query)?;
        let matching = if query.is_everything() {
            state.patients
        } else {
            db::matching(c, &query)?
        };
        let ids: Vec<i64> = page.iter().map(|(id, _)| *id).collect();
        Ok((page, matching, db::load_patients(c, &ids)?))
    })?;
    let reviews = Reviews::load(store, today, reference)?;
    let patients = details(&recs, &page, &texts, today, window, reference, &reviews);
    Ok(Worklist {
        metrics: WorklistMetrics {
            as_of: today.to_string(),
            window_days: window,
            patients: state.patients,
            matching,
            shown: patients.len() as u64,
            at_or_above: state
                .at_or_above
                .iter()
                .map(|(t, n)| ThresholdCount {
                    mg_per_day: *t,
                    patients: *n,
                })
                .collect(),
            benzodiazepine: state.benzodiazepine,
            gabapentinoid: state.gabapentinoid,
            estimated: state.estimated,
            incomplete: state.incomplete,
            excluded: state
                .excluded
                .iter()
                .map(|(reason, n)| ExcludedCount {
                    reason: reason.clone(),
                    patients: *n,
                })
                .collect(),
            ranking: RANKING.to_string(),
            reference_version: reference.manifest_version.clone(),
        },
        patients,
    })
}

/// The full entries of a page, computed again from the issues (the same code
/// as the cache, so they agree), in rank order.
fn details(
    recs: &[PatientRec],
    page: &[(i64, u32)],
    texts: &[String],
    today: NaiveDate,
    window: u32,
    reference: &Reference,
    reviews: &Reviews,
) -> Vec<WorklistPatient> {
    let mut interp = Interpreted::new(reference);
    interp.grow(texts);
    for p in recs {
        for i in &p.issues {
            let _ = interp.classify(i.drug, i.dose, texts);
        }
    }
    let trend = reference
        .casefinding
        .setting(CaseFindingSetting::TrendMonths) as u32;
    let settings = Settings::new(today, i64::from(window), trend, None, reference);
    let ranks: HashMap<i64, u32> = page.iter().copied().collect();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let results = compute_all(recs, &interp, &settings, texts, true, threads, &mut |_| {});
    let mut out: Vec<WorklistPatient> = recs
        .iter()
        .zip(results)
        .filter_map(|(p, r)| {
            let mut e = r.entry?;
            e.rank = ranks.get(&p.db_id).copied().unwrap_or(0);
            if reviews.missing(p.nhs_number.as_deref(), &p.extract_id) {
                e.markers.push(Marker::NoRecentReview);
            }
            Some(e)
        })
        .collect();
    out.sort_by_key(|e| e.rank);
    out
}

/// The practice's figures as of `today` (recomputed first if the cache is
/// for another day or reference version).
pub fn figures(store: &mut Store, today: NaiveDate) -> Result<Figures, CaseFindingError> {
    ensure_fresh(store, today, None)?;
    let json = store.casefinding_read(|c| db::get_state(c, "figures"))?;
    let figures = json
        .as_deref()
        .and_then(|j| serde_json::from_str::<Figures>(j).ok())
        .unwrap_or_else(|| Figures {
            as_of: today.to_string(),
            list_size: None,
            thresholds: figure_thresholds(reference()),
            months: Vec::new(),
            notes: vec!["No extract has been imported yet.".into()],
        });
    Ok(figures)
}

/// The figures as CSV: one row per month; for each threshold, people and
/// items at or above it and both per 1,000 (empty without a list size).
pub fn figures_csv(f: &Figures) -> String {
    let mut header = vec![
        "month".to_string(),
        "as_of".into(),
        "people_prescribed_opioids".into(),
        "opioid_items".into(),
        "people_prescribed_opioids_per_1000".into(),
    ];
    for t in &f.thresholds {
        let mg = num(t.mg_per_day);
        header.push(format!("people_ome_ge_{mg}"));
        header.push(format!("items_ome_ge_{mg}"));
        header.push(format!("people_ome_ge_{mg}_per_1000"));
        header.push(format!("items_ome_ge_{mg}_per_1000"));
    }
    let opt = |x: Option<f64>| x.map(num).unwrap_or_default();
    let mut out = header.join(",");
    out.push('\n');
    for m in &f.months {
        let mut row = vec![
            m.month.clone(),
            m.as_of.clone(),
            m.people_prescribed_opioids.to_string(),
            m.opioid_items.to_string(),
            opt(m.people_per_1000),
        ];
        for a in &m.at_or_above {
            row.push(a.people.to_string());
            row.push(a.items.to_string());
            row.push(opt(a.people_per_1000));
            row.push(opt(a.items_per_1000));
        }
        out.push_str(&row.join(","));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests;
