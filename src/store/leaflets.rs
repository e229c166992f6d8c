//! Printed leaflets: when, by whom, from which review version, and the
//! SHA-256 of the PDF, so a leaflet a patient brings back can be matched to
//! the exact record it came from.

use super::db::{self, params, OptionalExtension, Row};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use ts_rs::TS;

use super::audit::{self, AuditAction, AuditEntity};
use super::{clean_actor, parse_ts, ts, Store, StoreError, StoreResult};
use crate::leaflet::LeafletDetails;

/// A record of one printed (or saved) leaflet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct LeafletPrint {
    /// Record id.
    #[ts(type = "number")]
    pub id: i64,
    /// The review it was printed from.
    #[ts(type = "number")]
    pub review_id: i64,
    /// The review version it was printed from.
    #[ts(type = "number")]
    pub version: i64,
    /// When.
    #[ts(as = "String")]
    pub printed_at: DateTime<Utc>,
    /// By whom.
    pub printed_by: String,
    /// SHA-256 of the PDF bytes, lower-case hex.
    pub pdf_sha256: String,
    /// Size of the PDF.
    #[ts(type = "number")]
    pub pdf_size_bytes: i64,
}

/// SHA-256 of `bytes` as 64 lower-case hex digits.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut out = String::with_capacity(64);
    for b in digest.iter() {
        out.push(char::from_digit(u32::from(b >> 4), 16).unwrap_or('0'));
        out.push(char::from_digit(u32::from(b & 0x0f), 16).unwrap_or('0'));
    }
    out
}

const SELECT: &str = "
    SELECT lp.id, v.review_id, v.version, lp.printed_at, lp.printed_by, lp.pdf_sha256,
           lp.pdf_size_bytes, lp.render_options
    FROM leaflet_prints lp JOIN review_versions v ON v.id = lp.review_version_id";

fn from_row(r: &Row<'_>) -> db::Result<StoreResult<LeafletPrint>> {
    let id: i64 = r.get(0)?;
    let at: String = r.get(3)?;
    let printed_at = match parse_ts(&at, &format!("leaflet print {id}")) {
        Ok(t) => t,
        Err(e) => return Ok(Err(e)),
    };
    Ok(Ok(LeafletPrint {
        id,
        review_id: r.get(1)?,
        version: r.get(2)?,
        printed_at,
        printed_by: r.get(4)?,
        pdf_sha256: r.get(5)?,
        pdf_size_bytes: r.get(6)?,
    }))
}

fn collect(
    rows: impl Iterator<Item = db::Result<StoreResult<LeafletPrint>>>,
) -> StoreResult<Vec<LeafletPrint>> {
    let mut out = Vec::new();
    for r in rows {
        out.push(r??);
    }
    Ok(out)
}

pub(crate) fn for_review(conn: &super::db::Conn, review_id: i64) -> StoreResult<Vec<LeafletPrint>> {
    let mut stmt =
        conn.prepare_cached(&format!("{SELECT} WHERE v.review_id = ?1 ORDER BY lp.id"))?;
    let out = collect(stmt.query_map([review_id], from_row)?)?;
    Ok(out)
}

