//! The team store's schema migrations on PostgreSQL (`migrations_pg/`):
//! numbered, append-only SQL files with the same meaning as SQLite's, run by
//! the same rules as [`super::migrations`]:
//! - versions run 1, 2, 3… with no gaps; the list only ever grows;
//! - a released migration's SQL never changes (its SHA-256 is pinned by a test);
//! - the SQL holds no transaction control and no version bookkeeping: the
//!   runner applies each migration and records it in one transaction
//!   (PostgreSQL's DDL is transactional), so a failure leaves the schema at
//!   the old version or the new, never between.
//!
//! The version record is the table `stepdown_schema_version` (one row per
//! migration applied: version, name, SHA-256, when and by which role). Its
//! presence is what marks a schema as Stepdown's, as SQLite's application id
//! marks a file. Two seats opening an old schema at once queue on an advisory
//! lock held for the schema; each step re-reads the version under it.
//! Migrating needs the owner's rights (creating tables, roles): a seat that
//! finds the schema behind this build is told so, and an admin runs it.

use super::db::{Conn, PgConn};
use super::migrations::Migration;
use super::{ts, StoreError, StoreResult};

/// Every PostgreSQL migration, oldest first. Append only.
pub const PG_MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "the SQLite schema at version 9 in PostgreSQL's dialect; server-ordered audit chain",
        sql: include_str!("migrations_pg/0001_schema.sql"),
    },
    Migration {
        version: 2,
        name:
            "access by seat: practices, assignments, row-level security, the role on audit entries",
        sql: include_str!("migrations_pg/0002_access.sql"),
    },
    Migration {
        version: 3,
        name: "review drafts and worklist claims (SQLite 10)",
        sql: include_str!("migrations_pg/0003_drafts_and_claims.sql"),
    },
    Migration {
        version: 4,
        name: "the server's schema check (stepdown_schema_problems)",
        sql: include_str!("migrations_pg/0004_schema_check.sql"),
    },
    Migration {
        version: 5,
        name: "worklist claims by practice: an audit entry about a claim takes its practice",
        sql: include_str!("migrations_pg/0005_claims_by_practice.sql"),
    },
    Migration {
        version: 6,
        name: "an audit entry about a case-finding import takes its practice",
        sql: include_str!("migrations_pg/0006_import_audit_by_practice.sql"),
    },
    Migration {
        version: 7,
        name: "a seat's working practice (stepdown.practice): it narrows what the seat sees and \
               is the practice of its new records",
        sql: include_str!("migrations_pg/0007_working_practice.sql"),
    },
    Migration {
        version: 8,
        name: "each practice's leaflet details (phone, address), written by admins and audited",
        sql: include_str!("migrations_pg/0008_practice_details.sql"),
    },
];

/// The server schema version this build creates and understands.
pub const PG_LATEST_VERSION: i64 = PG_MIGRATIONS.len() as i64;

const VERSION_TABLE_SQL: &str = "CREATE TABLE IF NOT EXISTS stepdown_schema_version (
    version    BIGINT PRIMARY KEY CHECK (version >= 1),
    name       TEXT NOT NULL,
    sha256     TEXT NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    applied_at TEXT NOT NULL,
    applied_by TEXT NOT NULL DEFAULT session_user
)";

/// The schema version recorded in the current schema (0 when Stepdown has
/// never run there).
pub(crate) fn current_version(conn: &Conn) -> StoreResult<i64> {
    let exists: bool = conn.query_row(
        "SELECT to_regclass('stepdown_schema_version') IS NOT NULL",
        (),
        |r| r.get(0),
    )?;
    if !exists {
        return Ok(0);
    }
    Ok(conn.query_row(
        "SELECT CAST(coalesce(max(version), 0) AS BIGINT) FROM stepdown_schema_version",
        (),
        |r| r.get(0),
    )?)
}

/// Whether the current schema holds anything at all (an empty schema is
/// where a new store may be made).
fn schema_is_empty(conn: &Conn) -> StoreResult<bool> {
    Ok(conn.query_row(
        "SELECT NOT EXISTS (SELECT 1 FROM pg_class c
                            WHERE c.relnamespace = current_schema()::regnamespace)",
        (),
        |r| r.get(0),
    )?)
}

/// Refuses, in words, to make a new store where this sign-in cannot: the
/// server would otherwise fail on the first `CREATE TABLE` with its own text
/// ("no schema has been selected to create in", "permission denied for
/// schema"), which tells a pharmacist nothing.
fn may_create_store(conn: &Conn, server: &str) -> StoreResult<()> {
    let (schema, may_create, role, search_path): (Option<String>, bool, String, String) = conn
        .query_row(
            "SELECT current_schema(),
                    coalesce(has_schema_privilege(current_schema(), 'CREATE'), false),
                    current_user::text, current_setting('search_path')",
            (),
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )?;
    let refuse = |why: String| {
        Err(StoreError::invalid(
            "db",
            format!(
                "{server}: there is no Stepdown store there yet, and {why}. Nothing was \
                 changed; the store's administrator (the schema's owner) opens it once with \
                 Stepdown to make the store, then seats can use it"
            ),
        ))
    };
    match schema {
        None => refuse(format!(
            "no schema on the search path ({search_path}) exists that role {role} may use"
        )),
        Some(schema) if !may_create => refuse(format!(
            "role {role} may not create a store in schema {schema}"
        )),
        Some(_) => Ok(()),
    }
}

