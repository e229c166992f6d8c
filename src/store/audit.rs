//! The audit log: every create, change, print, export, restore and delete,
//! with who, when and which record. Append-only (enforced by triggers).
//! Entries are written inside the transaction of the change they describe.
//!
//! Tamper evidence (schema version 2): the triggers stop the application and
//! casual edits, but anyone with a SQLite tool can drop them. So each entry
//! also carries `chain_hash`, the SHA-256 of the previous entry's hash and
//! this entry's canonical content ([`chain_hash`]). Changing, deleting,
//! inserting or reordering entries breaks the chain from that point, and
//! [`verify_audit_file`] / [`Store::verify_audit_chain`] name the first broken
//! link. What the chain cannot show on its own: removal of the newest entries
//! (the remaining chain is still consistent) and a complete recomputation by
//! someone who knows the scheme; the verification report gives the head hash
//! so it can be recorded elsewhere (e.g. with each backup) and compared later.

use std::path::Path;

use super::db::{self, params, Conn, OptionalExtension, Row};
use chrono::{DateTime, Utc};
use rusqlite::functions::FunctionFlags;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use ts_rs::TS;

use super::db::Backend;
use super::{file, migrations, migrations_pg, parse_ts, ts, Store, StoreError, StoreResult};
use crate::vocabulary::vocabulary;

vocabulary!(
    /// What was done.
    #[ts(export)]
    AuditAction, "audit action" {
        /// A record was created (a patient, a review's first version, demo data).
        Create => "create",
        /// A record was changed (patient details, settings, a review's new version).
        Change => "change",
        /// A leaflet was printed.
        Print => "print",
        /// Data left the store (a JSON export or a backup copy).
        Export => "export",
        /// The store was replaced from a backup.
        Restore => "restore",
        /// A record was deleted.
        Delete => "delete",
    }
);

vocabulary!(
    /// Which kind of record an entry is about.
    #[ts(export)]
    AuditEntity, "audit entity" {
        /// A patient.
        Patient => "patient",
        /// A review (consultation); `entity_id` is the review id.
        Review => "review",
        /// A printed leaflet; `entity_id` is the print record id.
        Leaflet => "leaflet",
        /// The settings.
        Settings => "settings",
        /// The whole store (export, backup, restore, demo data).
        Store => "store",
        /// A worklist claim or status; `entity_id` is the claim's id.
        Claim => "worklist-claim",
        /// A case-finding extract imported; `entity_id` is the import's id.
        /// (Stores written before this entity existed say `store`.)
        Import => "casefinding-import",
    }
);

