//! Backup (SQLite online backup to a single file), restore (validated, with
//! a copy of the current database kept first) and JSON export of everything.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::backup::{Backup, StepResult};
use serde::{Deserialize, Serialize};

use super::audit::AuditHead;
use super::audit::{self, AuditAction, AuditEntity, AuditEntry};
use super::check::{check_file, Counts};
use super::db::{Backend, Conn, Value};
use super::file::{self, backup_connection_to_file, file_stamp, unused_sibling};
use super::leaflets::LeafletPrint;
use super::patients::Patient;
use super::reviews::Review;
use super::settings::Settings;
use super::{clean_actor, migrations, OpenOptions, Store, StoreError, StoreResult};

/// `format` field of an export file.
pub const EXPORT_FORMAT: &str = "stepdown-export";
/// Version of the export file layout; bumped on incompatible changes.
pub const EXPORT_FORMAT_VERSION: u32 = 1;

/// What `backup` wrote.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BackupReport {
    /// The backup file.
    pub path: String,
    /// Its size.
    pub size_bytes: u64,
    /// Its schema version.
    pub schema_version: i64,
    /// What it holds.
    pub counts: Counts,
    /// SHA-256 of the backup file, to verify a copy of it later.
    pub sha256: String,
    /// The head of the copy's audit log (entries, newest id and hash), also
    /// written into the store's own log with the backup's entry: a later
    /// deletion of entries shows against it.
    pub audit_head: Option<AuditHead>,
}

/// What `restore` did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RestoreReport {
    /// The database that was replaced.
    pub path: String,
    /// The backup restored from (unchanged).
    pub restored_from: String,
    /// Where the previous database was kept, if there was one.
    pub previous_copy: Option<String>,
    /// Schema version of the backup file.
    pub backup_schema_version: i64,
    /// Schema version after restoring (newer if the backup was migrated).
    pub schema_version: i64,
    /// What the store now holds.
    pub counts: Counts,
}

/// Everything in the store, for moving machines or archiving.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Export {
    /// Always [`EXPORT_FORMAT`].
    pub format: String,
    /// [`EXPORT_FORMAT_VERSION`].
    pub format_version: u32,
    /// Stepdown version that wrote it.
    pub stepdown_version: String,
    /// Schema version of the store exported.
    pub schema_version: i64,
    /// When.
    pub exported_at: DateTime<Utc>,
    /// Record counts, to check the export is complete.
    pub counts: Counts,
    /// Settings.
    pub settings: Settings,
    /// Patients with their reviews.
    pub patients: Vec<ExportPatient>,
    /// The audit log, oldest first (including this export).
    pub audit_log: Vec<AuditEntry>,
    /// The head of the audit log (entries, newest id and hash) after this
    /// export's own entry, to compare with the store later.
    #[serde(default)]
    pub audit_head: Option<AuditHead>,
    /// Case-finding data (imports, extract patients, texts, issued items,
    /// summaries, state): every `cf_` table, column names and rows as stored.
    #[serde(default)]
    pub casefinding: std::collections::BTreeMap<String, ExportTable>,
}

/// A table exported as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportTable {
    /// Column names.
    pub columns: Vec<String>,
    /// Rows, in rowid order; values as JSON (blobs as lower-case hex).
    pub rows: Vec<Vec<serde_json::Value>>,
}

/// A patient and all their reviews.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportPatient {
    /// The patient.
    #[serde(flatten)]
    pub patient: Patient,
    /// Reviews, oldest first.
    pub reviews: Vec<ExportReview>,
}

/// A review with every version and every leaflet printed from it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportReview {
    /// The review id.
    pub review_id: i64,
    /// Every saved version, oldest first.
    pub versions: Vec<Review>,
    /// Leaflets printed, oldest first.
    pub leaflet_prints: Vec<LeafletPrint>,
    /// Follow-ups of the review, oldest first.
    #[serde(default)]
    pub follow_ups: Vec<super::followups::FollowUp>,
    /// Entries kept from saves refused because another seat saved first,
    /// oldest first, each whole (absent in exports written before drafts
    /// were exported: read as none).
    #[serde(default)]
    pub drafts: Vec<super::drafts::ReviewDraft>,
}

