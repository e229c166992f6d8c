//! The database file itself: read-only inspection before anything writes to
//! it, the read-write connection and its settings, and whole-file copies via
//! SQLite's online backup API.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::backup::{Backup, StepResult};
use rusqlite::ffi::ErrorCode as C;
use rusqlite::{Connection, OpenFlags, MAIN_DB};

use super::{StoreError, StoreResult, APPLICATION_ID};
use crate::private_file::Replace;

const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// What [`probe`] found at the path.
pub(crate) enum FileState {
    /// No file: a new store will be created.
    New,
    /// A file with no schema (zero bytes, or SQLite with no tables): safe to initialise.
    Empty,
    /// A sound Stepdown database; `ro` is the read-only connection used to inspect it.
    Stepdown {
        /// Its schema version.
        version: i64,
        /// Kept open so a pre-migration copy reads exactly what was inspected.
        ro: Connection,
    },
}

impl FileState {
    pub(crate) fn version(&self) -> i64 {
        match self {
            FileState::Stepdown { version, .. } => *version,
            _ => 0,
        }
    }
}

/// The `-wal` file beside a database.
pub(crate) fn wal_path(path: &Path) -> PathBuf {
    sibling(path, "-wal")
}

/// `path` with `suffix` appended to its file name.
pub(crate) fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_os_string();
    s.push(suffix);
    PathBuf::from(s)
}

/// Inspects `path` without writing to it: existence, the SQLite header, then
/// (through a read-only connection) the application id, schema version and,
/// if asked, SQLite's quick check.
pub(crate) fn probe(
    path: &Path,
    create: bool,
    latest: i64,
    quick_check: bool,
) -> StoreResult<FileState> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return if create {
                Ok(FileState::New)
            } else {
                Err(StoreError::Missing {
                    path: path.to_path_buf(),
                })
            };
        }
        Err(e) => {
            return Err(StoreError::Unreadable {
                path: path.to_path_buf(),
                source: e,
            })
        }
    };
    if meta.is_dir() {
        return Err(StoreError::NotADatabase {
            path: path.to_path_buf(),
            detail: "it is a folder, not a file".into(),
        });
    }
    let len = meta.len();
    // A WAL file can hold pages not yet copied into the main file (after a
    // crash mid-checkpoint, even page counts the main file does not reach yet),
    // so the size checks below only apply when there is no WAL content.
    let wal_len = std::fs::metadata(wal_path(path))
        .map(|m| m.len())
        .unwrap_or(0);
    let header = read_header(path)?;
    if len == 0 && wal_len == 0 {
        // SQLite treats a zero-byte file as a new, empty database.
        return Ok(FileState::Empty);
    }
    check_header(path, &header, len, wal_len)?;
    roll_back_hot_journal(path)?;

    let ro = open_inspect(path)?;
    let app_id: i32 = ro
        .pragma_query_value(None, "application_id", |r| r.get(0))
        .map_err(|e| open_error(path, e))?;
    let version: i64 = ro
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(|e| open_error(path, e))?;
    let objects: i64 = ro
        .query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))
        .map_err(|e| open_error(path, e))?;

    if app_id == 0 && version == 0 && objects == 0 {
        return Ok(FileState::Empty);
    }
    if app_id != APPLICATION_ID || version < 1 {
        return Err(StoreError::Foreign {
            path: path.to_path_buf(),
        });
    }
    if version > latest {
        return Err(StoreError::NewerVersion {
            path: path.to_path_buf(),
            found: version,
            supported: latest,
        });
    }
    let problems = if quick_check {
        self::quick_check(&ro, 5).map_err(|e| open_error(path, e))?
    } else {
        Vec::new()
    };
    if !problems.is_empty() {
        return Err(StoreError::Corrupt {
            path: path.to_path_buf(),
            detail: problems.join("; "),
        });
    }
    Ok(FileState::Stepdown { version, ro })
}