/// The name exactly as stored (no case folding: the log is read as written,
/// and a changed letter is a broken entry, not another spelling).
fn stored<T: Copy>(all: &[T], name: impl Fn(T) -> &'static str, s: &str) -> Option<T> {
    all.iter().copied().find(|v| name(*v) == s)
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
    conn: &Conn,
    at: DateTime<Utc>,
    actor: &str,
    action: AuditAction,
    entity: AuditEntity,
    entity_id: Option<i64>,
    patient_id: Option<i64>,
    summary: &str,
) -> StoreResult<i64> {
    if conn.backend() == Backend::Postgres {
        // The server orders the chain: an entry written without id and hash
        // gets both from its trigger, under the head's row lock, so entries
        // from every seat queue and the chain cannot fork (migrations_pg/0001).
        let id = conn
            .prepare_cached(
                "INSERT INTO audit_log (at, actor, action, entity, entity_id, patient_id, summary)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 RETURNING id",
            )?
            .query_row(
                params![
                    ts(at),
                    actor,
                    action.as_str(),
                    entity.as_str(),
                    entity_id,
                    patient_id,
                    summary
                ],
                |r| r.get(0),
            )?;
        return Ok(id);
    }
    // The id is chosen here, not by SQLite, because it is part of the hashed
    // content. Callers hold the write lock (BEGIN IMMEDIATE), so nobody can
    // append between this read and the insert; if one somehow did, the
    // explicit id would collide and the whole change would roll back rather
    // than fork the chain.
    let in_log: Option<(i64, Option<String>)> = conn
        .prepare_cached("SELECT id, chain_hash FROM audit_log ORDER BY id DESC LIMIT 1")?
        .query_row((), |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    // The head (schema 5) is where the chain continues from: if the newest
    // entries were deleted outside Stepdown, the next entry still follows the
    // last one written, so the gap stays visible (ids are never reused).
    let last = match read_head(conn)? {
        Some(h) if h.last_id > in_log.as_ref().map_or(0, |l| l.0) => {
            Some((h.last_id, h.chain_hash))
        }
        _ => in_log,
    };
    let (id, prev) = match last {
        Some((last_id, prev)) => (
            last_id
                .checked_add(1)
                .ok_or_else(|| StoreError::invalid("audit_log.id", "no ids left"))?,
            prev,
        ),
        None => (1, None),
    };
    let at = ts(at);
    let content = ChainContent {
        id,
        at: &at,
        actor,
        action: action.as_str(),
        entity: entity.as_str(),
        entity_id,
        patient_id,
        summary,
    };
    let hash = chain_hash(prev.as_deref(), &content);
    conn.prepare_cached(
        "INSERT INTO audit_log
             (id, at, actor, action, entity, entity_id, patient_id, summary, chain_hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        id,
        at,
        actor,
        action.as_str(),
        entity.as_str(),
        entity_id,
        patient_id,
        summary,
        hash
    ])?;
    Ok(id)
}

/// The hash that stands before the first entry of the chain.
pub const AUDIT_CHAIN_GENESIS: &str =
    "0000000000000000000000000000000000000000000000000000000000000000";

/// Labels the canonical form, so a future change of format cannot be
/// confused with tampering: a new format gets a new label.
const CHAIN_FORMAT: &str = "stepdown-audit-v1";

/// The fields of an entry that its hash covers, exactly as stored (the
/// timestamp as its stored text), so verification needs no parsing and
/// reports a tampered row as tampered, not as unreadable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainContent<'a> {
    /// Entry id (covered so that renumbering or reordering shows).
    pub id: i64,
    /// Timestamp text as stored.
    pub at: &'a str,
    /// Who.
    pub actor: &'a str,
    /// Action name as stored.
    pub action: &'a str,
    /// Entity name as stored.
    pub entity: &'a str,
    /// Record id.
    pub entity_id: Option<i64>,
    /// Patient id.
    pub patient_id: Option<i64>,
    /// Summary text.
    pub summary: &'a str,
}

impl ChainContent<'_> {
    /// The canonical bytes: a JSON array of a format label and the fields in
    /// a fixed order. JSON gives an unambiguous encoding of text (no field
    /// can run into the next) and of missing ids (`null`), with one
    /// serialisation per value.
    pub fn canonical(&self) -> String {
        serde_json::json!([
            CHAIN_FORMAT,
            self.id,
            self.at,
            self.actor,
            self.action,
            self.entity,
            self.entity_id,
            self.patient_id,
            self.summary
        ])
        .to_string()
    }
}

/// SHA-256 (lower-case hex) of the previous entry's hash (or
/// [`AUDIT_CHAIN_GENESIS`] for the first entry), a newline, and the entry's
/// canonical content.
pub fn chain_hash(prev: Option<&str>, content: &ChainContent<'_>) -> String {
    let mut h = Sha256::new();
    h.update(prev.unwrap_or(AUDIT_CHAIN_GENESIS).as_bytes());
    h.update(b"\n");
    h.update(content.canonical().as_bytes());
    hex(&h.finalize())
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// Registers `stepdown_audit_chain_hash(prev, id, at, actor, action, entity,
/// entity_id, patient_id, summary)` on `conn`, so migration 2 can chain the
/// entries that already exist with the very function used for new ones.
pub(crate) fn register_sql_functions(conn: &rusqlite::Connection) -> rusqlite::Result<()> {
    conn.create_scalar_function(
        "stepdown_audit_chain_hash",
        9,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            let prev: Option<String> = ctx.get(0)?;
            let at: String = ctx.get(2)?;
            let actor: String = ctx.get(3)?;
            let action: String = ctx.get(4)?;
            let entity: String = ctx.get(5)?;
            let summary: String = ctx.get(8)?;
            let content = ChainContent {
                id: ctx.get(1)?,
                at: &at,
                actor: &actor,
                action: &action,
                entity: &entity,
                entity_id: ctx.get(6)?,
                patient_id: ctx.get(7)?,
                summary: &summary,
            };
            Ok(chain_hash(prev.as_deref(), &content))
        },
    )
}

