//! Case-finding tables (migration 3): imported files, extract patients,
//! issued items, and the derived worklist and figures cache. SQL only; the
//! reading and computing live in `crate::casefinding`. Every statement is
//! parameterised.

use super::db::{params, Backend, Conn, OptionalExtension, Stmt, ToValue, Tx, Value};
use chrono::{DateTime, NaiveDate, Utc};

use super::audit::{append, AuditAction, AuditEntity};
use super::{ts, Store, StoreError, StoreResult};
use crate::patient::Sex;

/// A hash map with the fast non-cryptographic hasher (keys are our own row
/// ids and identifiers, never chosen to collide).
pub(crate) type FastMap<K, V> = rustc_hash::FxHashMap<K, V>;

impl Store {
    /// Runs `f` with the connection for reading (no transaction is opened;
    /// every statement sees a consistent snapshot on its own).
    pub(crate) fn casefinding_read<T>(
        &self,
        f: impl FnOnce(&Conn) -> StoreResult<T>,
    ) -> StoreResult<T> {
        f(&self.conn)
    }

    /// Sets SQLite's page cache (`PRAGMA cache_size`) and returns the one it
    /// replaces; `None` on PostgreSQL, where the server sizes its own.
    pub(crate) fn swap_page_cache(&self, size: i64) -> StoreResult<Option<i64>> {
        let Some(c) = self.conn.sqlite() else {
            return Ok(None);
        };
        let old: i64 = c.pragma_query_value(None, "cache_size", |r| r.get(0))?;
        c.pragma_update(None, "cache_size", size)?;
        Ok(Some(old))
    }
}

/// One stored issue.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct IssueRec {
    /// Issue date.
    pub date: NaiveDate,
    /// Description (text index).
    pub drug: u32,
    /// Instruction (text index).
    pub dose: u32,
    /// Units issued (0: not stated).
    pub quantity: f64,
}

/// One patient with every stored issue, oldest first.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PatientRec {
    /// Row id in `cf_patients`.
    pub db_id: i64,
    /// The practice's identifier.
    pub extract_id: String,
    /// NHS number.
    pub nhs_number: Option<String>,
    /// Age in years.
    pub age: Option<f64>,
    /// Sex.
    pub sex: Option<Sex>,
    /// Why the patient is left off the worklist, if they are.
    pub excluded: Option<String>,
    /// Issues by date.
    pub issues: Vec<IssueRec>,
}

/// A previous import of the same file.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PreviousImport {
    /// `cf_imports.id`.
    pub id: i64,
    /// When (RFC 3339).
    pub imported_at: String,
    /// Its report (JSON).
    pub report: String,
}

/// The import with this file hash, if any.
pub(crate) fn find_import(conn: &Conn, sha256: &str) -> StoreResult<Option<PreviousImport>> {
    Ok(conn
        .query_row(
            "SELECT id, imported_at, report FROM cf_imports WHERE file_sha256 = ?1",
            [sha256],
            |r| {
                Ok(PreviousImport {
                    id: r.get(0)?,
                    imported_at: r.get(1)?,
                    report: r.get(2)?,
                })
            },
        )
        .optional()?)
}

/// The file being imported.
#[derive(Debug, Clone)]
pub(crate) struct NewImport<'a> {
    pub sha256: &'a str,
    pub file_name: &'a str,
    pub actor: &'a str,
    pub today: NaiveDate,
    pub list_size: Option<u32>,
}

/// Records the start of an import; counts and report are filled in by [`finish_import`].
pub(crate) fn insert_import(
    tx: &Tx<'_>,
    at: DateTime<Utc>,
    import: &NewImport<'_>,
) -> StoreResult<i64> {
    // Both end up in the audit log: one line each, no control characters.
    super::clean_actor(import.actor)?;
    super::clean_line("file_name", import.file_name, 500, false)?;
    Ok(tx.query_row(
        "INSERT INTO cf_imports (file_sha256, file_name, imported_at, imported_by, today, list_size,
                                 rows_read, rows_imported, rows_duplicate, rows_not_understood, report)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, 0, 0, 0, '{}')
         RETURNING id",
        params![
            import.sha256,
            import.file_name,
            ts(at),
            import.actor,
            import.today.to_string(),
            import.list_size
        ],
        |r| r.get(0),
    )?)
}

/// Counts of an import.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ImportCounts {
    pub read: u64,
    pub imported: u64,
    pub duplicate: u64,
    pub not_understood: u64,
}

/// Stores an import's counts and report, and its audit entry.
pub(crate) fn finish_import(
    tx: &Tx<'_>,
    at: DateTime<Utc>,
    actor: &str,
    id: i64,
    counts: ImportCounts,
    report_json: &str,
    audit_summary: &str,
) -> StoreResult<()> {
    let n = |x: u64| i64::try_from(x).unwrap_or(i64::MAX);
    tx.execute(
        "UPDATE cf_imports SET rows_read = ?2, rows_imported = ?3, rows_duplicate = ?4,
                rows_not_understood = ?5, report = ?6
         WHERE id = ?1",
        params![
            id,
            n(counts.read),
            n(counts.imported),
            n(counts.duplicate),
            n(counts.not_understood),
            report_json
        ],
    )?;
    append(
        tx,
        at,
        actor,
        AuditAction::Create,
        AuditEntity::Import,
        Some(id),
        None,
        audit_summary,
    )?;
    Ok(())
}

/// Ids of `texts` in `cf_texts`, adding those not yet stored.
pub(crate) fn intern_texts(tx: &Tx<'_>, texts: &[&str]) -> StoreResult<Vec<i64>> {
    let mut insert =
        tx.prepare_cached("INSERT INTO cf_texts (text) VALUES (?1) ON CONFLICT DO NOTHING")?;
    let mut select = tx.prepare_cached("SELECT id FROM cf_texts WHERE text = ?1")?;
    let mut ids = Vec::with_capacity(texts.len());
    for t in texts {
        insert.execute([t])?;
        ids.push(select.query_row([t], |r| r.get(0))?);
    }
    Ok(ids)
}