/// Opens `path` read-only to look at it.
///
/// When no `-wal`, `-shm` or `-journal` file exists, no other connection has the
/// database open (SQLite removes them when the last one closes) and there is
/// no unfolded WAL content, so the file is opened `immutable`: SQLite then
/// takes no locks and creates no companion files, and the folder is left
/// exactly as it was, even for a file that is then refused. Otherwise a
/// normal read-only connection is used, which reads the WAL as well.
pub(crate) fn open_inspect(path: &Path) -> StoreResult<Connection> {
    let companions = ["-wal", "-shm", "-journal"]
        .iter()
        .any(|suffix| sibling(path, suffix).exists());
    let conn = if companions {
        Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
    } else {
        Connection::open_with_flags(
            sqlite_uri(path, "immutable=1")?,
            OpenFlags::SQLITE_OPEN_READ_ONLY
                | OpenFlags::SQLITE_OPEN_NO_MUTEX
                | OpenFlags::SQLITE_OPEN_URI,
        )
    }
    .map_err(|e| open_error(path, e))?;
    conn.busy_timeout(super::DEFAULT_BUSY_TIMEOUT)
        .map_err(|e| open_error(path, e))?;
    Ok(conn)
}

/// An SQLite `file:` URI for `path` with a query string
/// (sqlite.org/uri.html): absolute, `/`-separated, with the characters that
/// have a meaning in URIs percent-encoded.
fn sqlite_uri(path: &Path, query: &str) -> StoreResult<String> {
    let abs =
        std::path::absolute(path).map_err(|e| classify_io(path, e, "cannot resolve the path"))?;
    let text = abs.to_str().ok_or_else(|| {
        StoreError::invalid(
            "db",
            format!("{}: the path is not valid Unicode", abs.display()),
        )
    })?;
    let mut out = String::from("file:");
    // Backslash separates directories only on Windows; elsewhere it is a
    // legal file-name character and must stay.
    #[cfg(windows)]
    let text = text.replace('\\', "/");
    if !text.starts_with('/') {
        // Windows drive paths: file:/C:/...
        out.push('/');
    }
    for c in text.chars() {
        match c {
            '%' | '?' | '#' => out.push_str(&format!("%{:02X}", c as u32)),
            _ => out.push(c),
        }
    }
    out.push('?');
    out.push_str(query);
    Ok(out)
}

/// A non-empty `-journal` beside the file means a writer stopped in the
/// middle of a rollback-journal transaction (a new store is in that mode
/// only while it is being set up). SQLite rolls such a journal back the
/// first time the file is read, as any SQLite program would; a read-only
/// connection cannot, so let a read-write one do it before inspecting.
fn roll_back_hot_journal(path: &Path) -> StoreResult<()> {
    let hot = std::fs::metadata(sibling(path, "-journal")).is_ok_and(|m| m.len() > 0);
    if hot {
        let c = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| open_error(path, e))?;
        c.busy_timeout(super::DEFAULT_BUSY_TIMEOUT)
            .map_err(|e| open_error(path, e))?;
        c.query_row("SELECT count(*) FROM sqlite_schema", [], |r| {
            r.get::<_, i64>(0)
        })
        .map_err(|e| open_error(path, e))?;
    }
    Ok(())
}

/// Up to 100 bytes from the start of the file (fewer if it is shorter).
fn read_header(path: &Path) -> StoreResult<Vec<u8>> {
    let f = File::open(path).map_err(|e| StoreError::Unreadable {
        path: path.to_path_buf(),
        source: e,
    })?;
    let mut header = Vec::with_capacity(100);
    f.take(100)
        .read_to_end(&mut header)
        .map_err(|e| StoreError::Unreadable {
            path: path.to_path_buf(),
            source: e,
        })?;
    Ok(header)
}

