//! Reviews: one consultation each, saved as append-only versions.
//!
//! Saving a review never overwrites anything: the first save creates the
//! review and its version 1; every later save of the same review adds
//! version 2, 3, … Older versions stay readable, so what was shown to the
//! clinician and printed for the patient can always be reconstructed.

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, Row};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use ts_rs::TS;

use super::audit::{self, AuditAction, AuditEntity};
use super::{clean_actor, clean_line, clean_text, parse_ts, ts, Store, StoreError, StoreResult};
use crate::profile::Profile;

/// Largest accepted JSON document (each of context, regimen, result, plan).
pub const MAX_DOCUMENT_BYTES: usize = 1024 * 1024;
/// Longest accepted free-text notes, in characters.
pub const MAX_NOTES_CHARS: usize = 20_000;

/// A review to save: a new review (no `review_id`) or a new version of an
/// existing one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
#[ts(export)]
pub struct ReviewInput {
    /// The patient reviewed.
    #[ts(type = "number")]
    pub patient_id: i64,
    /// Absent for a new review; the review's id to save a new version of it.
    #[serde(default)]
    #[ts(optional, type = "number | null")]
    pub review_id: Option<i64>,
    /// Who carried out the review (also recorded as the actor in the audit log).
    pub reviewer: String,
    /// Conversion profile used.
    #[serde(default)]
    pub profile: Profile,
    /// Reference manifest version the numbers came from; absent means this
    /// build's embedded tables.
    #[serde(default)]
    #[ts(optional = nullable)]
    pub reference_version: Option<String>,
    /// Free-text notes.
    #[serde(default)]
    pub notes: String,
    /// Patient context as entered for the assessment (age, eGFR, conditions…): a JSON object.
    #[serde(default = "empty_object")]
    #[ts(type = "Record<string, unknown>")]
    pub patient_context: Value,
    /// The regimen (`{"items": [...]}` or the item list): a JSON object or array.
    #[ts(type = "unknown")]
    pub regimen: Value,
    /// The computed result (OME and flags, as `stepdown assess` prints it), or null.
    #[serde(default)]
    #[ts(type = "unknown")]
    pub result: Value,
    /// The taper plan including the clinician's edits, or null.
    #[serde(default)]
    #[ts(type = "unknown")]
    pub plan: Value,
}

fn empty_object() -> Value {
    Value::Object(Default::default())
}

/// One saved version of a review, with its documents.
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
    /// Total OME (mg/day) from the result, if it had one.
    pub total_ome_mg_per_day: Option<f64>,
    /// Whether that total covers every item (false when an item could not be
    /// converted and was left out); null when the result does not say.
    pub ome_complete: Option<bool>,
    /// Ids of the flags in the result, in the result's order (most severe first).
    pub flag_ids: Vec<String>,
    /// Free-text notes.
    pub notes: String,
    /// Patient context document.
    #[ts(type = "Record<string, unknown>")]
    pub patient_context: Value,
    /// Regimen document.
    #[ts(type = "unknown")]
    pub regimen: Value,
    /// Result document (OME and flags), or null.
    #[ts(type = "unknown")]
    pub result: Value,
    /// Plan document with clinician edits, or null.
    #[ts(type = "unknown")]
    pub plan: Value,
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
    /// Whether the total covers every item; null when the result does not say.
    pub ome_complete: Option<bool>,
    /// Flag ids, most severe first.
    pub flag_ids: Vec<String>,
    /// The first 200 characters of the notes.
    pub notes_excerpt: String,
    /// Leaflets printed from any version of this review.
    #[ts(type = "number")]
    pub leaflet_count: i64,
}

/// What is written for one version, after validation.
struct ValidReview {
    reviewer: String,
    reference_version: String,
    notes: String,
    summary: ResultSummary,
    patient_context: String,
    regimen: String,
    result: String,
    plan: String,
}