impl Store {
    /// Copies the whole store to `dest` with SQLite's online backup API: a
    /// consistent snapshot even while the app or another process is
    /// writing. The copy is a single self-contained file, checked after
    /// writing; it is written under a temporary name and renamed, so `dest`
    /// is complete or absent. Refuses to replace an existing file unless
    /// `overwrite`. Recorded in the audit log as an export.
    pub fn backup_to(
        &mut self,
        dest: &Path,
        actor: &str,
        overwrite: bool,
    ) -> StoreResult<BackupReport> {
        let actor = clean_actor(actor)?;
        if same_file(dest, &self.path) {
            return Err(StoreError::invalid(
                "out",
                "is the database itself; choose another file for the backup",
            ));
        }
        // The copy is made under a temporary name, then the audit entry and
        // the move into place happen as one outcome: if the entry cannot be
        // written (busy, disk full) the copy is removed, and if the move
        // fails the entry is rolled back. A failed backup leaves neither a
        // copy of patient data nor an entry claiming one.
        let copy = file::backup_connection_to_temp(self.sqlite_only("backup")?, dest, overwrite)?;
        let size = copy.size;
        let (schema_version, counts, audit_head) = {
            let conn = Conn::Sqlite(file::open_inspect(copy.path())?);
            let v = super::schema_version_of(&conn)?;
            (v, Counts::read(&conn)?, audit::read_head(&conn)?)
        };
        let bytes = std::fs::read(copy.path())
            .map_err(|e| file::classify_io(dest, e, "cannot read the backup back"))?;
        let sha256 = super::leaflets::sha256_hex(&bytes);
        drop(bytes);
        let placed = std::cell::Cell::new(false);
        let head_text = match &audit_head {
            Some(h) => format!(
                "; audit head {} entries to entry {}, hash {}",
                h.entries,
                h.last_id,
                h.chain_hash.as_deref().unwrap_or("none")
            ),
            None => String::new(),
        };
        let written = self.write(|tx, now| {
            audit::append(
                tx,
                now,
                &actor,
                AuditAction::Export,
                AuditEntity::Store,
                None,
                None,
                &format!(
                    "backup written to {} ({size} bytes, {} patient(s), sha256 {sha256}{head_text})",
                    dest.display(),
                    counts.patients
                ),
            )?;
            copy.place()?;
            placed.set(true);
            Ok(())
        });
        if let Err(e) = written {
            if placed.get() {
                // The entry did not commit: the copy must not stay either.
                let _ = std::fs::remove_file(dest);
            }
            return Err(e);
        }
        Ok(BackupReport {
            path: dest.display().to_string(),
            size_bytes: size,
            schema_version,
            counts,
            sha256,
            audit_head,
        })
    }

    /// Replaces the store's contents with the backup at `from`, while open.
    ///
    /// The backup is validated first (a Stepdown database this version can
    /// read, passing SQLite's integrity and foreign-key checks); nothing is
    /// changed if it fails. The current contents are then copied to
    /// `<db>.pre-restore-<timestamp>` before being replaced. A backup from
    /// an older schema is migrated after restoring. `from` is never modified.
    pub fn restore_from(&mut self, from: &Path, actor: &str) -> StoreResult<RestoreReport> {
        let actor = clean_actor(actor)?;
        let backup_version = validate_backup(from)?;
        if same_file(from, &self.path) {
            return Err(StoreError::invalid(
                "from",
                "is the database itself; choose a backup file",
            ));
        }
        let now = self.clock.now();
        let keep = unused_sibling(&self.path, &format!(".pre-restore-{}", file_stamp(now)));
        backup_connection_to_file(self.sqlite_only("restore")?, &keep, false)?;
        self.replace_contents_from(from)?;
        Ok(RestoreReport {
            previous_copy: Some(keep.display().to_string()),
            ..self.finish_restore(from, backup_version, &actor)?
        })
    }