impl Store {
    /// Records that the leaflet for `review_id` version `version` was
    /// printed by `printed_by`, with the hash of the PDF produced and the
    /// details it was rendered with (so it can be rendered again and compared).
    pub fn record_leaflet_print(
        &mut self,
        review_id: i64,
        version: i64,
        printed_by: &str,
        pdf: &[u8],
        rendered_with: &LeafletDetails,
    ) -> StoreResult<LeafletPrint> {
        let options = serde_json::to_string(rendered_with)
            .map_err(|e| StoreError::invalid("render_options", e.to_string()))?;
        let printed_by = clean_actor(printed_by).map_err(|e| match e {
            StoreError::Invalid { message, .. } => StoreError::invalid("printed_by", message),
            other => other,
        })?;
        let hash = sha256_hex(pdf);
        let size =
            i64::try_from(pdf.len()).map_err(|_| StoreError::invalid("pdf", "is too large"))?;
        self.write(|tx, now| {
            let target: Option<(i64, i64)> = tx
                .prepare_cached(
                    "SELECT v.id, r.patient_id FROM review_versions v
                     JOIN reviews r ON r.id = v.review_id
                     WHERE v.review_id = ?1 AND v.version = ?2",
                )?
                .query_row(params![review_id, version], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            let Some((version_id, patient_id)) = target else {
                return Err(StoreError::NotFound {
                    entity: format!("review {review_id} version"),
                    id: version,
                });
            };
            let id: i64 = tx
                .prepare_cached(
                    "INSERT INTO leaflet_prints
                   (review_version_id, printed_at, printed_by, pdf_sha256, pdf_size_bytes,
                    render_options)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 RETURNING id",
                )?
                .query_row(
                    params![version_id, ts(now), printed_by, hash, size, options],
                    |r| r.get(0),
                )?;
            audit::append(
                tx,
                now,
                &printed_by,
                AuditAction::Print,
                AuditEntity::Leaflet,
                Some(id),
                Some(patient_id),
                &format!(
                    "leaflet printed from review {review_id} version {version} (sha256 {})",
                    &hash[..16]
                ),
            )?;
            tx.prepare_cached(&format!("{SELECT} WHERE lp.id = ?1"))?
                .query_row([id], from_row)?
        })
    }

    /// Records in the audit log that the clinician summary of `review_id`
    /// version `version` left the store (copied to the clipboard for the GP
    /// record), with the hash of the text exactly as copied.
    pub fn record_summary_copy(
        &mut self,
        review_id: i64,
        version: i64,
        actor: &str,
        text: &str,
    ) -> StoreResult<()> {
        let actor = clean_actor(actor)?;
        let hash = sha256_hex(text.as_bytes());
        self.write(|tx, now| {
            let patient_id: Option<i64> = tx
                .prepare_cached(
                    "SELECT r.patient_id FROM review_versions v
                     JOIN reviews r ON r.id = v.review_id
                     WHERE v.review_id = ?1 AND v.version = ?2",
                )?
                .query_row(params![review_id, version], |r| r.get(0))
                .optional()?;
            let Some(patient_id) = patient_id else {
                return Err(StoreError::NotFound {
                    entity: format!("review {review_id} version"),
                    id: version,
                });
            };
            audit::append(
                tx,
                now,
                &actor,
                AuditAction::Export,
                AuditEntity::Review,
                Some(review_id),
                Some(patient_id),
                &format!(
                    "clinician summary of review {review_id} version {version} copied (sha256 {})",
                    &hash[..16]
                ),
            )?;
            Ok(())
        })
    }

    /// One print record, with the details the leaflet was rendered with
    /// (`None` for prints recorded before they were kept).
    pub fn leaflet_print(&self, id: i64) -> StoreResult<(LeafletPrint, Option<LeafletDetails>)> {
        let row: Option<(StoreResult<LeafletPrint>, Option<String>)> = self
            .conn
            .prepare_cached(&format!("{SELECT} WHERE lp.id = ?1"))?
            .query_row([id], |r| Ok((from_row(r)?, r.get(7)?)))
            .optional()?;
        let Some((print, options)) = row else {
            return Err(StoreError::NotFound {
                entity: "leaflet print".into(),
                id,
            });
        };
        let details = options
            .map(|text| {
                serde_json::from_str(&text).map_err(|e| StoreError::BadRecord {
                    what: format!("leaflet print {id}"),
                    detail: format!("render options ({e})"),
                })
            })
            .transpose()?;
        Ok((print?, details))
    }

    /// Leaflets printed from any version of a review, oldest first.
    pub fn leaflet_prints(&self, review_id: i64) -> StoreResult<Vec<LeafletPrint>> {
        for_review(&self.conn, review_id)
    }

    /// Print records whose PDF has this SHA-256 (hex, any case): which review
    /// a leaflet came from.
    pub fn find_leaflet_by_hash(&self, sha256: &str) -> StoreResult<Vec<LeafletPrint>> {
        let h = sha256.trim().to_ascii_lowercase();
        if h.len() != 64 || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(StoreError::invalid(
                "sha256",
                "must be 64 hexadecimal digits",
            ));
        }
        let mut stmt = self
            .conn
            .prepare_cached(&format!("{SELECT} WHERE lp.pdf_sha256 = ?1 ORDER BY lp.id"))?;
        let out = collect(stmt.query_map([h], from_row)?)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_matches_known_vectors() {
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
