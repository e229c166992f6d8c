//! The public shapes of case-finding: what an import is asked to do and
//! reports, the worklist and its filters, the audit markers, and the
//! practice figures (all exported to TypeScript for the desktop app).

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::CaseFindingError;
use crate::flags::FlagId;
use crate::import::csv::{ColumnMap, RowProblem, TextEncoding};
use crate::patient::{RawPatient, Sex};
use crate::regimen::RawItem;

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
    /// On a team store, the ODS code of the practice whose extract this is
    /// (one of `Store::seat_practices`); needed when the seat works for
    /// several. Refused on a SQLite file.
    #[serde(default)]
    #[ts(optional = nullable)]
    pub practice: Option<String>,
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
    /// Who holds this patient and where they are up to (worklist claims);
    /// null when nobody has claimed them or set a status.
    #[serde(default)]
    pub claim: Option<crate::store::WorklistClaim>,
    /// The practice whose extract the patient is in (ODS code), on a team
    /// store; absent in a single-seat store, which holds one practice. With
    /// `patient_id` it names the patient (claims are keyed by both).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub practice_code: Option<String>,
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
    /// Only patients this person holds (the seat's own name: "mine").
    #[ts(optional)]
    pub held_by: Option<String>,
    /// Only patients nobody holds.
    pub unclaimed: bool,
    /// On a team store, the ODS code of the practice whose worklist this
    /// is (one of `Store::seat_practices`); needed when the seat works for
    /// several: two practices' lists are never pooled. Refused on a SQLite file.
    #[ts(optional = nullable)]
    pub practice: Option<String>,
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