    /// Copies every page of `from` into this database in one write
    /// transaction (the backup API writing to the open connection), so other
    /// connections see either the old or the new contents, never a mixture.
    fn replace_contents_from(&mut self, from: &Path) -> StoreResult<()> {
        let src = file::open_inspect(from)?;
        let conn = self.sqlite_only_mut("restore")?;
        conn.flush_prepared_statement_cache();
        {
            let backup = Backup::new(&src, conn)?;
            let mut waited = Duration::ZERO;
            loop {
                match backup.step(-1)? {
                    StepResult::Done => break,
                    StepResult::More => {}
                    _ => {
                        if waited >= super::DEFAULT_BUSY_TIMEOUT {
                            return Err(StoreError::Busy);
                        }
                        std::thread::sleep(Duration::from_millis(20));
                        waited += Duration::from_millis(20);
                    }
                }
            }
        }
        // Backups are written in rollback-journal mode; the store runs in WAL.
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get::<_, String>(0))?;
        Ok(())
    }

    fn finish_restore(
        &mut self,
        from: &Path,
        backup_version: i64,
        actor: &str,
    ) -> StoreResult<RestoreReport> {
        migrations::migrate(self.sqlite_only_mut("restore")?, migrations::MIGRATIONS)?;
        let from_text = from.display().to_string();
        self.write(|tx, now| {
            audit::append(
                tx,
                now,
                actor,
                AuditAction::Restore,
                AuditEntity::Store,
                None,
                None,
                &format!("restored from backup {from_text} (schema version {backup_version})"),
            )
        })?;
        Ok(RestoreReport {
            path: self.path.display().to_string(),
            restored_from: from_text,
            previous_copy: None,
            backup_schema_version: backup_version,
            schema_version: self.schema_version()?,
            counts: self.counts()?,
        })
    }

    /// Everything in the store as one document, read in one transaction so
    /// it is consistent. Recorded in the audit log as an export (the entry
    /// is included in the document).
    pub fn export_all(&mut self, actor: &str) -> StoreResult<Export> {
        self.export_with(actor, Ok)
    }

    /// [`Store::export_all`], handing the document to `deliver` (write the
    /// file, print it) inside the transaction that records the export: if
    /// delivery fails, the audit entry is rolled back, so the log never
    /// claims an export that was not written.
    pub fn export_with<T>(
        &mut self,
        actor: &str,
        deliver: impl FnOnce(Export) -> StoreResult<T>,
    ) -> StoreResult<T> {
        let actor = clean_actor(actor)?;
        // A write transaction: the audit entry and the snapshot it describes are one.
        self.write(|tx, now| {
            audit::append(
                tx,
                now,
                &actor,
                AuditAction::Export,
                AuditEntity::Store,
                None,
                None,
                "full export as JSON",
            )?;
            let counts = Counts::read(tx)?;
            let settings = super::settings::read(tx)?;
            let schema_version = super::schema_version_of(tx)?;
            let mut patients = Vec::new();
            let mut stmt = tx.prepare(&format!(
                "SELECT {} FROM patients p ORDER BY p.id",
                super::patients::COLUMNS
            ))?;
            for p in stmt.query_map((), super::patients::from_row)? {
                let patient = p??;
                let mut reviews = Vec::new();
                let mut rstmt =
                    tx.prepare_cached("SELECT id FROM reviews WHERE patient_id = ?1 ORDER BY id")?;
                let ids = rstmt
                    .query_map([patient.id], |r| r.get::<i64>(0))?
                    .collect::<Result<Vec<_>, _>>()?;
                for review_id in ids {
                    reviews.push(ExportReview {
                        review_id,
                        versions: super::reviews::all_versions_of_review(tx, review_id)?,
                        leaflet_prints: super::leaflets::for_review(tx, review_id)?,
                        follow_ups: super::followups::for_review(tx, review_id)?,
                        drafts: super::drafts::for_review(tx, review_id)?,
                    });
                }
                patients.push(ExportPatient { patient, reviews });
            }
            let mut astmt = tx.prepare(&format!(
                "SELECT {} FROM audit_log ORDER BY id",
                audit::COLUMNS
            ))?;
            let audit_log = audit::collect(astmt.query_map((), audit::from_row)?)?;
            let audit_head = audit::read_head(tx)?;
            let casefinding = export_casefinding(tx)?;
            deliver(Export {
                format: EXPORT_FORMAT.into(),
                format_version: EXPORT_FORMAT_VERSION,
                stepdown_version: env!("CARGO_PKG_VERSION").into(),
                schema_version,
                exported_at: now,
                counts,
                settings,
                patients,
                audit_log,
                audit_head,
                casefinding,
            })
        })
    }
}

