//! Moving a practice's single-seat SQLite store to a team store on a
//! PostgreSQL server (`stepdown migrate-store`, issue 19): every record with
//! its id, and the audit log with its hash chain, copied in one transaction
//! on the server and verified there before it commits. Nothing is printed
//! here; the CLI maps the report and the errors.

use std::path::Path;

use serde::Serialize;

use super::db::{self, Conn, Value};
use super::settings::PracticeFields;
use super::{check_file, migrations, migrations_pg, OpenOptions, Store, StoreError, StoreResult};

/// Tables copied, parents before children (the server's foreign keys and
/// its practice triggers look the parent up). `audit_log` comes last so an
/// entry's patient exists when the server derives the entry's practice.
pub(super) const TABLES: &[&str] = &[
    "patients",
    "reviews",
    "review_versions",
    "leaflet_prints",
    "follow_ups",
    "review_drafts",
    "cf_texts",
    "cf_imports",
    "cf_patients",
    "cf_issues",
    "cf_summaries",
    "cf_state",
    "cf_claims",
    "settings",
    "audit_log",
];

/// Columns the server fills itself and the source has no value for.
pub(super) const SERVER_ONLY_COLUMNS: &[&str] = &["practice_code", "db_role"];

/// Rows copied into one table.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct TableCopied {
    /// The table.
    pub table: String,
    /// Rows in the source, and so on the server after the copy.
    pub rows: i64,
}

/// The audit chain's head after the copy: the source's, verified by the server.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct MigratedHead {
    /// Entries in the chain.
    pub entries: i64,
    /// The newest entry's id.
    pub last_id: i64,
    /// The newest entry's hash (absent for an empty log).
    pub chain_hash: Option<String>,
}

/// What `migrate-store` did.
#[derive(Debug, Clone, Serialize)]
pub struct MigrateReport {
    /// The SQLite store copied (not changed).
    pub from: String,
    /// The server (never with a password).
    pub to: String,
    /// The practice the records now belong to.
    pub practice: String,
    /// Whether the practice was added to the server's `practices` (named,
    /// with its leaflet details, from the file's settings).
    pub practice_created: bool,
    /// Rows per table, equal on both sides.
    pub tables: Vec<TableCopied>,
    /// The audit head on the server, equal to the source's.
    pub audit_head: MigratedHead,
    /// True: the server's chain check passed after the copy.
    pub verified: bool,
    /// Into a team store whose audit log had begun (another practice's
    /// records): how the records were renumbered and the history appended.
    /// Absent when the store was new (every id kept).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub merged: Option<super::migrate_merge::Merged>,
}

pub(super) fn refuse(field: &str, message: impl Into<String>) -> StoreError {
    StoreError::invalid(field, message)
}

/// Parameters in one statement at most (PostgreSQL takes up to 65,535).
const MAX_PARAMS: usize = 30_000;
/// Rows in one statement at most. One statement a row took 107 s for a store
/// of 224,000 rows (a 200,000-row extract imported) on a local socket.
const MAX_ROWS: usize = 500;

/// Rows of one table sent to the server many to a statement, in the
/// source's order (the audit chain's trigger sees them in id order). Each
/// statement runs inside a savepoint, so a refused row can still be found
/// and named: the statement is undone and its rows sent one at a time.
pub(super) struct Batch {
    table: &'static str,
    cols: Vec<String>,
    per_statement: usize,
    rows: Vec<(String, Vec<Value>)>,
}

impl Batch {
    pub(super) fn new(table: &'static str, cols: Vec<String>) -> Batch {
        let per_statement = (MAX_PARAMS / cols.len().max(1)).clamp(1, MAX_ROWS);
        Batch {
            table,
            cols,
            per_statement,
            rows: Vec::with_capacity(per_statement),
        }
    }

    pub(super) fn push(&mut self, tx: &Conn, key: String, values: Vec<Value>) -> StoreResult<()> {
        self.rows.push((key, values));
        if self.rows.len() >= self.per_statement {
            self.flush(tx)?;
        }
        Ok(())
    }

