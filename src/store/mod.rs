//! The local store: patients, reviews (append-only versions), printed
//! leaflets, settings and an audit log, in one SQLite file on this machine.
//!
//! Design, and why:
//! - One [`Store`] owns one read-write connection. It is `Send`, so the
//!   desktop shell opens it once and keeps it behind a `Mutex`; the CLI opens
//!   it per command. Other processes may use the same file at the same time:
//!   WAL mode lets readers run beside a writer, every write takes the write
//!   lock up front (`BEGIN IMMEDIATE`) and waits up to the busy timeout for it,
//!   so two writers queue instead of failing half-way.
//! - Durability beats speed: `synchronous = FULL`, so a save that has
//!   returned survives a crash or power cut, not just a killed process.
//! - Every write, however many rows it touches, is one transaction, and
//!   appends its audit entry inside that same transaction: there is never a
//!   change without its audit entry, or an audit entry without its change.
//! - Clinical documents (patient context, regimen, computed result, plan) are
//!   stored as validated JSON, because their Rust types are still evolving; a
//!   few summary columns (total OME, flag ids, profile, reference version)
//!   are derived from them for listing.
//! - A file that is unreadable, not SQLite, damaged, or from a newer Stepdown
//!   is inspected read-only and refused with a clear message; it is never
//!   modified. Before migrating an older non-empty database a copy is kept.
//! - Time comes from an injectable [`Clock`] so tests are deterministic.

mod audit;
mod backup;
pub(crate) mod casefinding;
mod check;
mod check_seats;
pub mod choice;
mod claims;
pub mod db;
mod demo;
mod drafts;
mod file;
mod followups;
mod leaflets;
mod migrate;
mod migrate_merge;
pub mod migrations;
pub mod migrations_pg;
mod patient_lookup;
mod patients;
mod practice_details;
mod practices;
mod refusal;
mod reviews;
mod settings;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};

pub use crate::record::ReviewInput;
pub use audit::{
    chain_hash, list_audit_file, verify_audit_file, AuditAction, AuditEntity, AuditEntry,
    AuditHead, AuditListEntry, AuditQuery, AuditVerifyReport, BrokenLink, ChainContent,
    ChainProblem, AUDIT_CHAIN_GENESIS,
};
pub use backup::{
    restore_file, BackupReport, Export, ExportPatient, ExportReview, ExportTable, RestoreReport,
    EXPORT_FORMAT, EXPORT_FORMAT_VERSION,
};
pub use check::{check_file, CheckReport, Counts};
pub(crate) use claims::for_patients as claims_for;
pub use claims::{ClaimStatus, WorklistClaim};
pub use demo::{ComputeFn, DemoReport, FollowUpFn};
pub use drafts::ReviewDraft;
pub use followups::FollowUp;
pub use leaflets::{sha256_hex, LeafletPrint};
pub use migrate::{migrate_store, MigrateReport, MigratedHead, TableCopied};
pub use migrate_merge::{IdOffset, Merged};
pub use patients::{Patient, PatientInput, PatientSummary};
pub use practice_details::{PracticeContact, PracticeContactInput, PracticeContacts};
pub use practices::Practice;
pub use refusal::{Denied, DeniedKind};
pub use reviews::{Review, ReviewSummary};
pub use settings::Settings;

