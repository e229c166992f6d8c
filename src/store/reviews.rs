//! Reviews: one consultation each, saved as append-only versions.
//!
//! Saving a review never overwrites anything: the first save creates the
//! review and its version 1; every later save of the same review adds
//! version 2, 3, … Older versions stay readable, so what was shown to the
//! clinician and printed for the patient can always be reconstructed.

use super::db::{self, params, Conn, OptionalExtension, Row};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::audit::{self, AuditAction, AuditEntity};
use super::{clean_actor, clean_line, clean_text, parse_ts, ts, Store, StoreError, StoreResult};
use crate::assess::AssessReport;
use crate::patient::RawPatient;
use crate::profile::Profile;
use crate::record::{ComputedReview, SharedDecision, StoredPlan, TaperRequest, RECORD_FORMAT};
use crate::regimen::RawItem;
use crate::taper::Plan;

/// Largest accepted document (each of patient context, regimen, result, plan), as JSON.
pub const MAX_DOCUMENT_BYTES: usize = 1024 * 1024;

/// One saved version of a review: the inputs as entered and what the core
/// computed from them. Read leniently: a document an older version stored
/// that this build cannot read is left empty and named in `unreadable`,
/// never guessed, and the version's summary figures stay as they were saved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Review {
    /// The review (consultation) id, shared by all its versions.
    #[ts(type = "number")]
    pub review_id: i64,
    /// This version's number, from 1.
    #[ts(type = "number")]
    pub version: i64,
    /// How many versions the review has (the latest version's number).
    #[ts(type = "number")]
    pub version_count: i64,
    /// Unique id of this version (leaflet prints refer to it).
    #[ts(type = "number")]
    pub version_id: i64,
    /// The patient.
    #[ts(type = "number")]
    pub patient_id: i64,
    /// When the review was first saved.
    #[ts(as = "String")]
    pub created_at: DateTime<Utc>,
    /// When this version was saved.
    #[ts(as = "String")]
    pub saved_at: DateTime<Utc>,
    /// Who saved this version.
    pub reviewer: String,
    /// Conversion profile used.
    pub profile: Profile,
    /// Reference manifest version used.
    pub reference_version: String,
    /// Total OME (mg/day) as computed when saved, if there was one.
    pub total_ome_mg_per_day: Option<f64>,
    /// Whether that total covers every item (false when an item could not be
    /// converted and was left out); null when the version does not say.
    pub ome_complete: Option<bool>,
    /// Ids of the flags, most severe first.
    pub flag_ids: Vec<String>,
    /// Free-text notes.
    pub notes: String,
    /// 2: saved from inputs, result and plan computed by the core; 1: saved
    /// by an older version, result and plan as the desktop UI sent them.
    pub record_format: u32,
    /// The patient context as entered.
    pub patient: RawPatient,
    /// The regimen as entered.
    pub items: Vec<RawItem>,
    /// The taper asked for, with the clinician's edits, if a plan was made.
    pub taper: Option<TaperRequest>,
    /// What was agreed with the patient (NICE NG215), if recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub shared_decision: Option<SharedDecision>,
    /// OME and flags.
    pub assessment: Option<AssessReport>,
    /// The plan with the clinician's edits applied.
    pub plan: Option<Plan>,
    /// Documents of this version this build could not read, each with why
    /// (only ever for versions saved by an older Stepdown).
    pub unreadable: Vec<String>,
}

