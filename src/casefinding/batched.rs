//! Imports in bounded memory and short transactions (issue 16).
//!
//! 1. The file is hashed and its encoding decided in one pass
//!    ([`crate::import::stream::scan`]); a file imported before is recognised
//!    before anything else is done.
//! 2. It is read again a chunk at a time, each chunk's lines shared among
//!    the threads; understood rows are kept in compact form and, past
//!    [`RUN_ROWS`], sorted and spilled to a temporary file, so memory grows
//!    with the patients and texts of the file, not its rows.
//! 3. Texts, new patients and the rows (merged back in patient order, each
//!    identical row numbered) are stored in batches of [`BATCH_ROWS`], each
//!    its own transaction, under an import that is not yet published: readers
//!    see only issues of published imports, so a stopped import shows nothing.
//! 4. Every patient is computed from the store a range of ids at a time, and
//!    the new worklist cache written, in batches, to a staging table.
//! 5. One short transaction publishes: the staging table becomes the cache,
//!    the import is marked published, patient details and exclusions from
//!    the file are applied, and the import is audited.
//!
//! Between batches another connection can write (the desktop app's saves).
//! A failed import removes what it stored; one that was killed is removed by
//! the next import once its heartbeat is older than [`STOPPED_AFTER_SECS`].

use std::borrow::Cow;
use std::collections::BinaryHeap;
use std::io::{BufReader, BufWriter, Read, Seek, Write};
use std::path::PathBuf;

use chrono::NaiveDate;

use super::compute::{self, Interpreted, PatientRec, PatientResult, Settings};
use super::{
    already_imported, compute_all, figure_thresholds, flag_json, per_1000, window_or_default,
    CacheState, CaseFindingError, FastMap, FigureAtThreshold, FigureMonth, Figures, ImportOptions,
    ImportPhase, ImportProgress, ImportReport, Marker, Pending, ReadState, Reviews, CACHE_FORMAT,
};
use crate::flags::FlagId;
use crate::import::csv::{split_span, CsvError, Extract, FieldLimits, RowProblem, Span};
use crate::import::stream::{scan, Chunks};
use crate::reference::casefinding::CaseFindingSetting;
use crate::reference::risk::PatientField;
use crate::reference::{reference, Reference};
use crate::store::casefinding::{self as db, Staging};
use crate::store::{Store, StoreError};

/// Sizes of the import's steps.
#[derive(Debug, Clone, Copy)]
pub(super) struct Tuning {
    /// Decoded text read per chunk.
    pub chunk_text: usize,
    /// Rows kept in memory before a sorted run is spilled (32 bytes each).
    pub run_rows: usize,
    /// Rows (or patients, or cache rows) stored per transaction.
    pub batch_rows: usize,
    /// Largest file imported, in bytes (`max_extract_bytes`).
    pub max_bytes: u64,
}

impl Default for Tuning {
    fn default() -> Tuning {
        Tuning {
            chunk_text: CHUNK_TEXT,
            run_rows: RUN_ROWS,
            batch_rows: BATCH_ROWS,
            max_bytes: crate::limits::limits().max_extract_bytes,
        }
    }
}

/// Decoded text read per chunk.
const CHUNK_TEXT: usize = 8 << 20;
/// Rows kept in memory before a sorted run is spilled (32 bytes each).
const RUN_ROWS: usize = 1 << 20;
/// Rows (or patients, or cache rows) stored per transaction: well under a
/// tenth of a second each on the build machine, so a save waits that long at most.
const BATCH_ROWS: usize = 50_000;
/// Patients a reading thread remembers across chunks (each is looked up in
/// the file's table once while remembered); past it, it starts afresh.
const WORKER_PATIENTS: usize = 100_000;
/// An unpublished import whose last batch is older than this was stopped.
pub(super) const STOPPED_AFTER_SECS: i64 = 120;