/// Tauri's bundle identifier for the app; its app data directory is named after it.
pub const APP_IDENTIFIER: &str = "uk.nhs.stepdown";
/// File name of the store inside the data directory.
pub const DB_FILE_NAME: &str = "stepdown.db";
/// Environment variable that overrides the store location (after `--db`).
pub const DB_ENV_VAR: &str = "STEPDOWN_DB";
/// Written into the SQLite header (`PRAGMA application_id`) so a Stepdown
/// database can be told apart from any other SQLite file: ASCII "STPD".
pub const APPLICATION_ID: i32 = 0x5354_5044;
/// How long a write waits for another process's write to finish by default.
pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Everything that can go wrong in the store. Messages are written for the
/// person using the app: they say what happened, whether anything was lost,
/// and what to do.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A value failed validation; `field` names it (`nhs_number`, `result.flags[2].id`).
    #[error("{field}: {message}")]
    Invalid {
        /// Field path.
        field: String,
        /// What is wrong, with the offending value where useful.
        message: String,
    },
    /// The record asked for does not exist.
    #[error("{entity} {id} not found")]
    NotFound {
        /// Kind of record (`patient`, `review`, `review 4 version`…).
        entity: String,
        /// Its id.
        id: i64,
    },
    /// The database file does not exist (and the operation does not create one).
    #[error("{}: no such file; there is no Stepdown database there", .path.display())]
    Missing {
        /// The path.
        path: PathBuf,
    },
    /// The file (or its folder) cannot be read.
    #[error("{}: cannot read the file ({source})", .path.display())]
    Unreadable {
        /// The path.
        path: PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// The file is not an SQLite database at all.
    #[error("{}: not a Stepdown database: {detail}. The file has not been changed.", .path.display())]
    NotADatabase {
        /// The path.
        path: PathBuf,
        /// What was found instead.
        detail: String,
    },
    /// The file is SQLite but damaged (truncated, or failing SQLite's checks).
    #[error(
        "{}: the database is damaged ({detail}). The file has not been changed; \
         restore the latest backup with `stepdown restore`.",
        .path.display()
    )]
    Corrupt {
        /// The path.
        path: PathBuf,
        /// SQLite's finding.
        detail: String,
    },
    /// The file is an SQLite database belonging to some other program.
    #[error(
        "{}: an SQLite database, but not a Stepdown one. The file has not been changed.",
        .path.display()
    )]
    Foreign {
        /// The path.
        path: PathBuf,
    },
    /// The file was written by a newer Stepdown with a schema this one does not know.
    #[error(
        "{}: written by a newer version of Stepdown (database schema version {found}; \
         this version understands up to {supported}). Update Stepdown to open it. \
         The file has not been changed.",
        .path.display()
    )]
    NewerVersion {
        /// The path.
        path: PathBuf,
        /// Schema version in the file.
        found: i64,
        /// Latest schema version this build knows.
        supported: i64,
    },
    /// The file, its folder or the disk cannot be written.
    #[error("{}: {detail}", .path.display())]
    ReadOnly {
        /// The path.
        path: PathBuf,
        /// Which of those, and what to do.
        detail: String,
    },
    /// The database cannot work in this location (e.g. a network share without WAL support).
    #[error("{}: cannot use the database here: {detail}", .path.display())]
    Unusable {
        /// The path.
        path: PathBuf,
        /// Why.
        detail: String,
    },
    /// A write was refused because the database became read-only after opening.
    #[error(
        "the database cannot be written (read-only file, folder or disk); \
         the change was not saved: {0}"
    )]
    WriteRefused(String),
    /// Another process held the write lock for longer than the busy timeout.
    #[error(
        "the database is busy: another Stepdown window or process is saving. \
         Nothing was changed; try again in a moment."
    )]
    Busy,
    /// The disk (or the database's size limit) is full.
    #[error(
        "the disk is full: the change was not saved (everything saved before is intact). \
         Free some disk space and try again."
    )]
    DiskFull,
    /// Reading or writing the database file failed at the operating system
    /// (a disk full in a way SQLite cannot tell, a removed drive, a failing disk).
    #[error(
        "the database file could not be read or written (the disk may be full, \
         removed or failing); the change was not saved and everything saved before \
         is intact. Check the disk and try again. ({0})"
    )]
    DiskIo(String),
    /// A file that an operation would create already exists.
    #[error("{}: already exists; choose another file name", .path.display())]
    AlreadyExists {
        /// The path.
        path: PathBuf,
    },
    /// Demo patients were requested for a store that already holds patients.
    #[error(
        "demo patients can only be loaded into an empty store; this one already has \
         {patients} patient(s)"
    )]
    NotEmpty {
        /// How many patients there are.
        patients: i64,
    },
    /// The file given to restore from is not a usable Stepdown backup.
    #[error("{}: cannot restore from this file: {reason}", .path.display())]
    BadBackup {
        /// The path.
        path: PathBuf,
        /// Why (names the check that failed).
        reason: String,
    },
    /// A stored record could not be read back (damaged data inside a sound file).
    #[error("stored {what} is damaged: {detail}; run `stepdown check`")]
    BadRecord {
        /// Which record.
        what: String,
        /// What is wrong.
        detail: String,
    },
    /// A file operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, with the path.
        context: String,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// No home directory, so no default location for the store.
    #[error(
        "cannot find this user's data directory for the default store location; \
         give one with --db or {DB_ENV_VAR}"
    )]
    NoDataDir,
    /// A table or column Stepdown made is not there: the file was changed
    /// outside Stepdown (a table dropped by hand, a copy of another program's
    /// file). `stepdown check` names what is missing.
    #[error(
        "the database is missing part of what Stepdown stores ({0}): it was changed outside \
         Stepdown. Nothing was changed; run `stepdown check` to see what is wrong, and restore \
         the latest backup with `stepdown restore`."
    )]
    MissingStructure(String),
    /// Another seat changed the record first: the review has a newer version
    /// than the one the save started from (the entry was kept as a draft, in
    /// the same transaction as the refusal), or the worklist patient is held
    /// by someone else. The details say who and when.
    #[error("{}", conflict_message(.0))]
    Conflict(Box<crate::api_error::Conflict>),
    /// Any other SQLite failure (a bug or an unusual environment).
    #[error("database error: {0}")]
    Sqlite(#[source] rusqlite::Error),
    /// The PostgreSQL server of a team store cannot be reached (down, a
    /// wrong address, the network, a database that does not exist).
    #[error(
        "cannot reach the PostgreSQL server at {server}: {detail}. Nothing was changed; \
         check the store address and the network, and try again."
    )]
    ServerUnreachable {
        /// The store address, without any password.
        server: String,
        /// The client's or server's reason.
        detail: String,
    },
    /// The secure connection to the server failed: its certificate was not
    /// signed by a trusted CA or is not for the host named (`verify-ca`,
    /// `verify-full`), it offers no TLS, or it accepts only TLS and the
    /// address said `sslmode=disable`.
    #[error(
        "the secure (TLS) connection to the PostgreSQL server at {server} failed: {detail}. \
         Nothing was changed; check sslmode and sslrootcert in the store address, or ask the \
         store's administrator."
    )]
    TlsRefused {
        /// The store address, without any password.
        server: String,
        /// What failed, in words, then the TLS library's own reason.
        detail: String,
    },
    /// The server refused the seat's sign-in.
    #[error(
        "the PostgreSQL server at {server} refused the sign-in: {detail}. Check the role \
         name and password in the store address, or ask the store's administrator."
    )]
    AuthenticationFailed {
        /// The store address, without any password.
        server: String,
        /// The server's reason.
        detail: String,
    },
    /// The server refused an operation to this seat's role: a missing grant,
    /// or row-level security (a record of a practice the seat is not
    /// assigned to). The message says which record, which seat and whom to
    /// ask, never the server's SQL.
    #[error("{0}")]
    PermissionDenied(Box<Denied>),
    /// A unique key refused a second record with the same value (on the
    /// server: another seat may have saved it first).
    #[error(
        "{} is already in the store (another seat or window may have saved it first). \
         Nothing was changed; open the existing record instead",
        refusal::duplicate_words(.key)
    )]
    Duplicate {
        /// The constraint (the server's name, or SQLite's `table.column`);
        /// read for the words, not shown.
        key: String,
    },
    /// The server stopped a transaction that collided with another seat's
    /// (a serialization failure or a deadlock); nothing of it was kept.
    #[error(
        "another seat changed the same records at the same moment ({0}). Nothing was \
         changed; try again."
    )]
    Serialization(String),
    /// Any other failure reported by the PostgreSQL server.
    #[error("database server error: {0}")]
    Postgres(String),
    /// The store's SQL executor could not read a value or was misused (a bug).
    #[error("database error: {0}")]
    Database(String),
}