/// A review version without its documents, for lists and history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ReviewSummary {
    /// The review (consultation) id.
    #[ts(type = "number")]
    pub review_id: i64,
    /// This version's number.
    #[ts(type = "number")]
    pub version: i64,
    /// How many versions the review has.
    #[ts(type = "number")]
    pub version_count: i64,
    /// Unique id of this version.
    #[ts(type = "number")]
    pub version_id: i64,
    /// The patient.
    #[ts(type = "number")]
    pub patient_id: i64,
    /// When the review was first saved.
    #[ts(as = "String")]
    pub created_at: DateTime<Utc>,
    /// When this version was saved.
    #[ts(as = "String")]
    pub saved_at: DateTime<Utc>,
    /// Who saved this version.
    pub reviewer: String,
    /// Conversion profile used.
    pub profile: Profile,
    /// Reference manifest version used.
    pub reference_version: String,
    /// Total OME (mg/day), if computed.
    pub total_ome_mg_per_day: Option<f64>,
    /// Whether the total covers every item; null when the version does not say.
    pub ome_complete: Option<bool>,
    /// Flag ids, most severe first.
    pub flag_ids: Vec<String>,
    /// The first 200 characters of the notes.
    pub notes_excerpt: String,
    /// Leaflets printed from any version of this review.
    #[ts(type = "number")]
    pub leaflet_count: i64,
    /// 2: computed by the core from the inputs; 1: figures as an older
    /// desktop UI sent them.
    pub record_format: u32,
}

/// What is written for one version, after validation.
struct ValidReview {
    reviewer: String,
    notes: String,
    total: Option<f64>,
    complete: Option<bool>,
    flag_ids: String,
    patient_context: String,
    regimen: String,
    result: String,
    plan: String,
    shared_decision: Option<String>,
}

fn document<T: Serialize>(field: &str, v: &T) -> StoreResult<String> {
    let text = serde_json::to_string(v)
        .map_err(|e| StoreError::invalid(field, format!("cannot be stored as JSON ({e})")))?;
    if text.len() > MAX_DOCUMENT_BYTES {
        return Err(StoreError::invalid(
            field,
            format!(
                "is too large ({} bytes; at most {MAX_DOCUMENT_BYTES})",
                text.len()
            ),
        ));
    }
    Ok(text)
}

/// The regimen document: `{"items": [...]}`, as format 1 stored it.
#[derive(Serialize, Deserialize)]
struct StoredRegimen {
    items: Vec<RawItem>,
}

fn validate(review: &ComputedReview) -> StoreResult<ValidReview> {
    let input = review.input();
    let reviewer = clean_line("reviewer", &input.reviewer, 200, true)?;
    let notes = clean_text(
        "notes",
        &input.notes,
        crate::limits::limits().max_notes_chars,
    )?;
    let assessment = review.assessment();
    let flag_ids: Vec<&str> = assessment.flags.iter().map(|f| f.id.as_str()).collect();
    let plan = review.plan().map(|p| StoredPlan {
        input: input
            .taper
            .clone()
            .unwrap_or_default()
            .plan_input(&input.items),
        edits: input.taper.clone().unwrap_or_default().edits,
        plan: Some(p.clone()),
    });
    Ok(ValidReview {
        reviewer,
        notes,
        total: Some(assessment.ome.total_ome_mg_per_day),
        complete: Some(assessment.ome.complete),
        flag_ids: document("result.flags", &flag_ids)?,
        patient_context: document("patient", &input.patient)?,
        regimen: document(
            "items",
            &StoredRegimen {
                items: input.items.clone(),
            },
        )?,
        result: document("result", assessment)?,
        plan: document("taper", &plan)?,
        shared_decision: match &input.shared_decision {
            Some(d) if !d.is_empty() => Some(document(
                "shared_decision",
                &crate::record::SharedDecision {
                    goals: clean_text("shared_decision.goals", &d.goals, 1000)?,
                    agreement: d.agreement,
                    support_person: clean_line(
                        "shared_decision.support_person",
                        &d.support_person,
                        200,
                        false,
                    )?,
                    review_schedule: clean_line(
                        "shared_decision.review_schedule",
                        &d.review_schedule,
                        200,
                        false,
                    )?,
                },
            )?),
            _ => None,
        },
    })
}