/// Checks the list: numbering, forbidden statements (as SQLite's).
pub fn validate_list(list: &[Migration]) -> StoreResult<()> {
    for (i, m) in list.iter().enumerate() {
        let bad = |msg: String| {
            StoreError::invalid(format!("migrations_pg[{}] ({})", m.version, m.name), msg)
        };
        if m.version != i as i64 + 1 {
            return Err(bad(format!(
                "version must be {} (numbered 1, 2, 3… without gaps)",
                i + 1
            )));
        }
        if m.sql.trim().is_empty() {
            return Err(bad("has no SQL".into()));
        }
        let upper = super::migrations::strip_comments(m.sql).to_ascii_uppercase();
        for word in [
            "BEGIN TRANSACTION",
            "START TRANSACTION",
            "COMMIT",
            "ROLLBACK",
            "SAVEPOINT",
            "STEPDOWN_SCHEMA_VERSION",
        ] {
            if upper.contains(word) {
                return Err(bad(format!(
                    "must not contain {word}: the runner owns transactions and the version"
                )));
            }
        }
    }
    Ok(())
}

/// Brings the current schema up to the last migration of `list`. Returns
/// the versions before and after. `create`: whether an empty schema may be
/// made a new store (else it is refused as holding no Stepdown store).
pub(crate) fn migrate(
    conn: &mut Conn,
    list: &[Migration],
    create: bool,
    server: &str,
) -> StoreResult<(i64, i64)> {
    let latest = super::migrations::latest_version_of(list);
    let before = current_version(conn)?;
    if before > latest {
        return Err(newer(server, before, latest));
    }
    if before == latest {
        return Ok((before, before));
    }
    if before == 0 && !schema_is_empty(conn)? {
        return Err(StoreError::invalid(
            "db",
            format!(
                "{server}: the schema holds tables but no Stepdown store (no \
                 stepdown_schema_version); nothing was changed. Give a database or schema of \
                 its own (options=-csearch_path%3D… in the address)"
            ),
        ));
    }
    if before == 0 && !create {
        return Err(StoreError::invalid(
            "db",
            format!("{server}: there is no Stepdown store there yet"),
        ));
    }
    if before == 0 {
        may_create_store(conn, server)?;
    }
    for m in list {
        let tx = conn.transaction_immediate()?;
        // One migrator at a time per schema; others wait here, then find
        // the work done.
        tx.execute(
            "SELECT pg_advisory_xact_lock(hashtext('stepdown migrations ' || current_schema()))",
            (),
        )?;
        tx.execute_batch(VERSION_TABLE_SQL)?;
        let current = current_version(&tx)?;
        if current > latest {
            return Err(newer(server, current, latest));
        }
        if current >= m.version {
            continue;
        }
        let pg = tx
            .pg()
            .ok_or_else(|| StoreError::Database("not PostgreSQL".into()))?;
        pg.batch_execute(m.sql)
            .map_err(|e| match StoreError::from(e) {
                StoreError::Postgres(what) | StoreError::MissingStructure(what) => {
                    StoreError::invalid(
                        format!("migrations_pg[{}] ({})", m.version, m.name),
                        format!("failed: {what}"),
                    )
                }
                other => other,
            })?;
        tx.execute(
            "INSERT INTO stepdown_schema_version (version, name, sha256, applied_at)
             VALUES (?1, ?2, ?3, ?4)",
            super::db::params![
                m.version,
                m.name,
                super::leaflets::sha256_hex(m.sql.as_bytes()),
                ts(chrono::Utc::now())
            ],
        )?;
        // Seats read the version to know the schema is current.
        tx.execute_batch(
            "DO $$ BEGIN
               IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'stepdown_pharmacist') THEN
                 GRANT SELECT ON stepdown_schema_version TO stepdown_pharmacist;
               END IF;
             END $$",
        )?;
        tx.commit()?;
    }
    let after = current_version(conn)?;
    Ok((before, after))
}

fn newer(server: &str, found: i64, supported: i64) -> StoreError {
    StoreError::NewerVersion {
        path: server.into(),
        found,
        supported,
    }
}

/// `SELECT * FROM stepdown_schema_problems()`: the server's own schema
/// check (migration 4), one sentence a problem.
pub(crate) fn schema_problems(conn: &Conn, version: i64) -> StoreResult<Vec<String>> {
    if version < 4 {
        return Ok(Vec::new());
    }
    let mut stmt = conn.prepare("SELECT p FROM stepdown_schema_problems() AS p")?;
    let rows = stmt.query_map((), |r| r.get(0))?;
    Ok(rows.collect::<Result<Vec<String>, _>>()?)
}

