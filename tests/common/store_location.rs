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
    /// The team store on a PostgreSQL server: a schema of its own on the
    /// test cluster, dropped with the location.
    Postgres { url: String, schema: TeamSchema },
}

/// A schema of its own on the test cluster, holding a migrated team store
/// whose owner (the cluster URL's role) works for practice A81001; dropped
/// when the test ends.
pub struct TeamSchema {
    base: String,
    name: String,
}

impl TeamSchema {
    fn new(base: &str, test: &str) -> TeamSchema {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let name = format!(
            "loc_{}_{}_{}",
            test.replace(|c: char| !c.is_ascii_alphanumeric(), "_"),
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        let mut c = postgres::Client::connect(base, postgres::NoTls).expect("the test cluster");
        c.batch_execute(&format!(
            "DROP SCHEMA IF EXISTS {name} CASCADE; CREATE SCHEMA {name}"
        ))
        .expect("a schema for the test");
        let t = TeamSchema {
            base: base.to_string(),
            name,
        };
        // The store's own migrations make the schema, as the first seat would.
        drop(stepdown::store::Store::open(t.url()).expect("open the team store"));
        c.batch_execute(&format!(
            "SET search_path = {}; \
             INSERT INTO practices (code, name) VALUES ('A81001', 'Riverside Surgery'); \
             INSERT INTO seat_practices (role_name, practice_code) VALUES (current_user, 'A81001');",
            t.name
        ))
        .expect("the practice of the test's seats");
        t
    }

    fn url(&self) -> String {
        format!("{}&options=-csearch_path%3D{}", self.base, self.name)
    }
}

impl Drop for TeamSchema {
    fn drop(&mut self) {
        if let Ok(mut c) = postgres::Client::connect(&self.base, postgres::NoTls) {
            let _ = c.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name));
        }
    }
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
            Ok(base) if !base.is_empty() => {
                let schema = TeamSchema::new(&base, test);
                Some(Location::Postgres {
                    url: schema.url(),
                    schema,
                })
            }
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
            Location::Postgres { url, .. } => url.into(),
        }
    }

    /// The seats of a multi-seat test: each one's `--db` and the name it
    /// records. A team store records every change under the role that
    /// signed in (a typed `--actor` or reviewer must be that role), so there
    /// each seat signs in as its own role: the cluster's owner and its seats
    /// `seat_alice`, `seat_bob`, `seat_admin`, all assigned to the test's
    /// practice (at most four seats). A file takes any name: `Seat N`.
    pub fn seats(&self, n: usize) -> Vec<(OsString, String)> {
        match self {
            Location::Sqlite { path, .. } => (0..n)
                .map(|s| (path.clone().into_os_string(), format!("Seat {s}")))
                .collect(),
            Location::Postgres { url, schema } => {
                let roles = [
                    self.owner_name(),
                    "seat_alice".into(),
                    "seat_bob".into(),
                    "seat_admin".into(),
                ];
                assert!(
                    n <= roles.len(),
                    "the test cluster has {} roles",
                    roles.len()
                );
                let mut c = postgres::Client::connect(&schema.base, postgres::NoTls)
                    .expect("the test cluster");
                c.batch_execute(&format!(
                    "SET search_path = {}; \
                     INSERT INTO seat_practices (role_name, practice_code) \
                     VALUES ('seat_alice', 'A81001'), ('seat_bob', 'A81001'), ('seat_admin', 'A81001') \
                     ON CONFLICT DO NOTHING;",
                    schema.name
                ))
                .expect("the seats' practice");
                roles[..n]
                    .iter()
                    .map(|role| (with_user(url, role).into(), role.clone()))
                    .collect()
            }
        }
    }

    /// The name the test's own set-up records (through [`Location::arg`]):
    /// on a team store the role of the cluster's URL, which signed in.
    pub fn owner_name(&self) -> String {
        match self {
            Location::Sqlite { .. } => "Initial".into(),
            Location::Postgres { url, .. } => url
                .split(['?', '&'])
                .find_map(|kv| kv.strip_prefix("user="))
                .expect("the test cluster's URL names its role")
                .to_string(),
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

/// `url` signing in as `role` (its `user=` parameter replaced).
fn with_user(url: &str, role: &str) -> String {
    let (base, query) = url.split_once('?').expect("a URL with parameters");
    let query: Vec<String> = query
        .split('&')
        .map(|kv| {
            if kv.starts_with("user=") {
                format!("user={role}")
            } else {
                kv.to_string()
            }
        })
        .collect();
    format!("{base}?{}", query.join("&"))
}