/// Result type of the store.
pub type StoreResult<T> = Result<T, StoreError>;

impl StoreError {
    /// True when the error is about what the user supplied (a value, a file
    /// or a path), as opposed to a failure of the machine or a bug. The CLI
    /// exits 2 for these.
    pub fn is_user_error(&self) -> bool {
        use StoreError::*;
        matches!(
            self,
            Invalid { .. }
                | NotFound { .. }
                | Missing { .. }
                | Unreadable { .. }
                | NotADatabase { .. }
                | Corrupt { .. }
                | Foreign { .. }
                | NewerVersion { .. }
                | ReadOnly { .. }
                | Unusable { .. }
                | WriteRefused(_)
                | AlreadyExists { .. }
                | NotEmpty { .. }
                | BadBackup { .. }
                | NoDataDir
                | ServerUnreachable { .. }
                | TlsRefused { .. }
                | AuthenticationFailed { .. }
                | PermissionDenied(_)
                | Duplicate { .. }
        )
    }

    pub(crate) fn invalid(field: impl Into<String>, message: impl Into<String>) -> StoreError {
        StoreError::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }

    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> StoreError {
        StoreError::Io {
            context: context.into(),
            source,
        }
    }
}

impl From<rusqlite::Error> for StoreError {
    /// Classifies SQLite failures that the user can act on; the rest stay `Sqlite`.
    fn from(e: rusqlite::Error) -> Self {
        use rusqlite::ffi::ErrorCode as C;
        // SQLITE_IOERR_SHMSIZE: the WAL index could not grow, which on a
        // full disk is how a write fails ("disk I/O error 4874" before).
        const IOERR_SHMSIZE: std::os::raw::c_int = rusqlite::ffi::SQLITE_IOERR_SHMSIZE;
        if e.sqlite_error()
            .is_some_and(|f| f.extended_code == IOERR_SHMSIZE)
        {
            return StoreError::DiskFull;
        }
        // A statement naming a table or column the file does not have: the
        // schema was changed outside Stepdown ("internal error: no such
        // table" before).
        if let rusqlite::Error::SqliteFailure(_, Some(msg)) = &e {
            if msg.starts_with("no such table") || msg.starts_with("no such column") {
                return StoreError::MissingStructure(msg.clone());
            }
        }
        // A unique key refusing a second record, as the server's 23505.
        if let rusqlite::Error::SqliteFailure(f, Some(msg)) = &e {
            if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
            {
                return StoreError::Duplicate {
                    key: refusal::sqlite_unique_key(msg),
                };
            }
        }
        match e.sqlite_error_code() {
            Some(C::DatabaseBusy | C::DatabaseLocked) => StoreError::Busy,
            Some(C::DiskFull) => StoreError::DiskFull,
            Some(C::SystemIoFailure) => StoreError::DiskIo(e.to_string()),
            Some(C::ReadOnly) => StoreError::WriteRefused(e.to_string()),
            Some(C::DatabaseCorrupt | C::NotADatabase) => StoreError::BadRecord {
                what: "data".into(),
                detail: e.to_string(),
            },
            _ => StoreError::Sqlite(e),
        }
    }
}