/// The server's verification of the whole chain (`stepdown_audit_verify`,
/// migration 1): entries, newest id and hash, the first entry whose hash
/// does not follow, and the head record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ServerVerify {
    pub entries: i64,
    pub last_id: i64,
    pub last_hash: Option<String>,
    pub first_broken_id: Option<i64>,
    pub head_entries: Option<i64>,
    pub head_last_id: Option<i64>,
    pub head_hash: Option<String>,
}

pub(crate) fn server_verify(conn: &Conn) -> StoreResult<ServerVerify> {
    Ok(conn.query_row(
        "SELECT entries, last_id, last_hash, first_broken_id, head_entries, head_last_id, head_hash
         FROM stepdown_audit_verify()",
        (),
        |r| {
            Ok(ServerVerify {
                entries: r.get(0)?,
                last_id: r.get(1)?,
                last_hash: r.get(2)?,
                first_broken_id: r.get(3)?,
                head_entries: r.get(4)?,
                head_last_id: r.get(5)?,
                head_hash: r.get(6)?,
            })
        },
    )?)
}

/// Whether this seat may read every audit entry (an admin, or the owner):
/// then the chain is also walked in Rust, naming the broken link.
pub(crate) fn sees_whole_log(conn: &Conn, entries: i64) -> StoreResult<bool> {
    let visible: i64 = conn.query_row("SELECT count(*) FROM audit_log", (), |r| r.get(0))?;
    Ok(visible == entries)
}

/// Opens the connection and sets what every session needs: the busy
/// timeout as the server's lock timeout (a seat waiting for another's write
/// gets "busy", as on SQLite), and UTC.
pub(crate) fn connect(
    target: &super::db::PgTarget,
    busy_timeout: std::time::Duration,
) -> StoreResult<Conn> {
    let server = target.display();
    let pg = PgConn::connect(target).map_err(|e| match e {
        super::db::Error::Pg(e) => super::db::classify_pg(&e, &server),
        other => StoreError::from(other),
    })?;
    let ms = busy_timeout.as_millis().min(i64::MAX as u128);
    pg.batch_execute(&format!(
        "SET lock_timeout = {ms}; SET TIME ZONE 'UTC'; SET client_min_messages = warning"
    ))?;
    Ok(Conn::Pg(Box::new(pg)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pg_migrations_validate() {
        validate_list(PG_MIGRATIONS).unwrap();
        assert_eq!(PG_LATEST_VERSION, 8);
    }

    /// Migrations are append-only. If this fails you edited a released
    /// migration: revert it and add a new numbered one instead.
    #[test]
    fn released_pg_migrations_never_change() {
        let pinned: &[(i64, &str)] = &[
            (
                1,
                "22cb174398144162aa5954a29fad9520c7a65be4cdbd6be4ef37448e4dd5f3cc",
            ),
            (
                2,
                "0c3bd42d31f5969c2764975b0087c81166032ffca1f29c54cfc5fe852d3371ec",
            ),
            (
                3,
                "697aecb7f5a3adf6b930334678c475269fd47790e5c577d29a97ff88435613bb",
            ),
            (
                4,
                "09004b15ab25a1008cadc4adb7d8ddeb3130ed0f012fde3185d37dbc91340c34",
            ),
            (
                5,
                "a7a478fd2688ed7abbeee18da43ebbece9c8add9cc2e864aa0a5e73eb2c703be",
            ),
            (
                6,
                "d2f01660d3819737e7d7fa4036442fff496f0331bdbeaa48c8532b4a952e1083",
            ),
            (
                7,
                "45e1626a7527d858f2f7471b8d220ee3b81b8cb3863fcf36f60ccdaa73f4cd21",
            ),
            (
                8,
                "36ea9c0dcaba4cd9829c5b7fdb7541a45526bdf2e7e10c568a2c85a1dda85dd1",
            ),
        ];
        let versions: Vec<i64> = PG_MIGRATIONS.iter().map(|m| m.version).collect();
        let pinned_versions: Vec<i64> = pinned.iter().map(|(v, _)| *v).collect();
        assert_eq!(
            versions, pinned_versions,
            "every migration must have its SHA-256 pinned here"
        );
        for (m, (_, hash)) in PG_MIGRATIONS.iter().zip(pinned) {
            assert_eq!(
                super::super::leaflets::sha256_hex(m.sql.as_bytes()),
                *hash,
                "migrations_pg[{}] changed after release",
                m.version
            );
        }
    }

    #[test]
    fn the_list_rules_are_enforced() {
        let ok = Migration {
            version: 1,
            name: "x",
            sql: "CREATE TABLE t (id BIGINT)",
        };
        validate_list(&[ok]).unwrap();
        let gap = Migration { version: 2, ..ok };
        assert!(validate_list(&[gap]).is_err());
        let tx = Migration {
            sql: "CREATE TABLE t (id BIGINT); COMMIT;",
            ..ok
        };
        assert!(validate_list(&[tx])
            .unwrap_err()
            .to_string()
            .contains("COMMIT"));
        let version = Migration {
            sql: "INSERT INTO stepdown_schema_version VALUES (9)",
            ..ok
        };
        assert!(validate_list(&[version]).is_err());
    }
}