/// What an extract says about a patient (the newest values win).
#[derive(Debug, Clone, Default)]
pub(crate) struct PatientFacts<'a> {
    pub extract_id: &'a str,
    pub nhs_number: Option<&'a str>,
    pub age: Option<f64>,
    /// Issue date of the row the age came from.
    pub age_on: Option<NaiveDate>,
    pub sex: Option<Sex>,
}

/// Adds or updates a patient, returning its id. An age replaces the stored
/// one only if it was given with a later (or the same) issue date.
pub(crate) fn upsert_patient(tx: &Tx<'_>, p: &PatientFacts<'_>) -> StoreResult<i64> {
    let mut stmt = tx.prepare_cached(&format!(
        "INSERT INTO cf_patients (extract_id, nhs_number, age, age_on, sex)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT {} DO UPDATE SET
             nhs_number = coalesce(excluded.nhs_number, cf_patients.nhs_number),
             sex = coalesce(excluded.sex, cf_patients.sex),
             age = CASE WHEN excluded.age IS NOT NULL
                         AND (cf_patients.age_on IS NULL OR excluded.age_on >= cf_patients.age_on)
                        THEN excluded.age ELSE cf_patients.age END,
             age_on = CASE WHEN excluded.age IS NOT NULL
                         AND (cf_patients.age_on IS NULL OR excluded.age_on >= cf_patients.age_on)
                        THEN excluded.age_on ELSE cf_patients.age_on END
         RETURNING id",
        tx.dialect().practice_key("extract_id")
    ))?;
    Ok(stmt.query_row(
        params![
            p.extract_id,
            p.nhs_number,
            p.age,
            p.age_on.map(|d| d.to_string()),
            p.sex.map(Sex::as_str)
        ],
        |r| r.get(0),
    )?)
}

/// Marks the listed patients as excluded from the worklist (those already
/// stored; an identifier not in the store is ignored). The last reason given wins.
pub(crate) fn set_exclusions<'a>(
    tx: &Tx<'_>,
    list: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> StoreResult<()> {
    let mut stmt =
        tx.prepare_cached("UPDATE cf_patients SET excluded = ?2 WHERE extract_id = ?1")?;
    for (patient_id, reason) in list {
        stmt.execute(params![patient_id, reason])?;
    }
    Ok(())
}

/// The id the next new patient gets: no patient stored later has a smaller
/// one. SQLite: one more than the largest. PostgreSQL: where the id
/// sequence stands (a seat sees only its practices' rows, and ids are
/// drawn for the whole store).
pub(crate) fn next_patient_id(conn: &Conn) -> StoreResult<i64> {
    let sql = match conn.backend() {
        Backend::Sqlite => "SELECT coalesce(max(id), 0) + 1 FROM cf_patients",
        Backend::Postgres => {
            "SELECT CASE WHEN is_called THEN last_value + 1 ELSE last_value END
             FROM cf_patients_id_seq"
        }
    };
    Ok(conn.query_row(sql, (), |r| r.get(0))?)
}

/// Ids for `n` new patients, ascending, none in use. SQLite: the next `n`
/// after the largest (one import at a time). PostgreSQL: drawn from the id
/// sequence, which every seat's rows share.
pub(crate) fn reserve_patient_ids(conn: &Conn, n: usize) -> StoreResult<Vec<i64>> {
    if n == 0 {
        return Ok(Vec::new());
    }
    match conn.backend() {
        Backend::Sqlite => {
            let first = next_patient_id(conn)?;
            Ok((0..n as i64).map(|i| first + i).collect())
        }
        Backend::Postgres => {
            let mut stmt = conn.prepare(
                "SELECT nextval('cf_patients_id_seq') FROM generate_series(1, ?1) ORDER BY 1",
            )?;
            let ids = stmt.query_map([n as i64], |r| r.get(0))?;
            Ok(ids.collect::<Result<_, _>>()?)
        }
    }
}