/// Checks the 100-byte SQLite header (sqlite.org/fileformat.html §1.3).
fn check_header(path: &Path, header: &[u8], len: u64, wal_len: u64) -> StoreResult<()> {
    let not_db = |detail: String| StoreError::NotADatabase {
        path: path.to_path_buf(),
        detail,
    };
    let corrupt = |detail: String| StoreError::Corrupt {
        path: path.to_path_buf(),
        detail,
    };
    let prefix = header.len().min(SQLITE_MAGIC.len());
    if header[..prefix] != SQLITE_MAGIC[..prefix] {
        return Err(not_db(describe_content(header)));
    }
    if header.len() < 100 {
        return Err(corrupt(format!(
            "truncated: the file is only {len} bytes, shorter than an SQLite header"
        )));
    }
    let raw_page_size = u16::from_be_bytes([header[16], header[17]]);
    let page_size: u64 = if raw_page_size == 1 {
        65_536
    } else {
        u64::from(raw_page_size)
    };
    if !(512..=65_536).contains(&page_size) || !page_size.is_power_of_two() {
        return Err(corrupt(format!(
            "the header gives an impossible page size ({raw_page_size})"
        )));
    }
    if wal_len == 0 {
        if !len.is_multiple_of(page_size) {
            return Err(corrupt(format!(
                "truncated: {len} bytes is not a whole number of {page_size}-byte pages"
            )));
        }
        // The in-header page count is only trustworthy when the change counter
        // matches the "version-valid-for" number (both written by SQLite ≥ 3.7.0).
        let change_counter = &header[24..28];
        let valid_for = &header[92..96];
        let pages = u64::from(u32::from_be_bytes([
            header[28], header[29], header[30], header[31],
        ]));
        if change_counter == valid_for && pages > 0 && len < pages * page_size {
            return Err(corrupt(format!(
                "truncated: the header says {} bytes but the file has {len}",
                pages * page_size
            )));
        }
    }
    Ok(())
}

/// A short description of what a non-SQLite file looks like, for the message.
fn describe_content(header: &[u8]) -> String {
    if header.is_empty() {
        return "the file is empty".into();
    }
    let known: &[(&[u8], &str)] = &[
        (b"%PDF", "a PDF document"),
        (b"PK\x03\x04", "a ZIP archive (or an Office document)"),
        (b"\x1f\x8b", "a gzip-compressed file"),
        (b"{", "a JSON file (perhaps a `stepdown export`)"),
        (b"[", "a JSON file"),
    ];
    for (magic, what) in known {
        if header.starts_with(magic) {
            return format!("it looks like {what}");
        }
    }
    if std::str::from_utf8(header).is_ok() {
        "it is a text file, not an SQLite database".into()
    } else {
        "it does not start with the SQLite file header".into()
    }
}

/// Maps a failure while opening or inspecting the file to a message about that file.
pub(crate) fn open_error(path: &Path, e: rusqlite::Error) -> StoreError {
    let detail = e.to_string();
    match e.sqlite_error_code() {
        Some(C::NotADatabase) => StoreError::NotADatabase {
            path: path.to_path_buf(),
            detail: format!("SQLite cannot read it ({detail})"),
        },
        Some(C::DatabaseCorrupt) => StoreError::Corrupt {
            path: path.to_path_buf(),
            detail,
        },
        Some(C::CannotOpen | C::PermissionDenied | C::ReadOnly) => read_only_error(path, &detail),
        Some(C::DatabaseBusy | C::DatabaseLocked) => StoreError::Busy,
        Some(C::DiskFull) => StoreError::DiskFull,
        _ => StoreError::Sqlite(e),
    }
}

/// The message for a database that cannot be written: names the file and
/// its folder, since either can be the cause.
pub(crate) fn read_only_error(path: &Path, detail: &str) -> StoreError {
    let folder = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .map(|d| d.display().to_string())
        .unwrap_or_else(|| ".".into());
    StoreError::ReadOnly {
        path: path.to_path_buf(),
        detail: format!(
            "cannot open the database for writing: the file or its folder ({folder}) is \
             read-only or not accessible, or the disk is write-protected. Stepdown needs to \
             write the file and create its journal files beside it. Nothing has been changed. \
             ({detail})"
        ),
    }
}

/// Maps an IO failure on `path` to the store's error, with `context` saying what was being done.
pub(crate) fn classify_io(path: &Path, e: std::io::Error, context: &str) -> StoreError {
    use std::io::ErrorKind as K;
    match e.kind() {
        K::PermissionDenied | K::ReadOnlyFilesystem => {
            read_only_error(path, &format!("{context}: {e}"))
        }
        K::StorageFull => StoreError::DiskFull,
        _ => StoreError::io(format!("{}: {context}", path.display()), e),
    }
}

/// Creates an empty database file readable only by its owner (it will hold
/// patient data); SQLite gives its `-wal` and `-shm` files the same
/// permissions. Someone else creating it first is fine.
pub(crate) fn create_private(path: &Path) -> StoreResult<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    match opts.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(classify_io(path, e, "cannot create the database file")),
    }
}