/// The head of the chain as recorded apart from the log (schema 5): how many
/// entries there are, the newest id and its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct AuditHead {
    /// Entries written.
    #[ts(type = "number")]
    pub entries: i64,
    /// Id of the newest entry (0 when none).
    #[ts(type = "number")]
    pub last_id: i64,
    /// Its chain hash (absent when none).
    pub chain_hash: Option<String>,
}

/// The recorded head, or `None` before schema 5 (no table) or when its row is gone.
pub(crate) fn read_head(conn: &Conn) -> StoreResult<Option<AuditHead>> {
    // PostgreSQL's schema has had the head from its first version.
    let has_table: bool = match conn.sqlite() {
        Some(c) => c
            .prepare_cached(
                "SELECT count(*) > 0 FROM sqlite_schema WHERE type = 'table' AND name = 'audit_head'",
            )?
            .query_row([], |r| r.get(0))?,
        None => true,
    };
    if !has_table {
        return Ok(None);
    }
    Ok(conn
        .prepare_cached("SELECT entries, last_id, chain_hash FROM audit_head WHERE id = 1")?
        .query_row((), |r| {
            Ok(AuditHead {
                entries: r.get(0)?,
                last_id: r.get(1)?,
                chain_hash: r.get(2)?,
            })
        })
        .optional()?)
}

/// Where the log and its recorded head disagree: the newest entries deleted,
/// the log emptied, or the head itself removed. `log` is the log's own count,
/// newest id and hash. Empty when they agree.
pub(crate) fn head_problems(
    conn: &Conn,
    log_entries: u64,
    log_last: Option<(i64, Option<String>)>,
) -> StoreResult<Vec<String>> {
    let version = super::schema_version_of(conn)?;
    let mut problems = Vec::new();
    let head = read_head(conn)?;
    let (last_id, last_hash) = log_last.unwrap_or((0, None));
    match head {
        None if version >= 5 => problems.push(
            "the audit log's head record (its entry count and newest hash) has been \
             removed outside Stepdown, so deletions of the newest entries cannot be ruled out"
                .to_string(),
        ),
        None => {}
        Some(h) => {
            let entries = i64::try_from(log_entries).unwrap_or(i64::MAX);
            if entries == 0 && h.entries > 0 {
                problems.push(format!(
                    "the audit log has been emptied: {} entries (up to entry {}) were \
                     written, none remain",
                    h.entries, h.last_id
                ));
            } else if h.last_id > last_id {
                problems.push(format!(
                    "the newest audit entries have been deleted: entries were written up \
                     to entry {}, the log ends at entry {last_id}",
                    h.last_id
                ));
            } else if h.entries != entries || h.last_id != last_id || h.chain_hash != last_hash {
                problems.push(format!(
                    "the audit log does not match its head record: {} entries up to entry \
                     {} were written, the log holds {entries} up to entry {last_id}",
                    h.entries, h.last_id
                ));
            }
        }
    }
    // Without a head (older schema, or removed too) an emptied log still
    // shows beside the records it should describe.
    if log_entries == 0 && problems.is_empty() {
        let records: i64 = conn.query_row(
            "SELECT (SELECT count(*) FROM patients) + (SELECT count(*) FROM review_versions)",
            (),
            |r| r.get(0),
        )?;
        if records > 0 {
            problems.push(format!(
                "the audit log is empty although the store holds {records} patient and \
                 review record(s): it has been emptied"
            ));
        }
    }
    Ok(problems)
}

