//! `stepdown check`: SQLite's integrity and foreign-key checks, the schema
//! version and record counts, as one report. Reads only.

use std::path::Path;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::db::Conn;
use super::file::{self, integrity_check, open_error};
use super::migrations::LATEST_VERSION;
use super::{Store, StoreError, StoreResult, APPLICATION_ID};

/// How many records of each kind the store holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Counts {
    /// Patients.
    #[ts(type = "number")]
    pub patients: i64,
    /// Reviews (consultations).
    #[ts(type = "number")]
    pub reviews: i64,
    /// Saved review versions (at least one per review).
    #[ts(type = "number")]
    pub review_versions: i64,
    /// Leaflet print records.
    #[ts(type = "number")]
    pub leaflet_prints: i64,
    /// Audit log entries.
    #[ts(type = "number")]
    pub audit_entries: i64,
    /// Review drafts kept from refused saves (0 in a store older than them).
    #[serde(default)]
    #[ts(type = "number")]
    pub review_drafts: i64,
    /// Worklist claims (rows: held, or released with their status kept).
    #[serde(default)]
    #[ts(type = "number")]
    pub worklist_claims: i64,
    /// Worklist claims held by someone now.
    #[serde(default)]
    #[ts(type = "number")]
    pub worklist_claims_held: i64,
}

impl Counts {
    pub(crate) fn read(conn: &Conn) -> super::db::Result<Counts> {
        let counts = conn.query_row(
            "SELECT (SELECT count(*) FROM patients), (SELECT count(*) FROM reviews),
                    (SELECT count(*) FROM review_versions), (SELECT count(*) FROM leaflet_prints),
                    (SELECT count(*) FROM audit_log)",
            (),
            |r| {
                Ok(Counts {
                    patients: r.get(0)?,
                    reviews: r.get(1)?,
                    review_versions: r.get(2)?,
                    leaflet_prints: r.get(3)?,
                    audit_entries: r.get(4)?,
                    ..Counts::default()
                })
            },
        )?;
        let (drafts, claims, held) = super::check_seats::counts(conn)?;
        Ok(Counts {
            review_drafts: drafts,
            worklist_claims: claims,
            worklist_claims_held: held,
            ..counts
        })
    }
}

/// The result of checking a database file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct CheckReport {
    /// The file checked.
    pub path: String,
    /// True when no problem was found.
    pub ok: bool,
    /// Every problem found, in words (empty when `ok`).
    pub problems: Vec<String>,
    /// Schema version of the file.
    #[ts(type = "number")]
    pub schema_version: i64,
    /// Latest schema version this build knows; an older file is migrated when opened for writing.
    #[ts(type = "number")]
    pub latest_schema_version: i64,
    /// `PRAGMA integrity_check` findings, or `["ok"]`.
    pub integrity: Vec<String>,
    /// `PRAGMA foreign_key_check` findings (empty when sound).
    pub foreign_key_violations: Vec<String>,
    /// Record counts (absent when the tables could not be read).
    pub counts: Option<Counts>,
    /// SQLite library version.
    pub sqlite_version: String,
    /// Journal mode (`wal` for a store in use, `delete` for a backup copy).
    pub journal_mode: String,
    /// Page size in bytes.
    #[ts(type = "number")]
    pub page_size: i64,
    /// Pages in the database.
    #[ts(type = "number")]
    pub page_count: i64,
    /// Unused pages (reclaimable).
    #[ts(type = "number")]
    pub freelist_count: i64,
    /// Size of the main file in bytes (the `-wal` file not included).
    #[ts(type = "number")]
    pub file_size_bytes: u64,
}

impl CheckReport {
    /// The report as plain text for a terminal.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let line = |out: &mut String, s: String| {
            out.push_str(&s);
            out.push('\n');
        };
        line(&mut out, format!("Stepdown database check: {}", self.path));
        line(
            &mut out,
            format!("Result: {}", if self.ok { "OK" } else { "PROBLEMS FOUND" }),
        );
        line(
            &mut out,
            format!(
                "Schema version: {} (this Stepdown: {})",
                self.schema_version, self.latest_schema_version
            ),
        );
        line(
            &mut out,
            format!(
                "SQLite {}: journal mode {}, {} pages of {} bytes ({} free), file {} bytes",
                self.sqlite_version,
                self.journal_mode,
                self.page_count,
                self.page_size,
                self.freelist_count,
                self.file_size_bytes
            ),
        );
        line(
            &mut out,
            format!("Integrity check: {}", self.integrity.join("; ")),
        );
        line(
            &mut out,
            format!(
                "Foreign keys: {}",
                if self.foreign_key_violations.is_empty() {
                    "ok".to_string()
                } else {
                    format!("{} violation(s)", self.foreign_key_violations.len())
                }
            ),
        );
        match &self.counts {
            Some(c) => line(
                &mut out,
                format!(
                    "Records: {} patient(s), {} review(s) ({} saved version(s)), \
                     {} leaflet print(s), {} audit entries, {} review draft(s), \
                     {} worklist claim(s) ({} held)",
                    c.patients,
                    c.reviews,
                    c.review_versions,
                    c.leaflet_prints,
                    c.audit_entries,
                    c.review_drafts,
                    c.worklist_claims,
                    c.worklist_claims_held
                ),
            ),
            None => line(&mut out, "Records: could not be counted".into()),
        }
        if !self.problems.is_empty() {
            line(&mut out, "Problems:".into());
            for p in &self.problems {
                line(&mut out, format!("  - {p}"));
            }
        }
        out
    }
}