/// Makes a copy owner-only, like the database it was made from.
fn restrict_permissions(path: &Path) -> StoreResult<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| classify_io(path, e, "cannot restrict the copy's permissions"))?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Opens the read-write connection and applies the settings every
/// connection needs (they are per-connection, so every open sets them).
pub(crate) fn open_read_write(
    path: &Path,
    create: bool,
    busy_timeout: Duration,
) -> StoreResult<Connection> {
    let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    if create {
        flags |= OpenFlags::SQLITE_OPEN_CREATE;
    }
    let conn = Connection::open_with_flags(path, flags).map_err(|e| open_error(path, e))?;
    let setup = || -> Result<String, rusqlite::Error> {
        conn.busy_timeout(busy_timeout)?;
        conn.pragma_update(None, "foreign_keys", true)?;
        // Schema objects from a file we did not write (a restored backup) may
        // not call functions with side effects.
        conn.pragma_update(None, "trusted_schema", false)?;
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get::<_, String>(0))
    };
    // SQLite opens a file it may not write read-only without complaint; say so
    // now rather than on the first save.
    if conn.is_readonly(MAIN_DB).map_err(|e| open_error(path, e))? {
        return Err(read_only_error(path, "the file is read-only"));
    }
    let mode = setup().map_err(|e| open_error(path, e))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Unusable {
            path: path.to_path_buf(),
            detail: format!(
                "SQLite could not use write-ahead logging there (journal mode stayed \
                 '{mode}'); keep the database on a local disk"
            ),
        });
    }
    // FULL: a commit is on disk before the save returns, so a power cut
    // cannot lose a consultation the clinician saw as saved.
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(|e| open_error(path, e))?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

/// `PRAGMA quick_check(n)`: empty when sound, else up to `n` findings.
pub(crate) fn quick_check(conn: &Connection, n: u32) -> Result<Vec<String>, rusqlite::Error> {
    pragma_lines(conn, &format!("PRAGMA quick_check({n})"))
}

/// `PRAGMA integrity_check(n)`: empty when sound, else up to `n` findings.
pub(crate) fn integrity_check(conn: &Connection, n: u32) -> Result<Vec<String>, rusqlite::Error> {
    pragma_lines(conn, &format!("PRAGMA integrity_check({n})"))
}

fn pragma_lines(conn: &Connection, sql: &str) -> Result<Vec<String>, rusqlite::Error> {
    let mut stmt = conn.prepare(sql)?;
    let lines = stmt
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(if lines.len() == 1 && lines[0] == "ok" {
        Vec::new()
    } else {
        lines
    })
}

/// Copies the database behind `src` into a new file at `dest` with the
/// online backup API (a consistent snapshot even while others write), as a
/// single self-contained file (rollback-journal mode, no `-wal`). Writes to a
/// temporary name and renames, so `dest` is either complete or absent.
/// Returns the size in bytes.
pub(crate) fn backup_connection_to_file(
    src: &Connection,
    dest: &Path,
    overwrite: bool,
) -> StoreResult<u64> {
    let copy = backup_connection_to_temp(src, dest, overwrite)?;
    let size = copy.size;
    copy.place()?;
    Ok(size)
}

/// A finished, checked copy under a temporary name beside its destination,
/// not yet in place. Dropped without [`PendingCopy::place`], it is removed:
/// a failed backup leaves no copy of patient data behind.
#[derive(Debug)]
pub(crate) struct PendingCopy {
    tmp: PathBuf,
    dest: PathBuf,
    overwrite: bool,
    /// Size in bytes.
    pub size: u64,
    placed: bool,
}

impl PendingCopy {
    /// The temporary file (complete and checked).
    pub fn path(&self) -> &Path {
        &self.tmp
    }

    /// Moves the copy into place. Without `overwrite`, a file that appeared
    /// at the destination meanwhile is never replaced (a hard link, which
    /// fails if the name is taken, then the temporary name removed).
    pub fn place(mut self) -> StoreResult<()> {
        let dest = self.dest.clone();
        let replace = if self.overwrite {
            Replace::Allowed
        } else {
            Replace::Refused
        };
        crate::private_file::place(&self.tmp, &dest, replace).map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists && !self.overwrite {
                StoreError::AlreadyExists { path: dest.clone() }
            } else {
                classify_io(&dest, e, "cannot move the finished copy into place")
            }
        })?;
        self.placed = true;
        Ok(())
    }
}

