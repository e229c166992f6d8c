//! Optimistic version checks on review saves, and the drafts that keep a
//! refused entry (issue 19, migration 10).
//!
//! A save of a new version carries the version the seat started from
//! (`base_version`). If the review has moved on since, the save is refused
//! and the entry is kept in `review_drafts`, in the same transaction as the
//! refusal and with its audit entry: nothing the seat typed is lost. A draft
//! is later reapplied on top of the latest version (it becomes a new version
//! and the draft goes) or discarded; both are audited.
//!
//! SQL here keeps to what SQLite and PostgreSQL both accept (`RETURNING id`,
//! no `INSERT OR …`), so the team store can share it.

use super::db::{self, params, Conn, OptionalExtension, Row};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::audit::{self, AuditAction, AuditEntity};
use super::reviews::{self, ReviewSummary};
use super::{clean_actor, parse_ts, ts, Store, StoreError, StoreResult};
use crate::api_error::{Conflict, ReviewConflict};
use crate::record::{ComputedReview, ReviewInput};

/// An entry whose save was refused because the review had a newer version:
/// kept to reapply on top of the latest version, or discard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ReviewDraft {
    /// The draft's id.
    #[ts(type = "number")]
    pub id: i64,
    /// The review it was meant for.
    #[ts(type = "number")]
    pub review_id: i64,
    /// The review's patient.
    #[ts(type = "number")]
    pub patient_id: i64,
    /// The version the entry started from.
    #[ts(type = "number")]
    pub base_version: i64,
    /// The review's latest version when the save was refused.
    #[ts(type = "number")]
    pub latest_version: i64,
    /// When the save was refused (and the draft kept).
    #[ts(as = "String")]
    pub saved_at: DateTime<Utc>,
    /// Who made the entry.
    pub saved_by: String,
    /// The entry as it was sent.
    pub input: ReviewInput,
}

/// The outcome of a checked save: saved, or refused with the entry kept.
pub(crate) enum Checked {
    Saved(ReviewSummary),
    Kept(Box<Conflict>),
}

/// Checks `base_version` against the review's latest version, then saves
/// (as [`reviews::save_in`]) or keeps the entry as a draft. Inside the
/// caller's transaction: the caller commits in both cases.
pub(crate) fn save_checked(
    conn: &Conn,
    review: &ComputedReview,
    now: DateTime<Utc>,
) -> StoreResult<Checked> {
    let input = review.input();
    let Some(review_id) = input.review_id else {
        // A first save creates a review: there is nothing to be out of date
        // with. Two seats starting a review of one patient make two reviews,
        // both kept.
        if let Some(b) = input.base_version {
            return Err(StoreError::invalid(
                "base_version",
                format!(
                    "must be absent for a new review (got {b}): give review_id to save a new \
                     version of an existing review"
                ),
            ));
        }
        return Ok(Checked::Saved(reviews::save_in(conn, review, now)?));
    };
    let owner: Option<i64> = conn
        .prepare_cached("SELECT patient_id FROM reviews WHERE id = ?1")?
        .query_row([review_id], |r| r.get(0))
        .optional()?;
    let latest = latest_version(conn, review_id)?;
    let (Some(patient_id), Some((latest, saved_by, saved_at))) = (owner, latest) else {
        // No such review: save_in names the problem.
        return Ok(Checked::Saved(reviews::save_in(conn, review, now)?));
    };
    if patient_id != input.patient_id {
        // Another patient's review: save_in names the problem.
        return Ok(Checked::Saved(reviews::save_in(conn, review, now)?));
    }
    let base = match input.base_version {
        None => {
            return Err(StoreError::invalid(
                "base_version",
                format!(
                    "is required to save a new version of review {review_id}: the version \
                     the entry started from (the latest is {latest})"
                ),
            ))
        }
        Some(b) if b < 1 || b > latest => {
            return Err(StoreError::invalid(
                "base_version",
                format!("review {review_id} has versions 1 to {latest} (got {b})"),
            ))
        }
        Some(b) => b,
    };
    if base == latest {
        return Ok(Checked::Saved(reviews::save_in(conn, review, now)?));
    }
    let reviewer = clean_actor(&input.reviewer)?;
    let text = serde_json::to_string(input).map_err(|e| StoreError::BadRecord {
        what: "review draft".into(),
        detail: format!("the entry cannot be written as JSON ({e})"),
    })?;
    let draft_id: i64 = conn
        .prepare_cached(
            "INSERT INTO review_drafts
               (review_id, base_version, latest_version, saved_at, saved_by, input)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id",
        )?
        .query_row(
            params![review_id, base, latest, ts(now), reviewer, text],
            |r| r.get(0),
        )?;
    audit::append(
        conn,
        now,
        &reviewer,
        AuditAction::Create,
        AuditEntity::Review,
        Some(review_id),
        Some(patient_id),
        &format!(
            "review {review_id}: save from version {base} refused (version {latest} was saved \
             meanwhile); the entry kept as draft {draft_id}"
        ),
    )?;
    Ok(Checked::Kept(Box::new(Conflict::Review(ReviewConflict {
        review_id,
        patient_id,
        base_version: base,
        latest_version: latest,
        saved_by,
        saved_at,
        draft_id,
    }))))
}