fn document(field: &str, v: &Value) -> StoreResult<String> {
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

fn describe(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 40 {
        format!("{}…", s.chars().take(40).collect::<String>())
    } else {
        s
    }
}

/// The summary columns derived from a result document.
#[derive(Debug, Clone, PartialEq)]
struct ResultSummary {
    total: Option<f64>,
    complete: Option<bool>,
    flag_ids: Vec<String>,
}

/// Total OME, completeness and flag ids from a result shaped like `stepdown assess` output
/// (`{"ome": {"total_ome_mg_per_day": …}, "flags": [{"id": …}]}`) or like
/// `stepdown ome` output (`{"total_ome_mg_per_day": …}`). Fields it does not
/// know are kept in the document and ignored here.
fn summarise_result(result: &Value) -> StoreResult<ResultSummary> {
    let obj = match result {
        Value::Null => {
            return Ok(ResultSummary {
                total: None,
                complete: None,
                flag_ids: Vec::new(),
            })
        }
        Value::Object(o) => o,
        other => {
            return Err(StoreError::invalid(
                "result",
                format!("must be an object or null (got {})", describe(other)),
            ))
        }
    };
    let (prefix, ome) = match obj.get("ome") {
        Some(Value::Object(ome)) => ("result.ome", ome),
        Some(Value::Null) | None => ("result", obj),
        Some(other) => {
            return Err(StoreError::invalid(
                "result.ome",
                format!("must be an object (got {})", describe(other)),
            ))
        }
    };
    let path = format!("{prefix}.total_ome_mg_per_day");
    let total = match ome.get("total_ome_mg_per_day") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => match n.as_f64() {
            Some(x) if x.is_finite() && x >= 0.0 => Some(x),
            _ => {
                return Err(StoreError::invalid(
                    path,
                    format!("must be a number of at least 0, or null (got {n})"),
                ))
            }
        },
        Some(other) => {
            return Err(StoreError::invalid(
                path,
                format!(
                    "must be a number of at least 0, or null (got {})",
                    describe(other)
                ),
            ))
        }
    };
    let flag_ids = match obj.get("flags") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(flags)) => flags
            .iter()
            .enumerate()
            .map(|(i, f)| match f.get("id") {
                Some(Value::String(id)) if !id.trim().is_empty() => Ok(id.clone()),
                other => Err(StoreError::invalid(
                    format!("result.flags[{i}].id"),
                    format!(
                        "must be a non-empty string (got {})",
                        other.map_or("nothing".into(), describe)
                    ),
                )),
            })
            .collect::<StoreResult<Vec<_>>>()?,
        Some(other) => {
            return Err(StoreError::invalid(
                "result.flags",
                format!("must be a list (got {})", describe(other)),
            ))
        }
    };
    let complete = match ome.get("complete") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(other) => {
            return Err(StoreError::invalid(
                format!("{prefix}.complete"),
                format!("must be true or false (got {})", describe(other)),
            ))
        }
    };
    Ok(ResultSummary {
        total,
        complete,
        flag_ids,
    })
}

impl ReviewInput {
    fn validate(&self) -> StoreResult<ValidReview> {
        let reviewer = clean_line("reviewer", &self.reviewer, 200, true)?;
        let reference_version = match &self.reference_version {
            Some(v) => clean_line("reference_version", v, 64, true)?,
            None => crate::reference::reference().manifest_version.clone(),
        };
        let notes = clean_text("notes", &self.notes, MAX_NOTES_CHARS)?;
        if !self.patient_context.is_object() {
            return Err(StoreError::invalid(
                "patient_context",
                format!(
                    "must be an object (got {})",
                    describe(&self.patient_context)
                ),
            ));
        }
        if !(self.regimen.is_object() || self.regimen.is_array()) {
            return Err(StoreError::invalid(
                "regimen",
                format!(
                    "must be an object or a list (got {})",
                    describe(&self.regimen)
                ),
            ));
        }
        if !(self.plan.is_object() || self.plan.is_null()) {
            return Err(StoreError::invalid(
                "plan",
                format!("must be an object or null (got {})", describe(&self.plan)),
            ));
        }
        let summary = summarise_result(&self.result)?;
        Ok(ValidReview {
            reviewer,
            reference_version,
            notes,
            summary,
            patient_context: document("patient_context", &self.patient_context)?,
            regimen: document("regimen", &self.regimen)?,
            result: document("result", &self.result)?,
            plan: document("plan", &self.plan)?,
        })
    }
}