/// Imports an extract from `source` (see [`super::import_csv`]).
pub(super) fn import<R: Read + Seek>(
    store: &mut Store,
    mut source: R,
    options: &ImportOptions,
    progress: &mut dyn FnMut(ImportProgress),
    tuning: Tuning,
) -> Result<ImportReport, CaseFindingError> {
    let reference = reference();
    let window = window_or_default(options.window_days, reference)?;
    if options.list_size == Some(0) {
        return Err(CaseFindingError::BadOption {
            field: "list_size".into(),
            message: "must be at least 1".into(),
        });
    }
    // The cap here, not in each caller: the desktop hands over the file's
    // bytes, the CLI a file, and both come through this call.
    let size = source
        .seek(std::io::SeekFrom::End(0))
        .and_then(|size| source.rewind().map(|()| size))
        .map_err(|e| CsvError::Unreadable(e.to_string()))?;
    if size > tuning.max_bytes {
        return Err(CsvError::TooLarge {
            size,
            cap: tuning.max_bytes,
        }
        .into());
    }
    remove_stale_spill_files();
    let scanned = scan(&mut source)?;
    if let Some(prev) = store.casefinding_read(|c| db::find_published(c, &scanned.sha256))? {
        return Ok(already_imported(prev, &scanned.sha256, options));
    }
    progress(ImportProgress {
        phase: ImportPhase::Reading,
        done: 0,
        total: scanned.len,
    });
    let mut read = read_file(source, &scanned, options, reference, progress, tuning)?;

    let actor = match &options.actor {
        Some(a) if !a.trim().is_empty() => a.trim().to_string(),
        _ => store.default_actor(),
    };
    let file_name = options.file_name.trim().to_string();
    let mut report = ImportReport {
        file_name: file_name.clone(),
        file_sha256: scanned.sha256.clone(),
        import_id: 0,
        already_imported: false,
        encoding: scanned.encoding,
        today: options.today.to_string(),
        list_size: options.list_size,
        rows_read: read.state.rows_read,
        imported: 0,
        duplicates: 0,
        not_understood_count: read.state.not_understood.len() as u64,
        not_understood: std::mem::take(&mut read.state.not_understood),
        opioid_rows: read.state.opioid_rows,
        co_medication_rows: read.state.comed_rows,
        instructions_not_read: read.state.not_read,
        warnings: std::mem::take(&mut read.state.warnings),
        patients_in_file: read.state.patients.texts.len() as u64,
        patients_on_worklist: 0,
        patients_estimated: 0,
        patients_incomplete: 0,
        window_days: window,
    };

    // Begin: remove imports that were stopped part-way, refuse to run beside
    // one that is still going, and recognise the same file imported meanwhile.
    let import_id = loop {
        let now = store.now();
        let begun = store.write(|tx, now| {
            if let Some(prev) = db::find_published(tx, &scanned.sha256)? {
                return Ok(Begin::Already(prev));
            }
            for s in db::stale_staging(tx, now, STOPPED_AFTER_SECS)? {
                db::drop_staging(tx, &s)?;
            }
            let unfinished = db::unfinished_imports(tx)?;
            if let Some(live) = unfinished.into_iter().find(|u| !stopped(u, now)) {
                return Ok(Begin::Live(live));
            }
            if db::unfinished_imports(tx)?.is_empty() {
                return db::begin_import(
                    tx,
                    now,
                    &db::NewImport {
                        sha256: &scanned.sha256,
                        file_name: &file_name,
                        actor: &actor,
                        today: options.today,
                        list_size: options.list_size,
                    },
                )
                .map(Begin::Started);
            }
            Ok(Begin::Stopped)
        })?;
        match begun {
            Begin::Started(id) => break id,
            Begin::Already(prev) => return Ok(already_imported(prev, &scanned.sha256, options)),
            Begin::Live(live) => {
                return Err(CaseFindingError::Busy(format!(
                    "another import ({}, started {}) is under way; nothing was imported: try again when it has finished",
                    live.file_name, live.imported_at
                )))
            }
            Begin::Stopped => {
                let stale = store.casefinding_read(db::unfinished_imports)?;
                for u in stale.iter().filter(|u| stopped(u, now)) {
                    remove_import(store, u)?;
                }
            }
        }
    };

    // A multi-row INSERT keeps a statement journal (undo for that one
    // statement): in memory it costs a page copy instead of a write to a
    // temporary file per statement (a tenth of the import's CPU time, issue
    // 16). Only while storing: sorts elsewhere keep their temporary files,
    // so memory stays bounded.
    statement_journal_in_memory(store, true);
    let stored = store_and_publish(
        store,
        import_id,
        read,
        &mut report,
        options,
        window,
        &actor,
        reference,
        progress,
        tuning,
    );
    statement_journal_in_memory(store, false);
    if let Err(e) = stored {
        // Take back what was stored; if that fails too, the next import
        // removes it (nothing of an unpublished import is shown meanwhile).
        if let Ok(Some(u)) = store.casefinding_read(|c| {
            Ok(db::unfinished_imports(c)?
                .into_iter()
                .find(|u| u.id == import_id))
        }) {
            let _ = remove_import(store, &u);
        }
        return Err(e);
    }
    progress(ImportProgress {
        phase: ImportPhase::Done,
        done: 1,
        total: 1,
    });
    Ok(report)
}

/// Keeps SQLite's temporary files (here: statement journals) in memory, or
/// back where the build puts them. A failure only costs speed.
fn statement_journal_in_memory(store: &Store, on: bool) {
    let _ = store.set_temp_store(if on { "MEMORY" } else { "DEFAULT" });
}

/// How starting an import went.
enum Begin {
    Started(i64),
    Already(db::PreviousImport),
    Live(db::Unfinished),
    Stopped,
}

/// True when an unpublished import has not stored a batch for
/// [`STOPPED_AFTER_SECS`] (or never recorded one).
fn stopped(u: &db::Unfinished, now: chrono::DateTime<chrono::Utc>) -> bool {
    u.heartbeat
        .as_deref()
        .and_then(|h| chrono::DateTime::parse_from_rfc3339(h).ok())
        .is_none_or(|h| (now - h.with_timezone(&chrono::Utc)).num_seconds() >= STOPPED_AFTER_SECS)
}

/// Drops the staging tables that processes stopped part-way left behind
/// (a killed recomputation's; see [`db::stale_staging`]).
pub(super) fn remove_stale_staging(store: &mut Store) -> Result<(), StoreError> {
    let now = store.now();
    if store
        .casefinding_read(|c| db::stale_staging(c, now, STOPPED_AFTER_SECS))?
        .is_empty()
    {
        return Ok(());
    }
    store.write(|tx, now| {
        for s in db::stale_staging(tx, now, STOPPED_AFTER_SECS)? {
            db::drop_staging(tx, &s)?;
        }
        Ok(())
    })
}

/// Removes an unpublished import, in batches.
fn remove_import(store: &mut Store, u: &db::Unfinished) -> Result<(), StoreError> {
    let max = store.casefinding_read(db::max_patient_id)?;
    let mut from = 0i64;
    while from <= max {
        let to = from + db::ID_RANGE * 5;
        store.write(|tx, _| db::remove_issues(tx, u.id, from, to))?;
        from = to;
    }
    while !store.write(|tx, _| db::remove_import_rest(tx, u, BATCH_ROWS as i64))? {}
    Ok(())
}

// ---------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------

/// What reading the file gathered.
struct ReadFile<'r> {
    /// Texts, patients and their details, counts and problems (its
    /// `pending` holds the rows not spilled).
    state: ReadState<'r>,
    runs: Runs,
    /// Earliest issue date among the rows.
    first: Option<NaiveDate>,
}