/// Every case-finding table (`cf_` prefix, whatever migrations add), as stored.
fn export_casefinding(conn: &Conn) -> StoreResult<std::collections::BTreeMap<String, ExportTable>> {
    let names: Vec<String> = match conn.backend() {
        Backend::Sqlite => conn.prepare(
            "SELECT name FROM sqlite_schema WHERE type = 'table' AND name LIKE 'cf\\_%' ESCAPE '\\'
             ORDER BY name",
        )?,
        Backend::Postgres => conn.prepare(
            "SELECT table_name::text FROM information_schema.tables
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'
               AND table_name LIKE 'cf\\_%' ESCAPE '\\'
             ORDER BY table_name",
        )?,
    }
    .query_map((), |r| r.get(0))?
    .collect::<Result<_, _>>()?;
    let mut out = std::collections::BTreeMap::new();
    for name in names {
        // Rows of an import not yet published (under way, or stopped
        // part-way) are not part of the store's content (migration 8).
        let only_published = match name.as_str() {
            "cf_imports" => " WHERE published = 1",
            "cf_issues" => {
                " WHERE import_id IN (SELECT id FROM cf_imports WHERE published = 1)"
            }
            "cf_patients" => {
                " WHERE id < coalesce((SELECT min(first_patient_id) FROM cf_imports WHERE published = 0), 9e18)"
            }
            "cf_texts" => {
                " WHERE id < coalesce((SELECT min(first_text_id) FROM cf_imports WHERE published = 0), 9e18)"
            }
            _ => "",
        };
        let columns: Vec<String> = match conn.backend() {
            Backend::Sqlite => {
                conn.prepare("SELECT name FROM pragma_table_info(?1) ORDER BY cid")?
            }
            Backend::Postgres => conn.prepare(
                "SELECT column_name::text FROM information_schema.columns
                 WHERE table_schema = current_schema() AND table_name = ?1
                 ORDER BY ordinal_position",
            )?,
        }
        .query_map([name.as_str()], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
        let quote = |n: &str| format!("\"{}\"", n.replace('"', "\"\""));
        // Names come from the schema and are quoted: never user text.
        let list: Vec<String> = columns.iter().map(|c| quote(c)).collect();
        let mut stmt = conn.prepare(&format!(
            "SELECT {} FROM {}{only_published}",
            list.join(", "),
            quote(&name)
        ))?;
        let width = columns.len();
        let mut rows = Vec::new();
        let mut q = stmt.query(())?;
        while let Some(r) = q.next()? {
            let mut row = Vec::with_capacity(width);
            for i in 0..width {
                row.push(match r.value(i)? {
                    Value::Null => serde_json::Value::Null,
                    Value::Integer(n) => serde_json::Value::from(n),
                    Value::Real(x) => serde_json::Value::from(x),
                    Value::Text(t) => serde_json::Value::from(t),
                    Value::Blob(b) => serde_json::Value::from(
                        b.iter().map(|x| format!("{x:02x}")).collect::<String>(),
                    ),
                });
            }
            rows.push(row);
        }
        out.insert(name, ExportTable { columns, rows });
    }
    Ok(out)
}

/// Checks that `from` is a Stepdown database this build can restore;
/// returns its schema version. Reads only.
fn validate_backup(from: &Path) -> StoreResult<i64> {
    let bad = |reason: String| StoreError::BadBackup {
        path: from.to_path_buf(),
        reason,
    };
    let report = match check_file(from) {
        Ok(r) => r,
        Err(StoreError::Missing { .. }) => return Err(bad("no such file".into())),
        Err(e) => {
            // The error names the file already; the BadBackup message does too.
            let text = e.to_string();
            let prefix = format!("{}: ", from.display());
            return Err(bad(text.strip_prefix(&prefix).unwrap_or(&text).to_string()));
        }
    };
    if report.schema_version == 0 {
        return Err(bad("it is empty (no Stepdown data)".into()));
    }
    if !report.ok {
        return Err(bad(report.problems.join("; ")));
    }
    Ok(report.schema_version)
}

/// True when both paths name the same existing file.
fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

/// Restores the database at `db` from the backup at `from`, for when the
/// store is not open (the CLI). The backup is validated first. If `db`
/// opens normally, the contents are replaced as [`Store::restore_from`]
/// does. If `db` is itself unusable (damaged, not SQLite, from a newer
/// version), it is moved aside, with its `-wal`/`-shm` files, to
/// `<db>.pre-restore-<timestamp>`, never deleted, and a fresh database is
/// written from the backup. A missing `db` is created.
pub fn restore_file(
    db: &Path,
    from: &Path,
    options: OpenOptions,
    actor: &str,
) -> StoreResult<RestoreReport> {
    if db.to_str().is_some_and(super::db::is_pg_url) {
        return Err(super::not_on_server("restore"));
    }
    let actor = clean_actor(actor)?;
    let backup_version = validate_backup(from)?;
    if same_file(from, db) {
        return Err(StoreError::invalid(
            "from",
            "is the database itself; choose a backup file",
        ));
    }
    let existed = db.exists();
    let opened = Store::open_with(
        db,
        OpenOptions {
            create: true,
            ..options.clone()
        },
    );
    match opened {
        Ok(mut store) => {
            if existed && store.opened_at_version() > 0 {
                store.restore_from(from, &actor)
            } else {
                // Nothing there before: no previous copy to keep.
                store.replace_contents_from(from)?;
                store.finish_restore(from, backup_version, &actor)
            }
        }
        Err(
            StoreError::NotADatabase { .. }
            | StoreError::Corrupt { .. }
            | StoreError::Foreign { .. }
            | StoreError::NewerVersion { .. }
            | StoreError::BadRecord { .. },
        ) => {
            let now = options.clock.now();
            let keep = unused_sibling(db, &format!(".pre-restore-{}", file_stamp(now)));
            move_aside(db, &keep)?;
            let mut store = Store::open_with(
                db,
                OpenOptions {
                    create: true,
                    ..options
                },
            )?;
            store.replace_contents_from(from)?;
            Ok(RestoreReport {
                previous_copy: Some(keep.display().to_string()),
                ..store.finish_restore(from, backup_version, &actor)?
            })
        }
        Err(e) => Err(e),
    }
}

/// Renames a database and its `-wal`/`-shm` companions to `keep` (same
/// folder, so a rename: nothing is copied or lost).
fn move_aside(db: &Path, keep: &Path) -> StoreResult<()> {
    for suffix in ["-wal", "-shm"] {
        let from = file::sibling(db, suffix);
        if from.exists() {
            let to: PathBuf = file::sibling(keep, suffix);
            std::fs::rename(&from, &to)
                .map_err(|e| file::classify_io(&from, e, "cannot move the old file aside"))?;
        }
    }
    std::fs::rename(db, keep)
        .map_err(|e| file::classify_io(db, e, "cannot move the old database aside"))?;
    file::sync_parent(db);
    Ok(())
}
