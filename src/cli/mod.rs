//! Shared plumbing for the `stepdown` subcommands: reading JSON input from a
//! file or standard input, and the exit-status contract (0 ok, 1 internal, 2 bad input,
//! 3 conflict).

pub mod assess;
pub mod audit;
pub mod casefinding;
pub mod claims;
pub mod drafts;
pub mod followup;
pub mod leaflet;
pub mod ome;
pub mod plan;
pub mod record;
pub mod reference;
pub mod store;

use std::io::Read;
use std::path::Path;

/// A failure that ends the command, with the exit status it maps to.
#[derive(Debug)]
pub enum CliError {
    /// Bad input (exit 2): the message names the field and what is wrong.
    Input(String),
    /// The machine, not the input (exit 1): busy, disk full, a disk that
    /// cannot be written. The message is plain language, not "internal error".
    Environment(String),
    /// Refused by the store for a reason a script may act on, printed as the
    /// `{code, message}` JSON with its own exit status: another seat got there
    /// first (`conflict`, exit 3: a review saved meanwhile, the entry kept as
    /// a draft; a worklist patient held by someone else), the team server
    /// refused this seat (`permission-denied`, exit 4), a second record with
    /// a value that must be single (`duplicate`, exit 5).
    Refused(Box<stepdown::ApiError>),
    /// Anything else (exit 1).
    Internal(anyhow::Error),
}

impl From<anyhow::Error> for CliError {
    fn from(e: anyhow::Error) -> Self {
        CliError::Internal(e)
    }
}

impl From<serde_json::Error> for CliError {
    fn from(e: serde_json::Error) -> Self {
        CliError::Internal(e.into())
    }
}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        CliError::Internal(e.into())
    }
}

/// A path as an error quotes it: sanitised and cut ([`stepdown::limits::sanitize`]),
/// since a file name may hold any character.
pub fn shown(path: &Path) -> String {
    stepdown::limits::sanitize(&path.display().to_string())
}

/// The exit status of a [`CliError::Refused`] (docs/cli.md, "General rules").
pub fn refused_status(code: stepdown::ErrorCode) -> u8 {
    match code {
        stepdown::ErrorCode::PermissionDenied => 4,
        stepdown::ErrorCode::Duplicate => 5,
        _ => 3,
    }
}

/// Result type of every subcommand.
pub type CliResult<T = ()> = Result<T, CliError>;