fn read_file<'r, R: Read + Seek>(
    source: R,
    scanned: &crate::import::stream::Scan,
    options: &ImportOptions,
    reference: &'r Reference,
    progress: &mut dyn FnMut(ImportProgress),
    tuning: Tuning,
) -> Result<ReadFile<'r>, CaseFindingError> {
    let age_limit = reference.risk.patient_limit(PatientField::Age);
    let limits = FieldLimits {
        age: (age_limit.min, age_limit.max),
    };
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 8);
    let today = options.today;
    let mut chunks = Chunks::new(source, scanned.encoding, tuning.chunk_text)?;
    let Some(first_chunk) = chunks.next_chunk()? else {
        return Err(CsvError::Empty.into());
    };
    let extract = Extract::open_text(
        Cow::Owned(first_chunk.text),
        scanned.encoding,
        &options.column_map,
    )?;
    let mut global = ReadState::new(reference);
    // Lines above the header (a report's title) are named, not dropped silently.
    for &line in &extract.title_lines {
        global.warnings.push(RowProblem {
            line,
            column: None,
            reason: "above the header: not column headings (e.g. the report's title or run date), skipped".to_string(),
        });
    }
    let mut workers: Vec<(ReadState<'r>, Vec<u32>, Vec<u32>)> = (0..threads)
        .map(|_| (ReadState::new(reference), Vec::new(), Vec::new()))
        .collect();
    let mut runs = Runs::default();
    let mut first: Option<NaiveDate> = None;
    let mut read_chunk = |text: &str, first_line: u64, global: &mut ReadState<'r>| {
        let whole = Span {
            start: 0,
            end: text.len(),
            first_line,
        };
        let spans = split_span(text.as_bytes(), whole, threads);
        std::thread::scope(|s| {
            let mut handles = Vec::new();
            for ((w, _, _), span) in workers.iter_mut().zip(&spans) {
                let part = text.get(span.start..span.end).unwrap_or("");
                let line = span.first_line;
                let extract = &extract;
                handles.push(s.spawn(move || {
                    extract.rows_text(part, line, 0, today, limits, |o, _| w.take(o));
                }));
            }
            for h in handles {
                h.join().unwrap_or_else(|e| std::panic::resume_unwind(e));
            }
        });
        for (w, texts, patients) in workers.iter_mut().take(spans.len()) {
            global.absorb(w, texts, patients, WORKER_PATIENTS);
        }
    };
    let data_line = extract.all().first_line;
    read_chunk(extract.data(), data_line, &mut global);
    let mut done = extract.len() as u64;
    let spill = |global: &mut ReadState<'r>, runs: &mut Runs, first: &mut Option<NaiveDate>| {
        for p in &global.pending {
            *first = Some(first.map_or(p.date, |f| f.min(p.date)));
        }
        runs.spill(&mut global.pending)
    };
    loop {
        if global.pending.len() >= tuning.run_rows {
            spill(&mut global, &mut runs, &mut first)?;
        }
        progress(ImportProgress {
            phase: ImportPhase::Reading,
            done: done.min(scanned.len),
            total: scanned.len,
        });
        let Some(chunk) = chunks.next_chunk()? else {
            break;
        };
        read_chunk(&chunk.text, chunk.first_line, &mut global);
        done += chunk.text.len() as u64;
    }
    for (w, _, patients) in &mut workers {
        global.absorb_facts(w, patients);
    }
    for p in &global.pending {
        first = Some(first.map_or(p.date, |f| f.min(p.date)));
    }
    if runs.count() > 0 && !global.pending.is_empty() {
        runs.spill(&mut global.pending)?;
    }
    Ok(ReadFile {
        state: global,
        runs,
        first,
    })
}

/// Removes temporary files of imports that were killed (they hold patient
/// identifiers and rows): `stepdown-import-*.tmp` in the temporary folder
/// that no running import holds locked. Best effort.
pub(super) fn remove_stale_spill_files() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if !(name.starts_with("stepdown-import-") && name.ends_with(".tmp")) {
            continue;
        }
        let path = entry.path();
        let Ok(f) = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
        else {
            continue;
        };
        if f.try_lock().is_ok() {
            drop(f);
            let _ = std::fs::remove_file(&path);
        }
    }
}

/// Sorted runs of rows spilled to a temporary file (removed when dropped).
#[derive(Default)]
struct Runs {
    file: Option<(PathBuf, std::fs::File)>,
    /// (first byte, rows) of each run.
    runs: Vec<(u64, u64)>,
    written: u64,
}

const RECORD: usize = 32;

fn sort_key(p: &Pending) -> (u32, NaiveDate, u32, u32, u64, u64) {
    (
        p.patient,
        p.date,
        p.drug,
        p.dose,
        p.quantity.to_bits(),
        p.line,
    )
}

fn encode(p: &Pending) -> [u8; RECORD] {
    let mut b = [0u8; RECORD];
    b[0..4].copy_from_slice(&p.patient.to_le_bytes());
    b[4..8].copy_from_slice(&chrono::Datelike::num_days_from_ce(&p.date).to_le_bytes());
    b[8..12].copy_from_slice(&p.drug.to_le_bytes());
    b[12..16].copy_from_slice(&p.dose.to_le_bytes());
    b[16..24].copy_from_slice(&p.quantity.to_bits().to_le_bytes());
    b[24..32].copy_from_slice(&p.line.to_le_bytes());
    b
}

fn decode(b: &[u8; RECORD]) -> Pending {
    let u32_at = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    let u64_at = |i: usize| {
        let mut x = [0u8; 8];
        x.copy_from_slice(&b[i..i + 8]);
        u64::from_le_bytes(x)
    };
    Pending {
        patient: u32_at(0),
        date: NaiveDate::from_num_days_from_ce_opt(u32_at(4) as i32).unwrap_or_default(),
        drug: u32_at(8),
        dose: u32_at(12),
        quantity: f64::from_bits(u64_at(16)),
        line: u64_at(24),
    }
}

static SPILL_COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

fn spill_error(e: std::io::Error) -> CaseFindingError {
    CaseFindingError::TemporaryFile(format!(
        "the import could not use its temporary file in {} ({e}); nothing was imported: free some disk space and try again",
        std::env::temp_dir().display()
    ))
}

impl Runs {
    fn count(&self) -> usize {
        self.runs.len()
    }