/// Checks the database file at `path` through a read-only connection, never
/// changing it. Fails only when the file cannot be examined at all (missing,
/// unreadable, not SQLite, not Stepdown); damage SQLite can describe is
/// reported in the [`CheckReport`].
pub fn check_file(path: &Path) -> StoreResult<CheckReport> {
    // A team store: its server checked as it is (nothing migrated or changed).
    if let Some(conn) = super::connect_server_read(path)? {
        return Ok(server_report(&conn, path));
    }
    // Header-level problems (not SQLite, truncated, not Stepdown) come back
    // as errors here; damage inside the file is described by the full check below.
    file::probe(path, false, i64::MAX, false)?;
    let conn = file::open_inspect(path)?;
    let app_id: i32 = conn
        .pragma_query_value(None, "application_id", |r| r.get(0))
        .map_err(|e| open_error(path, e))?;
    if app_id != APPLICATION_ID {
        let objects: i64 = conn
            .query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))
            .map_err(|e| open_error(path, e))?;
        if app_id != 0 || objects > 0 {
            return Err(StoreError::Foreign {
                path: path.to_path_buf(),
            });
        }
    }
    Ok(report(&Conn::Sqlite(conn), path))
}

fn report(db: &Conn, path: &Path) -> CheckReport {
    let Some(conn) = db.sqlite() else {
        return server_report(db, path);
    };
    let mut problems = Vec::new();
    let pragma_i64 = |name: &str, problems: &mut Vec<String>| -> i64 {
        conn.pragma_query_value(None, name, |r| r.get(0))
            .unwrap_or_else(|e| {
                problems.push(format!("cannot read {name}: {e}"));
                0
            })
    };
    let schema_version = pragma_i64("user_version", &mut problems);
    let page_size = pragma_i64("page_size", &mut problems);
    let page_count = pragma_i64("page_count", &mut problems);
    let freelist_count = pragma_i64("freelist_count", &mut problems);
    let journal_mode = journal_mode_of(path);
    if schema_version == 0 {
        problems.push("the database is empty: no Stepdown schema yet".into());
    } else if schema_version > LATEST_VERSION {
        problems.push(format!(
            "schema version {schema_version} is newer than this Stepdown understands \
             ({LATEST_VERSION}); update Stepdown"
        ));
    }
    let integrity = match integrity_check(conn, 100) {
        Ok(lines) if lines.is_empty() => vec!["ok".to_string()],
        Ok(lines) => {
            problems.push(format!(
                "SQLite's integrity check found {} problem(s)",
                lines.len()
            ));
            lines
        }
        Err(e) => {
            problems.push(format!("SQLite's integrity check could not run: {e}"));
            vec![e.to_string()]
        }
    };
    let foreign_key_violations = match foreign_key_check(conn) {
        Ok(v) => {
            if !v.is_empty() {
                problems.push(format!("{} foreign-key violation(s)", v.len()));
            }
            v
        }
        Err(e) => {
            problems.push(format!("the foreign-key check could not run: {e}"));
            Vec::new()
        }
    };
    let counts = if (1..=LATEST_VERSION).contains(&schema_version) {
        match Counts::read(db) {
            Ok(c) => Some(c),
            Err(e) => {
                problems.push(format!("cannot count records: {e}"));
                None
            }
        }
    } else {
        None
    };
    if (1..=LATEST_VERSION).contains(&schema_version) {
        seat_problems(db, &mut problems);
    }
    // From schema version 2 the audit log is hash-chained: a broken chain
    // means someone edited the file outside Stepdown, which also puts the
    // clinical records in it in doubt, so it fails the check (and a restore
    // from such a backup) rather than being a footnote.
    // The schema must be the one the migrations made: a dropped table or
    // trigger (the append-only ones guard the audit log) is reported here,
    // not found later as a raw SQL error or an emptied log.
    match super::migrations::schema_differences(conn, schema_version) {
        Ok(differences) => problems.extend(differences),
        Err(e) => problems.push(format!("the schema could not be compared: {e}")),
    }
    if (2..=LATEST_VERSION).contains(&schema_version) {
        match super::audit::verify_chain(db) {
            Ok(r) => {
                if let Some(b) = r.first_broken {
                    problems.push(format!(
                        "the audit log has been tampered with: its hash chain breaks at \
                         entry {} ({}); see `stepdown audit verify`",
                        b.id, b.detail
                    ));
                }
                // Schema findings are already listed above.
                for p in r.problems {
                    if !problems.contains(&p) {
                        problems.push(format!("{p}; see `stepdown audit verify`"));
                    }
                }
            }
            Err(e) => problems.push(format!("the audit log chain could not be checked: {e}")),
        }
    }
    CheckReport {
        path: path.display().to_string(),
        ok: problems.is_empty(),
        problems,
        schema_version,
        latest_schema_version: LATEST_VERSION,
        integrity,
        foreign_key_violations,
        counts,
        sqlite_version: rusqlite::version().to_string(),
        journal_mode,
        page_size,
        page_count,
        freelist_count,
        file_size_bytes: std::fs::metadata(path).map(|m| m.len()).unwrap_or(0),
    }
}