/// Saves one version inside the caller's transaction.
pub(crate) fn save_in(
    conn: &Conn,
    review: &ComputedReview,
    now: DateTime<Utc>,
) -> StoreResult<ReviewSummary> {
    let v = validate(review)?;
    let input = review.input();
    super::patients::get(conn, input.patient_id).map_err(|e| match e {
        StoreError::NotFound { id, .. } => {
            StoreError::invalid("patient_id", format!("there is no patient {id}"))
        }
        other => other,
    })?;
    let review_id = match input.review_id {
        Some(rid) => {
            let owner: Option<i64> = conn
                .prepare_cached("SELECT patient_id FROM reviews WHERE id = ?1")?
                .query_row([rid], |r| r.get(0))
                .optional()?;
            match owner {
                None => {
                    return Err(StoreError::invalid(
                        "review_id",
                        format!("there is no review {rid}"),
                    ))
                }
                Some(p) if p != input.patient_id => {
                    return Err(StoreError::invalid(
                        "review_id",
                        format!(
                            "review {rid} belongs to patient {p}, not patient {}",
                            input.patient_id
                        ),
                    ))
                }
                Some(_) => rid,
            }
        }
        None => conn
            .prepare_cached(
                "INSERT INTO reviews (patient_id, created_at, created_by) VALUES (?1, ?2, ?3)
                 RETURNING id",
            )?
            .query_row(params![input.patient_id, ts(now), v.reviewer], |r| r.get(0))?,
    };
    // Under the write lock taken by BEGIN IMMEDIATE, so no other writer can
    // take the same number; UNIQUE (review_id, version) backs this up.
    let version: i64 = conn
        .prepare_cached(
            "SELECT coalesce(max(version), 0) + 1 FROM review_versions WHERE review_id = ?1",
        )?
        .query_row([review_id], |r| r.get(0))?;
    conn.prepare_cached(
        "INSERT INTO review_versions
           (review_id, version, saved_at, reviewer, profile, reference_version,
            total_ome_mg_per_day, ome_complete, flag_ids, notes, patient_context, regimen,
            result, plan, record_format, shared_decision)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
    )?
    .execute(params![
        review_id,
        version,
        ts(now),
        v.reviewer,
        review.profile().as_str(),
        review.reference_version(),
        v.total,
        v.complete,
        v.flag_ids,
        v.notes,
        v.patient_context,
        v.regimen,
        v.result,
        v.plan,
        RECORD_FORMAT,
        v.shared_decision
    ])?;
    let (action, what) = if version == 1 {
        (AuditAction::Create, "created")
    } else {
        (AuditAction::Change, "saved as a new version")
    };
    audit::append(
        conn,
        now,
        &v.reviewer,
        action,
        AuditEntity::Review,
        Some(review_id),
        Some(input.patient_id),
        &format!("review {review_id} {what}: version {version}"),
    )?;
    summary(conn, review_id, Some(version))
}

const SUMMARY_SELECT: &str = "
    SELECT v.review_id, v.version,
           (SELECT max(version) FROM review_versions WHERE review_id = v.review_id),
           v.id, r.patient_id, r.created_at, v.saved_at, v.reviewer, v.profile,
           v.reference_version, v.total_ome_mg_per_day, v.ome_complete, v.flag_ids, substr(v.notes, 1, 200),
           (SELECT count(*) FROM leaflet_prints lp
              JOIN review_versions v2 ON v2.id = lp.review_version_id
             WHERE v2.review_id = v.review_id),
           v.record_format
    FROM review_versions v JOIN reviews r ON r.id = v.review_id";

const FULL_SELECT: &str = "
    SELECT v.review_id, v.version,
           (SELECT max(version) FROM review_versions WHERE review_id = v.review_id),
           v.id, r.patient_id, r.created_at, v.saved_at, v.reviewer, v.profile,
           v.reference_version, v.total_ome_mg_per_day, v.ome_complete, v.flag_ids, v.notes,
           v.patient_context, v.regimen, v.result, v.plan, v.record_format, v.shared_decision
    FROM review_versions v JOIN reviews r ON r.id = v.review_id";