impl From<db::Error> for StoreError {
    fn from(e: db::Error) -> Self {
        match e {
            db::Error::Sqlite(e) => StoreError::from(e),
            // Connection failures name the address where it is known (open, connect).
            db::Error::Pg(e) => db::classify_pg(&e, "the team store"),
            // As rusqlite reported it before the executor.
            db::Error::NoRows => StoreError::Sqlite(rusqlite::Error::QueryReturnedNoRows),
            e @ (db::Error::Conversion { .. } | db::Error::Usage(_)) => {
                StoreError::Database(e.to_string())
            }
        }
    }
}

/// A conflict in words: who got there first, when, and what was kept.
fn conflict_message(c: &crate::api_error::Conflict) -> String {
    use crate::api_error::Conflict;
    let at = |t: &DateTime<Utc>| t.format("%Y-%m-%d %H:%M UTC").to_string();
    match c {
        Conflict::Review(r) => format!(
            "review {} was saved as version {} by {} at {}, after you started from version {}: \
             your entry was not saved over it and is kept as draft {}; reapply it on the \
             latest version or discard it",
            r.review_id,
            r.latest_version,
            r.saved_by,
            at(&r.saved_at),
            r.base_version,
            r.draft_id
        ),
        Conflict::Claim(c) => format!(
            "worklist patient {} is held by {} since {}: nothing was changed; ask them to \
             release it",
            c.patient_id,
            c.holder,
            at(&c.claimed_at)
        ),
    }
}

impl From<StoreError> for crate::ApiError {
    fn from(e: StoreError) -> Self {
        use crate::ErrorCode;
        if let StoreError::Conflict(c) = e {
            let message = conflict_message(&c);
            return crate::ApiError::conflict(*c, message);
        }
        if let StoreError::Invalid { field, message } = e {
            // With its field path, so the UI can show it beside the field.
            return crate::ApiError::invalid_fields(vec![crate::input::FieldError::new(
                field, message,
            )]);
        }
        let code = match &e {
            StoreError::NotFound { .. } => ErrorCode::NotFound,
            StoreError::PermissionDenied(_) => ErrorCode::PermissionDenied,
            StoreError::Duplicate { .. } => ErrorCode::Duplicate,
            StoreError::NotEmpty { .. }
            | StoreError::AlreadyExists { .. }
            | StoreError::BadBackup { .. } => ErrorCode::InvalidInput,
            _ => ErrorCode::Storage,
        };
        crate::ApiError::new(code, e.to_string())
    }
}

/// Source of "now" for timestamps. The store never reads the system clock
/// directly, so tests and the benchmark can fix time.
pub trait Clock: Send + Sync {
    /// The current instant.
    fn now(&self) -> DateTime<Utc>;
}

/// The real clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A deterministic clock for tests: starts at a given instant and moves on
/// by a fixed step each time it is read (so successive records get distinct,
/// ordered timestamps), or only when told to.
#[derive(Debug)]
pub struct ManualClock {
    millis: AtomicI64,
    step_millis: i64,
}

impl ManualClock {
    /// A clock that always reads `start` until [`ManualClock::advance`]d.
    pub fn fixed(start: DateTime<Utc>) -> ManualClock {
        ManualClock::stepping(start, Duration::ZERO)
    }

