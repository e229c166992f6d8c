//! Where a multi-process store test puts its store: a SQLite file in a
//! temporary folder, or the PostgreSQL team store named by
//! `STEPDOWN_TEST_PG_URL` (set by tests/pg/with-cluster.sh). The tests run the
//! same scenario on either and pass the location to the CLI as `--db`.
#![allow(dead_code)]

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The environment variable tests/pg/with-cluster.sh sets to its cluster's URL.
pub const PG_URL_VAR: &str = "STEPDOWN_TEST_PG_URL";

/// One store, shared by every process of a test.
pub enum Location {
    /// A SQLite file in a temporary folder removed with the location.
    Sqlite {
        _dir: tempfile::TempDir,
        path: PathBuf,
    },
    /// The team store on a PostgreSQL server.
    Postgres { url: String },
}

impl Location {
    /// A new SQLite store file `name` (not created yet: the first command creates it).
    pub fn sqlite(name: &str) -> Location {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join(name);
        Location::Sqlite { _dir: dir, path }
    }

    /// The PostgreSQL store of tests/pg/with-cluster.sh, or `None` with the
    /// reason printed when `STEPDOWN_TEST_PG_URL` is not set (plain `cargo
    /// test` needs no server; `make test` and the landing gate set it).
    pub fn postgres(test: &str) -> Option<Location> {
        match std::env::var(PG_URL_VAR) {
            Ok(url) if !url.is_empty() => Some(Location::Postgres { url }),
            _ => {
                eprintln!(
                    "{test}: SKIPPED on PostgreSQL: {PG_URL_VAR} is not set (run it under \
                     tests/pg/with-cluster.sh)"
                );
                None
            }
        }
    }

    /// The value of `--db` for the CLI.
    pub fn arg(&self) -> OsString {
        match self {
            Location::Sqlite { path, .. } => path.clone().into_os_string(),
            Location::Postgres { url } => url.into(),
        }
    }

    /// The SQLite file, for the checks only a file has.
    pub fn sqlite_path(&self) -> Option<&Path> {
        match self {
            Location::Sqlite { path, .. } => Some(path),
            Location::Postgres { .. } => None,
        }
    }

    /// For messages.
    pub fn label(&self) -> &'static str {
        match self {
            Location::Sqlite { .. } => "SQLite",
            Location::Postgres { .. } => "PostgreSQL",
        }
    }
}