/// Adds patients not yet stored, with the ids given (from [`next_patient_id`] on).
pub(crate) fn insert_new_patients(
    tx: &Tx<'_>,
    patients: &[(i64, PatientFacts<'_>)],
) -> StoreResult<()> {
    // One row a statement: the identifiers come in no order, so each row
    // lands on another page of their index, and a statement of many rows
    // would copy every page it touches to its statement journal first.
    let mut stmt = tx.prepare_cached(
        "INSERT INTO cf_patients (id, extract_id, nhs_number, age, age_on, sex) VALUES (?,?,?,?,?,?)",
    )?;
    for (id, p) in patients {
        stmt.execute(params![
            id,
            p.extract_id,
            p.nhs_number,
            p.age,
            p.age_on.map(|d| d.to_string()),
            p.sex.map(Sex::as_str)
        ])?;
    }
    Ok(())
}

/// One issue to store.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NewIssue {
    pub patient_id: i64,
    pub issue_date: NaiveDate,
    pub drug_id: i64,
    pub dose_id: i64,
    pub quantity: f64,
    pub occurrence: u32,
    pub line: u64,
}

/// Rows per INSERT statement: one statement per row spends most of its time
/// in statement overhead; 8 values × 100 rows stays far below SQLite's
/// 32,766-parameter limit.
const ROWS_PER_INSERT: usize = 100;

fn insert_sql(rows: usize, backend: Backend) -> String {
    // On a server, the session's working practice (migrations_pg/0007), so
    // that the practice trigger is not called for each of the import's rows
    // (it looks up the row's patient; here every patient is that practice's,
    // and the practice policies check the value). NULL without one: the
    // trigger fills it in, as before.
    let (practice_column, practice_value) = match backend {
        Backend::Sqlite => ("", ""),
        Backend::Postgres => (
            ", practice_code",
            ", nullif(current_setting('stepdown.practice', true), '')",
        ),
    };
    let mut sql = format!(
        "INSERT INTO cf_issues
             (patient_id, issue_date, drug_id, dose_id, quantity, occurrence, import_id, line{practice_column})
         VALUES "
    );
    for i in 0..rows {
        if i > 0 {
            sql.push(',');
        }
        sql.push_str("(?,?,?,?,?,?,?,?");
        sql.push_str(practice_value);
        sql.push(')');
    }
    // Only a row already stored is skipped; a row breaking a CHECK fails the
    // whole import (INSERT OR IGNORE would drop it silently).
    sql.push_str(" ON CONFLICT DO NOTHING");
    sql
}

/// Binds and runs one multi-row INSERT for `batch`; returns the rows added.
fn insert_batch(stmt: &mut Stmt<'_>, import_id: i64, batch: &[NewIssue]) -> StoreResult<u64> {
    let mut values = Vec::with_capacity(batch.len() * 8);
    for i in batch {
        let date = iso_date(i.issue_date);
        values.extend([
            Value::Integer(i.patient_id),
            Value::Text(
                std::str::from_utf8(&date)
                    .unwrap_or("0000-00-00")
                    .to_string(),
            ),
            Value::Integer(i.drug_id),
            Value::Integer(i.dose_id),
            Value::Real(i.quantity),
            Value::Integer(i64::from(i.occurrence)),
            Value::Integer(import_id),
            Value::Integer(i64::try_from(i.line).unwrap_or(i64::MAX)),
        ]);
    }
    Ok(stmt.execute(values)? as u64)
}

/// Stores issues not already in the store; returns how many were new.
pub(crate) fn insert_issues(
    tx: &Tx<'_>,
    import_id: i64,
    issues: impl Iterator<Item = NewIssue>,
    mut progress: impl FnMut(u64),
) -> StoreResult<u64> {
    let mut full = tx.prepare(&insert_sql(ROWS_PER_INSERT, tx.backend()))?;
    let mut inserted = 0u64;
    let mut done = 0u64;
    let mut batch: Vec<NewIssue> = Vec::with_capacity(ROWS_PER_INSERT);
    for i in issues {
        batch.push(i);
        if batch.len() == ROWS_PER_INSERT {
            inserted += insert_batch(&mut full, import_id, &batch)?;
            batch.clear();
            done += ROWS_PER_INSERT as u64;
            if done.is_multiple_of(50_000) {
                progress(done);
            }
        }
    }
    if !batch.is_empty() {
        let mut rest = tx.prepare(&insert_sql(batch.len(), tx.backend()))?;
        inserted += insert_batch(&mut rest, import_id, &batch)?;
    }
    Ok(inserted)
}

/// `YYYY-MM-DD` without allocating (a million rows an import; the importer
/// has already refused years before 1900, and a year past 9999 cannot pass
/// the "not after today" check).
fn iso_date(d: NaiveDate) -> [u8; 10] {
    use chrono::Datelike;
    let y = d.year().clamp(0, 9999) as u32;
    let (m, day) = (d.month(), d.day());
    let digit = |n: u32| b'0' + (n % 10) as u8;
    [
        digit(y / 1000),
        digit(y / 100),
        digit(y / 10),
        digit(y),
        b'-',
        digit(m / 10),
        digit(m),
        b'-',
        digit(day / 10),
        digit(day),
    ]
}

/// Reads an ISO date quickly (the store only ever writes `YYYY-MM-DD`).
fn parse_iso(s: &str) -> Option<NaiveDate> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let n = |r: std::ops::Range<usize>| s.get(r).and_then(|x| x.parse::<u32>().ok());
    NaiveDate::from_ymd_opt(n(0..4)? as i32, n(5..7)?, n(8..10)?)
}

/// The practice of each extract patient by row id (`None` in a
/// single-seat store); ids this seat cannot see are left out.
pub(crate) fn practices_of(
    conn: &Conn,
    ids: &[i64],
) -> StoreResult<std::collections::HashMap<i64, Option<String>>> {
    let mut stmt = conn.prepare_cached("SELECT practice_code FROM cf_patients WHERE id = ?1")?;
    let mut out = std::collections::HashMap::with_capacity(ids.len());
    for &id in ids {
        if let Some(code) = stmt.query_row([id], |r| r.get(0)).optional()? {
            out.insert(id, code);
        }
    }
    Ok(out)
}