/// What is wrong at the first broken link of the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum ChainProblem {
    /// One or more entries before this one are gone (the ids jump and the
    /// hash no longer follows on).
    Missing,
    /// The entry's hash does not match its content and the hash before it:
    /// this entry was altered, or the one before it was altered, replaced or
    /// moved here from elsewhere.
    Mismatch,
    /// The entry has no hash at all (written by something other than Stepdown).
    Unchained,
}

/// The first entry at which the chain fails.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct BrokenLink {
    /// The entry's id.
    #[ts(type = "number")]
    pub id: i64,
    /// What kind of break.
    pub problem: ChainProblem,
    /// What differs, in words.
    pub detail: String,
    /// The hash stored in the entry (absent if none).
    pub stored_hash: Option<String>,
    /// The hash recomputed from the entry's content and the previous hash.
    pub computed_hash: String,
}

/// Result of checking the whole audit chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct AuditVerifyReport {
    /// True when every entry links to the one before.
    pub ok: bool,
    /// How many entries the log holds.
    #[ts(type = "number")]
    pub entries: u64,
    /// How many entries, oldest first, were found intact (all of them when
    /// `ok`; those before the first broken link otherwise).
    #[ts(type = "number")]
    pub verified: u64,
    /// Id of the newest entry (absent for an empty log).
    #[ts(type = "number | null")]
    pub head_id: Option<i64>,
    /// Hash of the newest entry: record it elsewhere to detect later removal
    /// of the newest entries, which the chain alone cannot show.
    pub head_hash: Option<String>,
    /// The first broken link, when there is one.
    pub first_broken: Option<BrokenLink>,
    /// Other findings that make the log untrustworthy, in words: the newest
    /// entries deleted or the log emptied (against the recorded head), and
    /// safeguards (triggers, tables) missing or changed.
    pub problems: Vec<String>,
    /// The head recorded apart from the log (schema 5), for comparison with
    /// backups and exports.
    pub recorded_head: Option<AuditHead>,
}

impl AuditVerifyReport {
    /// One or two lines for a terminal.
    pub fn to_text(&self) -> String {
        let mut text = self.chain_text();
        for p in &self.problems {
            text.push_str(&format!("\nPROBLEM: {p}"));
        }
        text
    }

    fn chain_text(&self) -> String {
        match &self.first_broken {
            None => format!(
                "OK: audit chain intact ({} entries; newest {} hash {})",
                self.entries,
                self.head_id
                    .map_or_else(|| "none".to_string(), |i| i.to_string()),
                self.head_hash.as_deref().unwrap_or("none"),
            ),
            Some(b) => format!(
                "BROKEN: audit chain fails at entry {} ({} of {} entries intact before it): \
                 {}\n  stored hash:     {}\n  recomputed hash: {}",
                b.id,
                self.verified,
                self.entries,
                b.detail,
                b.stored_hash.as_deref().unwrap_or("(none)"),
                b.computed_hash
            ),
        }
    }
}