    fn insert_sql(&self, rows: usize) -> String {
        let width = self.cols.len();
        let tuples = (0..rows)
            .map(|r| {
                let params = (1..=width)
                    .map(|c| format!("?{}", r * width + c))
                    .collect::<Vec<_>>()
                    .join(", ");
                format!("({params})")
            })
            .collect::<Vec<_>>()
            .join(", ");
        let cols = self
            .cols
            .iter()
            .map(|c| quote(c))
            .collect::<Vec<_>>()
            .join(", ");
        format!("INSERT INTO {} ({cols}) VALUES {tuples}", quote(self.table))
    }

    pub(super) fn flush(&mut self, tx: &Conn) -> StoreResult<()> {
        if self.rows.is_empty() {
            return Ok(());
        }
        let rows = std::mem::take(&mut self.rows);
        tx.execute_batch("SAVEPOINT migrate_batch")?;
        let values: Vec<Value> = rows.iter().flat_map(|(_, v)| v.iter().cloned()).collect();
        if tx.execute(&self.insert_sql(rows.len()), values).is_ok() {
            tx.execute_batch("RELEASE SAVEPOINT migrate_batch")?;
            return Ok(());
        }
        // Which row: the statement undone, its rows again one at a time.
        tx.execute_batch("ROLLBACK TO SAVEPOINT migrate_batch")?;
        let one = self.insert_sql(1);
        for (key, values) in rows {
            tx.execute(&one, values).map_err(|e| {
                let e = StoreError::from(e);
                StoreError::Database(format!(
                    "copying {} {key} to the server failed, so nothing was copied (the \
                     server's transaction was rolled back): {e}",
                    self.table
                ))
            })?;
        }
        // Each row went in alone: the statement, not a row, was refused.
        tx.execute_batch("RELEASE SAVEPOINT migrate_batch")?;
        Ok(())
    }
}

/// Copies the store at `from` into the team store at `to` for `practice`.
/// Refuses (changing nothing anywhere) a source that is not a sound Stepdown
/// store at the latest schema version, a source row of another practice,
/// and a server that holds records of the practice already. Into a new store
/// every id and the audit chain are kept as they are; into one whose audit
/// log has begun (other practices moved or working there), the records are
/// renumbered and the history appended to the server's chain (migrate_merge.rs).
pub fn migrate_store(from: &Path, to: &str, practice: &str) -> StoreResult<MigrateReport> {
    if from.to_str().is_some_and(db::is_pg_url) {
        return Err(refuse(
            "from",
            "the source must be a SQLite store file, not a server address",
        ));
    }
    if !db::is_pg_url(to) {
        return Err(refuse(
            "to",
            "the target must be a team store address (postgres://…)",
        ));
    }
    let practice = practice.trim();
    if !(3..=10).contains(&practice.len())
        || !practice
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
    {
        return Err(refuse(
            "practice",
            format!(
                "`{}` is not an ODS code (3 to 10 upper-case letters and digits)",
                crate::limits::sanitize(practice)
            ),
        ));
    }
    let source = open_source(from)?;
    let target = db::PgTarget::parse(to)?;
    // Opening migrates the server's schema to this build's (the owner's job).
    drop(Store::open_server(&target, OpenOptions::default())?);
    let mut conn = migrations_pg::connect(&target, super::DEFAULT_BUSY_TIMEOUT)?;
    let server = target.display();

    let (report, merged) = {
        let tx = conn.transaction_immediate()?;
        // The head locked first: no seat appends while the copy runs.
        let (entries, last_id) = tx.query_row(
            "SELECT entries, last_id FROM audit_head WHERE id = 1 FOR UPDATE",
            (),
            |r| Ok((r.get::<i64>(0)?, r.get::<i64>(1)?)),
        )?;
        let done = if entries == 0 && last_id == 0 {
            // A new store: every id kept, the source's chain is the store's.
            (copy_all(&source, &tx, practice)?, None)
        } else {
            // Another practice's history has begun the chain: renumbered
            // and appended (migrate_merge.rs).
            let (copied, merged) = super::migrate_merge::merge_all(&source, &tx, practice, from)?;
            (copied, Some(merged))
        };
        tx.commit()?;
        done
    };
    Ok(MigrateReport {
        from: from.display().to_string(),
        to: server,
        practice: practice.to_string(),
        practice_created: report.0,
        tables: report.1,
        audit_head: report.2,
        verified: true,
        merged,
    })
}

