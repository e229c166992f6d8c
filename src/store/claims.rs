//! Worklist claims (issue 19, migration 10): a pharmacist holds a
//! case-finding patient so that two people do not call the same one, and
//! moves them on (to contact, booked, reviewed).
//!
//! A claim is keyed by the extract's patient identifier. Only its holder may
//! release it or change its status; anyone else is refused with
//! [`StoreError::Conflict`] naming the holder and since when. A released
//! patient keeps its status. Every change is audited.
//!
//! Each change is one conditional upsert or update that either changes the
//! row or returns nothing (then the row is read to say why), so two seats
//! cannot both take a patient on a server either. SQL here keeps to what
//! SQLite and PostgreSQL both accept.

use std::collections::HashMap;

use super::db::{self, params, Conn, OptionalExtension, Row};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::audit::{self, AuditAction, AuditEntity};
use super::{clean_actor, clean_line, parse_ts, ts, Store, StoreError, StoreResult};
use crate::api_error::{ClaimConflict, Conflict};
use crate::vocabulary::vocabulary;

vocabulary!(
    /// Where a worklist patient is up to.
    #[ts(export)]
    ClaimStatus, "worklist status" {
        /// To be contacted (where every claim starts).
        ToContact => "to-contact",
        /// An appointment is booked.
        Booked => "booked",
        /// Reviewed.
        Reviewed => "reviewed",
    }
);

/// Who holds a worklist patient, and where they are up to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct WorklistClaim {
    /// The worklist patient (the extract's identifier).
    pub patient_id: String,
    /// Who holds them; null when released (or never claimed, status only).
    pub holder: Option<String>,
    /// Since when.
    #[ts(as = "Option<String>")]
    pub claimed_at: Option<DateTime<Utc>>,
    /// Where they are up to.
    pub status: ClaimStatus,
    /// When the claim, release or status last changed.
    #[ts(as = "String")]
    pub changed_at: DateTime<Utc>,
    /// Who changed it.
    pub changed_by: String,
}

const SELECT: &str =
    "SELECT id, extract_id, holder, claimed_at, status, changed_at, changed_by FROM cf_claims";

fn from_row(r: &Row<'_>) -> db::Result<StoreResult<(i64, WorklistClaim)>> {
    let id: i64 = r.get(0)?;
    let claimed_at: Option<String> = r.get(3)?;
    let status: String = r.get(4)?;
    let changed_at: String = r.get(5)?;
    let what = format!("worklist claim {id}");
    let claim = (|| {
        Ok(WorklistClaim {
            patient_id: r.get(1)?,
            holder: r.get(2)?,
            claimed_at: claimed_at
                .as_deref()
                .map(|t| parse_ts(t, &what))
                .transpose()?,
            status: ClaimStatus::parse(&status).ok_or_else(|| StoreError::BadRecord {
                what: what.clone(),
                detail: ClaimStatus::unknown(&status),
            })?,
            changed_at: parse_ts(&changed_at, &what)?,
            changed_by: r.get(6)?,
        })
    })();
    Ok(claim.map(|c| (id, c)))
}

fn by_patient(conn: &Conn, extract_id: &str) -> StoreResult<Option<(i64, WorklistClaim)>> {
    conn.prepare_cached(&format!("{SELECT} WHERE extract_id = ?1"))?
        .query_row([extract_id], from_row)
        .optional()?
        .transpose()
}

fn by_id(conn: &Conn, id: i64) -> StoreResult<WorklistClaim> {
    let (_, c) = conn
        .prepare_cached(&format!("{SELECT} WHERE id = ?1"))?
        .query_row([id], from_row)??;
    Ok(c)
}

/// The claims of these worklist patients, by identifier (for a worklist page).
pub(crate) fn for_patients(
    conn: &Conn,
    extract_ids: &[&str],
) -> StoreResult<HashMap<String, WorklistClaim>> {
    let mut stmt = conn.prepare_cached(&format!("{SELECT} WHERE extract_id = ?1"))?;
    let mut out = HashMap::new();
    for id in extract_ids {
        if let Some(row) = stmt.query_row([id], from_row).optional()? {
            let (_, c) = row?;
            out.insert(c.patient_id.clone(), c);
        }
    }
    Ok(out)
}