/// Saves one version inside the caller's transaction.
pub(crate) fn save_in(
    conn: &Connection,
    input: &ReviewInput,
    now: DateTime<Utc>,
) -> StoreResult<ReviewSummary> {
    let v = input.validate()?;
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
        None => {
            conn.prepare_cached(
                "INSERT INTO reviews (patient_id, created_at, created_by) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![input.patient_id, ts(now), v.reviewer])?;
            conn.last_insert_rowid()
        }
    };
    // Under the write lock taken by BEGIN IMMEDIATE, so no other writer can
    // take the same number; UNIQUE (review_id, version) backs this up.
    let version: i64 = conn
        .prepare_cached(
            "SELECT coalesce(max(version), 0) + 1 FROM review_versions WHERE review_id = ?1",
        )?
        .query_row([review_id], |r| r.get(0))?;
    let flag_ids = serde_json::to_string(&v.summary.flag_ids)
        .map_err(|e| StoreError::invalid("result.flags", e.to_string()))?;
    conn.prepare_cached(
        "INSERT INTO review_versions
           (review_id, version, saved_at, reviewer, profile, reference_version,
            total_ome_mg_per_day, ome_complete, flag_ids, notes, patient_context, regimen,
            result, plan)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
    )?
    .execute(params![
        review_id,
        version,
        ts(now),
        v.reviewer,
        input.profile.as_str(),
        v.reference_version,
        v.summary.total,
        v.summary.complete,
        flag_ids,
        v.notes,
        v.patient_context,
        v.regimen,
        v.result,
        v.plan
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
             WHERE v2.review_id = v.review_id)
    FROM review_versions v JOIN reviews r ON r.id = v.review_id";

const FULL_SELECT: &str = "
    SELECT v.review_id, v.version,
           (SELECT max(version) FROM review_versions WHERE review_id = v.review_id),
           v.id, r.patient_id, r.created_at, v.saved_at, v.reviewer, v.profile,
           v.reference_version, v.total_ome_mg_per_day, v.ome_complete, v.flag_ids, v.notes,
           v.patient_context, v.regimen, v.result, v.plan
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

fn json_col(review_id: i64, version: i64, name: &str, text: &str) -> StoreResult<Value> {
    serde_json::from_str(text).map_err(|e| {
        bad(
            review_id,
            version,
            format!("{name} is not valid JSON ({e})"),
        )
    })
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

fn summary_from_row(r: &Row<'_>) -> rusqlite::Result<StoreResult<ReviewSummary>> {
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
        })
    })())
}

fn full_from_row(r: &Row<'_>) -> rusqlite::Result<StoreResult<Review>> {
    Ok((|| {
        let c = common(r)?;
        let (rid, ver) = (c.review_id, c.version);
        let text = |i: usize| -> StoreResult<String> { Ok(r.get::<_, String>(i)?) };
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
            patient_context: json_col(rid, ver, "patient_context", &text(14)?)?,
            regimen: json_col(rid, ver, "regimen", &text(15)?)?,
            result: json_col(rid, ver, "result", &text(16)?)?,
            plan: json_col(rid, ver, "plan", &text(17)?)?,
        })
    })())
}

fn collect<T>(rows: impl Iterator<Item = rusqlite::Result<StoreResult<T>>>) -> StoreResult<Vec<T>> {
    let mut out = Vec::new();
    for r in rows {
        out.push(r??);
    }
    Ok(out)
}