impl Drop for PendingCopy {
    fn drop(&mut self) {
        if !self.placed {
            // Best effort: a copy not placed is not a backup.
            let _ = std::fs::remove_file(&self.tmp);
            let _ = std::fs::remove_file(sibling(&self.tmp, "-journal"));
        }
    }
}

/// The first half of [`backup_connection_to_file`]: the checked copy, under a
/// temporary name beside `dest`, to be placed once the audit entry is written.
pub(crate) fn backup_connection_to_temp(
    src: &Connection,
    dest: &Path,
    overwrite: bool,
) -> StoreResult<PendingCopy> {
    if !overwrite && dest.exists() {
        return Err(StoreError::AlreadyExists {
            path: dest.to_path_buf(),
        });
    }
    let tmp = sibling(dest, &format!(".partial-{}", std::process::id()));
    let result = (|| {
        // A stale partial copy from an earlier crash is ours to replace.
        remove_if_exists(&tmp)?;
        // Owner-only from the start: the copy holds patient data.
        create_private(&tmp)?;
        let mut dst = Connection::open(&tmp).map_err(|e| open_error(&tmp, e))?;
        {
            let backup = Backup::new(src, &mut dst)?;
            // All pages in one step: one read transaction on the source, so the
            // copy is one consistent snapshot; in WAL mode it does not block writers.
            loop {
                match backup.step(-1)? {
                    StepResult::Done => break,
                    StepResult::More => {}
                    _ => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        }
        let mode: String =
            dst.pragma_update_and_check(None, "journal_mode", "DELETE", |r| r.get(0))?;
        debug_assert_eq!(mode.to_ascii_lowercase(), "delete");
        let problems = quick_check(&dst, 5)?;
        if !problems.is_empty() {
            return Err(StoreError::Corrupt {
                path: tmp.clone(),
                detail: format!("the copy failed its check: {}", problems.join("; ")),
            });
        }
        dst.close().map_err(|(_, e)| StoreError::from(e))?;
        restrict_permissions(&tmp)?;
        let f = File::open(&tmp).map_err(|e| classify_io(&tmp, e, "cannot reopen the copy"))?;
        f.sync_all()
            .map_err(|e| classify_io(&tmp, e, "cannot flush the copy to disk"))?;
        let size = f
            .metadata()
            .map_err(|e| classify_io(&tmp, e, "cannot read the copy"))?
            .len();
        Ok(size)
    })();
    match result {
        Ok(size) => Ok(PendingCopy {
            tmp,
            dest: dest.to_path_buf(),
            overwrite,
            size,
            placed: false,
        }),
        Err(e) => {
            // Best effort: a failed copy must not leave a partial file looking like a backup.
            let _ = std::fs::remove_file(&tmp);
            let _ = std::fs::remove_file(sibling(&tmp, "-journal"));
            Err(match e {
                StoreError::Sqlite(inner) => StoreError::from(inner),
                other => other,
            })
        }
    }
}

fn remove_if_exists(p: &Path) -> StoreResult<()> {
    match std::fs::remove_file(p) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(classify_io(p, e, "cannot remove a stale temporary file")),
    }
}

// Flushing the folder after a rename is the one writer's (private_file).
pub(crate) use crate::private_file::sync_parent;

/// A file name beside `path` that does not exist yet: `<path><suffix>`, or
/// with `-2`, `-3`… appended if that is taken.
pub(crate) fn unused_sibling(path: &Path, suffix: &str) -> PathBuf {
    let first = sibling(path, suffix);
    if !first.exists() {
        return first;
    }
    (2..)
        .map(|n| sibling(path, &format!("{suffix}-{n}")))
        .find(|p| !p.exists())
        .unwrap_or(first)
}

/// Timestamp for file names: `20261124T093000Z`.
pub(crate) fn file_stamp(now: DateTime<Utc>) -> String {
    now.format("%Y%m%dT%H%M%SZ").to_string()
}

/// Keeps a copy of a database about to be migrated: `<db>.bak-v<N>-<timestamp>`.
pub(crate) fn copy_before_migration(
    ro: &Connection,
    path: &Path,
    version: i64,
    now: DateTime<Utc>,
) -> StoreResult<PathBuf> {
    let dest = unused_sibling(path, &format!(".bak-v{version}-{}", file_stamp(now)));
    backup_connection_to_file(ro, &dest, false)?;
    Ok(dest)
}