    /// A clock that reads `start`, then `start + step`, and so on.
    pub fn stepping(start: DateTime<Utc>, step: Duration) -> ManualClock {
        ManualClock {
            millis: AtomicI64::new(start.timestamp_millis()),
            step_millis: i64::try_from(step.as_millis()).unwrap_or(i64::MAX),
        }
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        let by = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.millis.fetch_add(by, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        let ms = self.millis.fetch_add(self.step_millis, Ordering::SeqCst);
        DateTime::from_timestamp_millis(ms).unwrap_or_default()
    }
}

/// How to open a store.
#[derive(Clone)]
pub struct OpenOptions {
    /// Create the file (and its folder) when it does not exist. Off for
    /// commands that only read or copy an existing store (`check`, `backup`).
    pub create: bool,
    /// How long a write waits for another process's write lock.
    pub busy_timeout: Duration,
    /// Where timestamps come from.
    pub clock: Arc<dyn Clock>,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions {
            create: true,
            busy_timeout: DEFAULT_BUSY_TIMEOUT,
            clock: Arc::new(SystemClock),
        }
    }
}

impl std::fmt::Debug for OpenOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenOptions")
            .field("create", &self.create)
            .field("busy_timeout", &self.busy_timeout)
            .finish_non_exhaustive()
    }
}

/// The platform data directory location of the store, the same folder as
/// Tauri's `app_data_dir()` for identifier `uk.nhs.stepdown`:
/// `~/.local/share/uk.nhs.stepdown/stepdown.db` on Linux (or under
/// `$XDG_DATA_HOME`), `~/Library/Application Support/uk.nhs.stepdown/` on
/// macOS, `%APPDATA%\uk.nhs.stepdown\` on Windows.
pub fn default_db_path() -> StoreResult<PathBuf> {
    // Tauri computes app_data_dir as `dirs::data_dir()/<identifier>`;
    // `BaseDirs::data_dir` is the same lookup (both are dirs-sys underneath).
    // `ProjectDirs` would not match: it builds its own folder names.
    let base = directories::BaseDirs::new().ok_or(StoreError::NoDataDir)?;
    Ok(base.data_dir().join(APP_IDENTIFIER).join(DB_FILE_NAME))
}

/// Where the store is: `explicit` (from `--db`) if given, else the
/// `STEPDOWN_DB` environment variable if set and non-empty, else
/// [`default_db_path`].
pub fn resolve_db_path(explicit: Option<&Path>) -> StoreResult<PathBuf> {
    if let Some(p) = explicit {
        return Ok(p.to_path_buf());
    }
    match std::env::var_os(DB_ENV_VAR) {
        Some(v) if !v.is_empty() => Ok(PathBuf::from(v)),
        _ => default_db_path(),
    }
}

/// The operating-system login name, for audit entries when no reviewer name
/// is configured; `"unknown user"` when it cannot be found.
pub fn local_user_name() -> String {
    ["USER", "USERNAME", "LOGNAME"]
        .iter()
        .filter_map(|k| std::env::var(k).ok())
        .map(|v| v.trim().to_string())
        .find(|v| !v.is_empty())
        .unwrap_or_else(|| "unknown user".to_string())
}

