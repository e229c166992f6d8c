//! The audit log: every create, change, print, export, restore and delete,
//! with who, when and which record. Append-only (enforced by triggers).
//! Entries are written inside the transaction of the change they describe.

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, Row};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::{parse_ts, ts, Store, StoreError, StoreResult};

/// What was done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
#[ts(export)]
pub enum AuditAction {
    /// A record was created (a patient, a review's first version, demo data).
    Create,
    /// A record was changed (patient details, settings, a review's new version).
    Change,
    /// A leaflet was printed.
    Print,
    /// Data left the store (a JSON export or a backup copy).
    Export,
    /// The store was replaced from a backup.
    Restore,
    /// A record was deleted.
    Delete,
}

impl AuditAction {
    /// Lower-case name as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::Create => "create",
            AuditAction::Change => "change",
            AuditAction::Print => "print",
            AuditAction::Export => "export",
            AuditAction::Restore => "restore",
            AuditAction::Delete => "delete",
        }
    }

    fn parse(s: &str) -> Option<AuditAction> {
        Some(match s {
            "create" => AuditAction::Create,
            "change" => AuditAction::Change,
            "print" => AuditAction::Print,
            "export" => AuditAction::Export,
            "restore" => AuditAction::Restore,
            "delete" => AuditAction::Delete,
            _ => return None,
        })
    }
}

/// Which kind of record an entry is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
#[ts(export)]
pub enum AuditEntity {
    /// A patient.
    Patient,
    /// A review (consultation); `entity_id` is the review id.
    Review,
    /// A printed leaflet; `entity_id` is the print record id.
    Leaflet,
    /// The settings.
    Settings,
    /// The whole store (export, backup, restore, demo data).
    Store,
}

impl AuditEntity {
    /// Lower-case name as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditEntity::Patient => "patient",
            AuditEntity::Review => "review",
            AuditEntity::Leaflet => "leaflet",
            AuditEntity::Settings => "settings",
            AuditEntity::Store => "store",
        }
    }

    fn parse(s: &str) -> Option<AuditEntity> {
        Some(match s {
            "patient" => AuditEntity::Patient,
            "review" => AuditEntity::Review,
            "leaflet" => AuditEntity::Leaflet,
            "settings" => AuditEntity::Settings,
            "store" => AuditEntity::Store,
            _ => return None,
        })
    }
}

/// One line of the audit log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct AuditEntry {
    /// Sequence number; later entries have larger ids.
    #[ts(type = "number")]
    pub id: i64,
    /// When (UTC, RFC 3339).
    #[ts(as = "String")]
    pub at: DateTime<Utc>,
    /// Who: the reviewer or user name given with the change.
    pub actor: String,
    /// What was done.
    pub action: AuditAction,
    /// To which kind of record.
    pub entity: AuditEntity,
    /// The record's id, where there is one.
    #[ts(type = "number | null")]
    pub entity_id: Option<i64>,
    /// The patient concerned, where there is one (kept after the patient is deleted).
    #[ts(type = "number | null")]
    pub patient_id: Option<i64>,
    /// What happened, in words. Never contains names or NHS numbers.
    pub summary: String,
}

/// Which entries to list (all filters optional; newest first).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, TS)]
#[serde(default, deny_unknown_fields)]
#[ts(export)]
pub struct AuditQuery {
    /// Only entries about this patient.
    #[ts(type = "number | null")]
    pub patient_id: Option<i64>,
    /// Only entries about this kind of record.
    pub entity: Option<AuditEntity>,
    /// Only entries about this record id (use with `entity`).
    #[ts(type = "number | null")]
    pub entity_id: Option<i64>,
    /// Only entries older than this id (for paging backwards).
    #[ts(type = "number | null")]
    pub before_id: Option<i64>,
    /// At most this many (default 200, at most 10,000).
    pub limit: Option<u32>,
}

/// Appends an entry. Called inside the transaction of the change it records.
#[allow(clippy::too_many_arguments)]
pub(crate) fn append(
    conn: &Connection,
    at: DateTime<Utc>,
    actor: &str,
    action: AuditAction,
    entity: AuditEntity,
    entity_id: Option<i64>,
    patient_id: Option<i64>,
    summary: &str,
) -> StoreResult<i64> {
    conn.prepare_cached(
        "INSERT INTO audit_log (at, actor, action, entity, entity_id, patient_id, summary)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        ts(at),
        actor,
        action.as_str(),
        entity.as_str(),
        entity_id,
        patient_id,
        summary
    ])?;
    Ok(conn.last_insert_rowid())
}

pub(crate) const COLUMNS: &str = "id, at, actor, action, entity, entity_id, patient_id, summary";

pub(crate) fn from_row(r: &Row<'_>) -> rusqlite::Result<Result<AuditEntry, StoreError>> {
    let id: i64 = r.get(0)?;
    let at: String = r.get(1)?;
    let action: String = r.get(3)?;
    let entity: String = r.get(4)?;
    let bad = |detail: String| StoreError::BadRecord {
        what: format!("audit entry {id}"),
        detail,
    };
    let (Some(action), Some(entity)) = (AuditAction::parse(&action), AuditEntity::parse(&entity))
    else {
        return Ok(Err(bad(format!(
            "unknown action {action:?} or entity {entity:?}"
        ))));
    };
    let at = match parse_ts(&at, &format!("audit entry {id}")) {
        Ok(t) => t,
        Err(e) => return Ok(Err(e)),
    };
    Ok(Ok(AuditEntry {
        id,
        at,
        actor: r.get(2)?,
        action,
        entity,
        entity_id: r.get(5)?,
        patient_id: r.get(6)?,
        summary: r.get(7)?,
    }))
}

pub(crate) fn collect(
    rows: impl Iterator<Item = rusqlite::Result<Result<AuditEntry, StoreError>>>,
) -> StoreResult<Vec<AuditEntry>> {
    let mut out = Vec::new();
    for r in rows {
        out.push(r??);
    }
    Ok(out)
}

impl Store {
    /// Lists audit entries, newest first.
    pub fn audit_log(&self, query: &AuditQuery) -> StoreResult<Vec<AuditEntry>> {
        let limit = query.limit.unwrap_or(200).clamp(1, 10_000);
        // Fixed SQL with "IS NULL OR" filters: one cached statement for every query shape.
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM audit_log
             WHERE (?1 IS NULL OR patient_id = ?1)
               AND (?2 IS NULL OR entity = ?2)
               AND (?3 IS NULL OR entity_id = ?3)
               AND (?4 IS NULL OR id < ?4)
             ORDER BY id DESC
             LIMIT ?5"
        ))?;
        let rows = stmt.query_map(
            params![
                query.patient_id,
                query.entity.map(AuditEntity::as_str),
                query.entity_id,
                query.before_id,
                limit
            ],
            from_row,
        )?;
        collect(rows)
    }
}
