//! `stepdown check` of what seats leave behind (issue 19): review drafts
//! kept from refused saves, and worklist claims. Counted, and each checked
//! against what it hangs off: a draft's review and versions and the audit
//! entry of its refusal; a claim's status, holder and since-when against
//! the claim entries of the audit log replayed in chain order. The schema's
//! own constraints make these hold for anything Stepdown wrote: a finding
//! means the tables were changed outside it (or a constraint dropped).
//! Reads only; SQL both backends accept. On a server a seat checks the rows
//! it can see.

use std::collections::HashMap;

use super::claims::ClaimStatus;
use super::db::{self, Conn, OptionalExtension};
use super::StoreResult;

/// True when the store has the tables of drafts and claims (SQLite schema
/// version 10; every team store).
fn has_tables(conn: &Conn) -> db::Result<bool> {
    let sql = match conn.backend() {
        super::db::Backend::Sqlite => {
            "SELECT count(*) FROM sqlite_schema WHERE type = 'table'
               AND name IN ('review_drafts', 'cf_claims')"
        }
        super::db::Backend::Postgres => {
            "SELECT count(*) FROM information_schema.tables
             WHERE table_schema = current_schema()
               AND table_name IN ('review_drafts', 'cf_claims')"
        }
    };
    let n: i64 = conn.query_row(sql, (), |r| r.get(0))?;
    Ok(n == 2)
}

/// How many drafts, claims, and claims held there are (none in a store older
/// than the tables).
pub(crate) fn counts(conn: &Conn) -> db::Result<(i64, i64, i64)> {
    if !has_tables(conn)? {
        return Ok((0, 0, 0));
    }
    conn.query_row(
        "SELECT (SELECT count(*) FROM review_drafts), (SELECT count(*) FROM cf_claims),
                (SELECT count(*) FROM cf_claims WHERE holder IS NOT NULL)",
        (),
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )
}

/// What is wrong with the drafts and claims, in words (nothing in a store
/// older than the tables).
pub(crate) fn problems(conn: &Conn) -> StoreResult<Vec<String>> {
    let mut out = Vec::new();
    if !has_tables(conn)? {
        return Ok(out);
    }
    check_drafts(conn, &mut out)?;
    check_claims(conn, &mut out)?;
    Ok(out)
}

fn check_drafts(conn: &Conn, out: &mut Vec<String>) -> StoreResult<()> {
    let mut stmt = conn.prepare(
        "SELECT d.id, d.review_id, d.base_version, d.latest_version, d.input,
                (SELECT max(v.version) FROM review_versions v WHERE v.review_id = d.review_id),
                (SELECT count(*) FROM reviews r WHERE r.id = d.review_id)
         FROM review_drafts d ORDER BY d.id",
    )?;
    type DraftRow = (i64, i64, i64, i64, String, Option<i64>, i64);
    let rows: Vec<DraftRow> = stmt
        .query_map((), |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
            ))
        })?
        .collect::<Result<_, _>>()?;
    let mut refusal = conn.prepare(
        "SELECT 1 FROM audit_log WHERE entity = 'review' AND entity_id = ?1
           AND summary LIKE ?2 LIMIT 1",
    )?;
    for (id, review_id, base, latest, input, newest, review_exists) in rows {
        let p = |what: String| format!("review draft {id}: {what}");
        if review_exists == 0 {
            out.push(p(format!(
                "its review {review_id} does not exist (the entry it keeps is still there; \
                 see `stepdown export`)"
            )));
            continue;
        }
        if !(1 <= base && base < latest) {
            out.push(p(format!(
                "it started from version {base} and met version {latest}, which cannot be"
            )));
        }
        match newest {
            Some(n) if latest > n => out.push(p(format!(
                "it met version {latest} of review {review_id}, which has only {n} version(s)"
            ))),
            None => out.push(p(format!("review {review_id} has no saved version"))),
            _ => {}
        }
        match serde_json::from_str::<crate::record::ReviewInput>(&input) {
            Ok(entry) if entry.review_id != Some(review_id) => out.push(p(format!(
                "the entry it keeps is for review {}, not {review_id}",
                entry
                    .review_id
                    .map_or("none".to_string(), |r| r.to_string())
            ))),
            Ok(_) => {}
            Err(e) => out.push(p(format!("the entry it keeps cannot be read ({e})"))),
        }
        let audited = refusal
            .query_row(
                crate::store::db::params![review_id, format!("%kept as draft {id}")],
                |_| Ok(()),
            )
            .optional()?
            .is_some();
        if !audited {
            out.push(p(
                "the audit log has no entry of the refused save it keeps".to_string()
            ));
        }
    }
    Ok(())
}

/// A claim as the audit log tells it: holder, and status once one was set.
#[derive(Default)]
struct Replayed {
    holder: Option<String>,
    status: Option<String>,
    entries: usize,
}

fn check_claims(conn: &Conn, out: &mut Vec<String>) -> StoreResult<()> {
    let mut stmt = conn
        .prepare("SELECT id, extract_id, holder, claimed_at, status FROM cf_claims ORDER BY id")?;
    type ClaimRow = (i64, String, Option<String>, Option<String>, String);
    let rows: Vec<ClaimRow> = stmt
        .query_map((), |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })?
        .collect::<Result<_, _>>()?;
    // Every claim entry, replayed in chain order (entry id) per claim row.
    let mut replayed: HashMap<i64, Replayed> = HashMap::new();
    let mut entries = conn.prepare(
        "SELECT entity_id, actor, summary FROM audit_log
         WHERE entity = 'worklist-claim' ORDER BY id",
    )?;
    let log: Vec<(Option<i64>, String, String)> = entries
        .query_map((), |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    for (claim_id, actor, summary) in log {
        let Some(claim_id) = claim_id else { continue };
        let r = replayed.entry(claim_id).or_default();
        r.entries += 1;
        if summary.ends_with(" claimed") {
            r.holder = Some(actor);
        } else if summary.ends_with(" released") {
            r.holder = None;
        } else if let Some((_, to)) = summary.rsplit_once(" -> ") {
            r.status = Some(to.to_string());
        }
    }
    for (id, patient, holder, claimed_at, status) in rows {
        let p = |what: String| format!("worklist claim {id} ({patient}): {what}");
        if ClaimStatus::parse(&status).is_none() {
            out.push(p(ClaimStatus::unknown(&status)));
        }
        if holder.is_some() != claimed_at.is_some() {
            out.push(p(
                "a holder without since-when, or since-when without a holder".to_string(),
            ));
        }
        let Some(r) = replayed.get(&id) else {
            out.push(p(
                "the audit log has no entry of it: it was not made by Stepdown".to_string(),
            ));
            continue;
        };
        if r.holder != holder {
            out.push(p(format!(
                "held by {}, but the audit log replayed says {}",
                holder.as_deref().unwrap_or("nobody"),
                r.holder.as_deref().unwrap_or("nobody")
            )));
        }
        if let Some(logged) = &r.status {
            if *logged != status {
                out.push(p(format!(
                    "status {status}, but the audit log replayed says {logged}"
                )));
            }
        } else if status != ClaimStatus::ToContact.as_str() {
            out.push(p(format!(
                "status {status}, but the audit log records no change of status"
            )));
        }
    }
    Ok(())
}