/// `stepdown check` of a team store on PostgreSQL: the schema version, the
/// server's schema check (`stepdown_schema_problems`: safeguard triggers,
/// row-level security and its policies), the audit chain as the server
/// verifies it (`stepdown_audit_verify`), and the counts this seat can see.
/// Integrity of the pages and foreign keys are the server's own business:
/// the SQLite-only fields stay empty.
fn server_report(db: &Conn, path: &Path) -> CheckReport {
    use super::migrations_pg::PG_LATEST_VERSION;
    let mut problems = Vec::new();
    let schema_version = super::schema_version_of(db).unwrap_or_else(|e| {
        problems.push(format!("cannot read the schema version: {e}"));
        0
    });
    if schema_version > PG_LATEST_VERSION {
        problems.push(format!(
            "schema version {schema_version} is newer than this Stepdown understands \
             ({PG_LATEST_VERSION}); update Stepdown"
        ));
    }
    match super::schema_problems(db, schema_version) {
        Ok(found) => problems.extend(found),
        Err(e) => problems.push(format!("the server's schema check could not run: {e}")),
    }
    let counts = match Counts::read(db) {
        Ok(c) => Some(c),
        Err(e) => {
            problems.push(format!("cannot count records: {e}"));
            None
        }
    };
    seat_problems(db, &mut problems);
    match super::audit::verify_chain(db) {
        Ok(r) => {
            if let Some(b) = r.first_broken {
                problems.push(format!(
                    "the audit log has been tampered with: its hash chain breaks at entry {} \
                     ({}); see `stepdown audit verify`",
                    b.id, b.detail
                ));
            }
            for p in r.problems {
                if !problems.contains(&p) {
                    problems.push(format!("{p}; see `stepdown audit verify`"));
                }
            }
        }
        Err(e) => problems.push(format!("the audit log chain could not be checked: {e}")),
    }
    CheckReport {
        path: path.display().to_string(),
        ok: problems.is_empty(),
        problems,
        schema_version,
        latest_schema_version: PG_LATEST_VERSION,
        integrity: vec!["not applicable: a PostgreSQL server checks its own pages".into()],
        foreign_key_violations: Vec::new(),
        counts,
        sqlite_version: String::new(),
        journal_mode: "postgresql".into(),
        page_size: 0,
        page_count: 0,
        freelist_count: 0,
        file_size_bytes: 0,
    }
}

/// Review drafts and worklist claims checked against what they hang off.
fn seat_problems(db: &Conn, problems: &mut Vec<String>) {
    match super::check_seats::problems(db) {
        Ok(found) => problems.extend(found),
        Err(e) => problems.push(format!(
            "review drafts and worklist claims could not be checked: {e}"
        )),
    }
}

/// The file's journal mode from its header (byte 18: 2 means WAL): asking
/// an `immutable` inspection connection would always say "delete".
fn journal_mode_of(path: &Path) -> String {
    use std::io::Read;
    let mut header = [0u8; 20];
    let read = std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut header));
    match (read, header[18]) {
        (Ok(()), 2) => "wal".into(),
        (Ok(()), 1) => "delete".into(),
        _ => "unknown".into(),
    }
}

fn foreign_key_check(conn: &rusqlite::Connection) -> Result<Vec<String>, rusqlite::Error> {
    let mut stmt =
        conn.prepare("SELECT \"table\", rowid, parent, fkid FROM pragma_foreign_key_check")?;
    let rows = stmt.query_map([], |r| {
        let table: String = r.get(0)?;
        let rowid: Option<i64> = r.get(1)?;
        let parent: String = r.get(2)?;
        Ok(format!(
            "{table} row {} refers to a missing {parent} row",
            rowid.map_or("?".to_string(), |id| id.to_string())
        ))
    })?;
    rows.collect()
}

impl Store {
    /// Checks the open database (integrity, foreign keys, counts).
    pub fn check(&self) -> CheckReport {
        report(&self.conn, &self.path)
    }

    /// Record counts.
    pub fn counts(&self) -> StoreResult<Counts> {
        Ok(Counts::read(&self.conn)?)
    }

    /// True when nothing has been saved in the store: no audit entry, no
    /// patient and no import (not even one under way). Every saved change is
    /// audited, so a store another process has written to is never empty.
    pub fn holds_nothing(&self) -> StoreResult<bool> {
        Ok(self.conn.query_row(
            "SELECT NOT EXISTS (SELECT 1 FROM audit_log)
                AND NOT EXISTS (SELECT 1 FROM patients)
                AND NOT EXISTS (SELECT 1 FROM cf_imports)",
            (),
            |r| r.get(0),
        )?)
    }
}