/// Columns 0..=12, shared by both shapes.
struct Common {
    review_id: i64,
    version: i64,
    version_count: i64,
    version_id: i64,
    patient_id: i64,
    created_at: DateTime<Utc>,
    saved_at: DateTime<Utc>,
    reviewer: String,
    profile: Profile,
    reference_version: String,
    total_ome_mg_per_day: Option<f64>,
    ome_complete: Option<bool>,
    flag_ids: Vec<String>,
}

fn bad(review_id: i64, version: i64, detail: String) -> StoreError {
    StoreError::BadRecord {
        what: format!("review {review_id} version {version}"),
        detail,
    }
}

/// Reads one document leniently: what cannot be read is named in
/// `unreadable` and left empty, never guessed.
fn lenient<T: serde::de::DeserializeOwned>(
    name: &str,
    text: &str,
    unreadable: &mut Vec<String>,
) -> Option<T> {
    match serde_json::from_str(text) {
        Ok(v) => Some(v),
        Err(e) => {
            unreadable.push(format!("{name}: {e}"));
            None
        }
    }
}

/// The regimen document: `{"items": [...]}`, or a bare list (format 1 allowed both).
#[derive(Deserialize)]
#[serde(untagged)]
enum RegimenDoc {
    Wrapped(StoredRegimen),
    List(Vec<RawItem>),
}

fn common(r: &Row<'_>) -> StoreResult<Common> {
    let review_id: i64 = r.get(0)?;
    let version: i64 = r.get(1)?;
    let what = format!("review {review_id} version {version}");
    let created: String = r.get(5)?;
    let saved: String = r.get(6)?;
    let profile: String = r.get(8)?;
    let flags: String = r.get(12)?;
    Ok(Common {
        review_id,
        version,
        version_count: r.get(2)?,
        version_id: r.get(3)?,
        patient_id: r.get(4)?,
        created_at: parse_ts(&created, &what)?,
        saved_at: parse_ts(&saved, &what)?,
        reviewer: r.get(7)?,
        profile: profile
            .parse()
            .map_err(|e: String| bad(review_id, version, e))?,
        reference_version: r.get(9)?,
        total_ome_mg_per_day: r.get(10)?,
        ome_complete: r.get(11)?,
        flag_ids: serde_json::from_str(&flags)
            .map_err(|e| bad(review_id, version, format!("flag ids ({e})")))?,
    })
}

fn summary_from_row(r: &Row<'_>) -> db::Result<StoreResult<ReviewSummary>> {
    Ok((|| {
        let c = common(r)?;
        Ok(ReviewSummary {
            review_id: c.review_id,
            version: c.version,
            version_count: c.version_count,
            version_id: c.version_id,
            patient_id: c.patient_id,
            created_at: c.created_at,
            saved_at: c.saved_at,
            reviewer: c.reviewer,
            profile: c.profile,
            reference_version: c.reference_version,
            total_ome_mg_per_day: c.total_ome_mg_per_day,
            ome_complete: c.ome_complete,
            flag_ids: c.flag_ids,
            notes_excerpt: r.get(13)?,
            leaflet_count: r.get(14)?,
            record_format: r.get(15)?,
        })
    })())
}