/// The worklist filter on claims, as SQL on `cf_summaries` rows: only
/// patients held by `?{holder}` (when not null), only patients nobody holds
/// (when `?{unclaimed}` is 1).
pub(crate) fn filter_sql(holder: usize, unclaimed: usize) -> String {
    format!(
        "(CAST(?{holder} AS TEXT) IS NULL OR EXISTS (SELECT 1 FROM cf_claims c JOIN cf_patients p
              ON p.extract_id = c.extract_id
           WHERE p.id = cf_summaries.patient_id AND c.holder = ?{holder}))
         AND (?{unclaimed} = 0 OR NOT EXISTS (SELECT 1 FROM cf_claims c JOIN cf_patients p
              ON p.extract_id = c.extract_id
           WHERE p.id = cf_summaries.patient_id AND c.holder IS NOT NULL))"
    )
}

/// The identifier, checked to name a patient of an imported extract.
fn patient(conn: &Conn, extract_id: &str) -> StoreResult<String> {
    let id = clean_line("patient_id", extract_id, 200, true)?;
    let known = conn
        .prepare_cached("SELECT 1 FROM cf_patients WHERE extract_id = ?1")?
        .query_row([&id], |_| Ok(()))
        .optional()?
        .is_some();
    if !known {
        return Err(StoreError::invalid(
            "patient_id",
            format!("there is no worklist patient {id:?} in the imported extracts"),
        ));
    }
    Ok(id)
}

/// The refusal when `claim` is held by someone other than `actor`.
fn held_by_another(claim: &WorklistClaim, actor: &str) -> Option<StoreError> {
    match (&claim.holder, claim.claimed_at) {
        (Some(holder), Some(since)) if holder != actor => Some(StoreError::Conflict(Box::new(
            Conflict::Claim(ClaimConflict {
                patient_id: claim.patient_id.clone(),
                holder: holder.clone(),
                claimed_at: since,
            }),
        ))),
        _ => None,
    }
}

fn audit_claim(
    conn: &Conn,
    now: DateTime<Utc>,
    actor: &str,
    id: i64,
    summary: &str,
) -> StoreResult<()> {
    audit::append(
        conn,
        now,
        actor,
        AuditAction::Change,
        AuditEntity::Claim,
        Some(id),
        None,
        summary,
    )?;
    Ok(())
}

impl Store {
    /// The claim on a worklist patient, if there is one.
    pub fn worklist_claim(&self, extract_id: &str) -> StoreResult<Option<WorklistClaim>> {
        Ok(by_patient(&self.conn, extract_id.trim())?.map(|(_, c)| c))
    }

    /// `holder` takes a worklist patient (status to-contact on a first
    /// claim; a released patient keeps theirs). Taking one you already hold
    /// changes nothing; one held by someone else is refused as a conflict.
    pub fn claim_worklist_patient(
        &mut self,
        extract_id: &str,
        holder: &str,
    ) -> StoreResult<WorklistClaim> {
        let holder = clean_actor(holder)?;
        self.write(|tx, now| {
            let pid = patient(tx, extract_id)?;
            let changed: Option<i64> = tx
                .prepare_cached(&format!(
                    "INSERT INTO cf_claims
                       (extract_id, holder, claimed_at, status, changed_at, changed_by)
                     VALUES (?1, ?2, ?3, 'to-contact', ?3, ?2)
                     ON CONFLICT {} DO UPDATE SET
                       holder = excluded.holder, claimed_at = excluded.claimed_at,
                       changed_at = excluded.changed_at, changed_by = excluded.changed_by
                     WHERE cf_claims.holder IS NULL
                     RETURNING id",
                    tx.dialect().practice_key("extract_id")
                ))?
                .query_row(params![pid, holder, ts(now)], |r| r.get(0))
                .optional()?;
            let Some(id) = changed else {
                let Some((_, current)) = by_patient(tx, &pid)? else {
                    return Err(StoreError::BadRecord {
                        what: format!("worklist claim of {pid}"),
                        detail: "neither taken nor found".into(),
                    });
                };
                return match held_by_another(&current, &holder) {
                    Some(e) => Err(e),
                    None => Ok(current),
                };
            };
            audit_claim(
                tx,
                now,
                &holder,
                id,
                &format!("worklist patient {pid} claimed"),
            )?;
            by_id(tx, id)
        })
    }