/// An open store. Open it once and share it behind a `Mutex` (it is `Send`,
/// not `Sync`); every method is a complete, atomic operation.
pub struct Store {
    conn: db::Conn,
    path: PathBuf,
    clock: Arc<dyn Clock>,
    /// Schema version found when opening, before any migration.
    opened_at_version: i64,
    /// Copy made before migrating, if one was needed.
    pre_migration_copy: Option<PathBuf>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.path)
            .field("opened_at_version", &self.opened_at_version)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens the store at `path`, creating it if needed, with the system clock.
    pub fn open(path: impl AsRef<Path>) -> StoreResult<Store> {
        Store::open_with(path, OpenOptions::default())
    }

    /// Opens an existing store; a missing file is an error rather than created.
    pub fn open_existing(path: impl AsRef<Path>) -> StoreResult<Store> {
        Store::open_with(
            path,
            OpenOptions {
                create: false,
                ..OpenOptions::default()
            },
        )
    }

    /// Opens the store with explicit options.
    ///
    /// The file is first inspected read-only (header, schema version, SQLite's
    /// quick check); anything wrong is reported without touching it. An older
    /// non-empty database is copied to `<db>.bak-v<N>-<timestamp>` before
    /// being migrated.
    pub fn open_with(path: impl AsRef<Path>, options: OpenOptions) -> StoreResult<Store> {
        Store::open_with_migrations(path.as_ref(), options, migrations::MIGRATIONS)
    }

    pub(crate) fn open_with_migrations(
        path: &Path,
        options: OpenOptions,
        migrations: &[migrations::Migration],
    ) -> StoreResult<Store> {
        if let Some(url) = path.to_str().filter(|p| db::is_pg_url(p)) {
            return Store::open_server(&db::PgTarget::parse(url)?, options);
        }
        let latest = migrations::latest_version_of(migrations);
        let state = file::probe(path, options.create, latest, true)?;
        let is_new = matches!(state, file::FileState::New);
        let opened_at_version = state.version();
        let mut pre_migration_copy = None;
        if let file::FileState::Stepdown { version, ro } = state {
            if version < latest {
                let copy = file::copy_before_migration(&ro, path, version, options.clock.now())?;
                pre_migration_copy = Some(copy);
            }
            // Close the read-only inspection connection before writing.
            drop(ro);
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            if !dir.exists() {
                std::fs::create_dir_all(dir).map_err(|e| {
                    file::classify_io(path, e, "cannot create the folder for the database")
                })?;
            }
        }
        if is_new {
            file::create_private(path)?;
        }
        let conn = file::open_read_write(path, options.create, options.busy_timeout)?;
        let mut store = Store {
            conn: db::Conn::Sqlite(conn),
            path: path.to_path_buf(),
            clock: options.clock,
            opened_at_version,
            pre_migration_copy,
        };
        let sqlite = store
            .conn
            .sqlite_mut()
            .ok_or_else(|| StoreError::Database("a SQLite store without SQLite".into()))?;
        migrations::migrate(sqlite, migrations).map_err(|e| match e {
            StoreError::NewerVersion {
                found, supported, ..
            } => StoreError::NewerVersion {
                path: path.to_path_buf(),
                found,
                supported,
            },
            StoreError::WriteRefused(detail) => file::read_only_error(path, &detail),
            other => other,
        })?;
        Ok(store)
    }

    /// Opens the team store on the PostgreSQL server at `target`, migrating
    /// its schema when it is behind this build (which needs the owner's
    /// rights; a seat is told to ask an admin). With `options.create` off,
    /// a server schema with no store yet is refused.
    pub fn open_server(target: &db::PgTarget, options: OpenOptions) -> StoreResult<Store> {
        let server = target.display();
        let mut conn = migrations_pg::connect(target, options.busy_timeout)?;
        let (before, _) = migrations_pg::migrate(
            &mut conn,
            migrations_pg::PG_MIGRATIONS,
            options.create,
            &server,
        )
        .map_err(|e| match e {
            StoreError::PermissionDenied(_) => StoreError::PermissionDenied(Box::new(Denied {
                role: target.user().map(str::to_string),
                ..Denied::new(
                    DeniedKind::SchemaUpdate {
                        server: server.clone(),
                    },
                    "the store's schema",
                )
            })),
            other => other,
        })?;
        Ok(Store {
            conn,
            path: PathBuf::from(server),
            clock: options.clock,
            opened_at_version: before,
            pre_migration_copy: None,
        })
    }

    /// Which database the store is on.
    pub fn backend(&self) -> db::Backend {
        self.conn.backend()
    }

    /// The database file (on PostgreSQL, the server's address without any password).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Schema version of the file when it was opened (0 for a new file).
    pub fn opened_at_version(&self) -> i64 {
        self.opened_at_version
    }

    /// The copy kept before migrating this database on open, if there was one.
    pub fn pre_migration_copy(&self) -> Option<&Path> {
        self.pre_migration_copy.as_deref()
    }

    /// Current schema version of the open database.
    pub fn schema_version(&self) -> StoreResult<i64> {
        schema_version_of(&self.conn)
    }

    /// How the open store's schema differs from the one Stepdown's
    /// migrations made, one sentence a problem (`stepdown check`'s schema
    /// check; empty when sound).
    pub fn schema_problems(&self) -> StoreResult<Vec<String>> {
        let version = self.schema_version()?;
        schema_problems(&self.conn, version)
    }

    /// Sets where SQLite keeps this connection's temporary files
    /// (`PRAGMA temp_store`: `MEMORY` or `DEFAULT`).
    pub(crate) fn set_temp_store(&self, mode: &str) -> StoreResult<()> {
        // PostgreSQL manages its own temporary space.
        if let Some(c) = self.conn.sqlite() {
            c.pragma_update(None, "temp_store", mode)?;
        }
        Ok(())
    }

    /// The clock this store stamps records with.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// On a team store, the PostgreSQL role this connection signed in as
    /// (`session_user`, what the server records as each audit entry's
    /// `db_role`); `None` on a SQLite file, which has no sign-in.
    pub fn signed_in_role(&self) -> StoreResult<Option<String>> {
        if self.backend() != db::Backend::Postgres {
            return Ok(None);
        }
        let role: String = self
            .conn
            .query_row("SELECT session_user::text", (), |r| r.get(0))?;
        Ok(Some(role))
    }

    /// The name a change is recorded under (audit actor, claim holder, a
    /// saved version's reviewer). On a team store it is the role that signed
    /// in, whatever is typed: a typed name (`field` names where it came from,
    /// `--actor` or `reviewer`) is accepted only when blank or that role, and
    /// a different one is refused naming both, rather than recorded as a
    /// name anyone could type. On a SQLite file, the typed name, else
    /// [`Store::default_actor`].
    pub fn seat_name(&self, typed: Option<&str>, field: &str) -> StoreResult<String> {
        let typed = typed.map(str::trim).filter(|t| !t.is_empty());
        let Some(role) = self.signed_in_role()? else {
            return Ok(typed.map_or_else(|| self.default_actor(), str::to_string));
        };
        match typed {
            Some(t) if t != role => Err(StoreError::invalid(
                field,
                format!(
                    "{t:?} is not the role this seat signed in as ({role}): on a team store \
                     every change is recorded under the role that signed in. Leave it out, \
                     give {role}, or sign in as that person's own role"
                ),
            )),
            _ => Ok(role),
        }
    }

    /// The reviewer an entry is saved under: on a team store the role that
    /// signed in ([`Store::seat_name`], field `reviewer`); on a SQLite file
    /// the name as typed (checked with the rest of the entry).
    pub fn seat_reviewer(&self, typed: &str) -> StoreResult<String> {
        if self.backend() == db::Backend::Postgres {
            self.seat_name(Some(typed), "reviewer")
        } else {
            Ok(typed.to_string())
        }
    }

    /// Fills in the role that signed in and the practices it is assigned to
    /// (best effort: a refusal is reported whether or not they can be read).
    fn name_the_seat(&self, denied: &mut Denied) {
        if denied.role.is_none() {
            denied.role = self.signed_in_role().ok().flatten();
        }
        if denied.practices.is_none() && self.backend() == db::Backend::Postgres {
            denied.practices = self
                .conn
                .prepare(
                    "SELECT practice_code FROM seat_practices WHERE role_name = session_user \
                     ORDER BY practice_code",
                )
                .and_then(|mut st| st.query_map((), |r| r.get::<String>(0))?.collect())
                .ok();
        }
    }

    /// Name for audit entries when the caller has none: on a team store the
    /// role that signed in; else the reviewer name from settings if set,
    /// else the operating-system login name.
    pub fn default_actor(&self) -> String {
        if let Ok(Some(role)) = self.signed_in_role() {
            return role;
        }
        match self.settings() {
            Ok(s) if !s.reviewer_name.is_empty() => s.reviewer_name,
            _ => local_user_name(),
        }
    }

    /// Runs `f` in one `BEGIN IMMEDIATE` transaction: the write lock is taken
    /// at the start, so the busy timeout applies there and the transaction
    /// can never fail half-way on a lock upgrade. Rolled back on any error.
    pub(crate) fn write<T>(
        &mut self,
        f: impl FnOnce(&db::Tx<'_>, DateTime<Utc>) -> StoreResult<T>,
    ) -> StoreResult<T> {
        match self.write_once(f) {
            Err(StoreError::PermissionDenied(mut denied)) => {
                // Rolled back by now: say which seat was refused and which
                // practices it works for, so it knows what to ask.
                self.name_the_seat(&mut denied);
                Err(StoreError::PermissionDenied(denied))
            }
            other => other,
        }
    }

    fn write_once<T>(
        &mut self,
        f: impl FnOnce(&db::Tx<'_>, DateTime<Utc>) -> StoreResult<T>,
    ) -> StoreResult<T> {
        let now = self.clock.now();
        let tx = self.conn.transaction_immediate()?;
        if tx.backend() == db::Backend::Postgres {
            // Every write queues on the audit head's row, as SQLite writers
            // queue on BEGIN IMMEDIATE: the audit chain is appended one
            // transaction at a time, and reads inside see every commit
            // before it. Waits up to the lock timeout, then "busy".
            tx.execute("SELECT id FROM audit_head WHERE id = 1 FOR UPDATE", ())?;
        }
        let out = f(&tx, now)?;
        tx.commit()?;
        Ok(out)
    }

    /// The SQLite connection, for what only a SQLite file has (its backup
    /// API, pragmas); on PostgreSQL an error naming `what`.
    pub(crate) fn sqlite_only(&self, what: &str) -> StoreResult<&rusqlite::Connection> {
        self.conn.sqlite().ok_or_else(|| not_on_server(what))
    }

    /// [`Store::sqlite_only`], mutably.
    pub(crate) fn sqlite_only_mut(&mut self, what: &str) -> StoreResult<&mut rusqlite::Connection> {
        self.conn.sqlite_mut().ok_or_else(|| not_on_server(what))
    }

    /// The connection, for tests that run SQL on either backend.
    #[cfg(test)]
    #[allow(dead_code)] // used by the PostgreSQL suite
    pub(crate) fn db(&self) -> &db::Conn {
        &self.conn
    }

    /// The SQLite connection, for tests of what only SQLite has (pragmas,
    /// the file); panics on a PostgreSQL store.
    #[cfg(test)]
    pub(crate) fn conn(&self) -> &rusqlite::Connection {
        self.conn.sqlite().expect("a SQLite store")
    }
}

/// For the read-only commands (`check`, `audit verify`, `audit list`): when
/// `path` is a `postgres://` address, a connection to that server without
/// migrating anything; `None` for a file. A schema with no Stepdown store,
/// or one newer than this build, is refused.
pub(crate) fn connect_server_read(path: &Path) -> StoreResult<Option<db::Conn>> {
    let Some(url) = path.to_str().filter(|p| db::is_pg_url(p)) else {
        return Ok(None);
    };
    let target = db::PgTarget::parse(url)?;
    let conn = migrations_pg::connect(&target, DEFAULT_BUSY_TIMEOUT)?;
    let version = migrations_pg::current_version(&conn)?;
    if version == 0 {
        return Err(StoreError::invalid(
            "db",
            format!("{}: there is no Stepdown store there yet", target.display()),
        ));
    }
    if version > migrations_pg::PG_LATEST_VERSION {
        return Err(StoreError::NewerVersion {
            path: target.display().into(),
            found: version,
            supported: migrations_pg::PG_LATEST_VERSION,
        });
    }
    Ok(Some(conn))
}

/// The refusal of a SQLite-file operation on a PostgreSQL store.
pub(crate) fn not_on_server(what: &str) -> StoreError {
    StoreError::invalid(
        "db",
        format!(
            "{what} works on a SQLite store file; this store is on a PostgreSQL server: its \
             backup is `stepdown export` (everything, with the audit head) beside the \
             server's own backups, and a restore is the server's (point-in-time recovery)"
        ),
    )
}

/// The schema version of the store behind `conn`: SQLite's `user_version`,
/// or the newest migration recorded on the server.
pub(crate) fn schema_version_of(conn: &db::Conn) -> StoreResult<i64> {
    match conn {
        db::Conn::Sqlite(c) => Ok(c.pragma_query_value(None, "user_version", |r| r.get(0))?),
        db::Conn::Pg(_) => migrations_pg::current_version(conn),
    }
}

/// How the schema differs from the one Stepdown's migrations made, one
/// sentence a problem (SQLite: compared with the migrations' own schema).
pub(crate) fn schema_problems(conn: &db::Conn, version: i64) -> StoreResult<Vec<String>> {
    match conn {
        db::Conn::Sqlite(c) => migrations::schema_differences(c, version),
        db::Conn::Pg(_) => migrations_pg::schema_problems(conn, version),
    }
}

/// Timestamps are stored as RFC 3339 UTC text with milliseconds
/// (`2026-11-24T09:30:00.000Z`): readable in any SQLite tool, and their text
/// order is their time order.
pub(crate) fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub(crate) fn parse_ts(s: &str, what: &str) -> StoreResult<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::BadRecord {
            what: what.to_string(),
            detail: format!("timestamp {s:?} ({e})"),
        })
}