/// Patients with these ids and their issues (for showing a page).
pub(crate) fn load_patients(
    conn: &Conn,
    ids: &[i64],
) -> StoreResult<(Vec<String>, Vec<PatientRec>)> {
    let mut texts: Vec<String> = Vec::new();
    let mut position = std::collections::HashMap::new();
    let mut text_stmt = conn.prepare_cached("SELECT text FROM cf_texts WHERE id = ?1")?;
    let mut text_of = |id: i64| -> StoreResult<u32> {
        if let Some(&p) = position.get(&id) {
            return Ok(p);
        }
        let t: String = text_stmt.query_row([id], |r| r.get(0))?;
        position.insert(id, texts.len() as u32);
        texts.push(t);
        Ok(texts.len() as u32 - 1)
    };
    let mut out = Vec::with_capacity(ids.len());
    let mut patient = conn.prepare_cached(
        "SELECT id, extract_id, nhs_number, age, sex, excluded FROM cf_patients WHERE id = ?1",
    )?;
    let mut issues = conn.prepare_cached(
        "SELECT issue_date, drug_id, dose_id, quantity FROM cf_issues
         WHERE patient_id = ?1
           AND import_id IN (SELECT id FROM cf_imports WHERE published = 1)
         ORDER BY issue_date",
    )?;
    for &id in ids {
        let Some(mut rec) = patient
            .query_row([id], |r| {
                let sex: Option<String> = r.get(4)?;
                Ok(PatientRec {
                    db_id: r.get(0)?,
                    extract_id: r.get(1)?,
                    nhs_number: r.get(2)?,
                    age: r.get(3)?,
                    sex: sex.as_deref().and_then(Sex::parse),
                    excluded: r.get(5)?,
                    issues: Vec::new(),
                })
            })
            .optional()?
        else {
            continue;
        };
        let rows: Vec<(String, i64, i64, f64)> = issues
            .query_map([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
            .collect::<Result<_, _>>()?;
        for (date, drug, dose, quantity) in rows {
            let date = parse_iso(&date).ok_or_else(|| StoreError::BadRecord {
                what: format!("case-finding issue of patient {id}"),
                detail: format!("issue date {date:?}"),
            })?;
            rec.issues.push(IssueRec {
                date,
                drug: text_of(drug)?,
                dose: text_of(dose)?,
                quantity,
            });
        }
        out.push(rec);
    }
    Ok((texts, out))
}

/// One worklist row of the cache.
#[derive(Debug, Clone)]
pub(crate) struct SummaryRow {
    pub patient_id: i64,
    pub rank: u32,
    pub ome_mg_per_day: f64,
    pub complete: bool,
    pub estimated: bool,
    pub benzodiazepine: bool,
    pub gabapentinoid: bool,
    pub flag_ids: String,
    /// Audit marker bits (`Marker::bit`).
    pub markers: u32,
}

/// The worklist cache's columns, in the order of `SummaryRow::values`.
const SUMMARY_COLUMNS: &str = "patient_id, rank, ome_mg_per_day, complete, estimated, \
                               benzodiazepine, gabapentinoid, flag_ids, markers";

impl SummaryRow {
    /// The row's values, in the order of `SUMMARY_COLUMNS`.
    fn values(&self) -> [Value; 9] {
        [
            self.patient_id.to_value(),
            self.rank.to_value(),
            self.ome_mg_per_day.to_value(),
            self.complete.to_value(),
            self.estimated.to_value(),
            self.benzodiazepine.to_value(),
            self.gabapentinoid.to_value(),
            self.flag_ids.to_value(),
            self.markers.to_value(),
        ]
    }
}

/// Adds rows to the worklist cache table `table` (the cache or its staging
/// copy); rows in patient id order fill it by appending.
fn insert_summaries(tx: &Tx<'_>, table: &str, rows: &[SummaryRow]) -> StoreResult<()> {
    // One row a statement: rows come in patient order, so each lands on
    // another page of the rank index, and a statement of many rows would
    // copy every page it touches to its statement journal first.
    let mut stmt = tx.prepare(&format!(
        "INSERT INTO {table} ({SUMMARY_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?)"
    ))?;
    for r in rows {
        stmt.execute(r.values())?;
    }
    Ok(())
}

/// Sets a cache document.
pub(crate) fn set_state(tx: &Tx<'_>, key: &str, json: &str) -> StoreResult<()> {
    tx.prepare_cached(&format!(
        "INSERT INTO cf_state (key, value) VALUES (?1, ?2)
         ON CONFLICT {} DO UPDATE SET value = excluded.value",
        tx.dialect().practice_key("key")
    ))?
    .execute(params![key, json])?;
    Ok(())
}

/// Reads a cache document.
pub(crate) fn get_state(conn: &Conn, key: &str) -> StoreResult<Option<String>> {
    Ok(conn
        .query_row("SELECT value FROM cf_state WHERE key = ?1", [key], |r| {
            r.get(0)
        })
        .optional()?)
}

/// Filters of a worklist page.
#[derive(Debug, Clone, Default)]
pub(crate) struct PageQuery {
    pub min_ome: f64,
    pub benzodiazepine: bool,
    pub gabapentinoid: bool,
    pub estimated_only: bool,
    /// Marker bits that must all be set.
    pub markers: u32,
    /// Only patients held by this person (worklist claims, `claims`).
    pub held_by: Option<String>,
    /// Only patients nobody holds.
    pub unclaimed: bool,
    pub limit: Option<u32>,
    pub offset: u32,
}

impl PageQuery {
    /// True when no filter narrows the list.
    pub(crate) fn is_everything(&self) -> bool {
        self.min_ome <= 0.0
            && !self.benzodiazepine
            && !self.gabapentinoid
            && !self.estimated_only
            && self.markers == 0
            && self.held_by.is_none()
            && !self.unclaimed
    }
}

/// (patient id, rank) of the matching rows, in rank order.
pub(crate) fn page(conn: &Conn, q: &PageQuery) -> StoreResult<Vec<(i64, u32)>> {
    let limit = q
        .limit
        .map_or(conn.dialect().no_limit(), |l| Value::Integer(i64::from(l)));
    if q.is_everything() {
        // Ranks run 1..N without gaps, so a page is a seek on the rank index
        // (OFFSET would step over every row before it).
        let mut stmt = conn.prepare_cached(
            "SELECT patient_id, rank FROM cf_summaries WHERE rank > ?1 ORDER BY rank LIMIT ?2",
        )?;
        let rows = stmt
            .query_map(params![q.offset, limit], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        return Ok(rows);
    }
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT patient_id, rank FROM cf_summaries
         WHERE ome_mg_per_day >= ?1 AND (?2 = 0 OR benzodiazepine = 1)
           AND (?3 = 0 OR gabapentinoid = 1) AND (?4 = 0 OR estimated = 1)
           AND (markers & ?7) = ?7 AND {}
         ORDER BY rank LIMIT ?5 OFFSET ?6",
        super::claims::filter_sql(8, 9)
    ))?;
    let rows = stmt
        .query_map(
            params![
                q.min_ome,
                q.benzodiazepine,
                q.gabapentinoid,
                q.estimated_only,
                limit,
                q.offset,
                q.markers,
                q.held_by,
                q.unclaimed
            ],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// How many patients match the filters.
pub(crate) fn matching(conn: &Conn, q: &PageQuery) -> StoreResult<u64> {
    let n: i64 = conn
        .prepare_cached(&format!(
            "SELECT count(*) FROM cf_summaries
             WHERE ome_mg_per_day >= ?1 AND (?2 = 0 OR benzodiazepine = 1)
               AND (?3 = 0 OR gabapentinoid = 1) AND (?4 = 0 OR estimated = 1)
               AND (markers & ?5) = ?5 AND {}",
            super::claims::filter_sql(6, 7)
        ))?
        .query_row(
            params![
                q.min_ome,
                q.benzodiazepine,
                q.gabapentinoid,
                q.estimated_only,
                q.markers,
                q.held_by,
                q.unclaimed
            ],
            |r| r.get(0),
        )?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// The list size given with the most recent import that had one, with that import's date.
pub(crate) fn latest_list_size(conn: &Conn) -> StoreResult<Option<(u32, String)>> {
    Ok(conn
        .query_row(
            "SELECT list_size, today FROM cf_imports WHERE list_size IS NOT NULL AND published = 1
             ORDER BY id DESC LIMIT 1",
            (),
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?)
}

// ---------------------------------------------------------------------------
// Imports in batches (issue 16, migration 8)
// ---------------------------------------------------------------------------

/// Issues of published imports (and of the import, parameter `?{param}`,
/// being computed). `import_id` has no index; the imports are few, so SQLite
/// builds this list once per statement.
pub(crate) fn visible(param: usize) -> String {
    format!("import_id IN (SELECT id FROM cf_imports WHERE published = 1 OR id = ?{param})")
}

/// An import that has not been published.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Unfinished {
    pub id: i64,
    pub file_name: String,
    pub imported_at: String,
    /// Last batch stored (RFC 3339), if any.
    pub heartbeat: Option<String>,
    pub first_patient_id: Option<i64>,
    pub first_text_id: Option<i64>,
}

/// Imports not (yet) published: under way, or stopped part-way.
pub(crate) fn unfinished_imports(conn: &Conn) -> StoreResult<Vec<Unfinished>> {
    let mut stmt = conn.prepare(
        "SELECT id, file_name, imported_at, heartbeat, first_patient_id, first_text_id
         FROM cf_imports WHERE published = 0 ORDER BY id",
    )?;
    let rows = stmt
        .query_map((), |r| {
            Ok(Unfinished {
                id: r.get(0)?,
                file_name: r.get(1)?,
                imported_at: r.get(2)?,
                heartbeat: r.get(3)?,
                first_patient_id: r.get(4)?,
                first_text_id: r.get(5)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// The published import with this file hash, if any.
pub(crate) fn find_published(conn: &Conn, sha256: &str) -> StoreResult<Option<PreviousImport>> {
    Ok(find_import(conn, sha256)?.filter(|p| {
        conn.query_row(
            "SELECT published FROM cf_imports WHERE id = ?1",
            [p.id],
            |r| r.get::<i64>(0),
        )
        .map(|v| v == 1)
        .unwrap_or(false)
    }))
}

/// Starts an unpublished import; returns its id. Its first patient and text
/// ids are the next free ones (imports do not overlap, see `unfinished_imports`).
pub(crate) fn begin_import(
    tx: &Tx<'_>,
    at: DateTime<Utc>,
    import: &NewImport<'_>,
) -> StoreResult<i64> {
    let id = insert_import(tx, at, import)?;
    let next_text: i64 =
        tx.query_row("SELECT coalesce(max(id), 0) + 1 FROM cf_texts", (), |r| {
            r.get(0)
        })?;
    tx.execute(
        "UPDATE cf_imports SET published = 0, heartbeat = ?2, first_patient_id = ?3,
                first_text_id = ?4
         WHERE id = ?1",
        params![id, ts(at), next_patient_id(tx)?, next_text],
    )?;
    Ok(id)
}

/// Notes that import `id` is still going; false if it is gone or published
/// (removed by another import that took it for stopped).
pub(crate) fn heartbeat(tx: &Tx<'_>, at: DateTime<Utc>, id: i64) -> StoreResult<bool> {
    Ok(tx.execute(
        "UPDATE cf_imports SET heartbeat = ?2 WHERE id = ?1 AND published = 0",
        params![id, ts(at)],
    )? == 1)
}

/// Patients per id range when removing or computing in batches.
pub(crate) const ID_RANGE: i64 = 20_000;

/// The largest patient id (0 when none).
pub(crate) fn max_patient_id(conn: &Conn) -> StoreResult<i64> {
    Ok(
        conn.query_row("SELECT coalesce(max(id), 0) FROM cf_patients", (), |r| {
            r.get(0)
        })?,
    )
}

/// Removes the issues of import `id` for patients in `[from, to)`; returns how many.
pub(crate) fn remove_issues(tx: &Tx<'_>, id: i64, from: i64, to: i64) -> StoreResult<u64> {
    Ok(tx.execute(
        "DELETE FROM cf_issues WHERE patient_id >= ?2 AND patient_id < ?3 AND import_id = ?1",
        params![id, from, to],
    )? as u64)
}

/// Removes what an unpublished import added besides its issues (which must
/// be gone already): its patients and texts (ids at or above its first
/// ones, up to `limit` rows at a time), then, once none are left, the import
/// itself. Returns true when the import is gone.
pub(crate) fn remove_import_rest(tx: &Tx<'_>, u: &Unfinished, limit: i64) -> StoreResult<bool> {
    let mut removed = 0;
    if let Some(first) = u.first_patient_id {
        removed += tx.execute(
            "DELETE FROM cf_patients WHERE id IN
                 (SELECT id FROM cf_patients WHERE id >= ?1 ORDER BY id LIMIT ?2)",
            params![first, limit],
        )?;
    }
    // Shared texts stay on a server: another practice's issues may use them,
    // and seats may not delete them (migrations_pg/0002).
    if let Some(first) = u.first_text_id.filter(|_| tx.backend() == Backend::Sqlite) {
        removed += tx.execute(
            "DELETE FROM cf_texts WHERE id IN
                 (SELECT id FROM cf_texts WHERE id >= ?1 ORDER BY id LIMIT ?2)",
            params![first, limit],
        )?;
    }
    if removed > 0 {
        return Ok(false);
    }
    remove_staging_rows(tx, &Staging::Import(u.id))?;
    tx.execute(
        "DELETE FROM cf_imports WHERE id = ?1 AND published = 0",
        [u.id],
    )?;
    Ok(true)
}

/// Where a new worklist cache is written before it replaces the old one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Staging {
    /// For an import.
    Import(i64),
    /// For a recomputation (another day, window or reference version): this
    /// process and a counter, so that two windows never share one.
    Refresh(u32, u64),
}

/// The staging table's name (no `cf_` prefix, so exports leave it out).
pub(crate) fn staging_table(s: &Staging) -> String {
    match s {
        Staging::Import(id) => format!("cfstage_summaries_i{id}"),
        Staging::Refresh(pid, n) => format!("cfstage_summaries_p{pid}_{n}"),
    }
}

/// The `cf_state` key under which a recomputation's staging table records
/// when it last stored a batch (an import's is its `cf_imports.heartbeat`).
fn staging_key(s: &Staging) -> String {
    format!("staging:{}", staging_table(s))
}

/// Creates an empty staging table shaped exactly like `cf_summaries` (its
/// schema text, renamed), replacing any left from before. A recomputation's
/// also gets a heartbeat, so that one left by a killed process is recognised.
pub(crate) fn create_staging(tx: &Tx<'_>, s: &Staging, at: DateTime<Utc>) -> StoreResult<()> {
    if matches!(s, Staging::Refresh(..)) {
        set_state(
            tx,
            &staging_key(s),
            &serde_json::Value::String(ts(at)).to_string(),
        )?;
    }
    if tx.backend() == Backend::Postgres {
        // Seats may not create tables: a staged cache is rows of
        // cf_summaries_staging under its name (migrations_pg/0001).
        return remove_staging_rows(tx, s);
    }
    let sql: String = tx.query_row(
        "SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = 'cf_summaries'",
        (),
        |r| r.get(0),
    )?;
    let name = staging_table(s);
    // After the first swap SQLite writes the name quoted.
    let Some(rest) = sql.strip_prefix("CREATE TABLE ").and_then(|r| {
        r.strip_prefix("\"cf_summaries\"")
            .or_else(|| r.strip_prefix("cf_summaries"))
    }) else {
        return Err(StoreError::BadRecord {
            what: "worklist cache table".into(),
            detail: "unexpected definition".into(),
        });
    };
    tx.execute_batch(&format!(
        "DROP TABLE IF EXISTS {name}; CREATE TABLE {name}{rest}"
    ))?;
    Ok(())
}

/// Adds rows to a staging table.
pub(crate) fn stage_summaries(tx: &Tx<'_>, s: &Staging, rows: &[SummaryRow]) -> StoreResult<()> {
    match tx.backend() {
        Backend::Sqlite => insert_summaries(tx, &staging_table(s), rows),
        Backend::Postgres => {
            let mut stmt = tx.prepare_cached(&format!(
                "INSERT INTO cf_summaries_staging (staging, {SUMMARY_COLUMNS}) \
                 VALUES (?,?,?,?,?,?,?,?,?,?)"
            ))?;
            let name = Value::Text(staging_table(s));
            for r in rows {
                let mut values = vec![name.clone()];
                values.extend(r.values());
                stmt.execute(values)?;
            }
            Ok(())
        }
    }
}

/// A staged cache removed: the SQLite table dropped, or the server's rows deleted.
fn remove_staging_rows(tx: &Tx<'_>, s: &Staging) -> StoreResult<()> {
    match tx.backend() {
        Backend::Sqlite => {
            tx.execute_batch(&format!("DROP TABLE IF EXISTS {}", staging_table(s)))?
        }
        Backend::Postgres => {
            tx.execute(
                "DELETE FROM cf_summaries_staging WHERE staging = ?1",
                [staging_table(s)],
            )?;
        }
    }
    Ok(())
}

/// Notes that a recomputation's staging table is still being written; false
/// if it was taken for stopped and removed meanwhile.
pub(crate) fn staging_heartbeat(tx: &Tx<'_>, at: DateTime<Utc>, s: &Staging) -> StoreResult<bool> {
    // On a server the staged rows have no table to find; the heartbeat row
    // alone says it is still there.
    let table: Option<i64> = match tx.backend() {
        Backend::Sqlite => tx
            .query_row(
                "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?1",
                [staging_table(s)],
                |r| r.get(0),
            )
            .optional()?,
        Backend::Postgres => Some(1),
    };
    Ok(table.is_some()
        && tx.execute(
            "UPDATE cf_state SET value = ?2 WHERE key = ?1",
            params![
                staging_key(s),
                serde_json::Value::String(ts(at)).to_string()
            ],
        )? == 1)
}

/// Makes a staging table the worklist cache (the old one is dropped).
pub(crate) fn swap_in_staging(tx: &Tx<'_>, s: &Staging) -> StoreResult<()> {
    match tx.backend() {
        Backend::Sqlite => tx.execute_batch(&format!(
            "DROP TABLE cf_summaries; ALTER TABLE {} RENAME TO cf_summaries;",
            staging_table(s)
        ))?,
        Backend::Postgres => {
            // The seat's practices' cache only (row-level security).
            tx.execute("DELETE FROM cf_summaries", ())?;
            tx.execute(
                "INSERT INTO cf_summaries (patient_id, rank, ome_mg_per_day, complete, estimated,
                     benzodiazepine, gabapentinoid, flag_ids, markers)
                 SELECT patient_id, rank, ome_mg_per_day, complete, estimated, benzodiazepine,
                        gabapentinoid, flag_ids, markers
                 FROM cf_summaries_staging WHERE staging = ?1",
                [staging_table(s)],
            )?;
            remove_staging_rows(tx, s)?;
        }
    }
    tx.execute("DELETE FROM cf_state WHERE key = ?1", [staging_key(s)])?;
    Ok(())
}

/// Drops a staging table (a recomputation that lost a race, or failed).
pub(crate) fn drop_staging(tx: &Tx<'_>, s: &Staging) -> StoreResult<()> {
    remove_staging_rows(tx, s)?;
    tx.execute("DELETE FROM cf_state WHERE key = ?1", [staging_key(s)])?;
    Ok(())
}

/// Staging tables left behind by a process that stopped part-way (killed,
/// power lost): a recomputation's whose heartbeat is older than
/// `stopped_after_secs` (or missing), and an import's whose import is no
/// longer unpublished (a stopped import's own is removed with it).
/// Also heartbeats with no table.
pub(crate) fn stale_staging(
    conn: &Conn,
    now: DateTime<Utc>,
    stopped_after_secs: i64,
) -> StoreResult<Vec<Staging>> {
    let names: Vec<String> = match conn.backend() {
        Backend::Sqlite => conn.prepare(
            "SELECT name FROM sqlite_schema WHERE type = 'table'
                 AND name LIKE 'cfstage%'
             UNION SELECT substr(key, 9) FROM cf_state WHERE key LIKE 'staging:%'",
        )?,
        Backend::Postgres => conn.prepare(
            "SELECT staging FROM cf_summaries_staging
             UNION SELECT substr(key, 9) FROM cf_state WHERE key LIKE 'staging:%'",
        )?,
    }
    .query_map((), |r| r.get(0))?
    .collect::<Result<_, _>>()?;
    let mut stale = Vec::new();
    for name in names {
        let Some(s) = parse_staging(&name) else {
            continue;
        };
        let gone = match s {
            Staging::Import(id) => conn
                .query_row(
                    "SELECT 1 FROM cf_imports WHERE id = ?1 AND published = 0",
                    [id],
                    |r| r.get::<i64>(0),
                )
                .optional()?
                .is_none(),
            Staging::Refresh(..) => get_state(conn, &staging_key(&s))?
                .and_then(|v| serde_json::from_str::<String>(&v).ok())
                .and_then(|h| DateTime::parse_from_rfc3339(&h).ok())
                .is_none_or(|h| (now - h.with_timezone(&Utc)).num_seconds() >= stopped_after_secs),
        };
        if gone {
            stale.push(s);
        }
    }
    Ok(stale)
}

/// The staging a table name stands for (the inverse of [`staging_table`]).
fn parse_staging(name: &str) -> Option<Staging> {
    let rest = name.strip_prefix("cfstage_summaries_")?;
    if let Some(id) = rest.strip_prefix('i') {
        return id.parse().ok().map(Staging::Import);
    }
    let (pid, n) = rest.strip_prefix('p')?.split_once('_')?;
    Some(Staging::Refresh(pid.parse().ok()?, n.parse().ok()?))
}

/// The newest published import's id (0 when none): a recomputation checks
/// that no import was published while it was computing.
pub(crate) fn last_published(conn: &Conn) -> StoreResult<i64> {
    Ok(conn.query_row(
        "SELECT coalesce(max(id), 0) FROM cf_imports WHERE published = 1",
        (),
        |r| r.get(0),
    )?)
}

/// The earliest visible issue date.
pub(crate) fn first_issue(conn: &Conn, import: i64) -> StoreResult<Option<NaiveDate>> {
    let d: Option<String> = conn.query_row(
        &format!("SELECT min(issue_date) FROM cf_issues WHERE {}", visible(1)),
        [import],
        |r| r.get(0),
    )?;
    Ok(d.as_deref().and_then(parse_iso))
}

/// Every stored text, and each text id's position in that list.
pub(crate) fn load_texts(conn: &Conn) -> StoreResult<(Vec<String>, FastMap<i64, u32>)> {
    let mut texts = Vec::new();
    let mut position = FastMap::default();
    let mut stmt = conn.prepare("SELECT id, text FROM cf_texts ORDER BY id")?;
    let mut rows = stmt.query(())?;
    while let Some(r) = rows.next()? {
        let id: i64 = r.get(0)?;
        position.insert(id, texts.len() as u32);
        texts.push(r.get::<String>(1)?);
    }
    Ok((texts, position))
}

/// Patients with ids in `[from, to)` and their visible issues in date order
/// (text ids mapped through `position`).
pub(crate) fn load_range(
    conn: &Conn,
    from: i64,
    to: i64,
    import: i64,
    position: &FastMap<i64, u32>,
) -> StoreResult<Vec<PatientRec>> {
    let mut patients: Vec<PatientRec> = Vec::new();
    {
        let mut stmt = conn.prepare_cached(
            "SELECT id, extract_id, nhs_number, age, sex, excluded FROM cf_patients
             WHERE id >= ?1 AND id < ?2 ORDER BY id",
        )?;
        let mut rows = stmt.query(params![from, to])?;
        while let Some(r) = rows.next()? {
            let sex: Option<String> = r.get(4)?;
            patients.push(PatientRec {
                db_id: r.get(0)?,
                extract_id: r.get(1)?,
                nhs_number: r.get(2)?,
                age: r.get(3)?,
                sex: sex.as_deref().and_then(Sex::parse),
                excluded: r.get(5)?,
                issues: Vec::new(),
            });
        }
    }
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT patient_id, issue_date, drug_id, dose_id, quantity FROM cf_issues
         WHERE patient_id >= ?1 AND patient_id < ?2 AND {}
         ORDER BY patient_id, issue_date",
        visible(3)
    ))?;
    let mut rows = stmt.query(params![from, to, import])?;
    let mut k = 0usize;
    while let Some(r) = rows.next()? {
        let pid: i64 = r.get(0)?;
        let date: String = r.get(1)?;
        let date = parse_iso(&date).ok_or_else(|| StoreError::BadRecord {
            what: format!("case-finding issue of patient {pid}"),
            detail: format!("issue date {date:?}"),
        })?;
        let text = |id: i64| {
            position
                .get(&id)
                .copied()
                .ok_or_else(|| StoreError::BadRecord {
                    what: format!("case-finding issue of patient {pid}"),
                    detail: format!("text {id} is missing"),
                })
        };
        let issue = IssueRec {
            date,
            drug: text(r.get(2)?)?,
            dose: text(r.get(3)?)?,
            quantity: r.get(4)?,
        };
        while k < patients.len() && patients[k].db_id < pid {
            k += 1;
        }
        if let Some(p) = patients.get_mut(k).filter(|p| p.db_id == pid) {
            p.issues.push(issue);
        }
    }
    Ok(patients)
}

/// A stored patient's details, to tell whether an extract changes them.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StoredPatient {
    pub id: i64,
    pub nhs_number: Option<String>,
    pub age: Option<f64>,
    pub age_on: Option<NaiveDate>,
    pub sex: Option<Sex>,
}

/// Every stored patient by extract identifier.
pub(crate) fn stored_patients(conn: &Conn) -> StoreResult<FastMap<String, StoredPatient>> {
    let mut stmt =
        conn.prepare("SELECT extract_id, id, nhs_number, age, age_on, sex FROM cf_patients")?;
    let mut rows = stmt.query(())?;
    let mut out = FastMap::default();
    while let Some(r) = rows.next()? {
        let age_on: Option<String> = r.get(4)?;
        let sex: Option<String> = r.get(5)?;
        out.insert(
            r.get::<String>(0)?,
            StoredPatient {
                id: r.get(1)?,
                nhs_number: r.get(2)?,
                age: r.get(3)?,
                age_on: age_on.as_deref().and_then(parse_iso),
                sex: sex.as_deref().and_then(Sex::parse),
            },
        );
    }
    Ok(out)
}

/// Marks import `id` published, with its counts, report and audit entry.
pub(crate) fn publish_import(
    tx: &Tx<'_>,
    at: DateTime<Utc>,
    actor: &str,
    id: i64,
    counts: ImportCounts,
    report_json: &str,
    audit_summary: &str,
) -> StoreResult<()> {
    tx.execute(
        "UPDATE cf_imports SET published = 1, heartbeat = NULL WHERE id = ?1",
        [id],
    )?;
    finish_import(tx, at, actor, id, counts, report_json, audit_summary)
}

/// Each patient's place in identifier order, by patient id (`u32::MAX` for
/// ids not in use): the worklist's last tie-break, without holding every
/// identifier.
pub(crate) fn identifier_order(conn: &Conn) -> StoreResult<Vec<u32>> {
    let max = max_patient_id(conn)?;
    let mut order = vec![u32::MAX; usize::try_from(max).unwrap_or(0) + 1];
    let mut stmt = conn.prepare(&format!(
        "SELECT id FROM cf_patients ORDER BY {}",
        conn.dialect().order_binary("extract_id")
    ))?;
    let mut rows = stmt.query(())?;
    let mut n = 0u32;
    while let Some(r) = rows.next()? {
        let id: i64 = r.get(0)?;
        if let Some(slot) = usize::try_from(id).ok().and_then(|i| order.get_mut(i)) {
            *slot = n;
        }
        n += 1;
    }
    Ok(order)
}

/// A Stepdown patient's NHS number and local id, with their latest review's date.
pub(crate) type LastReview = (Option<String>, Option<String>, NaiveDate);

/// Stepdown patients with a review saved on or before `today`, with the date
/// of the latest.
pub(crate) fn last_reviews(conn: &Conn, today: NaiveDate) -> StoreResult<Vec<LastReview>> {
    let mut stmt = conn.prepare(
        "SELECT p.nhs_number, p.local_id, max(substr(v.saved_at, 1, 10))
         FROM patients p JOIN reviews r ON r.patient_id = p.id
              JOIN review_versions v ON v.review_id = r.id
         WHERE substr(v.saved_at, 1, 10) <= ?1
         GROUP BY p.id",
    )?;
    let rows = stmt.query_map([today.to_string()], |r| {
        Ok((
            r.get::<Option<String>>(0)?,
            r.get::<Option<String>>(1)?,
            r.get::<String>(2)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (nhs, local, date) = row?;
        if let Some(d) = parse_iso(&date) {
            out.push((nhs, local, d));
        }
    }
    Ok(out)
}

/// What the no-recent-review marker depends on (reviews saved, patients'
/// identifiers), in a few characters: the worklist cache is rebuilt when it changes.
pub(crate) fn reviews_fingerprint(conn: &Conn) -> StoreResult<String> {
    Ok(conn.query_row(
        "SELECT (SELECT count(*) || ':' || coalesce(max(saved_at), '') FROM review_versions)
                || '/' ||
                (SELECT count(*) || ':' || coalesce(max(updated_at), '') FROM patients)",
        (),
        |r| r.get(0),
    )?)
}

#[cfg(test)]
mod tests {
    #[test]
    fn iso_dates_are_written_as_chrono_writes_them() {
        for (y, m, d) in [(1900, 1, 1), (2026, 11, 24), (2024, 2, 29), (9999, 12, 31)] {
            let date = chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap();
            assert_eq!(
                std::str::from_utf8(&super::iso_date(date)).unwrap(),
                date.to_string()
            );
        }
    }
}