fn full_from_row(r: &Row<'_>) -> db::Result<StoreResult<Review>> {
    Ok((|| {
        let c = common(r)?;
        let text = |i: usize| -> StoreResult<String> { Ok(r.get::<String>(i)?) };
        let mut unreadable = Vec::new();
        let patient = lenient::<RawPatient>("patient_context", &text(14)?, &mut unreadable)
            .unwrap_or_default();
        let items = match lenient::<RegimenDoc>("regimen", &text(15)?, &mut unreadable) {
            Some(RegimenDoc::Wrapped(w)) => w.items,
            Some(RegimenDoc::List(items)) => items,
            None => Vec::new(),
        };
        let result = text(16)?;
        let assessment = if result == "null" {
            None
        } else {
            lenient::<AssessReport>("result", &result, &mut unreadable)
        };
        let stored = lenient::<Option<StoredPlan>>("plan", &text(17)?, &mut unreadable).flatten();
        let (taper, plan) = match stored {
            Some(s) => (
                Some(TaperRequest::from_plan_input(&s.input, s.edits)),
                s.plan,
            ),
            None => (None, None),
        };
        let shared_decision = r
            .get::<Option<String>>(19)?
            .and_then(|t| lenient::<SharedDecision>("shared_decision", &t, &mut unreadable));
        Ok(Review {
            review_id: c.review_id,
            version: c.version,
            version_count: c.version_count,
            version_id: c.version_id,
            patient_id: c.patient_id,
            created_at: c.created_at,
            saved_at: c.saved_at,
            reviewer: c.reviewer,
            profile: c.profile,
            reference_version: c.reference_version,
            total_ome_mg_per_day: c.total_ome_mg_per_day,
            ome_complete: c.ome_complete,
            flag_ids: c.flag_ids,
            notes: r.get(13)?,
            record_format: r.get(18)?,
            patient,
            items,
            taper,
            assessment,
            plan,
            shared_decision,
            unreadable,
        })
    })())
}

fn collect<T>(rows: impl Iterator<Item = db::Result<StoreResult<T>>>) -> StoreResult<Vec<T>> {
    let mut out = Vec::new();
    for r in rows {
        out.push(r??);
    }
    Ok(out)
}

/// The given version of a review (the latest when `version` is `None`), as a summary.
fn summary(conn: &Conn, review_id: i64, version: Option<i64>) -> StoreResult<ReviewSummary> {
    conn.prepare_cached(&format!(
        "{SUMMARY_SELECT} WHERE v.review_id = ?1 AND v.version = coalesce(?2,
            (SELECT max(version) FROM review_versions WHERE review_id = ?1))"
    ))?
    .query_row(params![review_id, version], summary_from_row)
    .optional()?
    .ok_or_else(|| not_found(review_id, version))?
}

fn not_found(review_id: i64, version: Option<i64>) -> StoreError {
    match version {
        None => StoreError::NotFound {
            entity: "review".into(),
            id: review_id,
        },
        Some(v) => StoreError::NotFound {
            entity: format!("review {review_id} version"),
            id: v,
        },
    }
}

pub(crate) fn full(conn: &Conn, review_id: i64, version: Option<i64>) -> StoreResult<Review> {
    conn.prepare_cached(&format!(
        "{FULL_SELECT} WHERE v.review_id = ?1 AND v.version = coalesce(?2,
            (SELECT max(version) FROM review_versions WHERE review_id = ?1))"
    ))?
    .query_row(params![review_id, version], full_from_row)
    .optional()?
    .ok_or_else(|| not_found(review_id, version))?
}

/// Every version of every review of a patient, oldest first (for export).
pub(crate) fn all_versions_of_review(conn: &Conn, review_id: i64) -> StoreResult<Vec<Review>> {
    let mut stmt = conn.prepare_cached(&format!(
        "{FULL_SELECT} WHERE v.review_id = ?1 ORDER BY v.version"
    ))?;
    let rows = stmt.query_map([review_id], full_from_row)?;
    collect(rows)
}

impl Store {
    /// Saves a review computed by the core (`consult::save_review` is the
    /// way in from inputs): a new review when its `review_id` is absent, else
    /// a new version of that review, started from its `base_version`. Nothing
    /// is ever overwritten. The audit log records the save with the reviewer
    /// as the actor. If the review has moved on since `base_version`, the
    /// save is refused with [`StoreError::Conflict`] and the entry kept as a
    /// draft (see `drafts`).
    pub fn save_review(&mut self, review: &ComputedReview) -> StoreResult<ReviewSummary> {
        clean_actor(&review.input().reviewer).map_err(|_| {
            StoreError::invalid(
                "reviewer",
                "must not be empty (it is recorded in the audit log)",
            )
        })?;
        match self.write(|tx, now| super::drafts::save_checked(tx, review, now))? {
            super::drafts::Checked::Saved(saved) => Ok(saved),
            super::drafts::Checked::Kept(conflict) => Err(StoreError::Conflict(conflict)),
        }
    }