/// Walks the log oldest first and stops at the first entry whose stored hash
/// is not the hash of the stored hash before it plus its own content; then
/// compares the log with its recorded head and the schema with the
/// migrations.
pub(crate) fn verify_chain(conn: &Conn) -> StoreResult<AuditVerifyReport> {
    if conn.backend() == Backend::Postgres {
        return verify_chain_on_server(conn);
    }
    let mut report = walk_chain(conn)?;
    let last: Option<(i64, Option<String>)> = conn
        .query_row(
            "SELECT id, chain_hash FROM audit_log ORDER BY id DESC LIMIT 1",
            (),
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    report.problems = head_problems(conn, report.entries, last)?;
    let version = super::schema_version_of(conn)?;
    report.problems.extend(
        super::schema_problems(conn, version)?
            .into_iter()
            .filter(|p| p.contains("audit")),
    );
    report.recorded_head = read_head(conn)?;
    report.ok = report.first_broken.is_none() && report.problems.is_empty();
    Ok(report)
}

/// The chain of a team store: the server walks every entry
/// (`stepdown_audit_verify`, whatever rows this seat may see). A seat that
/// can read the whole log (an admin) also walks it here, which names the
/// broken link and checks that the server's hash and Rust's agree.
fn verify_chain_on_server(conn: &Conn) -> StoreResult<AuditVerifyReport> {
    let server = migrations_pg::server_verify(conn)?;
    let entries = u64::try_from(server.entries).unwrap_or(0);
    let mut report = if migrations_pg::sees_whole_log(conn, server.entries)? {
        let mut walked = walk_chain(conn)?;
        let rust = walked.first_broken.as_ref().map(|b| b.id);
        if rust != server.first_broken_id {
            walked.problems.push(format!(
                "the server's chain check and Stepdown's disagree (first broken entry {} on \
                 the server, {} here): the server's hash function may have been replaced",
                server
                    .first_broken_id
                    .map_or("none".into(), |i| i.to_string()),
                rust.map_or("none".into(), |i| i.to_string()),
            ));
        }
        walked
    } else {
        AuditVerifyReport {
            ok: server.first_broken_id.is_none(),
            entries,
            verified: match server.first_broken_id {
                // Ids run 1, 2, 3… on the server: the entries before it.
                Some(id) => u64::try_from(id - 1).unwrap_or(0).min(entries),
                None => entries,
            },
            head_id: (entries > 0).then_some(server.last_id),
            head_hash: server.last_hash.clone(),
            first_broken: server.first_broken_id.map(|id| BrokenLink {
                id,
                problem: ChainProblem::Mismatch,
                detail: "the server's check finds that this entry's hash does not follow the \
                         entry before it: it, or an entry before it, was altered, removed or \
                         inserted outside Stepdown (an admin's `stepdown audit verify` names \
                         what changed)"
                    .to_string(),
                stored_hash: None,
                computed_hash: String::new(),
            }),
            problems: Vec::new(),
            recorded_head: None,
        }
    };
    let last = (server.entries > 0).then(|| (server.last_id, server.last_hash.clone()));
    report.problems.extend(head_problems(conn, entries, last)?);
    let version = super::schema_version_of(conn)?;
    report.problems.extend(
        super::schema_problems(conn, version)?
            .into_iter()
            .filter(|p| p.contains("audit")),
    );
    report.recorded_head = read_head(conn)?;
    report.ok = report.first_broken.is_none() && report.problems.is_empty();
    Ok(report)
}

fn walk_chain(conn: &Conn) -> StoreResult<AuditVerifyReport> {
    // PostgreSQL's schema has had the chain from its first version.
    let has_column: bool = match conn.sqlite() {
        Some(c) => c.query_row(
            "SELECT count(*) > 0 FROM pragma_table_info('audit_log') WHERE name = 'chain_hash'",
            [],
            |r| r.get(0),
        )?,
        None => true,
    };
    if !has_column {
        return Err(StoreError::invalid(
            "db",
            "this database predates the audit chain (schema version 1); open it once with \
             this version of Stepdown to add it",
        ));
    }
    let mut stmt = conn.prepare(
        "SELECT id, at, actor, action, entity, entity_id, patient_id, summary, chain_hash
         FROM audit_log ORDER BY id",
    )?;
    let total: i64 = conn.query_row("SELECT count(*) FROM audit_log", (), |r| r.get(0))?;
    let total = u64::try_from(total).unwrap_or(0);
    let mut rows = stmt.query(())?;
    let mut entries = 0u64;
    let mut prev_id = 0i64;
    let mut prev_hash: Option<String> = None;
    while let Some(r) = rows.next()? {
        let id: i64 = r.get(0)?;
        let at: String = r.get(1)?;
        let actor: String = r.get(2)?;
        let action: String = r.get(3)?;
        let entity: String = r.get(4)?;
        let summary: String = r.get(7)?;
        let stored: Option<String> = r.get(8)?;
        let content = ChainContent {
            id,
            at: &at,
            actor: &actor,
            action: &action,
            entity: &entity,
            entity_id: r.get(5)?,
            patient_id: r.get(6)?,
            summary: &summary,
        };
        let computed = chain_hash(prev_hash.as_deref(), &content);
        let broken = match &stored {
            None => Some((
                ChainProblem::Unchained,
                "the entry has no chain hash: it was written outside Stepdown".to_string(),
            )),
            Some(s) if *s == computed => None,
            // Ids are handed out one after another and entries cannot be
            // deleted through Stepdown, so a jump means entries were removed.
            Some(_) if id != prev_id + 1 => Some((
                ChainProblem::Missing,
                if id == prev_id + 2 {
                    format!("entry {} is missing (deleted)", prev_id + 1)
                } else {
                    format!(
                        "entries {} to {} are missing (deleted)",
                        prev_id + 1,
                        id - 1
                    )
                },
            )),
            Some(_) => Some((
                ChainProblem::Mismatch,
                if prev_id == 0 {
                    "the hash does not match the entry's content: the entry (time, actor, \
                     action, record or summary) was altered"
                        .to_string()
                } else {
                    // Entry prev_id checked out against its own predecessor,
                    // so the likely change is here; a rewritten-and-rehashed
                    // predecessor would look the same.
                    format!(
                        "the entry's content (time, actor, action, record or summary) no \
                         longer matches its hash: it was altered after it was written, or \
                         entry {prev_id} before it was replaced or moved here"
                    )
                },
            )),
        };
        if let Some((problem, detail)) = broken {
            return Ok(AuditVerifyReport {
                ok: false,
                entries: total,
                verified: entries,
                head_id: None,
                head_hash: None,
                first_broken: Some(BrokenLink {
                    id,
                    problem,
                    detail,
                    stored_hash: stored,
                    computed_hash: computed,
                }),
                problems: Vec::new(),
                recorded_head: None,
            });
        }
        entries += 1;
        prev_id = id;
        prev_hash = stored;
    }
    Ok(AuditVerifyReport {
        ok: true,
        entries,
        verified: entries,
        head_id: (entries > 0).then_some(prev_id),
        head_hash: prev_hash,
        first_broken: None,
        problems: Vec::new(),
        recorded_head: None,
    })
}

/// One audit entry as `stepdown audit list` prints it: the entry and its
/// chain hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditListEntry {
    /// The entry.
    #[serde(flatten)]
    pub entry: AuditEntry,
    /// Its link in the tamper-evidence chain.
    pub chain_hash: Option<String>,
}

