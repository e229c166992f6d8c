//! Follow-ups of reviews (migration 7): append-only like review versions.
//! Saving one checks it was made against the review's current version, saves
//! a re-plan as the review's next version in the same transaction, and
//! records the save in the audit log.

use super::db::{self, params, Conn, OptionalExtension, Row};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::audit::{self, AuditAction, AuditEntity};
use super::{clean_line, clean_text, parse_ts, ts, Store, StoreError, StoreResult};
use crate::followup::{ComputedFollowUp, FollowUpRecord};

/// Longest accepted goals or notes, in characters.
pub const MAX_FOLLOW_UP_TEXT_CHARS: usize = 20_000;

/// A stored follow-up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct FollowUp {
    /// Its id.
    #[ts(type = "number")]
    pub id: i64,
    /// The review followed up.
    #[ts(type = "number")]
    pub review_id: i64,
    /// The patient.
    #[ts(type = "number")]
    pub patient_id: i64,
    /// The version followed up.
    #[ts(type = "number")]
    pub review_version: i64,
    /// When it was saved.
    #[ts(as = "String")]
    pub saved_at: DateTime<Utc>,
    /// The version a re-plan saved (null otherwise).
    #[ts(type = "number | null")]
    pub replan_version: Option<i64>,
    /// The entry and what the core worked out from it.
    pub record: FollowUpRecord,
}

const SELECT: &str = "SELECT f.id, f.review_id, r.patient_id, f.review_version, f.saved_at,
        f.replan_version, f.record
    FROM follow_ups f JOIN reviews r ON r.id = f.review_id";

fn from_row(r: &Row<'_>) -> db::Result<StoreResult<FollowUp>> {
    Ok((|| {
        let id: i64 = r.get(0)?;
        let what = format!("follow-up {id}");
        let saved: String = r.get(4)?;
        let record: String = r.get(6)?;
        Ok(FollowUp {
            id,
            review_id: r.get(1)?,
            patient_id: r.get(2)?,
            review_version: r.get(3)?,
            saved_at: parse_ts(&saved, &what)?,
            replan_version: r.get(5)?,
            record: serde_json::from_str(&record).map_err(|e| StoreError::BadRecord {
                what,
                detail: format!("record ({e})"),
            })?,
        })
    })())
}

fn collect(
    rows: impl Iterator<Item = db::Result<StoreResult<FollowUp>>>,
) -> StoreResult<Vec<FollowUp>> {
    let mut out = Vec::new();
    for r in rows {
        out.push(r??);
    }
    Ok(out)
}

/// Every follow-up of a review, oldest first (by date, then saving order).
pub(crate) fn for_review(conn: &Conn, review_id: i64) -> StoreResult<Vec<FollowUp>> {
    let mut stmt = conn.prepare_cached(&format!(
        "{SELECT} WHERE f.review_id = ?1 ORDER BY f.follow_up_date, f.id"
    ))?;
    let rows = stmt.query_map([review_id], from_row)?;
    collect(rows)
}

pub(crate) fn save_in(
    conn: &Conn,
    f: &ComputedFollowUp,
    now: DateTime<Utc>,
) -> StoreResult<FollowUp> {
    let record = f.record();
    let input = &record.input;
    let reviewer = clean_line("reviewer", &input.reviewer, 200, true)?;
    clean_text("goals", &input.goals, MAX_FOLLOW_UP_TEXT_CHARS)?;
    clean_text("notes", &input.notes, MAX_FOLLOW_UP_TEXT_CHARS)?;
    let date = record
        .date()
        .ok_or_else(|| StoreError::invalid("date", "must be a date written YYYY-MM-DD"))?;
    // A follow-up records what has happened: one dated after today (the
    // clinician's local date, by the store's clock) would count in outcomes early.
    let today = now.with_timezone(&chrono::Local).date_naive();
    if date > today {
        return Err(StoreError::invalid(
            "date",
            format!("must not be after today ({today}): a follow-up records what has happened"),
        ));
    }
    let review: Option<(i64, i64)> = conn
        .prepare_cached(
            "SELECT r.patient_id, (SELECT max(version) FROM review_versions WHERE review_id = r.id)
             FROM reviews r WHERE r.id = ?1",
        )?
        .query_row([input.review_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let Some((patient_id, latest)) = review else {
        return Err(StoreError::invalid(
            "review_id",
            format!("there is no review {}", input.review_id),
        ));
    };
    if input.version != latest {
        return Err(StoreError::invalid(
            "version",
            format!(
                "review {} is at version {latest} now, not {}: follow up its current version",
                input.review_id, input.version
            ),
        ));
    }
    let replan_version = match f.replan() {
        Some(replan) => {
            if replan.input().review_id != Some(input.review_id)
                || replan.input().patient_id != patient_id
            {
                return Err(StoreError::invalid(
                    "replan",
                    "a re-plan is a new version of the review followed up",
                ));
            }
            Some(super::reviews::save_in(conn, replan, now)?.version)
        }
        None => None,
    };
    let document = serde_json::to_string(record)
        .map_err(|e| StoreError::invalid("follow_up", format!("cannot be stored ({e})")))?;
    if document.len() > super::reviews::MAX_DOCUMENT_BYTES {
        return Err(StoreError::invalid("follow_up", "is too large to store"));
    }
    let id: i64 = conn.prepare_cached(
        "INSERT INTO follow_ups (review_id, review_version, saved_at, follow_up_date, reviewer,
            status, current_ome_mg_per_day, ome_complete, decision, next_review, replan_version, record)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
         RETURNING id",
    )?
    .query_row(params![
        input.review_id,
        input.version,
        ts(now),
        date.to_string(),
        reviewer,
        input.actual.as_str(),
        record.current_ome_mg_per_day,
        record.ome_complete,
        input.decision.as_str(),
        input.next_review.as_deref().map(str::trim).filter(|s| !s.is_empty()),
        replan_version,
        document,
    ], |r| r.get(0))?;
    let replanned = replan_version
        .map(|v| format!(", re-planned as version {v}"))
        .unwrap_or_default();
    audit::append(
        conn,
        now,
        &reviewer,
        AuditAction::Create,
        AuditEntity::Review,
        Some(input.review_id),
        Some(patient_id),
        &format!(
            "review {} followed up on {date} (follow-up {id}, version {}): {}, decision {}{replanned}",
            input.review_id,
            input.version,
            input.actual.as_str(),
            input.decision.as_str()
        ),
    )?;
    conn.prepare_cached(&format!("{SELECT} WHERE f.id = ?1"))?
        .query_row([id], from_row)?
}

impl Store {
    /// Saves a follow-up the core computed (`consult::save_follow_up` is the
    /// way in): refused unless it was made against the review's current
    /// version; a re-plan is saved as the review's next version in the same
    /// transaction. Audited with the reviewer as the actor.
    pub fn save_follow_up(&mut self, follow_up: &ComputedFollowUp) -> StoreResult<FollowUp> {
        self.write(|tx, now| save_in(tx, follow_up, now))
    }

    /// The follow-ups of a review, oldest first.
    pub fn follow_ups(&self, review_id: i64) -> StoreResult<Vec<FollowUp>> {
        self.review(review_id)?;
        for_review(&self.conn, review_id)
    }

    /// Every follow-up in the store, by patient, then date.
    pub fn all_follow_ups(&self) -> StoreResult<Vec<FollowUp>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "{SELECT} ORDER BY r.patient_id, f.follow_up_date, f.id"
        ))?;
        let rows = stmt.query_map((), from_row)?;
        collect(rows)
    }
}