/// Validates free text for a single-line field: trimmed, non-empty unless
/// allowed, at most `max` characters, no control characters.
pub(crate) fn clean_line(
    field: &str,
    value: &str,
    max: usize,
    required: bool,
) -> StoreResult<String> {
    let v = value.trim();
    if v.is_empty() && required {
        return Err(StoreError::invalid(field, "must not be empty"));
    }
    let n = v.chars().count();
    if n > max {
        return Err(StoreError::invalid(
            field,
            format!("must be at most {max} characters (got {n})"),
        ));
    }
    if let Some(c) = v.chars().find(|c| c.is_control()) {
        return Err(StoreError::invalid(
            field,
            format!("must be a single line without control characters (found {c:?})"),
        ));
    }
    Ok(v.to_string())
}

/// Validates multi-line free text (notes, an address): at most `max`
/// characters; newlines and tabs allowed, other control characters not.
pub(crate) fn clean_text(field: &str, value: &str, max: usize) -> StoreResult<String> {
    let v = value.trim_end();
    let n = v.chars().count();
    if n > max {
        return Err(StoreError::invalid(
            field,
            format!("must be at most {max} characters (got {n})"),
        ));
    }
    if let Some(c) = v
        .chars()
        .find(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(StoreError::invalid(
            field,
            format!("must not contain control characters (found {c:?})"),
        ));
    }
    Ok(v.to_string())
}

/// Validates the name recorded as "who" in the audit log.
pub(crate) fn clean_actor(actor: &str) -> StoreResult<String> {
    clean_line("actor", actor, 200, true)
}

#[cfg(test)]
pub(crate) mod practices_tests;
#[cfg(test)]
pub(crate) mod test_pg;
#[cfg(test)]
mod tests;