/// Reads the whole input named on the command line: a path, or `-` for
/// standard input. At most `max_input_bytes` (assets/limits.json) are read:
/// `/dev/zero` once grew the process to 8.4 GB.
pub fn read_input(path: &Path) -> CliResult<String> {
    let cap = stepdown::limits::limits().max_input_bytes;
    let name = if path.as_os_str() == "-" {
        "standard input".to_string()
    } else {
        shown(path)
    };
    let bytes = read_capped(path, cap).map_err(|e| {
        CliError::Input(format!(
            "{name}: could not read {} ({e})",
            if path.as_os_str() == "-" {
                "it"
            } else {
                "input file"
            }
        ))
    })?;
    if bytes.len() as u64 > cap {
        return Err(CliError::Input(format!(
            "{name}: the input is larger than {cap} bytes (the cap in limits.json); a plan input is a few kilobytes"
        )));
    }
    String::from_utf8(bytes).map_err(|e| {
        CliError::Input(format!(
            "{name}: not UTF-8 text (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        ))
    })
}

/// Reads at most `cap + 1` bytes from `path` (`-`: standard input), so the
/// caller can tell an input over the cap without reading all of it.
pub fn read_capped(path: &Path, cap: u64) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    let limit = cap.saturating_add(1);
    if path.as_os_str() == "-" {
        std::io::stdin()
            .lock()
            .take(limit)
            .read_to_end(&mut bytes)?;
    } else {
        std::fs::File::open(path)?
            .take(limit)
            .read_to_end(&mut bytes)?;
    }
    Ok(bytes)
}

/// Prints a value as pretty JSON on standard output (see [`print_text`]).
pub fn print_json<T: serde::Serialize>(value: &T) -> CliResult {
    let text = serde_json::to_string_pretty(value)?;
    print_text(&format!("{text}\n"))
}

/// Writes `text` as it is to standard output and flushes it. Every command's
/// output goes through here: a reader that has gone (`stepdown ... | head`)
/// is not an error, where `print!` would panic with a backtrace.
pub fn print_text(text: &str) -> CliResult {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

/// What a command that may create a store (`import`, `demo`) found before
/// opening it, so that a failed command leaves no store, and no folders, it
/// created: a mistyped `--db` once left an empty database (and its folders)
/// behind an import that was refused.
#[derive(Debug)]
pub struct NewStoreGuard {
    path: std::path::PathBuf,
    existed: bool,
    /// Folders that did not exist, deepest first.
    missing_dirs: Vec<std::path::PathBuf>,
}

impl NewStoreGuard {
    /// Notes whether the store at `path` and its folders exist.
    pub fn before(path: &Path) -> NewStoreGuard {
        let mut missing_dirs = Vec::new();
        let mut dir = path.parent();
        while let Some(d) = dir.filter(|d| !d.as_os_str().is_empty()) {
            if d.exists() {
                break;
            }
            missing_dirs.push(d.to_path_buf());
            dir = d.parent();
        }
        NewStoreGuard {
            path: path.to_path_buf(),
            // A team store on a server is never removed from here.
            existed: path.exists() || path.to_str().is_some_and(stepdown::store::db::is_pg_url),
            missing_dirs,
        }
    }

    /// After a failed command (with the store closed): removes the store and
    /// folders it created. A store that existed before is never touched.
    pub fn undo(&self) {
        if self.existed {
            return;
        }
        // Another process may have made the store since `before` and saved
        // to it: of two imports into a new store at once, the one refused as
        // "under way" removed the store the other then reported as imported
        // (issue 20, found re-testing). Only a store with nothing saved in it
        // is removed; one that cannot be read is left as it is.
        if self.path.exists() {
            let empty = stepdown::store::Store::open(&self.path)
                .and_then(|s| s.holds_nothing())
                .unwrap_or(false);
            if !empty {
                return;
            }
        }
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let mut p = self.path.as_os_str().to_os_string();
            p.push(suffix);
            // Best effort: the files may not have been made.
            let _ = std::fs::remove_file(std::path::PathBuf::from(p));
        }
        for d in &self.missing_dirs {
            // Only if empty: anything else put there is not ours to remove.
            let _ = std::fs::remove_dir(d);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{refused_status, CliError, NewStoreGuard};
    use stepdown::store::{Denied, DeniedKind, Store, StoreError};
    use stepdown::ErrorCode;

    #[test]
    fn refusals_a_script_acts_on_have_their_own_exit_status_and_json() {
        let as_cli = |e: StoreError| match CliError::from(e) {
            CliError::Refused(api) => (api.code, refused_status(api.code)),
            _ => panic!("not a refusal"),
        };
        assert_eq!(
            as_cli(StoreError::PermissionDenied(Box::new(Denied::new(
                DeniedKind::AdminOnly,
                "the shared settings"
            )))),
            (ErrorCode::PermissionDenied, 4)
        );
        assert_eq!(
            as_cli(StoreError::Duplicate {
                key: "patients_nhs_number_key".into()
            }),
            (ErrorCode::Duplicate, 5)
        );
        assert_eq!(refused_status(ErrorCode::Conflict), 3);
        // Through the core's ApiError too (the record commands).
        assert!(matches!(
            super::store::api_error(stepdown::ApiError::new(ErrorCode::Duplicate, "x")),
            CliError::Refused(_)
        ));
    }

    #[test]
    fn a_failed_command_removes_only_an_empty_store_it_made() {
        let dir = tempfile::tempdir().expect("dir");
        // Made by this command and still empty: removed, with its folder.
        let db = dir.path().join("new").join("s.db");
        let guard = NewStoreGuard::before(&db);
        drop(Store::open(&db).expect("open"));
        guard.undo();
        assert!(!db.exists());
        assert!(!dir.path().join("new").exists());
        // Made meanwhile by another process that saved to it: kept.
        let guard = NewStoreGuard::before(&db);
        {
            let mut other = Store::open(&db).expect("open");
            stepdown::consult::load_demo_patients(
                &mut other,
                "other process",
                stepdown::reference::reference(),
            )
            .expect("demo");
        }
        guard.undo();
        let kept = Store::open(&db).expect("kept");
        assert!(kept.counts().expect("counts").patients > 0);
        assert!(!kept.holds_nothing().expect("read"));
    }
}
