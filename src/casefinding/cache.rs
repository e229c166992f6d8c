//! The worklist cache (`cf_summaries` and `cf_state`): what it was computed
//! for, keeping it fresh, computing patients on several threads, and the
//! worklist pages read from it (each page's details computed again from the
//! issues, with the same code, so they cannot disagree).

use std::collections::HashMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::compute::{self, Interpreted, PatientRec, PatientResult, Settings};
use super::{
    batched, window_or_default, CaseFindingError, ExcludedCount, FastMap, ImportPhase,
    ImportProgress, Marker, ThresholdCount, Worklist, WorklistFilters, WorklistMetrics,
    WorklistPatient,
};
use crate::flags::FlagId;
use crate::reference::casefinding::CaseFindingSetting;
use crate::reference::{reference, Reference};
use crate::store::casefinding as db;
use crate::store::{Store, StoreError};
use crate::vocabulary::num;

/// What the cache was computed for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct CacheState {
    /// What the cache rows hold ([`CACHE_FORMAT`]); absent in caches written
    /// before audit markers (issue 16), which are rebuilt.
    #[serde(default)]
    pub(super) format: u32,
    pub(super) as_of: NaiveDate,
    pub(super) window_days: u32,
    pub(super) reference_version: String,
    pub(super) patients: u64,
    pub(super) estimated: u64,
    pub(super) incomplete: u64,
    pub(super) benzodiazepine: u64,
    pub(super) gabapentinoid: u64,
    /// (threshold, patients at or above it), for the figure thresholds.
    pub(super) at_or_above: Vec<(f64, u64)>,
    /// (reason, patients with a current opioid excluded for it).
    #[serde(default)]
    pub(super) excluded: Vec<(String, u64)>,
    /// The Stepdown reviews the no-recent-review marker was set from
    /// (`db::reviews_fingerprint`): a review saved since makes the cache stale.
    #[serde(default)]
    pub(super) reviews: String,
}

/// The cache's format: 2 since the rows carry audit markers (migration 6).
pub(super) const CACHE_FORMAT: u32 = 2;

const RANKING: &str = "Highest risk first: dose band (at or above the specialist-referral threshold, then at or above the high-dose threshold, then below), then more high-severity flags (unclear directions count as one), then higher total OME, then more caution flags, then patient identifier";

/// When each Stepdown patient was last reviewed, for the no-recent-review
/// marker: a worklist patient is matched by NHS number, else by the
/// practice identifier as the Stepdown patient's local id (case-insensitive).
pub(crate) struct Reviews {
    by_nhs: FastMap<String, NaiveDate>,
    by_local: FastMap<String, NaiveDate>,
    /// Reviews on or after this day count as recent.
    since: NaiveDate,
    /// What they were read from (`db::reviews_fingerprint`).
    pub(super) fingerprint: String,
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

/// `["high-dose","benzodiazepine"]`: flag ids as a JSON array (written by
/// hand: ids are plain kebab-case words, and this runs for every patient).
pub(super) fn flag_json(flags: &[FlagId]) -> String {
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
pub(super) fn to_json<T: Serialize>(v: &T) -> String {
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
pub(super) fn compute_all(
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

/// Makes sure the cache is for `today`, `window` and this build's reference
/// data; recomputes everything if not (in batches, published in one short
/// transaction, see `batched`).
pub(super) fn ensure_fresh(
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
    // On a team store, one practice's list: its ranks run 1..N, and two
    // practices' are never interleaved or counted together.
    let practice = store.practice_for(filters.practice.as_deref())?;
    store.in_practice(practice.as_deref(), |store| {
        practice_worklist(store, filters, today)
    })
}

fn practice_worklist(
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
    if filters.held_by.is_some() && filters.unclaimed {
        return Err(CaseFindingError::BadOption {
            field: "unclaimed".into(),
            message: "choose one of held_by (mine) and unclaimed: no patient is both".into(),
        });
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
        held_by: filters
            .held_by
            .as_deref()
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .map(str::to_string),
        unclaimed: filters.unclaimed,
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
    // Claims are keyed by practice and identifier: two practices' extracts
    // can share an identifier, and an admin sees both.
    let db_ids: Vec<i64> = page.iter().map(|(id, _)| *id).collect();
    let practices = store.casefinding_read(|c| db::practices_of(c, &db_ids))?;
    let found = Found {
        recs: &recs,
        page: &page,
        practices: &practices,
        texts: &texts,
    };
    let mut patients = details(&found, today, window, reference, &reviews);
    let keys: Vec<(Option<&str>, &str)> = patients
        .iter()
        .map(|p| (p.practice_code.as_deref(), p.patient_id.as_str()))
        .collect();
    let mut claims = store.casefinding_read(|c| crate::store::claims_for(c, &keys))?;
    for p in &mut patients {
        p.claim = claims.remove(&(p.practice_code.clone(), p.patient_id.clone()));
    }
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
/// What a worklist page read from the store: the patients (with their
/// ranks and practices by row id) and the texts their issues use.
struct Found<'a> {
    recs: &'a [PatientRec],
    page: &'a [(i64, u32)],
    practices: &'a HashMap<i64, Option<String>>,
    texts: &'a [String],
}

fn details(
    found: &Found<'_>,
    today: NaiveDate,
    window: u32,
    reference: &Reference,
    reviews: &Reviews,
) -> Vec<WorklistPatient> {
    let (recs, texts) = (found.recs, found.texts);
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
    let ranks: HashMap<i64, u32> = found.page.iter().copied().collect();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let results = compute_all(recs, &interp, &settings, texts, true, threads, &mut |_| {});
    let mut out: Vec<WorklistPatient> = recs
        .iter()
        .zip(results)
        .filter_map(|(p, r)| {
            let mut e = r.entry?;
            e.rank = ranks.get(&p.db_id).copied().unwrap_or(0);
            e.practice_code = found.practices.get(&p.db_id).cloned().flatten();
            if reviews.missing(p.nhs_number.as_deref(), &p.extract_id) {
                e.markers.push(Marker::NoRecentReview);
            }
            Some(e)
        })
        .collect();
    out.sort_by_key(|e| e.rank);
    out
}
