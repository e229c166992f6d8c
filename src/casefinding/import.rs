//! Reading an extract's rows into the importer's own tables (texts and
//! patients interned, rows kept as small records), and the two import entry
//! points; storing and publishing are in `batched`.

use chrono::NaiveDate;

use super::compute::{Interpreted, RowKind};
use super::{
    batched, CaseFindingError, FastMap, FxHasher, ImportOptions, ImportProgress, ImportReport,
};
use crate::import::csv::{RowOutcome, RowProblem, TextEncoding};
use crate::patient::Sex;
use crate::reference::Reference;
use crate::store::casefinding as db;
use crate::store::Store;

/// Intern table for the strings of one file. Each string is held once: the
/// index maps its hash to its position (a million patients' identifiers
/// would otherwise be held twice); the rare strings whose hash another
/// string already has are kept apart, whole.
#[derive(Default)]
pub(super) struct Interner {
    pub(super) index: FastMap<u64, u32>,
    pub(super) collided: FastMap<String, u32>,
    pub(super) texts: Vec<String>,
}

impl Interner {
    pub(super) fn get(&mut self, s: &str) -> (u32, bool) {
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

    pub(super) fn clear(&mut self) {
        self.index.clear();
        self.collided.clear();
        self.texts.clear();
    }
}

/// A row to store.
#[derive(Debug, Clone, Copy)]
pub(super) struct Pending {
    pub(super) patient: u32,
    pub(super) date: NaiveDate,
    pub(super) drug: u32,
    pub(super) dose: u32,
    pub(super) quantity: f64,
    pub(super) line: u64,
}

/// Patient details from the file, newest first.
#[derive(Debug, Clone, Default)]
pub(super) struct Facts {
    pub(super) nhs_number: Option<String>,
    pub(super) nhs_on: Option<NaiveDate>,
    pub(super) age: Option<f64>,
    pub(super) age_on: Option<NaiveDate>,
    pub(super) sex: Option<Sex>,
    pub(super) sex_on: Option<NaiveDate>,
}

/// What reading (part of) a file gathered: its own tables of texts and
/// patients, the rows to store, and the rows not understood.
pub(super) struct ReadState<'r> {
    pub(super) texts: Interner,
    pub(super) patients: Interner,
    pub(super) facts: Vec<Facts>,
    pub(super) interp: Interpreted<'r>,
    pub(super) pending: Vec<Pending>,
    pub(super) not_understood: Vec<RowProblem>,
    pub(super) warnings: Vec<RowProblem>,
    pub(super) rows_read: u64,
    pub(super) opioid_rows: u64,
    pub(super) comed_rows: u64,
    pub(super) not_read: u64,
}

/// True when a detail given on `theirs` is at least as new as one given on `mine`.
fn newer(mine: Option<NaiveDate>, theirs: Option<NaiveDate>) -> bool {
    match (mine, theirs) {
        (_, None) => false,
        (None, Some(_)) => true,
        (Some(a), Some(b)) => b >= a,
    }
}

impl Facts {
    /// Takes what one row says where it is newer, as [`Facts::update`] does,
    /// without building a `Facts` (and copying its NHS number) for every row.
    pub(super) fn update_from_row(
        &mut self,
        nhs_number: Option<&str>,
        age: Option<f64>,
        sex: Option<Sex>,
        on: NaiveDate,
    ) {
        if let Some(n) = nhs_number {
            if newer(self.nhs_on, Some(on)) {
                if self.nhs_number.as_deref() != Some(n) {
                    self.nhs_number = Some(n.to_string());
                }
                self.nhs_on = Some(on);
            }
        }
        if age.is_some() && newer(self.age_on, Some(on)) {
            self.age = age;
            self.age_on = Some(on);
        }
        if sex.is_some() && newer(self.sex_on, Some(on)) {
            self.sex = sex;
            self.sex_on = Some(on);
        }
    }

    /// Takes what `other` says where it is newer (later issue date).
    pub(super) fn update(&mut self, other: &Facts) {
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
    pub(super) fn new(reference: &'r Reference) -> ReadState<'r> {
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
    pub(super) fn take(&mut self, outcome: RowOutcome<'_>) {
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
        self.facts[patient as usize].update_from_row(
            row.nhs_number.as_ref().map(|n| n.as_str()),
            row.age,
            row.sex,
            row.issue_date,
        );
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
    pub(super) fn absorb(
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
    pub(super) fn absorb_facts(&mut self, w: &mut ReadState<'_>, patient_map: &mut Vec<u32>) {
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
    // A bigger page cache for the length of the import (rows otherwise
    // spill pages to the WAL one at a time); put back afterwards.
    let cache = store.swap_page_cache(IMPORT_CACHE_KIB)?;
    // On a team store, one practice's extract: its rows, its cache and its
    // ranks only (a seat of several practices says which).
    let result = store
        .practice_for(options.practice.as_deref())
        .map_err(CaseFindingError::from)
        .and_then(|practice| {
            store.in_practice(practice.as_deref(), |store| {
                batched::import(store, source, options, progress, batched::Tuning::default())
            })
        });
    if let Some(cache) = cache {
        let _ = store.swap_page_cache(cache);
    }
    result
}

/// Page cache during an import, in KiB (SQLite's negative `cache_size`): 64 MiB.
pub(super) const IMPORT_CACHE_KIB: i64 = -65_536;

pub(super) fn already_imported(
    prev: db::PreviousImport,
    sha: &str,
    options: &ImportOptions,
) -> ImportReport {
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