/// The source checked (sound, latest schema) and opened read-only.
fn open_source(from: &Path) -> StoreResult<rusqlite::Connection> {
    let check = check_file(from)?;
    if check.schema_version != migrations::LATEST_VERSION {
        return Err(refuse(
            "from",
            format!(
                "{}: schema version {}, not this Stepdown's latest ({}): open it once with this \
                 Stepdown first (for example `stepdown check --db FILE` then `stepdown export \
                 --db FILE`), then migrate it",
                from.display(),
                check.schema_version,
                migrations::LATEST_VERSION
            ),
        ));
    }
    if !check.ok {
        return Err(refuse(
            "from",
            format!(
                "{}: `stepdown check` found problems, so it is not migrated: {}",
                from.display(),
                check.problems.join("; ")
            ),
        ));
    }
    let conn = rusqlite::Connection::open_with_flags(
        from,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    // One snapshot for every table read below.
    conn.execute_batch("BEGIN")?;
    Ok(conn)
}

fn source_columns(src: &rusqlite::Connection, table: &str) -> StoreResult<Vec<String>> {
    let mut stmt = src.prepare("SELECT name FROM pragma_table_info(?1) ORDER BY cid")?;
    let cols = stmt
        .query_map([table], |r| r.get::<_, String>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    if cols.is_empty() {
        return Err(StoreError::MissingStructure(format!(
            "the source has no table {table}"
        )));
    }
    Ok(cols)
}

pub(super) fn target_columns(tx: &Conn, table: &str) -> StoreResult<Vec<(String, bool)>> {
    let mut stmt = tx.prepare(
        "SELECT column_name::text, CASE WHEN is_identity = 'YES' THEN 1 ELSE 0 END \
         FROM information_schema.columns \
         WHERE table_schema::text = current_schema() AND table_name::text = ?1 \
         ORDER BY ordinal_position",
    )?;
    let mut rows = stmt.query(vec![Value::Text(table.to_string())])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push((r.get::<String>(0)?, r.get::<i64>(1)? == 1));
    }
    if out.is_empty() {
        return Err(StoreError::MissingStructure(format!(
            "the server has no table {table}"
        )));
    }
    Ok(out)
}

pub(super) fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

pub(super) fn count(tx: &Conn, sql: &str, params: Vec<Value>) -> StoreResult<i64> {
    Ok(tx.query_row(sql, params, |r| r.get::<i64>(0))?)
}

/// Rows of `table` the server holds for `practice`.
pub(super) fn practice_rows(tx: &Conn, table: &str, practice: &str) -> StoreResult<i64> {
    count(
        tx,
        &format!(
            "SELECT count(*) FROM {} WHERE practice_code = ?1",
            quote(table)
        ),
        vec![Value::Text(practice.to_string())],
    )
}

/// Refused: the server holds rows of `practice` in `table` already (a
/// practice's records are moved once, never merged with its own).
pub(super) fn refuse_held_rows(tx: &Conn, table: &str, practice: &str) -> StoreResult<()> {
    let held = practice_rows(tx, table, practice)?;
    if held > 0 {
        return Err(refuse(
            "practice",
            format!(
                "the team store already holds {held} {table} rows of practice {practice}: \
                 nothing was copied (a practice's records are moved once, into a store \
                 that holds none of them)"
            ),
        ));
    }
    Ok(())
}

/// One table of the source as both moves read it: the columns copied (the
/// source's less those the server fills itself), then the row's practice
/// where the source records one.
pub(super) struct SourceTable {
    table: &'static str,
    /// The columns copied, in the source's order.
    pub(super) cols: Vec<String>,
    /// The server's columns, each with whether it is an identity.
    pub(super) target: Vec<(String, bool)>,
    has_practice: bool,
    key_idx: Option<usize>,
}

impl SourceTable {
    /// Refused where the server lacks a column of the source's: its values
    /// would be lost.
    pub(super) fn open(
        src: &rusqlite::Connection,
        tx: &Conn,
        table: &'static str,
    ) -> StoreResult<SourceTable> {
        let src_cols = source_columns(src, table)?;
        let target = target_columns(tx, table)?;
        for c in &src_cols {
            if !target.iter().any(|(t, _)| t == c) {
                return Err(StoreError::MissingStructure(format!(
                    "the server's {table} has no column {c}: the source's values would be lost"
                )));
            }
        }
        let has_practice = src_cols.iter().any(|c| c == "practice_code");
        let cols: Vec<String> = src_cols
            .into_iter()
            .filter(|c| !SERVER_ONLY_COLUMNS.contains(&c.as_str()))
            .collect();
        let key_idx = cols.iter().position(|c| c == "id");
        Ok(SourceTable {
            table,
            cols,
            target,
            has_practice,
            key_idx,
        })
    }

    /// Whether the server keeps the table's rows by practice.
    pub(super) fn kept_by_practice(&self) -> bool {
        self.target.iter().any(|(c, _)| c == "practice_code")
    }

    /// The source's rows: the copied columns, then the practice. Ids in
    /// order (the audit chain must be appended in order); some case-finding
    /// tables are WITHOUT ROWID and have no id.
    pub(super) fn select(&self) -> String {
        format!(
            "SELECT {}{} FROM {}{}",
            self.cols
                .iter()
                .map(|c| quote(c))
                .collect::<Vec<_>>()
                .join(", "),
            if self.has_practice {
                ", practice_code"
            } else {
                ""
            },
            quote(self.table),
            if self.key_idx.is_some() {
                " ORDER BY id"
            } else {
                ""
            }
        )
    }

    /// One row of `select()` (the `ordinal`th): its copied values, and the
    /// key that names it in errors (its id, else its place). Refused: a row
    /// of another practice.
    pub(super) fn row(
        &self,
        row: &rusqlite::Row<'_>,
        ordinal: i64,
        practice: &str,
    ) -> StoreResult<(Vec<Value>, String)> {
        let table = self.table;
        let n = self.cols.len();
        let mut values = Vec::with_capacity(n + 1);
        for i in 0..n {
            let v = db::value_from_sqlite(row.get_ref(i)?).map_err(|e| StoreError::BadRecord {
                what: format!("{table} row {ordinal}"),
                detail: e,
            })?;
            values.push(v);
        }
        let key = match self.key_idx.and_then(|i| values.get(i)) {
            Some(Value::Integer(id)) => format!("id {id}"),
            _ => format!("row {ordinal}"),
        };
        if self.has_practice {
            let code: Option<String> = row.get(n)?;
            if let Some(code) = code.filter(|c| c != practice) {
                return Err(refuse(
                    "practice",
                    format!(
                        "the source's {table} {key} belongs to practice {}, not {practice}: \
                         nothing was copied",
                        crate::limits::sanitize(&code)
                    ),
                ));
            }
        }
        Ok((values, key))
    }
}

/// The source's audit head (entries, newest id, its hash), where it has one.
pub(super) fn source_head(
    src: &rusqlite::Connection,
) -> StoreResult<Option<(i64, i64, Option<String>)>> {
    Ok(src
        .query_row(
            "SELECT entries, last_id, chain_hash FROM audit_head",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .map(Some)
        .or_else(|e| match e {
            rusqlite::Error::QueryReturnedNoRows => Ok(None),
            e => Err(e),
        })?)
}

/// The server's own check over the whole chain after a move (the `copy`
/// into a new store, or the `move` into one in use), and its head. Refused:
/// an entry that does not follow the one before it.
pub(super) fn server_chain(
    tx: &Conn,
    after: &str,
) -> StoreResult<(migrations_pg::ServerVerify, MigratedHead)> {
    let server = migrations_pg::server_verify(tx)?;
    if let Some(id) = server.first_broken_id {
        return Err(chain_check_failed(
            after,
            format!("entry {id} does not follow the entry before it"),
        ));
    }
    let (Some(entries), Some(last_id)) = (server.head_entries, server.head_last_id) else {
        return Err(chain_check_failed(after, "the server has no head".into()));
    };
    let head = MigratedHead {
        entries,
        last_id,
        chain_hash: server.head_hash.clone(),
    };
    Ok((server, head))
}

/// The chain check after a move failed: nothing was copied.
pub(super) fn chain_check_failed(after: &str, why: String) -> StoreError {
    StoreError::Database(format!(
        "the server's audit chain check failed after the {after} ({why}), so nothing was \
         copied (the server's transaction was rolled back)"
    ))
}

pub(super) type Copied = (bool, Vec<TableCopied>, MigratedHead);

/// Makes the practice's row when the server has none, with the name, phone
/// and address of the file's settings: the file was that practice's alone,
/// so they are what its leaflets printed, and a team store prints each
/// practice's own row (never the store-wide settings). Details failing the
/// settings' rules are left unset (its leaflets are then refused, saying how
/// to set them); a name failing them gives the ODS code as the name. A row
/// already there is the administrator's and is kept as it is.
pub(super) fn create_practice(
    src: &rusqlite::Connection,
    tx: &Conn,
    practice: &str,
) -> StoreResult<bool> {
    let setting = |key: &str| -> StoreResult<String> {
        let value: Option<String> = src
            .query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .map(Some)
            .or_else(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => Ok(None),
                e => Err(e),
            })?;
        // Settings are stored as JSON values.
        Ok(value
            .and_then(|v| serde_json::from_str::<serde_json::Value>(&v).ok())
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default())
    };
    let fields = |phone: String, address: String| -> StoreResult<PracticeFields> {
        Ok(PracticeFields {
            name: setting("practice_name")?,
            phone,
            address,
        })
    };
    let full = fields(setting("practice_phone")?, setting("practice_address")?)?;
    let carried = match full.validated() {
        Ok(f) => f,
        Err(_) => fields(String::new(), String::new())?
            .validated()
            .unwrap_or_default(),
    };
    let name = if carried.name.is_empty() {
        practice
    } else {
        carried.name.as_str()
    };
    Ok(tx.execute(
        "INSERT INTO practices (code, name, phone, address) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (code) DO NOTHING",
        db::params![practice, name, carried.phone, carried.address],
    )? == 1)
}

/// Into a new store (its audit log empty, its head locked by the caller):
/// every row with its id.
fn copy_all(src: &rusqlite::Connection, tx: &Conn, practice: &str) -> StoreResult<Copied> {
    let practice_created = create_practice(src, tx, practice)?;

    let mut tables = Vec::new();
    for &table in TABLES {
        let source = SourceTable::open(src, tx, table)?;
        let has_practice = source.kept_by_practice();
        if has_practice {
            refuse_held_rows(tx, table, practice)?;
        }
        let mut cols = source.cols.clone();
        if has_practice {
            cols.push("practice_code".to_string());
        }
        let mut batch = Batch::new(table, cols);
        let mut stmt = src.prepare(&source.select())?;
        let mut rows = stmt.query([])?;
        let mut copied = 0i64;
        while let Some(row) = rows.next()? {
            let (mut values, key) = source.row(row, copied + 1, practice)?;
            if has_practice {
                values.push(Value::Text(practice.to_string()));
            }
            batch.push(tx, key, values)?;
            copied += 1;
        }
        batch.flush(tx)?;
        let on_server = if has_practice {
            practice_rows(tx, table, practice)?
        } else {
            count(
                tx,
                &format!("SELECT count(*) FROM {}", quote(table)),
                Vec::new(),
            )?
        };
        if on_server != copied {
            return Err(StoreError::Database(format!(
                "{table}: {copied} rows copied but the server holds {on_server}; nothing was \
                 copied (the server's transaction was rolled back)"
            )));
        }
        // Identity columns continue after the copied ids.
        if copied > 0 && source.target.iter().any(|(c, ident)| c == "id" && *ident) {
            tx.query_row(
                &format!(
                    "SELECT setval(pg_get_serial_sequence(?1, 'id'), (SELECT max(id) FROM {}))",
                    quote(table)
                ),
                vec![Value::Text(table.to_string())],
                |_| Ok(()),
            )?;
        }
        tables.push(TableCopied {
            table: table.to_string(),
            rows: copied,
        });
    }
    let head = verify(src, tx)?;
    Ok((practice_created, tables, head))
}

/// The server's own chain check over every entry, and its head against the source's.
fn verify(src: &rusqlite::Connection, tx: &Conn) -> StoreResult<MigratedHead> {
    let source = source_head(src)?.unwrap_or((0, 0, None));
    let (server, head) = server_chain(tx, "copy")?;
    let at_head = (head.entries, head.last_id, head.chain_hash.clone());
    if at_head != source || (server.entries, server.last_id, server.last_hash) != source {
        return Err(chain_check_failed(
            "copy",
            format!(
                "the server's head is {} entries to id {}, the source's {} entries to id {}",
                head.entries, head.last_id, source.0, source.1
            ),
        ));
    }
    Ok(head)
}
