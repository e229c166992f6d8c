//! Test support for the PostgreSQL backend: each test gets a schema of its
//! own on the cluster named by `STEPDOWN_TEST_PG_URL` (`make test` starts a
//! throwaway one through tests/pg/with-cluster.sh), so tests stay
//! independent and run in parallel; the schema is dropped afterwards.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

use super::{OpenOptions, Store};

/// The test cluster's URL (the owner role on the test database), if set.
pub(crate) fn pg_url() -> Option<String> {
    std::env::var("STEPDOWN_TEST_PG_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
}

thread_local! {
    static ON_PG: Cell<bool> = const { Cell::new(false) };
}

/// Whether the running test asked for PostgreSQL ([`on_pg`]).
pub(crate) fn wants_pg() -> bool {
    ON_PG.with(Cell::get)
}

/// Runs `body` with the test stores on PostgreSQL; without a test cluster
/// it says so and returns (plain `cargo test` needs no server).
pub(crate) fn on_pg(body: impl FnOnce()) {
    if pg_url().is_none() {
        eprintln!("skipped: STEPDOWN_TEST_PG_URL is not set (make test sets it)");
        return;
    }
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            ON_PG.with(|c| c.set(false));
        }
    }
    ON_PG.with(|c| c.set(true));
    let _reset = Reset;
    body();
}

/// A schema of its own for one test, dropped with this value.
pub(crate) struct PgSchema {
    base: String,
    name: String,
}

static NEXT: AtomicU64 = AtomicU64::new(0);

fn admin_client(url: &str) -> postgres::Client {
    postgres::Client::connect(url, postgres::NoTls).expect("the test cluster")
}

impl PgSchema {
    /// A new empty schema owned by the test owner.
    pub(crate) fn new() -> PgSchema {
        let base = pg_url().expect("STEPDOWN_TEST_PG_URL");
        let name = format!(
            "t_{}_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst),
            chrono::Utc::now().timestamp_micros() % 1_000_000_000
        );
        admin_client(&base)
            .batch_execute(&format!("CREATE SCHEMA {name}"))
            .expect("create the test schema");
        PgSchema { base, name }
    }

    /// The store address for the owner, on this schema.
    pub(crate) fn url(&self) -> String {
        format!("{}&options=-csearch_path%3D{}", self.base, self.name)
    }

    /// The store address for another role (a seat), on this schema.
    pub(crate) fn url_as(&self, role: &str) -> String {
        let base = self
            .base
            .split('&')
            .map(|kv| {
                if kv.starts_with("user=") {
                    format!("user={role}")
                } else {
                    kv.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("&");
        format!("{base}&options=-csearch_path%3D{}", self.name)
    }

    /// Runs SQL as the owner on this schema (set-up the Store API has no
    /// call for: practices, assignments, tampering).
    pub(crate) fn owner_sql(&self, sql: &str) {
        let mut c = admin_client(&self.base);
        c.batch_execute(&format!("SET search_path = {}, pg_temp; {sql}", self.name))
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    /// [`PgSchema::owner_sql`], returning the server's refusal instead of
    /// panicking (a CHECK the test expects to refuse the SQL).
    pub(crate) fn owner_try_sql(&self, sql: &str) -> Result<(), String> {
        let mut c = admin_client(&self.base);
        c.batch_execute(&format!("SET search_path = {}, pg_temp; {sql}", self.name))
            .map_err(|e| {
                e.as_db_error()
                    .map_or(e.to_string(), |d| d.message().to_string())
            })
    }

    /// A query's first column of each row, as the owner.
    pub(crate) fn owner_strings(&self, sql: &str) -> Vec<String> {
        let mut c = admin_client(&self.base);
        c.batch_execute(&format!("SET search_path = {}, pg_temp", self.name))
            .unwrap();
        c.query(sql, &[])
            .unwrap()
            .iter()
            .map(|r| r.get::<_, String>(0))
            .collect()
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        // Best effort: the cluster is thrown away after the run anyway.
        if let Ok(mut c) = postgres::Client::connect(&self.base, postgres::NoTls) {
            let _ = c.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name));
        }
    }
}

/// A new team store on a schema of its own, opened as the owner (an admin),
/// who works for practice A81001 so that records need no practice given.
/// The assignment is made with its audit trigger held off, so the store's
/// log starts empty as a new SQLite store's does.
pub(crate) fn new_pg_store(options: OpenOptions) -> (PgSchema, Store) {
    let schema = PgSchema::new();
    let store = Store::open_with(schema.url(), options).expect("open the team store");
    schema.owner_sql(
        "BEGIN;
         INSERT INTO practices (code, name) VALUES ('A81001', 'Riverside Surgery'),
                                                   ('B82002', 'Hill Top Practice');
         ALTER TABLE seat_practices DISABLE TRIGGER seat_practices_audit;
         INSERT INTO seat_practices (role_name, practice_code)
         VALUES (current_user, 'A81001');
         ALTER TABLE seat_practices ENABLE TRIGGER seat_practices_audit;
         COMMIT;",
    );
    (schema, store)
}

/// What keeps a test store alive: its temporary folder (SQLite) or its
/// schema on the server. Derefs to the folder for the SQLite-only tests
/// that use it (and panics if one of them runs on PostgreSQL).
pub(crate) enum TestHeld {
    /// A SQLite store's folder.
    Dir(tempfile::TempDir),
    /// A team store's schema (dropped with it).
    #[allow(dead_code)]
    Schema(PgSchema),
}

impl std::ops::Deref for TestHeld {
    type Target = tempfile::TempDir;
    fn deref(&self) -> &tempfile::TempDir {
        match self {
            TestHeld::Dir(d) => d,
            TestHeld::Schema(_) => panic!("a SQLite-only test ran on PostgreSQL"),
        }
    }
}

/// A new store for a test: a SQLite file named `file` in a temporary folder,
/// or, inside [`on_pg`], a team store in a schema of its own.
pub(crate) fn new_test_store(file: &str, options: OpenOptions) -> (TestHeld, Store) {
    if wants_pg() {
        let (schema, store) = new_pg_store(options);
        return (TestHeld::Schema(schema), store);
    }
    let dir = tempfile::tempdir().expect("temporary folder");
    let store = Store::open_with(dir.path().join(file), options).expect("open the test store");
    (TestHeld::Dir(dir), store)
}

/// Each test given runs twice: on SQLite (always) and on PostgreSQL (when
/// `STEPDOWN_TEST_PG_URL` names a test cluster, as in `make test`).
macro_rules! on_both_backends {
    ($(#[test] fn $name:ident() $body:block)+) => {$(
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            fn body() $body
            #[test]
            fn sqlite() {
                body()
            }
            #[test]
            fn postgres() {
                $crate::store::test_pg::on_pg(body)
            }
        }
    )+};
}
pub(crate) use on_both_backends;