    /// The latest version of a review.
    pub fn review(&self, review_id: i64) -> StoreResult<Review> {
        full(&self.conn, review_id, None)
    }

    /// A given version of a review (from 1).
    pub fn review_version(&self, review_id: i64, version: i64) -> StoreResult<Review> {
        if !self.review_exists(review_id)? {
            return Err(not_found(review_id, None));
        }
        full(&self.conn, review_id, Some(version))
    }

    /// Every version of a review, oldest first, without documents.
    pub fn review_versions(&self, review_id: i64) -> StoreResult<Vec<ReviewSummary>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "{SUMMARY_SELECT} WHERE v.review_id = ?1 ORDER BY v.version"
        ))?;
        let out = collect(stmt.query_map([review_id], summary_from_row)?)?;
        if out.is_empty() {
            return Err(not_found(review_id, None));
        }
        Ok(out)
    }

    /// A patient's reviews, newest first, each at its latest version, without documents.
    pub fn patient_history(&self, patient_id: i64) -> StoreResult<Vec<ReviewSummary>> {
        super::patients::get(&self.conn, patient_id)?;
        let mut stmt = self.conn.prepare_cached(&format!(
            "{SUMMARY_SELECT}
             WHERE r.patient_id = ?1
               AND v.version = (SELECT max(version) FROM review_versions WHERE review_id = r.id)
             ORDER BY r.created_at DESC, r.id DESC"
        ))?;
        let out = collect(stmt.query_map([patient_id], summary_from_row)?)?;
        Ok(out)
    }

    /// Every version of every review in the store, with documents, by
    /// patient, review and version (for outcomes).
    pub fn all_review_versions(&self) -> StoreResult<Vec<Review>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "{FULL_SELECT} ORDER BY r.patient_id, v.review_id, v.version"
        ))?;
        let out = collect(stmt.query_map((), full_from_row)?)?;
        Ok(out)
    }

    /// A patient's reviews, newest first, each at its latest version, with documents.
    pub fn patient_reviews(&self, patient_id: i64) -> StoreResult<Vec<Review>> {
        super::patients::get(&self.conn, patient_id)?;
        let mut stmt = self.conn.prepare_cached(&format!(
            "{FULL_SELECT}
             WHERE r.patient_id = ?1
               AND v.version = (SELECT max(version) FROM review_versions WHERE review_id = r.id)
             ORDER BY r.created_at DESC, r.id DESC"
        ))?;
        let out = collect(stmt.query_map([patient_id], full_from_row)?)?;
        Ok(out)
    }

    /// Deletes a review with all its versions and leaflet records; the audit
    /// log records the deletion.
    pub fn delete_review(&mut self, review_id: i64, actor: &str) -> StoreResult<()> {
        let actor = clean_actor(actor)?;
        self.write(|tx, now| {
            let info: Option<(i64, i64)> = tx
                .query_row(
                    "SELECT r.patient_id, (SELECT count(*) FROM review_versions WHERE review_id = r.id)
                     FROM reviews r WHERE r.id = ?1",
                    [review_id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            let Some((patient_id, versions)) = info else {
                return Err(not_found(review_id, None));
            };
            tx.execute("DELETE FROM reviews WHERE id = ?1", [review_id])?;
            audit::append(
                tx,
                now,
                &actor,
                AuditAction::Delete,
                AuditEntity::Review,
                Some(review_id),
                Some(patient_id),
                &format!("review {review_id} deleted with its {versions} version(s)"),
            )?;
            Ok(())
        })
    }

    fn review_exists(&self, review_id: i64) -> StoreResult<bool> {
        Ok(self
            .conn
            .prepare_cached("SELECT 1 FROM reviews WHERE id = ?1")?
            .query_row([review_id], |_| Ok(()))
            .optional()?
            .is_some())
    }
}