/// Opens the database at `path` read-only (never changing it, and refusing
/// a file that is not a Stepdown store), for the audit commands.
fn inspect(path: &Path) -> StoreResult<Conn> {
    if let Some(conn) = super::connect_server_read(path)? {
        return Ok(conn);
    }
    match file::probe(path, false, migrations::LATEST_VERSION, true)? {
        file::FileState::Stepdown { ro, .. } => Ok(Conn::Sqlite(ro)),
        // probe only reports New when asked to create.
        file::FileState::New | file::FileState::Empty => Err(StoreError::invalid(
            "db",
            format!("{}: an empty database with no audit log", path.display()),
        )),
    }
}

/// Checks the audit chain of the store at `path` through a read-only
/// connection. A broken chain is a report (`ok: false`), not an error;
/// errors are for files that cannot be examined.
pub fn verify_audit_file(path: &Path) -> StoreResult<AuditVerifyReport> {
    verify_chain(&inspect(path)?)
}

/// The newest `limit` audit entries (newest first) of the store at `path`,
/// with their chain hashes, through a read-only connection. A row that can no
/// longer be read (tampered into an unknown action, say) is an error naming it.
pub fn list_audit_file(path: &Path, limit: u32) -> StoreResult<Vec<AuditListEntry>> {
    let conn = inspect(path)?;
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS}, chain_hash FROM audit_log ORDER BY id DESC LIMIT ?1"
    ))?;
    let rows = stmt.query_map([limit], |r| {
        let hash: Option<String> = r.get(8)?;
        Ok(from_row(r)?.map(|entry| AuditListEntry {
            entry,
            chain_hash: hash,
        }))
    })?;
    let mut out = Vec::new();
    for r in rows {
        out.push(r??);
    }
    Ok(out)
}

