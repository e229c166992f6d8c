//! Worklist claims (issue 19, migration 10): a pharmacist holds a
//! case-finding patient so that two people do not call the same one, and
//! moves them on (to contact, booked, reviewed).
//!
//! A claim is keyed by the practice and the extract's patient identifier
//! (migration 12; on a server, migration 3): two practices' extracts can
//! share an identifier, and a seat that sees both (an admin) names the
//! practice, else is told which practices hold it. A single-seat file's rows
//! have no practice (NULL), which counts as one. Only its holder may
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
    /// The practice whose extract the patient is in (ODS code), on a team
    /// store; absent in a single-seat store, which holds one practice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub practice_code: Option<String>,
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

const SELECT: &str = "SELECT id, extract_id, holder, claimed_at, status, changed_at, changed_by,
     practice_code FROM cf_claims";

/// The key of a claim: `practice_code` (NULL as one practice) and
/// `extract_id`, as parameters ?1 (practice) and ?2 (identifier).
const KEY: &str = "practice_code IS NOT DISTINCT FROM ?1 AND extract_id = ?2";

/// Which worklist patient: the practice (as stored; `None` in a single-seat
/// store) and the extract's identifier.
type Key = (Option<String>, String);

fn from_row(r: &Row<'_>) -> db::Result<StoreResult<(i64, WorklistClaim)>> {
    let id: i64 = r.get(0)?;
    let claimed_at: Option<String> = r.get(3)?;
    let status: String = r.get(4)?;
    let changed_at: String = r.get(5)?;
    let what = format!("worklist claim {id}");
    let claim = (|| {
        Ok(WorklistClaim {
            practice_code: r.get(7)?,
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

fn by_key(conn: &Conn, key: &Key) -> StoreResult<Option<(i64, WorklistClaim)>> {
    conn.prepare_cached(&format!("{SELECT} WHERE {KEY}"))?
        .query_row(params![key.0, key.1], from_row)
        .optional()?
        .transpose()
}

fn by_id(conn: &Conn, id: i64) -> StoreResult<WorklistClaim> {
    let (_, c) = conn
        .prepare_cached(&format!("{SELECT} WHERE id = ?1"))?
        .query_row([id], from_row)??;
    Ok(c)
}

/// The claims of these worklist patients, by (practice, identifier), for a
/// worklist page.
pub(crate) fn for_patients(
    conn: &Conn,
    keys: &[(Option<&str>, &str)],
) -> StoreResult<HashMap<Key, WorklistClaim>> {
    let mut stmt = conn.prepare_cached(&format!("{SELECT} WHERE {KEY}"))?;
    let mut out = HashMap::new();
    for (practice, id) in keys {
        if let Some(row) = stmt.query_row(params![practice, id], from_row).optional()? {
            let (_, c) = row?;
            out.insert((c.practice_code.clone(), c.patient_id.clone()), c);
        }
    }
    Ok(out)
}

/// The worklist filter on claims, as SQL on `cf_summaries` rows: only
/// patients held by `?{holder}` (when not null), only patients nobody holds
/// (when `?{unclaimed}` is 1). A claim belongs to the extract patient of its
/// practice and identifier.
pub(crate) fn filter_sql(holder: usize, unclaimed: usize) -> String {
    let same =
        "p.extract_id = c.extract_id AND p.practice_code IS NOT DISTINCT FROM c.practice_code";
    format!(
        "(CAST(?{holder} AS TEXT) IS NULL OR EXISTS (SELECT 1 FROM cf_claims c JOIN cf_patients p
              ON {same}
           WHERE p.id = cf_summaries.patient_id AND c.holder = ?{holder}))
         AND (?{unclaimed} = 0 OR NOT EXISTS (SELECT 1 FROM cf_claims c JOIN cf_patients p
              ON {same}
           WHERE p.id = cf_summaries.patient_id AND c.holder IS NOT NULL))"
    )
}

/// A practice as given (an ODS code: letters and digits), upper-cased.
pub(crate) fn clean_practice(field: &str, code: &str) -> StoreResult<String> {
    let code = code.trim().to_ascii_uppercase();
    if !(3..=10).contains(&code.len()) || !code.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(StoreError::invalid(
            field,
            format!(
                "{code:?} is not a practice's ODS code (3 to 10 letters and digits, e.g. A81001)"
            ),
        ));
    }
    Ok(code)
}

/// Which worklist patient `extract_id` (with `practice`, when given) names,
/// among the extract patients this seat can see (and, with `claims`, the
/// claims, which outlive a patient leaving the list). Refused by field when
/// there is none, or when several practices hold the identifier and no
/// practice was given.
fn resolve(
    conn: &Conn,
    extract_id: &str,
    practice: Option<&str>,
    claims: bool,
) -> StoreResult<Key> {
    let id = clean_line("patient_id", extract_id, 200, true)?;
    let practice = practice
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| clean_practice("practice", p))
        .transpose()?;
    let claim_rows = if claims {
        " UNION SELECT practice_code FROM cf_claims
           WHERE extract_id = ?1 AND (CAST(?2 AS TEXT) IS NULL OR practice_code = ?2)"
    } else {
        ""
    };
    let mut found: Vec<Option<String>> = conn
        .prepare_cached(&format!(
            "SELECT practice_code FROM cf_patients
             WHERE extract_id = ?1 AND (CAST(?2 AS TEXT) IS NULL OR practice_code = ?2){claim_rows}"
        ))?
        .query_map(params![id, practice], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    found.sort();
    found.dedup();
    match found.len() {
        0 => Err(StoreError::invalid(
            "patient_id",
            match &practice {
                Some(p) => format!(
                    "there is no worklist patient {id:?} in the imported extracts of practice {p}"
                ),
                None => format!("there is no worklist patient {id:?} in the imported extracts"),
            },
        )),
        1 => Ok((found.pop().flatten(), id)),
        _ => {
            let codes: Vec<String> = found
                .into_iter()
                .map(|c| c.unwrap_or_else(|| "(none)".into()))
                .collect();
            Err(StoreError::invalid(
                "practice",
                format!(
                    "worklist patient {id:?} is in the extracts of several practices ({}): \
                     say which practice",
                    codes.join(", ")
                ),
            ))
        }
    }
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
    /// The claim on a worklist patient, if there is one. `practice` is
    /// needed only when this seat sees claims of several practices on the
    /// same identifier (an admin); without it that is refused, naming them.
    pub fn worklist_claim(
        &self,
        extract_id: &str,
        practice: Option<&str>,
    ) -> StoreResult<Option<WorklistClaim>> {
        let key = match resolve(&self.conn, extract_id, practice, true) {
            Ok(key) => key,
            // Nothing claimed and no such patient: simply no claim.
            Err(StoreError::Invalid { field, .. }) if field == "patient_id" => return Ok(None),
            Err(e) => return Err(e),
        };
        Ok(by_key(&self.conn, &key)?.map(|(_, c)| c))
    }

    /// `holder` takes a worklist patient (status to-contact on a first
    /// claim; a released patient keeps theirs). Taking one you already hold
    /// changes nothing; one held by someone else is refused as a conflict.
    /// `practice` as for [`Store::worklist_claim`].
    pub fn claim_worklist_patient(
        &mut self,
        extract_id: &str,
        practice: Option<&str>,
        holder: &str,
    ) -> StoreResult<WorklistClaim> {
        let holder = clean_actor(holder)?;
        self.write(|tx, now| {
            let key = resolve(tx, extract_id, practice, false)?;
            let changed: Option<i64> = tx
                .prepare_cached(&format!(
                    "INSERT INTO cf_claims
                       (practice_code, extract_id, holder, claimed_at, status, changed_at,
                        changed_by)
                     VALUES (?1, ?2, ?3, ?4, 'to-contact', ?4, ?3)
                     ON CONFLICT {} DO UPDATE SET
                       holder = excluded.holder, claimed_at = excluded.claimed_at,
                       changed_at = excluded.changed_at, changed_by = excluded.changed_by
                     WHERE cf_claims.holder IS NULL
                     RETURNING id",
                    tx.dialect().claim_key()
                ))?
                .query_row(params![key.0, key.1, holder, ts(now)], |r| r.get(0))
                .optional()?;
            let pid = &key.1;
            let Some(id) = changed else {
                let Some((_, current)) = by_key(tx, &key)? else {
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
    /// someone else holds them, or nobody does. `practice` as for
    /// [`Store::worklist_claim`].
    pub fn release_worklist_patient(
        &mut self,
        extract_id: &str,
        practice: Option<&str>,
        actor: &str,
    ) -> StoreResult<WorklistClaim> {
        let actor = clean_actor(actor)?;
        self.write(|tx, now| {
            let key = resolve(tx, extract_id, practice, true)?;
            let pid = &key.1;
            let changed: Option<i64> = tx
                .prepare_cached(&format!(
                    "UPDATE cf_claims SET holder = NULL, claimed_at = NULL,
                       changed_at = ?3, changed_by = ?4
                     WHERE {KEY} AND holder = ?4
                     RETURNING id"
                ))?
                .query_row(params![key.0, key.1, ts(now), actor], |r| r.get(0))
                .optional()?;
            let Some(id) = changed else {
                let current = by_key(tx, &key)?;
                if let Some(e) = current
                    .as_ref()
                    .and_then(|(_, c)| held_by_another(c, &actor))
                {
                    return Err(e);
                }
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
    /// holds (it stays unclaimed); on a held one only the holder. `practice`
    /// as for [`Store::worklist_claim`].
    pub fn set_worklist_status(
        &mut self,
        extract_id: &str,
        practice: Option<&str>,
        status: ClaimStatus,
        actor: &str,
    ) -> StoreResult<WorklistClaim> {
        let actor = clean_actor(actor)?;
        self.write(|tx, now| {
            let key = resolve(tx, extract_id, practice, false)?;
            let pid = &key.1;
            let before = by_key(tx, &key)?.map(|(_, c)| c.status);
            let changed: Option<i64> = tx
                .prepare_cached(&format!(
                    "INSERT INTO cf_claims
                       (practice_code, extract_id, holder, claimed_at, status, changed_at,
                        changed_by)
                     VALUES (?1, ?2, NULL, NULL, ?3, ?4, ?5)
                     ON CONFLICT {} DO UPDATE SET
                       status = excluded.status, changed_at = excluded.changed_at,
                       changed_by = excluded.changed_by
                     WHERE cf_claims.holder IS NULL OR cf_claims.holder = excluded.changed_by
                     RETURNING id",
                    tx.dialect().claim_key()
                ))?
                .query_row(
                    params![key.0, key.1, status.as_str(), ts(now), actor],
                    |r| r.get(0),
                )
                .optional()?;
            let Some(id) = changed else {
                let current = by_key(tx, &key)?;
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