/// The review's latest version with who saved it and when; `None` when
/// there is no such review.
fn latest_version(
    conn: &Conn,
    review_id: i64,
) -> StoreResult<Option<(i64, String, DateTime<Utc>)>> {
    let row: Option<(i64, String, String)> = conn
        .prepare_cached(
            "SELECT version, reviewer, saved_at FROM review_versions
             WHERE review_id = ?1 ORDER BY version DESC LIMIT 1",
        )?
        .query_row([review_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    row.map(|(v, who, at)| {
        Ok((
            v,
            who,
            parse_ts(&at, &format!("review {review_id} version {v}"))?,
        ))
    })
    .transpose()
}

const DRAFT_SELECT: &str = "
    SELECT d.id, d.review_id, r.patient_id, d.base_version, d.latest_version, d.saved_at,
           d.saved_by, d.input
    FROM review_drafts d JOIN reviews r ON r.id = d.review_id";

fn draft_from_row(r: &Row<'_>) -> db::Result<StoreResult<ReviewDraft>> {
    let id: i64 = r.get(0)?;
    let saved_at: String = r.get(5)?;
    let input: String = r.get(7)?;
    let what = format!("review draft {id}");
    Ok((|| {
        Ok(ReviewDraft {
            id,
            review_id: r.get(1)?,
            patient_id: r.get(2)?,
            base_version: r.get(3)?,
            latest_version: r.get(4)?,
            saved_at: parse_ts(&saved_at, &what)?,
            saved_by: r.get(6)?,
            // Never read leniently: a draft is only worth keeping whole.
            input: serde_json::from_str(&input).map_err(|e| StoreError::BadRecord {
                what: what.clone(),
                detail: format!("the entry cannot be read ({e})"),
            })?,
        })
    })())
}

fn draft(conn: &Conn, draft_id: i64) -> StoreResult<ReviewDraft> {
    conn.prepare_cached(&format!("{DRAFT_SELECT} WHERE d.id = ?1"))?
        .query_row([draft_id], draft_from_row)
        .optional()?
        .ok_or_else(|| StoreError::NotFound {
            entity: "review draft".into(),
            id: draft_id,
        })?
}

/// The drafts kept for a review, oldest first (none for an unknown review).
pub(crate) fn for_review(conn: &Conn, review_id: i64) -> StoreResult<Vec<ReviewDraft>> {
    let mut stmt = conn.prepare_cached(&format!(
        "{DRAFT_SELECT} WHERE d.review_id = ?1 ORDER BY d.id"
    ))?;
    let rows = stmt.query_map([review_id], draft_from_row)?;
    let mut out = Vec::new();
    for r in rows {
        out.push(r??);
    }
    Ok(out)
}

/// Deletes a draft and records why, inside the caller's transaction.
fn remove(
    conn: &Conn,
    d: &ReviewDraft,
    actor: &str,
    now: DateTime<Utc>,
    what: &str,
) -> StoreResult<()> {
    conn.prepare_cached("DELETE FROM review_drafts WHERE id = ?1")?
        .execute([d.id])?;
    audit::append(
        conn,
        now,
        actor,
        AuditAction::Delete,
        AuditEntity::Review,
        Some(d.review_id),
        Some(d.patient_id),
        &format!("review {}: draft {} {what}", d.review_id, d.id),
    )?;
    Ok(())
}

impl Store {
    /// The drafts kept for a review, oldest first.
    pub fn review_drafts(&self, review_id: i64) -> StoreResult<Vec<ReviewDraft>> {
        let exists = self
            .conn
            .prepare_cached("SELECT 1 FROM reviews WHERE id = ?1")?
            .query_row([review_id], |_| Ok(()))
            .optional()?
            .is_some();
        if !exists {
            return Err(StoreError::NotFound {
                entity: "review".into(),
                id: review_id,
            });
        }
        for_review(&self.conn, review_id)
    }

    /// One draft.
    pub fn review_draft(&self, draft_id: i64) -> StoreResult<ReviewDraft> {
        draft(&self.conn, draft_id)
    }

    /// Saves draft `draft_id` as the review's newest version, whatever the
    /// latest is now, and deletes the draft: one transaction, audited
    /// (`consult::reapply_draft` computes `review` from the draft's entry).
    /// The versions saved meanwhile stay in the history.
    pub fn reapply_review_draft(
        &mut self,
        draft_id: i64,
        review: &ComputedReview,
        actor: &str,
    ) -> StoreResult<ReviewSummary> {
        let actor = clean_actor(actor)?;
        self.write(|tx, now| {
            let d = draft(tx, draft_id)?;
            if review.input().review_id != Some(d.review_id) {
                return Err(StoreError::invalid(
                    "review_id",
                    format!("draft {draft_id} is for review {}", d.review_id),
                ));
            }
            let saved = reviews::save_in(tx, review, now)?;
            remove(
                tx,
                &d,
                &actor,
                now,
                &format!("reapplied as version {}", saved.version),
            )?;
            Ok(saved)
        })
    }

    /// Deletes a draft without saving it (audited).
    pub fn discard_review_draft(&mut self, draft_id: i64, actor: &str) -> StoreResult<()> {
        let actor = clean_actor(actor)?;
        self.write(|tx, now| {
            let d = draft(tx, draft_id)?;
            remove(tx, &d, &actor, now, "discarded")
        })
    }
}