    /// The holder lets a worklist patient go (its status stays). Refused if
    /// someone else holds them, or nobody does.
    pub fn release_worklist_patient(
        &mut self,
        extract_id: &str,
        actor: &str,
    ) -> StoreResult<WorklistClaim> {
        let actor = clean_actor(actor)?;
        self.write(|tx, now| {
            let pid = clean_line("patient_id", extract_id, 200, true)?;
            let changed: Option<i64> = tx
                .prepare_cached(
                    "UPDATE cf_claims SET holder = NULL, claimed_at = NULL,
                       changed_at = ?2, changed_by = ?3
                     WHERE extract_id = ?1 AND holder = ?3
                     RETURNING id",
                )?
                .query_row(params![pid, ts(now), actor], |r| r.get(0))
                .optional()?;
            let Some(id) = changed else {
                let current = by_patient(tx, &pid)?;
                if let Some(e) = current
                    .as_ref()
                    .and_then(|(_, c)| held_by_another(c, &actor))
                {
                    return Err(e);
                }
                patient(tx, &pid)?;
                return Err(StoreError::invalid(
                    "patient_id",
                    format!("worklist patient {pid:?} is not claimed: there is nothing to release"),
                ));
            };
            audit_claim(
                tx,
                now,
                &actor,
                id,
                &format!("worklist patient {pid} released"),
            )?;
            by_id(tx, id)
        })
    }

    /// Sets where a worklist patient is up to. Anyone may on a patient nobody
    /// holds (it stays unclaimed); on a held one only the holder.
    pub fn set_worklist_status(
        &mut self,
        extract_id: &str,
        status: ClaimStatus,
        actor: &str,
    ) -> StoreResult<WorklistClaim> {
        let actor = clean_actor(actor)?;
        self.write(|tx, now| {
            let pid = patient(tx, extract_id)?;
            let before = by_patient(tx, &pid)?.map(|(_, c)| c.status);
            let changed: Option<i64> = tx
                .prepare_cached(&format!(
                    "INSERT INTO cf_claims
                       (extract_id, holder, claimed_at, status, changed_at, changed_by)
                     VALUES (?1, NULL, NULL, ?2, ?3, ?4)
                     ON CONFLICT {} DO UPDATE SET
                       status = excluded.status, changed_at = excluded.changed_at,
                       changed_by = excluded.changed_by
                     WHERE cf_claims.holder IS NULL OR cf_claims.holder = excluded.changed_by
                     RETURNING id",
                    tx.dialect().practice_key("extract_id")
                ))?
                .query_row(params![pid, status.as_str(), ts(now), actor], |r| r.get(0))
                .optional()?;
            let Some(id) = changed else {
                let current = by_patient(tx, &pid)?;
                return Err(current
                    .and_then(|(_, c)| held_by_another(&c, &actor))
                    .unwrap_or_else(|| StoreError::BadRecord {
                        what: format!("worklist claim of {pid}"),
                        detail: "neither changed nor held by another".into(),
                    }));
            };
            let from = before.map_or("none".to_string(), |s| s.as_str().to_string());
            audit_claim(
                tx,
                now,
                &actor,
                id,
                &format!("worklist patient {pid} status {from} -> {status}"),
            )?;
            by_id(tx, id)
        })
    }
}