pub(crate) const COLUMNS: &str = "id, at, actor, action, entity, entity_id, patient_id, summary";

pub(crate) fn from_row(r: &Row<'_>) -> db::Result<Result<AuditEntry, StoreError>> {
    let id: i64 = r.get(0)?;
    let at: String = r.get(1)?;
    let action: String = r.get(3)?;
    let entity: String = r.get(4)?;
    let bad = |detail: String| StoreError::BadRecord {
        what: format!("audit entry {id}"),
        detail,
    };
    let (Some(action), Some(entity)) = (
        stored(&AuditAction::ALL, AuditAction::as_str, &action),
        stored(&AuditEntity::ALL, AuditEntity::as_str, &entity),
    ) else {
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
    rows: impl Iterator<Item = db::Result<Result<AuditEntry, StoreError>>>,
) -> StoreResult<Vec<AuditEntry>> {
    let mut out = Vec::new();
    for r in rows {
        out.push(r??);
    }
    Ok(out)
}

impl Store {
    /// Checks the tamper-evidence chain of the whole audit log.
    pub fn verify_audit_chain(&self) -> StoreResult<AuditVerifyReport> {
        verify_chain(&self.conn)
    }

    /// Lists audit entries, newest first.
    pub fn audit_log(&self, query: &AuditQuery) -> StoreResult<Vec<AuditEntry>> {
        let limit = query.limit.unwrap_or(200).clamp(1, 10_000);
        // Fixed SQL with "IS NULL OR" filters: one cached statement for every
        // query shape (the casts give PostgreSQL each parameter's type).
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM audit_log
             WHERE (CAST(?1 AS BIGINT) IS NULL OR patient_id = ?1)
               AND (CAST(?2 AS TEXT) IS NULL OR entity = ?2)
               AND (CAST(?3 AS BIGINT) IS NULL OR entity_id = ?3)
               AND (CAST(?4 AS BIGINT) IS NULL OR id < ?4)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::migrations::MIGRATIONS;

    fn t(i: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_795_000_000 + i, 0).unwrap()
    }

    /// A database at schema version 1 (before the chain) with `n` entries,
    /// inserted the way version 1 of Stepdown did.
    fn v1_with_entries(n: i64) -> rusqlite::Connection {
        let mut conn = rusqlite::Connection::open_in_memory().unwrap();
        migrations::migrate(&mut conn, &MIGRATIONS[..1]).unwrap();
        for i in 0..n {
            conn.execute(
                "INSERT INTO audit_log (at, actor, action, entity, entity_id, patient_id, summary)
                 VALUES (?1, 'Dr A', 'create', 'patient', ?2, ?2, ?3)",
                rusqlite::params![ts(t(i)), i + 1, format!("patient {i} \"quoted\"\nnew line")],
            )
            .unwrap();
        }
        conn
    }

    fn append_one(conn: &Conn, i: i64) -> i64 {
        append(
            conn,
            t(i),
            "Dr B",
            AuditAction::Change,
            AuditEntity::Review,
            Some(i),
            None,
            "saved version 2",
        )
        .unwrap()
    }

    #[test]
    fn migration_2_chains_existing_entries_with_the_same_function_as_new_ones() {
        let mut conn = v1_with_entries(50);
        migrations::migrate(&mut conn, MIGRATIONS).unwrap();
        let conn = Conn::Sqlite(conn);
        let report = verify_chain(&conn).unwrap();
        assert!(report.ok, "{report:?}");
        assert_eq!(report.entries, 50);
        assert_eq!(report.head_id, Some(50));

        // Recompute the first two links by hand from the canonical form.
        let first = ChainContent {
            id: 1,
            at: &ts(t(0)),
            actor: "Dr A",
            action: "create",
            entity: "patient",
            entity_id: Some(1),
            patient_id: Some(1),
            summary: "patient 0 \"quoted\"\nnew line",
        };
        let mut h = Sha256::new();
        h.update(format!("{AUDIT_CHAIN_GENESIS}\n{}", first.canonical()).as_bytes());
        let expected = hex(&h.finalize());
        let stored: String = conn
            .query_row("SELECT chain_hash FROM audit_log WHERE id = 1", (), |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(stored, expected);

        // New entries continue the migrated chain.
        assert_eq!(append_one(&conn, 100), 51);
        let report = verify_chain(&conn).unwrap();
        assert!(report.ok, "{report:?}");
        assert_eq!(report.entries, 51);
    }

    #[test]
    fn migration_2_on_an_empty_log_and_the_first_entry_starts_from_genesis() {
        let mut conn = v1_with_entries(0);
        migrations::migrate(&mut conn, MIGRATIONS).unwrap();
        let conn = Conn::Sqlite(conn);
        let empty = verify_chain(&conn).unwrap();
        assert!(empty.ok);
        assert_eq!(
            (empty.entries, empty.head_id, empty.head_hash),
            (0, None, None)
        );
        assert_eq!(append_one(&conn, 1), 1);
        assert_eq!(append_one(&conn, 2), 2);
        let report = verify_chain(&conn).unwrap();
        assert!(report.ok && report.entries == 2, "{report:?}");
    }

    #[test]
    fn the_canonical_form_cannot_run_fields_together() {
        let a = ChainContent {
            id: 1,
            at: "x",
            actor: "ab",
            action: "c",
            entity: "e",
            entity_id: None,
            patient_id: Some(3),
            summary: "",
        };
        let b = ChainContent {
            actor: "a",
            action: "bc",
            ..a
        };
        assert_ne!(a.canonical(), b.canonical());
        assert_ne!(chain_hash(None, &a), chain_hash(None, &b));
        let c = ChainContent {
            entity_id: Some(3),
            patient_id: None,
            ..a
        };
        assert_ne!(chain_hash(None, &a), chain_hash(None, &c));
        // The previous hash is part of the input.
        assert_ne!(
            chain_hash(None, &a),
            chain_hash(Some(&chain_hash(None, &a)), &a)
        );
        assert_eq!(chain_hash(None, &a).len(), 64);
    }

    #[test]
    fn entries_without_a_hash_are_refused_after_migration_2() {
        let mut conn = v1_with_entries(1);
        migrations::migrate(&mut conn, MIGRATIONS).unwrap();
        let conn = Conn::Sqlite(conn);
        let e = conn
            .execute(
                "INSERT INTO audit_log (at, actor, action, entity, summary)
                 VALUES ('2026-01-01T00:00:00.000Z', 'x', 'create', 'store', 'y')",
                (),
            )
            .unwrap_err();
        assert!(e.to_string().contains("chain hash"), "{e}");
        let e = conn
            .execute("UPDATE audit_log SET summary = 'x'", ())
            .unwrap_err();
        assert!(e.to_string().contains("append-only"), "{e}");
    }

    #[test]
    fn verify_refuses_a_version_1_database_with_a_clear_message() {
        let conn = Conn::Sqlite(v1_with_entries(1));
        let e = verify_chain(&conn).unwrap_err().to_string();
        assert!(e.contains("predates the audit chain"), "{e}");
    }
}