    /// Sorts `rows` and writes them as one run; `rows` is left empty.
    fn spill(&mut self, rows: &mut Vec<Pending>) -> Result<(), CaseFindingError> {
        rows.sort_unstable_by_key(sort_key);
        if self.file.is_none() {
            let n = SPILL_COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let path = std::env::temp_dir()
                .join(format!("stepdown-import-{}-{n}.tmp", std::process::id()));
            let mut o = std::fs::OpenOptions::new();
            o.read(true).write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
            let f = o.open(&path).map_err(spill_error)?;
            // Held while the import runs (the system releases it when the
            // process ends, however it ends): a file nobody holds was left
            // by an import that was killed, and the next import removes it.
            f.lock().map_err(spill_error)?;
            self.file = Some((path, f));
        }
        let Some((_, f)) = &mut self.file else {
            return Ok(());
        };
        let mut w = BufWriter::with_capacity(1 << 20, &mut *f);
        for p in rows.iter() {
            w.write_all(&encode(p)).map_err(spill_error)?;
        }
        w.flush().map_err(spill_error)?;
        self.runs.push((self.written, rows.len() as u64));
        self.written += (rows.len() * RECORD) as u64;
        rows.clear();
        Ok(())
    }

    /// Every row in sort order: the runs merged, or `rest` sorted when
    /// nothing was spilled.
    fn merged(&self, mut rest: Vec<Pending>) -> Result<Merged, CaseFindingError> {
        let Some((path, _)) = &self.file else {
            rest.sort_unstable_by_key(sort_key);
            return Ok(Merged::Memory(rest.into_iter()));
        };
        let mut readers = Vec::new();
        let mut heap = BinaryHeap::new();
        for (k, (start, rows)) in self.runs.iter().enumerate() {
            let mut f = std::fs::File::open(path).map_err(spill_error)?;
            f.seek(std::io::SeekFrom::Start(*start))
                .map_err(spill_error)?;
            let mut r = RunReader {
                reader: BufReader::with_capacity(256 << 10, f),
                left: *rows,
            };
            if let Some(p) = r.next_row().map_err(spill_error)? {
                heap.push(std::cmp::Reverse((sort_key(&p), k, HeapRow(p))));
            }
            readers.push(r);
        }
        Ok(Merged::Runs { readers, heap })
    }
}

impl Drop for Runs {
    fn drop(&mut self) {
        if let Some((path, f)) = self.file.take() {
            drop(f);
            let _ = std::fs::remove_file(path);
        }
    }
}

struct RunReader {
    reader: BufReader<std::fs::File>,
    left: u64,
}

impl RunReader {
    fn next_row(&mut self) -> std::io::Result<Option<Pending>> {
        if self.left == 0 {
            return Ok(None);
        }
        let mut b = [0u8; RECORD];
        self.reader.read_exact(&mut b)?;
        self.left -= 1;
        Ok(Some(decode(&b)))
    }
}