/// The given version of a review (the latest when `version` is `None`), as a summary.
fn summary(conn: &Connection, review_id: i64, version: Option<i64>) -> StoreResult<ReviewSummary> {
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

pub(crate) fn full(conn: &Connection, review_id: i64, version: Option<i64>) -> StoreResult<Review> {
    conn.prepare_cached(&format!(
        "{FULL_SELECT} WHERE v.review_id = ?1 AND v.version = coalesce(?2,
            (SELECT max(version) FROM review_versions WHERE review_id = ?1))"
    ))?
    .query_row(params![review_id, version], full_from_row)
    .optional()?
    .ok_or_else(|| not_found(review_id, version))?
}

/// Every version of every review of a patient, oldest first (for export).
pub(crate) fn all_versions_of_review(
    conn: &Connection,
    review_id: i64,
) -> StoreResult<Vec<Review>> {
    let mut stmt = conn.prepare_cached(&format!(
        "{FULL_SELECT} WHERE v.review_id = ?1 ORDER BY v.version"
    ))?;
    let rows = stmt.query_map([review_id], full_from_row)?;
    collect(rows)
}

impl Store {
    /// Saves a review: a new review when `input.review_id` is absent, else a
    /// new version of that review. Nothing is ever overwritten. The audit
    /// log records the save with the reviewer as the actor.
    pub fn save_review(&mut self, input: &ReviewInput) -> StoreResult<ReviewSummary> {
        clean_actor(&input.reviewer).map_err(|_| {
            StoreError::invalid(
                "reviewer",
                "must not be empty (it is recorded in the audit log)",
            )
        })?;
        self.write(|tx, now| save_in(tx, input, now))
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn summarises_assess_output() {
        let r = json!({"ome": {"total_ome_mg_per_day": 150.0, "complete": true},
                       "flags": [{"id": "high-dose", "severity": "high"}, {"id": "older-adult"}]});
        assert_eq!(
            summarise_result(&r).unwrap(),
            ResultSummary {
                total: Some(150.0),
                complete: Some(true),
                flag_ids: vec!["high-dose".into(), "older-adult".into()]
            }
        );
    }

    #[test]
    fn summarises_ome_output_and_null() {
        let s = |total, complete| ResultSummary {
            total,
            complete,
            flag_ids: vec![],
        };
        assert_eq!(
            summarise_result(&json!({"total_ome_mg_per_day": 60, "complete": false})).unwrap(),
            s(Some(60.0), Some(false))
        );
        assert_eq!(
            summarise_result(&json!({"ome": {"total_ome_mg_per_day": null}})).unwrap(),
            s(None, None)
        );
        assert_eq!(summarise_result(&Value::Null).unwrap(), s(None, None));
    }

    #[test]
    fn rejects_malformed_results_naming_the_field() {
        let cases = [
            (json!([1]), "result: must be an object or null (got [1])"),
            (json!({"ome": 5}), "result.ome: must be an object (got 5)"),
            (
                json!({"ome": {"total_ome_mg_per_day": -1}}),
                "result.ome.total_ome_mg_per_day: must be a number of at least 0, or null (got -1)",
            ),
            (
                json!({"total_ome_mg_per_day": "90"}),
                "result.total_ome_mg_per_day: must be a number of at least 0, or null (got \"90\")",
            ),
            (
                json!({"flags": [{"id": "a"}, {"severity": "high"}]}),
                "result.flags[1].id: must be a non-empty string (got nothing)",
            ),
            (
                json!({"flags": "high-dose"}),
                "result.flags: must be a list (got \"high-dose\")",
            ),
            (
                json!({"ome": {"complete": "yes"}}),
                "result.ome.complete: must be true or false (got \"yes\")",
            ),
        ];
        for (value, message) in cases {
            assert_eq!(summarise_result(&value).unwrap_err().to_string(), message);
        }
    }
}