/// A row on the merge heap (ordered by the key beside it only).
struct HeapRow(Pending);
impl PartialEq for HeapRow {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}
impl Eq for HeapRow {}
impl PartialOrd for HeapRow {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for HeapRow {
    fn cmp(&self, _: &Self) -> std::cmp::Ordering {
        std::cmp::Ordering::Equal
    }
}

type HeapEntry = std::cmp::Reverse<((u32, NaiveDate, u32, u32, u64, u64), usize, HeapRow)>;

enum Merged {
    Memory(std::vec::IntoIter<Pending>),
    Runs {
        readers: Vec<RunReader>,
        heap: BinaryHeap<HeapEntry>,
    },
}

impl Merged {
    fn next_row(&mut self) -> Result<Option<Pending>, CaseFindingError> {
        match self {
            Merged::Memory(it) => Ok(it.next()),
            Merged::Runs { readers, heap } => {
                let Some(std::cmp::Reverse((_, k, HeapRow(p)))) = heap.pop() else {
                    return Ok(None);
                };
                if let Some(q) = readers[k].next_row().map_err(spill_error)? {
                    heap.push(std::cmp::Reverse((sort_key(&q), k, HeapRow(q))));
                }
                Ok(Some(p))
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Storing
// ---------------------------------------------------------------------------

/// A patient's details from the file that change what the store holds.
struct Changed {
    db_id: i64,
    extract_id: String,
    facts: super::Facts,
}

#[allow(clippy::too_many_arguments)]
fn store_and_publish(
    store: &mut Store,
    import_id: i64,
    read: ReadFile<'_>,
    report: &mut ImportReport,
    options: &ImportOptions,
    window: u32,
    actor: &str,
    reference: &Reference,
    progress: &mut dyn FnMut(ImportProgress),
    tuning: Tuning,
) -> Result<(), CaseFindingError> {
    let batch_rows = tuning.batch_rows;
    let ReadFile { state, runs, first } = read;
    let ReadState {
        texts,
        patients,
        facts,
        pending,
        ..
    } = state;
    let interrupted = || {
        CaseFindingError::Busy(
            "the import was stopped: another import took it for abandoned; nothing was imported"
                .into(),
        )
    };

    // Texts the rows use (a few thousand at most), in one batch.
    let text_ids: Vec<i64> = store.write(|tx, now| {
        if !db::heartbeat(tx, now, import_id)? {
            return Ok(Vec::new());
        }
        let all: Vec<&str> = texts.texts.iter().map(String::as_str).collect();
        db::intern_texts(tx, &all)
    })?;
    if text_ids.len() != texts.texts.len() {
        return Err(interrupted());
    }
    let file_texts = texts.texts;

    // Patients: new ones stored now (nothing shows them until they have
    // published issues); changed details of stored ones wait for publishing.
    let mut stored = store.casefinding_read(db::stored_patients)?;
    let new_count = patients
        .texts
        .iter()
        .filter(|e| !stored.contains_key(e.as_str()))
        .count();
    let mut fresh_ids = store
        .casefinding_read(|c| db::reserve_patient_ids(c, new_count))?
        .into_iter();
    let mut patient_ids = vec![0i64; patients.texts.len()];
    let mut new_patients: Vec<(i64, usize)> = Vec::new();
    let mut changed: Vec<Changed> = Vec::new();
    for (i, extract_id) in patients.texts.iter().enumerate() {
        let f = &facts[i];
        match stored.remove(extract_id) {
            Some(s) => {
                patient_ids[i] = s.id;
                if let Some(facts) = changes(&s, f) {
                    changed.push(Changed {
                        db_id: s.id,
                        extract_id: extract_id.clone(),
                        facts,
                    });
                }
            }
            None => {
                let id = fresh_ids.next().ok_or_else(interrupted)?;
                patient_ids[i] = id;
                new_patients.push((id, i));
            }
        }
    }
    drop(stored);
    let total_new = new_patients.len() as u64;
    for (n, batch) in new_patients.chunks(batch_rows).enumerate() {
        let rows: Vec<(i64, db::PatientFacts<'_>)> = batch
            .iter()
            .map(|(id, i)| (*id, patient_facts(&patients.texts[*i], &facts[*i])))
            .collect();
        let alive = store.write(|tx, now| {
            if !db::heartbeat(tx, now, import_id)? {
                return Ok(false);
            }
            db::insert_new_patients(tx, &rows)?;
            Ok(true)
        })?;
        if !alive {
            return Err(interrupted());
        }
        let _ = (n, total_new);
    }
    drop(new_patients);

    // Into a store with no published import, this file's rows are every
    // issue there will be: each patient is computed as their rows go by (on
    // another thread, while SQLite stores), instead of read back afterwards.
    let streamed = store.casefinding_read(db::last_published)? == 0;
    let excluded: FastMap<&str, &str> = options
        .exclusions
        .iter()
        .map(|x| (x.patient_id.as_str(), x.reason.as_str()))
        .collect();
    let trend = reference
        .casefinding
        .setting(CaseFindingSetting::TrendMonths) as u32;

    // Rows, merged in patient order, identical ones numbered.
    let to_save = report.rows_read - report.not_understood_count;
    let mut merged = runs.merged(pending)?;
    let mut seen = 0u64;
    let mut imported = 0u64;
    let (sender, receiver) = std::sync::mpsc::sync_channel::<Vec<PatientRec>>(4);
    let settings = Settings::new(options.today, i64::from(window), trend, first, reference);
    let reviews = Reviews::load(store, options.today, reference)?;
    let reviews_ref = &reviews;
    let file_texts_ref = &file_texts;
    let settings_ref = &settings;
    let (stored_rows, tally) = std::thread::scope(|s| {
        let helper = streamed.then(|| {
            s.spawn(move || {
                let mut interp = Interpreted::new(reference);
                interp.grow(file_texts_ref);
                let mut cache = compute::EstimateCache::default();
                let mut tally = Tally::new(settings_ref, reference);
                for chunk in receiver {
                    for rec in &chunk {
                        for i in &rec.issues {
                            let _ = interp.classify(i.drug, i.dose, file_texts_ref);
                        }
                    }
                    for rec in chunk {
                        let r = compute::patient(
                            &rec,
                            &interp,
                            settings_ref,
                            &mut cache,
                            file_texts_ref,
                            false,
                        );
                        tally.add(rec, r, reviews_ref);
                    }
                }
                tally
            })
        });
        let mut sender = streamed.then_some(sender);
        let mut stored = || -> Result<(), CaseFindingError> {
            let mut batch: Vec<db::NewIssue> = Vec::with_capacity(batch_rows);
            let mut prev: Option<(Pending, u32)> = None;
            let mut current: Option<PatientRec> = None;
            let mut chunk: Vec<PatientRec> = Vec::new();
            loop {
                let next = merged.next_row()?;
                if let Some(p) = next {
                    let occurrence = match prev {
                        Some((q, n))
                            if q.patient == p.patient
                                && q.date == p.date
                                && q.drug == p.drug
                                && q.dose == p.dose
                                && q.quantity.to_bits() == p.quantity.to_bits() =>
                        {
                            n + 1
                        }
                        _ => 1,
                    };
                    prev = Some((p, occurrence));
                    let db_id = patient_ids[p.patient as usize];
                    batch.push(db::NewIssue {
                        patient_id: db_id,
                        issue_date: p.date,
                        drug_id: text_ids[p.drug as usize],
                        dose_id: text_ids[p.dose as usize],
                        quantity: p.quantity,
                        occurrence,
                        line: p.line,
                    });
                    if sender.is_some() {
                        if current.as_ref().is_none_or(|c| c.db_id != db_id) {
                            chunk.extend(current.take());
                            let local = p.patient as usize;
                            let extract_id = patients.texts[local].clone();
                            let f = &facts[local];
                            current = Some(PatientRec {
                                db_id,
                                excluded: excluded
                                    .get(extract_id.as_str())
                                    .map(|w| (*w).to_string()),
                                extract_id,
                                nhs_number: f.nhs_number.clone(),
                                age: f.age,
                                sex: f.sex,
                                issues: Vec::new(),
                            });
                        }
                        if let Some(c) = &mut current {
                            c.issues.push(compute::IssueRec {
                                date: p.date,
                                drug: p.drug,
                                dose: p.dose,
                                quantity: p.quantity,
                            });
                        }
                    }
                }
                if next.is_none() {
                    chunk.extend(current.take());
                }
                if !chunk.is_empty() && (chunk.len() >= 1_000 || next.is_none()) {
                    if let Some(tx) = &sender {
                        if tx.send(std::mem::take(&mut chunk)).is_err() {
                            // The computing thread stopped (it panicked): its join says why.
                            sender = None;
                        }
                    }
                }
                if batch.len() == batch_rows || (next.is_none() && !batch.is_empty()) {
                    let added = store.write(|tx, now| {
                        if !db::heartbeat(tx, now, import_id)? {
                            return Ok(None);
                        }
                        db::insert_issues(tx, import_id, batch.iter().copied(), |_| {}).map(Some)
                    })?;
                    imported += added.ok_or_else(interrupted)?;
                    seen += batch.len() as u64;
                    batch.clear();
                    progress(ImportProgress {
                        phase: ImportPhase::Saving,
                        done: seen,
                        total: to_save,
                    });
                }
                if next.is_none() {
                    return Ok(());
                }
            }
        };
        let result = stored();
        drop(sender);
        let tally = helper.map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)));
        (result, tally)
    });
    stored_rows?;
    drop(merged);
    drop(runs);
    drop(patient_ids);
    drop(text_ids);
    drop(patients);
    drop(facts);
    report.import_id = import_id;
    report.imported = imported;
    report.duplicates = seen - imported;

    // Every patient, with the file's details and exclusions as they will be.
    let mut overlay: FastMap<i64, super::Facts> = FastMap::default();
    for c in &changed {
        overlay.insert(c.db_id, c.facts.clone());
    }
    let first_stored = if streamed {
        None
    } else {
        store.casefinding_read(|c| db::first_issue(c, 0))?
    };
    let first = match (first, first_stored) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    let list = match options.list_size {
        Some(n) => Some((n, options.today.to_string())),
        None => store.casefinding_read(db::latest_list_size)?,
    };
    let staging = Staging::Import(import_id);
    let built = match tally {
        Some(tally) => finish_cache(
            store,
            &staging,
            import_id,
            options.today,
            window,
            tally,
            &settings,
            list,
            reference,
            batch_rows,
            &reviews,
            &mut || {},
        )?,
        None => build_cache(
            store,
            &staging,
            import_id,
            options.today,
            window,
            first,
            list,
            reference,
            batch_rows,
            &reviews,
            &|rec: &mut PatientRec| {
                if let Some(f) = overlay.get(&rec.db_id) {
                    apply_facts(rec, f);
                }
                if let Some(why) = excluded.get(rec.extract_id.as_str()) {
                    rec.excluded = Some((*why).to_string());
                }
            },
            progress,
            &mut || {},
        )?,
    };
    let Some((state, figures)) = built else {
        return Err(interrupted());
    };
    report.patients_on_worklist = state.patients;
    report.patients_estimated = state.estimated;
    report.patients_incomplete = state.incomplete;

    // Publish, in one short transaction.
    let json = serde_json::to_string(&*report).map_err(|e| StoreError::BadRecord {
        what: "import report".into(),
        detail: e.to_string(),
    })?;
    let summary = format!(
        "imported prescribing extract {} (SHA-256 {}…): {} rows read, {} imported, {} already in the store, {} not understood; {} patients",
        report.file_name,
        report.file_sha256.get(..12).unwrap_or(&report.file_sha256),
        report.rows_read,
        report.imported,
        report.duplicates,
        report.not_understood_count,
        report.patients_in_file
    );
    let published = store.write(|tx, now| {
        if !db::heartbeat(tx, now, import_id)? {
            return Ok(false);
        }
        for c in &changed {
            db::upsert_patient(tx, &patient_facts(&c.extract_id, &c.facts))?;
        }
        db::set_exclusions(
            tx,
            options
                .exclusions
                .iter()
                .map(|x| (x.patient_id.as_str(), x.reason.as_str())),
        )?;
        db::swap_in_staging(tx, &staging)?;
        db::set_state(tx, "figures", &super::to_json(&figures))?;
        db::set_state(tx, "summaries", &super::to_json(&state))?;
        db::publish_import(
            tx,
            now,
            actor,
            import_id,
            db::ImportCounts {
                read: report.rows_read,
                imported: report.imported,
                duplicate: report.duplicates,
                not_understood: report.not_understood_count,
            },
            &json,
            &summary,
        )?;
        Ok(true)
    })?;
    if !published {
        return Err(interrupted());
    }
    Ok(())
}

fn patient_facts<'a>(extract_id: &'a str, f: &'a super::Facts) -> db::PatientFacts<'a> {
    db::PatientFacts {
        extract_id,
        nhs_number: f.nhs_number.as_deref(),
        age: f.age,
        age_on: f.age_on,
        sex: f.sex,
    }
}

/// What of `f` changes `s` when stored (the rules of `db::upsert_patient`:
/// an NHS number or sex given replaces the stored one; an age replaces it only
/// if given with the same or a later issue date), or `None` if nothing does.
fn changes(s: &db::StoredPatient, f: &super::Facts) -> Option<super::Facts> {
    let mut out = f.clone();
    let age_newer = f.age.is_some() && s.age_on.is_none_or(|on| f.age_on.is_some_and(|n| n >= on));
    if !age_newer {
        out.age = None;
        out.age_on = None;
    }
    let nhs = f.nhs_number.is_some() && f.nhs_number != s.nhs_number;
    let sex = f.sex.is_some() && f.sex != s.sex;
    let age = age_newer && (f.age != s.age || f.age_on != s.age_on);
    (nhs || sex || age).then_some(out)
}

/// `rec` as it will be once `f` is stored (the rules of `db::upsert_patient`).
fn apply_facts(rec: &mut PatientRec, f: &super::Facts) {
    if f.nhs_number.is_some() {
        rec.nhs_number.clone_from(&f.nhs_number);
    }
    if f.sex.is_some() {
        rec.sex = f.sex;
    }
    // `changes` lets only a newer age through.
    if f.age.is_some() {
        rec.age = f.age;
    }
}

// ---------------------------------------------------------------------------
// The worklist cache
// ---------------------------------------------------------------------------

/// What ranking needs of a patient on the worklist.
/// Kept small: there is one for every patient on the list.
struct RankRow {
    db_id: i64,
    /// Set once ranked.
    rank: u32,
    band: u8,
    high_flags: u32,
    caution_flags: u32,
    ome: f64,
    complete: bool,
    estimated: bool,
    markers: u32,
    flags: Box<[FlagId]>,
    excluded: Option<Box<str>>,
}

/// People, items, and (people, items) at or above each threshold, in a month.
type MonthTally = (u64, u64, Vec<(u64, u64)>);

/// Running totals of the practice figures.
struct FigureAcc {
    /// Per month: people, items, and (people, items) at or above each threshold.
    months: Vec<MonthTally>,
    thresholds: Vec<f64>,
}

impl FigureAcc {
    fn new(settings: &Settings, reference: &Reference) -> FigureAcc {
        let thresholds: Vec<f64> = figure_thresholds(reference)
            .iter()
            .map(|t| t.mg_per_day)
            .collect();
        FigureAcc {
            months: vec![(0, 0, vec![(0, 0); thresholds.len()]); settings.months.len()],
            thresholds,
        }
    }

    fn add(&mut self, r: &PatientResult) {
        for (m, acc) in self.months.iter_mut().enumerate() {
            let Some(&(n, ome)) = r.monthly.get(m) else {
                continue;
            };
            if n == 0 {
                continue;
            }
            acc.0 += 1;
            acc.1 += u64::from(n);
            for (k, t) in self.thresholds.iter().enumerate() {
                if ome >= *t {
                    acc.2[k].0 += 1;
                    acc.2[k].1 += u64::from(n);
                }
            }
        }
    }

    fn finish(
        self,
        settings: &Settings,
        reference: &Reference,
        list: Option<(u32, String)>,
    ) -> Figures {
        let list_size = list.as_ref().map(|(n, _)| *n);
        let months = settings
            .months
            .iter()
            .zip(self.months)
            .map(|(span, (people, items, at))| FigureMonth {
                month: span.label.clone(),
                as_of: span.as_of.to_string(),
                people_prescribed_opioids: people,
                opioid_items: items,
                people_per_1000: per_1000(people, list_size),
                at_or_above: self
                    .thresholds
                    .iter()
                    .zip(at)
                    .map(|(t, (p, i))| FigureAtThreshold {
                        mg_per_day: *t,
                        people: p,
                        items: i,
                        people_per_1000: per_1000(p, list_size),
                        items_per_1000: per_1000(i, list_size),
                    })
                    .collect(),
            })
            .collect();
        super::figures_document(settings, reference, list, months)
    }
}

/// Every patient's contribution to the cache and the figures.
struct Tally {
    ranked: Vec<RankRow>,
    figures: FigureAcc,
}

impl Tally {
    fn new(settings: &Settings, reference: &Reference) -> Tally {
        Tally {
            ranked: Vec::new(),
            figures: FigureAcc::new(settings, reference),
        }
    }

    fn add(&mut self, rec: PatientRec, r: PatientResult, reviews: &Reviews) {
        self.figures.add(&r);
        if let Some(e) = r.summary {
            let recent = !reviews.missing(rec.nhs_number.as_deref(), &rec.extract_id);
            self.ranked.push(RankRow {
                db_id: rec.db_id,
                rank: 0,
                band: r.band,
                high_flags: r.high_flags,
                caution_flags: r.caution_flags,
                ome: e.ome,
                complete: e.complete,
                estimated: e.estimated,
                markers: e.markers
                    | if recent {
                        0
                    } else {
                        Marker::NoRecentReview.bit()
                    },
                flags: e.flags.into_boxed_slice(),
                excluded: rec.excluded.map(String::into_boxed_str),
            });
        }
    }
}

/// Computes every patient visible to import `import` (0: published issues
/// only) as of `today`, a range of ids at a time, and writes the new cache to
/// the staging table in batches. Returns the cache state and figures, or
/// `None` if the import was taken for stopped meanwhile.
#[allow(clippy::too_many_arguments)]
pub(super) fn build_cache(
    store: &mut Store,
    staging: &Staging,
    import: i64,
    today: NaiveDate,
    window: u32,
    first: Option<NaiveDate>,
    list: Option<(u32, String)>,
    reference: &Reference,
    batch_rows: usize,
    reviews: &Reviews,
    adjust: &dyn Fn(&mut PatientRec),
    progress: &mut dyn FnMut(ImportProgress),
    staged: &mut dyn FnMut(),
) -> Result<Option<(CacheState, Figures)>, CaseFindingError> {
    let (texts, position) = store.casefinding_read(db::load_texts)?;
    let trend = reference
        .casefinding
        .setting(CaseFindingSetting::TrendMonths) as u32;
    let settings = Settings::new(today, i64::from(window), trend, first, reference);
    let mut interp = Interpreted::new(reference);
    interp.grow(&texts);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let max = store.casefinding_read(db::max_patient_id)?;
    let mut tally = Tally::new(&settings, reference);
    let mut from = 1i64;
    while from <= max {
        let to = from + db::ID_RANGE;
        let mut recs =
            store.casefinding_read(|c| db::load_range(c, from, to, import, &position))?;
        for r in &mut recs {
            adjust(r);
            for i in &r.issues {
                let _ = interp.classify(i.drug, i.dose, &texts);
            }
        }
        let results = compute_all(
            &recs,
            &interp,
            &settings,
            &texts,
            false,
            threads,
            &mut |_| {},
        );
        for (rec, r) in recs.into_iter().zip(results) {
            tally.add(rec, r, reviews);
        }
        if import > 0 && !store.write(|tx, now| db::heartbeat(tx, now, import))? {
            return Ok(None);
        }
        progress(ImportProgress {
            phase: ImportPhase::Computing,
            done: (to - 1).min(max) as u64,
            total: max as u64,
        });
        from = to;
    }

    finish_cache(
        store, staging, import, today, window, tally, &settings, list, reference, batch_rows,
        reviews, staged,
    )
}

/// Ranks the patients and writes the new cache to the staging table in
/// batches (`staged` is called after each); returns the cache state and
/// figures, or `None` if import `import` (or, for a recomputation, the
/// staging table) was taken for stopped meanwhile.
#[allow(clippy::too_many_arguments)]
fn finish_cache(
    store: &mut Store,
    staging: &Staging,
    import: i64,
    today: NaiveDate,
    window: u32,
    tally: Tally,
    settings: &Settings,
    list: Option<(u32, String)>,
    reference: &Reference,
    batch_rows: usize,
    reviews: &Reviews,
    staged: &mut dyn FnMut(),
) -> Result<Option<(CacheState, Figures)>, CaseFindingError> {
    let Tally {
        mut ranked,
        figures,
    } = tally;
    // Excluded patients leave the list and are counted apart, by reason.
    let mut excluded: Vec<(String, u64)> = Vec::new();
    for r in &ranked {
        if let Some(why) = &r.excluded {
            match excluded.iter_mut().find(|(x, _)| **x == **why) {
                Some((_, n)) => *n += 1,
                None => excluded.push((why.to_string(), 1)),
            }
        }
    }
    excluded.sort();
    ranked.retain(|r| r.excluded.is_none());
    ranked.shrink_to_fit();
    // The last tie-break is the practice's identifier: its order, by patient
    // id, from the identifier index (four bytes a patient).
    let order = store.casefinding_read(db::identifier_order)?;
    let order_of = |id: i64| {
        usize::try_from(id)
            .ok()
            .and_then(|i| order.get(i))
            .copied()
            .unwrap_or(u32::MAX)
    };
    ranked.sort_unstable_by(|a, b| {
        b.band
            .cmp(&a.band)
            .then(b.high_flags.cmp(&a.high_flags))
            .then(b.ome.total_cmp(&a.ome))
            .then(b.caution_flags.cmp(&a.caution_flags))
            .then(order_of(a.db_id).cmp(&order_of(b.db_id)))
    });
    drop(order);
    let thresholds = figure_thresholds(reference);
    let mut state = CacheState {
        format: CACHE_FORMAT,
        as_of: today,
        window_days: window,
        reference_version: reference.manifest_version.clone(),
        patients: ranked.len() as u64,
        estimated: 0,
        incomplete: 0,
        benzodiazepine: 0,
        gabapentinoid: 0,
        at_or_above: thresholds.iter().map(|t| (t.mg_per_day, 0)).collect(),
        excluded,
        reviews: reviews.fingerprint.clone(),
    };
    for (i, r) in ranked.iter_mut().enumerate() {
        r.rank = i as u32 + 1;
        state.estimated += u64::from(r.estimated);
        state.incomplete += u64::from(!r.complete);
        state.benzodiazepine += u64::from(r.flags.contains(&FlagId::Benzodiazepine));
        state.gabapentinoid += u64::from(r.flags.contains(&FlagId::Gabapentinoid));
        for (t, n) in &mut state.at_or_above {
            *n += u64::from(r.ome >= *t);
        }
    }
    // In patient id order the table (keyed by patient id) is filled by appending.
    ranked.sort_unstable_by_key(|r| r.db_id);
    store.write(|tx, now| db::create_staging(tx, staging, now))?;
    for batch in ranked.chunks(batch_rows.max(1)) {
        let rows: Vec<db::SummaryRow> = batch
            .iter()
            .map(|r| db::SummaryRow {
                patient_id: r.db_id,
                rank: r.rank,
                ome_mg_per_day: r.ome,
                complete: r.complete,
                estimated: r.estimated,
                benzodiazepine: r.flags.contains(&FlagId::Benzodiazepine),
                gabapentinoid: r.flags.contains(&FlagId::Gabapentinoid),
                flag_ids: flag_json(&r.flags),
                markers: r.markers,
            })
            .collect();
        let alive = store.write(|tx, now| {
            let alive = if import > 0 {
                db::heartbeat(tx, now, import)?
            } else {
                db::staging_heartbeat(tx, now, staging)?
            };
            if alive {
                db::stage_summaries(tx, staging, &rows)?;
            }
            Ok(alive)
        })?;
        if !alive {
            return Ok(None);
        }
        staged();
    }
    let figures = figures.finish(settings, reference, list);
    Ok(Some((state, figures)))
}

static REFRESH_COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Recomputes the cache from the published issues for another day, window
/// or reference version: in batches, then swapped in in one short
/// transaction, unless an import was published meanwhile (then again).
pub(super) fn refresh(
    store: &mut Store,
    today: NaiveDate,
    window: u32,
    reference: &Reference,
) -> Result<CacheState, CaseFindingError> {
    refresh_tuned(store, today, window, reference, BATCH_ROWS, &mut || {})
}

/// [`refresh`] with the cache rows a batch, and `staged` called after each
/// batch written to the staging table.
pub(super) fn refresh_tuned(
    store: &mut Store,
    today: NaiveDate,
    window: u32,
    reference: &Reference,
    batch_rows: usize,
    staged: &mut dyn FnMut(),
) -> Result<CacheState, CaseFindingError> {
    remove_stale_staging(store)?;
    statement_journal_in_memory(store, true);
    let state = refresh_loop(store, today, window, reference, batch_rows, staged);
    statement_journal_in_memory(store, false);
    state
}

fn refresh_loop(
    store: &mut Store,
    today: NaiveDate,
    window: u32,
    reference: &Reference,
    batch_rows: usize,
    staged: &mut dyn FnMut(),
) -> Result<CacheState, CaseFindingError> {
    loop {
        let before = store.casefinding_read(db::last_published)?;
        let first = store.casefinding_read(|c| db::first_issue(c, 0))?;
        let list = store.casefinding_read(db::latest_list_size)?;
        let reviews = Reviews::load(store, today, reference)?;
        let n = REFRESH_COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let staging = Staging::Refresh(std::process::id(), n);
        let built = build_cache(
            store,
            &staging,
            0,
            today,
            window,
            first,
            list,
            reference,
            batch_rows,
            &reviews,
            &|_| {},
            &mut |_| {},
            staged,
        );
        let (state, figures) = match built {
            Ok(Some(x)) => x,
            Ok(None) => {
                store.write(|tx, _| db::drop_staging(tx, &staging))?;
                continue;
            }
            Err(e) => {
                let _ = store.write(|tx, _| db::drop_staging(tx, &staging));
                return Err(e);
            }
        };
        let swapped = store.write(|tx, now| {
            // Published meanwhile, or taken for stopped by another process.
            if db::last_published(tx)? != before || !db::staging_heartbeat(tx, now, &staging)? {
                db::drop_staging(tx, &staging)?;
                return Ok(false);
            }
            db::swap_in_staging(tx, &staging)?;
            db::set_state(tx, "figures", &super::to_json(&figures))?;
            db::set_state(tx, "summaries", &super::to_json(&state))?;
            Ok(true)
        })?;
        if swapped {
            return Ok(state);
        }
    }
}
